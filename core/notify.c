/* sd_notify protocol and journald logging for snapnetd run as a systemd service (see
 * notify.h). libsystemd does the socket work; this file decides what to say when. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "snap/log.h"
#include "core/loop.h"
#include "core/notify.h"

static bool managed;      /* $NOTIFY_SOCKET was set */
static uint64_t wd_usec;  /* watchdog interval, 0 = off */

static void notify(const char *state)
{
	if (!managed)
		return;
	/* unset_environment = 0: a daemon started by an upgrade inherits $NOTIFY_SOCKET. */
	int r = sd_pid_notify(0, 0, state);
	if (r < 0)
		SNAP_LOG(WARNING, "sd_notify: %s", strerror(-r));
}

static void watchdog_tick(uint64_t now_ns, void *arg)
{
	notify("WATCHDOG=1");
}

/* The watchdog settings systemd gave our parent, when our parent is the old daemon of an
 * upgrade: they name its pid, and we are about to replace it as the main process. */
static uint64_t inherited_watchdog(void)
{
	const char *u = getenv("WATCHDOG_USEC"), *p = getenv("WATCHDOG_PID");
	if (u == NULL || p == NULL)
		return 0;
	char *end;
	unsigned long long usec = strtoull(u, &end, 10);
	if (*end || usec == 0)
		return 0;
	long pid = strtol(p, &end, 10);
	return *end == '\0' && pid == (long)getppid() ? (uint64_t)usec : 0;
}

int snap_notify_init(bool takeover)
{
	const char *s = getenv("NOTIFY_SOCKET");
	managed = s != NULL && s[0] != '\0';
	if (!managed)
		return 0;
	uint64_t usec = 0;
	if (sd_watchdog_enabled(0, &usec) <= 0)
		usec = takeover ? inherited_watchdog() : 0;
	wd_usec = usec;
	if (wd_usec == 0)
		return 0;
	unsigned period_ms = (unsigned)(wd_usec / 2000u);
	SNAP_LOG(INFO, "systemd watchdog every %u ms (interval %llu us)",
		 period_ms ? period_ms : 1, (unsigned long long)wd_usec);
	return snap_loop_add_timer(period_ms ? period_ms : 1, watchdog_tick, NULL);
}

static void vnotify(const char *head, const char *fmt, va_list ap)
{
	char status[512], msg[640];
	vsnprintf(status, sizeof(status), fmt, ap);
	/* STATUS is one line: the protocol separates assignments by newlines. */
	for (char *c = status; *c; c++)
		if (*c == '\n')
			*c = ' ';
	snprintf(msg, sizeof(msg), "%sSTATUS=%s", head, status);
	notify(msg);
}

void snap_notify_ready(const char *fmt, ...)
{
	if (!managed)
		return;
	char head[64];
	snprintf(head, sizeof(head), "READY=1\nMAINPID=%ld\n", (long)getpid());
	va_list ap;
	va_start(ap, fmt);
	vnotify(head, fmt, ap);
	va_end(ap);
}

void snap_notify_reloading(void)
{
	notify("RELOADING=1\nSTATUS=reloading configuration");
}

void snap_notify_stopping(void)
{
	notify("STOPPING=1\nSTATUS=stopping");
}

/* ---- journald ---- */

static bool at_line_start = true;

/* fopencookie writer: each line gets "<prio>" from the level of the message being logged
 * (rte_log_cur_msg_loglevel, RTE_LOG_EMERG = 1 .. DEBUG = 8; syslog's are one less). */
static ssize_t journal_write(void *cookie, const char *buf, size_t size)
{
	size_t done = 0;
	while (done < size) {
		if (at_line_start) {
			int lvl = rte_log_cur_msg_loglevel();
			char pfx[8];
			int n = snprintf(pfx, sizeof(pfx), "<%d>", lvl >= 1 && lvl <= 8 ? lvl - 1 : 6);
			if (write(STDERR_FILENO, pfx, (size_t)n) < 0)
				return done ? (ssize_t)done : -1;
			at_line_start = false;
		}
		const char *nl = memchr(buf + done, '\n', size - done);
		size_t len = nl ? (size_t)(nl - (buf + done)) + 1 : size - done;
		ssize_t w = write(STDERR_FILENO, buf + done, len);
		if (w <= 0)
			return done ? (ssize_t)done : -1;
		done += (size_t)w;
		if ((size_t)w == len && nl)
			at_line_start = true;
	}
	return (ssize_t)size;
}

/* $JOURNAL_STREAM is "DEV:INODE" of the journal's stream socket; it is meant for us only if
 * our stderr is that very socket (not redirected by a wrapper). */
static bool stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	struct stat st;
	unsigned long long dev, ino;
	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2 ||
	    fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void snap_log_journal_setup(void)
{
	if (!stderr_is_journal())
		return;
	cookie_io_functions_t io = {.write = journal_write};
	FILE *f = fopencookie(NULL, "w", io);
	if (f == NULL)
		return;
	setvbuf(f, NULL, _IOLBF, 0);
	rte_openlog_stream(f); /* replaces DPDK's stdout + syslog writer */
}
