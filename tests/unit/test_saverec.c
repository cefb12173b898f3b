/* Self-describing saved tables (core/saverec.c, issue 18): a table written by one release's
 * layout is read by another's: fields added, removed, moved, widened and narrowed, each
 * allowed only when the schemas say so, refused by name otherwise; damaged tables refused;
 * every transport schema (pony/save_schema.c) lists every member of its struct. No EAL. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pony/save_int.h"
#include "snap/saverec.h"

/* "Release 1" of a record, and "release 2": b removed, a widened and moved, d added. */
struct rec1 {
	uint32_t a;
	uint16_t b;
	int16_t s;
	uint64_t c;
	double x;
};
struct rec2 {
	uint64_t c;
	uint64_t a;
	int64_t s;
	uint32_t d;
	double x;
};
static const struct snap_rec_field f1[] = {
	SNAP_REC_F(struct rec1, UINT, a), SNAP_REC_F(struct rec1, UINT, b),
	SNAP_REC_F(struct rec1, SINT, s), SNAP_REC_F(struct rec1, UINT, c),
	SNAP_REC_F(struct rec1, FLOAT, x),
};
static const struct snap_rec_field f2[] = {
	SNAP_REC_F(struct rec2, UINT, c), SNAP_REC_F(struct rec2, UINT, a),
	SNAP_REC_F(struct rec2, SINT, s), SNAP_REC_FX(struct rec2, UINT, d, SNAP_REC_SINCE),
	SNAP_REC_F(struct rec2, FLOAT, x),
};
static const char *const gone[] = {"b", NULL};
static const struct snap_rec_schema s1 = {"t", sizeof(struct rec1), 5, f1, NULL};
static const struct snap_rec_schema s2 = {"t", sizeof(struct rec2), 5, f2, gone};

static char err[200];

static void put1(struct snap_sbuf *b, const struct rec1 *r, size_t n)
{
	snap_sbuf_init(b);
	assert_int_equal(snap_rec_put(b, &s1, r, n, sizeof(*r), NULL, err, sizeof(err)), 0);
}

static int get(const struct snap_sbuf *b, const struct snap_rec_schema *s, void *out, size_t n,
	       size_t stride)
{
	const uint8_t *p = b->data;
	size_t left = b->len;
	int r = snap_rec_get(&p, &left, s, out, n, stride, err, sizeof(err));
	if (r == 0)
		assert_int_equal(left, 0);
	return r;
}

static void test_same_layout(void **st)
{
	struct rec1 in[3] = {{1, 2, -3, 4, 0.5}, {5, 6, 7, 8, 1.5}, {9, 10, -11, 12, 2.5}}, out[3];
	struct snap_sbuf b;
	put1(&b, in, 3);
	memset(out, 0, sizeof(out));
	assert_int_equal(get(&b, &s1, out, 3, sizeof(out[0])), 0);
	assert_memory_equal(in, out, sizeof(in));
	snap_sbuf_fini(&b);
}

static void test_newer_reads_older(void **st)
{
	struct rec1 in[2] = {{0xfffffff0u, 2, -300, 1ull << 40, 3.25}, {7, 8, 9, 10, -1.0}};
	struct rec2 out[2];
	struct snap_sbuf b;
	put1(&b, in, 2);
	memset(out, 0, sizeof(out));
	assert_int_equal(get(&b, &s2, out, 2, sizeof(out[0])), 0);
	assert_int_equal(out[0].a, 0xfffffff0u);
	assert_int_equal(out[0].c, 1ull << 40);
	assert_int_equal(out[0].s, -300);
	assert_int_equal(out[0].d, 0);
	assert_true(out[0].x == 3.25);
	assert_int_equal(out[1].a, 7);
	assert_true(out[1].x == -1.0);
	/* Without b retired, or d allowed to be missing, the same blob is refused by name. */
	struct snap_rec_schema strict = s2;
	strict.retired = NULL;
	assert_int_equal(get(&b, &strict, out, 2, sizeof(out[0])), -EPROTO);
	assert_non_null(strstr(err, "field b"));
	struct snap_rec_field fd[5];
	memcpy(fd, f2, sizeof(fd));
	fd[3].flags = 0;
	strict = s2;
	strict.fields = fd;
	assert_int_equal(get(&b, &strict, out, 2, sizeof(out[0])), -EPROTO);
	assert_non_null(strstr(err, "field d"));
	snap_sbuf_fini(&b);
}

/* A roll-back: the newer layout written as the older one expects, values narrowed when they
 * fit, refused when they do not; a new field dropped only if marked droppable. */
static void test_write_older_layout(void **st)
{
	struct rec2 in[1] = {{.c = 5, .a = 70000, .s = -2, .d = 0, .x = 0.25}};
	struct rec1 out[1];
	struct snap_sbuf b;
	struct snap_rec_field fw[5];
	memcpy(fw, f2, sizeof(fw));
	struct snap_rec_schema w = s2;
	w.fields = fw;
	/* rec1 has b, which rec2 lacks: b may be zero for that release (SINCE there). */
	struct snap_rec_field fo[5];
	memcpy(fo, f1, sizeof(fo));
	fo[1].flags = SNAP_REC_SINCE;
	struct snap_rec_schema old = s1;
	old.fields = fo;
	snap_sbuf_init(&b);
	assert_int_equal(snap_rec_put(&b, &w, in, 1, sizeof(in[0]), &old, err, sizeof(err)),
			 -EPROTO); /* d is unknown to the older release */
	assert_non_null(strstr(err, "field d"));
	fw[3].flags |= SNAP_REC_DROPPABLE;
	snap_sbuf_fini(&b);
	snap_sbuf_init(&b);
	assert_int_equal(snap_rec_put(&b, &w, in, 1, sizeof(in[0]), &old, err, sizeof(err)), 0);
	memset(out, 0xff, sizeof(out));
	memset(out, 0, sizeof(out));
	assert_int_equal(get(&b, &s1, out, 1, sizeof(out[0])), 0);
	assert_int_equal(out[0].a, 70000);
	assert_int_equal(out[0].b, 0);
	assert_int_equal(out[0].s, -2);
	assert_int_equal(out[0].c, 5);
	snap_sbuf_fini(&b);
	/* 2^40 does not fit rec1's 32-bit a; -40000 does not fit its int16_t s. */
	in[0].a = 1ull << 40;
	snap_sbuf_init(&b);
	assert_int_equal(snap_rec_put(&b, &w, in, 1, sizeof(in[0]), &old, err, sizeof(err)),
			 -ERANGE);
	snap_sbuf_fini(&b);
	in[0].a = 1;
	in[0].s = -40000;
	snap_sbuf_init(&b);
	assert_int_equal(snap_rec_put(&b, &w, in, 1, sizeof(in[0]), &old, err, sizeof(err)),
			 -ERANGE);
	snap_sbuf_fini(&b);
}

static void test_kind_change_refused(void **st)
{
	struct rec1 in[1] = {{1, 2, 3, 4, 5.0}};
	struct snap_sbuf b;
	put1(&b, in, 1);
	struct snap_rec_field fk[5];
	memcpy(fk, f1, sizeof(fk));
	fk[4].kind = SNAP_REC_UINT; /* x was a double */
	struct snap_rec_schema k = s1;
	k.fields = fk;
	struct rec1 out[1];
	assert_int_equal(get(&b, &k, out, 1, sizeof(out[0])), -EPROTO);
	assert_non_null(strstr(err, "field x"));
	snap_sbuf_fini(&b);
}

/* Every prefix of a table, and every single-byte change of its header and schema, is
 * refused or read without reading past the end. */
static void test_damaged(void **st)
{
	struct rec1 in[2] = {{1, 2, 3, 4, 5.0}, {6, 7, 8, 9, 10.0}}, out[2];
	struct snap_sbuf b;
	put1(&b, in, 2);
	for (size_t n = 0; n < b.len; n++) {
		const uint8_t *p = b.data;
		size_t left = n;
		assert_int_equal(snap_rec_get(&p, &left, &s1, out, 2, sizeof(out[0]), err,
					      sizeof(err)), -EINVAL);
	}
	size_t schema_len = b.len - sizeof(in);
	for (size_t i = 0; i < schema_len; i++) {
		for (unsigned v = 0; v < 256; v += 51) {
			uint8_t *copy = malloc(b.len);
			memcpy(copy, b.data, b.len);
			copy[i] ^= (uint8_t)(v | 1);
			const uint8_t *p = copy;
			size_t left = b.len;
			int r = snap_rec_get(&p, &left, &s1, out, 2, sizeof(out[0]), err,
					     sizeof(err));
			assert_true(r == 0 || r == -EINVAL || r == -EPROTO || r == -ERANGE);
			free(copy);
		}
	}
	/* Another table's name or another count. */
	struct snap_rec_schema other = s1;
	other.name = "u";
	assert_int_equal(get(&b, &other, out, 2, sizeof(out[0])), -EINVAL);
	assert_int_equal(get(&b, &s1, out, 1, sizeof(out[0])), -EINVAL);
	snap_sbuf_fini(&b);
}

static bool odd(size_t i, void *ctx)
{
	return i % 2 == 1;
}

/* A sparse table: only the kept records travel; the others read back as zeros; indices out
 * of order or range refused; read through another layout too. */
static void test_sparse(void **st)
{
	struct rec1 in[5], out[5], zero;
	memset(&zero, 0, sizeof(zero));
	for (unsigned i = 0; i < 5; i++)
		in[i] = (struct rec1){i + 1, (uint16_t)(i + 2), (int16_t)-i, i + 4, i + 0.5};
	struct snap_sbuf b;
	snap_sbuf_init(&b);
	assert_int_equal(snap_rec_put_sparse(&b, &s1, in, 5, sizeof(in[0]), 1, odd, NULL), 0);
	memset(out, 0, sizeof(out));
	assert_int_equal(get(&b, &s1, out, 5, sizeof(out[0])), 0);
	for (unsigned i = 0; i < 5; i++)
		assert_memory_equal(&out[i], i % 2 ? &in[i] : &zero, sizeof(zero));
	struct rec2 o2[5];
	memset(o2, 0, sizeof(o2));
	assert_int_equal(get(&b, &s2, o2, 5, sizeof(o2[0])), 0);
	assert_int_equal(o2[3].a, 4);
	assert_int_equal(o2[2].a, 0);
	/* The two indices (1, 3) swapped: refused. */
	size_t at = b.len - 2 * sizeof(in[0]) - 2 * sizeof(uint32_t);
	uint32_t i1, i3;
	memcpy(&i1, b.data + at, 4);
	memcpy(&i3, b.data + at + 4, 4);
	assert_int_equal(i1, 1);
	assert_int_equal(i3, 3);
	memcpy(b.data + at, &i3, 4);
	memcpy(b.data + at + 4, &i1, 4);
	assert_int_equal(get(&b, &s1, out, 5, sizeof(out[0])), -EINVAL);
	uint32_t big = 5;
	memcpy(b.data + at, &big, 4);
	assert_int_equal(get(&b, &s1, out, 5, sizeof(out[0])), -EINVAL);
	snap_sbuf_fini(&b);
}

static bool middle_pair(size_t g, void *ctx)
{
	return g == 1;
}

/* Sparse by groups (a flow's descriptors, a stream's send queue): a group is kept whole or
 * not at all; a group that does not divide the table refused. Read back kept-only
 * (snap_rec_get_kept): the records written with their indices, in the reader's layout; a
 * dense table has no indices. */
static void test_sparse_groups_kept(void **st)
{
	struct rec1 in[6];
	for (unsigned i = 0; i < 6; i++)
		in[i] = (struct rec1){i + 1, (uint16_t)(i + 2), (int16_t)-i, i + 4, i + 0.5};
	struct snap_sbuf b;
	snap_sbuf_init(&b);
	assert_int_equal(snap_rec_put_sparse(&b, &s1, in, 6, sizeof(in[0]), 4, middle_pair, NULL),
			 -EINVAL);
	assert_int_equal(snap_rec_put_sparse(&b, &s1, in, 6, sizeof(in[0]), 2, middle_pair, NULL),
			 0);
	const uint8_t *p = b.data;
	size_t left = b.len;
	struct snap_rec_kept k;
	assert_int_equal(snap_rec_get_kept(&p, &left, &s2, 6, &k, err, sizeof(err)), 0);
	assert_int_equal(left, 0);
	assert_int_equal(k.n, 2);
	assert_non_null(k.idx);
	assert_int_equal(k.idx[0], 2);
	assert_int_equal(k.idx[1], 3);
	const struct rec2 *r2 = k.recs;
	assert_int_equal(r2[0].a, 3);
	assert_int_equal(r2[1].a, 4);
	snap_rec_kept_free(&k);
	/* Another count than the writer's: refused, nothing to free. */
	p = b.data;
	left = b.len;
	assert_int_equal(snap_rec_get_kept(&p, &left, &s1, 5, &k, err, sizeof(err)), -EINVAL);
	assert_null(k.recs);
	snap_sbuf_fini(&b);
	/* Dense: every record, no indices. */
	snap_sbuf_init(&b);
	assert_int_equal(snap_rec_put(&b, &s1, in, 6, sizeof(in[0]), NULL, err, sizeof(err)), 0);
	p = b.data;
	left = b.len;
	assert_int_equal(snap_rec_get_kept(&p, &left, &s1, 6, &k, err, sizeof(err)), 0);
	assert_int_equal(k.n, 6);
	assert_null(k.idx);
	assert_memory_equal(k.recs, in, sizeof(in));
	snap_rec_kept_free(&k);
	/* A reserved buffer: room and length kept, puts land after what was there. */
	assert_int_equal(snap_sbuf_reserve(&b, 1u << 20), 0);
	assert_true(b.cap >= 1u << 20);
	size_t len = b.len;
	snap_sbuf_put(&b, "x", 1);
	assert_int_equal(b.len, len + 1);
	assert_int_equal(b.data[len], 'x');
	snap_sbuf_fini(&b);
}

/* The natural alignment of a field of this kind and size (bytes fields: unknown, 1). */
static uint32_t align_of(const struct snap_rec_field *f)
{
	if (f->kind == SNAP_REC_BYTES)
		return 1;
	return f->size;
}

static int by_off(const void *a, const void *b)
{
	const struct snap_rec_field *x = a, *y = b;
	return x->off < y->off ? -1 : x->off > y->off;
}

/* Each schema is valid and covers its struct: sorted by offset, fields do not overlap and
 * the gaps between them are at most padding (shorter than the next field's alignment, and
 * than 8 bytes at the end). A member added to the struct but not to its schema leaves a
 * gap of its size. */
static void test_pony_schemas_cover(void **st)
{
	for (unsigned i = 0; pony_save_schemas[i]; i++) {
		const struct snap_rec_schema *s = pony_save_schemas[i];
		assert_int_equal(snap_rec_schema_check(s, err, sizeof(err)), 0);
		struct snap_rec_field f[SNAP_REC_FIELDS_MAX];
		memcpy(f, s->fields, s->n_fields * sizeof(f[0]));
		qsort(f, s->n_fields, sizeof(f[0]), by_off);
		uint32_t at = 0;
		bool cl_aligned = false; /* has a cache-line aligned member: so has the struct */
		for (unsigned k = 0; k < s->n_fields; k++) {
			uint32_t a = align_of(&f[k]), gap = f[k].off - at;
			/* A member aligned to a cache line (PONY_SHM_ALIGNED) may follow up to
			 * 63 bytes of padding. */
			uint32_t pad_max = f[k].off % 64 == 0 ? 64 : a > 1 ? a : 8;
			cl_aligned |= f[k].off % 64 == 0 && gap >= 8;
			if (f[k].off < at || gap >= pad_max) {
				fprintf(stderr, "%s: %u bytes before %s not listed\n", s->name,
					f[k].off - at, f[k].name);
				fail();
			}
			at = f[k].off + f[k].size;
		}
		if (s->size - at >= (cl_aligned ? 64u : 8u)) {
			fprintf(stderr, "%s: %u bytes at the end not listed\n", s->name,
				s->size - at);
			fail();
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_layout),
		cmocka_unit_test(test_newer_reads_older),
		cmocka_unit_test(test_write_older_layout),
		cmocka_unit_test(test_kind_change_refused),
		cmocka_unit_test(test_damaged),
		cmocka_unit_test(test_sparse),
		cmocka_unit_test(test_sparse_groups_kept),
		cmocka_unit_test(test_pony_schemas_cover),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
