/* A flow's transmit queues of streams (see txq.h): intrusive doubly linked FIFOs through
 * the stream table, so insert, remove and rotate are O(1). The control FIFO's ends live in
 * the flow (txq_head/tail[0]); the data FIFOs', one per class, in its struct pony_qflow
 * (the flow's txq_head/tail[1] stay PONY_NONE, kept for the saved layout); a stream uses
 * its [1] links for whichever class FIFO it is in (tp->scls says which). */
#include "pony/txq.h"

void pony_txq_flow_init(struct pony_tp *tp, struct pony_flow *f)
{
	for (unsigned q = 0; q < PONY_TXQ_N; q++)
		f->txq_head[q] = f->txq_tail[q] = PONY_NONE;
	struct pony_qflow *qf = &tp->qflows[f - tp->flows];
	*qf = (struct pony_qflow){0};
	for (unsigned c = 0; c < PONY_QOS_N; c++)
		qf->head[c] = qf->tail[c] = PONY_NONE;
	pony_cc_init(&qf->cc_yield, &tp->ccp_yield, tp->cfg.cwnd_init);
}

uint32_t pony_txq_data_next(struct pony_tp *tp, struct pony_flow *f, unsigned allow)
{
	struct pony_qflow *qf = &tp->qflows[f - tp->flows];
	if ((tp->tx_classes & ~(1u << PONY_QOS_NORMAL)) == 0)
		return qf->head[PONY_QOS_NORMAL]; /* normal alone: nothing to weigh */
	unsigned ready = 0;
	for (unsigned c = 0; c < PONY_QOS_N; c++) {
		if (qf->head[c] == PONY_NONE)
			continue;
		if (allow & (1u << c))
			ready |= 1u << c;
		else
			tp->qos.cls[c].yielded++;
	}
	if (ready == 0)
		return PONY_NONE;
	return qf->head[pony_wrr_pick(&qf->wrr, tp->qos.prm.weight, ready)];
}

void pony_txq_rotate(struct pony_tp *tp, struct pony_stream *s, unsigned q)
{
	uint32_t idx = s->sid & PONY_SID_IDX_MASK;
	if (!s->in_txq[q])
		return;
	struct pony_txq_ends e = pony_txq_ends(tp, s, q, q == PONY_TXQ_DATA ? tp->scls[idx] : 0);
	if (*e.tail == idx && (q == PONY_TXQ_CTRL || tp->scls[idx] == pony_txq_next_cls(tp, s)))
		return;
	pony_txq_unlink(tp, e, s, q);
	pony_txq_push(tp, s, idx, q);
}

void pony_txq_rebuild(struct pony_tp *tp)
{
	for (uint32_t fi = 0; fi < tp->cfg.max_flows; fi++) {
		pony_txq_flow_init(tp, &tp->flows[fi]);
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
