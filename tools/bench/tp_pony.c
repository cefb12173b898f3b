/* snapbench's Pony Express backend: its operations (create, listen, connect, send, read,
 * poll); see tp_pony.h. */
#include "tp_pony.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

static void pt_destroy(struct bench_tp *tp)
{
	if (!tp)
		return;
	pony_close(tp->app); /* closes every stream; the peers see them close */
	free(tp->tx_free);
	free(tp->tx_built);
	free(tp->rd_cookie);
	free(tp->rd_dst);
	free(tp->conns);
	free(tp);
}

static struct bench_tp *pt_create(const struct bench_tp_cfg *cfg,
				  const struct bench_tp_upcalls *up)
{
	struct bench_tp *tp = calloc(1, sizeof(*tp));
	if (!tp)
		return NULL;
	tp->cfg = *cfg;
	tp->up = *up;
	tp->server = up->accepted != NULL;
	tp->cap = cfg->max_conns ? cfg->max_conns : 1;
	tp->conns = calloc(tp->cap, sizeof(*tp->conns));
	struct pony_opts opts = { .engine = getenv("SNAPBENCH_PONY_ENGINE"), .timeout_ms = 0 };
	if (tp->conns)
		tp->app = pony_connect(NULL, &opts);
	if (!tp->app) {
		int e = tp->conns ? errno : ENOMEM;
		if (tp->conns)
			fprintf(stderr, "snapbench: pony_connect (%s): %s\n",
				getenv("PONY_SOCKET") ? getenv("PONY_SOCKET") : PONY_DEFAULT_SOCKET,
				pony_connect_error());
		free(tp->conns);
		free(tp);
		errno = e;
		return NULL;
	}
	/* Split the payload area: half for receive buffers, a quarter for send copies. */
	uint64_t area = pony_buf_area_size(tp->app);
	uint32_t rx_max = cfg->rx_max && cfg->rx_max < cfg->max_msg ? cfg->rx_max : cfg->max_msg;
	tp->rx_size = round_up(rx_max);
	if (cfg->rx_depth) {
		tp->depth = cfg->rx_depth;
	} else {
		/* A server does not know the workload: as many as the area and the op budget
		 * allow for max_conns streams of max_msg messages. */
		const char *ev = getenv("SNAPBENCH_PONY_RX_OPS");
		uint64_t budget = ev ? strtoull(ev, NULL, 10) : PT_RX_OPS_BUDGET;
		uint64_t d = area / 2 / ((uint64_t)tp->cap * tp->rx_size);
		uint64_t o = budget / tp->cap;
		tp->depth = (uint32_t)(d < o ? d : o);
	}
	if (tp->depth > PT_RX_DEPTH_MAX)
		tp->depth = PT_RX_DEPTH_MAX;
	if (!cfg->rx_depth && tp->depth > 4 && (uint64_t)tp->depth * tp->rx_size > PT_RX_BYTES) {
		uint32_t b = (uint32_t)(PT_RX_BYTES / tp->rx_size);
		tp->depth = b > 4 ? b : 4;
	}
	if (tp->depth == 0)
		tp->depth = 1;
	tp->tx_size = round_up(cfg->max_msg);
	uint64_t ntx = area / 4 / tp->tx_size;
	tp->n_tx = (uint32_t)(ntx > PT_TX_BUFS_MAX ? PT_TX_BUFS_MAX : ntx ? ntx : 1);
	tp->tx = pony_buf_alloc(tp->app, (size_t)tp->tx_size * tp->n_tx);
	tp->tx_free = calloc(tp->n_tx, sizeof(*tp->tx_free));
	tp->tx_built = calloc(tp->n_tx, sizeof(*tp->tx_built));
	tp->msg_held = PT_NO_BUF;
	tp->rd_cookie = calloc(tp->n_tx, sizeof(*tp->rd_cookie));
	tp->rd_dst = calloc(tp->n_tx, sizeof(*tp->rd_dst));
	if (!tp->tx || !tp->tx_free || !tp->tx_built || !tp->rd_cookie || !tp->rd_dst) {
		fprintf(stderr, "snapbench: pony area of %llu bytes too small for %u send buffers "
			"of %u bytes\n", (unsigned long long)area, tp->n_tx, tp->tx_size);
		pt_destroy(tp);
		errno = ENOMEM;
		return NULL;
	}
	for (uint32_t i = 0; i < tp->n_tx; i++)
		tp->tx_free[tp->tx_top++] = tp->n_tx - 1 - i;
	return tp;
}

/* Server: registers the region that clients read (a pattern, read-only) and waits for its
 * id and key. A daemon that refuses (no regions configured) only costs the read workload:
 * hellos then name region 0, and reads complete with the remote's error. */
static int listen_region(struct bench_tp *tp)
{
	uint8_t *reg = pony_buf_alloc(tp->app, PT_REGION_BYTES);
	tp->region = (struct pt_hello){ .magic = PT_HELLO_MAGIC };
	if (!reg)
		return 0;
	for (uint32_t i = 0; i < PT_REGION_BYTES; i++)
		reg[i] = (uint8_t)i;
	int r = pony_region_register(tp->app, reg, PT_REGION_BYTES, PONY_REGION_READ,
				     tag_of(K_REGION, 0, 0));
	uint64_t end = now_ns() + 5000000000ull;
	struct pony_completion cpl[PT_CPL_BATCH];
	while (r == 0 && now_ns() < end) {
		int n = pony_poll(tp->app, cpl, PT_CPL_BATCH);
		if (n < 0)
			return n;
		for (int i = 0; i < n; i++) {
			if (cpl[i].op != PONY_OP_REGION_REG) {
				pt_handle(tp, &cpl[i]);
				continue;
			}
			if (cpl[i].status == 0) {
				tp->region.region = cpl[i].region;
				tp->region.key = cpl[i].key;
			} else {
				fprintf(stderr, "snapbench: region register: %s (reads will fail)\n",
					pony_strerror(cpl[i].status));
			}
			return 0;
		}
		if (n == 0 && (r = pony_wait(tp->app, 100)) < 0 && r != -EINTR)
			return r;
		r = 0;
	}
	return r < 0 ? r : -ETIMEDOUT;
}

/* One-sided read into dst through a send-pool buffer (reads land in the payload area). */
static int pt_read(struct bench_tp *tp, struct bench_conn *bc, uint64_t off, void *dst,
		   uint32_t len, uint64_t cookie)
{
	struct pt_conn *c = (struct pt_conn *)bc;
	if (c->state != S_OPEN || !c->hello)
		return -ENOTCONN;
	if (len == 0 || len > tp->tx_size || len > PONY_ONESIDED_MAX)
		return -EMSGSIZE;
	uint32_t i = pt_tx_take(tp);
	if (i == PT_NO_BUF)
		return -EAGAIN;
	int r = pony_read(tp->app, &c->remote, off, tp->tx + (size_t)i * tp->tx_size, len,
			  tag_of(K_READ, c->slot, i));
	if (r < 0) {
		tp->tx_free[tp->tx_top++] = i;
		return r;
	}
	tp->rd_cookie[i] = cookie;
	tp->rd_dst[i] = dst;
	c->ops++;
	return 0;
}

static int pt_listen(struct bench_tp *tp, uint16_t *port)
{
	tp->service = tp->cfg.port ? tp->cfg.port : PT_DEFAULT_SERVICE;
	int r = pony_listen(tp->app, tp->service, tag_of(K_LISTEN, 0, 0));
	if (r < 0)
		return r;
	uint64_t end = now_ns() + 5000000000ull;
	struct pony_completion cpl[PT_CPL_BATCH];
	while (now_ns() < end) {
		int n = pony_poll(tp->app, cpl, PT_CPL_BATCH);
		if (n < 0)
			return n;
		for (int i = 0; i < n; i++) {
			if (cpl[i].op != PONY_OP_LISTEN) {
				pt_handle(tp, &cpl[i]);
				continue;
			}
			if (cpl[i].status < 0)
				return cpl[i].status;
			*port = tp->service;
			return listen_region(tp);
		}
		if (n == 0 && (r = pony_wait(tp->app, 100)) < 0 && r != -EINTR)
			return r;
	}
	return -ETIMEDOUT;
}

static int pt_connect(struct bench_tp *tp, unsigned n, struct bench_conn **conns,
		      int timeout_ms)
{
	if (n > tp->cap)
		return -EINVAL;
	uint64_t end = now_ns() + (uint64_t)timeout_ms * 1000000ull;
	int r = 0;
	unsigned queued = 0;
	struct in_addr peer;
	if (inet_pton(AF_INET, tp->cfg.addr, &peer) != 1)
		return -EINVAL;
	tp->open_err = 0;
	/* Queue every open (polling results whenever the command ring is full), then wait
	 * for all results. */
	while ((queued < n || tp->opening || tp->hellos < queued) &&
	       !tp->open_err) {
		while (queued < n) {
			struct pt_conn *c = &tp->conns[queued];
			if (queued >= tp->hw) {
				if (!pt_conn_new(tp, 0)) {
					r = -ENOMEM;
					goto fail;
				}
				c->pub.id = tp->next_id++;
				tp->live++;
			}
			r = pony_stream_open_str(tp->app, tp->cfg.addr, tp->cfg.port,
						 tag_of(K_OPEN, c->slot, 0));
			if (r == -EAGAIN)
				break;
			if (r < 0)
				goto fail;
			tp->opening++;
			queued++;
		}
		r = pt_drain(tp);
		if (r < 0)
			goto fail;
		if (now_ns() >= end) {
			r = -ETIMEDOUT;
			goto fail;
		}
		if (r == 0 && (r = pony_wait(tp->app, 50)) < 0 && r != -EINTR)
			goto fail;
	}
	if (tp->open_err) {
		r = tp->open_err;
		goto fail;
	}
	for (unsigned i = 0; i < n; i++) {
		conns[i] = &tp->conns[i].pub;
		tp->conns[i].remote.ip = ntohl(peer.s_addr);
		tp->conns[i].remote.port = 0;
	}
	return 0;
fail:
	/* No conn stays open: close what opened, let the others' opens finish or lapse. */
	for (unsigned i = 0; i < tp->hw; i++)
		if (tp->conns[i].state == S_OPEN)
			pt_conn_kill(tp, &tp->conns[i], r, false);
	return r;
}

/* No send buffer free: c waits in line for one (writable() when it comes). */
static int starve(struct bench_tp *tp, struct pt_conn *c)
{
	c->want_tx = true;
	pt_starved_add(tp, c);
	return -EAGAIN;
}

/* Whether c may queue a message of len bytes now: 0, -ENOTCONN, -EMSGSIZE, or -EAGAIN when
 * it has PT_STREAM_SENDS or PT_STREAM_BYTES in flight (its own next send completion wakes
 * it). */
static int may_send(const struct bench_tp *tp, struct pt_conn *c, uint32_t len)
{
	if (c->state != S_OPEN)
		return -ENOTCONN;
	if (len < BENCH_MSG_MIN || len > tp->cfg.max_msg)
		return -EMSGSIZE;
	if (c->sends >= PT_STREAM_SENDS ||
	    (c->sends >= 2 && c->send_bytes + len > PT_STREAM_BYTES)) {
		c->want_tx = true;
		return -EAGAIN;
	}
	return 0;
}

static int pt_send(struct bench_tp *tp, struct bench_conn *bc, const void *buf, uint32_t len)
{
	struct pt_conn *c = (struct pt_conn *)bc;
	int r = may_send(tp, c, len);
	if (r < 0)
		return r;
	if (buf == tp->cur_rx && !tp->cur_taken) {
		/* Echo of the buffer being delivered: send it as is, re-post it afterwards. */
		uint32_t slot = (uint32_t)((tp->cur_rx - c->rx) / tp->rx_size);
		r = pony_send(tp->app, c->stream, buf, len, tag_of(K_SEND_ZC, c->slot, slot));
		if (r == 0)
			tp->cur_taken = true;
	} else if (tp->msg_held != PT_NO_BUF &&
		   buf == tp->tx + (size_t)tp->msg_held * tp->tx_size) {
		/* Built in place (msg_buf): sent from where it is. */
		uint32_t i = tp->msg_held;
		r = pony_send(tp->app, c->stream, buf, len, tag_of(K_SEND_COPY, c->slot, i));
		if (r == 0)
			tp->msg_held = PT_NO_BUF;
	} else {
		uint32_t i = pt_tx_take(tp);
		if (i == PT_NO_BUF)
			return starve(tp, c);
		uint8_t *dst = tp->tx + (size_t)i * tp->tx_size;
		memcpy(dst, buf, len);
		r = pony_send(tp->app, c->stream, dst, len, tag_of(K_SEND_COPY, c->slot, i));
		if (r < 0)
			tp->tx_free[tp->tx_top++] = i;
	}
	if (r == -EAGAIN) {
		c->want_tx = true;
		tp->ring_full = true;
		pt_list_add(&tp->ringwait, c);
		return r;
	}
	if (r < 0)
		return r == -EBADF ? -ENOTCONN : r;
	c->sends++;
	c->send_bytes += len;
	c->ops++;
	return 0;
}

static int pt_msg_buf(struct bench_tp *tp, struct bench_conn *bc, uint32_t len, void **buf,
		      bool *built)
{
	struct pt_conn *c = (struct pt_conn *)bc;
	int r = may_send(tp, c, len);
	if (r < 0)
		return r;
	uint32_t i = tp->msg_held;
	if (i == PT_NO_BUF) {
		if (!tp->tx_top)
			return starve(tp, c);
		i = tp->msg_held = tp->tx_free[--tp->tx_top];
	}
	*buf = tp->tx + (size_t)i * tp->tx_size;
	*built = tp->tx_built[i] >= len;
	if (!*built)
		tp->tx_built[i] = len;
	return 0;
}

static int pt_poll(struct bench_tp *tp, int timeout_ms)
{
	pt_list_wake(tp, &tp->ringwait); /* the engine drains the ring on every poll */
	tp->ring_full = false;
	pt_starved_wake(tp);
	int done = pt_run_waiters(tp);
	int n = pt_drain(tp);
	if (n < 0)
		return n;
	if (n == 0 && (done == 0 || tp->ring_full)) {
		/* Nothing to do, or nothing more until the engine takes commands (it runs while
		 * we wait, often on this CPU: retrying at once would only keep it off): block
		 * in libpony until the engine signals a completion. Conns waiting for
		 * command-ring room get no completion for it, so they bound the wait. */
		int t = tp->ringwait && (timeout_ms < 0 || timeout_ms > PT_WAITER_POLL_MS)
				? PT_WAITER_POLL_MS : timeout_ms;
		int w = pony_wait(tp->app, t);
		if (w < 0)
			return w;
		if (w > 0 && (n = pt_drain(tp)) < 0)
			return n;
		pt_list_wake(tp, &tp->ringwait);
		tp->ring_full = false;
	}
	return n + done + pt_run_waiters(tp);
}

const struct bench_tp_ops bench_tp_pony = {
	.name = "pony",
	.create = pt_create,
	.destroy = pt_destroy,
	.listen = pt_listen,
	.connect = pt_connect,
	.send = pt_send,
	.msg_buf = pt_msg_buf,
	.poll = pt_poll,
	.read = pt_read,
};
