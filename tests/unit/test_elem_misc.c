/* Unit tests for counter, drop and injector. The injector is checked statistically with fixed
 * seeds (rates within tolerance) and for exact accounting: out + dropped = in + duplicated,
 * with no mbuf leaked or freed twice (pool in-use count back to its start). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <rte_cycles.h>
#include <rte_ip.h>

#include "tests/unit/elemtest.h"

#define SEQ_OFF 42 /* first payload byte of et_build_udp frames */

static struct snap_engine *eng;
static unsigned baseline;
static uint8_t buf[2048];
static size_t frame_len;

static int setup(void **state)
{
	eng = snap_engine_create("misc", SOCKET_ID_ANY);
	assert_non_null(eng);
	et_add(eng, "test_sink", "sink", NULL);
	frame_len = et_build_udp(buf, &et_mac_us, et_ip("10.0.0.2"), et_ip("10.0.0.1"), 4000,
				 5000, 32);
	baseline = et_in_use();
	return 0;
}

static int teardown(void **state)
{
	snap_engine_destroy(eng); /* frees whatever the sink or an injector still holds */
	eng = NULL;
	assert_int_equal(et_in_use(), baseline);
	return 0;
}

static struct rte_mbuf *seq_frame(uint32_t seq)
{
	memcpy(buf + SEQ_OFF, &seq, sizeof(seq));
	et_fix_udp_cksum(buf);
	struct rte_mbuf *m = et_mbuf(buf, frame_len);
	assert_non_null(m);
	return m;
}

/* What came out of the injector, in order. */
struct outlog {
	uint32_t n;
	uint32_t seq[65536];
};
static struct outlog outlog;

static void collect(void)
{
	struct et_sink *s = et_sink_of(eng, "sink");
	for (uint16_t i = 0; i < s->n; i++) {
		uint32_t seq;
		memcpy(&seq, rte_pktmbuf_read(s->pkts[i], SEQ_OFF, 4, &seq), 4);
		if (outlog.n < RTE_DIM(outlog.seq))
			outlog.seq[outlog.n++] = seq;
	}
	et_sink_clear(s);
}

/* Release everything the injector holds by polling "in the future"; bounded. */
static void drain(void)
{
	/* Time moves forward each round: a reorder timeout re-queues into the delay stage
	 * with a due time after the poll's now. */
	uint64_t far = rte_rdtsc();
	for (unsigned i = 0; i < 10000 && snap_engine_next_deadline(eng) != UINT64_MAX; i++) {
		far += 60 * rte_get_tsc_hz();
		snap_engine_poll(eng, far);
		collect();
	}
	assert_int_equal(snap_engine_next_deadline(eng), UINT64_MAX);
}

/* Feed n sequence-numbered frames to "inj" in bursts, polling in real time between them. */
static void run(uint32_t n)
{
	outlog.n = 0;
	struct rte_mbuf *pk[SNAP_BURST_MAX];
	for (uint32_t i = 0; i < n;) {
		uint16_t k = 0;
		while (k < SNAP_BURST_MAX && i < n)
			pk[k++] = seq_frame(i++);
		et_feed(eng, "inj", pk, k);
		snap_engine_poll(eng, rte_rdtsc());
		collect();
	}
	drain();
}

static void check_accounting(uint32_t n)
{
	struct snap_elem *el = snap_engine_elem(eng, "inj");
	uint64_t dropped = 0;
	for (unsigned r = 0; r < SNAP_DROP_MAX; r++)
		dropped += el->cnt.drops[r];
	uint64_t dup = et_stat(eng, "inj", "duplicated");
	assert_int_equal(el->cnt.in_pkts, n);
	assert_int_equal(outlog.n + dropped, n + dup);
	assert_int_equal(el->cnt.out_pkts[0], outlog.n);
	assert_int_equal(et_stat(eng, "inj", "queued"), 0);
	assert_int_equal(et_stat(eng, "inj", "held"), 0);
	assert_int_equal(et_in_use(), baseline);
}

static void assert_near(uint64_t v, double expect, double tol, const char *what)
{
	print_message("%s = %llu (expected %.0f +- %.0f)\n", what, (unsigned long long)v,
		      expect, tol);
	if (v < expect - tol || v > expect + tol)
		fail_msg("%s = %llu, expected %.0f +- %.0f", what, (unsigned long long)v, expect,
			 tol);
}

/* ---- counter and drop ---- */

static void test_counter(void **state)
{
	et_add(eng, "counter", "cnt", NULL);
	et_link(eng, "cnt", NULL, "sink");
	struct rte_mbuf *pk[10];
	for (unsigned i = 0; i < 10; i++)
		pk[i] = seq_frame(i);
	et_feed(eng, "cnt", pk, 10);
	assert_int_equal(et_sink_of(eng, "sink")->n, 10);
	assert_int_equal(et_stat(eng, "cnt", "packets"), 10);
	assert_int_equal(et_stat(eng, "cnt", "bytes"), 10 * frame_len);

	/* counts survive save/restore; a foreign blob is refused */
	struct snap_elem *a = snap_engine_elem(eng, "cnt");
	struct snap_sbuf sb;
	snap_sbuf_init(&sb);
	assert_int_equal(a->desc->save(a, &sb, 1), 0);
	et_add(eng, "counter", "cnt2", NULL);
	struct snap_elem *b = snap_engine_elem(eng, "cnt2");
	assert_int_equal(b->desc->restore(b, sb.data, sb.len, 1), 0);
	assert_int_equal(et_stat(eng, "cnt2", "packets"), 10);
	assert_int_equal(et_stat(eng, "cnt2", "bytes"), 10 * frame_len);
	sb.data[0] ^= 0xff;
	assert_int_equal(b->desc->restore(b, sb.data, sb.len, 1), -EPROTO);
	assert_int_equal(b->desc->restore(b, sb.data, sb.len - 1, 1), -EPROTO);
	snap_sbuf_fini(&sb);
}

static void test_drop(void **state)
{
	et_add(eng, "drop", "d1", NULL);
	et_add(eng, "drop", "d2", "reason=no_mbuf", NULL);
	struct rte_mbuf *pk[5];
	for (unsigned i = 0; i < 5; i++)
		pk[i] = seq_frame(i);
	et_feed(eng, "d1", pk, 3);
	et_feed(eng, "d2", pk + 3, 2);
	assert_int_equal(et_drops(eng, "d1", SNAP_DROP_POLICY), 3);
	assert_int_equal(et_drops(eng, "d2", SNAP_DROP_NO_MBUF), 2);
	assert_int_equal(et_in_use(), baseline);
	struct snap_elem_args *a = snap_elem_args_new();
	snap_elem_args_set(a, "reason", "because");
	assert_int_equal(snap_engine_add_elem(eng, "drop", "d3", a, NULL, 0), -EINVAL);
	snap_elem_args_free(a);
}

/* ---- injector ---- */

static void test_inject_loss(void **state)
{
	et_add(eng, "injector", "inj", "loss=0.1", "seed=7", NULL);
	et_link(eng, "inj", NULL, "sink");
	run(20000);
	uint64_t lost = et_stat(eng, "inj", "lost");
	assert_near(lost, 2000, 200, "lost");
	assert_int_equal(et_drops(eng, "inj", SNAP_DROP_INJECT_LOSS), lost);
	/* no impairment but loss: order kept */
	for (uint32_t i = 1; i < outlog.n; i++)
		assert_true(outlog.seq[i] > outlog.seq[i - 1]);
	check_accounting(20000);
}

static void test_inject_dup(void **state)
{
	et_add(eng, "injector", "inj", "dup=0.2", "seed=11", NULL);
	et_link(eng, "inj", NULL, "sink");
	run(20000);
	uint64_t dup = et_stat(eng, "inj", "duplicated");
	assert_near(dup, 4000, 300, "duplicated");
	assert_int_equal(outlog.n, 20000 + dup);
	/* every packet appears once or twice, a copy right after its original */
	uint32_t pairs = 0;
	for (uint32_t i = 1; i < outlog.n; i++)
		pairs += outlog.seq[i] == outlog.seq[i - 1];
	assert_int_equal(pairs, dup);
	check_accounting(20000);
}

static void test_inject_corrupt_caught(void **state)
{
	/* inj -> eth -> ip -> udp -> sink: every corrupted frame must die on a check. */
	et_add(eng, "injector", "inj", "corrupt=0.25", "seed=3", NULL);
	et_add(eng, "eth_classify", "eth", "port=p0", NULL);
	et_add(eng, "ipv4_in", "ip", "port=p0", NULL);
	et_add(eng, "udp_demux", "udp", "dport_5000=p0", NULL);
	et_link(eng, "inj", NULL, "eth");
	et_link(eng, "eth", "ipv4", "ip");
	et_link(eng, "ip", "udp", "udp");
	et_link(eng, "udp", "p0", "sink");
	const uint32_t n = 8000;
	run(n);
	uint64_t bad = et_stat(eng, "inj", "corrupted");
	assert_near(bad, n * 0.25, 150, "corrupted");
	assert_int_equal(outlog.n, n - bad);
	uint64_t caught = 0;
	const char *chk[] = {"eth", "ip", "udp"};
	for (unsigned e = 0; e < 3; e++)
		for (unsigned r = 0; r < SNAP_DROP_MAX; r++)
			caught += et_drops(eng, chk[e], r);
	assert_int_equal(caught, bad);
	assert_int_equal(et_in_use(), baseline);
}

static void test_inject_corrupt_shared(void **state)
{
	/* A clone shares its data with the original: corrupting it must not touch the
	 * original, so the injector corrupts a private copy instead. */
	et_add(eng, "injector", "inj", "corrupt=1", NULL);
	et_link(eng, "inj", NULL, "sink");
	struct rte_mbuf *orig = seq_frame(5);
	uint8_t before[2048];
	memcpy(before, rte_pktmbuf_mtod(orig, void *), frame_len);
	struct rte_mbuf *cl = rte_pktmbuf_clone(orig, et_pool);
	assert_non_null(cl);
	et_feed(eng, "inj", &cl, 1);
	assert_memory_equal(rte_pktmbuf_mtod(orig, void *), before, frame_len);
	struct et_sink *s = et_sink_of(eng, "sink");
	assert_int_equal(s->n, 1);
	const uint8_t *got = rte_pktmbuf_mtod(s->pkts[0], const uint8_t *);
	unsigned diff = 0, first = 0;
	for (unsigned i = 0; i < frame_len; i++)
		if (got[i] != before[i] && diff++ == 0)
			first = i;
	assert_int_equal(diff, 1);
	assert_true(first >= 14);
	rte_pktmbuf_free(orig);

	/* a private packet is corrupted in place */
	struct rte_mbuf *m = seq_frame(6);
	et_feed(eng, "inj", &m, 1);
	assert_ptr_equal(s->pkts[1], m);
	assert_int_equal(et_stat(eng, "inj", "corrupted"), 2);
	et_sink_clear(s);
}

static void test_inject_reorder(void **state)
{
	et_add(eng, "injector", "inj", "reorder=0.1", "reorder_k=3", "seed=5", NULL);
	et_link(eng, "inj", NULL, "sink");
	const uint32_t n = 10000;
	run(n);
	uint64_t re = et_stat(eng, "inj", "reordered");
	assert_near(re, n * 0.1, 150, "reordered");
	assert_int_equal(outlog.n, n);
	/* a permutation of the input ... */
	static uint8_t seen[10000];
	memset(seen, 0, sizeof(seen));
	for (uint32_t i = 0; i < n; i++) {
		assert_true(outlog.seq[i] < n);
		assert_int_equal(seen[outlog.seq[i]]++, 0);
	}
	/* ... where held packets come out late: count positions that break the order */
	uint32_t late = 0;
	for (uint32_t i = 1; i < n; i++)
		late += outlog.seq[i] < outlog.seq[i - 1];
	assert_true(late > re / 2 && late <= re);
	check_accounting(n);
}

static void test_inject_reorder_timeout(void **state)
{
	/* the last packet is held and nobody follows: released by poll after the timeout */
	et_add(eng, "injector", "inj", "reorder=1", "reorder_k=5", "reorder_timeout_us=100",
	       NULL);
	et_link(eng, "inj", NULL, "sink");
	struct rte_mbuf *m = seq_frame(1);
	uint64_t t0 = rte_rdtsc();
	et_feed(eng, "inj", &m, 1);
	assert_int_equal(et_sink_of(eng, "sink")->n, 0);
	uint64_t d = snap_engine_next_deadline(eng);
	uint64_t us = rte_get_tsc_hz() / 1000000;
	assert_true(d >= t0 + 100 * us && d <= rte_rdtsc() + 100 * us);
	assert_int_equal(snap_engine_poll(eng, t0), 0);
	assert_int_equal(snap_engine_poll(eng, d), 1);
	assert_int_equal(et_sink_of(eng, "sink")->n, 1);
	assert_int_equal(et_stat(eng, "inj", "reorder_timeouts"), 1);
	et_sink_clear(et_sink_of(eng, "sink"));
}

static void test_inject_delay(void **state)
{
	et_add(eng, "injector", "inj", "delay_us=300", NULL);
	et_link(eng, "inj", NULL, "sink");
	struct rte_mbuf *pk[SNAP_BURST_MAX];
	for (unsigned i = 0; i < SNAP_BURST_MAX; i++)
		pk[i] = seq_frame(i);
	uint64_t t0 = rte_rdtsc();
	et_feed(eng, "inj", pk, SNAP_BURST_MAX);
	uint64_t t1 = rte_rdtsc(), us = rte_get_tsc_hz() / 1000000;
	struct et_sink *s = et_sink_of(eng, "sink");
	assert_int_equal(s->n, 0);
	uint64_t d = snap_engine_next_deadline(eng);
	assert_true(d >= t0 + 300 * us && d <= t1 + 300 * us);
	assert_int_equal(snap_engine_poll(eng, d - 1), 0);
	assert_int_equal(snap_engine_poll(eng, t1 + 300 * us), SNAP_BURST_MAX);
	assert_int_equal(s->n, SNAP_BURST_MAX);
	outlog.n = 0;
	collect();
	for (unsigned i = 0; i < SNAP_BURST_MAX; i++) /* fixed delay keeps order */
		assert_int_equal(outlog.seq[i], i);
	assert_int_equal(snap_engine_next_deadline(eng), UINT64_MAX);
}

static void test_inject_jitter(void **state)
{
	et_add(eng, "injector", "inj", "delay_us=50", "jitter_us=200", "seed=9", NULL);
	et_link(eng, "inj", NULL, "sink");
	struct rte_mbuf *pk[SNAP_BURST_MAX];
	for (unsigned i = 0; i < SNAP_BURST_MAX; i++)
		pk[i] = seq_frame(i);
	uint64_t t0 = rte_rdtsc();
	et_feed(eng, "inj", pk, SNAP_BURST_MAX);
	uint64_t t1 = rte_rdtsc(), us = rte_get_tsc_hz() / 1000000;
	/* walk time forward in 10us steps: each packet leaves within [50, 250] us */
	outlog.n = 0;
	for (uint64_t t = t0; t <= t1 + 260 * us; t += 10 * us) {
		snap_engine_poll(eng, t);
		struct et_sink *s = et_sink_of(eng, "sink");
		if (s->n && t < t0 + 50 * us)
			fail_msg("released before the fixed delay");
		collect();
	}
	assert_int_equal(outlog.n, SNAP_BURST_MAX);
	uint32_t late = 0;
	for (unsigned i = 1; i < SNAP_BURST_MAX; i++)
		late += outlog.seq[i] < outlog.seq[i - 1];
	assert_true(late > 0); /* jitter larger than the spacing reorders */
	assert_int_equal(snap_engine_next_deadline(eng), UINT64_MAX);
}

static void test_inject_queue_limit(void **state)
{
	et_add(eng, "injector", "inj", "delay_us=100000", "queue=10", "reorder=0.5",
	       "reorder_k=100", "seed=2", NULL);
	et_link(eng, "inj", NULL, "sink");
	struct rte_mbuf *pk[SNAP_BURST_MAX];
	for (unsigned i = 0; i < SNAP_BURST_MAX; i++)
		pk[i] = seq_frame(i);
	et_feed(eng, "inj", pk, SNAP_BURST_MAX);
	uint64_t held = et_stat(eng, "inj", "held");
	assert_int_equal(et_stat(eng, "inj", "queued"), 10);
	assert_int_equal(et_drops(eng, "inj", SNAP_DROP_INJECT_QUEUE_FULL),
			 SNAP_BURST_MAX - 10 - held);
	assert_true(held > 0);
	/* teardown destroys the engine with 10 queued and some held: no leak allowed */
}

static void test_inject_everything(void **state)
{
	et_add(eng, "injector", "inj", "loss=0.05", "dup=0.05", "corrupt=0.05", "reorder=0.05",
	       "reorder_k=2", "delay_us=20", "jitter_us=10", "queue=256", "seed=42", NULL);
	et_link(eng, "inj", NULL, "sink");
	run(20000);
	check_accounting(20000);
	assert_near(et_stat(eng, "inj", "lost"), 1000, 150, "lost");
	assert_near(et_stat(eng, "inj", "duplicated"), 950, 150, "duplicated");
	assert_near(et_stat(eng, "inj", "corrupted"), 997, 150, "corrupted");
}

static void test_inject_deterministic(void **state)
{
	static uint32_t first[65536];
	uint32_t n_first = 0;
	for (unsigned round = 0; round < 3; round++) {
		char name[16], seed[16];
		snprintf(name, sizeof(name), "inj%u", round);
		snprintf(seed, sizeof(seed), "seed=%u", round < 2 ? 99 : 100);
		/* each round uses its own engine, so the sink starts empty */
		if (round) {
			snap_engine_destroy(eng);
			eng = snap_engine_create("misc", SOCKET_ID_ANY);
			et_add(eng, "test_sink", "sink", NULL);
		}
		et_add(eng, "injector", "inj", "loss=0.1", "dup=0.1", "reorder=0.1", seed, NULL);
		et_link(eng, "inj", NULL, "sink");
		run(3000);
		if (round == 0) {
			n_first = outlog.n;
			memcpy(first, outlog.seq, sizeof(uint32_t) * outlog.n);
		} else if (round == 1) {
			assert_int_equal(outlog.n, n_first);
			assert_memory_equal(outlog.seq, first, sizeof(uint32_t) * n_first);
		} else {
			assert_true(outlog.n != n_first ||
				    memcmp(outlog.seq, first, sizeof(uint32_t) * n_first) != 0);
		}
	}
}

static void test_inject_args(void **state)
{
	const char *bad[][2] = {{"loss", "1.5"}, {"dup", "-0.1"}, {"corrupt", "x"},
				{"reorder_k", "0"}, {"queue", "0"}, {"delay_us", "abc"}};
	for (unsigned i = 0; i < RTE_DIM(bad); i++) {
		struct snap_elem_args *a = snap_elem_args_new();
		snap_elem_args_set(a, bad[i][0], bad[i][1]);
		char err[128];
		if (snap_engine_add_elem(eng, "injector", "x", a, err, sizeof(err)) != -EINVAL)
			fail_msg("%s = %s accepted", bad[i][0], bad[i][1]);
		snap_elem_args_free(a);
	}
}

int main(int argc, char **argv)
{
	if (et_eal_init(argv[0]) < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_counter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inject_loss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inject_dup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inject_corrupt_caught, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inject_corrupt_shared, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inject_reorder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inject_reorder_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inject_delay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inject_jitter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inject_queue_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inject_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inject_deterministic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inject_args, setup, teardown),
	};
	int r = cmocka_run_group_tests_name("elem_misc", tests, NULL, NULL);
	et_eal_fini();
	return r;
}
