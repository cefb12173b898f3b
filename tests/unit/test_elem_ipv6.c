/* Unit tests for the IPv6 underlay: UDP/IPv6 framing (net.h), ipv6_in validation, icmp6 echo
 * and NDP (answers, learning only from solicited advertisements, malformed messages dropped
 * under their reason), the bounded IPv6 neighbour table; no mbuf leaks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <rte_hash.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "elements/ndp.h"
#include "elements/net.h"
#include "tests/unit/elemtest.h"

static struct snap_port *port;
static struct snap_engine *eng;
static unsigned baseline;
static uint8_t buf[2048];
static const uint8_t ip_us[16] = {0xfd, [15] = 1}, ip_peer[16] = {0xfd, [15] = 2};
static const uint8_t ip_other[16] = {0xfd, [15] = 3};
static const char *const sinks[] = {"udp_sink", "icmp6_sink"};

#define L4 (SNAP_NET_L3_OFF + sizeof(struct rte_ipv6_hdr))

/* eth -> {ipv6: ip6}; ip6 -> {udp: udp_sink (or udp_demux -> p0_sink with demux),
 * icmp6: icmp6 -> icmp6_sink}; icmp6.other -> other_sink only with other. */
static void build(bool demux, bool other)
{
	snap_engine_destroy(eng);
	eng = snap_engine_create("ipv6", SOCKET_ID_ANY);
	assert_non_null(eng);
	et_add(eng, "eth_classify", "eth", "port=p0", NULL);
	et_add(eng, "ipv6_in", "ip6", "port=p0", NULL);
	et_add(eng, "icmp6", "icmp6", "port=p0", NULL);
	for (unsigned i = 0; i < 2; i++)
		et_add(eng, "test_sink", sinks[i], NULL);
	et_link(eng, "eth", "ipv6", "ip6");
	et_link(eng, "ip6", "icmp6", "icmp6");
	et_link(eng, "icmp6", "out", "icmp6_sink");
	if (demux) {
		et_add(eng, "udp_demux", "udp", "dport_5000=p0", NULL);
		et_add(eng, "test_sink", "p0_sink", NULL);
		et_link(eng, "ip6", "udp", "udp");
		et_link(eng, "udp", "p0", "p0_sink");
	} else {
		et_link(eng, "ip6", "udp", "udp_sink");
	}
	if (other) {
		et_add(eng, "test_sink", "other_sink", NULL);
		et_link(eng, "icmp6", "other", "other_sink");
	}
}

static int setup(void **state)
{
	build(false, false);
	baseline = et_in_use();
	return 0;
}

static int teardown(void **state)
{
	for (unsigned i = 0; i < 2; i++)
		et_sink_clear(et_sink_of(eng, sinks[i]));
	assert_int_equal(et_in_use(), baseline);
	snap_engine_destroy(eng);
	eng = NULL;
	return 0;
}

static unsigned sunk(void)
{
	return et_sink_of(eng, "udp_sink")->n + et_sink_of(eng, "icmp6_sink")->n;
}

/* An IPv6 frame to our MAC with l4_len bytes of upper layer (zeroed) after the header. */
static size_t build6(const uint8_t src[16], const uint8_t dst[16], uint8_t nh, uint8_t hops,
		     size_t l4_len)
{
	memset(buf, 0, sizeof(buf));
	struct rte_ether_hdr *eh = (struct rte_ether_hdr *)buf;
	eh->dst_addr = et_mac_us;
	eh->src_addr = et_mac_peer;
	eh->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV6);
	snap_net_ipv6_fill((struct rte_ipv6_hdr *)(eh + 1), (uint16_t)l4_len, nh, hops, src, dst);
	return L4 + l4_len;
}

static struct rte_ipv6_hdr *ip6_of(uint8_t *b)
{
	return (struct rte_ipv6_hdr *)(b + SNAP_NET_L3_OFF);
}

/* Recompute the ICMPv6 checksum of buf over the payload length in its header. */
static void fix_icmp6(void)
{
	uint8_t *ic = buf + L4;
	ic[2] = ic[3] = 0;
	uint16_t ck = rte_ipv6_udptcp_cksum(ip6_of(buf), ic);
	memcpy(ic + 2, &ck, 2);
}

/* An ND message (type NS/NA) for target with flags and one link-layer option of type opt
 * (0: none) carrying mac, from src to dst. */
static size_t build_nd(uint8_t type, const uint8_t src[16], const uint8_t dst[16],
		       const uint8_t target[16], uint8_t flags, uint8_t opt,
		       const struct rte_ether_addr *mac)
{
	size_t len = build6(src, dst, SNAP_NET_NH_ICMP6, 255, SNAP_ND_HDR_LEN + (opt ? 8 : 0));
	uint8_t *nd = buf + L4;
	nd[0] = type;
	nd[4] = flags;
	memcpy(nd + 8, target, 16);
	if (opt) {
		nd[24] = opt;
		nd[25] = 1;
		memcpy(nd + 26, mac->addr_bytes, 6);
	}
	fix_icmp6();
	return len;
}

static void send_frame(size_t len)
{
	struct rte_mbuf *m = et_mbuf(buf, len);
	assert_non_null(m);
	et_feed(eng, "eth", &m, 1);
}

/* Send buf and assert element who dropped it under why, and nothing reached a sink. */
static void expect_drop(const char *who, enum snap_drop why, size_t len)
{
	uint64_t before = et_drops(eng, who, why);
	unsigned n = sunk();
	send_frame(len);
	if (et_drops(eng, who, why) != before + 1)
		fail_msg("%s: expected one drop %s", who, snap_drop_name(why));
	assert_int_equal(sunk(), n);
	assert_int_equal(et_in_use(), baseline + n);
}

static void test_udp6_framing(void **state)
{
	static uint8_t payload[3000];
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7);
	struct snap_net_udp6 a = {.src_mac = et_mac_peer, .dst_mac = et_mac_us,
				  .src_port = 4000, .dst_port = 5000};
	memcpy(a.src_ip, ip_peer, 16);
	memcpy(a.dst_ip, ip_us, 16);
	/* One segment and a chain: the checksum covers every segment. */
	struct rte_mbuf *ms[2] = {et_mbuf(payload, 1000), et_mbuf_chain(payload, 3000, 512)};
	for (unsigned k = 0; k < 2; k++) {
		struct rte_mbuf *m = ms[k];
		assert_non_null(m);
		uint32_t plen = rte_pktmbuf_pkt_len(m);
		struct rte_ether_hdr *eh = snap_net_udp6_prepend(m, &a);
		assert_non_null(eh);
		assert_int_equal(rte_pktmbuf_pkt_len(m), plen + SNAP_NET_UDP6_HDRS);
		assert_int_equal(eh->ether_type, RTE_BE16(RTE_ETHER_TYPE_IPV6));
		struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(eh + 1);
		assert_int_equal(rte_be_to_cpu_32(ip->vtc_flow) >> 28, 6);
		assert_int_equal(rte_be_to_cpu_16(ip->payload_len), plen + 8);
		assert_int_equal(ip->proto, IPPROTO_UDP);
		assert_memory_equal(ip->dst_addr, ip_us, 16);
		struct rte_udp_hdr *uh = (struct rte_udp_hdr *)(ip + 1);
		assert_int_not_equal(uh->dgram_cksum, 0);
		assert_int_equal(rte_ipv6_udptcp_cksum_mbuf_verify(m, ip, L4), 0);
		assert_int_equal(m->l3_len, sizeof(*ip));
	}
	/* The framed datagram passes ipv6_in to the udp output. */
	et_feed(eng, "eth", &ms[0], 1);
	assert_int_equal(et_sink_of(eng, "udp_sink")->n, 1);
	rte_pktmbuf_free(ms[1]);
	/* No headroom: refused, m unchanged. */
	struct rte_mbuf *m = et_mbuf(payload, 10);
	m->data_off = 0;
	assert_null(snap_net_udp6_prepend(m, &a));
	assert_int_equal(rte_pktmbuf_pkt_len(m), 10);
	rte_pktmbuf_free(m);
}

static void test_ipv6_valid_and_padding(void **state)
{
	size_t len = build6(ip_peer, ip_us, IPPROTO_UDP, 64, 8 + 4);
	/* Ethernet padding after the datagram is cut off. */
	send_frame(len + 20);
	struct et_sink *s = et_sink_of(eng, "udp_sink");
	assert_int_equal(s->n, 1);
	assert_int_equal(rte_pktmbuf_pkt_len(s->pkts[0]), len);
	assert_int_equal(s->pkts[0]->l3_len, sizeof(struct rte_ipv6_hdr));
	/* To the all-nodes group: accepted too. */
	static const uint8_t all[16] = {0xff, 0x02, [15] = 1};
	build6(ip_peer, all, IPPROTO_UDP, 64, 8);
	send_frame(len);
	assert_int_equal(s->n, 2);
}

/* udp_demux takes UDP/IPv6 too: delivered by port; the mandatory checksum and the lengths
 * are checked. */
static void test_udp6_demux(void **state)
{
	build(true, false);
	static const uint8_t payload[100] = {1, 2, 3};
	struct snap_net_udp6 a = {.src_mac = et_mac_peer, .dst_mac = et_mac_us,
				  .src_port = 4000, .dst_port = 5000};
	memcpy(a.src_ip, ip_peer, 16);
	memcpy(a.dst_ip, ip_us, 16);
	struct rte_mbuf *m = et_mbuf(payload, sizeof(payload));
	assert_non_null(snap_net_udp6_prepend(m, &a));
	size_t len = rte_pktmbuf_pkt_len(m);
	memcpy(buf, rte_pktmbuf_mtod(m, void *), len);
	et_feed(eng, "eth", &m, 1);
	struct et_sink *s = et_sink_of(eng, "p0_sink");
	assert_int_equal(s->n, 1);
	assert_int_equal(s->pkts[0]->l4_len, 8);
	et_sink_clear(s);
	struct rte_udp_hdr *uh = (struct rte_udp_hdr *)(buf + L4);
	uint16_t good = uh->dgram_cksum;
	uh->dgram_cksum = 0; /* "no checksum" is not allowed over IPv6 */
	expect_drop("udp", SNAP_DROP_UDP_CSUM, len);
	uh->dgram_cksum = (uint16_t)(good ^ 0x0101);
	expect_drop("udp", SNAP_DROP_UDP_CSUM, len);
	uh->dgram_cksum = good;
	uh->dgram_len = rte_cpu_to_be_16(50); /* disagrees with the IPv6 payload length */
	expect_drop("udp", SNAP_DROP_UDP_MALFORMED, len);
	assert_int_equal(s->n, 0);
}

static void test_ipv6_malformed(void **state)
{
	size_t len = build6(ip_peer, ip_us, IPPROTO_UDP, 64, 16);
	expect_drop("ip6", SNAP_DROP_TRUNCATED, SNAP_NET_L3_OFF + 39);
	buf[SNAP_NET_L3_OFF] = 0x45; /* version 4 */
	expect_drop("ip6", SNAP_DROP_IP_VERSION, len);
	build6(ip_peer, ip_us, IPPROTO_UDP, 64, 16);
	ip6_of(buf)->payload_len = RTE_BE16(17); /* one byte beyond the frame */
	expect_drop("ip6", SNAP_DROP_IP_TOTAL_LEN, len);
	build6(ip_peer, ip_other, IPPROTO_UDP, 64, 16);
	expect_drop("ip6", SNAP_DROP_NOT_FOR_US, len);
	static const uint8_t mcast[16] = {0xff, 0x02, [15] = 1};
	build6(mcast, ip_us, IPPROTO_UDP, 64, 16);
	expect_drop("ip6", SNAP_DROP_IP_BAD_SOURCE, len);
	static const uint8_t ext[] = {0, 43, 44, 50, 51, 60};
	for (unsigned i = 0; i < sizeof(ext); i++) {
		build6(ip_peer, ip_us, ext[i], 64, 16);
		expect_drop("ip6", SNAP_DROP_IP6_EXT_HDR, len);
	}
	build6(ip_peer, ip_us, IPPROTO_TCP, 64, 16); /* `other` unwired */
	expect_drop("ip6", SNAP_DROP_PROTO_UNHANDLED, len);
}

static void test_icmp6_echo(void **state)
{
	size_t len = build6(ip_peer, ip_us, SNAP_NET_NH_ICMP6, 64, 8 + 56);
	buf[L4] = 128;
	memset(buf + L4 + 8, 0xab, 56);
	fix_icmp6();
	send_frame(len);
	struct et_sink *s = et_sink_of(eng, "icmp6_sink");
	assert_int_equal(s->n, 1);
	struct rte_mbuf *r = s->pkts[0];
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(r, struct rte_ether_hdr *);
	assert_true(rte_is_same_ether_addr(&eh->dst_addr, &et_mac_peer));
	struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(eh + 1);
	assert_memory_equal(ip->src_addr, ip_us, 16);
	assert_memory_equal(ip->dst_addr, ip_peer, 16);
	assert_int_equal(rte_pktmbuf_mtod_offset(r, uint8_t *, L4)[0], 129);
	assert_int_equal(rte_ipv6_udptcp_cksum_mbuf_verify(r, ip, L4), 0);
	assert_int_equal(et_stat(eng, "icmp6", "echo_replies"), 1);
	/* Bad checksum, truncated message, echo to a group. */
	build6(ip_peer, ip_us, SNAP_NET_NH_ICMP6, 64, 8);
	buf[L4] = 128;
	expect_drop("icmp6", SNAP_DROP_ICMP_CSUM, L4 + 8);
	build6(ip_peer, ip_us, SNAP_NET_NH_ICMP6, 64, 2);
	expect_drop("icmp6", SNAP_DROP_ICMP_MALFORMED, L4 + 2);
	static const uint8_t all[16] = {0xff, 0x02, [15] = 1};
	build6(ip_peer, all, SNAP_NET_NH_ICMP6, 64, 8);
	buf[L4] = 128;
	fix_icmp6();
	expect_drop("icmp6", SNAP_DROP_ICMP_BROADCAST, L4 + 8);
	build6(ip_peer, ip_us, SNAP_NET_NH_ICMP6, 64, 8);
	buf[L4] = 1; /* destination unreachable: `other` unwired */
	fix_icmp6();
	expect_drop("icmp6", SNAP_DROP_ICMP_UNHANDLED, L4 + 8);
}

static void test_ndp_solicit_answered(void **state)
{
	uint8_t group[16];
	struct rte_ether_addr gmac;
	snap_net_ip6_snm(ip_us, group, &gmac);
	size_t len = build_nd(SNAP_ND_NS, ip_peer, group, ip_us, 0, SNAP_ND_OPT_SLLA,
			      &et_mac_peer);
	((struct rte_ether_hdr *)buf)->dst_addr = gmac;
	send_frame(len);
	struct et_sink *s = et_sink_of(eng, "icmp6_sink");
	assert_int_equal(s->n, 1);
	struct rte_mbuf *r = s->pkts[0];
	assert_int_equal(rte_pktmbuf_pkt_len(r), L4 + 32);
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(r, struct rte_ether_hdr *);
	assert_true(rte_is_same_ether_addr(&eh->dst_addr, &et_mac_peer));
	assert_true(rte_is_same_ether_addr(&eh->src_addr, &et_mac_us));
	struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(eh + 1);
	assert_int_equal(ip->hop_limits, 255);
	assert_memory_equal(ip->src_addr, ip_us, 16);
	assert_memory_equal(ip->dst_addr, ip_peer, 16);
	const uint8_t *nd = rte_pktmbuf_mtod_offset(r, uint8_t *, L4);
	assert_int_equal(nd[0], SNAP_ND_NA);
	assert_int_equal(nd[4], SNAP_ND_NA_SOLICITED | SNAP_ND_NA_OVERRIDE);
	assert_memory_equal(nd + 8, ip_us, 16);
	assert_int_equal(nd[24], SNAP_ND_OPT_TLLA);
	assert_memory_equal(nd + 26, et_mac_us.addr_bytes, 6);
	assert_int_equal(rte_ipv6_udptcp_cksum_mbuf_verify(r, ip, L4), 0);
	/* The soliciting neighbour was learned from its source address option. */
	struct rte_ether_addr mac;
	assert_int_equal(snap_port_nd6_lookup(port, ip_peer, &mac), 0);
	assert_true(rte_is_same_ether_addr(&mac, &et_mac_peer));
	/* Solicitations for someone else and DAD probes are not answered. */
	uint64_t ign = et_stat(eng, "icmp6", "ignored");
	build_nd(SNAP_ND_NS, ip_peer, group, ip_other, 0, 0, NULL);
	send_frame(L4 + 24);
	static const uint8_t unspec[16];
	build_nd(SNAP_ND_NS, unspec, group, ip_us, 0, 0, NULL);
	send_frame(L4 + 24);
	assert_int_equal(et_stat(eng, "icmp6", "ignored"), ign + 2);
	assert_int_equal(s->n, 1);
	assert_int_equal(et_in_use(), baseline + 1);
}

/* With the exception path wired, NDP that is not ours to answer goes to the kernel. */
static void test_ndp_other_to_kernel(void **state)
{
	build(false, true);
	build_nd(SNAP_ND_NS, ip_peer, ip_us, ip_other, 0, 0, NULL);
	send_frame(L4 + 24);
	build_nd(SNAP_ND_NA, ip_peer, ip_us, ip_peer, 0, SNAP_ND_OPT_TLLA, &et_mac_peer);
	send_frame(L4 + 32);
	struct et_sink *o = et_sink_of(eng, "other_sink");
	assert_int_equal(o->n, 2);
	assert_int_equal(et_sink_of(eng, "icmp6_sink")->n, 0);
	et_sink_clear(o);
}

static void test_ndp_malformed(void **state)
{
	size_t len = build_nd(SNAP_ND_NS, ip_peer, ip_us, ip_us, 0, SNAP_ND_OPT_SLLA,
			      &et_mac_peer);
	ip6_of(buf)->hop_limits = 64; /* forwarded: not from the link */
	fix_icmp6();
	expect_drop("icmp6", SNAP_DROP_NDP_MALFORMED, len);
	build_nd(SNAP_ND_NS, ip_peer, ip_us, ip_us, 0, SNAP_ND_OPT_SLLA, &et_mac_peer);
	buf[L4 + 25] = 0; /* option of length 0 */
	fix_icmp6();
	expect_drop("icmp6", SNAP_DROP_NDP_MALFORMED, len);
	build_nd(SNAP_ND_NS, ip_peer, ip_us, ip_us, 0, SNAP_ND_OPT_SLLA, &et_mac_peer);
	buf[L4 + 25] = 2; /* option runs past the end */
	fix_icmp6();
	expect_drop("icmp6", SNAP_DROP_NDP_MALFORMED, len);
	static const uint8_t mcast[16] = {0xff, 0x02, [15] = 1};
	build_nd(SNAP_ND_NS, ip_peer, ip_us, mcast, 0, 0, NULL); /* multicast target */
	expect_drop("icmp6", SNAP_DROP_NDP_MALFORMED, L4 + 24);
	build_nd(SNAP_ND_NS, ip_peer, ip_us, ip_us, 0, 0, NULL);
	ip6_of(buf)->payload_len = RTE_BE16(20); /* shorter than the fixed part */
	fix_icmp6();
	expect_drop("icmp6", SNAP_DROP_NDP_MALFORMED, L4 + 20);
	build_nd(SNAP_ND_NA, ip_peer, mcast, ip_peer, SNAP_ND_NA_SOLICITED, SNAP_ND_OPT_TLLA,
		 &et_mac_peer); /* solicited, yet to a group */
	expect_drop("icmp6", SNAP_DROP_NDP_MALFORMED, len);
	build_nd(SNAP_ND_NS, ip_peer, ip_us, ip_us, 0, SNAP_ND_OPT_SLLA, &et_mac_peer);
	buf[L4 + 10] ^= 1; /* checksum no longer matches */
	expect_drop("icmp6", SNAP_DROP_ICMP_CSUM, len);
	static const uint8_t unspec[16];
	uint8_t group[16];
	struct rte_ether_addr gmac;
	snap_net_ip6_snm(ip_us, group, &gmac);
	build_nd(SNAP_ND_NS, unspec, group, ip_us, 0, SNAP_ND_OPT_SLLA, &et_mac_peer);
	expect_drop("icmp6", SNAP_DROP_NDP_MALFORMED, len); /* DAD probe with an address option */
}

/* Only an advertisement answering our solicitation (S flag, target asked for) changes the
 * table; a forged unsolicited one is counted and refused. */
static void test_ndp_unsolicited_refused(void **state)
{
	const struct rte_ether_addr evil = {{0x02, 0x66, 0x66, 0x66, 0x66, 0x66}};
	struct rte_ether_addr mac;
	uint64_t unsol = et_stat(eng, "icmp6", "unsolicited");
	size_t len = build_nd(SNAP_ND_NA, ip_other, ip_us, ip_other,
			      SNAP_ND_NA_SOLICITED | SNAP_ND_NA_OVERRIDE, SNAP_ND_OPT_TLLA, &evil);
	send_frame(len);
	assert_int_equal(et_stat(eng, "icmp6", "unsolicited"), unsol + 1);
	assert_int_equal(snap_port_nd6_lookup(port, ip_other, &mac), -ENOENT);

	/* We solicit: the frame goes to the target's solicited-node group. */
	struct rte_mbuf *ns = rte_pktmbuf_alloc(et_pool);
	assert_int_equal(snap_ndp_build_solicit(port, ip_other, ns), 0);
	assert_int_equal(rte_pktmbuf_pkt_len(ns), SNAP_NDP_NS_FRAME_LEN);
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(ns, struct rte_ether_hdr *);
	const struct rte_ether_addr snm = {{0x33, 0x33, 0xff, 0, 0, 3}};
	assert_true(rte_is_same_ether_addr(&eh->dst_addr, &snm));
	struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(eh + 1);
	assert_int_equal(rte_ipv6_udptcp_cksum_mbuf_verify(ns, ip, L4), 0);
	assert_int_equal(snap_ndp_build_solicit(port, ip_other, ns), -EINVAL); /* not empty */
	rte_pktmbuf_free(ns);

	/* An advertisement without the S flag still does not count as the answer. */
	build_nd(SNAP_ND_NA, ip_other, ip_us, ip_other, SNAP_ND_NA_OVERRIDE, SNAP_ND_OPT_TLLA,
		 &evil);
	send_frame(len);
	assert_int_equal(et_stat(eng, "icmp6", "unsolicited"), unsol + 2);
	assert_int_equal(snap_port_nd6_lookup(port, ip_other, &mac), -ENOENT);
	/* The answer is learned, once; a second advertisement is unsolicited again. */
	const struct rte_ether_addr good = {{0x02, 0, 0, 0, 0, 3}};
	build_nd(SNAP_ND_NA, ip_other, ip_us, ip_other, SNAP_ND_NA_SOLICITED, SNAP_ND_OPT_TLLA,
		 &good);
	send_frame(len);
	assert_int_equal(snap_port_nd6_lookup(port, ip_other, &mac), 0);
	assert_true(rte_is_same_ether_addr(&mac, &good));
	build_nd(SNAP_ND_NA, ip_other, ip_us, ip_other, SNAP_ND_NA_SOLICITED | SNAP_ND_NA_OVERRIDE,
		 SNAP_ND_OPT_TLLA, &evil);
	send_frame(len);
	assert_int_equal(et_stat(eng, "icmp6", "unsolicited"), unsol + 3);
	assert_int_equal(snap_port_nd6_lookup(port, ip_other, &mac), 0);
	assert_true(rte_is_same_ether_addr(&mac, &good));
	/* Someone advertising our own address is a conflict, never learned. */
	uint64_t conf = et_stat(eng, "icmp6", "conflicts");
	build_nd(SNAP_ND_NA, ip_other, ip_us, ip_us, 0, SNAP_ND_OPT_TLLA, &evil);
	send_frame(len);
	assert_int_equal(et_stat(eng, "icmp6", "conflicts"), conf + 1);
	assert_int_equal(et_in_use(), baseline);
}

static void test_nd6_table_bounded(void **state)
{
	uint8_t a[16] = {0xfd};
	const struct rte_ether_addr mac = {{0x02, 1, 2, 3, 4, 5}};
	for (unsigned i = 0; i < 2 * SNAP_NEIGH_ENTRIES; i++) {
		a[13] = (uint8_t)(i >> 8);
		a[14] = (uint8_t)i;
		a[15] = 0x10;
		snap_port_nd6_learn(port, a, &mac);
		assert_true(rte_hash_count(port->nd6.tab) <= SNAP_NEIGH_ENTRIES);
	}
	assert_true(port->nd6.evicted > 0);
	/* The config's static neighbour survived the flood and learning cannot change it. */
	const uint8_t stat[16] = {0xfd, [15] = 9};
	const struct rte_ether_addr smac = {{2, 0, 0, 0, 0, 9}};
	struct rte_ether_addr got;
	assert_int_equal(snap_port_nd6_lookup(port, stat, &got), 0);
	assert_true(rte_is_same_ether_addr(&got, &smac));
	assert_int_equal(snap_port_nd6_learn(port, stat, &mac), -EPERM);
	/* A port without IPv6 has no table: every call says so. */
	struct snap_port none = {.has_ip6 = false};
	assert_int_equal(snap_port_nd6_create(&none), 0);
	assert_int_equal(snap_port_nd6_learn(&none, a, &mac), -ENOENT);
	assert_false(snap_port_nd6_known(&none, a));
	assert_false(snap_port_on_link6(&none, a));
}

int main(int argc, char **argv)
{
	if (et_eal_init(argv[0]) < 0) {
		fprintf(stderr, "EAL init failed\n");
		return 1;
	}
	port = snap_port_find("p0");
	if (port == NULL || !port->has_ip6 || memcmp(port->ip6, ip_us, 16) != 0) {
		fprintf(stderr, "port p0 missing or without fd00::1\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_udp6_framing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6_valid_and_padding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_udp6_demux, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_icmp6_echo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ndp_solicit_answered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ndp_other_to_kernel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ndp_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ndp_unsolicited_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nd6_table_bounded, setup, teardown),
	};
	int r = cmocka_run_group_tests_name("elem_ipv6", tests, NULL, NULL);
	et_eal_fini();
	return r;
}
