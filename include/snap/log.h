/* Logging through DPDK's rte_log under the "snap" type, so one level knob (snapctl log-level,
 * --log-level) governs the daemon and DPDK alike. Never log on a per-packet path. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <rte_log.h>

extern int snap_logtype;

#define SNAP_LOG(level, fmt, ...)                                                         \
	rte_log(RTE_LOG_##level, snap_logtype, "snap: " fmt "\n", ##__VA_ARGS__)

/* Parse "error|warning|notice|info|debug" (or a number 1..8) into an RTE_LOG level.
 * Returns the level or -EINVAL. */
int snap_log_level_parse(const char *s);
/* Name of an RTE_LOG level ("?" for none). */
const char *snap_log_level_name(int level);
/* DPDK's own level (the global level and every lib.* / pmd.* type), set and read back (EAL's
 * type stands for them: the global level alone does not filter per-type logs). */
void snap_log_set_dpdk_level(int level);
int snap_log_dpdk_level(void);

/* Rate limit for messages a peer can trigger at will (refused connections, fd exhaustion):
 * at most one per period per call site, so an attacker cannot flood the log. Control thread
 * (not thread-safe). */
struct snap_log_limit {
	uint64_t next_ns;     /* CLOCK_MONOTONIC: earliest time of the next message */
	unsigned suppressed;  /* messages dropped since the last one printed */
};
/* true if a message may be printed now; *suppressed gets how many were dropped before it. */
bool snap_log_limit_ok(struct snap_log_limit *l, unsigned period_ms, unsigned *suppressed);
#define SNAP_LOG_LIMITED(level, period_ms, fmt, ...)                                       \
	do {                                                                              \
		static struct snap_log_limit snap_ll_;                                    \
		unsigned snap_ll_n_;                                                      \
		if (snap_log_limit_ok(&snap_ll_, (period_ms), &snap_ll_n_))               \
			SNAP_LOG(level, fmt " (%u more like it suppressed)", ##__VA_ARGS__,  \
				 snap_ll_n_);                                             \
	} while (0)
