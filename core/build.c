/* Engine builder: turns an engine's config block into an element graph on the right NUMA
 * node, reporting errors with the config line of the element or link at fault. */
#include <errno.h>
#include <numa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_lcore.h>

#include "core/build.h"
#include "core/config.h"
#include "core/engine_int.h"
#include "snap/log.h"
#include "snap/port.h"
#include "core/portsetup.h"

static int engine_socket(const struct snap_engine_cfg *ec)
{
	for (unsigned i = 0; i < ec->n_elems; i++) {
		const struct snap_kv *kv = snap_kv_find(ec->elems[i].kv, ec->elems[i].n_kv, "port");
		struct snap_port *p = kv ? snap_port_find(kv->val) : NULL;
		if (p)
			return p->socket_id;
	}
	int s = (int)rte_socket_id();
	return s < 0 ? 0 : s;
}

int snap_engine_build(const struct snap_config *cfg, const struct snap_engine_cfg *ec,
		      struct snap_engine **out, char *err, size_t errlen)
{
	char msg[256];
	int sock = engine_socket(ec);
	struct snap_engine *e = snap_engine_create(ec->name, sock);
	if (e == NULL) {
		snprintf(err, errlen, "%s:%d: engine %s: %s", cfg->file, ec->line, ec->name,
			 strerror(errno));
		return -errno;
	}
	for (unsigned i = 0; i < ec->n_elems; i++) {
		const struct snap_elem_cfg *xc = &ec->elems[i];
		struct snap_elem_args *a = snap_elem_args_new();
		if (a == NULL)
			goto nomem;
		int r = 0;
		for (unsigned k = 0; k < xc->n_kv && r == 0; k++)
			r = snap_elem_args_set(a, xc->kv[k].key, xc->kv[k].val);
		if (r == 0)
			r = snap_engine_add_elem(e, xc->type, xc->name, a, msg, sizeof(msg));
		snap_elem_args_free(a);
		if (r) {
			snprintf(err, errlen, "%s:%d: engine %s: element %s (%s): %s", cfg->file,
				 xc->line, ec->name, xc->name, xc->type, msg);
			snap_engine_destroy(e);
			return r;
		}
	}
	for (unsigned i = 0; i < ec->n_links; i++) {
		const struct snap_link_cfg *l = &ec->links[i];
		int r = snap_engine_link(e, l->from, l->out, l->to, msg, sizeof(msg));
		if (r) {
			snprintf(err, errlen, "%s:%d: engine %s: %s", cfg->file, l->line, ec->name,
				 msg);
			snap_engine_destroy(e);
			return r;
		}
	}
	/* Kept for a transparent upgrade, which rebuilds the engine from it in the new daemon. */
	char *desc = NULL;
	if (snap_config_format_engine(ec, &desc) != 0 || snap_engine_set_desc(e, desc) != 0) {
		free(desc);
		goto nomem;
	}
	free(desc);
	SNAP_LOG(INFO, "engine %s: %u elements, %u sources, memory on NUMA node %d%s", e->name,
		 e->n_elems, e->n_sources, e->socket_id,
		 numa_available() < 0 ? " (libnuma: single node system)" : "");
	*out = e;
	return 0;
nomem:
	snprintf(err, errlen, "engine %s: out of memory", ec->name);
	snap_engine_destroy(e);
	return -ENOMEM;
}

int snap_engines_build(const struct snap_config *cfg, char *err, size_t errlen)
{
	for (unsigned i = 0; i < cfg->n_engines; i++) {
		struct snap_engine *e;
		int r = snap_engine_build(cfg, &cfg->engines[i], &e, err, errlen);
		if (r)
			return r;
	}
	snap_ports_warn_unpolled();
	return 0;
}
