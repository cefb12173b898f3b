/* Control-socket wire constants shared by the daemon's RPC server and its clients (snapctl,
 * tests). Only plain C here: clients include it without DPDK. The message schema is
 * control/ctl.proto; the framing is a 4-byte big-endian length, then one Request/Response. */
#pragma once

#include <stdint.h>

#include "snap_paths.h"

/* Bump on an incompatible change of ctl.proto's envelopes or of a method's meaning (adding
 * fields or methods is compatible). A server answers a request of another version with
 * EPROTONOSUPPORT. */
#define CTL_PROTO_VERSION 1

/* The system daemon's control socket (override: config daemon.control_socket, snapctl
 * --socket or $SNAPCTL_SOCKET; snapctl run by another user first tries its own daemon's
 * $XDG_RUNTIME_DIR/snapnetd/control.sock, see core/paths.h). */
#define CTL_SOCKET_DEFAULT SNAP_RUN_DIR_SYSTEM "/" SNAP_CONTROL_SOCKET_NAME
#define CTL_SOCKET_ENV "SNAPCTL_SOCKET"

#define CTL_FRAME_HDR 4u                /* big-endian payload length */
#define CTL_MAX_MSG_DEFAULT (1u << 20)  /* largest frame payload either side accepts */
#define CTL_CLIENT_MAX_MSG (64u << 20)  /* clients accept larger replies (stats of many engines) */

/* Method names (Request.method). "a.b" names are sub-commands ("engine create"). */
#define CTL_M_STATUS "status"
#define CTL_M_ENGINES "engines"
#define CTL_M_PORTS "ports"
#define CTL_M_STATS "stats"
#define CTL_M_LOG_LEVEL "log-level"
#define CTL_M_LOG_LEVEL_SET "log-level.set"
#define CTL_M_CAPTURE "capture"
#define CTL_M_GROUPS "groups"
#define CTL_M_GROUP_CREATE "group.create"
#define CTL_M_GROUP_SET_MODE "group.set-mode"
#define CTL_M_ENGINE_CREATE "engine.create"
#define CTL_M_ENGINE_DESTROY "engine.destroy"
#define CTL_M_ENGINE_MOVE "engine.move"
#define CTL_M_FLOWS "flows"
#define CTL_M_APPS "apps"
#define CTL_M_UPGRADE "upgrade"
