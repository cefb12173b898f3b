/* Engines: stateful, single-threaded, run-to-completion tasks built from a graph of elements.
 * An engine keeps no thread-local state, so any thread may run it next: groups move engines
 * between threads, and upgrade serializes them. Only the thread currently running an engine
 * touches its state; everyone else goes through the engine's mailbox (snap_engine_call). */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "control/mbox.h"
#include "snap/element.h"

#define SNAP_ENGINE_ELEMS_MAX 64
#define SNAP_ENGINE_WAKE_FDS_MAX 64
#define SNAP_QDELAY_BUCKETS 16 /* log2 buckets of queueing delay in microseconds */

struct sched_group;
struct sched_thread;
struct snap_port;

/* Engine-level counters (element counters live in each element). Written only by the thread
 * running the engine. */
struct snap_engine_stats {
	uint64_t polls;        /* calls to snap_engine_poll */
	uint64_t busy_polls;   /* polls that found work */
	uint64_t work;         /* units of work done (packets, commands, timers) */
	uint64_t mbox_runs;    /* mailbox closures run */
	uint64_t cpu_ns;       /* time spent in busy polls */
	uint64_t wakeups;      /* times a sleeping engine was woken (sched writes) */
	uint64_t moves;        /* thread/group changes (control thread writes while parked) */
	uint64_t qdelay_hist[SNAP_QDELAY_BUCKETS]; /* see snap_engine_poll */
	uint64_t qdelay_last_ns; /* most recent sample */
};

enum snap_engine_state {
	SNAP_ENGINE_PARKED = 0, /* owned by the control thread; no engine thread runs it */
	SNAP_ENGINE_RUNNING,    /* owned by engine->thread */
};

struct snap_engine {
	char name[SNAP_NAME_MAX];
	uint32_t id;
	int socket_id;                  /* NUMA node of its memory and thread */
	struct ctl_mbox mbox;
	uint16_t n_elems;
	struct snap_elem *elems[SNAP_ENGINE_ELEMS_MAX];
	uint16_t n_sources;             /* elements with a poll callback, in config order */
	struct snap_elem *sources[SNAP_ENGINE_ELEMS_MAX];
	struct snap_engine_stats st;
	uint64_t last_poll_tsc;         /* end of the previous poll (queueing delay estimate) */
	uint64_t backlog_since_tsc;     /* start of the first of the polls in a row that left
					 * input queued (0: the last poll drained everything) */
	bool more;                      /* set by a source during a poll: input left queued */

	/* fds whose readability means "this engine has work" (app doorbells, rx interrupt
	 * fds); a sleeping group thread waits on them. Changed only on the engine's thread or
	 * while it is parked; the group re-reads them via wake_gen when it changes. */
	int wake_fds[SNAP_ENGINE_WAKE_FDS_MAX];
	uint16_t n_wake_fds;
	_Atomic uint32_t wake_gen;

	/* Scheduling: changed only by the control thread (see sched/). */
	_Atomic int state;              /* enum snap_engine_state */
	struct sched_group *group;
	struct sched_thread *thread;
	void *sched_priv;               /* the group's per-engine data */

	/* Saved-state blob handed to restore at start (upgrade, moves across processes). */
	void *cfg_priv;                 /* builder's record of the config, for save */
};

/* Create an engine with no elements on NUMA node socket_id (SOCKET_ID_ANY: the caller's).
 * Registered under name; NULL with errno EEXIST (name taken), ENOMEM, EINVAL. Parked. */
struct snap_engine *snap_engine_create(const char *name, int socket_id);
/* Destroy a parked engine: destroys its elements (freeing what they hold). NULL is a no-op. */
void snap_engine_destroy(struct snap_engine *e);

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
/* First element of a given type in the engine, or NULL. */
struct snap_elem *snap_engine_elem_by_type(const struct snap_engine *e, const char *type);

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

/* A source, in its poll, says it left input queued (its burst came back full). */
static inline void snap_engine_note_backlog(struct snap_engine *e)
{
	e->more = true;
}
/* Earliest TSC at which some element has timed work; UINT64_MAX if none. */
uint64_t snap_engine_next_deadline(const struct snap_engine *e);
/* Ask every source element to arm (true) or disarm (false) its wake-up interrupts before a
 * sleep. Returns 0 if every source with pending external input can wake the engine through
 * a wake fd, -ENOTSUP if some source can only be polled (the group then backs off polling
 * instead of sleeping). */
int snap_engine_arm_wakeup(struct snap_engine *e, bool arm);

/* Wake fds (engine thread or parked only). 0, -ENOSPC, -ENOENT. */
int snap_engine_add_wake_fd(struct snap_engine *e, int fd);
int snap_engine_del_wake_fd(struct snap_engine *e, int fd);

/* Run fn(e, arg) on the engine's thread through its mailbox, or directly if the engine is
 * parked (the caller, the control thread, owns it then). Returns fn's result or the
 * ctl_mbox_call error. Only the control thread may call it for a parked engine. */
int snap_engine_call(struct snap_engine *e, ctl_mbox_fn fn, void *arg, unsigned timeout_ms);
/* Set by sched/ (sched_init): called on the caller's thread with begin=true before
 * snap_engine_call posts to a running engine's mailbox and begin=false after the call
 * returns, so the group can wake the engine's thread if it sleeps. NULL: none. */
extern void (*snap_engine_call_hook)(struct snap_engine *e, bool begin);

/* Registry (control thread). */
struct snap_engine *snap_engine_find(const char *name);
struct snap_engine *snap_engine_at(unsigned i); /* i-th engine or NULL */
unsigned snap_engine_count(void);

/* Engine-local memory on its NUMA node (zeroed, cache-aligned); free with rte_free. */
void *snap_engine_zmalloc(const struct snap_engine *e, size_t size);

/* Serialize every element's state (those with save) into out: a versioned container of
 * (element name, type, blob). 0 or -errno. Engine must be parked or call from its thread. */
int snap_engine_save(const struct snap_engine *e, struct snap_sbuf *out);
/* Restore from snap_engine_save output into an engine built from the same config. -EPROTO
 * on an unknown container version, -ENOENT if an element is missing. */
int snap_engine_restore(struct snap_engine *e, const void *data, size_t len);

/* Element counters snapshot callback, for stats readers (runs on the engine thread). */
typedef void (*snap_engine_stat_fn)(void *ctx, const char *elem, const char *counter,
				    uint64_t value);
/* Report all counters of the engine and its elements (call on the engine's thread). */
void snap_engine_report(const struct snap_engine *e, snap_engine_stat_fn fn, void *ctx);
