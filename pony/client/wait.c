/* libpony: waiting for completions (pony.h: pony_wait, pony_arm, pony_fd): the sleeping
 * flag in the completion ring, the eventfd the daemon rings, and the optional spin before a
 * sleep. */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pony/client/internal.h"

void pony_disarm(struct pony_app *a)
{
	if (!a->armed)
		return;
	a->armed = false;
	pony_shm_disarm(a->cpl_ring);
	uint64_t v;
	if (read(a->cpl_efd, &v, sizeof(v)) < 0) {
		/* EAGAIN: the daemon did not ring */
	}
}

static bool cpl_pending(struct pony_app *a)
{
	return pony_shm_tail(a->cpl_ring) != a->cpl_head;
}

int pony_arm(struct pony_app *a)
{
	if (cpl_pending(a))
		return 1;
	a->armed = true;
	if (pony_shm_arm(a->cpl_ring, a->cpl_head)) {
		pony_disarm(a);
		return 1;
	}
	return 0;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

int pony_set_wait_spin(struct pony_app *a, unsigned us)
{
	if (us > PONY_WAIT_SPIN_MAX_US)
		return -EINVAL;
	a->spin_ns = (uint64_t)us * 1000;
	a->spin_auto = false;
	return 0;
}

/* This thread's context switches away while runnable (sched_yield that ran another
 * thread, or preemption), or -1. */
static long switches_away(void)
{
	struct rusage ru;
	return getrusage(RUSAGE_THREAD, &ru) == 0 ? ru.ru_nivcsw : -1;
}

/* A yield that kept us away longer than this ran a thread that had work, not one polling
 * while idle (an idle engine hands the CPU back every few looks, within microseconds). A
 * waking task preempts a busy engine at once, so sleeping on the engine's doorbell costs
 * less than such a yield. */
#define WAIT_YIELD_LONG_NS 50000u
/* A long yield ends the spin it happens in. When a quarter or more of the recent yields
 * that ran another thread were long (a moving share, each yield weighing 1/16), the engine
 * sharing our CPU is busy, not hit by a host's hiccup (a stolen vCPU), which must not cost
 * the spin: the default spin then stays off for a back-off that starts at
 * WAIT_SPIN_OFF_MIN_NS and doubles at each long yield after it, however many spins found
 * their completion in between (each long one delays everything the app has in flight),
 * so a busy engine costs a few long yields per second. It starts over at the minimum when
 * the last long yield is WAIT_SPIN_OFF_FORGET_NS old. */
#define WAIT_LONG_SHARE_ONE 65536
#define WAIT_LONG_SHARE_BUSY (WAIT_LONG_SHARE_ONE / 4)
#define WAIT_SPIN_OFF_MIN_NS 1000000u
#define WAIT_SPIN_OFF_MAX_NS 128000000u
#define WAIT_SPIN_OFF_FORGET_NS 1000000000u

/* A yield ran another thread and kept us away `away` ns. Returns true if the spin must end. */
static bool yield_ran_other(struct pony_app *a, uint64_t away, uint64_t now)
{
	bool is_long = away > WAIT_YIELD_LONG_NS;
	a->spin_long_share += ((is_long ? WAIT_LONG_SHARE_ONE : 0) - a->spin_long_share) / 16;
	if (!is_long)
		return false;
	if (now - a->spin_long_last > WAIT_SPIN_OFF_FORGET_NS)
		a->spin_off_ns = 0;
	a->spin_long_last = now;
	if (a->spin_long_share < WAIT_LONG_SHARE_BUSY)
		return true;
	a->spin_off_ns = a->spin_off_ns ? 2 * a->spin_off_ns : WAIT_SPIN_OFF_MIN_NS;
	if (a->spin_off_ns > WAIT_SPIN_OFF_MAX_NS)
		a->spin_off_ns = WAIT_SPIN_OFF_MAX_NS;
	a->spin_off_until = now + a->spin_off_ns;
	a->spin_cuts++;
	return true;
}

int pony_wait(struct pony_app *a, int timeout_ms)
{
	/* Spin first, yielding the CPU between looks: an engine polling on this CPU runs in
	 * between (it yields back when idle), and the completion is seen microseconds after
	 * the engine writes it, without arming, an eventfd write and a wake-up. The default
	 * (auto) spin stops at the first yield that ran nobody else (a yield that ran another
	 * thread shows as an involuntary switch): no polling engine shares this CPU, so
	 * spinning would only burn it, and the engine will ring. It also stops at a yield that
	 * kept us away long (WAIT_YIELD_LONG_NS), and when many are, stays off for a while:
	 * the engine sharing this CPU is busy (bulk traffic) and would keep the CPU for as
	 * long at every look. */
	uint64_t t = a->spin_ns && timeout_ms != 0 ? mono_ns() : 0;
	if (t && (!a->spin_auto || t >= a->spin_off_until)) {
		uint64_t end = t + a->spin_ns;
		long sw = a->spin_auto ? switches_away() : 0;
		do {
			if (cpl_pending(a))
				return 1;
			if (a->dead)
				return -EPIPE;
			sched_yield();
			uint64_t back = mono_ns();
			if (a->spin_auto) {
				long now = switches_away();
				if (now == sw)
					break;
				sw = now;
				if (yield_ran_other(a, back - t, back))
					break;
			}
			t = back;
		} while (t < end);
	}
	int64_t deadline = timeout_ms < 0 ? -1 : mono_ms() + timeout_ms;
	/* Loop: a ring that raced with an earlier arm can leave the eventfd readable with
	 * nothing new to read; such spurious wakeups must not look like a timeout. */
	for (;;) {
		if (pony_arm(a))
			return 1;
		if (a->dead) {
			pony_disarm(a);
			return -EPIPE;
		}
		int left = -1;
		if (deadline >= 0) {
			int64_t d = deadline - mono_ms();
			left = d > 0 ? (int)d : 0;
		}
		struct pollfd p[2] = {{.fd = a->cpl_efd, .events = POLLIN},
				      {.fd = a->sock, .events = POLLIN}};
		int r = poll(p, 2, left);
		if (r < 0) {
			int e = errno;
			pony_disarm(a);
			return -e;
		}
		if (p[1].revents) {
			/* Apps never receive data after the hello: readability means EOF or
			 * error. */
			char c;
			ssize_t n = recv(a->sock, &c, 1, MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				a->dead = true;
		}
		pony_disarm(a);
		if (cpl_pending(a))
			return 1;
		if (a->dead)
			return -EPIPE;
		if (r == 0 || (deadline >= 0 && mono_ms() >= deadline))
			return 0;
	}
}

int pony_fd(const struct pony_app *a)
{
	return a->cpl_efd;
}

int pony_sock_fd(const struct pony_app *a)
{
	return a->sock;
}
