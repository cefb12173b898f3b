/* Config file: the daemon { } section (instance, paths, sockets, policy, limits). */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "core/config_int.h"

static int parse_ids(struct pctx *p, const config_setting_t *d, const char *key, bool gid,
		     uint32_t *ids, unsigned *n, unsigned max)
{
	const config_setting_t *s = config_setting_get_member(d, key);
	if (s == NULL)
		return 0;
	if (!config_setting_is_array(s) && !config_setting_is_list(s))
		return fail(p, s, "'%s' must be an array of names or numbers", key);
	for (int i = 0; i < config_setting_length(s); i++) {
		const config_setting_t *x = config_setting_get_elem(s, i);
		if (*n >= max)
			return fail(p, x, "'%s': too many entries (max %u)", key, max);
		if (config_setting_type(x) == CONFIG_TYPE_INT) {
			ids[(*n)++] = (uint32_t)config_setting_get_int(x);
			continue;
		}
		const char *nm = config_setting_get_string(x);
		if (nm == NULL)
			return fail(p, x, "'%s' entries must be names or numbers", key);
		if (gid) {
			struct group *gr = getgrnam(nm);
			if (gr == NULL)
				return fail(p, x, "unknown group '%s'", nm);
			ids[(*n)++] = gr->gr_gid;
		} else {
			struct passwd *pw = getpwnam(nm);
			if (pw == NULL)
				return fail(p, x, "unknown user '%s'", nm);
			ids[(*n)++] = pw->pw_uid;
		}
	}
	return 0;
}

/* service_owners = ( { services = 7 | "100-199"; users = [...]; groups = [...]; }, ... ) */
static int parse_owners(struct pctx *p, const config_setting_t *d, struct snap_config *cfg)
{
	const config_setting_t *l = config_setting_get_member(d, "service_owners");
	if (l == NULL)
		return 0;
	if (!config_setting_is_list(l))
		return fail(p, l, "'service_owners' must be a list ( { services = ...; "
			    "users = [...]; groups = [...]; }, ... )");
	for (int i = 0; i < config_setting_length(l); i++) {
		const config_setting_t *e = config_setting_get_elem(l, i);
		if (cfg->n_service_owners >= SNAP_CFG_OWNERS_MAX)
			return fail(p, e, "too many service_owners (max %d)", SNAP_CFG_OWNERS_MAX);
		struct snap_service_owner *o = &cfg->service_owners[cfg->n_service_owners];
		const config_setting_t *sv = config_setting_type(e) == CONFIG_TYPE_GROUP
						     ? config_setting_get_member(e, "services") : NULL;
		if (sv == NULL)
			return fail(p, e, "a service_owners entry needs services = N or \"LO-HI\"");
		long lo, hi;
		char tail;
		const char *str = config_setting_get_string(sv);
		if (config_setting_type(sv) == CONFIG_TYPE_INT) {
			lo = hi = config_setting_get_int(sv);
		} else if (str == NULL || sscanf(str, "%ld-%ld%c", &lo, &hi, &tail) != 2) {
			return fail(p, sv, "'services' must be a number or \"LO-HI\"");
		}
		if (lo < 1 || hi > 65535 || lo > hi)
			return fail(p, sv, "'services' must lie in [1, 65535], low end first");
		o->lo = (uint16_t)lo;
		o->hi = (uint16_t)hi;
		if (parse_ids(p, e, "users", false, o->uids, &o->n_uids, SNAP_CFG_OWNER_IDS_MAX) ||
		    parse_ids(p, e, "groups", true, o->gids, &o->n_gids, SNAP_CFG_OWNER_IDS_MAX))
			return -EINVAL;
		cfg->n_service_owners++;
	}
	return 0;
}

int snap_cfg_parse_daemon(struct pctx *p, const config_setting_t *d, struct snap_config *cfg)
{
	long long v;
	char mode[16] = "";
	if (config_setting_type(d) != CONFIG_TYPE_GROUP)
		return fail(p, d, "'daemon' must be a group { ... }");
	if (opt_str(p, d, "name", cfg->name, sizeof(cfg->name)) ||
	    opt_str(p, d, "run_dir", cfg->run_dir, sizeof(cfg->run_dir)) ||
	    opt_str(p, d, "control_socket", cfg->control_socket, sizeof(cfg->control_socket)) ||
	    opt_str(p, d, "app_socket", cfg->app_socket, sizeof(cfg->app_socket)) ||
	    opt_str(p, d, "takeover_socket", cfg->takeover_socket, sizeof(cfg->takeover_socket)) ||
	    opt_str(p, d, "operator_group", cfg->operator_group, sizeof(cfg->operator_group)) ||
	    opt_str(p, d, "user", cfg->user, sizeof(cfg->user)) ||
	    opt_str(p, d, "group", cfg->group, sizeof(cfg->group)) ||
	    opt_str(p, d, "upgrade_dir", cfg->upgrade_dir, sizeof(cfg->upgrade_dir)) ||
	    opt_str(p, d, "capture_dir", cfg->capture_dir, sizeof(cfg->capture_dir)) ||
	    opt_str(p, d, "metrics_listen", cfg->metrics_listen, sizeof(cfg->metrics_listen)) ||
	    opt_str(p, d, "log_level", cfg->log_level, sizeof(cfg->log_level)) ||
	    opt_str(p, d, "socket_mode", mode, sizeof(mode)) ||
	    opt_str(p, d, "app_engine", cfg->app_engine, sizeof(cfg->app_engine)) ||
	    opt_bool(p, d, "hugepages", &cfg->hugepages) ||
	    opt_bool(p, d, "readonly_anyone", &cfg->readonly_anyone))
		return -EINVAL;
	if (cfg->name[0] && name_ok(p, config_setting_get_member(d, "name"), cfg->name))
		return -EINVAL;
	if (mode[0]) {
		char *end;
		unsigned long m = strtoul(mode, &end, 8);
		if (*end || m > 0777)
			return fail(p, config_setting_get_member(d, "socket_mode"),
				    "socket_mode must be an octal string like \"0660\"");
		cfg->socket_mode = (unsigned)m;
	}
	if (opt_uint(p, d, "memory_mb", 64, 1 << 20, &cfg->memory_mb) ||
	    opt_uint(p, d, "mbox_gap_us", 0, 10000, &cfg->mbox_gap_us) ||
	    opt_uint(p, d, "app_region_mb", 1, 4096, &cfg->app_region_mb) ||
	    opt_uint(p, d, "app_max_streams", 1, 1 << 20, &cfg->app_max_streams) ||
	    opt_uint(p, d, "app_max_regions", 0, 1 << 16, &cfg->app_max_regions) ||
	    opt_uint(p, d, "app_max_ops", 1, 1 << 20, &cfg->app_max_ops) ||
	    /* Limits on what a local peer can make the daemon hold (issue 14); 0 = default. */
	    opt_uint(p, d, "control_max_clients", 1, 1024, &cfg->control_max_clients) ||
	    opt_uint(p, d, "app_max_apps", 1, 4096, &cfg->app_max_apps) ||
	    opt_uint(p, d, "app_max_pending", 1, 1024, &cfg->app_max_pending) ||
	    opt_uint(p, d, "app_hello_timeout_ms", 100, 60000, &cfg->app_hello_ms))
		return -EINVAL;
	v = cfg->main_cpu;
	if (opt_int(p, d, "main_cpu", 0, 4095, &v))
		return -EINVAL;
	cfg->main_cpu = (int)v;
	if (parse_ids(p, d, "allow_users", false, cfg->allow_uids, &cfg->n_allow_uids, 32) ||
	    parse_ids(p, d, "allow_groups", true, cfg->allow_gids, &cfg->n_allow_gids, 32) ||
	    parse_owners(p, d, cfg))
		return -EINVAL;
	cfg->run_uid = cfg->run_gid = -1;
	if (cfg->user[0]) {
		struct passwd *pw = getpwnam(cfg->user);
		if (pw == NULL)
			return fail(p, config_setting_get_member(d, "user"), "unknown user '%s'",
				    cfg->user);
		cfg->run_uid = pw->pw_uid;
		cfg->run_gid = pw->pw_gid; /* the user's primary group unless group says */
	}
	if (cfg->group[0]) {
		struct group *gr = getgrnam(cfg->group);
		if (gr == NULL)
			return fail(p, config_setting_get_member(d, "group"), "unknown group '%s'",
				    cfg->group);
		if (!cfg->user[0])
			return fail(p, config_setting_get_member(d, "group"),
				    "'group' needs 'user' too");
		cfg->run_gid = gr->gr_gid;
	}
	const char *dirs[2][2] = {{"upgrade_dir", cfg->upgrade_dir},
				  {"capture_dir", cfg->capture_dir}};
	for (int i = 0; i < 2; i++)
		if (dirs[i][1][0] && dirs[i][1][0] != '/')
			return fail(p, config_setting_get_member(d, dirs[i][0]),
				    "'%s' must be an absolute path", dirs[i][0]);
	const config_setting_t *ea = config_setting_get_member(d, "eal_args");
	if (ea) {
		if (!config_setting_is_array(ea) && !config_setting_is_list(ea))
			return fail(p, ea, "'eal_args' must be an array of strings");
		for (int i = 0; i < config_setting_length(ea); i++) {
			const config_setting_t *x = config_setting_get_elem(ea, i);
			if (cfg->n_eal_args >= 16)
				return fail(p, x, "too many eal_args (max 16)");
			if (copy_str(p, x, cfg->eal_args[cfg->n_eal_args++], 128))
				return -EINVAL;
		}
	}
	return 0;
}
