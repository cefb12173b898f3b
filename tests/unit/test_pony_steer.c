/* Flow steering of Pony engines sharing a multi-queue port (issue 17): over net_null ports
 * (whose RSS has no key, so the daemon finds no steering it can predict: checked), marked as
 * RSS with our key by the test, which plays A's NIC: four engines of A each open a stream
 * to B, and the test delivers B's replies to the rx queue our key hashes them to. Checks: each
 * engine's flow uses a port of its queue's block that hashes back to its queue; a reply
 * delivered to the wrong engine is handed to its owner through the steer ring, or dropped
 * as pony_misdirected where the engine has no ring; never read by the wrong flow table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include <rte_cycles.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "elemtest.h"
#include "pony/elem.h"
#include "pony/wire.h"
#include "snap/steer.h"

#define NQ 4
#define SVC 5

static struct snap_engine *ea[NQ], *eb;
static unsigned opened, delivered;
static struct pony_tp *tp_b;

static int b_accept(void *l, uint32_t sid, const struct pony_ip *ip, uint16_t svc, void **owner)
{
	*owner = l;
	return pony_tp_grant(tp_b, sid, 10);
}
static void a_opened(void *o, uint32_t sid, int st)
{
	opened += st == 0;
}
static void *b_rx_begin(void *o, uint32_t sid, uint32_t len, uint64_t *cookie)
{
	static char buf[16];
	return len <= sizeof(buf) ? buf : NULL;
}
static void b_rx_done(void *o, uint32_t sid, uint64_t cookie, uint32_t len, int st)
{
	delivered += st == 0;
}
static void no_tx_done(void *o, uint32_t sid, uint64_t cookie, int st)
{
}
static void no_closed(void *o, uint32_t sid, int st)
{
}
static const struct pony_tp_upcalls ups = {b_accept, a_opened, b_rx_begin, b_rx_done,
					   no_tx_done, no_closed};

static struct rte_udp_hdr *udp_of(struct rte_mbuf *m, struct rte_ipv4_hdr **ip)
{
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	assert_int_equal(eh->ether_type, rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4));
	*ip = (struct rte_ipv4_hdr *)(eh + 1);
	return (struct rte_udp_hdr *)(*ip + 1);
}

/* An engine of `port` owning its rx queue q (claimed as port_rx would, without polling the
 * null device's dummy packets), with a pony element whose frames go to a sink. */
static struct snap_engine *make(const char *name, const char *port, uint16_t q, bool ring)
{
	struct snap_engine *e = snap_engine_create(name, SOCKET_ID_ANY);
	assert_non_null(e);
	assert_int_equal(snap_port_claim_rxq(snap_port_find(port), q, e), 0);
	char pk[32], rk[32];
	snprintf(pk, sizeof(pk), "port=%s", port);
	snprintf(rk, sizeof(rk), "ring=sr%u", q);
	et_add(e, "pony", "pony", pk, "rto_min_us=100", "rto_init_us=200",
	       ring ? "steer_ring=sr" : NULL, NULL);
	et_add(e, "test_sink", "sink", NULL);
	et_link(e, "pony", "tx", "sink");
	if (ring) {
		et_add(e, "ring_rx", "handed", rk, NULL);
		et_link(e, "handed", "out", "pony");
	}
	pony_tp_set_upcalls(pony_elem_tp(snap_engine_elem(e, "pony")), &ups);
	return e;
}

static void test_mode(void **state)
{
	struct snap_port *p = snap_port_find("p0");
	/* net_null hashes without a key (not ours) and takes no rte_flow rules: no steering,
	 * the refusal kept for snapctl. */
	assert_int_equal(p->steer_mode, SNAP_STEER_NONE);
	assert_int_equal(p->steer_rules, 0);
	assert_true(p->steer_why[0] != '\0');
	assert_int_equal(p->steer_base, SNAP_STEER_UDP_BASE_DEFAULT);
	assert_int_equal(p->steer_block, SNAP_STEER_UDP_BLOCK_DEFAULT);
}

static void test_steered_flows(void **state)
{
	struct snap_port *pa = snap_port_find("p0"), *pb = snap_port_find("peer");
	uint32_t ip_a = et_ip("10.0.0.1"), ip_b = et_ip("10.0.0.2");
	pa->steer_mode = SNAP_STEER_RSS; /* the test's NIC hashes with our key */
	for (uint16_t k = 0; k < NQ; k++) {
		char name[8];
		snprintf(name, sizeof(name), "a%u", k);
		ea[k] = make(name, "p0", k, k != 3); /* a3 has no ring: it drops what is not its */
	}
	eb = make("b", "peer", 0, false);
	tp_b = pony_elem_tp(snap_engine_elem(eb, "pony"));
	assert_int_equal(snap_port_neigh_learn(pa, ip_b, &et_mac_peer), 0);
	assert_int_equal(snap_port_neigh_learn(pb, ip_a, &et_mac_us), 0);
	assert_int_equal(pony_tp_listen(tp_b, SVC, NULL), 0);
	for (uint16_t k = 0; k < NQ; k++) {
		struct pony_tp *t = pony_elem_tp(snap_engine_elem(ea[k], "pony"));
		uint32_t sid;
		assert_int_equal(pony_tp_open(t, PONY_IP4(ip_b), SVC, NULL, &sid), 0);
		assert_int_equal(pony_tp_send(t, sid, "hello", 5, 1), 0);
	}
	struct et_sink *sb = et_sink_of(eb, "sink");
	uint16_t sport[NQ] = {0};
	unsigned wrong_ring = 0, wrong_drop = 0;
	uint64_t end = rte_rdtsc() + 5 * rte_get_tsc_hz();
	while ((opened < NQ || delivered < NQ) && rte_rdtsc() < end) {
		for (uint16_t k = 0; k < NQ; k++) {
			snap_engine_poll(ea[k], rte_rdtsc());
			struct et_sink *s = et_sink_of(ea[k], "sink");
			for (uint16_t i = 0; i < s->n; i++) {
				struct rte_ipv4_hdr *ip;
				uint16_t p = rte_be_to_cpu_16(udp_of(s->pkts[i], &ip)->src_port);
				/* The engine's port: in its block, and B's packets to it hash to k. */
				assert_int_equal(snap_steer_port_queue(pa->steer_base, pa->steer_block,
								       NQ, p), k);
				assert_int_equal(snap_steer_queue4(ip_b, ip_a, PONY_UDP_PORT_DEFAULT, p,
								   NQ), k);
				assert_true(sport[k] == 0 || sport[k] == p);
				sport[k] = p;
			}
			et_feed(eb, "pony", s->pkts, s->n);
			s->n = 0;
		}
		snap_engine_poll(eb, rte_rdtsc());
		/* A's NIC: each of B's frames to the rx queue our key hashes it to, except a
		 * first one of engine 1's flow, delivered to engine 2 (which hands it over), and
		 * a first one of engine 0's, delivered to engine 3 (which drops it). */
		for (uint16_t i = 0; i < sb->n; i++) {
			struct rte_ipv4_hdr *ip;
			struct rte_udp_hdr *uh = udp_of(sb->pkts[i], &ip);
			uint16_t q = snap_steer_queue4(ip->src_addr, ip->dst_addr,
						       rte_be_to_cpu_16(uh->src_port),
						       rte_be_to_cpu_16(uh->dst_port), NQ);
			if (q == 1 && wrong_ring == 0)
				q = 2, wrong_ring++;
			else if (q == 0 && wrong_drop == 0)
				q = 3, wrong_drop++;
			et_feed(ea[q], "pony", &sb->pkts[i], 1);
		}
		sb->n = 0;
	}
	assert_int_equal(opened, NQ);
	assert_int_equal(delivered, NQ);
	assert_int_equal(wrong_ring, 1);
	assert_int_equal(wrong_drop, 1);
	for (uint16_t k = 0; k < NQ; k++) {
		assert_int_equal(et_stat(ea[k], "pony", "flows_created"), 1);
		assert_int_equal(et_stat(ea[k], "pony", "steer_queue"), k);
		assert_int_equal(et_stat(ea[k], "pony", "steer_unmapped"), 0);
		assert_int_equal(et_stat(ea[k], "pony", "no_flow"), 0);
		assert_int_equal(et_stat(ea[k], "pony", "rx_not_pony"), 0);
		assert_int_equal(et_stat(ea[k], "pony", "steer_misdirected"), k >= 2);
		assert_int_equal(et_stat(ea[k], "pony", "steer_handed_off"), k == 2);
	}
	assert_int_equal(et_drops(ea[3], "pony", SNAP_DROP_PONY_MISDIRECTED), 1);
	/* A port neither the element's nor steered: not Pony, as without steering. */
	uint8_t buf[1600];
	size_t len = et_build_udp(buf, &et_mac_us, ip_b, ip_a, PONY_UDP_PORT_DEFAULT, 9999, 32);
	struct rte_mbuf *m = et_mbuf(buf, len);
	et_feed(ea[0], "pony", &m, 1);
	assert_int_equal(et_stat(ea[0], "pony", "rx_not_pony"), 1);
	assert_int_equal(et_stat(ea[0], "pony", "steer_misdirected"), 0);
	/* B keys each flow by A's address and the engine's port: four flows. */
	assert_int_equal(et_stat(eb, "pony", "flows_created"), NQ);
	for (uint16_t k = 0; k < NQ; k++) {
		snap_port_release_rxq(pa, k, ea[k]);
		snap_engine_destroy(ea[k]);
	}
	snap_port_release_rxq(pb, 0, eb);
	snap_engine_destroy(eb);
	pa->steer_mode = SNAP_STEER_NONE;
	assert_int_equal(et_in_use(), 0);
}

static int setup(void **state)
{
	et_port_kind = SNAP_PORT_NULL;
	et_port_queues = NQ;
	return et_eal_init("test_pony_steer");
}

static int teardown(void **state)
{
	et_eal_fini();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_mode),
					   cmocka_unit_test(test_steered_flows)};
	return cmocka_run_group_tests(tests, setup, teardown);
}
