/* Logging through DPDK's rte_log under the "snap" type, so one level knob (snapctl log-level,
 * --log-level) governs the daemon and DPDK alike. Never log on a per-packet path. */
#pragma once

#include <rte_log.h>

extern int snap_logtype;

#define SNAP_LOG(level, fmt, ...)                                                         \
	rte_log(RTE_LOG_##level, snap_logtype, "snap: " fmt "\n", ##__VA_ARGS__)

/* Parse "error|warning|notice|info|debug" (or a number 1..8) into an RTE_LOG level.
 * Returns the level or -EINVAL. */
int snap_log_level_parse(const char *s);
/* Name of an RTE_LOG level. */
const char *snap_log_level_name(int level);
