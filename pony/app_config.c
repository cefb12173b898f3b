/* App-layer configuration: defaults, range checks and parsing of the daemon config's
 * `apps { ... }` group (libconfig). Control thread. */
#include <errno.h>
#include <grp.h>
#include <libconfig.h>
#include <stdio.h>
#include <string.h>

#include "pony/app.h"

void pony_app_config_defaults(struct pony_app_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->socket_path, sizeof(c->socket_path), "%s", PONY_DEFAULT_SOCKET);
	c->socket_mode = 0660;
	c->socket_gid = -1;
	c->allow_own_uid = true;
	snprintf(c->engine, sizeof(c->engine), "pony");
	c->buf_size = 4u << 20;
	c->cmd_entries = 256;
	c->max_apps = 64;
	c->max_streams = 256;
	c->max_ops = 1024;
	c->max_regions = 64;
	c->max_listens = 16;
}

uint32_t pony_app_cpl_entries(const struct pony_app_config *c)
{
	uint64_t need = (uint64_t)c->max_ops + c->max_streams + PONY_RECV_BATCH_MAX + 8;
	uint32_t n = PONY_SHM_RING_MIN;
	while (n < need && n < PONY_SHM_RING_MAX)
		n <<= 1;
	return n;
}

int pony_app_config_check(const struct pony_app_config *c, char *err, size_t errlen)
{
	const char *bad = NULL;
	if (c->socket_path[0] == '\0')
		bad = "socket: empty path";
	else if (c->socket_mode > 0777)
		bad = "mode: not a file mode";
	else if (c->buf_size < 4096 || c->buf_size > (1ull << 32))
		bad = "buf_size: must be 4 KiB .. 4 GiB";
	else if (!pony_shm_is_pow2(c->cmd_entries) || c->cmd_entries < PONY_SHM_RING_MIN ||
		 c->cmd_entries > PONY_SHM_RING_MAX)
		bad = "cmd_entries: must be a power of two in 16..65536";
	else if (c->max_apps == 0 || c->max_apps > 4096)
		bad = "max_apps: must be 1..4096";
	else if (c->max_streams == 0 || c->max_streams > 65535)
		bad = "max_streams: must be 1..65535";
	else if (c->max_ops < PONY_RECV_BATCH_MAX || c->max_ops > 32768)
		bad = "max_ops: must be 64..32768";
	else if (c->max_regions == 0 || c->max_regions > 65535)
		bad = "max_regions: must be 1..65535";
	else if (c->max_listens == 0 || c->max_listens > 1024)
		bad = "max_listens: must be 1..1024";
	else if ((uint64_t)c->max_ops + c->max_streams + PONY_RECV_BATCH_MAX + 8 > PONY_SHM_RING_MAX)
		bad = "max_ops + max_streams too large for the completion ring (65536)";
	if (bad == NULL)
		return 0;
	snprintf(err, errlen, "apps.%s", bad);
	return -EINVAL;
}

static int get_u32(const config_setting_t *s, const char *key, uint32_t *out)
{
	long long v;
	if (config_setting_lookup_int64(s, key, &v) != CONFIG_TRUE)
		return config_setting_get_member(s, key) ? -EINVAL : 0;
	if (v < 0 || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int get_list(const config_setting_t *s, const char *key, uint32_t *out, unsigned *n)
{
	const config_setting_t *l = config_setting_get_member(s, key);
	if (l == NULL)
		return 0;
	int len = config_setting_length(l);
	if (!config_setting_is_aggregate(l) || len > PONY_APP_POLICY_MAX)
		return -EINVAL;
	for (int i = 0; i < len; i++) {
		const config_setting_t *e = config_setting_get_elem(l, (unsigned)i);
		if (config_setting_type(e) != CONFIG_TYPE_INT &&
		    config_setting_type(e) != CONFIG_TYPE_INT64)
			return -EINVAL;
		long long v = config_setting_get_int64(e);
		if (v < 0 || v > UINT32_MAX)
			return -EINVAL;
		out[i] = (uint32_t)v;
	}
	*n = (unsigned)len;
	return 0;
}

int pony_app_config_parse(const void *setting, struct pony_app_config *c, char *err,
			  size_t errlen)
{
	const config_setting_t *s = setting;
	const char *str;
	const char *key = NULL;
	uint32_t v;
	if (config_setting_lookup_string(s, "socket", &str) == CONFIG_TRUE) {
		if (strlen(str) >= sizeof(c->socket_path))
			key = "socket";
		else
			snprintf(c->socket_path, sizeof(c->socket_path), "%s", str);
	}
	if (!key && config_setting_lookup_string(s, "engine", &str) == CONFIG_TRUE) {
		if (strlen(str) >= sizeof(c->engine))
			key = "engine";
		else
			snprintf(c->engine, sizeof(c->engine), "%s", str);
	}
	if (!key && config_setting_lookup_string(s, "group", &str) == CONFIG_TRUE) {
		struct group *g = getgrnam(str);
		if (g == NULL)
			key = "group";
		else
			c->socket_gid = (long)g->gr_gid;
	}
	int b;
	if (!key && config_setting_lookup_bool(s, "allow_own_uid", &b) == CONFIG_TRUE)
		c->allow_own_uid = b;
	v = c->socket_mode;
	if (!key && get_u32(s, "mode", &v))
		key = "mode";
	c->socket_mode = v;
	uint64_t bs = c->buf_size;
	long long ll;
	if (!key && config_setting_lookup_int64(s, "buf_size", &ll) == CONFIG_TRUE)
		bs = ll < 0 ? 0 : (uint64_t)ll;
	c->buf_size = bs;
	struct {
		const char *k;
		uint32_t *p;
	} u[] = {
		{"cmd_entries", &c->cmd_entries}, {"max_apps", &c->max_apps},
		{"max_streams", &c->max_streams}, {"max_ops", &c->max_ops},
		{"max_regions", &c->max_regions}, {"max_listens", &c->max_listens},
	};
	for (unsigned i = 0; !key && i < sizeof(u) / sizeof(u[0]); i++)
		if (get_u32(s, u[i].k, u[i].p))
			key = u[i].k;
	if (!key && get_list(s, "uids", c->allow_uids, &c->n_allow_uids))
		key = "uids";
	if (!key && get_list(s, "gids", c->allow_gids, &c->n_allow_gids))
		key = "gids";
	if (key) {
		snprintf(err, errlen, "apps.%s: bad value", key);
		return -EINVAL;
	}
	return pony_app_config_check(c, err, errlen);
}
