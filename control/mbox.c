/* Engine mailbox slow paths (see mbox.h for the protocol and its memory ordering). */
#include <errno.h>
#include <time.h>

#include <rte_pause.h>

#include "control/mbox.h"

void ctl_mbox_init(struct ctl_mbox *mb)
{
	atomic_store_explicit(&mb->state, CTL_MBOX_EMPTY, memory_order_relaxed);
	mb->fn = NULL;
	mb->arg = NULL;
	mb->result = 0;
	mb->runs = mb->posted = 0;
}

void ctl_mbox_run_slow(struct ctl_mbox *mb, struct snap_engine *e)
{
	uint32_t expect = CTL_MBOX_POSTED;
	/* acquire: pairs with the poster's release store of POSTED, so fn/arg are visible. */
	if (!atomic_compare_exchange_strong_explicit(&mb->state, &expect, CTL_MBOX_RUNNING,
						     memory_order_acquire, memory_order_relaxed))
		return; /* cancelled by a timed-out poster in between */
	mb->result = mb->fn(e, mb->arg);
	mb->runs++;
	/* release: the closure's writes and result are visible to the poster that sees DONE. */
	atomic_store_explicit(&mb->state, CTL_MBOX_DONE, memory_order_release);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Wait politely: spin for up to 20 us (an engine polling flat out answers within one poll),
 * then sleep in growing steps up to 50 us. No sched_yield(): on a loaded machine it hands the
 * CPU to a busy process for a whole time slice and turns a microsecond round trip into
 * milliseconds. A sleeping engine thread is woken by the group's mailbox hook. */
static void backoff(uint64_t start_ns, unsigned *sleeps)
{
	if (now_ns() - start_ns < 20000) {
		rte_pause();
		return;
	}
	struct timespec ts = {0, (long)(*sleeps < 50 ? *sleeps + 1 : 50) * 1000};
	nanosleep(&ts, NULL);
	(*sleeps)++;
}

int ctl_mbox_call(struct ctl_mbox *mb, ctl_mbox_fn fn, void *arg, unsigned timeout_ms)
{
	uint64_t start = now_ns(), deadline = start + (uint64_t)timeout_ms * 1000000ull;
	unsigned spins = 0;

	/* Claim the slot. */
	for (;;) {
		uint32_t expect = CTL_MBOX_EMPTY;
		if (atomic_compare_exchange_weak_explicit(&mb->state, &expect, CTL_MBOX_WRITING,
							  memory_order_acquire,
							  memory_order_relaxed))
			break;
		if (now_ns() > deadline)
			return -EBUSY;
		backoff(start, &spins);
	}
	mb->fn = fn;
	mb->arg = arg;
	mb->posted++;
	atomic_store_explicit(&mb->state, CTL_MBOX_POSTED, memory_order_release);

	spins = 0;
	start = now_ns();
	for (;;) {
		uint32_t st = atomic_load_explicit(&mb->state, memory_order_acquire);
		if (st == CTL_MBOX_DONE)
			break;
		if (st == CTL_MBOX_POSTED && now_ns() > deadline) {
			uint32_t expect = CTL_MBOX_POSTED;
			if (atomic_compare_exchange_strong_explicit(&mb->state, &expect,
								    CTL_MBOX_EMPTY,
								    memory_order_acq_rel,
								    memory_order_acquire))
				return -ETIMEDOUT;
			continue; /* the engine claimed it meanwhile: wait for DONE */
		}
		backoff(start, &spins);
	}
	int r = mb->result;
	atomic_store_explicit(&mb->state, CTL_MBOX_EMPTY, memory_order_release);
	return r;
}
