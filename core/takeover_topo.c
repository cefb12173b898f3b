/* Transparent upgrade: the run-time topology (T_TOPOLOGY, layout in takeover_int.h). The old
 * daemon describes its groups and engines as they are now; the new daemon checks every count,
 * length and name of it as untrusted input and builds from it instead of its config file, so
 * engines and groups created, changed or moved with snapctl survive the upgrade. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/cfg.h"
#include "sched/sched.h"
#include "core/config.h"
#include "snap/element.h"
#include "snap/engine.h"
#include "snap/log.h"
#include "core/takeover.h"
#include "core/takeover_int.h"

_Static_assert(sizeof(((struct to_topo_group *)0)->cpus) / sizeof(int32_t) == SNAP_CFG_CPUS_MAX &&
		       sizeof(((struct to_topo_group *)0)->kv) / sizeof(struct to_topo_kv) ==
			       SNAP_CFG_KV_MAX,
	       "a wire group holds a config group");
_Static_assert(sizeof(struct to_topo_kv) == sizeof(struct snap_kv) &&
		       sizeof(((struct to_topo_kv *)0)->key) == sizeof(((struct snap_kv *)0)->key),
	       "wire settings are config settings");
_Static_assert(sizeof(((struct to_topo_group *)0)->name) == sizeof(((struct snap_group_cfg *)0)->name) &&
		       sizeof(((struct to_topo_group *)0)->mode) == sizeof(((struct snap_group_cfg *)0)->mode) &&
		       sizeof(((struct to_topo_engine *)0)->name) == sizeof(((struct snap_engine_cfg *)0)->name) &&
		       sizeof(((struct to_topo_engine *)0)->group) == sizeof(((struct snap_engine_cfg *)0)->group),
	       "wire names are config names");
_Static_assert(SNAP_CFG_GROUPS_MAX == 16 && SNAP_CFG_ENGINES_MAX == 32, "TO_TOPO_MAX's counts");
_Static_assert(TO_TOPO_MAX <= SNAP_TAKEOVER_FRAME_MAX, "a topology fits a frame");

/* ---- old side ---- */

static int put_group(struct snap_sbuf *b, const struct sched_group *g)
{
	struct snap_group_cfg gc;
	int r = sched_cfg_describe(g, &gc);
	if (r)
		return r;
	struct to_topo_group w;
	memset(&w, 0, sizeof(w));
	memcpy(w.name, gc.name, sizeof(w.name));
	memcpy(w.mode, gc.mode, sizeof(w.mode));
	w.n_cpus = gc.n_cpus;
	for (unsigned i = 0; i < gc.n_cpus; i++)
		w.cpus[i] = gc.cpus[i];
	w.n_kv = gc.n_kv;
	memcpy(w.kv, gc.kv, gc.n_kv * sizeof(w.kv[0]));
	snap_sbuf_put(b, &w, sizeof(w));
	return 0;
}

int to_topo_build(struct snap_sbuf *b, char *err, size_t errlen)
{
	unsigned ng = 0, ne = snap_engine_count();
	while (sched_group_at(ng))
		ng++;
	if (ng > SNAP_CFG_GROUPS_MAX || ne > SNAP_CFG_ENGINES_MAX) {
		snprintf(err, errlen, "%u groups and %u engines run, a daemon is built from at most "
			 "%d and %d", ng, ne, SNAP_CFG_GROUPS_MAX, SNAP_CFG_ENGINES_MAX);
		return -E2BIG;
	}
	struct to_topo_hdr h = {.version = TO_TOPO_VERSION, .n_groups = ng, .n_engines = ne};
	h.snap_log_level = rte_log_get_level((uint32_t)snap_logtype);
	h.dpdk_log_level = snap_log_dpdk_level();
	snap_sbuf_put(b, &h, sizeof(h));
	for (unsigned i = 0; i < ng; i++) {
		int r = put_group(b, sched_group_at(i));
		if (r) {
			snprintf(err, errlen, "group %u: cannot describe it: %s", i, strerror(-r));
			return r;
		}
	}
	for (unsigned i = 0; i < ne; i++) {
		struct snap_engine *e = snap_engine_at(i);
		const char *d = snap_engine_desc(e);
		size_t dl = d ? strlen(d) : 0;
		if (d == NULL || dl == 0 || dl > TO_TOPO_DESC_MAX) {
			snprintf(err, errlen, d ? "engine %s: its description is over %u bytes"
						: "engine %s was not built from a description (made by "
						  "code): the new daemon cannot rebuild it",
				 snap_engine_name(e), TO_TOPO_DESC_MAX);
			return d ? -E2BIG : -ENOTSUP;
		}
		struct to_topo_engine w;
		memset(&w, 0, sizeof(w));
		snprintf(w.name, sizeof(w.name), "%s", snap_engine_name(e));
		struct sched_group *g = sched_engine_group(e);
		struct sched_group_info gi;
		if (g && sched_group_info(g, &gi) == 0)
			snprintf(w.group, sizeof(w.group), "%s", gi.name);
		w.desc_len = (uint32_t)dl;
		snap_sbuf_put(b, &w, sizeof(w));
		snap_sbuf_put(b, d, dl);
	}
	if (b->err) {
		snprintf(err, errlen, "out of memory");
		return b->err;
	}
	return 0;
}

/* What protocol 1 (a 0.1.0 new binary) would build: its config file. Differences are what
 * it would lose or resurrect. */
static int engine_vs_config(const struct snap_config *cfg, struct snap_engine *e, char *err,
			    size_t errlen)
{
	const struct snap_engine_cfg *ec = NULL;
	for (unsigned k = 0; k < cfg->n_engines && ec == NULL; k++)
		if (strcmp(cfg->engines[k].name, snap_engine_name(e)) == 0)
			ec = &cfg->engines[k];
	if (ec == NULL) {
		snprintf(err, errlen, "engine %s was created at run time", snap_engine_name(e));
		return -ENOTSUP;
	}
	char *txt = NULL;
	if (snap_config_format_engine(ec, &txt) != 0)
		return -ENOMEM;
	const char *d = snap_engine_desc(e);
	bool same = d && strcmp(d, txt) == 0;
	free(txt);
	struct sched_group *g = sched_engine_group(e);
	struct sched_group_info gi = {.name = ""};
	if (g)
		sched_group_info(g, &gi);
	const char *want = ec->group[0] ? ec->group : SCHED_CFG_DEFAULT_GROUP;
	if (!same || strcmp(gi.name, want) != 0) {
		snprintf(err, errlen, "engine %s was %s at run time", snap_engine_name(e),
			 same ? "moved to another group" : "recreated");
		return -ENOTSUP;
	}
	return 0;
}

int to_topo_matches_config(const struct snap_config *cfg, char *err, size_t errlen)
{
	unsigned ne = snap_engine_count();
	int r = 0;
	for (unsigned i = 0; i < ne && r == 0; i++)
		r = engine_vs_config(cfg, snap_engine_at(i), err, errlen);
	for (unsigned k = 0; k < cfg->n_engines && r == 0; k++)
		if (snap_engine_find(cfg->engines[k].name) == NULL) {
			snprintf(err, errlen, "engine %s was destroyed at run time",
				 cfg->engines[k].name);
			r = -ENOTSUP;
		}
	struct sched_group *g;
	for (unsigned i = 0; r == 0 && (g = sched_group_at(i)) != NULL; i++) {
		struct sched_group_info gi;
		if (sched_group_info(g, &gi) != 0)
			continue;
		const char *mode = strcmp(gi.name, SCHED_CFG_DEFAULT_GROUP) == 0 ? "spreading" : NULL;
		for (unsigned k = 0; k < cfg->n_groups; k++)
			if (strcmp(cfg->groups[k].name, gi.name) == 0)
				mode = cfg->groups[k].mode;
		if (mode == NULL || strcmp(mode, sched_mode_name(gi.mode)) != 0) {
			snprintf(err, errlen, "group %s was %s at run time", gi.name,
				 mode ? "given another mode" : "created");
			r = -ENOTSUP;
		}
	}
	if (r == 0 && rte_log_get_level((uint32_t)snap_logtype) !=
			      snap_log_level_parse(cfg->log_level)) {
		snprintf(err, errlen, "the log level was changed at run time");
		r = -ENOTSUP;
	}
	if (r == -ENOTSUP) {
		/* One line for people: what is lost and what to do. */
		char what[128];
		snprintf(what, sizeof(what), "%s", err);
		snprintf(err, errlen, "the new binary (protocol 1, release 0.1.0) builds from its "
			 "config file and %s: put it in the config first", what);
	}
	return r;
}

/* ---- new side ---- */

/* A name field of the wire: NUL-terminated inside it (and non-empty if need). */
static bool field_ok(const char *f, size_t size, bool need)
{
	const char *nul = memchr(f, '\0', size);
	return nul && (!need || nul != f);
}

static int bad(char *err, size_t errlen, const char *what, unsigned i)
{
	snprintf(err, errlen, "topology: bad %s %u (refused as sent)", what, i);
	return -EPROTO;
}

/* Copy the next n bytes of p (len) at *off to out, if there are n left. */
static bool take(const uint8_t *p, uint32_t len, size_t *off, void *out, size_t n)
{
	if (len - *off < n)
		return false;
	memcpy(out, p + *off, n);
	*off += n;
	return true;
}

/* Reads of p stay inside [0, len): every length is checked first. The wire is copied into
 * our own structs once and only the copies are checked and used. */
static int decode(const uint8_t *p, uint32_t len, struct snap_group_cfg *gs, unsigned *ng,
		  struct snap_engine_cfg *es, unsigned *ne, struct to_topo_hdr *h, char *err,
		  size_t errlen)
{
	size_t off = 0;
	if (!take(p, len, &off, h, sizeof(*h)))
		return bad(err, errlen, "header of length", len);
	if (h->version != TO_TOPO_VERSION) {
		snprintf(err, errlen, "topology version %u, this binary reads %u", h->version,
			 TO_TOPO_VERSION);
		return -EPROTO;
	}
	if (h->n_groups > SNAP_CFG_GROUPS_MAX || h->n_engines > SNAP_CFG_ENGINES_MAX)
		return bad(err, errlen, "count, groups", h->n_groups);
	if (snap_log_level_name(h->snap_log_level)[0] == '?' ||
	    snap_log_level_name(h->dpdk_log_level)[0] == '?')
		return bad(err, errlen, "log level", (unsigned)h->snap_log_level);
	for (unsigned i = 0; i < h->n_groups; i++) {
		struct to_topo_group w;
		if (!take(p, len, &off, &w, sizeof(w)))
			return bad(err, errlen, "(truncated) group", i);
		if (!field_ok(w.name, sizeof(w.name), true) || !field_ok(w.mode, sizeof(w.mode), true) ||
		    w.n_cpus > SNAP_CFG_CPUS_MAX || w.n_kv > SNAP_CFG_KV_MAX)
			return bad(err, errlen, "group", i);
		struct snap_group_cfg *g = &gs[i];
		memset(g, 0, sizeof(*g));
		memcpy(g->name, w.name, sizeof(g->name));
		memcpy(g->mode, w.mode, sizeof(g->mode));
		g->n_cpus = w.n_cpus;
		for (unsigned k = 0; k < w.n_cpus; k++)
			g->cpus[k] = w.cpus[k];
		g->n_kv = w.n_kv;
		for (unsigned k = 0; k < w.n_kv; k++) {
			if (!field_ok(w.kv[k].key, sizeof(w.kv[k].key), true) ||
			    !field_ok(w.kv[k].val, sizeof(w.kv[k].val), false))
				return bad(err, errlen, "setting of group", i);
			memcpy(&g->kv[k], &w.kv[k], sizeof(g->kv[k]));
		}
		for (unsigned k = 0; k < i; k++)
			if (strcmp(gs[k].name, g->name) == 0)
				return bad(err, errlen, "(duplicate) group", i);
		/* The config's own check: mode, parameter names, ranges and consistency. */
		struct sched_params sp;
		int r = sched_cfg_params(g, &sp, err, errlen);
		if (r)
			return r;
		++*ng;
	}
	for (unsigned i = 0; i < h->n_engines; i++) {
		struct to_topo_engine w;
		if (!take(p, len, &off, &w, sizeof(w)))
			return bad(err, errlen, "(truncated) engine", i);
		if (!field_ok(w.name, sizeof(w.name), true) || !field_ok(w.group, sizeof(w.group), false) ||
		    w.desc_len == 0 || w.desc_len > TO_TOPO_DESC_MAX || len - off < w.desc_len ||
		    memchr(p + off, '\0', w.desc_len))
			return bad(err, errlen, "engine", i);
		char *desc = malloc(w.desc_len + 1);
		if (desc == NULL)
			return -ENOMEM;
		memcpy(desc, p + off, w.desc_len);
		desc[w.desc_len] = '\0';
		off += w.desc_len;
		char why[256];
		int r = snap_config_parse_engine(w.name, desc, &es[i], why, sizeof(why));
		free(desc);
		if (r) {
			snprintf(err, errlen, "topology: engine %.31s: %s", w.name, why);
			return r;
		}
		for (unsigned k = 0; k < i; k++)
			if (strcmp(es[k].name, es[i].name) == 0)
				return bad(err, errlen, "(duplicate) engine", i);
		bool known = !w.group[0];
		for (unsigned k = 0; k < *ng && !known; k++)
			known = strcmp(gs[k].name, w.group) == 0;
		if (!known)
			return bad(err, errlen, "(group not listed) engine", i);
		memcpy(es[i].group, w.group, sizeof(es[i].group));
		++*ne;
	}
	if (off != len)
		return bad(err, errlen, "trailing bytes:", (unsigned)(len - off));
	return 0;
}

int to_topo_apply(const void *p, uint32_t len, struct snap_config *cfg, char *err,
		  size_t errlen)
{
	struct snap_group_cfg *gs = calloc(SNAP_CFG_GROUPS_MAX, sizeof(*gs));
	struct snap_engine_cfg *es = calloc(SNAP_CFG_ENGINES_MAX, sizeof(*es));
	unsigned ng = 0, ne = 0;
	struct to_topo_hdr h;
	int r = gs && es ? decode(p, len, gs, &ng, es, &ne, &h, err, errlen) : -ENOMEM;
	if (r == -ENOMEM)
		snprintf(err, errlen, "topology: out of memory");
	if (r == 0) {
		memcpy(cfg->groups, gs, ng * sizeof(*gs));
		cfg->n_groups = ng;
		memcpy(cfg->engines, es, ne * sizeof(*es));
		cfg->n_engines = ne;
		rte_log_set_level((uint32_t)snap_logtype, (uint32_t)h.snap_log_level);
		snap_log_set_dpdk_level(h.dpdk_log_level);
		snprintf(cfg->log_level, sizeof(cfg->log_level), "%s",
			 snap_log_level_name(h.snap_log_level));
		SNAP_LOG(NOTICE, "takeover: building the running daemon's topology: %u groups, %u "
			 "engines, log level %s (dpdk %s)", ng, ne,
			 snap_log_level_name(h.snap_log_level),
			 snap_log_level_name(h.dpdk_log_level));
	}
	free(gs);
	free(es);
	return r;
}
