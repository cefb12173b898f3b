/* snapbench Pony backend: conns, their wait lists, and the completions libpony returns
 * (receive, send, open, accept, close), each turned into the workload's upcalls. */
#include "tp_pony.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

void pt_list_add(struct pt_conn **list, struct pt_conn *c)
{
	if (c->waiting)
		return;
	c->waiting = true;
	c->wnext = *list;
	*list = c;
}

static void waiter_add(struct bench_tp *tp, struct pt_conn *c)
{
	pt_list_add(&tp->waiters, c);
}

/* Moves every conn of *from to the waiters. */
void pt_list_wake(struct bench_tp *tp, struct pt_conn **from)
{
	while (*from) {
		struct pt_conn *c = *from;
		*from = c->wnext;
		c->wnext = tp->waiters;
		tp->waiters = c;
	}
}

void pt_starved_add(struct bench_tp *tp, struct pt_conn *c)
{
	if (c->waiting)
		return;
	c->waiting = true;
	c->wnext = NULL;
	if (tp->starved)
		tp->starved_tail->wnext = c;
	else
		tp->starved = c;
	tp->starved_tail = c;
}

void pt_starved_wake(struct bench_tp *tp)
{
	/* Conns woken before and not yet served count against the free buffers too: this
	 * runs at every freed buffer and every poll. */
	while (tp->starved && tp->starved_woken < tp->tx_top) {
		struct pt_conn *c = tp->starved;
		tp->starved = c->wnext;
		c->from_starved = true;
		tp->starved_woken++;
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
void pt_conn_kill(struct bench_tp *tp, struct pt_conn *c, int err, bool upcall)
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

struct pt_conn *pt_conn_new(struct bench_tp *tp, uint32_t stream)
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
		pt_conn_kill(tp, c, -EIO, true);
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
			pt_conn_kill(tp, c, p->status, true);
		return;
	}
	uint32_t slot = (uint32_t)(((uint8_t *)p->buf - c->rx) / tp->rx_size);
	if (slot >= tp->depth) {
		pt_conn_kill(tp, c, -EPROTO, true);
		return;
	}
	if (!tp->server && !c->hello) {
		struct pt_hello h;
		if (p->len != sizeof(h)) {
			pt_conn_kill(tp, c, -EPROTO, true);
			return;
		}
		memcpy(&h, p->buf, sizeof(h));
		if (h.magic != PT_HELLO_MAGIC) {
			pt_conn_kill(tp, c, -EPROTO, true);
			return;
		}
		c->hello = true;
		c->remote.region = h.region;
		c->remote.key = h.key;
		tp->hellos++;
		if (post_rx(tp, c, p->buf, 1) < 0)
			pt_conn_kill(tp, c, -EIO, true);
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
	c->send_bytes -= p->len < c->send_bytes ? p->len : c->send_bytes; /* hellos: not counted */
	if (k == K_SEND_COPY) {
		tp->tx_free[tp->tx_top++] = tag_idx(p->tag);
		pt_starved_wake(tp);
	}
	if (c->state != S_OPEN)
		return;
	if (p->status < 0) {
		/* -ECANCELED / -ECONNRESET: CLOSED ends the conn. Anything else (the engine
		 * refused the send) is a failure of this conn. */
		if (p->status != -ECANCELED && p->status != -ECONNRESET)
			pt_conn_kill(tp, c, p->status, true);
		return;
	}
	if (k == K_SEND_ZC && post_rx(tp, c, p->buf, 1) < 0) {
		pt_conn_kill(tp, c, -EIO, true);
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
		pt_conn_kill(tp, c, -EIO, false);
	}
}

static void on_accept(struct bench_tp *tp, const struct pony_completion *p)
{
	struct pt_conn *c = NULL;
	if (p->status == 0 && tp->live < tp->cfg.max_conns)
		c = pt_conn_new(tp, p->stream);
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
		pt_conn_kill(tp, c, -EIO, false); /* closes the stream; no accepted() was seen */
		return;
	}
	/* The hello goes first, before any echo: the client waits for it in connect(). */
	uint64_t t0 = 0;
	int r;
	uint32_t i = pt_tx_take(tp);
	if (i == PT_NO_BUF) {
		pt_conn_kill(tp, c, -ENOBUFS, false);
		return;
	}
	uint8_t *hb = tp->tx + (size_t)i * tp->tx_size;
	memcpy(hb, &tp->region, sizeof(tp->region));
	while ((r = pony_send(tp->app, c->stream, hb, sizeof(tp->region),
			      tag_of(K_SEND_COPY, c->slot, i))) == -EAGAIN)
		if (cmd_wait(&t0))
			break;
	if (r < 0) {
		tp->tx_free[tp->tx_top++] = i;
		pt_conn_kill(tp, c, r, false);
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

void pt_handle(struct bench_tp *tp, const struct pony_completion *p)
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
			pt_conn_kill(tp, c, p->status, true);
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
 * the next round. Once a send meets a full command ring, the rest would too: they go back
 * to wait for room untouched (a thousand conns retried on every poll cost more than the
 * RPCs). Returns how many conns were served. */
int pt_run_waiters(struct bench_tp *tp)
{
	struct pt_conn *c = tp->waiters;
	int n = 0;
	tp->waiters = NULL;
	while (c) {
		struct pt_conn *next = c->wnext;
		if (tp->ring_full) {
			/* still marked waiting: moved, not added */
			c->wnext = tp->ringwait;
			tp->ringwait = c;
			c = next;
			continue;
		}
		if (c->from_starved) {
			c->from_starved = false;
			tp->starved_woken--;
		}
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
int pt_drain(struct bench_tp *tp)
{
	struct pony_completion cpl[PT_CPL_BATCH];
	int n = pony_poll(tp->app, cpl, PT_CPL_BATCH);
	for (int i = 0; i < n; i++)
		pt_handle(tp, &cpl[i]);
	return n;
}

