/* Daemon-side port lifecycle (the part of ports that elements never call). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct snap_config;
struct snap_port_cfg;

/* The EAL --vdev (or -a for PCI) argument for a port config. 0 or -ENAMETOOLONG. */
int snap_port_eal_arg(const struct snap_port_cfg *pc, char *buf, size_t len);
/* After EAL init: bring up every configured port (mempool, queues, neighbour table, start).
 * 0 or -errno with a one-line message in err. Partially created ports are released by
 * snap_ports_destroy(). */
int snap_ports_create(const struct snap_config *cfg, char *err, size_t errlen);
/* Set before snap_ports_create: configure ports but do not start them (upgrade: the old
 * daemon still holds the devices; the takeover starts them once it released them). */
extern bool snap_ports_defer_start;
/* Stop and close every port, free pools, tables and inter-engine rings. */
void snap_ports_destroy(void);
