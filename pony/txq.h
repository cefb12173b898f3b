/* A flow's transmit queues of streams: which streams have something to send, so choosing
 * the next packet costs O(1) however many streams the flow carries (issue 15: 1,000
 * streams were scanned for every packet). Streams with stream control to send (OPEN,
 * OPEN_ACK, CREDIT, CLOSE: these unblock the peer, so they go first) wait in one FIFO;
 * streams with data the peer's credit lets go wait in one FIFO per priority class (the
 * class of the stream's next message, pony/qos.h), served by weighted round robin one
 * packet per turn (issue 21), round-robin among the streams of a class. A stream is in a
 * queue exactly while it has that kind of work (pony_stream_update_ready,
 * pony_stream_set_ctrl and pony_stream_clear_ctrl keep it so). The links are
 * process-local: saved with the tables but rebuilt on restore, never trusted. */
#pragma once

#include "pony/internal.h"

enum { PONY_TXQ_CTRL = 0, PONY_TXQ_DATA = 1, PONY_TXQ_N = 2 };

/* Empty queues for a new flow. */
void pony_txq_flow_init(struct pony_tp *tp, struct pony_flow *f);
/* ---- Per-packet queue operations, inline: each RPC moves its stream in and out of both
 * queues (a credit, then data), and as calls they cost about a third of the RPC's queue
 * work (issue 15). */

struct pony_txq_ends {
	uint32_t *head, *tail;
};

/* The ends of queue q (class cls for data) of s's flow (by index: no pointer division). */
static inline struct pony_txq_ends pony_txq_ends(struct pony_tp *tp, const struct pony_stream *s,
						 unsigned q, unsigned cls)
{
	if (q == PONY_TXQ_CTRL) {
		struct pony_flow *f = &tp->flows[s->flow];
		return (struct pony_txq_ends){&f->txq_head[q], &f->txq_tail[q]};
	}
	struct pony_qflow *qf = &tp->qflows[s->flow];
	return (struct pony_txq_ends){&qf->head[cls], &qf->tail[cls]};
}

/* Class of the stream's next message to segment (normal when it has none). */
static inline unsigned pony_txq_next_cls(struct pony_tp *tp, const struct pony_stream *s)
{
	if ((tp->tx_classes & ~(1u << PONY_QOS_NORMAL)) == 0 || s->tx_seg == s->tx_tail)
		return PONY_QOS_NORMAL;
	return pony_qos_class(stream_qmsg(tp, s, s->tx_seg)->code);
}

/* Append s (index idx) to queue q (for data: of its next message's class). */
static inline void pony_txq_push(struct pony_tp *tp, struct pony_stream *s, uint32_t idx,
				 unsigned q)
{
	unsigned cls = 0;
	if (q == PONY_TXQ_DATA)
		tp->scls[idx] = (uint8_t)(cls = pony_txq_next_cls(tp, s));
	struct pony_txq_ends e = pony_txq_ends(tp, s, q, cls);
	s->txq_prev[q] = *e.tail;
	s->txq_next[q] = PONY_NONE;
	if (*e.tail != PONY_NONE)
		tp->streams[*e.tail].txq_next[q] = idx;
	else
		*e.head = idx;
	*e.tail = idx;
}

/* Take s out of queue q, whose ends are e. */
static inline void pony_txq_unlink(struct pony_tp *tp, struct pony_txq_ends e,
				   struct pony_stream *s, unsigned q)
{
	if (s->txq_prev[q] != PONY_NONE)
		tp->streams[s->txq_prev[q]].txq_next[q] = s->txq_next[q];
	else
		*e.head = s->txq_next[q];
	if (s->txq_next[q] != PONY_NONE)
		tp->streams[s->txq_next[q]].txq_prev[q] = s->txq_prev[q];
	else
		*e.tail = s->txq_prev[q];
}

/* Put s in, or take it out of, queue q of its flow to match `want` (most calls find it
 * already so). */
static inline void pony_txq_set(struct pony_tp *tp, struct pony_stream *s, unsigned q, bool want)
{
	if (s->in_txq[q] == want)
		return;
	uint32_t idx = s->sid & PONY_SID_IDX_MASK;
	if (want)
		pony_txq_push(tp, s, idx, q);
	else
		pony_txq_unlink(tp, pony_txq_ends(tp, s, q, q == PONY_TXQ_DATA ? tp->scls[idx] : 0),
				s, q);
	s->in_txq[q] = want;
}

/* ---- A stream's queue membership follows its state (the three places that change it). */

/* s has data the peer's credit lets go exactly while it is ready (and in its data queue). */
static inline void pony_stream_update_ready(struct pony_tp *tp, struct pony_stream *s)
{
	bool queued = s->tx_seg != s->tx_tail;
	bool r = s->state == PONY_S_OPEN && queued && seq_lt(s->tx_seg, s->peer_credit);
	if (s->state == PONY_S_OPEN && queued && !r && s->ready)
		tp->st.credit_stalls++;
	if (r != s->ready) {
		tp->flows[s->flow].n_ready += r ? 1 : (uint32_t)-1;
		s->ready = r;
		pony_txq_set(tp, s, PONY_TXQ_DATA, r);
	}
}

/* Stream control flags c (PONY_C_*) to send; s is in the control queue while any is set. */
static inline void pony_stream_set_ctrl(struct pony_tp *tp, struct pony_stream *s, uint8_t c)
{
	if (s->ctrl == 0) {
		tp->flows[s->flow].n_ctrl++;
		pony_txq_set(tp, s, PONY_TXQ_CTRL, true);
	}
	s->ctrl |= c;
}

static inline void pony_stream_clear_ctrl(struct pony_tp *tp, struct pony_stream *s, uint8_t c)
{
	if (s->ctrl && !(s->ctrl & ~c)) {
		tp->flows[s->flow].n_ctrl--;
		pony_txq_set(tp, s, PONY_TXQ_CTRL, false);
	}
	s->ctrl &= (uint8_t)~c;
}

/* A credit the user granted (rx_granted beyond rx_advertised) goes in a CREDIT packet of
 * its own only once the peer may run short: when what it has left, as far as this side
 * knows (advertised less delivered; messages in flight only make it less), is at most half
 * of what it would have with the new credit. Until then it waits to ride on the stream's
 * next DATA segment (pony_stream_next_seg), and each message delivered asks again. An RPC
 * server that replies and then posts its next receive buffer otherwise sent the credit
 * alone whenever its engine took the two commands in different polls, and the client then
 * acked two packets at once: two packets each way per RPC instead of one. A peer with no
 * credit left always gets it at once, so this never stalls a sender; a one-way stream gets
 * a CREDIT per half window, like TCP's window updates. Call after rx_granted or rx_next
 * changed (an OPEN stream). */
static inline void pony_stream_credit_check(struct pony_tp *tp, struct pony_stream *s)
{
	if (s->rx_granted == s->rx_advertised || (s->ctrl & PONY_C_CREDIT))
		return;
	int32_t left = (int32_t)(s->rx_advertised - s->rx_next);
	uint32_t want = s->rx_granted - s->rx_next;
	if (left <= 0 || 2 * (uint32_t)left <= want)
		pony_stream_set_ctrl(tp, s, PONY_C_CREDIT);
}

/* Head of the control queue (PONY_NONE when empty). */
static inline uint32_t pony_txq_ctrl_head(const struct pony_flow *f)
{
	return f->txq_head[PONY_TXQ_CTRL];
}
/* The stream whose data goes next: the head of the class the weighted round robin picks
 * among the non-empty class queues whose bit is set in `allow` (charging it one packet),
 * PONY_NONE when none is. A non-empty class left out counts one `yielded` (pony/qos.h
 * "Yielding"). With normal the only class ever queued, its head whatever `allow` says.
 * O(classes). */
uint32_t pony_txq_data_next(struct pony_tp *tp, struct pony_flow *f, unsigned allow);
/* Round-robin: s (the head of q, just served and still queued) goes to the tail (for data:
 * of the class of its next message, which may differ from the one just sent). */
void pony_txq_rotate(struct pony_tp *tp, struct pony_stream *s, unsigned q);
/* After a restore: every queue rebuilt (and n_ready, n_ctrl recounted) from the streams'
 * own state. */
void pony_txq_rebuild(struct pony_tp *tp);
