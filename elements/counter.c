/* counter: pass-through that counts packets and bytes at a point of the graph, with counts
 * that survive engine moves and upgrades (save/restore). */
#include <errno.h>
#include <string.h>

#include "snap/element.h"

enum { OUT_OUT, N_OUT };
static const char *const outputs[N_OUT] = {"out"};

#define COUNTER_SAVE_VERSION 1 /* bump when struct counter_saved changes */

struct counter {
	uint64_t packets;
	uint64_t bytes;
};

/* Saved-state layout (a contract across upgrades). */
struct counter_saved {
	uint32_t version;
	uint32_t pad;
	uint64_t packets;
	uint64_t bytes;
};

static void counter_process(struct snap_elem *el, struct rte_mbuf **pkts, uint16_t n)
{
	struct counter *s = snap_elem_priv(el);
	s->packets += n;
	for (uint16_t i = 0; i < n; i++)
		s->bytes += rte_pktmbuf_pkt_len(pkts[i]);
	snap_elem_emit(el, OUT_OUT, pkts, n);
}

static void counter_stats(const struct snap_elem *el, snap_stat_fn fn, void *ctx)
{
	const struct counter *s = snap_elem_priv(el);
	fn(ctx, "packets", s->packets);
	fn(ctx, "bytes", s->bytes);
}

static int counter_save(const struct snap_elem *el, struct snap_sbuf *out, uint32_t version)
{
	const struct counter *s = snap_elem_priv(el);
	struct counter_saved v = {COUNTER_SAVE_VERSION, 0, s->packets, s->bytes};
	snap_sbuf_put(out, &v, sizeof(v));
	return out->err;
}

static int counter_restore(struct snap_elem *el, const void *data, size_t len,
			   uint32_t version)
{
	struct counter *s = snap_elem_priv(el);
	struct counter_saved v;
	if (len != sizeof(v))
		return -EPROTO;
	memcpy(&v, data, sizeof(v));
	if (v.version != COUNTER_SAVE_VERSION)
		return -EPROTO;
	s->packets = v.packets;
	s->bytes = v.bytes;
	return 0;
}

static const struct snap_elem_desc counter_desc = {
	.name = "counter",
	.help = "count packets and bytes, pass them on",
	.priv_size = sizeof(struct counter),
	.n_outputs = N_OUT,
	.outputs = outputs,
	.process = counter_process,
	.stats = counter_stats,
	.state_version = COUNTER_SAVE_VERSION,
	.save = counter_save,
	.restore = counter_restore,
};
SNAP_ELEM_REGISTER(counter_desc)
