/* Save/restore of a Pony transport's whole state (for transparent upgrade): flows, in-flight
 * descriptors, receive bitmaps, streams, send queues, and the bytes of held segments, in a
 * versioned blob. Records use indices, so they are copied as they are; the few pointers (app
 * buffers, upcall owners, listeners) are handed to the caller to translate. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snap/log.h"

#include "pony/flowtx.h"
#include "pony/txq.h"
#include "pony/internal.h"
#include "pony/pmtu.h"
#include "pony/save.h"
#include "pony/save_int.h"

#define SAVE_MAGIC 0x504f4e5953415645ull /* "PONYSAVE" */
/* Versions (pony/save_int.h): 2: one-sided state (pony_os_save) after the held segments;
 * 3 (release 0.1.0): the getrandom() key replaces the xorshift state, per-flow refusal queue
 * and ack-progress time, defence counters; stats gained auth_fail; 4: tables. */

/* Version 3's header: the structs' sizes and the scalars. */
struct save_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t sz_flow, sz_desc, sz_stream, sz_txmsg, sz_held, sz_stats, sz_listener;
	uint32_t max_flows, max_streams, window, sendq_max;
	uint32_t stream_free, n_held;
	uint64_t key[2], rand_ctr; /* cookies made before the upgrade stay valid after it */
	struct pony_tp_stats st;
	struct pony_listener listen[PONY_LISTEN_MAX];
};

#define save_held pony_save_held

static void save_os(const struct pony_tp *tp, struct snap_sbuf *out, uint32_t version);

/* Release 0.1.0 reads only version 3, checking these sizes: while they hold, pony elements
 * can be written for it (a roll-back) and read from it (state_write_min/read_min 1 in
 * pony/elem.c). A change here must raise those to 2 (release 0.1.0 is then refused before
 * any blackout) and update this check. */
_Static_assert(sizeof(struct pony_flow) == 432 && sizeof(struct pony_txdesc) == 48 &&
	       sizeof(struct pony_stream) == 128 && sizeof(struct pony_txmsg) == 32 &&
	       sizeof(struct pony_tp_stats) == 352 && sizeof(struct pony_listener) == 16 &&
	       sizeof(struct pony_save_held) == 24,
	       "transport layout differs from release 0.1.0's: see the comment above");

/* Version 3: the tables as they lie in memory. */
static int save_raw(const struct pony_tp *tp, struct snap_sbuf *out)
{
	const struct pony_tp_config *c = &tp->cfg;
	size_t nf = c->max_flows, w = c->window;
	/* Release 0.1.0 knows IPv4 peers only (peer_ip): refuse rather than lose a flow. */
	for (size_t i = 0; i < nf; i++)
		if (tp->flows[i].state != PONY_F_FREE && !pony_ip_is4(&tp->peers[i]))
			return -EPROTO;
	struct save_hdr h = {
		.magic = SAVE_MAGIC, .version = PONY_TP_SAVE_V_RAW,
		.sz_flow = sizeof(struct pony_flow), .sz_desc = sizeof(struct pony_txdesc),
		.sz_stream = sizeof(struct pony_stream), .sz_txmsg = sizeof(struct pony_txmsg),
		.sz_held = sizeof(struct save_held), .sz_stats = sizeof(struct pony_tp_stats),
		.sz_listener = sizeof(struct pony_listener),
		.max_flows = c->max_flows, .max_streams = c->max_streams, .window = c->window,
		.sendq_max = c->sendq_max, .stream_free = tp->stream_free,
		.key = {tp->key[0], tp->key[1]}, .rand_ctr = tp->rand_ctr,
		.st = tp->st};
	memcpy(h.listen, tp->listen, sizeof(h.listen));
	for (size_t i = 0; i < nf * w; i++)
		h.n_held += tp->held[i].m != NULL;
	snap_sbuf_put(out, &h, sizeof(h));
	snap_sbuf_put(out, tp->flows, nf * sizeof(*tp->flows));
	snap_sbuf_put(out, tp->descs, nf * w * sizeof(*tp->descs));
	snap_sbuf_put(out, tp->rxmaps, nf * w / 8);
	snap_sbuf_put(out, tp->streams, c->max_streams * sizeof(*tp->streams));
	snap_sbuf_put(out, tp->txmsgs, (size_t)c->max_streams * c->sendq_max * sizeof(*tp->txmsgs));
	for (size_t i = 0; i < nf * w; i++) {
		const struct pony_held *hd = &tp->held[i];
		if (hd->m == NULL)
			continue;
		struct save_held sh = {.idx = (uint32_t)i, .msg_id = hd->msg_id,
				       .msg_len = hd->msg_len, .offset = hd->offset,
				       .next = hd->next, .len = rte_pktmbuf_data_len(hd->m)};
		snap_sbuf_put(out, &sh, sizeof(sh));
		snap_sbuf_put(out, rte_pktmbuf_mtod(hd->m, void *), sh.len);
	}
	save_os(tp, out, PONY_TP_SAVE_V_RAW);
	return out->err;
}

/* Last in both versions: a flag, then (if attached) the one-sided section. */
static void save_os(const struct pony_tp *tp, struct snap_sbuf *out, uint32_t version)
{
	uint32_t has_os = tp->os != NULL;
	snap_sbuf_put(out, &has_os, sizeof(has_os));
	if (has_os)
		pony_os_save(tp, out, version);
}

/* Which records a version 4 blob carries: those of flows and streams in use, asked a flow
 * (its descriptors, its receive bitmap) or a stream (its send queue) at a time. The rest
 * read back as zero, which is what a free flow's (memset at allocation) and its descriptors
 * and receive bitmap are, and a free stream's send queue. Streams themselves are all
 * written: a free one keeps its sid generation and free-list link. */
static bool flow_used(size_t fi, void *ctx)
{
	const struct pony_tp *tp = ctx;
	return tp->flows[fi].state != PONY_F_FREE;
}

static bool stream_used(size_t si, void *ctx)
{
	const struct pony_tp *tp = ctx;
	return tp->streams[si].state != PONY_S_FREE;
}

/* Version 4: every table with its schema; held segments' bytes after their table. */
static int save_tables(const struct pony_tp *tp, struct snap_sbuf *out)
{
	const struct pony_tp_config *c = &tp->cfg;
	size_t nf = c->max_flows, w = c->window, nh = 0;
	struct {
		uint64_t magic;
		uint32_t version, pad;
	} h = {SAVE_MAGIC, PONY_TP_SAVE_V_TABLES, 0};
	struct pony_save_tp sc = {.max_flows = c->max_flows, .max_streams = c->max_streams,
				  .window = c->window, .sendq_max = c->sendq_max,
				  .stream_free = tp->stream_free,
				  .key = {tp->key[0], tp->key[1]}, .rand_ctr = tp->rand_ctr};
	for (size_t i = 0; i < nf * w; i++)
		nh += tp->held[i].m != NULL;
	sc.n_held = (uint32_t)nh;
	struct pony_save_held *held = nh ? malloc(nh * sizeof(*held)) : NULL;
	if (nh && held == NULL)
		return -ENOMEM;
	for (size_t i = 0, k = 0; i < nf * w; i++) {
		const struct pony_held *hd = &tp->held[i];
		if (hd->m != NULL)
			held[k++] = (struct pony_save_held){
				.idx = (uint32_t)i, .msg_id = hd->msg_id, .msg_len = hd->msg_len,
				.offset = hd->offset, .next = hd->next,
				.len = rte_pktmbuf_data_len(hd->m)};
	}
	char err[160];
	snap_sbuf_put(out, &h, sizeof(h));
#define PUT(schema, recs, n) snap_rec_put(out, &(schema), (recs), (n), (schema).size, NULL, err, sizeof(err))
	PUT(pony_schema_tp, &sc, 1);
	PUT(pony_schema_stats, &tp->st, 1);
	PUT(pony_schema_listener, tp->listen, PONY_LISTEN_MAX);
#define SPARSE(schema, recs, n, group, keep)                                                \
	snap_rec_put_sparse(out, &(schema), (recs), (n), (schema).size, group, keep, (void *)tp)
	SPARSE(pony_schema_flow, tp->flows, nf, 1, flow_used);
	SPARSE(pony_schema_desc, tp->descs, nf * w, w, flow_used);
	SPARSE(pony_schema_rxword, tp->rxmaps, nf * w / 64, w / 64, flow_used);
	PUT(pony_schema_stream, tp->streams, c->max_streams);
	SPARSE(pony_schema_txmsg, tp->txmsgs, (size_t)c->max_streams * c->sendq_max,
	       c->sendq_max, stream_used);
	PUT(pony_schema_held, held, nh);
#undef PUT
#undef SPARSE
	for (size_t k = 0; k < nh; k++)
		snap_sbuf_put(out, rte_pktmbuf_mtod(tp->held[held[k].idx].m, void *), held[k].len);
	free(held);
	_Static_assert(sizeof(struct pony_save_peer) == sizeof(*tp->peers), "peer record");
	snap_rec_put_sparse(out, &pony_schema_peer, tp->peers, nf, sizeof(*tp->peers), 1,
			    flow_used, (void *)tp);
	save_os(tp, out, PONY_TP_SAVE_V_TABLES);
	return out->err;
}

int pony_tp_save_v(const struct pony_tp *tp, struct snap_sbuf *out, uint32_t version)
{
	switch (version) {
	case PONY_TP_SAVE_V_RAW:
		return save_raw(tp, out);
	case PONY_TP_SAVE_V_TABLES:
		return save_tables(tp, out);
	default:
		return -EPROTONOSUPPORT;
	}
}

int pony_tp_save(const struct pony_tp *tp, struct snap_sbuf *out)
{
	return pony_tp_save_v(tp, out, PONY_TP_SAVE_V_TABLES);
}

/* Bounded reader over the blob. */
struct rd {
	const uint8_t *p;
	size_t left;
};

static const void *take(struct rd *r, size_t n)
{
	if (n > r->left)
		return NULL;
	const void *p = r->p;
	r->p += n;
	r->left -= n;
	return p;
}

static int take_into(struct rd *r, void *dst, size_t n)
{
	const void *p = take(r, n);
	if (p == NULL)
		return -EINVAL;
	memcpy(dst, p, n);
	return 0;
}

static void free_held(struct pony_tp *tp)
{
	size_t n = (size_t)tp->cfg.max_flows * tp->cfg.window;
	for (size_t i = 0; i < n; i++) {
		rte_pktmbuf_free(tp->held[i].m);
		tp->held[i].m = NULL;
	}
}

static bool idx_ok(uint32_t i, size_t n)
{
	return i == PONY_NONE || i < n;
}

/* One table as read: n records in this build's layout, the k-th at index idx[k] (idx NULL:
 * at index k). Version 3's are the whole tables, in the blob; version 4's are decoded copies
 * of the records written, which for the sparse tables are those in use: a transport's
 * tables are sized by its limits, and staging or copying them whole would cost the blackout
 * a page fault per 4 KiB of limits. */
struct table {
	const uint8_t *recs;
	const uint32_t *idx;
	size_t n;
};

static size_t tab_at(const struct table *t, size_t k)
{
	return t->idx ? t->idx[k] : k;
}

/* Each record of t to its index in dst (size bytes each). */
static void tab_scatter(void *dst, size_t size, const struct table *t)
{
	if (t->n == 0)
		return; /* recs may be NULL: an absent table (no peers before IPv6) */
	if (t->idx == NULL) {
		memcpy(dst, t->recs, t->n * size);
		return;
	}
	for (size_t k = 0; k < t->n; k++)
		memcpy((uint8_t *)dst + (size_t)t->idx[k] * size, t->recs + k * size, size);
}

/* A saved transport as read from either version, before anything of tp changes. */
struct image {
	struct pony_save_tp sc;
	struct pony_tp_stats st;
	struct pony_listener listen[PONY_LISTEN_MAX];
	struct table flows, descs, maps, streams, txmsgs;
	struct table peers;                /* n 0 and idx NULL: a blob from before IPv6 */
	struct pony_save_held *held;       /* n_held records */
	const uint8_t **held_bytes;        /* each one's bytes */
	struct rd os;                      /* the one-sided section, if has_os */
	uint32_t has_os;
	struct snap_rec_kept owned[6];     /* version 4's decoded tables, to free */
};

static void image_free(struct image *im)
{
	for (unsigned i = 0; i < 6; i++)
		snap_rec_kept_free(&im->owned[i]);
	free(im->held);
	free(im->held_bytes);
}

/* Every index the saved tables hold points inside the tables of tp (built from the same
 * limits): flows' stream lists and windows, streams' slots, flows, lists and send queues,
 * held segments' slots and links. The records are copied out (the blob need not be
 * aligned). */
static int check_tables(const struct pony_tp *tp, const struct image *im)
{
	const struct pony_tp_config *c = &tp->cfg;
	size_t nf = c->max_flows, w = c->window, nh = nf * w;
	if (!idx_ok(im->sc.stream_free, c->max_streams) || im->sc.n_held > nh)
		return -EINVAL;
	for (unsigned i = 0; i < PONY_LISTEN_MAX; i++)
		if (!pony_saved_bool_ok(&im->listen[i].used))
			return -EINVAL;
	/* Records not in the tables read as zero: a free flow, a free stream. */
	for (size_t k = 0; k < im->flows.n; k++) {
		struct pony_flow f;
		memcpy(&f, im->flows.recs + k * sizeof(f), sizeof(f));
		if (!pony_saved_bool_ok(&f.ack_pending) ||
		    !pony_saved_bool_ok(&f.fin_sent))
			return -EINVAL;
		if (f.state == PONY_F_FREE)
			continue;
		if (f.rx.size != w || f.snd_nxt - f.snd_una > w || f.pipe > w || f.n_lost > w ||
		    !idx_ok(f.streams, c->max_streams) || f.n_streams > c->max_streams)
			return -EINVAL;
	}
	for (size_t k = 0; k < im->streams.n; k++) {
		size_t si = tab_at(&im->streams, k);
		struct pony_stream s;
		memcpy(&s, im->streams.recs + k * sizeof(s), sizeof(s));
		if (!idx_ok(s.next, c->max_streams) || !idx_ok(s.prev, c->max_streams) ||
		    !pony_saved_bool_ok(&s.ready) || !pony_saved_bool_ok(&s.close_after_open) ||
		    !pony_saved_bool_ok(&s.close_pending) || !pony_saved_bool_ok(&s.rx_active) ||
		    !pony_saved_bool_ok(&s.rx_discard))
			return -EINVAL;
		if (s.state == PONY_S_FREE)
			continue;
		if (s.flow >= nf || (s.sid & PONY_SID_IDX_MASK) != si || !idx_ok(s.held, nh) ||
		    s.tx_tail - s.tx_head > c->sendq_max || s.tx_seg - s.tx_head > s.tx_tail - s.tx_head)
			return -EINVAL;
	}
	for (uint32_t i = 0; i < im->sc.n_held; i++) {
		const struct pony_save_held *sh = &im->held[i];
		if (sh->idx >= nh || !idx_ok(sh->next, nh) || sh->len > tp->seg_max)
			return -EINVAL;
	}
	return 0;
}

/* The held segments' records and bytes: version 3 interleaves them, 4 has the table first. */
static int held_alloc(struct image *im)
{
	size_t n = im->sc.n_held ? im->sc.n_held : 1;
	im->held = calloc(n, sizeof(*im->held));
	im->held_bytes = calloc(n, sizeof(*im->held_bytes));
	return im->held && im->held_bytes ? 0 : -ENOMEM;
}

/* The one-sided flag and section that end both versions. */
static int read_os(struct rd *r, struct image *im)
{
	if (take_into(r, &im->has_os, sizeof(im->has_os)) < 0 || im->has_os > 1 ||
	    (im->has_os == 0 && r->left != 0))
		return -EINVAL;
	im->os = *r;
	return 0;
}

static int read_raw(const struct pony_tp *tp, struct rd *r, struct image *im)
{
	const struct pony_tp_config *c = &tp->cfg;
	size_t nf = c->max_flows, w = c->window;
	struct save_hdr h;
	if (take_into(r, &h, sizeof(h)) < 0)
		return -EINVAL;
	/* This build reads version 3 only while its structs are laid out as they were. */
	if (h.sz_flow != sizeof(struct pony_flow) ||
	    h.sz_desc != sizeof(struct pony_txdesc) || h.sz_stream != sizeof(struct pony_stream) ||
	    h.sz_txmsg != sizeof(struct pony_txmsg) || h.sz_held != sizeof(struct save_held) ||
	    h.sz_stats != sizeof(struct pony_tp_stats) ||
	    h.sz_listener != sizeof(struct pony_listener))
		return -EPROTO;
	im->sc = (struct pony_save_tp){.max_flows = h.max_flows, .max_streams = h.max_streams,
				       .window = h.window, .sendq_max = h.sendq_max,
				       .stream_free = h.stream_free, .n_held = h.n_held,
				       .key = {h.key[0], h.key[1]}, .rand_ctr = h.rand_ctr};
	if (h.max_flows != c->max_flows || h.max_streams != c->max_streams ||
	    h.window != c->window || h.sendq_max != c->sendq_max || h.n_held > nf * w)
		return -EINVAL; /* restore into a transport built from the same limits */
	im->st = h.st;
	memcpy(im->listen, h.listen, sizeof(im->listen));
	struct table *t[] = {&im->flows, &im->descs, &im->maps, &im->streams, &im->txmsgs};
	const size_t n[] = {nf, nf * w, nf * w / 64, c->max_streams,
			    (size_t)c->max_streams * c->sendq_max};
	const size_t sz[] = {sizeof(*tp->flows), sizeof(*tp->descs), sizeof(*tp->rxmaps),
			     sizeof(*tp->streams), sizeof(*tp->txmsgs)};
	for (unsigned i = 0; i < 5; i++) {
		*t[i] = (struct table){.recs = take(r, n[i] * sz[i]), .n = n[i]};
		if (t[i]->recs == NULL)
			return -EINVAL;
	}
	if (held_alloc(im))
		return -ENOMEM;
	for (uint32_t i = 0; i < h.n_held; i++) {
		if (take_into(r, &im->held[i], sizeof(im->held[i])) < 0 ||
		    im->held[i].len > tp->seg_max ||
		    (im->held_bytes[i] = take(r, im->held[i].len)) == NULL)
			return -EINVAL;
	}
	return read_os(r, im);
}

/* Decode the records written of one table of count records of schema s, kept in
 * im->owned[slot]. */
static int get_table(struct rd *r, const struct snap_rec_schema *s, size_t count,
		     struct image *im, unsigned slot, struct table *out)
{
	char err[160];
	struct snap_rec_kept *k = &im->owned[slot];
	int e = snap_rec_get_kept(&r->p, &r->left, s, count, k, err, sizeof(err));
	if (e) {
		SNAP_LOG(ERR, "pony restore: %s", err);
		return e == -ENOMEM ? e : e == -EPROTO ? -EPROTO : -EINVAL;
	}
	*out = (struct table){.recs = k->recs, .idx = k->idx, .n = k->n};
	return 0;
}

static int read_tables(const struct pony_tp *tp, struct rd *r, struct image *im)
{
	const struct pony_tp_config *c = &tp->cfg;
	size_t nf = c->max_flows, w = c->window;
	char err[160];
	int e = snap_rec_get(&r->p, &r->left, &pony_schema_tp, &im->sc, 1, sizeof(im->sc), err,
			     sizeof(err));
	if (e == 0 && (im->sc.max_flows != c->max_flows || im->sc.max_streams != c->max_streams ||
		       im->sc.window != c->window || im->sc.sendq_max != c->sendq_max ||
		       im->sc.n_held > nf * w)) {
		snprintf(err, sizeof(err), "saved limits differ from this transport's");
		e = -EINVAL;
	}
	if (e == 0)
		e = snap_rec_get(&r->p, &r->left, &pony_schema_stats, &im->st, 1, sizeof(im->st),
				 err, sizeof(err));
	if (e == 0)
		e = snap_rec_get(&r->p, &r->left, &pony_schema_listener, im->listen,
				 PONY_LISTEN_MAX, sizeof(im->listen[0]), err, sizeof(err));
	if (e) {
		SNAP_LOG(ERR, "pony restore: %s", err);
		return e == -ENOMEM || e == -EPROTO ? e : -EINVAL;
	}
	if ((e = get_table(r, &pony_schema_flow, nf, im, 0, &im->flows)) ||
	    (e = get_table(r, &pony_schema_desc, nf * w, im, 1, &im->descs)) ||
	    (e = get_table(r, &pony_schema_rxword, nf * w / 64, im, 2, &im->maps)) ||
	    (e = get_table(r, &pony_schema_stream, c->max_streams, im, 3, &im->streams)) ||
	    (e = get_table(r, &pony_schema_txmsg, (size_t)c->max_streams * c->sendq_max, im, 4,
			   &im->txmsgs)))
		return e;
	if (held_alloc(im))
		return -ENOMEM;
	e = snap_rec_get(&r->p, &r->left, &pony_schema_held, im->held, im->sc.n_held,
			 sizeof(*im->held), err, sizeof(err));
	if (e) {
		SNAP_LOG(ERR, "pony restore: %s", err);
		return e == -ENOMEM || e == -EPROTO ? e : -EINVAL;
	}
	for (uint32_t i = 0; i < im->sc.n_held; i++)
		if (im->held[i].len > tp->seg_max ||
		    (im->held_bytes[i] = take(r, im->held[i].len)) == NULL)
			return -EINVAL;
	/* The flows' addresses (since IPv6); an older blob goes on with the one-sided flag, a
	 * u32 0 or 1, where this table starts with its magic. */
	uint32_t next = 0;
	if (r->left >= sizeof(next))
		memcpy(&next, r->p, sizeof(next));
	if (next > 1 && (e = get_table(r, &pony_schema_peer, nf, im, 5, &im->peers)))
		return e;
	return read_os(r, im);
}

/* Install a checked image into tp. */
static void apply(struct pony_tp *tp, const struct image *im)
{
	const struct pony_tp_config *c = &tp->cfg;
	size_t nf = c->max_flows, w = c->window;
	free_held(tp);
	pony_flowtx_flush(tp);
	/* What tp itself had in use goes first. A free flow's descriptors and receive bitmap
	 * and a free stream's send queue are never read (each is reset when its flow or stream
	 * is taken), so only those in use are cleared, not the tables the limits size. */
	for (size_t fi = 0; fi < nf; fi++) {
		if (tp->flows[fi].state == PONY_F_FREE)
			continue;
		memset(&tp->descs[fi * w], 0, w * sizeof(*tp->descs));
		memset(&tp->rxmaps[fi * (w / 64)], 0, w / 8);
	}
	for (size_t si = 0; si < c->max_streams; si++)
		if (tp->streams[si].state != PONY_S_FREE)
			memset(&tp->txmsgs[si * c->sendq_max], 0,
			       c->sendq_max * sizeof(*tp->txmsgs));
	memset(tp->flows, 0, nf * sizeof(*tp->flows));
	memset(tp->peers, 0, nf * sizeof(*tp->peers)); /* no table: IPv4 flows, from peer_ip */
	if (im->streams.idx != NULL)
		memset(tp->streams, 0, c->max_streams * sizeof(*tp->streams));
	tab_scatter(tp->flows, sizeof(*tp->flows), &im->flows);
	tab_scatter(tp->peers, sizeof(*tp->peers), &im->peers);
	tab_scatter(tp->descs, sizeof(*tp->descs), &im->descs);
	tab_scatter(tp->rxmaps, sizeof(*tp->rxmaps), &im->maps);
	tab_scatter(tp->streams, sizeof(*tp->streams), &im->streams);
	tab_scatter(tp->txmsgs, sizeof(*tp->txmsgs), &im->txmsgs);
	tp->stream_free = im->sc.stream_free;
	tp->key[0] = im->sc.key[0];
	tp->key[1] = im->sc.key[1];
	tp->rand_ctr = im->sc.rand_ctr;
	tp->st = im->st;
	tp->st.held_mbufs = 0;
	memcpy(tp->listen, im->listen, sizeof(tp->listen));
	/* Process-local pointers: receive bitmaps, flow table. */
	for (uint32_t fi = 0; fi < nf; fi++) {
		struct pony_flow *f = &tp->flows[fi];
		f->rx.map = &tp->rxmaps[(size_t)fi * (w / 64)];
		f->n_held = 0;
		if (f->state == PONY_F_FAILED)
			f->state = PONY_F_FREE; /* was mid-failure: nothing to resume */
	}
	pony_flow_ht_rebuild(tp);
	for (size_t i = 0; i < nf * w; i++)
		tp->held[i].next = PONY_NONE;
}

/* Held segments: new mbufs with the saved bytes, at the same pool slots. */
static int apply_held(struct pony_tp *tp, const struct image *im)
{
	const struct pony_tp_config *c = &tp->cfg;
	size_t nh = (size_t)c->max_flows * c->window;
	for (uint32_t i = 0; i < im->sc.n_held; i++) {
		const struct pony_save_held *sh = &im->held[i];
		struct pony_held *hd = &tp->held[sh->idx];
		if (hd->m != NULL) { /* duplicate slot in a bad blob: keep the last */
			rte_pktmbuf_free(hd->m);
			tp->st.held_mbufs--;
		}
		struct rte_mbuf *m = rte_pktmbuf_alloc(c->pool);
		void *p = m ? rte_pktmbuf_append(m, (uint16_t)sh->len) : NULL;
		if (p == NULL) {
			rte_pktmbuf_free(m);
			free_held(tp);
			return -ENOMEM;
		}
		memcpy(p, im->held_bytes[i], sh->len);
		*hd = (struct pony_held){.m = m, .msg_id = sh->msg_id, .msg_len = sh->msg_len,
					 .offset = sh->offset, .next = sh->next};
		tp->st.held_mbufs++;
	}
	tp->held_free = PONY_NONE;
	for (size_t i = nh; i-- > 0;) {
		if (tp->held[i].m == NULL) {
			tp->held[i].next = tp->held_free;
			tp->held_free = (uint32_t)i;
		}
	}
	return 0;
}

/* The pointers the transport holds for its user, translated to this process's. */
static void rebind(struct pony_tp *tp, const struct pony_tp_rebind *rb)
{
	const struct pony_tp_config *c = &tp->cfg;
	size_t nh = (size_t)c->max_flows * c->window;
	for (uint32_t si = 0; si < c->max_streams; si++) {
		struct pony_stream *s = &tp->streams[si];
		if (s->state == PONY_S_FREE)
			continue;
		uint32_t k = 0;
		for (uint32_t hi = s->held; hi < nh && k++ < nh; hi = tp->held[hi].next)
			tp->flows[s->flow].n_held++;
		if (rb == NULL)
			continue;
		if (rb->owner)
			s->owner = rb->owner(rb->ctx, s->sid, s->owner);
		if (rb->rx_dst && s->rx_active && !s->rx_discard)
			s->rx_dst = rb->rx_dst(rb->ctx, s->sid, s->rx_cookie, s->rx_dst);
		for (uint32_t id = s->tx_head; rb->tx_buf && id != s->tx_tail; id++) {
			struct pony_txmsg *m = stream_msg(tp, s, id);
			m->buf = rb->tx_buf(rb->ctx, s->sid, m->cookie, m->buf);
		}
	}
	for (unsigned i = 0; rb && rb->listener && i < PONY_LISTEN_MAX; i++)
		if (tp->listen[i].used)
			tp->listen[i].listener = rb->listener(rb->ctx, tp->listen[i].service,
							      tp->listen[i].listener);
}

int pony_tp_restore(struct pony_tp *tp, const void *data, size_t len,
		    const struct pony_tp_rebind *rb)
{
	struct rd r = {data, len};
	struct {
		uint64_t magic;
		uint32_t version;
	} h;
	if (len < sizeof(h))
		return -EINVAL;
	memcpy(&h, data, sizeof(h));
	if (h.magic != SAVE_MAGIC)
		return -EINVAL;
	struct image im = {0};
	int e;
	/* Everything is read and checked before anything changes, so a bad blob leaves tp as
	 * it was. */
	if (h.version == PONY_TP_SAVE_V_RAW) {
		e = read_raw(tp, &r, &im);
	} else if (h.version == PONY_TP_SAVE_V_TABLES) {
		take(&r, 16);
		e = read_tables(tp, &r, &im);
	} else {
		e = -EPROTO;
	}
	if (e == 0 && im.has_os)
		e = pony_os_restore(tp, im.os.p, im.os.left, h.version, rb, false);
	if (e == 0 && check_tables(tp, &im) != 0)
		e = -EINVAL;
	if (e == 0) {
		apply(tp, &im);
		e = apply_held(tp, &im);
	}
	if (e == 0) {
		rebind(tp, rb);
		pony_txq_rebuild(tp);
		pony_pmtu_restart_all(tp);
		pony_flow_recount(tp);
		if (im.has_os)
			e = pony_os_restore(tp, im.os.p, im.os.left, h.version, rb, true);
	}
	image_free(&im);
	return e;
}
