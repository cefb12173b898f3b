/* DPDK telemetry commands of snapnetd: /snap/engines, /snap/engine,NAME, /snap/ports,
 * /snap/pony/flows, /snap/pony/apps (JSON over DPDK's telemetry socket, see README "Metrics").
 * Each runs the matching control RPC method on the control thread. */
#pragma once

/* Serve the commands from the control thread's event loop (registered with DPDK on the
 * first call; EAL must be initialised). 0, or -errno (eventfd, event loop). */
int ctl_telemetry_start(void);
/* Stop serving: commands waiting or arriving later fail with -ENODEV. No-op if not
 * started. */
void ctl_telemetry_stop(void);
