/* Priority classes as pure logic (pony/qos.h): the weighted round robin's shares with every
 * class backlogged, the class codes old peers and old saved state read as "normal", and the
 * admission control's admit probability reacting to injected latencies, deterministically. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include <cmocka.h>

#include "pony/qos.h"
#include "pony/wire.h"

static const uint32_t w841[PONY_QOS_N] = {8, 4, 1};

/* All three classes backlogged: services in 8:4:1 proportion, counted in picks. */
static void test_wrr_shares(void **state)
{
	(void)state;
	struct pony_wrr w = {0};
	unsigned n[PONY_QOS_N] = {0};
	for (unsigned i = 0; i < 13000; i++)
		n[pony_wrr_pick(&w, w841, 7)]++;
	/* 13000 picks = 1000 rounds of 13, give or take the first partial round */
	assert_true(n[0] >= 7990 && n[0] <= 8010);
	assert_true(n[1] >= 3990 && n[1] <= 4010);
	assert_true(n[2] >= 990 && n[2] <= 1010);
}

/* Two classes backlogged share in their ratio; an idle class takes nothing and banks
 * nothing: when it comes back it gets its share, not a burst. */
static void test_wrr_idle(void **state)
{
	(void)state;
	struct pony_wrr w = {0};
	unsigned n[PONY_QOS_N] = {0};
	for (unsigned i = 0; i < 9000; i++)
		n[pony_wrr_pick(&w, w841, 1u << 1 | 1u << 2)]++;
	assert_int_equal(n[0], 0);
	assert_true(n[1] >= 7190 && n[1] <= 7210); /* 4:1 */
	memset(n, 0, sizeof(n));
	unsigned run = 0, max_run = 0;
	for (unsigned i = 0; i < 1300; i++) {
		unsigned c = pony_wrr_pick(&w, w841, 7);
		n[c]++;
		run = c == 0 ? run + 1 : 0;
		max_run = run > max_run ? run : max_run;
	}
	assert_true(max_run <= 8);
	assert_true(n[0] >= 790 && n[0] <= 810);
	/* only one class ready: always it */
	for (unsigned i = 0; i < 100; i++)
		assert_int_equal(pony_wrr_pick(&w, w841, 1u << 2), 2);
}

/* 0 means normal on the wire and in zero-filled state; the map is its own inverse. */
static void test_codes(void **state)
{
	(void)state;
	assert_int_equal(pony_qos_code(PONY_QOS_NORMAL), 0);
	assert_int_equal(pony_qos_class(0), PONY_QOS_NORMAL);
	assert_int_equal(pony_qos_class(3), PONY_QOS_NORMAL);
	for (unsigned c = 0; c < PONY_QOS_N; c++)
		assert_int_equal(pony_qos_class(pony_qos_code(c)), c);
	assert_string_equal(pony_qos_name(PONY_QOS_SCAVENGER), "scavenger");
}

/* The class rides in DATA's src_sid, which the parser of every version-3 engine accepts
 * whatever its value (older receivers ignore it: they see normal); a sender without classes
 * writes 0, which reads as normal. */
static void test_wire(void **state)
{
	(void)state;
	uint8_t pkt[PONY_HDR_MAX + 16] = {0};
	for (uint32_t src_sid = 0; src_sid < 5; src_sid++) {
		struct pony_hdr h = {.type = PONY_T_DATA, .src_flow = 1, .dst_flow = 2, .seq = 7,
				     .sid = 3, .src_sid = src_sid == 4 ? 0xfffffff1u : src_sid,
				     .msg_len = 16, .payload_len = 16};
		size_t hl = pony_wire_build(pkt, &h);
		struct pony_hdr g;
		assert_int_equal(pony_wire_parse(pkt, hl + 16, &g), (int)hl);
		assert_int_equal(g.src_sid, h.src_sid);
		unsigned want = src_sid == 1 || src_sid == 4 ? PONY_QOS_CRITICAL
				: src_sid == 2 ? PONY_QOS_SCAVENGER : PONY_QOS_NORMAL;
		assert_int_equal(pony_qos_class(g.src_sid & 3), want);
	}
}

static void setup_q(struct pony_qos *q)
{
	struct pony_qos_params p;
	pony_qos_params_default(&p);
	p.slo_ns[PONY_QOS_CRITICAL] = 20000;
	assert_int_equal(pony_qos_params_check(&p), 0);
	pony_qos_init(q, &p);
}

/* Missed SLOs take step (0.05) off p (down to p_min), met ones add step / 99; rnd decides
 * admission against p. */
static void test_aimd(void **state)
{
	(void)state;
	static struct pony_qos q;
	setup_q(&q);
	const uint32_t dst = 0x0a000002;
	const double inc = 0.05 / 99;
	pony_qos_ticket t;
	/* p = 1: every RPC admitted, even rnd at the top */
	assert_int_equal(pony_qos_admit(&q, PONY_QOS_CRITICAL, dst, 1, UINT32_MAX, &t),
			 PONY_QOS_CRITICAL);
	assert_true(t != 0);
	pony_qos_complete(&q, t, PONY_QOS_CRITICAL, 50000); /* missed */
	assert_true(fabs(pony_qos_admit_p(&q, PONY_QOS_CRITICAL, dst) - 0.95) < 1e-12);
	/* rnd above p * 2^32: downgraded to normal, no ticket */
	assert_int_equal(pony_qos_admit(&q, PONY_QOS_CRITICAL, dst, 2, UINT32_MAX, &t),
			 PONY_QOS_NORMAL);
	assert_int_equal(t, 0);
	assert_int_equal(q.cls[PONY_QOS_CRITICAL].downgraded, 1);
	/* below: admitted */
	assert_int_equal(pony_qos_admit(&q, PONY_QOS_CRITICAL, dst, 3, 1u << 30, &t),
			 PONY_QOS_CRITICAL);
	for (unsigned i = 0; i < 20; i++)
		pony_qos_complete(&q, t, PONY_QOS_CRITICAL, 30000);
	assert_true(pony_qos_admit_p(&q, PONY_QOS_CRITICAL, dst) == 0.01); /* floor */
	/* The 20th miss came with p already at the floor: the SLO is out of reach. */
	assert_int_equal(q.cls[PONY_QOS_CRITICAL].slo_missed_floor, 1);
	/* met: additive increase of step / 99 each */
	for (unsigned i = 0; i < 99; i++)
		pony_qos_complete(&q, t, PONY_QOS_CRITICAL, 10000);
	double p = pony_qos_admit_p(&q, PONY_QOS_CRITICAL, dst);
	assert_true(fabs(p - (0.01 + 99 * inc)) < 1e-9);
	/* One miss per 99 met (1%, the p99 the SLO is for) leaves p where it is, wherever that
	 * is: the admitted share settles where exactly 1% miss. */
	for (unsigned r = 0; r < 10; r++) {
		pony_qos_complete(&q, t, PONY_QOS_CRITICAL, 30000);
		for (unsigned i = 0; i < 99; i++)
			pony_qos_complete(&q, t, PONY_QOS_CRITICAL, 10000);
	}
	assert_true(fabs(pony_qos_admit_p(&q, PONY_QOS_CRITICAL, dst) - p) < 1e-9);
	for (unsigned i = 0; i < 2000; i++)
		pony_qos_complete(&q, t, PONY_QOS_CRITICAL, 10000);
	assert_true(pony_qos_admit_p(&q, PONY_QOS_CRITICAL, dst) == 1.0);
	/* another destination is its own entry; classes without SLO are never downgraded */
	assert_true(pony_qos_admit_p(&q, PONY_QOS_CRITICAL, dst + 1) == 1.0);
	assert_int_equal(pony_qos_admit(&q, PONY_QOS_NORMAL, dst, 4, UINT32_MAX, &t),
			 PONY_QOS_NORMAL);
	assert_int_equal(t, 0);
	/* latency percentiles: 30 misses at 30 us, 3,089 hits at 10 us, 1 at 50 us; none of the
	 * last ten misses at the floor */
	struct pony_qos_class_stats st[PONY_QOS_N];
	pony_qos_stats(&q, st);
	assert_int_equal(st[PONY_QOS_CRITICAL].rpcs, 3120);
	assert_int_equal(st[PONY_QOS_CRITICAL].slo_missed, 31);
	assert_int_equal(st[PONY_QOS_CRITICAL].slo_missed_floor, 1);
	assert_true(st[PONY_QOS_CRITICAL].p50_ns >= 10000 && st[PONY_QOS_CRITICAL].p50_ns < 12500);
	assert_true(st[PONY_QOS_CRITICAL].p99_ns >= 10000 && st[PONY_QOS_CRITICAL].p99_ns < 12500);
	assert_true(st[PONY_QOS_CRITICAL].p999_ns >= 30000 &&
		    st[PONY_QOS_CRITICAL].p999_ns < 37500);
}

/* The table is bounded: many destinations reuse the oldest entries; a ticket of a reused
 * entry changes nothing. */
static void test_bounded(void **state)
{
	(void)state;
	static struct pony_qos q;
	setup_q(&q);
	pony_qos_ticket t0, t;
	pony_qos_admit(&q, PONY_QOS_CRITICAL, 1, 1, 0, &t0);
	for (uint32_t d = 2; d < 5000; d++)
		pony_qos_admit(&q, PONY_QOS_CRITICAL, d, d, 0, &t);
	assert_true(q.evictions > 0);
	unsigned used = 0;
	for (unsigned i = 0; i < PONY_QOS_ENT_MAX; i++)
		used += q.ent[i].used;
	assert_true(used <= PONY_QOS_ENT_MAX);
	pony_qos_complete(&q, t0, PONY_QOS_CRITICAL, 1000000); /* stale: entry reused */
	for (unsigned i = 0; i < PONY_QOS_ENT_MAX; i++)
		assert_true(!q.ent[i].used || q.ent[i].p == 1.0);
}

/* Percentiles come from the upper edge of a log-linear bucket: within 1/8 above. */
static void test_hist(void **state)
{
	(void)state;
	static const uint64_t v[] = {0, 5, 8, 15, 100, 1000, 123456, 999999999, 1ull << 40};
	for (unsigned k = 0; k < sizeof(v) / sizeof(v[0]); k++) {
		struct pony_qos_hist h = {0};
		static struct pony_qos q;
		setup_q(&q);
		pony_qos_complete(&q, 0, PONY_QOS_NORMAL, v[k]);
		h = q.hist[PONY_QOS_NORMAL];
		uint64_t p = pony_qos_hist_pct(&h, 50);
		if (v[k] < (1ull << 32))
			assert_true(p >= v[k] && p <= v[k] + v[k] / 8);
		else
			assert_true(p == (1ull << 32) - 1); /* the last bucket */
	}
}

static void test_params(void **state)
{
	(void)state;
	struct pony_qos_params p;
	pony_qos_params_default(&p);
	p.weight[1] = 0;
	assert_int_equal(pony_qos_params_check(&p), -EINVAL);
	pony_qos_params_default(&p);
	p.slo_ns[PONY_QOS_SCAVENGER] = 1;
	assert_int_equal(pony_qos_params_check(&p), -EINVAL);
	pony_qos_params_default(&p);
	p.step = 0;
	assert_int_equal(pony_qos_params_check(&p), -EINVAL);
	pony_qos_params_default(&p);
	p.miss_share = 0.6;
	assert_int_equal(pony_qos_params_check(&p), -EINVAL);
	uint32_t w[PONY_QOS_N] = {0};
	assert_int_equal(pony_qos_parse_weights("16:4:1", w), 0);
	assert_true(w[0] == 16 && w[1] == 4 && w[2] == 1);
	static const char *const bad[] = {"", "8:4", "8:4:1:", "8:0:1", "8:4:1025", "8:4:x",
					  "8;4;1", "99999999:1:1", "8:4:1 "};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pony_qos_parse_weights(bad[i], w), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wrr_shares), cmocka_unit_test(test_wrr_idle),
		cmocka_unit_test(test_codes),      cmocka_unit_test(test_aimd),
		cmocka_unit_test(test_wire),       cmocka_unit_test(test_hist),
		cmocka_unit_test(test_bounded),    cmocka_unit_test(test_params),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
