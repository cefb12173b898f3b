/* The control thread's event loop (epoll): control RPC, app attach, takeover and signals
 * register their fds here; periodic housekeeping registers timers. Control thread only. */
#pragma once

#include <stdint.h>

/* Called when fd is readable (or has an error/hang-up: the callback finds out on read). */
typedef void (*snap_loop_fd_fn)(int fd, void *arg);
/* Called every period; now_ns is CLOCK_MONOTONIC. */
typedef void (*snap_loop_timer_fn)(uint64_t now_ns, void *arg);

int snap_loop_init(void);
void snap_loop_fini(void);
/* Watch fd for EPOLLIN. The table grows as needed, so this fails only for a real reason,
 * which is counted (fd_refused) and logged (rate-limited); the caller then closes the fd or
 * refuses its peer. 0, -EBADF, -EEXIST, -EMFILE (fd above RLIMIT_NOFILE), -ENOMEM, or
 * epoll_ctl's -errno. */
int snap_loop_add_fd(int fd, snap_loop_fd_fn fn, void *arg);
/* Safe to call from inside a callback (also for the fd being served). 0 or -ENOENT. */
int snap_loop_del_fd(int fd);
/* 0 or -ENOSPC. Timers run from the loop, not from a signal. */
int snap_loop_add_timer(unsigned period_ms, snap_loop_timer_fn fn, void *arg);
/* The timer registered with (fn, arg) next fires delay_ms from now, then every period
 * again: how a timer with nothing to watch sleeps longer (call it from its own callback).
 * 0 or -ENOENT. */
int snap_loop_timer_defer(snap_loop_timer_fn fn, void *arg, unsigned delay_ms);
/* Run until snap_loop_stop(). */
void snap_loop_run(void);
void snap_loop_stop(void);
uint64_t snap_loop_now_ns(void);

/* For status: fds watched now, the most ever watched at once, and fds the loop refused. */
struct snap_loop_stats {
	unsigned fds;
	unsigned fds_peak;
	uint64_t fd_refused;
};
void snap_loop_get_stats(struct snap_loop_stats *out);
