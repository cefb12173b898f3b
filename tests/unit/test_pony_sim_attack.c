/* Pony transport against a hostile peer without a key (issue 14 items 2 and 3), in the
 * simulated transport: SipHash vectors and cookie lifetime, a handshake flood held to the
 * peer's flow budget, the stream budget, forged SYN / RST / data into an established flow (challenge ACK, exact
 * RST, window), an OPEN flood to an unlistened service and a one-sided request flood from a
 * peer that never acks. The attacker is packets built here and fed to B's pony_tp_input
 * from 127.0.0.9 (B's answers to that address are dropped by the sim link). */
#include "pony/cookie.h"
#include "pony/flowtx.h"
#include "pony_sim_pair.h"

#define EVIL_IP 0x0900007fu /* 127.0.0.9, network order */
#define EVIL_ISN 1000u

static void inject(int ep, uint32_t ip, uint16_t port, const struct pony_hdr *h,
		   const uint8_t *payload, uint16_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(sim_pool);
	assert_non_null(m);
	struct pony_hdr hh = *h;
	hh.payload_len = len;
	size_t hl = pony_wire_hdr_len(&hh);
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(hl + len));
	assert_non_null(p);
	if (len)
		memcpy(p + hl, payload, len);
	pony_wire_build(p, &hh);
	pony_tp_input(sim_ep[ep].tp, ip, port, &m, 1, sim_now);
}

static struct pony_tp_stats stats(int ep)
{
	struct pony_tp_stats st;
	pony_tp_get_stats(sim_ep[ep].tp, &st);
	return st;
}

/* The attacker completes a handshake with B from (EVIL_IP, port) as any host that receives
 * its packets can: SYN, then the HS ACK echoing B's cookie (computed here with B's key,
 * which is what the SYN_ACK on the wire would have told it). Returns B's flow id. */
static uint32_t evil_connect(uint16_t port, uint32_t id)
{
	struct pony_hdr syn = {.type = PONY_T_SYN, .src_flow = id, .seq = EVIL_ISN, .aux = 256};
	inject(1, EVIL_IP, port, &syn, NULL, 0);
	struct pony_cookie c;
	pony_cookie_make(sim_ep[1].tp, PONY_IP4(EVIL_IP), port, id, &c);
	struct pony_hdr hs = {.type = PONY_T_ACK, .flags = PONY_F_ACK_VALID | PONY_F_HS,
			      .src_flow = id, .dst_flow = c.local_id, .seq = EVIL_ISN,
			      .ack = c.isn, .aux = 256};
	inject(1, EVIL_IP, port, &hs, NULL, 0);
	return c.local_id;
}

/* Reference vectors of SipHash-2-4 (key 00..0f, message 00..len-1). */
static void test_siphash_vectors(void **state)
{
	uint8_t key[16], msg[16];
	for (unsigned i = 0; i < 16; i++)
		key[i] = msg[i] = (uint8_t)i;
	uint64_t k[2];
	memcpy(k, key, 16); /* little-endian host, as the reference reads the key */
	assert_true(pony_siphash(k, msg, 0) == 0x726fdb47dd0e0e31ull);
	assert_true(pony_siphash(k, msg, 8) == 0x93f5f5799a932462ull);
	assert_true(pony_siphash(k, msg, 15) == 0xa129ca6149be45e5ull);
}

/* A cookie is bound to the peer's address and id, lives 2 to 4 slots of 2^31 ns, and two
 * transports (keys) never accept each other's. */
static void test_cookie_slots(void **state)
{
	sim_pair_start(NULL, NULL, 4);
	struct pony_tp *tp = sim_ep[1].tp;
	struct pony_cookie c, d;
	tp->now = 10ull << 31;
	pony_cookie_make(tp, PONY_IP4(EVIL_IP), 5000, 42, &c);
	assert_int_not_equal(c.local_id, 0);
	assert_true(pony_cookie_check(tp, PONY_IP4(EVIL_IP), 5000, 42, c.local_id, &d));
	assert_int_equal(d.isn, c.isn);
	assert_false(pony_cookie_check(tp, PONY_IP4(EVIL_IP), 5001, 42, c.local_id, &d));
	assert_false(pony_cookie_check(tp, PONY_IP4(EVIL_IP + 1), 5000, 42, c.local_id, &d));
	assert_false(pony_cookie_check(tp, PONY_IP4(EVIL_IP), 5000, 43, c.local_id, &d));
	assert_false(pony_cookie_check(tp, PONY_IP4(EVIL_IP), 5000, 42, c.local_id ^ 1, &d));
	assert_false(pony_cookie_check(sim_ep[0].tp, PONY_IP4(EVIL_IP), 5000, 42, c.local_id, &d));
	tp->now = (11ull << 31) + 12345; /* next slot: still valid */
	assert_true(pony_cookie_check(tp, PONY_IP4(EVIL_IP), 5000, 42, c.local_id, &d));
	tp->now = 12ull << 31; /* two slots later: expired */
	assert_false(pony_cookie_check(tp, PONY_IP4(EVIL_IP), 5000, 42, c.local_id, &d));
	/* Ids and ISNs of active opens are not a counter anyone can follow. */
	uint32_t r1 = pony_tp_rand(tp), r2 = pony_tp_rand(tp);
	assert_int_not_equal(r1, r2);
	assert_int_not_equal(r2 - r1, pony_tp_rand(tp) - r2);
	sim_pair_stop();
}

/* The HS ACK lost and a later packet arriving first: the responder answers with the same
 * cookie SYN_ACK, still holding nothing, and creates the flow when the HS ACK comes. */
static void test_hs_ack_lost(void **state)
{
	sim_pair_start(NULL, NULL, 4);
	struct pony_hdr syn = {.type = PONY_T_SYN, .src_flow = 31, .seq = EVIL_ISN, .aux = 256};
	inject(1, EVIL_IP, 6000, &syn, NULL, 0);
	struct pony_cookie c;
	pony_cookie_make(sim_ep[1].tp, PONY_IP4(EVIL_IP), 6000, 31, &c);
	struct pony_hdr probe = {.type = PONY_T_PROBE, .flags = PONY_F_ACK_VALID, .src_flow = 31,
				 .dst_flow = c.local_id, .ack = c.isn};
	inject(1, EVIL_IP, 6000, &probe, NULL, 0);
	struct pony_tp_stats st = stats(1);
	assert_int_equal(st.cookie_tx, 2);
	assert_int_equal(st.flows_created, 0);
	assert_int_equal(st.rst_tx, 0);
	struct pony_hdr hs = {.type = PONY_T_ACK, .flags = PONY_F_ACK_VALID | PONY_F_HS,
			      .src_flow = 31, .dst_flow = c.local_id, .seq = EVIL_ISN,
			      .ack = c.isn, .aux = 256};
	hs.ack = c.isn + 1; /* acks what the responder never sent: not a handshake */
	inject(1, EVIL_IP, 6000, &hs, NULL, 0);
	assert_int_equal(stats(1).flows_created, 0);
	hs.ack = c.isn;
	inject(1, EVIL_IP, 6000, &hs, NULL, 0);
	st = stats(1);
	assert_int_equal(st.cookie_ok, 1);
	struct pony_flow *f = pony_flow_lookup(sim_ep[1].tp, PONY_IP4(EVIL_IP), 6000);
	assert_non_null(f);
	assert_int_equal(f->local_id, c.local_id);
	assert_int_equal(f->isn, c.isn);
	assert_int_equal(f->rx.rcv_nxt, EVIL_ISN);
	sim_pair_stop();
}

/* One host completes handshakes from 20 source ports: B holds max_flows_per_peer of them,
 * refuses the rest (counted), and a real peer still connects. */
static void test_flow_budget(void **state)
{
	struct pony_tp_config ca, cb;
	sim_pair_cfg(&ca, &cb);
	cb.max_flows = 16;
	cb.max_flows_per_peer = 4;
	sim_pair_start(&ca, &cb, 4);
	for (uint16_t p = 0; p < 20; p++)
		evil_connect(6000 + p, 100 + p);
	struct pony_tp_stats st = stats(1);
	assert_int_equal(st.cookie_ok, 4);
	assert_int_equal(st.flows_created, 4);
	assert_int_equal(st.refused_flow_budget, 32); /* 16 SYNs and 16 HS ACKs */
	struct sim_ts *a = sim_pair_open(4);
	for (unsigned i = 0; i < 100000 && a->opened == 0; i++)
		sim_step();
	assert_int_equal(a->opened, 1);
	/* A packet with a made-up cookie creates nothing and is answered by an RST. */
	struct pony_hdr hs = {.type = PONY_T_ACK, .flags = PONY_F_ACK_VALID | PONY_F_HS,
			      .src_flow = 9, .dst_flow = 0x12345678, .seq = 1, .ack = 2};
	inject(1, EVIL_IP, 7000, &hs, NULL, 0);
	st = stats(1);
	assert_int_equal(st.cookie_bad, 1);
	assert_int_equal(st.flows_created, 5);
	sim_pair_stop();
}

static uint32_t b_streams(void)
{
	uint32_t n = 0;
	struct pony_flow_stats fs;
	int r;
	for (unsigned i = 0; (r = pony_tp_flow_stats(sim_ep[1].tp, i, &fs)) != -ENOENT; i++)
		n += r == 0 ? fs.n_streams : 0;
	return n;
}

static bool b_two_streams(void)
{
	return b_streams() == 2;
}

static bool opens_settled(void)
{
	for (unsigned i = 0; i < sim_ep[0].n_ts; i++)
		if (sim_ep[0].ts[i].opened == 0)
			return false;
	return true;
}

/* A peer opens 5 streams where its budget is 3: 2 are refused (no stream held for them);
 * once one closes, the next open is accepted. */
static void test_stream_budget(void **state)
{
	struct pony_tp_config ca, cb;
	sim_pair_cfg(&ca, &cb);
	cb.max_streams_per_peer = 3;
	sim_pair_start(&ca, &cb, 4);
	for (unsigned i = 0; i < 5; i++)
		sim_pair_open(4);
	assert_true(sim_run_until(opens_settled, SIM_HZ, 100000));
	unsigned ok = 0, refused = 0;
	for (unsigned i = 0; i < 5; i++) {
		ok += sim_ep[0].ts[i].opened == 1;
		refused += sim_ep[0].ts[i].opened == -ECONNREFUSED;
	}
	assert_int_equal(ok, 3);
	assert_int_equal(refused, 2);
	assert_int_equal(stats(1).refused_stream_budget, 2);
	assert_int_equal(b_streams(), 3);
	for (unsigned i = 0; i < 5; i++)
		if (sim_ep[0].ts[i].opened == 1) {
			assert_int_equal(pony_tp_close(sim_ep[0].tp, sim_ep[0].ts[i].sid), 0);
			break;
		}
	assert_true(sim_run_until(b_two_streams, SIM_HZ, 100000));
	struct sim_ts *a = sim_pair_open(4);
	for (unsigned i = 0; i < 100000 && a->opened == 0; i++)
		sim_step();
	assert_int_equal(a->opened, 1);
	sim_pair_stop();
}

static bool both_done(void)
{
	return sim_pair_all_done();
}

/* Forged SYN, RST and data with the flow's addresses and ids (sniffed) but not its current
 * sequence state: the flow survives, each forgery is counted, the exchange completes. */
static void test_forged_into_flow(void **state)
{
	sim_pair_start(NULL, NULL, 16);
	struct sim_ts *a = sim_pair_connect(16);
	assert_int_equal(sim_ts_plan(a, 200, 3000), 0);
	assert_int_equal(sim_ts_plan(&sim_ep[1].ts[0], 200, 3000), 0);
	for (unsigned i = 0; i < 100000 && a->acked < 50; i++)
		sim_step();
	struct pony_flow *fb = pony_flow_lookup(sim_ep[1].tp, PONY_IP4(sim_ep[0].ip), sim_ep[0].port);
	assert_non_null(fb);
	uint32_t a_id = fb->peer_id, b_id = fb->local_id;
	uint16_t ap = sim_ep[0].port;
	/* SYN of a "new incarnation": challenge ACK, the flow stays. */
	struct pony_hdr syn = {.type = PONY_T_SYN, .src_flow = a_id + 1, .seq = 77, .aux = 256};
	inject(1, sim_ep[0].ip, ap, &syn, NULL, 0);
	assert_int_equal(stats(1).challenge_ack_tx, 1);
	assert_ptr_equal(pony_flow_lookup(sim_ep[1].tp, PONY_IP4(sim_ep[0].ip), ap), fb);
	/* RSTs with both ids but a stale or guessed seq: ignored. */
	struct pony_hdr rst = {.type = PONY_T_RST, .src_flow = a_id, .dst_flow = b_id};
	rst.seq = fb->rx.rcv_nxt - 1;
	inject(1, sim_ep[0].ip, ap, &rst, NULL, 0);
	rst.seq = fb->rx.rcv_nxt + 100000;
	inject(1, sim_ep[0].ip, ap, &rst, NULL, 0);
	assert_int_equal(stats(1).rst_bad_seq, 2);
	assert_int_equal(stats(1).challenge_ack_tx, 2); /* for the in-window one */
	/* Data beyond the window, and an ack of seqs never sent: dropped / ignored. */
	uint64_t oow = stats(1).out_of_window;
	struct pony_hdr data = {.type = PONY_T_DATA, .flags = PONY_F_ACK_VALID, .src_flow = a_id,
				.dst_flow = b_id, .seq = fb->rx.rcv_nxt + 4096,
				.ack = fb->snd_nxt + 1000, .sid = 1, .msg_len = 4};
	inject(1, sim_ep[0].ip, ap, &data, (const uint8_t *)"evil", 4);
	assert_int_equal(stats(1).out_of_window, oow + 1);
	assert_int_equal(stats(1).ack_invalid, 1);
	assert_true(sim_run_until(both_done, 100ull * SIM_HZ, 5000000));
	assert_int_equal(stats(0).flows_failed + stats(1).flows_failed, 0);
	assert_int_equal(a->rx_bad + sim_ep[1].ts[0].rx_bad, 0);
	/* An RST exactly at rcv_nxt (what a peer without the flow sends) is acted on. */
	rst.seq = fb->rx.rcv_nxt;
	inject(1, sim_ep[0].ip, ap, &rst, NULL, 0);
	assert_int_equal(stats(1).rst_rx, 1);
	assert_int_equal(stats(1).flows_failed, 1);
	sim_pair_stop();
}

/* 1,000 OPENs to a service nobody listens on from a peer that never acks: B allocates no
 * stream, at most window + 8 refusals are taken, the rest wait unacked; B fails the flow
 * after dead_timeout without acks; a real peer is served throughout. */
static void test_open_flood_unlistened(void **state)
{
	sim_pair_start(NULL, NULL, 4);
	uint32_t b_id = evil_connect(6000, 555);
	for (uint32_t k = 0; k < 1000; k++) {
		struct pony_flow *f = pony_flow_lookup(sim_ep[1].tp, PONY_IP4(EVIL_IP), 6000);
		assert_non_null(f);
		struct pony_hdr open = {.type = PONY_T_OPEN, .flags = PONY_F_ACK_VALID,
					.src_flow = 555, .dst_flow = b_id, .seq = EVIL_ISN + k,
					.ack = f->isn, .aux = 9, .src_sid = k + 1};
		inject(1, EVIL_IP, 6000, &open, NULL, 0);
		if (k % 16 == 0)
			pony_tp_poll(sim_ep[1].tp, sim_now); /* B sends; the clock stays */
		assert_int_equal(b_streams(), 0);
	}
	assert_int_equal(stats(1).flows_failed, 0);
	struct pony_tp_stats st = stats(1);
	print_message("refused %lu, deferred %lu, out of window %lu\n", st.refused_no_listener,
		      st.refuse_deferred, st.out_of_window);
	assert_true(st.refused_no_listener > 0 && st.refused_no_listener <= 256 + PONY_REFUSE_Q);
	assert_true(st.refuse_deferred > 0);
	struct sim_ts *a = sim_pair_connect(4);
	assert_int_equal(a->opened, 1);
	/* The attacker keeps probing but never acks: its flow is failed after dead_timeout. */
	for (unsigned i = 0; i < 200 && stats(1).ack_timeouts == 0; i++) {
		struct pony_hdr probe = {.type = PONY_T_PROBE, .src_flow = 555, .dst_flow = b_id,
					 .flags = PONY_F_ACK_VALID};
		struct pony_flow *f = pony_flow_lookup(sim_ep[1].tp, PONY_IP4(EVIL_IP), 6000);
		if (f == NULL)
			break;
		probe.ack = f->isn;
		inject(1, EVIL_IP, 6000, &probe, NULL, 0);
		uint64_t until = sim_now + 1000000;
		while (sim_now < until)
			sim_step();
	}
	assert_int_equal(stats(1).ack_timeouts, 1);
	assert_int_equal(stats(1).flows_failed, 1);
	assert_null(pony_flow_lookup(sim_ep[1].tp, PONY_IP4(EVIL_IP), 6000));
	assert_non_null(pony_flow_lookup(sim_ep[1].tp, PONY_IP4(sim_ep[0].ip), sim_ep[0].port));
	sim_pair_stop();
}

/* 600 one-sided requests (nobody's region: every record fails) from a peer that never
 * acks: its flow holds at most 32 response buffers, the rest are left unacked. */
static void test_os_flood_budget(void **state)
{
	sim_pair_start(NULL, NULL, 4);
	assert_int_equal(pony_tp_os_attach(sim_ep[1].tp, NULL, NULL), 0);
	uint32_t b_id = evil_connect(6000, 777);
	uint8_t rec[PONY_OS_REQ_HDR];
	struct pony_os_rec r = {.opcode = PONY_OS_READ, .op_id = 1, .region = 1, .len = 8,
				.key = 0xbad};
	size_t rl = pony_os_put_req(rec, &r);
	for (uint32_t k = 0; k < 600; k++) {
		struct pony_flow *f = pony_flow_lookup(sim_ep[1].tp, PONY_IP4(EVIL_IP), 6000);
		assert_non_null(f);
		struct pony_hdr req = {.type = PONY_T_OS_REQ, .flags = PONY_F_ACK_VALID,
				       .src_flow = 777, .dst_flow = b_id, .seq = EVIL_ISN + k,
				       .ack = f->isn, .aux = 1};
		inject(1, EVIL_IP, 6000, &req, rec, (uint16_t)rl);
		if (k % 16 == 0)
			pony_tp_poll(sim_ep[1].tp, sim_now); /* B sends; the clock stays */
	}
	struct pony_os_stats os;
	pony_tp_os_stats(sim_ep[1].tp, &os);
	print_message("executed %lu, over budget %lu, no buffer %lu\n", os.req_pkts_rx,
		      os.resp_budget, os.no_buf);
	assert_int_equal(os.req_pkts_rx, 32);
	assert_true(os.resp_budget > 0);
	assert_int_equal(os.no_buf, 0);
	sim_pair_stop();
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_siphash_vectors),
		cmocka_unit_test(test_cookie_slots),
		cmocka_unit_test(test_hs_ack_lost),
		cmocka_unit_test(test_flow_budget),
		cmocka_unit_test(test_stream_budget),
		cmocka_unit_test(test_forged_into_flow),
		cmocka_unit_test(test_open_flood_unlistened),
		cmocka_unit_test(test_os_flood_budget),
	};
	return sim_pair_run_tests("pony_sim_attack", tests, sizeof(tests) / sizeof(tests[0]));
}
