/* A flow's transmit queues of streams: which streams have something to send, so choosing
 * the next packet costs O(1) however many streams the flow carries (issue 15: 1,000
 * streams were scanned for every packet). Two FIFOs per flow, served round-robin: streams
 * with stream control to send (OPEN, OPEN_ACK, CREDIT, CLOSE: these unblock the peer, so
 * they go first) and streams with data the peer's credit lets go. A stream is in a queue
 * exactly while it has that kind of work (pony_stream_update_ready, pony_stream_set_ctrl and
 * pony_stream_clear_ctrl keep it so). The links are process-local: saved with the tables
 * but rebuilt on restore, never trusted. */
#pragma once

#include "pony/internal.h"

enum { PONY_TXQ_CTRL = 0, PONY_TXQ_DATA = 1, PONY_TXQ_N = 2 };

/* Empty queues for a new flow. */
void pony_txq_flow_init(struct pony_flow *f);
/* Put s in, or take it out of, queue q of its flow to match `want`. */
void pony_txq_set(struct pony_tp *tp, struct pony_stream *s, unsigned q, bool want);
/* Head of queue q (PONY_NONE when empty). */
static inline uint32_t pony_txq_head(const struct pony_flow *f, unsigned q)
{
	return f->txq_head[q];
}
/* Round-robin: s (the head of q, just served and still queued) goes to the tail. */
void pony_txq_rotate(struct pony_tp *tp, struct pony_stream *s, unsigned q);
/* After a restore: every queue rebuilt (and n_ready, n_ctrl recounted) from the streams'
 * own state. */
void pony_txq_rebuild(struct pony_tp *tp);
