/* Unit tests of snapbench's log-linear latency histogram: buckets tile the value range
 * without gaps, quantiles stay within the bucket precision, edge cases do not misreport. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "hist.h"

static struct bench_hist h;

static void buckets_tile_the_range(void **state)
{
	(void)state;
	assert_int_equal(bench_hist_bucket_lo(0), 0);
	for (unsigned b = 0; b + 1 < BENCH_HIST_BUCKETS - 1; b++) {
		uint64_t lo = bench_hist_bucket_lo(b), hi = bench_hist_bucket_hi(b);
		assert_true(lo <= hi);
		assert_int_equal(bench_hist_bucket_lo(b + 1), hi + 1);
		assert_int_equal(bench_hist_index(lo), b);
		assert_int_equal(bench_hist_index(hi), b);
		/* Relative width bounds the error: 1/32 of the value at most. */
		assert_true((hi - lo) * BENCH_HIST_SUB <= lo + BENCH_HIST_SUB);
	}
	assert_int_equal(bench_hist_index(UINT64_MAX), BENCH_HIST_BUCKETS - 1);
}

static void quantiles_within_precision(void **state)
{
	(void)state;
	bench_hist_reset(&h);
	for (uint64_t v = 1; v <= 100000; v++)
		bench_hist_record(&h, v * 100); /* 100 ns .. 10 ms, uniform */
	assert_int_equal(h.count, 100000);
	assert_int_equal(h.min, 100);
	assert_int_equal(h.max, 10000000);
	struct { double q; double want; } cases[] = {
		{ 0.5, 5000000 }, { 0.99, 9900000 }, { 0.999, 9990000 }, { 1.0, 10000000 },
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double got = (double)bench_hist_quantile(&h, cases[i].q);
		assert_true(got >= cases[i].want);
		assert_true(got <= cases[i].want * (1 + 1.0 / BENCH_HIST_SUB));
	}
}

static void edge_cases(void **state)
{
	(void)state;
	bench_hist_reset(&h);
	assert_int_equal(bench_hist_quantile(&h, 0.5), 0);
	bench_hist_record(&h, 7);
	assert_int_equal(bench_hist_quantile(&h, 0.5), 7);
	assert_int_equal(bench_hist_quantile(&h, 1.0), 7);
	/* A huge value lands in the last bucket and is reported as the true max. */
	bench_hist_record(&h, UINT64_MAX / 2);
	assert_int_equal(bench_hist_quantile(&h, 1.0), UINT64_MAX / 2);
	assert_int_equal(bench_hist_quantile(&h, 0.5), 7);
	/* Merge adds counts and keeps the extremes. */
	static struct bench_hist h2;
	bench_hist_reset(&h2);
	bench_hist_record(&h2, 3);
	bench_hist_merge(&h, &h2);
	assert_int_equal(h.count, 3);
	assert_int_equal(h.min, 3);
	assert_int_equal(bench_hist_quantile(&h, 0.01), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(buckets_tile_the_range),
		cmocka_unit_test(quantiles_within_precision),
		cmocka_unit_test(edge_cases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
