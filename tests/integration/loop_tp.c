/* Loopback test double of the Pony transport (pony/transport.h): streams opened to any
 * address connect to a listener of the same transport; messages are copied straight from
 * the sender's buffer into the receiver's posted buffer, honouring receive credit. Work is
 * queued by the pony_tp_* calls and done in loop_tp_run(), so upcalls never re-enter the
 * app layer from inside its own calls. Used only by the example end-to-end test harness. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "pony/onesided.h"
#include "loop_tp.h"

#define LOOP_STREAMS 1024
#define LOOP_TXQ 256
#define LOOP_LISTEN 64

struct loop_tx {
	const void *buf;
	uint32_t len;
	uint64_t cookie;
};

struct loop_stream {
	bool used, opening, closing, peer_closed;
	uint32_t peer;     /* peer sid; 0 none */
	uint16_t service;
	void *owner;
	uint32_t credit;   /* messages this stream's receiver granted (peer may send) */
	struct loop_tx txq[LOOP_TXQ];
	unsigned tx_head, tx_n;
};

struct pony_tp {
	const struct pony_tp_upcalls *up;
	struct loop_stream s[LOOP_STREAMS]; /* index = sid; 0 unused */
	struct {
		uint16_t service;
		void *listener;
		bool used;
	} l[LOOP_LISTEN];
	uint64_t delivered;
};

struct pony_tp *loop_tp_new(const struct pony_tp_upcalls *up)
{
	struct pony_tp *tp = calloc(1, sizeof(*tp));
	if (tp)
		tp->up = up;
	return tp;
}

void loop_tp_free(struct pony_tp *tp)
{
	free(tp);
}

uint64_t loop_tp_delivered(const struct pony_tp *tp)
{
	return tp->delivered;
}

struct pony_tp *pony_tp_create(const struct pony_tp_config *cfg)
{
	(void)cfg;
	return NULL;
}

int pony_tp_listen(struct pony_tp *tp, uint16_t service, void *listener)
{
	int free_slot = -1;
	for (int i = 0; i < LOOP_LISTEN; i++) {
		if (tp->l[i].used && tp->l[i].service == service)
			return -EADDRINUSE;
		if (!tp->l[i].used && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0)
		return -ENOSPC;
	tp->l[free_slot].used = true;
	tp->l[free_slot].service = service;
	tp->l[free_slot].listener = listener;
	return 0;
}

int pony_tp_unlisten(struct pony_tp *tp, uint16_t service)
{
	for (int i = 0; i < LOOP_LISTEN; i++)
		if (tp->l[i].used && tp->l[i].service == service) {
			tp->l[i].used = false;
			return 0;
		}
	return -ENOENT;
}

static uint32_t alloc_sid(struct pony_tp *tp)
{
	for (uint32_t i = 1; i < LOOP_STREAMS; i++)
		if (!tp->s[i].used) {
			memset(&tp->s[i], 0, sizeof(tp->s[i]));
			tp->s[i].used = true;
			return i;
		}
	return 0;
}

int pony_tp_stream_peer(const struct pony_tp *tp, uint32_t sid, struct pony_ip *out)
{
	(void)tp;
	(void)sid;
	(void)out;
	return -ENOTCONN; /* the app layer falls back on the stream's IPv4 address */
}

int pony_tp_open(struct pony_tp *tp, const struct pony_ip *peer, uint16_t service, void *owner,
		 uint32_t *sid)
{
	(void)peer;
	uint32_t i = alloc_sid(tp);
	if (i == 0)
		return -ENOSPC;
	tp->s[i].opening = true;
	tp->s[i].owner = owner;
	tp->s[i].service = service;
	*sid = i;
	return 0;
}

static struct loop_stream *live(struct pony_tp *tp, uint32_t sid)
{
	if (sid == 0 || sid >= LOOP_STREAMS || !tp->s[sid].used || tp->s[sid].closing)
		return NULL;
	return &tp->s[sid];
}

unsigned pony_tp_rx_code(const struct pony_tp *tp)
{
	(void)tp;
	return 0; /* normal: the loop has no classes */
}

const uint32_t *pony_tp_qos_weight(const struct pony_tp *tp)
{
	static const uint32_t w[3] = {8, 4, 1};
	(void)tp;
	return w;
}

/* Loopback: no classes, every message runs as asked. */
int pony_tp_send_qos(struct pony_tp *tp, uint32_t sid, const void *buf, uint32_t len,
		     unsigned cls, unsigned *ran, uint64_t cookie)
{
	cls &= ~0x100u; /* PONY_QOS_RPC: nothing is measured here */
	if (cls >= 3)
		return -EINVAL;
	if (ran != NULL)
		*ran = cls;
	return pony_tp_send(tp, sid, buf, len, cookie);
}

int pony_tp_send(struct pony_tp *tp, uint32_t sid, const void *buf, uint32_t len,
		 uint64_t cookie)
{
	struct loop_stream *s = live(tp, sid);
	if (len == 0 || len > PONY_MSG_MAX)
		return -EINVAL;
	if (s == NULL || s->opening || s->peer_closed)
		return -ENOTCONN;
	if (s->tx_n == LOOP_TXQ)
		return -ENOBUFS;
	s->txq[(s->tx_head + s->tx_n++) % LOOP_TXQ] = (struct loop_tx){buf, len, cookie};
	return 0;
}

int pony_tp_grant(struct pony_tp *tp, uint32_t sid, uint32_t n)
{
	struct loop_stream *s = live(tp, sid);
	if (s == NULL)
		return -ENOTCONN;
	s->credit += n;
	return 0;
}

int pony_tp_close(struct pony_tp *tp, uint32_t sid)
{
	struct loop_stream *s = live(tp, sid);
	if (s == NULL)
		return -ENOTCONN;
	s->closing = true;
	return 0;
}

/* Finish a stream: cancel its sends, tell the peer, free it. */
static void finish(struct pony_tp *tp, uint32_t sid)
{
	struct loop_stream *s = &tp->s[sid];
	while (s->tx_n) {
		struct loop_tx t = s->txq[s->tx_head];
		s->tx_head = (s->tx_head + 1) % LOOP_TXQ;
		s->tx_n--;
		tp->up->tx_done(s->owner, sid, t.cookie, -ECANCELED);
	}
	uint32_t p = s->peer;
	s->used = false;
	if (p && tp->s[p].used && !tp->s[p].closing) {
		struct loop_stream *ps = &tp->s[p];
		ps->peer = 0;
		ps->peer_closed = true;
		while (ps->tx_n) {
			struct loop_tx t = ps->txq[ps->tx_head];
			ps->tx_head = (ps->tx_head + 1) % LOOP_TXQ;
			ps->tx_n--;
			tp->up->tx_done(ps->owner, p, t.cookie, -ECONNRESET);
		}
		ps->used = false;
		tp->up->closed(ps->owner, p, 0);
	}
}

static unsigned loop_os_run(void);

unsigned loop_tp_run(struct pony_tp *tp)
{
	unsigned work = loop_os_run();
	for (uint32_t i = 1; i < LOOP_STREAMS; i++) {
		struct loop_stream *s = &tp->s[i];
		if (!s->used)
			continue;
		if (s->closing) {
			finish(tp, i);
			work++;
			continue;
		}
		if (s->opening) {
			s->opening = false;
			work++;
			void *listener = NULL;
			for (int k = 0; k < LOOP_LISTEN; k++)
				if (tp->l[k].used && tp->l[k].service == s->service)
					listener = tp->l[k].listener;
			uint32_t p = listener ? alloc_sid(tp) : 0;
			void *powner = NULL;
			const struct pony_ip *lo = PONY_IP4(htonl(0x7f000001));
			if (p && tp->up->accept(listener, p, lo, s->service,
						&powner) == 0) {
				tp->s[p].owner = powner;
				tp->s[p].peer = i;
				tp->s[p].service = s->service;
				s->peer = p;
				tp->up->opened(s->owner, i, 0);
			} else {
				if (p)
					tp->s[p].used = false;
				s->used = false;
				tp->up->opened(s->owner, i, -ECONNREFUSED);
			}
			continue;
		}
		/* Deliver queued messages while the receiver has credit. */
		while (s->tx_n && s->peer && tp->s[s->peer].credit) {
			struct loop_stream *r = &tp->s[s->peer];
			struct loop_tx t = s->txq[s->tx_head];
			s->tx_head = (s->tx_head + 1) % LOOP_TXQ;
			s->tx_n--;
			r->credit--;
			uint64_t ck;
			void *dst = tp->up->rx_begin(r->owner, s->peer, t.len, &ck);
			if (dst)
				memcpy(dst, t.buf, t.len);
			tp->up->rx_done(r->owner, s->peer, ck, dst ? t.len : 0,
					dst ? 0 : -EMSGSIZE);
			tp->up->tx_done(s->owner, i, t.cookie, 0);
			tp->delivered++;
			work++;
		}
	}
	return work;
}

/* One-sided ops over the loopback: every op targets this same transport's regions and runs
 * through the real record executor (pony/onesided_exec.c) at the next loop_tp_run, like the
 * remote engine would; the completion follows in the same run. */
#define LOOP_OS_MAX 256

static struct {
	struct pony_os_hooks h;
	void *ctx;
	struct {
		struct pony_os_op op;
		uint8_t key[PONY_OS_KEY_MAX];
		void *owner;
		uint64_t cookie;
	} q[LOOP_OS_MAX];
	unsigned n;
} loop_os;

int pony_tp_os_attach(struct pony_tp *tp, const struct pony_os_hooks *h, void *ctx)
{
	(void)tp;
	if (h)
		loop_os.h = *h;
	else
		memset(&loop_os.h, 0, sizeof(loop_os.h));
	loop_os.ctx = ctx;
	return 0;
}

int pony_tp_os_submit(struct pony_tp *tp, const struct pony_ip *peer, uint16_t peer_port,
		      const struct pony_os_op *op, void *owner, uint64_t cookie)
{
	(void)tp;
	(void)peer;
	(void)peer_port;
	if (loop_os.h.done == NULL)
		return -ENODEV;
	if (op->len == 0 || op->len > PONY_OS_DATA_MAX || op->key_len > PONY_OS_KEY_MAX)
		return -EINVAL;
	if (loop_os.n == LOOP_OS_MAX)
		return -ENOBUFS;
	unsigned i = loop_os.n++;
	loop_os.q[i].op = *op;
	if (op->key_len)
		memcpy(loop_os.q[i].key, op->key_data, op->key_len);
	loop_os.q[i].owner = owner;
	loop_os.q[i].cookie = cookie;
	return 0;
}

static unsigned loop_os_run(void)
{
	unsigned n = loop_os.n;
	static uint8_t out[PONY_OS_RESP_HDR + PONY_OS_DATA_MAX];
	for (unsigned i = 0; i < n; i++) {
		const struct pony_os_op *op = &loop_os.q[i].op;
		struct pony_os_rec r = {.opcode = op->opcode, .flags = op->flags, .len = op->len,
					.region = op->region, .key = op->rkey, .off = op->off};
		if (op->opcode == PONY_OS_WRITE) {
			r.data = op->buf;
			r.data_len = (uint16_t)op->len;
		} else if (op->opcode == PONY_OS_SCAN_READ) {
			r.data = loop_os.q[i].key;
			r.data_len = op->key_len;
		} else if (op->opcode == PONY_OS_BPF) { /* the request is in buf, off bytes */
			r.data = op->buf;
			r.data_len = (uint16_t)op->off;
			r.off = 0;
		}
		struct pony_os_region rg;
		unsigned st = loop_os.h.resolve(loop_os.ctx, r.region, r.key, &rg), status;
		size_t len = pony_os_exec(&r, st == PONY_OS_ST_OK ? &rg : NULL, st, out, sizeof(out),
					  &status);
		struct pony_os_resp rs;
		int k = pony_os_parse_resp(out, len, 1, &rs, 1);
		int err = k == 1 ? pony_os_status_errno(rs.status) : -EPROTO;
		if (err == 0 && op->opcode != PONY_OS_WRITE)
			memcpy(op->buf, rs.data, rs.data_len);
		loop_os.h.done(loop_os.q[i].owner, loop_os.q[i].cookie, err,
			       err == 0 || err == -EMSGSIZE ? rs.len : 0);
	}
	/* ops submitted from inside done() ran next time */
	memmove(loop_os.q, loop_os.q + n, (loop_os.n - n) * sizeof(loop_os.q[0]));
	loop_os.n -= n;
	return n;
}
