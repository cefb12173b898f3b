/* Control-thread event loop over epoll, in the spirit of Redis's ae: fd callbacks plus
 * periodic timers, single-threaded, no locks. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "snap/log.h"
#include "core/loop.h"

#define LOOP_FDS_INITIAL 256
#define LOOP_TIMERS_MAX 16

/* Indexed by fd number (fds are small, dense integers), so add/del are O(1) and the table
 * grows with the highest fd in use instead of a fixed size a peer could fill. */
struct loop_fd {
	bool used;
	snap_loop_fd_fn fn;
	void *arg;
};

struct loop_timer {
	unsigned period_ms;
	uint64_t next_ns;
	snap_loop_timer_fn fn;
	void *arg;
};

static int epfd = -1;
static struct loop_fd *fds;
static unsigned fds_cap, fds_used;
static struct snap_loop_stats stats;
static struct loop_timer timers[LOOP_TIMERS_MAX];
static unsigned n_timers;
static volatile bool stopping;

uint64_t snap_loop_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int snap_loop_init(void)
{
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		return -errno;
	free(fds);
	fds = NULL;
	fds_cap = fds_used = 0;
	memset(&stats, 0, sizeof(stats));
	n_timers = 0;
	stopping = false;
	return 0;
}

void snap_loop_fini(void)
{
	if (epfd >= 0)
		close(epfd);
	epfd = -1;
	free(fds);
	fds = NULL;
	fds_cap = fds_used = 0;
}

/* Room for fd in the table: doubles, up to the process's fd limit (no fd can be above it). */
static int fds_grow(int fd)
{
	if ((unsigned)fd < fds_cap)
		return 0;
	struct rlimit rl;
	rlim_t lim = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 1024;
	if (lim == RLIM_INFINITY || lim > (1u << 24))
		lim = 1u << 24;
	if ((rlim_t)fd >= lim)
		return -EMFILE;
	unsigned ncap = fds_cap ? fds_cap : LOOP_FDS_INITIAL;
	while (ncap <= (unsigned)fd)
		ncap *= 2;
	struct loop_fd *n = realloc(fds, ncap * sizeof(*n));
	if (n == NULL)
		return -ENOMEM;
	memset(n + fds_cap, 0, (ncap - fds_cap) * sizeof(*n));
	fds = n;
	fds_cap = ncap;
	return 0;
}

int snap_loop_add_fd(int fd, snap_loop_fd_fn fn, void *arg)
{
	if (fd < 0)
		return -EBADF;
	if ((unsigned)fd < fds_cap && fds[fd].used)
		return -EEXIST;
	int r = fds_grow(fd);
	if (r == 0) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)fd};
		r = epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
	}
	if (r < 0) {
		/* Whoever offered the fd closes it; say why once in a while, count always. */
		stats.fd_refused++;
		SNAP_LOG_LIMITED(WARNING, 1000, "event loop: cannot watch fd %d: %s (%u watched)",
				 fd, strerror(-r), fds_used);
		return r;
	}
	fds[fd] = (struct loop_fd){true, fn, arg};
	if (++fds_used > stats.fds_peak)
		stats.fds_peak = fds_used;
	return 0;
}

int snap_loop_del_fd(int fd)
{
	if (fd < 0 || (unsigned)fd >= fds_cap || !fds[fd].used)
		return -ENOENT;
	epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
	fds[fd].used = false;
	fds_used--;
	return 0;
}

void snap_loop_get_stats(struct snap_loop_stats *out)
{
	*out = stats;
	out->fds = fds_used;
}

int snap_loop_add_timer(unsigned period_ms, snap_loop_timer_fn fn, void *arg)
{
	if (n_timers >= LOOP_TIMERS_MAX)
		return -ENOSPC;
	timers[n_timers++] = (struct loop_timer){period_ms,
						 snap_loop_now_ns() + period_ms * 1000000ull, fn, arg};
	return 0;
}

int snap_loop_timer_defer(snap_loop_timer_fn fn, void *arg, unsigned delay_ms)
{
	for (unsigned i = 0; i < n_timers; i++) {
		if (timers[i].fn == fn && timers[i].arg == arg) {
			timers[i].next_ns = snap_loop_now_ns() + delay_ms * 1000000ull;
			return 0;
		}
	}
	return -ENOENT;
}

void snap_loop_stop(void)
{
	stopping = true;
}

void snap_loop_run(void)
{
	struct epoll_event evs[64];
	while (!stopping) {
		uint64_t now = snap_loop_now_ns(), next = now + 1000000000ull;
		for (unsigned i = 0; i < n_timers; i++)
			if (timers[i].next_ns < next)
				next = timers[i].next_ns;
		int timeout = next > now ? (int)((next - now + 999999) / 1000000) : 0;
		int n = epoll_wait(epfd, evs, 64, timeout);
		for (int i = 0; i < n && !stopping; i++) {
			/* By value: a callback may grow (move) the table. An fd deleted earlier in
			 * this batch is skipped (one re-added meanwhile gets a spurious call, which
			 * callbacks tolerate: they read non-blocking). */
			int fd = (int)evs[i].data.u32;
			if ((unsigned)fd < fds_cap && fds[fd].used) {
				struct loop_fd f = fds[fd];
				f.fn(fd, f.arg);
			}
		}
		now = snap_loop_now_ns();
		for (unsigned i = 0; i < n_timers && !stopping; i++) {
			if (timers[i].next_ns <= now) {
				timers[i].next_ns = now + timers[i].period_ms * 1000000ull;
				timers[i].fn(now, timers[i].arg);
			}
		}
	}
}
