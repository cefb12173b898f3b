/* Log-linear latency histogram (see hist.h): bucket bounds, quantiles and CDF output; the
 * per-sample path is inline in the header. */
#include "hist.h"

#include <errno.h>
#include <string.h>

void bench_hist_reset(struct bench_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

uint64_t bench_hist_bucket_lo(unsigned b)
{
	if (b < 2 * BENCH_HIST_SUB)
		return b;
	unsigned shift = b / BENCH_HIST_SUB - 1;
	uint64_t sub = b % BENCH_HIST_SUB;
	return (BENCH_HIST_SUB + sub) << shift;
}

uint64_t bench_hist_bucket_hi(unsigned b)
{
	if (b < 2 * BENCH_HIST_SUB)
		return b;
	if (b == BENCH_HIST_BUCKETS - 1)
		return UINT64_MAX;
	unsigned shift = b / BENCH_HIST_SUB - 1;
	return bench_hist_bucket_lo(b) + (1ull << shift) - 1;
}

static uint64_t clamp(const struct bench_hist *h, uint64_t v)
{
	if (v < h->min)
		return h->min;
	if (v > h->max)
		return h->max;
	return v;
}

uint64_t bench_hist_quantile(const struct bench_hist *h, double q)
{
	if (h->count == 0)
		return 0;
	if (q <= 0)
		return h->min;
	uint64_t rank = (uint64_t)(q * (double)h->count);
	if ((double)rank < q * (double)h->count)
		rank++;
	if (rank == 0)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	uint64_t seen = 0;
	for (unsigned b = 0; b < BENCH_HIST_BUCKETS; b++) {
		seen += h->bucket[b];
		if (seen >= rank)
			return clamp(h, bench_hist_bucket_hi(b));
	}
	return h->max;
}

void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src)
{
	for (unsigned b = 0; b < BENCH_HIST_BUCKETS; b++)
		dst->bucket[b] += src->bucket[b];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

int bench_hist_write_cdf(const struct bench_hist *h, FILE *f)
{
	uint64_t seen = 0;
	for (unsigned b = 0; b < BENCH_HIST_BUCKETS && h->count; b++) {
		if (!h->bucket[b])
			continue;
		seen += h->bucket[b];
		if (fprintf(f, "%llu %.6f\n", (unsigned long long)clamp(h, bench_hist_bucket_hi(b)),
			    (double)seen / (double)h->count) < 0)
			return -EIO;
	}
	return ferror(f) ? -EIO : 0;
}
