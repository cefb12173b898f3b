/* The `pony` element inside real engines: two engines (portless mode), frames captured from
 * each one's `tx` output and fed to the other's process(); checks framing (IPv4/UDP headers,
 * checksums) and a message exchange through pony_elem_tp() with the real TSC clock. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "pony/elem.h"
#include "pony/internal.h"
#include "snap/engine.h"

#define CAP_MAX 4096

/* A sink element that keeps what it gets, so the test can carry it to the other engine. */
struct cap {
	unsigned n;
	struct rte_mbuf *m[CAP_MAX];
	unsigned bad_frames;
};

static void cap_process(struct snap_elem *el, struct rte_mbuf **pkts, uint16_t n)
{
	struct cap *c = snap_elem_priv(el);
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eh + 1);
		struct rte_udp_hdr *uh = (struct rte_udp_hdr *)(ip + 1);
		struct rte_ipv4_hdr ipc = *ip;
		ipc.hdr_checksum = 0;
		if (eh->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
		    rte_ipv4_cksum(&ipc) != ip->hdr_checksum ||
		    rte_be_to_cpu_16(ip->total_length) != rte_pktmbuf_pkt_len(m) - sizeof(*eh) ||
		    rte_be_to_cpu_16(uh->dgram_len) != rte_pktmbuf_pkt_len(m) - sizeof(*eh) - 20 ||
		    rte_be_to_cpu_16(uh->dst_port) != PONY_UDP_PORT_DEFAULT)
			c->bad_frames++;
		if (c->n < CAP_MAX)
			c->m[c->n++] = m;
		else
			snap_elem_drop(el, m, SNAP_DROP_RING_FULL);
	}
}

static const struct snap_elem_desc cap_desc = {
	.name = "test_pony_capture", .help = "test sink", .priv_size = sizeof(struct cap),
	.process = cap_process,
};
SNAP_ELEM_REGISTER(cap_desc);

static struct snap_engine *eng[2];
static struct snap_elem *pony[2], *capel[2];
static char prefix[64];

struct app {
	uint32_t sid;
	int opened;
	unsigned rx, tx_ok;
	char buf[64];
	uint32_t len;
};
static struct app apps[2];

static int a_accept(void *l, uint32_t sid, const struct pony_ip *ip, uint16_t svc, void **owner)
{
	struct app *a = l;
	a->sid = sid;
	a->opened = 1;
	*owner = a;
	return pony_tp_grant(pony_elem_tp(pony[1]), sid, 100);
}
static void a_opened(void *o, uint32_t sid, int st)
{
	((struct app *)o)->opened = st == 0 ? 1 : st;
}
static void *a_rx_begin(void *o, uint32_t sid, uint32_t len, uint64_t *cookie)
{
	struct app *a = o;
	a->len = len;
	return len <= sizeof(a->buf) ? a->buf : NULL;
}
static void a_rx_done(void *o, uint32_t sid, uint64_t cookie, uint32_t len, int st)
{
	struct app *a = o;
	char want[64];
	snprintf(want, sizeof(want), "message %u", a->rx);
	if (st == 0 && len == strlen(want) && memcmp(a->buf, want, len) == 0)
		a->rx++;
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

static void carry(int from)
{
	struct cap *c = snap_elem_priv(capel[from]);
	struct snap_elem *to = pony[1 - from];
	for (unsigned i = 0; i < c->n; i += SNAP_BURST_MAX) {
		uint16_t k = (uint16_t)(c->n - i < SNAP_BURST_MAX ? c->n - i : SNAP_BURST_MAX);
		snap_elem_count_in(to, &c->m[i], k);
		to->desc->process(to, &c->m[i], k);
	}
	c->n = 0;
}

static void test_elem_exchange(void **state)
{
	char err[128];
	const char *ips[2] = {"127.0.0.1", "127.0.0.2"};
	for (int i = 0; i < 2; i++) {
		char name[16];
		snprintf(name, sizeof(name), "ponytest%d", i);
		eng[i] = snap_engine_create(name, SOCKET_ID_ANY);
		assert_non_null(eng[i]);
		struct snap_elem_args *a = snap_elem_args_new();
		snap_elem_args_set(a, "ip", ips[i]);
		snap_elem_args_set(a, "window", "100"); /* not a power of 2 */
		assert_int_not_equal(snap_engine_add_elem(eng[i], "pony", "bad", a, err, sizeof(err)), 0);
		snap_elem_args_set(a, "window", "128");
		/* An ack held as long as the RTO floor would fire the peer's timer every time. */
		snap_elem_args_set(a, "ack_delay_us", "1000");
		assert_int_not_equal(snap_engine_add_elem(eng[i], "pony", "bad", a, err, sizeof(err)), 0);
		assert_non_null(strstr(err, "below rto_min_us"));
		snap_elem_args_set(a, "ack_delay_us", "20");
		/* The SLOs' percentile: 50..99. */
		snap_elem_args_set(a, "qos_slo_pct", "100");
		assert_int_not_equal(snap_engine_add_elem(eng[i], "pony", "bad", a, err, sizeof(err)), 0);
		assert_non_null(strstr(err, "qos_slo_pct"));
		snap_elem_args_set(a, "qos_slo_pct", "95");
		snap_elem_args_set(a, "seed", i ? "2" : "1");
		assert_int_equal(snap_engine_add_elem(eng[i], "pony", "pony", a, err, sizeof(err)), 0);
		snap_elem_args_free(a);
		assert_int_equal(snap_engine_add_elem(eng[i], "test_pony_capture", "cap", NULL, err,
						      sizeof(err)), 0);
		assert_int_equal(snap_engine_link(eng[i], "pony", "tx", "cap", err, sizeof(err)), 0);
		pony[i] = snap_engine_elem(eng[i], "pony");
		capel[i] = snap_engine_elem(eng[i], "cap");
		assert_non_null(pony_elem_tp(pony[i]));
		assert_null(pony_elem_tp(capel[i]));
		pony_tp_set_upcalls(pony_elem_tp(pony[i]), &ups);
	}
	struct pony_tp *ta = pony_elem_tp(pony[0]), *tb = pony_elem_tp(pony[1]);
	assert_int_equal(pony_tp_listen(tb, 9, &apps[1]), 0);
	uint32_t peer;
	inet_pton(AF_INET, ips[1], &peer);
	assert_int_equal(pony_tp_open(ta, PONY_IP4(peer), 9, &apps[0], &apps[0].sid), 0);
	static char msgs[20][32];
	for (unsigned i = 0; i < 20; i++) {
		snprintf(msgs[i], sizeof(msgs[i]), "message %u", i);
		assert_int_equal(pony_tp_send(ta, apps[0].sid, msgs[i], (uint32_t)strlen(msgs[i]), i), 0);
	}
	uint64_t end = rte_rdtsc() + 3 * rte_get_tsc_hz();
	while ((apps[1].rx < 20 || apps[0].tx_ok < 20) && rte_rdtsc() < end) {
		for (int i = 0; i < 2; i++) {
			snap_engine_poll(eng[i], rte_rdtsc());
			carry(i);
		}
		usleep(10);
	}
	assert_int_equal(apps[0].opened, 1);
	assert_int_equal(apps[1].rx, 20);
	assert_int_equal(apps[0].tx_ok, 20);
	for (int i = 0; i < 2; i++)
		assert_int_equal(((struct cap *)snap_elem_priv(capel[i]))->bad_frames, 0);
	/* A non-Pony frame is a counted drop, not a crash. */
	struct rte_mbuf *m = rte_pktmbuf_alloc(ta->cfg.pool);
	assert_non_null(m);
	{
		memset(rte_pktmbuf_append(m, 60), 0, 60);
		uint64_t before = pony[0]->cnt.drops[SNAP_DROP_PONY_MALFORMED];
		pony[0]->desc->process(pony[0], &m, 1);
		assert_int_equal(pony[0]->cnt.drops[SNAP_DROP_PONY_MALFORMED], before + 1);
	}
	for (int i = 0; i < 2; i++)
		snap_engine_destroy(eng[i]);
}

int main(void)
{
	snprintf(prefix, sizeof(prefix), "pony_elem_%d", (int)getpid());
	char *argv[] = {(char *)"test", (char *)"--no-huge", (char *)"--no-pci", (char *)"-m",
			(char *)"128", (char *)"--file-prefix", prefix,
			(char *)"--log-level=lib.*:error", NULL};
	if (rte_eal_init(8, argv) < 0)
		return 1;
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_elem_exchange)};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	rte_eal_cleanup();
	char cmd[256];
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	snprintf(cmd, sizeof(cmd), "rm -rf /var/run/dpdk/%s %s/dpdk/%s", prefix, xdg ? xdg : "/tmp",
		 prefix);
	if (system(cmd) != 0)
		r = r ? r : 0;
	return r;
}
