/* Engine groups: which threads run which engines, and how those threads spend idle time
 * (dedicated = pinned and always polling, spreading = a thread per engine that sleeps when
 * idle, compacting = few threads sized by a queueing-delay controller). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "snap/engine.h"

#define SCHED_NAME_MAX 32
#define SCHED_CPUS_MAX 64
#define SCHED_THREADS_MAX 64          /* threads per group */
#define SCHED_THREAD_ENGINES_MAX 16   /* engines on one thread */

enum sched_mode {
	SCHED_MODE_DEDICATED = 0,
	SCHED_MODE_SPREADING,
	SCHED_MODE_COMPACTING,
};

/* Group parameters. Zero means "default" for every numeric field (see sched_params_default).
 * All times in nanoseconds. */
struct sched_params {
	/* Dedicated: one pinned polling thread per listed CPU; engines are dealt round-robin
	 * over them (several engines may share a thread). n_cpus == 0: one thread on the
	 * engine's NUMA node. Spreading/compacting: if set, threads stay on these CPUs (those
	 * of the engine's node when the list has some there). */
	uint16_t n_cpus;
	int cpus[SCHED_CPUS_MAX];

	/* Idle behaviour of spreading and compacting threads. */
	uint64_t spin_min_ns;     /* adaptive spin before sleeping: lower bound (default 2 us) */
	uint64_t spin_max_ns;     /* upper bound (default 50 us) */
	uint64_t backoff_min_ns;  /* poll-only sources: first sleep between polls (default 1 us) */
	uint64_t backoff_max_ns;  /* cap of the exponential backoff (default 1 ms); it is the
				   * worst-case wake-up latency a poll-only source pays */

	/* Dedicated threads: after this many idle polls in a row, sched_yield() once, so a task
	 * runnable on the same CPU (an app woken by its completion) runs now rather than at the
	 * next scheduler tick (default 4; 0: never). */
	uint32_t idle_yield_polls;

	/* Compacting controller (driven by sched_tick). */
	uint16_t max_threads;     /* default 4, at most SCHED_THREADS_MAX */
	uint64_t qdelay_target_ns;/* grow when some engine's p99 queueing delay exceeds it
				   * (default 50 us) */
	uint64_t qdelay_low_ns;   /* shrink only when every p99 is below it (default target/4) */
	uint64_t window_ns;       /* sampling window for p99 and load (default 50 ms) */
	uint16_t hysteresis;      /* consecutive windows a condition must hold (default 2) */
	uint16_t util_target_pct; /* Little's law: plan threads so each is at most this busy
				   * (default 70) */
	uint16_t util_low_pct;    /* shrink only if the load fits in n-1 threads at this
				   * utilisation (default 50) */

	/* Optional SCHED_DEADLINE for spreading and compacting threads (0 = off). Needs
	 * CAP_SYS_NICE; without it threads stay SCHED_OTHER and inspect says so. */
	uint64_t dl_runtime_ns;
	uint64_t dl_period_ns;
};

struct sched_group;
struct sched_thread;

/* Fill p with the defaults (all modes). */
void sched_params_default(struct sched_params *p);
/* Set one parameter by its field name (e.g. "qdelay_target_ns" = "50000") or "cpus" =
 * "0,2-3" (config files, control RPCs). Checked against the field's range here and for
 * consistency at sched_group_create. 0, -ENOENT (unknown key), -EINVAL (bad value). */
int sched_params_set(struct sched_params *p, const char *key, const char *val);
/* The i-th numeric parameter of p by the name sched_params_set takes (every one but "cpus"),
 * so a group's parameters can be written back out: 0, or -ENOENT past the last. */
int sched_params_get(const struct sched_params *p, unsigned i, const char **key, uint64_t *val);

/* Module setup/teardown (control thread, after rte_eal_init). init installs the hook that
 * wakes an engine's sleeping thread when snap_engine_call posts to its mailbox.
 * init: 0 or -EALREADY. fini destroys every group (parking their engines). */
int sched_init(void);
void sched_fini(void);

/* Create a group. params NULL: defaults. Returns NULL with errno EINVAL (bad name, mode or
 * params: backoff_min > backoff_max, spin_min > spin_max, low >= target, dl runtime >
 * period, CPU not online), EEXIST (name taken), ENOSPC, ENOMEM. No thread runs until an
 * engine is added. */
struct sched_group *sched_group_create(const char *name, enum sched_mode mode,
				       const struct sched_params *params);
/* Destroy a group: parks every engine it runs (they stay usable, unowned) and joins its
 * threads. NULL is a no-op. */
void sched_group_destroy(struct sched_group *g);
struct sched_group *sched_group_find(const char *name);
struct sched_group *sched_group_at(unsigned i); /* i-th group or NULL */

/* Add a parked engine to g and start running it. 0 or -EBUSY (engine not parked),
 * -ENOSPC (no room on any allowed thread), -EAGAIN/-errno (thread creation failed).
 * The engine's state, thread and group fields are set as documented in engine.h. */
int sched_engine_add(struct sched_group *g, struct snap_engine *e);
/* Stop running e and park it (its queues keep their input). 0, -ENOENT (not in a group),
 * or the error of the park closure's snap_engine_call (-ETIMEDOUT/-EBUSY: the engine's
 * thread did not pick it up within a second; the engine keeps running where it was). */
int sched_engine_remove(struct snap_engine *e);
/* The group e runs in, or NULL (parked, in no group). Control thread. */
struct sched_group *sched_engine_group(const struct snap_engine *e);
/* Move e to group g (or to another thread of the same group chosen by g's policy).
 * 0 or the errors of remove/add; if adding fails e is put back where it was. */
int sched_engine_move(struct snap_engine *e, struct sched_group *g);
/* Change g's mode live: every engine is parked (input waits in its queues), the threads are
 * restarted under the new mode and the engines re-placed; nothing is lost. 0, -EINVAL, the
 * park error of an engine that would not park (the mode is then unchanged), or the first
 * error of a re-placement (that engine then stays parked, out of the group; see the log). */
int sched_group_set_mode(struct sched_group *g, enum sched_mode mode);

/* The 99th percentile of a queueing-delay histogram (snap_engine_stats.qdelay_hist layout:
 * bucket b counts samples in [2^(b-1), 2^b) us), interpolated inside its bucket; total gets
 * the sample count. 0 for an empty histogram. */
uint64_t sched_hist_p99_ns(const uint64_t *h, uint64_t *total);

/* Compacting controller: call from the control thread with CLOCK_MONOTONIC nanoseconds,
 * again after at most the returned delay (ns). Samples queueing delay and load at the end
 * of each group's window, and grows or shrinks compacting groups. Other modes ignore it:
 * with no compacting group it returns UINT64_MAX, so an idle host is not woken for it. */
uint64_t sched_tick(uint64_t now_ns);

/* Inspection (snapctl). Counters are read without stopping threads: each value is exact,
 * different values may be from instants microseconds apart. */
struct sched_group_info {
	char name[SCHED_NAME_MAX];
	enum sched_mode mode;
	struct sched_params params;
	unsigned n_threads;
	unsigned n_engines;
	uint64_t moves;          /* engine moves into, out of and within this group */
	uint64_t cpu_ns;         /* CPU time of all its threads, past and present */
	uint64_t windows;        /* compacting: windows evaluated */
	uint64_t grows;          /* compacting: threads added */
	uint64_t shrinks;        /* compacting: threads removed */
	uint64_t rebalances;     /* compacting: engines moved while packing back (shrink) */
	uint64_t balances;       /* compacting: engines moved to even the threads' load */
	uint64_t held_at_max;    /* compacting: wanted to grow but at max_threads */
	uint64_t p99_max_ns;     /* last window: worst engine's p99 queueing delay */
	uint32_t little_milli;   /* last window: sum of engine concurrency (Little), x1000 */
	uint16_t threads_wanted; /* last window: threads Little's law asks for */
	uint16_t thread_cap;     /* compacting: most threads it will run, max_threads or the
				  * CPUs its threads may use if fewer (0: no thread yet) */
	char deadline[64];       /* "off", "on (runtime/period)", "unavailable (...)" */
};

struct sched_thread_info {
	unsigned index;
	int node;                /* NUMA node it was placed on (-1 unknown) */
	int cpu;                 /* pinned CPU or -1 (node-wide mask) */
	char placement[96];      /* human readable: "node 0 cpus 0-1" / "cpu 3 (node 0)" */
	char deadline[64];
	unsigned n_engines;
	char engines[SCHED_THREAD_ENGINES_MAX][SNAP_NAME_MAX];
	uint64_t loops;          /* rounds over its engines */
	uint64_t busy_loops;     /* rounds that found work */
	uint64_t idle_loops;
	uint64_t idle_yields;    /* dedicated: CPU handed over when idle (idle_yield_polls) */
	uint64_t sleeps;         /* epoll sleeps */
	uint64_t wakeups;        /* sleeps ended by an event (not a spurious/zero return) */
	uint64_t ctl_wakeups;    /* wakes by the control thread (mailbox posts, stop) */
	uint64_t timer_wakeups;  /* wakes by the engines' timer deadline */
	uint64_t backoffs;       /* nanosleeps while a poll-only source was idle */
	uint64_t backoff_ns;     /* total time in those nanosleeps */
	uint64_t backoff_cur_ns; /* current backoff step (= extra wake-up latency now) */
	uint64_t backoff_max_ns; /* configured cap (= worst-case extra latency) */
	uint64_t spin_ns;        /* current adaptive spin length */
	uint64_t cpu_ns;         /* thread CPU time (CLOCK_THREAD_CPUTIME_ID of the thread) */
};

struct sched_engine_info {
	char group[SCHED_NAME_MAX];
	int thread;              /* thread index in the group, -1 if parked */
	uint64_t polls, busy_polls, idle_polls, work, cpu_ns, wakeups, moves;
	uint64_t qdelay_hist[SNAP_QDELAY_BUCKETS];
	uint64_t qdelay_p99_ns;  /* last compacting window (0 otherwise) */
};

/* 0 or -EINVAL (NULL). */
int sched_group_info(const struct sched_group *g, struct sched_group_info *out);
/* i-th thread of g: 0, -ENOENT past the end. */
int sched_thread_info(const struct sched_group *g, unsigned i, struct sched_thread_info *out);
/* 0 or -ENOENT (engine in no group: out->thread = -1, group "" still filled). */
int sched_engine_info(const struct snap_engine *e, struct sched_engine_info *out);
/* Text report of a group, its threads and engines, for snapctl. Returns the length that
 * was needed (like snprintf) or -EINVAL. */
int sched_group_format(const struct sched_group *g, char *buf, size_t len);

const char *sched_mode_name(enum sched_mode m);
/* "dedicated|spreading|compacting" -> mode, or -EINVAL. */
int sched_mode_parse(const char *s);
