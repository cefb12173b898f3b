/* Fuzz target for the run-time topology a new daemon receives in an upgrade (T_TOPOLOGY,
 * core/takeover_topo.c): arbitrary bytes must never crash or leak, a refused topology must
 * leave the config as it was, and an accepted one must stay within the config's limits.
 * Seeds: tests/fuzz/corpus/takeover_topo (gen_topo.py). libFuzzer only (-Dfuzz=true). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/takeover.h"
#include "core/takeover_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);

/* libconfig 1.5 leaks its string buffer when a parse fails inside a string (strbuf_append,
 * never freed on that error path): not ours to fix, and bounded by the input (the same
 * parser reads `snapctl engine create`'s config). Everything else is checked for leaks. */
const char *__lsan_default_suppressions(void)
{
	return "leak:libconfig.so\n";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct snap_config cfg;
	char err[256];
	if (size > TO_TOPO_MAX)
		return 0; /* the frame's receiver refuses it before allocating */
	memset(&cfg, 0, sizeof(cfg));
	cfg.n_engines = 7; /* a sentinel a refusal must leave */
	strcpy(cfg.log_level, "info");
	int r = to_topo_apply(data, (uint32_t)size, &cfg, err, sizeof(err));
	if (r != 0 && cfg.n_engines != 7)
		abort();
	if (r == 0 && (cfg.n_groups > SNAP_CFG_GROUPS_MAX || cfg.n_engines > SNAP_CFG_ENGINES_MAX))
		abort();
	for (unsigned i = 0; r == 0 && i < cfg.n_engines; i++)
		if (cfg.engines[i].n_elems == 0 || cfg.engines[i].n_elems > SNAP_CFG_ELEMS_MAX)
			abort();
	return 0;
}
