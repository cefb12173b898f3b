/* Core control operations behind the RPC methods (one function per operation; the RPC
 * handlers in control/ctl_*.c are thin wrappers, so a CLI or test can call these directly).
 * All run on the control thread; engine state is read only through snap_engine_call. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "snap/engine.h"

/* Default budget for one engine to answer a control closure. */
#define CTL_ENGINE_TIMEOUT_MS 500

/* ---- daemon ------------------------------------------------------------------------------ */

/* Milliseconds since the process started (recorded by a constructor). */
uint64_t ctl_uptime_ms(void);

/* Set log levels. type: NULL/"snap" (the daemon's log type), "dpdk" (DPDK's global level and
 * every lib.* / pmd.* type), "all" (both). level: a name or number (snap_log_level_parse).
 * 0, -EINVAL (bad level or type). */
int ctl_log_level_set(const char *type, const char *level);
/* Current levels (RTE_LOG_*): the snap type's and DPDK's (the EAL type's, which "dpdk"
 * sets along with every lib.* / pmd.* type and the global level). */
void ctl_log_level_get(int *snap_level, int *dpdk_level);

/* ---- engines ----------------------------------------------------------------------------- */

/* A consistent copy of one engine's scheduling-independent state, taken on its thread. */
struct ctl_engine_snap {
	struct snap_engine_stats st;
	uint16_t n_elems;
	char elem_name[SNAP_ENGINE_ELEMS_MAX][SNAP_NAME_MAX];
	char elem_type[SNAP_ENGINE_ELEMS_MAX][SNAP_NAME_MAX];
};
/* Copy e's counters and element list through its mailbox. 0 or the snap_engine_call error
 * (-ETIMEDOUT, -EBUSY). */
int ctl_engine_snapshot(struct snap_engine *e, struct ctl_engine_snap *out, unsigned timeout_ms);

/* One counter of a stats snapshot; elem "" is the engine itself. */
struct ctl_stat {
	char elem[SNAP_NAME_MAX];
	char name[48];
	uint64_t value;
};
/* Caller-provided buffer: the engine thread only copies into it (no allocation there). */
struct ctl_stat_buf {
	struct ctl_stat *v;
	unsigned n, cap;
	bool truncated; /* more counters than cap */
};
/* Every counter of e and its elements (snap_engine_report run on e's thread) into b
 * (b->n reset first). 0 or the snap_engine_call error. */
int ctl_stats_collect(struct snap_engine *e, struct ctl_stat_buf *b, unsigned timeout_ms);

/* `status` reports attached apps and module counters from the module table (core/module.h:
 * sessions and counters), so control/ needs no module's header. */
