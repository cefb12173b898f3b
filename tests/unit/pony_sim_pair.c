/* The A-to-B pair fixture of the cmocka Pony simulation programs (contracts in
 * pony_sim_pair.h). */
#include "pony_sim_pair.h"

void sim_pair_cfg(struct pony_tp_config *ca, struct pony_tp_config *cb)
{
	sim_cfg(ca, 0);
	sim_cfg(cb, 1);
}

void sim_pair_start(struct pony_tp_config *ca, struct pony_tp_config *cb, uint32_t credit)
{
	struct pony_tp_config dflt[2];
	sim_pair_cfg(&dflt[0], &dflt[1]);
	memset(&sim_link, 0, sizeof(sim_link));
	sim_link.base_ns = 5000;
	sim_link.reorder_ns = 40000;
	sim_now = SIM_HZ;
	assert_int_equal(sim_ep_start(0, ca ? ca : &dflt[0]), 0);
	assert_int_equal(sim_ep_start(1, cb ? cb : &dflt[1]), 0);
	sim_ep[1].initial_credit = credit;
	assert_int_equal(pony_tp_listen(sim_ep[1].tp, SIM_SERVICE, &sim_ep[1]), 0);
	assert_int_equal(pony_tp_listen(sim_ep[1].tp, SIM_SERVICE, &sim_ep[1]), -EADDRINUSE);
}

struct sim_ts *sim_pair_open(uint32_t credit)
{
	struct sim_ts *t = sim_ts_new(&sim_ep[0]);
	assert_non_null(t);
	assert_int_equal(pony_tp_open(sim_ep[0].tp, &sim_ep[1].addr, SIM_SERVICE, t, &t->sid), 0);
	t->credit_step = 1;
	if (credit)
		assert_int_equal(pony_tp_grant(sim_ep[0].tp, t->sid, credit), 0);
	return t;
}

struct sim_ts *sim_pair_connect(uint32_t credit)
{
	struct sim_ts *t = sim_pair_open(credit);
	assert_true(sim_run_until(sim_pair_all_open, 100 * 1000 * 1000ull, 100000));
	sim_pair_peers();
	return t;
}

bool sim_pair_all_open(void)
{
	for (int e = 0; e < 2; e++)
		for (unsigned i = 0; i < sim_ep[e].n_ts; i++)
			if (sim_ep[e].ts[i].opened != 1)
				return false;
	return sim_ep[1].n_ts == sim_ep[0].n_ts;
}

bool sim_pair_all_done(void)
{
	for (int e = 0; e < 2; e++)
		for (unsigned i = 0; i < sim_ep[e].n_ts; i++) {
			const struct sim_ts *t = &sim_ep[e].ts[i];
			if (t->acked < t->total || (t->peer && t->rx_next < t->peer->total))
				return false;
		}
	return true;
}

void sim_pair_peers(void)
{
	for (unsigned i = 0; i < sim_ep[0].n_ts; i++) {
		sim_ep[0].ts[i].peer = &sim_ep[1].ts[i];
		sim_ep[1].ts[i].peer = &sim_ep[0].ts[i];
	}
}

bool sim_pair_exchange(struct sim_ts *a, uint32_t n, uint32_t a_max, uint32_t b_max,
		       uint64_t max_sim_ns, unsigned max_steps, const char *what)
{
	assert_int_equal(sim_ts_plan(a, n, a_max), 0);
	assert_int_equal(sim_ts_plan(&sim_ep[1].ts[0], n, b_max), 0);
	bool ok = sim_run_until(sim_pair_all_done, max_sim_ns, max_steps);
	if (!ok)
		sim_pair_dump(what);
	return ok;
}

void sim_pair_dump(const char *what)
{
	for (int e = 0; e < 2; e++) {
		struct pony_tp_stats st;
		if (!sim_ep[e].tp)
			continue;
		pony_tp_get_stats(sim_ep[e].tp, &st);
		print_message("%s ep%d: tx %lu rx %lu data_tx %lu retx %lu fast %lu rto %lu dup %lu "
			      "ooo %lu csum %lu malformed %lu nombuf %lu held %lu msgs tx %lu rx %lu\n",
			      what, e, st.tx_pkts, st.rx_pkts, st.data_tx, st.retransmits,
			      st.fast_retransmits, st.timeouts, st.dup_rx, st.ooo_rx, st.bad_csum,
			      st.malformed, st.no_mbuf, st.held_mbufs, st.msgs_tx, st.msgs_rx);
		struct pony_flow_stats fs;
		for (unsigned i = 0; pony_tp_flow_stats(sim_ep[e].tp, i, &fs) != -ENOENT; i++)
			if (pony_tp_flow_stats(sim_ep[e].tp, i, &fs) == 0)
				print_message("  flow %u: state %u cwnd %.2f srtt %lu ns rto %lu ns "
					      "inflight %u delay min %lu last %lu samples %lu\n",
					      i, fs.state, fs.cwnd, fs.srtt_ns, fs.rto_ns, fs.inflight,
					      fs.min_delay_ns, fs.last_delay_ns, fs.delay_samples);
		for (unsigned i = 0; i < sim_ep[e].n_ts; i++) {
			const struct sim_ts *t = &sim_ep[e].ts[i];
			print_message("  ts %u sid %x open %d sent %u/%u acked %u rx_next %u bad %u "
				      "err tx %u rx %u\n",
				      i, t->sid, t->opened, t->sent, t->total, t->acked, t->rx_next,
				      t->rx_bad, t->tx_err, t->rx_err);
		}
	}
	print_message("link: sent %lu lost %lu dup %lu corrupt %lu reordered %lu pending %u\n",
		      sim_link.sent, sim_link.lost, sim_link.dups, sim_link.corrupted,
		      sim_link.reordered, sim_link.n);
}

void sim_pair_stop(void)
{
	sim_drop_pending();
	sim_ep_stop(0);
	sim_ep_stop(1);
	assert_int_equal(rte_mempool_in_use_count(sim_pool), 0);
}

static const char *run_name;

static int group_setup(void **state)
{
	return sim_eal_init(run_name);
}

static int group_teardown(void **state)
{
	sim_eal_fini();
	return 0;
}

int sim_pair_run_tests(const char *name, const struct CMUnitTest *tests, size_t n)
{
	run_name = name;
	if (getenv("PONY_TEST_FILTER"))
		cmocka_set_test_filter(getenv("PONY_TEST_FILTER"));
	/* What cmocka_run_group_tests expands to, for an array whose size we are given. */
	return _cmocka_run_group_tests(name, tests, n, group_setup, group_teardown);
}
