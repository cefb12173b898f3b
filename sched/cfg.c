/* Groups from the configuration (see cfg.h): the one place config keys become group
 * parameters, so config checking and daemon start-up report the same errors. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sched/cfg.h"
#include "sched/internal.h"
#include "snap/log.h"

int sched_cfg_params(const struct snap_group_cfg *g, struct sched_params *p, char *err,
		     size_t errlen)
{
	enum sched_mode mode = (enum sched_mode)sched_mode_parse(g->mode);
	if ((int)mode < 0) {
		snprintf(err, errlen, "group '%s' (line %d): unknown mode '%s'", g->name, g->line,
			 g->mode);
		return -EINVAL;
	}
	sched_params_default(p);
	if (g->n_cpus > SCHED_CPUS_MAX) {
		snprintf(err, errlen, "group '%s' (line %d): more than %d cpus", g->name, g->line,
			 SCHED_CPUS_MAX);
		return -EINVAL;
	}
	p->n_cpus = (uint16_t)g->n_cpus;
	for (unsigned i = 0; i < g->n_cpus; i++)
		p->cpus[i] = g->cpus[i];
	for (unsigned i = 0; i < g->n_kv; i++) {
		int r = sched_params_set(p, g->kv[i].key, g->kv[i].val);
		if (r == -ENOENT) {
			snprintf(err, errlen,
				 "group '%s' (line %d): unknown parameter '%s' (see sched/sched.h: "
				 "struct sched_params)", g->name, g->line, g->kv[i].key);
			return -EINVAL;
		}
		if (r < 0) {
			snprintf(err, errlen, "group '%s' (line %d): bad value '%s' for '%s'",
				 g->name, g->line, g->kv[i].val, g->kv[i].key);
			return -EINVAL;
		}
	}
	struct sched_params chk = *p;
	if (sched_params_check(&chk) < 0) {
		snprintf(err, errlen, "group '%s' (line %d): inconsistent parameters (spin_min <= "
			 "spin_max, backoff_min <= backoff_max, qdelay_low < qdelay_target, "
			 "util_low < util_target <= 100, dl_runtime <= dl_period, cpus online)",
			 g->name, g->line);
		return -EINVAL;
	}
	return 0;
}

int sched_cfg_describe(const struct sched_group *g, struct snap_group_cfg *out)
{
	struct sched_group_info in;
	if (out == NULL || sched_group_info(g, &in) < 0)
		return -EINVAL;
	_Static_assert(SNAP_CFG_CPUS_MAX >= SCHED_CPUS_MAX, "a group's cpus fit its config");
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", in.name);
	snprintf(out->mode, sizeof(out->mode), "%s", sched_mode_name(in.mode));
	out->n_cpus = in.params.n_cpus;
	for (unsigned i = 0; i < in.params.n_cpus; i++)
		out->cpus[i] = in.params.cpus[i];
	const char *key;
	uint64_t v;
	for (unsigned i = 0; out->n_kv < SNAP_CFG_KV_MAX &&
			     sched_params_get(&in.params, i, &key, &v) == 0; i++) {
		struct snap_kv *kv = &out->kv[out->n_kv++];
		snprintf(kv->key, sizeof(kv->key), "%s", key);
		snprintf(kv->val, sizeof(kv->val), "%llu", (unsigned long long)v);
	}
	return 0;
}

int sched_cfg_apply(const struct snap_config *cfg, char *err, size_t errlen)
{
	for (unsigned i = 0; i < cfg->n_groups; i++) {
		const struct snap_group_cfg *gc = &cfg->groups[i];
		struct sched_params p;
		int r = sched_cfg_params(gc, &p, err, errlen);
		if (r < 0)
			return r;
		if (sched_group_create(gc->name, (enum sched_mode)sched_mode_parse(gc->mode), &p) ==
		    NULL) {
			r = -errno;
			snprintf(err, errlen, "group '%s' (line %d): %s", gc->name, gc->line,
				 strerror(errno));
			return r;
		}
	}
	for (unsigned i = 0; i < cfg->n_engines; i++) {
		const struct snap_engine_cfg *ec = &cfg->engines[i];
		const char *gname = ec->group[0] ? ec->group : SCHED_CFG_DEFAULT_GROUP;
		struct sched_group *g = sched_group_find(gname);
		if (g == NULL && !ec->group[0])
			g = sched_group_create(gname, SCHED_MODE_SPREADING, NULL);
		struct snap_engine *e = snap_engine_find(ec->name);
		if (g == NULL || e == NULL) {
			snprintf(err, errlen, "engine '%s' (line %d): %s", ec->name, ec->line,
				 e == NULL ? "not built" : "its group does not exist");
			return -ENOENT;
		}
		int r = sched_engine_add(g, e);
		if (r < 0) {
			snprintf(err, errlen, "engine '%s' (line %d): cannot start in group '%s': %s",
				 ec->name, ec->line, gname, strerror(-r));
			return r;
		}
	}
	/* Engines made by modules rather than the config (none is left unrun). */
	for (unsigned i = 0; i < snap_engine_count(); i++) {
		struct snap_engine *e = snap_engine_at(i);
		struct sched_engine_info si;
		if (sched_engine_info(e, &si) == 0)
			continue; /* already in a group */
		struct sched_group *g = sched_group_find(SCHED_CFG_DEFAULT_GROUP);
		if (g == NULL)
			g = sched_group_create(SCHED_CFG_DEFAULT_GROUP, SCHED_MODE_SPREADING, NULL);
		int r = g ? sched_engine_add(g, e) : -errno;
		if (r < 0) {
			snprintf(err, errlen, "engine '%s': cannot start in group '%s': %s",
				 snap_engine_name(e),
				 SCHED_CFG_DEFAULT_GROUP, strerror(-r));
			return r;
		}
	}
	return 0;
}
