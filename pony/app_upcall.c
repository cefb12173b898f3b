/* Transport upcalls -> app completions. Owners are struct app_stream, listeners struct
 * app_listen, cookies name ops (gen << 32 | index); every upcall re-checks them against the
 * session's tables, so a late or unexpected upcall is counted and ignored, never trusted. */
#include <arpa/inet.h>
#include <errno.h>

#include "pony/app_internal.h"

/* The op a cookie names, if it is live, of kind op, on stream st. APP_NONE otherwise. */
static uint32_t op_from_cookie(struct pony_app_session *s, uint64_t cookie, uint8_t kind)
{
	uint32_t i = (uint32_t)cookie;
	if (i >= s->max_ops || s->ops[i].gen != (uint32_t)(cookie >> 32) || s->ops[i].op != kind)
		return APP_NONE;
	return i;
}

/* The stream behind an owner pointer, if it still is the transport's stream sid. */
static struct app_stream *stream_from_owner(void *owner, uint32_t sid)
{
	struct app_stream *st = owner;
	if (st == NULL || st->s == NULL)
		return NULL;
	if (st->state == APP_STREAM_FREE || st->sid != sid) {
		st->s->cnt.stray_upcalls++;
		return NULL;
	}
	return st;
}

/* A peer into a completion: peer_addr always, peer_ip (host order) for IPv4. */
static void cpl_peer(const struct pony_ip *p, struct pony_shm_cpl *c)
{
	memcpy(c->peer_addr, p->b, 16);
	c->peer_ip = ntohl(pony_ip_4(p));
}

static int up_accept(void *listener, uint32_t sid, const struct pony_ip *peer, uint16_t service,
		     void **owner)
{
	struct app_listen *l = listener;
	struct pony_app_session *s = l->s;
	/* ACCEPT now plus the stream's CLOSED later must fit (credit rule, app.c). */
	if (!l->used || s->torn || app_cpl_credit(s) < 2) {
		s->cnt.accept_refused++;
		return -ECONNREFUSED;
	}
	struct app_stream *st = app_stream_alloc(s);
	if (st == NULL) {
		s->cnt.accept_refused++;
		return -ECONNREFUSED;
	}
	st->sid = sid;
	st->state = APP_STREAM_OPEN;
	st->peer_ip = ntohl(pony_ip_4(peer)); /* network order -> the app's host order */
	st->service = service;
	st->tag = l->tag;
	*owner = st;
	struct pony_shm_cpl c = {
		.tag = l->tag, .op = PONY_OP_ACCEPT, .service = service, .stream = st->id,
	};
	cpl_peer(peer, &c);
	app_cpl_push(s, &c);
	return 0;
}

static void up_opened(void *owner, uint32_t sid, int status)
{
	struct app_stream *st = stream_from_owner(owner, sid);
	if (st == NULL || st->state != APP_STREAM_OPENING || st->open_op == APP_NONE)
		return;
	struct pony_app_session *s = st->s;
	uint32_t op = st->open_op;
	st->open_op = APP_NONE;
	struct pony_shm_cpl c = {
		.tag = s->ops[op].tag, .status = status, .op = PONY_OP_OPEN,
		.service = st->service, .stream = st->id,
	};
	struct pony_ip peer;
	if (pony_tp_stream_peer(s->host->tp, sid, &peer) < 0)
		peer = pony_ip_from4(htonl(st->peer_ip));
	cpl_peer(&peer, &c);
	app_op_free(s, op);
	if (status == 0) {
		st->state = APP_STREAM_OPEN;
		app_cpl_push(s, &c);
		if (st->rx_deferred) {
			int r = pony_tp_grant(s->host->tp, st->sid, st->rx_deferred);
			st->rx_deferred = 0;
			if (r)
				app_stream_fail_rx(s, st, r);
		}
		return;
	}
	/* A failed open is the stream's last completion: no CLOSED follows. */
	app_stream_fail_rx(s, st, status);
	app_stream_free(s, st);
	app_cpl_push(s, &c);
}

static void *up_rx_begin(void *owner, uint32_t sid, uint32_t len, uint64_t *cookie)
{
	struct app_stream *st = stream_from_owner(owner, sid);
	*cookie = UINT64_MAX;
	if (st == NULL)
		return NULL;
	struct pony_app_session *s = st->s;
	uint32_t i = st->rx_head;
	if (i == APP_NONE) {
		s->cnt.stray_upcalls++; /* the transport exceeded our credit */
		return NULL;
	}
	st->rx_head = s->ops[i].next;
	if (st->rx_head == APP_NONE)
		st->rx_tail = APP_NONE;
	s->ops[i].next = APP_NONE;
	app_op_hold(s, i); /* off the FIFO, in the transport's hands until rx_done */
	*cookie = (uint64_t)s->ops[i].gen << 32 | i;
	if (len > s->ops[i].len)
		return NULL; /* rx_done reports -EMSGSIZE for this buffer */
	return s->buf + s->ops[i].off;
}

static void *up_rx_peek(void *owner, uint32_t sid, uint32_t len)
{
	/* No side effect: a mismatch is rx_begin's to count. */
	const struct app_stream *st = owner;
	if (st == NULL || st->s == NULL || st->state == APP_STREAM_FREE || st->sid != sid ||
	    st->rx_head == APP_NONE)
		return NULL;
	const struct pony_app_session *s = st->s;
	const uint32_t i = st->rx_head;
	return len > s->ops[i].len ? NULL : s->buf + s->ops[i].off;
}

static void up_rx_done(void *owner, uint32_t sid, uint64_t cookie, uint32_t len, int status)
{
	struct app_stream *st = owner;
	if (st == NULL || st->s == NULL)
		return;
	struct pony_app_session *s = st->s;
	uint32_t i = op_from_cookie(s, cookie, PONY_OP_RECV);
	/* Only a receive that rx_begin handed out (held) may finish: completing one still on
	 * a FIFO would corrupt that list. A successful one must fit its buffer. */
	if (i == APP_NONE || !s->ops[i].held || (status == 0 && len > s->ops[i].len)) {
		s->cnt.stray_upcalls++;
		return;
	}
	if (status == 0)
		s->cnt.rx_bytes += len;
	s->ops[i].qos = (uint8_t)pony_tp_rx_code(s->host->tp);
	app_op_complete(s, i, status, status == 0 ? len : 0);
	if (s->tp_refs == 0)
		app_session_tp_drained(s); /* may free s */
	(void)sid;
}

static void up_tx_done(void *owner, uint32_t sid, uint64_t cookie, int status)
{
	struct app_stream *st = owner;
	if (st == NULL || st->s == NULL)
		return;
	struct pony_app_session *s = st->s;
	uint32_t i = op_from_cookie(s, cookie, PONY_OP_SEND);
	if (i == APP_NONE) {
		s->cnt.stray_upcalls++;
		return;
	}
	if (status == 0)
		s->cnt.tx_bytes += s->ops[i].len;
	app_op_complete(s, i, status, s->ops[i].len);
	if (s->tp_refs == 0)
		app_session_tp_drained(s); /* may free s */
	(void)sid;
}

static void up_closed(void *owner, uint32_t sid, int status)
{
	struct app_stream *st = stream_from_owner(owner, sid);
	if (st == NULL)
		return;
	struct pony_app_session *s = st->s;
	if (st->open_op != APP_NONE) { /* closed before opened(): report it as the open */
		up_opened(owner, sid, status ? status : -ECONNRESET);
		return;
	}
	app_stream_fail_rx(s, st, status ? status : -ECONNRESET);
	struct pony_shm_cpl c = {
		.tag = st->tag, .status = status, .op = PONY_OP_CLOSED, .stream = st->id,
		.service = st->service, .peer_ip = st->peer_ip,
	};
	app_stream_free(s, st);
	app_cpl_push(s, &c);
}

const struct pony_tp_upcalls pony_app_upcalls = {
	.accept = up_accept,
	.opened = up_opened,
	.rx_begin = up_rx_begin,
	.rx_peek = up_rx_peek,
	.rx_done = up_rx_done,
	.tx_done = up_tx_done,
	.closed = up_closed,
};
