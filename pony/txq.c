/* A flow's transmit queues of streams (see txq.h): intrusive doubly linked FIFOs through
 * the stream table, so insert, remove and rotate are O(1). */
#include "pony/txq.h"

void pony_txq_flow_init(struct pony_flow *f)
{
	for (unsigned q = 0; q < PONY_TXQ_N; q++)
		f->txq_head[q] = f->txq_tail[q] = PONY_NONE;
}

static void push_tail(struct pony_tp *tp, struct pony_flow *f, struct pony_stream *s, uint32_t idx,
		      unsigned q)
{
	s->txq_prev[q] = f->txq_tail[q];
	s->txq_next[q] = PONY_NONE;
	if (f->txq_tail[q] != PONY_NONE)
		tp->streams[f->txq_tail[q]].txq_next[q] = idx;
	else
		f->txq_head[q] = idx;
	f->txq_tail[q] = idx;
}

static void txq_unlink(struct pony_tp *tp, struct pony_flow *f, struct pony_stream *s, unsigned q)
{
	if (s->txq_prev[q] != PONY_NONE)
		tp->streams[s->txq_prev[q]].txq_next[q] = s->txq_next[q];
	else
		f->txq_head[q] = s->txq_next[q];
	if (s->txq_next[q] != PONY_NONE)
		tp->streams[s->txq_next[q]].txq_prev[q] = s->txq_prev[q];
	else
		f->txq_tail[q] = s->txq_prev[q];
}

void pony_txq_change(struct pony_tp *tp, struct pony_stream *s, unsigned q, bool want)
{
	struct pony_flow *f = &tp->flows[s->flow];
	if (want)
		push_tail(tp, f, s, s->sid & PONY_SID_IDX_MASK, q);
	else
		txq_unlink(tp, f, s, q);
	s->in_txq[q] = want;
}

void pony_txq_rotate(struct pony_tp *tp, struct pony_stream *s, unsigned q)
{
	struct pony_flow *f = &tp->flows[s->flow];
	if (!s->in_txq[q] || f->txq_tail[q] == (s->sid & PONY_SID_IDX_MASK))
		return;
	txq_unlink(tp, f, s, q);
	push_tail(tp, f, s, s->sid & PONY_SID_IDX_MASK, q);
}

void pony_txq_rebuild(struct pony_tp *tp)
{
	for (uint32_t fi = 0; fi < tp->cfg.max_flows; fi++) {
		pony_txq_flow_init(&tp->flows[fi]);
		tp->flows[fi].n_ready = tp->flows[fi].n_ctrl = 0;
	}
	for (uint32_t si = 0; si < tp->cfg.max_streams; si++) {
		struct pony_stream *s = &tp->streams[si];
		for (unsigned q = 0; q < PONY_TXQ_N; q++) {
			s->in_txq[q] = false;
			s->txq_next[q] = s->txq_prev[q] = PONY_NONE;
		}
		if (s->state == PONY_S_FREE)
			continue;
		struct pony_flow *f = &tp->flows[s->flow];
		f->n_ready += s->ready;
		f->n_ctrl += s->ctrl != 0;
		pony_txq_set(tp, s, PONY_TXQ_CTRL, s->ctrl != 0);
		pony_txq_set(tp, s, PONY_TXQ_DATA, s->ready);
	}
}
