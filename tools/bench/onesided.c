/* One-sided op benchmark: two real Pony engines (transport + app layer) in one process, joined
 * by an in-memory lossless link, and a libpony client keeping many READs (or indirect READs)
 * in flight against a region of the other engine's app. Reports ops per second per responder
 * engine core (ops / the TSC time spent in the responder's engine loop), median and p99
 * latency from submit to completion as the client sees it (both engines' work, no wire
 * delay), and the whole loop's rate. For instructions per op run it under
 * tools/bench/callgrind.sh --func pony_os_rx (the responder's per-packet execution path).
 * Pointer chasing (issue 21): --walk H makes each op one eBPF custom op walking H hops of a
 * linked list in the region (bpf_progs.h "walk"); --chase H makes each op H dependent
 * indirect READs (PTR mode; node i holds {next, value, self}: a read at node i's offset
 * returns node i+1, whose self is where the next read goes), so the two figures compare one
 * round trip against H for the same walk. An op's latency is the whole walk's; ops are walks.
 *   onesided_bench [--ops N] [--inflight K] [--size B] [--indirect | --walk H | --chase H]
 *                  [--quick]
 * Prints one JSON line (fields as named) and exits 0 when every op succeeded. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_mbuf.h>

#include "../examples/bpf_progs.h"
#include "hist.h"
#include "pony/app_internal.h"
#include "pony/client/internal.h"
#include "pony/internal.h"

#define LINK_MAX 4096

struct link_end {
	uint32_t ip;
	struct pony_tp *tp;
	struct rte_mbuf *q[LINK_MAX]; /* packets for this end */
	unsigned n;
	uint64_t dropped;
};

static struct link_end ends[2];

static uint16_t link_xmit(void *ctx, const struct pony_ip *peer, uint16_t port, uint16_t lport,
			   struct rte_mbuf **p, uint16_t n)
{
	(void)ctx;
	(void)port;
	(void)lport;
	struct link_end *d = ends[0].ip == pony_ip_4(peer) ? &ends[0] : &ends[1];
	uint16_t k = 0;
	for (; k < n && d->n < LINK_MAX; k++)
		d->q[d->n++] = p[k];
	d->dropped += n - k;
	return k; /* the transport frees the rest and retransmits */
}

static void deliver(struct link_end *e, uint32_t from_ip, uint64_t now)
{
	unsigned off = 0;
	while (off < e->n) {
		uint16_t n = (uint16_t)(e->n - off > 32 ? 32 : e->n - off);
		pony_tp_input(e->tp, from_ip, PONY_UDP_PORT_DEFAULT, e->q + off, n, now);
		off += n;
	}
	e->n = 0;
}

/* The list walked by --walk and --chase: node i at a scattered 1 KiB slot of the region. */
#define LIST_OFF (512u << 10)
static int die(const char *what, int r)
{
	fprintf(stderr, "onesided_bench: %s: %s\n", what, strerror(r < 0 ? -r : r));
	exit(1);
}

int main(int argc, char **argv)
{
	uint64_t ops = 2000000;
	unsigned inflight = 128, size = 64;
	bool indirect = false;
	unsigned walk = 0, chase = 0;
	static const struct option lo[] = {
		{"ops", 1, 0, 'n'}, {"inflight", 1, 0, 'k'}, {"size", 1, 0, 's'},
		{"indirect", 0, 0, 'i'}, {"walk", 1, 0, 'w'}, {"chase", 1, 0, 'c'},
		{"quick", 0, 0, 'q'}, {0, 0, 0, 0}};
	int o;
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 'n': ops = strtoull(optarg, NULL, 0); break;
		case 'k': inflight = (unsigned)atoi(optarg); break;
		case 's': size = (unsigned)atoi(optarg); break;
		case 'i': indirect = true; break;
		case 'w': walk = (unsigned)atoi(optarg); break;
		case 'c': chase = (unsigned)atoi(optarg); break;
		case 'q': ops = 100000; break;
		default:
			fprintf(stderr, "usage: %s [--ops N] [--inflight K] [--size B] "
				"[--indirect | --walk H | --chase H] [--quick]\n", argv[0]);
			return 2;
		}
	}
	if (size == 0 || size > PONY_ONESIDED_MAX || inflight == 0 || inflight > 512 || ops == 0 ||
	    walk > BPF_WALK_MAX || chase > BPF_WALK_MAX || (walk && chase) ||
	    ((walk || chase) && indirect))
		return die("arguments", EINVAL);
	if (walk || chase)
		size = walk ? 32 : 24; /* walk: result buffer; chase: one node */

	char prefix[64];
	snprintf(prefix, sizeof(prefix), "osbench_%d", (int)getpid());
	char *eal[] = {argv[0], "--no-huge", "--no-pci", "-m", "128", "--file-prefix", prefix,
		       "--log-level=lib.*:error", NULL};
	if (rte_eal_init(8, eal) < 0)
		return die("EAL", EINVAL);
	struct rte_mempool *pool = rte_pktmbuf_pool_create("osb", 16383, 256, 0,
							    RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (pool == NULL)
		return die("mbuf pool", ENOMEM);
	struct pony_app_host *host[2];
	for (int i = 0; i < 2; i++) {
		struct pony_tp_config c = {
			.local_ip = 0x0100007f + ((uint32_t)i << 24), .local_port = PONY_UDP_PORT_DEFAULT,
			.tsc_hz = rte_get_tsc_hz(), .pool = pool, .xmit = link_xmit,
			.up = &pony_app_upcalls, .seed = 7 + (uint32_t)i, .window = 1024,
			.cwnd_init = 256, .cwnd_max = 1024,
		};
		ends[i].ip = c.local_ip;
		ends[i].tp = pony_tp_create(&c);
		if (ends[i].tp == NULL)
			return die("transport", errno);
		host[i] = pony_app_host_create(NULL, i ? "resp" : "req", ends[i].tp);
		if (host[i] == NULL)
			return die("app host", errno);
	}
	struct pony_app_config cfg;
	pony_app_config_defaults(&cfg);
	cfg.buf_size = 4u << 20;
	struct pony_app *app[2];
	struct pony_app_session *sess[2];
	for (int i = 0; i < 2; i++) {
		sess[i] = pony_app_session_create(&cfg, (uint32_t)i + 1, -1, SOCKET_ID_ANY);
		if (sess[i] == NULL || pony_app_host_adopt(host[i], sess[i]) != 0)
			return die("session", errno ? errno : EINVAL);
		int m, ce, pe;
		pony_app_session_fds(sess[i], &m, &ce, &pe);
		app[i] = pony_app_wrap(pony_app_session_base(sess[i]), sess[i]->map_size, ce, pe);
		if (app[i] == NULL)
			return die("wrap", errno);
	}
	/* The responder app registers 1 MiB and then is never polled again. */
	const uint32_t rlen = 1u << 20;
	uint8_t *region = pony_buf_alloc(app[1], rlen);
	for (uint32_t i = 0; i < rlen; i++)
		region[i] = (uint8_t)(i * 13);
	/* Indirect: descriptors {offset, len} in the first 64 KiB, data after. */
	for (uint32_t i = 0; i < 8192; i++) {
		uint32_t d[2] = {65536 + (i * 97 % 8192) * 64, size};
		if (d[0] + size > rlen)
			d[0] = 65536;
		memcpy(region + i * 8, d, 8);
	}
	struct pony_completion c[64];
	if (pony_region_register(app[1], region, rlen, PONY_REGION_READ, 1) != 0)
		return die("register", EINVAL);
	uint64_t now = rte_rdtsc();
	int got = 0;
	for (unsigned k = 0; k < 1000 && got == 0; k++) {
		pony_app_host_poll(host[1], 64);
		got = pony_poll(app[1], c, 1);
	}
	if (got != 1 || c[0].status != 0)
		return die("register completion", EPROTO);
	struct pony_remote rm = {.ip = 0x7f000002, .region = c[0].region, .key = c[0].key};
	for (unsigned i = 0; i <= BPF_WALK_MAX; i++) {
		uint64_t self = bpf_walk_node_off(LIST_OFF, i);
		uint64_t nd[3] = {bpf_walk_node_off(LIST_OFF, i + 1), 1000 + i, self};
		memcpy(region + self, nd, sizeof(nd));
	}
	if (walk) {
		static struct pony_bpf_insn prog[PONY_BPF_INSNS_MAX];
		if (pony_bpf_load(app[1], rm.region, "walk", prog, bpf_walk_prog(prog), 2) != 0)
			return die("bpf load", EINVAL);
		got = 0;
		for (unsigned k = 0; k < 1000 && got == 0; k++) {
			pony_app_host_poll(host[1], 64);
			got = pony_poll(app[1], c, 1);
		}
		if (got != 1 || c[0].status != 0)
			return die("bpf load completion", c[0].status ? c[0].status : EPROTO);
	}
	unsigned hops = walk ? walk : chase;
	uint64_t head = bpf_walk_node_off(LIST_OFF, 0), tail = bpf_walk_node_off(LIST_OFF, hops);
	struct bpf_walk_args wa = {.start = head, .hops = walk};

	uint8_t *dst = pony_buf_alloc(app[0], (size_t)inflight * size);
	uint64_t *t_sub = calloc(inflight, sizeof(*t_sub));
	unsigned *left = calloc(inflight, sizeof(*left)); /* --chase: reads still to go */
	unsigned *free_slots = calloc(inflight, sizeof(*free_slots));
	static struct bench_hist hist;
	bench_hist_reset(&hist);
	unsigned n_free = inflight;
	for (unsigned i = 0; i < inflight; i++)
		free_slots[i] = i;
	uint64_t issued = 0, done = 0, errors = 0, resp_cycles = 0;
	uint64_t hz = rte_get_tsc_hz(), t0 = rte_rdtsc(), deadline = t0 + 120 * hz;
	while (done < ops && rte_rdtsc() < deadline) {
		while (n_free && issued < ops) {
			unsigned slot = free_slots[n_free - 1];
			uint64_t off = (issued * 4099) % (rlen - 65536 - size) + 65536;
			uint8_t *d = dst + (size_t)slot * size;
			int r = walk	 ? pony_bpf_call(app[0], &rm, "walk", &wa, sizeof(wa), d, size,
							 slot)
				: chase	 ? pony_read_indirect(app[0], &rm, head, d, size,
							      PONY_INDIRECT_PTR, slot)
				: indirect ? pony_read_indirect(app[0], &rm, (issued % 8192) * 8, d, size,
								0, slot)
					   : pony_read(app[0], &rm, off, d, size, slot);
			if (r == -EAGAIN)
				break;
			if (r)
				return die("submit", r);
			t_sub[slot] = rte_rdtsc();
			left[slot] = chase ? chase - 1 : 0;
			n_free--;
			issued++;
		}
		now = rte_rdtsc();
		pony_app_host_poll(host[0], 256);
		deliver(&ends[0], ends[1].ip, now);
		pony_tp_poll(ends[0].tp, now);
		/* The responder engine's loop, timed: input, execute, respond. */
		uint64_t r0 = rte_rdtsc();
		deliver(&ends[1], ends[0].ip, r0);
		pony_tp_poll(ends[1].tp, r0);
		pony_app_host_poll(host[1], 256);
		resp_cycles += rte_rdtsc() - r0;
		int n;
		while ((n = pony_poll(app[0], c, 64)) > 0) {
			uint64_t t = rte_rdtsc();
			for (int k = 0; k < n; k++) {
				unsigned slot = (unsigned)c[k].tag;
				uint8_t *d = dst + (size_t)slot * size;
				uint64_t nd[3] = {0};
				if (walk || chase)
					memcpy(nd, d, (walk ? 2 : 3) * sizeof(uint64_t));
				if (c[k].status == 0 && left[slot]) { /* --chase: the next dependent read */
					left[slot]--;
					int r = pony_read_indirect(app[0], &rm, nd[2], d, size,
								   PONY_INDIRECT_PTR, slot);
					if (r)
						return die("chase submit", r);
					continue;
				}
				/* walk: {value, offset}; chase: the last node {next, value, self} */
				bool bad = walk ? nd[0] != 1000 + hops || nd[1] != tail
					: chase ? nd[1] != 1000 + hops : false;
				if (c[k].status != 0 || c[k].len != (walk ? 16 : size) || bad)
					errors++;
				bench_hist_record(&hist, (t - t_sub[slot]) * 1000000000ull / hz);
				free_slots[n_free++] = slot;
				done++;
			}
		}
	}
	double wall = (double)(rte_rdtsc() - t0) / (double)hz;
	double resp_s = (double)resp_cycles / (double)hz;
	struct pony_os_stats st;
	pony_tp_os_stats(ends[1].tp, &st);
	printf("{\"workload\":\"%s\",\"size\":%u,\"hops\":%u,\"inflight\":%u,\"ops\":%llu,"
	       "\"errors\":%llu,"
	       "\"ops_per_s_per_engine_core\":%.0f,\"ns_per_op_engine\":%.1f,"
	       "\"ops_per_s_loop\":%.0f,\"ops_per_req_pkt\":%.1f,"
	       "\"lat_ns\":{\"p50\":%llu,\"p99\":%llu,\"max\":%llu}}\n",
	       walk	  ? "onesided_bpf_walk"
	       : chase	  ? "onesided_indirect_chase"
	       : indirect ? "onesided_read_indirect"
			  : "onesided_read",
	       size, hops, inflight,
	       (unsigned long long)done, (unsigned long long)errors,
	       resp_s > 0 ? (double)done / resp_s : 0.0, resp_s * 1e9 / (double)(done ? done : 1),
	       (double)done / wall, st.req_pkts_rx ? (double)st.executed / (double)st.req_pkts_rx : 0,
	       (unsigned long long)bench_hist_quantile(&hist, 0.5),
	       (unsigned long long)bench_hist_quantile(&hist, 0.99),
	       (unsigned long long)hist.max);
	pony_app_unwrap(app[0]);
	pony_app_unwrap(app[1]);
	for (int i = 0; i < 2; i++) {
		pony_app_host_detach(host[i], sess[i]);
		pony_app_host_destroy(host[i]);
		for (unsigned k = 0; k < ends[i].n; k++)
			rte_pktmbuf_free(ends[i].q[k]);
		pony_tp_destroy(ends[i].tp);
	}
	free(t_sub);
	free(left);
	free(free_slots);
	rte_mempool_free(pool);
	rte_eal_cleanup();
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf /var/run/dpdk/%s /tmp/dpdk/%s 2>/dev/null", prefix, prefix);
	if (system(cmd) != 0) {
		/* best effort */
	}
	return done == ops && errors == 0 ? 0 : 1;
}
