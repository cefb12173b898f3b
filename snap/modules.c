/* Module start/stop order for the daemon: groups (sched/) start the engines, and the control
 * loop drives the compacting controller and keeps memif client links up. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "control/server.h"
#include "pony/app_module.h"
#include "sched/cfg.h"
#include "snap/config.h"
#include "snap/daemon.h"
#include "snap/loop.h"
#include "snap/portsetup.h"
#include "snap/takeover.h"

#define SCHED_TICK_MS 10 /* compacting controller period (its windows are longer) */

static struct snap_daemon daemon_state;

struct snap_daemon *snap_daemon(void)
{
	return &daemon_state;
}

static void sched_timer(uint64_t now_ns, void *arg)
{
	sched_tick(now_ns);
}

int snap_daemon_modules_start(struct snap_daemon *d, char *err, size_t errlen)
{
	int r = sched_init();
	if (r < 0 && r != -EALREADY) {
		snprintf(err, errlen, "groups: %s", "cannot initialise");
		return r;
	}
	r = sched_cfg_apply(d->cfg, err, errlen);
	if (r < 0)
		return r;
	r = snap_loop_add_timer(SCHED_TICK_MS, sched_timer, NULL);
	if (r < 0) {
		snprintf(err, errlen, "groups: cannot add the controller timer");
		return r;
	}
	r = snap_portlink_start();
	if (r < 0) {
		snprintf(err, errlen, "ports: cannot add the memif link timer");
		return r;
	}
	r = ctl_server_start(d->cfg, err, errlen);
	if (r < 0)
		return r;
	r = pony_app_module_start(d->cfg, err, errlen);
	if (r < 0)
		return r;
	r = snap_takeover_listen(d->cfg);
	if (r < 0)
		snprintf(err, errlen, "takeover socket %s: %s", d->cfg->takeover_socket,
			 strerror(-r));
	return r;
}

int snap_daemon_modules_reload(struct snap_daemon *d, const struct snap_config *fresh,
			       char *err, size_t errlen)
{
	return pony_app_module_reload(fresh, err, errlen);
}

void snap_daemon_modules_stop(struct snap_daemon *d)
{
	snap_takeover_stop();
	pony_app_module_stop(); /* apps detach while their engines still run */
	ctl_server_stop();      /* captures end while engines still run */
	sched_fini(); /* parks every engine and joins the group threads */
}
