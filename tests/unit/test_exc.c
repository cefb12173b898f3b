/* Unit tests for the kernel exception path's pieces that need no tap: the allow list (parse
 * errors, per-packet matching by class and port) and the outputs that feed it, icmp_echo's
 * `other` and arp's `kernel`. The tap side runs in tests/integration/exception_path.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <rte_arp.h>
#include <rte_icmp.h>
#include <rte_ip.h>

#include "elements/exception.h"
#include "tests/unit/elemtest.h"

static uint8_t buf[2048];
static uint32_t ip_us, ip_peer;
static struct snap_exc_filter filt;

static void test_filter_parse(void **state)
{
	static const char *const bad[] = {"",      " , ",     "tcp:0",     "udp:65536",
					  "tcp:5-3", "tcp:",    "tcp:1-",    "proto:256",
					  "icmpx",   "tcp:1x",  "tcp;udp",   "proto:-1",
					  "a-very-long-token-of-more-than-31-chars"};
	char err[160];
	for (unsigned i = 0; i < RTE_DIM(bad); i++) {
		err[0] = '\0';
		assert_int_equal(snap_exc_filter_parse(&filt, bad[i], err, sizeof(err)), -EINVAL);
		assert_true(strncmp(err, "allow: ", 7) == 0);
	}
	assert_int_equal(snap_exc_filter_parse(&filt, "tcp:22 udp:5000-6000,icmp, arp", err,
					       sizeof(err)), 0);
	assert_int_equal(snap_exc_filter_parse(&filt, "all", err, sizeof(err)), 0);
}

/* One frame through the filter: its verdict and class. */
static bool match(size_t len, enum snap_exc_class *c)
{
	struct rte_mbuf *m = et_mbuf(buf, len);
	assert_non_null(m);
	bool ok = snap_exc_filter_match(&filt, m, c);
	rte_pktmbuf_free(m);
	return ok;
}

static size_t tcp_frame(uint16_t dport)
{
	size_t len = et_build_udp(buf, &et_mac_us, ip_peer, ip_us, 40000, dport, 20);
	((struct rte_ipv4_hdr *)(buf + 14))->next_proto_id = IPPROTO_TCP;
	et_fix_ip_cksum(buf);
	return len;
}

static void test_filter_match(void **state)
{
	char err[160];
	enum snap_exc_class c;
	assert_int_equal(snap_exc_filter_parse(&filt, "tcp:5001, udp:53-54, icmp, proto:47",
					       err, sizeof(err)), 0);
	assert_true(match(tcp_frame(5001), &c) && c == SNAP_EXC_TCP);
	assert_false(match(tcp_frame(5002), &c));
	assert_false(match(tcp_frame(22), &c));
	for (uint16_t p = 52; p <= 55; p++) {
		size_t len = et_build_udp(buf, &et_mac_us, ip_peer, ip_us, 1, p, 8);
		assert_int_equal(match(len, &c), p == 53 || p == 54);
		assert_int_equal(c, SNAP_EXC_UDP);
	}
	size_t len = et_build_icmp(buf, &et_mac_us, ip_peer, ip_us, RTE_IP_ICMP_ECHO_REPLY, 8);
	assert_true(match(len, &c) && c == SNAP_EXC_ICMP);
	((struct rte_ipv4_hdr *)(buf + 14))->next_proto_id = 47;
	assert_true(match(len, &c) && c == SNAP_EXC_IPV4_OTHER);
	((struct rte_ipv4_hdr *)(buf + 14))->next_proto_id = 50;
	assert_false(match(len, &c));
	len = et_build_arp(buf, &et_mac_us, RTE_ARP_OP_REPLY, &et_mac_peer, ip_peer, ip_us);
	assert_false(match(len, &c));
	assert_int_equal(c, SNAP_EXC_ARP);
	/* A later fragment has no ports: refused even for an allowed port's protocol. */
	len = tcp_frame(5001);
	((struct rte_ipv4_hdr *)(buf + 14))->fragment_offset = RTE_BE16(100);
	assert_false(match(len, &c));
	/* Short frames: no Ethernet header, IPv4 header cut, ports cut. */
	assert_false(match(10, &c));
	assert_false(match(14 + 12, &c));
	len = tcp_frame(5001);
	assert_false(match(14 + 20 + 3, &c));
	len = tcp_frame(5001);
	((struct rte_ether_hdr *)buf)->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV6);
	assert_false(match(len, &c));
	assert_int_equal(c, SNAP_EXC_IPV6);
	/* No list: everything. */
	assert_int_equal(snap_exc_filter_parse(&filt, NULL, err, sizeof(err)), 0);
	assert_true(match(len, &c));
	assert_true(match(tcp_frame(9), &c));
	((struct rte_ether_hdr *)buf)->ether_type = RTE_BE16(0x88b5);
	assert_true(match(len, &c) && c == SNAP_EXC_OTHER);
}

/* icmp_echo.other and arp.kernel: what the engine does not answer reaches the exception
 * path; with the outputs unwired the old drops stay (tested in test_elem_l2l3). */
static void test_feeding_outputs(void **state)
{
	unsigned base = et_in_use();
	struct snap_engine *e = snap_engine_create("exc", SOCKET_ID_ANY);
	assert_non_null(e);
	et_add(e, "icmp_echo", "echo", "port=p0", NULL);
	et_add(e, "arp", "arp", "port=p0", NULL);
	et_add(e, "test_sink", "out", NULL);
	et_add(e, "test_sink", "kern", NULL);
	et_link(e, "echo", "out", "out");
	et_link(e, "echo", "other", "kern");
	et_link(e, "arp", "out", "out");
	et_link(e, "arp", "kernel", "kern");
	struct et_sink *out = et_sink_of(e, "out"), *kern = et_sink_of(e, "kern");
	struct rte_mbuf *m[4];
	m[0] = et_mbuf(buf, et_build_icmp(buf, &et_mac_us, ip_peer, ip_us,
					  RTE_IP_ICMP_ECHO_REQUEST, 8));
	m[1] = et_mbuf(buf, et_build_icmp(buf, &et_mac_us, ip_peer, ip_us,
					  RTE_IP_ICMP_ECHO_REPLY, 8));
	m[2] = et_mbuf(buf, et_build_icmp(buf, &et_mac_us, ip_peer, ip_us,
					  3 /* destination unreachable */, 28));
	et_feed(e, "echo", m, 3);
	assert_int_equal(out->n, 1);
	assert_int_equal(kern->n, 2);
	et_sink_clear(out);
	et_sink_clear(kern);
	/* A reply to us goes on to the kernel; one to another address, and a request for
	 * us (answered by the engine), do not. */
	m[0] = et_mbuf(buf, et_build_arp(buf, &et_mac_us, RTE_ARP_OP_REPLY, &et_mac_peer,
					 ip_peer, ip_us));
	m[1] = et_mbuf(buf, et_build_arp(buf, &et_mac_us, RTE_ARP_OP_REPLY, &et_mac_peer,
					 ip_peer, et_ip("10.0.0.9")));
	m[2] = et_mbuf(buf, et_build_arp(buf, &et_mac_us, RTE_ARP_OP_REQUEST, &et_mac_peer,
					 ip_peer, ip_us));
	et_feed(e, "arp", m, 3);
	assert_int_equal(kern->n, 1);
	assert_int_equal(out->n, 1);
	et_sink_clear(out);
	et_sink_clear(kern);
	snap_engine_destroy(e);
	assert_int_equal(et_in_use(), base);
}

int main(int argc, char **argv)
{
	if (et_eal_init(argv[0]) < 0)
		return 1;
	ip_us = et_ip("10.0.0.1");
	ip_peer = et_ip("10.0.0.2");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filter_parse),
		cmocka_unit_test(test_filter_match),
		cmocka_unit_test(test_feeding_outputs),
	};
	int r = cmocka_run_group_tests_name("exc", tests, NULL, NULL);
	et_eal_fini();
	return r;
}
