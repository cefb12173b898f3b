/* arp: answers ARP requests for the port's IPv4 address (rewriting the request into the reply
 * in place) and learns on-link neighbours into the port's neighbour table: a new entry only
 * from a reply to a request we sent or from a request for our address (the sender is about
 * to talk to us); any other ARP only refreshes an entry that already exists. */
#include <errno.h>
#include <string.h>

#include <rte_arp.h>

#include "elements/arp.h"
#include "elements/net.h"
#include "snap/engine.h"

/* kernel (optional): ARP replies, after learning, for the host kernel's own neighbour table
 * (the exception path); unwired, they are consumed here. */
enum { OUT_OUT, OUT_KERNEL, N_OUT };
static const char *const outputs[N_OUT] = {"out", "kernel"};

struct arp {
	struct snap_port *port;
	/* Not drops: ARP that was understood and needs no answer from us is consumed. */
	uint64_t requests;      /* requests for our address */
	uint64_t replies_seen;  /* replies received */
	uint64_t ignored;       /* requests for other addresses, gratuitous announcements */
	uint64_t learned;       /* neighbour table updates */
	uint64_t learn_failed;  /* neighbour table full, or a static entry */
	uint64_t unsolicited;   /* replies (and announcements) for addresses we neither asked
				 * for nor know: not learned */
	uint64_t conflicts;     /* someone else claims our address */
};

static int arp_init(struct snap_elem *el, const struct snap_elem_args *a)
{
	struct arp *s = snap_elem_priv(el);
	int r = snap_net_port_arg(a, &s->port);
	if (r)
		return r;
	r = snap_net_claim_neigh(a, s->port);
	if (r)
		s->port = NULL;
	return r;
}

static void arp_destroy(struct snap_elem *el)
{
	struct arp *s = snap_elem_priv(el);
	if (s->port != NULL && s->port->neigh_writer == el->engine)
		s->port->neigh_writer = NULL;
}

static void arp_fill(struct rte_arp_hdr *ah, uint16_t op, const struct rte_ether_addr *sha,
		     uint32_t sip, const struct rte_ether_addr *tha, uint32_t tip)
{
	ah->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
	ah->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	ah->arp_hlen = RTE_ETHER_ADDR_LEN;
	ah->arp_plen = sizeof(uint32_t);
	ah->arp_opcode = rte_cpu_to_be_16(op);
	rte_ether_addr_copy(sha, &ah->arp_data.arp_sha);
	ah->arp_data.arp_sip = sip;
	rte_ether_addr_copy(tha, &ah->arp_data.arp_tha);
	ah->arp_data.arp_tip = tip;
}

int snap_arp_build_request(struct snap_port *p, uint32_t target_ip, struct rte_mbuf *m)
{
	if (p->ip == 0 || target_ip == 0 || rte_pktmbuf_pkt_len(m) != 0)
		return -EINVAL;
	char *d = rte_pktmbuf_append(m, SNAP_ARP_FRAME_LEN);
	if (d == NULL)
		return -ENOSPC;
	memset(d, 0, SNAP_ARP_FRAME_LEN);
	struct rte_ether_hdr *eh = (struct rte_ether_hdr *)d;
	memset(&eh->dst_addr, 0xff, sizeof(eh->dst_addr));
	rte_ether_addr_copy(&p->mac, &eh->src_addr);
	eh->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
	static const struct rte_ether_addr zero;
	arp_fill((struct rte_arp_hdr *)(eh + 1), RTE_ARP_OP_REQUEST, &p->mac, p->ip, &zero,
		 target_ip);
	m->l2_len = sizeof(*eh);
	snap_port_neigh_solicit(p, target_ip);
	return 0;
}

/* Learn sender -> MAC if the sender is a plausible on-link neighbour and may create (asked
 * for) or already has an entry. */
static void arp_learn(struct arp *s, uint32_t sip, const struct rte_ether_addr *sha, bool may_add)
{
	if (sip == 0 || !snap_port_on_link(s->port, sip) || snap_net_ip_is_bcast(s->port, sip))
		return;
	if (!may_add && !snap_port_neigh_known(s->port, sip)) {
		s->unsolicited++;
		return;
	}
	if (snap_port_neigh_learn(s->port, sip, sha) == 0)
		s->learned++;
	else
		s->learn_failed++;
}

/* Returns OUT_OUT if *mp was turned into a reply to emit (possibly a private copy that
 * replaced it), OUT_KERNEL for a reply to pass to the kernel, N_OUT if it was consumed or
 * dropped. */
static uint16_t arp_one(struct snap_elem *el, struct arp *s, struct rte_mbuf **mp,
			bool kernel_wired)
{
	struct rte_mbuf *m = *mp;
	struct rte_ether_hdr *eh = snap_net_hdr(m, 0, sizeof(*eh));
	struct rte_arp_hdr *ah = snap_net_hdr(m, sizeof(*eh), sizeof(*ah));
	if (unlikely(eh == NULL || ah == NULL)) {
		snap_elem_drop(el, m, SNAP_DROP_ARP_MALFORMED);
		return N_OUT;
	}
	if (unlikely(ah->arp_hardware != RTE_BE16(RTE_ARP_HRD_ETHER) ||
		     ah->arp_protocol != RTE_BE16(RTE_ETHER_TYPE_IPV4) ||
		     ah->arp_hlen != RTE_ETHER_ADDR_LEN || ah->arp_plen != sizeof(uint32_t))) {
		snap_elem_drop(el, m, SNAP_DROP_ARP_UNSUPPORTED);
		return N_OUT;
	}
	uint16_t op = rte_be_to_cpu_16(ah->arp_opcode);
	if (unlikely(op != RTE_ARP_OP_REQUEST && op != RTE_ARP_OP_REPLY)) {
		snap_elem_drop(el, m, SNAP_DROP_ARP_UNSUPPORTED);
		return N_OUT;
	}
	struct rte_arp_ipv4 *ad = &ah->arp_data;
	/* A sender hardware address must be a unicast station; anything else is forged or
	 * broken, and learning it would poison the table. */
	if (unlikely(!rte_is_valid_assigned_ether_addr(&ad->arp_sha))) {
		snap_elem_drop(el, m, SNAP_DROP_ARP_MALFORMED);
		return N_OUT;
	}
	uint32_t sip = ad->arp_sip, tip = ad->arp_tip, ours = s->port->ip;
	if (unlikely(ours != 0 && sip == ours)) {
		s->conflicts++;
		rte_pktmbuf_free(m);
		return N_OUT;
	}
	if (op == RTE_ARP_OP_REPLY) {
		s->replies_seen++;
		arp_learn(s, sip, &ad->arp_sha, snap_port_neigh_solicited(s->port, sip));
		if (kernel_wired && tip == ours)
			return OUT_KERNEL;
		rte_pktmbuf_free(m);
		return N_OUT;
	}
	if (ours == 0 || tip != ours) {
		s->ignored++;
		arp_learn(s, sip, &ad->arp_sha, false);
		rte_pktmbuf_free(m);
		return N_OUT;
	}
	s->requests++;
	arp_learn(s, sip, &ad->arp_sha, true);
	if (unlikely(snap_net_make_writable(mp) != 0)) {
		snap_elem_drop(el, m, SNAP_DROP_NO_MBUF);
		return N_OUT;
	}
	if (*mp != m) { /* headers moved with the copy */
		m = *mp;
		eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
		ah = (struct rte_arp_hdr *)(eh + 1);
		ad = &ah->arp_data;
	}
	/* Rewrite the request into the reply: to the requester, from us. Sender IP 0 (RFC 5227
	 * probe) is answered too, at the requester's MAC, which is what the probe looks for. */
	struct rte_ether_addr req_mac;
	rte_ether_addr_copy(&ad->arp_sha, &req_mac);
	arp_fill(ah, RTE_ARP_OP_REPLY, &s->port->mac, ours, &req_mac, sip);
	rte_ether_addr_copy(&req_mac, &eh->dst_addr);
	rte_ether_addr_copy(&s->port->mac, &eh->src_addr);
	return OUT_OUT;
}

static void arp_process(struct snap_elem *el, struct rte_mbuf **pkts, uint16_t n)
{
	struct arp *s = snap_elem_priv(el);
	struct snap_elem_batch b;
	bool kernel_wired = el->out[OUT_KERNEL].next != NULL;
	snap_elem_batch_init(&b, N_OUT);
	for (uint16_t i = 0; i < n; i++) {
		uint16_t o = arp_one(el, s, &pkts[i], kernel_wired);
		if (o != N_OUT)
			snap_elem_batch_add(&b, o, pkts[i]);
	}
	snap_elem_batch_flush(el, &b, N_OUT);
}

static void arp_stats(const struct snap_elem *el, snap_stat_fn fn, void *ctx)
{
	const struct arp *s = snap_elem_priv(el);
	fn(ctx, "requests", s->requests);
	fn(ctx, "replies_seen", s->replies_seen);
	fn(ctx, "ignored", s->ignored);
	fn(ctx, "learned", s->learned);
	fn(ctx, "learn_failed", s->learn_failed);
	fn(ctx, "conflicts", s->conflicts);
	fn(ctx, "unsolicited", s->unsolicited);
	fn(ctx, "evicted", s->port->neigh_evicted);
}

static const struct snap_elem_desc arp_desc = {
	.name = "arp",
	.help = "answer ARP for the port's address, learn on-link neighbours (args: port)",
	.priv_size = sizeof(struct arp),
	.n_outputs = N_OUT,
	.outputs = outputs,
	.init = arp_init,
	.process = arp_process,
	.stats = arp_stats,
	.destroy = arp_destroy,
};
SNAP_ELEM_REGISTER(arp_desc)
