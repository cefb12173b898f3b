/* Save of a Pony engine's app sessions and transport for upgrade (app_save.h), and the
 * parsing of both blob versions (app_save_int.h); the rebuild is pony/app_restore.c. The
 * shared regions are not copied: the new daemon maps the same memfds, so ring contents and
 * payload buffers carry over as they are; only the daemon's private bookkeeping is written. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pony/app_save.h"
#include "pony/app_save_int.h"
#include "pony/save.h"
#include "pony/save_int.h"
#include "snap/log.h"

#define APP_SAVE_MAGIC 0x50415050534156ull /* "PAPPSAV" */

/* Version 2's header. */
struct save_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t n_sessions;
	uint32_t sz_session, sz_stream, sz_op, sz_region, sz_listen;
	uint32_t pad;
};
/* Version 3's: magic and version as in 2, then the sessions' count in a table. */
struct save_hdr3 {
	uint64_t magic;
	uint32_t version, pad;
};
struct save_count {
	uint32_t n_sessions;
};

/* Release 0.1.0 reads version 2 with these sizes (pony element state version 1): a change
 * must raise pony's state_write_min/read_min to 2 (pony/elem.c; release 0.1.0 is then
 * refused before any blackout) and update this check. */
_Static_assert(sizeof(struct save_session) == 448 &&
	       sizeof(struct app_stream) == 56 && sizeof(struct app_op) == 40 &&
	       sizeof(struct app_region) == 40 && sizeof(struct app_listen) == 24,
	       "app session layout differs from release 0.1.0's: see the comment above");

#define SE(kind, m) SNAP_REC_F(struct save_session, kind, m)
static const struct snap_rec_field session_fields[] = {
	SE(UINT, app_id), SE(UINT, max_streams), SE(UINT, max_ops), SE(UINT, max_regions),
	SE(UINT, max_listens), SE(UINT, n_streams), SE(UINT, n_ops), SE(UINT, n_regions),
	SE(UINT, n_listens), SE(UINT, cmd_head), SE(UINT, cmd_tail_seen), SE(UINT, cpl_tail),
	SE(UINT, cpl_head_seen), SE(UINT, owed), SE(UINT, tp_refs), SE(UINT, op_free),
	SE(UINT, kick), SE(UINT, broken), SE(UINT, torn), SE(UINT, pad), SE(UINT, map_size),
	SE(UINT, old_streams), SE(UINT, old_listens), SE(UINT, old_buf), SE(UINT, old_sess),
	SE(UINT, hdr.magic), SE(UINT, hdr.version), SE(UINT, hdr.hdr_size),
	SE(UINT, hdr.region_size), SE(UINT, hdr.cmd_ring_off), SE(UINT, hdr.cpl_ring_off),
	SE(UINT, hdr.cmd_off), SE(UINT, hdr.cmd_entries), SE(UINT, hdr.cpl_off),
	SE(UINT, hdr.cpl_entries), SE(UINT, hdr.buf_off), SE(UINT, hdr.buf_size),
	SE(UINT, cnt.cmds), SE(UINT, cnt.cpls), SE(UINT, cnt.kicks), SE(BYTES, cnt.errors),
	SE(UINT, cnt.accept_refused), SE(UINT, cnt.cpl_overflow), SE(UINT, cnt.stray_upcalls),
	SE(UINT, cnt.tx_bytes), SE(UINT, cnt.rx_bytes),
};
#define AS(kind, m) SNAP_REC_F(struct app_stream, kind, m)
static const struct snap_rec_field stream_fields[] = {
	AS(PTR, s), AS(UINT, id), AS(UINT, sid), AS(UINT, gen), AS(UINT, state),
	AS(UINT, service), AS(UINT, peer_ip), AS(UINT, tag), AS(UINT, open_op), AS(UINT, rx_head),
	AS(UINT, rx_tail), AS(UINT, rx_deferred),
	SNAP_REC_FX(struct app_stream, UINT, qos, SNAP_REC_SINCE), /* zero: normal */
};
#define AO(m) SNAP_REC_F(struct app_op, UINT, m)
static const struct snap_rec_field op_fields[] = {
	AO(tag), AO(off), AO(len), AO(gen), AO(stream), AO(next), AO(op), AO(flags), AO(held),
	SNAP_REC_FX(struct app_op, UINT, qos, SNAP_REC_SINCE), /* zero: normal */
};
#define AR(m) SNAP_REC_F(struct app_region, UINT, m)
static const struct snap_rec_field region_fields[] = {
	AR(id), AR(gen), AR(perms), AR(off), AR(len), AR(key),
};
#define AL(kind, m) SNAP_REC_F(struct app_listen, kind, m)
static const struct snap_rec_field listen_fields[] = {
	AL(PTR, s), AL(UINT, used), AL(UINT, service), AL(UINT, tag),
};
static const struct snap_rec_field count_fields[] = {
	SNAP_REC_F(struct save_count, UINT, n_sessions),
};
SNAP_REC_SCHEMA(pony_schema_app_count, "app.sessions", struct save_count, count_fields);
SNAP_REC_SCHEMA(pony_schema_app_session, "app.session", struct save_session, session_fields);
SNAP_REC_SCHEMA(pony_schema_app_stream, "app.stream", struct app_stream, stream_fields);
SNAP_REC_SCHEMA(pony_schema_app_op, "app.op", struct app_op, op_fields);
SNAP_REC_SCHEMA(pony_schema_app_region, "app.region", struct app_region, region_fields);
SNAP_REC_SCHEMA(pony_schema_app_listen, "app.listen", struct app_listen, listen_fields);

static size_t n_regions(const struct save_session *v)
{
	return v->max_regions ? v->max_regions : 1;
}

int pony_app_save_v(const struct pony_app_host *h, const struct pony_tp *tp,
		    struct snap_sbuf *out, uint32_t tp_version)
{
	bool tables = tp_version != PONY_TP_SAVE_V_RAW;
	uint32_t n = 0;
	if (h && h->zombies)
		return -EBUSY;
	for (const struct pony_app_session *s = h ? h->live : NULL; s; s = s->next)
		n++;
	char err[160];
#define PUT(schema, recs, cnt) snap_rec_put(out, &(schema), (recs), (cnt), (schema).size, NULL, err, sizeof(err))
	if (tables) {
		struct save_hdr3 h3 = {.magic = APP_SAVE_MAGIC, .version = APP_SAVE_V_TABLES};
		struct save_count c = {n};
		snap_sbuf_put(out, &h3, sizeof(h3));
		PUT(pony_schema_app_count, &c, 1);
	} else {
		struct save_hdr sh = {
			.magic = APP_SAVE_MAGIC, .version = APP_SAVE_V_RAW, .n_sessions = n,
			.sz_session = sizeof(struct save_session),
			.sz_stream = sizeof(struct app_stream), .sz_op = sizeof(struct app_op),
			.sz_region = sizeof(struct app_region), .sz_listen = sizeof(struct app_listen),
		};
		snap_sbuf_put(out, &sh, sizeof(sh));
	}
	for (const struct pony_app_session *s = h ? h->live : NULL; s; s = s->next) {
		struct save_session v = {
			.app_id = s->app_id, .max_streams = s->max_streams, .max_ops = s->max_ops,
			.max_regions = s->max_regions, .max_listens = s->max_listens,
			.n_streams = s->n_streams, .n_ops = s->n_ops, .n_regions = s->n_regions,
			.n_listens = s->n_listens, .cmd_head = s->cmd_head,
			.cmd_tail_seen = s->cmd_tail_seen, .cpl_tail = s->cpl_tail,
			.cpl_head_seen = s->cpl_head_seen, .owed = s->owed, .tp_refs = s->tp_refs,
			.op_free = s->op_free, .kick = s->kick, .broken = s->broken, .torn = s->torn,
			.map_size = s->map_size, .old_streams = (uintptr_t)s->streams,
			.old_listens = (uintptr_t)s->listens, .old_buf = (uintptr_t)s->buf,
			.old_sess = (uintptr_t)s,
			.hdr = s->hdr, .cnt = s->cnt,
		};
		if (tables) {
			PUT(pony_schema_app_session, &v, 1);
			PUT(pony_schema_app_stream, s->streams, s->max_streams);
			PUT(pony_schema_app_op, s->ops, s->max_ops);
			PUT(pony_schema_app_region, s->regions, n_regions(&v));
			PUT(pony_schema_app_listen, s->listens, s->max_listens);
			continue;
		}
		snap_sbuf_put(out, &v, sizeof(v));
		snap_sbuf_put(out, s->streams, sizeof(*s->streams) * s->max_streams);
		snap_sbuf_put(out, s->ops, sizeof(*s->ops) * s->max_ops);
		snap_sbuf_put(out, s->regions, sizeof(*s->regions) * n_regions(&v));
		snap_sbuf_put(out, s->listens, sizeof(*s->listens) * s->max_listens);
	}
#undef PUT
	if (out->err)
		return out->err;
	return pony_tp_save_v(tp, out, tp_version);
}

int pony_app_save(const struct pony_app_host *h, const struct pony_tp *tp,
		  struct snap_sbuf *out)
{
	return pony_app_save_v(h, tp, out, PONY_TP_SAVE_V_TABLES);
}

static int get(const uint8_t **pp, const uint8_t *end, const struct snap_rec_schema *s,
	       void *recs, size_t n)
{
	char err[160];
	size_t left = (size_t)(end - *pp);
	int r = snap_rec_get(pp, &left, s, recs, n, s->size, err, sizeof(err));
	if (r) {
		SNAP_LOG(ERR, "apps: saved sessions: %s", err);
		return r == -ENOMEM ? r : -EPROTO;
	}
	return 0;
}

int app_save_begin(const uint8_t **pp, const uint8_t *end, uint32_t *version, uint32_t *n)
{
	struct save_hdr3 h3;
	if ((size_t)(end - *pp) < sizeof(h3))
		return -EPROTO;
	memcpy(&h3, *pp, sizeof(h3));
	if (h3.magic != APP_SAVE_MAGIC)
		return -EPROTO;
	*version = h3.version;
	if (h3.version == APP_SAVE_V_TABLES) {
		*pp += sizeof(h3);
		struct save_count c;
		int r = get(pp, end, &pony_schema_app_count, &c, 1);
		if (r)
			return r;
		*n = c.n_sessions;
	} else {
		struct save_hdr sh;
		if (h3.version != APP_SAVE_V_RAW || (size_t)(end - *pp) < sizeof(sh))
			return -EPROTO;
		memcpy(&sh, *pp, sizeof(sh));
		*pp += sizeof(sh);
		if (sh.sz_session != sizeof(struct save_session) ||
		    sh.sz_stream != sizeof(struct app_stream) || sh.sz_op != sizeof(struct app_op) ||
		    sh.sz_region != sizeof(struct app_region) ||
		    sh.sz_listen != sizeof(struct app_listen))
			return -EPROTO;
		*n = sh.n_sessions;
	}
	return *n > RESTORED_MAX ? -EINVAL : 0;
}

void app_sess_free(struct sess_image *si)
{
	free(si->st);
	free(si->ops);
	free(si->rg);
	free(si->ls);
	si->st = NULL;
	si->ops = NULL;
	si->rg = NULL;
	si->ls = NULL;
}

int app_sess_read(uint32_t version, const uint8_t **pp, const uint8_t *end,
		  struct sess_image *si)
{
	struct save_session *v = &si->v;
	memset(si, 0, sizeof(*si));
	if (version == APP_SAVE_V_TABLES) {
		int r = get(pp, end, &pony_schema_app_session, v, 1);
		if (r)
			return r;
	} else {
		if ((size_t)(end - *pp) < sizeof(*v))
			return -EPROTO;
		memcpy(v, *pp, sizeof(*v));
		*pp += sizeof(*v);
	}
	/* Limits first: they size the arrays, so nothing below may trust them unchecked. */
	if (v->max_streams > 65535 || v->max_ops > 32768 || v->max_regions > 65535 ||
	    v->max_listens > 1024)
		return -EINVAL;
	size_t ns = v->max_streams, no = v->max_ops, nr = n_regions(v), nl = v->max_listens;
	si->st = calloc(ns ? ns : 1, sizeof(*si->st));
	si->ops = calloc(no ? no : 1, sizeof(*si->ops));
	si->rg = calloc(nr, sizeof(*si->rg));
	si->ls = calloc(nl ? nl : 1, sizeof(*si->ls));
	if (!si->st || !si->ops || !si->rg || !si->ls)
		return -ENOMEM;
	if (version == APP_SAVE_V_TABLES) {
		int r = get(pp, end, &pony_schema_app_stream, si->st, ns);
		if (r == 0)
			r = get(pp, end, &pony_schema_app_op, si->ops, no);
		if (r == 0)
			r = get(pp, end, &pony_schema_app_region, si->rg, nr);
		if (r == 0)
			r = get(pp, end, &pony_schema_app_listen, si->ls, nl);
		return r;
	}
	/* The blob is a malloc'd frame: copy the tables out rather than cast (alignment). */
	size_t need = ns * sizeof(*si->st) + no * sizeof(*si->ops) + nr * sizeof(*si->rg) +
		      nl * sizeof(*si->ls);
	if ((size_t)(end - *pp) < need)
		return -EPROTO;
	const uint8_t *a = *pp;
	memcpy(si->st, a, ns * sizeof(*si->st));
	a += ns * sizeof(*si->st);
	memcpy(si->ops, a, no * sizeof(*si->ops));
	a += no * sizeof(*si->ops);
	memcpy(si->rg, a, nr * sizeof(*si->rg));
	a += nr * sizeof(*si->rg);
	memcpy(si->ls, a, nl * sizeof(*si->ls));
	*pp = a + nl * sizeof(*si->ls);
	return 0;
}
