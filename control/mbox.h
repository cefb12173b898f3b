/* Engine mailbox: a depth-1, lock-free, one-way queue through which the control thread (or any
 * non-engine thread) runs a closure on an engine's own thread. The engine never waits on it;
 * a busy mailbox makes the poster wait or retry.
 *
 * Protocol (one slot, a state word, everything else inline):
 *   EMPTY --poster CAS--> WRITING --poster store(release)--> POSTED
 *   POSTED --engine CAS(acq)--> RUNNING --engine store(release)--> DONE
 *   DONE --poster store(release)--> EMPTY
 *   POSTED --poster CAS (cancel on timeout, only before the engine claimed it)--> EMPTY
 * The release store of POSTED publishes fn/arg to the engine; the release store of DONE
 * publishes the closure's side effects and result to the poster. Because a poster only cancels
 * a message the engine has not claimed, the arg pointer stays valid for as long as the engine
 * can touch it: the poster keeps arg alive until ctl_mbox_call returns. */
#pragma once

#include <stdatomic.h>
#include <stdint.h>

#include <rte_branch_prediction.h>
#include <rte_common.h>

struct snap_engine;

/* A closure: runs on the engine's thread with exclusive access to the engine. Returns 0 or
 * -errno; that value is what ctl_mbox_call returns. */
typedef int (*ctl_mbox_fn)(struct snap_engine *e, void *arg);

enum ctl_mbox_state {
	CTL_MBOX_EMPTY = 0,
	CTL_MBOX_WRITING,
	CTL_MBOX_POSTED,
	CTL_MBOX_RUNNING,
	CTL_MBOX_DONE,
};

struct ctl_mbox {
	_Atomic uint32_t state;
	int result;
	ctl_mbox_fn fn;
	void *arg;
	uint64_t runs;   /* closures executed (engine-written) */
	uint64_t posted; /* closures posted (poster-written) */
} __rte_cache_aligned;

void ctl_mbox_init(struct ctl_mbox *mb);

/* Slow path of ctl_mbox_run: claim and execute the posted closure. */
void ctl_mbox_run_slow(struct ctl_mbox *mb, struct snap_engine *e);

/* Engine side, at the top of each poll: run the pending closure if there is one. Cheap when
 * empty (one relaxed load). Returns 1 if a closure ran. */
static inline int ctl_mbox_run(struct ctl_mbox *mb, struct snap_engine *e)
{
	if (likely(atomic_load_explicit(&mb->state, memory_order_relaxed) != CTL_MBOX_POSTED))
		return 0;
	ctl_mbox_run_slow(mb, e);
	return 1;
}

/* Poster side: post fn(e, arg) and wait for its result for at most timeout_ms (a mailbox still
 * busy with another poster's message is waited for within the same budget).
 * Returns fn's result, -EBUSY if the mailbox stayed occupied, -ETIMEDOUT if the engine did not
 * pick the closure up in time (it was cancelled and will not run). Thread-safe between
 * posters. While the engine is running the closure the poster waits past the timeout: the
 * closure is bounded work and arg must outlive it. */
int ctl_mbox_call(struct ctl_mbox *mb, ctl_mbox_fn fn, void *arg, unsigned timeout_ms);

/* For an engine that no thread runs (parked or not yet started): the caller owns the engine
 * and runs fn directly. Used by ctl_mbox_call's users through snap_engine_call(). */
