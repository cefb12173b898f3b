/* One-sided ops, transport glue: the op table (requester side), per-flow queues of ops to
 * pack and of responses to send, the packet buffer pool that keeps every one-sided packet's
 * payload until it is acked (retransmissions resend the same bytes: a WRITE's data as first
 * copied, a READ's result as first executed), and dispatch of received OS_REQ / OS_RESP.
 * Pools are allocated once at pony_tp_os_attach; per op nothing is allocated. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pony/internal.h"
#include "pony/onesided.h"
#include "pony/pmtu.h"
#include "pony/save.h"
#include "snap/numa.h"

#include "pony/onesided_int.h"

int pony_tp_os_attach(struct pony_tp *tp, const struct pony_os_hooks *h, void *ctx)
{
	struct pony_os *os = tp->os;
	if (os == NULL) {
		int so = tp->cfg.socket_id;
		os = snap_numa_calloc("pony_os", 1, sizeof(*os), so);
		if (os == NULL)
			return -ENOMEM;
		os->buf_size = tp->seg_max;
		os->n_flows = tp->cfg.max_flows;
		os->ops = snap_numa_calloc("pony_os_ops", OS_OPS, sizeof(*os->ops), so);
		os->flows = snap_numa_calloc("pony_os_flows", tp->cfg.max_flows,
					     sizeof(*os->flows), so);
		os->bufs = snap_numa_calloc("pony_os_bufs", OS_BUFS, sizeof(*os->bufs), so);
		os->data = snap_numa_calloc("pony_os_data", OS_BUFS, os->buf_size, so);
		if (!os->ops || !os->flows || !os->bufs || !os->data) {
			snap_numa_free(os->ops);
			snap_numa_free(os->flows);
			snap_numa_free(os->bufs);
			snap_numa_free(os->data);
			snap_numa_free(os);
			return -ENOMEM;
		}
		for (uint32_t i = 0; i < OS_OPS; i++)
			os->ops[i].next = i + 1 < OS_OPS ? i + 1 : PONY_NONE;
		for (uint32_t i = 0; i < OS_BUFS; i++)
			os->bufs[i].next = i + 1 < OS_BUFS ? i + 1 : PONY_NONE;
		for (uint32_t i = 0; i < tp->cfg.max_flows; i++)
			os->flows[i] = (struct os_flow){PONY_NONE, PONY_NONE, PONY_NONE, PONY_NONE, 0, 0};
		os->n_free = OS_BUFS;
		os->gen = pony_tp_rand(tp); /* descs restored from another process do not match */
		uint32_t room = os->buf_size - PONY_OS_REQ_HDR;
		os->data_max = room < PONY_OS_DATA_MAX ? room : PONY_OS_DATA_MAX;
		tp->os = os;
	}
	os->attached = h != NULL;
	if (h)
		os->hooks = *h;
	else
		memset(&os->hooks, 0, sizeof(os->hooks));
	os->ctx = ctx;
	return 0;
}

void pony_os_destroy(struct pony_tp *tp)
{
	struct pony_os *os = tp->os;
	if (os == NULL)
		return;
	snap_numa_free(os->ops);
	snap_numa_free(os->flows);
	snap_numa_free(os->bufs);
	snap_numa_free(os->data);
	snap_numa_free(os);
	tp->os = NULL;
}

void pony_tp_os_stats(const struct pony_tp *tp, struct pony_os_stats *st)
{
	if (tp->os)
		*st = tp->os->st;
	else
		memset(st, 0, sizeof(*st));
}

void pony_tp_os_report(const struct pony_tp *tp,
		       void (*fn)(void *ctx, const char *name, uint64_t value), void *ctx)
{
	struct pony_os_stats s;
	pony_tp_os_stats(tp, &s);
#define R(x) fn(ctx, "os_" #x, s.x)
	R(submitted); R(completed); R(failed); R(req_pkts_tx); R(resp_pkts_tx); R(req_pkts_rx);
	R(resp_pkts_rx); R(executed); R(bytes_read); R(bytes_written); R(malformed);
	R(stray_resp); R(no_buf); R(resp_budget);
#undef R
	static const char *const names[] = {
#define PONY_OS_X_STAT(e, s_, errno_) "os_st_" s_,
		PONY_OS_STATUSES(PONY_OS_X_STAT)
#undef PONY_OS_X_STAT
	};
	for (unsigned i = 0; i < PONY_OS_ST_COUNTED; i++)
		fn(ctx, names[i], s.status[i]);
}

static uint32_t buf_get(struct pony_os *os, uint32_t reserve)
{
	if (os->n_free <= reserve)
		return PONY_NONE;
	uint32_t b = os->buf_free;
	os->buf_free = os->bufs[b].next;
	os->n_free--;
	os->bufs[b].used = true;
	os->bufs[b].next = PONY_NONE;
	os->bufs[b].type = 0;
	os->bufs[b].flow = PONY_NONE;
	os->bufs[b].gen = ++os->gen;
	return b;
}

/* A response buffer charged to flow slot fi, or PONY_NONE (counted): pool empty or the flow
 * at its budget. */
static uint32_t resp_buf_get(struct pony_os *os, uint32_t fi)
{
	if (os->flows[fi].n_resp >= OS_RESP_PER_FLOW) {
		os->st.resp_budget++;
		return PONY_NONE;
	}
	uint32_t b = buf_get(os, 0);
	if (b == PONY_NONE) {
		os->st.no_buf++;
		return PONY_NONE;
	}
	os->bufs[b].type = PONY_T_OS_RESP;
	os->bufs[b].flow = fi;
	os->flows[fi].n_resp++;
	return b;
}

static void buf_put(struct pony_os *os, uint32_t b)
{
	if (os->bufs[b].type == PONY_T_OS_RESP && os->bufs[b].flow < os->n_flows)
		os->flows[os->bufs[b].flow].n_resp--;
	os->bufs[b].used = false;
	os->bufs[b].next = os->buf_free;
	os->buf_free = b;
	os->n_free++;
}

int pony_tp_os_submit(struct pony_tp *tp, const struct pony_ip *peer, uint16_t peer_port,
		      const struct pony_os_op *op, void *owner, uint64_t cookie)
{
	struct pony_os *os = tp->os;
	if (os == NULL || !os->attached)
		return -ENODEV;
	uint16_t args = pony_os_atomic_args(op->opcode);
	if (op->opcode == 0 || op->opcode >= PONY_OS_OPCODE_MAX || op->len == 0 ||
	    (op->flags & ~(op->opcode == PONY_OS_READ_INDIRECT ? PONY_OS_F_PTR : 0u)) ||
	    (op->opcode == PONY_OS_SCAN_READ
		     ? op->key_len == 0 || op->key_len > PONY_OS_KEY_MAX || op->key_data == NULL
	     : args ? op->key_len != args || op->key_data == NULL || op->len != PONY_OS_ATOMIC_LEN
	     : op->opcode == PONY_OS_BPF
		     ? op->key_len != 0 || op->len < 8 || op->len > PONY_OS_BPF_OUT_MAX ||
			       op->off < 2 || op->off > PONY_OS_BPF_IN_MAX
		     : op->key_len != 0) ||
	    op->buf == NULL)
		return -EINVAL;
	if (op->len > os->data_max)
		return -EMSGSIZE;
	struct pony_ip ours;
	if (!pony_tp_local_addr(tp, peer, &ours))
		return -EAFNOSUPPORT;
	if (os->op_free == PONY_NONE)
		return -ENOBUFS;
	struct pony_flow *f = pony_flow_get_or_open(tp, peer, peer_port ? peer_port
								      : tp->cfg.local_port);
	if (f == NULL)
		return -EHOSTUNREACH;
	uint32_t i = os->op_free;
	struct os_op *o = &os->ops[i];
	os->op_free = o->next;
	o->state = OS_OP_QUEUED;
	o->gen++;
	o->opcode = op->opcode;
	o->flags = op->flags;
	o->key_len = op->key_len;
	if (op->key_len)
		memcpy(o->key, op->key_data, op->key_len);
	o->flow = (uint32_t)(f - tp->flows);
	o->flow_id = f->local_id;
	o->region = op->region;
	o->len = op->len;
	o->rkey = op->rkey;
	o->off = op->off;
	o->buf = op->buf;
	o->owner = owner;
	o->cookie = cookie;
	o->next = PONY_NONE;
	struct os_flow *of = &os->flows[o->flow];
	if (of->q_tail == PONY_NONE)
		of->q_head = i;
	else
		os->ops[of->q_tail].next = i;
	of->q_tail = i;
	of->n_ops++;
	os->st.submitted++;
	return 0;
}

bool pony_os_busy(const struct pony_tp *tp, const struct pony_flow *f)
{
	const struct pony_os *os = tp->os;
	if (os == NULL)
		return false;
	const struct os_flow *of = &os->flows[f - tp->flows];
	return of->n_ops || of->r_head != PONY_NONE;
}

bool pony_os_pending(const struct pony_tp *tp, const struct pony_flow *f)
{
	const struct pony_os *os = tp->os;
	if (os == NULL)
		return false;
	const struct os_flow *of = &os->flows[f - tp->flows];
	return of->r_head != PONY_NONE || (of->q_head != PONY_NONE && os->n_free > OS_BUF_RESERVE);
}

/* Bytes an op's request record takes. */
static uint32_t req_size(const struct os_op *o)
{
	return PONY_OS_REQ_HDR + (o->opcode == PONY_OS_WRITE ? o->len
				  : o->opcode == PONY_OS_BPF ? (uint32_t)o->off /* its data length */
							     : o->key_len);
}

__attribute__((noinline)) static bool os_next(struct pony_tp *tp, struct pony_flow *f,
					    struct pony_txdesc *d);

bool pony_os_next(struct pony_tp *tp, struct pony_flow *f, struct pony_txdesc *d)
{
	/* The common answer (nothing one-sided queued) without os_next's frame: this runs
	 * before every new packet a flow sends. */
	const struct pony_os *os = tp->os;
	if (os == NULL)
		return false;
	const struct os_flow *of = &os->flows[f - tp->flows];
	if (of->r_head == PONY_NONE && of->q_head == PONY_NONE)
		return false;
	return os_next(tp, f, d);
}

__attribute__((noinline)) static bool os_next(struct pony_tp *tp, struct pony_flow *f,
					    struct pony_txdesc *d)
{
	struct pony_os *os = tp->os;
	struct os_flow *of = &os->flows[f - tp->flows];
	uint32_t b;
	if (of->r_head != PONY_NONE) {
		b = of->r_head;
		of->r_head = os->bufs[b].next;
		if (of->r_head == PONY_NONE)
			of->r_tail = PONY_NONE;
		os->st.resp_pkts_tx++;
	} else if (of->q_head != PONY_NONE && (b = buf_get(os, OS_BUF_RESERVE)) != PONY_NONE) {
		/* Pack queued ops while both the request and its response fit one packet. */
		uint8_t *p = buf_data(os, b);
		uint32_t used = 0, rsp = 0, n = 0;
		/* Requests must fit the path and responses too: the flow's segment as probed
		 * (pony/pmtu.h). The responder answers within the agreed segment, which is
		 * never smaller, so a request packed here always fits its answer. */
		uint32_t room = RTE_MIN(os->buf_size, pony_pmtu_seg(tp, f));
		while (of->q_head != PONY_NONE && n < PONY_OS_BATCH_MAX) {
			uint32_t i = of->q_head;
			struct os_op *o = &os->ops[i];
			if (used + req_size(o) > room ||
			    rsp + pony_os_resp_worst(o->opcode, o->len) > room)
				break;
			struct pony_os_rec r = {
				.opcode = o->opcode, .flags = o->flags, .op_id = (uint32_t)o->gen << 16 | i,
				.region = o->region, .len = o->len, .key = o->rkey, .off = o->off,
			};
			if (o->opcode == PONY_OS_WRITE) {
				r.data_len = (uint16_t)o->len;
				r.data = o->buf;
			} else if (o->opcode == PONY_OS_BPF) { /* name and args, in buf */
				r.data_len = (uint16_t)o->off;
				r.data = o->buf;
				r.off = 0;
			} else if (o->key_len) { /* a scan's key, an atomic's operands */
				r.data_len = o->key_len;
				r.data = o->key;
			}
			used += (uint32_t)pony_os_put_req(p + used, &r);
			rsp += pony_os_resp_worst(o->opcode, o->len);
			n++;
			of->q_head = o->next;
			o->next = PONY_NONE;
			o->state = OS_OP_INFLIGHT;
		}
		if (of->q_head == PONY_NONE)
			of->q_tail = PONY_NONE;
		os->bufs[b].type = PONY_T_OS_REQ;
		os->bufs[b].len = (uint16_t)used;
		os->bufs[b].nrec = (uint16_t)n;
		os->st.req_pkts_tx++;
	} else {
		return false;
	}
	memset(d, 0, sizeof(*d));
	d->type = os->bufs[b].type;
	d->stream = b;
	d->len = os->bufs[b].len;
	d->aux = os->bufs[b].nrec;
	d->msg_id = os->bufs[b].gen;
	return true;
}

const uint8_t *pony_os_payload(struct pony_tp *tp, const struct pony_txdesc *d)
{
	struct pony_os *os = tp->os;
	if (os == NULL || d->stream >= OS_BUFS || !os->bufs[d->stream].used ||
	    os->bufs[d->stream].type != d->type || os->bufs[d->stream].len != d->len ||
	    os->bufs[d->stream].gen != d->msg_id)
		return NULL; /* stale desc: its buffer was freed (flow gone) or reused */
	return buf_data(os, d->stream);
}

void pony_os_delivered(struct pony_tp *tp, struct pony_txdesc *d)
{
	struct pony_os *os = tp->os;
	if (os != NULL && d->stream < OS_BUFS && os->bufs[d->stream].used &&
	    os->bufs[d->stream].gen == d->msg_id)
		buf_put(os, d->stream);
	d->stream = PONY_NONE;
}

static void op_finish(struct pony_os *os, uint32_t i, int status, uint32_t len)
{
	struct os_op *o = &os->ops[i];
	void *owner = o->owner;
	uint64_t cookie = o->cookie;
	o->state = OS_OP_FREE;
	os->flows[o->flow].n_ops--;
	o->next = os->op_free;
	os->op_free = i;
	os->st.completed++;
	if (os->hooks.done)
		os->hooks.done(owner, cookie, status, len);
}

static int rx_req(struct pony_tp *tp, struct pony_os *os, struct pony_flow *f,
		  const struct pony_hdr *h, const uint8_t *p)
{
	struct pony_os_rec rec[PONY_OS_BATCH_MAX];
	int n = pony_os_parse_req(p, h->payload_len, h->aux, rec, PONY_OS_BATCH_MAX);
	if (n < 0) {
		os->st.malformed++;
		return 0; /* consumed: a broken requester only loses its own ops */
	}
	uint32_t b = resp_buf_get(os, (uint32_t)(f - tp->flows));
	if (b == PONY_NONE)
		return -EAGAIN; /* not marked received: executed when it comes again */
	int used = pony_os_answer(rec, (unsigned)n, os->attached ? os->hooks.resolve : NULL,
				  os->ctx, buf_data(os, b), RTE_MIN(os->buf_size, f->seg_max),
				  &os->st);
	if (used < 0) { /* more records than one response packet can answer */
		buf_put(os, b);
		os->st.malformed++;
		return 0;
	}
	os->st.req_pkts_rx++;
	os->bufs[b].type = PONY_T_OS_RESP;
	os->bufs[b].len = (uint16_t)used;
	os->bufs[b].nrec = (uint16_t)n;
	struct os_flow *of = &os->flows[f - tp->flows];
	if (of->r_tail == PONY_NONE)
		of->r_head = b;
	else
		os->bufs[of->r_tail].next = b;
	of->r_tail = b;
	return 0;
}

static void rx_resp(struct pony_tp *tp, struct pony_os *os, struct pony_flow *f,
		    const struct pony_hdr *h, const uint8_t *p)
{
	struct pony_os_resp rs[PONY_OS_BATCH_MAX];
	int n = pony_os_parse_resp(p, h->payload_len, h->aux, rs, PONY_OS_BATCH_MAX);
	if (n < 0) {
		os->st.malformed++;
		return;
	}
	os->st.resp_pkts_rx++;
	uint32_t fi = (uint32_t)(f - tp->flows);
	for (int k = 0; k < n; k++) {
		const struct pony_os_resp *r = &rs[k];
		uint32_t i = r->op_id & 0xffffu;
		struct os_op *o = &os->ops[i < OS_OPS ? i : 0];
		if (i >= OS_OPS || o->state != OS_OP_INFLIGHT || o->gen != (uint16_t)(r->op_id >> 16) ||
		    o->flow != fi || o->flow_id != f->local_id) {
			os->st.stray_resp++;
			continue;
		}
		int status = pony_os_status_errno(r->status);
		uint32_t len = r->len;
		bool reads = o->opcode != PONY_OS_WRITE;
		if (status == 0 && (reads ? r->data_len != r->len || r->len > o->len
					  : r->data_len != 0 || r->len != o->len)) {
			status = -EPROTO; /* the peer broke the format: nothing copied */
			len = 0;
		} else if (status == 0 && reads) {
			memcpy(o->buf, r->data, r->data_len);
		} else if (status != 0 && status != -EMSGSIZE) {
			len = 0;
		}
		op_finish(os, i, status, len);
		if (f->state != PONY_F_ESTABLISHED || tp->os != os)
			return; /* an upcall tore things down */
	}
}

int pony_os_rx(struct pony_tp *tp, struct pony_flow *f, const struct pony_hdr *h,
	       struct rte_mbuf *m, uint32_t hl)
{
	struct pony_os *os = tp->os;
	if (os == NULL)
		return 0; /* one-sided ops never attached here: requesters' ops time out */
	const uint8_t *p = rte_pktmbuf_mtod_offset(m, const uint8_t *, hl);
	if (h->type == PONY_T_OS_REQ)
		return rx_req(tp, os, f, h, p);
	rx_resp(tp, os, f, h, p);
	return 0;
}

void pony_os_flow_gone(struct pony_tp *tp, struct pony_flow *f, int err)
{
	struct pony_os *os = tp->os;
	if (os == NULL)
		return;
	uint32_t fi = (uint32_t)(f - tp->flows);
	struct os_flow *of = &os->flows[fi];
	for (uint32_t b = of->r_head; b != PONY_NONE;) {
		uint32_t nx = os->bufs[b].next;
		buf_put(os, b);
		b = nx;
	}
	of->r_head = of->r_tail = of->q_head = of->q_tail = PONY_NONE;
	/* n_ops drops to 0 as op_finish fails them below */
	for (uint32_t k = 0; k < tp->cfg.window; k++) {
		struct pony_txdesc *d = &tp->descs[(size_t)fi * tp->cfg.window + k];
		if (pony_os_type(d->type) && d->stream != PONY_NONE)
			pony_os_delivered(tp, d);
	}
	for (uint32_t i = 0; i < OS_OPS; i++) {
		struct os_op *o = &os->ops[i];
		if (o->state != OS_OP_FREE && o->flow == fi) {
			os->st.failed++;
			op_finish(os, i, err, 0);
		}
	}
}

