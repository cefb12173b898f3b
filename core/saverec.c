/* Self-describing tables of saved records: the schema on the wire, and the by-name mapping
 * between a writer's layout and a reader's (include/snap/saverec.h). Runs in the blackout of
 * an upgrade: a mapping is planned once per table, then applied per record with no lookups,
 * and a table whose layout did not change is one memcpy. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snap/saverec.h"

#define REC_MAGIC 0x43455253u /* "SREC" */
#define REC_SIZE_MAX (1u << 20)

struct rec_hdr {
	uint32_t magic;
	uint16_t name_len, n_fields;
	uint32_t rec_size, count, kept;
};
struct rec_fhdr {
	uint8_t kind, flags;
	uint16_t name_len;
	uint32_t off, size;
};

/* A schema read from the wire: names copied out and terminated. */
struct wire_schema {
	char name[SNAP_REC_NAME_MAX];
	char names[SNAP_REC_FIELDS_MAX][SNAP_REC_NAME_MAX];
	struct snap_rec_field f[SNAP_REC_FIELDS_MAX];
	struct snap_rec_schema s;
};

/* One step of a mapping: copy (or convert) a field, or zero it. */
struct rec_op {
	uint32_t src_off, dst_off, src_size, dst_size;
	uint8_t kind;
	bool zero;
};
struct rec_map {
	bool same;    /* identical layouts: copy whole records */
	uint16_t n;
	struct rec_op op[SNAP_REC_FIELDS_MAX];
};

static bool size_ok(uint8_t kind, uint32_t size)
{
	switch (kind) {
	case SNAP_REC_UINT:
	case SNAP_REC_SINT:
		return size == 1 || size == 2 || size == 4 || size == 8;
	case SNAP_REC_FLOAT:
		return size == 4 || size == 8;
	case SNAP_REC_PTR:
		return size == sizeof(void *);
	case SNAP_REC_BYTES:
		return size > 0;
	default:
		return false;
	}
}

int snap_rec_schema_check(const struct snap_rec_schema *s, char *err, size_t errlen)
{
	if (s->name == NULL || strlen(s->name) == 0 || strlen(s->name) >= SNAP_REC_NAME_MAX ||
	    s->n_fields == 0 || s->n_fields > SNAP_REC_FIELDS_MAX || s->size == 0 ||
	    s->size > REC_SIZE_MAX) {
		snprintf(err, errlen, "table %s: bad name, field count or size",
			 s->name ? s->name : "?");
		return -EINVAL;
	}
	for (unsigned i = 0; i < s->n_fields; i++) {
		const struct snap_rec_field *f = &s->fields[i];
		size_t nl = f->name ? strlen(f->name) : 0;
		if (nl == 0 || nl >= SNAP_REC_NAME_MAX || !size_ok(f->kind, f->size) ||
		    f->off > s->size || f->size > s->size - f->off) {
			snprintf(err, errlen, "table %s: field %s: bad name, kind, size or offset",
				 s->name, f->name ? f->name : "?");
			return -EINVAL;
		}
		for (unsigned j = 0; j < i; j++)
			if (strcmp(s->fields[j].name, f->name) == 0) {
				snprintf(err, errlen, "table %s: field %s twice", s->name, f->name);
				return -EINVAL;
			}
	}
	return 0;
}

static const struct snap_rec_field *find(const struct snap_rec_schema *s, const char *name)
{
	for (unsigned i = 0; i < s->n_fields; i++)
		if (strcmp(s->fields[i].name, name) == 0)
			return &s->fields[i];
	return NULL;
}

static bool retired(const struct snap_rec_schema *s, const char *name)
{
	for (const char *const *r = s->retired; r && *r; r++)
		if (strcmp(*r, name) == 0)
			return true;
	return false;
}

/* Plan the copy of records laid out as src into records laid out as dst. */
static int plan(const struct snap_rec_schema *src, const struct snap_rec_schema *dst,
		struct rec_map *m, char *err, size_t errlen)
{
	m->same = src->size == dst->size && src->n_fields == dst->n_fields;
	m->n = 0;
	for (unsigned i = 0; i < dst->n_fields; i++) {
		const struct snap_rec_field *d = &dst->fields[i], *f = find(src, d->name);
		struct rec_op *op = &m->op[m->n++];
		*op = (struct rec_op){.dst_off = d->off, .dst_size = d->size, .kind = d->kind};
		if (f == NULL) {
			m->same = false;
			if (!(d->flags & SNAP_REC_SINCE)) {
				snprintf(err, errlen, "table %s: field %s missing from the saved "
					 "state (written by a release that predates it)", dst->name,
					 d->name);
				return -EPROTO;
			}
			op->zero = true;
			continue;
		}
		bool integer = d->kind == SNAP_REC_UINT || d->kind == SNAP_REC_SINT;
		if (f->kind != d->kind || (!integer && f->size != d->size)) {
			snprintf(err, errlen, "table %s: field %s changed kind or size (%u/%u bytes "
				 "saved, %u/%u here)", dst->name, d->name, f->kind, f->size,
				 d->kind, d->size);
			return -EPROTO;
		}
		op->src_off = f->off;
		op->src_size = f->size;
		if (f->off != d->off || f->size != d->size)
			m->same = false;
	}
	for (unsigned i = 0; i < src->n_fields; i++) {
		const struct snap_rec_field *f = &src->fields[i];
		if (find(dst, f->name) == NULL && !(f->flags & SNAP_REC_DROPPABLE) &&
		    !retired(dst, f->name)) {
			snprintf(err, errlen, "table %s: saved field %s is unknown here (written "
				 "by a newer release?)", dst->name, f->name);
			return -EPROTO;
		}
	}
	return 0;
}

static uint64_t load_uint(const uint8_t *p, uint32_t size)
{
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	switch (size) {
	case 1: memcpy(&u8, p, 1); return u8;
	case 2: memcpy(&u16, p, 2); return u16;
	case 4: memcpy(&u32, p, 4); return u32;
	default: memcpy(&u64, p, 8); return u64;
	}
}

static int64_t load_sint(const uint8_t *p, uint32_t size)
{
	int8_t s8;
	int16_t s16;
	int32_t s32;
	int64_t s64;
	switch (size) {
	case 1: memcpy(&s8, p, 1); return s8;
	case 2: memcpy(&s16, p, 2); return s16;
	case 4: memcpy(&s32, p, 4); return s32;
	default: memcpy(&s64, p, 8); return s64;
	}
}

/* Store v in size bytes; -ERANGE if it does not fit. */
static int store_int(uint8_t *p, uint32_t size, uint64_t v, bool sign)
{
	unsigned bits = size * 8;
	if (bits < 64) {
		if (sign) {
			int64_t s = (int64_t)v, lim = (int64_t)1 << (bits - 1);
			if (s < -lim || s >= lim)
				return -ERANGE;
		} else if (v >> bits) {
			return -ERANGE;
		}
	}
	uint8_t u8 = (uint8_t)v;
	uint16_t u16 = (uint16_t)v;
	uint32_t u32 = (uint32_t)v;
	switch (size) {
	case 1: memcpy(p, &u8, 1); break;
	case 2: memcpy(p, &u16, 2); break;
	case 4: memcpy(p, &u32, 4); break;
	default: memcpy(p, &v, 8); break;
	}
	return 0;
}

static int apply(const struct rec_map *m, const uint8_t *src, uint8_t *dst)
{
	for (unsigned i = 0; i < m->n; i++) {
		const struct rec_op *op = &m->op[i];
		uint8_t *d = dst + op->dst_off;
		if (op->zero) {
			memset(d, 0, op->dst_size);
		} else if (op->src_size == op->dst_size) {
			memcpy(d, src + op->src_off, op->dst_size);
		} else if (op->kind == SNAP_REC_SINT) {
			int r = store_int(d, op->dst_size,
					  (uint64_t)load_sint(src + op->src_off, op->src_size), true);
			if (r)
				return r;
		} else {
			int r = store_int(d, op->dst_size, load_uint(src + op->src_off, op->src_size),
					  false);
			if (r)
				return r;
		}
	}
	return 0;
}

/* Copy count records, mapped; src_stride/dst_stride apart. */
static int copy_recs(const struct rec_map *m, const uint8_t *src, size_t src_stride,
		     uint8_t *dst, size_t dst_stride, size_t count, size_t rec_size)
{
	if (m->same && src_stride == rec_size && dst_stride == rec_size) {
		memcpy(dst, src, count * rec_size);
		return 0;
	}
	for (size_t i = 0; i < count; i++) {
		const uint8_t *s = src + i * src_stride;
		uint8_t *d = dst + i * dst_stride;
		if (m->same) {
			memcpy(d, s, rec_size);
			continue;
		}
		int r = apply(m, s, d);
		if (r)
			return r;
	}
	return 0;
}

static void put_schema(struct snap_sbuf *out, const struct snap_rec_schema *s, size_t count,
		       size_t kept)
{
	struct rec_hdr h = {.magic = REC_MAGIC, .name_len = (uint16_t)strlen(s->name),
			    .n_fields = s->n_fields, .rec_size = s->size, .count = (uint32_t)count,
			    .kept = (uint32_t)kept};
	snap_sbuf_put(out, &h, sizeof(h));
	snap_sbuf_put(out, s->name, h.name_len);
	for (unsigned i = 0; i < s->n_fields; i++) {
		const struct snap_rec_field *f = &s->fields[i];
		struct rec_fhdr fh = {.kind = f->kind, .flags = f->flags,
				      .name_len = (uint16_t)strlen(f->name), .off = f->off,
				      .size = f->size};
		snap_sbuf_put(out, &fh, sizeof(fh));
		snap_sbuf_put(out, f->name, fh.name_len);
	}
}

/* n records of size bytes, stride apart. */
static void put_recs(struct snap_sbuf *out, const uint8_t *recs, size_t n, size_t stride,
		     size_t size)
{
	if (stride == size) {
		snap_sbuf_put(out, recs, n * size);
		return;
	}
	for (size_t i = 0; i < n; i++)
		snap_sbuf_put(out, recs + i * stride, size);
}

int snap_rec_put(struct snap_sbuf *out, const struct snap_rec_schema *s, const void *recs,
		 size_t count, size_t stride, const struct snap_rec_schema *dst, char *err,
		 size_t errlen)
{
	if (count > UINT32_MAX)
		return -EINVAL;
	if (dst == NULL) {
		put_schema(out, s, count, count);
		put_recs(out, recs, count, stride, s->size);
		return out->err;
	}
	struct rec_map m;
	int r = plan(s, dst, &m, err, errlen);
	if (r)
		return r;
	put_schema(out, dst, count, count);
	size_t at = out->len, n = count * dst->size;
	/* Room for the mapped records, zeroed (padding and fields the mapping leaves). */
	for (size_t z = 0; z < n && out->err == 0;) {
		static const uint8_t zeros[4096];
		size_t k = n - z < sizeof(zeros) ? n - z : sizeof(zeros);
		snap_sbuf_put(out, zeros, k);
		z += k;
	}
	if (out->err)
		return out->err;
	r = copy_recs(&m, recs, stride, out->data + at, dst->size, count, dst->size);
	if (r)
		snprintf(err, errlen, "table %s: a value does not fit the older layout", s->name);
	return r;
}

int snap_rec_put_sparse(struct snap_sbuf *out, const struct snap_rec_schema *s,
			const void *recs, size_t count, size_t stride, size_t group,
			bool (*keep)(size_t g, void *ctx), void *ctx)
{
	if (count > UINT32_MAX || group == 0 || count % group)
		return -EINVAL;
	size_t groups = count / group, kept = 0;
	for (size_t g = 0; g < groups; g++)
		kept += keep(g, ctx) ? group : 0;
	put_schema(out, s, count, kept);
	if (kept < count) {
		/* The indices, then the records: the kept groups' indices are read back from
		 * what was just written, so keep() is asked once per group here too. */
		size_t at = out->len;
		for (size_t g = 0; g < groups; g++) {
			if (!keep(g, ctx))
				continue;
			for (size_t i = g * group; i < (g + 1) * group; i++) {
				uint32_t idx = (uint32_t)i;
				snap_sbuf_put(out, &idx, sizeof(idx));
			}
		}
		if (out->err)
			return out->err;
		if (out->len - at != kept * sizeof(uint32_t))
			return -EAGAIN; /* keep() changed its mind: a caller's bug */
		for (size_t k = 0; k < kept; k += group) {
			uint32_t i;
			memcpy(&i, out->data + at + k * sizeof(i), sizeof(i));
			put_recs(out, (const uint8_t *)recs + (size_t)i * stride, group, stride,
				 s->size);
		}
		return out->err;
	}
	put_recs(out, recs, count, stride, s->size);
	return out->err;
}

static const void *take(const uint8_t **p, size_t *left, size_t n)
{
	if (n > *left)
		return NULL;
	const void *q = *p;
	*p += n;
	*left -= n;
	return q;
}

/* Parse a table's header and schema from the wire into w. */
static int get_schema(const uint8_t **p, size_t *left, struct wire_schema *w, uint32_t *count,
		      uint32_t *kept, char *err, size_t errlen)
{
	struct rec_hdr h;
	const void *q = take(p, left, sizeof(h));
	if (q == NULL)
		goto trunc;
	memcpy(&h, q, sizeof(h));
	if (h.magic != REC_MAGIC || h.name_len == 0 || h.name_len >= SNAP_REC_NAME_MAX ||
	    h.kept > h.count ||
	    h.n_fields == 0 || h.n_fields > SNAP_REC_FIELDS_MAX || h.rec_size == 0 ||
	    h.rec_size > REC_SIZE_MAX) {
		snprintf(err, errlen, "saved table: bad header");
		return -EINVAL;
	}
	if ((q = take(p, left, h.name_len)) == NULL)
		goto trunc;
	memcpy(w->name, q, h.name_len);
	w->name[h.name_len] = '\0';
	for (unsigned i = 0; i < h.n_fields; i++) {
		struct rec_fhdr fh;
		if ((q = take(p, left, sizeof(fh))) == NULL)
			goto trunc;
		memcpy(&fh, q, sizeof(fh));
		if (fh.name_len == 0 || fh.name_len >= SNAP_REC_NAME_MAX ||
		    (q = take(p, left, fh.name_len)) == NULL)
			goto trunc;
		memcpy(w->names[i], q, fh.name_len);
		w->names[i][fh.name_len] = '\0';
		w->f[i] = (struct snap_rec_field){.name = w->names[i], .off = fh.off,
						  .size = fh.size, .kind = fh.kind,
						  .flags = fh.flags};
	}
	w->s = (struct snap_rec_schema){.name = w->name, .size = h.rec_size,
					.n_fields = h.n_fields, .fields = w->f};
	*count = h.count;
	*kept = h.kept;
	int r = snap_rec_schema_check(&w->s, err, errlen);
	return r ? -EINVAL : 0;
trunc:
	snprintf(err, errlen, "saved table: truncated");
	return -EINVAL;
}

/* A table read up to its records: the header checked against the reader's name and count,
 * the wire records (and indices, if sparse) taken, and the mapping planned. */
struct got {
	uint32_t kept;
	const uint8_t *idx; /* kept ascending u32s, unaligned; NULL when every record was kept */
	const uint8_t *recs;
	uint32_t wire_size;
};

static int get_begin(const uint8_t **p, size_t *left, const struct snap_rec_schema *s,
		     size_t count, struct rec_map *m, struct got *g, char *err, size_t errlen)
{
	/* The wire schema is large (names): keep it off the engine's stack. */
	static __thread struct wire_schema w;
	uint32_t n, kept;
	int r = get_schema(p, left, &w, &n, &kept, err, errlen);
	if (r)
		return r;
	if (strcmp(w.name, s->name) != 0 || n != count) {
		snprintf(err, errlen, "saved table %s of %u records where %s of %zu belongs",
			 w.name, n, s->name, count);
		return -EINVAL;
	}
	g->kept = kept;
	g->wire_size = w.s.size;
	g->idx = kept < n ? take(p, left, (size_t)kept * sizeof(uint32_t)) : NULL;
	g->recs = take(p, left, (size_t)kept * w.s.size);
	if (g->recs == NULL || (kept < n && g->idx == NULL)) {
		snprintf(err, errlen, "saved table %s: truncated records", s->name);
		return -EINVAL;
	}
	return plan(&w.s, s, m, err, errlen);
}

/* The k-th kept record's index, checked: below count and above the one before. */
static int got_index(const struct got *g, const struct snap_rec_schema *s, size_t count,
		     uint32_t k, uint32_t *i, char *err, size_t errlen)
{
	uint32_t last = *i;
	memcpy(i, g->idx + (size_t)k * sizeof(*i), sizeof(*i));
	if (*i >= count || (k > 0 && *i <= last)) {
		snprintf(err, errlen, "saved table %s: bad record index", s->name);
		return -EINVAL;
	}
	return 0;
}

static int got_range(int r, const struct snap_rec_schema *s, char *err, size_t errlen)
{
	if (r == -ERANGE)
		snprintf(err, errlen, "saved table %s: a value does not fit this release's field",
			 s->name);
	return r;
}

int snap_rec_get(const uint8_t **p, size_t *left, const struct snap_rec_schema *s, void *recs,
		 size_t count, size_t stride, char *err, size_t errlen)
{
	static __thread struct rec_map m;
	struct got g;
	int r = get_begin(p, left, s, count, &m, &g, err, errlen);
	if (r)
		return r;
	if (g.idx == NULL)
		return got_range(copy_recs(&m, g.recs, g.wire_size, recs, stride, count, s->size),
				 s, err, errlen);
	/* Sparse: each kept record to its index (ascending, so each at most once). */
	for (uint32_t k = 0, i = 0; k < g.kept; k++) {
		if ((r = got_index(&g, s, count, k, &i, err, errlen)) != 0)
			return r;
		r = copy_recs(&m, g.recs + (size_t)k * g.wire_size, g.wire_size,
			      (uint8_t *)recs + (size_t)i * stride, stride, 1, s->size);
		if (r)
			return got_range(r, s, err, errlen);
	}
	return 0;
}

int snap_rec_get_kept(const uint8_t **p, size_t *left, const struct snap_rec_schema *s,
		      size_t count, struct snap_rec_kept *out, char *err, size_t errlen)
{
	static __thread struct rec_map m;
	struct got g;
	*out = (struct snap_rec_kept){0};
	int r = get_begin(p, left, s, count, &m, &g, err, errlen);
	if (r)
		return r;
	out->recs = calloc(g.kept ? g.kept : 1, s->size);
	out->idx = g.idx ? malloc((g.kept ? g.kept : 1) * sizeof(uint32_t)) : NULL;
	if (out->recs == NULL || (g.idx && out->idx == NULL)) {
		snap_rec_kept_free(out);
		snprintf(err, errlen, "saved table %s: out of memory", s->name);
		return -ENOMEM;
	}
	out->n = g.kept;
	for (uint32_t k = 0, i = 0; g.idx && k < g.kept; k++) {
		if ((r = got_index(&g, s, count, k, &i, err, errlen)) != 0)
			break;
		out->idx[k] = i;
	}
	if (r == 0)
		r = got_range(copy_recs(&m, g.recs, g.wire_size, out->recs, s->size, g.kept,
					s->size), s, err, errlen);
	if (r)
		snap_rec_kept_free(out);
	return r;
}

void snap_rec_kept_free(struct snap_rec_kept *k)
{
	free(k->recs);
	free(k->idx);
	*k = (struct snap_rec_kept){0};
}
