/* Pony authenticated flows (pony/auth.h, WIRE.md "Authentication") end to end over the
 * simulated link: traffic under an impaired link, forged SYN/RST/data/one-sided packets
 * (bad tag, wrong key, no tag, one modified byte) dropped and counted with the flow intact,
 * key rotation mid-flow without loss, the bound on key derivations a flood of random flow
 * ids can cause, a side without keys refused, and key file checks. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pony/auth.h"
#include "pony_sim_pair.h"

static const char *const K1 =
	"1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
static const char *const K2 =
	"2 f0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f\n";

static void keyset(struct pony_auth_keyset *ks, const char *text)
{
	char err[128];
	assert_int_equal(pony_auth_keyset_parse(text, ks, err, sizeof(err)), 0);
}

static void start_auth(uint32_t credit, const char *ka, const char *kb)
{
	struct pony_tp_config ca, cb;
	struct pony_auth_keyset ksa, ksb;
	sim_pair_cfg(&ca, &cb);
	if (ka) {
		keyset(&ksa, ka);
		ca.auth_keys = &ksa;
	}
	if (kb) {
		keyset(&ksb, kb);
		cb.auth_keys = &ksb;
	}
	sim_pair_start(&ca, &cb, credit); /* the keys are copied: ks may go */
}

static struct pony_tp_stats stats(int e)
{
	struct pony_tp_stats st;
	pony_tp_get_stats(sim_ep[e].tp, &st);
	return st;
}

static void check_streams_clean(unsigned n)
{
	for (int e = 0; e < 2; e++)
		for (unsigned i = 0; i < n; i++) {
			const struct sim_ts *t = &sim_ep[e].ts[i];
			assert_int_equal(t->rx_bad, 0);
			assert_int_equal(t->rx_err, 0);
			assert_int_equal(t->tx_err, 0);
			assert_int_equal(t->rx_next, t->peer->total);
		}
}

/* Both directions, messages up to 256 KiB, over a link with loss, reorder, duplication and
 * corruption: everything arrives once; corrupted packets die on the tag (auth_fail). */
static void test_auth_impaired(void **state)
{
	start_auth(16, K1, K1);
	sim_link.loss = 0.03;
	sim_link.reorder = 0.03;
	sim_link.dup = 0.01;
	sim_link.corrupt = 0.01;
	struct sim_ts *a = sim_pair_connect(16);
	assert_true(sim_pair_exchange(a, 300, 256 << 10, 64 << 10, 300ull * SIM_HZ,
				      10 * 1000 * 1000, "auth impaired"));
	check_streams_clean(1);
	struct pony_tp_stats sa = stats(0), sb = stats(1);
	assert_true(sim_link.corrupted > 0);
	assert_true(sa.auth_fail + sb.auth_fail + sa.malformed + sb.malformed > 0);
	assert_int_equal(sa.bad_csum + sb.bad_csum, 0); /* no crc in authenticated mode */
	assert_int_equal(sa.flows_failed + sb.flows_failed, 0);
	sim_pair_stop();
}

enum forge { BAD_TAG, WRONG_KEY, NO_TAG };

/* Inject into B a packet from A's address built from h (payload of plen 0x5a bytes). */
static void inject(const struct pony_hdr *h0, uint16_t plen, enum forge how)
{
	struct pony_hdr h = *h0;
	struct rte_mbuf *m = rte_pktmbuf_alloc(sim_pool);
	assert_non_null(m);
	h.payload_len = plen;
	h.key_id = how == NO_TAG ? 0 : 1;
	size_t hl = pony_wire_hdr_len(&h), tr = how == NO_TAG ? 0 : PONY_AUTH_TRAILER;
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(hl + plen + tr));
	memset(p + hl, 0x5a, plen + tr);
	pony_wire_build(p, &h);
	if (how == WRONG_KEY) {
		/* A well-formed tag under key id 1 with other key bytes: a peer with a wrong key. */
		struct pony_auth_keyset ks;
		keyset(&ks, "1 ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
		struct pony_auth *bad = pony_auth_create(1, &ks, SOCKET_ID_ANY);
		assert_non_null(bad);
		bool hs = h.type == PONY_T_SYN || h.type == PONY_T_RST;
		struct pony_auth_ident id = {.src_ip = *PONY_IP4(sim_ep[0].ip),
					     .src_port = sim_ep[0].port,
					     .dst_ip = *PONY_IP4(sim_ep[1].ip), .dst_port = sim_ep[1].port,
					     .src_flow = hs ? 0 : h.src_flow,
					     .dst_flow = hs ? 0 : h.dst_flow};
		assert_int_equal(pony_auth_seal(bad, 0, hs ? PONY_AUTH_HS_TX : PONY_AUTH_FLOW_TX,
						&id, 1, p, hl + plen), 0);
		pony_auth_destroy(bad);
	}
	pony_tp_input(sim_ep[1].tp, sim_ep[0].ip, sim_ep[0].port, &m, 1, sim_now);
}

/* A flow carrying traffic; forged SYN (new incarnation), RST, DATA and OS_REQ naming the
 * real flow ids and in-window seqs, each with a bad tag, a wrong key and no tag, plus a real
 * packet with one byte flipped: all counted auth_fail, the flow and its data intact. */
static void test_auth_forged(void **state)
{
	start_auth(8, K1, K1);
	struct sim_ts *a = sim_pair_connect(8);
	assert_int_equal(sim_ts_plan(a, 200, 32 << 10), 0);
	assert_int_equal(sim_ts_plan(&sim_ep[1].ts[0], 200, 32 << 10), 0);
	for (unsigned i = 0; i < 100000 && a->acked < 20; i++)
		sim_step();
	struct pony_flow *fb = pony_flow_lookup(sim_ep[1].tp, PONY_IP4(sim_ep[0].ip), sim_ep[0].port);
	assert_non_null(fb);
	assert_int_equal(fb->state, PONY_F_ESTABLISHED);
	uint32_t b_id = fb->local_id, a_id = fb->peer_id, nxt = fb->rx.rcv_nxt;
	struct pony_tp_stats before = stats(1);
	const struct pony_hdr forged[] = {
		{.type = PONY_T_SYN, .src_flow = a_id ^ 0x55, .seq = 9, .aux = 256},
		{.type = PONY_T_RST, .src_flow = a_id, .dst_flow = b_id},
		{.type = PONY_T_DATA, .src_flow = a_id, .dst_flow = b_id, .seq = nxt,
		 .sid = sim_ep[1].ts[0].sid, .msg_len = 64, .flags = PONY_F_ACK_VALID,
		 .ack = fb->snd_una},
		{.type = PONY_T_OS_REQ, .src_flow = a_id, .dst_flow = b_id, .seq = nxt + 1,
		 .aux = 1},
	};
	const uint16_t plen[] = {0, 0, 64, 32};
	unsigned n = 0;
	for (unsigned i = 0; i < 4; i++)
		for (enum forge how = BAD_TAG; how <= NO_TAG; how++, n++)
			inject(&forged[i], plen[i], how);
	/* A real packet of A's with one byte changed. */
	sim_link.capture = true;
	for (unsigned i = 0; i < 1000 && sim_link.n == 0; i++)
		sim_step();
	assert_true(sim_link.n > 0);
	for (unsigned i = 0; i < sim_link.n; i++) {
		if (sim_link.p[i].dst != 1)
			continue;
		struct rte_mbuf *c = rte_pktmbuf_copy(sim_link.p[i].m, sim_pool, 0, UINT32_MAX);
		assert_non_null(c);
		rte_pktmbuf_mtod(c, uint8_t *)[20] ^= 0x01; /* in ts */
		pony_tp_input(sim_ep[1].tp, sim_ep[0].ip, sim_ep[0].port, &c, 1, sim_now);
		n++;
		break;
	}
	sim_link.capture = false;
	struct pony_tp_stats after = stats(1);
	print_message("forged: %u injected, auth_fail %lu\n", n,
		      (unsigned long)(after.auth_fail - before.auth_fail));
	assert_int_equal(after.auth_fail - before.auth_fail, n);
	assert_int_equal(after.rst_rx, before.rst_rx);
	assert_int_equal(after.flows_failed, 0);
	assert_int_equal(after.flows_created, before.flows_created);
	assert_int_equal(fb->state, PONY_F_ESTABLISHED);
	assert_int_equal(fb->local_id, b_id);
	assert_int_equal(fb->rx.rcv_nxt, nxt); /* nothing forged was taken as data */
	assert_true(sim_run_until(sim_pair_all_done, 100ull * SIM_HZ, 5 * 1000 * 1000));
	check_streams_clean(1);
	assert_int_equal(stats(0).flows_failed, 0);
	sim_pair_stop();
}

static uint64_t derivations(int e)
{
	return pony_auth_derivations(sim_ep[e].tp->auth);
}

/* Rotation from key 1 to key 2 in the middle of an exchange, in the three steps of
 * WIRE.md: install 2 accept-only everywhere, send with 2, drop 1. Nothing is lost, no flow
 * fails, and the ends re-derive their keys (lazily, on the next packet). */
static void test_auth_rotation(void **state)
{
	start_auth(8, K1, K1);
	sim_link.loss = 0.02;
	struct sim_ts *a = sim_pair_connect(8);
	assert_int_equal(sim_ts_plan(a, 3000, 16 << 10), 0);
	assert_int_equal(sim_ts_plan(&sim_ep[1].ts[0], 3000, 16 << 10), 0);
	char both_acc[256], both[256];
	snprintf(both_acc, sizeof(both_acc), "%s%.*s accept-only\n", K1, (int)strlen(K2) - 1, K2);
	snprintf(both, sizeof(both), "%s%s", K1, K2);
	const char *steps[] = {both_acc, both, K2};
	uint64_t d0 = derivations(0) + derivations(1);
	for (unsigned s = 0; s < 3; s++) {
		struct pony_auth_keyset ks;
		keyset(&ks, steps[s]);
		/* One side first, then the other a while later: they never switch together. */
		assert_int_equal(pony_tp_auth_set_keys(sim_ep[0].tp, &ks), 0);
		for (unsigned i = 0; i < 100; i++)
			sim_step();
		assert_int_equal(pony_tp_auth_set_keys(sim_ep[1].tp, &ks), 0);
		for (unsigned i = 0; i < 100; i++)
			sim_step();
		print_message("rotation step %u: A acked %u/%u\n", s, a->acked, a->total);
		assert_true(a->acked < a->total); /* the rotation happens mid-exchange */
		if (s == 1) {
			/* Let every packet sealed under key 1 arrive before key 1 goes. */
			sim_link.loss = 0;
			for (unsigned i = 0; i < 300 && sim_link.n; i++)
				sim_step();
		}
	}
	assert_true(sim_run_until(sim_pair_all_done, 100ull * SIM_HZ, 5 * 1000 * 1000));
	sim_pair_dump("rotation");
	check_streams_clean(1);
	assert_int_equal(stats(0).flows_failed + stats(1).flows_failed, 0);
	assert_int_equal(stats(0).flows_created + stats(1).flows_created, 2);
	assert_true(derivations(0) + derivations(1) > d0);
	/* Each step waited for the other side, so no packet met a receiver without its key. */
	assert_int_equal(stats(0).auth_fail + stats(1).auth_fail, 0);
	assert_int_equal(pony_tp_auth_set_keys(sim_ep[0].tp, NULL), -EINVAL);
	sim_pair_stop();
}

/* Forged packets naming random flow ids (no known incarnation) each need a key derived to be
 * checked: at most PONY_AUTH_SCRATCH_PER_MS are per millisecond, the rest are dropped
 * unchecked. All are counted; the real flow is untouched. */
static void test_auth_scratch_budget(void **state)
{
	start_auth(4, K1, K1);
	struct sim_ts *a = sim_pair_connect(4);
	(void)a;
	struct pony_tp_stats before = stats(1);
	uint64_t d0 = derivations(1);
	for (uint32_t i = 0; i < 500; i++) {
		struct pony_hdr h = {.type = PONY_T_ACK, .src_flow = 1000 + i, .dst_flow = 7 + i,
				     .flags = PONY_F_ACK_VALID};
		inject(&h, 0, BAD_TAG);
	}
	uint64_t derived = derivations(1) - d0;
	print_message("500 forged ACKs of random flows in one instant: %lu keys derived\n",
		      (unsigned long)derived);
	assert_int_equal(stats(1).auth_fail - before.auth_fail, 500);
	assert_true(derived <= PONY_AUTH_SCRATCH_PER_MS);
	assert_int_equal(stats(1).rst_tx, before.rst_tx); /* no RST for unchecked packets */
	assert_int_equal(stats(1).flows_failed, 0);
	sim_pair_stop();
}

/* A transport without keys cannot talk to one with keys: its SYNs are dropped (auth_fail)
 * and so are the other side's; the open times out. */
static void test_auth_mismatch(void **state)
{
	start_auth(4, NULL, K1);
	struct sim_ts *a = sim_pair_open(4);
	for (unsigned i = 0; i < 1000000 && a->opened == 0; i++)
		sim_step();
	assert_int_equal(a->opened, -ETIMEDOUT);
	assert_true(stats(1).auth_fail > 0);
	assert_int_equal(stats(1).flows_created, 0);
	sim_pair_stop();
}

/* Key file text and permission rules. */
static void test_auth_keyfile(void **state)
{
	struct pony_auth_keyset ks;
	char err[256], path[] = "/tmp/pony_auth_test_XXXXXX";
	assert_int_equal(pony_auth_keyset_parse("# c\n\n1 00\n", &ks, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line 3"));
	assert_int_equal(pony_auth_keyset_parse("", &ks, err, sizeof(err)), -EINVAL);
	char two[256];
	snprintf(two, sizeof(two), "%s%s", K1, K1);
	assert_int_equal(pony_auth_keyset_parse(two, &ks, err, sizeof(err)), -EINVAL);
	snprintf(two, sizeof(two), "%s%.*s accept-only # next\n", K1, (int)strlen(K2) - 1, K2);
	assert_int_equal(pony_auth_keyset_parse(two, &ks, err, sizeof(err)), 0);
	assert_int_equal(ks.n, 2);
	assert_int_equal(ks.tx_id, 1);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, K1, strlen(K1)), (ssize_t)strlen(K1));
	close(fd);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(pony_auth_keyset_load(path, &ks, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "0600"));
	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(pony_auth_keyset_load(path, &ks, err, sizeof(err)), 0);
	assert_int_equal(ks.tx_id, 1);
	unlink(path);
	assert_int_equal(pony_auth_keyset_load(path, &ks, err, sizeof(err)), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auth_keyfile),
		cmocka_unit_test(test_auth_impaired),
		cmocka_unit_test(test_auth_forged),
		cmocka_unit_test(test_auth_rotation),
		cmocka_unit_test(test_auth_scratch_budget),
		cmocka_unit_test(test_auth_mismatch),
	};
	return sim_pair_run_tests("pony_auth", tests, sizeof(tests) / sizeof(tests[0]));
}
