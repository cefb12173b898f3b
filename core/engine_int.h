/* The engine's layout, private to the runtime (core/engine.c and the runtime files that build
 * and save engines). Everyone else, sched/ included, goes through include/snap/engine.h:
 * tools/check_layers.sh fails if a file outside core/ (and tests/) includes this header. */
#pragma once

#include "snap/engine.h"
#include "snap/stat.h"

/* Engine-level counters. Written only by the thread that owns the engine (the one running
 * it, or the control thread while it is parked: the hand-over is ordered by the release
 * store / acquire load of `state`), with snap_stat_add/set; read by anyone with relaxed
 * loads (snap_engine_stats_read). */
struct snap_engine_counters {
	_Atomic uint64_t polls;
	_Atomic uint64_t busy_polls;
	_Atomic uint64_t work;
	_Atomic uint64_t mbox_runs;
	_Atomic uint64_t cpu_ns;
	_Atomic uint64_t qdelay_hist[SNAP_QDELAY_BUCKETS];
	_Atomic uint64_t qdelay_last_ns;
};

struct snap_engine {
	char name[SNAP_NAME_MAX];
	uint32_t id;
	int socket_id;                  /* NUMA node of its memory and thread */
	struct snap_mbox mbox;
	uint16_t n_elems;
	struct snap_elem *elems[SNAP_ENGINE_ELEMS_MAX];
	uint16_t n_sources;             /* elements with a poll callback, in config order */
	struct snap_elem *sources[SNAP_ENGINE_ELEMS_MAX];
	struct snap_engine_counters st;
	uint64_t last_poll_tsc;         /* end of the previous poll (queueing delay estimate) */
	uint64_t backlog_since_tsc;     /* start of the first of the polls in a row that left
					 * input queued (0: the last poll drained everything) */
	bool more;                      /* set by a source during a poll: input left queued */
	char *desc;                     /* malloc'd, control thread: snap_engine_desc */

	/* fds whose readability means "this engine has work" (app doorbells, rx interrupt
	 * fds); a sleeping executor thread waits on them. Changed only on the engine's thread
	 * or while it is parked; the executor re-reads them when wake_gen changes. */
	int wake_fds[SNAP_ENGINE_WAKE_FDS_MAX];
	uint16_t n_wake_fds;
	_Atomic uint32_t wake_gen;

	/* Executor: state changes only by the executor on the control thread; exec_data is
	 * the executor's own per-engine record (snap_engine_exec_data). */
	_Atomic int state;              /* enum snap_engine_state */
	uint8_t exec_data[SNAP_ENGINE_EXEC_DATA_SIZE] __rte_cache_aligned;
};
