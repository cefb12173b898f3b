/* Shared fixture for the element unit tests and the parse fuzzer (see elemtest.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_arp.h>
#include <rte_udp.h>

#include "core/config.h"
#include "core/eal.h"
#include "core/portsetup.h"
#include "tests/unit/elemtest.h"

struct rte_mempool *et_pool;
static char runtime_dir[512];

const struct rte_ether_addr et_mac_us = {{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
const struct rte_ether_addr et_mac_peer = {{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};

/* Test harness failures are reported by aborting: cmocka and the fuzzer both notice. */
#define ET_CHECK(c)                                                                       \
	do {                                                                              \
		if (!(c)) {                                                               \
			fprintf(stderr, "%s:%d: %s failed\n", __FILE__, __LINE__, #c);     \
			abort();                                                          \
		}                                                                         \
	} while (0)

enum snap_port_kind et_port_kind = SNAP_PORT_NULL;
static char memif_dir[64];
uint16_t et_port_queues = 1;

static void et_port_cfg(struct snap_port_cfg *pc, const char *name,
			const struct rte_ether_addr *mac, const char *ip)
{
	snprintf(pc->name, sizeof(pc->name), "%s", name);
	pc->kind = et_port_kind;
	pc->mac_set = true;
	pc->mac = *mac;
	pc->ip = et_ip(ip);
	pc->prefix_len = 24;
	/* IPv6 fd00::<last byte of the IPv4 address>/64. */
	pc->has_ip6 = true;
	pc->prefix6_len = 64;
	memset(pc->ip6, 0, sizeof(pc->ip6));
	pc->ip6[0] = 0xfd;
	pc->ip6[15] = (uint8_t)(rte_be_to_cpu_32(pc->ip) & 0xff);
	/* A static IPv6 neighbour fd00::9 -> 02:00:00:00:00:09 (config neighbours). */
	pc->n_neigh = 1;
	pc->neigh[0].v6 = true;
	memset(pc->neigh[0].ip6, 0, 16);
	pc->neigh[0].ip6[0] = 0xfd;
	pc->neigh[0].ip6[15] = 9;
	memcpy(pc->neigh[0].mac.addr_bytes, (uint8_t[6]){2, 0, 0, 0, 0, 9}, 6);
	pc->mtu = 1500;
	pc->queues = et_port_queues;
	pc->ring_size = 256;
	pc->mbufs = 511;
	if (pc->kind == SNAP_PORT_MEMIF) {
		pc->server = strcmp(name, "p0") == 0;
		snprintf(pc->socket, sizeof(pc->socket), "%s/memif.sock", memif_dir);
		pc->rx_intr = true;
	}
}

int et_eal_init(const char *progname)
{
	static struct snap_config cfg; /* large: keep it off the stack */
	char prefix[64], vdev[2][256], err[256];
	snprintf(cfg.file, sizeof(cfg.file), "elemtest");
	/* A directory of our own (mode 0700): nobody else can put a socket in its place. */
	snprintf(memif_dir, sizeof(memif_dir), "/tmp/elemtest.XXXXXX");
	if (et_port_kind == SNAP_PORT_MEMIF && mkdtemp(memif_dir) == NULL)
		return -errno;
	cfg.n_ports = 2;
	et_port_cfg(&cfg.ports[0], "p0", &et_mac_us, "10.0.0.1");
	et_port_cfg(&cfg.ports[1], "peer", &et_mac_peer, "10.0.0.2");
	for (unsigned i = 0; i < cfg.n_ports; i++)
		if (snap_port_eal_arg(&cfg.ports[i], vdev[i], sizeof(vdev[i])) != 0)
			return -ENAMETOOLONG;
	snprintf(prefix, sizeof(prefix), "elemtest-%d", (int)getpid());
	char *argv[] = {(char *)progname, "--no-huge", "--no-pci", "-m", "128",
			"--file-prefix", prefix, "--log-level=lib.*:error", "--no-telemetry",
			"--vdev", vdev[0], "--vdev", vdev[1]};
	if (rte_eal_init(RTE_DIM(argv), argv) < 0) {
		fprintf(stderr, "EAL init: %s\n", rte_strerror(rte_errno));
		return -rte_errno;
	}
	snprintf(runtime_dir, sizeof(runtime_dir), "%s", rte_eal_get_runtime_dir());
	et_pool = rte_pktmbuf_pool_create("elemtest", 2047, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					  SOCKET_ID_ANY);
	if (et_pool == NULL)
		return -rte_errno;
	int r = snap_ports_create(&cfg, err, sizeof(err));
	if (r)
		fprintf(stderr, "ports: %s\n", err);
	return r;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void memif_dir_remove(void)
{
	if (et_port_kind != SNAP_PORT_MEMIF)
		return;
	char sock[sizeof(memif_dir) + 16];
	snprintf(sock, sizeof(sock), "%s/memif.sock", memif_dir);
	unlink(sock);
	rmdir(memif_dir);
}

void et_eal_fini(void)
{
	snap_ports_destroy();
	memif_dir_remove();
	rte_mempool_free(et_pool);
	et_pool = NULL;
	snap_eal_stop(); /* the daemon's: parks the interrupt thread before rte_eal_cleanup */
	if (runtime_dir[0])
		nftw(runtime_dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

unsigned et_in_use(void)
{
	return rte_mempool_in_use_count(et_pool);
}

/* ---- the sink element ---- */

static void sink_process(struct snap_elem *el, struct rte_mbuf **pkts, uint16_t n)
{
	struct et_sink *s = snap_elem_priv(el);
	for (uint16_t i = 0; i < n; i++) {
		if (s->n < ET_SINK_MAX) {
			s->pkts[s->n++] = pkts[i];
		} else {
			s->overflow++;
			rte_pktmbuf_free(pkts[i]);
		}
	}
}

static void sink_destroy(struct snap_elem *el)
{
	et_sink_clear(snap_elem_priv(el));
}

static const struct snap_elem_desc sink_desc = {
	.name = "test_sink",
	.help = "test: keep packets for inspection",
	.priv_size = sizeof(struct et_sink),
	.process = sink_process,
	.destroy = sink_destroy,
};
SNAP_ELEM_REGISTER(sink_desc)

struct et_sink *et_sink_of(struct snap_engine *e, const char *name)
{
	struct snap_elem *el = snap_engine_elem(e, name);
	ET_CHECK(el != NULL && el->desc == &sink_desc);
	return snap_elem_priv(el);
}

void et_sink_clear(struct et_sink *s)
{
	if (s == NULL)
		return;
	rte_pktmbuf_free_bulk(s->pkts, s->n);
	s->n = 0;
}

void et_feed(struct snap_engine *e, const char *name, struct rte_mbuf **pkts, uint16_t n)
{
	struct snap_elem *el = snap_engine_elem(e, name);
	ET_CHECK(el != NULL);
	while (n) {
		uint16_t k = n > SNAP_BURST_MAX ? SNAP_BURST_MAX : n;
		snap_elem_count_in(el, pkts, k);
		el->desc->process(el, pkts, k);
		pkts += k;
		n -= k;
	}
}

struct rte_mbuf *et_mbuf(const void *bytes, size_t len)
{
	return et_mbuf_chain(bytes, len, len ? len : 1);
}

struct rte_mbuf *et_mbuf_chain(const void *bytes, size_t len, size_t seg)
{
	struct rte_mbuf *head = NULL;
	size_t off = 0;
	do {
		size_t k = len - off < seg ? len - off : seg;
		struct rte_mbuf *m = rte_pktmbuf_alloc(et_pool);
		char *d = m ? rte_pktmbuf_append(m, (uint16_t)k) : NULL;
		if (d == NULL || k > UINT16_MAX) {
			rte_pktmbuf_free(m);
			rte_pktmbuf_free(head);
			return NULL;
		}
		memcpy(d, (const uint8_t *)bytes + off, k);
		if (head == NULL) {
			head = m;
		} else if (rte_pktmbuf_chain(head, m) != 0) {
			rte_pktmbuf_free(m);
			rte_pktmbuf_free(head);
			return NULL;
		}
		off += k;
	} while (off < len);
	return head;
}

uint64_t et_drops(struct snap_engine *e, const char *name, enum snap_drop reason)
{
	struct snap_elem *el = snap_engine_elem(e, name);
	ET_CHECK(el != NULL);
	return el->cnt.drops[reason];
}

struct stat_find {
	const char *name;
	uint64_t v;
};

static void stat_find_fn(void *ctx, const char *name, uint64_t value)
{
	struct stat_find *f = ctx;
	if (strcmp(name, f->name) == 0)
		f->v = value;
}

uint64_t et_stat(struct snap_engine *e, const char *name, const char *counter)
{
	struct snap_elem *el = snap_engine_elem(e, name);
	ET_CHECK(el != NULL);
	struct stat_find f = {counter, UINT64_MAX};
	if (el->desc->stats)
		el->desc->stats(el, stat_find_fn, &f);
	return f.v;
}

void et_add(struct snap_engine *e, const char *type, const char *name, ...)
{
	struct snap_elem_args *a = snap_elem_args_new();
	ET_CHECK(a != NULL);
	va_list ap;
	va_start(ap, name);
	for (const char *kv; (kv = va_arg(ap, const char *)) != NULL;) {
		char key[128];
		const char *eq = strchr(kv, '=');
		ET_CHECK(eq != NULL && (size_t)(eq - kv) < sizeof(key));
		memcpy(key, kv, eq - kv);
		key[eq - kv] = '\0';
		ET_CHECK(snap_elem_args_set(a, key, eq + 1) == 0);
	}
	va_end(ap);
	char err[256];
	int r = snap_engine_add_elem(e, type, name, a, err, sizeof(err));
	if (r)
		fprintf(stderr, "add %s %s: %s\n", type, name, err);
	ET_CHECK(r == 0);
	snap_elem_args_free(a);
}

void et_link(struct snap_engine *e, const char *from, const char *out, const char *to)
{
	char err[256];
	int r = snap_engine_link(e, from, out, to, err, sizeof(err));
	if (r)
		fprintf(stderr, "link %s.%s -> %s: %s\n", from, out ? out : "", to, err);
	ET_CHECK(r == 0);
}

/* ---- frames ---- */

uint32_t et_ip(const char *s)
{
	struct in_addr a;
	ET_CHECK(inet_pton(AF_INET, s, &a) == 1);
	return a.s_addr;
}

static size_t build_ip(uint8_t *buf, const struct rte_ether_addr *dst, uint32_t sip,
		       uint32_t dip, uint8_t proto, size_t l4_len)
{
	struct rte_ether_hdr *eh = (struct rte_ether_hdr *)buf;
	eh->dst_addr = *dst;
	eh->src_addr = et_mac_peer;
	eh->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eh + 1);
	memset(ip, 0, sizeof(*ip));
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(sizeof(*ip) + l4_len));
	ip->packet_id = RTE_BE16(0x1234);
	ip->fragment_offset = RTE_BE16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = 64;
	ip->next_proto_id = proto;
	ip->src_addr = sip;
	ip->dst_addr = dip;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	return sizeof(*eh) + sizeof(*ip) + l4_len;
}

static struct rte_ipv4_hdr *ip_of(uint8_t *buf)
{
	return (struct rte_ipv4_hdr *)(buf + sizeof(struct rte_ether_hdr));
}

void et_fix_ip_cksum(uint8_t *buf)
{
	struct rte_ipv4_hdr *ip = ip_of(buf);
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
}

void et_fix_icmp_cksum(uint8_t *buf)
{
	struct rte_ipv4_hdr *ip = ip_of(buf);
	size_t ihl = rte_ipv4_hdr_len(ip);
	struct rte_icmp_hdr *ic = (struct rte_icmp_hdr *)((uint8_t *)ip + ihl);
	ic->icmp_cksum = 0;
	ic->icmp_cksum = (uint16_t)~rte_raw_cksum(ic, rte_be_to_cpu_16(ip->total_length) - ihl);
}

void et_fix_udp_cksum(uint8_t *buf)
{
	struct rte_ipv4_hdr *ip = ip_of(buf);
	struct rte_udp_hdr *uh = (struct rte_udp_hdr *)((uint8_t *)ip + rte_ipv4_hdr_len(ip));
	uh->dgram_cksum = 0;
	uh->dgram_cksum = rte_ipv4_udptcp_cksum(ip, uh);
}

size_t et_build_udp(uint8_t *buf, const struct rte_ether_addr *dst, uint32_t sip, uint32_t dip,
		    uint16_t sport, uint16_t dport, size_t payload)
{
	size_t len = build_ip(buf, dst, sip, dip, IPPROTO_UDP, sizeof(struct rte_udp_hdr) + payload);
	struct rte_udp_hdr *uh = (struct rte_udp_hdr *)(ip_of(buf) + 1);
	uh->src_port = rte_cpu_to_be_16(sport);
	uh->dst_port = rte_cpu_to_be_16(dport);
	uh->dgram_len = rte_cpu_to_be_16((uint16_t)(sizeof(*uh) + payload));
	for (size_t i = 0; i < payload; i++)
		((uint8_t *)(uh + 1))[i] = (uint8_t)(i * 7 + 3);
	et_fix_udp_cksum(buf);
	return len;
}

size_t et_build_icmp(uint8_t *buf, const struct rte_ether_addr *dst, uint32_t sip, uint32_t dip,
		     uint8_t type, size_t payload)
{
	size_t len = build_ip(buf, dst, sip, dip, IPPROTO_ICMP, sizeof(struct rte_icmp_hdr) + payload);
	struct rte_icmp_hdr *ic = (struct rte_icmp_hdr *)(ip_of(buf) + 1);
	ic->icmp_type = type;
	ic->icmp_code = 0;
	ic->icmp_ident = RTE_BE16(0x4242);
	ic->icmp_seq_nb = RTE_BE16(1);
	for (size_t i = 0; i < payload; i++)
		((uint8_t *)(ic + 1))[i] = (uint8_t)(i * 13 + 1);
	et_fix_icmp_cksum(buf);
	return len;
}

size_t et_build_arp(uint8_t *buf, const struct rte_ether_addr *dst, uint16_t op,
		    const struct rte_ether_addr *sha, uint32_t sip, uint32_t tip)
{
	struct rte_ether_hdr *eh = (struct rte_ether_hdr *)buf;
	eh->dst_addr = *dst;
	eh->src_addr = *sha;
	eh->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
	struct rte_arp_hdr *ah = (struct rte_arp_hdr *)(eh + 1);
	ah->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
	ah->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	ah->arp_hlen = 6;
	ah->arp_plen = 4;
	ah->arp_opcode = rte_cpu_to_be_16(op);
	ah->arp_data.arp_sha = *sha;
	ah->arp_data.arp_sip = sip;
	memset(&ah->arp_data.arp_tha, 0, 6);
	ah->arp_data.arp_tip = tip;
	memset(buf + sizeof(*eh) + sizeof(*ah), 0, 60 - sizeof(*eh) - sizeof(*ah));
	return 60; /* padded like on the wire */
}
