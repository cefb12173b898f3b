/* Pony flows, transmit side: building packets (payload copied from the app buffer here, at
 * every (re)transmission), choosing what to send within cwnd/pacing/credits, and the timers.
 *
 * Timers: each flow has at most a few deadlines (RTO, keep-alive, dead peer, SYN retry,
 * pacing) computed from its own fields, and the engine asks for the earliest through
 * next_deadline(). We do not use rte_timer: it keeps pending lists per lcore (or in a
 * process-global rte_timer_data array for the alt API), i.e. state outside the engine that
 * would have to follow it between threads and could not be serialized for upgrade. Deadlines
 * derived from per-flow TSC fields move with the engine for free. */
#include <errno.h>
#include <string.h>

#include "pony/auth.h"
#include "pony/flowtx.h"
#include "pony/pmtu.h"
#include "pony/txq.h"

#define BACKOFF_MAX 16
#define NOACK_RTOS 8 /* consecutive RTOs (with nothing acked) before a silent acker fails */

static uint64_t ns_of(const struct pony_tp *tp, uint64_t tsc)
{
	double ns = (double)tsc * tp->ns_per_tsc;
	return ns > 4e9 ? UINT32_MAX : (uint64_t)ns;
}

void pony_flowtx_flush(struct pony_tp *tp)
{
	if (tp->txb_n == 0)
		return;
	uint16_t n = tp->cfg.xmit(tp->cfg.xmit_ctx, &tp->txb_peer, tp->txb_port, tp->txb_lport,
				  tp->txb, tp->txb_n);
	if (n < tp->txb_n) {
		/* The link refused them: same as a loss, retransmission repairs it. */
		tp->st.xmit_full += tp->txb_n - n;
		rte_pktmbuf_free_bulk(tp->txb + n, tp->txb_n - n);
	}
	tp->txb_n = 0;
	tp->txb_bytes = 0;
}

static void emit(struct pony_tp *tp, const struct pony_ip *ip, uint16_t port, uint16_t lport,
		 struct rte_mbuf *m)
{
	if (tp->txb_n && (tp->txb_port != port || tp->txb_lport != lport ||
			  !pony_ip_eq(&tp->txb_peer, ip) || tp->txb_n == PONY_TX_BATCH))
		pony_flowtx_flush(tp);
	if (tp->txb_n == 0) { /* a new batch: its peer (the rest of it matches) */
		tp->txb_peer = *ip;
		tp->txb_port = port;
		tp->txb_lport = lport;
	}
	tp->txb[tp->txb_n++] = m;
	tp->txb_bytes += m->pkt_len;
	if (tp->txb_bytes >= tp->txb_lim)
		pony_flowtx_flush(tp);
}

/* Piggyback our receive state: cumulative ack, SACK blocks, echoed timestamp. */
static void fill_ack(struct pony_tp *tp, struct pony_flow *f, struct pony_hdr *h)
{
	if (f->state != PONY_F_ESTABLISHED)
		return;
	uint32_t blk[PONY_SACK_MAX][2];
	h->flags |= PONY_F_ACK_VALID;
	h->ack = f->rx.rcv_nxt;
	h->n_sack = (uint8_t)pony_rxwin_sack(&f->rx, blk, PONY_SACK_MAX);
	for (unsigned i = 0; i < h->n_sack; i++) {
		h->sack[i].start = blk[i][0];
		h->sack[i].end = blk[i][1];
	}
	h->ts_echo = f->echo_ts;
	h->echo_delay = f->echo_ts ? (uint32_t)ns_of(tp, tp->now - f->echo_rx_tsc) : 0;
	f->ack_pending = false;
	f->rx_unacked = 0;
}

static int build_send(struct pony_tp *tp, const struct pony_flow *f, const struct pony_ip *ip,
		      uint16_t port, struct pony_hdr *h, const uint8_t *payload, uint16_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(tp->cfg.pool);
	if (m == NULL) {
		tp->st.no_mbuf++;
		return -ENOBUFS;
	}
	h->ts = tp->now;
	h->payload_len = len;
	h->key_id = tp->auth ? pony_auth_tx_id(tp->auth) : 0;
	size_t hl = pony_wire_hdr_len(h);
	size_t trailer = h->key_id ? PONY_AUTH_TRAILER : 0;
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(hl + len + trailer));
	if (p == NULL) {
		rte_pktmbuf_free(m);
		tp->st.no_mbuf++;
		return -ENOBUFS;
	}
	if (len) /* the one pass over the payload: copied and checksummed together */
		pony_wire_build_copy(p, h, payload);
	else
		pony_wire_build(p, h);
	if (tp->auth != NULL && pony_flow_auth_tx(tp, f, ip, port, h, p, hl + len) < 0) {
		rte_pktmbuf_free(m);
		tp->st.no_mbuf++; /* as if out of buffers: retransmission repairs it */
		return -ENOBUFS;
	}
	tp->st.tx_pkts++;
	tp->st.tx_bytes += hl + len;
	emit(tp, ip, port, pony_flow_local_port(tp, f), m);
	return 0;
}

static int flow_send(struct pony_tp *tp, struct pony_flow *f, struct pony_hdr *h,
		     const uint8_t *payload, uint16_t len)
{
	h->src_flow = f->local_id;
	h->dst_flow = f->peer_id;
	fill_ack(tp, f, h);
	int r = build_send(tp, f, flow_peer(tp, f), f->peer_port, h, payload, len);
	if (r == 0) {
		f->last_tx_tsc = tp->now;
		f->tx_pkts++;
		f->tx_bytes += len;
	}
	return r;
}

int pony_flowtx_send_unseq(struct pony_tp *tp, struct pony_flow *f, uint8_t type)
{
	struct pony_hdr h = {.type = type};
	if (type == PONY_T_SYN || type == PONY_T_SYN_ACK) {
		h.seq = f->isn;
		h.aux = tp->cfg.window;    /* our receive window, packets */
		h.msg_len = tp->seg_max;   /* the largest payload our MTU takes */
	}
	if (type == PONY_T_ACK)
		tp->st.acks_tx++;
	if (type == PONY_T_PROBE) {
		tp->st.probes_tx++;
		h.flags |= PONY_F_ACK_NOW;
	}
	return flow_send(tp, f, &h, NULL, 0);
}

/* Replies made without a flow (RST, cookie SYN_ACK) and challenge ACKs share one budget
 * per millisecond, so a flood of stray packets cannot turn us into a reflector. */
static bool stateless_allow(struct pony_tp *tp)
{
	uint64_t ms = (uint64_t)(1e6 / tp->ns_per_tsc);
	if (tp->now - tp->rst_window_tsc >= ms) {
		tp->rst_window_tsc = tp->now;
		tp->rst_in_window = 0;
	}
	if (tp->rst_in_window >= PONY_RST_PER_MS) {
		tp->st.rst_limited++;
		return false;
	}
	tp->rst_in_window++;
	return true;
}

void pony_flowtx_send_rst(struct pony_tp *tp, const struct pony_ip *ip, uint16_t port,
			  const struct pony_hdr *in)
{
	/* Mirror the packet's ids and sequence state: the receiver acts only if they are its
	 * own (its ids, seq = the ack it sent), so nobody else's flow can be reset by it. */
	struct pony_hdr h = {.type = PONY_T_RST, .src_flow = in->dst_flow ? in->dst_flow : 1,
			     .dst_flow = in->src_flow, .ack = in->seq,
			     .seq = (in->flags & PONY_F_ACK_VALID) ? in->ack : 0};
	if (!stateless_allow(tp))
		return;
	if (build_send(tp, NULL, ip, port, &h, NULL, 0) == 0)
		tp->st.rst_tx++;
}

void pony_flowtx_send_cookie(struct pony_tp *tp, const struct pony_ip *ip, uint16_t port,
			     const struct pony_hdr *in, const struct pony_cookie *c)
{
	struct pony_hdr h = {.type = PONY_T_SYN_ACK, .src_flow = c->local_id,
			     .dst_flow = in->src_flow, .seq = c->isn, .aux = tp->cfg.window,
			     .msg_len = tp->seg_max, .ts_echo = in->type == PONY_T_SYN ? in->ts : 0};
	if (!stateless_allow(tp))
		return;
	if (build_send(tp, NULL, ip, port, &h, NULL, 0) == 0)
		tp->st.cookie_tx++;
}

void pony_flowtx_challenge(struct pony_tp *tp, struct pony_flow *f)
{
	if (!stateless_allow(tp))
		return;
	if (pony_flowtx_send_unseq(tp, f, PONY_T_ACK) == 0)
		tp->st.challenge_ack_tx++;
}

int pony_flowtx_send_hs(struct pony_tp *tp, struct pony_flow *f)
{
	struct pony_hdr h = {.type = PONY_T_ACK, .flags = PONY_F_HS, .seq = f->isn,
			     .aux = tp->cfg.window, .msg_len = tp->seg_max};
	tp->st.acks_tx++;
	return flow_send(tp, f, &h, NULL, 0);
}

/* (Re)transmit the sequenced packet seq from its descriptor. */
static int xmit_desc(struct pony_tp *tp, struct pony_flow *f, uint32_t seq, struct pony_txdesc *d)
{
	struct pony_hdr h = {.type = d->type, .seq = seq, .sid = d->sid, .src_sid = d->src_sid,
			     .msg_id = d->msg_id, .msg_len = d->msg_len, .offset = d->offset,
			     .aux = d->aux};
	const uint8_t *payload = NULL;
	uint16_t len = 0;

	if (pony_os_type(d->type)) {
		payload = pony_os_payload(tp, d);
		len = d->len;
		if (payload == NULL) {
			d->type = PONY_T_NOP; /* its content is gone (restored state) */
			memset(&h, 0, sizeof(h));
			h.type = PONY_T_NOP;
			h.seq = seq;
			len = 0;
		}
	} else if (d->type == PONY_T_DATA) {
		struct pony_stream *s = pony_stream_get(tp, d->stream);
		if (s != NULL && s->state == PONY_S_OPEN && seq_le(s->tx_head, d->msg_id) &&
		    seq_lt(d->msg_id, s->tx_tail)) {
			const struct pony_txmsg *msg = stream_msg(tp, s, d->msg_id);
			if (msg->msg_id == d->msg_id) {
				payload = msg->buf + d->offset;
				len = d->len;
			}
		}
		if (payload == NULL) {
			/* The message was cancelled (local close): its seq still has to reach
			 * the peer so the cumulative ack can pass it. */
			d->type = PONY_T_NOP;
			memset(&h, 0, sizeof(h));
			h.type = PONY_T_NOP;
			h.seq = seq;
		} else {
			tp->st.data_tx++;
			/* DATA's src_sid is its class code (pony/WIRE.md "Priority classes") */
			unsigned c = pony_qos_class(d->src_sid & 3);
			struct pony_qflow *qf = &tp->qflows[f - tp->flows];
			tp->cls_until[c] = tp->now + tp->yield_hold;
			qf->tx_pkts[c]++;
			qf->tx_bytes[c] += len;
			tp->qos.cls[c].tx_pkts++;
			tp->qos.cls[c].tx_bytes += len;
			if (d->offset + len == d->msg_len)
				h.flags |= PONY_F_ACK_NOW;
		}
	} else if (d->type == PONY_T_NOP && (len = pony_pmtu_pad(tp, f, seq, d)) != 0) {
		payload = pony_pmtu_zeros; /* a path MTU probe: padded to the agreed segment */
		h.flags |= PONY_F_ACK_NOW;
	}
	if (d->retx)
		h.flags |= PONY_F_RETX;
	d->sent_tsc = tp->now;
	return flow_send(tp, f, &h, payload, len);
}

static bool window_open(const struct pony_tp *tp, const struct pony_flow *f)
{
	if (f->cc.cwnd >= 1.0)
		return f->pipe < (uint32_t)f->cc.cwnd;
	/* Below one packet: one at a time, spaced srtt / cwnd apart. */
	return f->pipe == 0 && tp->now >= f->next_send_tsc;
}

/* Something not yet sent (new seqs: control, refusals, data, one-sided work), whatever the
 * windows and classes let go now. */
static bool unsent(const struct pony_tp *tp, const struct pony_flow *f)
{
	return f->n_ctrl || f->n_ready || f->refuse_n || pony_os_pending(tp, f);
}

static bool has_new(const struct pony_tp *tp, const struct pony_flow *f)
{
	/* Our descriptor ring and the peer's receive window both bound the seqs in flight. */
	uint32_t w = f->peer_window && f->peer_window < tp->cfg.window ? f->peer_window
								      : tp->cfg.window;
	return unsent(tp, f) && f->snd_nxt - f->snd_una < w;
}

#define ALLOW_CLASSES ((1u << PONY_QOS_N) - 1)
#define ALLOW_OPEN (1u << PONY_QOS_N) /* the window is open: not only critical data */
#define CRIT_BIT (1u << PONY_QOS_CRITICAL)

/* What flow f may send now when classes other than normal are in use (pony/qos.h
 * "Yielding"): ALLOW_OPEN and the classes whose data may go, 0 for nothing. A full window
 * lets critical data pass by crit_burst packets; an open one holds the classes below an
 * active one to the flow's yield window. */
static unsigned tx_allow_classes(const struct pony_tp *tp, const struct pony_flow *f)
{
	const struct pony_qflow *qf = &tp->qflows[f - tp->flows];
	if (!window_open(tp, f)) {
		uint32_t w = f->cc.cwnd >= 1.0 ? (uint32_t)f->cc.cwnd : 0;
		return qf->head[PONY_QOS_CRITICAL] != PONY_NONE && f->pipe < w + tp->crit_burst
			       ? CRIT_BIT
			       : 0;
	}
	if (f->pipe == 0 || f->pipe < qf->cc_yield.cwnd)
		return ALLOW_OPEN | ALLOW_CLASSES;
	/* Classes at or above the most urgent one active go; the ones below wait. */
	for (unsigned c = 0; c + 1 < PONY_QOS_N; c++)
		if (tp->cls_until[c] > tp->now)
			return ALLOW_OPEN | ((2u << c) - 1);
	return ALLOW_OPEN | ALLOW_CLASSES;
}

/* Next new sequenced packet: stream control first (opens, credits unblock peers), then data
 * of the streams that have credit: classes by weighted round robin among those `allow`
 * lets go, streams of a class round-robin. Without ALLOW_OPEN, critical data alone. */
static bool next_new(struct pony_tp *tp, struct pony_flow *f, struct pony_txdesc *d,
		     unsigned allow)
{
	uint32_t idx = PONY_NONE;
	unsigned q = PONY_TXQ_DATA;
	if (allow & ALLOW_OPEN) {
		if (pony_stream_next_refusal(f, d))
			return true; /* refusals first: they free the peer's opens, hold nothing */
		if (pony_os_next(tp, f, d))
			return true; /* one-sided responses and requests first: they are small */
		idx = pony_txq_ctrl_head(f);
		q = PONY_TXQ_CTRL;
	}
	if (idx == PONY_NONE) {
		q = PONY_TXQ_DATA;
		idx = pony_txq_data_next(tp, f, allow); /* weighted round robin over the classes */
	}
	if (idx == PONY_NONE)
		return false;
	struct pony_stream *s = &tp->streams[idx];
	memset(d, 0, sizeof(*d));
	/* A credit alone, with data to send: it rides on the data. */
	if (q == PONY_TXQ_CTRL && !(s->ctrl == PONY_C_CREDIT && s->ready && s->rx_granted != 0))
		pony_stream_next_ctrl(tp, s, d);
	else
		pony_stream_next_seg(tp, s, d, pony_pmtu_seg(tp, f));
	/* Round-robin: one packet per turn (a stream freed by its CLOSE left the queue). */
	if (s->state != PONY_S_FREE)
		pony_txq_rotate(tp, s, q);
	return true;
}

static uint32_t lowest_lost(struct pony_tp *tp, struct pony_flow *f)
{
	for (uint32_t s = f->snd_una; seq_lt(s, f->snd_nxt); s++)
		if (flow_desc(tp, f, s)->state == PONY_D_LOST)
			return s;
	return f->snd_nxt; /* not reached while n_lost > 0 */
}

static unsigned flow_tx(struct pony_tp *tp, struct pony_flow *f)
{
	unsigned n = 0;
	/* Normal alone (an app without classes): the window decides, nothing to weigh. */
	const bool classes = (tp->tx_classes & ~(1u << PONY_QOS_NORMAL)) != 0;
	struct pony_qflow *qf = &tp->qflows[f - tp->flows];
	/* A flow that had nothing queued starts a message: hand the port its frames a few KiB
	 * at a time (tx_lead_bytes), so the peer's engine, on its own core, copies the first
	 * ones in while we build the rest, instead of the whole batch after ours (a 64 KiB
	 * ping-pong over memif: 18-100% more round trips a second at MTU 9000, 9-19% at 1,500).
	 * A flow with data still queued, held by its window or its classes, goes in whole
	 * batches: its peer has work anyway, and each piece costs a port call and, on that
	 * side, an ack more (cutting every batch cost streams 10-40%; counting held bulk as
	 * idle doubled a critical RPC's p99 beside it). */
	if (qf->tx_idle)
		tp->txb_lim = tp->cfg.tx_lead_bytes;
	while (n < PONY_TX_BATCH && f->state == PONY_F_ESTABLISHED) {
		unsigned allow = ALLOW_OPEN | ALLOW_CLASSES;
		if (classes ? (allow = tx_allow_classes(tp, f)) == 0 : !window_open(tp, f))
			break;
		uint32_t seq;
		struct pony_txdesc *d;
		if (f->n_lost && (allow & ALLOW_OPEN)) {
			seq = lowest_lost(tp, f);
			d = flow_desc(tp, f, seq);
			f->n_lost--;
			d->retx++;
			f->retransmits++;
			tp->st.retransmits++;
		} else if (has_new(tp, f)) {
			seq = f->snd_nxt;
			d = flow_desc(tp, f, seq);
			/* A path MTU probe goes ahead of new data (pony/pmtu.h). */
			if (!((allow & ALLOW_OPEN) && pony_pmtu_next(tp, f, d, seq)) &&
			    !next_new(tp, f, d, allow))
				break;
			if (f->snd_una == f->snd_nxt)
				f->una_tsc = tp->now; /* the ack clock starts with the first seq */
			f->snd_nxt++;
		} else {
			break;
		}
		d->state = PONY_D_INFLIGHT;
		if (f->pipe++ == 0)
			f->rto_start = tp->now;
		if (xmit_desc(tp, f, seq, d) < 0) {
			/* No mbuf: leave it for the retransmission path. */
			d->state = PONY_D_LOST;
			f->pipe--;
			f->n_lost++;
			break;
		}
		uint64_t gap = pony_cc_pacing_gap(&f->cc, &tp->ccp, f->srtt ? f->srtt : tp->rto_init);
		if (gap)
			f->next_send_tsc = tp->now + gap;
		n++;
	}
	tp->txb_lim = UINT32_MAX;
	qf->tx_idle = !f->n_lost && !unsent(tp, f);
	return n;
}

static uint64_t rto_deadline(const struct pony_tp *tp, const struct pony_flow *f)
{
	uint64_t rto = f->rto << (f->backoff < BACKOFF_MAX ? f->backoff : BACKOFF_MAX);
	if (rto > tp->rto_max || rto < f->rto)
		rto = tp->rto_max;
	return f->rto_start + rto;
}

static bool flow_busy(const struct pony_tp *tp, const struct pony_flow *f)
{
	return f->n_streams || f->snd_una != f->snd_nxt || f->n_lost || f->refuse_n ||
	       pony_os_busy(tp, f);
}

static void on_timeout(struct pony_tp *tp, struct pony_flow *f)
{
	for (uint32_t s = f->snd_una; seq_lt(s, f->snd_nxt); s++) {
		struct pony_txdesc *d = flow_desc(tp, f, s);
		if (d->state == PONY_D_INFLIGHT) {
			d->state = PONY_D_LOST;
			f->n_lost++;
		}
	}
	f->pipe = 0;
	f->timeouts++;
	tp->st.timeouts++;
	f->backoff++;
	if (f->consec_timeouts++ == 0)
		f->rto_fired_tsc = tp->now;
	f->rto_start = tp->now;
	pony_cc_on_timeout(&f->cc, &tp->ccp, f->consec_timeouts, tp->now);
}

static unsigned flow_timers(struct pony_tp *tp, struct pony_flow *f)
{
	uint64_t now = tp->now;
	if (f->state == PONY_F_SYN_SENT) {
		if (f->tx_pkts == 0) {
			f->created_tsc = f->last_rx_tsc = f->rto_start = now;
			pony_flowtx_send_unseq(tp, f, PONY_T_SYN);
			return 1;
		}
		if (now - f->created_tsc >= tp->dead) {
			pony_flow_fail(tp, f, -ETIMEDOUT);
			return 1;
		}
		if (now >= rto_deadline(tp, f)) {
			f->backoff++;
			f->rto_start = now;
			pony_flowtx_send_unseq(tp, f, PONY_T_SYN);
			return 1;
		}
		return 0;
	}
	if (f->state != PONY_F_ESTABLISHED)
		return 0;
	if (flow_busy(tp, f) && now - f->last_rx_tsc >= tp->dead) {
		pony_flow_fail(tp, f, -ETIMEDOUT);
		return 1;
	}
	/* A peer that keeps talking (probes) but acks nothing would pin what it made us send
	 * (accepted streams, one-sided responses) for ever: fail the flow. Both conditions:
	 * a slow path (a sender paced to one packet a second) also goes long without an ack,
	 * but its retransmissions get through and are acked, so RTOs do not pile up. */
	if (f->snd_una != f->snd_nxt && f->consec_timeouts >= NOACK_RTOS &&
	    now - f->una_tsc >= tp->dead) {
		tp->st.ack_timeouts++;
		pony_flow_fail(tp, f, -ETIMEDOUT);
		return 1;
	}
	unsigned w = 0;
	if (f->pipe && now >= rto_deadline(tp, f)) {
		on_timeout(tp, f);
		w++;
	}
	if (flow_busy(tp, f) && now - f->last_rx_tsc >= tp->keepalive &&
	    now - f->last_tx_tsc >= tp->keepalive) {
		pony_flowtx_send_unseq(tp, f, PONY_T_PROBE);
		w++;
	}
	/* A peer that never answers our FINs (gone, or a spoofed SYN made this flow): drop
	 * the flow quietly so the table cannot fill with them. */
	if (!flow_busy(tp, f) && f->fin_sent && now - f->last_rx_tsc >= tp->dead) {
		pony_flow_release(tp, f);
		return 1;
	}
	/* Idle teardown: nothing held on either side for a while. */
	if (!flow_busy(tp, f) && now - f->last_tx_tsc >= 4 * tp->keepalive &&
	    now - f->last_rx_tsc >= 4 * tp->keepalive) {
		f->fin_sent = true;
		pony_flowtx_send_unseq(tp, f, PONY_T_FIN);
		w++;
	}
	return w;
}

/* The per-poll scans below walk slots up to flows_hi only: flows are allocated lowest slot
 * first, so a transport talking to a few peers scans a few slots, not max_flows (the scans
 * were the largest cost of an idle poll and 14% of an RPC's engine instructions). */
void pony_flow_flush_acks(struct pony_tp *tp)
{
	for (uint32_t i = 0; i < tp->flows_hi; i++) {
		struct pony_flow *f = &tp->flows[i];
		if (f->state == PONY_F_ESTABLISHED && f->ack_pending && f->ack_due_tsc <= tp->now)
			pony_flowtx_send_unseq(tp, f, PONY_T_ACK);
	}
	pony_flowtx_flush(tp);
}

unsigned pony_flow_poll_all(struct pony_tp *tp)
{
	unsigned w = 0;
	/* Flows with critical data go first (issue 21): a critical RPC to one peer does not
	 * wait behind another flow's batch of bulk on the same port. */
	for (uint32_t i = 0; (tp->tx_classes & 1u << PONY_QOS_CRITICAL) && i < tp->flows_hi; i++)
		if (tp->flows[i].state == PONY_F_ESTABLISHED &&
		    tp->qflows[i].head[PONY_QOS_CRITICAL] != PONY_NONE)
			w += flow_tx(tp, &tp->flows[i]);
	for (uint32_t i = 0; i < tp->flows_hi; i++) {
		struct pony_flow *f = &tp->flows[i];
		if (f->state == PONY_F_FREE)
			continue;
		w += flow_timers(tp, f);
		if (f->state == PONY_F_ESTABLISHED)
			w += flow_tx(tp, f);
	}
	pony_flow_flush_acks(tp);
	return w;
}

uint64_t pony_flow_next_deadline(const struct pony_tp *tp)
{
	uint64_t t = UINT64_MAX;
#define AT(x)                                                                             \
	do {                                                                              \
		uint64_t x_ = (x);                                                        \
		if (x_ < t)                                                               \
			t = x_;                                                           \
	} while (0)
	for (uint32_t i = 0; i < tp->flows_hi; i++) {
		const struct pony_flow *f = &tp->flows[i];
		if (f->state == PONY_F_SYN_SENT) {
			if (f->tx_pkts == 0)
				return 0;
			AT(rto_deadline(tp, f));
			AT(f->created_tsc + tp->dead);
		}
		if (f->state != PONY_F_ESTABLISHED)
			continue;
		if (f->ack_pending)
			AT(f->ack_due_tsc);
		if ((f->n_lost || has_new(tp, f))) {
			if (f->cc.cwnd >= 1.0 ? f->pipe < (uint32_t)f->cc.cwnd : f->pipe == 0)
				AT(f->cc.cwnd >= 1.0 ? 0 : f->next_send_tsc);
		}
		if (f->pipe)
			AT(rto_deadline(tp, f));
		if (f->snd_una != f->snd_nxt && f->consec_timeouts >= NOACK_RTOS)
			AT(f->una_tsc + tp->dead);
		if (flow_busy(tp, f)) {
			AT(f->last_rx_tsc + tp->dead);
			uint64_t ka = f->last_rx_tsc > f->last_tx_tsc ? f->last_rx_tsc : f->last_tx_tsc;
			AT(ka + tp->keepalive);
		} else {
			uint64_t idle = f->last_rx_tsc > f->last_tx_tsc ? f->last_rx_tsc : f->last_tx_tsc;
			AT(idle + 4 * tp->keepalive);
		}
	}
#undef AT
	return t;
}
