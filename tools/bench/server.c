/* snapbench's echo server: echoes every message back on its conn, except sink messages of
 * the streaming workload, which it only counts. Backpressure instead of unbounded queues:
 * when a conn's send queue is full the message stays unread until the conn drains. */
#include "snapbench.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct server {
	const struct bench_opts *o;
	struct bench_tp *tp;
	uint64_t accepted, closed, echoed, sunk, bytes_in, errors;
};

static void up_accepted(void *ctx, struct bench_conn *c)
{
	struct server *s = ctx;
	s->accepted++;
}

static int up_msg(void *ctx, struct bench_conn *c, const void *buf, uint32_t len)
{
	struct server *s = ctx;
	struct bench_msg_hdr h;
	if (len < sizeof(h)) {
		s->errors++;
		return 0;
	}
	memcpy(&h, buf, sizeof(h));
	if (h.magic != BENCH_MSG_MAGIC) {
		s->errors++;
		return 0;
	}
	if (h.flags & BENCH_F_SINK) {
		s->sunk++;
		s->bytes_in += len;
		return 0;
	}
	int r = s->o->tp->send(s->tp, c, buf, len);
	if (r == -EAGAIN)
		return r;
	if (r < 0) {
		s->errors++;
		return 0;
	}
	s->echoed++;
	s->bytes_in += len;
	return 0;
}

static void up_closed(void *ctx, struct bench_conn *c, int err)
{
	struct server *s = ctx;
	s->closed++;
	if (err < 0)
		s->errors++;
}

int bench_server_run(const struct bench_opts *o)
{
	struct server s = { .o = o };
	struct bench_tp_cfg cfg = { .addr = o->addr, .port = o->port, .max_msg = o->max_msg,
				    .tx_queue = o->max_msg + 4 < (1u << 20) ? 1u << 20
									 : o->max_msg + 4,
				    .max_conns = o->max_conns };
	struct bench_tp_upcalls up = { .ctx = &s, .accepted = up_accepted, .msg = up_msg,
				       .closed = up_closed };
	s.tp = o->tp->create(&cfg, &up);
	if (!s.tp) {
		int e = errno;
		fprintf(stderr, "snapbench: %s transport: %s\n", o->tp->name, strerror(e));
		return -e;
	}
	uint16_t port = 0;
	int r = o->tp->listen(s.tp, &port);
	if (r < 0) {
		fprintf(stderr, "snapbench: listen on %s:%u: %s\n", o->addr, o->port, strerror(-r));
		o->tp->destroy(s.tp);
		return r;
	}
	fprintf(stderr, "LISTENING %u\n", port);
	fflush(stderr);
	uint64_t end = bench_now_ns() + (uint64_t)(o->duration * 1e9);
	while (!bench_stop && bench_now_ns() < end) {
		r = o->tp->poll(s.tp, 200);
		if (r < 0 && r != -EINTR)
			break;
		r = 0;
	}
	o->tp->destroy(s.tp);
	printf("{\"tool\":\"snapbench\",\"role\":\"server\",\"transport\":\"%s\",\"port\":%u,"
	       "\"accepted\":%llu,\"closed\":%llu,\"echoed\":%llu,\"sunk\":%llu,"
	       "\"bytes_in\":%llu,\"errors\":%llu,\"cpu_s\":%.3f}\n",
	       o->tp->name, port, (unsigned long long)s.accepted, (unsigned long long)s.closed,
	       (unsigned long long)s.echoed, (unsigned long long)s.sunk,
	       (unsigned long long)s.bytes_in, (unsigned long long)s.errors,
	       bench_proc_cpu_s(0, true));
	return r;
}
