/* Unit tests for eth_classify, arp, ipv4_in and icmp_echo: valid traffic flows and is
 * answered correctly; every malformed frame is dropped under its reason; no mbuf leaks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <rte_arp.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "elements/arp.h"
#include "elements/net.h"
#include "tests/unit/elemtest.h"

static struct snap_port *port;
static struct snap_engine *eng;
static unsigned baseline;
static uint8_t buf[2048];
static uint32_t ip_us, ip_peer;

/* eth -> {ipv4: ip, arp: arp}; ip -> {udp: udp_sink, icmp: icmp -> icmp_sink};
 * arp -> arp_sink. eth.other and ip.other stay unwired (drop paths under test). */
static int setup(void **state)
{
	eng = snap_engine_create("l2l3", SOCKET_ID_ANY);
	assert_non_null(eng);
	et_add(eng, "eth_classify", "eth", "port=p0", NULL);
	et_add(eng, "arp", "arp", "port=p0", NULL);
	et_add(eng, "ipv4_in", "ip", "port=p0", NULL);
	et_add(eng, "icmp_echo", "icmp", NULL);
	et_add(eng, "test_sink", "arp_sink", NULL);
	et_add(eng, "test_sink", "udp_sink", NULL);
	et_add(eng, "test_sink", "icmp_sink", NULL);
	et_link(eng, "eth", "ipv4", "ip");
	et_link(eng, "eth", "arp", "arp");
	et_link(eng, "arp", "out", "arp_sink");
	et_link(eng, "ip", "udp", "udp_sink");
	et_link(eng, "ip", "icmp", "icmp");
	et_link(eng, "icmp", "out", "icmp_sink");
	baseline = et_in_use();
	return 0;
}

static int teardown(void **state)
{
	et_sink_clear(et_sink_of(eng, "arp_sink"));
	et_sink_clear(et_sink_of(eng, "udp_sink"));
	et_sink_clear(et_sink_of(eng, "icmp_sink"));
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

/* Send b and assert it was dropped by element `who` under `why` and reached no sink. */
static void expect_drop(const char *who, enum snap_drop why, const void *b, size_t len)
{
	uint64_t before = et_drops(eng, who, why);
	uint16_t sunk = et_sink_of(eng, "udp_sink")->n + et_sink_of(eng, "icmp_sink")->n +
			et_sink_of(eng, "arp_sink")->n;
	send_frame(b, len);
	if (et_drops(eng, who, why) != before + 1)
		fail_msg("%s: expected one drop %s", who, snap_drop_name(why));
	assert_int_equal(et_sink_of(eng, "udp_sink")->n + et_sink_of(eng, "icmp_sink")->n +
				 et_sink_of(eng, "arp_sink")->n,
			 sunk);
	assert_int_equal(et_in_use(), baseline + sunk);
}

static struct rte_ipv4_hdr *ip_hdr(uint8_t *b)
{
	return (struct rte_ipv4_hdr *)(b + sizeof(struct rte_ether_hdr));
}

/* ---- eth_classify ---- */

static void test_eth_classify(void **state)
{
	size_t len = et_build_udp(buf, &et_mac_us, ip_peer, ip_us, 1, 9, 10);
	send_frame(buf, len);
	assert_int_equal(et_sink_of(eng, "udp_sink")->n, 1);

	expect_drop("eth", SNAP_DROP_TRUNCATED, buf, 13);
	expect_drop("eth", SNAP_DROP_TRUNCATED, buf, 0);

	struct rte_ether_hdr *eh = (struct rte_ether_hdr *)buf;
	eh->dst_addr = et_mac_peer; /* someone else's unicast */
	expect_drop("eth", SNAP_DROP_NOT_FOR_US, buf, len);

	/* multicast and broadcast destinations are accepted */
	struct rte_ether_addr mc = {{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}};
	eh->dst_addr = mc;
	send_frame(buf, len);
	memset(&eh->dst_addr, 0xff, 6);
	send_frame(buf, len);
	assert_int_equal(et_sink_of(eng, "udp_sink")->n, 3);

	eh->dst_addr = et_mac_us;
	eh->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV6);
	expect_drop("eth", SNAP_DROP_UNKNOWN_ETHERTYPE, buf, len);
	eh->ether_type = RTE_BE16(RTE_ETHER_TYPE_VLAN);
	expect_drop("eth", SNAP_DROP_VLAN, buf, len);
	eh->ether_type = RTE_BE16(RTE_ETHER_TYPE_QINQ);
	expect_drop("eth", SNAP_DROP_VLAN, buf, len);

	/* a VLAN the NIC stripped into the mbuf is refused too */
	eh->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	struct rte_mbuf *m = et_mbuf(buf, len);
	m->ol_flags |= RTE_MBUF_F_RX_VLAN_STRIPPED | RTE_MBUF_F_RX_VLAN;
	m->vlan_tci = 42;
	et_feed(eng, "eth", &m, 1);
	assert_int_equal(et_drops(eng, "eth", SNAP_DROP_VLAN), 3);
}

static void test_eth_other_and_promisc(void **state)
{
	et_add(eng, "eth_classify", "eth2", "port=p0", "promisc=1", NULL);
	et_add(eng, "test_sink", "other_sink", NULL);
	et_link(eng, "eth2", "other", "other_sink");
	size_t len = et_build_udp(buf, &et_mac_peer, ip_peer, ip_us, 1, 9, 10);
	struct rte_ether_hdr *eh = (struct rte_ether_hdr *)buf;
	eh->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV6);
	struct rte_mbuf *m = et_mbuf(buf, len);
	et_feed(eng, "eth2", &m, 1);
	assert_int_equal(et_sink_of(eng, "other_sink")->n, 1);
	/* wired ipv4 is not: the packet is counted as sent to an unconnected output */
	eh->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	m = et_mbuf(buf, len);
	et_feed(eng, "eth2", &m, 1);
	assert_int_equal(et_drops(eng, "eth2", SNAP_DROP_UNCONNECTED), 1);
	et_sink_clear(et_sink_of(eng, "other_sink"));

	struct snap_elem_args *a = snap_elem_args_new();
	snap_elem_args_set(a, "port", "nope");
	char err[128];
	assert_int_equal(snap_engine_add_elem(eng, "eth_classify", "bad", a, err, sizeof(err)),
			 -EINVAL);
	snap_elem_args_set(a, "port", "p0");
	snap_elem_args_set(a, "promisc", "2");
	assert_int_equal(snap_engine_add_elem(eng, "eth_classify", "bad", a, err, sizeof(err)),
			 -EINVAL);
	snap_elem_args_free(a);
}

/* ---- arp ---- */

static void test_arp_reply_and_learn(void **state)
{
	struct rte_ether_addr bcast;
	memset(&bcast, 0xff, sizeof(bcast));
	size_t len = et_build_arp(buf, &bcast, RTE_ARP_OP_REQUEST, &et_mac_peer, ip_peer, ip_us);
	send_frame(buf, len);
	struct et_sink *s = et_sink_of(eng, "arp_sink");
	assert_int_equal(s->n, 1);
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(s->pkts[0], struct rte_ether_hdr *);
	struct rte_arp_hdr *ah = (struct rte_arp_hdr *)(eh + 1);
	assert_true(rte_is_same_ether_addr(&eh->dst_addr, &et_mac_peer));
	assert_true(rte_is_same_ether_addr(&eh->src_addr, &et_mac_us));
	assert_int_equal(ah->arp_opcode, RTE_BE16(RTE_ARP_OP_REPLY));
	assert_true(rte_is_same_ether_addr(&ah->arp_data.arp_sha, &et_mac_us));
	assert_true(rte_is_same_ether_addr(&ah->arp_data.arp_tha, &et_mac_peer));
	assert_int_equal(ah->arp_data.arp_sip, ip_us);
	assert_int_equal(ah->arp_data.arp_tip, ip_peer);
	assert_int_equal(et_stat(eng, "arp", "requests"), 1);

	struct rte_ether_addr mac;
	assert_int_equal(snap_port_neigh_lookup(port, ip_peer, &mac), 0);
	assert_true(rte_is_same_ether_addr(&mac, &et_mac_peer));

	/* A reply we did not ask for, from an unknown host: neither learned nor answered. */
	struct rte_ether_addr m3 = {{0x02, 0, 0, 0, 0, 3}};
	uint32_t ip3 = et_ip("10.0.0.3");
	len = et_build_arp(buf, &et_mac_us, RTE_ARP_OP_REPLY, &m3, ip3, ip_us);
	send_frame(buf, len);
	assert_int_equal(s->n, 1);
	assert_int_equal(snap_port_neigh_lookup(port, ip3, &mac), -ENOENT);
	assert_int_equal(et_stat(eng, "arp", "unsolicited"), 1);

	/* Once we asked for it, its reply is learned (once: a second reply to the same
	 * request only refreshes the entry). */
	struct rte_mbuf *req = rte_pktmbuf_alloc(et_pool);
	assert_int_equal(snap_arp_build_request(port, ip3, req), 0);
	rte_pktmbuf_free(req);
	send_frame(buf, len);
	assert_int_equal(s->n, 1);
	assert_int_equal(snap_port_neigh_lookup(port, ip3, &mac), 0);
	assert_true(rte_is_same_ether_addr(&mac, &m3));
	assert_int_equal(et_stat(eng, "arp", "replies_seen"), 2);
	assert_int_equal(et_stat(eng, "arp", "unsolicited"), 1);

	/* A request for someone else from an unknown sender: ignored, not learned. */
	uint32_t ip4 = et_ip("10.0.0.4");
	len = et_build_arp(buf, &bcast, RTE_ARP_OP_REQUEST, &m3, ip4, ip3);
	send_frame(buf, len);
	assert_int_equal(s->n, 1);
	assert_int_equal(et_stat(eng, "arp", "ignored"), 1);
	assert_int_equal(et_stat(eng, "arp", "unsolicited"), 2);
	assert_int_equal(snap_port_neigh_lookup(port, ip4, &mac), -ENOENT);
	/* ... but from a known one it refreshes its entry (a moved MAC). */
	struct rte_ether_addr m3b = {{0x02, 0, 0, 0, 0, 0x33}};
	len = et_build_arp(buf, &bcast, RTE_ARP_OP_REQUEST, &m3b, ip3, ip4);
	send_frame(buf, len);
	assert_int_equal(snap_port_neigh_lookup(port, ip3, &mac), 0);
	assert_true(rte_is_same_ether_addr(&mac, &m3b));

	/* Off-link senders are not learned (but our address is still answered). */
	uint32_t far = et_ip("192.168.7.7");
	len = et_build_arp(buf, &bcast, RTE_ARP_OP_REQUEST, &m3, far, ip_us);
	send_frame(buf, len);
	assert_int_equal(s->n, 2);
	assert_int_equal(snap_port_neigh_lookup(port, far, &mac), -ENOENT);

	/* Someone claiming our address: counted, not learned, not answered. */
	len = et_build_arp(buf, &bcast, RTE_ARP_OP_REQUEST, &m3, ip_us, ip_us);
	send_frame(buf, len);
	assert_int_equal(s->n, 2);
	assert_int_equal(et_stat(eng, "arp", "conflicts"), 1);
	assert_int_equal(snap_port_neigh_lookup(port, ip_us, &mac), -ENOENT);
}

/* The neighbour table stays bounded: past its eviction mark a new address evicts the
 * oldest of a sample (never a static entry), at most SNAP_NEIGH_DEAD_MAX slots at a time
 * until their grace period ends; beyond that learning is refused and counted. */
static void test_arp_table_bounded(void **state)
{
	struct rte_ether_addr ms = {{0x02, 0, 0, 0, 0x5a, 0x5a}}, mac;
	uint32_t ip_static = et_ip("10.0.0.200");
	assert_int_equal(snap_port_neigh_static(port, ip_static, &ms), 0);
	assert_int_equal(snap_port_neigh_learn(port, ip_static, &et_mac_peer), -EPERM);
	uint64_t ev0 = port->neigh_evicted, full0 = port->neigh_full;
	for (uint32_t i = 0; i < SNAP_NEIGH_ENTRIES + 100; i++) {
		struct rte_ether_addr m = {{0x02, 1, 0, 0, (uint8_t)(i >> 8), (uint8_t)i}};
		snap_port_neigh_learn(port, rte_cpu_to_be_32(0xac100000u + i), &m);
		assert_true(rte_hash_count(port->neigh) <= SNAP_NEIGH_ENTRIES);
	}
	assert_int_equal(port->neigh_evicted - ev0, SNAP_NEIGH_DEAD_MAX);
	assert_true(port->neigh_full > full0);
	assert_int_equal(snap_port_neigh_lookup(port, ip_static, &mac), 0);
	assert_true(rte_is_same_ether_addr(&mac, &ms));
	/* After the grace period (20 ms; waiting longer is harmless) evicted slots return. */
	usleep(100 * 1000);
	struct rte_ether_addr mn = {{0x02, 2, 0, 0, 0, 1}};
	uint32_t ip_new = rte_cpu_to_be_32(0xac110001u);
	assert_int_equal(snap_port_neigh_learn(port, ip_new, &mn), 0);
	assert_int_equal(snap_port_neigh_lookup(port, ip_new, &mac), 0);
	assert_int_equal(port->neigh_evicted - ev0, SNAP_NEIGH_DEAD_MAX + 1);
	assert_int_equal(et_stat(eng, "arp", "evicted"), port->neigh_evicted);
}

static void test_arp_malformed(void **state)
{
	struct rte_ether_addr bcast;
	memset(&bcast, 0xff, sizeof(bcast));
	struct rte_arp_hdr *ah = (struct rte_arp_hdr *)(buf + sizeof(struct rte_ether_hdr));
	uint32_t sip = et_ip("10.0.0.50"); /* not learned by any other test */
	size_t len = et_build_arp(buf, &bcast, RTE_ARP_OP_REQUEST, &et_mac_peer, sip, ip_us);

	expect_drop("arp", SNAP_DROP_ARP_MALFORMED, buf, 14 + 27);
	expect_drop("arp", SNAP_DROP_ARP_MALFORMED, buf, 14);
	ah->arp_hardware = RTE_BE16(6);
	expect_drop("arp", SNAP_DROP_ARP_UNSUPPORTED, buf, len);
	ah->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
	ah->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV6);
	expect_drop("arp", SNAP_DROP_ARP_UNSUPPORTED, buf, len);
	ah->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	ah->arp_hlen = 8;
	expect_drop("arp", SNAP_DROP_ARP_UNSUPPORTED, buf, len);
	ah->arp_hlen = 6;
	ah->arp_plen = 16;
	expect_drop("arp", SNAP_DROP_ARP_UNSUPPORTED, buf, len);
	ah->arp_plen = 4;
	ah->arp_opcode = RTE_BE16(RTE_ARP_OP_REVREQUEST);
	expect_drop("arp", SNAP_DROP_ARP_UNSUPPORTED, buf, len);
	ah->arp_opcode = RTE_BE16(RTE_ARP_OP_REQUEST);
	memset(&ah->arp_data.arp_sha, 0xff, 6); /* broadcast sender */
	expect_drop("arp", SNAP_DROP_ARP_MALFORMED, buf, len);
	memset(&ah->arp_data.arp_sha, 0, 6); /* zero sender */
	expect_drop("arp", SNAP_DROP_ARP_MALFORMED, buf, len);
	struct rte_ether_addr mac;
	assert_int_equal(snap_port_neigh_lookup(port, sip, &mac), -ENOENT);
}

static void test_arp_build_request(void **state)
{
	uint32_t tip = et_ip("10.0.0.9");
	struct rte_mbuf *m = rte_pktmbuf_alloc(et_pool);
	assert_int_equal(snap_arp_build_request(port, tip, m), 0);
	assert_int_equal(rte_pktmbuf_pkt_len(m), SNAP_ARP_FRAME_LEN);
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_arp_hdr *ah = (struct rte_arp_hdr *)(eh + 1);
	assert_true(rte_is_broadcast_ether_addr(&eh->dst_addr));
	assert_true(rte_is_same_ether_addr(&eh->src_addr, &et_mac_us));
	assert_int_equal(eh->ether_type, RTE_BE16(RTE_ETHER_TYPE_ARP));
	assert_int_equal(ah->arp_opcode, RTE_BE16(RTE_ARP_OP_REQUEST));
	assert_int_equal(ah->arp_data.arp_sip, ip_us);
	assert_int_equal(ah->arp_data.arp_tip, tip);
	/* not empty any more */
	assert_int_equal(snap_arp_build_request(port, tip, m), -EINVAL);
	rte_pktmbuf_free(m);
	m = rte_pktmbuf_alloc(et_pool);
	assert_int_equal(snap_arp_build_request(port, 0, m), -EINVAL);
	rte_pktmbuf_free(m);

	/* Our own request, looped back to another host's arp element, gets answered: build a
	 * request from the peer's point of view by swapping roles. */
	struct snap_port *peer = snap_port_find("peer");
	assert_non_null(peer);
	m = rte_pktmbuf_alloc(et_pool);
	assert_int_equal(snap_arp_build_request(peer, ip_us, m), 0);
	et_feed(eng, "eth", &m, 1);
	assert_int_equal(et_sink_of(eng, "arp_sink")->n, 1);
}

/* ---- ipv4_in ---- */

static void test_ipv4_valid(void **state)
{
	/* 4-byte payload: a 46-byte frame padded to the 60-byte minimum on the wire */
	size_t len = et_build_udp(buf, &et_mac_us, ip_peer, ip_us, 1, 9, 4);
	assert_int_equal(len, 46);
	memset(buf + len, 0xaa, 14);
	send_frame(buf, 60);
	struct et_sink *s = et_sink_of(eng, "udp_sink");
	assert_int_equal(s->n, 1);
	assert_int_equal(rte_pktmbuf_pkt_len(s->pkts[0]), 46);
	assert_int_equal(s->pkts[0]->l2_len, 14);
	assert_int_equal(s->pkts[0]->l3_len, 20);

	/* limited and subnet broadcast destinations */
	len = et_build_udp(buf, &et_mac_us, ip_peer, et_ip("255.255.255.255"), 1, 9, 4);
	send_frame(buf, len);
	len = et_build_udp(buf, &et_mac_us, ip_peer, et_ip("10.0.0.255"), 1, 9, 4);
	send_frame(buf, len);
	assert_int_equal(s->n, 3);

	/* options (IHL 6) are accepted and skipped */
	len = et_build_udp(buf, &et_mac_us, ip_peer, ip_us, 1, 9, 4);
	struct rte_ipv4_hdr *ip = ip_hdr(buf);
	memmove((uint8_t *)(ip + 1) + 4, ip + 1, len - 34);
	memset(ip + 1, 1, 4); /* four NOP options */
	ip->version_ihl = 0x46;
	ip->total_length = rte_cpu_to_be_16(rte_be_to_cpu_16(ip->total_length) + 4);
	et_fix_ip_cksum(buf);
	send_frame(buf, len + 4);
	assert_int_equal(s->n, 4);
	assert_int_equal(s->pkts[3]->l3_len, 24);

	/* a burst mixing good and bad: exactly the good ones come out */
	struct rte_mbuf *pk[SNAP_BURST_MAX];
	for (unsigned i = 0; i < SNAP_BURST_MAX; i++) {
		len = et_build_udp(buf, &et_mac_us, ip_peer, ip_us, 1, 9, i);
		if (i % 3 == 1)
			ip_hdr(buf)->hdr_checksum ^= 1;
		pk[i] = et_mbuf(buf, len);
	}
	et_feed(eng, "eth", pk, SNAP_BURST_MAX);
	assert_int_equal(s->n, 4 + 21);
	assert_int_equal(et_drops(eng, "ip", SNAP_DROP_IP_CSUM), 11);
}

static void test_ipv4_malformed(void **state)
{
	size_t len = et_build_udp(buf, &et_mac_us, ip_peer, ip_us, 1, 9, 20);
	struct rte_ipv4_hdr *ip = ip_hdr(buf);
	uint8_t saved[2048];
	memcpy(saved, buf, len);
#define RESET() memcpy(buf, saved, len)

	expect_drop("ip", SNAP_DROP_TRUNCATED, buf, 14 + 19);
	ip->version_ihl = 0x65;
	et_fix_ip_cksum(buf);
	expect_drop("ip", SNAP_DROP_IP_VERSION, buf, len);
	RESET();
	ip->version_ihl = 0x44;
	et_fix_ip_cksum(buf);
	expect_drop("ip", SNAP_DROP_IP_HDR_LEN, buf, len);
	RESET();
	ip->version_ihl = 0x40;
	expect_drop("ip", SNAP_DROP_IP_HDR_LEN, buf, len);
	RESET();
	ip->version_ihl = 0x4f; /* 60-byte header in a 34-byte IP part */
	expect_drop("ip", SNAP_DROP_IP_HDR_LEN, buf, 14 + 34);
	RESET();
	ip->total_length = rte_cpu_to_be_16((uint16_t)(len - 14 + 1));
	et_fix_ip_cksum(buf);
	expect_drop("ip", SNAP_DROP_IP_TOTAL_LEN, buf, len);
	RESET();
	ip->total_length = rte_cpu_to_be_16(19);
	et_fix_ip_cksum(buf);
	expect_drop("ip", SNAP_DROP_IP_TOTAL_LEN, buf, len);
	RESET();
	ip->hdr_checksum ^= 0x0100;
	expect_drop("ip", SNAP_DROP_IP_CSUM, buf, len);
	RESET();
	ip->time_to_live = 0;
	et_fix_ip_cksum(buf);
	expect_drop("ip", SNAP_DROP_IP_TTL, buf, len);
	RESET();
	ip->fragment_offset = RTE_BE16(RTE_IPV4_HDR_MF_FLAG);
	et_fix_ip_cksum(buf);
	expect_drop("ip", SNAP_DROP_IP_FRAGMENT, buf, len);
	RESET();
	ip->fragment_offset = RTE_BE16(185);
	et_fix_ip_cksum(buf);
	expect_drop("ip", SNAP_DROP_IP_FRAGMENT, buf, len);
	RESET();
	ip->dst_addr = et_ip("10.0.0.77");
	et_fix_ip_cksum(buf);
	expect_drop("ip", SNAP_DROP_NOT_FOR_US, buf, len);
	RESET();
	ip->dst_addr = et_ip("224.0.0.1");
	et_fix_ip_cksum(buf);
	expect_drop("ip", SNAP_DROP_NOT_FOR_US, buf, len);
	RESET();
	ip->src_addr = et_ip("224.0.0.1");
	et_fix_ip_cksum(buf);
	expect_drop("ip", SNAP_DROP_IP_BAD_SOURCE, buf, len);
	RESET();
	ip->src_addr = et_ip("10.0.0.255");
	et_fix_ip_cksum(buf);
	expect_drop("ip", SNAP_DROP_IP_BAD_SOURCE, buf, len);
	RESET();
	ip->next_proto_id = IPPROTO_TCP;
	et_fix_ip_cksum(buf);
	expect_drop("ip", SNAP_DROP_PROTO_UNHANDLED, buf, len);
	RESET();
	/* hardware verdicts are honoured */
	struct rte_mbuf *m = et_mbuf(buf, len);
	m->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_BAD;
	et_feed(eng, "eth", &m, 1);
	assert_int_equal(et_drops(eng, "ip", SNAP_DROP_IP_CSUM), 2);
	/* and after all that, valid traffic still flows */
	send_frame(buf, len);
	assert_int_equal(et_sink_of(eng, "udp_sink")->n, 1);
#undef RESET
}

/* ---- icmp_echo ---- */

static void check_echo_reply(struct rte_mbuf *m, size_t payload)
{
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eh + 1);
	assert_true(rte_is_same_ether_addr(&eh->dst_addr, &et_mac_peer));
	assert_true(rte_is_same_ether_addr(&eh->src_addr, &et_mac_us));
	assert_int_equal(ip->src_addr, ip_us);
	assert_int_equal(ip->dst_addr, ip_peer);
	assert_int_equal(rte_raw_cksum(ip, 20), 0xffff);
	uint16_t sum;
	assert_int_equal(rte_raw_cksum_mbuf(m, 34, rte_pktmbuf_pkt_len(m) - 34, &sum), 0);
	assert_int_equal(sum, 0xffff);
	uint8_t hdr[8];
	const uint8_t *ic = rte_pktmbuf_read(m, 34, 8, hdr);
	assert_int_equal(ic[0], RTE_IP_ICMP_ECHO_REPLY);
	assert_int_equal(rte_pktmbuf_pkt_len(m), 34 + 8 + payload);
	for (size_t i = 0; i < payload; i += 97) {
		uint8_t b;
		assert_int_equal(*(const uint8_t *)rte_pktmbuf_read(m, 42 + i, 1, &b),
				 (uint8_t)(i * 13 + 1));
	}
}

/* snap_net_ip4_sum (32-bit words, folded once) equals DPDK's 16-bit rte_raw_cksum for every
 * header length and for the sums that fold twice (all ones) or not at all (all zeros). */
static void test_ip4_sum_matches_dpdk(void **state)
{
	(void)state;
	uint8_t h[60];
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (unsigned round = 0; round < 20000; round++) {
		for (unsigned i = 0; i < sizeof(h); i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			h[i] = round % 3 == 0 ? 0xff : round % 3 == 1 ? (uint8_t)x : (uint8_t)(x & 0x81);
		}
		if (round < 2)
			memset(h, round ? 0xff : 0, sizeof(h));
		for (uint32_t ihl = 20; ihl <= 60; ihl += 4)
			assert_int_equal(snap_net_ip4_sum(h, ihl), rte_raw_cksum(h, ihl));
	}
	/* And the header it builds checks as valid by both. */
	struct rte_mbuf *m = rte_pktmbuf_alloc(et_pool);
	assert_non_null(m);
	assert_non_null(rte_pktmbuf_append(m, 64));
	struct snap_net_udp4 a = {.src_ip = rte_cpu_to_be_32(0x0a000001),
				  .dst_ip = rte_cpu_to_be_32(0xc0a80102), .src_port = 7, .dst_port = 9};
	for (unsigned id = 0; id < 70000; id += 7) {
		assert_non_null(snap_net_udp4_prepend(m, &a, (uint16_t)id));
		const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, void *, 14);
		assert_int_equal(rte_raw_cksum(ip, 20), 0xffff);
		assert_int_equal(snap_net_ip4_sum(ip, 20), 0xffff);
		rte_pktmbuf_adj(m, SNAP_NET_UDP4_HDRS);
	}
	rte_pktmbuf_free(m);
}

static void test_icmp_echo(void **state)
{
	size_t len = et_build_icmp(buf, &et_mac_us, ip_peer, ip_us, RTE_IP_ICMP_ECHO_REQUEST, 56);
	send_frame(buf, len);
	struct et_sink *s = et_sink_of(eng, "icmp_sink");
	assert_int_equal(s->n, 1);
	check_echo_reply(s->pkts[0], 56);

	/* odd payload length, and a 1400-byte echo split over 100-byte segments */
	len = et_build_icmp(buf, &et_mac_us, ip_peer, ip_us, RTE_IP_ICMP_ECHO_REQUEST, 33);
	send_frame(buf, len);
	len = et_build_icmp(buf, &et_mac_us, ip_peer, ip_us, RTE_IP_ICMP_ECHO_REQUEST, 1400);
	struct rte_mbuf *m = et_mbuf_chain(buf, len, 100);
	assert_non_null(m);
	assert_true(m->nb_segs > 10);
	et_feed(eng, "eth", &m, 1);
	assert_int_equal(s->n, 3);
	check_echo_reply(s->pkts[1], 33);
	check_echo_reply(s->pkts[2], 1400);
}

static void test_icmp_malformed(void **state)
{
	size_t len = et_build_icmp(buf, &et_mac_us, ip_peer, ip_us, RTE_IP_ICMP_ECHO_REQUEST, 16);
	uint8_t *icmp = buf + 34;
	icmp[10] ^= 0x55; /* payload byte: checksum no longer matches */
	expect_drop("icmp", SNAP_DROP_ICMP_CSUM, buf, len);

	len = et_build_icmp(buf, &et_mac_us, ip_peer, ip_us, RTE_IP_ICMP_ECHO_REPLY, 16);
	expect_drop("icmp", SNAP_DROP_ICMP_UNHANDLED, buf, len);
	len = et_build_icmp(buf, &et_mac_us, ip_peer, ip_us, 13, 16);
	expect_drop("icmp", SNAP_DROP_ICMP_UNHANDLED, buf, len);
	len = et_build_icmp(buf, &et_mac_us, ip_peer, ip_us, RTE_IP_ICMP_ECHO_REQUEST, 16);
	icmp[1] = 3; /* echo with a non-zero code */
	et_fix_icmp_cksum(buf);
	expect_drop("icmp", SNAP_DROP_ICMP_UNHANDLED, buf, len);

	/* a 4-byte ICMP message: shorter than its header */
	len = et_build_icmp(buf, &et_mac_us, ip_peer, ip_us, RTE_IP_ICMP_ECHO_REQUEST, 0);
	ip_hdr(buf)->total_length = RTE_BE16(24);
	et_fix_ip_cksum(buf);
	expect_drop("icmp", SNAP_DROP_ICMP_MALFORMED, buf, 14 + 24);

	/* broadcast pings are ignored */
	len = et_build_icmp(buf, &et_mac_us, ip_peer, et_ip("255.255.255.255"),
			    RTE_IP_ICMP_ECHO_REQUEST, 16);
	expect_drop("icmp", SNAP_DROP_ICMP_BROADCAST, buf, len);
	struct rte_ether_addr bcast;
	memset(&bcast, 0xff, 6);
	len = et_build_icmp(buf, &bcast, ip_peer, ip_us, RTE_IP_ICMP_ECHO_REQUEST, 16);
	expect_drop("icmp", SNAP_DROP_ICMP_BROADCAST, buf, len);

	/* a subnet-directed broadcast to our MAC: answered only by a port-bound icmp_echo */
	et_add(eng, "icmp_echo", "icmp_p", "port=p0", NULL);
	et_add(eng, "test_sink", "icmp_p_sink", NULL);
	et_link(eng, "icmp_p", "out", "icmp_p_sink");
	len = et_build_icmp(buf, &et_mac_us, ip_peer, et_ip("10.0.0.255"),
			    RTE_IP_ICMP_ECHO_REQUEST, 16);
	struct rte_mbuf *m = et_mbuf(buf, len);
	et_feed(eng, "icmp_p", &m, 1);
	assert_int_equal(et_drops(eng, "icmp_p", SNAP_DROP_ICMP_BROADCAST), 1);
	len = et_build_icmp(buf, &et_mac_us, ip_peer, ip_us, RTE_IP_ICMP_ECHO_REQUEST, 16);
	m = et_mbuf(buf, len);
	et_feed(eng, "icmp_p", &m, 1);
	assert_int_equal(et_sink_of(eng, "icmp_p_sink")->n, 1);
	et_sink_clear(et_sink_of(eng, "icmp_p_sink"));

	/* icmp_echo wired without ipv4_in in front must survive garbage */
	uint8_t junk[40];
	memset(junk, 0x45, sizeof(junk));
	for (size_t l = 0; l <= sizeof(junk); l++) {
		m = et_mbuf(junk, l);
		et_feed(eng, "icmp", &m, 1);
	}
	assert_int_equal(et_sink_of(eng, "icmp_sink")->n, 0);
}

/* Replies are built in place; a request whose buffer is shared (a clone) must be copied
 * first so the other holder's packet stays intact. */
static void test_reply_to_clone(void **state)
{
	struct rte_ether_addr bcast;
	memset(&bcast, 0xff, sizeof(bcast));
	size_t lens[2] = {
		et_build_icmp(buf, &et_mac_us, ip_peer, ip_us, RTE_IP_ICMP_ECHO_REQUEST, 40),
		0,
	};
	static uint8_t buf2[128];
	lens[1] = et_build_arp(buf2, &bcast, RTE_ARP_OP_REQUEST, &et_mac_peer, ip_peer, ip_us);
	const uint8_t *frames[2] = {buf, buf2};
	const char *sinks[2] = {"icmp_sink", "arp_sink"};
	for (unsigned k = 0; k < 2; k++) {
		struct rte_mbuf *orig = et_mbuf(frames[k], lens[k]);
		struct rte_mbuf *cl = rte_pktmbuf_clone(orig, et_pool);
		assert_non_null(cl);
		et_feed(eng, "eth", &cl, 1);
		struct et_sink *s = et_sink_of(eng, sinks[k]);
		assert_int_equal(s->n, 1);
		assert_memory_equal(rte_pktmbuf_mtod(orig, void *), frames[k], lens[k]);
		struct rte_ether_hdr *eh = rte_pktmbuf_mtod(s->pkts[0], struct rte_ether_hdr *);
		assert_true(rte_is_same_ether_addr(&eh->dst_addr, &et_mac_peer));
		assert_true(rte_is_same_ether_addr(&eh->src_addr, &et_mac_us));
		rte_pktmbuf_free(orig);
		et_sink_clear(s);
	}
}

int main(int argc, char **argv)
{
	if (et_eal_init(argv[0]) < 0) {
		fprintf(stderr, "EAL init failed\n");
		return 1;
	}
	port = snap_port_find("p0");
	if (port == NULL || !rte_is_same_ether_addr(&port->mac, &et_mac_us)) {
		fprintf(stderr, "port p0 missing or without the configured MAC\n");
		return 1;
	}
	ip_us = et_ip("10.0.0.1");
	ip_peer = et_ip("10.0.0.2");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_eth_classify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eth_other_and_promisc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arp_reply_and_learn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arp_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arp_table_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arp_build_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv4_valid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv4_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ip4_sum_matches_dpdk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_icmp_echo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_icmp_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_to_clone, setup, teardown),
	};
	int r = cmocka_run_group_tests_name("elem_l2l3", tests, NULL, NULL);
	et_eal_fini();
	return r;
}
