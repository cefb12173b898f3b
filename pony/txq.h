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
void pony_txq_change(struct pony_tp *tp, struct pony_stream *s, unsigned q, bool want);
/* Put s in, or take it out of, queue q of its flow to match `want` (inline: most calls
 * find it already so). */
static inline void pony_txq_set(struct pony_tp *tp, struct pony_stream *s, unsigned q, bool want)
{
	if (s->in_txq[q] != want)
		pony_txq_change(tp, s, q, want);
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
