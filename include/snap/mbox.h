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
 * can touch it: the poster keeps arg alive until snap_mbox_call returns.
 *
 * Waiting: a poster spins briefly (an engine polling on another core answers within a poll),
 * then sleeps in futex(2) on the state word. Before sleeping it raises `sleepers` and then
 * re-checks the state inside the futex call (the kernel compares the word atomically), and the
 * engine, after its release store of DONE, issues a full fence and reads `sleepers`: either the
 * engine sees the poster's flag and wakes it, or the poster's futex sees DONE and does not
 * sleep (store-fence-load on both sides, the Dekker pattern). So the engine pays a syscall only
 * when a poster really sleeps, never on a poll that finds the mailbox empty.
 *
 * Budget: the engine runs at most one closure per `gap` (daemon.mbox_gap_us, default 20 us,
 * so up to 50k closures a second per engine); a closure posted sooner waits for a later poll.
 * However hard the control plane posts, it takes at most (closure cost / gap) of the engine.
 * A closure costs the engine 300-500 ns (the slot's and the argument's cache lines come from
 * the poster's core), so that bound is 1.5-2.5%, which keeps the forwarding rate within 5%
 * under a flood of 1M back-to-back closures (test_mbox_stress measures it). A closure posted
 * to a mailbox idle for longer than the gap still runs on the next poll: single calls see no
 * added latency. */
#pragma once

#include <stdatomic.h>
#include <stdint.h>

#include <rte_branch_prediction.h>
#include <rte_common.h>

struct snap_engine;

/* A closure: runs on the engine's thread with exclusive access to the engine. Returns 0 or
 * -errno; that value is what snap_mbox_call returns. */
typedef int (*snap_mbox_fn)(struct snap_engine *e, void *arg);

enum snap_mbox_state {
	SNAP_MBOX_EMPTY = 0,
	SNAP_MBOX_WRITING,
	SNAP_MBOX_POSTED,
	SNAP_MBOX_RUNNING,
	SNAP_MBOX_DONE,
};

struct snap_mbox {
	_Atomic uint32_t state;
	_Atomic uint32_t sleepers; /* posters asleep (or about to) in futex on state */
	int result;
	snap_mbox_fn fn;
	void *arg;
	uint64_t posted;   /* closures posted (poster-written) */
	uint64_t gap_ns;       /* the budget gap, for posters */
	uint64_t last_done_ns; /* when a poster last saw DONE: the engine may run the next at +gap */
	uint32_t nospin;       /* posters sleep without spinning for this many more calls */
	uint32_t spin_fails;   /* consecutive calls whose spin ended in a sleep */
	/* Engine-private, on a line of its own: posters spin reading the line above, and an
	 * engine write there would steal it back from them each time (a cache miss for both). */
	uint64_t runs __rte_cache_aligned; /* closures executed */
	uint64_t wakes;    /* futex wake-ups issued to sleeping posters */
	uint64_t next_tsc; /* earliest TSC at which the next closure may run */
	uint64_t gap_tsc;  /* minimum TSC between two closures (0: none) */
} __rte_cache_aligned;

/* The gap given to mailboxes initialised from now on, in microseconds (0 turns the budget
 * off). Set once at daemon start from daemon.mbox_gap_us; needs the TSC rate (after EAL). */
#define SNAP_MBOX_GAP_US_DEFAULT 20
void snap_mbox_set_default_gap_us(unsigned us);

void snap_mbox_init(struct snap_mbox *mb);

/* Slow path of snap_mbox_run: claim and execute the posted closure. */
void snap_mbox_run_slow(struct snap_mbox *mb, struct snap_engine *e);

/* Engine side, at the top of each poll: run the pending closure if there is one and the gap
 * since the previous closure has passed. Cheap when empty (one relaxed load of a line the
 * engine usually holds). Returns 1 if a closure ran. */
static inline int snap_mbox_run(struct snap_mbox *mb, struct snap_engine *e, uint64_t now_tsc)
{
	if (likely(atomic_load_explicit(&mb->state, memory_order_relaxed) != SNAP_MBOX_POSTED))
		return 0;
	if (now_tsc < mb->next_tsc)
		return 0; /* within the budget gap: a later poll runs it */
	snap_mbox_run_slow(mb, e);
	mb->next_tsc = now_tsc + mb->gap_tsc;
	return 1;
}

/* Poster side: post fn(e, arg) and wait for its result for at most timeout_ms (a mailbox still
 * busy with another poster's message is waited for within the same budget).
 * Returns fn's result, -EBUSY if the mailbox stayed occupied, -ETIMEDOUT if the engine did not
 * pick the closure up in time (it was cancelled and will not run). Thread-safe between
 * posters. While the engine is running the closure the poster waits past the timeout: the
 * closure is bounded work and arg must outlive it. */
int snap_mbox_call(struct snap_mbox *mb, snap_mbox_fn fn, void *arg, unsigned timeout_ms);

/* For an engine that no thread runs (parked or not yet started): the caller owns the engine
 * and runs fn directly. Used by snap_mbox_call's users through snap_engine_call(). */
