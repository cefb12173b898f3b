/* icmp6: ICMPv6 for the port's IPv6 address, after ipv6_in's icmp6 output. Answers echo
 * requests in place (so `ping -6` from a host works), runs NDP (elements/ndp.c: answers
 * solicitations for our address, learns from solicited advertisements) and passes any other
 * valid message, NDP it did not answer included, to output `other` (the kernel exception
 * path) or, unwired, counts them and frees them. */
#include <rte_icmp.h>

#include "elements/ndp.h"
#include "elements/net.h"

enum { OUT_OUT, OUT_OTHER, N_OUT };
static const char *const outputs[N_OUT] = {"out", "other"};

#define ICMP6_ECHO_REQUEST 128
#define ICMP6_ECHO_REPLY 129
#define ICMP6_REPLY_HOPS 64

struct icmp6 {
	struct snap_port *port;
	struct snap_ndp_stats nd;
	uint64_t echoes;
};

static int icmp6_init(struct snap_elem *el, const struct snap_elem_args *a)
{
	struct icmp6 *s = snap_elem_priv(el);
	int r = snap_net_port_arg(a, &s->port);
	if (r == 0 && !s->port->has_ip6)
		r = snap_elem_args_error(a, "port %s has no IPv6 address (ip6 = ...)",
					 s->port->name);
	if (r == 0)
		r = snap_net_claim_neigh(a, s->port);
	if (r)
		s->port = NULL;
	return r;
}

static void icmp6_destroy(struct snap_elem *el)
{
	struct icmp6 *s = snap_elem_priv(el);
	if (s->port != NULL && s->port->neigh_writer == el->engine)
		s->port->neigh_writer = NULL;
}

/* Turn the echo request in *mp into its reply. Swapping the addresses leaves the
 * pseudo-header sum as it was, so only the type word changes the checksum (RFC 1624). */
static int icmp6_echo(struct rte_mbuf **mp, uint32_t l4_off)
{
	if (snap_net_make_writable(mp) != 0)
		return -ENOMEM;
	struct rte_mbuf *m = *mp;
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(eh + 1);
	struct rte_icmp_hdr *ic = rte_pktmbuf_mtod_offset(m, struct rte_icmp_hdr *, l4_off);
	uint16_t old_word = *(uint16_t *)ic;
	ic->icmp_type = ICMP6_ECHO_REPLY;
	ic->icmp_cksum = snap_net_cksum_update16(ic->icmp_cksum, old_word, *(uint16_t *)ic);
	uint8_t t[16];
	memcpy(t, ip->dst_addr, 16);
	memcpy(ip->dst_addr, ip->src_addr, 16);
	memcpy(ip->src_addr, t, 16);
	ip->hop_limits = ICMP6_REPLY_HOPS;
	struct rte_ether_addr tmac = eh->dst_addr;
	eh->dst_addr = eh->src_addr;
	eh->src_addr = tmac;
	m->ol_flags &= ~(RTE_MBUF_F_RX_IP_CKSUM_MASK | RTE_MBUF_F_RX_L4_CKSUM_MASK);
	return 0;
}

/* Returns OUT_OUT if *mp became a reply to emit, OUT_OTHER for the kernel, N_OUT if it was
 * consumed or dropped. */
static uint16_t icmp6_one(struct snap_elem *el, struct icmp6 *s, struct rte_mbuf **mp,
			  bool other_wired)
{
	struct rte_mbuf *m = *mp;
	const uint32_t l4_off = SNAP_NET_L3_OFF + sizeof(struct rte_ipv6_hdr);
	struct rte_ipv6_hdr *ip = snap_net_hdr(m, SNAP_NET_L3_OFF, sizeof(*ip));
	struct rte_icmp_hdr *ic = ip ? snap_net_hdr(m, l4_off, sizeof(*ic)) : NULL;
	enum snap_drop why;
	/* After ipv6_in, pkt_len is the datagram's end; the message runs to it. */
	if (unlikely(ic == NULL || ip->proto != SNAP_NET_NH_ICMP6 ||
		     rte_be_to_cpu_16(ip->payload_len) != rte_pktmbuf_pkt_len(m) - l4_off)) {
		why = SNAP_DROP_ICMP_MALFORMED;
		goto drop;
	}
	if (unlikely(rte_ipv6_udptcp_cksum_mbuf_verify(m, ip, l4_off) != 0)) {
		why = SNAP_DROP_ICMP_CSUM;
		goto drop;
	}
	uint8_t type = ic->icmp_type;
	if (type == SNAP_ND_NS || type == SNAP_ND_NA) {
		switch (snap_ndp_input(s->port, &s->nd, mp, l4_off, type)) {
		case SNAP_NDP_REPLY:
			return OUT_OUT;
		case SNAP_NDP_DROP:
			why = SNAP_DROP_NDP_MALFORMED;
			goto drop;
		case SNAP_NDP_NO_MBUF:
			why = SNAP_DROP_NO_MBUF;
			goto drop;
		case SNAP_NDP_CONSUMED:
			break;
		}
		/* Not ours to answer (solicitations for other targets, DAD probes) and
		 * advertisements after learning: the kernel behind the exception path may own
		 * those addresses or have asked. */
		if (other_wired)
			return OUT_OTHER;
		rte_pktmbuf_free(*mp);
		return N_OUT;
	}
	if (type != ICMP6_ECHO_REQUEST || ic->icmp_code != 0) {
		if (other_wired)
			return OUT_OTHER;
		why = SNAP_DROP_ICMP_UNHANDLED;
		goto drop;
	}
	/* Echo to a group (all-nodes, or our solicited-node group) is ignored: no
	 * amplification. */
	if (ip->dst_addr[0] == 0xff) {
		why = SNAP_DROP_ICMP_BROADCAST;
		goto drop;
	}
	if (unlikely(icmp6_echo(mp, l4_off) != 0)) {
		why = SNAP_DROP_NO_MBUF;
		goto drop;
	}
	s->echoes++;
	return OUT_OUT;
drop:
	snap_elem_drop(el, *mp, why);
	return N_OUT;
}

static void icmp6_process(struct snap_elem *el, struct rte_mbuf **pkts, uint16_t n)
{
	struct icmp6 *s = snap_elem_priv(el);
	struct snap_elem_batch b;
	bool other_wired = el->out[OUT_OTHER].next != NULL;
	snap_elem_batch_init(&b, N_OUT);
	for (uint16_t i = 0; i < n; i++) {
		uint16_t o = icmp6_one(el, s, &pkts[i], other_wired);
		if (o != N_OUT)
			snap_elem_batch_add(&b, o, pkts[i]);
	}
	snap_elem_batch_flush(el, &b, N_OUT);
}

static void icmp6_stats(const struct snap_elem *el, snap_stat_fn fn, void *ctx)
{
	const struct icmp6 *s = snap_elem_priv(el);
	fn(ctx, "echo_replies", s->echoes);
	fn(ctx, "solicits", s->nd.solicits);
	fn(ctx, "adverts_seen", s->nd.adverts_seen);
	fn(ctx, "ignored", s->nd.ignored);
	fn(ctx, "learned", s->nd.learned);
	fn(ctx, "learn_failed", s->nd.learn_failed);
	fn(ctx, "unsolicited", s->nd.unsolicited);
	fn(ctx, "conflicts", s->nd.conflicts);
	fn(ctx, "evicted", s->port->nd6.evicted);
}

static const struct snap_elem_desc icmp6_desc = {
	.name = "icmp6",
	.help = "answer ICMPv6 echo and NDP for the port's IPv6 address, learn neighbours from "
		"solicited advertisements (args: port)",
	.priv_size = sizeof(struct icmp6),
	.n_outputs = N_OUT,
	.outputs = outputs,
	.init = icmp6_init,
	.process = icmp6_process,
	.stats = icmp6_stats,
	.destroy = icmp6_destroy,
};
SNAP_ELEM_REGISTER(icmp6_desc)
