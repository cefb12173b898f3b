/* Priority-class benchmark (issue 21): a latency-critical RPC stream next to scavenger bulk
 * streams that saturate the link, through two snapnetd daemons (tools/bench/qos.sh starts
 * them over memif). One program, two roles:
 *   qos_bench server --service S [--duration SEC]
 *       echoes every RPC message back on its stream in the class the request ran in (the
 *       RECV completion's qos_class: a downgraded request is answered in the lower class),
 *       swallows bulk messages; until SIGTERM or the duration.
 *   qos_bench client --addr A --service S --case NAME [--duration SEC] [--rpc-size B]
 *       [--rpc-streams N] [--rpc-inflight K] [--bulk-streams N] [--bulk-size B]
 *       [--bulk-inflight K] [--slo-us US]
 *       cases: unloaded (RPCs alone, critical), classes (RPCs critical, bulk scavenger),
 *       noclasses (both normal, as an app without classes), overload (many critical RPC
 *       streams next to the bulk: admission control downgrades; run against a daemon with
 *       qos_slo_critical_us set), overload-noac (the same against a daemon without an SLO:
 *       the latency the overload reaches when nothing downgrades), overload-floor (the
 *       same against a daemon whose SLO nothing meets: what the few RPCs still admitted
 *       get, the least any SLO can ask).
 * The client prints one JSON line: the RPCs' latency (send to echo) p50/p99/p999 over all
 * RPCs and over those that ran in the class they asked for, how many were downgraded (the
 * SEND completion's qos_class), the bulk throughput, and the SLO it was given (for the
 * report; nothing is checked against it). Exit 0 when RPCs completed and nothing failed.
 * Both roles use libpony only (PONY_SOCKET names the daemon), and take each polled batch
 * of completions in class order, critical first, as an app that uses classes would: the
 * completion ring is in arrival order, and an RPC the daemon put first would otherwise
 * wait in the app behind the bulk and downgraded work that arrived with it. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>

#include "hist.h"
#include "pony.h"

#define QB_MAGIC 0x51534f42u /* "BOSQ" */
#define QB_STREAMS_MAX 64    /* per client, and per server run */
#define QB_SLOTS_MAX 16      /* in flight per stream */
#define QB_DEPTH 16          /* server: receives posted per stream (>= QB_SLOTS_MAX) */
#define QB_CPL 64

enum { K_RPC = 1, K_BULK = 2 };

/* Every message starts with this (little-endian, as the hosts are). */
struct qb_hdr {
	uint32_t magic;
	uint8_t kind;  /* K_RPC: echo it; K_BULK: swallow it */
	uint8_t cls;   /* enum pony_class of the echo */
	uint16_t slot;
	uint64_t ts;   /* client's send time, ns */
};

static volatile sig_atomic_t qb_stop;
static void on_sig(int s)
{
	(void)s;
	qb_stop = 1;
}

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static uint64_t tag_of(unsigned kind, unsigned stream, unsigned slot)
{
	return (uint64_t)kind << 32 | (uint64_t)stream << 16 | slot;
}

struct opts {
	const char *addr, *case_name;
	uint16_t service;
	double duration;
	uint32_t rpc_size, rpc_streams, rpc_inflight;
	uint32_t bulk_streams, bulk_size, bulk_inflight;
	uint32_t slo_us;
};

/* Wait for the completion of op `op` with tag `tag` (open/listen), running nothing else
 * (nothing else is in flight yet). Returns it, status in .status; .op 0 on timeout. */
static struct pony_completion wait_op(struct pony_app *app, unsigned op)
{
	struct pony_completion c = {0};
	uint64_t end = now_ns() + 10000000000ull;
	while (now_ns() < end && !qb_stop) {
		int n = pony_poll(app, &c, 1);
		if (n < 0) {
			c.status = n;
			return c;
		}
		if (n == 1 && c.op == op)
			return c;
		if (n == 0)
			pony_wait(app, 100);
	}
	c.op = 0;
	c.status = -ETIMEDOUT;
	return c;
}

/* Class of a completion for the order a batch is taken in: a message's class (SEND: the
 * class it ran in, RECV: the class the sender ran it in), normal for anything else. */
static unsigned cpl_class(const struct pony_completion *c)
{
	if ((c->op == PONY_OP_SEND || c->op == PONY_OP_RECV) && c->status == 0 &&
	    c->qos_class <= PONY_CLASS_SCAVENGER)
		return c->qos_class;
	return PONY_CLASS_NORMAL;
}

/* Indexes of cpl[0..n) in class order, arrival order within a class. */
static void class_order(const struct pony_completion *cpl, int n, int *idx)
{
	int k = 0;
	for (unsigned cls = PONY_CLASS_CRITICAL; cls <= PONY_CLASS_SCAVENGER; cls++)
		for (int i = 0; i < n; i++)
			if (cpl_class(&cpl[i]) == cls)
				idx[k++] = i;
}

/* ---- Server ---- */

static int server(const struct opts *o)
{
	struct pony_app *app = pony_connect(NULL, NULL);
	if (app == NULL) {
		fprintf(stderr, "qos_bench: pony_connect: %s\n", pony_connect_error());
		return 1;
	}
	uint32_t max = o->bulk_size > o->rpc_size ? o->bulk_size : o->rpc_size;
	max = (max + 63) & ~63u;
	uint8_t *area = pony_buf_alloc(app, (size_t)QB_STREAMS_MAX * QB_DEPTH * max);
	if (area == NULL || pony_listen(app, o->service, 0) < 0 ||
	    wait_op(app, PONY_OP_LISTEN).status != 0) {
		fprintf(stderr, "qos_bench: server setup failed (area or listen)\n");
		pony_close(app);
		return 1;
	}
	fprintf(stderr, "LISTENING %u\n", o->service);
	uint32_t n_streams = 0;
	uint64_t end = o->duration > 0 ? now_ns() + (uint64_t)(o->duration * 1e9) : UINT64_MAX;
	uint64_t echoed = 0, errors = 0;
	struct pony_completion cpl[QB_CPL];
	int idx[QB_CPL];
	while (!qb_stop && now_ns() < end) {
		int n = pony_poll(app, cpl, QB_CPL);
		if (n < 0)
			break;
		if (n == 0) {
			pony_wait(app, 100);
			continue;
		}
		class_order(cpl, n, idx);
		for (int j = 0; j < n; j++) {
			struct pony_completion *c = &cpl[idx[j]];
			if (c->op == PONY_OP_ACCEPT) {
				if (n_streams == QB_STREAMS_MAX) {
					pony_stream_close(app, c->stream, 0);
					continue;
				}
				uint8_t *b = area + (size_t)n_streams++ * QB_DEPTH * max;
				for (unsigned k = 0; k < QB_DEPTH; k++)
					pony_recv_post(app, c->stream, b + (size_t)k * max, max, 0);
			} else if (c->op == PONY_OP_RECV && c->status == 0) {
				struct qb_hdr h;
				if (c->len < sizeof(h)) {
					errors++;
					pony_recv_post(app, c->stream, c->buf, max, 0);
					continue;
				}
				memcpy(&h, c->buf, sizeof(h));
				/* The echo runs in the class the request ran in (a downgraded
				 * request's answer too), not the one it asked for. */
				if (h.magic == QB_MAGIC && h.kind == K_RPC && c->qos_class <= 2 &&
				    pony_send_flags(app, c->stream, c->buf, c->len,
						    PONY_SEND_CLASS(c->qos_class), 1) == 0) {
					echoed++; /* the buffer is reposted when the echo completes */
					continue;
				}
				pony_recv_post(app, c->stream, c->buf, max, 0);
			} else if (c->op == PONY_OP_SEND) {
				if (c->status == 0)
					pony_recv_post(app, c->stream, c->buf, max, 0);
			} else if (c->status != 0 && c->op != PONY_OP_CLOSED) {
				errors++;
			}
		}
	}
	printf("{\"role\":\"server\",\"streams\":%u,\"echoed\":%" PRIu64 ",\"errors\":%" PRIu64
	       "}\n", n_streams, echoed, errors);
	pony_close(app);
	return 0;
}

/* ---- Client ---- */

struct qb_slot {
	uint8_t *buf;
	bool sent, echoed, busy;
	unsigned ran;
};

struct qb_stream {
	uint32_t id;
	unsigned kind, cls;
	uint32_t size, inflight;
	uint32_t echo_off; /* the echo lands this far into a slot's buffer (size, rounded up) */
	struct qb_slot slot[QB_SLOTS_MAX];
};

struct qb_client {
	struct pony_app *app;
	const struct opts *o;
	struct qb_stream s[QB_STREAMS_MAX];
	unsigned n;
	uint64_t rpcs, downgraded, bulk_msgs, bulk_bytes, errors;
	struct bench_hist all, in_class;
	bool measuring;
	/* Slots whose next message met a full command ring (-EAGAIN): issued again from the
	 * main loop once completions were taken. */
	uint32_t pend[QB_STREAMS_MAX * QB_SLOTS_MAX];
	unsigned n_pend;
};

static int issue(struct qb_client *q, unsigned si, unsigned k)
{
	struct qb_stream *s = &q->s[si];
	struct qb_slot *sl = &s->slot[k];
	struct qb_hdr h = {.magic = QB_MAGIC, .kind = (uint8_t)s->kind, .cls = (uint8_t)s->cls,
			   .slot = (uint16_t)k, .ts = now_ns()};
	memcpy(sl->buf, &h, sizeof(h));
	sl->sent = sl->echoed = false;
	sl->busy = true;
	int r = s->kind == K_RPC ? pony_recv_post(q->app, s->id, sl->buf + s->echo_off, s->size,
						  tag_of(K_RPC, si, k))
				 : 0;
	if (r < 0)
		return r;
	/* RPCs are marked: admission control measures them to their echo */
	return pony_send_flags(q->app, s->id, sl->buf, s->size,
			       s->kind == K_RPC ? PONY_SEND_RPC : 0, tag_of(s->kind, si, k));
}

/* Issue slot k of stream si again, or queue it for the main loop if the ring is full. */
static void reissue(struct qb_client *q, unsigned si, unsigned k)
{
	int r = qb_stop ? 0 : issue(q, si, k);
	if (r == -EAGAIN && q->n_pend < sizeof(q->pend) / sizeof(q->pend[0]))
		q->pend[q->n_pend++] = si << 16 | k;
	else if (r < 0 && q->errors++ < 4)
		fprintf(stderr, "qos_bench: stream %u slot %u not issued: %s\n", si, k,
			pony_strerror(r));
}

/* An RPC slot is done when both its send (class ran) and its echo completed. */
static void rpc_maybe_done(struct qb_client *q, unsigned si, unsigned k)
{
	struct qb_stream *s = &q->s[si];
	struct qb_slot *sl = &s->slot[k];
	if (!sl->sent || !sl->echoed)
		return;
	struct qb_hdr h;
	memcpy(&h, sl->buf + s->echo_off, sizeof(h));
	uint64_t lat = now_ns() - h.ts;
	if (q->measuring) {
		q->rpcs++;
		bench_hist_record(&q->all, lat);
		if (sl->ran == s->cls)
			bench_hist_record(&q->in_class, lat);
		else
			q->downgraded++;
	}
	sl->busy = false;
	reissue(q, si, k);
}

static void client_cpl(struct qb_client *q, const struct pony_completion *c)
{
	unsigned kind = (unsigned)(c->tag >> 32), si = (unsigned)(c->tag >> 16) & 0xffff,
		 k = (unsigned)c->tag & 0xffff;
	if (c->status != 0) {
		if (c->op != PONY_OP_CLOSED && q->errors++ < 4)
			fprintf(stderr, "qos_bench: op %u on stream %u failed: %s\n", c->op,
				c->stream, pony_strerror(c->status));
		return;
	}
	if (si >= q->n || k >= QB_SLOTS_MAX)
		return;
	struct qb_stream *s = &q->s[si];
	if (c->op == PONY_OP_SEND && kind == K_BULK) {
		if (q->measuring) {
			q->bulk_msgs++;
			q->bulk_bytes += c->len;
		}
		reissue(q, si, k);
	} else if (c->op == PONY_OP_SEND && kind == K_RPC) {
		s->slot[k].sent = true;
		s->slot[k].ran = c->qos_class;
		rpc_maybe_done(q, si, k);
	} else if (c->op == PONY_OP_RECV && kind == K_RPC) {
		s->slot[k].echoed = true;
		rpc_maybe_done(q, si, k);
	}
}

static int open_stream(struct qb_client *q, unsigned kind, unsigned cls, uint32_t size,
		       uint32_t inflight)
{
	struct qb_stream *s = &q->s[q->n];
	struct in_addr in;
	if (inet_pton(AF_INET, q->o->addr, &in) != 1)
		return -EINVAL;
	if (pony_stream_open_flags(q->app, ntohl(in.s_addr), q->o->service,
				   PONY_SEND_CLASS(cls), 0) < 0)
		return -EIO;
	struct pony_completion c = wait_op(q->app, PONY_OP_OPEN);
	if (c.op != PONY_OP_OPEN || c.status != 0)
		return c.status ? c.status : -EIO;
	*s = (struct qb_stream){.id = c.stream, .kind = kind, .cls = cls, .size = size,
				.inflight = inflight, .echo_off = (size + 63) & ~63u};
	for (unsigned k = 0; k < inflight; k++) {
		/* request and echo side by side */
		s->slot[k].buf = pony_buf_alloc(q->app, 2 * (size_t)s->echo_off);
		if (s->slot[k].buf == NULL)
			return -ENOMEM;
	}
	q->n++;
	return 0;
}

static int client(const struct opts *o)
{
	static struct qb_client q;
	q.o = o;
	bench_hist_reset(&q.all);
	bench_hist_reset(&q.in_class);
	q.app = pony_connect(NULL, NULL);
	if (q.app == NULL) {
		fprintf(stderr, "qos_bench: pony_connect: %s\n", pony_connect_error());
		return 1;
	}
	const char *cn = o->case_name;
	bool classes = strcmp(cn, "noclasses") != 0;
	bool bulk = strcmp(cn, "unloaded") != 0;
	unsigned rpc_cls = classes ? PONY_CLASS_CRITICAL : PONY_CLASS_NORMAL;
	unsigned bulk_cls = classes ? PONY_CLASS_SCAVENGER : PONY_CLASS_NORMAL;
	int r = 0;
	for (unsigned i = 0; r == 0 && i < o->rpc_streams; i++)
		r = open_stream(&q, K_RPC, rpc_cls, o->rpc_size, o->rpc_inflight);
	for (unsigned i = 0; r == 0 && bulk && i < o->bulk_streams; i++)
		r = open_stream(&q, K_BULK, bulk_cls, o->bulk_size, o->bulk_inflight);
	if (r != 0) {
		fprintf(stderr, "qos_bench: opening streams: %s\n", pony_strerror(r));
		pony_close(q.app);
		return 1;
	}
	/* Bulk first and a warm-up tenth of the run, so the RPCs meet a saturated link. */
	struct pony_completion cpl[QB_CPL];
	for (unsigned si = q.n; si-- > 0;)
		for (unsigned k = 0; k < q.s[si].inflight; k++) {
			int ir;
			/* A full command ring (-EAGAIN) drains as the daemon takes commands. */
			for (unsigned t = 0; (ir = issue(&q, si, k)) == -EAGAIN && t < 1000; t++) {
				int n = pony_poll(q.app, cpl, QB_CPL);
				for (int i = 0; i < n; i++)
					client_cpl(&q, &cpl[i]);
				if (n <= 0)
					pony_wait(q.app, 1);
			}
			if (ir < 0 && q.errors++ < 4)
				fprintf(stderr, "qos_bench: stream %u slot %u not issued: %s\n", si, k,
					pony_strerror(ir));
		}
	uint64_t t0 = now_ns(), warm = t0 + (uint64_t)(o->duration * 1e8);
	uint64_t end = warm + (uint64_t)(o->duration * 1e9), t_meas = 0;
	while (!qb_stop) {
		uint64_t t = now_ns();
		if (!q.measuring && t >= warm) {
			q.measuring = true;
			t_meas = t;
		}
		if (t >= end)
			break;
		int n = pony_poll(q.app, cpl, QB_CPL);
		if (n < 0) {
			q.errors++;
			break;
		}
		int idx[QB_CPL];
		class_order(cpl, n, idx);
		for (int i = 0; i < n; i++)
			client_cpl(&q, &cpl[idx[i]]);
		/* Sleep until a completion: the app shares its core with a polling engine, and a
		 * waking task gets the core at once where a spinning one waits for its slice. */
		unsigned np = q.n_pend;
		q.n_pend = 0;
		for (unsigned i = 0; i < np; i++)
			reissue(&q, q.pend[i] >> 16, q.pend[i] & 0xffff);
		int w = n == 0 && q.n_pend == 0 ? pony_wait(q.app, 1) : 0;
		if (w < 0 && w != -EINTR) {
			q.errors++;
			break;
		}
	}
	double secs = (double)(now_ns() - t_meas) / 1e9;
	printf("{\"case\":\"%s\",\"classes\":%s,\"rpc_size\":%u,\"rpc_streams\":%u,"
	       "\"rpc_inflight\":%u,\"bulk_streams\":%u,\"bulk_size\":%u,\"bulk_inflight\":%u,"
	       "\"duration_s\":%.3f,\"slo_us\":%u,\"rpcs\":%" PRIu64 ",\"rpcs_per_s\":%.1f,"
	       "\"downgraded\":%" PRIu64 ",\"downgrade_share\":%.4f,"
	       "\"lat_ns\":{\"p50\":%" PRIu64 ",\"p99\":%" PRIu64 ",\"p999\":%" PRIu64 "},"
	       "\"lat_in_class_ns\":{\"count\":%" PRIu64 ",\"p50\":%" PRIu64 ",\"p99\":%" PRIu64
	       "},\"bulk_gbit_per_s\":%.3f,\"errors\":%" PRIu64 "}\n",
	       cn, classes ? "true" : "false", o->rpc_size, o->rpc_streams, o->rpc_inflight,
	       bulk ? o->bulk_streams : 0, o->bulk_size, o->bulk_inflight, secs, o->slo_us,
	       q.rpcs, secs > 0 ? (double)q.rpcs / secs : 0.0, q.downgraded,
	       q.rpcs ? (double)q.downgraded / (double)q.rpcs : 0.0,
	       bench_hist_quantile(&q.all, 0.5), bench_hist_quantile(&q.all, 0.99),
	       bench_hist_quantile(&q.all, 0.999), q.in_class.count,
	       bench_hist_quantile(&q.in_class, 0.5), bench_hist_quantile(&q.in_class, 0.99),
	       secs > 0 ? (double)q.bulk_bytes * 8 / secs / 1e9 : 0.0, q.errors);
	pony_close(q.app);
	return q.rpcs > 0 && q.errors == 0 ? 0 : 1;
}

static int usage(void)
{
	fprintf(stderr, "usage: qos_bench server --service S [--duration SEC]\n"
			"       qos_bench client --addr A --service S --case "
			"unloaded|classes|noclasses|overload [--duration SEC] [--rpc-size B]\n"
			"         [--rpc-streams N] [--rpc-inflight K] [--bulk-streams N] "
			"[--bulk-size B] [--bulk-inflight K] [--slo-us US]\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	struct opts o = {.service = 5100, .duration = 5, .rpc_size = 64, .rpc_streams = 1,
			 .rpc_inflight = 1, .bulk_streams = 2, .bulk_size = 65536,
			 .bulk_inflight = 16, .case_name = "classes"};
	bool is_server = strcmp(argv[1], "server") == 0;
	if (!is_server && strcmp(argv[1], "client") != 0)
		return usage();
	static const struct option lo[] = {
		{"addr", required_argument, NULL, 'a'},      {"service", required_argument, NULL, 's'},
		{"case", required_argument, NULL, 'c'},      {"duration", required_argument, NULL, 'd'},
		{"rpc-size", required_argument, NULL, 'r'},  {"rpc-streams", required_argument, NULL, 'n'},
		{"rpc-inflight", required_argument, NULL, 'i'},
		{"bulk-streams", required_argument, NULL, 'B'},
		{"bulk-size", required_argument, NULL, 'S'},
		{"bulk-inflight", required_argument, NULL, 'I'},
		{"slo-us", required_argument, NULL, 'o'},    {0}};
	optind = 2;
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		unsigned long v = optarg ? strtoul(optarg, NULL, 10) : 0;
		switch (c) {
		case 'a': o.addr = optarg; break;
		case 's': o.service = (uint16_t)v; break;
		case 'c': o.case_name = optarg; break;
		case 'd': o.duration = strtod(optarg, NULL); break;
		case 'r': o.rpc_size = (uint32_t)v; break;
		case 'n': o.rpc_streams = (uint32_t)v; break;
		case 'i': o.rpc_inflight = (uint32_t)v; break;
		case 'B': o.bulk_streams = (uint32_t)v; break;
		case 'S': o.bulk_size = (uint32_t)v; break;
		case 'I': o.bulk_inflight = (uint32_t)v; break;
		case 'o': o.slo_us = (uint32_t)v; break;
		default: return usage();
		}
	}
	if (o.rpc_size < sizeof(struct qb_hdr) || o.bulk_size < sizeof(struct qb_hdr) ||
	    o.bulk_size > (1u << 20) || o.rpc_inflight == 0 || o.rpc_inflight > QB_SLOTS_MAX ||
	    o.bulk_inflight == 0 || o.bulk_inflight > QB_SLOTS_MAX ||
	    o.rpc_streams + o.bulk_streams > QB_STREAMS_MAX || o.rpc_streams == 0 ||
	    !(o.duration > 0 && o.duration <= 600)) {
		fprintf(stderr, "qos_bench: option out of range\n");
		return 2;
	}
	if (!is_server && (o.addr == NULL || (strcmp(o.case_name, "unloaded") &&
					      strcmp(o.case_name, "classes") &&
					      strcmp(o.case_name, "noclasses") &&
					      strcmp(o.case_name, "overload") &&
					      strcmp(o.case_name, "overload-noac") &&
					      strcmp(o.case_name, "overload-floor"))))
		return usage();
	signal(SIGTERM, on_sig);
	signal(SIGINT, on_sig);
	return is_server ? server(&o) : client(&o);
}
