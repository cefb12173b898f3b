/* Daemon log type, level names, and drop-reason names (the counters X-macro's strings). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "snap/counters.h"
#include "snap/log.h"

RTE_LOG_REGISTER_DEFAULT(snap_logtype, INFO);

static const char *const level_names[] = {
	[RTE_LOG_EMERG] = "emergency", [RTE_LOG_ALERT] = "alert",
	[RTE_LOG_CRIT] = "critical",   [RTE_LOG_ERR] = "error",
	[RTE_LOG_WARNING] = "warning", [RTE_LOG_NOTICE] = "notice",
	[RTE_LOG_INFO] = "info",       [RTE_LOG_DEBUG] = "debug",
};

int snap_log_level_parse(const char *s)
{
	for (int i = (int)RTE_LOG_EMERG; i <= (int)RTE_LOG_DEBUG; i++)
		if (level_names[i] && strcasecmp(s, level_names[i]) == 0)
			return i;
	if (strcasecmp(s, "warn") == 0)
		return RTE_LOG_WARNING;
	char *end;
	long v = strtol(s, &end, 10);
	if (*s && !*end && v >= (long)RTE_LOG_EMERG && v <= (long)RTE_LOG_DEBUG)
		return (int)v;
	return -EINVAL;
}

const char *snap_log_level_name(int level)
{
	if (level < (int)RTE_LOG_EMERG || level > (int)RTE_LOG_DEBUG)
		return "?";
	return level_names[level];
}

void snap_log_set_dpdk_level(int level)
{
	rte_log_set_global_level((uint32_t)level);
	rte_log_set_level_pattern("lib.*", (uint32_t)level);
	rte_log_set_level_pattern("pmd.*", (uint32_t)level);
}

int snap_log_dpdk_level(void)
{
	return rte_log_get_level(RTE_LOGTYPE_EAL);
}

SNAP_X_NAME_FN(snap_drop_name, SNAP_DROP_REASONS)

bool snap_log_limit_ok(struct snap_log_limit *l, unsigned period_ms, unsigned *suppressed)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	if (now < l->next_ns) {
		l->suppressed++;
		return false;
	}
	l->next_ns = now + (uint64_t)period_ms * 1000000ull;
	*suppressed = l->suppressed;
	l->suppressed = 0;
	return true;
}
