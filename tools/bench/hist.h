/* Latency histogram for snapbench: HDR-like log-linear buckets (32 linear sub-buckets per
 * power of two, ~3% relative error) in a fixed array, so recording a value never allocates. */
#pragma once

#include <stdint.h>
#include <stdio.h>

#define BENCH_HIST_SUB_BITS 5
#define BENCH_HIST_SUB (1u << BENCH_HIST_SUB_BITS)
/* Values up to 2^41 ns (~36 min) are distinct; larger ones land in the last bucket. */
#define BENCH_HIST_MAX_SHIFT 36
#define BENCH_HIST_BUCKETS (BENCH_HIST_SUB + (BENCH_HIST_MAX_SHIFT + 1) * BENCH_HIST_SUB)

struct bench_hist {
	uint64_t count;
	uint64_t sum;
	uint64_t min;
	uint64_t max;
	uint64_t bucket[BENCH_HIST_BUCKETS];
};

/* Empties h. Cannot fail. */
void bench_hist_reset(struct bench_hist *h);

/* Bucket index of value v (exposed for the unit check of the bucket maths). */
static inline unsigned bench_hist_index(uint64_t v)
{
	if (v < 2 * BENCH_HIST_SUB)
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned shift = msb - BENCH_HIST_SUB_BITS;
	if (shift > BENCH_HIST_MAX_SHIFT)
		return BENCH_HIST_BUCKETS - 1;
	return BENCH_HIST_SUB + shift * BENCH_HIST_SUB +
	       (unsigned)((v >> shift) & (BENCH_HIST_SUB - 1));
}

/* Records one value (nanoseconds). O(1), no allocation. */
static inline void bench_hist_record(struct bench_hist *h, uint64_t v)
{
	h->bucket[bench_hist_index(v)]++;
	h->count++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

/* Lowest and highest value (inclusive) that fall into bucket b. */
uint64_t bench_hist_bucket_lo(unsigned b);
uint64_t bench_hist_bucket_hi(unsigned b);

/* Value at quantile q (0 < q <= 1): the highest value of the bucket holding the
 * ceil(q * count)-th smallest sample, clamped to [min, max]. 0 when the histogram is empty. */
uint64_t bench_hist_quantile(const struct bench_hist *h, double q);

/* Adds every sample of src into dst. */
void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src);

/* Writes the CDF as "value_ns cumulative_fraction" lines, one per non-empty bucket (for
 * gnuplot). Returns 0 or -errno from the stream. */
int bench_hist_write_cdf(const struct bench_hist *h, FILE *f);
