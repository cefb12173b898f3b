/* Engines: stateful, single-threaded, run-to-completion tasks built from a graph of elements.
 * An engine keeps no thread-local state, so any thread may run it next: groups move engines
 * between threads, and upgrade serializes them. Only the thread currently running an engine
 * touches its state; everyone else goes through the engine's mailbox (snap_engine_call). */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "snap/element.h"
#include "snap/mbox.h"

#define SNAP_ENGINE_ELEMS_MAX 64
#define SNAP_ENGINE_WAKE_FDS_MAX 64
#define SNAP_QDELAY_BUCKETS 16 /* log2 buckets of queueing delay in microseconds */
#define SNAP_ENGINE_EXEC_DATA_SIZE 384 /* bytes of the executor's per-engine record */

/* Opaque outside the runtime (its layout is in core/engine_int.h). */
struct snap_engine;
struct snap_port;

/* A copy of the engine-level counters (element counters live in each element), taken by
 * snap_engine_stats_read. Scheduling counters (wake-ups, moves) belong to the executor. */
struct snap_engine_stats {
	uint64_t polls;        /* calls to snap_engine_poll */
	uint64_t busy_polls;   /* polls that found work */
	uint64_t work;         /* units of work done (packets, commands, timers) */
	uint64_t mbox_runs;    /* mailbox closures run */
	uint64_t cpu_ns;       /* time spent in busy polls */
	uint64_t qdelay_hist[SNAP_QDELAY_BUCKETS]; /* see snap_engine_poll */
	uint64_t qdelay_last_ns; /* most recent sample */
};

enum snap_engine_state {
	SNAP_ENGINE_PARKED = 0, /* owned by the control thread; no executor thread runs it */
	SNAP_ENGINE_RUNNING,    /* owned by the executor thread it was handed to */
};

/* Create an engine with no elements on NUMA node socket_id (SOCKET_ID_ANY: the caller's).
 * Registered under name; NULL with errno EEXIST (name taken), ENOMEM, EINVAL. Parked. */
struct snap_engine *snap_engine_create(const char *name, int socket_id);
/* Destroy a parked engine: destroys its elements (freeing what they hold). NULL is a no-op. */
void snap_engine_destroy(struct snap_engine *e);
/* The description e was built from: its element graph in the syntax `snapctl engine create`
 * takes ("elements = (...); links = (...);", see snap_config_format_engine), kept so that a
 * transparent upgrade builds the same engine in the new daemon. Control thread. set copies
 * desc (NULL clears it): 0 or -ENOMEM (the old one is kept). get: NULL for an engine made by
 * code rather than from a description (it cannot be rebuilt elsewhere). */
int snap_engine_set_desc(struct snap_engine *e, const char *desc);
const char *snap_engine_desc(const struct snap_engine *e);

/* Add an element of type `type` named `name`, initialised from args. 0 or -errno
 * (-ENOENT unknown type, -EEXIST duplicate name, -ENOSPC too many, or init's error; errmsg,
 * if non-NULL, receives a one-line reason). */
int snap_engine_add_elem(struct snap_engine *e, const char *type, const char *name,
			 const struct snap_elem_args *args, char *errmsg, size_t errlen);
/* Wire from.out[out_name] -> to. out_name NULL means output 0. 0 or -ENOENT/-EINVAL/-ELOOP
 * (the link would make a cycle: run-to-completion graphs must be acyclic). */
int snap_engine_link(struct snap_engine *e, const char *from, const char *out_name,
		     const char *to, char *errmsg, size_t errlen);
struct snap_elem *snap_engine_elem(const struct snap_engine *e, const char *name);
/* Elements in creation order: how many, and the i-th (NULL past the end). Engine's thread
 * or parked. */
uint16_t snap_engine_n_elems(const struct snap_engine *e);
struct snap_elem *snap_engine_elem_at(const struct snap_engine *e, uint16_t i);

/*
 * One bounded round of work: run a pending mailbox closure, then poll every source element
 * once. Returns the units of work done (0: idle). now_tsc is rte_rdtsc() at the call.
 * Queueing delay: when a poll finds work, now - (end of previous poll) bounds how long that
 * work waited; it is recorded in st.qdelay_hist (bucket b counts samples < 2^b us). After a
 * sleep, snap_engine_arm_wakeup(e, false) restarts that clock at the wake-up. If the earlier
 * polls left input queued (snap_engine_note_backlog), the oldest of it has waited at least
 * since the first of them began, and that longer age is recorded instead: an engine falling
 * behind shows a growing delay, not the short gaps between its busy polls.
 */
unsigned snap_engine_poll(struct snap_engine *e, uint64_t now_tsc);

/* A source, in its poll, says it left input queued (its burst came back full). Out of line
 * (the engine is opaque): a call only on a full burst, amortised over that burst. */
void snap_engine_note_backlog(struct snap_engine *e);
/* Earliest TSC at which some element has timed work; UINT64_MAX if none. */
uint64_t snap_engine_next_deadline(const struct snap_engine *e);
/* Ask every source element to arm (true) or disarm (false) its wake-up interrupts before a
 * sleep. Returns 0 if every source with pending external input can wake the engine through
 * a wake fd, SNAP_ARM_GUARDED if one may miss a wake-up (sleep no longer than a guard),
 * -ENOTSUP if some source can only be polled (the group then backs off polling instead of
 * sleeping). */
int snap_engine_arm_wakeup(struct snap_engine *e, bool arm);

/* Wake fds (engine thread or parked only). 0, -ENOSPC, -ENOENT. */
int snap_engine_add_wake_fd(struct snap_engine *e, int fd);
int snap_engine_del_wake_fd(struct snap_engine *e, int fd);

/* Run fn(e, arg) on the engine's thread through its mailbox, or directly if the engine is
 * parked (the caller, the control thread, owns it then). Returns fn's result or the
 * snap_mbox_call error. Only the control thread may call it for a parked engine. */
int snap_engine_call(struct snap_engine *e, snap_mbox_fn fn, void *arg, unsigned timeout_ms);

/* Identity (fixed at create; any thread). */
const char *snap_engine_name(const struct snap_engine *e);
uint32_t snap_engine_id(const struct snap_engine *e);
/* NUMA node given at create (SOCKET_ID_ANY: none). */
int snap_engine_socket(const struct snap_engine *e);

/* Copy the engine-level counters into out, from any thread. Each value is one the counter
 * held (the owning thread stores them with relaxed atomic stores, readers load them
 * relaxed); different fields may be from instants a poll apart. */
void snap_engine_stats_read(const struct snap_engine *e, struct snap_engine_stats *out);

/* Registry (control thread). */
struct snap_engine *snap_engine_find(const char *name);
struct snap_engine *snap_engine_at(unsigned i); /* i-th engine or NULL */
unsigned snap_engine_count(void);

/* Engine-local memory on its NUMA node (zeroed, cache-aligned; snap/numa.h); free with
 * snap_numa_free (rte_free: engines exist only with EAL running). */
void *snap_engine_zmalloc(const struct snap_engine *e, size_t size);

/* Saved-state container versions: 1, release 0.1.0's (records carry no version: each is
 * its element's version 1); 2, each record carries its element's format version. */
#define SNAP_ENGINE_SAVE_V1 1u
#define SNAP_ENGINE_SAVE_V2 2u
/* The format version to write for elements of type `type` (a takeover's plan). */
typedef uint32_t (*snap_engine_version_fn)(const char *type, void *ctx);
/* Serialize every element's state (those with save) into out: a container of (element
 * name, type, version, blob) in container version `container`, each element in the version
 * fn gives (NULL: each type's newest; with container 1, every element in its version 1).
 * 0, -EPROTONOSUPPORT (a version outside an element's write range), or -errno. Engine must
 * be parked or call from its thread. snap_engine_save: the newest of everything. */
int snap_engine_save_v(const struct snap_engine *e, struct snap_sbuf *out, uint32_t container,
		       snap_engine_version_fn fn, void *ctx);
int snap_engine_save(const struct snap_engine *e, struct snap_sbuf *out);
/* Restore from snap_engine_save output (container version 1 or 2) into an engine built from
 * the same config. -EPROTO on an unknown container version, a damaged container, or an
 * element version outside the element's read range; -ENOENT if an element is missing. */
int snap_engine_restore(struct snap_engine *e, const void *data, size_t len);

/* Element counters snapshot callback, for stats readers (runs on the engine thread). */
typedef void (*snap_engine_stat_fn)(void *ctx, const char *elem, const char *counter,
				    uint64_t value);
/* Report all counters of the engine and its elements (call on the engine's thread). */
void snap_engine_report(const struct snap_engine *e, snap_engine_stat_fn fn, void *ctx);

/*
 * Executor interface: how a scheduler (sched/) drives engines without knowing their layout.
 * An executor hands a parked engine to one of its threads, which calls snap_engine_poll in a
 * loop; before sleeping it arms wake-ups, waits on the engine's wake fds and its next
 * deadline, and disarms after. Handing over and back goes through the state below.
 */

/* PARKED or RUNNING (acquire: a reader that sees PARKED also sees what the last executor
 * thread wrote to the engine). Any thread. */
enum snap_engine_state snap_engine_state(const struct snap_engine *e);
/* The executor, on the control thread, records a hand-over (release: what the control
 * thread wrote to the parked engine is visible to the thread that sees RUNNING; the
 * executor publishes the engine to its thread with a release store of its own after). */
void snap_engine_set_state(struct snap_engine *e, enum snap_engine_state s);

/* The executor's per-engine record: SNAP_ENGINE_EXEC_DATA_SIZE bytes, cache-aligned, zeroed
 * at create, living as long as the engine. The runtime never reads it. */
void *snap_engine_exec_data(struct snap_engine *e);

/* Wake fds, read by the thread running the engine (or the owner of a parked engine).
 * snap_engine_wake_gen changes (acquire, pairs with the release bump in add/del) whenever
 * the set changes; snap_engine_wake_fds copies up to max fds into fds (max 0: none, fds
 * may be NULL) and returns how many the engine has (at most SNAP_ENGINE_WAKE_FDS_MAX). */
uint32_t snap_engine_wake_gen(const struct snap_engine *e);
unsigned snap_engine_wake_fds(const struct snap_engine *e, int *fds, unsigned max);

/* Callbacks an executor registers (sched_init), all optional. */
struct snap_executor {
	/* On the caller's thread, begin=true before snap_engine_call posts to a running
	 * engine's mailbox and begin=false after the call returns, so the executor can wake
	 * the engine's thread if it sleeps. */
	void (*call)(struct snap_engine *e, bool begin);
	/* snap_engine_report asks the executor for its engine-level counters (wakeups,
	 * moves) through this, on the thread that runs the report. */
	void (*report)(const struct snap_engine *e, snap_engine_stat_fn fn, void *ctx);
};
/* Install x (NULL: none). x must stay valid while installed. Control thread, before any
 * engine runs or after all are parked. */
void snap_engine_set_executor(const struct snap_executor *x);
