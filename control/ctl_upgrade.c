/* The `upgrade` method: spawn the new snapnetd (same arguments + --takeover), let it take
 * over through the takeover socket (snap/takeover.c) and answer at the end with its pid and
 * the blackout per engine (deferred reply). A new binary that exits or hangs before taking
 * over gets an error reply and the old daemon keeps serving. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "control/ctl.pb-c.h"
#include "control/rpc.h"
#include "snap/log.h"
#include "snap/loop.h"
#include "snap/takeover.h"

#define WATCH_MS 50
#define DEFAULT_TIMEOUT_MS 30000

static struct {
	bool active;
	bool timer;
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

static void finish_error(int err, const char *msg)
{
	up.active = false;
	snap_takeover_on_done(NULL, NULL);
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
	up.active = false;
	snap_takeover_on_done(NULL, NULL);
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
	/* The upgrade goes on; only its reply has nobody to read it. */
	SNAP_LOG(NOTICE, "upgrade: the caller left; the upgrade continues");
}

static int h_upgrade(struct ctl_rpc_call *call, const uint8_t *req, size_t len)
{
	Ctl__UpgradeRequest *q = (Ctl__UpgradeRequest *)ctl_rpc_unpack(
		call, &ctl__upgrade_request__descriptor, req, len);
	if (q == NULL)
		return -EBADMSG;
	int r = 0;
	if (up.active)
		r = ctl_rpc_error(call, -EBUSY, "an upgrade is already in progress");
	else if (q->binary[0] != '/' || strlen(q->binary) >= sizeof(up.binary) ||
		 access(q->binary, X_OK) != 0)
		r = ctl_rpc_error(call, -EINVAL, "%s: not an executable file (absolute path)",
				  q->binary);
	if (r == 0 && !up.timer) {
		r = snap_loop_add_timer(WATCH_MS, watch, NULL);
		if (r)
			r = ctl_rpc_error(call, r, "no timer slot for the upgrade watch");
		up.timer = r == 0;
	}
	if (r == 0) {
		snprintf(up.binary, sizeof(up.binary), "%s", q->binary);
		pid_t pid = snap_takeover_spawn(up.binary);
		if (pid < 0) {
			r = ctl_rpc_error(call, pid, "cannot start %s: %s", up.binary,
					  strerror((int)-pid));
		} else {
			up.active = true;
			up.call = call;
			up.child = pid;
			unsigned t = q->has_timeout_ms && q->timeout_ms ? q->timeout_ms
									 : DEFAULT_TIMEOUT_MS;
			up.deadline_ns = mono_ns() + (uint64_t)t * 1000000ull;
			snap_takeover_on_done(on_done, NULL);
			ctl_rpc_on_cancel(call, client_gone, NULL);
			SNAP_LOG(NOTICE, "upgrade: started %s as pid %d", up.binary, (int)pid);
			r = CTL_RPC_DEFERRED;
		}
	}
	protobuf_c_message_free_unpacked(&q->base, NULL);
	return r;
}

CTL_RPC_REGISTER(upgrade, CTL_M_UPGRADE, h_upgrade, CTL_RPC_MUTATING)
