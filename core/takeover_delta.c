/* An engine's state sent twice (issue 18's "brownout that does work"): in full while the
 * engine still runs (T_PRECOPY, saved on its own thread through its mailbox), then in the
 * blackout only what changed since (T_ENGINE_DELTA). The blackout still saves the whole
 * state (what is parked is what moves: the delta is exact, not a guess of what is static),
 * but the bytes that cross the socket, and the new daemon's allocation and page faults for
 * them, shrink to the changed blocks: the base is the buffer the new daemon already holds.
 *
 * Encoding (struct to_delta_hdr, then n_runs of { struct to_delta_run, len bytes }): the
 * result is total bytes long; bytes outside every run are the base's. Runs are in order,
 * do not overlap, and lie within total; what the base lacks (it grew) is inside a run. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/takeover.h"
#include "core/takeover_int.h"
#include "snap/element.h"
#include "snap/engine.h"
#include "snap/log.h"

#define BLOCK 64u /* the unit of comparison: a changed byte sends its 64-byte block */

void to_delta_encode(const uint8_t *base, size_t base_len, const uint8_t *cur, size_t cur_len,
		     struct snap_sbuf *out)
{
	size_t at = out->len;
	struct to_delta_hdr h = {.total = cur_len};
	snap_sbuf_put(out, &h, sizeof(h));
	size_t same = base_len < cur_len ? base_len : cur_len;
	size_t off = 0;
	while (off < cur_len) {
		/* Skip equal blocks (all of the common part's). */
		while (off < same) {
			size_t n = same - off < BLOCK ? same - off : BLOCK;
			if (memcmp(base + off, cur + off, n) != 0)
				break;
			off += n;
		}
		if (off >= cur_len)
			break;
		/* A run: changed blocks, and everything past the base's end. */
		size_t end = off;
		while (end < cur_len) {
			size_t n = cur_len - end < BLOCK ? cur_len - end : BLOCK;
			if (end + n <= same && memcmp(base + end, cur + end, n) == 0)
				break;
			end += n;
		}
		struct to_delta_run run = {.off = (uint32_t)off, .len = (uint32_t)(end - off)};
		snap_sbuf_put(out, &run, sizeof(run));
		snap_sbuf_put(out, cur + off, end - off);
		h.n_runs++;
		off = end;
	}
	if (out->err == 0)
		memcpy(out->data + at, &h, sizeof(h));
}

int to_delta_apply(uint8_t **base, size_t *base_len, size_t *cap, const void *delta, size_t len,
		   size_t max)
{
	const uint8_t *p = delta, *end = p + len;
	struct to_delta_hdr h;
	if (len < sizeof(h))
		return -EPROTO;
	memcpy(&h, p, sizeof(h));
	p += sizeof(h);
	if (h.total > max)
		return -EFBIG;
	/* Check every run before touching the base: a bad delta leaves it as it was. */
	uint64_t prev_end = 0, need = *base_len; /* the first byte past the base no run gave */
	const uint8_t *q = p;
	for (uint32_t i = 0; i < h.n_runs; i++) {
		struct to_delta_run run;
		if ((size_t)(end - q) < sizeof(run))
			return -EPROTO;
		memcpy(&run, q, sizeof(run));
		q += sizeof(run);
		if (run.len == 0 || run.off < prev_end || (uint64_t)run.off + run.len > h.total ||
		    (size_t)(end - q) < run.len)
			return -EPROTO;
		prev_end = (uint64_t)run.off + run.len;
		if (run.off <= need && prev_end > need)
			need = prev_end;
		q += run.len;
	}
	/* Every byte the base lacks comes from a run. */
	if (q != end || need < h.total)
		return -EPROTO;
	if (h.total > *cap) {
		uint8_t *d = realloc(*base, h.total);
		if (d == NULL)
			return -ENOMEM;
		*base = d;
		*cap = h.total;
	}
	for (uint32_t i = 0; i < h.n_runs; i++) {
		struct to_delta_run run;
		memcpy(&run, p, sizeof(run));
		p += sizeof(run);
		memcpy(*base + run.off, p, run.len);
		p += run.len;
	}
	*base_len = h.total;
	return 0;
}

struct precopy_arg {
	struct snap_sbuf *b;
	uint32_t container;
	bool planned;
};

/* On the engine's thread, between its polls: what it would save parked. */
static int precopy_save(struct snap_engine *e, void *arg)
{
	struct precopy_arg *a = arg;
	return snap_engine_save_v(e, a->b, a->container, a->planned ? to_plan_version : NULL,
				  NULL);
}

int to_precopy_send(int s, struct snap_engine *e, const struct to_engine *hdr,
		    struct snap_sbuf *pre, uint32_t container, bool planned)
{
	pre->len = 0;
	snap_sbuf_put(pre, hdr, sizeof(*hdr));
	struct precopy_arg a = {.b = pre, .container = container, .planned = planned};
	int r = snap_engine_call(e, precopy_save, &a, TO_PRECOPY_WAIT_MS);
	if (r == 0 && pre->err)
		r = pre->err;
	if (r == 0 && pre->len > SNAP_TAKEOVER_FRAME_MAX)
		r = -EFBIG;
	if (r) {
		SNAP_LOG(INFO, "takeover: engine %s: no pre-copy (%s): its state goes in full",
			 hdr->name, strerror(-r));
		return 1;
	}
	/* Acked once kept: the whole transfer stays in the brownout (unacked, the blackout's
	 * first send waited for the new daemon to drain it: 1.5-2.2 ms). */
	struct to_status ack = {0};
	r = snap_takeover_send(s, T_PRECOPY, pre->data, (uint32_t)pre->len, NULL, 0);
	if (r == 0)
		r = to_recv_fixed(s, T_ACK, &ack, sizeof(ack));
	return r ? r : ack.status ? (ack.status < 0 ? ack.status : -EPROTO) : 0;
}

int to_engine_send(int s, const struct snap_sbuf *pre, const struct snap_sbuf *b,
		   struct snap_sbuf *d, size_t *sent)
{
	if (pre == NULL) {
		*sent = b->len;
		return snap_takeover_send(s, T_ENGINE, b->data, (uint32_t)b->len, NULL, 0);
	}
	d->len = 0;
	snap_sbuf_put(d, b->data, sizeof(struct to_engine));
	to_delta_encode(pre->data, pre->len, b->data, b->len, d);
	if (d->err)
		return d->err;
	*sent = d->len;
	return snap_takeover_send(s, T_ENGINE_DELTA, d->data, (uint32_t)d->len, NULL, 0);
}
