/* Pony transport end to end in one process, connection life cycle: two transports over a
 * simulated link, with close and refused opens, a dead peer, an unreachable host, a restarted
 * peer, idle teardown, a SYN flood answered without state, a transport saved and restored mid-exchange, and an input
 * clock running ahead of the poll's. Data transfer cases are in test_pony_sim.c; the fixture
 * is pony_sim_pair.h. */
#include "pony/save.h"
#include "pony_sim_pair.h"

static bool a_has_errors(void)
{
	return sim_ep[0].ts[0].closed != 0;
}

static bool a_failed_flow(void)
{
	struct pony_tp_stats st;
	pony_tp_get_stats(sim_ep[0].tp, &st);
	return st.flows_failed > 0;
}

/* A peer that goes silent: pending sends complete with -ETIMEDOUT after dead_timeout, the
 * stream is closed with -ETIMEDOUT. */
static void test_dead_peer(void **state)
{
	struct pony_tp_config ca, cb;
	sim_pair_cfg(&ca, &cb);
	sim_pair_start(&ca, &cb, 4);
	struct sim_ts *a = sim_pair_connect(4);
	assert_int_equal(sim_ts_plan(a, 40, 100000), 0);
	assert_int_equal(sim_ts_plan(&sim_ep[1].ts[0], 0, 1), 0);
	/* Let some messages through, then kill B. */
	for (unsigned i = 0; i < 100000 && a->acked < 5; i++)
		sim_step();
	assert_true(a->acked >= 5);
	sim_link.down[1] = true;
	sim_drop_pending();
	uint64_t t_dead = sim_now;
	assert_true(sim_run_until(a_has_errors, 10ull * SIM_HZ, 1000000));
	uint64_t took = sim_now - t_dead;
	sim_pair_dump("dead");
	print_message("dead peer detected after %.1f ms (dead_timeout %u us)\n", took / 1e6,
		      ca.dead_timeout_us);
	assert_int_equal(a->closed, -ETIMEDOUT);
	assert_int_equal(a->last_tx_err, -ETIMEDOUT);
	assert_int_equal(a->acked + a->tx_err, a->sent);
	assert_true(took >= (uint64_t)ca.dead_timeout_us * 900); /* last rx was just before */
	assert_true(took <= (uint64_t)ca.dead_timeout_us * 1000 * 2);
	assert_int_equal(pony_tp_send(sim_ep[0].tp, a->sid, "x", 1, 0), -ENOTCONN);
	sim_pair_stop();
}

/* Opening toward a host that never answers: opened(-ETIMEDOUT). */
static void test_open_unreachable(void **state)
{
	sim_pair_start(NULL, NULL, 4);
	sim_link.down[1] = true;
	struct sim_ts *a = sim_pair_open(4);
	assert_int_equal(pony_tp_send(sim_ep[0].tp, a->sid, "abc", 3, 0), 0);
	a->sent = 1;
	assert_true(sim_run_until(a_failed_flow, 10ull * SIM_HZ, 1000000));
	assert_int_equal(a->opened, -ETIMEDOUT);
	assert_int_equal(a->last_tx_err, -ETIMEDOUT);
	assert_false(a->closed_called);
	sim_pair_stop();
}

/* A opens a stream to B; then B restarts as a new incarnation (another seed) that knows
 * nothing of the flow. Returns A's stream. */
static struct sim_ts *open_then_restart_b(uint32_t seed)
{
	struct pony_tp_config ca, cb;
	sim_pair_cfg(&ca, &cb);
	sim_pair_start(&ca, &cb, 4);
	struct sim_ts *a = sim_pair_open(4);
	assert_true(sim_run_until(sim_pair_all_open, 100 * 1000 * 1000ull, 100000));
	sim_drop_pending();
	sim_ep_stop(1);
	cb.seed = seed;
	assert_int_equal(sim_ep_start(1, &cb), 0);
	return a;
}

/* B restarts (new incarnation, no memory of the flow): A learns through RST, fails the
 * flow with -ECONNRESET, and can open a new stream at once. */
static void test_restarted_peer(void **state)
{
	struct sim_ts *a = open_then_restart_b(777);
	sim_ep[1].initial_credit = 4;
	assert_int_equal(pony_tp_listen(sim_ep[1].tp, SIM_SERVICE, &sim_ep[1]), 0);
	assert_int_equal(pony_tp_send(sim_ep[0].tp, a->sid, "hello", 5, 0), 0);
	a->sent = 1;
	assert_true(sim_run_until(a_has_errors, SIM_HZ, 100000));
	assert_int_equal(a->closed, -ECONNRESET);
	struct pony_tp_stats st;
	pony_tp_get_stats(sim_ep[1].tp, &st);
	assert_true(st.rst_tx > 0);
	/* A new stream over a new flow works. */
	struct sim_ts *a2 = sim_pair_open(4);
	assert_true(sim_run_until(sim_pair_all_open, SIM_HZ, 100000) || (a2->opened == 1));
	assert_int_equal(a2->opened, 1);
	sim_pair_stop();
}

/* B restarts and opens toward A first: A sees a SYN with a new flow id and answers with a
 * challenge ACK; B, which has no flow with those ids, answers with an exact RST, so A fails
 * the old flow (its stream closes with -ECONNRESET) and accepts B's next SYN. */
static void test_restarted_peer_reconnects(void **state)
{
	struct sim_ts *a = open_then_restart_b(4242);
	sim_ep[0].initial_credit = 4;
	assert_int_equal(pony_tp_listen(sim_ep[0].tp, SIM_SERVICE, &sim_ep[0]), 0);
	struct sim_ts *b = sim_ts_new(&sim_ep[1]);
	assert_int_equal(pony_tp_open(sim_ep[1].tp, PONY_IP4(sim_ep[0].ip), SIM_SERVICE, b, &b->sid), 0);
	for (unsigned i = 0; i < 100000 && b->opened == 0; i++)
		sim_step();
	assert_int_equal(b->opened, 1);
	assert_int_equal(a->closed, -ECONNRESET);
	assert_int_equal(sim_ep[0].n_ts, 2); /* the old stream and the newly accepted one */
	assert_int_equal(sim_ep[0].ts[1].opened, 1);
	struct pony_tp_stats st;
	pony_tp_get_stats(sim_ep[0].tp, &st);
	assert_int_equal(st.challenge_ack_tx, 1);
	assert_int_equal(st.rst_rx, 1);
	sim_pair_stop();
}

static bool flows_gone(void)
{
	struct pony_flow_stats fs;
	return pony_tp_flow_stats(sim_ep[0].tp, 0, &fs) == -ESRCH &&
	       pony_tp_flow_stats(sim_ep[1].tp, 0, &fs) == -ESRCH;
}

/* Idle teardown: once the last stream is closed, FIN/FIN_ACK release the flow on both
 * sides; opening again builds a new flow. */
static void test_idle_teardown(void **state)
{
	sim_pair_start(NULL, NULL, 4);
	sim_link.loss = 0.05;
	struct sim_ts *a = sim_pair_open(4);
	assert_true(sim_run_until(sim_pair_all_open, 100 * 1000 * 1000ull, 100000));
	assert_int_equal(pony_tp_close(sim_ep[0].tp, a->sid), 0);
	assert_true(sim_run_until(flows_gone, 10ull * SIM_HZ, 1000000));
	assert_int_equal(sim_ep[1].ts[0].closed, 1);
	struct pony_tp_stats st;
	pony_tp_get_stats(sim_ep[0].tp, &st);
	assert_int_equal(st.flows_created, 1);
	struct sim_ts *a2 = sim_pair_open(4);
	for (unsigned i = 0; i < 100000 && a2->opened == 0; i++)
		sim_step();
	assert_int_equal(a2->opened, 1);
	pony_tp_get_stats(sim_ep[0].tp, &st);
	assert_int_equal(st.flows_created, 2);
	sim_pair_stop();
}

/* Spoofed SYNs from many ports: B answers each with a cookie SYN_ACK and holds nothing, so
 * a real peer connects at once even with a flow table of 4. */
static void test_syn_flood_stateless(void **state)
{
	struct pony_tp_config ca, cb;
	sim_pair_cfg(&ca, &cb);
	cb.max_flows = 4;
	sim_pair_start(&ca, &cb, 4);
	for (uint16_t port = 1000; port < 1008; port++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(sim_pool);
		struct pony_hdr h = {.type = PONY_T_SYN, .src_flow = 77u + port, .seq = 5};
		uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, PONY_HDR_FIXED);
		pony_wire_build(p, &h);
		pony_tp_input(sim_ep[1].tp, sim_ep[0].ip, port, &m, 1, sim_now);
	}
	struct pony_tp_stats st;
	pony_tp_get_stats(sim_ep[1].tp, &st);
	assert_int_equal(st.flows_created, 0);
	assert_int_equal(st.cookie_tx, 8);
	struct pony_flow_stats fs;
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(pony_tp_flow_stats(sim_ep[1].tp, i, &fs), -ESRCH);
	struct sim_ts *a = sim_pair_open(4);
	for (unsigned i = 0; i < 100000 && a->opened == 0; i++)
		sim_step();
	assert_int_equal(a->opened, 1);
	pony_tp_get_stats(sim_ep[1].tp, &st);
	assert_int_equal(st.cookie_ok, 1);
	sim_pair_stop();
}

static bool half_done(void)
{
	return sim_ep[0].ts[0].acked >= sim_ep[0].ts[0].total / 2 &&
	       sim_ep[1].ts[0].acked >= sim_ep[1].ts[0].total / 2;
}

/* Upgrade in the middle of an impaired exchange: A's transport is saved, destroyed, and a
 * new one restored from the blob while packets are in flight; the exchange completes with
 * every message exactly once. Also: damaged blobs are refused without harm. */
static void test_save_restore(void **state)
{
	struct pony_tp_config ca, cb;
	sim_pair_cfg(&ca, &cb);
	sim_pair_start(&ca, &cb, 16);
	sim_link.loss = 0.05;
	sim_link.reorder = 0.05;
	sim_link.dup = 0.01;
	struct sim_ts *a = sim_pair_connect(16);
	assert_int_equal(sim_ts_plan(a, 300, 200000), 0);
	assert_int_equal(sim_ts_plan(&sim_ep[1].ts[0], 300, 200000), 0);
	assert_true(sim_run_until(half_done, 100ull * SIM_HZ, 5000000));
	/* Save at a moment when A holds out-of-order segments, so their bytes travel too. */
	struct pony_tp_stats cur = {0};
	for (unsigned i = 0; i < 200000 && cur.held_mbufs == 0; i++) {
		sim_step();
		pony_tp_get_stats(sim_ep[0].tp, &cur);
	}
	assert_true(cur.held_mbufs > 0);

	struct snap_sbuf sb;
	snap_sbuf_init(&sb);
	assert_int_equal(pony_tp_save(sim_ep[0].tp, &sb), 0);
	struct pony_tp_stats before;
	pony_tp_get_stats(sim_ep[0].tp, &before);
	pony_tp_destroy(sim_ep[0].tp);
	sim_ep[0].tp = pony_tp_create(&ca);
	assert_non_null(sim_ep[0].tp);
	assert_int_equal(pony_tp_restore(sim_ep[0].tp, sb.data, sb.len - 1, NULL), -EINVAL);
	uint64_t magic_fix = ((uint64_t *)sb.data)[0];
	((uint64_t *)sb.data)[0] ^= 1;
	assert_int_equal(pony_tp_restore(sim_ep[0].tp, sb.data, sb.len, NULL), -EINVAL);
	((uint64_t *)sb.data)[0] = magic_fix;
	((uint32_t *)sb.data)[2]++; /* version */
	assert_int_equal(pony_tp_restore(sim_ep[0].tp, sb.data, sb.len, NULL), -EPROTO);
	((uint32_t *)sb.data)[2]--;
	assert_int_equal(pony_tp_restore(sim_ep[0].tp, sb.data, sb.len, NULL), 0);
	snap_sbuf_fini(&sb);
	struct pony_tp_stats after;
	pony_tp_get_stats(sim_ep[0].tp, &after);
	assert_int_equal(after.held_mbufs, before.held_mbufs);
	assert_int_equal(after.msgs_tx, before.msgs_tx);
	print_message("restored with %lu held segments, %lu msgs acked so far\n",
		      after.held_mbufs, after.msgs_tx);

	assert_true(sim_run_until(sim_pair_all_done, 100ull * SIM_HZ, 5000000));
	sim_pair_dump("restored");
	for (int e = 0; e < 2; e++) {
		const struct sim_ts *t = &sim_ep[e].ts[0];
		assert_int_equal(t->rx_bad + t->rx_err + t->tx_err, 0);
		assert_int_equal(t->rx_next, 300);
	}
	struct pony_tp_stats sbst;
	pony_tp_get_stats(sim_ep[1].tp, &sbst);
	assert_int_equal(sbst.flows_failed, 0); /* B never noticed */
	sim_pair_stop();
}

static bool a_closed(void)
{
	return sim_ep[1].ts[0].closed != 0;
}

/* Close: the peer sees closed(0) only after every message sent before the close arrived;
 * refused opens report -ECONNREFUSED. */
static void test_close_and_refuse(void **state)
{
	sim_pair_start(NULL, NULL, 64);
	sim_link.loss = 0.05;
	sim_link.reorder = 0.05;
	struct sim_ts *a = sim_pair_connect(0);
	assert_int_equal(sim_ts_plan(a, 20, 3000), 0);
	assert_int_equal(sim_ts_plan(&sim_ep[1].ts[0], 0, 1), 0);
	sim_ts_pump(a);
	for (unsigned i = 0; i < 100000 && a->acked < 20; i++)
		sim_step();
	assert_int_equal(a->acked, 20);
	assert_int_equal(pony_tp_close(sim_ep[0].tp, a->sid), 0);
	assert_int_equal(pony_tp_close(sim_ep[0].tp, a->sid), -ENOTCONN);
	assert_true(sim_run_until(a_closed, SIM_HZ, 100000));
	assert_int_equal(sim_ep[1].ts[0].closed, 1);
	assert_int_equal(sim_ep[1].ts[0].rx_next, 20);
	/* Refused: no listener on service 9. */
	struct sim_ts *r = sim_ts_new(&sim_ep[0]);
	assert_int_equal(pony_tp_open(sim_ep[0].tp, PONY_IP4(sim_ep[1].ip), 9, r, &r->sid), 0);
	for (unsigned i = 0; i < 100000 && r->opened == 0; i++)
		sim_step();
	assert_int_equal(r->opened, -ECONNREFUSED);
	sim_pair_stop();
}

/* Input runs with a clock ahead of the next poll's (the pony element reads the TSC after the
 * engine's poll started): the transport's clock must not go back, or `now - last_rx` wraps and
 * the fresh flow is failed as dead / torn down as idle right after its handshake. */
static void test_clock_lag(void **state)
{
	sim_pair_start(NULL, NULL, 4);
	sim_link.input_ahead_ns = 3000;
	struct sim_ts *a = sim_pair_connect(4);
	assert_int_equal(sim_ts_plan(a, 50, 3000), 0);
	assert_int_equal(sim_ts_plan(&sim_ep[1].ts[0], 0, 1), 0);
	assert_true(sim_run_until(sim_pair_all_done, 10ull * SIM_HZ, 1000000));
	struct pony_tp_stats s0, s1;
	pony_tp_get_stats(sim_ep[0].tp, &s0);
	pony_tp_get_stats(sim_ep[1].tp, &s1);
	assert_int_equal(s0.flows_failed + s1.flows_failed, 0);
	assert_int_equal(s0.rst_tx + s1.rst_tx, 0);
	assert_int_equal(a->rx_bad + sim_ep[1].ts[0].rx_bad, 0);
	sim_link.input_ahead_ns = 0;
	sim_pair_stop();
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_close_and_refuse),
		cmocka_unit_test(test_dead_peer),
		cmocka_unit_test(test_open_unreachable),
		cmocka_unit_test(test_restarted_peer),
		cmocka_unit_test(test_restarted_peer_reconnects),
		cmocka_unit_test(test_idle_teardown),
		cmocka_unit_test(test_syn_flood_stateless),
		cmocka_unit_test(test_save_restore),
		cmocka_unit_test(test_clock_lag),
	};
	return sim_pair_run_tests("pony_sim_conn", tests, sizeof(tests) / sizeof(tests[0]));
}
