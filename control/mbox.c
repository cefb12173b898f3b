/* Engine mailbox slow paths (see mbox.h for the protocol and its memory ordering). */
#include <errno.h>
#include <sched.h>
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

/* Wait politely: spin briefly (the engine usually answers within one poll), then yield, then
 * sleep, so a poster never burns a core the engines need. */
static void backoff(unsigned *spins)
{
	if (*spins < 64) {
		rte_pause();
	} else if (*spins < 256) {
		sched_yield();
	} else {
		struct timespec ts = {0, 20000};
		nanosleep(&ts, NULL);
	}
	(*spins)++;
}

int ctl_mbox_call(struct ctl_mbox *mb, ctl_mbox_fn fn, void *arg, unsigned timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ull;
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
		backoff(&spins);
	}
	mb->fn = fn;
	mb->arg = arg;
	mb->posted++;
	atomic_store_explicit(&mb->state, CTL_MBOX_POSTED, memory_order_release);

	spins = 0;
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
		backoff(&spins);
	}
	int r = mb->result;
	atomic_store_explicit(&mb->state, CTL_MBOX_EMPTY, memory_order_release);
	return r;
}
