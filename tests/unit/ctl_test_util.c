/* Shared control-test helpers (see ctl_test_util.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>

#include "snap/element.h"
#include "tests/unit/ctl_test_util.h"

static char prefix[64];

int ctl_test_eal_init(const char *name)
{
	snprintf(prefix, sizeof(prefix), "ctl-%s-%d", name, (int)getpid());
	char pfx_arg[96];
	snprintf(pfx_arg, sizeof(pfx_arg), "--file-prefix=%s", prefix);
	char *args[] = {(char *)(uintptr_t)name, "--no-huge", "--no-pci", "-m", "128",
			pfx_arg, "--log-level=lib.*:error", "--no-telemetry", NULL};
	int argc = (int)(sizeof(args) / sizeof(args[0])) - 1;
	if (rte_eal_init(argc, args) < 0) {
		fprintf(stderr, "rte_eal_init failed: %s\n", strerror(rte_errno));
		return -1;
	}
	return 0;
}

void ctl_test_eal_fini(void)
{
	rte_eal_cleanup();
	/* Runtime dir: /var/run/dpdk/<prefix> as root, $XDG_RUNTIME_DIR/dpdk/<prefix> else. */
	char cmd[256];
	const char *base = getuid() == 0 ? "/var/run" : getenv("XDG_RUNTIME_DIR");
	if (base == NULL)
		base = "/tmp";
	snprintf(cmd, sizeof(cmd), "rm -rf '%s/dpdk/%s'", base, prefix);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", prefix);
}

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
