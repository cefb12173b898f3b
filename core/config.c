/* Config file parsing with libconfig. Every semantic error names the file and the line of
 * the offending setting, so an operator can fix it without reading code. */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <libconfig.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "snap/mbox.h"
#include "snap/steer.h"
#include "core/config.h"
#include "core/config_int.h"
#include "core/paths.h"
#include "snap_paths.h"

static int parse_mac(const char *s, struct rte_ether_addr *mac)
{
	unsigned b[6];
	char tail;
	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		if (b[i] > 255)
			return -EINVAL;
		mac->addr_bytes[i] = (uint8_t)b[i];
	}
	return 0;
}

static int parse_ip(const char *s, uint32_t *ip, uint8_t *prefix)
{
	char buf[32];
	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	char *slash = strchr(buf, '/');
	long plen = 32;
	if (slash) {
		*slash = '\0';
		char *end;
		plen = strtol(slash + 1, &end, 10);
		if (*end || end == slash + 1 || plen < 1 || plen > 32)
			return -EINVAL;
	} else if (prefix) {
		plen = 24;
	}
	struct in_addr a;
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -EINVAL;
	*ip = a.s_addr;
	if (prefix)
		*prefix = (uint8_t)plen;
	return 0;
}

/* "addr/len" (len 1..128, default 64) for the port's IPv6 address: a unicast address that
 * can be ours (not unspecified, loopback, multicast nor IPv4-mapped). */
static int parse_ip6(const char *s, uint8_t ip6[16], uint8_t *prefix)
{
	char buf[INET6_ADDRSTRLEN + 8];
	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	char *slash = strchr(buf, '/');
	long plen = 64;
	if (slash) {
		*slash = '\0';
		char *end;
		plen = strtol(slash + 1, &end, 10);
		if (*end || end == slash + 1 || plen < 1 || plen > 128)
			return -EINVAL;
	}
	struct in6_addr a;
	if (inet_pton(AF_INET6, buf, &a) != 1 || IN6_IS_ADDR_UNSPECIFIED(&a) ||
	    IN6_IS_ADDR_LOOPBACK(&a) || IN6_IS_ADDR_MULTICAST(&a) || IN6_IS_ADDR_V4MAPPED(&a))
		return -EINVAL;
	memcpy(ip6, &a, 16);
	*prefix = (uint8_t)plen;
	return 0;
}

static const struct {
	const char *name;
	enum snap_port_kind kind;
} kinds[] = {
	{"memif", SNAP_PORT_MEMIF},         {"vhost", SNAP_PORT_VHOST},
	{"virtio_user", SNAP_PORT_VIRTIO_USER}, {"af_packet", SNAP_PORT_AF_PACKET},
	{"af_xdp", SNAP_PORT_AF_XDP},       {"tap", SNAP_PORT_TAP},
	{"ring", SNAP_PORT_RING},           {"null", SNAP_PORT_NULL},
	{"pci", SNAP_PORT_PCI},
};

const char *snap_port_kind_name(enum snap_port_kind k)
{
	for (unsigned i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i].kind == k)
			return kinds[i].name;
	return "?";
}

/* steer_udp_base / steer_udp_block: one block of UDP ports per queue (snap/steer.h). The
 * block is a power of two and the base a multiple of it, so a block is one masked match. */
static int parse_port_steer(struct pctx *p, const config_setting_t *ps,
			    struct snap_port_cfg *pc)
{
	long long base = SNAP_STEER_UDP_BASE_DEFAULT, block = SNAP_STEER_UDP_BLOCK_DEFAULT;
	if (opt_int(p, ps, "steer_udp_base", 1024, 65535, &base) ||
	    opt_int(p, ps, "steer_udp_block", 8, 4096, &block))
		return -EINVAL;
	if ((block & (block - 1)) != 0 || base % block != 0)
		return fail(p, ps, "port '%s': steer_udp_block must be a power of two and "
			    "steer_udp_base a multiple of it (got %lld, %lld)", pc->name, base, block);
	if (base + (long long)pc->queues * block - 1 > 65535)
		return fail(p, ps, "port '%s': steered UDP ports %lld + %u queues x %lld pass 65535",
			    pc->name, base, pc->queues, block);
	pc->steer_base = (uint16_t)base;
	pc->steer_block = (uint16_t)block;
	return 0;
}

static int parse_port(struct pctx *p, const config_setting_t *ps, struct snap_port_cfg *pc)
{
	char type[32] = "", role[16] = "", mac[32] = "", ip[32] = "", ip6[64] = "";
	long long v;
	pc->line = config_setting_source_line(ps);
	if (config_setting_type(ps) != CONFIG_TYPE_GROUP)
		return fail(p, ps, "each port must be a group { ... }");
	const config_setting_t *ns = config_setting_get_member(ps, "name");
	if (ns == NULL)
		return fail(p, ps, "port has no 'name'");
	if (copy_str(p, ns, pc->name, sizeof(pc->name)) || name_ok(p, ns, pc->name))
		return -EINVAL;
	const config_setting_t *ts = config_setting_get_member(ps, "type");
	if (ts == NULL)
		return fail(p, ps, "port '%s' has no 'type'", pc->name);
	if (copy_str(p, ts, type, sizeof(type)))
		return -EINVAL;
	unsigned k;
	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		if (strcmp(kinds[k].name, type) == 0)
			break;
	if (k == sizeof(kinds) / sizeof(kinds[0]))
		return fail(p, ts, "port '%s': unknown type '%s' (memif, vhost, virtio_user, "
			    "af_packet, af_xdp, tap, ring, null, pci)", pc->name, type);
	pc->kind = kinds[k].kind;

	pc->mtu = 1500;
	/* af_packet sends from its mbufs unless told not to (portafptx.c): never measurably
	 * worse than the PMD's ring, and 1.5-1.8x per core with big frames on a veth. */
	pc->tx_direct = pc->kind == SNAP_PORT_AF_PACKET;
	pc->queues = 1;
	pc->ring_size = 1024;
	pc->mbufs = 8191;
	if (opt_str(p, ps, "role", role, sizeof(role)) ||
	    opt_str(p, ps, "socket", pc->socket, sizeof(pc->socket)) ||
	    opt_str(p, ps, "iface", pc->iface, sizeof(pc->iface)) ||
	    opt_str(p, ps, "pci", pc->pci, sizeof(pc->pci)) ||
	    opt_str(p, ps, "mac", mac, sizeof(mac)) || opt_str(p, ps, "ip", ip, sizeof(ip)) ||
	    opt_str(p, ps, "ip6", ip6, sizeof(ip6)) ||
	    opt_str(p, ps, "devargs", pc->devargs, sizeof(pc->devargs)) ||
	    opt_bool(p, ps, "rx_interrupts", &pc->rx_intr) ||
	    opt_bool(p, ps, "zero_copy", &pc->zero_copy) ||
	    opt_bool(p, ps, "tx_direct", &pc->tx_direct))
		return -EINVAL;
	v = 0;
	if (opt_int(p, ps, "id", 0, UINT32_MAX, &v))
		return -EINVAL;
	pc->memif_id = (uint32_t)v;
	v = pc->mtu;
	if (opt_int(p, ps, "mtu", SNAP_PORT_MTU_MIN, SNAP_PORT_MTU_MAX_AFP, &v))
		return -EINVAL;
	pc->mtu = (uint16_t)v;
	if (pc->mtu > SNAP_PORT_MTU_MAX && pc->kind != SNAP_PORT_AF_PACKET)
		return fail(p, config_setting_get_member(ps, "mtu"),
			    "port '%s': MTU %u is over %u; only an af_packet port (on a veth or a "
			    "loopback-class interface) goes up to %u", pc->name, pc->mtu,
			    SNAP_PORT_MTU_MAX, SNAP_PORT_MTU_MAX_AFP);
	v = pc->queues;
	if (opt_int(p, ps, "queues", 1, SNAP_PORT_QUEUES_MAX, &v))
		return -EINVAL;
	pc->queues = (uint16_t)v;
	v = pc->ring_size;
	if (opt_int(p, ps, "ring_size", 64, 16384, &v))
		return -EINVAL;
	pc->ring_size = (uint16_t)v;
	v = 0;
	if (opt_int(p, ps, "mbufs", 1023, 1 << 22, &v))
		return -EINVAL;
	bool mbufs_set = v != 0;
	if (mbufs_set)
		pc->mbufs = (uint32_t)v;
	else if (pc->mtu > SNAP_PORT_MTU_MAX)
		pc->mbufs = SNAP_PORT_MBUFS_BIG;
	if (parse_port_steer(p, ps, pc))
		return -EINVAL;

	if (role[0]) {
		if (strcmp(role, "server") == 0)
			pc->server = true;
		else if (strcmp(role, "client") != 0)
			return fail(p, config_setting_get_member(ps, "role"),
				    "port '%s': role must be \"server\" or \"client\"", pc->name);
	}
	if (pc->tx_direct && pc->kind != SNAP_PORT_AF_PACKET)
		return fail(p, config_setting_get_member(ps, "tx_direct"),
			    "port '%s': tx_direct is for an af_packet port only", pc->name);
	if (pc->zero_copy && (pc->kind != SNAP_PORT_MEMIF || pc->server))
		return fail(p, config_setting_get_member(ps, "zero_copy"),
			    "port '%s': zero_copy is for a memif client only (a memif server "
			    "always copies)", pc->name);
	if (pc->zero_copy) {
		/* The client's mbufs sit in its rx ring and, until the server has read them,
		 * in its tx ring: on top of what the engines hold. */
		uint32_t need = 2u * pc->queues * pc->ring_size + 4096u;
		if (mbufs_set && pc->mbufs < need)
			return fail(p, config_setting_get_member(ps, "mbufs"),
				    "port '%s': a zero_copy memif client needs at least %u mbufs "
				    "(its rx and tx rings hold 2 x queues x ring_size of them)",
				    pc->name, need);
		if (pc->mbufs < need)
			pc->mbufs = need;
	}
	switch (pc->kind) {
	case SNAP_PORT_MEMIF:
	case SNAP_PORT_VHOST:
	case SNAP_PORT_VIRTIO_USER:
		if (!pc->socket[0])
			return fail(p, ps, "port '%s' (%s) needs 'socket' (a filesystem path)",
				    pc->name, type);
		if (!role[0])
			return fail(p, ps, "port '%s' (%s) needs 'role' (\"server\" or \"client\")",
				    pc->name, type);
		break;
	case SNAP_PORT_AF_PACKET:
	case SNAP_PORT_AF_XDP:
		if (!pc->iface[0])
			return fail(p, ps, "port '%s' (%s) needs 'iface'", pc->name, type);
		break;
	case SNAP_PORT_PCI:
		if (!pc->pci[0])
			return fail(p, ps, "port '%s' (pci) needs 'pci' (e.g. \"0000:03:00.0\")",
				    pc->name);
		break;
	default:
		break;
	}
	if (mac[0]) {
		if (parse_mac(mac, &pc->mac))
			return fail(p, config_setting_get_member(ps, "mac"),
				    "port '%s': bad MAC address '%s'", pc->name, mac);
		pc->mac_set = true;
	}
	if (ip[0] && parse_ip(ip, &pc->ip, &pc->prefix_len))
		return fail(p, config_setting_get_member(ps, "ip"),
			    "port '%s': bad IPv4 address '%s' (want a.b.c.d/len)", pc->name, ip);
	if (ip6[0]) {
		if (parse_ip6(ip6, pc->ip6, &pc->prefix6_len))
			return fail(p, config_setting_get_member(ps, "ip6"),
				    "port '%s': bad IPv6 address '%s' (want a unicast addr/len, "
				    "len 1-128)", pc->name, ip6);
		pc->has_ip6 = true;
	}

	const config_setting_t *nl = config_setting_get_member(ps, "neighbours");
	if (nl) {
		if (!config_setting_is_list(nl) && !config_setting_is_array(nl))
			return fail(p, nl, "'neighbours' must be a list ( { ip = ..; mac = ..; } )");
		for (int i = 0; i < config_setting_length(nl); i++) {
			const config_setting_t *n = config_setting_get_elem(nl, i);
			char nip[32] = "", nip6[64] = "", nmac[32] = "";
			if (pc->n_neigh >= SNAP_CFG_NEIGH_MAX)
				return fail(p, n, "too many neighbours (max %d)", SNAP_CFG_NEIGH_MAX);
			if (config_setting_type(n) != CONFIG_TYPE_GROUP ||
			    opt_str(p, n, "ip", nip, sizeof(nip)) ||
			    opt_str(p, n, "ip6", nip6, sizeof(nip6)) ||
			    opt_str(p, n, "mac", nmac, sizeof(nmac)) || !nip[0] == !nip6[0])
				return fail(p, n, "neighbour must be { ip = \"a.b.c.d\"; mac = \"..\"; } "
					    "or { ip6 = \"..\"; mac = \"..\"; }");
			struct snap_neigh_cfg *nc = &pc->neigh[pc->n_neigh++];
			uint8_t plen;
			nc->v6 = nip6[0] != '\0';
			if (nc->v6 && !pc->has_ip6)
				return fail(p, n, "an IPv6 neighbour needs the port's 'ip6'");
			if ((nc->v6 ? parse_ip6(nip6, nc->ip6, &plen) : parse_ip(nip, &nc->ip, NULL)) ||
			    parse_mac(nmac, &nc->mac))
				return fail(p, n, "neighbour needs a valid '%s' and 'mac'",
					    nc->v6 ? "ip6" : "ip");
		}
	}
	return 0;
}

/* Convert any scalar setting to the string an element or group parameter receives. */
static int scalar_to_str(struct pctx *p, const config_setting_t *s, char *dst, size_t len)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		snprintf(dst, len, "%lld", config_setting_get_int64(s));
		return 0;
	case CONFIG_TYPE_FLOAT:
		snprintf(dst, len, "%.17g", config_setting_get_float(s));
		return 0;
	case CONFIG_TYPE_BOOL:
		snprintf(dst, len, "%d", config_setting_get_bool(s));
		return 0;
	case CONFIG_TYPE_STRING:
		return copy_str(p, s, dst, len);
	default:
		return fail(p, s, "'%s' must be a number, boolean or string",
			    config_setting_name(s));
	}
}

/* Gather every member of a group except the listed structural keys into kv pairs. */
static int collect_kv(struct pctx *p, const config_setting_t *grp, const char *const *skip,
		      struct snap_kv *kv, unsigned *n)
{
	for (int i = 0; i < config_setting_length(grp); i++) {
		const config_setting_t *s = config_setting_get_elem(grp, i);
		const char *name = config_setting_name(s);
		bool skipped = false;
		for (const char *const *k = skip; *k; k++)
			skipped |= strcmp(*k, name) == 0;
		if (skipped)
			continue;
		if (*n >= SNAP_CFG_KV_MAX)
			return fail(p, s, "too many settings (max %d)", SNAP_CFG_KV_MAX);
		if (strlen(name) >= sizeof(kv[0].key))
			return fail(p, s, "setting name '%s' is too long", name);
		strcpy(kv[*n].key, name);
		if (scalar_to_str(p, s, kv[*n].val, sizeof(kv[*n].val)))
			return -EINVAL;
		(*n)++;
	}
	return 0;
}

static int parse_group(struct pctx *p, const config_setting_t *gs, struct snap_group_cfg *g)
{
	static const char *const skip[] = {"name", "mode", "cpus", NULL};
	g->line = config_setting_source_line(gs);
	const config_setting_t *ns = config_setting_get_member(gs, "name");
	if (config_setting_type(gs) != CONFIG_TYPE_GROUP || ns == NULL)
		return fail(p, gs, "each group must be { name = \"..\"; mode = \"..\"; ... }");
	if (copy_str(p, ns, g->name, sizeof(g->name)) || name_ok(p, ns, g->name))
		return -EINVAL;
	strcpy(g->mode, "spreading");
	if (opt_str(p, gs, "mode", g->mode, sizeof(g->mode)))
		return -EINVAL;
	if (strcmp(g->mode, "dedicated") && strcmp(g->mode, "spreading") &&
	    strcmp(g->mode, "compacting"))
		return fail(p, config_setting_get_member(gs, "mode"),
			    "group '%s': mode must be dedicated, spreading or compacting", g->name);
	const config_setting_t *cs = config_setting_get_member(gs, "cpus");
	if (cs) {
		if (!config_setting_is_array(cs) && !config_setting_is_list(cs))
			return fail(p, cs, "'cpus' must be an array of CPU numbers, e.g. [1, 2]");
		for (int i = 0; i < config_setting_length(cs); i++) {
			const config_setting_t *c = config_setting_get_elem(cs, i);
			if (config_setting_type(c) != CONFIG_TYPE_INT || g->n_cpus >= SNAP_CFG_CPUS_MAX)
				return fail(p, cs, "'cpus' must hold at most %d integers",
					    SNAP_CFG_CPUS_MAX);
			int cpu = config_setting_get_int(c);
			if (cpu < 0 || cpu > 4095)
				return fail(p, c, "CPU %d out of range", cpu);
			g->cpus[g->n_cpus++] = cpu;
		}
	}
	return collect_kv(p, gs, skip, g->kv, &g->n_kv);
}

/* "from[.out] -> to" */
static int parse_link(struct pctx *p, const config_setting_t *s, struct snap_link_cfg *l)
{
	const char *txt = config_setting_get_string(s);
	l->line = config_setting_source_line(s);
	if (txt == NULL)
		return fail(p, s, "links are strings like \"eth.arp -> arp\"");
	char a[72], b[72];
	if (sscanf(txt, " %71[^- ] -> %71s", a, b) != 2 && sscanf(txt, " %71[^-]-> %71s", a, b) != 2)
		return fail(p, s, "bad link \"%s\" (want \"element[.output] -> element\")", txt);
	char *dot = strchr(a, '.');
	if (dot) {
		*dot = '\0';
		if (strlen(dot + 1) >= sizeof(l->out))
			return fail(p, s, "bad link \"%s\": output name too long", txt);
		strcpy(l->out, dot + 1);
	}
	if (strlen(a) >= sizeof(l->from) || strlen(b) >= sizeof(l->to))
		return fail(p, s, "bad link \"%s\": name too long", txt);
	strcpy(l->from, a);
	strcpy(l->to, b);
	return 0;
}

static int parse_engine(struct pctx *p, const config_setting_t *es, struct snap_engine_cfg *e)
{
	static const char *const skip[] = {"name", "type", NULL};
	e->line = config_setting_source_line(es);
	const config_setting_t *ns = config_setting_get_member(es, "name");
	if (config_setting_type(es) != CONFIG_TYPE_GROUP || ns == NULL)
		return fail(p, es, "each engine must be { name = \"..\"; elements = (...); ... }");
	if (copy_str(p, ns, e->name, sizeof(e->name)) || name_ok(p, ns, e->name) ||
	    opt_str(p, es, "group", e->group, sizeof(e->group)))
		return -EINVAL;
	const config_setting_t *el = config_setting_get_member(es, "elements");
	if (el == NULL || !config_setting_is_list(el) || config_setting_length(el) == 0)
		return fail(p, el ? el : es, "engine '%s' needs a non-empty list 'elements'",
			    e->name);
	for (int i = 0; i < config_setting_length(el); i++) {
		const config_setting_t *x = config_setting_get_elem(el, i);
		if (e->n_elems >= SNAP_CFG_ELEMS_MAX)
			return fail(p, x, "too many elements (max %d)", SNAP_CFG_ELEMS_MAX);
		struct snap_elem_cfg *c = &e->elems[e->n_elems++];
		c->line = config_setting_source_line(x);
		const config_setting_t *xn = config_setting_get_member(x, "name");
		const config_setting_t *xt = config_setting_get_member(x, "type");
		if (config_setting_type(x) != CONFIG_TYPE_GROUP || xn == NULL || xt == NULL)
			return fail(p, x, "each element needs 'name' and 'type'");
		if (copy_str(p, xn, c->name, sizeof(c->name)) || name_ok(p, xn, c->name) ||
		    copy_str(p, xt, c->type, sizeof(c->type)) ||
		    collect_kv(p, x, skip, c->kv, &c->n_kv))
			return -EINVAL;
		for (unsigned j = 0; j + 1 < e->n_elems; j++)
			if (strcmp(e->elems[j].name, c->name) == 0)
				return fail(p, xn, "engine '%s': duplicate element name '%s'",
					    e->name, c->name);
	}
	const config_setting_t *ls = config_setting_get_member(es, "links");
	if (ls) {
		if (!config_setting_is_list(ls) && !config_setting_is_array(ls))
			return fail(p, ls, "'links' must be a list of \"a.out -> b\" strings");
		for (int i = 0; i < config_setting_length(ls); i++) {
			const config_setting_t *x = config_setting_get_elem(ls, i);
			if (e->n_links >= SNAP_CFG_LINKS_MAX)
				return fail(p, x, "too many links (max %d)", SNAP_CFG_LINKS_MAX);
			struct snap_link_cfg *l = &e->links[e->n_links++];
			if (parse_link(p, x, l))
				return -EINVAL;
			bool from = false, to = false;
			for (unsigned j = 0; j < e->n_elems; j++) {
				from |= strcmp(e->elems[j].name, l->from) == 0;
				to |= strcmp(e->elems[j].name, l->to) == 0;
			}
			if (!from || !to)
				return fail(p, x, "engine '%s': link names unknown element '%s'",
					    e->name, from ? l->to : l->from);
		}
	}
	return 0;
}

static void set_defaults(struct snap_config *cfg)
{
	cfg->memory_mb = 256;
	cfg->mbox_gap_us = SNAP_MBOX_GAP_US_DEFAULT;
	cfg->socket_mode = 0660;
	cfg->app_region_mb = 16;
	cfg->app_max_streams = 1024;
	cfg->app_max_regions = 64;
	cfg->app_max_ops = 4096;
	strcpy(cfg->log_level, "info");
}

int snap_config_finish(struct snap_config *cfg, char *err, size_t errlen)
{
	if (!cfg->name[0])
		strcpy(cfg->name, "snap");
	if (!cfg->run_dir[0] && snap_paths_run_dir_default(cfg->run_dir, sizeof(cfg->run_dir))) {
		snprintf(err, errlen, "no run dir: set daemon.run_dir or --run-dir (a daemon not "
			 "running as root defaults to $XDG_RUNTIME_DIR/%s, and XDG_RUNTIME_DIR is "
			 "not set)", SNAP_RUN_DIR_USER);
		return -EINVAL;
	}
	/* Upgrades come from where this binary was installed unless the operator says else. */
	if (!cfg->upgrade_dir[0]) {
		char exe[SNAP_PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		char *slash = n > 0 ? memrchr(exe, '/', (size_t)n) : NULL;
		if (slash)
			snprintf(cfg->upgrade_dir, sizeof(cfg->upgrade_dir), "%.*s",
				 (int)(slash == exe ? 1 : slash - exe), exe);
	}
	/* Paths are at most 108 bytes (sun_path); truncation is caught at bind time. */
	if (!cfg->control_socket[0])
		snprintf(cfg->control_socket, sizeof(cfg->control_socket), "%.90s/%s",
			 cfg->run_dir, SNAP_CONTROL_SOCKET_NAME);
	if (!cfg->app_socket[0])
		snprintf(cfg->app_socket, sizeof(cfg->app_socket), "%.90s/%s", cfg->run_dir,
			 SNAP_APP_SOCKET_NAME);
	if (!cfg->takeover_socket[0])
		snprintf(cfg->takeover_socket, sizeof(cfg->takeover_socket), "%.90s/%s",
			 cfg->run_dir, SNAP_TAKEOVER_SOCKET_NAME);
	/* A relative port socket (memif, vhost) lives in the run dir, which nobody else may
	 * write, rather than in a shared dir like /tmp. */
	for (unsigned i = 0; i < cfg->n_ports; i++) {
		struct snap_port_cfg *pc = &cfg->ports[i];
		char rel[SNAP_PATH_MAX];
		if (!pc->socket[0] || pc->socket[0] == '/')
			continue;
		snprintf(rel, sizeof(rel), "%s", pc->socket);
		if ((size_t)snprintf(pc->socket, sizeof(pc->socket), "%s/%s", cfg->run_dir, rel) >=
		    sizeof(pc->socket)) {
			snprintf(err, errlen, "port %s: socket %s/%s: path too long", pc->name,
				 cfg->run_dir, rel);
			return -EINVAL;
		}
	}
	return 0;
}

const struct snap_kv *snap_kv_find(const struct snap_kv *kv, unsigned n, const char *key)
{
	for (unsigned i = 0; i < n; i++)
		if (strcmp(kv[i].key, key) == 0)
			return &kv[i];
	return NULL;
}

static int check_top_level(struct pctx *p, const config_setting_t *root)
{
	static const char *const known[] = {"daemon", "ports", "groups", "engines", NULL};
	for (int i = 0; i < config_setting_length(root); i++) {
		const config_setting_t *s = config_setting_get_elem(root, i);
		bool ok = false;
		for (const char *const *k = known; *k; k++)
			ok |= strcmp(*k, config_setting_name(s)) == 0;
		if (!ok)
			return fail(p, s, "unknown section '%s' (daemon, ports, groups, engines)",
				    config_setting_name(s));
	}
	return 0;
}

int snap_config_load(const char *path, struct snap_config *cfg, char *err, size_t errlen)
{
	struct pctx p = {.file = path, .err = err, .errlen = errlen};
	config_t lc;
	int r = -EINVAL;

	memset(cfg, 0, sizeof(*cfg));
	set_defaults(cfg);
	snprintf(cfg->file, sizeof(cfg->file), "%s", path);
	config_init(&lc);
	if (!config_read_file(&lc, path)) {
		if (config_error_type(&lc) == CONFIG_ERR_FILE_IO)
			snprintf(err, errlen, "%s: cannot read file: %s", path, strerror(errno));
		else
			snprintf(err, errlen, "%s:%d: %s", config_error_file(&lc)
				 ? config_error_file(&lc) : path, config_error_line(&lc),
				 config_error_text(&lc));
		goto out;
	}
	const config_setting_t *root = config_root_setting(&lc);
	if (check_top_level(&p, root))
		goto out;
	const config_setting_t *d = config_lookup(&lc, "daemon");
	if (d && snap_cfg_parse_daemon(&p, d, cfg))
		goto out;

	const config_setting_t *ports = config_lookup(&lc, "ports");
	if (ports) {
		if (!config_setting_is_list(ports))
			{ fail(&p, ports, "'ports' must be a list ( {...}, {...} )"); goto out; }
		for (int i = 0; i < config_setting_length(ports); i++) {
			const config_setting_t *s = config_setting_get_elem(ports, i);
			if (cfg->n_ports >= SNAP_CFG_PORTS_MAX)
				{ fail(&p, s, "too many ports (max %d)", SNAP_CFG_PORTS_MAX); goto out; }
			if (parse_port(&p, s, &cfg->ports[cfg->n_ports]))
				goto out;
			for (unsigned j = 0; j < cfg->n_ports; j++)
				if (strcmp(cfg->ports[j].name, cfg->ports[cfg->n_ports].name) == 0)
					{ fail(&p, s, "duplicate port name '%s'", cfg->ports[j].name); goto out; }
			cfg->n_ports++;
		}
	}
	const config_setting_t *groups = config_lookup(&lc, "groups");
	if (groups) {
		if (!config_setting_is_list(groups))
			{ fail(&p, groups, "'groups' must be a list ( {...}, {...} )"); goto out; }
		for (int i = 0; i < config_setting_length(groups); i++) {
			const config_setting_t *s = config_setting_get_elem(groups, i);
			if (cfg->n_groups >= SNAP_CFG_GROUPS_MAX)
				{ fail(&p, s, "too many groups (max %d)", SNAP_CFG_GROUPS_MAX); goto out; }
			if (parse_group(&p, s, &cfg->groups[cfg->n_groups]))
				goto out;
			for (unsigned j = 0; j < cfg->n_groups; j++)
				if (strcmp(cfg->groups[j].name, cfg->groups[cfg->n_groups].name) == 0)
					{ fail(&p, s, "duplicate group name '%s'", cfg->groups[j].name); goto out; }
			cfg->n_groups++;
		}
	}
	const config_setting_t *engines = config_lookup(&lc, "engines");
	if (engines) {
		if (!config_setting_is_list(engines))
			{ fail(&p, engines, "'engines' must be a list ( {...}, {...} )"); goto out; }
		for (int i = 0; i < config_setting_length(engines); i++) {
			const config_setting_t *s = config_setting_get_elem(engines, i);
			if (cfg->n_engines >= SNAP_CFG_ENGINES_MAX)
				{ fail(&p, s, "too many engines (max %d)", SNAP_CFG_ENGINES_MAX); goto out; }
			struct snap_engine_cfg *ec = &cfg->engines[cfg->n_engines];
			if (parse_engine(&p, s, ec))
				goto out;
			for (unsigned j = 0; j < cfg->n_engines; j++)
				if (strcmp(cfg->engines[j].name, ec->name) == 0)
					{ fail(&p, s, "duplicate engine name '%s'", ec->name); goto out; }
			if (ec->group[0]) {
				unsigned g;
				for (g = 0; g < cfg->n_groups; g++)
					if (strcmp(cfg->groups[g].name, ec->group) == 0)
						break;
				if (g == cfg->n_groups)
					{ fail(&p, s, "engine '%s': unknown group '%s'", ec->name, ec->group); goto out; }
			}
			cfg->n_engines++;
		}
	}
	r = 0;
out:
	config_destroy(&lc);
	return r;
}

int snap_config_parse_engine(const char *name, const char *body, struct snap_engine_cfg *ec,
			     char *err, size_t errlen)
{
	struct pctx p = {.file = "<engine config>", .err = err, .errlen = errlen};
	config_t lc;
	int r = -EINVAL;
	if (!name[0] || strlen(name) >= sizeof(ec->name) ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
		    strlen(name)) {
		snprintf(err, errlen, "engine name '%s': 1..%zu letters, digits, '_' or '-'", name,
			 sizeof(ec->name) - 1);
		return -EINVAL;
	}
	size_t n = strlen(body) + strlen(name) + 64;
	char *txt = malloc(n);
	if (txt == NULL)
		return -ENOMEM;
	/* The name is set by us, after the body, so the body cannot rename the engine. */
	snprintf(txt, n, "engine = {\n%s\nname = \"%s\"; };\n", body, name);
	memset(ec, 0, sizeof(*ec));
	config_init(&lc);
	if (!config_read_string(&lc, txt)) {
		snprintf(err, errlen, "<engine config>:%d: %s", config_error_line(&lc) - 1,
			 config_error_text(&lc));
		goto out;
	}
	const config_setting_t *es = config_lookup(&lc, "engine");
	if (es && parse_engine(&p, es, ec) == 0)
		r = 0;
out:
	config_destroy(&lc);
	free(txt);
	return r;
}
