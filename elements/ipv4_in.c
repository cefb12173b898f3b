/* ipv4_in: validates IPv4 headers addressed to the port (RFC 1122 3.2.1 receive checks) and
 * splits by protocol. Fragments are not reassembled: they are dropped as ip_fragment. */
#include "elements/net.h"

static const char *const outputs[SNAP_NET_IN_N] = {"udp", "icmp", "other"};

struct ipv4_in {
	struct snap_port *port;
};

static int ipv4_in_init(struct snap_elem *el, const struct snap_elem_args *a)
{
	struct ipv4_in *s = snap_elem_priv(el);
	return snap_net_port_arg(a, &s->port);
}

/* Class D (multicast) and E (reserved) sources, and the limited broadcast, are never a
 * legitimate sender; replying to them would flood. */
static inline bool ipv4_bad_source(const struct snap_port *p, uint32_t src)
{
	return (rte_be_to_cpu_32(src) >> 28) >= 0xe || snap_net_ip_is_bcast(p, src);
}

/* Validate m; returns the output index, or SNAP_NET_IN_N after dropping it. */
static uint16_t ipv4_in_one(struct snap_elem *el, const void *priv, struct rte_mbuf *m,
			    bool other_wired)
{
	const struct ipv4_in *s = priv;
	struct rte_ipv4_hdr *ip = snap_net_hdr(m, SNAP_NET_L3_OFF, sizeof(*ip));
	enum snap_drop why;
	if (unlikely(ip == NULL)) {
		why = SNAP_DROP_TRUNCATED;
		goto drop;
	}
	if (unlikely((ip->version_ihl >> 4) != 4)) {
		why = SNAP_DROP_IP_VERSION;
		goto drop;
	}
	uint32_t ihl = (ip->version_ihl & 0x0f) * 4u;
	uint32_t frame_l3 = rte_pktmbuf_pkt_len(m) - SNAP_NET_L3_OFF;
	if (unlikely(ihl < sizeof(*ip) || ihl > frame_l3)) {
		why = SNAP_DROP_IP_HDR_LEN;
		goto drop;
	}
	if (unlikely(snap_net_hdr(m, SNAP_NET_L3_OFF, ihl) == NULL)) {
		why = SNAP_DROP_TRUNCATED;
		goto drop;
	}
	uint32_t tot = rte_be_to_cpu_16(ip->total_length);
	if (unlikely(tot < ihl || tot > frame_l3)) {
		why = SNAP_DROP_IP_TOTAL_LEN;
		goto drop;
	}
	uint64_t ck = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
	if (unlikely(ck == RTE_MBUF_F_RX_IP_CKSUM_BAD ||
		     (ck != RTE_MBUF_F_RX_IP_CKSUM_GOOD && snap_net_ip4_sum(ip, ihl) != 0xffff))) {
		why = SNAP_DROP_IP_CSUM;
		goto drop;
	}
	if (unlikely(ip->time_to_live == 0)) {
		why = SNAP_DROP_IP_TTL;
		goto drop;
	}
	if (unlikely(ip->fragment_offset &
		     RTE_BE16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK))) {
		why = SNAP_DROP_IP_FRAGMENT;
		goto drop;
	}
	if (ip->dst_addr != s->port->ip && !snap_net_ip_is_bcast(s->port, ip->dst_addr)) {
		why = SNAP_DROP_NOT_FOR_US;
		goto drop;
	}
	if (unlikely(ipv4_bad_source(s->port, ip->src_addr))) {
		why = SNAP_DROP_IP_BAD_SOURCE;
		goto drop;
	}
	/* Ethernet pads short frames: cut the frame to the datagram so every later element
	 * can take pkt_len as the truth. Padding beyond the last segment cannot happen with
	 * one-segment rx frames; a chain that has it is refused rather than half-trimmed. */
	if (frame_l3 > tot && rte_pktmbuf_trim(m, (uint16_t)(frame_l3 - tot)) != 0) {
		why = SNAP_DROP_IP_TOTAL_LEN;
		goto drop;
	}
	m->l2_len = SNAP_NET_L3_OFF;
	m->l3_len = ihl;
	return snap_net_in_proto(el, m, ip->next_proto_id, IPPROTO_ICMP, other_wired);
drop:
	snap_elem_drop(el, m, why);
	return SNAP_NET_IN_N;
}

static void ipv4_in_process(struct snap_elem *el, struct rte_mbuf **pkts, uint16_t n)
{
	snap_net_in_process(el, pkts, n, ipv4_in_one);
}

static const struct snap_elem_desc ipv4_in_desc = {
	.name = "ipv4_in",
	.help = "validate IPv4 to the port's address, split into udp/icmp/other (args: port)",
	.priv_size = sizeof(struct ipv4_in),
	.n_outputs = SNAP_NET_IN_N,
	.outputs = outputs,
	.init = ipv4_in_init,
	.process = ipv4_in_process,
};
SNAP_ELEM_REGISTER(ipv4_in_desc)
