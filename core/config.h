/* snapnetd configuration: the parsed form of the config file (libconfig syntax) plus
 * command-line overrides. Parsing validates everything it can without DPDK; errors name the
 * file, line and problem in one line. Documented in tools/conf/README.md. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>

#include "snap/port.h"

#define SNAP_CFG_PORTS_MAX 16
#define SNAP_CFG_GROUPS_MAX 16
#define SNAP_CFG_ENGINES_MAX 32
#define SNAP_CFG_ELEMS_MAX 32
#define SNAP_CFG_LINKS_MAX 64
#define SNAP_CFG_NEIGH_MAX 32
#define SNAP_CFG_KV_MAX 16
#define SNAP_CFG_CPUS_MAX 64
#define SNAP_PATH_MAX 108 /* sun_path */

struct snap_kv {
	char key[48];
	char val[160];
};

struct snap_neigh_cfg {
	uint32_t ip; /* network order */
	bool v6;     /* an IPv6 neighbour: ip6, not ip */
	uint8_t ip6[16];
	struct rte_ether_addr mac;
};

/* A port's MTU: IPv4's minimum to jumbo. An af_packet port goes further, to what a veth or
 * a loopback-class interface carries (they take 65,535): its frames then cross the kernel
 * as they are, one skb per 64,000 bytes where 9,000 takes seven. Its bound is the mbuf's:
 * a ring slot less its header, plus the headroom, must fit a 16-bit data room. */
#define SNAP_PORT_MTU_MIN 68
#define SNAP_PORT_MTU_MAX 9000
#define SNAP_PORT_MTU_MAX_AFP 64000
/* An af_packet port's mbufs by default over SNAP_PORT_MTU_MAX: 2,047 of 63 KiB are 130 MiB
 * (8,191, the default below it, would be 520 MiB). */
#define SNAP_PORT_MBUFS_BIG 2047

struct snap_port_cfg {
	char name[32];
	enum snap_port_kind kind;
	int line;
	bool server;                 /* memif role / vhost-user server side */
	char socket[SNAP_PATH_MAX];  /* memif, vhost, virtio_user */
	uint32_t memif_id;
	char iface[32];              /* af_packet, af_xdp, tap */
	char pci[32];                /* pci: bus address */
	bool mac_set;
	struct rte_ether_addr mac;
	uint32_t ip;                 /* network order */
	uint8_t prefix_len;
	bool has_ip6;                /* ip6 = "addr/len" given */
	uint8_t prefix6_len;
	uint8_t ip6[16];
	uint16_t mtu;                /* SNAP_PORT_MTU_MIN..MAX (MAX_AFP: af_packet) */
	uint16_t queues;
	uint16_t ring_size;
	uint32_t mbufs;
	bool rx_intr;
	bool zero_copy;              /* memif client: peer reads/writes our mbufs (portzc.c) */
	bool tx_direct;              /* af_packet: send from the mbufs (portafptx.c) */
	uint16_t steer_base;         /* steered UDP port blocks (snap/steer.h) */
	uint16_t steer_block;
	char devargs[160];           /* extra driver arguments appended verbatim */
	unsigned n_neigh;
	struct snap_neigh_cfg neigh[SNAP_CFG_NEIGH_MAX];
};

struct snap_group_cfg {
	char name[32];
	int line;
	char mode[16];               /* dedicated | spreading | compacting */
	unsigned n_cpus;
	int cpus[SNAP_CFG_CPUS_MAX];
	unsigned n_kv;               /* mode parameters, passed to sched/ */
	struct snap_kv kv[SNAP_CFG_KV_MAX];
};

struct snap_elem_cfg {
	char name[32];
	char type[32];
	int line;
	unsigned n_kv;
	struct snap_kv kv[SNAP_CFG_KV_MAX];
};

struct snap_link_cfg {
	char from[32], out[32], to[32];
	int line;
};

struct snap_engine_cfg {
	char name[32];
	char group[32];
	int line;
	unsigned n_elems;
	struct snap_elem_cfg elems[SNAP_CFG_ELEMS_MAX];
	unsigned n_links;
	struct snap_link_cfg links[SNAP_CFG_LINKS_MAX];
};

/* Pony services [lo, hi] only these users/groups (and root, and the daemon's uid) may listen
 * on (config daemon.service_owners); services no entry covers are open to every app. */
#define SNAP_CFG_OWNERS_MAX 16
#define SNAP_CFG_OWNER_IDS_MAX 8
struct snap_service_owner {
	uint16_t lo, hi;
	unsigned n_uids, n_gids;
	uint32_t uids[SNAP_CFG_OWNER_IDS_MAX], gids[SNAP_CFG_OWNER_IDS_MAX];
};

struct snap_config {
	char file[256];
	char name[32];               /* instance name */
	char run_dir[SNAP_PATH_MAX];
	char control_socket[SNAP_PATH_MAX];
	char app_socket[SNAP_PATH_MAX];
	/* Unused: the takeover channel is inherited by the spawned binary (core/takeover.h);
	 * still parsed so older configs load. */
	char takeover_socket[SNAP_PATH_MAX];
	unsigned socket_mode;        /* control/app socket file mode */
	char operator_group[32];     /* may mutate through the control socket */
	char user[32], group[32];    /* run as this user/group once started ("": stay) */
	long run_uid, run_gid;       /* resolved from user/group at load; -1: not set */
	char upgrade_dir[SNAP_PATH_MAX]; /* `upgrade --binary` only from here (default: the dir
					  * of the running binary) */
	char capture_dir[SNAP_PATH_MAX]; /* captures only into here (empty: refused) */
	unsigned n_service_owners;
	struct snap_service_owner service_owners[SNAP_CFG_OWNERS_MAX];
	bool readonly_anyone;        /* read-only control queries allowed to anyone */
	unsigned control_max_clients; /* concurrent control connections (0: the server's 64) */
	char metrics_listen[64];     /* "127.0.0.1:9464": HTTP /metrics on loopback; "" = off */
	unsigned memory_mb;
	bool hugepages;
	char log_level[16];
	unsigned n_eal_args;
	char eal_args[16][128];
	int main_cpu;                /* CPU of the control thread / EAL main lcore */
	unsigned mbox_gap_us;        /* least time between two mailbox closures on an engine */
	/* App policy and limits (pony/app*). */
	unsigned n_allow_uids, n_allow_gids;
	uint32_t allow_uids[32], allow_gids[32];
	unsigned app_region_mb;
	unsigned app_max_streams, app_max_regions, app_max_ops;
	unsigned app_max_apps;       /* attached apps (0: the attach layer's default) */
	unsigned app_max_pending;    /* connections still in their hello (0: default) */
	unsigned app_hello_ms;       /* time allowed for an app's hello (0: default) */
	char app_engine[32];         /* engine that serves app sessions (default: first with pony) */
	unsigned n_ports;
	struct snap_port_cfg ports[SNAP_CFG_PORTS_MAX];
	unsigned n_groups;
	struct snap_group_cfg groups[SNAP_CFG_GROUPS_MAX];
	unsigned n_engines;
	struct snap_engine_cfg engines[SNAP_CFG_ENGINES_MAX];
};

/* Parse `path` into cfg (zeroed first, defaults applied). 0, or -EINVAL with a one-line
 * "file:line: problem" message in err. */
int snap_config_load(const char *path, struct snap_config *cfg, char *err, size_t errlen);
/* Defaults for fields left empty: instance name, run dir (snap_paths_run_dir_default),
 * socket paths inside it. 0, or -EINVAL with a message (no default run dir for a non-root
 * daemon without XDG_RUNTIME_DIR). */
int snap_config_finish(struct snap_config *cfg, char *err, size_t errlen);
const struct snap_kv *snap_kv_find(const struct snap_kv *kv, unsigned n, const char *key);
/* Parse an engine block's body ("elements = (...); links = (...);", the syntax of the config
 * file) for an engine called name (runtime `engine create`). 0 or -EINVAL with a message. */
int snap_config_parse_engine(const char *name, const char *body, struct snap_engine_cfg *ec,
			     char *err, size_t errlen);
/* The inverse of snap_config_parse_engine: ec's elements and links as a body it parses back
 * into the same graph (every setting a string, quoted and escaped for libconfig). A malloc'd
 * string in *out (the caller frees it): 0 or -ENOMEM. */
int snap_config_format_engine(const struct snap_engine_cfg *ec, char **out);
