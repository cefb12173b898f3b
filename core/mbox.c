/* Engine mailbox slow paths (see mbox.h for the protocol, its memory ordering and the futex
 * hand-off between engine and a sleeping poster). */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_pause.h>

#include "snap/mbox.h"

/* How long a poster spins before it sleeps, counted from when the engine may run the closure
 * (the budget gap after the previous one): an engine polling on another core answers within
 * a poll or two; past that its thread is busy elsewhere, asleep, or shares our core, and
 * spinning would only take the CPU it needs. (Sleeping sooner would make the engine pay a
 * futex wake-up, a syscall, for closures it was about to run anyway.) */
#define SPIN_NS 10000ull
/* Calls that skip the spin after spins were in vain; then the next probes again. */
#define NOSPIN_CALLS 32
/* Longest single sleep: bounds how late a poster notices its deadline. */
#define SLEEP_MAX_NS 1000000ull

static unsigned default_gap_us = SNAP_MBOX_GAP_US_DEFAULT;

void snap_mbox_set_default_gap_us(unsigned us)
{
	default_gap_us = us;
}

void snap_mbox_init(struct snap_mbox *mb)
{
	atomic_store_explicit(&mb->state, SNAP_MBOX_EMPTY, memory_order_relaxed);
	atomic_store_explicit(&mb->sleepers, 0, memory_order_relaxed);
	mb->fn = NULL;
	mb->arg = NULL;
	mb->result = 0;
	mb->runs = mb->posted = mb->wakes = 0;
	mb->next_tsc = 0;
	mb->gap_tsc = (uint64_t)default_gap_us * rte_get_tsc_hz() / 1000000ull;
	mb->gap_ns = (uint64_t)default_gap_us * 1000ull;
	mb->last_done_ns = 0;
	mb->nospin = mb->spin_fails = 0;
}

static long futex(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, (uint32_t *)word, op | FUTEX_PRIVATE_FLAG, val, ts, NULL, 0);
}

void snap_mbox_run_slow(struct snap_mbox *mb, struct snap_engine *e)
{
	uint32_t expect = SNAP_MBOX_POSTED;
	/* acquire: pairs with the poster's release store of POSTED, so fn/arg are visible. */
	if (!atomic_compare_exchange_strong_explicit(&mb->state, &expect, SNAP_MBOX_RUNNING,
						     memory_order_acquire, memory_order_relaxed))
		return; /* cancelled by a timed-out poster in between */
	mb->result = mb->fn(e, mb->arg);
	mb->runs++;
	/* release: the closure's writes and result are visible to the poster that sees DONE. */
	atomic_store_explicit(&mb->state, SNAP_MBOX_DONE, memory_order_release);
	/* Store DONE, full fence, load sleepers: pairs with the poster's store of sleepers, fence,
	 * futex compare of state (see mbox.h). */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&mb->sleepers, memory_order_relaxed)) {
		futex(&mb->state, FUTEX_WAKE, INT_MAX, NULL);
		mb->wakes++;
	}
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}


/* Wait until state leaves `seen` or until deadline_ns. Spins until spin_until_ns, then sleeps
 * in futex on the state word (woken by the engine's DONE, or by another poster's EMPTY).
 * Returns true if it slept. */
static bool wait_change(struct snap_mbox *mb, uint32_t seen, uint64_t spin_until_ns,
			uint64_t deadline_ns)
{
	uint64_t now = now_ns();
	if (now < spin_until_ns) {
		/* Look about every half microsecond, not back to back: each look pulls the line
		 * into our cache, and the engine's next write to it must take it back. */
		for (unsigned i = 0; i < 8; i++) {
			if (atomic_load_explicit(&mb->state, memory_order_relaxed) != seen)
				return false;
			for (unsigned j = 0; j < 16; j++)
				rte_pause();
		}
		return false;
	}
	if (now >= deadline_ns)
		return false;
	uint64_t ns = deadline_ns - now < SLEEP_MAX_NS ? deadline_ns - now : SLEEP_MAX_NS;
	struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
	atomic_fetch_add_explicit(&mb->sleepers, 1, memory_order_seq_cst);
	/* The kernel re-reads state under its lock: a change since `seen` returns at once. */
	futex(&mb->state, FUTEX_WAIT, seen, &ts);
	atomic_fetch_sub_explicit(&mb->sleepers, 1, memory_order_relaxed);
	return true;
}

/* After this poster made the slot EMPTY: wake posters queued for it (they sleep on the same
 * word), with the same store-fence-load as the engine's DONE. */
static void wake_queued(struct snap_mbox *mb)
{
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&mb->sleepers, memory_order_relaxed))
		futex(&mb->state, FUTEX_WAKE, INT_MAX, NULL);
}

int snap_mbox_call(struct snap_mbox *mb, snap_mbox_fn fn, void *arg, unsigned timeout_ms)
{
	uint64_t start = now_ns(), deadline = start + (uint64_t)timeout_ms * 1000000ull;

	/* Claim the slot. */
	for (;;) {
		uint32_t expect = SNAP_MBOX_EMPTY;
		if (atomic_compare_exchange_weak_explicit(&mb->state, &expect, SNAP_MBOX_WRITING,
							  memory_order_acquire,
							  memory_order_relaxed))
			break;
		if (now_ns() > deadline)
			return -EBUSY;
		wait_change(mb, expect, start + SPIN_NS, deadline);
	}
	mb->fn = fn;
	mb->arg = arg;
	mb->posted++;
	atomic_store_explicit(&mb->state, SNAP_MBOX_POSTED, memory_order_release);

	/* The engine may take it a gap after the previous closure (a racy read of a hint
	 * written by whichever poster saw that one finish: harmless if stale). */
	start = now_ns();
	uint64_t runnable = mb->last_done_ns + mb->gap_ns;
	uint64_t spin_until = (runnable > start ? runnable : start) + SPIN_NS;
	bool slept = false;
	if (mb->nospin) {
		/* Recent spins were in vain (the engine shares our CPU or is not polling):
		 * sleep at once and leave the CPU to it. */
		mb->nospin--;
		spin_until = 0;
	}
	for (;;) {
		uint32_t st = atomic_load_explicit(&mb->state, memory_order_acquire);
		if (st == SNAP_MBOX_DONE)
			break;
		if (st == SNAP_MBOX_POSTED && now_ns() > deadline) {
			uint32_t expect = SNAP_MBOX_POSTED;
			if (atomic_compare_exchange_strong_explicit(&mb->state, &expect,
								    SNAP_MBOX_EMPTY,
								    memory_order_acq_rel,
								    memory_order_acquire)) {
				wake_queued(mb);
				return -ETIMEDOUT;
			}
			continue; /* the engine claimed it meanwhile: wait for DONE */
		}
		/* Past the deadline while RUNNING: the closure is bounded work and arg must
		 * outlive it, so keep waiting, in sleeps of the longest step. */
		slept |= wait_change(mb, st, spin_until,
				     st == SNAP_MBOX_RUNNING ? now_ns() + SLEEP_MAX_NS : deadline);
	}
	if (spin_until) {
		/* Two vain spins in a row (not one: an engine thread preempted for a moment
		 * is common on a busy host) switch to sleeping at once for a while. */
		mb->spin_fails = slept ? mb->spin_fails + 1 : 0;
		if (mb->spin_fails >= 2) {
			mb->nospin = NOSPIN_CALLS;
			mb->spin_fails = 0;
		}
	}
	int r = mb->result;
	mb->last_done_ns = now_ns();
	atomic_store_explicit(&mb->state, SNAP_MBOX_EMPTY, memory_order_release);
	wake_queued(mb);
	return r;
}
