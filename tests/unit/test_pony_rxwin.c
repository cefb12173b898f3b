/* Pony receive window and congestion control as pure logic: duplicate suppression,
 * cumulative ack, SACK blocks under crafted arrival orders and sequence wrap; Swift-style
 * window changes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "pony/cc.h"
#include "pony/internal.h"

static uint64_t map[256 / 64];

static void test_in_order(void **state)
{
	struct pony_rxwin w;
	pony_rxwin_init(&w, map, 256, 1000);
	for (uint32_t s = 1000; s < 1600; s++) { /* wraps the bitmap twice */
		assert_int_equal(pony_rxwin_check(&w, s), PONY_RX_NEW);
		assert_int_equal(pony_rxwin_mark(&w, s), 1);
		assert_int_equal(pony_rxwin_check(&w, s), PONY_RX_DUP);
	}
	assert_int_equal(w.rcv_nxt, 1600);
	uint32_t b[4][2];
	assert_int_equal(pony_rxwin_sack(&w, b, 4), 0);
	assert_int_equal(pony_rxwin_check(&w, 1600 + 256), PONY_RX_OUTSIDE);
	assert_int_equal(pony_rxwin_check(&w, 1600 + 255), PONY_RX_NEW);
}

static void test_holes_and_sack(void **state)
{
	struct pony_rxwin w;
	uint32_t b[4][2];
	pony_rxwin_init(&w, map, 256, 0xfffffffc); /* across the 2^32 wrap */
	/* Arrivals: 0xfffffffd, 0xffffffff, 1, 2, 5 (holes at fc, fe, 0, 3, 4). */
	uint32_t order[] = {0xfffffffd, 0xffffffff, 1, 2, 5};
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(pony_rxwin_mark(&w, order[i]), 0);
	assert_int_equal(w.rcv_nxt, 0xfffffffc);
	unsigned n = pony_rxwin_sack(&w, b, 4);
	assert_int_equal(n, 4);
	/* Latest arrival's block first, then the lowest. */
	assert_int_equal(b[0][0], 5);
	assert_int_equal(b[0][1], 6);
	assert_int_equal(b[1][0], 0xfffffffd);
	assert_int_equal(b[1][1], 0xfffffffe);
	assert_int_equal(b[2][0], 0xffffffff);
	assert_int_equal(b[2][1], 0);
	assert_int_equal(b[3][0], 1);
	assert_int_equal(b[3][1], 3);
	assert_int_equal(pony_rxwin_check(&w, 2), PONY_RX_DUP);
	assert_int_equal(pony_rxwin_check(&w, 0), PONY_RX_NEW);
	/* Fill the first hole: rcv_nxt jumps over fd. */
	assert_int_equal(pony_rxwin_mark(&w, 0xfffffffc), 2);
	assert_int_equal(w.rcv_nxt, 0xfffffffe);
	assert_int_equal(pony_rxwin_mark(&w, 0xfffffffe), 2);
	assert_int_equal(pony_rxwin_mark(&w, 0), 3);
	assert_int_equal(w.rcv_nxt, 3);
	assert_int_equal(pony_rxwin_check(&w, 0xffffffff), PONY_RX_DUP);
	n = pony_rxwin_sack(&w, b, 4);
	assert_int_equal(n, 1);
	assert_int_equal(b[0][0], 5);
	assert_int_equal(pony_rxwin_mark(&w, 4), 0);
	assert_int_equal(pony_rxwin_mark(&w, 3), 3);
	assert_int_equal(w.rcv_nxt, 6);
	assert_int_equal(pony_rxwin_sack(&w, b, 4), 0);
}

static void test_reverse_fill(void **state)
{
	struct pony_rxwin w;
	pony_rxwin_init(&w, map, 256, 7);
	for (uint32_t s = 7 + 255; s > 7; s--)
		assert_int_equal(pony_rxwin_mark(&w, s), 0);
	uint32_t b[4][2];
	assert_int_equal(pony_rxwin_sack(&w, b, 4), 1);
	assert_int_equal(b[0][0], 8);
	assert_int_equal(b[0][1], 7 + 256);
	assert_int_equal(pony_rxwin_mark(&w, 7), 256);
	assert_int_equal(w.rcv_nxt, 7 + 256);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(map[i], 0); /* slots are clean for the next lap */
}

static void test_cc(void **state)
{
	struct pony_cc_params p = {.target_tsc = 1000, .ai = 1.0, .beta = 0.8, .max_mdf = 0.5,
				   .cwnd_min = 0.01, .cwnd_max = 100};
	struct pony_cc cc;
	pony_cc_init(&cc, &p, 10);
	/* Below target: +ai per window of acks. */
	for (int i = 0; i < 10; i++)
		pony_cc_on_ack(&cc, &p, 1, 500, 2000, 100 + i);
	assert_true(cc.cwnd > 10.9 && cc.cwnd < 11.1);
	/* Above target: one decrease per RTT, proportional to the overshoot. */
	double before = cc.cwnd;
	pony_cc_on_ack(&cc, &p, 1, 2000, 2000, 10000);
	double expect = before * (1 - 0.8 * (2000 - 1000) / 2000.0);
	assert_true(cc.cwnd > expect - 1e-9 && cc.cwnd < expect + 1e-9);
	pony_cc_on_ack(&cc, &p, 1, 2000, 2000, 10500); /* same RTT: no second decrease */
	assert_true(cc.cwnd > expect - 1e-9 && cc.cwnd < expect + 1e-9);
	/* Huge overshoot: bounded by max_mdf. */
	before = cc.cwnd;
	pony_cc_on_ack(&cc, &p, 1, 1000000, 2000, 20000);
	assert_true(cc.cwnd > before * 0.5 - 1e-9 && cc.cwnd < before * 0.5 + 1e-9);
	/* Repeated timeouts push it below one packet: then paced at rtt / cwnd, where rtt is
	 * srtt up to the target (an srtt inflated past it does not slow the pacing further). */
	double pre = cc.cwnd;
	for (unsigned i = 1; i <= 3; i++)
		pony_cc_on_timeout(&cc, &p, i, 30000 + i);
	assert_true(cc.cwnd == 0.01);
	assert_int_equal(pony_cc_pacing_gap(&cc, &p, 800), 80000);
	assert_int_equal(pony_cc_pacing_gap(&cc, &p, 2000), 100000);
	assert_int_equal(pony_cc_pacing_gap(&cc, &p, 1000000), 100000);
	/* The timeouts were spurious (an ack for an original came): the window they cut is
	 * back, once. */
	pony_cc_undo_timeout(&cc);
	assert_true(cc.cwnd == pre && cc.undos == 1);
	pony_cc_undo_timeout(&cc);
	assert_true(cc.cwnd == pre && cc.undos == 2);
	for (unsigned i = 1; i <= 3; i++)
		pony_cc_on_timeout(&cc, &p, i, 35000 + i);
	/* Fractional windows grow by ai per ack. */
	pony_cc_on_ack(&cc, &p, 1, 10, 2000, 40000);
	assert_true(cc.cwnd > 1.0 && cc.cwnd < 1.02);
	assert_int_equal(pony_cc_pacing_gap(&cc, &p, 2000), 0);
	for (int i = 0; i < 100000; i++)
		pony_cc_on_ack(&cc, &p, 1, 10, 2000, 50000 + i);
	assert_true(cc.cwnd <= 100);
}

/* A path whose fixed delay (5000) exceeds the target (1000): a fixed target reads every ack
 * as congestion and sinks the window; the target plus the flow's base delay does not, and
 * still backs off when queueing adds to the base. */
static void test_cc_base_delay(void **state)
{
	struct pony_cc_params p = {.target_tsc = 1000, .ai = 1.0, .beta = 0.8, .max_mdf = 0.5,
				   .cwnd_min = 0.01, .cwnd_max = 100};
	struct pony_cc fixed, based;
	pony_cc_init(&fixed, &p, 10);
	struct pony_cc_params pb = p;
	pb.base_max_tsc = 100000;
	pony_cc_init(&based, &pb, 10);
	for (int i = 0; i < 200; i++) {
		pony_cc_on_ack(&fixed, &p, 1, 5000 + i % 50, 6000, 10000 * (uint64_t)(i + 1));
		pony_cc_on_ack(&based, &pb, 1, 5000 + i % 50, 6000, 10000 * (uint64_t)(i + 1));
	}
	assert_true(fixed.cwnd <= 0.02);            /* at the floor */
	assert_true(based.cwnd > 10.0);             /* grew: 5000-5049 is within 1000 of 5000 */
	assert_int_equal(pony_cc_target(&based, &pb), 6000);
	double before = based.cwnd;
	pony_cc_on_ack(&based, &pb, 1, 9000, 6000, 10000000); /* 3000 of queueing on top */
	assert_true(based.cwnd < before);
	/* The base is capped: a 1 s "fixed delay" adds only base_max. */
	struct pony_cc far;
	pony_cc_init(&far, &pb, 10);
	pony_cc_on_ack(&far, &pb, 1, 1000000000, 6000, 1);
	assert_int_equal(pony_cc_target(&far, &pb), 101000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_holes_and_sack),
		cmocka_unit_test(test_reverse_fill),
		cmocka_unit_test(test_cc),
		cmocka_unit_test(test_cc_base_delay),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
