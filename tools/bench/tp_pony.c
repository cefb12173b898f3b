/* snapbench's Pony Express backend: a conn is a libpony stream on a snapnetd engine reached
 * through its app socket ($PONY_SOCKET). Messages are received into buffers posted ahead in
 * the shared payload area (their count is the peer's credit), sent from that area (a copy
 * of the caller's buffer, or zero-copy when an echo server sends back the buffer it was
 * just handed), and every result comes back on libpony's completion ring. One-sided reads
 * go to a region the server registers and names in a hello on every stream. */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <pony.h>

#define PT_CPL_BATCH 64        /* completions taken per pony_poll */
/* Sends in flight per stream. The engine refuses sends beyond its sendq_max (run.sh
 * configures 128); staying below keeps that a -EAGAIN here instead of a failed send. */
#define PT_STREAM_SENDS 64
#define PT_RX_DEPTH_MAX 32     /* receive buffers posted per stream */
/* Receive buffers posted over all streams of a server, below the daemon's per-app op limit
 * (run.sh configures app_max_ops = 16384; sends in flight need ops too). A daemon with a
 * smaller limit needs $SNAPBENCH_PONY_RX_OPS set below it. */
#define PT_RX_OPS_BUDGET 8192
#define PT_TX_BUFS_MAX 8192    /* copy-in send buffers */
#define PT_GRAIN 128           /* buffer size granule (libpony's allocator block) */
#define PT_DEFAULT_SERVICE 5000
#define PT_CMD_SPIN_NS (1000ull * 1000000ull) /* longest wait for room on the command ring */
#define PT_WAITER_POLL_MS 1    /* wait bound while conns wait for room that no completion signals */

enum pt_kind { K_OPEN = 1, K_LISTEN, K_RECV, K_SEND_COPY, K_SEND_ZC, K_CLOSE, K_REGION, K_READ };

/* One-sided reads: the server registers one region and tells every stream where it is in a
 * hello, the first message on the stream, which the client's transport consumes. */
#define PT_REGION_BYTES 4096u
#define PT_HELLO_MAGIC 0x53425247u /* "SBRG" */
struct pt_hello {
	uint32_t magic;
	uint32_t region;
	uint64_t key;
};
_Static_assert(sizeof(struct pt_hello) == BENCH_MSG_MIN, "a hello fits the smallest buffer");

/* Tag layout: kind (8 bits) | conn slot (32 bits) | buffer index (24 bits). */
static uint64_t tag_of(enum pt_kind k, uint32_t conn, uint32_t idx)
{
	return (uint64_t)k << 56 | (uint64_t)conn << 24 | (idx & 0xffffffu);
}
static enum pt_kind tag_kind(uint64_t t) { return (enum pt_kind)(t >> 56); }
static uint32_t tag_conn(uint64_t t) { return (uint32_t)(t >> 24); }
static uint32_t tag_idx(uint64_t t) { return (uint32_t)(t & 0xffffffu); }

enum pt_state { S_FREE, S_OPENING, S_OPEN, S_DEAD };

struct pt_held { uint32_t slot, len; };

struct pt_conn {
	struct bench_conn pub;
	uint32_t slot;        /* index in bench_tp.conns */
	uint32_t stream;
	enum pt_state state;
	bool stream_gone;     /* CLOSE or CLOSED seen: the stream id is free */
	bool waiting;         /* on one of the wait lists (never two) */
	bool want_tx;         /* send() said -EAGAIN: writable() is owed */
	uint32_t ops;         /* posted receives + sends not yet completed */
	uint32_t sends;       /* sends not yet completed */
	uint8_t *rx;          /* depth receive buffers of rx_size bytes, back to back */
	/* Messages the workload did not take yet (msg() said -EAGAIN), in arrival order. */
	struct pt_held held[PT_RX_DEPTH_MAX];
	uint32_t held_head, held_n;
	struct pt_conn *wnext;
	bool hello;           /* client: the server's hello arrived, remote is set */
	struct pony_remote remote;
};

struct bench_tp {
	struct bench_tp_cfg cfg;
	struct bench_tp_upcalls up;
	struct pony_app *app;
	bool server;
	uint16_t service;
	int open_err;         /* connect(): first failed open */
	uint32_t opening;     /* connect(): opens without a result yet */
	/* Conns: slots [0, hw) ever used; free ones are reused once every op of the old
	 * stream has completed, so a tag can never name the wrong conn. */
	struct pt_conn *conns;
	uint32_t cap, hw, live, next_id;
	uint32_t rx_size, depth;
	uint8_t *tx;          /* copy-in send buffers: n_tx of tx_size bytes */
	uint32_t tx_size, n_tx, tx_top;
	uint32_t *tx_free;    /* stack of free tx buffer indexes */
	/* Conns waiting: to be served after the current batch (held messages, room again);
	 * for a free send buffer; for room on the command ring (no completion signals
	 * that: retried after at most PT_WAITER_POLL_MS). */
	struct pt_conn *waiters, *starved, *ringwait;
	uint8_t *cur_rx;      /* the receive buffer being handed to msg() */
	bool cur_taken;       /* ... and send() took it for a zero-copy echo */
	uint32_t hellos;      /* client: conns whose hello arrived */
	struct pt_hello region; /* server: what every hello says */
	uint64_t *rd_cookie;  /* reads in flight, by send buffer index (their destination) */
	void **rd_dst;
};

static uint32_t round_up(uint64_t n)
{
	return (uint32_t)((n + PT_GRAIN - 1) / PT_GRAIN * PT_GRAIN);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Commands that must not be dropped (receive re-posts, closes) wait for room on the
 * command ring: the engine drains it on every poll, so this is short. -EAGAIN after
 * PT_CMD_SPIN_NS means the engine is not draining at all. */
static int cmd_wait(uint64_t *t0)
{
	if (!*t0)
		*t0 = now_ns();
	else if (now_ns() - *t0 > PT_CMD_SPIN_NS)
		return -EAGAIN;
	struct timespec ts = { 0, 2000 };
	nanosleep(&ts, NULL);
	return 0;
}

static int post_rx(struct bench_tp *tp, struct pt_conn *c, uint8_t *buf, uint32_t n)
{
	uint64_t t0 = 0;
	int r;
	while ((r = pony_recv_post_n(tp->app, c->stream, buf, tp->rx_size, n,
				     tag_of(K_RECV, c->slot, 0))) == -EAGAIN)
		if (cmd_wait(&t0))
			break;
	if (r == 0)
		c->ops += n;
	return r;
}

static void list_add(struct pt_conn **list, struct pt_conn *c)
{
	if (c->waiting)
		return;
	c->waiting = true;
	c->wnext = *list;
	*list = c;
}

static void waiter_add(struct bench_tp *tp, struct pt_conn *c)
{
	list_add(&tp->waiters, c);
}

/* Moves every conn of *from to the waiters. */
static void list_wake(struct bench_tp *tp, struct pt_conn **from)
{
	while (*from) {
		struct pt_conn *c = *from;
		*from = c->wnext;
		c->wnext = tp->waiters;
		tp->waiters = c;
	}
}

static void conn_release_if_done(struct bench_tp *tp, struct pt_conn *c)
{
	if (c->state != S_DEAD || c->ops || !c->stream_gone || c->waiting)
		return;
	pony_buf_free(tp->app, c->rx);
	c->rx = NULL;
	c->state = S_FREE;
}

/* Ends a conn: the stream is closed (unless the peer or a failure already did), pending
 * ops complete with errors later; closed() runs when upcall is set. */
static void conn_kill(struct bench_tp *tp, struct pt_conn *c, int err, bool upcall)
{
	if (c->state == S_DEAD || c->state == S_FREE)
		return;
	bool was_open = c->state == S_OPEN;
	c->state = S_DEAD;
	c->held_n = 0;
	tp->live--;
	if (!c->stream_gone) {
		uint64_t t0 = 0;
		while (pony_stream_close(tp->app, c->stream, tag_of(K_CLOSE, c->slot, 0)) == -EAGAIN)
			if (cmd_wait(&t0))
				break;
	}
	if (upcall && was_open && tp->up.closed)
		tp->up.closed(tp->up.ctx, &c->pub, err);
	conn_release_if_done(tp, c);
}

static struct pt_conn *conn_new(struct bench_tp *tp, uint32_t stream)
{
	struct pt_conn *c = NULL;
	for (uint32_t i = 0; i < tp->hw && !c; i++)
		if (tp->conns[i].state == S_FREE)
			c = &tp->conns[i];
	if (!c && tp->hw < tp->cap)
		c = &tp->conns[tp->hw++];
	if (!c)
		return NULL;
	uint32_t slot = (uint32_t)(c - tp->conns);
	memset(c, 0, sizeof(*c));
	c->slot = slot;
	c->stream = stream;
	c->rx = pony_buf_alloc(tp->app, (size_t)tp->rx_size * tp->depth);
	if (!c->rx)
		return NULL;
	c->state = S_OPENING;
	return c;
}

/* Hands the message in receive buffer `slot` to the workload. 0, or -EAGAIN (keep it). */
static int deliver(struct bench_tp *tp, struct pt_conn *c, uint32_t slot, uint32_t len)
{
	uint8_t *buf = c->rx + (size_t)slot * tp->rx_size;
	tp->cur_rx = buf;
	tp->cur_taken = false;
	int r = tp->up.msg(tp->up.ctx, &c->pub, buf, len);
	bool taken = tp->cur_taken;
	tp->cur_rx = NULL;
	if (r == -EAGAIN || c->state != S_OPEN)
		return r == -EAGAIN ? r : 0;
	/* A buffer echoed zero-copy is posted again when its send completes. */
	if (!taken && post_rx(tp, c, buf, 1) < 0)
		conn_kill(tp, c, -EIO, true);
	return 0;
}

static void on_recv(struct bench_tp *tp, struct pt_conn *c, const struct pony_completion *p)
{
	if (c->state != S_OPEN)
		return;
	if (p->status < 0) {
		/* Cancelled, reset or timed out: CLOSED follows and ends the conn. Anything else
		 * (a message larger than the buffer: a protocol error of the peer, like a bad TCP
		 * frame; a post the daemon refused, e.g. -ENOBUFS past its app_max_ops) fails the
		 * conn now: it would never receive again. */
		if (p->status != -ECANCELED && p->status != -ECONNRESET && p->status != -ETIMEDOUT)
			conn_kill(tp, c, p->status, true);
		return;
	}
	uint32_t slot = (uint32_t)(((uint8_t *)p->buf - c->rx) / tp->rx_size);
	if (slot >= tp->depth) {
		conn_kill(tp, c, -EPROTO, true);
		return;
	}
	if (!tp->server && !c->hello) {
		struct pt_hello h;
		if (p->len != sizeof(h)) {
			conn_kill(tp, c, -EPROTO, true);
			return;
		}
		memcpy(&h, p->buf, sizeof(h));
		if (h.magic != PT_HELLO_MAGIC) {
			conn_kill(tp, c, -EPROTO, true);
			return;
		}
		c->hello = true;
		c->remote.region = h.region;
		c->remote.key = h.key;
		tp->hellos++;
		if (post_rx(tp, c, p->buf, 1) < 0)
			conn_kill(tp, c, -EIO, true);
		return;
	}
	if (c->held_n == 0 && deliver(tp, c, slot, p->len) == 0)
		return;
	/* Blocked (or behind blocked ones): keep order, retry when the conn can send. */
	c->held[(c->held_head + c->held_n++) % PT_RX_DEPTH_MAX] = (struct pt_held){ slot, p->len };
	waiter_add(tp, c);
}

static void on_send(struct bench_tp *tp, struct pt_conn *c, const struct pony_completion *p,
		    enum pt_kind k)
{
	c->sends--;
	if (k == K_SEND_COPY) {
		tp->tx_free[tp->tx_top++] = tag_idx(p->tag);
		list_wake(tp, &tp->starved);
	}
	if (c->state != S_OPEN)
		return;
	if (p->status < 0) {
		/* -ECANCELED / -ECONNRESET: CLOSED ends the conn. Anything else (the engine
		 * refused the send) is a failure of this conn. */
		if (p->status != -ECANCELED && p->status != -ECONNRESET)
			conn_kill(tp, c, p->status, true);
		return;
	}
	if (k == K_SEND_ZC && post_rx(tp, c, p->buf, 1) < 0) {
		conn_kill(tp, c, -EIO, true);
		return;
	}
	if (c->want_tx || c->held_n)
		waiter_add(tp, c); /* room again: held messages or a refused sender go on */
}

static void on_open(struct bench_tp *tp, struct pt_conn *c, const struct pony_completion *p)
{
	tp->opening--;
	if (p->status < 0) {
		if (!tp->open_err)
			tp->open_err = p->status;
		c->stream_gone = true; /* a failed open has no CLOSED */
		c->state = S_DEAD;
		tp->live--;
		conn_release_if_done(tp, c);
		return;
	}
	c->stream = p->stream;
	c->state = S_OPEN;
	if (post_rx(tp, c, c->rx, tp->depth) < 0) {
		if (!tp->open_err)
			tp->open_err = -EIO;
		conn_kill(tp, c, -EIO, false);
	}
}

static void on_accept(struct bench_tp *tp, const struct pony_completion *p)
{
	struct pt_conn *c = NULL;
	if (p->status == 0 && tp->live < tp->cfg.max_conns)
		c = conn_new(tp, p->stream);
	if (!c) {
		uint64_t t0 = 0;
		if (p->status == 0)
			while (pony_stream_close(tp->app, p->stream, 0) == -EAGAIN)
				if (cmd_wait(&t0))
					break;
		return;
	}
	c->pub.id = tp->next_id++;
	c->state = S_OPEN;
	tp->live++;
	if (post_rx(tp, c, c->rx, tp->depth) < 0) {
		conn_kill(tp, c, -EIO, false); /* closes the stream; no accepted() was seen */
		return;
	}
	/* The hello goes first, before any echo: the client waits for it in connect(). */
	uint64_t t0 = 0;
	int r;
	if (tp->tx_top == 0) {
		conn_kill(tp, c, -ENOBUFS, false);
		return;
	}
	uint32_t i = tp->tx_free[--tp->tx_top];
	uint8_t *hb = tp->tx + (size_t)i * tp->tx_size;
	memcpy(hb, &tp->region, sizeof(tp->region));
	while ((r = pony_send(tp->app, c->stream, hb, sizeof(tp->region),
			      tag_of(K_SEND_COPY, c->slot, i))) == -EAGAIN)
		if (cmd_wait(&t0))
			break;
	if (r < 0) {
		tp->tx_free[tp->tx_top++] = i;
		conn_kill(tp, c, r, false);
		return;
	}
	c->sends++;
	c->ops++;
	if (tp->up.accepted)
		tp->up.accepted(tp->up.ctx, &c->pub);
}

static struct pt_conn *conn_by_stream(struct bench_tp *tp, uint32_t stream)
{
	for (uint32_t i = 0; i < tp->hw; i++) {
		struct pt_conn *c = &tp->conns[i];
		if (c->state != S_FREE && !c->stream_gone && c->stream == stream)
			return c;
	}
	return NULL;
}

static void handle(struct bench_tp *tp, const struct pony_completion *p)
{
	enum pt_kind k = tag_kind(p->tag);
	struct pt_conn *c = NULL;
	if (p->op == PONY_OP_ACCEPT) {
		on_accept(tp, p);
		return;
	}
	if (p->op == PONY_OP_CLOSED) {
		/* The peer closed the stream, or it failed. Its tag is the open's or the
		 * listen's, so find the conn by stream id. */
		c = conn_by_stream(tp, p->stream);
		if (c) {
			c->stream_gone = true;
			conn_kill(tp, c, p->status, true);
			conn_release_if_done(tp, c);
		}
		return;
	}
	if (k == K_LISTEN || k == 0)
		return;
	uint32_t s = tag_conn(p->tag);
	if (s >= tp->hw)
		return;
	c = &tp->conns[s];
	switch (p->op) {
	case PONY_OP_OPEN:
		on_open(tp, c, p);
		return;
	case PONY_OP_RECV:
		c->ops--;
		on_recv(tp, c, p);
		break;
	case PONY_OP_SEND:
		c->ops--;
		on_send(tp, c, p, k);
		break;
	case PONY_OP_CLOSE:
		c->stream_gone = true;
		break;
	case PONY_OP_READ: {
		uint32_t i = tag_idx(p->tag);
		c->ops--;
		if (p->status == 0)
			memcpy(tp->rd_dst[i], p->buf, p->len);
		tp->tx_free[tp->tx_top++] = i;
		if (c->state == S_OPEN && tp->up.read_done)
			tp->up.read_done(tp->up.ctx, &c->pub, tp->rd_cookie[i], p->status);
		break;
	}
	default:
		return;
	}
	conn_release_if_done(tp, c);
}

/* Conns that had messages held back or a send refused: deliver what waits, then tell the
 * workload it may send. The list is taken whole, so a conn that blocks again waits for
 * the next round. Returns how many conns were served. */
static int run_waiters(struct bench_tp *tp)
{
	struct pt_conn *c = tp->waiters;
	int n = 0;
	tp->waiters = NULL;
	while (c) {
		struct pt_conn *next = c->wnext;
		c->waiting = false;
		c->wnext = NULL;
		if (c->state == S_OPEN) {
			n++;
			while (c->held_n && c->state == S_OPEN) {
				struct pt_held h = c->held[c->held_head];
				if (deliver(tp, c, h.slot, h.len) == -EAGAIN)
					break;
				c->held_head = (c->held_head + 1) % PT_RX_DEPTH_MAX;
				c->held_n--;
			}
			/* Still held: the send was refused again, and send() put the conn on the
			 * list of its reason (or its own next send completion wakes it). */
			if (c->held_n == 0 && c->state == S_OPEN && c->want_tx) {
				c->want_tx = false;
				if (tp->up.writable)
					tp->up.writable(tp->up.ctx, &c->pub);
			}
		}
		conn_release_if_done(tp, c);
		c = next;
	}
	return n;
}

/* Takes and handles one batch of completions without blocking: count, or -errno. */
static int drain(struct bench_tp *tp)
{
	struct pony_completion cpl[PT_CPL_BATCH];
	int n = pony_poll(tp->app, cpl, PT_CPL_BATCH);
	for (int i = 0; i < n; i++)
		handle(tp, &cpl[i]);
	return n;
}

static void pt_destroy(struct bench_tp *tp)
{
	if (!tp)
		return;
	pony_close(tp->app); /* closes every stream; the peers see them close */
	free(tp->tx_free);
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
	if (tp->depth == 0)
		tp->depth = 1;
	tp->tx_size = round_up(cfg->max_msg);
	uint64_t ntx = area / 4 / tp->tx_size;
	tp->n_tx = (uint32_t)(ntx > PT_TX_BUFS_MAX ? PT_TX_BUFS_MAX : ntx ? ntx : 1);
	tp->tx = pony_buf_alloc(tp->app, (size_t)tp->tx_size * tp->n_tx);
	tp->tx_free = calloc(tp->n_tx, sizeof(*tp->tx_free));
	tp->rd_cookie = calloc(tp->n_tx, sizeof(*tp->rd_cookie));
	tp->rd_dst = calloc(tp->n_tx, sizeof(*tp->rd_dst));
	if (!tp->tx || !tp->tx_free || !tp->rd_cookie || !tp->rd_dst) {
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
				handle(tp, &cpl[i]);
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
	if (!tp->tx_top)
		return -EAGAIN;
	uint32_t i = tp->tx_free[--tp->tx_top];
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
				handle(tp, &cpl[i]);
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
				if (!conn_new(tp, 0)) {
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
		r = drain(tp);
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
			conn_kill(tp, &tp->conns[i], r, false);
	return r;
}

static int pt_send(struct bench_tp *tp, struct bench_conn *bc, const void *buf, uint32_t len)
{
	struct pt_conn *c = (struct pt_conn *)bc;
	if (c->state != S_OPEN)
		return -ENOTCONN;
	if (len < BENCH_MSG_MIN || len > tp->cfg.max_msg)
		return -EMSGSIZE;
	if (c->sends >= PT_STREAM_SENDS) {
		c->want_tx = true; /* its own next send completion wakes it */
		return -EAGAIN;
	}
	int r;
	if (buf == tp->cur_rx && !tp->cur_taken) {
		/* Echo of the buffer being delivered: send it as is, re-post it afterwards. */
		uint32_t slot = (uint32_t)((tp->cur_rx - c->rx) / tp->rx_size);
		r = pony_send(tp->app, c->stream, buf, len, tag_of(K_SEND_ZC, c->slot, slot));
		if (r == 0)
			tp->cur_taken = true;
	} else {
		if (!tp->tx_top) {
			c->want_tx = true;
			list_add(&tp->starved, c);
			return -EAGAIN;
		}
		uint32_t i = tp->tx_free[--tp->tx_top];
		uint8_t *dst = tp->tx + (size_t)i * tp->tx_size;
		memcpy(dst, buf, len);
		r = pony_send(tp->app, c->stream, dst, len, tag_of(K_SEND_COPY, c->slot, i));
		if (r < 0)
			tp->tx_free[tp->tx_top++] = i;
	}
	if (r == -EAGAIN) {
		c->want_tx = true;
		list_add(&tp->ringwait, c);
		return r;
	}
	if (r < 0)
		return r == -EBADF ? -ENOTCONN : r;
	c->sends++;
	c->ops++;
	return 0;
}

static int pt_poll(struct bench_tp *tp, int timeout_ms)
{
	list_wake(tp, &tp->ringwait); /* the engine drains the ring on every poll */
	int done = run_waiters(tp);
	int n = drain(tp);
	if (n < 0)
		return n;
	if (n == 0 && done == 0) {
		/* Nothing to do: block in libpony until the engine signals a completion. Conns
		 * waiting for command-ring room get no completion for it, so they bound the
		 * wait. */
		int t = tp->ringwait && (timeout_ms < 0 || timeout_ms > PT_WAITER_POLL_MS)
				? PT_WAITER_POLL_MS : timeout_ms;
		int w = pony_wait(tp->app, t);
		if (w < 0)
			return w;
		if (w > 0 && (n = drain(tp)) < 0)
			return n;
		list_wake(tp, &tp->ringwait);
	}
	return n + done + run_waiters(tp);
}

const struct bench_tp_ops bench_tp_pony = {
	.name = "pony",
	.create = pt_create,
	.destroy = pt_destroy,
	.listen = pt_listen,
	.connect = pt_connect,
	.send = pt_send,
	.poll = pt_poll,
	.read = pt_read,
};
