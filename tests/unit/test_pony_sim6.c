/* Pony over IPv6 in the simulation (issue 17): flows keyed by 16-byte addresses carry
 * messages over an impaired link, in plain and authenticated mode; a dual-stack endpoint
 * serves an IPv4 and an IPv6 peer at once on separate flows; SYN cookies of IPv4 peers are
 * computed as before IPv6, IPv6 ones cover the whole address; a flow to an IPv6 peer
 * survives save/restore and refuses release 0.1.0's layout. Fixture: pony_sim_pair.h. */
#include <arpa/inet.h>

#include "pony/auth.h"
#include "pony/cookie.h"
#include "pony/internal.h"
#include "pony/save.h"
#include "pony/save_int.h"
#include "pony_sim_pair.h"

static void cfg6(struct pony_tp_config *c, int idx, bool v4_too)
{
	sim_cfg(c, idx);
	if (!v4_too)
		c->local_ip = 0;
	char a[32];
	snprintf(a, sizeof(a), "fd00:6::%d", idx + 1);
	assert_int_equal(inet_pton(AF_INET6, a, c->local_ip6), 1);
}

static void check_done(void)
{
	for (int e = 0; e < 2; e++)
		for (unsigned i = 0; i < sim_ep[e].n_ts; i++) {
			const struct sim_ts *t = &sim_ep[e].ts[i];
			assert_int_equal(t->rx_bad, 0);
			assert_int_equal(t->rx_err, 0);
			assert_int_equal(t->tx_err, 0);
			assert_int_equal(t->rx_next, t->peer->total);
		}
}

/* Both ends IPv6 only, 3% loss and reorder, messages both ways; the flow shows the peer.
 * Every packet fits the ports' 1,500-byte MTU with IPv6's 48 bytes of IP and UDP header,
 * SACK blocks and all (segments were once sized for IPv4's 28: under loss, DATA with four
 * SACK blocks came out 20 bytes over, which an af_packet port refuses). */
static void run_pair6(const struct pony_auth_keyset *ks)
{
	struct pony_tp_config ca, cb;
	cfg6(&ca, 0, false);
	cfg6(&cb, 1, false);
	ca.auth_keys = cb.auth_keys = ks;
	sim_pair_start(&ca, &cb, 16);
	sim_link.loss = 0.03;
	sim_link.reorder = 0.03;
	sim_link.mtu = ca.mtu ? ca.mtu : 1500;
	struct sim_ts *a = sim_pair_connect(16);
	assert_true(sim_pair_exchange(a, 300, 64 << 10, 64 << 10, 120ull * SIM_HZ,
				      5 * 1000 * 1000, "v6"));
	check_done();
	assert_int_equal(sim_link.too_big, 0);
	struct pony_flow_stats fs;
	assert_int_equal(pony_tp_flow_stats(sim_ep[1].tp, 0, &fs), 0);
	assert_true(pony_ip_eq(&fs.peer, &sim_ep[0].addr));
	assert_int_equal(fs.peer_ip, 0);
	struct pony_tp_stats st;
	pony_tp_get_stats(sim_ep[1].tp, &st);
	assert_true(st.cookie_ok >= 1); /* the passive side made the flow from its cookie */
	assert_int_equal(st.auth_fail, 0);
	/* The IPv4 key of the same low 32 bits is another peer. */
	assert_null(pony_flow_lookup(sim_ep[1].tp, PONY_IP4(sim_ep[0].addr.w[3]), fs.peer_port));
	assert_non_null(pony_flow_lookup(sim_ep[1].tp, &sim_ep[0].addr, fs.peer_port));
	sim_pair_stop();
}

static void test_pair6(void **state)
{
	run_pair6(NULL);
}

static void test_pair6_auth(void **state)
{
	static const struct pony_auth_keyset ks = {.n = 1, .tx_id = 3, .id = {3}, .key = {{9, 8}}};
	run_pair6(&ks);
}

static struct sim_ts *dual_a, *dual_c;

static bool dual_open(void)
{
	return dual_a->opened && dual_c->opened && sim_ep[1].n_ts == 2;
}

static bool dual_done(void)
{
	return sim_ep[1].ts[0].rx_next == 50 && sim_ep[1].ts[1].rx_next == 50;
}

/* B has both families; A (IPv4) and C (IPv6) each open a stream to it and send. An IPv4-only
 * transport cannot open to an IPv6 peer. */
static void test_dual_stack(void **state)
{
	struct pony_tp_config ca, cb, cc;
	sim_cfg(&ca, 0);
	cfg6(&cb, 1, true);
	cfg6(&cc, 2, false);
	sim_pair_start(&ca, &cb, 16);
	assert_int_equal(sim_ep_start(2, &cc), 0);
	struct sim_ts *ta = sim_ts_new(&sim_ep[0]), *tc = sim_ts_new(&sim_ep[2]);
	dual_a = ta;
	dual_c = tc;
	uint32_t sid;
	assert_int_equal(pony_tp_open(sim_ep[0].tp, &sim_ep[2].addr, SIM_SERVICE, NULL, &sid),
			 -EAFNOSUPPORT);
	assert_int_equal(pony_tp_open(sim_ep[0].tp, &sim_ep[1].addr, SIM_SERVICE, ta, &ta->sid), 0);
	assert_true(sim_run_until(sim_pair_all_open, 100 * 1000 * 1000ull, 100000));
	assert_int_equal(pony_tp_open(sim_ep[2].tp, &sim_ep[1].addr6, SIM_SERVICE, tc, &tc->sid), 0);
	assert_true(sim_run_until(dual_open, 100 * 1000 * 1000ull, 100000));
	assert_int_equal(ta->opened, 1);
	assert_int_equal(tc->opened, 1);
	assert_int_equal(sim_ep[1].n_ts, 2);
	ta->peer = &sim_ep[1].ts[0];
	sim_ep[1].ts[0].peer = ta;
	tc->peer = &sim_ep[1].ts[1];
	sim_ep[1].ts[1].peer = tc;
	ta->credit_step = tc->credit_step = 1;
	assert_int_equal(sim_ts_plan(ta, 50, 8192), 0);
	assert_int_equal(sim_ts_plan(tc, 50, 8192), 0);
	assert_true(sim_run_until(dual_done, 10ull * SIM_HZ, 1000 * 1000));
	assert_int_equal(sim_ep[1].ts[0].rx_next, 50);
	assert_int_equal(sim_ep[1].ts[1].rx_next, 50);
	assert_int_equal(sim_ep[1].ts[0].rx_bad + sim_ep[1].ts[1].rx_bad, 0);
	/* Two flows at B: one keyed v4-mapped (peer_ip filled), one IPv6. */
	struct pony_flow_stats f0, f1;
	assert_int_equal(pony_tp_flow_stats(sim_ep[1].tp, 0, &f0), 0);
	assert_int_equal(pony_tp_flow_stats(sim_ep[1].tp, 1, &f1), 0);
	assert_true(pony_ip_is4(&f0.peer) && f0.peer_ip == sim_ep[0].ip);
	assert_true(pony_ip_eq(&f1.peer, &sim_ep[2].addr) && f1.peer_ip == 0);
	sim_drop_pending();
	sim_ep_stop(2);
	sim_pair_stop();
}

/* IPv4 cookies are the SipHash input of releases before IPv6 (in-flight handshakes of an
 * upgrade and older tools agree); IPv6 ones depend on every address byte. */
static void test_cookies(void **state)
{
	struct pony_tp_config ca;
	sim_cfg(&ca, 0);
	sim_now = SIM_HZ;
	assert_int_equal(sim_ep_start(0, &ca), 0);
	struct pony_tp *tp = sim_ep[0].tp;
	tp->now = sim_now;
	uint32_t ip = htonl(0x0a000005);
	struct pony_cookie c, d;
	pony_cookie_make(tp, PONY_IP4(ip), 4000, 77, &c);
	uint64_t slot = (uint64_t)((double)tp->now * tp->ns_per_tsc) >> 31;
	uint64_t in[3] = {0x636f6f6b ^ ((uint64_t)4000 << 32), ((uint64_t)ip << 32) | 77, slot};
	uint64_t mac = pony_siphash(tp->key, in, sizeof(in));
	uint32_t id = (uint32_t)(slot & 3) << 30 | ((uint32_t)mac & 0x3fffffffu);
	assert_int_equal(c.local_id, id ? id : 1);
	assert_int_equal(c.isn, (uint32_t)(mac >> 32));
	struct pony_ip a6 = {0}, b6;
	a6.b[0] = 0xfd;
	a6.w[3] = ip;
	pony_cookie_make(tp, &a6, 4000, 77, &d);
	assert_true(d.local_id != c.local_id);
	assert_true(pony_cookie_check(tp, &a6, 4000, 77, d.local_id, &c));
	b6 = a6;
	b6.b[1] ^= 1;
	assert_false(pony_cookie_check(tp, &b6, 4000, 77, d.local_id, &c));
	assert_false(pony_cookie_check(tp, PONY_IP4(ip), 4000, 77, d.local_id, &c));
	sim_ep_stop(0);
}

/* A flow to an IPv6 peer moves through the tables format (its address in pony.peer) and
 * carries on; release 0.1.0's raw layout cannot hold it and is refused. */
static void test_save_restore6(void **state)
{
	struct pony_tp_config ca, cb;
	cfg6(&ca, 0, false);
	cfg6(&cb, 1, false);
	sim_pair_start(&ca, &cb, 16);
	struct sim_ts *a = sim_pair_connect(16);
	struct snap_sbuf sb;
	snap_sbuf_init(&sb);
	assert_int_equal(pony_tp_save_v(sim_ep[1].tp, &sb, PONY_TP_SAVE_V_RAW), -EPROTO);
	snap_sbuf_fini(&sb);
	snap_sbuf_init(&sb);
	assert_int_equal(pony_tp_save_v(sim_ep[1].tp, &sb, PONY_TP_SAVE_V_TABLES), 0);
	/* Forget the address in place, then restore it from the blob. */
	memset(sim_ep[1].tp->peers, 0, sizeof(struct pony_ip));
	pony_flow_ht_rebuild(sim_ep[1].tp);
	assert_null(pony_flow_lookup(sim_ep[1].tp, &sim_ep[0].addr, sim_ep[0].port));
	assert_int_equal(pony_tp_restore(sim_ep[1].tp, sb.data, sb.len, NULL), 0);
	snap_sbuf_fini(&sb);
	assert_non_null(pony_flow_lookup(sim_ep[1].tp, &sim_ep[0].addr, sim_ep[0].port));
	assert_int_equal(sim_ts_plan(a, 20, 4096), 0);
	assert_true(sim_run_until(sim_pair_all_done, 10ull * SIM_HZ, 1000 * 1000));
	check_done();
	sim_pair_stop();
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pair6),
		cmocka_unit_test(test_pair6_auth),
		cmocka_unit_test(test_dual_stack),
		cmocka_unit_test(test_cookies),
		cmocka_unit_test(test_save_restore6),
	};
	return sim_pair_run_tests("pony_sim6", tests, sizeof(tests) / sizeof(tests[0]));
}
