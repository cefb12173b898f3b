/* One-sided ops end to end: app A (libpony) -> A's transport -> simulated link (loss,
 * duplication, reordering) -> B's transport executing on B's registered regions, B's app
 * never polled. Every op type with data checked byte for byte, regions at both edges of the
 * payload area, exactly-once execution under retransmission (B's executed count), every
 * error case with its distinct status and B's counter, guard bytes around the regions
 * never touched, and revocation racing with ops in flight. */
#include "pony_sim_app.h"
#include "pony_kv.h"


static struct sim_apps P;
static struct pony_app *a, *b;
static struct pony_tp *tpB;
static uint8_t *areaB; /* B's payload area as B's app sees it */
static size_t sizeB;

static void step(void)
{
	sim_apps_step(&P);
}

static unsigned collect(struct pony_app *x, struct pony_completion *out, unsigned n)
{
	return sim_apps_collect(&P, x, out, n);
}

static struct pony_completion one(void)
{
	struct pony_completion c;
	CHECK(collect(a, &c, 1) == 1);
	return c;
}

static struct pony_remote reg(void *buf, uint64_t len, uint32_t perms)
{
	CHECK(pony_region_register(b, buf, len, perms, 5) == 0);
	struct pony_completion c;
	CHECK(collect(b, &c, 1) == 1);
	CHECK(c.op == PONY_OP_REGION_REG && c.status == 0);
	return (struct pony_remote){.ip = 0x7f000002, .region = c.region, .key = c.key};
}

static uint64_t st_count(unsigned st)
{
	struct pony_os_stats s;
	pony_tp_os_stats(tpB, &s);
	return s.status[st];
}

/* Submit through f, expect status and length; check B's counter for the status moved. */
#define EXPECT(call, want_status, want_len, ost)                                          \
	do {                                                                              \
		uint64_t before_ = st_count(ost);                                         \
		CHECK((call) == 0);                                                       \
		struct pony_completion c_ = one();                                        \
		if (c_.status != (want_status) || c_.len != (want_len))                   \
			fprintf(stderr, "status %d len %u\n", c_.status, c_.len);       \
		CHECK(c_.status == (want_status) && c_.len == (uint32_t)(want_len));      \
		CHECK(st_count(ost) == before_ + 1);                                      \
	} while (0)

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((i * 131 + seed) >> 3 ^ (i >> 8) ^ seed);
}

static void test_read_write_edges(const struct pony_remote *whole, uint8_t *dst)
{
	fill(areaB, sizeB, 1);
	/* Reads at both edges of the payload area, all lengths classes. */
	const uint32_t lens[] = {1, 8, 63, 64, 65, 1000, PONY_ONESIDED_MAX};
	for (unsigned i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint32_t l = lens[i];
		uint64_t offs[] = {0, sizeB - l, (sizeB / 2) + 3};
		for (unsigned k = 0; k < 3; k++) {
			memset(dst, 0xee, l);
			EXPECT(pony_read(a, whole, offs[k], dst, l, 1), 0, l, PONY_OS_ST_OK);
			CHECK(memcmp(dst, areaB + offs[k], l) == 0);
		}
	}
	/* Writes at both edges. */
	uint8_t *src = dst + 4096;
	for (unsigned i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint32_t l = lens[i];
		fill(src, l, 77 + i);
		EXPECT(pony_write(a, whole, sizeB - l, src, l, 2), 0, l, PONY_OS_ST_OK);
		CHECK(memcmp(areaB + sizeB - l, src, l) == 0);
		EXPECT(pony_write(a, whole, 0, src, l, 2), 0, l, PONY_OS_ST_OK);
		CHECK(memcmp(areaB, src, l) == 0);
	}
	printf("read/write at the edges ok\n");
}

/* Many ops in flight under loss and duplication: every op completes once, data exact, and
 * B executed exactly as many ops as A submitted (a retransmitted request is not re-run). */
static void test_many_in_flight(const struct pony_remote *whole, uint8_t *dst)
{
	struct pony_os_stats s0, s1;
	pony_tp_os_stats(tpB, &s0);
	sim_link.loss = 0.05;
	sim_link.dup = 0.05;
	sim_link.reorder = 0.05;
	sim_link.reorder_ns = 20000;
	const unsigned N = 200; /* < the command ring (256) */
	/* Writes of distinct bytes to distinct slots, then reads of every slot. */
	uint8_t *src = dst + 65536;
	for (unsigned i = 0; i < N; i++) {
		fill(src + i * 64, 64, 1000 + i);
		CHECK(pony_write(a, whole, 100000 + i * 64, src + i * 64, 64, i) == 0);
	}
	struct pony_completion *cp = calloc(N, sizeof(*cp));
	CHECK(collect(a, cp, N) == N);
	for (unsigned i = 0; i < N; i++)
		CHECK(cp[i].status == 0 && cp[i].op == PONY_OP_WRITE && cp[i].len == 64);
	for (unsigned i = 0; i < N; i++)
		CHECK(pony_read(a, whole, 100000 + i * 64, dst + i * 64, 64, i) == 0);
	CHECK(collect(a, cp, N) == N);
	for (unsigned i = 0; i < N; i++) {
		CHECK(cp[i].status == 0 && cp[i].op == PONY_OP_READ && cp[i].len == 64);
		CHECK(cp[i].buf == dst + cp[i].tag * 64);
	}
	CHECK(memcmp(dst, src, N * 64) == 0);
	CHECK(memcmp(areaB + 100000, src, N * 64) == 0);
	pony_tp_os_stats(tpB, &s1);
	struct pony_tp_stats ts;
	pony_tp_get_stats(sim_ep[0].tp, &ts);
	printf("in flight: %u writes + %u reads, B executed %lu, A retransmits %lu, dup_rx(B) ...\n",
	       N, N, (unsigned long)(s1.executed - s0.executed), (unsigned long)ts.retransmits);
	CHECK(s1.executed - s0.executed == 2 * N);
	CHECK(s1.req_pkts_rx - s0.req_pkts_rx < 2 * N); /* batched */
	sim_link.loss = sim_link.dup = sim_link.reorder = 0;
	free(cp);
}

static void test_indirect(const struct pony_remote *whole, uint8_t *dst)
{
	fill(areaB, sizeB, 9);
	/* Descriptor {offset, len} at the very end of the area naming bytes at its start. */
	uint32_t d[2] = {16, 300};
	memcpy(areaB + sizeB - 8, d, 8);
	EXPECT(pony_read_indirect(a, whole, sizeB - 8, dst, 512, 0, 3), 0, 300, PONY_OS_ST_OK);
	CHECK(memcmp(dst, areaB + 16, 300) == 0);
	/* Pointer-as-offset naming the last 200 bytes. */
	uint64_t ptr = sizeB - 200;
	memcpy(areaB + 4096, &ptr, 8);
	EXPECT(pony_read_indirect(a, whole, 4096, dst, 200, PONY_INDIRECT_PTR, 3), 0, 200,
	       PONY_OS_ST_OK);
	CHECK(memcmp(dst, areaB + sizeB - 200, 200) == 0);
	/* Leaving the region at the second step: one byte past the end, huge offsets. */
	ptr = sizeB - 199;
	memcpy(areaB + 4096, &ptr, 8);
	EXPECT(pony_read_indirect(a, whole, 4096, dst, 200, PONY_INDIRECT_PTR, 3), -EOVERFLOW, 0,
	       PONY_OS_ST_BAD_DESC);
	ptr = UINT64_MAX - 10;
	memcpy(areaB + 4096, &ptr, 8);
	EXPECT(pony_read_indirect(a, whole, 4096, dst, 200, PONY_INDIRECT_PTR, 3), -EOVERFLOW, 0,
	       PONY_OS_ST_BAD_DESC);
	d[0] = (uint32_t)sizeB - 10;
	d[1] = 11;
	memcpy(areaB + 4096, d, 8);
	EXPECT(pony_read_indirect(a, whole, 4096, dst, 512, 0, 3), -EOVERFLOW, 0, PONY_OS_ST_BAD_DESC);
	d[0] = UINT32_MAX;
	d[1] = 1;
	memcpy(areaB + 4096, d, 8);
	EXPECT(pony_read_indirect(a, whole, 4096, dst, 512, 0, 3), -EOVERFLOW, 0, PONY_OS_ST_BAD_DESC);
	/* Descriptor longer than the requester's buffer: the length comes back, no data. */
	d[0] = 0;
	d[1] = 600;
	memcpy(areaB + 4096, d, 8);
	EXPECT(pony_read_indirect(a, whole, 4096, dst, 512, 0, 3), -EMSGSIZE, 600, PONY_OS_ST_TOO_BIG);
	/* The descriptor itself outside: last 7 bytes. */
	EXPECT(pony_read_indirect(a, whole, sizeB - 7, dst, 512, 0, 3), -ERANGE, 0, PONY_OS_ST_RANGE);
	printf("indirect ok\n");
}

static void test_scan(uint8_t *dst)
{
	/* The KV table exactly as the example server keeps it, at an offset inside a region. */
	const uint32_t nb = 64;
	uint8_t *tbuf = pony_buf_alloc(b, 4096 + kv_region_size(nb));
	CHECK(tbuf);
	struct kv_table_hdr *t = (struct kv_table_hdr *)(tbuf + 4096);
	kv_init(t, nb);
	char key[32], val[KV_VAL_MAX];
	for (unsigned i = 0; i < 40; i++) {
		int kl = snprintf(key, sizeof(key), "key-%u", i);
		unsigned vl = 1 + i * 2;
		memset(val, 'a' + i % 26, vl);
		CHECK(kv_put(t, key, (unsigned)kl, val, vl) == 0);
	}
	struct pony_remote rm = reg(tbuf, 4096 + kv_region_size(nb), PONY_REGION_READ);
	for (unsigned i = 0; i < 40; i++) {
		int kl = snprintf(key, sizeof(key), "key-%u", i);
		unsigned vl = 1 + i * 2;
		memset(val, 'a' + i % 26, vl);
		EXPECT(pony_scan_read(a, &rm, 4096, key, (uint32_t)kl, dst, KV_VAL_MAX, 4), 0, vl,
		       PONY_OS_ST_OK);
		CHECK(memcmp(dst, val, vl) == 0);
	}
	EXPECT(pony_scan_read(a, &rm, 4096, "nope", 4, dst, KV_VAL_MAX, 4), -ENODATA, 0,
	       PONY_OS_ST_NOT_FOUND);
	/* Value longer than the buffer: its length comes back. */
	EXPECT(pony_scan_read(a, &rm, 4096, "key-39", 6, dst, 10, 4), -EMSGSIZE, 79, PONY_OS_ST_TOO_BIG);
	/* No table there, a table whose header lies (buckets past the region), a torn bucket. */
	EXPECT(pony_scan_read(a, &rm, 0, "key-1", 5, dst, KV_VAL_MAX, 4), -EILSEQ, 0,
	       PONY_OS_ST_BAD_TABLE);
	t->n_buckets = 1u << 20;
	EXPECT(pony_scan_read(a, &rm, 4096, "key-1", 5, dst, KV_VAL_MAX, 4), -EILSEQ, 0,
	       PONY_OS_ST_BAD_TABLE);
	t->n_buckets = nb;
	struct kv_bucket *x = kv_find(t, "key-1", 5);
	x->seq |= 1;
	EXPECT(pony_scan_read(a, &rm, 4096, "key-1", 5, dst, KV_VAL_MAX, 4), -EBUSY, 0, PONY_OS_ST_BUSY);
	x->seq++;
	EXPECT(pony_scan_read(a, &rm, 4096, "key-1", 5, dst, KV_VAL_MAX, 4), 0, 3, PONY_OS_ST_OK);
	/* Table header at the region's last bytes: out of range. */
	EXPECT(pony_scan_read(a, &rm, 4096 + kv_region_size(nb) - 32, "k", 1, dst, KV_VAL_MAX, 4),
	       -ERANGE, 0, PONY_OS_ST_RANGE);
	printf("scan-and-read ok\n");
}

/* Every error, with guard bytes around small regions that must never change. */
static void test_errors(uint8_t *dst)
{
	uint8_t *g = pony_buf_alloc(b, 3 * 4096);
	CHECK(g);
	memset(g, 0x5a, 3 * 4096);
	uint8_t *ro_buf = g + 4096, *wo_buf = g + 4096 + 1024;
	struct pony_remote ro = reg(ro_buf, 512, PONY_REGION_READ);
	struct pony_remote wo = reg(wo_buf, 512, PONY_REGION_WRITE);
	uint8_t *src = dst + 8192;
	memset(src, 0xa5, 2048);
	EXPECT(pony_write(a, &ro, 0, src, 16, 6), -EACCES, 0, PONY_OS_ST_PERM);
	EXPECT(pony_read(a, &wo, 0, dst, 16, 6), -EACCES, 0, PONY_OS_ST_PERM);
	EXPECT(pony_read_indirect(a, &wo, 0, dst, 16, 0, 6), -EACCES, 0, PONY_OS_ST_PERM);
	EXPECT(pony_write(a, &wo, 500, src, 13, 6), -ERANGE, 0, PONY_OS_ST_RANGE);
	EXPECT(pony_write(a, &wo, 512, src, 1, 6), -ERANGE, 0, PONY_OS_ST_RANGE);
	EXPECT(pony_write(a, &wo, UINT64_MAX, src, 1, 6), -ERANGE, 0, PONY_OS_ST_RANGE);
	EXPECT(pony_write(a, &wo, UINT64_MAX - 100, src, 200, 6), -ERANGE, 0, PONY_OS_ST_RANGE);
	EXPECT(pony_read(a, &ro, 1, dst, 512, 6), -ERANGE, 0, PONY_OS_ST_RANGE);
	EXPECT(pony_write(a, &wo, 0, src, 512, 6), 0, 512, PONY_OS_ST_OK); /* exactly fits */
	struct pony_remote bad = ro;
	bad.key ^= 1;
	EXPECT(pony_read(a, &bad, 0, dst, 16, 6), -EKEYREJECTED, 0, PONY_OS_ST_BAD_KEY);
	bad = ro;
	bad.region ^= 0x7;
	EXPECT(pony_read(a, &bad, 0, dst, 16, 6), -ENOENT, 0, PONY_OS_ST_NO_REGION);
	bad = ro;
	bad.region = 0;
	EXPECT(pony_read(a, &bad, 0, dst, 16, 6), -ENOENT, 0, PONY_OS_ST_NO_REGION);
	/* Revoked: the same id now refused with its own status. */
	CHECK(pony_region_revoke(b, wo.region, 7) == 0);
	struct pony_completion c;
	CHECK(collect(b, &c, 1) == 1 && c.status == 0);
	EXPECT(pony_write(a, &wo, 0, src, 16, 6), -EKEYREVOKED, 0, PONY_OS_ST_REVOKED);
	/* Guards: only the 512 bytes of the one successful write changed. */
	for (unsigned i = 0; i < 3 * 4096; i++) {
		bool in = g + i >= wo_buf && g + i < wo_buf + 512;
		CHECK(g[i] == (in ? 0xa5 : 0x5a));
	}
	/* Refused before the wire: bad length, buffer outside the area, bad flags. */
	CHECK(pony_read(a, &ro, 0, dst, 0, 6) == -EINVAL);
	CHECK(pony_read(a, &ro, 0, dst, PONY_ONESIDED_LARGE_MAX + 1, 6) == -EINVAL);
	CHECK(pony_read_indirect(a, &ro, 0, dst, PONY_ONESIDED_MAX + 1, 0, 6) == -EINVAL);
	uint8_t local[16];
	CHECK(pony_read(a, &ro, 0, local, 16, 6) == -EFAULT);
	CHECK(pony_read_indirect(a, &ro, 0, dst, 16, 0x80, 6) == -EINVAL);
	CHECK(pony_scan_read(a, &ro, 0, "k", 0, dst, 16, 6) == -EINVAL);
	CHECK(pony_region_revoke(b, ro.region, 7) == 0);
	CHECK(collect(b, &c, 1) == 1 && c.status == 0);
	pony_buf_free(b, g);
	printf("errors ok\n");
}

/* Revocation while reads are in flight: each read either completes with the right bytes
 * (executed before the revoke on B's engine thread) or with -EKEYREVOKED. */
static void test_revoke_race(uint8_t *dst)
{
	uint8_t *rb = pony_buf_alloc(b, 8192);
	fill(rb, 8192, 33);
	struct pony_remote rm = reg(rb, 8192, PONY_REGION_READ);
	/* Heavy loss: part of the request packets arrive and execute before the revoke, the
	 * rest are retransmitted after it. */
	sim_link.loss = 0.3;
	const unsigned N = 128;
	struct pony_os_stats s0, s1;
	pony_tp_os_stats(tpB, &s0);
	for (unsigned i = 0; i < N; i++)
		CHECK(pony_read(a, &rm, i * 64, dst + i * 64, 64, i) == 0);
	for (unsigned k = 0; k < 100000; k++) {
		step();
		pony_tp_os_stats(tpB, &s1);
		if (s1.executed > s0.executed)
			break;
	}
	CHECK(pony_region_revoke(b, rm.region, 8) == 0);
	struct pony_completion *cp = calloc(N, sizeof(*cp));
	CHECK(collect(a, cp, N) == N);
	unsigned ok = 0, revoked = 0;
	for (unsigned i = 0; i < N; i++) {
		if (cp[i].status == 0) {
			CHECK(memcmp(dst + cp[i].tag * 64, rb + cp[i].tag * 64, 64) == 0);
			ok++;
		} else {
			CHECK(cp[i].status == -EKEYREVOKED);
			revoked++;
		}
	}
	struct pony_completion c;
	CHECK(collect(b, &c, 1) == 1 && c.op == PONY_OP_REGION_REVOKE);
	printf("revoke race: %u ok, %u revoked\n", ok, revoked);
	CHECK(ok > 0 && revoked > 0);
	sim_link.loss = 0;
	free(cp);
}

/* Remote atomics (issue 21): fetch-and-adds in flight through loss, duplication and
 * reordering each run exactly once (the word ends at the count, and the old values they
 * return are exactly 0..N-1); compare-and-swap succeeds and fails as it should; misaligned,
 * read-only and out-of-range words refused with their statuses. */
static void test_atomics(const struct pony_remote *whole, uint8_t *dst)
{
	const uint64_t woff = 8192; /* areaB is page-aligned: so is this word */
	uint64_t *word = (uint64_t *)(areaB + woff);
	*word = 0;
	sim_link.loss = 0.05;
	sim_link.dup = 0.05;
	sim_link.reorder = 0.05;
	sim_link.reorder_ns = 20000;
	const unsigned N = 200, ROUNDS = 5;
	uint64_t *res = (uint64_t *)dst;
	uint8_t *seen = calloc(N * ROUNDS, 1);
	struct pony_completion *cp = calloc(N, sizeof(*cp));
	struct pony_os_stats s0, s1;
	pony_tp_os_stats(tpB, &s0);
	for (unsigned r = 0; r < ROUNDS; r++) {
		for (unsigned i = 0; i < N; i++)
			CHECK(pony_fetch_add(a, whole, woff, 1, &res[i], i) == 0);
		CHECK(collect(a, cp, N) == N);
		for (unsigned i = 0; i < N; i++) {
			CHECK(cp[i].status == 0 && cp[i].op == PONY_OP_FETCH_ADD && cp[i].len == 8);
			uint64_t old;
			memcpy(&old, cp[i].buf, 8);
			CHECK(old < N * ROUNDS && !seen[old]);
			seen[old] = 1;
		}
	}
	pony_tp_os_stats(tpB, &s1);
	CHECK(*word == N * ROUNDS);
	CHECK(s1.executed - s0.executed == N * ROUNDS);
	sim_link.loss = sim_link.dup = sim_link.reorder = 0;
	/* Compare-and-swap: a lock taken, a second take refused, released. */
	EXPECT(pony_cmp_swap(a, whole, woff, N * ROUNDS, 7, res, 1), 0, 8, PONY_OS_ST_OK);
	CHECK(res[0] == N * ROUNDS && *word == 7);
	EXPECT(pony_cmp_swap(a, whole, woff, N * ROUNDS, 9, res, 1), 0, 8, PONY_OS_ST_OK);
	CHECK(res[0] == 7 && *word == 7);
	/* The region's own app adds with its atomics meanwhile: nothing lost either side. */
	__atomic_fetch_add(word, 10, __ATOMIC_SEQ_CST);
	EXPECT(pony_fetch_add(a, whole, woff, 100, res, 1), 0, 8, PONY_OS_ST_OK);
	CHECK(res[0] == 17 && *word == 117);
	/* Misaligned, out of range, read-only. */
	EXPECT(pony_fetch_add(a, whole, woff + 4, 1, res, 1), -EBADMSG, 0, PONY_OS_ST_BAD_REQ);
	EXPECT(pony_fetch_add(a, whole, sizeB - 4, 1, res, 1), -ERANGE, 0, PONY_OS_ST_RANGE);
	uint8_t *ro = pony_buf_alloc(b, 4096);
	struct pony_remote rrm = reg(ro, 4096, PONY_REGION_READ);
	EXPECT(pony_cmp_swap(a, &rrm, 0, 0, 1, res, 1), -EACCES, 0, PONY_OS_ST_PERM);
	CHECK(*word == 117);
	CHECK(pony_fetch_add(a, whole, woff, 1, NULL, 1) == -EINVAL);
	printf("atomics: %u fetch-and-adds through loss exactly once; cmp-swap and errors ok\n",
	       N * ROUNDS);
	free(seen);
	free(cp);
}

/* Large READ/WRITE (up to 64 KiB, sent by libpony as pieces): one completion each, bytes
 * exact through loss and reordering, several in flight; a failing piece fails the op. */
static void test_large(const struct pony_remote *whole, uint8_t *dst)
{
	const uint32_t L = PONY_ONESIDED_LARGE_MAX;
	uint8_t *src = dst + 2 * L;
	sim_link.loss = 0.05;
	sim_link.reorder = 0.05;
	sim_link.reorder_ns = 20000;
	const uint32_t lens[] = {PONY_ONESIDED_MAX + 1, 3000, L - 7, L};
	for (unsigned i = 0; i < 4; i++) {
		uint32_t l = lens[i];
		fill(src, l, 500 + i);
		uint64_t ok0 = st_count(PONY_OS_ST_OK);
		CHECK(pony_write(a, whole, 300000, src, l, 1) == 0);
		struct pony_completion w = one();
		CHECK(w.status == 0 && w.len == l && w.op == PONY_OP_WRITE && w.tag == 1);
		/* B ran each piece exactly once. */
		CHECK(st_count(PONY_OS_ST_OK) - ok0 == (l + PONY_ONESIDED_MAX - 1) / PONY_ONESIDED_MAX);
		CHECK(memcmp(areaB + 300000, src, l) == 0);
		memset(dst, 0, l);
		CHECK(pony_read(a, whole, 300000, dst, l, 2) == 0);
		struct pony_completion c = one();
		CHECK(c.status == 0 && c.len == l && c.op == PONY_OP_READ && c.buf == dst && c.tag == 2);
		CHECK(memcmp(dst, src, l) == 0);
	}
	/* Two large reads in flight at once, then one that runs off the region's end. */
	CHECK(pony_read(a, whole, 0, dst, L, 10) == 0);
	CHECK(pony_read(a, whole, L, dst + L, L, 11) == 0);
	struct pony_completion cp[2];
	CHECK(collect(a, cp, 2) == 2);
	for (unsigned k = 0; k < 2; k++)
		CHECK(cp[k].status == 0 && cp[k].len == L && cp[k].buf == dst + (cp[k].tag - 10) * L);
	CHECK(memcmp(dst, areaB, 2 * L) == 0);
	CHECK(pony_read(a, whole, sizeB - L / 2, dst, L, 3) == 0);
	struct pony_completion c = one();
	CHECK(c.status == -ERANGE && c.len == 0 && c.tag == 3);
	CHECK(pony_read(a, whole, 0, dst, L + 1, 3) == -EINVAL);
	sim_link.loss = sim_link.reorder = 0;
	printf("large ops: up to %u bytes as one op, exact through loss\n", L);
}

int main(void)
{
	sim_apps_start(&P, "onesided", 1u << 20);
	tpB = P.tp[1];
	a = P.app[0];
	b = P.app[1];
	areaB = (uint8_t *)b->base + b->hdr.buf_off;
	sizeB = b->hdr.buf_size;
	/* A region over the whole payload area: its first and last bytes are the area's. */
	struct pony_remote whole = reg(areaB, sizeB, PONY_REGION_READ | PONY_REGION_WRITE);
	uint8_t *dst = pony_buf_alloc(a, 256 * 1024);
	CHECK(dst);

	test_read_write_edges(&whole, dst);
	test_many_in_flight(&whole, dst);
	test_indirect(&whole, dst);
	test_errors(dst);
	test_revoke_race(dst);
	test_scan(dst);
	test_atomics(&whole, dst);
	test_large(&whole, dst);

	struct pony_os_stats s;
	pony_tp_os_stats(tpB, &s);
	CHECK(s.malformed == 0 && s.stray_resp == 0);
	pony_tp_os_stats(P.tp[0], &s);
	CHECK(s.malformed == 0 && s.stray_resp == 0 && s.failed == 0 && s.submitted == s.completed);
	sim_apps_stop(&P);
	printf("onesided ok\n");
	return 0;
}
