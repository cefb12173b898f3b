/* Shared control-test helpers (see ctl_test_util.h). */
#include "snap/element.h"
#include "tests/unit/ctl_test_util.h"

volatile unsigned ctl_test_src_work_iters = 16;

struct src_priv {
	uint64_t generated;
	uint64_t checksum;
};

static unsigned src_poll(struct snap_elem *el, uint64_t now_tsc)
{
	struct src_priv *p = snap_elem_priv(el);
	uint64_t x = p->checksum ^ now_tsc;
	for (unsigned i = 0; i < ctl_test_src_work_iters; i++)
		x = x * 6364136223846793005ull + 1442695040888963407ull;
	p->checksum = x;
	p->generated++;
	return 1;
}

static void src_stats(const struct snap_elem *el, snap_stat_fn fn, void *ctx)
{
	const struct src_priv *p = snap_elem_priv(el);
	fn(ctx, "generated", p->generated);
	fn(ctx, "checksum", p->checksum);
}

static void sink_process(struct snap_elem *el, struct rte_mbuf **pkts, uint16_t n)
{
	snap_elem_drop_burst(el, pkts, n, SNAP_DROP_POLICY);
}

/* Every element needs process(); the source forwards anything it is handed. */
static void src_process(struct snap_elem *el, struct rte_mbuf **pkts, uint16_t n)
{
	snap_elem_emit(el, 0, pkts, n);
}

static const char *const src_outputs[] = {"out"};

static const struct snap_elem_desc ctl_test_src = {
	.name = "ctl_test_src",
	.help = "test source doing synthetic work",
	.priv_size = sizeof(struct src_priv),
	.n_outputs = 1,
	.outputs = src_outputs,
	.process = src_process,
	.poll = src_poll,
	.stats = src_stats,
};
SNAP_ELEM_REGISTER(ctl_test_src)

static const struct snap_elem_desc ctl_test_sink = {
	.name = "ctl_test_sink",
	.help = "test sink dropping everything",
	.process = sink_process,
};
SNAP_ELEM_REGISTER(ctl_test_sink)
