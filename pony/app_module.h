/* The app-attach module of snapnetd: the attach socket on the control thread's event loop,
 * its fds in the daemon's fd registry, and its housekeeping timer. */
#pragma once

#include <stddef.h>

struct snap_config;
struct pony_app_attach;

/* Listen on cfg's app socket. 0 or -errno with a message (-EINVAL: config problem). */
int pony_app_module_start(const struct snap_config *cfg, char *err, size_t errlen);
/* SIGHUP: take the app policy (allow_uids/allow_gids) from a freshly loaded cfg. Other
 * app settings (socket, sizes, limits) need a restart or an upgrade. 0 or -EINVAL with a
 * message (cfg's app settings invalid: nothing changed). */
int pony_app_module_reload(const struct snap_config *cfg, char *err, size_t errlen);
/* Detach every app and close the socket. Safe if never started. */
void pony_app_module_stop(void);
