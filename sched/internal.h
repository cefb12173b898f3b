/* Private layout of groups, threads and per-engine scheduling data, shared by the files of
 * sched/ (group API and moves, the thread loop, the compacting controller). */
#pragma once

#include <pthread.h>
#include <stdatomic.h>

#include "sched/sched.h"
#include "snap/stat.h"

#define SCHED_GROUPS_MAX 64
#define SCHED_GROUP_ENGINES_MAX 256
#define SCHED_PARK_TIMEOUT_MS 1000

/* Per-engine scheduling data, kept in the engine's executor record (snap_engine_exec_data:
 * zeroed at create, as long-lived as the engine). Owned by the control thread except
 * park_req, which the park closure sets and the engine's thread clears (both on that
 * thread), and wakeups, which the thread running the engine writes. */
struct sched_eng {
	struct sched_group *g;    /* NULL: in no group */
	struct sched_thread *t;   /* NULL: parked */
	bool park_req;
	int slot;                 /* slot on its thread, -1 when parked */
	/* Compacting window: counters at the window start and the last window's results
	 * (reset when the engine joins a group). */
	uint64_t w_hist[SNAP_QDELAY_BUCKETS];
	uint64_t w_work, w_cpu_ns;
	uint64_t p99_ns;
	uint32_t load_milli;      /* Little's law concurrency of the last window, x1000 */
	/* For the engine's lifetime, across groups (snap_stat_*: read from other threads). */
	_Atomic uint64_t wakeups; /* sleeps of its thread that ended in an event */
	_Atomic uint64_t moves;   /* thread/group changes */
};
_Static_assert(sizeof(struct sched_eng) <= SNAP_ENGINE_EXEC_DATA_SIZE,
	       "struct sched_eng must fit the engine's executor record");

static inline struct sched_eng *sched_eng(const struct snap_engine *e)
{
	/* The record is sched's own data, writable even through a const engine pointer. */
	return snap_engine_exec_data((struct snap_engine *)(uintptr_t)e);
}

/* Counters written only by the thread (relaxed atomics so inspect can read them). */
struct sched_thread_stats {
	_Atomic uint64_t loops, busy_loops, idle_loops, idle_yields, sleeps, wakeups, ctl_wakeups,
		timer_wakeups, backoffs, backoff_ns, backoff_cur_ns, spin_ns;
};

struct sched_thread {
	struct sched_group *g;
	unsigned index;
	bool polling;             /* dedicated: never sleeps */
	pthread_t tid;
	int ctl_fd;               /* eventfd: control thread wakes us (stop, mailbox post) */
	int ep_fd;
	int timer_fd;
	int node, cpu;
	_Atomic bool stop;
	_Atomic bool ready;       /* placement done, strings below are final */
	_Atomic uint32_t calls;   /* mailbox calls in flight: do not sleep while > 0 */
	/* Engine slots: the control thread fills a NULL slot (release), the thread clears it
	 * (release) after parking the engine at a safe point. */
	_Atomic(struct snap_engine *) slot[SCHED_THREAD_ENGINES_MAX];
	/* Control-thread mirror of the slots (for placement and inspect). */
	struct snap_engine *engines[SCHED_THREAD_ENGINES_MAX];
	unsigned n_engines;
	char placement[96];
	char deadline[64];
	unsigned n_cpus;          /* CPUs its affinity allows (set before ready) */
	/* The thread's own: the current guard of a sleep on sources that may lose a wake-up
	 * (SNAP_ARM_GUARDED); 0 = none yet since the last work (thread.c, idle_sleep). */
	uint64_t guard_ns;
	struct sched_thread_stats st;
};

struct sched_group {
	char name[SCHED_NAME_MAX];
	enum sched_mode mode;
	struct sched_params p;
	struct sched_thread *threads[SCHED_THREADS_MAX];
	unsigned n_engines;
	struct snap_engine *engines[SCHED_GROUP_ENGINES_MAX];
	unsigned rr;              /* dedicated: next thread to deal an engine to */
	uint64_t moves;
	uint64_t retired_cpu_ns;  /* CPU time of threads already stopped */
	/* Compacting controller. */
	uint64_t win_start_ns;
	unsigned grow_streak, shrink_streak;
	uint64_t windows, grows, shrinks, rebalances, balances, held_at_max;
	uint64_t p99_max_ns;
	uint32_t little_milli;
	uint16_t threads_wanted;
	/* Load (Little, x1000) at which the group last grew to n threads: it shrinks back
	 * from n only once load is well below that (hysteresis: after a grow for delay,
	 * delay is low *because* of the grow, so low delay alone must not undo it). */
	uint32_t grow_load[SCHED_THREADS_MAX + 1];
};

/* params.c: fill zero fields from the defaults, then check consistency. 0 or -EINVAL. */
int sched_params_check(struct sched_params *p);

/* thread.c */
/* Start a thread of g at threads[index] on NUMA node (-1: any) or pinned to cpu (>= 0).
 * Returns it with placement done, or NULL + errno. */
struct sched_thread *sched_thread_start(struct sched_group *g, unsigned index, int node, int cpu);
/* Stop and join a thread that runs no engine; frees it. */
void sched_thread_stop(struct sched_thread *t);
/* Link a parked engine onto t (sets state/thread/group). 0 or -ENOSPC. */
int sched_thread_link(struct sched_thread *t, struct snap_engine *e);
/* Park e at a safe point of its thread and unlink it. 0 or the park call's error. */
int sched_thread_unlink(struct snap_engine *e);
void sched_thread_wake(struct sched_thread *t);
uint64_t sched_thread_cpu_ns(const struct sched_thread *t);
/* NUMA node to place an engine's thread on (its socket_id, or the caller's node). */
int sched_engine_node(const struct snap_engine *e);

/* group.c (used by the controller) */
unsigned sched_group_n_threads(const struct sched_group *g);
/* Most threads a compacting group runs: max_threads, or fewer when the CPUs its threads may
 * use (t's affinity) are fewer: more threads than CPUs add no CPU, only the kernel's time
 * slicing between them, milliseconds of queueing delay instead of microseconds. */
unsigned sched_group_thread_cap(const struct sched_group *g, const struct sched_thread *t);
/* Move e (in g) onto thread t of g. 0 or -errno; counts the move. */
int sched_move_to_thread(struct snap_engine *e, struct sched_thread *t);
/* Create the thread at the first free index of g on node. NULL + errno. */
struct sched_thread *sched_group_new_thread(struct sched_group *g, int node, int cpu);
void sched_group_drop_thread(struct sched_group *g, struct sched_thread *t);

/* compact.c */
/* Returns the ns until this group's window ends (when it wants the next tick). */
uint64_t sched_compact_tick(struct sched_group *g, uint64_t now_ns);
