/* Pony streams: allocation, segmentation of queued messages, in-order reassembly and
 * delivery (payload copied mbuf -> app buffer here and nowhere else), credits, stream
 * open/close handshakes and failing them with a flow. */
#include <errno.h>
#include <string.h>

#include "pony/internal.h"
#include "pony/txq.h"

static bool stream_valid(struct pony_tp *tp, const struct pony_stream *s, uint32_t sid,
			 uint8_t state)
{
	return s->sid == sid && s->state == state && tp->streams[sid & PONY_SID_IDX_MASK].sid == sid;
}

struct pony_stream *pony_stream_alloc(struct pony_tp *tp, struct pony_flow *f)
{
	uint32_t idx = tp->stream_free;
	if (idx == PONY_NONE)
		return NULL;
	struct pony_stream *s = &tp->streams[idx];
	tp->stream_free = s->next;
	uint32_t gen = (s->sid >> PONY_SID_IDX_BITS) + 1;
	if ((gen & ((1u << (32 - PONY_SID_IDX_BITS)) - 1)) == 0)
		gen = 1; /* sid 0 means "none" on the wire */
	memset(s, 0, sizeof(*s));
	tp->srpc[idx].n = 0; /* RPCs of the slot's previous stream are not answered here */
	s->sid = (gen << PONY_SID_IDX_BITS) | idx;
	s->flow = (uint32_t)(f - tp->flows);
	s->held = PONY_NONE;
	s->prev = PONY_NONE;
	for (unsigned q = 0; q < PONY_TXQ_N; q++)
		s->txq_prev[q] = s->txq_next[q] = PONY_NONE;
	s->next = f->streams;
	if (f->streams != PONY_NONE)
		tp->streams[f->streams].prev = idx;
	f->streams = idx;
	f->n_streams++;
	f->fin_sent = false; /* busy again: a late FIN_ACK must not release it */
	return s;
}

static void held_free_all(struct pony_tp *tp, struct pony_stream *s)
{
	while (s->held != PONY_NONE) {
		struct pony_held *hd = &tp->held[s->held];
		uint32_t next = hd->next;
		rte_pktmbuf_free(hd->m);
		hd->m = NULL;
		hd->next = tp->held_free;
		tp->held_free = s->held;
		s->held = next;
		tp->st.held_mbufs--;
		tp->flows[s->flow].n_held--;
	}
}

void pony_stream_free(struct pony_tp *tp, struct pony_stream *s)
{
	struct pony_flow *f = &tp->flows[s->flow];
	uint32_t idx = s->sid & PONY_SID_IDX_MASK;
	if (s->ready)
		f->n_ready--;
	if (s->ctrl)
		f->n_ctrl--;
	pony_txq_set(tp, s, PONY_TXQ_CTRL, false);
	pony_txq_set(tp, s, PONY_TXQ_DATA, false);
	if (s->close_pending)
		f->n_close_pending--;
	if (s->passive)
		f->n_passive--;
	held_free_all(tp, s);
	if (s->prev != PONY_NONE)
		tp->streams[s->prev].next = s->next;
	else
		f->streams = s->next;
	if (s->next != PONY_NONE)
		tp->streams[s->next].prev = s->prev;
	f->n_streams--;
	s->state = PONY_S_FREE;
	s->ctrl = 0;
	s->ready = false;
	s->close_pending = false;
	s->passive = false;
	s->next = tp->stream_free;
	tp->stream_free = idx;
}

/* ---- Transmit. ---- */

void pony_stream_next_ctrl(struct pony_tp *tp, struct pony_stream *s, struct pony_txdesc *d)
{
	d->stream = PONY_NONE;
	d->sid = s->peer_sid;
	if (s->ctrl & PONY_C_OPEN) {
		pony_stream_clear_ctrl(tp, s, PONY_C_OPEN);
		d->type = PONY_T_OPEN;
		d->sid = 0;
		d->src_sid = s->sid;
		d->aux = s->service;
	} else if (s->ctrl & PONY_C_OPEN_ACK) {
		pony_stream_clear_ctrl(tp, s, PONY_C_OPEN_ACK);
		d->type = PONY_T_OPEN_ACK;
		d->src_sid = s->sid;
		d->aux = 0;
	} else if (s->ctrl & PONY_C_CREDIT) {
		pony_stream_clear_ctrl(tp, s, PONY_C_CREDIT);
		tp->st.credit_tx++;
		d->type = PONY_T_CREDIT;
		d->aux = s->rx_granted;
		s->rx_advertised = s->rx_granted;
	} else {
		pony_stream_clear_ctrl(tp, s, PONY_C_CLOSE);
		d->type = PONY_T_CLOSE;
		d->msg_id = s->tx_tail;
		pony_stream_free(tp, s);
	}
}

void pony_stream_next_seg(struct pony_tp *tp, struct pony_stream *s, struct pony_txdesc *d,
			  uint32_t seg_max)
{
	struct pony_txmsg *msg = stream_msg(tp, s, s->tx_seg);
	uint32_t len = msg->len - msg->seg_off;
	if (len > seg_max)
		len = seg_max;
	d->type = PONY_T_DATA;
	d->stream = s->sid;
	d->sid = s->peer_sid;
	d->msg_id = msg->msg_id;
	d->msg_len = msg->len;
	d->offset = msg->seg_off;
	d->len = (uint16_t)len;
	d->src_sid = stream_qmsg(tp, s, s->tx_seg)->code; /* the class, on the wire */
	/* A credit owed to the peer rides on the data (its aux), so an RPC's "post a receive,
	 * send the request" is one packet, not a CREDIT and a DATA (pony/WIRE.md): one that
	 * was urgent (a CREDIT queued) and one that could wait (pony_stream_credit_check).
	 * Absolute and monotonic, so a retransmission carrying an older value is harmless; 0
	 * means none. */
	if (s->rx_granted != s->rx_advertised && s->rx_granted != 0) {
		pony_stream_clear_ctrl(tp, s, PONY_C_CREDIT);
		d->aux = s->rx_granted;
		s->rx_advertised = s->rx_granted;
	}
	msg->seg_off += len;
	if (msg->seg_off == msg->len) {
		s->tx_seg++;
		pony_stream_update_ready(tp, s);
	}
}

void pony_stream_acked(struct pony_tp *tp, uint32_t stream, uint32_t msg_id, uint32_t bytes)
{
	struct pony_stream *s = pony_stream_get(tp, stream);
	if (s == NULL || s->state != PONY_S_OPEN || seq_lt(msg_id, s->tx_head) ||
	    !seq_lt(msg_id, s->tx_tail))
		return;
	struct pony_txmsg *msg = stream_msg(tp, s, msg_id);
	if (msg->msg_id != msg_id)
		return;
	msg->acked += bytes;
	uint32_t sid = s->sid;
	/* Complete in order: tx_done for a message only after its predecessors. */
	while (s->tx_head != s->tx_seg) {
		msg = stream_msg(tp, s, s->tx_head);
		if (msg->acked != msg->len)
			break;
		uint64_t cookie = msg->cookie;
		const struct pony_qmsg *qm = stream_qmsg(tp, s, s->tx_head);
		if (!qm->rpc) /* an RPC is measured at its response */
			pony_qos_complete(&tp->qos, qm->ticket, pony_qos_class(qm->code),
					  (uint64_t)((double)(tp->now - qm->t0) * tp->ns_per_tsc));
		s->tx_head++;
		tp->st.msgs_tx++;
		tp->up->tx_done(s->owner, sid, cookie, 0);
		if (!stream_valid(tp, s, sid, PONY_S_OPEN))
			return;
	}
}

/* Complete every queued message with err (state already moved away from OPEN, so the
 * upcalls cannot queue more). */
static void cancel_tx(struct pony_tp *tp, struct pony_stream *s, int err)
{
	uint32_t sid = s->sid;
	while (s->tx_head != s->tx_tail && s->sid == sid) {
		uint64_t cookie = stream_msg(tp, s, s->tx_head)->cookie;
		s->tx_head++;
		if (seq_lt(s->tx_seg, s->tx_head))
			s->tx_seg = s->tx_head;
		tp->up->tx_done(s->owner, sid, cookie, err);
	}
	pony_stream_update_ready(tp, s);
}

static void cancel_rx(struct pony_tp *tp, struct pony_stream *s, int err)
{
	held_free_all(tp, s);
	if (s->rx_active) {
		s->rx_active = false;
		tp->up->rx_done(s->owner, s->sid, s->rx_cookie, s->rx_len, err);
	}
}

/* ---- Receive. ---- */

/* Apply one segment of the current message; true if it completed the message (rx_done was
 * called: the caller must revalidate the stream). */
static bool seg_apply(struct pony_tp *tp, struct pony_stream *s, uint32_t msg_len, uint32_t off,
		      const void *data, uint32_t len, uint8_t code)
{
	uint32_t sid = s->sid;
	if (!s->rx_active) {
		uint64_t cookie = 0;
		s->rx_active = true;
		s->rx_len = msg_len;
		s->rx_got = 0;
		s->rx_dst = tp->up->rx_begin(s->owner, sid, msg_len, &cookie);
		s->rx_cookie = cookie;
		s->rx_discard = s->rx_dst == NULL;
		if (!stream_valid(tp, s, sid, PONY_S_OPEN))
			return true;
	}
	if (msg_len != s->rx_len) {
		tp->st.malformed++; /* peer changed a message's length mid-way */
		return false;
	}
	if (!s->rx_discard && (s->rx_dst + off != tp->rx_placed || len != tp->rx_placed_len))
		memcpy(s->rx_dst + off, data, len);
	tp->rx_placed = NULL;
	s->rx_got += len;
	if (s->rx_got < s->rx_len)
		return false;
	s->rx_active = false;
	s->rx_next++;
	pony_stream_credit_check(tp, s);
	tp->st.msgs_rx++;
	tp->rx_code = code; /* every segment of a message carries its class: pony_tp_rx_code */
	pony_qos_rx_msg(tp, s);
	tp->up->rx_done(s->owner, sid, s->rx_cookie, s->rx_len, s->rx_discard ? -EMSGSIZE : 0);
	return true;
}

/* Deliver held segments of the (new) current message, message after message. */
static void pull_held(struct pony_tp *tp, struct pony_stream *s)
{
	uint32_t sid = s->sid;
restart:
	for (uint32_t *link = &s->held; *link != PONY_NONE;) {
		uint32_t hi = *link;
		struct pony_held *hd = &tp->held[hi];
		if (hd->msg_id != s->rx_next) {
			link = &hd->next;
			continue;
		}
		*link = hd->next;
		struct rte_mbuf *m = hd->m;
		hd->m = NULL;
		hd->next = tp->held_free;
		tp->held_free = hi;
		tp->st.held_mbufs--;
		tp->flows[s->flow].n_held--;
		bool done = seg_apply(tp, s, hd->msg_len, hd->offset, rte_pktmbuf_mtod(m, void *),
				      rte_pktmbuf_data_len(m), hd->code);
		rte_pktmbuf_free(m);
		if (done) {
			if (!stream_valid(tp, s, sid, PONY_S_OPEN))
				return;
			goto restart;
		}
	}
}

static int rx_data(struct pony_tp *tp, struct pony_stream *s, const struct pony_hdr *h,
		   struct rte_mbuf *m, uint32_t hl)
{
	if (seq_lt(h->msg_id, s->rx_next))
		return 0;
	if (!seq_lt(h->msg_id, s->rx_granted)) {
		tp->st.out_of_window++; /* beyond the credit we gave: not accepted */
		return -EAGAIN;
	}
	if (h->msg_id == s->rx_next) {
		if (seg_apply(tp, s, h->msg_len, h->offset, rte_pktmbuf_mtod_offset(m, void *, hl),
			      h->payload_len, h->src_sid & 3) &&
		    stream_valid(tp, s, h->sid, PONY_S_OPEN))
			pull_held(tp, s);
		return 0;
	}
	/* A later message of this stream: keep the mbuf until its turn. At most one held
	 * segment per seq inside the receive window, so the pool (flows x window) suffices. */
	uint32_t hi = tp->held_free;
	struct pony_flow *f = &tp->flows[s->flow];
	if (hi == PONY_NONE || f->n_held >= tp->cfg.window)
		return -EAGAIN; /* only a misbehaving peer gets here; it will retransmit */
	struct pony_held *hd = &tp->held[hi];
	tp->held_free = hd->next;
	rte_pktmbuf_adj(m, (uint16_t)hl);
	hd->m = m;
	hd->msg_id = h->msg_id;
	hd->msg_len = h->msg_len;
	hd->offset = h->offset;
	hd->code = h->src_sid & 3;
	hd->next = s->held;
	s->held = hi;
	tp->st.held_mbufs++;
	f->n_held++;
	return 1;
}

bool pony_stream_next_refusal(struct pony_flow *f, struct pony_txdesc *d)
{
	if (f->refuse_n == 0)
		return false;
	uint32_t i = f->refuse_head;
	memset(d, 0, sizeof(*d));
	d->type = PONY_T_OPEN_ACK;
	d->stream = PONY_NONE;
	d->sid = f->refuse_sid[i];
	d->aux = f->refuse_err[i];
	f->refuse_head = (uint8_t)((i + 1) % PONY_REFUSE_Q);
	f->refuse_n--;
	return true;
}

/* Queue the refusal of the peer's OPEN (its sid) with err; the caller checked for room. */
static void refuse_open(struct pony_flow *f, uint32_t peer_sid, int err)
{
	uint32_t i = (f->refuse_head + f->refuse_n) % PONY_REFUSE_Q;
	f->refuse_sid[i] = peer_sid;
	f->refuse_err[i] = (uint16_t)err;
	f->refuse_n++;
}

static int rx_open(struct pony_tp *tp, struct pony_flow *f, const struct pony_hdr *h)
{
	/* Any OPEN may end refused: only take it when the refusal has room, so a peer that
	 * never acks our OPEN_ACKs holds at most PONY_REFUSE_Q of them, and no stream. */
	if (f->refuse_n == PONY_REFUSE_Q) {
		tp->st.refuse_deferred++;
		return -EAGAIN; /* not marked received: the peer retransmits */
	}
	struct pony_listener *l = NULL;
	for (unsigned i = 0; i < PONY_LISTEN_MAX && h->aux <= UINT16_MAX; i++)
		if (tp->listen[i].used && tp->listen[i].service == h->aux)
			l = &tp->listen[i];
	if (l == NULL || tp->up == NULL) {
		tp->st.refused_no_listener++;
		refuse_open(f, h->src_sid, ECONNREFUSED);
		return 0;
	}
	if (pony_flow_peer_streams(tp, flow_peer(tp, f)) >= tp->cfg.max_streams_per_peer) {
		tp->st.refused_stream_budget++;
		refuse_open(f, h->src_sid, ENOBUFS);
		return 0;
	}
	struct pony_stream *s = pony_stream_alloc(tp, f);
	if (s == NULL)
		return -EAGAIN; /* the peer retries; maybe a stream is free by then */
	s->peer_sid = h->src_sid;
	s->service = (uint16_t)h->aux;
	s->passive = true;
	f->n_passive++;
	uint32_t sid = s->sid;
	s->state = PONY_S_OPEN;
	void *owner = NULL;
	int r = tp->up->accept(l->listener, sid, flow_peer(tp, f), s->service, &owner);
	if (!stream_valid(tp, s, sid, PONY_S_OPEN))
		return 0; /* closed from within accept */
	s->owner = owner;
	if (r < 0) {
		s->state = PONY_S_CLOSING; /* no upcalls for a stream the app refused */
		cancel_tx(tp, s, -ECONNREFUSED);
		if (s->sid == sid)
			pony_stream_free(tp, s);
		refuse_open(f, h->src_sid, -r);
		return 0;
	}
	pony_stream_set_ctrl(tp, s, PONY_C_OPEN_ACK);
	pony_stream_update_ready(tp, s);
	return 0;
}

static void rx_open_ack(struct pony_tp *tp, struct pony_stream *s, const struct pony_hdr *h)
{
	uint32_t sid = s->sid;
	if (s->state != PONY_S_OPENING)
		return;
	if (h->aux == 0) {
		s->peer_sid = h->src_sid;
		if (s->close_after_open) {
			s->state = PONY_S_CLOSING;
			pony_stream_set_ctrl(tp, s, PONY_C_CLOSE);
			return;
		}
		s->state = PONY_S_OPEN;
		if (s->rx_granted != s->rx_advertised)
			pony_stream_set_ctrl(tp, s, PONY_C_CREDIT);
		pony_stream_update_ready(tp, s);
		tp->up->opened(s->owner, sid, 0);
		return;
	}
	bool quiet = s->close_after_open;
	s->state = PONY_S_CLOSING; /* blocks re-entry while the upcalls run */
	if (!quiet) {
		cancel_tx(tp, s, -ECONNREFUSED);
		tp->up->opened(s->owner, sid, -ECONNREFUSED);
	}
	if (s->sid == sid)
		pony_stream_free(tp, s);
}

/* The peer's absolute credit for s (CREDIT, or riding on DATA): msg ids < credit may go. */
static void take_credit(struct pony_tp *tp, struct pony_stream *s, uint32_t credit)
{
	/* May overtake the OPEN_ACK (both are sent right after accept). */
	if ((s->state == PONY_S_OPEN || s->state == PONY_S_OPENING) &&
	    seq_lt(s->peer_credit, credit)) {
		s->peer_credit = credit;
		pony_stream_update_ready(tp, s);
	}
}

/* Per-class receive counters: DATA's src_sid is its class code (0, normal, from a sender
 * without classes); other bits are ignored, kept for later use. */
static void rx_count_cls(struct pony_tp *tp, const struct pony_flow *f, const struct pony_hdr *h)
{
	unsigned c = pony_qos_class(h->src_sid & 3);
	struct pony_qflow *qf = &tp->qflows[f - tp->flows];
	qf->rx_pkts[c]++;
	qf->rx_bytes[c] += h->payload_len;
	tp->qos.cls[c].rx_pkts++;
	tp->qos.cls[c].rx_bytes += h->payload_len;
	tp->rx_classes |= (uint8_t)(1u << c);
}

uint8_t *pony_stream_rx_place(struct pony_tp *tp, const struct pony_flow *f,
			      const struct pony_hdr *h)
{
	if (h->type != PONY_T_DATA || f->state != PONY_F_ESTABLISHED || h->seq != f->rx.rcv_nxt ||
	    f->rx.rcv_max != f->rx.rcv_nxt)
		return NULL;
	const struct pony_stream *s = pony_stream_get(tp, h->sid);
	if (s == NULL || s->flow != (uint32_t)(f - tp->flows) || s->state != PONY_S_OPEN ||
	    h->msg_id != s->rx_next)
		return NULL;
	if (!s->rx_active) {
		/* A message's first segment: where rx_begin will put the message, if the user
		 * can tell without committing to it (seg_apply calls rx_begin once the checksum
		 * held, and copies again should it answer otherwise). */
		if (h->offset != 0 || h->payload_len > h->msg_len || tp->up->rx_peek == NULL ||
		    !seq_lt(h->msg_id, s->rx_granted))
			return NULL;
		return tp->up->rx_peek(s->owner, s->sid, h->msg_len);
	}
	if (s->rx_discard || h->msg_len != s->rx_len || h->offset != s->rx_got ||
	    h->payload_len > s->rx_len - s->rx_got)
		return NULL;
	return s->rx_dst + h->offset;
}

int pony_stream_rx(struct pony_tp *tp, struct pony_flow *f, const struct pony_hdr *h,
		   uint32_t seq, struct rte_mbuf *m, uint32_t hl)
{
	if (h->type == PONY_T_NOP)
		return 0;
	if (pony_os_type(h->type))
		return pony_os_rx(tp, f, h, m, hl);
	if (h->type == PONY_T_OPEN)
		return rx_open(tp, f, h);
	struct pony_stream *s = pony_stream_get(tp, h->sid);
	if (s == NULL || s->flow != (uint32_t)(f - tp->flows))
		return 0; /* stream gone (closed): the seq is consumed, the content dropped */
	switch (h->type) {
	case PONY_T_DATA:
		tp->st.data_rx++;
		rx_count_cls(tp, f, h);
		if (h->aux != 0)
			take_credit(tp, s, h->aux);
		return s->state == PONY_S_OPEN ? rx_data(tp, s, h, m, hl) : 0;
	case PONY_T_OPEN_ACK:
		rx_open_ack(tp, s, h);
		return 0;
	case PONY_T_CREDIT:
		take_credit(tp, s, h->aux);
		return 0;
	case PONY_T_CLOSE:
		if (s->state == PONY_S_OPEN && !s->close_pending) {
			/* Act only once every earlier seq arrived, so all data the peer sent
			 * before closing is delivered first. */
			s->close_pending = true;
			s->close_seq = seq;
			f->n_close_pending++;
		}
		return 0;
	default:
		return 0;
	}
}

static void peer_closed(struct pony_tp *tp, struct pony_stream *s)
{
	uint32_t sid = s->sid;
	s->state = PONY_S_CLOSING;
	cancel_tx(tp, s, -ECONNRESET);
	if (s->sid == sid)
		cancel_rx(tp, s, -ECONNRESET);
	if (s->sid == sid)
		tp->up->closed(s->owner, sid, 0);
	if (s->sid == sid)
		pony_stream_free(tp, s);
}

void pony_stream_close_ready(struct pony_tp *tp, struct pony_flow *f)
{
restart:
	for (uint32_t idx = f->streams; idx != PONY_NONE && f->n_close_pending;
	     idx = tp->streams[idx].next) {
		struct pony_stream *s = &tp->streams[idx];
		if (s->close_pending && seq_lt(s->close_seq, f->rx.rcv_nxt)) {
			s->close_pending = false;
			f->n_close_pending--;
			peer_closed(tp, s);
			goto restart; /* upcalls may have changed the list */
		}
	}
}

void pony_stream_fail_all(struct pony_tp *tp, struct pony_flow *f, int err)
{
	while (f->streams != PONY_NONE) {
		struct pony_stream *s = &tp->streams[f->streams];
		uint32_t sid = s->sid;
		uint8_t state = s->state;
		s->state = PONY_S_CLOSING;
		if (state == PONY_S_OPENING && !s->close_after_open) {
			cancel_tx(tp, s, err);
			if (s->sid == sid)
				tp->up->opened(s->owner, sid, err);
		} else if (state == PONY_S_OPEN) {
			cancel_tx(tp, s, err);
			if (s->sid == sid)
				cancel_rx(tp, s, err);
			if (s->sid == sid)
				tp->up->closed(s->owner, sid, err);
		}
		if (s->sid == sid && s->state != PONY_S_FREE)
			pony_stream_free(tp, s);
	}
}

/* ---- User operations (called from transport.c). ---- */

int pony_strm_close(struct pony_tp *tp, struct pony_stream *s)
{
	uint32_t sid = s->sid;
	if (s->state == PONY_S_OPENING) {
		if (s->close_after_open)
			return -ENOTCONN;
		s->close_after_open = true;
		cancel_tx(tp, s, -ECANCELED);
		if (s->sid == sid && (s->ctrl & PONY_C_OPEN))
			pony_stream_free(tp, s); /* the peer never heard of it */
		return 0;
	}
	if (s->state != PONY_S_OPEN)
		return -ENOTCONN;
	s->state = PONY_S_CLOSING;
	pony_stream_clear_ctrl(tp, s, PONY_C_CREDIT);
	if (s->close_pending) {
		s->close_pending = false;
		tp->flows[s->flow].n_close_pending--;
	}
	cancel_tx(tp, s, -ECANCELED);
	if (s->sid == sid)
		cancel_rx(tp, s, -ECANCELED);
	if (s->sid == sid)
		pony_stream_set_ctrl(tp, s, PONY_C_CLOSE);
	return 0;
}
