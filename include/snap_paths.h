/* Where snapnetd, snapctl and libpony meet: the default run dir and socket names, defined
 * once for the daemon (core/config.c), snapctl (control/rpc_wire.h) and libpony (pony.h).
 * Public and installed with pony.h; macros only. */
#pragma once

/* A daemon running as root serves SNAP_RUN_DIR_SYSTEM; any other user's daemon serves
 * $XDG_RUNTIME_DIR/SNAP_RUN_DIR_USER. Clients look in the same places (see
 * snap_paths_client_default in core/paths.h). */
#define SNAP_RUN_DIR_SYSTEM "/run/snapnetd"
#define SNAP_RUN_DIR_USER "snapnetd"

#define SNAP_CONTROL_SOCKET_NAME "control.sock"   /* snapctl */
#define SNAP_APP_SOCKET_NAME "app.sock"           /* libpony */
#define SNAP_TAKEOVER_SOCKET_NAME "takeover.sock" /* the next daemon of an upgrade */
