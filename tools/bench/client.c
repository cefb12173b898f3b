/* snapbench's load generator: RPC workloads (ping-pong, closed loop, many conns), one-way
 * streaming and one-sided reads, written against the bench_tp_ops interface only. Every
 * run stops at the op count or the duration, whichever comes first, then drains what is in
 * flight for at most BENCH_DRAIN_NS. The per-op path allocates nothing. */
#include "snapbench.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_DRAIN_NS (5ull * 1000000000ull)
#define BENCH_CONNECT_MS 20000
#define BENCH_POLL_MS 50

struct cconn {
	uint32_t slots;    /* RPCs (or reads) this conn keeps in flight */
	uint32_t inflight;
	uint32_t deferred; /* RPCs to send once the conn is writable again */
	bool need_sync;    /* stream: the final sync message still has to go out */
	bool synced;       /* stream: the sync's echo came back */
	bool closed;
};

struct client {
	const struct bench_opts *o;
	struct bench_tp *tp;
	struct bench_conn **conns;
	struct cconn *cc;
	uint8_t *buf;      /* the message (or read destination), reused for every op */
	struct bench_result *res;
	uint64_t issued;
	uint64_t outstanding;
	uint64_t deadline;
	uint64_t t_last;
	uint32_t synced;
	bool stopping;
};

static bool may_issue(struct client *cl, uint64_t now)
{
	if (!cl->stopping && (cl->issued >= cl->o->ops || now >= cl->deadline || bench_stop))
		cl->stopping = true;
	return !cl->stopping;
}

/* Where the next message (cl->buf's bytes, then its header) is built: in a buffer of the
 * transport's when it offers one (send() then copies nothing: as each stack's own app would
 * send, a socket's from its memory, a Pony app's from its payload area), else in cl->buf.
 * NULL with *err (-EAGAIN: none free until writable()). */
static uint8_t *msg_begin(struct client *cl, struct bench_conn *c, uint32_t flags,
			  uint64_t now, int *err)
{
	uint8_t *m = cl->buf;
	if (cl->o->tp->msg_buf) {
		void *b;
		bool built;
		int r = cl->o->tp->msg_buf(cl->tp, c, cl->o->size, &b, &built);
		if (r < 0) {
			*err = r;
			return NULL;
		}
		m = b;
		if (!built)
			memcpy(m, cl->buf, cl->o->size);
	}
	struct bench_msg_hdr h = { .magic = BENCH_MSG_MAGIC, .flags = flags, .tag = now };
	memcpy(m, &h, sizeof(h));
	return m;
}

/* Sends one RPC on conn; 0, -EAGAIN (deferred until writable) or -errno. */
static int rpc_issue(struct client *cl, struct bench_conn *c, uint64_t now)
{
	int r;
	uint8_t *m = msg_begin(cl, c, 0, now, &r);
	if (!m)
		return r;
	r = cl->o->tp->send(cl->tp, c, m, cl->o->size);
	if (r == 0) {
		cl->issued++;
		cl->outstanding++;
		cl->cc[c->id].inflight++;
	}
	return r;
}

static void rpc_fill(struct client *cl, struct bench_conn *c)
{
	struct cconn *cc = &cl->cc[c->id];
	while (cc->deferred && !cc->closed) {
		uint64_t now = bench_now_ns();
		if (!may_issue(cl, now)) {
			cc->deferred = 0;
			return;
		}
		int r = rpc_issue(cl, c, now);
		if (r == -EAGAIN)
			return;
		cc->deferred--;
		if (r < 0)
			cl->res->errors++;
	}
}

static int stream_sync(struct client *cl, struct bench_conn *c)
{
	struct bench_msg_hdr h = { .magic = BENCH_MSG_MAGIC, .flags = 0, .tag = bench_now_ns() };
	int r = cl->o->tp->send(cl->tp, c, &h, sizeof(h));
	if (r == 0) {
		cl->cc[c->id].need_sync = false;
		cl->outstanding++;
	}
	return r;
}

/* Streams sink messages on conn until the transport pushes back or the run ends. */
static void stream_pump(struct client *cl, struct bench_conn *c)
{
	struct cconn *cc = &cl->cc[c->id];
	while (!cc->closed) {
		if (cc->need_sync) {
			if (stream_sync(cl, c) < 0)
				return;
			continue;
		}
		if (cc->synced || cl->stopping)
			return;
		uint64_t now = bench_now_ns();
		if (!may_issue(cl, now))
			return;
		int r;
		uint8_t *m = msg_begin(cl, c, BENCH_F_SINK, now, &r);
		if (m)
			r = cl->o->tp->send(cl->tp, c, m, cl->o->size);
		if (r == -EAGAIN)
			return;
		if (r < 0) {
			cl->res->errors++;
			return;
		}
		cl->issued++;
		cl->res->ops++;
		cl->res->bytes += cl->o->size;
	}
}

static int up_msg(void *ctx, struct bench_conn *c, const void *buf, uint32_t len)
{
	struct client *cl = ctx;
	struct cconn *cc = &cl->cc[c->id];
	struct bench_msg_hdr h;
	uint64_t now = bench_now_ns();
	if (len < sizeof(h)) {
		cl->res->errors++;
		return 0;
	}
	memcpy(&h, buf, sizeof(h));
	if (h.magic != BENCH_MSG_MAGIC || h.tag > now || cl->outstanding == 0) {
		cl->res->errors++;
		return 0;
	}
	cl->outstanding--;
	cl->t_last = now;
	if (cl->o->wl == BENCH_WL_STREAM) {
		cc->synced = true;
		cl->synced++;
		return 0;
	}
	if (len != cl->o->size) {
		cl->res->errors++;
		return 0;
	}
	bench_hist_record(&cl->res->lat, now - h.tag);
	cl->res->ops++;
	cl->res->bytes += 2ull * len;
	cc->inflight--;
	if (may_issue(cl, now)) {
		int r = rpc_issue(cl, c, now);
		if (r == -EAGAIN)
			cc->deferred++;
		else if (r < 0)
			cl->res->errors++;
	}
	return 0;
}

static void up_writable(void *ctx, struct bench_conn *c)
{
	struct client *cl = ctx;
	if (cl->o->wl == BENCH_WL_STREAM)
		stream_pump(cl, c);
	else
		rpc_fill(cl, c);
}

static void up_closed(void *ctx, struct bench_conn *c, int err)
{
	struct client *cl = ctx;
	struct cconn *cc = &cl->cc[c->id];
	cc->closed = true;
	cl->res->errors++;
	if (cl->outstanding >= cc->inflight)
		cl->outstanding -= cc->inflight;
	cc->inflight = 0;
	/* Say why for the first few only: a failing 1,000-conn run must not flood the log. */
	if (cl->res->errors <= 3)
		fprintf(stderr, "snapbench: conn %u closed: %s\n", c->id,
			err ? strerror(-err) : "by peer");
}

static void up_read_done(void *ctx, struct bench_conn *c, uint64_t cookie, int status)
{
	struct client *cl = ctx;
	uint64_t now = bench_now_ns();
	cl->outstanding--;
	cl->cc[c->id].inflight--;
	cl->t_last = now;
	if (status < 0 || cookie > now) {
		cl->res->errors++;
	} else {
		bench_hist_record(&cl->res->lat, now - cookie);
		cl->res->ops++;
		cl->res->bytes += cl->o->size;
	}
	if (may_issue(cl, now)) {
		if (cl->o->tp->read(cl->tp, c, 0, cl->buf, cl->o->size, now) == 0) {
			cl->issued++;
			cl->outstanding++;
			cl->cc[c->id].inflight++;
		} else {
			cl->res->errors++;
		}
	}
}

/* Puts the first ops of every conn in flight. */
static void start_ops(struct client *cl, uint64_t now)
{
	const struct bench_opts *o = cl->o;
	for (uint32_t i = 0; i < o->conns; i++) {
		struct bench_conn *c = cl->conns[i];
		struct cconn *cc = &cl->cc[i];
		if (o->wl == BENCH_WL_STREAM) {
			stream_pump(cl, c);
			continue;
		}
		for (uint32_t k = 0; k < cc->slots && may_issue(cl, now); k++) {
			int r;
			if (o->wl == BENCH_WL_READ) {
				r = o->tp->read(cl->tp, c, 0, cl->buf, o->size, now);
				if (r == 0) {
					cl->issued++;
					cl->outstanding++;
					cc->inflight++;
				}
			} else {
				r = rpc_issue(cl, c, now);
			}
			if (r == -EAGAIN)
				cc->deferred++;
			else if (r < 0)
				cl->res->errors++;
		}
	}
}

/* Stream end: once sending stops, every conn sends a sync that the server echoes after all
 * earlier bytes, so the measured time covers delivery, not just the hand-over to the
 * transport. */
static void stream_finish(struct client *cl)
{
	for (uint32_t i = 0; i < cl->o->conns; i++) {
		struct cconn *cc = &cl->cc[i];
		if (cc->closed || cc->synced || cc->need_sync)
			continue;
		cc->need_sync = true;
		stream_pump(cl, cl->conns[i]);
	}
}

static bool finished(struct client *cl)
{
	if (!cl->stopping)
		return false;
	if (cl->o->wl == BENCH_WL_STREAM) {
		uint32_t open = 0;
		for (uint32_t i = 0; i < cl->o->conns; i++)
			open += !cl->cc[i].closed;
		return cl->synced >= open;
	}
	return cl->outstanding == 0;
}

int bench_client_run(const struct bench_opts *o, struct bench_result *res)
{
	if (o->wl == BENCH_WL_READ && !o->tp->read) {
		fprintf(stderr, "snapbench: transport %s has no one-sided reads\n", o->tp->name);
		return -EOPNOTSUPP;
	}
	if (o->conns == 0 || o->size < BENCH_MSG_MIN || o->size > o->max_msg) {
		fprintf(stderr, "snapbench: need conns >= 1 and %u <= size <= max-msg %u\n",
			BENCH_MSG_MIN, o->max_msg);
		return -EINVAL;
	}
	struct client cl = { .o = o, .res = res };
	memset(res, 0, sizeof(*res));
	bench_hist_reset(&res->lat);
	cl.conns = calloc(o->conns, sizeof(*cl.conns));
	cl.cc = calloc(o->conns, sizeof(*cl.cc));
	cl.buf = calloc(1, o->size);
	int r = -ENOMEM;
	if (!cl.conns || !cl.cc || !cl.buf)
		goto out;
	for (uint32_t i = 0; i < o->conns; i++)
		cl.cc[i].slots = o->inflight / o->conns + (i < o->inflight % o->conns);

	/* A client receives only echoes of its own messages (stream: the small sync echo), at
	 * most its per-conn share of the RPCs in flight at a time. */
	uint32_t depth = (o->inflight + o->conns - 1) / o->conns;
	struct bench_tp_cfg cfg = { .addr = o->addr, .port = o->port, .max_msg = o->max_msg,
				    .tx_queue = 0, .max_conns = o->conns,
				    .rx_max = o->wl == BENCH_WL_STREAM ? BENCH_MSG_MIN : o->size,
				    .rx_depth = o->wl == BENCH_WL_STREAM ? 1 : (depth ? depth : 1) };
	struct bench_tp_upcalls up = { .ctx = &cl, .msg = up_msg, .writable = up_writable,
				       .closed = up_closed, .read_done = up_read_done };
	cl.tp = o->tp->create(&cfg, &up);
	if (!cl.tp) {
		r = -errno;
		fprintf(stderr, "snapbench: %s transport: %s\n", o->tp->name, strerror(errno));
		goto out;
	}
	r = o->tp->connect(cl.tp, o->conns, cl.conns, BENCH_CONNECT_MS);
	if (r < 0) {
		fprintf(stderr, "snapbench: connect %u conns to %s:%u: %s\n", o->conns, o->addr,
			o->port, strerror(-r));
		goto out;
	}

	if (o->hold > 0) {
		/* Conns open, nothing in flight: whatever the transport does now is its idle
		 * cost with this many conns (callgrind.sh --pony measures it). */
		fprintf(stderr, "HOLDING\n");
		uint64_t until = bench_now_ns() + (uint64_t)(o->hold * 1e9);
		while (!bench_stop && bench_now_ns() < until) {
			r = o->tp->poll(cl.tp, BENCH_POLL_MS);
			if (r < 0 && r != -EINTR)
				goto out;
		}
		fprintf(stderr, "STARTING\n");
	}
	uint64_t t0 = bench_now_ns();
	double cpu0 = bench_proc_cpu_s(0, true), cpu0_stat = bench_proc_cpu_s(0, false);
	cl.deadline = t0 + (uint64_t)(o->duration * 1e9);
	uint64_t hard = cl.deadline + BENCH_DRAIN_NS;
	cl.t_last = t0;
	start_ops(&cl, t0);
	bool synced_started = false;
	r = 0;
	for (;;) {
		uint64_t now = bench_now_ns();
		may_issue(&cl, now);
		if (cl.stopping && o->wl == BENCH_WL_STREAM && !synced_started) {
			synced_started = true;
			stream_finish(&cl);
		}
		if (finished(&cl))
			break;
		if (now >= hard) {
			fprintf(stderr, "snapbench: %llu ops still in flight after the drain time\n",
				(unsigned long long)cl.outstanding);
			res->errors++;
			break;
		}
		int n = o->tp->poll(cl.tp, BENCH_POLL_MS);
		if (n < 0 && n != -EINTR) {
			r = n;
			break;
		}
	}
	res->secs = (double)(cl.t_last - t0) / 1e9;
	double cpu1 = bench_proc_cpu_s(0, true), cpu1_stat = bench_proc_cpu_s(0, false);
	res->cpu_s = (cpu0 >= 0 && cpu1 >= 0) ? cpu1 - cpu0 : -1;
	res->cpu_stat_s = (cpu0_stat >= 0 && cpu1_stat >= 0) ? cpu1_stat - cpu0_stat : -1;
out:
	o->tp->destroy(cl.tp);
	free(cl.buf);
	free(cl.cc);
	free(cl.conns);
	return r;
}
