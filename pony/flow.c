/* Pony flows, receive side: the per-peer flow table, set-up/teardown handshake, packet
 * validation and dispatch, cumulative/selective ack processing, RTT and loss detection
 * (RACK-style time order plus a 3-packet dupthresh). Transmit and timers are in flowtx.c. */
#include <errno.h>
#include <string.h>

#include "pony/internal.h"
#include "pony/pmtu.h"
#include "pony/txq.h"
#include "pony/flowtx.h"

/* ---- Flow table: open addressing on (address, port), backward-shift deletion. ---- */

/* One multiply over the 16 address bytes folded and the port: the v4-mapped prefix is a
 * constant, so IPv4 keys spread as they did (their address in the high word's top half). */
static uint32_t flow_hash(const struct pony_ip *ip, uint16_t port)
{
	uint64_t k = (ip->q[0] + ip->q[1]) ^ port;
	k *= 0x9e3779b97f4a7c15ull;
	return (uint32_t)(k >> 32);
}

struct pony_flow *pony_flow_lookup(struct pony_tp *tp, const struct pony_ip *ip, uint16_t port)
{
	for (uint32_t i = flow_hash(ip, port) & tp->flow_ht_mask;; i = (i + 1) & tp->flow_ht_mask) {
		uint32_t fi = tp->flow_ht[i];
		if (fi == PONY_NONE)
			return NULL;
		struct pony_flow *f = &tp->flows[fi];
		/* q[1] first: an IPv4 address lives there. */
		if (f->peer_port == port && tp->peers[fi].q[1] == ip->q[1] &&
		    tp->peers[fi].q[0] == ip->q[0])
			return f;
	}
}

static void ht_insert(struct pony_tp *tp, uint32_t fi)
{
	struct pony_flow *f = &tp->flows[fi];
	uint32_t i = flow_hash(&tp->peers[fi], f->peer_port) & tp->flow_ht_mask;
	while (tp->flow_ht[i] != PONY_NONE)
		i = (i + 1) & tp->flow_ht_mask;
	tp->flow_ht[i] = fi;
}

static void ht_remove(struct pony_tp *tp, uint32_t fi)
{
	uint32_t m = tp->flow_ht_mask, i;
	for (i = flow_hash(&tp->peers[fi], tp->flows[fi].peer_port) & m; tp->flow_ht[i] != fi;
	     i = (i + 1) & m)
		if (tp->flow_ht[i] == PONY_NONE)
			return;
	/* Backward shift: move later entries of the cluster into the hole when their home
	 * slot does not lie cyclically in (hole, j]. */
	uint32_t hole = i;
	for (uint32_t j = (i + 1) & m; tp->flow_ht[j] != PONY_NONE; j = (j + 1) & m) {
		struct pony_flow *g = &tp->flows[tp->flow_ht[j]];
		uint32_t home = flow_hash(&tp->peers[tp->flow_ht[j]], g->peer_port) & m;
		if (((j - home) & m) >= ((j - hole) & m)) {
			tp->flow_ht[hole] = tp->flow_ht[j];
			hole = j;
		}
	}
	tp->flow_ht[hole] = PONY_NONE;
}

void pony_flow_ht_rebuild(struct pony_tp *tp)
{
	memset(tp->flow_ht, 0xff, (tp->flow_ht_mask + 1) * sizeof(uint32_t));
	static const struct pony_ip none;
	for (uint32_t fi = 0; fi < tp->cfg.max_flows; fi++) {
		struct pony_flow *f = &tp->flows[fi];
		if (f->state == PONY_F_FREE)
			continue;
		if (pony_ip_eq(&tp->peers[fi], &none)) /* saved by a release before IPv6 */
			tp->peers[fi] = pony_ip_from4(f->peer_ip);
		ht_insert(tp, fi);
	}
}

/* Flows the peer at ip holds here (SYN_SENT or established). */
static uint32_t peer_flows(const struct pony_tp *tp, const struct pony_ip *ip)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < tp->flows_hi; i++)
		n += tp->flows[i].state != PONY_F_FREE && pony_ip_eq(&tp->peers[i], ip);
	return n;
}

uint32_t pony_flow_peer_streams(const struct pony_tp *tp, const struct pony_ip *ip)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < tp->flows_hi; i++)
		if (tp->flows[i].state != PONY_F_FREE && pony_ip_eq(&tp->peers[i], ip))
			n += tp->flows[i].n_passive;
	return n;
}

/* A free slot set up for (ip, port) with local id and ISN from c (a cookie), or fresh
 * unpredictable ones when c is NULL. NULL when the table is full. */
static struct pony_flow *flow_alloc(struct pony_tp *tp, const struct pony_ip *ip,
				    uint16_t port, const struct pony_cookie *c)
{
	for (uint32_t fi = 0; fi < tp->cfg.max_flows; fi++) {
		struct pony_flow *f = &tp->flows[fi];
		if (f->state != PONY_F_FREE)
			continue;
		memset(f, 0, sizeof(*f));
		tp->peers[fi] = *ip;
		f->peer_ip = pony_ip_4(ip);
		f->peer_port = port;
		if (c != NULL) {
			f->local_id = c->local_id;
			f->isn = c->isn;
		} else {
			do
				f->local_id = pony_tp_rand(tp);
			while (f->local_id == 0);
			f->isn = pony_tp_rand(tp);
		}
		f->snd_una = f->snd_nxt = f->high_sacked = f->isn;
		f->srtt = 0;
		f->rto = tp->rto_init;
		f->created_tsc = f->last_rx_tsc = f->last_tx_tsc = f->rto_start = f->una_tsc =
			tp->now;
		f->streams = PONY_NONE;
		pony_txq_flow_init(tp, f);
		pony_pmtu_reset(tp, f);
		pony_cc_init(&f->cc, &tp->ccp, tp->cfg.cwnd_init);
		pony_rxwin_init(&f->rx, &tp->rxmaps[(size_t)fi * (tp->cfg.window / 64)],
				tp->cfg.window, 0);
		struct pony_txdesc *d = flow_desc(tp, f, 0);
		memset(d, 0, sizeof(*d) * tp->cfg.window);
		ht_insert(tp, fi);
		if (fi + 1 > tp->flows_hi)
			tp->flows_hi = fi + 1;
		tp->st.flows_created++;
		return f;
	}
	return NULL;
}

/* Release a flow whose streams are gone. */
void pony_flow_release(struct pony_tp *tp, struct pony_flow *f)
{
	if (f->state != PONY_F_FAILED)
		ht_remove(tp, (uint32_t)(f - tp->flows));
	pony_os_flow_gone(tp, f, -ECONNRESET);
	f->state = PONY_F_FREE;
	while (tp->flows_hi && tp->flows[tp->flows_hi - 1].state == PONY_F_FREE)
		tp->flows_hi--;
}

void pony_flow_recount(struct pony_tp *tp)
{
	tp->flows_hi = tp->cfg.max_flows;
	while (tp->flows_hi && tp->flows[tp->flows_hi - 1].state == PONY_F_FREE)
		tp->flows_hi--;
}

void pony_flow_fail(struct pony_tp *tp, struct pony_flow *f, int err)
{
	if (f->state == PONY_F_FREE || f->state == PONY_F_FAILED)
		return;
	/* Unhook first: upcalls below may open a new flow to the same peer. */
	ht_remove(tp, (uint32_t)(f - tp->flows));
	f->state = PONY_F_FAILED;
	tp->st.flows_failed++;
	pony_stream_fail_all(tp, f, err);
	pony_os_flow_gone(tp, f, err);
	pony_flow_release(tp, f);
}

struct pony_flow *pony_flow_get_or_open(struct pony_tp *tp, const struct pony_ip *ip,
					uint16_t port)
{
	struct pony_flow *f = pony_flow_lookup(tp, ip, port);
	if (f != NULL && f->fin_sent && f->n_streams == 0 && f->snd_una == f->snd_nxt &&
	    !pony_os_busy(tp, f)) {
		/* We asked to tear this flow down and the peer may already have agreed: start a
		 * fresh incarnation rather than race its FIN_ACK (a peer that still has the old
		 * one replaces it when our SYN arrives). */
		pony_flow_release(tp, f);
		f = NULL;
	}
	if (f != NULL)
		return f;
	f = flow_alloc(tp, ip, port, NULL);
	if (f == NULL)
		return NULL;
	if (tp->cfg.pick_port != NULL)
		f->local_port = tp->cfg.pick_port(tp->cfg.xmit_ctx, ip, port);
	/* The SYN goes out from the next poll (with a fresh clock): open may be called from
	 * outside the engine's input/poll path. */
	f->state = PONY_F_SYN_SENT;
	return f;
}

/* ---- Acks. ---- */

static void rtt_sample(struct pony_tp *tp, struct pony_flow *f, uint64_t rtt)
{
	/* Jacobson/Karels. Karn's ambiguity does not arise: the echoed timestamp names the
	 * transmission that was acked, so retransmissions give valid samples too. */
	if (f->srtt == 0) {
		f->srtt = rtt;
		f->rttvar = rtt / 2;
	} else {
		uint64_t err = rtt > f->srtt ? rtt - f->srtt : f->srtt - rtt;
		f->rttvar = (3 * f->rttvar + err) / 4;
		f->srtt = (7 * f->srtt + rtt) / 8;
	}
	uint64_t rto = f->srtt + 4 * f->rttvar;
	f->rto = rto < tp->rto_min ? tp->rto_min : rto > tp->rto_max ? tp->rto_max : rto;
}

/* A desc became delivered (cumulatively or selectively acked). */
static void desc_delivered(struct pony_tp *tp, struct pony_flow *f, struct pony_txdesc *d,
			   uint32_t seq)
{
	if (d->state == PONY_D_INFLIGHT)
		f->pipe--;
	else if (d->state == PONY_D_LOST)
		f->n_lost--;
	if (d->sent_tsc > f->rack_tsc)
		f->rack_tsc = d->sent_tsc;
	if (seq_le(f->high_sacked, seq))
		f->high_sacked = seq + 1;
	d->state = PONY_D_SACKED;
	if (d->type == PONY_T_DATA)
		pony_stream_acked(tp, d->stream, d->msg_id, d->len);
	else if (pony_os_type(d->type))
		pony_os_delivered(tp, d);
	else if (d->type == PONY_T_NOP)
		pony_pmtu_delivered(tp, f, seq, d);
}

static uint32_t detect_losses(struct pony_tp *tp, struct pony_flow *f)
{
	uint64_t reo = f->srtt / 4;
	uint32_t lost = 0;
	for (uint32_t s = f->snd_una; seq_lt(s, f->high_sacked); s++) {
		struct pony_txdesc *d = flow_desc(tp, f, s);
		if (d->state != PONY_D_INFLIGHT)
			continue;
		/* Time order (RACK) catches lost retransmissions; the dupthresh catches losses
		 * among packets sent in the same instant. A path MTU probe gets a whole srtt of
		 * reordering window and no dupthresh: overtaken by the smaller packets behind
		 * it on a reordering path, it would read as lost and the flow keep small
		 * segments for nothing (still well before the RTO, which would cut the
		 * window). Its loss is no congestion either. */
		bool probe = pony_pmtu_is_probe(tp, f, s);
		if (probe ? d->sent_tsc + (f->srtt ? f->srtt : tp->rto_init) < f->rack_tsc
			  : d->sent_tsc + reo < f->rack_tsc ||
				    (d->retx == 0 && seq_le(s + 3, f->high_sacked))) {
			d->state = PONY_D_LOST;
			f->pipe--;
			f->n_lost++;
			lost += !probe;
		}
	}
	return lost;
}

/* The yield window (pony/qos.h "Yielding") follows the flow's own window while no class
 * above scavenger is active, so it starts from there when one becomes active, and then
 * runs Swift's rules against the low target (its decrease is bounded per RTT, so the queue
 * drains in a few round trips). */
static void yield_on_ack(struct pony_tp *tp, struct pony_flow *f, uint32_t newly,
			 uint64_t delay)
{
	struct pony_qflow *qf = &tp->qflows[f - tp->flows];
	/* A queue shorter than one packet's time at the bottleneck leaves the link idle: on a
	 * 1 Gbit/s link a 1,500-byte packet takes 12 us, and a 1 us target held the bulk to a
	 * quarter of the link in test_pony_qos_sim. So the target is at least the packet time
	 * the acks show (their spacing per packet, averaged), capped at the main target. On a
	 * fast host link that is under qos_yield_delay_us. A sample needs packets in flight
	 * since the ack before (ack_tsc is 0 after an ack that left none): an idle gap is no
	 * packet time; and each sample is capped, so one stall cannot lift the target for
	 * long. */
	if (qf->ack_tsc && tp->rx_tsc > qf->ack_tsc) {
		uint64_t s = (tp->rx_tsc - qf->ack_tsc) / newly;
		if (s > tp->ccp.target_tsc)
			s = tp->ccp.target_tsc;
		qf->pkt_tsc = qf->pkt_tsc ? qf->pkt_tsc - qf->pkt_tsc / 8 + s / 8 : s;
	}
	qf->ack_tsc = f->pipe > 0 ? tp->rx_tsc : 0;
	if (tp->cls_until[PONY_QOS_CRITICAL] > tp->now || tp->cls_until[PONY_QOS_NORMAL] > tp->now) {
		struct pony_cc_params p = tp->ccp_yield;
		if (qf->pkt_tsc > p.target_tsc)
			p.target_tsc = qf->pkt_tsc < tp->ccp.target_tsc ? qf->pkt_tsc
									: tp->ccp.target_tsc;
		pony_cc_on_ack(&qf->cc_yield, &p, newly, delay, f->srtt, tp->now);
	} else {
		qf->cc_yield = f->cc;
	}
}

static void process_ack(struct pony_tp *tp, struct pony_flow *f, const struct pony_hdr *h)
{
	if (!(h->flags & PONY_F_ACK_VALID))
		return;
	uint32_t ack = h->ack;
	if (seq_lt(f->snd_nxt, ack)) {
		tp->st.ack_invalid++;
		return; /* acks something never sent (forged or broken): ignore the ack part */
	}
	uint32_t newly = 0;
	bool advanced = false;
	tp->st.acks_rx += h->type == PONY_T_ACK;
	while (seq_lt(f->snd_una, ack)) {
		struct pony_txdesc *d = flow_desc(tp, f, f->snd_una);
		if (d->state != PONY_D_SACKED) {
			desc_delivered(tp, f, d, f->snd_una);
			newly++;
		}
		d->state = PONY_D_FREE;
		f->snd_una++;
		advanced = true;
	}
	for (unsigned i = 0; i < h->n_sack; i++) {
		uint32_t s = h->sack[i].start, e = h->sack[i].end;
		if (seq_lt(s, f->snd_una))
			s = f->snd_una;
		if (seq_lt(f->snd_nxt, e))
			e = f->snd_nxt;
		for (; seq_lt(s, e); s++) {
			struct pony_txdesc *d = flow_desc(tp, f, s);
			if (d->state == PONY_D_INFLIGHT || d->state == PONY_D_LOST) {
				desc_delivered(tp, f, d, s);
				newly++;
			}
		}
	}
	if (advanced) {
		/* Eifel (RFC 3522): the echoed timestamp names the transmission acked. One sent
		 * before the timeout means the data was not lost, only late (a descheduled peer
		 * or engine, a queue): undo the timeout's window cut. */
		if (f->consec_timeouts && h->ts_echo != 0 && h->ts_echo < f->rto_fired_tsc) {
			pony_cc_undo_timeout(&f->cc);
			tp->st.spurious_timeouts++;
		}
		f->rto_fired_tsc = 0;
		f->una_tsc = tp->now;
		f->backoff = 0;
		f->consec_timeouts = 0;
		f->rto_start = tp->now;
	}
	if (h->ts_echo != 0 && h->ts_echo != f->last_echo && h->ts_echo <= tp->now) {
		f->last_echo = h->ts_echo;
		uint64_t rtt = tp->now - h->ts_echo;
		rtt_sample(tp, f, rtt);
		/* Fabric delay for CC: from our send to the ack's arrival at this host, minus the
		 * peer's hold (which it counts from the data's arrival at its host). Time either
		 * packet waited for a sleeping or busy engine is host delay, not congestion. */
		uint64_t arrive = tp->rx_tsc > h->ts_echo ? tp->rx_tsc - h->ts_echo : 0;
		uint64_t hold = (uint64_t)((double)h->echo_delay / tp->ns_per_tsc);
		uint64_t delay = arrive > hold ? arrive - hold : 0;
		if (newly) {
			pony_cc_on_ack(&f->cc, &tp->ccp, newly, delay, f->srtt, tp->now);
			if (tp->tx_classes & ~(1u << PONY_QOS_NORMAL))
				yield_on_ack(tp, f, newly, delay);
		}
	}
	if (newly) {
		uint32_t lost = detect_losses(tp, f);
		if (lost) {
			f->fast_retransmits += lost;
			tp->st.fast_retransmits += lost;
			pony_cc_on_loss(&f->cc, &tp->ccp, f->srtt, tp->now);
		}
	}
}

/* ---- Input. ---- */

/* Take the peer's half of the handshake (its id, ISN, window) and go ESTABLISHED. */
static void flow_established(struct pony_tp *tp, struct pony_flow *f, const struct pony_hdr *h)
{
	f->peer_id = h->src_flow;
	f->peer_window = h->aux;
	/* Segment size: the smaller of ours and the peer's (its SYN, SYN_ACK or handshake ACK
	 * says what its MTU takes; a peer that says nothing is taken for a 1500-byte MTU). A
	 * claim below a 576-byte MTU's is raised to it: tiny segments would only cost us CPU. */
	uint32_t peer = h->msg_len ? h->msg_len : tp->seg_legacy;
	uint32_t seg = RTE_MIN(peer, tp->seg_max);
	f->seg_max = RTE_MAX(seg, tp->seg_floor) - pony_flow_ip_extra(tp, f);
	pony_pmtu_start(tp, f); /* DATA at a 1,500-byte MTU's segment until a probe passes */
	pony_rxwin_init(&f->rx, f->rx.map, tp->cfg.window, h->seq);
	f->state = PONY_F_ESTABLISHED;
	f->last_rx_tsc = tp->now;
	f->backoff = 0;
	f->rto_start = tp->now;
}

static void handle_syn(struct pony_tp *tp, struct pony_flow *f, const struct pony_ip *ip,
		       uint16_t port, const struct pony_hdr *h)
{
	if (f != NULL && f->state == PONY_F_ESTABLISHED) {
		if (f->peer_id == h->src_flow) {
			pony_flowtx_send_unseq(tp, f, PONY_T_SYN_ACK); /* our SYN_ACK was lost */
			return;
		}
		/* A new incarnation of the peer, or anyone who knows its address: keep the flow
		 * and show our state instead (RFC 5961). A peer that really restarted has no
		 * flow with the ids it carries and answers with an RST that matches exactly. */
		pony_flowtx_challenge(tp, f);
		return;
	}
	if (f == NULL) {
		/* Passive open: no state until the peer echoes the cookie (handle_cookie). */
		if (peer_flows(tp, ip) >= tp->cfg.max_flows_per_peer) {
			tp->st.refused_flow_budget++;
			return;
		}
		struct pony_cookie c;
		pony_cookie_make(tp, ip, port, h->src_flow, &c);
		pony_flowtx_send_cookie(tp, ip, port, h, &c);
		return;
	}
	/* Simultaneous open while our SYN is out: take the peer's id/ISN. */
	flow_established(tp, f, h);
	f->echo_ts = h->ts; /* the initiator gets its first RTT sample from our SYN_ACK */
	f->echo_rx_tsc = tp->rx_tsc;
	pony_flowtx_send_unseq(tp, f, PONY_T_SYN_ACK);
}

/* A packet for no flow: the last leg of a stateless handshake if its dst_flow is a cookie we
 * made for this peer. Returns 1 with *fp = the new flow, 0 (answered or refused, counted)
 * or -1: not a cookie of ours. */
static int handle_cookie(struct pony_tp *tp, const struct pony_ip *ip, uint16_t port,
			 const struct pony_hdr *h, struct pony_flow **fp)
{
	struct pony_cookie c;
	if (!pony_cookie_check(tp, ip, port, h->src_flow, h->dst_flow, &c)) {
		tp->st.cookie_bad++;
		return -1;
	}
	if (!(h->flags & PONY_F_HS) || !(h->flags & PONY_F_ACK_VALID) || h->ack != c.isn) {
		/* It got our SYN_ACK but its handshake ACK was lost (data overtook it): ask
		 * again, still without state. */
		pony_flowtx_send_cookie(tp, ip, port, h, &c);
		return 0;
	}
	if (peer_flows(tp, ip) >= tp->cfg.max_flows_per_peer) {
		tp->st.refused_flow_budget++;
		return 0;
	}
	struct pony_flow *f = flow_alloc(tp, ip, port, &c);
	if (f == NULL)
		return 0; /* table full: counted as no_flow by the caller */
	tp->st.cookie_ok++;
	flow_established(tp, f, h);
	*fp = f;
	return 1;
}

/* RST for an established flow: acted on only when it names both our ids and its seq is
 * exactly what we expect next (the ack we last sent). In the window but not exact: answer
 * with a challenge ACK, which a peer without the flow answers with an exact RST. */
static void handle_rst(struct pony_tp *tp, struct pony_flow *f, const struct pony_hdr *h)
{
	if (f == NULL || f->state != PONY_F_ESTABLISHED || h->dst_flow != f->local_id ||
	    h->src_flow != f->peer_id) {
		tp->st.rst_bad_seq++;
		return;
	}
	if (h->seq == f->rx.rcv_nxt) {
		tp->st.rst_rx++;
		pony_flow_fail(tp, f, -ECONNRESET);
		return;
	}
	tp->st.rst_bad_seq++;
	if (seq_le(f->rx.rcv_nxt - tp->cfg.window, h->seq) &&
	    seq_lt(h->seq, f->rx.rcv_nxt + tp->cfg.window))
		pony_flowtx_challenge(tp, f);
}

static void handle_syn_ack(struct pony_tp *tp, struct pony_flow *f, const struct pony_hdr *h)
{
	if (f == NULL || h->dst_flow != f->local_id) {
		tp->st.no_flow++;
		return;
	}
	if (f->state == PONY_F_SYN_SENT) {
		flow_established(tp, f, h);
		if (h->ts_echo && h->ts_echo <= tp->now)
			rtt_sample(tp, f, tp->now - h->ts_echo);
		/* The responder holds nothing yet: echo its cookie with our ISN and window. */
		pony_flowtx_send_hs(tp, f);
	} else if (f->peer_id == h->src_flow && f->rx.rcv_nxt == h->seq) {
		/* It sent the SYN_ACK again: our handshake ACK was lost (or is late). */
		pony_flowtx_send_hs(tp, f);
	}
}

static void handle_fin(struct pony_tp *tp, struct pony_flow *f, const struct pony_hdr *h)
{
	if (h->type == PONY_T_FIN_ACK) {
		if (f->fin_sent && f->n_streams == 0)
			pony_flow_release(tp, f);
		return;
	}
	/* Agree only when we hold nothing either; otherwise our traffic keeps it alive. */
	if (f->n_streams == 0 && f->snd_una == f->snd_nxt && f->rx.rcv_nxt == f->rx.rcv_max &&
	    f->refuse_n == 0 && !pony_os_busy(tp, f)) {
		pony_flowtx_send_unseq(tp, f, PONY_T_FIN_ACK);
		pony_flowtx_flush(tp);
		pony_flow_release(tp, f);
	}
}

/* An ack is owed. It rides on the next packet we send the peer if one leaves within
 * ack_delay: an RPC's reply usually does, so an RPC costs two packets, not four (request,
 * ack, reply, ack). It goes out standalone at once when the peer needs it sooner: for a
 * duplicate (our ack was lost), an out-of-order arrival (SACK drives the peer's recovery), a
 * probe, and on every second new packet (a bulk sender keeps its ack clock). The peer's RTT
 * sample stays true: the ack echoes how long we held the packet (echo_delay). */
static void ack_owed(struct pony_tp *tp, struct pony_flow *f, bool at_once)
{
	if (!f->ack_pending) {
		f->ack_pending = true;
		f->ack_due_tsc = tp->now + tp->ack_delay;
	}
	if (at_once || f->rx_unacked >= 2)
		f->ack_due_tsc = tp->now;
}

static bool seq_packet(struct pony_tp *tp, struct pony_flow *f, const struct pony_hdr *h,
		       struct rte_mbuf *m, uint32_t hl)
{
	switch (pony_rxwin_check(&f->rx, h->seq)) {
	case PONY_RX_DUP:
		/* Our ack was lost or the packet duplicated: re-ack at once. */
		tp->st.dup_rx++;
		ack_owed(tp, f, true);
		return false;
	case PONY_RX_OUTSIDE:
		tp->st.out_of_window++;
		return false;
	case PONY_RX_NEW:
		break;
	}
	f->echo_ts = h->ts;
	f->echo_rx_tsc = tp->rx_tsc;
	int r = pony_stream_rx(tp, f, h, h->seq, m, hl);
	if (r == -EAGAIN)
		return false;
	if (f->state != PONY_F_ESTABLISHED)
		return r == 1; /* a handler failed the flow (peer broke the protocol) */
	/* Out of order, or filling a gap: the peer's loss recovery waits on this ack. */
	bool gap = h->seq != f->rx.rcv_nxt || f->rx.rcv_max != f->rx.rcv_nxt;
	if (h->seq != f->rx.rcv_nxt)
		tp->st.ooo_rx++;
	if (pony_rxwin_mark(&f->rx, h->seq) && f->n_close_pending)
		pony_stream_close_ready(tp, f);
	f->rx_unacked++;
	ack_owed(tp, f, gap);
	return r == 1;
}

/* The checksum pony_wire_parse_rx left to us, checked before any field is acted on. The one
 * place the payload is going (pony_stream_rx_place) gets it in the same pass; otherwise the
 * check reads it alone and the delivery copies as usual. */
static bool rx_csum_ok(struct pony_tp *tp, const struct pony_flow *f, const struct pony_hdr *h,
		       const uint8_t *pkt, uint32_t hl)
{
	uint8_t *dst = NULL;
	if (f != NULL && h->dst_flow == f->local_id && h->src_flow == f->peer_id)
		dst = pony_stream_rx_place(tp, f, h);
	if (dst == NULL)
		return pony_wire_csum(pkt, hl, h->payload_len) == h->csum;
	if (pony_wire_csum_copy(pkt, hl, h->payload_len, dst) != h->csum)
		return false; /* the bytes written there are rewritten by the retransmission */
	tp->rx_placed = dst;
	tp->rx_placed_len = h->payload_len;
	tp->rx_placed_n++;
	return true;
}

void pony_flow_input(struct pony_tp *tp, const struct pony_ip *ip, uint16_t port,
		     struct rte_mbuf *m)
{
	struct pony_hdr h;
	bool kept = false;

	if (!rte_pktmbuf_is_contiguous(m)) {
		tp->st.malformed++;
		goto out;
	}
	/* Authenticated mode checks tags, not crcs: there the parse checks everything. */
	const uint8_t *pkt = rte_pktmbuf_mtod(m, const uint8_t *);
	int hl = tp->auth == NULL ? pony_wire_parse_rx(pkt, rte_pktmbuf_data_len(m), &h)
				  : pony_wire_parse(pkt, rte_pktmbuf_data_len(m), &h);
	if (hl < 0) {
		if (hl == -EPROTONOSUPPORT)
			tp->st.bad_version++;
		else if (hl == -EBADMSG && tp->auth != NULL)
			tp->st.auth_fail++; /* untagged (key_id 0) in authenticated mode: no CRC counts */
		else if (hl == -EBADMSG)
			tp->st.bad_csum++;
		else
			tp->st.malformed++;
		goto out;
	}
	struct pony_flow *f = pony_flow_lookup(tp, ip, port);
	if (h.csum_deferred && !rx_csum_ok(tp, f, &h, pkt, (uint32_t)hl)) {
		tp->st.bad_csum++;
		goto out;
	}
	/* Authentication off and no tag: no call on the per-packet path. */
	if ((tp->auth != NULL || h.key_id != 0) &&
	    pony_flow_auth_rx(tp, f, ip, port, &h, m, (uint32_t)hl) < 0)
		goto out;
	tp->st.rx_pkts++;
	tp->st.rx_bytes += rte_pktmbuf_data_len(m);
	if (h.type == PONY_T_SYN) {
		handle_syn(tp, f, ip, port, &h);
		goto out;
	}
	if (h.type == PONY_T_SYN_ACK) {
		handle_syn_ack(tp, f, &h);
		if (f == NULL || f->state != PONY_F_ESTABLISHED)
			goto out;
	} else if (h.type == PONY_T_RST) {
		handle_rst(tp, f, &h);
		goto out;
	}
	if (f == NULL) {
		int r = handle_cookie(tp, ip, port, &h, &f);
		if (r <= 0) {
			/* Not our cookie: tell the sender we have no such flow, so a restarted
			 * peer learns it at once instead of after dead_timeout. */
			if (r < 0 && h.type != PONY_T_FIN_ACK)
				pony_flowtx_send_rst(tp, ip, port, &h);
			tp->st.no_flow++;
			goto out;
		}
	}
	if (f->state != PONY_F_ESTABLISHED || h.dst_flow != f->local_id ||
	    h.src_flow != f->peer_id) {
		/* SYN_SENT and addressed to us: the SYN_ACK is on its way or lost; the SYN
		 * retransmission sorts it out. Anything else: an RST (the sender's ids are not
		 * ours; the RST carries them back, so only their owner can act on it). */
		if (!(f->state == PONY_F_SYN_SENT && h.dst_flow == f->local_id) &&
		    h.type != PONY_T_FIN_ACK)
			pony_flowtx_send_rst(tp, ip, port, &h);
		tp->st.no_flow++;
		goto out;
	}
	f->last_rx_tsc = tp->now;
	f->rx_pkts++;
	f->rx_bytes += rte_pktmbuf_data_len(m);
	process_ack(tp, f, &h);
	if (f->state != PONY_F_ESTABLISHED)
		goto out; /* an upcall's action failed it */
	switch (h.type) {
	case PONY_T_ACK:
	case PONY_T_SYN_ACK:
		break;
	case PONY_T_PROBE:
		f->echo_ts = h.ts;
		f->echo_rx_tsc = tp->rx_tsc;
		ack_owed(tp, f, true);
		break;
	case PONY_T_FIN:
	case PONY_T_FIN_ACK:
		handle_fin(tp, f, &h);
		break;
	default:
		if (pony_type_sequenced(h.type))
			kept = seq_packet(tp, f, &h, m, (uint32_t)hl);
		break;
	}
out:
	tp->rx_placed = NULL;
	if (!kept)
		rte_pktmbuf_free(m);
}
