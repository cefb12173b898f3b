/* Port capture (control/capture.c) on a real ring port: every packet handed to a port's tx
 * queue is recorded exactly once, also when the queue refuses it and port_tx re-offers it
 * from its backlog poll after poll (the tx callback skips those retries). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>

#include "control/capture.h"
#include "control/rpc.h"
#include "elemtest.h"

#define N_PKTS 1300u /* more than net_ring's ring holds (1024), less than that plus port_tx's backlog */

static char dir[64];
static struct ctl_rpc_server *srv;

struct done_state {
	bool done;
	int err;
	struct ctl_capture_result res;
};

static void on_done(void *arg, int err, const struct ctl_capture_result *res)
{
	struct done_state *d = arg;
	d->done = true;
	d->err = err;
	d->res = *res;
}

/* Let the capture's 10 ms tick drain its copy ring into the file (the control thread's job). */
static void pump(void)
{
	for (unsigned i = 0; i < 8; i++) {
		ctl_rpc_process(srv);
		usleep(2500);
	}
}

static void test_tx_retries_recorded_once(void **state)
{
	struct snap_engine *e = snap_engine_create("cap", SOCKET_ID_ANY);
	assert_non_null(e);
	et_add(e, "port_tx", "tx", "port=p0", NULL);
	struct snap_port *p = snap_port_find("p0");
	assert_non_null(p);

	char path[128], err[256];
	snprintf(path, sizeof(path), "%s/tx.pcapng", dir);
	struct ctl_capture_req req = {.port = "p0", .dir = dir, .path = path, .count = 10 * N_PKTS,
				      .duration_ms = 60000, .dirs = CTL_CAPTURE_TX};
	struct done_state d = {0};
	struct ctl_capture *c;
	assert_int_equal(ctl_capture_start(srv, &req, on_done, &d, &c, err, sizeof(err)), 0);

	/* Nobody drains the loop-back ring: it takes what fits, port_tx keeps the rest and
	 * re-offers it on every poll (refused each time until the ring is drained). */
	static uint8_t frame[1514];
	size_t len = et_build_udp(frame, &et_mac_peer, et_ip("10.0.0.1"), et_ip("10.0.0.2"), 7,
				  7, 32);
	for (unsigned i = 0; i < N_PKTS; i++) {
		struct rte_mbuf *m = et_mbuf(frame, len);
		assert_non_null(m);
		et_feed(e, "tx", &m, 1);
		if (i % 256 == 255)
			pump();
	}
	for (unsigned i = 0; i < 50; i++)
		snap_engine_poll(e, rte_rdtsc());
	pump();
	uint64_t backlog = et_stat(e, "tx", "backlog");
	printf("capture: %u offered, %lu waiting in port_tx's backlog after 50 retry polls\n",
	       N_PKTS, (unsigned long)backlog);
	assert_true(backlog > 0); /* the retries really happened */

	/* Drain the ring as the wire would; the backlog then goes out. */
	struct rte_mbuf *got[64];
	unsigned rx = 0;
	for (unsigned round = 0; round < 200 && rx < N_PKTS; round++) {
		uint16_t n = rte_eth_rx_burst(p->port_id, 0, got, RTE_DIM(got));
		rte_pktmbuf_free_bulk(got, n);
		rx += n;
		snap_engine_poll(e, rte_rdtsc());
		if (round % 8 == 7)
			pump();
	}
	assert_int_equal(rx, N_PKTS);
	assert_int_equal(et_stat(e, "tx", "backlog"), 0);

	ctl_capture_cancel(c);
	for (unsigned i = 0; i < 500 && !d.done; i++) {
		ctl_rpc_process(srv);
		usleep(2000);
	}
	assert_true(d.done);
	printf("capture: %lu packets written, %lu dropped (err %d)\n",
	       (unsigned long)d.res.packets, (unsigned long)d.res.dropped, d.err);
	assert_int_equal(d.res.dropped, 0);
	assert_int_equal(d.res.packets, N_PKTS); /* once each, retries not again */
	snap_engine_destroy(e);
	assert_int_equal(et_in_use(), 0);
}

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/snapcap.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	et_port_kind = SNAP_PORT_RING;
	if (et_eal_init("test_capture") < 0)
		return -1;
	char sock[128];
	snprintf(sock, sizeof(sock), "%s/ctl.sock", dir);
	struct ctl_rpc_config cfg;
	ctl_rpc_config_default(&cfg);
	cfg.path = sock;
	srv = ctl_rpc_create(&cfg);
	return srv ? 0 : -1;
}

static int teardown(void **state)
{
	ctl_rpc_destroy(srv);
	et_eal_fini();
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_tx_retries_recorded_once)};
	return cmocka_run_group_tests(tests, setup, teardown);
}
