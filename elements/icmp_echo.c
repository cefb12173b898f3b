/* icmp_echo: answers ICMP echo requests in place (the request mbuf becomes the reply);
 * everything else ICMP goes to output `other` (the kernel exception path: echo replies to
 * the kernel's pings, errors for its sockets) or, unwired, is counted and dropped. Input:
 * ipv4_in's icmp output. */
#include <rte_icmp.h>

#include "elements/net.h"

enum { OUT_OUT, OUT_OTHER, N_OUT };
static const char *const outputs[N_OUT] = {"out", "other"};

#define ICMP_REPLY_TTL 64

struct icmp_echo {
	const struct snap_port *port; /* optional: answer only for its own address */
};

/* Args: port = NAME (optional). With it, only requests to the port's own address are
 * answered (a subnet-directed broadcast sent to our MAC is then refused too); without it,
 * broadcast is recognised from the L2 group address, 255.255.255.255 and multicast. */
static int icmp_echo_init(struct snap_elem *el, const struct snap_elem_args *a)
{
	struct icmp_echo *s = snap_elem_priv(el);
	struct snap_port *p = NULL;
	if (snap_elem_arg_str(a, "port", NULL) != NULL) {
		int r = snap_net_port_arg(a, &p);
		if (r)
			return r;
	}
	s->port = p;
	return 0;
}

/* Returns OUT_OUT if *mp became a reply to emit (possibly a private copy that replaced it),
 * OUT_OTHER for a valid message that is not an echo request (other_wired only), N_OUT if it
 * was dropped. */
static uint16_t icmp_echo_one(struct snap_elem *el, const struct icmp_echo *s,
			      struct rte_mbuf **mp, bool other_wired)
{
	struct rte_mbuf *m = *mp;
	uint16_t ihl;
	enum snap_drop why;
	struct rte_ipv4_hdr *ip = snap_net_ipv4(m, &ihl);
	uint32_t l4_off = SNAP_NET_L3_OFF + ihl;
	struct rte_icmp_hdr *ic = ip ? snap_net_hdr(m, l4_off, sizeof(*ic)) : NULL;
	/* After ipv4_in, pkt_len is the datagram's end; the message runs to it. */
	if (unlikely(ic == NULL || rte_be_to_cpu_16(ip->total_length) != rte_pktmbuf_pkt_len(m) -
							  SNAP_NET_L3_OFF)) {
		why = SNAP_DROP_ICMP_MALFORMED;
		goto drop;
	}
	uint32_t len = rte_pktmbuf_pkt_len(m) - l4_off;
	uint16_t sum;
	if (unlikely(rte_raw_cksum_mbuf(m, l4_off, len, &sum) != 0 || sum != 0xffff)) {
		why = SNAP_DROP_ICMP_CSUM;
		goto drop;
	}
	if (ic->icmp_type != RTE_IP_ICMP_ECHO_REQUEST || ic->icmp_code != 0) {
		if (other_wired)
			return OUT_OTHER;
		why = SNAP_DROP_ICMP_UNHANDLED;
		goto drop;
	}
	/* RFC 1122 3.2.2.6: an echo request to a broadcast or multicast address may be
	 * ignored; we do (no smurf amplification). Those are the frames that arrived on an
	 * L2 group address or name the limited broadcast / a multicast group. */
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	if (rte_is_multicast_ether_addr(&eh->dst_addr) || ip->dst_addr == RTE_BE32(0xffffffff) ||
	    (rte_be_to_cpu_32(ip->dst_addr) >> 28) == 0xe ||
	    (s->port != NULL && ip->dst_addr != s->port->ip)) {
		why = SNAP_DROP_ICMP_BROADCAST;
		goto drop;
	}

	if (unlikely(snap_net_make_writable(mp) != 0)) {
		why = SNAP_DROP_NO_MBUF;
		goto drop;
	}
	if (*mp != m) { /* headers moved with the copy */
		m = *mp;
		eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
		ip = (struct rte_ipv4_hdr *)(eh + 1);
		ic = rte_pktmbuf_mtod_offset(m, struct rte_icmp_hdr *, l4_off);
	}

	/* Type 8 -> 0 changes only the first 16-bit word: incremental update (RFC 1624), so the
	 * payload, possibly long and multi-segment, is summed once (the check above). */
	uint16_t old_word = *(uint16_t *)ic;
	ic->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
	ic->icmp_cksum = snap_net_cksum_update16(ic->icmp_cksum, old_word, *(uint16_t *)ic);

	struct rte_ether_addr tmac = eh->dst_addr;
	eh->dst_addr = eh->src_addr;
	eh->src_addr = tmac;
	uint32_t tip = ip->dst_addr;
	ip->dst_addr = ip->src_addr;
	ip->src_addr = tip;
	ip->time_to_live = ICMP_REPLY_TTL;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	m->ol_flags &= ~(RTE_MBUF_F_RX_IP_CKSUM_MASK | RTE_MBUF_F_RX_L4_CKSUM_MASK);
	return OUT_OUT;
drop:
	snap_elem_drop(el, m, why);
	return N_OUT;
}

static void icmp_echo_process(struct snap_elem *el, struct rte_mbuf **pkts, uint16_t n)
{
	const struct icmp_echo *s = snap_elem_priv(el);
	struct snap_elem_batch b;
	bool other_wired = el->out[OUT_OTHER].next != NULL;
	snap_elem_batch_init(&b, N_OUT);
	for (uint16_t i = 0; i < n; i++) {
		uint16_t o = icmp_echo_one(el, s, &pkts[i], other_wired);
		if (o != N_OUT)
			snap_elem_batch_add(&b, o, pkts[i]);
	}
	snap_elem_batch_flush(el, &b, N_OUT);
}

static const struct snap_elem_desc icmp_echo_desc = {
	.name = "icmp_echo",
	.help = "turn ICMP echo requests into replies in place; count other ICMP (args: port, "
		"optional)",
	.priv_size = sizeof(struct icmp_echo),
	.n_outputs = N_OUT,
	.init = icmp_echo_init,
	.outputs = outputs,
	.process = icmp_echo_process,
};
SNAP_ELEM_REGISTER(icmp_echo_desc)
