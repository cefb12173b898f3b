/* Save/restore of a transport's one-sided state (pony/save.c calls these for transparent
 * upgrade): ops in flight, per-flow queues, packet buffers with their bytes and generations,
 * stats. Two layouts, following the transport blob's version: its 3 (release 0.1.0) dumps
 * the structs with their sizes; its 4 writes self-describing tables (snap/saverec.h). Both
 * end with the bytes of the buffers in use: (u32 index, bytes) each. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pony/internal.h"
#include "pony/onesided_int.h"
#include "pony/save.h"
#include "pony/save_int.h"
#include "snap/log.h"

/* Version 3's header. */
struct os_save_hdr {
	uint32_t sz_op, sz_flow, sz_buf, sz_stats;
	uint32_t n_ops, n_bufs, n_flows, buf_size;
	uint32_t op_free, buf_free, n_free, gen, n_used;
	uint32_t pad;
	struct pony_os_stats st;
};
_Static_assert(sizeof(struct os_op) == 96 && sizeof(struct os_flow) == 24 &&
	       sizeof(struct os_buf) == 20 && sizeof(struct pony_os_stats) == 216,
	       "one-sided layout differs from release 0.1.0's: see pony/save.c");

/* Version 4's scalars (one record). */
struct os_save_scalars {
	uint32_t n_ops, n_bufs, n_flows, buf_size;
	uint32_t op_free, buf_free, n_free, gen, n_used;
};

#define SC(m) SNAP_REC_F(struct os_save_scalars, UINT, m)
static const struct snap_rec_field scalar_fields[] = {
	SC(n_ops), SC(n_bufs), SC(n_flows), SC(buf_size), SC(op_free), SC(buf_free),
	SC(n_free), SC(gen), SC(n_used),
};
#define OP(kind, m) SNAP_REC_F(struct os_op, kind, m)
static const struct snap_rec_field op_fields[] = {
	OP(UINT, state), OP(UINT, opcode), OP(UINT, flags), OP(UINT, key_len), OP(UINT, gen),
	OP(UINT, flow), OP(UINT, flow_id), OP(UINT, region), OP(UINT, len), OP(UINT, rkey),
	OP(UINT, off), OP(BYTES, key), OP(PTR, buf), OP(PTR, owner), OP(UINT, cookie),
	OP(UINT, next),
};
#define FL(m) SNAP_REC_F(struct os_flow, UINT, m)
static const struct snap_rec_field flow_fields[] = {
	FL(q_head), FL(q_tail), FL(r_head), FL(r_tail), FL(n_ops), FL(n_resp),
};
#define BF(m) SNAP_REC_F(struct os_buf, UINT, m)
static const struct snap_rec_field buf_fields[] = {
	BF(used), BF(type), BF(len), BF(nrec), BF(next), BF(flow), BF(gen),
};
#define ST(kind, m) SNAP_REC_F(struct pony_os_stats, kind, m)
static const struct snap_rec_field stats_fields[] = {
	ST(UINT, submitted), ST(UINT, completed), ST(UINT, req_pkts_tx), ST(UINT, resp_pkts_tx),
	ST(UINT, req_pkts_rx), ST(UINT, resp_pkts_rx), ST(UINT, executed), ST(BYTES, status),
	ST(UINT, bytes_read), ST(UINT, bytes_written), ST(UINT, malformed), ST(UINT, stray_resp),
	ST(UINT, no_buf), ST(UINT, resp_budget), ST(UINT, failed),
};
SNAP_REC_SCHEMA(pony_schema_os, "pony.os", struct os_save_scalars, scalar_fields);
SNAP_REC_SCHEMA(pony_schema_os_op, "pony.os_op", struct os_op, op_fields);
SNAP_REC_SCHEMA(pony_schema_os_flow, "pony.os_flow", struct os_flow, flow_fields);
SNAP_REC_SCHEMA(pony_schema_os_buf, "pony.os_buf", struct os_buf, buf_fields);
SNAP_REC_SCHEMA(pony_schema_os_stats, "pony.os_stats", struct pony_os_stats, stats_fields);

/* The bytes of buffers in use: request packets not yet acked (a WRITE's data as first
 * copied) and responses kept until acked (a READ's result as executed). */
static void save_bytes(const struct pony_os *os, struct snap_sbuf *out)
{
	for (uint32_t b = 0; b < OS_BUFS; b++) {
		if (!os->bufs[b].used)
			continue;
		snap_sbuf_put(out, &b, sizeof(b));
		snap_sbuf_put(out, buf_data((struct pony_os *)os, b), os->bufs[b].len);
	}
}

int pony_os_save(const struct pony_tp *tp, struct snap_sbuf *out, uint32_t tp_version)
{
	const struct pony_os *os = tp->os;
	if (os == NULL)
		return out->err;
	if (tp_version == PONY_TP_SAVE_V_RAW) {
		struct os_save_hdr h = {
			.sz_op = sizeof(struct os_op), .sz_flow = sizeof(struct os_flow),
			.sz_buf = sizeof(struct os_buf), .sz_stats = sizeof(struct pony_os_stats),
			.n_ops = OS_OPS, .n_bufs = OS_BUFS, .n_flows = tp->cfg.max_flows,
			.buf_size = os->buf_size, .op_free = os->op_free, .buf_free = os->buf_free,
			.n_free = os->n_free, .gen = os->gen, .n_used = OS_BUFS - os->n_free,
			.st = os->st,
		};
		snap_sbuf_put(out, &h, sizeof(h));
		snap_sbuf_put(out, os->ops, OS_OPS * sizeof(*os->ops));
		snap_sbuf_put(out, os->flows, tp->cfg.max_flows * sizeof(*os->flows));
		snap_sbuf_put(out, os->bufs, OS_BUFS * sizeof(*os->bufs));
	} else {
		struct os_save_scalars sc = {
			.n_ops = OS_OPS, .n_bufs = OS_BUFS, .n_flows = tp->cfg.max_flows,
			.buf_size = os->buf_size, .op_free = os->op_free, .buf_free = os->buf_free,
			.n_free = os->n_free, .gen = os->gen, .n_used = OS_BUFS - os->n_free};
		char err[160];
#define PUT(schema, recs, n) snap_rec_put(out, &(schema), (recs), (n), (schema).size, NULL, err, sizeof(err))
		PUT(pony_schema_os, &sc, 1);
		PUT(pony_schema_os_stats, &os->st, 1);
		PUT(pony_schema_os_op, os->ops, OS_OPS);
		PUT(pony_schema_os_flow, os->flows, tp->cfg.max_flows);
		PUT(pony_schema_os_buf, os->bufs, OS_BUFS);
#undef PUT
	}
	save_bytes(os, out);
	return out->err;
}

static bool idx_ok(uint32_t i, uint32_t n)
{
	return i == PONY_NONE || i < n;
}

/* A saved one-sided section in this build's layout, whichever version it came in. */
struct os_image {
	struct os_save_scalars sc;
	struct pony_os_stats st;
	const void *ops, *flows, *bufs; /* version 3: in the blob; 4: decoded copies */
	void *owned[3];
	const uint8_t *bytes, *end;     /* the buffers' bytes */
};

static int read_raw(const struct pony_tp *tp, const uint8_t *p, const uint8_t *end,
		    struct os_image *im)
{
	struct os_save_hdr h;
	if ((size_t)(end - p) < sizeof(h))
		return -EINVAL;
	memcpy(&h, p, sizeof(h));
	p += sizeof(h);
	if (h.sz_op != sizeof(struct os_op) || h.sz_flow != sizeof(struct os_flow) ||
	    h.sz_buf != sizeof(struct os_buf) || h.sz_stats != sizeof(struct pony_os_stats))
		return -EPROTO;
	im->sc = (struct os_save_scalars){h.n_ops, h.n_bufs, h.n_flows, h.buf_size, h.op_free,
					  h.buf_free, h.n_free, h.gen, h.n_used};
	im->st = h.st;
	size_t nf = tp->cfg.max_flows;
	if (h.n_ops != OS_OPS || h.n_bufs != OS_BUFS || h.n_flows != nf)
		return -EINVAL;
	size_t fixed = OS_OPS * sizeof(struct os_op) + nf * sizeof(struct os_flow) +
		       OS_BUFS * sizeof(struct os_buf);
	if ((size_t)(end - p) < fixed)
		return -EINVAL;
	im->ops = p;
	im->flows = p + OS_OPS * sizeof(struct os_op);
	im->bufs = (const uint8_t *)im->flows + nf * sizeof(struct os_flow);
	im->bytes = p + fixed;
	im->end = end;
	return 0;
}

static int get(const uint8_t **p, size_t *left, const struct snap_rec_schema *s, void *recs,
	       size_t n)
{
	char err[160];
	int r = snap_rec_get(p, left, s, recs, n, s->size, err, sizeof(err));
	if (r) {
		SNAP_LOG(ERR, "pony restore: %s", err);
		return r == -EPROTO || r == -ENOMEM ? r : -EINVAL;
	}
	return 0;
}

static int read_tables(const struct pony_tp *tp, const uint8_t *p, const uint8_t *end,
		       struct os_image *im)
{
	size_t left = (size_t)(end - p), nf = tp->cfg.max_flows;
	int r = get(&p, &left, &pony_schema_os, &im->sc, 1);
	if (r == 0 && (im->sc.n_ops != OS_OPS || im->sc.n_bufs != OS_BUFS || im->sc.n_flows != nf))
		return -EINVAL;
	if (r == 0)
		r = get(&p, &left, &pony_schema_os_stats, &im->st, 1);
	const struct snap_rec_schema *tabs[3] = {&pony_schema_os_op, &pony_schema_os_flow,
						 &pony_schema_os_buf};
	size_t counts[3] = {OS_OPS, nf, OS_BUFS};
	for (unsigned t = 0; t < 3 && r == 0; t++) {
		im->owned[t] = calloc(counts[t] ? counts[t] : 1, tabs[t]->size);
		r = im->owned[t] ? get(&p, &left, tabs[t], im->owned[t], counts[t]) : -ENOMEM;
	}
	im->ops = im->owned[0];
	im->flows = im->owned[1];
	im->bufs = im->owned[2];
	im->bytes = p;
	im->end = end;
	return r;
}

/* Indices must stay inside the tables (the blob comes from our own older process, but a
 * damaged one must not send the engine out of bounds). memcpy'd copies: the blob may be
 * unaligned. */
static int check(const struct pony_tp *tp, const struct os_image *im)
{
	const struct os_save_scalars *h = &im->sc;
	size_t nf = tp->cfg.max_flows;
	if (h->buf_size != tp->seg_max || h->n_used > OS_BUFS || h->n_free != OS_BUFS - h->n_used ||
	    !idx_ok(h->op_free, OS_OPS) || !idx_ok(h->buf_free, OS_BUFS))
		return -EINVAL;
	const struct os_op *ops = im->ops;
	const struct os_flow *flows = im->flows;
	const struct os_buf *bufs = im->bufs;
	uint32_t used = 0;
	for (uint32_t i = 0; i < OS_OPS; i++) {
		struct os_op o;
		memcpy(&o, &ops[i], sizeof(o));
		if (!idx_ok(o.next, OS_OPS) || o.state > OS_OP_INFLIGHT ||
		    (o.state != OS_OP_FREE && (o.flow >= nf || o.len > PONY_OS_DATA_MAX ||
					       o.key_len > PONY_OS_KEY_MAX ||
					       (o.opcode == PONY_OS_BPF &&
						o.off > PONY_OS_BPF_IN_MAX))))
			return -EINVAL;
	}
	for (size_t i = 0; i < nf; i++) {
		struct os_flow f;
		memcpy(&f, &flows[i], sizeof(f));
		if (!idx_ok(f.q_head, OS_OPS) || !idx_ok(f.q_tail, OS_OPS) ||
		    !idx_ok(f.r_head, OS_BUFS) || !idx_ok(f.r_tail, OS_BUFS) || f.n_ops > OS_OPS ||
		    f.n_resp > OS_RESP_PER_FLOW)
			return -EINVAL;
	}
	for (uint32_t b = 0; b < OS_BUFS; b++) {
		struct os_buf ob;
		memcpy(&ob, &bufs[b], sizeof(ob));
		if (!idx_ok(ob.next, OS_BUFS) || ob.len > h->buf_size ||
		    !pony_saved_bool_ok(&ob.used) ||
		    (ob.used && ob.type == PONY_T_OS_RESP && ob.flow >= nf))
			return -EINVAL;
		used += ob.used;
	}
	if (used != h->n_used)
		return -EINVAL;
	const uint8_t *q = im->bytes, *end = im->end;
	for (uint32_t k = 0; k < h->n_used; k++) {
		uint32_t b;
		struct os_buf ob;
		if ((size_t)(end - q) < sizeof(b))
			return -EINVAL;
		memcpy(&b, q, sizeof(b));
		q += sizeof(b);
		if (b >= OS_BUFS)
			return -EINVAL;
		memcpy(&ob, &bufs[b], sizeof(ob));
		if (!ob.used || (size_t)(end - q) < ob.len)
			return -EINVAL;
		q += ob.len;
	}
	return q == end ? 0 : -EINVAL;
}

static int apply(struct pony_tp *tp, const struct os_image *im,
		 const struct pony_tp_rebind *rb)
{
	/* Pools of this process (hooks as the new user attached them, or none yet). */
	if (tp->os == NULL) {
		int r = pony_tp_os_attach(tp, NULL, NULL);
		if (r)
			return r;
	}
	struct pony_os *os = tp->os;
	size_t nf = tp->cfg.max_flows;
	memcpy(os->ops, im->ops, OS_OPS * sizeof(*os->ops));
	memcpy(os->flows, im->flows, nf * sizeof(*os->flows));
	memcpy(os->bufs, im->bufs, OS_BUFS * sizeof(*os->bufs));
	os->op_free = im->sc.op_free;
	os->buf_free = im->sc.buf_free;
	os->n_free = im->sc.n_free;
	os->gen = im->sc.gen; /* the restored descs carry the saved buffer generations */
	os->st = im->st;
	const uint8_t *q = im->bytes;
	for (uint32_t k = 0; k < im->sc.n_used; k++) {
		uint32_t b;
		memcpy(&b, q, sizeof(b));
		q += sizeof(b);
		memcpy(buf_data(os, b), q, os->bufs[b].len);
		q += os->bufs[b].len;
	}
	/* Completion targets are the user's pointers: its owner and its buffer (a READ's
	 * destination, a WRITE's source not yet packed). */
	for (uint32_t i = 0; rb && i < OS_OPS; i++) {
		struct os_op *o = &os->ops[i];
		if (o->state == OS_OP_FREE)
			continue;
		if (rb->os_owner)
			o->owner = rb->os_owner(rb->ctx, o->cookie, o->owner);
		if (rb->os_buf)
			o->buf = rb->os_buf(rb->ctx, o->cookie, o->buf);
	}
	return 0;
}

int pony_os_restore(struct pony_tp *tp, const void *data, size_t len, uint32_t tp_version,
		    const struct pony_tp_rebind *rb, bool apply_it)
{
	struct os_image im = {0};
	const uint8_t *p = data, *end = p + len;
	int r = tp_version == PONY_TP_SAVE_V_RAW ? read_raw(tp, p, end, &im)
		: tp_version == PONY_TP_SAVE_V_TABLES ? read_tables(tp, p, end, &im)
						       : -EPROTO;
	if (r == 0)
		r = check(tp, &im);
	if (r == 0 && apply_it)
		r = apply(tp, &im, rb);
	for (unsigned t = 0; t < 3; t++)
		free(im.owned[t]);
	return r;
}
