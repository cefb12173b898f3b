/* Building engines from their config: elements, links, NUMA placement. */
#pragma once

#include <stddef.h>

struct snap_config;
struct snap_engine_cfg;
struct snap_engine;

/* Create one engine (parked) from its config. The engine's NUMA node is that of the first
 * port any of its elements names (`port = ...`), else the control thread's. 0 or -errno with
 * "file:line: engine X: element Y: problem" in err. *out receives the engine. */
int snap_engine_build(const struct snap_config *cfg, const struct snap_engine_cfg *ec,
		      struct snap_engine **out, char *err, size_t errlen);
/* Build every configured engine. 0 or -errno (engines built so far stay registered; the
 * caller destroys them). */
int snap_engines_build(const struct snap_config *cfg, char *err, size_t errlen);
