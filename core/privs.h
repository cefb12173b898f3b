/* Privileges: snapnetd needs none for memif/ring/null/vhost ports. When started with
 * capabilities (e.g. as root for af_packet/af_xdp), it keeps only what its ports need once
 * start-up is done. */
#pragma once

struct snap_config;

/* Drop every capability except those the configured ports need at run time (CAP_NET_RAW for
 * af_packet; CAP_NET_RAW, CAP_NET_ADMIN, CAP_BPF and CAP_SYS_ADMIN for af_xdp sockets that may
 * be re-created; CAP_SYS_NICE if kept for SCHED_DEADLINE groups). No-op without privileges.
 * Logs what is kept. With daemon.user set and started as root, it then becomes that user
 * (and daemon.group, or the user's group) keeping only those capabilities: the run dir and
 * DPDK's runtime dir are handed to it first, so it can remove its files at exit and clients
 * accept its sockets. 0 or -errno (with daemon.user: the switch failed; the caller stops). */
int snap_privs_drop(const struct snap_config *cfg);
