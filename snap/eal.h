/* Starting and stopping DPDK's EAL for one daemon instance, unprivileged by default. */
#pragma once

#include <stddef.h>

struct snap_config;

/* Build the EAL argument list from cfg (ports become --vdev / -a arguments) and run
 * rte_eal_init. Hugepages are used only when cfg->hugepages is set and the kernel has free
 * ones; otherwise --no-huge with cfg->memory_mb of ordinary memory. The file prefix is unique
 * per process ("snap-<name>-<pid>"). 0 or -errno with a one-line message in err. */
int snap_eal_start(const struct snap_config *cfg, char *err, size_t errlen);
/* rte_eal_cleanup and removal of the instance's runtime directory. */
void snap_eal_stop(void);
/* The EAL command line used (for logs and `snapctl status`). */
const char *snap_eal_cmdline(void);
