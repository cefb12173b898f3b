/* A flow's transmit queues of streams (see txq.h): intrusive doubly linked FIFOs through
 * the stream table, so insert, remove and rotate are O(1). The control FIFO's ends live in
 * the flow (txq_head/tail[0]); the data FIFOs', one per class, in its struct pony_qflow
 * (the flow's txq_head/tail[1] stay PONY_NONE, kept for the saved layout); a stream uses
 * its [1] links for whichever class FIFO it is in (tp->scls says which). */
#include "pony/txq.h"

struct ends {
	uint32_t *head, *tail;
};

/* The ends of queue q (class cls for data) of s's flow (by index: no pointer division). */
static inline struct ends q_ends(struct pony_tp *tp, const struct pony_stream *s, unsigned q,
				 unsigned cls)
{
	if (q == PONY_TXQ_CTRL) {
		struct pony_flow *f = &tp->flows[s->flow];
		return (struct ends){&f->txq_head[q], &f->txq_tail[q]};
	}
	struct pony_qflow *qf = &tp->qflows[s->flow];
	return (struct ends){&qf->head[cls], &qf->tail[cls]};
}

/* Class of the stream's next message to segment (normal when it has none). */
static unsigned next_cls(struct pony_tp *tp, const struct pony_stream *s)
{
	if (s->tx_seg == s->tx_tail || (tp->tx_classes & ~(1u << PONY_QOS_NORMAL)) == 0)
		return PONY_QOS_NORMAL;
	return pony_qos_class(stream_qmsg(tp, s, s->tx_seg)->code);
}

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

static void push_tail(struct pony_tp *tp, struct ends e, struct pony_stream *s, uint32_t idx,
		      unsigned q)
{
	s->txq_prev[q] = *e.tail;
	s->txq_next[q] = PONY_NONE;
	if (*e.tail != PONY_NONE)
		tp->streams[*e.tail].txq_next[q] = idx;
	else
		*e.head = idx;
	*e.tail = idx;
}

static void txq_unlink(struct pony_tp *tp, struct ends e, struct pony_stream *s, unsigned q)
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

static inline void push(struct pony_tp *tp, struct pony_stream *s, uint32_t idx, unsigned q)
{
	unsigned cls = 0;
	if (q == PONY_TXQ_DATA)
		tp->scls[idx] = (uint8_t)(cls = next_cls(tp, s));
	push_tail(tp, q_ends(tp, s, q, cls), s, idx, q);
}

void pony_txq_change(struct pony_tp *tp, struct pony_stream *s, unsigned q, bool want)
{
	uint32_t idx = s->sid & PONY_SID_IDX_MASK;
	if (want)
		push(tp, s, idx, q);
	else
		txq_unlink(tp, q_ends(tp, s, q, tp->scls[idx]), s, q);
	s->in_txq[q] = want;
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
	struct ends e = q_ends(tp, s, q, q == PONY_TXQ_DATA ? tp->scls[idx] : 0);
	if (*e.tail == idx && (q == PONY_TXQ_CTRL || tp->scls[idx] == next_cls(tp, s)))
		return;
	txq_unlink(tp, e, s, q);
	push(tp, s, idx, q);
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
