/* App-layer configuration: defaults, range checks, and the mapping from the daemon's
 * parsed config (core/config.h app_* fields). Control thread. */
#include <errno.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "pony/app.h"
#include "pony/shm.h"
#include "core/config.h"

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
	c->max_pending = 16;
	c->hello_timeout_ms = 3000;
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
	else if (c->max_pending == 0 || c->max_pending > 1024)
		bad = "max_pending: must be 1..1024";
	else if (c->hello_timeout_ms < 100 || c->hello_timeout_ms > 60000)
		bad = "hello_timeout_ms: must be 100..60000";
	else if (c->max_streams == 0 || c->max_streams > 65535)
		bad = "max_streams: must be 1..65535";
	else if (c->max_ops < PONY_RECV_BATCH_MAX || c->max_ops > 32768)
		bad = "max_ops: must be 64..32768";
	else if (c->max_regions > 65535)
		bad = "max_regions: must be 0..65535";
	else if (c->max_listens == 0 || c->max_listens > 1024)
		bad = "max_listens: must be 1..1024";
	else if ((uint64_t)c->max_ops + c->max_streams + PONY_RECV_BATCH_MAX + 8 > PONY_SHM_RING_MAX)
		bad = "max_ops + max_streams too large for the completion ring (65536)";
	if (bad == NULL)
		return 0;
	snprintf(err, errlen, "apps.%s", bad);
	return -EINVAL;
}

int pony_app_config_from_snap(const struct snap_config *sc, struct pony_app_config *c,
			      char *err, size_t errlen)
{
	pony_app_config_defaults(c);
	if (strlen(sc->app_socket) >= sizeof(c->socket_path) ||
	    sc->n_allow_uids > PONY_APP_POLICY_MAX || sc->n_allow_gids > PONY_APP_POLICY_MAX) {
		snprintf(err, errlen, "apps: socket path or allow lists too long");
		return -EINVAL;
	}
	if (sc->app_socket[0])
		snprintf(c->socket_path, sizeof(c->socket_path), "%s", sc->app_socket);
	if (sc->socket_mode)
		c->socket_mode = sc->socket_mode;
	c->n_allow_uids = sc->n_allow_uids;
	memcpy(c->allow_uids, sc->allow_uids, sizeof(uint32_t) * sc->n_allow_uids);
	c->n_allow_gids = sc->n_allow_gids;
	memcpy(c->allow_gids, sc->allow_gids, sizeof(uint32_t) * sc->n_allow_gids);
	if (sc->app_engine[0]) {
		snprintf(c->engine, sizeof(c->engine), "%s", sc->app_engine);
	} else {
		/* Default: the first configured engine with a pony element. */
		bool found = false;
		for (unsigned i = 0; i < sc->n_engines && !found; i++)
			for (unsigned j = 0; j < sc->engines[i].n_elems && !found; j++)
				if (strcmp(sc->engines[i].elems[j].type, "pony") == 0) {
					snprintf(c->engine, sizeof(c->engine), "%s",
						 sc->engines[i].name);
					found = true;
				}
	}
	if (sc->app_region_mb)
		c->buf_size = (uint64_t)sc->app_region_mb << 20;
	if (sc->app_max_streams)
		c->max_streams = sc->app_max_streams;
	if (sc->app_max_ops)
		c->max_ops = sc->app_max_ops;
	c->max_regions = sc->app_max_regions;
	if (sc->app_max_apps)
		c->max_apps = sc->app_max_apps;
	if (sc->app_max_pending)
		c->max_pending = sc->app_max_pending;
	if (sc->app_hello_ms)
		c->hello_timeout_ms = sc->app_hello_ms;
	c->n_owners = sc->n_service_owners;
	memcpy(c->owners, sc->service_owners, sizeof(c->owners[0]) * sc->n_service_owners);
	return pony_app_config_check(c, err, errlen);
}

uint32_t pony_app_owner_mask(const struct pony_app_config *c, uid_t uid, const gid_t *gids,
			     unsigned n_gids)
{
	uint32_t m = 0;
	for (unsigned i = 0; i < c->n_owners; i++) {
		const struct snap_service_owner *o = &c->owners[i];
		bool ok = uid == 0 || uid == geteuid();
		for (unsigned j = 0; j < o->n_uids && !ok; j++)
			ok = o->uids[j] == uid;
		for (unsigned j = 0; j < o->n_gids && !ok; j++)
			for (unsigned k = 0; k < n_gids && !ok; k++)
				ok = o->gids[j] == gids[k];
		m |= (uint32_t)ok << i;
	}
	return m;
}
