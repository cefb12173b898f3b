/* Group parameters: defaults, consistency checks, and setting them by name (the one place
 * config files and control RPCs turn "key = value" into struct sched_params). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_common.h>

#include "sched/internal.h"

static const char *const mode_names[] = {
	[SCHED_MODE_DEDICATED] = "dedicated",
	[SCHED_MODE_SPREADING] = "spreading",
	[SCHED_MODE_COMPACTING] = "compacting",
};

const char *sched_mode_name(enum sched_mode m)
{
	return (unsigned)m < RTE_DIM(mode_names) ? mode_names[m] : "?";
}

int sched_mode_parse(const char *s)
{
	for (unsigned i = 0; s && i < RTE_DIM(mode_names); i++)
		if (strcmp(s, mode_names[i]) == 0)
			return (int)i;
	return -EINVAL;
}

void sched_params_default(struct sched_params *p)
{
	memset(p, 0, sizeof(*p));
	p->spin_min_ns = 2000;
	p->spin_max_ns = 50000;
	p->backoff_min_ns = 1000;
	p->backoff_max_ns = 1000000;
	p->idle_yield_polls = 4;
	p->max_threads = 4;
	p->qdelay_target_ns = 50000;
	p->qdelay_low_ns = p->qdelay_target_ns / 4;
	p->window_ns = 50000000;
	p->hysteresis = 2;
	p->util_target_pct = 70;
	p->util_low_pct = 50;
}

int sched_params_check(struct sched_params *p)
{
	struct sched_params d;
	sched_params_default(&d);
#define DFLT(f)            \
	if (p->f == 0)     \
		p->f = d.f
	DFLT(spin_min_ns);
	DFLT(spin_max_ns);
	DFLT(backoff_min_ns);
	DFLT(backoff_max_ns);
	DFLT(max_threads);
	DFLT(qdelay_target_ns);
	DFLT(window_ns);
	DFLT(hysteresis);
	DFLT(util_target_pct);
	DFLT(util_low_pct);
#undef DFLT
	if (p->qdelay_low_ns == 0)
		p->qdelay_low_ns = p->qdelay_target_ns / 4;
	if (p->spin_min_ns > p->spin_max_ns || p->backoff_min_ns > p->backoff_max_ns ||
	    p->qdelay_low_ns >= p->qdelay_target_ns || p->max_threads > SCHED_THREADS_MAX ||
	    p->n_cpus > SCHED_CPUS_MAX || p->util_target_pct > 100 ||
	    p->util_low_pct >= p->util_target_pct || p->dl_runtime_ns > p->dl_period_ns ||
	    (p->dl_runtime_ns && p->dl_runtime_ns < 1024))
		return -EINVAL;
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	for (unsigned i = 0; i < p->n_cpus; i++)
		if (p->cpus[i] < 0 || p->cpus[i] >= ncpu || p->cpus[i] >= CPU_SETSIZE)
			return -EINVAL;
	return 0;
}

/* Parse "0,2-3" into p->cpus. */
static int parse_cpus(struct sched_params *p, const char *s)
{
	uint16_t n = 0;
	while (*s) {
		char *end;
		long a = strtol(s, &end, 10), b = a;
		if (end == s || a < 0)
			return -EINVAL;
		if (*end == '-') {
			s = end + 1;
			b = strtol(s, &end, 10);
			if (end == s || b < a)
				return -EINVAL;
		}
		for (long c = a; c <= b; c++) {
			if (n >= SCHED_CPUS_MAX || c >= CPU_SETSIZE)
				return -EINVAL;
			p->cpus[n++] = (int)c;
		}
		if (*end == ',')
			end++;
		else if (*end)
			return -EINVAL;
		s = end;
	}
	p->n_cpus = n;
	return 0;
}

/* Each key's field is 2, 4 or 8 bytes wide: set and get copy exactly that many. */
#define U64(f, max) {#f, offsetof(struct sched_params, f), sizeof(((struct sched_params *)0)->f), max}
static const struct {
	const char *key;
	size_t off, size;
	uint64_t max;
} keys[] = {
	U64(spin_min_ns, 1000000000ull),     U64(spin_max_ns, 1000000000ull),
	U64(backoff_min_ns, 1000000000ull),  U64(backoff_max_ns, 1000000000ull),
	U64(max_threads, SCHED_THREADS_MAX), U64(qdelay_target_ns, 1000000000ull),
	U64(qdelay_low_ns, 1000000000ull),   U64(window_ns, 10000000000ull),
	U64(hysteresis, 1000),               U64(util_target_pct, 100),
	U64(util_low_pct, 100),              U64(dl_runtime_ns, 10000000000ull),
	U64(dl_period_ns, 10000000000ull),   U64(idle_yield_polls, 1000000000ull),
};
#undef U64

int sched_params_set(struct sched_params *p, const char *key, const char *val)
{
	if (p == NULL || key == NULL || val == NULL)
		return -EINVAL;
	if (strcmp(key, "cpus") == 0)
		return parse_cpus(p, val);
	for (unsigned i = 0; i < RTE_DIM(keys); i++) {
		if (strcmp(key, keys[i].key) != 0)
			continue;
		char *end;
		errno = 0;
		unsigned long long v = strtoull(val, &end, 0);
		if (errno || end == val || *end || val[0] == '-' || v > keys[i].max)
			return -EINVAL;
		char *f = (char *)p + keys[i].off;
		if (keys[i].size == sizeof(uint16_t)) {
			uint16_t v16 = (uint16_t)v;
			memcpy(f, &v16, sizeof(v16));
		} else if (keys[i].size == sizeof(uint32_t)) {
			uint32_t v32 = (uint32_t)v;
			memcpy(f, &v32, sizeof(v32));
		} else {
			uint64_t v64 = v;
			memcpy(f, &v64, sizeof(v64));
		}
		return 0;
	}
	return -ENOENT;
}

int sched_params_get(const struct sched_params *p, unsigned i, const char **key, uint64_t *val)
{
	if (i >= RTE_DIM(keys))
		return -ENOENT;
	const char *f = (const char *)p + keys[i].off;
	if (keys[i].size == sizeof(uint16_t)) {
		uint16_t v16;
		memcpy(&v16, f, sizeof(v16));
		*val = v16;
	} else if (keys[i].size == sizeof(uint32_t)) {
		uint32_t v32;
		memcpy(&v32, f, sizeof(v32));
		*val = v32;
	} else {
		memcpy(val, f, sizeof(*val));
	}
	*key = keys[i].key;
	return 0;
}
