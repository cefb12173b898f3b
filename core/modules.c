/* Start/stop order of the daemon: groups (sched/) start the engines, the control loop drives
 * the compacting controller and keeps memif client links up, then the registered modules
 * (core/module.h: control server, apps, ...) in their order. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sched/cfg.h"
#include "core/config.h"
#include "core/daemon.h"
#include "core/loop.h"
#include "core/module.h"
#include "core/portsetup.h"
#include "core/takeover.h"

/* The compacting controller is called at the end of each group's window; with no compacting
 * group it is looked at once a second (a group may be created), not 100 times. */
#define SCHED_TICK_MS 1000

static struct snap_daemon daemon_state;

struct snap_daemon *snap_daemon(void)
{
	return &daemon_state;
}

static void sched_timer(uint64_t now_ns, void *arg)
{
	uint64_t ns = sched_tick(now_ns);
	if (ns < SCHED_TICK_MS * 1000000ull)
		snap_loop_timer_defer(sched_timer, arg, (unsigned)((ns + 999999) / 1000000));
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
	snap_takeover_client_engines_started(); /* an upgrade's blackout ends here */
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
	const struct snap_module *m;
	for (unsigned i = 0; (m = snap_module_at(i)) != NULL; i++)
		if ((r = m->start(d->cfg, err, errlen)) < 0)
			return r; /* the caller stops every module, started or not */
	return 0;
}

int snap_daemon_modules_reload(struct snap_daemon *d, const struct snap_config *fresh,
			       char *err, size_t errlen)
{
	const struct snap_module *m;
	for (unsigned i = 0; (m = snap_module_at(i)) != NULL; i++) {
		int r = m->reload ? m->reload(fresh, err, errlen) : 0;
		if (r < 0)
			return r;
	}
	return 0;
}

void snap_daemon_modules_stop(struct snap_daemon *d)
{
	snap_takeover_stop();
	/* In reverse: apps detach while their engines still run, then captures end. */
	unsigned n = 0;
	while (snap_module_at(n))
		n++;
	while (n-- > 0)
		snap_module_at(n)->stop();
	sched_fini(); /* parks every engine and joins the group threads */
}
