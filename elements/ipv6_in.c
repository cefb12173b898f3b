/* ipv6_in: validates IPv6 packets addressed to the port (its address, the all-nodes group or
 * its solicited-node group) and splits them by next header. Extension headers (fragments
 * included) are not parsed: they are dropped as ipv6_ext_header, which the Pony underlay
 * and NDP never need. */
#include "elements/net.h"

static const char *const outputs[SNAP_NET_IN_N] = {"udp", "icmp6", "other"};

struct ipv6_in {
	struct snap_port *port;
};

static int ipv6_in_init(struct snap_elem *el, const struct snap_elem_args *a)
{
	struct ipv6_in *s = snap_elem_priv(el);
	return snap_net_port_arg(a, &s->port);
}

/* Extension headers of RFC 8200 4 and the IPsec ones: a packet that starts with one is
 * refused (counted) rather than passed to `other` as an unknown upper layer. */
static inline bool ipv6_is_ext(uint8_t nh)
{
	switch (nh) {
	case 0: case 43: case 44: case 50: case 51: case 60: case 135: case 139: case 140:
		return true;
	default:
		return false;
	}
}

static inline bool ipv6_for_us(const struct snap_port *p, const uint8_t dst[16])
{
	return memcmp(dst, p->ip6, 16) == 0 || snap_net_ip6_is_all_nodes(dst) ||
	       snap_net_ip6_is_snm_of(dst, p->ip6);
}

/* Validate m; returns the output index, or SNAP_NET_IN_N after dropping it. */
static uint16_t ipv6_in_one(struct snap_elem *el, const void *priv, struct rte_mbuf *m,
			    bool other_wired)
{
	const struct ipv6_in *s = priv;
	struct rte_ipv6_hdr *ip = snap_net_hdr(m, SNAP_NET_L3_OFF, sizeof(*ip));
	enum snap_drop why;
	if (unlikely(ip == NULL)) {
		why = SNAP_DROP_TRUNCATED;
		goto drop;
	}
	if (unlikely((rte_be_to_cpu_32(ip->vtc_flow) >> 28) != 6)) {
		why = SNAP_DROP_IP_VERSION;
		goto drop;
	}
	uint32_t frame_l3 = rte_pktmbuf_pkt_len(m) - SNAP_NET_L3_OFF;
	uint32_t tot = sizeof(*ip) + rte_be_to_cpu_16(ip->payload_len);
	if (unlikely(tot > frame_l3)) {
		why = SNAP_DROP_IP_TOTAL_LEN;
		goto drop;
	}
	if (!s->port->has_ip6 || !ipv6_for_us(s->port, ip->dst_addr)) {
		why = SNAP_DROP_NOT_FOR_US;
		goto drop;
	}
	/* A multicast source is never a legitimate sender (RFC 4291 2.7); the unspecified
	 * one is legal only for NDP's duplicate address detection, which icmp6 checks. */
	if (unlikely(ip->src_addr[0] == 0xff)) {
		why = SNAP_DROP_IP_BAD_SOURCE;
		goto drop;
	}
	if (unlikely(ipv6_is_ext(ip->proto))) {
		why = SNAP_DROP_IP6_EXT_HDR;
		goto drop;
	}
	/* Cut Ethernet padding (see ipv4_in): pkt_len is the datagram's end from here on. */
	if (frame_l3 > tot && rte_pktmbuf_trim(m, (uint16_t)(frame_l3 - tot)) != 0) {
		why = SNAP_DROP_IP_TOTAL_LEN;
		goto drop;
	}
	m->l2_len = SNAP_NET_L3_OFF;
	m->l3_len = sizeof(*ip);
	return snap_net_in_proto(el, m, ip->proto, SNAP_NET_NH_ICMP6, other_wired);
drop:
	snap_elem_drop(el, m, why);
	return SNAP_NET_IN_N;
}

static void ipv6_in_process(struct snap_elem *el, struct rte_mbuf **pkts, uint16_t n)
{
	snap_net_in_process(el, pkts, n, ipv6_in_one);
}

static const struct snap_elem_desc ipv6_in_desc = {
	.name = "ipv6_in",
	.help = "validate IPv6 to the port's address, split into udp/icmp6/other (args: port)",
	.priv_size = sizeof(struct ipv6_in),
	.n_outputs = SNAP_NET_IN_N,
	.outputs = outputs,
	.init = ipv6_in_init,
	.process = ipv6_in_process,
};
SNAP_ELEM_REGISTER(ipv6_in_desc)
