/* Glue between snapnetd and the control RPC server: config -> ctl_rpc_config, event loop
 * registration, orderly shutdown (captures first, they hold port callbacks). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "control/capture.h"
#include "control/metrics_http.h"
#include "control/rpc.h"
#include "control/server.h"
#include "control/telemetry.h"
#include "core/config.h"
#include "core/fdreg.h"
#include "snap/log.h"
#include "core/loop.h"
#include "core/module.h"
#include "core/takeover.h"

static struct ctl_rpc_server *srv;

#define TICK_MS 250 /* hello timeouts are seconds: a quarter of one is precise enough */

static void on_readable(int fd, void *arg)
{
	int r = ctl_rpc_process(arg);
	if (r < 0)
		SNAP_LOG_LIMITED(WARNING, 1000, "control: %s", strerror(-r));
}

static void on_tick(uint64_t now_ns, void *arg)
{
	if (srv)
		ctl_rpc_tick(srv, now_ns);
}

int ctl_server_start(const struct snap_config *cfg, char *err, size_t errlen)
{
	struct ctl_rpc_config rc;
	ctl_rpc_config_default(&rc);
	if (cfg->control_socket[0])
		rc.path = cfg->control_socket;
	if (cfg->socket_mode)
		rc.mode = cfg->socket_mode;
	rc.group = cfg->operator_group[0] ? cfg->operator_group : NULL;
	rc.readonly_open = cfg->readonly_anyone;
	if (cfg->control_max_clients)
		rc.max_clients = cfg->control_max_clients;
	rc.adopt_fd = snap_takeover_take_fd(SNAP_FD_CONTROL_LISTEN); /* upgrade: keep serving */
	rc.adopt = rc.adopt_fd >= 0;
	srv = ctl_rpc_create(&rc);
	if (srv == NULL) {
		int e = errno;
		snprintf(err, errlen, "control socket %s: %s", rc.path,
			 e == ENOENT && rc.group ? "unknown operator group" : strerror(e));
		return -e;
	}
	int r = snap_loop_add_fd(ctl_rpc_fd(srv), on_readable, srv);
	if (r < 0) {
		snprintf(err, errlen, "control socket: cannot add to the event loop: %s",
			 strerror(-r));
		ctl_rpc_destroy(srv);
		srv = NULL;
		return r;
	}
	snap_fdreg_add(ctl_rpc_listen_fd(srv), SNAP_FD_CONTROL_LISTEN, 0, "control listener");
	static bool tick_added; /* timers cannot be removed: one for the process */
	if (!tick_added) {
		r = snap_loop_add_timer(TICK_MS, on_tick, NULL);
		if (r < 0) {
			snprintf(err, errlen, "control: cannot add the housekeeping timer");
			ctl_server_stop();
			return r;
		}
		tick_added = true;
	}
	if ((r = ctl_telemetry_start()) < 0) /* optional: the daemon runs without it */
		SNAP_LOG(WARNING, "telemetry: not served: %s", strerror(-r));
	if ((r = ctl_metrics_http_start(cfg->metrics_listen, rc.adopt, err, errlen)) < 0) {
		ctl_server_stop();
		return r;
	}
	return 0;
}

void ctl_server_stop(void)
{
	if (srv == NULL)
		return;
	ctl_capture_stop_all();
	ctl_telemetry_stop();
	ctl_metrics_http_stop();
	snap_loop_del_fd(ctl_rpc_fd(srv));
	snap_fdreg_del(ctl_rpc_listen_fd(srv));
	ctl_rpc_destroy(srv);
	srv = NULL;
}

static const struct snap_module ctl_module = {
	.name = "control", .order = 30, .start = ctl_server_start, .stop = ctl_server_stop,
};
SNAP_MODULE_REGISTER(ctl_module)
