/* Starting and stopping DPDK's EAL for one daemon instance, unprivileged by default. */
#pragma once

#include <stddef.h>

#define SNAP_EAL_PREFIX_MAX 64

struct snap_config;

/* Build the EAL argument list from cfg (ports become --vdev / -a arguments) and run
 * rte_eal_init. Hugepages are used only when cfg->hugepages is set and the kernel has free
 * ones; otherwise --no-huge with cfg->memory_mb of ordinary memory. The file prefix is stable
 * (snap_eal_prefix_pick), so DPDK's telemetry socket is found by `dpdk-telemetry.py -f
 * snap-NAME`.
 * 0 or -errno with a one-line message in err (-EBUSY: both prefixes held). */
int snap_eal_start(const struct snap_config *cfg, char *err, size_t errlen);
/* The EAL file prefix for instance name: "snap-NAME", or "snap-NAME.1" while a live daemon
 * holds the first (the old daemon during a transparent upgrade: the two alternate, one per
 * upgrade). A prefix is held while its runtime dir's config file is write-locked, which the
 * EAL primary does for its whole life. 0, -EBUSY (both held), -ENAMETOOLONG. */
int snap_eal_prefix_pick(const char *name, char *out, size_t len);
/* Point RUN_DIR/dpdk_telemetry.v2 at this daemon's telemetry socket (a symlink renamed into
 * place, so an upgrade moves it in one step). Call once the daemon owns the instance (its
 * control socket is up), so a second daemon refused at start-up does not take the link;
 * snap_eal_stop removes it if it still names ours. Best effort: failures are logged. */
void snap_eal_telemetry_link(const char *run_dir);
/* Run fn(arg) on the EAL interrupt thread, between its other callbacks, and return its
 * result: for device operations that must not run beside a PMD's own interrupt handlers
 * (core/portdev.c). The caller waits (it is the control or main thread; on the interrupt
 * thread itself fn runs at once). If the interrupt thread does not take it within
 * SNAP_EAL_INTR_WAIT_MS, fn runs in the caller after all, with a warning. */
#define SNAP_EAL_INTR_WAIT_MS 2000
int snap_eal_intr_call(int (*fn)(void *), void *arg);
/* rte_eal_cleanup and removal of the instance's runtime directory. For a process about to
 * exit: the EAL interrupt thread is parked for good first (core/eal.c says why). */
void snap_eal_stop(void);
