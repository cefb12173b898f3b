/* Pony transport end to end in one process: two transports over a simulated impaired link
 * (loss, reorder, duplication, corruption; seeded), a dead peer, a restarted peer, credit
 * back-pressure and reassembly from crafted packet orders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>

#include <cmocka.h>

#include "pony/save.h"
#include "pony_sim.h"

#define SERVICE 7

static double wall_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void start_pair(struct pony_tp_config *ca, struct pony_tp_config *cb, uint32_t credit)
{
	memset(&sim_link, 0, sizeof(sim_link));
	sim_link.base_ns = 5000;
	sim_link.reorder_ns = 40000;
	sim_now = SIM_HZ;
	assert_int_equal(sim_ep_start(0, ca), 0);
	assert_int_equal(sim_ep_start(1, cb), 0);
	sim_ep[1].initial_credit = credit;
	assert_int_equal(pony_tp_listen(sim_ep[1].tp, SERVICE, &sim_ep[1]), 0);
	assert_int_equal(pony_tp_listen(sim_ep[1].tp, SERVICE, &sim_ep[1]), -EADDRINUSE);
}

static struct sim_ts *open_stream(uint32_t credit)
{
	struct sim_ts *t = sim_ts_new(&sim_ep[0]);
	assert_non_null(t);
	assert_int_equal(pony_tp_open(sim_ep[0].tp, sim_ep[1].ip, SERVICE, t, &t->sid), 0);
	t->credit_step = 1;
	if (credit)
		assert_int_equal(pony_tp_grant(sim_ep[0].tp, t->sid, credit), 0);
	return t;
}

/* Run until cond() or the step/simulated-time bound. */
static bool run_until(bool (*cond)(void), uint64_t max_sim_ns, unsigned max_steps)
{
	uint64_t end = sim_now + max_sim_ns;
	for (unsigned i = 0; i < max_steps && sim_now < end; i++) {
		if (cond())
			return true;
		sim_step();
	}
	return cond();
}

static bool all_open(void)
{
	for (int e = 0; e < 2; e++)
		for (unsigned i = 0; i < sim_ep[e].n_ts; i++)
			if (sim_ep[e].ts[i].opened != 1)
				return false;
	return sim_ep[1].n_ts == sim_ep[0].n_ts;
}

static bool all_done(void)
{
	for (int e = 0; e < 2; e++)
		for (unsigned i = 0; i < sim_ep[e].n_ts; i++) {
			const struct sim_ts *t = &sim_ep[e].ts[i];
			if (t->acked < t->total || (t->peer && t->rx_next < t->peer->total))
				return false;
		}
	return true;
}

static void pair_peers(void)
{
	for (unsigned i = 0; i < sim_ep[0].n_ts; i++) {
		sim_ep[0].ts[i].peer = &sim_ep[1].ts[i];
		sim_ep[1].ts[i].peer = &sim_ep[0].ts[i];
	}
}

static void dump(const char *what)
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

static void stop_pair(void)
{
	sim_drop_pending();
	sim_ep_stop(0);
	sim_ep_stop(1);
	assert_int_equal(rte_mempool_in_use_count(sim_pool), 0);
}

/* Thousands of messages, 1 B .. 1 MiB, both directions on two streams, over a link with 5%
 * loss, 5% reorder, 1% duplication, 0.1% corruption. */
static void test_sim_impaired(void **state)
{
	struct pony_tp_config ca, cb;
	sim_cfg(&ca, 0);
	sim_cfg(&cb, 1);
	start_pair(&ca, &cb, 16);
	sim_link.loss = 0.05;
	sim_link.reorder = 0.05;
	sim_link.dup = 0.01;
	sim_link.corrupt = 0.001;
	double t0 = wall_s();

	uint32_t per_dir = getenv("PONY_SIM_MSGS") ? (uint32_t)atoi(getenv("PONY_SIM_MSGS")) : 2000;
	/* One at a time, so B's accept order matches (pair_peers pairs by index). */
	struct sim_ts *a1 = open_stream(16);
	assert_true(run_until(all_open, 100 * 1000 * 1000ull, 100000));
	struct sim_ts *a2 = open_stream(16);
	assert_true(run_until(all_open, 100 * 1000 * 1000ull, 100000));
	pair_peers();
	struct sim_ts *b1 = &sim_ep[1].ts[0], *b2 = &sim_ep[1].ts[1];
	assert_int_equal(sim_ts_plan(a1, per_dir, 1u << 20), 0);
	assert_int_equal(sim_ts_plan(a2, per_dir, 1u << 20), 0);
	assert_int_equal(sim_ts_plan(b1, per_dir, 1u << 20), 0);
	assert_int_equal(sim_ts_plan(b2, per_dir / 2, 64 << 10), 0);

	bool ok = run_until(all_done, 600ull * SIM_HZ, 20 * 1000 * 1000);
	double secs = wall_s() - t0;
	dump("impaired");
	print_message("impaired: %u msgs, sim %.3f s, wall %.2f s\n",
		      3 * per_dir + per_dir / 2, (double)(sim_now - SIM_HZ) / SIM_HZ, secs);
	assert_true(ok);
	for (int e = 0; e < 2; e++)
		for (unsigned i = 0; i < 2; i++) {
			const struct sim_ts *t = &sim_ep[e].ts[i];
			assert_int_equal(t->rx_bad, 0);
			assert_int_equal(t->rx_err, 0);
			assert_int_equal(t->tx_err, 0);
			assert_int_equal(t->rx_next, t->peer->total);
		}
	struct pony_tp_stats sa, sb;
	pony_tp_get_stats(sim_ep[0].tp, &sa);
	pony_tp_get_stats(sim_ep[1].tp, &sb);
	assert_true(sa.retransmits > 0 && sb.retransmits > 0);
	assert_true(sa.fast_retransmits + sb.fast_retransmits > 0);
	assert_true(sa.dup_rx + sb.dup_rx > 0);
	assert_true(sim_link.corrupted == 0 || sa.bad_csum + sb.bad_csum > 0);
	assert_int_equal(sa.held_mbufs, 0);
	assert_int_equal(sb.held_mbufs, 0);
	assert_true(secs < 60.0);
	stop_pair();
}

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
	sim_cfg(&ca, 0);
	sim_cfg(&cb, 1);
	start_pair(&ca, &cb, 4);
	struct sim_ts *a = open_stream(4);
	assert_true(run_until(all_open, 100 * 1000 * 1000ull, 100000));
	pair_peers();
	assert_int_equal(sim_ts_plan(a, 40, 100000), 0);
	assert_int_equal(sim_ts_plan(&sim_ep[1].ts[0], 0, 1), 0);
	/* Let some messages through, then kill B. */
	for (unsigned i = 0; i < 100000 && a->acked < 5; i++)
		sim_step();
	assert_true(a->acked >= 5);
	sim_link.down[1] = true;
	sim_drop_pending();
	uint64_t t_dead = sim_now;
	assert_true(run_until(a_has_errors, 10ull * SIM_HZ, 1000000));
	uint64_t took = sim_now - t_dead;
	dump("dead");
	print_message("dead peer detected after %.1f ms (dead_timeout %u us)\n", took / 1e6,
		      ca.dead_timeout_us);
	assert_int_equal(a->closed, -ETIMEDOUT);
	assert_int_equal(a->last_tx_err, -ETIMEDOUT);
	assert_int_equal(a->acked + a->tx_err, a->sent);
	assert_true(took >= (uint64_t)ca.dead_timeout_us * 900); /* last rx was just before */
	assert_true(took <= (uint64_t)ca.dead_timeout_us * 1000 * 2);
	assert_int_equal(pony_tp_send(sim_ep[0].tp, a->sid, "x", 1, 0), -ENOTCONN);
	stop_pair();
}

/* Opening toward a host that never answers: opened(-ETIMEDOUT). */
static void test_open_unreachable(void **state)
{
	struct pony_tp_config ca, cb;
	sim_cfg(&ca, 0);
	sim_cfg(&cb, 1);
	start_pair(&ca, &cb, 4);
	sim_link.down[1] = true;
	struct sim_ts *a = open_stream(4);
	assert_int_equal(pony_tp_send(sim_ep[0].tp, a->sid, "abc", 3, 0), 0);
	a->sent = 1;
	assert_true(run_until(a_failed_flow, 10ull * SIM_HZ, 1000000));
	assert_int_equal(a->opened, -ETIMEDOUT);
	assert_int_equal(a->last_tx_err, -ETIMEDOUT);
	assert_false(a->closed_called);
	stop_pair();
}

/* B restarts (new incarnation, no memory of the flow): A learns through RST, fails the
 * flow with -ECONNRESET, and can open a new stream at once. */
static void test_restarted_peer(void **state)
{
	struct pony_tp_config ca, cb;
	sim_cfg(&ca, 0);
	sim_cfg(&cb, 1);
	start_pair(&ca, &cb, 4);
	struct sim_ts *a = open_stream(4);
	assert_true(run_until(all_open, 100 * 1000 * 1000ull, 100000));
	sim_drop_pending();
	sim_ep_stop(1);
	cb.seed = 777;
	assert_int_equal(sim_ep_start(1, &cb), 0);
	sim_ep[1].initial_credit = 4;
	assert_int_equal(pony_tp_listen(sim_ep[1].tp, SERVICE, &sim_ep[1]), 0);
	assert_int_equal(pony_tp_send(sim_ep[0].tp, a->sid, "hello", 5, 0), 0);
	a->sent = 1;
	assert_true(run_until(a_has_errors, SIM_HZ, 100000));
	assert_int_equal(a->closed, -ECONNRESET);
	struct pony_tp_stats st;
	pony_tp_get_stats(sim_ep[1].tp, &st);
	assert_true(st.rst_tx > 0);
	/* A new stream over a new flow works. */
	struct sim_ts *a2 = open_stream(4);
	assert_true(run_until(all_open, SIM_HZ, 100000) || (a2->opened == 1));
	assert_int_equal(a2->opened, 1);
	stop_pair();
}

/* B restarts and opens toward A first: A sees a SYN with a new flow id, fails the old flow
 * (its stream closes with -ECONNRESET) and accepts the new one. */
static void test_restarted_peer_reconnects(void **state)
{
	struct pony_tp_config ca, cb;
	sim_cfg(&ca, 0);
	sim_cfg(&cb, 1);
	start_pair(&ca, &cb, 4);
	struct sim_ts *a = open_stream(4);
	assert_true(run_until(all_open, 100 * 1000 * 1000ull, 100000));
	sim_drop_pending();
	sim_ep_stop(1);
	cb.seed = 4242;
	assert_int_equal(sim_ep_start(1, &cb), 0);
	sim_ep[0].initial_credit = 4;
	assert_int_equal(pony_tp_listen(sim_ep[0].tp, SERVICE, &sim_ep[0]), 0);
	struct sim_ts *b = sim_ts_new(&sim_ep[1]);
	assert_int_equal(pony_tp_open(sim_ep[1].tp, sim_ep[0].ip, SERVICE, b, &b->sid), 0);
	for (unsigned i = 0; i < 100000 && b->opened == 0; i++)
		sim_step();
	assert_int_equal(b->opened, 1);
	assert_int_equal(a->closed, -ECONNRESET);
	assert_int_equal(sim_ep[0].n_ts, 2); /* the old stream and the newly accepted one */
	assert_int_equal(sim_ep[0].ts[1].opened, 1);
	stop_pair();
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
	struct pony_tp_config ca, cb;
	sim_cfg(&ca, 0);
	sim_cfg(&cb, 1);
	start_pair(&ca, &cb, 4);
	sim_link.loss = 0.05;
	struct sim_ts *a = open_stream(4);
	assert_true(run_until(all_open, 100 * 1000 * 1000ull, 100000));
	assert_int_equal(pony_tp_close(sim_ep[0].tp, a->sid), 0);
	assert_true(run_until(flows_gone, 10ull * SIM_HZ, 1000000));
	assert_int_equal(sim_ep[1].ts[0].closed, 1);
	struct pony_tp_stats st;
	pony_tp_get_stats(sim_ep[0].tp, &st);
	assert_int_equal(st.flows_created, 1);
	struct sim_ts *a2 = open_stream(4);
	for (unsigned i = 0; i < 100000 && a2->opened == 0; i++)
		sim_step();
	assert_int_equal(a2->opened, 1);
	pony_tp_get_stats(sim_ep[0].tp, &st);
	assert_int_equal(st.flows_created, 2);
	stop_pair();
}

/* Many streams sharing a small window under heavy loss: 6 streams, both directions, 64-packet
 * window, 8-message send queues, 15% loss, 10% reorder, 2% duplication. */
static void test_sim_many_streams(void **state)
{
	struct pony_tp_config ca, cb;
	sim_cfg(&ca, 0);
	sim_cfg(&cb, 1);
	ca.window = cb.window = 64;
	ca.sendq_max = cb.sendq_max = 8;
	ca.mtu = cb.mtu = 1000;
	start_pair(&ca, &cb, 3);
	sim_link.loss = 0.15;
	sim_link.reorder = 0.10;
	sim_link.dup = 0.02;
	sim_link.corrupt = 0.001;
	for (unsigned i = 0; i < 6; i++) {
		open_stream(3);
		assert_true(run_until(all_open, SIM_HZ, 100000));
	}
	pair_peers();
	for (int e = 0; e < 2; e++)
		for (unsigned i = 0; i < 6; i++)
			assert_int_equal(sim_ts_plan(&sim_ep[e].ts[i], 150, 20000), 0);
	bool ok = run_until(all_done, 600ull * SIM_HZ, 5 * 1000 * 1000);
	dump("many");
	assert_true(ok);
	for (int e = 0; e < 2; e++)
		for (unsigned i = 0; i < 6; i++) {
			const struct sim_ts *t = &sim_ep[e].ts[i];
			assert_int_equal(t->rx_bad + t->rx_err + t->tx_err, 0);
			assert_int_equal(t->rx_next, 150);
		}
	stop_pair();
}

/* Take the captured packets headed to endpoint dst (in send order) out of the link. */
static unsigned take(int dst, struct rte_mbuf **out, struct pony_hdr *hs, unsigned max)
{
	unsigned n = 0;
	for (unsigned i = 0; i < sim_link.n;) {
		if (sim_link.p[i].dst != dst || n == max) {
			i++;
			continue;
		}
		out[n] = sim_link.p[i].m;
		assert_true(pony_wire_parse(rte_pktmbuf_mtod(out[n], void *),
					    rte_pktmbuf_data_len(out[n]), &hs[n]) > 0);
		n++;
		memmove(&sim_link.p[i], &sim_link.p[i + 1], (sim_link.n - i - 1) * sizeof(sim_link.p[0]));
		sim_link.n--;
	}
	return n;
}

static void give(int dst, struct rte_mbuf *m)
{
	pony_tp_input(sim_ep[dst].tp, sim_ep[1 - dst].ip, sim_ep[1 - dst].port, &m, 1, sim_now);
}

/* Sender-side SACK logic with a crafted order: of 10 segments the third is lost; the
 * receiver's SACK ([4th, 10th]) makes the sender retransmit exactly that seq (fast
 * retransmit, no timeout), and the receiver then delivers the held messages in order. */
static void test_sack_fast_retransmit(void **state)
{
	struct pony_tp_config ca, cb;
	sim_cfg(&ca, 0);
	sim_cfg(&cb, 1);
	start_pair(&ca, &cb, 16);
	struct sim_ts *a = open_stream(0);
	assert_true(run_until(all_open, 100 * 1000 * 1000ull, 100000));
	pair_peers();
	for (unsigned i = 0; i < 100; i++)
		sim_step(); /* credit reaches A, everything settles */
	assert_int_equal(sim_ts_plan(a, 10, 100), 0);
	for (unsigned i = 0; i < 10; i++)
		a->len[i] = 100;
	assert_int_equal(sim_ts_plan(&sim_ep[1].ts[0], 0, 1), 0);
	sim_drop_pending();
	sim_link.capture = true;
	sim_ts_pump(a);
	pony_tp_poll(sim_ep[0].tp, sim_now);
	struct rte_mbuf *m[32];
	struct pony_hdr h[32];
	unsigned n = take(1, m, h, 32);
	assert_int_equal(n, 10);
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(h[i].type, PONY_T_DATA);
		assert_int_equal(h[i].seq, h[0].seq + i);
		assert_int_equal(h[i].msg_id, i);
	}
	sim_now += 5000;
	for (unsigned i = 0; i < n; i++) {
		if (i == 2)
			rte_pktmbuf_free(m[i]);
		else
			give(1, m[i]);
	}
	assert_int_equal(sim_ep[1].ts[0].rx_next, 2);
	/* B acked: cumulative up to the hole, SACK for the rest. */
	struct rte_mbuf *acks[32];
	struct pony_hdr ah[32];
	unsigned na = take(0, acks, ah, 32);
	assert_true(na >= 1);
	const struct pony_hdr *last = &ah[na - 1];
	assert_int_equal(last->ack, h[2].seq);
	assert_int_equal(last->n_sack, 1);
	assert_int_equal(last->sack[0].start, h[3].seq);
	assert_int_equal(last->sack[0].end, h[9].seq + 1);
	sim_now += 5000;
	for (unsigned i = 0; i < na; i++)
		give(0, acks[i]);
	pony_tp_poll(sim_ep[0].tp, sim_now);
	n = take(1, m, h, 32);
	assert_int_equal(n, 1);
	assert_int_equal(h[0].type, PONY_T_DATA);
	assert_int_equal(h[0].msg_id, 2);
	assert_true(h[0].flags & PONY_F_RETX);
	struct pony_tp_stats st;
	pony_tp_get_stats(sim_ep[0].tp, &st);
	assert_int_equal(st.fast_retransmits, 1);
	assert_int_equal(st.timeouts, 0);
	give(1, m[0]);
	assert_int_equal(sim_ep[1].ts[0].rx_next, 10);
	assert_int_equal(sim_ep[1].ts[0].rx_bad, 0);
	n = take(0, acks, ah, 32);
	assert_true(n >= 1);
	assert_int_equal(ah[n - 1].ack, h[0].seq + 8);
	assert_int_equal(ah[n - 1].n_sack, 0);
	for (unsigned i = 0; i < n; i++)
		give(0, acks[i]);
	assert_int_equal(a->acked, 10);
	sim_link.capture = false;
	stop_pair();
}

/* Spoofed SYNs from many ports fill B's flow table; they are reaped once the "peers" stay
 * silent to B's FINs, and a real peer can then connect. */
static void test_syn_flood_reaped(void **state)
{
	struct pony_tp_config ca, cb;
	sim_cfg(&ca, 0);
	sim_cfg(&cb, 1);
	cb.max_flows = 4;
	start_pair(&ca, &cb, 4);
	for (uint16_t port = 1000; port < 1008; port++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(sim_pool);
		struct pony_hdr h = {.type = PONY_T_SYN, .src_flow = 77u + port, .seq = 5};
		uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, PONY_HDR_FIXED);
		pony_wire_build(p, &h);
		pony_tp_input(sim_ep[1].tp, sim_ep[0].ip, port, &m, 1, sim_now);
	}
	struct pony_tp_stats st;
	pony_tp_get_stats(sim_ep[1].tp, &st);
	assert_int_equal(st.flows_created, 4);
	assert_int_equal(st.no_flow, 4); /* table full */
	/* SYN_ACKs and later FINs go to ports nobody owns (the sim drops them). */
	for (unsigned i = 0; i < 100000 && sim_now < SIM_HZ + 2ull * cb.dead_timeout_us * 1000; i++)
		sim_step();
	struct pony_flow_stats fs;
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(pony_tp_flow_stats(sim_ep[1].tp, i, &fs), -ESRCH);
	struct sim_ts *a = open_stream(4);
	for (unsigned i = 0; i < 100000 && a->opened == 0; i++)
		sim_step();
	assert_int_equal(a->opened, 1);
	stop_pair();
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
	sim_cfg(&ca, 0);
	sim_cfg(&cb, 1);
	start_pair(&ca, &cb, 16);
	sim_link.loss = 0.05;
	sim_link.reorder = 0.05;
	sim_link.dup = 0.01;
	struct sim_ts *a = open_stream(16);
	assert_true(run_until(all_open, 100 * 1000 * 1000ull, 100000));
	pair_peers();
	assert_int_equal(sim_ts_plan(a, 300, 200000), 0);
	assert_int_equal(sim_ts_plan(&sim_ep[1].ts[0], 300, 200000), 0);
	assert_true(run_until(half_done, 100ull * SIM_HZ, 5000000));
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

	assert_true(run_until(all_done, 100ull * SIM_HZ, 5000000));
	dump("restored");
	for (int e = 0; e < 2; e++) {
		const struct sim_ts *t = &sim_ep[e].ts[0];
		assert_int_equal(t->rx_bad + t->rx_err + t->tx_err, 0);
		assert_int_equal(t->rx_next, 300);
	}
	struct pony_tp_stats sbst;
	pony_tp_get_stats(sim_ep[1].tp, &sbst);
	assert_int_equal(sbst.flows_failed, 0); /* B never noticed */
	stop_pair();
}

static uint32_t stall_credit;
static bool b_done(void)
{
	return sim_ep[1].ts[0].rx_next == sim_ep[0].ts[0].total && sim_ep[0].ts[0].acked ==
		sim_ep[0].ts[0].total;
}

/* A receiver that grants nothing stalls the sender: -ENOBUFS at the send queue limit, no
 * data on the wire, nothing held; once it grants, everything arrives exactly once. */
static void test_credit_stall(void **state)
{
	struct pony_tp_config ca, cb;
	sim_cfg(&ca, 0);
	sim_cfg(&cb, 1);
	ca.sendq_max = 16;
	start_pair(&ca, &cb, 0);
	sim_link.loss = 0.05;
	struct sim_ts *a = open_stream(0);
	assert_true(run_until(all_open, 100 * 1000 * 1000ull, 100000));
	pair_peers();
	struct sim_ts *b = &sim_ep[1].ts[0];
	b->credit_step = 0;
	assert_int_equal(sim_ts_plan(a, 200, 20000), 0);
	unsigned in_use0 = rte_mempool_in_use_count(sim_pool);
	sim_ts_pump(a);
	assert_int_equal(a->sent, 16);
	assert_int_equal(pony_tp_send(sim_ep[0].tp, a->sid, sim_pattern, 10, 99), -ENOBUFS);
	for (unsigned i = 0; i < 20000; i++)
		sim_step(); /* 20k steps: keep-alives flow, data must not */
	struct pony_tp_stats sa, sb;
	pony_tp_get_stats(sim_ep[0].tp, &sa);
	pony_tp_get_stats(sim_ep[1].tp, &sb);
	assert_int_equal(sa.data_tx, 0);
	assert_int_equal(b->rx_next, 0);
	assert_int_equal(sb.held_mbufs, 0);
	assert_true(rte_mempool_in_use_count(sim_pool) <= in_use0 + 64);
	assert_true(sa.credit_stalls > 0 || a->acked == 0);
	assert_int_equal(a->sent, 16);
	/* Grant in small steps, then all. */
	stall_credit = 3;
	assert_int_equal(pony_tp_grant(sim_ep[1].tp, b->sid, stall_credit), 0);
	for (unsigned i = 0; i < 20000 && b->rx_next < 3; i++)
		sim_step();
	assert_int_equal(b->rx_next, 3);
	for (unsigned i = 0; i < 2000; i++)
		sim_step();
	assert_int_equal(b->rx_next, 3); /* no more than granted */
	b->credit_step = 1;
	assert_int_equal(pony_tp_grant(sim_ep[1].tp, b->sid, 13), 0);
	assert_true(run_until(b_done, 100ull * SIM_HZ, 2000000));
	dump("credit");
	assert_int_equal(b->rx_bad, 0);
	assert_int_equal(a->tx_err, 0);
	stop_pair();
}

static bool b_got(uint32_t n)
{
	return sim_ep[1].ts[0].rx_next >= n;
}

/* Reassembly from crafted orders: capture A's data packets, deliver them to B reversed and
 * with duplicates; B must deliver each message once, in order. */
static void test_reassembly_orders(void **state)
{
	struct pony_tp_config ca, cb;
	sim_cfg(&ca, 0);
	sim_cfg(&cb, 1);
	start_pair(&ca, &cb, 8);
	struct sim_ts *a = open_stream(8);
	assert_true(run_until(all_open, 100 * 1000 * 1000ull, 100000));
	pair_peers();
	for (unsigned i = 0; i < 200; i++)
		sim_step(); /* credits reach A */
	assert_int_equal(sim_ts_plan(a, 4, 4000), 0);
	a->len[0] = 4000, a->len[1] = 1, a->len[2] = 3000, a->len[3] = 2800;
	assert_int_equal(sim_ts_plan(&sim_ep[1].ts[0], 0, 1), 0);
	sim_link.capture = true;
	sim_ts_pump(a);
	pony_tp_poll(sim_ep[0].tp, sim_now);
	unsigned n = sim_link.n;
	if (n < 8)
		dump("reasm");
	assert_true(n >= 8); /* 3 + 1 + 3 + 3 segments */
	struct rte_mbuf *pk[64];
	assert_true(n <= 64);
	for (unsigned i = 0; i < n; i++)
		pk[i] = sim_link.p[i].m;
	sim_link.n = 0;
	sim_link.capture = false;
	/* Reverse order, each packet followed by a duplicate of the previous one. */
	for (unsigned i = n; i-- > 0;) {
		struct rte_mbuf *dup = rte_pktmbuf_copy(pk[i], sim_pool, 0, UINT32_MAX);
		pony_tp_input(sim_ep[1].tp, sim_ep[0].ip, sim_ep[0].port, &pk[i], 1, sim_now);
		if (dup)
			pony_tp_input(sim_ep[1].tp, sim_ep[0].ip, sim_ep[0].port, &dup, 1, sim_now);
		if (i > 0)
			assert_int_equal(sim_ep[1].ts[0].rx_next, 0); /* first segment missing */
	}
	assert_true(b_got(4));
	assert_int_equal(sim_ep[1].ts[0].rx_next, 4);
	assert_int_equal(sim_ep[1].ts[0].rx_bad, 0);
	struct pony_tp_stats sb;
	pony_tp_get_stats(sim_ep[1].tp, &sb);
	assert_int_equal(sb.held_mbufs, 0);
	assert_true(sb.dup_rx >= n);
	assert_true(sb.ooo_rx > 0);
	/* A learns of it from B's acks. */
	for (unsigned i = 0; i < 1000 && a->acked < 4; i++)
		sim_step();
	assert_int_equal(a->acked, 4);
	stop_pair();
}

static bool a_closed(void)
{
	return sim_ep[1].ts[0].closed != 0;
}

/* Close: the peer sees closed(0) only after every message sent before the close arrived;
 * refused opens report -ECONNREFUSED. */
static void test_close_and_refuse(void **state)
{
	struct pony_tp_config ca, cb;
	sim_cfg(&ca, 0);
	sim_cfg(&cb, 1);
	start_pair(&ca, &cb, 64);
	sim_link.loss = 0.05;
	sim_link.reorder = 0.05;
	struct sim_ts *a = open_stream(0);
	assert_true(run_until(all_open, 100 * 1000 * 1000ull, 100000));
	pair_peers();
	assert_int_equal(sim_ts_plan(a, 20, 3000), 0);
	assert_int_equal(sim_ts_plan(&sim_ep[1].ts[0], 0, 1), 0);
	sim_ts_pump(a);
	for (unsigned i = 0; i < 100000 && a->acked < 20; i++)
		sim_step();
	assert_int_equal(a->acked, 20);
	assert_int_equal(pony_tp_close(sim_ep[0].tp, a->sid), 0);
	assert_int_equal(pony_tp_close(sim_ep[0].tp, a->sid), -ENOTCONN);
	assert_true(run_until(a_closed, SIM_HZ, 100000));
	assert_int_equal(sim_ep[1].ts[0].closed, 1);
	assert_int_equal(sim_ep[1].ts[0].rx_next, 20);
	/* Refused: no listener on service 9. */
	struct sim_ts *r = sim_ts_new(&sim_ep[0]);
	assert_int_equal(pony_tp_open(sim_ep[0].tp, sim_ep[1].ip, 9, r, &r->sid), 0);
	for (unsigned i = 0; i < 100000 && r->opened == 0; i++)
		sim_step();
	assert_int_equal(r->opened, -ECONNREFUSED);
	stop_pair();
}

static bool bulk_done(void)
{
	return sim_ep[1].ts[0].rx_next == sim_ep[0].ts[0].total &&
	       sim_ep[0].ts[0].acked == sim_ep[0].ts[0].total;
}

/* One bulk transfer through a 10 Gb/s bottleneck; returns the mean queueing delay (ns) and
 * the goodput (fraction of the link rate). */
static void bulk(uint32_t target_us, double *q_mean, double *util, double *cwnd)
{
	struct pony_tp_config ca, cb;
	sim_cfg(&ca, 0);
	sim_cfg(&cb, 1);
	ca.target_delay_us = target_us;
	ca.hops = 0;
	cb.target_delay_us = target_us;
	start_pair(&ca, &cb, 64);
	sim_link.base_ns = 2000;
	sim_link.rate_bps = 10e9;
	sim_link.qmax_ns = 2000000;
	struct sim_ts *a = open_stream(0);
	assert_true(run_until(all_open, 100 * 1000 * 1000ull, 100000));
	pair_peers();
	assert_int_equal(sim_ts_plan(a, 400, 64 << 10), 0);
	for (uint32_t i = 0; i < 400; i++) {
		a->len[i] = 64 << 10;
		a->off[i] = (i * 4099) % (SIM_PATTERN - (64 << 10));
	}
	assert_int_equal(sim_ts_plan(&sim_ep[1].ts[0], 0, 1), 0);
	uint64_t t0 = sim_now;
	assert_true(run_until(bulk_done, 10ull * SIM_HZ, 5000000));
	*q_mean = (double)sim_link.q_sum_ns / (double)sim_link.q_samples;
	*util = (double)sim_link.bytes * 8 / ((double)(sim_now - t0) / 1e9) / 10e9;
	struct pony_flow_stats fs;
	assert_int_equal(pony_tp_flow_stats(sim_ep[0].tp, 0, &fs), 0);
	*cwnd = fs.cwnd;
	print_message("bulk target %u us: queueing mean %.1f us max %.1f us, link use %.0f%%, "
		      "cwnd %.1f, srtt %.1f us, fabric delay min %.1f last %.1f us, decreases %lu\n",
		      target_us, *q_mean / 1e3, sim_link.q_max_ns / 1e3, *util * 100, fs.cwnd,
		      fs.srtt_ns / 1e3, fs.min_delay_ns / 1e3, fs.last_delay_ns / 1e3,
		      fs.cc_decreases);
	assert_int_equal(sim_ep[1].ts[0].rx_bad, 0);
	stop_pair();
}

/* Delay-based CC: against a bottleneck, Swift keeps the queue near the target while the
 * link stays busy; with the target out of reach (CC effectively off) the queue grows to
 * what the window allows. */
static void test_cc_bottleneck(void **state)
{
	double q_cc, u_cc, w_cc, q_off, u_off, w_off;
	bulk(15, &q_cc, &u_cc, &w_cc);
	bulk(100000, &q_off, &u_off, &w_off);
	assert_true(q_cc < 40e3);          /* within a few targets */
	assert_true(q_off > 3 * q_cc);     /* without CC the queue is much longer */
	assert_true(u_cc > 0.7);           /* and the link is still used well */
	assert_true(w_cc < w_off);
}

/* A window below one packet is enforced by pacing: one packet per srtt / cwnd. */
static void test_paced_fractional(void **state)
{
	struct pony_tp_config ca, cb;
	sim_cfg(&ca, 0);
	sim_cfg(&cb, 1);
	ca.cwnd_max = 0.25;
	ca.cwnd_init = 0.25;
	start_pair(&ca, &cb, 64);
	struct sim_ts *a = open_stream(0);
	assert_true(run_until(all_open, 100 * 1000 * 1000ull, 100000));
	pair_peers();
	assert_int_equal(sim_ts_plan(a, 10, 1000), 0);
	for (uint32_t i = 0; i < 10; i++)
		a->len[i] = 1000; /* one packet each */
	assert_int_equal(sim_ts_plan(&sim_ep[1].ts[0], 0, 1), 0);
	struct pony_tp_stats s0;
	pony_tp_get_stats(sim_ep[0].tp, &s0);
	uint64_t t0 = sim_now;
	assert_true(run_until(bulk_done, 10ull * SIM_HZ, 1000000));
	struct pony_flow_stats fs;
	assert_int_equal(pony_tp_flow_stats(sim_ep[0].tp, 0, &fs), 0);
	uint64_t took = sim_now - t0;
	print_message("paced: 10 packets at cwnd %.2f, srtt %.1f us took %.1f us\n", fs.cwnd,
		      fs.srtt_ns / 1e3, took / 1e3);
	assert_true(fs.cwnd < 1.0);
	/* 9 gaps of srtt / cwnd = 4 srtt each (the first packet goes at once). */
	assert_true(took >= 9 * 4 * fs.srtt_ns * 8 / 10);
	stop_pair();
}

/* Input runs with a clock ahead of the next poll's (the pony element reads the TSC after the
 * engine's poll started): the transport's clock must not go back, or `now - last_rx` wraps and
 * the fresh flow is failed as dead / torn down as idle right after its handshake. */
static void test_clock_lag(void **state)
{
	struct pony_tp_config ca, cb;
	sim_cfg(&ca, 0);
	sim_cfg(&cb, 1);
	start_pair(&ca, &cb, 4);
	sim_link.input_ahead_ns = 3000;
	struct sim_ts *a = open_stream(4);
	assert_true(run_until(all_open, 100 * 1000 * 1000ull, 100000));
	pair_peers();
	assert_int_equal(sim_ts_plan(a, 50, 3000), 0);
	assert_int_equal(sim_ts_plan(&sim_ep[1].ts[0], 0, 1), 0);
	assert_true(run_until(all_done, 10ull * SIM_HZ, 1000000));
	struct pony_tp_stats s0, s1;
	pony_tp_get_stats(sim_ep[0].tp, &s0);
	pony_tp_get_stats(sim_ep[1].tp, &s1);
	assert_int_equal(s0.flows_failed + s1.flows_failed, 0);
	assert_int_equal(s0.rst_tx + s1.rst_tx, 0);
	assert_int_equal(a->rx_bad + sim_ep[1].ts[0].rx_bad, 0);
	sim_link.input_ahead_ns = 0;
	stop_pair();
}

static int grp_setup(void **state)
{
	if (getenv("PONY_SIM_SEED")) /* replay another seeded run of every scenario */
		sim_rng_state = strtoull(getenv("PONY_SIM_SEED"), NULL, 0) | 1;
	return sim_eal_init("pony_sim");
}

static int grp_teardown(void **state)
{
	sim_eal_fini();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reassembly_orders),
		cmocka_unit_test(test_sack_fast_retransmit),
		cmocka_unit_test(test_close_and_refuse),
		cmocka_unit_test(test_credit_stall),
		cmocka_unit_test(test_dead_peer),
		cmocka_unit_test(test_open_unreachable),
		cmocka_unit_test(test_restarted_peer),
		cmocka_unit_test(test_restarted_peer_reconnects),
		cmocka_unit_test(test_idle_teardown),
		cmocka_unit_test(test_syn_flood_reaped),
		cmocka_unit_test(test_save_restore),
		cmocka_unit_test(test_cc_bottleneck),
		cmocka_unit_test(test_paced_fractional),
		cmocka_unit_test(test_clock_lag),
		cmocka_unit_test(test_sim_impaired),
		cmocka_unit_test(test_sim_many_streams),
	};
	if (getenv("PONY_TEST_FILTER"))
		cmocka_set_test_filter(getenv("PONY_TEST_FILTER"));
	return cmocka_run_group_tests(tests, grp_setup, grp_teardown);
}
