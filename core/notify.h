/* Service-manager integration: the sd_notify protocol (READY, STATUS, RELOADING, STOPPING,
 * MAINPID, WATCHDOG) through libsystemd, and journald-friendly logging. Every call is a no-op
 * when the daemon was not started by a service manager ($NOTIFY_SOCKET unset), so scripts
 * and tests that read "READY" on stdout see no change. Control thread only. */
#pragma once

#include <stdbool.h>

/* Read the environment once: $NOTIFY_SOCKET, and $WATCHDOG_USEC / $WATCHDOG_PID. A daemon
 * started by an upgrade (takeover) inherits its parent's watchdog settings, which name the
 * parent's pid: it adopts them, since it becomes the main process. If the watchdog is on,
 * registers a control-loop timer that sends WATCHDOG=1 at half the interval, so a stuck
 * control thread lets the manager restart the service. 0 or -errno (timer registration). */
int snap_notify_init(bool takeover);

/* READY=1 with MAINPID= this process and a STATUS= line (printf format). After a
 * takeover the MAINPID tells the manager that this process, not its exiting parent, is now
 * the service (the unit needs NotifyAccess=all). */
void snap_notify_ready(const char *fmt, ...) __attribute__((format(printf, 1, 2)));


/* RELOADING=1 before a SIGHUP reload; snap_notify_ready() ends it. */
void snap_notify_reloading(void);

/* STOPPING=1 at the start of shutdown. */
void snap_notify_stopping(void);

/* When stdout/stderr go to the journal ($JOURNAL_STREAM matches them), log every line once
 * to stderr with its syslog priority prefix ("<3>...") instead of DPDK's default of
 * stdout plus syslog, which the journal shows twice and without levels. */
void snap_log_journal_setup(void);
