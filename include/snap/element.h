/* Element model: small Click/BESS-style packet-processing nodes that engines are built from.
 * An element type is a static descriptor registered by name; an element instance is a
 * descriptor + private state + wiring of its named outputs to other elements of the same engine. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_branch_prediction.h>
#include <rte_mbuf.h>

#include "snap/counters.h"

#define SNAP_BURST_MAX 32      /* largest burst passed between elements */
#define SNAP_ELEM_OUT_MAX 16   /* named outputs per element */
#define SNAP_NAME_MAX 32

struct snap_engine;
struct snap_elem;
struct snap_kv;
struct snap_sbuf;

/* Arguments an element receives at init: the key/values of its config block, looked up by
 * name. Values are strings; helpers parse and range-check them and return -EINVAL with a
 * message (snap_elem_args_error) naming the key. */
struct snap_elem_args;
const char *snap_elem_arg_str(const struct snap_elem_args *a, const char *key, const char *dflt);
/* 0 on success (or when absent: *out = dflt); -EINVAL when present but not an integer in
 * [min, max]. */
int snap_elem_arg_u64(const struct snap_elem_args *a, const char *key, uint64_t dflt,
		      uint64_t min, uint64_t max, uint64_t *out);
int snap_elem_arg_double(const struct snap_elem_args *a, const char *key, double dflt,
			 double min, double max, double *out);
/* Iterate all keys (for elements that take maps, e.g. udp_demux "port.5000 = out"). */
typedef int (*snap_elem_arg_fn)(void *ctx, const char *key, const char *val);
int snap_elem_args_foreach(const struct snap_elem_args *a, snap_elem_arg_fn fn, void *ctx);
/* Record a human-readable reason for a failing init; the engine builder reports it with the
 * element name and config line. printf-style. Returns -EINVAL for convenience. */
int snap_elem_args_error(const struct snap_elem_args *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The engine the element is being built into (for ports, rings, neighbour tables). */
struct snap_engine *snap_elem_args_engine(const struct snap_elem_args *a);
/* Build argument sets (the config builder and tests). new: NULL with errno ENOMEM. set: 0 or
 * -ENOMEM/-E2BIG (more than 64 keys); a later set of the same key replaces it. */
struct snap_elem_args *snap_elem_args_new(void);
int snap_elem_args_set(struct snap_elem_args *a, const char *key, const char *val);
void snap_elem_args_free(struct snap_elem_args *a);
/* Bumped (atomically) by the daemon on SIGHUP: an element that read a file at init (pony's
 * key file) re-reads it, on its engine's thread, when it sees the value change. Read it with
 * __atomic_load_n(&snap_reload_gen, __ATOMIC_RELAXED). */
extern uint64_t snap_reload_gen;
/* The last error message recorded by snap_elem_args_error ("" if none). */
const char *snap_elem_args_errmsg(const struct snap_elem_args *a);

/* Counter callback used by desc->stats: report one named element-specific counter. */
typedef void (*snap_stat_fn)(void *ctx, const char *name, uint64_t value);

/*
 * Element type descriptor. All callbacks run on the thread that currently runs the owning
 * engine; none may block or take locks.
 *
 * Packet rule: every mbuf handed to process() is, before process() returns, either passed on
 * with snap_elem_emit()/snap_elem_emit1() or freed with snap_elem_drop() exactly once.
 * Packets emitted to an output that is not wired are freed and counted as DROP_UNCONNECTED.
 */
/* arm()'s answer for a wake-up that a race on the far side can lose (memif kicks). */
#define SNAP_ARM_GUARDED 1

struct snap_elem_desc {
	const char *name;           /* type name used in config, e.g. "ipv4_in" */
	const char *help;           /* one line for `snapnetd --list-elements` */
	size_t priv_size;           /* bytes of zeroed private state, cache-line aligned */
	uint16_t n_outputs;         /* number of named outputs */
	const char *const *outputs; /* their names; output 0 is the default ("out") */

	/* Parse args, set up state. 0 or -errno (use snap_elem_args_error for the message). */
	int (*init)(struct snap_elem *el, const struct snap_elem_args *args);
	/* Handle a burst of n (1..SNAP_BURST_MAX) packets. */
	void (*process)(struct snap_elem *el, struct rte_mbuf **pkts, uint16_t n);
	/* Source elements (port rx, ring rx, Pony's app rings and timers): do one bounded round
	 * of work and return how many units were done (0 = idle). May be NULL. */
	unsigned (*poll)(struct snap_elem *el, uint64_t now_tsc);
	/* Earliest TSC at which poll() has timed work (timers); UINT64_MAX if none. May be NULL. */
	uint64_t (*next_deadline)(const struct snap_elem *el);
	/* Before the engine sleeps (arm=true) / after it wakes (arm=false): enable or disable
	 * this source's wake-up notification (rx interrupts, doorbells). Return 0 if the source
	 * will make one of the engine's wake fds readable when input arrives, SNAP_ARM_GUARDED
	 * if it will but may miss one in a narrow race (the engine then sleeps no longer than
	 * its group's guard, sched/thread.c), -ENOTSUP if it can only be polled. NULL for
	 * sources that need no arming (timers only, or always-fd). */
	int (*arm)(struct snap_elem *el, bool arm);
	/* Report element-specific counters. May be NULL. */
	void (*stats)(const struct snap_elem *el, snap_stat_fn fn, void *ctx);
	/* Saved-state versions, for upgrades between releases (docs/UPGRADE.md): save writes
	 * any version in [state_write_min, state_version] (older ones for a roll-back to an
	 * older release), restore reads any in [state_read_min, state_version]; a min of 0
	 * means state_version. Version 1 is release 0.1.0's format. An upgrade checks these
	 * ranges, both binaries', before any engine is parked. Required with save. */
	uint32_t state_version, state_read_min, state_write_min;
	/* Serialize state for a move/upgrade into out, in format `version` (within the range
	 * above). May be NULL for stateless elements. 0 or -errno. */
	int (*save)(const struct snap_elem *el, struct snap_sbuf *out, uint32_t version);
	/* Restore from what save() produced in format `version` (after init()). 0 or -errno
	 * (-EPROTO: a blob that does not match its version). May be NULL. */
	int (*restore)(struct snap_elem *el, const void *data, size_t len, uint32_t version);
	/* Free resources (called once, also after a failed init). May be NULL. */
	void (*destroy)(struct snap_elem *el);
};

/* Register an element type at load time: SNAP_ELEM_REGISTER(my_desc); */
void snap_elem_register(const struct snap_elem_desc *d);
#define SNAP_ELEM_REGISTER(d)                                                             \
	static void __attribute__((constructor)) snap_elem_reg_##d(void)                  \
	{                                                                                 \
		snap_elem_register(&(d));                                                 \
	}
/* The saved-state ranges of d (see state_version): what it writes and what it reads. All
 * zero for a type without save. */
void snap_elem_state_range(const struct snap_elem_desc *d, uint32_t *write_min,
			   uint32_t *read_min, uint32_t *cur);
/* Look up a registered type; NULL if unknown. */
const struct snap_elem_desc *snap_elem_find(const char *name);
/* Iterate types (for --list-elements). Returns the i-th type or NULL past the end. */
const struct snap_elem_desc *snap_elem_type_at(unsigned i);

/* Generic per-element counters, kept by the framework helpers. Written only by the thread
 * running the engine; readers on other threads read them through the engine mailbox. */
struct snap_elem_counters {
	uint64_t in_pkts;
	uint64_t in_bytes;
	uint64_t out_pkts[SNAP_ELEM_OUT_MAX];
	uint64_t drops[SNAP_DROP_MAX];
};

struct snap_elem_out {
	struct snap_elem *next; /* NULL: unconnected */
};

/* An element instance. */
struct snap_elem {
	const struct snap_elem_desc *desc;
	struct snap_engine *engine;
	char name[SNAP_NAME_MAX];
	uint16_t index;                  /* position in the engine's element array */
	struct snap_elem_out out[SNAP_ELEM_OUT_MAX];
	struct snap_elem_counters cnt;
	void *priv;                      /* desc->priv_size bytes, on the engine's NUMA node */
};

static inline void *snap_elem_priv(const struct snap_elem *el)
{
	return el->priv;
}

/* Free one packet and count it under reason. */
static inline void snap_elem_drop(struct snap_elem *el, struct rte_mbuf *m, enum snap_drop reason)
{
	el->cnt.drops[reason]++;
	rte_pktmbuf_free(m);
}

/* Free n packets under one reason. */
static inline void snap_elem_drop_burst(struct snap_elem *el, struct rte_mbuf **pkts, uint16_t n,
					enum snap_drop reason)
{
	el->cnt.drops[reason] += n;
	rte_pktmbuf_free_bulk(pkts, n);
}

/* Account packets entering an element (called by the framework before process()). */
static inline void snap_elem_count_in(struct snap_elem *el, struct rte_mbuf **pkts, uint16_t n)
{
	el->cnt.in_pkts += n;
	for (uint16_t i = 0; i < n; i++)
		el->cnt.in_bytes += rte_pktmbuf_pkt_len(pkts[i]);
}

/* Pass n packets (n <= SNAP_BURST_MAX) to output `out`. Ownership moves to the next element;
 * run-to-completion: the next element processes them before this returns. */
static inline void snap_elem_emit(struct snap_elem *el, uint16_t out, struct rte_mbuf **pkts,
				  uint16_t n)
{
	if (unlikely(n == 0))
		return;
	struct snap_elem *next = likely(out < SNAP_ELEM_OUT_MAX) ? el->out[out].next : NULL;
	if (unlikely(next == NULL)) {
		snap_elem_drop_burst(el, pkts, n, SNAP_DROP_UNCONNECTED);
		return;
	}
	el->cnt.out_pkts[out] += n;
	snap_elem_count_in(next, pkts, n);
	next->desc->process(next, pkts, n);
}

static inline void snap_elem_emit1(struct snap_elem *el, uint16_t out, struct rte_mbuf *m)
{
	snap_elem_emit(el, out, &m, 1);
}

/* Per-output staging used by classifiers: collect up to SNAP_BURST_MAX packets per output,
 * then flush each non-empty output once (keeps bursts intact down the graph). */
struct snap_elem_batch {
	uint16_t n[SNAP_ELEM_OUT_MAX];
	struct rte_mbuf *pkts[SNAP_ELEM_OUT_MAX][SNAP_BURST_MAX];
};

static inline void snap_elem_batch_init(struct snap_elem_batch *b, uint16_t n_outputs)
{
	for (uint16_t i = 0; i < n_outputs; i++)
		b->n[i] = 0;
}

static inline void snap_elem_batch_add(struct snap_elem_batch *b, uint16_t out, struct rte_mbuf *m)
{
	b->pkts[out][b->n[out]++] = m;
}

static inline void snap_elem_batch_flush(struct snap_elem *el, struct snap_elem_batch *b,
					 uint16_t n_outputs)
{
	for (uint16_t i = 0; i < n_outputs; i++)
		if (b->n[i])
			snap_elem_emit(el, i, b->pkts[i], b->n[i]);
}

/* Growable serialization buffer used by save(). */
struct snap_sbuf {
	uint8_t *data;
	size_t len;
	size_t cap;
	int err; /* sticky -ENOMEM */
};
void snap_sbuf_init(struct snap_sbuf *b);
void snap_sbuf_fini(struct snap_sbuf *b);
/* Append bytes; on allocation failure sets b->err = -ENOMEM and ignores further writes. */
void snap_sbuf_put(struct snap_sbuf *b, const void *p, size_t n);
/* Room for at least cap bytes, every page of it touched, so the puts that follow take no
 * allocation and no page fault (an upgrade reserves before its blackout). 0 or -ENOMEM. */
int snap_sbuf_reserve(struct snap_sbuf *b, size_t cap);
