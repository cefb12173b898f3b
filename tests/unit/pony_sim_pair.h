/* Shared fixture of the cmocka Pony simulation programs (test_pony_sim, test_pony_sim_conn):
 * endpoint A (sim_ep[0]) opens streams to endpoint B (sim_ep[1]), which listens on
 * SIM_SERVICE; helpers to start, connect, check, dump and stop such a pair. Failures are
 * cmocka assertions, so only cmocka programs link pony_sim_pair.c (with pony_sim.c). */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "pony_sim.h"

#define SIM_SERVICE 7

/* Default configs of A and B (sim_cfg of endpoints 0 and 1), for the test to adjust. */
void sim_pair_cfg(struct pony_tp_config *ca, struct pony_tp_config *cb);

/* Reset the link (5 us base delay, up to 40 us extra when reordering, no impairment) and
 * the clock (1 s), start A from ca and B from cb (either NULL: sim_cfg's defaults), and make
 * B listen on SIM_SERVICE granting `credit` to every stream it accepts. Asserts that each
 * step succeeds and that a second listen on the service is refused with -EADDRINUSE. */
void sim_pair_start(struct pony_tp_config *ca, struct pony_tp_config *cb, uint32_t credit);

/* Open a stream from A to B's SIM_SERVICE, granting `credit` (if nonzero) to its peer; the
 * stream grants one more per message it completes. Returns it (asserts on failure). */
struct sim_ts *sim_pair_open(uint32_t credit);

/* sim_pair_open, then run until every stream is open on both sides (at most 100 ms of
 * simulated time) and pair the streams by index. Returns A's new stream. */
struct sim_ts *sim_pair_connect(uint32_t credit);

/* A's stream i and B's stream i describe each other's messages (sim_ts.peer), for all i.
 * Streams must have been accepted by B in the order A opened them. */
void sim_pair_peers(void);
/* Plan n messages each way on stream a (up to a_max bytes each) and B's first one (up to
 * b_max), run until all are done or max_sim_ns: whether they were (the pair's state is
 * dumped under `what` when not). */
bool sim_pair_exchange(struct sim_ts *a, uint32_t n, uint32_t a_max, uint32_t b_max,
		       uint64_t max_sim_ns, unsigned max_steps, const char *what);

/* Every stream of A and B is open, and B has as many as A. */
bool sim_pair_all_open(void);

/* Every stream has all its messages acked and, if paired, has received all its peer's. */
bool sim_pair_all_done(void);

/* Print the transports', flows', streams' and link's counters (print_message), prefixed
 * with `what`: called when a scenario ends, so a failure shows where it stood. */
void sim_pair_dump(const char *what);

/* Free every packet on the link, stop both endpoints, and assert that sim_pool has every
 * mbuf back. */
void sim_pair_stop(void);

/* Run `tests` (n of them) as one cmocka group whose setup is sim_eal_init(name) and whose
 * teardown is sim_eal_fini. If PONY_TEST_FILTER is set, only the tests it matches run.
 * Returns cmocka's result (the number of failed tests). */
int sim_pair_run_tests(const char *name, const struct CMUnitTest *tests, size_t n);
