/* Unit test of stopping a port under its engine (snap_port_stop/start and the started gate in
 * port_rx/port_tx, what the memif link keeper relies on): while the port is stopped, rx finds
 * nothing and tx drops as port_stopped, leaking no mbuf; started again, traffic flows. Ring
 * ports, so what p0 sends comes back on p0. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <rte_cycles.h>

#include "core/portsetup.h"
#include "tests/unit/elemtest.h"

static struct snap_engine *eng;
static struct snap_port *p0;
static struct et_sink *sink;
static unsigned baseline;
static uint8_t frame[128];
static size_t frame_len;

static int setup(void **state)
{
	eng = snap_engine_create("porter", SOCKET_ID_ANY);
	assert_non_null(eng);
	et_add(eng, "port_rx", "rx", "port=p0", NULL);
	et_add(eng, "test_sink", "sink", NULL);
	et_add(eng, "port_tx", "tx", "port=p0", NULL);
	et_link(eng, "rx", "out", "sink");
	sink = et_sink_of(eng, "sink");
	p0 = snap_port_find("p0");
	assert_non_null(p0);
	frame_len = et_build_udp(frame, &et_mac_us, et_ip("10.0.0.2"), et_ip("10.0.0.1"), 9, 9, 18);
	baseline = et_in_use();
	return 0;
}

static int teardown(void **state)
{
	snap_engine_destroy(eng);
	eng = NULL;
	assert_int_equal(et_in_use(), baseline);
	return 0;
}

static void send_n(unsigned n)
{
	struct rte_mbuf *m[8];
	assert_true(n <= 8);
	for (unsigned i = 0; i < n; i++)
		assert_non_null(m[i] = et_mbuf(frame, frame_len));
	et_feed(eng, "tx", m, (uint16_t)n);
}

/* What the engine (parked: this thread runs it) receives in a few polls. */
static unsigned receive(void)
{
	et_sink_clear(sink);
	for (int i = 0; i < 4; i++)
		snap_engine_poll(eng, rte_rdtsc());
	unsigned n = sink->n;
	et_sink_clear(sink);
	return n;
}

static void test_stop_start(void **state)
{
	assert_true(snap_port_started(p0));
	send_n(4);
	assert_int_equal(receive(), 4);

	assert_int_equal(snap_port_stop(p0, 100), 0);
	assert_false(snap_port_started(p0));
	send_n(3);
	assert_int_equal(et_drops(eng, "tx", SNAP_DROP_PORT_STOPPED), 3);
	assert_int_equal(receive(), 0);
	assert_int_equal(et_in_use(), baseline);
	assert_int_equal(snap_port_stop(p0, 100), 0); /* already stopped: nothing to do */

	assert_int_equal(snap_port_start(p0), 0);
	assert_true(snap_port_started(p0));
	send_n(2);
	assert_int_equal(receive(), 2);
	assert_int_equal(et_drops(eng, "tx", SNAP_DROP_PORT_STOPPED), 3);
}

/* The gate only keeps the engine off the device: what a ring port held at the stop comes out
 * of rx after the start (a memif device, by contrast, resets its rings on a reconnect). */
static void test_queued_survive(void **state)
{
	send_n(5);
	assert_int_equal(snap_port_stop(p0, 100), 0);
	assert_int_equal(receive(), 0);
	assert_int_equal(snap_port_start(p0), 0);
	assert_int_equal(receive(), 5);
}

/* The peer port has no queue owner: syncing it waits for nobody. */
static void test_sync_no_owner(void **state)
{
	assert_int_equal(snap_port_sync_owners(snap_port_find("peer"), 100), 0);
	assert_int_equal(snap_port_sync_owners(p0, 100), 0);
}

/* Queue ownership: claimed by the engine whose port_rx/port_tx use it, refused to another,
 * released only by its owner (the elements' destroy calls release), then claimable again. */
static void test_queue_claim_release(void **state)
{
	struct snap_engine *other = snap_engine_create("other", SOCKET_ID_ANY);
	assert_non_null(other);
	assert_int_equal(snap_port_claim_rxq(p0, 0, other), -EBUSY);
	assert_int_equal(snap_port_claim_txq(p0, 0, other), -EBUSY);
	assert_int_equal(snap_port_claim_rxq(p0, 0, eng), 0); /* the owner again: fine */
	assert_int_equal(snap_port_release_rxq(p0, 0, other), -ENOENT);
	assert_int_equal(snap_port_release_txq(p0, 0, other), -ENOENT);
	assert_ptr_equal(p0->rxq_owner[0], eng);
	assert_ptr_equal(p0->txq_owner[0], eng);
	assert_int_equal(snap_port_release_rxq(p0, p0->n_rxq, eng), -EINVAL);
	assert_int_equal(snap_port_claim_txq(p0, p0->n_txq, eng), -EINVAL);

	/* Destroying the owner's elements gives the queues back. */
	snap_engine_destroy(eng);
	eng = snap_engine_create("porter", SOCKET_ID_ANY);
	assert_non_null(eng);
	assert_null(p0->rxq_owner[0]);
	assert_null(p0->txq_owner[0]);
	et_add(other, "port_rx", "rx", "port=p0", NULL);
	assert_ptr_equal(p0->rxq_owner[0], other);
	assert_int_equal(snap_port_release_rxq(p0, 0, other), 0);
	assert_int_equal(snap_port_release_rxq(p0, 0, other), -ENOENT);
	assert_null(p0->rxq_owner[0]);
	snap_engine_destroy(other); /* its port_rx releases nothing it does not own */
	assert_null(p0->rxq_owner[0]);
}

int main(int argc, char **argv)
{
	et_port_kind = SNAP_PORT_RING;
	if (et_eal_init(argv[0]) < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stop_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queued_survive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_no_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_claim_release, setup, teardown),
	};
	int r = cmocka_run_group_tests_name("port_stop", tests, NULL, NULL);
	et_eal_fini();
	return r;
}
