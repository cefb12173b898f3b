/* The daemon's process-wide state and the start/stop order of its modules (groups, control
 * RPC, app attach, takeover). Control thread only. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct snap_config;

struct snap_daemon {
	const struct snap_config *cfg;
	uint64_t start_ns; /* CLOCK_MONOTONIC at start */
};

struct snap_daemon *snap_daemon(void);

/* Start the modules after ports and engines exist: groups (engines start running), the
 * memif client link keeper, then the control RPC server and the app-attach socket. 0 or -errno with a message in err
 * (-EINVAL: a config problem). */
int snap_daemon_modules_start(struct snap_daemon *d, char *err, size_t errlen);
/* SIGHUP: hand the settings that can change at run time (the app policy) from a freshly
 * loaded config to the modules that own them. 0 or -errno with a message in err. */
int snap_daemon_modules_reload(struct snap_daemon *d, const struct snap_config *fresh,
			       char *err, size_t errlen);
/* Stop them in reverse order; engines end parked. */
void snap_daemon_modules_stop(struct snap_daemon *d);
