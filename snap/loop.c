/* Control-thread event loop over epoll, in the spirit of Redis's ae: fd callbacks plus
 * periodic timers, single-threaded, no locks. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "snap/loop.h"

#define LOOP_FDS_MAX 1024
#define LOOP_TIMERS_MAX 16

struct loop_fd {
	int fd;
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
static struct loop_fd fds[LOOP_FDS_MAX];
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
	for (unsigned i = 0; i < LOOP_FDS_MAX; i++)
		fds[i].fd = -1;
	n_timers = 0;
	stopping = false;
	return 0;
}

void snap_loop_fini(void)
{
	if (epfd >= 0)
		close(epfd);
	epfd = -1;
}

int snap_loop_add_fd(int fd, snap_loop_fd_fn fn, void *arg)
{
	unsigned free_slot = LOOP_FDS_MAX;
	for (unsigned i = 0; i < LOOP_FDS_MAX; i++) {
		if (fds[i].fd == fd)
			return -EEXIST;
		if (fds[i].fd < 0 && free_slot == LOOP_FDS_MAX)
			free_slot = i;
	}
	if (free_slot == LOOP_FDS_MAX)
		return -ENOSPC;
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = free_slot};
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	fds[free_slot] = (struct loop_fd){fd, fn, arg};
	return 0;
}

int snap_loop_del_fd(int fd)
{
	for (unsigned i = 0; i < LOOP_FDS_MAX; i++) {
		if (fds[i].fd == fd) {
			epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
			fds[i].fd = -1;
			return 0;
		}
	}
	return -ENOENT;
}

int snap_loop_add_timer(unsigned period_ms, snap_loop_timer_fn fn, void *arg)
{
	if (n_timers >= LOOP_TIMERS_MAX)
		return -ENOSPC;
	timers[n_timers++] = (struct loop_timer){period_ms,
						 snap_loop_now_ns() + period_ms * 1000000ull, fn, arg};
	return 0;
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
			struct loop_fd *f = &fds[evs[i].data.u32];
			if (f->fd >= 0)
				f->fn(f->fd, f->arg);
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
