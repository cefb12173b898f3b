/* Multi-queue ports (issue 17): a port gets exactly its configured queue pairs, RSS where the
 * device offers it (the null PMD does, with its own key), one owner engine per queue. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/portsetup.h"
#include "snap/steer.h"
#include "tests/unit/elemtest.h"

#define NQ 4

static void test_queues_and_rss(void **state)
{
	struct snap_port *p = snap_port_find("p0");
	assert_non_null(p);
	assert_int_equal(p->n_rxq, NQ);
	assert_int_equal(p->n_txq, NQ);
	/* Our hash types only, masked by what the device offers. */
	assert_true(p->rss_hf != 0);
	assert_int_equal(p->rss_hf & ~SNAP_STEER_RSS_HF, 0);
}

/* One engine per queue pair through the elements' `queue` argument; a second claim and an
 * out-of-range queue are refused. */
static void test_owners(void **state)
{
	struct snap_port *p = snap_port_find("p0");
	struct snap_engine *e[NQ];
	for (unsigned k = 0; k < NQ; k++) {
		char name[16], q[16];
		snprintf(name, sizeof(name), "e%u", k);
		snprintf(q, sizeof(q), "queue=%u", k);
		e[k] = snap_engine_create(name, SOCKET_ID_ANY);
		assert_non_null(e[k]);
		et_add(e[k], "port_rx", "rx", "port=p0", q, NULL);
		et_add(e[k], "port_tx", "tx", "port=p0", q, NULL);
	}
	for (unsigned k = 0; k < NQ; k++) {
		assert_ptr_equal(p->rxq_owner[k], e[k]);
		assert_ptr_equal(p->txq_owner[k], e[k]);
	}
	assert_int_equal(snap_port_claim_rxq(p, 2, e[1]), -EBUSY);
	assert_int_equal(snap_port_claim_txq(p, 2, e[1]), -EBUSY);
	assert_int_equal(snap_port_claim_rxq(p, NQ, e[1]), -EINVAL);
	assert_int_equal(snap_port_claim_txq(p, NQ, e[1]), -EINVAL);
	for (unsigned k = 0; k < NQ; k++)
		snap_engine_destroy(e[k]);
	for (unsigned k = 0; k < NQ; k++)
		assert_null(p->rxq_owner[k]);
}

int main(int argc, char **argv)
{
	et_port_kind = SNAP_PORT_NULL;
	et_port_queues = NQ;
	if (et_eal_init(argv[0]) != 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queues_and_rss),
		cmocka_unit_test(test_owners),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	et_eal_fini();
	return r;
}
