/* The daemon's control server: the RPC server built from snapnetd's config and served from
 * the control thread's event loop (core/loop.h). */
#pragma once

#include <stddef.h>

struct snap_config;
struct ctl_rpc_server;

/* Create the server on cfg->control_socket (mode cfg->socket_mode, operator group
 * cfg->operator_group, read-only methods open to all if cfg->readonly_anyone) and register
 * it with the event loop. 0 or -errno with a one-line message in err. */
int ctl_server_start(const struct snap_config *cfg, char *err, size_t errlen);
/* End captures, close connections, remove the socket. No-op if not started. */
void ctl_server_stop(void);
