/* Control RPC connections: framing, buffers and their bounds. A client is served at most
 * `budget` requests per pass and is not read while `max_out` bytes of its replies are
 * unsent, so neither a pipelining client nor one that does not read its replies can grow
 * the daemon's memory or starve the other clients (issue 14). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control/ctl.pb-c.h"
#include "control/rpc.h"
#include "control/rpc_internal.h"

static size_t unsent(const struct ctl_rpc_conn *c)
{
	return c->out_len - c->out_off;
}

/* May c be handed another request now? */
static bool conn_may_serve(const struct ctl_rpc_conn *c)
{
	return !c->closing && c->pending == NULL && unsent(c) < c->s->max_out;
}

static uint32_t frame_len(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A whole frame (or an oversized header, which parse answers) is buffered. */
static bool conn_has_frame(const struct ctl_rpc_conn *c)
{
	if (c->in_len < CTL_FRAME_HDR)
		return false;
	uint32_t n = frame_len(c->in);
	return n > c->s->max_msg || c->in_len - CTL_FRAME_HDR >= n;
}

/* ---- the ready list ---------------------------------------------------------------------- */

static void ready_del(struct ctl_rpc_conn *c)
{
	struct ctl_rpc_server *s = c->s;
	if (!c->ready)
		return;
	*(c->rprev ? &c->rprev->rnext : &s->ready_head) = c->rnext;
	*(c->rnext ? &c->rnext->rprev : &s->ready_tail) = c->rprev;
	c->rprev = c->rnext = NULL;
	c->ready = false;
}

static void ready_add(struct ctl_rpc_conn *c)
{
	struct ctl_rpc_server *s = c->s;
	if (c->ready)
		return;
	c->rprev = s->ready_tail;
	c->rnext = NULL;
	*(s->ready_tail ? &s->ready_tail->rnext : &s->ready_head) = c;
	s->ready_tail = c;
	c->ready = true;
}

void ctl_rpc_kick_update(struct ctl_rpc_server *s)
{
	bool want = s->ready_head != NULL;
	if (want == s->kick_armed || s->kick_fd < 0)
		return;
	uint64_t v = 1;
	ssize_t n = want ? write(s->kick_fd, &v, sizeof(v)) : read(s->kick_fd, &v, sizeof(v));
	(void)n; /* an eventfd counter neither overflows nor blocks here (EFD_NONBLOCK) */
	s->kick_armed = want;
}

void ctl_rpc_serve_ready(struct ctl_rpc_server *s)
{
	/* Once each per pass: a served connection re-queues at the tail, so the list is those
	 * not yet served this pass followed by those that were. */
	while (s->ready_head && s->ready_head->served_pass != s->pass)
		ctl_rpc_conn_serve(s->ready_head);
}

/* ---- closing, events, output ------------------------------------------------------------- */

void ctl_rpc_conn_close(struct ctl_rpc_conn *c)
{
	if (c->it.dead)
		return;
	struct ctl_rpc_server *s = c->s;
	struct ctl_rpc_call *call = c->pending;
	c->pending = NULL;
	if (call) {
		/* The owner still finishes the call; it only frees it from now on. */
		call->c = NULL;
		if (call->cancel)
			call->cancel(call->cancel_arg);
	}
	ready_del(c);
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	s->n_clients--;
	ctl_rpc_bury(s, &c->it);
	if (s->depth == 0)
		ctl_rpc_free_graveyard(s);
}

static void conn_update_events(struct ctl_rpc_conn *c)
{
	uint32_t ev = 0;
	/* Read only what we may serve: not while a call is deferred (requests are answered in
	 * order), nor while the client leaves its replies unread (max_out), nor after EOF. */
	if (conn_may_serve(c) && !c->eof)
		ev |= EPOLLIN;
	if (c->pending)
		ev |= EPOLLRDHUP; /* notice a client that gives up waiting */
	if (unsent(c))
		ev |= EPOLLOUT;
	if (ev == c->ev)
		return;
	struct epoll_event e = {.events = ev, .data.ptr = &c->it};
	if (epoll_ctl(c->s->epfd, EPOLL_CTL_MOD, c->fd, &e) == 0)
		c->ev = ev;
}

/* After any progress: what to wait for next, and whether c still has work it may do now. */
static void conn_settle(struct ctl_rpc_conn *c)
{
	/* Counted here, where every path ends: a connection can reach the cap at the end of its
	 * budget, with no frame left to parse in that pass. */
	if (!c->paused && !c->closing && unsent(c) >= c->s->max_out) {
		c->paused = true;
		c->s->cnt[CTL_RPC_C_OUT_PAUSED]++;
	} else if (c->paused && conn_may_serve(c)) {
		c->paused = false;
	}
	if (conn_may_serve(c) && conn_has_frame(c)) {
		ready_add(c);
	} else {
		ready_del(c);
		if (c->eof && !c->closing && c->pending == NULL)
			c->closing = true; /* everything the client sent is answered */
	}
	if (c->closing && unsent(c) == 0) {
		ctl_rpc_conn_close(c);
		return;
	}
	conn_update_events(c);
}

void ctl_rpc_conn_flush(struct ctl_rpc_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			ctl_rpc_conn_close(c); /* peer gone */
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	conn_settle(c);
}

static int buf_reserve(uint8_t **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 4096;
	while (ncap < need)
		ncap *= 2;
	uint8_t *p = realloc(*buf, ncap);
	if (p == NULL)
		return -ENOMEM;
	*buf = p;
	*cap = ncap;
	return 0;
}

int ctl_rpc_conn_send(struct ctl_rpc_conn *c, const Ctl__Response *rsp)
{
	size_t n = protobuf_c_message_get_packed_size(&rsp->base);
	if (n > CTL_CLIENT_MAX_MSG)
		return -EMSGSIZE;
	if (c->out_off && c->out_len + CTL_FRAME_HDR + n > c->out_cap) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (buf_reserve(&c->out, &c->out_cap, c->out_len + CTL_FRAME_HDR + n) < 0)
		return -ENOMEM;
	uint8_t *p = c->out + c->out_len;
	p[0] = (uint8_t)(n >> 24);
	p[1] = (uint8_t)(n >> 16);
	p[2] = (uint8_t)(n >> 8);
	p[3] = (uint8_t)n;
	protobuf_c_message_pack(&rsp->base, p + CTL_FRAME_HDR);
	c->out_len += CTL_FRAME_HDR + n;
	return 0;
}

void ctl_rpc_send_error(struct ctl_rpc_conn *c, uint64_t id, const char *method, int err,
			const char *msg)
{
	Ctl__Response rsp = CTL__RESPONSE__INIT;
	rsp.version = CTL_PROTO_VERSION;
	rsp.id = id;
	rsp.method = (char *)(uintptr_t)(method ? method : "");
	rsp.has_error = true;
	rsp.error = err < 0 ? -err : err;
	rsp.message = (char *)(uintptr_t)(msg && msg[0] ? msg : strerror(rsp.error));
	c->s->cnt[CTL_RPC_C_ERRORS]++;
	if (ctl_rpc_conn_send(c, &rsp) < 0)
		c->closing = true; /* cannot even say why: drop the client */
}

/* ---- input ------------------------------------------------------------------------------- */

/* Dispatch up to budget complete frames, stopping at max_out. Returns how many. */
static unsigned conn_parse(struct ctl_rpc_conn *c, unsigned budget)
{
	size_t off = 0;
	unsigned done = 0;
	while (done < budget && c->in_len - off >= CTL_FRAME_HDR) {
		if (!conn_may_serve(c))
			break; /* deferred call or output cap: conn_settle counts the pause */
		const uint8_t *p = c->in + off;
		uint32_t n = frame_len(p);
		if (n > c->s->max_msg) {
			/* The stream cannot be resynchronised cheaply: say why, then close. */
			char msg[ERRMSG_MAX];
			snprintf(msg, sizeof(msg), "request of %u bytes exceeds the %u-byte limit", n,
				 c->s->max_msg);
			ctl_rpc_send_error(c, 0, NULL, EMSGSIZE, msg);
			c->closing = true;
			off = c->in_len;
			break;
		}
		if (c->in_len - off - CTL_FRAME_HDR < n)
			break;
		c->spoke = true;
		ctl_rpc_dispatch(c, p + CTL_FRAME_HDR, n);
		off += CTL_FRAME_HDR + n;
		done++;
	}
	if (off) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
	return done;
}

/* Read once: 1 if bytes came, 0 if none now (or EOF), -1 if c was closed. */
static int conn_read(struct ctl_rpc_conn *c)
{
	/* Room for at least the next frame header, up to one maximal frame. */
	size_t want = c->in_len + 4096;
	if (want > c->s->max_msg + CTL_FRAME_HDR)
		want = c->s->max_msg + CTL_FRAME_HDR;
	if (want <= c->in_len || buf_reserve(&c->in, &c->in_cap, want) < 0) {
		ctl_rpc_conn_close(c);
		return -1;
	}
	for (;;) {
		ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
		if (n > 0) {
			c->in_len += (size_t)n;
			c->last_active_ns = ctl_rpc_mono_ns();
			return 1;
		}
		if (n == 0) {
			c->eof = true; /* orderly shutdown: answer what is complete, then close */
			return 0;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		ctl_rpc_conn_close(c);
		return -1;
	}
}

void ctl_rpc_conn_serve(struct ctl_rpc_conn *c)
{
	struct ctl_rpc_server *s = c->s;
	unsigned budget = s->budget;
	s->depth++; /* c is freed only after we are done with it */
	ready_del(c);
	c->served_pass = s->pass;
	for (;;) {
		budget -= conn_parse(c, budget);
		if (c->it.dead || budget == 0 || !conn_may_serve(c) || c->eof ||
		    conn_has_frame(c))
			break;
		if (conn_read(c) <= 0)
			break;
	}
	if (!c->it.dead && budget == 0 && conn_may_serve(c) && conn_has_frame(c))
		s->cnt[CTL_RPC_C_BUDGET_YIELD]++;
	if (!c->it.dead)
		ctl_rpc_conn_flush(c);
	if (--s->depth == 0)
		ctl_rpc_free_graveyard(s);
}

/* ---- deferred calls ---------------------------------------------------------------------- */

static void call_release(struct ctl_rpc_call *call)
{
	struct ctl_rpc_conn *c = call->c;
	if (c && c->pending == call)
		c->pending = NULL;
	free(call);
}

/* A deferred call has been answered: flush and resume reading that client's requests (from
 * the ready list, so a deferred call's completion cannot serve more than a budget). */
void ctl_rpc_call_finish_deferred(struct ctl_rpc_call *call)
{
	struct ctl_rpc_conn *c = call->c;
	call_release(call);
	if (c != NULL)
		ctl_rpc_conn_push(c);
}

void ctl_rpc_conn_push(struct ctl_rpc_conn *c)
{
	struct ctl_rpc_server *s = c->s;
	s->depth++; /* a closed connection is freed only after we are done with it */
	ctl_rpc_conn_flush(c);
	ctl_rpc_kick_update(s);
	if (--s->depth == 0)
		ctl_rpc_free_graveyard(s);
}
