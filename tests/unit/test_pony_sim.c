/* Pony transport end to end in one process, data transfer: two transports over a simulated
 * impaired link (loss, reorder, duplication, corruption; seeded) moving many messages on many
 * streams, recovery from crafted packet orders (reassembly, SACK), credit back-pressure, and
 * delay-based congestion control and pacing at a bottleneck. Connection life cycle cases are
 * in test_pony_sim_conn.c; the fixture is pony_sim_pair.h. */
#include <time.h>

#include "pony/crc.h"
#include "pony_sim_pair.h"

static double wall_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Thousands of messages, 1 B .. 1 MiB, both directions on two streams, over a link with 5%
 * loss, 5% reorder, 1% duplication, 0.1% corruption. */
static void test_sim_impaired(void **state)
{
	sim_pair_start(NULL, NULL, 16);
	sim_link.loss = 0.05;
	sim_link.reorder = 0.05;
	sim_link.dup = 0.01;
	sim_link.corrupt = 0.001;
	sim_link.mtu = 1500; /* the ports' MTU: nothing sent may exceed it, SACK blocks and all */
	double t0 = wall_s();

	uint32_t per_dir = getenv("PONY_SIM_MSGS") ? (uint32_t)atoi(getenv("PONY_SIM_MSGS")) : 2000;
	/* One at a time, so B's accept order matches (sim_pair_peers pairs by index). */
	struct sim_ts *a1 = sim_pair_open(16);
	assert_true(sim_run_until(sim_pair_all_open, 100 * 1000 * 1000ull, 100000));
	struct sim_ts *a2 = sim_pair_connect(16);
	struct sim_ts *b1 = &sim_ep[1].ts[0], *b2 = &sim_ep[1].ts[1];
	assert_int_equal(sim_ts_plan(a1, per_dir, 1u << 20), 0);
	assert_int_equal(sim_ts_plan(a2, per_dir, 1u << 20), 0);
	assert_int_equal(sim_ts_plan(b1, per_dir, 1u << 20), 0);
	assert_int_equal(sim_ts_plan(b2, per_dir / 2, 64 << 10), 0);

	bool ok = sim_run_until(sim_pair_all_done, 600ull * SIM_HZ, 20 * 1000 * 1000);
	double secs = wall_s() - t0;
	sim_pair_dump("impaired");
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
	assert_int_equal(sim_link.too_big, 0);
	assert_true(secs < 60.0);
	sim_pair_stop();
}

/* The receive copy that checks the checksum (pony_stream_rx_place): on an in-order link
 * most DATA is placed straight into the app's buffer as its crc is computed, so a corrupted
 * bit lands there before the crc says so. 5% of packets get a flipped bit (header or
 * payload): every message still arrives exactly once and byte for byte, the placed path ran
 * and counted the bad checksums. */
static void test_sim_corrupt_placed(void **state)
{
	sim_pair_start(NULL, NULL, 16);
	sim_link.corrupt = 0.05;
	struct sim_ts *a1 = sim_pair_open(16);
	assert_true(sim_run_until(sim_pair_all_open, 100 * 1000 * 1000ull, 100000));
	struct sim_ts *a2 = sim_pair_connect(16);
	struct sim_ts *b1 = &sim_ep[1].ts[0], *b2 = &sim_ep[1].ts[1];
	assert_int_equal(sim_ts_plan(a1, 400, 64 << 10), 0);
	assert_int_equal(sim_ts_plan(a2, 400, 16 << 10), 0);
	assert_int_equal(sim_ts_plan(b1, 100, 4 << 10), 0);
	assert_int_equal(sim_ts_plan(b2, 100, 4 << 10), 0);
	bool ok = sim_run_until(sim_pair_all_done, 600ull * SIM_HZ, 20 * 1000 * 1000);
	sim_pair_dump("corrupt-placed");
	assert_true(ok);
	for (int e = 0; e < 2; e++)
		for (unsigned i = 0; i < 2; i++) {
			const struct sim_ts *t = &sim_ep[e].ts[i];
			assert_int_equal(t->rx_bad + t->rx_err + t->tx_err, 0);
			assert_int_equal(t->rx_next, t->peer->total);
		}
	struct pony_tp_stats sa, sb;
	pony_tp_get_stats(sim_ep[0].tp, &sa);
	pony_tp_get_stats(sim_ep[1].tp, &sb);
	uint64_t placed = pony_tp_rx_placed(sim_ep[1].tp);
	print_message("placed %lu, bad_csum %lu (corrupted %lu)\n", placed, sb.bad_csum,
		      sim_link.corrupted);
	assert_true(placed > 100);
	assert_true(sb.bad_csum > 50);
	sim_pair_stop();
}

/* A message's first segment is placed too (rx_peek): one-segment messages on a clean,
 * in-order link all go straight into the receiver's buffer in the pass that checks their
 * checksum, and arrive byte for byte. */
static void test_sim_first_segment_placed(void **state)
{
	sim_pair_start(NULL, NULL, 16);
	struct sim_ts *a = sim_pair_connect(256); /* credit for all: no refusal reorders */
	/* A rate: packets due at one instant may be delivered in any order (sim_deliver). */
	sim_link.rate_bps = 10e9;
	sim_link.qmax_ns = 1000 * 1000 * 1000ull; /* and no queue drops */
	assert_int_equal(sim_ts_plan(a, 200, 1400), 0);
	bool ok = sim_run_until(sim_pair_all_done, 60ull * SIM_HZ, 1000 * 1000);
	sim_pair_dump("first-placed");
	assert_true(ok);
	const struct sim_ts *b = &sim_ep[1].ts[0];
	assert_int_equal(b->rx_bad + b->rx_err, 0);
	assert_int_equal(b->rx_next, 200);
	/* Payloads from PONY_CRC_COPY_MIN up have their checksum checked in the copy. */
	uint64_t placed = pony_tp_rx_placed(sim_ep[1].tp), big = 0;
	for (unsigned i = 0; i < 200; i++)
		big += a->len[i] >= PONY_CRC_COPY_MIN;
	print_message("placed %lu of %lu one-segment messages of %u bytes or more\n", placed,
		      big, PONY_CRC_COPY_MIN);
	assert_true(big > 10);
	assert_int_equal(placed, big);
	sim_pair_stop();
}

/* Many streams sharing a small window under heavy loss: 6 streams, both directions, 64-packet
 * window, 8-message send queues, 15% loss, 10% reorder, 2% duplication. */
static void test_sim_many_streams(void **state)
{
	struct pony_tp_config ca, cb;
	sim_pair_cfg(&ca, &cb);
	ca.window = cb.window = 64;
	ca.sendq_max = cb.sendq_max = 8;
	ca.mtu = cb.mtu = 1000;
	sim_pair_start(&ca, &cb, 3);
	sim_link.loss = 0.15;
	sim_link.reorder = 0.10;
	sim_link.dup = 0.02;
	sim_link.corrupt = 0.001;
	for (unsigned i = 0; i < 6; i++) {
		sim_pair_open(3);
		assert_true(sim_run_until(sim_pair_all_open, SIM_HZ, 100000));
	}
	sim_pair_peers();
	for (int e = 0; e < 2; e++)
		for (unsigned i = 0; i < 6; i++)
			assert_int_equal(sim_ts_plan(&sim_ep[e].ts[i], 150, 20000), 0);
	bool ok = sim_run_until(sim_pair_all_done, 600ull * SIM_HZ, 5 * 1000 * 1000);
	sim_pair_dump("many");
	assert_true(ok);
	for (int e = 0; e < 2; e++)
		for (unsigned i = 0; i < 6; i++) {
			const struct sim_ts *t = &sim_ep[e].ts[i];
			assert_int_equal(t->rx_bad + t->rx_err + t->tx_err, 0);
			assert_int_equal(t->rx_next, 150);
		}
	sim_pair_stop();
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
	sim_pair_start(NULL, NULL, 16);
	struct sim_ts *a = sim_pair_connect(0);
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
	sim_pair_stop();
}

/* A's first stream has had all its messages acked, and B's has received them all. */
static bool one_way_done(void)
{
	return sim_ep[1].ts[0].rx_next == sim_ep[0].ts[0].total &&
	       sim_ep[0].ts[0].acked == sim_ep[0].ts[0].total;
}

/* Both directions busy with small messages, each side granting one credit per message it
 * takes: most credits ride on the data (DATA's aux); a CREDIT packet goes only when the
 * stream has nothing ready to carry it (here the sender often waits for credit itself:
 * about one credit in four). Before, every grant was a CREDIT packet. */
static void test_credit_rides_on_data(void **state)
{
	sim_pair_start(NULL, NULL, 4);
	struct sim_ts *a = sim_pair_connect(4);
	struct sim_ts *b = &sim_ep[1].ts[0];
	const uint32_t n = 500;
	assert_int_equal(sim_ts_plan(a, n, 256), 0);
	assert_int_equal(sim_ts_plan(b, n, 256), 0);
	assert_true(sim_run_until(sim_pair_all_done, 100ull * SIM_HZ, 2000000));
	struct pony_tp_stats sa, sb;
	pony_tp_get_stats(sim_ep[0].tp, &sa);
	pony_tp_get_stats(sim_ep[1].tp, &sb);
	print_message("credit: %" PRIu64 " + %" PRIu64 " CREDIT packets for %u messages\n",
		      sa.credit_tx, sb.credit_tx, 2 * n);
	assert_int_equal(a->rx_next, n);
	assert_int_equal(b->rx_next, n);
	assert_int_equal(a->rx_bad + b->rx_bad, 0);
	assert_true(sa.credit_tx + sb.credit_tx < 2 * n / 3);
	sim_pair_stop();
}

/* RPCs one at a time where B, the server, sends its reply and only then posts its next
 * receive buffer, its engine polling between the two (as when an app's two commands land
 * in different polls). B holds 8 buffers, so A is far from short of credit: the credit
 * waits for B's next reply instead of going in a CREDIT of its own, which A would then ack
 * at once (two packets each way per RPC). */
static struct sim_ts *rpc_a, *rpc_b;
static uint32_t rpc_i;
static bool rpc_request_in(void)
{
	return rpc_b->rx_next == rpc_i + 1;
}
static bool rpc_reply_in(void)
{
	return rpc_a->rx_next == rpc_i + 1 && rpc_a->acked == rpc_i + 1;
}

static void test_credit_waits_for_reply(void **state)
{
	sim_pair_start(NULL, NULL, 8);
	rpc_a = sim_pair_connect(8);
	rpc_b = &sim_ep[1].ts[0];
	rpc_b->credit_step = 0; /* B's app posts its buffers itself, below */
	const uint32_t n = 200;
	assert_int_equal(sim_ts_plan(rpc_a, n, 64), 0);
	assert_int_equal(sim_ts_plan(rpc_b, n, 64), 0);
	rpc_a->total = rpc_b->total = 0;
	struct pony_tp_stats s0, sa, sb;
	pony_tp_get_stats(sim_ep[1].tp, &s0);
	for (rpc_i = 0; rpc_i < n; rpc_i++) {
		rpc_a->total = rpc_i + 1;
		assert_true(sim_run_until(rpc_request_in, SIM_HZ, 10000));
		rpc_b->total = rpc_i + 1;
		sim_ts_pump(rpc_b);
		pony_tp_poll(sim_ep[1].tp, sim_now);
		assert_int_equal(pony_tp_grant(sim_ep[1].tp, rpc_b->sid, 1), 0);
		pony_tp_poll(sim_ep[1].tp, sim_now);
		assert_true(sim_run_until(rpc_reply_in, SIM_HZ, 10000));
	}
	pony_tp_get_stats(sim_ep[0].tp, &sa);
	pony_tp_get_stats(sim_ep[1].tp, &sb);
	print_message("%u RPCs: B sent %" PRIu64 " packets (%" PRIu64 " CREDIT), A sent %" PRIu64
		      " (%" PRIu64 " acks)\n", n, sb.tx_pkts - s0.tx_pkts, sb.credit_tx - s0.credit_tx,
		      sa.tx_pkts, sa.acks_tx);
	assert_int_equal(rpc_a->rx_bad + rpc_b->rx_bad, 0);
	assert_int_equal(sb.credit_tx, s0.credit_tx);
	sim_pair_stop();
}

static uint32_t flow_seg(int ep)
{
	struct pony_flow_stats st;
	for (unsigned i = 0; pony_tp_flow_stats(sim_ep[ep].tp, i, &st) != -ENOENT; i++)
		if (st.state == 2) /* established */
			return st.seg_max;
	return 0;
}

/* Jumbo frames on one side only: A's MTU is 9,000, B's 1,500. The handshake agrees on B's
 * segment size both ways, so A never sends B a packet its port cannot take, and messages
 * of 20 KB go through intact in both directions. */
static void test_mtu_agreed(void **state)
{
	struct pony_tp_config ca, cb;
	sim_pair_cfg(&ca, &cb);
	ca.mtu = 9000;
	static struct rte_mempool *jumbo;
	if (jumbo == NULL)
		jumbo = rte_pktmbuf_pool_create("sim_jumbo", 4095, 0, 0,
						RTE_PKTMBUF_HEADROOM + 9000, SOCKET_ID_ANY);
	assert_non_null(jumbo);
	ca.pool = jumbo;
	sim_pair_start(&ca, &cb, 8);
	struct sim_ts *a = sim_pair_connect(8);
	struct sim_ts *b = &sim_ep[1].ts[0];
	uint32_t legacy = 1500 - 28 - PONY_HDR_MAX;
	assert_int_equal(flow_seg(0), legacy);
	assert_int_equal(flow_seg(1), legacy);
	assert_int_equal(sim_ts_plan(a, 50, 20000), 0);
	assert_int_equal(sim_ts_plan(b, 50, 20000), 0);
	assert_true(sim_run_until(sim_pair_all_done, 100ull * SIM_HZ, 2000000));
	assert_int_equal(a->rx_next, 50);
	assert_int_equal(b->rx_next, 50);
	assert_int_equal(a->rx_bad + b->rx_bad, 0);
	struct pony_tp_stats sb;
	pony_tp_get_stats(sim_ep[1].tp, &sb);
	assert_int_equal(sb.malformed, 0);
	sim_pair_stop();
}

static uint32_t stall_credit;

/* A receiver that grants nothing stalls the sender: -ENOBUFS at the send queue limit, no
 * data on the wire, nothing held; once it grants, everything arrives exactly once. */
static void test_credit_stall(void **state)
{
	struct pony_tp_config ca, cb;
	sim_pair_cfg(&ca, &cb);
	ca.sendq_max = 16;
	sim_pair_start(&ca, &cb, 0);
	sim_link.loss = 0.05;
	struct sim_ts *a = sim_pair_connect(0);
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
	assert_true(sim_run_until(one_way_done, 100ull * SIM_HZ, 2000000));
	sim_pair_dump("credit");
	assert_int_equal(b->rx_bad, 0);
	assert_int_equal(a->tx_err, 0);
	sim_pair_stop();
}

static bool b_got(uint32_t n)
{
	return sim_ep[1].ts[0].rx_next >= n;
}

/* Reassembly from crafted orders: capture A's data packets, deliver them to B reversed and
 * with duplicates; B must deliver each message once, in order. */
static void test_reassembly_orders(void **state)
{
	sim_pair_start(NULL, NULL, 8);
	struct sim_ts *a = sim_pair_connect(8);
	for (unsigned i = 0; i < 200; i++)
		sim_step(); /* credits reach A */
	assert_int_equal(sim_ts_plan(a, 4, 4000), 0);
	a->len[0] = 4000, a->len[1] = 1, a->len[2] = 3000, a->len[3] = 2800;
	assert_int_equal(sim_ts_plan(&sim_ep[1].ts[0], 0, 1), 0);
	sim_link.capture = true;
	sim_ts_pump(a);
	pony_tp_poll(sim_ep[0].tp, sim_now);
	/* A's data toward B; anything else on the link (B's delayed ack of A's credit
	 * grant) is not part of the experiment. */
	struct rte_mbuf *pk[64];
	unsigned n = 0;
	assert_true(sim_link.n <= 64);
	for (unsigned i = 0; i < sim_link.n; i++) {
		if (sim_link.p[i].dst == 1)
			pk[n++] = sim_link.p[i].m;
		else
			rte_pktmbuf_free(sim_link.p[i].m);
	}
	sim_link.n = 0;
	if (n < 8)
		sim_pair_dump("reasm");
	assert_true(n >= 8); /* 3 + 1 + 3 + 3 segments */
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
	sim_pair_stop();
}

/* One bulk transfer through a 10 Gb/s bottleneck; returns the mean queueing delay (ns) and
 * the goodput (fraction of the link rate). */
static void bulk(uint32_t target_us, double *q_mean, double *util, double *cwnd)
{
	struct pony_tp_config ca, cb;
	sim_pair_cfg(&ca, &cb);
	ca.target_delay_us = target_us;
	ca.hops = 0;
	cb.target_delay_us = target_us;
	sim_pair_start(&ca, &cb, 64);
	sim_link.base_ns = 2000;
	sim_link.rate_bps = 10e9;
	sim_link.qmax_ns = 2000000;
	struct sim_ts *a = sim_pair_connect(0);
	assert_int_equal(sim_ts_plan(a, 400, 64 << 10), 0);
	for (uint32_t i = 0; i < 400; i++) {
		a->len[i] = 64 << 10;
		a->off[i] = (i * 4099) % (SIM_PATTERN - (64 << 10));
	}
	assert_int_equal(sim_ts_plan(&sim_ep[1].ts[0], 0, 1), 0);
	uint64_t t0 = sim_now;
	assert_true(sim_run_until(one_way_done, 10ull * SIM_HZ, 5000000));
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
	sim_pair_stop();
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
	sim_pair_cfg(&ca, &cb);
	ca.cwnd_max = 0.25;
	ca.cwnd_init = 0.25;
	sim_pair_start(&ca, &cb, 64);
	struct sim_ts *a = sim_pair_connect(0);
	assert_int_equal(sim_ts_plan(a, 10, 1000), 0);
	for (uint32_t i = 0; i < 10; i++)
		a->len[i] = 1000; /* one packet each */
	assert_int_equal(sim_ts_plan(&sim_ep[1].ts[0], 0, 1), 0);
	struct pony_tp_stats s0;
	pony_tp_get_stats(sim_ep[0].tp, &s0);
	uint64_t t0 = sim_now;
	assert_true(sim_run_until(one_way_done, 10ull * SIM_HZ, 1000000));
	struct pony_flow_stats fs;
	assert_int_equal(pony_tp_flow_stats(sim_ep[0].tp, 0, &fs), 0);
	uint64_t took = sim_now - t0;
	print_message("paced: 10 packets at cwnd %.2f, srtt %.1f us took %.1f us\n", fs.cwnd,
		      fs.srtt_ns / 1e3, took / 1e3);
	assert_true(fs.cwnd < 1.0);
	/* 9 gaps of srtt / cwnd = 4 srtt each (the first packet goes at once). */
	assert_true(took >= 9 * 4 * fs.srtt_ns * 8 / 10);
	sim_pair_stop();
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reassembly_orders),
		cmocka_unit_test(test_sack_fast_retransmit),
		cmocka_unit_test(test_credit_rides_on_data),
		cmocka_unit_test(test_credit_waits_for_reply),
		cmocka_unit_test(test_mtu_agreed),
		cmocka_unit_test(test_credit_stall),
		cmocka_unit_test(test_cc_bottleneck),
		cmocka_unit_test(test_paced_fractional),
		cmocka_unit_test(test_sim_impaired),
		cmocka_unit_test(test_sim_many_streams),
		cmocka_unit_test(test_sim_corrupt_placed),
		cmocka_unit_test(test_sim_first_segment_placed),
	};
	return sim_pair_run_tests("pony_sim", tests, sizeof(tests) / sizeof(tests[0]));
}
