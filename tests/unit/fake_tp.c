/* Recording fake of the Pony transport for app-layer unit and fuzz tests (see fake_tp.h). */
#include <stdlib.h>
#include <string.h>

#include <errno.h>

#include "pony/onesided.h"
#include "pony/qos.h"
#include "fake_tp.h"

struct pony_tp {
	struct fake_tp f;
};

struct pony_tp *fake_tp_new(struct fake_tp **out)
{
	struct pony_tp *tp = calloc(1, sizeof(*tp));
	if (tp == NULL)
		abort();
	tp->f.next_sid = 100;
	*out = &tp->f;
	return tp;
}

void fake_tp_free(struct pony_tp *tp)
{
	free(tp);
}

static int record(struct pony_tp *tp, struct fake_tp_call c)
{
	struct fake_tp *f = &tp->f;
	if (f->n_calls < FAKE_TP_CALLS_MAX)
		f->calls[f->n_calls++] = c;
	f->n_total++;
	if (f->hook)
		f->hook(c.fn, f->hook_ctx);
	return f->ret[c.fn];
}

const struct fake_tp_call *fake_tp_last(const struct fake_tp *f, enum fake_tp_fn fn)
{
	for (unsigned i = f->n_calls; i-- > 0;)
		if (f->calls[i].fn == fn)
			return &f->calls[i];
	return NULL;
}

unsigned fake_tp_count(const struct fake_tp *f, enum fake_tp_fn fn)
{
	unsigned n = 0;
	for (unsigned i = 0; i < f->n_calls; i++)
		n += f->calls[i].fn == fn;
	return n;
}

struct pony_tp *pony_tp_create(const struct pony_tp_config *cfg)
{
	(void)cfg;
	return NULL;
}

int pony_tp_listen(struct pony_tp *tp, uint16_t service, void *listener)
{
	return record(tp, (struct fake_tp_call){.fn = FAKE_LISTEN, .service = service,
						.owner = listener});
}

int pony_tp_unlisten(struct pony_tp *tp, uint16_t service)
{
	return record(tp, (struct fake_tp_call){.fn = FAKE_UNLISTEN, .service = service});
}

int pony_tp_open(struct pony_tp *tp, const struct pony_ip *peer, uint16_t service, void *owner,
		 uint32_t *sid)
{
	*sid = tp->f.next_sid++;
	return record(tp, (struct fake_tp_call){.fn = FAKE_OPEN, .ip = pony_ip_4(peer),
						.peer = *peer, .service = service,
						.owner = owner, .sid = *sid});
}

int pony_tp_send_qos(struct pony_tp *tp, uint32_t sid, const void *buf, uint32_t len,
		     unsigned cls, unsigned *ran, uint64_t cookie)
{
	bool rpc = cls & PONY_QOS_RPC;
	cls &= ~PONY_QOS_RPC;
	if (ran != NULL)
		*ran = tp->f.downgrade && cls < 2 ? cls + 1 : cls;
	return record(tp, (struct fake_tp_call){.fn = FAKE_SEND, .sid = sid, .buf = buf,
						.len = len, .cookie = cookie,
						.cls = (uint8_t)cls, .rpc = rpc});
}

unsigned pony_tp_rx_code(const struct pony_tp *tp)
{
	(void)tp;
	return 0; /* normal */
}

const uint32_t *pony_tp_qos_weight(const struct pony_tp *tp)
{
	static const uint32_t w[3] = {8, 4, 1};
	(void)tp;
	return w;
}

int pony_tp_send(struct pony_tp *tp, uint32_t sid, const void *buf, uint32_t len,
		 uint64_t cookie)
{
	return pony_tp_send_qos(tp, sid, buf, len, 1, NULL, cookie);
}

int pony_tp_grant(struct pony_tp *tp, uint32_t sid, uint32_t n)
{
	return record(tp, (struct fake_tp_call){.fn = FAKE_GRANT, .sid = sid, .n = n});
}

int pony_tp_close(struct pony_tp *tp, uint32_t sid)
{
	return record(tp, (struct fake_tp_call){.fn = FAKE_CLOSE, .sid = sid});
}

/* One-sided ops are not simulated by this double: submit is refused. */
int pony_tp_os_attach(struct pony_tp *tp, const struct pony_os_hooks *h, void *ctx)
{
	(void)tp;
	(void)h;
	(void)ctx;
	return 0;
}

/* The peer its OPEN named (streams accepted through the upcall have none here). */
int pony_tp_stream_peer(const struct pony_tp *tp, uint32_t sid, struct pony_ip *out)
{
	for (unsigned i = tp->f.n_calls; i-- > 0;)
		if (tp->f.calls[i].fn == FAKE_OPEN && tp->f.calls[i].sid == sid) {
			*out = tp->f.calls[i].peer;
			return 0;
		}
	return -ENOTCONN;
}

int pony_tp_os_submit(struct pony_tp *tp, const struct pony_ip *peer, uint16_t peer_port,
		      const struct pony_os_op *op, void *owner, uint64_t cookie)
{
	(void)tp;
	(void)peer;
	(void)peer_port;
	(void)op;
	(void)owner;
	(void)cookie;
	return -EOPNOTSUPP;
}
