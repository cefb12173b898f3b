/* The `upgrade` method: spawn the new snapnetd (same arguments + --takeover), let it take
 * over through the takeover socket (core/takeover.c) and answer at the end with its pid and
 * the blackout per engine (deferred reply); a caller that asked for progress gets an
 * UpgradeProgress frame per step as it happens. A new binary that exits or hangs before
 * taking over gets an error reply and the old daemon keeps serving. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "control/capture.h"
#include "control/ctl.pb-c.h"
#include "control/internal.h"
#include "control/rpc.h"
#include "core/config.h"
#include "core/daemon.h"
#include "snap/log.h"
#include "core/paths.h"
#include "core/loop.h"
#include "core/takeover.h"

#define WATCH_MS 50
#define DEFAULT_TIMEOUT_MS 30000

static struct {
	bool active;
	bool timer;
	bool progress;          /* the caller asked for progress frames */
	uint64_t t0_ns;         /* request received */
	struct ctl_rpc_call *call;
	pid_t child;
	uint64_t deadline_ns;
	char binary[256];
} up;

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void finish_listeners(void)
{
	up.active = false;
	snap_takeover_stop(); /* a child we gave up on cannot start a hand-over later */
	snap_takeover_on_done(NULL, NULL);
	snap_takeover_on_progress(NULL, NULL);
}

static const char *const phase_names[] = {
	[SNAP_TAKEOVER_STEP_HELLO] = "hello",       [SNAP_TAKEOVER_STEP_VERSION] = "version",
	[SNAP_TAKEOVER_STEP_FDS] = "fds",           [SNAP_TAKEOVER_STEP_ENGINE] = "engine",
	[SNAP_TAKEOVER_STEP_APPS] = "apps",         [SNAP_TAKEOVER_STEP_RELEASED] = "released",
	[SNAP_TAKEOVER_STEP_RUNNING] = "running",
};

/* One UpgradeProgress frame to the caller, if it asked; its text says the step for people. */
static void send_progress(Ctl__UpgradeProgress *m, const char *phase, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void send_progress(Ctl__UpgradeProgress *m, const char *phase, const char *fmt, ...)
{
	if (!up.progress)
		return;
	char text[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	m->phase = (char *)(uintptr_t)phase;
	m->elapsed_us = (mono_ns() - up.t0_ns) / 1000;
	m->text = text;
	int r = ctl_rpc_progress(up.call, &m->base);
	if (r == -ENOTCONN)
		up.progress = false; /* the caller left; the upgrade goes on */
	else if (r < 0)
		SNAP_LOG(WARNING, "upgrade: progress frame not sent: %s", strerror(-r));
}

static void on_progress(const struct snap_takeover_progress *p, void *arg)
{
	if (!up.active || !up.progress)
		return;
	Ctl__UpgradeProgress m = CTL__UPGRADE_PROGRESS__INIT;
	const char *phase = phase_names[p->step];
	m.has_new_pid = true;
	m.new_pid = p->new_pid;
	m.new_build = (char *)(uintptr_t)p->new_build;
	switch (p->step) {
	case SNAP_TAKEOVER_STEP_HELLO:
		send_progress(&m, phase, "new daemon pid %d (build %s) started up and connected",
			      (int)p->new_pid, p->new_build);
		break;
	case SNAP_TAKEOVER_STEP_VERSION:
		m.has_state_version = true;
		m.state_version = p->state_version;
		send_progress(&m, phase, "state version %u checked: the new daemon reads it",
			      p->state_version);
		break;
	case SNAP_TAKEOVER_STEP_FDS:
		m.has_fds_passed = true;
		m.fds_passed = p->fds_passed;
		send_progress(&m, phase, "%u fds passed (listeners, app sockets, shared memory)",
			      p->fds_passed);
		break;
	case SNAP_TAKEOVER_STEP_ENGINE:
		m.engine = (char *)(uintptr_t)p->engine;
		m.has_engine_index = m.has_engines_total = m.has_engine_us = true;
		m.engine_index = p->index + 1;
		m.engines_total = p->total;
		m.engine_us = p->engine_ns / 1000;
		m.has_state_bytes = true;
		m.state_bytes = p->state_bytes;
		send_progress(&m, phase, "engine %u of %u (%s) moved in %.3f ms, %" PRIu64
			      " bytes of state", p->index + 1, p->total, p->engine,
			      p->engine_ns / 1e6, p->state_bytes);
		break;
	case SNAP_TAKEOVER_STEP_APPS:
		m.has_apps = true;
		m.apps = p->apps;
		send_progress(&m, phase, "%u app%s handed over inside their engines' state",
			      p->apps, p->apps == 1 ? "" : "s");
		break;
	case SNAP_TAKEOVER_STEP_RELEASED:
		m.has_ports = true;
		m.ports = p->ports;
		send_progress(&m, phase, "old daemon stopped its %u port%s and closed the "
			      "takeover socket", p->ports, p->ports == 1 ? "" : "s");
		break;
	case SNAP_TAKEOVER_STEP_RUNNING:
		send_progress(&m, phase, "new daemon started its ports and runs the engines");
		break;
	}
}

static void finish_error(int err, const char *msg)
{
	finish_listeners();
	SNAP_LOG(WARNING, "upgrade to %s failed: %s", up.binary, msg);
	ctl_rpc_error(up.call, err, "%s", msg);
	up.call = NULL;
}

static void on_done(const struct snap_takeover_result *r, void *arg)
{
	if (!up.active)
		return;
	if (r->status) {
		/* Reap the refused/failed child if it is already gone; the watch timer reaps
		 * it otherwise. */
		finish_error(r->status, r->msg);
		return;
	}
	Ctl__UpgradeReply rep = CTL__UPGRADE_REPLY__INIT;
	uint64_t us[SNAP_TAKEOVER_ENGINES_MAX];
	for (unsigned i = 0; i < r->engines_moved; i++)
		us[i] = r->blackout_ns[i] / 1000;
	rep.has_new_pid = true;
	rep.new_pid = r->new_pid;
	rep.has_blackout_us = true;
	rep.blackout_us = r->blackout_max_ns / 1000;
	rep.has_engines_moved = true;
	rep.engines_moved = r->engines_moved;
	rep.n_engine_blackout_us = r->engines_moved;
	rep.engine_blackout_us = us;
	rep.has_brownout_us = true;
	rep.brownout_us = r->brownout_ns / 1000;
	rep.has_fds_passed = true;
	rep.fds_passed = r->fds_passed;
	rep.new_build = (char *)r->new_build;
	finish_listeners();
	ctl_rpc_reply(up.call, &rep.base);
	up.call = NULL;
}

/* The child is not ours to wait for once it took over (it outlives us), but one that exits
 * before (bad binary, bad config, refused versions) must be reaped and reported. */
static void watch(uint64_t now_ns, void *arg)
{
	int st;
	pid_t p = up.child > 0 ? waitpid(up.child, &st, WNOHANG) : 0;
	if (p == up.child && p > 0)
		up.child = 0;
	if (!up.active)
		return;
	if (p > 0) {
		char msg[400];
		snprintf(msg, sizeof(msg), "new binary %s exited (%s %d) before taking over; "
			 "see the daemon log", up.binary, WIFEXITED(st) ? "status" : "signal",
			 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		finish_error(-ECHILD, msg);
		return;
	}
	if (now_ns > up.deadline_ns) {
		if (up.child > 0)
			kill(up.child, SIGKILL);
		finish_error(-ETIMEDOUT, "the new binary did not take over in time (killed)");
	}
}

static void client_gone(void *arg)
{
	up.progress = false;
	/* The upgrade goes on; only its reply has nobody to read it. */
	SNAP_LOG(NOTICE, "upgrade: the caller left; the upgrade continues");
}

/* The new binary must be a file of the upgrade dir (config daemon.upgrade_dir), both root's
 * or the daemon's and not group/world-writable: the operator group may run what root put
 * there, not any path. 0 (up.binary set) or the error reply's code. */
static int check_binary(struct ctl_rpc_call *call, const char *bin)
{
	/* No config (a harness running the control plane alone): no upgrade dir either. */
	const struct snap_config *cfg = snap_daemon()->cfg;
	const char *dir = cfg ? cfg->upgrade_dir : "";
	char err[512];
	const char *name = dir[0] ? snap_paths_name_in(dir, bin, err, sizeof(err)) : NULL;
	if (!dir[0])
		return ctl_rpc_error(call, -EPERM, "upgrades are disabled: no upgrade_dir");
	if (name == NULL)
		return ctl_rpc_error(call, -EPERM, "upgrade binary refused: %s", err);
	int dfd = snap_paths_open_trusted_dir(dir, "upgrade_dir", err, sizeof(err));
	if (dfd < 0)
		return ctl_rpc_error(call, dfd, "upgrade binary refused: %s", err);
	struct stat st;
	int r = fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) ? -errno : 0;
	close(dfd);
	if (r)
		return ctl_rpc_error(call, r, "%s/%s: %s", dir, name, strerror(-r));
	if (!S_ISREG(st.st_mode) || !(st.st_mode & S_IXUSR) ||
	    (st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & (S_IWGRP | S_IWOTH)))
		return ctl_rpc_error(call, -EPERM, "upgrade binary %s/%s refused: must be an "
				     "executable regular file (not a symlink) owned by root or uid "
				     "%u, not writable by group or others (it is uid %u, mode %04o)",
				     dir, name, (unsigned)geteuid(), (unsigned)st.st_uid,
				     (unsigned)(st.st_mode & 07777));
	if ((size_t)snprintf(up.binary, sizeof(up.binary), "%s/%s", dir, name) >= sizeof(up.binary))
		return ctl_rpc_error(call, -ENAMETOOLONG, "%s/%s: path too long", dir, name);
	return 0;
}

bool ctl_upgrade_active(void)
{
	return up.active;
}

static int h_upgrade(struct ctl_rpc_call *call, const uint8_t *req, size_t len)
{
	Ctl__UpgradeRequest *q = (Ctl__UpgradeRequest *)ctl_rpc_unpack(
		call, &ctl__upgrade_request__descriptor, req, len);
	if (q == NULL)
		return -EBADMSG;
	int r = 0;
	char cport[32];
	unsigned ncap = ctl_capture_active(cport, sizeof(cport));
	if (up.active)
		r = ctl_rpc_error(call, -EBUSY, "an upgrade is already in progress");
	else if (ncap)
		/* A capture is this process's (its file, ring and the port's callbacks): it
		 * would end silently at the hand-over. Refused before anything starts. */
		r = ctl_rpc_error(call, -EBUSY, "upgrade refused: %u capture%s in progress (port "
				  "%s); it would not survive the hand-over: wait for it to end or "
				  "stop it, then upgrade", ncap, ncap == 1 ? "" : "s", cport);
	else
		r = check_binary(call, q->binary);
	if (r == 0 && !up.timer) {
		r = snap_loop_add_timer(WATCH_MS, watch, NULL);
		if (r)
			r = ctl_rpc_error(call, r, "no timer slot for the upgrade watch");
		up.timer = r == 0;
	}
	if (r == 0) {
		up.t0_ns = mono_ns();
		pid_t pid = snap_takeover_spawn(up.binary);
		if (pid < 0) {
			r = ctl_rpc_error(call, pid, "cannot start %s: %s", up.binary,
					  strerror((int)-pid));
		} else {
			up.active = true;
			up.call = call;
			up.child = pid;
			up.progress = q->has_progress && q->progress;
			unsigned t = q->has_timeout_ms && q->timeout_ms ? q->timeout_ms
									 : DEFAULT_TIMEOUT_MS;
			up.deadline_ns = mono_ns() + (uint64_t)t * 1000000ull;
			snap_takeover_on_done(on_done, NULL);
			snap_takeover_on_progress(on_progress, NULL);
			ctl_rpc_on_cancel(call, client_gone, NULL);
			SNAP_LOG(NOTICE, "upgrade: started %s as pid %d", up.binary, (int)pid);
			Ctl__UpgradeProgress m = CTL__UPGRADE_PROGRESS__INIT;
			m.has_new_pid = true;
			m.new_pid = pid;
			send_progress(&m, "started", "started %s as pid %d", up.binary, (int)pid);
			r = CTL_RPC_DEFERRED;
		}
	}
	protobuf_c_message_free_unpacked(&q->base, NULL);
	return r;
}

CTL_RPC_REGISTER(upgrade, CTL_M_UPGRADE, h_upgrade, CTL_RPC_MUTATING)
