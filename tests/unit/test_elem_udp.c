/* Unit tests for udp_demux: validation (lengths, checksum), dispatch to static outputs and to
 * named rings (ring full), the unmatched path, and argument errors; no mbuf leaks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <rte_ip.h>
#include <rte_ring.h>

#include "snap/ring.h"
#include <rte_udp.h>

#include "tests/unit/elemtest.h"

static struct snap_engine *eng;
static unsigned baseline;
static uint8_t buf[2048];
static uint32_t ip_us, ip_peer;
static struct snap_ring *ring;

/* eth -> ip -> udp(demux): p0 -> s0, p3 -> s3, 6000 -> ring "et.rx", unmatched unwired. */
static int setup(void **state)
{
	eng = snap_engine_create("udp", SOCKET_ID_ANY);
	assert_non_null(eng);
	et_add(eng, "eth_classify", "eth", "port=p0", NULL);
	et_add(eng, "ipv4_in", "ip", "port=p0", NULL);
	et_add(eng, "udp_demux", "udp", "dport_5000=p0", "dport_5001=p3", "dport_5002=p3",
	       "dport_6000=ring:et.rx", "dport_6001=ring:et.rx", NULL);
	et_add(eng, "test_sink", "s0", NULL);
	et_add(eng, "test_sink", "s3", NULL);
	et_link(eng, "eth", "ipv4", "ip");
	et_link(eng, "ip", "udp", "udp");
	et_link(eng, "udp", "p0", "s0");
	et_link(eng, "udp", "p3", "s3");
	ring = snap_ring_get("et.rx", SOCKET_ID_ANY);
	assert_non_null(ring);
	baseline = et_in_use();
	return 0;
}

static void drain_ring(void)
{
	void *objs[64];
	unsigned n;
	while ((n = rte_ring_dequeue_burst(ring->r, objs, RTE_DIM(objs), NULL)) > 0)
		rte_pktmbuf_free_bulk((struct rte_mbuf **)objs, n);
}

static int teardown(void **state)
{
	et_sink_clear(et_sink_of(eng, "s0"));
	et_sink_clear(et_sink_of(eng, "s3"));
	drain_ring();
	assert_int_equal(et_in_use(), baseline);
	snap_engine_destroy(eng);
	eng = NULL;
	return 0;
}

static void send_frame(const void *b, size_t len)
{
	struct rte_mbuf *m = et_mbuf(b, len);
	assert_non_null(m);
	et_feed(eng, "eth", &m, 1);
}

static struct rte_ipv4_hdr *ip_hdr(uint8_t *b)
{
	return (struct rte_ipv4_hdr *)(b + sizeof(struct rte_ether_hdr));
}

static struct rte_udp_hdr *udp_hdr(uint8_t *b)
{
	return (struct rte_udp_hdr *)(ip_hdr(b) + 1);
}

static void expect_udp_drop(enum snap_drop why, const void *b, size_t len)
{
	uint64_t before = et_drops(eng, "udp", why);
	send_frame(b, len);
	if (et_drops(eng, "udp", why) != before + 1)
		fail_msg("expected one udp drop %s", snap_drop_name(why));
}

static void test_udp_dispatch(void **state)
{
	size_t len = et_build_udp(buf, &et_mac_us, ip_peer, ip_us, 40000, 5000, 100);
	send_frame(buf, len);
	len = et_build_udp(buf, &et_mac_us, ip_peer, ip_us, 40000, 5001, 100);
	send_frame(buf, len);
	len = et_build_udp(buf, &et_mac_us, ip_peer, ip_us, 40000, 5002, 0);
	send_frame(buf, len);
	len = et_build_udp(buf, &et_mac_us, ip_peer, ip_us, 40000, 6000, 10);
	send_frame(buf, len);
	len = et_build_udp(buf, &et_mac_us, ip_peer, ip_us, 40000, 6001, 10);
	send_frame(buf, len);
	struct et_sink *s0 = et_sink_of(eng, "s0"), *s3 = et_sink_of(eng, "s3");
	assert_int_equal(s0->n, 1);
	assert_int_equal(s3->n, 2);
	assert_int_equal(rte_ring_count(ring->r), 2);
	assert_int_equal(et_stat(eng, "udp", "to_rings"), 2);

	/* consumers get the whole frame, Ethernet header first, offsets set */
	struct rte_mbuf *m = s0->pkts[0];
	assert_int_equal(rte_pktmbuf_pkt_len(m), 14 + 20 + 8 + 100);
	assert_int_equal(m->l2_len + m->l3_len + m->l4_len, 42);
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	assert_true(rte_is_same_ether_addr(&eh->src_addr, &et_mac_peer));

	/* checksum 0 means "none" and is accepted */
	len = et_build_udp(buf, &et_mac_us, ip_peer, ip_us, 40000, 5000, 7);
	udp_hdr(buf)->dgram_cksum = 0;
	send_frame(buf, len);
	assert_int_equal(s0->n, 2);

	/* no listener */
	len = et_build_udp(buf, &et_mac_us, ip_peer, ip_us, 40000, 7777, 7);
	expect_udp_drop(SNAP_DROP_UDP_NO_LISTENER, buf, len);
}

static void test_udp_unmatched_output(void **state)
{
	et_add(eng, "udp_demux", "udp2", "dport_5000=p0", NULL);
	et_add(eng, "test_sink", "um", NULL);
	et_link(eng, "udp2", "unmatched", "um");
	size_t len = et_build_udp(buf, &et_mac_us, ip_peer, ip_us, 40000, 7777, 7);
	struct rte_mbuf *m = et_mbuf(buf, len);
	m->l2_len = 14;
	et_feed(eng, "udp2", &m, 1);
	assert_int_equal(et_sink_of(eng, "um")->n, 1);
	et_sink_clear(et_sink_of(eng, "um"));
}

static void test_udp_malformed(void **state)
{
	size_t len = et_build_udp(buf, &et_mac_us, ip_peer, ip_us, 40000, 5000, 20);
	uint8_t saved[2048];
	memcpy(saved, buf, len);

	udp_hdr(buf)->dgram_len = rte_cpu_to_be_16(8 + 21); /* longer than the datagram */
	expect_udp_drop(SNAP_DROP_UDP_MALFORMED, buf, len);
	memcpy(buf, saved, len);
	udp_hdr(buf)->dgram_len = rte_cpu_to_be_16(8 + 19); /* shorter: refused too */
	expect_udp_drop(SNAP_DROP_UDP_MALFORMED, buf, len);
	memcpy(buf, saved, len);
	udp_hdr(buf)->dgram_len = rte_cpu_to_be_16(4);
	expect_udp_drop(SNAP_DROP_UDP_MALFORMED, buf, len);
	memcpy(buf, saved, len);
	buf[len - 1] ^= 0x40; /* payload changed, checksum not */
	expect_udp_drop(SNAP_DROP_UDP_CSUM, buf, len);
	memcpy(buf, saved, len);
	udp_hdr(buf)->dgram_cksum ^= 0x0101;
	expect_udp_drop(SNAP_DROP_UDP_CSUM, buf, len);
	memcpy(buf, saved, len);

	/* IP datagram with only 4 bytes of UDP header */
	ip_hdr(buf)->total_length = RTE_BE16(24);
	et_fix_ip_cksum(buf);
	expect_udp_drop(SNAP_DROP_UDP_MALFORMED, buf, 14 + 24);
	memcpy(buf, saved, len);

	/* hardware verdicts */
	struct rte_mbuf *m = et_mbuf(buf, len);
	m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_BAD;
	et_feed(eng, "eth", &m, 1);
	assert_int_equal(et_drops(eng, "udp", SNAP_DROP_UDP_CSUM), 3);
	buf[len - 1] ^= 0x40;
	m = et_mbuf(buf, len);
	m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_GOOD; /* trusted: the NIC checked it */
	et_feed(eng, "eth", &m, 1);
	memcpy(buf, saved, len);

	/* garbage fed directly (no ipv4_in in front) never crashes */
	uint8_t junk[64];
	for (size_t l = 0; l <= sizeof(junk); l++) {
		memset(junk, (int)(0x40 + l), sizeof(junk));
		m = et_mbuf(junk, l);
		et_feed(eng, "udp", &m, 1);
	}
	/* valid traffic still flows */
	send_frame(buf, len);
	assert_int_equal(et_sink_of(eng, "s0")->n, 2);
}

static void test_udp_ring_full(void **state)
{
	/* Fill the ring with placeholders until 3 slots remain, then send 8 datagrams. */
	static int dummy;
	unsigned free_slots = rte_ring_free_count(ring->r);
	for (unsigned i = 0; i + 3 < free_slots; i++)
		assert_int_equal(rte_ring_enqueue(ring->r, &dummy), 0);
	struct rte_mbuf *pk[8];
	for (unsigned i = 0; i < 8; i++) {
		size_t len = et_build_udp(buf, &et_mac_us, ip_peer, ip_us, 40000, 6000, i);
		pk[i] = et_mbuf(buf, len);
	}
	et_feed(eng, "eth", pk, 8);
	assert_int_equal(et_drops(eng, "udp", SNAP_DROP_RING_FULL), 5);
	assert_int_equal(et_stat(eng, "udp", "to_rings"), 3);
	void *o;
	unsigned real = 0;
	while (rte_ring_dequeue(ring->r, &o) == 0) {
		if (o != &dummy) {
			rte_pktmbuf_free(o);
			real++;
		}
	}
	assert_int_equal(real, 3);
}

static void bad_args(const char *k, const char *v)
{
	struct snap_elem_args *a = snap_elem_args_new();
	snap_elem_args_set(a, k, v);
	char err[256];
	int r = snap_engine_add_elem(eng, "udp_demux", "bad", a, err, sizeof(err));
	snap_elem_args_free(a);
	if (r != -EINVAL)
		fail_msg("%s = %s accepted (%d)", k, v, r);
	assert_true(err[0] != '\0');
}

static void test_udp_args(void **state)
{
	bad_args("dport_0", "p0");
	bad_args("dport_65536", "p0");
	bad_args("dport_x", "p0");
	bad_args("dport_-5", "p0");
	bad_args("dport_", "p0");
	bad_args("dport_5000", "p8");
	bad_args("dport_5000", "unmatched");
	bad_args("dport_5000", "ring:");
	bad_args("port.5000", "p0");
	bad_args("dports_5000", "p0");
	bad_args("dports_5001_5000", "p0");
	bad_args("dports_5000_65536", "p0");
	bad_args("dports_0_5", "p0");
	bad_args("dports_5000_5001x", "p0");
	/* A range is taken whole; one port of it given again is refused. */
	struct snap_elem_args *a = snap_elem_args_new();
	snap_elem_args_set(a, "dports_7000_7003", "p1");
	char err[256];
	assert_int_equal(snap_engine_add_elem(eng, "udp_demux", "range", a, err, sizeof(err)), 0);
	snap_elem_args_free(a);
	a = snap_elem_args_new();
	snap_elem_args_set(a, "dports_7000_7003", "p1");
	snap_elem_args_set(a, "dport_7002", "p2");
	assert_int_equal(snap_engine_add_elem(eng, "udp_demux", "range2", a, err, sizeof(err)),
			 -EINVAL);
	snap_elem_args_free(a);
}

int main(int argc, char **argv)
{
	if (et_eal_init(argv[0]) < 0)
		return 1;
	ip_us = et_ip("10.0.0.1");
	ip_peer = et_ip("10.0.0.2");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_udp_dispatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_udp_unmatched_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_udp_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_udp_ring_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_udp_args, setup, teardown),
	};
	int r = cmocka_run_group_tests_name("elem_udp", tests, NULL, NULL);
	et_eal_fini();
	return r;
}
