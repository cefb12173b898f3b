/* The `pony` element on real (net_null) ports: neighbour resolution through ARP requests,
 * Ethernet/IPv4/UDP framing with the port's addresses, and a stream exchange between two
 * engines whose frames the test carries across. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "elemtest.h"
#include "pony/elem.h"
#include "pony/wire.h"

struct app {
	uint32_t sid;
	int opened;
	unsigned rx, tx_ok;
	char buf[16];
};
static struct app apps[2];
static struct pony_tp *tp_b;

static int a_accept(void *l, uint32_t sid, const struct pony_ip *ip, uint16_t svc, void **owner)
{
	struct app *a = l;
	a->sid = sid;
	*owner = a;
	return pony_tp_grant(tp_b, sid, 10);
}
static void a_opened(void *o, uint32_t sid, int st)
{
	((struct app *)o)->opened = st == 0 ? 1 : st;
}
static void *a_rx_begin(void *o, uint32_t sid, uint32_t len, uint64_t *cookie)
{
	return len == 5 ? ((struct app *)o)->buf : NULL;
}
static void a_rx_done(void *o, uint32_t sid, uint64_t cookie, uint32_t len, int st)
{
	struct app *a = o;
	a->rx += st == 0 && memcmp(a->buf, "hello", 5) == 0;
}
static void a_tx_done(void *o, uint32_t sid, uint64_t cookie, int st)
{
	((struct app *)o)->tx_ok += st == 0;
}
static void a_closed(void *o, uint32_t sid, int st)
{
}
static const struct pony_tp_upcalls ups = {a_accept, a_opened, a_rx_begin, a_rx_done,
					   a_tx_done, a_closed};

static struct snap_engine *make(const char *name, const char *port_kv)
{
	struct snap_engine *e = snap_engine_create(name, SOCKET_ID_ANY);
	assert_non_null(e);
	et_add(e, "pony", "pony", port_kv, "rto_min_us=100", "rto_init_us=200", NULL);
	et_add(e, "test_sink", "sink", NULL);
	et_link(e, "pony", "tx", "sink");
	pony_tp_set_upcalls(pony_elem_tp(snap_engine_elem(e, "pony")), &ups);
	return e;
}

static void check_frame(struct rte_mbuf *m, const struct rte_ether_addr *src,
			const struct rte_ether_addr *dst, uint32_t sip, uint32_t dip)
{
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	assert_int_equal(eh->ether_type, rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4));
	assert_memory_equal(&eh->src_addr, src, 6);
	assert_memory_equal(&eh->dst_addr, dst, 6);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eh + 1);
	assert_int_equal(ip->src_addr, sip);
	assert_int_equal(ip->dst_addr, dip);
	struct rte_ipv4_hdr c = *ip;
	c.hdr_checksum = 0;
	assert_int_equal(rte_ipv4_cksum(&c), ip->hdr_checksum);
	struct rte_udp_hdr *uh = (struct rte_udp_hdr *)(ip + 1);
	assert_int_equal(rte_be_to_cpu_16(uh->dst_port), PONY_UDP_PORT_DEFAULT);
	assert_int_equal(rte_be_to_cpu_16(uh->src_port), PONY_UDP_PORT_DEFAULT);
}

static void test_port_exchange(void **state)
{
	struct snap_engine *ea = make("ponyA", "port=p0"), *eb = make("ponyB", "port=peer");
	struct snap_port *pa = snap_port_find("p0"), *pb = snap_port_find("peer");
	struct et_sink *sa = et_sink_of(ea, "sink"), *sb = et_sink_of(eb, "sink");
	struct pony_tp *ta = pony_elem_tp(snap_engine_elem(ea, "pony"));
	tp_b = pony_elem_tp(snap_engine_elem(eb, "pony"));
	uint32_t ip_a = et_ip("10.0.0.1"), ip_b = et_ip("10.0.0.2");
	assert_int_equal(pony_tp_listen(tp_b, 5, &apps[1]), 0);
	assert_int_equal(pony_tp_open(ta, PONY_IP4(ip_b), 5, &apps[0], &apps[0].sid), 0);
	assert_int_equal(pony_tp_send(ta, apps[0].sid, "hello", 5, 1), 0);

	/* Unknown neighbour: an ARP request for B, the SYN is dropped. */
	snap_engine_poll(ea, rte_rdtsc());
	assert_int_equal(sa->n, 1);
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(sa->pkts[0], struct rte_ether_hdr *);
	assert_int_equal(eh->ether_type, rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP));
	struct rte_arp_hdr *arp = (struct rte_arp_hdr *)(eh + 1);
	assert_int_equal(arp->arp_opcode, rte_cpu_to_be_16(RTE_ARP_OP_REQUEST));
	assert_int_equal(arp->arp_data.arp_tip, ip_b);
	assert_int_equal(et_drops(ea, "pony", SNAP_DROP_NO_NEIGHBOUR), 1);
	assert_int_equal(et_stat(ea, "pony", "arp_requests"), 1);
	et_sink_clear(sa);

	/* Resolved: frames carry the ports' addresses; run the exchange to completion. */
	assert_int_equal(snap_port_neigh_learn(pa, ip_b, &et_mac_peer), 0);
	assert_int_equal(snap_port_neigh_learn(pb, ip_a, &et_mac_us), 0);
	uint64_t end = rte_rdtsc() + 3 * rte_get_tsc_hz();
	bool checked = false;
	while ((apps[1].rx < 1 || apps[0].tx_ok < 1) && rte_rdtsc() < end) {
		snap_engine_poll(ea, rte_rdtsc());
		if (sa->n && !checked) {
			check_frame(sa->pkts[0], &et_mac_us, &et_mac_peer, ip_a, ip_b);
			checked = true;
		}
		et_feed(eb, "pony", sa->pkts, sa->n);
		sa->n = 0;
		snap_engine_poll(eb, rte_rdtsc());
		if (sb->n)
			check_frame(sb->pkts[0], &et_mac_peer, &et_mac_us, ip_b, ip_a);
		et_feed(ea, "pony", sb->pkts, sb->n);
		sb->n = 0;
	}
	assert_true(checked);
	assert_int_equal(apps[0].opened, 1);
	assert_int_equal(apps[1].rx, 1);
	assert_int_equal(apps[0].tx_ok, 1);
	assert_true(et_stat(eb, "pony", "msgs_rx") == 1);
	snap_engine_destroy(ea);
	snap_engine_destroy(eb);
	assert_int_equal(et_in_use(), 0);
}

static int setup(void **state)
{
	return et_eal_init("test_pony_port");
}

static int teardown(void **state)
{
	et_eal_fini();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_port_exchange)};
	return cmocka_run_group_tests(tests, setup, teardown);
}
