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
/* 0, -EEXIST, -ENOSPC, or epoll_ctl's -errno. */
int snap_loop_add_fd(int fd, snap_loop_fd_fn fn, void *arg);
/* Safe to call from inside a callback (also for the fd being served). 0 or -ENOENT. */
int snap_loop_del_fd(int fd);
/* 0 or -ENOSPC. Timers run from the loop, not from a signal. */
int snap_loop_add_timer(unsigned period_ms, snap_loop_timer_fn fn, void *arg);
/* Run until snap_loop_stop(). */
void snap_loop_run(void);
void snap_loop_stop(void);
uint64_t snap_loop_now_ns(void);
