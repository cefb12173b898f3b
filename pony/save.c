/* Save/restore of a Pony transport's whole state (for transparent upgrade): flows, in-flight
 * descriptors, receive bitmaps, streams, send queues, and the bytes of held segments, in a
 * versioned blob. Records use indices, so they are copied as they are; the few pointers (app
 * buffers, upcall owners, listeners) are handed to the caller to translate. */
#include <errno.h>
#include <string.h>

#include "pony/flowtx.h"
#include "pony/txq.h"
#include "pony/internal.h"
#include "pony/save.h"

#define SAVE_MAGIC 0x504f4e5953415645ull /* "PONYSAVE" */
/* Bump when any saved struct changes layout or meaning; the sizes below catch most
 * accidental changes too (restore answers -EPROTO). */
#define SAVE_VERSION 3 /* 2: one-sided state (pony_os_save) after the held segments;
			* 3: the getrandom() key replaces the xorshift state, per-flow
			* refusal queue and ack-progress time, defence counters; stats gained
			* auth_fail */

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

struct save_held {
	uint32_t idx, msg_id, msg_len, offset, next, len;
};

int pony_tp_save(const struct pony_tp *tp, struct snap_sbuf *out)
{
	const struct pony_tp_config *c = &tp->cfg;
	size_t nf = c->max_flows, w = c->window;
	struct save_hdr h = {
		.magic = SAVE_MAGIC, .version = SAVE_VERSION,
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
	/* One-sided section last: a flag, then (if attached) the rest of the blob. */
	uint32_t has_os = tp->os != NULL;
	snap_sbuf_put(out, &has_os, sizeof(has_os));
	if (has_os)
		pony_os_save(tp, out);
	return out->err;
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

/* Every index the saved tables hold points inside the tables of tp (built from the same
 * limits): flows' stream lists and windows, streams' slots, flows, lists and send queues,
 * held segments' links. The records are copied out (the blob need not be aligned). */
static int check_tables(const struct pony_tp *tp, const struct save_hdr *h, const void *flows,
			const void *streams, struct rd held)
{
	const struct pony_tp_config *c = &tp->cfg;
	size_t nf = c->max_flows, w = c->window, nh = nf * w;
	if (!idx_ok(h->stream_free, c->max_streams))
		return -EINVAL;
	for (unsigned i = 0; i < PONY_LISTEN_MAX; i++)
		if (!pony_saved_bool_ok(&h->listen[i].used))
			return -EINVAL;
	for (size_t i = 0; i < nf; i++) {
		struct pony_flow f;
		memcpy(&f, (const uint8_t *)flows + i * sizeof(f), sizeof(f));
		if (!pony_saved_bool_ok(&f.ack_pending) ||
		    !pony_saved_bool_ok(&f.fin_sent))
			return -EINVAL;
		if (f.state == PONY_F_FREE)
			continue;
		if (f.rx.size != w || f.snd_nxt - f.snd_una > w || f.pipe > w || f.n_lost > w ||
		    !idx_ok(f.streams, c->max_streams) || f.n_streams > c->max_streams)
			return -EINVAL;
	}
	for (uint32_t si = 0; si < c->max_streams; si++) {
		struct pony_stream s;
		memcpy(&s, (const uint8_t *)streams + si * sizeof(s), sizeof(s));
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
	for (uint32_t i = 0; i < h->n_held; i++) {
		struct save_held sh;
		if (take_into(&held, &sh, sizeof(sh)) < 0 || !idx_ok(sh.next, nh) ||
		    take(&held, sh.len) == NULL)
			return -EINVAL;
	}
	return 0;
}

int pony_tp_restore(struct pony_tp *tp, const void *data, size_t len,
		    const struct pony_tp_rebind *rb)
{
	const struct pony_tp_config *c = &tp->cfg;
	size_t nf = c->max_flows, w = c->window;
	struct rd r = {data, len};
	struct save_hdr h;

	if (take_into(&r, &h, sizeof(h)) < 0 || h.magic != SAVE_MAGIC)
		return -EINVAL;
	if (h.version != SAVE_VERSION || h.sz_flow != sizeof(struct pony_flow) ||
	    h.sz_desc != sizeof(struct pony_txdesc) || h.sz_stream != sizeof(struct pony_stream) ||
	    h.sz_txmsg != sizeof(struct pony_txmsg) || h.sz_held != sizeof(struct save_held) ||
	    h.sz_stats != sizeof(struct pony_tp_stats) ||
	    h.sz_listener != sizeof(struct pony_listener))
		return -EPROTO;
	if (h.max_flows != c->max_flows || h.max_streams != c->max_streams ||
	    h.window != c->window || h.sendq_max != c->sendq_max || h.n_held > nf * w)
		return -EINVAL; /* restore into a transport built from the same limits */
	/* Everything is read before anything changes, so a bad blob leaves tp as it was. */
	const void *flows = take(&r, nf * sizeof(*tp->flows));
	const void *descs = take(&r, nf * w * sizeof(*tp->descs));
	const void *maps = take(&r, nf * w / 8);
	const void *streams = take(&r, c->max_streams * sizeof(*tp->streams));
	const void *txmsgs = take(&r, (size_t)c->max_streams * c->sendq_max * sizeof(*tp->txmsgs));
	struct rd held_rd = r; /* re-read below, after validation */
	if (!flows || !descs || !maps || !streams || !txmsgs)
		return -EINVAL;
	for (uint32_t i = 0; i < h.n_held; i++) {
		const struct save_held *sh = take(&r, sizeof(*sh));
		if (sh == NULL || sh->idx >= nf * w || sh->len > tp->seg_max ||
		    take(&r, sh->len) == NULL)
			return -EINVAL;
	}
	uint32_t has_os;
	if (take_into(&r, &has_os, sizeof(has_os)) < 0 || has_os > 1 ||
	    (has_os == 0 && r.left != 0))
		return -EINVAL;
	struct rd os_rd = r;
	if (has_os) {
		int e = pony_os_restore(tp, r.p, r.left, rb, false);
		if (e)
			return e;
	}
	if (check_tables(tp, &h, flows, streams, held_rd) != 0)
		return -EINVAL;

	free_held(tp);
	pony_flowtx_flush(tp);
	memcpy(tp->flows, flows, nf * sizeof(*tp->flows));
	memcpy(tp->descs, descs, nf * w * sizeof(*tp->descs));
	memcpy(tp->rxmaps, maps, nf * w / 8);
	memcpy(tp->streams, streams, c->max_streams * sizeof(*tp->streams));
	memcpy(tp->txmsgs, txmsgs, (size_t)c->max_streams * c->sendq_max * sizeof(*tp->txmsgs));
	tp->stream_free = h.stream_free;
	tp->key[0] = h.key[0];
	tp->key[1] = h.key[1];
	tp->rand_ctr = h.rand_ctr;
	tp->st = h.st;
	tp->st.held_mbufs = 0;
	memcpy(tp->listen, h.listen, sizeof(tp->listen));

	/* Process-local pointers: receive bitmaps, flow table. */
	for (uint32_t fi = 0; fi < nf; fi++) {
		struct pony_flow *f = &tp->flows[fi];
		f->rx.map = &tp->rxmaps[(size_t)fi * (w / 64)];
		f->n_held = 0;
		if (f->state == PONY_F_FAILED)
			f->state = PONY_F_FREE; /* was mid-failure: nothing to resume */
	}
	pony_flow_ht_rebuild(tp);
	/* Held segments: new mbufs with the saved bytes, at the same pool slots. */
	r = held_rd;
	for (size_t i = 0; i < nf * w; i++)
		tp->held[i].next = PONY_NONE;
	for (uint32_t i = 0; i < h.n_held; i++) {
		const struct save_held *sh = take(&r, sizeof(*sh));
		const void *bytes = take(&r, sh->len);
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
		memcpy(p, bytes, sh->len);
		*hd = (struct pony_held){.m = m, .msg_id = sh->msg_id, .msg_len = sh->msg_len,
					 .offset = sh->offset, .next = sh->next};
		tp->st.held_mbufs++;
	}
	tp->held_free = PONY_NONE;
	for (size_t i = nf * w; i-- > 0;) {
		if (tp->held[i].m == NULL) {
			tp->held[i].next = tp->held_free;
			tp->held_free = (uint32_t)i;
		}
	}
	for (uint32_t si = 0; si < c->max_streams; si++) {
		struct pony_stream *s = &tp->streams[si];
		if (s->state == PONY_S_FREE)
			continue;
		uint32_t k = 0;
		for (uint32_t hi = s->held; hi < nf * w && k++ < nf * w; hi = tp->held[hi].next)
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
	pony_txq_rebuild(tp);
	pony_flow_recount(tp);
	if (has_os)
		return pony_os_restore(tp, os_rd.p, os_rd.left, rb, true);
	return 0;
}
