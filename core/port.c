/* Ports: turning port configs into DPDK vdev/PCI arguments, bringing ethdevs up on their NUMA
 * node with a mempool and a neighbour table, queue ownership, starting and stopping a device
 * under its queue owners' feet. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_malloc.h>

#include "core/config.h"
#include "snap/engine.h"
#include "snap/log.h"
#include "core/loop.h"
#include "snap/port.h"
#include "core/portsetup.h"
#include "snap/ring.h"
#include "snap/steer.h"

#define PORTS_MAX SNAP_CFG_PORTS_MAX

static struct snap_port *ports[PORTS_MAX];
static unsigned n_ports;
/* Each port's config (the daemon's, alive until exit): a closed device is probed again
 * from it. */
static const struct snap_port_cfg *port_cfgs[PORTS_MAX];
/* The port's device is closed (an upgrade's old daemon released it) or not probed yet (the
 * new daemon, until the old one released it): port_id means nothing. */
static bool closed[PORTS_MAX];

struct snap_port *snap_port_find(const char *name)
{
	for (unsigned i = 0; i < n_ports; i++)
		if (strcmp(ports[i]->name, name) == 0)
			return ports[i];
	return NULL;
}

struct snap_port *snap_port_at(unsigned i)
{
	return i < n_ports ? ports[i] : NULL;
}

unsigned snap_port_count(void)
{
	return n_ports;
}

bool snap_port_on_link(const struct snap_port *p, uint32_t ip)
{
	if (p->ip == 0)
		return false;
	uint32_t mask = p->prefix_len ? htonl(~0u << (32 - p->prefix_len)) : 0;
	return (ip & mask) == (p->ip & mask);
}

/* One owner table (rx or tx) of n queues. */
static int queue_claim(struct snap_engine **owner, uint16_t n, uint16_t q, struct snap_engine *e)
{
	if (q >= n)
		return -EINVAL;
	if (owner[q] && owner[q] != e)
		return -EBUSY;
	owner[q] = e;
	return 0;
}

static int queue_release(struct snap_engine **owner, uint16_t n, uint16_t q,
			 const struct snap_engine *e)
{
	if (q >= n)
		return -EINVAL;
	if (owner[q] != e || e == NULL)
		return -ENOENT;
	owner[q] = NULL;
	return 0;
}

int snap_port_claim_rxq(struct snap_port *p, uint16_t q, struct snap_engine *e)
{
	return queue_claim(p->rxq_owner, p->n_rxq, q, e);
}

int snap_port_claim_txq(struct snap_port *p, uint16_t q, struct snap_engine *e)
{
	return queue_claim(p->txq_owner, p->n_txq, q, e);
}

int snap_port_release_rxq(struct snap_port *p, uint16_t q, const struct snap_engine *e)
{
	return queue_release(p->rxq_owner, p->n_rxq, q, e);
}

int snap_port_release_txq(struct snap_port *p, uint16_t q, const struct snap_engine *e)
{
	return queue_release(p->txq_owner, p->n_txq, q, e);
}

static int noop_fn(struct snap_engine *e, void *arg)
{
	return 0;
}

void snap_ports_warn_unpolled(void)
{
	for (unsigned i = 0; i < n_ports; i++) {
		const struct snap_port *p = ports[i];
		char list[8 * SNAP_PORT_QUEUES_MAX] = "";
		size_t off = 0;
		for (uint16_t q = 0; q < p->n_rxq && off < sizeof(list); q++)
			if (p->rxq_owner[q] == NULL)
				off += (size_t)snprintf(list + off, sizeof(list) - off, " %u", q);
		if (off)
			SNAP_LOG(WARNING, "port %s: rx queue(s)%s polled by no engine: what the "
				 "peer or RSS puts there is lost (give each queue a port_rx)",
				 p->name, list);
	}
}

int snap_port_sync_owners(struct snap_port *p, unsigned timeout_ms)
{
	struct snap_engine *owners[2 * SNAP_PORT_QUEUES_MAX];
	unsigned n = 0;
	for (uint16_t q = 0; q < SNAP_PORT_QUEUES_MAX; q++) {
		if (p->rxq_owner[q])
			owners[n++] = p->rxq_owner[q];
		if (p->txq_owner[q])
			owners[n++] = p->txq_owner[q];
	}
	int first = 0;
	for (unsigned i = 0; i < n; i++) {
		bool seen = false;
		for (unsigned j = 0; j < i; j++)
			seen |= owners[j] == owners[i];
		if (seen)
			continue;
		int r = snap_engine_call(owners[i], noop_fn, NULL, timeout_ms);
		if (r < 0) {
			SNAP_LOG(ERR, "port %s: engine %s did not pass a quiescent point: %s", p->name,
				 snap_engine_name(owners[i]), strerror(-r));
			if (first == 0)
				first = r;
		}
	}
	return first;
}

int snap_port_start(struct snap_port *p)
{
	int r = rte_eth_dev_start(p->port_id);
	if (r == 0) {
		p->start_ns = snap_loop_now_ns();
		atomic_store_explicit(&p->started, true, memory_order_release);
	}
	return r;
}

int snap_port_stop(struct snap_port *p, unsigned timeout_ms)
{
	if (!atomic_load_explicit(&p->started, memory_order_relaxed))
		return 0;
	atomic_store_explicit(&p->started, false, memory_order_relaxed);
	/* The mailbox hand-off orders the store above before every owner's next burst. */
	int r = snap_port_sync_owners(p, timeout_ms);
	if (r) {
		/* Some owner may still be inside a burst: the device must not stop under it. */
		atomic_store_explicit(&p->started, true, memory_order_release);
		return r;
	}
	r = snap_portdev_stop(p);
	if (r)
		SNAP_LOG(WARNING, "port %s: stop: %s", p->name, strerror(-r));
	return 0;
}

bool snap_ports_defer_start;

static int port_setup(struct snap_port *p, const struct snap_port_cfg *pc, bool defer,
		      char *err, size_t errlen)
{
	struct rte_eth_dev_info info;
	int r = rte_eth_dev_info_get(p->port_id, &info);
	if (r) {
		snprintf(err, errlen, "port %s: cannot get device info: %s", p->name, strerror(-r));
		return r;
	}
	/* Fewer queues than configured would leave engines that name the missing ones
	 * failing later with a vaguer message: say it here, with the device's limit. */
	if (pc->queues > info.max_rx_queues || pc->queues > info.max_tx_queues) {
		snprintf(err, errlen, "port %s: %u queues configured but the %s device has at most "
			 "%u rx / %u tx queues", p->name, pc->queues, snap_port_kind_name(p->kind),
			 info.max_rx_queues, info.max_tx_queues);
		return -EINVAL;
	}
	p->n_rxq = p->n_txq = pc->queues;
	struct rte_eth_conf conf = {0};
	/* memif: the protocol's kicks instead (core/portkick.c); its PMD has no rx interrupts
	 * and no link events. */
	bool memif = p->kind == SNAP_PORT_MEMIF;
	conf.intr_conf.rxq = pc->rx_intr && !memif ? 1 : 0;
	/* RSS over IPv4/IPv6 + UDP ports where the device hashes (PCI NICs), with our key so
	 * the flow mapper (snap/steer.h) can predict its queue choice. The tap PMD offers RSS
	 * only through rte_flow rules (eBPF), which we do not install: the kernel's tun queue
	 * choice applies there, so claiming RSS would mislead. */
	uint64_t rss_hf = p->kind == SNAP_PORT_TAP ? 0
						   : info.flow_type_rss_offloads & SNAP_STEER_RSS_HF;
	if (p->n_rxq > 1 && rss_hf) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
		/* ethdev refuses a key of another length than the device's. */
		if (info.hash_key_size == SNAP_STEER_RSS_KEY_LEN) {
			conf.rx_adv_conf.rss_conf.rss_key = (uint8_t *)(uintptr_t)snap_steer_rss_key;
			conf.rx_adv_conf.rss_conf.rss_key_len = SNAP_STEER_RSS_KEY_LEN;
		} else {
			SNAP_LOG(WARNING, "port %s: RSS with the device's own key (its key length is "
				 "%u, ours %u): queues cannot be predicted by the flow mapper",
				 p->name, info.hash_key_size, SNAP_STEER_RSS_KEY_LEN);
		}
	}
	r = rte_eth_dev_configure(p->port_id, p->n_rxq, p->n_txq, &conf);
	if (r < 0 && conf.intr_conf.rxq) {
		SNAP_LOG(WARNING, "port %s: rx interrupts not supported (%s); engines will poll",
			 p->name, strerror(-r));
		conf.intr_conf.rxq = 0;
		r = rte_eth_dev_configure(p->port_id, p->n_rxq, p->n_txq, &conf);
	}
	if (r < 0 && conf.rxmode.mq_mode == RTE_ETH_MQ_RX_RSS) {
		/* Our key or hash types refused: queues are then the senders' choice, as on
		 * ports without RSS (docs/ARCHITECTURE.md, "Queues and flow steering"). */
		SNAP_LOG(WARNING, "port %s: RSS refused (%s); continuing without", p->name,
			 strerror(-r));
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_NONE;
		memset(&conf.rx_adv_conf.rss_conf, 0, sizeof(conf.rx_adv_conf.rss_conf));
		r = rte_eth_dev_configure(p->port_id, p->n_rxq, p->n_txq, &conf);
	}
	if (r < 0) {
		snprintf(err, errlen, "port %s: configure failed: %s", p->name, strerror(-r));
		return r;
	}
	p->rss_hf = conf.rxmode.mq_mode == RTE_ETH_MQ_RX_RSS ? conf.rx_adv_conf.rss_conf.rss_hf : 0;
	p->rx_intr = memif ? pc->rx_intr : conf.intr_conf.rxq;
	/* Before the start: a peer may come up at once. Failing, it logs and clears rx_intr. */
	if (p->rx_intr && !memif && p->kind != SNAP_PORT_AF_PACKET) /* its socket tells */
		snap_portwake_attach(p);
	uint16_t nrx = pc->ring_size, ntx = pc->ring_size;
	rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &nrx, &ntx);
	for (uint16_t q = 0; q < p->n_rxq; q++) {
		r = rte_eth_rx_queue_setup(p->port_id, q, nrx, p->socket_id, NULL, p->pool);
		if (r < 0) {
			snprintf(err, errlen, "port %s: rx queue %u setup failed: %s", p->name, q,
				 strerror(-r));
			return r;
		}
	}
	for (uint16_t q = 0; q < p->n_txq; q++) {
		r = rte_eth_tx_queue_setup(p->port_id, q, ntx, p->socket_id, NULL);
		if (r < 0) {
			snprintf(err, errlen, "port %s: tx queue %u setup failed: %s", p->name, q,
				 strerror(-r));
			return r;
		}
	}
	bool mtu_own = false;
	if (pc->kind == SNAP_PORT_AF_PACKET && pc->mtu > 1500) {
		r = snap_portafp_set_mtu(pc, err, errlen);
		if (r < 0)
			return r;
		mtu_own = true;
	} else if (pc->mtu != 1500) {
		r = rte_eth_dev_set_mtu(p->port_id, pc->mtu);
		/* memif (22.11) has no MTU to set and enforces none: a frame is bounded by the
		 * ring's buffer size (bsize, sized from the MTU in snap_port_eal_arg) and our mbufs
		 * (data room from the MTU below), so the configured MTU is the link's. */
		if (r == -ENOTSUP && p->kind == SNAP_PORT_MEMIF)
			mtu_own = true;
		else if (r < 0)
			SNAP_LOG(WARNING, "port %s: cannot set MTU %u (%s); keeping the device's",
				 p->name, pc->mtu, strerror(-r));
	}
	uint16_t mtu = 0;
	p->mtu = !mtu_own && rte_eth_dev_get_mtu(p->port_id, &mtu) == 0 && mtu ? mtu : pc->mtu;
	bool soft_mac = false;
	if (pc->mac_set && p->kind == SNAP_PORT_AF_PACKET) {
		/* The port's own MAC in software, the interface's left alone (the PMD would set
		 * the interface's MAC to it): the kernel then takes the port's frames for another
		 * host's and drops its copies at ip_rcv's first check, where with the
		 * interface's MAC it routes each one to nowhere (portafp.c). */
		soft_mac = true;
		snap_portafp_own_mac(pc, p->port_id);
	} else if (pc->mac_set && p->kind != SNAP_PORT_MEMIF && p->kind != SNAP_PORT_TAP &&
		   p->kind != SNAP_PORT_VIRTIO_USER) {
		r = rte_eth_dev_default_mac_addr_set(p->port_id,
						     (struct rte_ether_addr *)(uintptr_t)&pc->mac);
		/* The vhost PMD reports a fixed MAC it cannot change but filters nothing on
		 * receive, so the configured MAC can simply be ours in software. */
		if (r == -ENOTSUP && p->kind == SNAP_PORT_VHOST)
			soft_mac = true;
		else if (r < 0)
			SNAP_LOG(WARNING, "port %s: cannot set MAC (%s); using the device's", p->name,
				 strerror(-r));
	}
	snap_port_steer_setup(p, pc);
	if (pc->tx_direct && p->n_afp_tx_fd == 0) /* once: a failure leaves the PMD sending */
		snap_portafp_tx_open(p);
	r = defer ? 0 : snap_port_start(p);
	if (r < 0 && p->memif_client) {
		/* Its server may simply not run yet: the link is kept from the control loop. */
		SNAP_LOG(WARNING, "port %s: memif server socket %s does not answer yet; the link "
			 "comes up when it does (retried every %u-%u ms)", p->name, pc->socket,
			 SNAP_PORTLINK_BACKOFF_MIN_MS, SNAP_PORTLINK_BACKOFF_MAX_MS);
		r = 0;
	}
	if (r < 0) {
		snprintf(err, errlen, "port %s: start failed: %s", p->name, strerror(-r));
		return r;
	}
	rte_eth_macaddr_get(p->port_id, &p->mac);
	if (soft_mac)
		p->mac = pc->mac;
	return 0;
}

/* A closed port's MAC before its device exists, so elements built now (which copy it) agree
 * with the device probed later: the configured one, else the kernel interface's (af_packet
 * and af_xdp take it from there too). Else the PMD picks one at probe (logged then). */
static void closed_mac(struct snap_port *p, const struct snap_port_cfg *pc)
{
	if (pc->mac_set) {
		p->mac = pc->mac;
		return;
	}
	if (pc->kind != SNAP_PORT_AF_PACKET && pc->kind != SNAP_PORT_AF_XDP)
		return;
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", pc->iface);
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s >= 0 && ioctl(s, SIOCGIFHWADDR, &ifr) == 0)
		memcpy(p->mac.addr_bytes, ifr.ifr_hwaddr.sa_data, RTE_ETHER_ADDR_LEN);
	if (s >= 0)
		close(s);
}

static int port_index(const struct snap_port *p);

/* port_setup, noting what an af_xdp port's queues opened (portxdp.c). */
static int port_start(struct snap_port *p, const struct snap_port_cfg *pc, bool defer,
		      char *err, size_t errlen)
{
	int i = port_index(p);
	bool x = p->kind == SNAP_PORT_AF_XDP && i >= 0;
	if (x)
		snap_xdp_note_begin();
	int r = port_setup(p, pc, defer, err, errlen);
	if (x)
		snap_xdp_note_end((unsigned)i);
	return r;
}

int snap_ports_create(const struct snap_config *cfg, char *err, size_t errlen)
{
	for (unsigned i = 0; i < cfg->n_ports; i++) {
		const struct snap_port_cfg *pc = &cfg->ports[i];
		char name[64];
		snap_port_dev_name(pc, name, sizeof(name));
		uint16_t pid = RTE_MAX_ETHPORTS;
		bool later = snap_ports_defer_start && snap_port_cfg_exclusive(pc);
		if (!later && rte_eth_dev_get_port_by_name(name, &pid) != 0) {
			snprintf(err, errlen, "%s:%d: port %s: DPDK did not create device %s "
				 "(driver missing or bad arguments; see the EAL log above)",
				 cfg->file, pc->line, pc->name, name);
			return -ENODEV;
		}
		int sock = later ? 0 : rte_eth_dev_socket_id(pid);
		if (sock < 0)
			sock = 0;
		struct snap_port *p = rte_zmalloc_socket("snap_port", sizeof(*p), RTE_CACHE_LINE_SIZE,
							 sock);
		if (p == NULL) {
			snprintf(err, errlen, "port %s: out of memory", pc->name);
			return -ENOMEM;
		}
		snprintf(p->name, sizeof(p->name), "%s", pc->name);
		p->kind = pc->kind;
		p->port_id = pid;
		p->socket_id = sock;
		p->ip = pc->ip;
		p->prefix_len = pc->prefix_len;
		p->has_ip6 = pc->has_ip6;
		p->prefix6_len = pc->prefix6_len;
		memcpy(p->ip6, pc->ip6, sizeof(p->ip6));
		p->memif_client = pc->kind == SNAP_PORT_MEMIF && !pc->server;
		p->virtio_client = pc->kind == SNAP_PORT_VIRTIO_USER && !pc->server;
		port_cfgs[n_ports] = pc;
		closed[n_ports] = later;
		ports[n_ports++] = p;

		char pool[RTE_MEMPOOL_NAMESIZE];
		snprintf(pool, sizeof(pool), "mb_%.20s", pc->name);
		/* af_packet needs a whole ring slot (less its header) of data room. */
		uint32_t room = RTE_PKTMBUF_HEADROOM +
				(pc->kind == SNAP_PORT_AF_PACKET ? snap_portafp_data_room(pc->mtu) :
				 RTE_MAX(pc->mtu + 18u, 2048u));
		p->pool = rte_pktmbuf_pool_create(pool, pc->mbufs, 256, 0, (uint16_t)room, sock);
		if (p->pool == NULL) {
			snprintf(err, errlen, "port %s: cannot create a pool of %u mbufs on NUMA node "
				 "%d: %s (raise daemon.memory_mb)", pc->name, pc->mbufs, sock,
				 rte_strerror(rte_errno));
			return -ENOMEM;
		}
		int r = snap_port_neigh_create(p);
		r = r ? r : snap_port_nd6_create(p);
		if (r) {
			snprintf(err, errlen, "port %s: cannot create neighbour table: %s", pc->name,
				 rte_strerror(-r));
			return r;
		}
		for (unsigned j = 0; j < pc->n_neigh; j++)
			snap_port_neigh_static_cfg(p, &pc->neigh[j]);
		if (later) {
			/* Queue claims of the engines built next need the counts. */
			p->n_rxq = p->n_txq = pc->queues;
			p->mtu = pc->mtu;
			closed_mac(p, pc);
			SNAP_LOG(INFO, "port %s: %s device opened once the old daemon released it",
				 p->name, snap_port_kind_name(p->kind));
			continue;
		}
		p->zero_copy = pc->zero_copy;
		r = pc->zero_copy ? snap_port_zc_check(pc, err, errlen) : 0;
		r = r ? r : port_start(p, pc, snap_ports_defer_start, err, errlen);
		if (r)
			return r;
		char ip[INET_ADDRSTRLEN] = "-";
		if (p->ip)
			inet_ntop(AF_INET, &p->ip, ip, sizeof(ip));
		SNAP_LOG(INFO, "port %s: %s dpdk port %u, NUMA node %d, mac " RTE_ETHER_ADDR_PRT_FMT
			 ", ip %s/%u, mtu %u, %u queue(s), RSS %s, rx interrupts %s", p->name,
			 snap_port_kind_name(p->kind), p->port_id, p->socket_id,
			 RTE_ETHER_ADDR_BYTES(&p->mac), ip, p->prefix_len, p->mtu, p->n_rxq,
			 p->rss_hf ? "on" : "off", p->rx_intr ? "on" : "off");
	}
	/* Pools made after a zero-copy port started (later ports') must lie where it sends from. */
	for (unsigned i = 0; i < cfg->n_ports; i++) {
		int r = cfg->ports[i].zero_copy ? snap_port_zc_check(&cfg->ports[i], err, errlen) : 0;
		if (r)
			return r;
	}
	return 0;
}

void snap_ports_destroy(void)
{
	for (unsigned i = n_ports; i-- > 0;) {
		struct snap_port *p = ports[i];
		/* Engines are parked or destroyed by now: nobody bursts. */
		if (atomic_exchange_explicit(&p->started, false, memory_order_relaxed))
			snap_portdev_stop(p);
		if (!closed[i]) {
			snap_port_steer_close(p);
			snap_portdev_close(p);
		}
		snap_portwake_close(p);
		snap_portafp_tx_close(p);
		rte_hash_free(p->neigh);
		snap_port_nd6_destroy(p);
		rte_mempool_free(p->pool);
		rte_free(p);
		ports[i] = NULL;
	}
	n_ports = 0;
	snap_rings_destroy();
}

bool snap_port_cfg_exclusive(const struct snap_port_cfg *pc)
{
	/* A vhost-user server's listener, and a client's one connection (a virtio-user server
	 * serves one backend at a time) are held until closed. */
	return (pc->kind == SNAP_PORT_MEMIF && pc->server) || pc->kind == SNAP_PORT_AF_XDP ||
	       pc->kind == SNAP_PORT_VHOST;
}

const struct snap_port_cfg *snap_port_cfg_of(const struct snap_port *p)
{
	int i = port_index(p);
	return i < 0 ? NULL : port_cfgs[i];
}

static int port_index(const struct snap_port *p)
{
	for (unsigned i = 0; i < n_ports; i++)
		if (ports[i] == p)
			return (int)i;
	return -ENOENT;
}

static void xdp_leftovers_close(int i)
{
	int r = ports[i]->kind == SNAP_PORT_AF_XDP
			? snap_xdp_leftovers_close((unsigned)i, port_cfgs[i]->iface) : 0;
	if (r < 0)
		SNAP_LOG(WARNING, "port %s: cannot detach the XDP program of %s: %s",
			 ports[i]->name, port_cfgs[i]->iface, strerror(-r));
}

int snap_port_release(struct snap_port *p, unsigned timeout_ms)
{
	int i = port_index(p);
	/* Two packet sockets on one interface both get every frame, and closing one waits for
	 * an RCU grace period (tens of ms, in the blackout): af_packet stays open here until
	 * this daemon exits; nobody reads it, the engines are parked. */
	if (i >= 0 && p->kind == SNAP_PORT_AF_PACKET)
		return 0;
	int r = i < 0 ? i : snap_port_stop(p, timeout_ms);
	if (r || closed[i] || !snap_port_cfg_exclusive(port_cfgs[i]))
		return r;
	char name[64];
	snap_port_dev_name(port_cfgs[i], name, sizeof(name));
	uint64_t t0 = snap_loop_now_ns();
	/* Closes the PMD's sockets; memif unlinks its server socket file. */
	r = snap_portdev_remove(p, name);
	if (r)
		SNAP_LOG(WARNING, "port %s: cannot close device %s: %s", p->name, name,
			 strerror(-r));
	uint64_t t1 = snap_loop_now_ns();
	xdp_leftovers_close(i);
	closed[i] = true;
	SNAP_LOG(INFO, "port %s: released in %.1f ms (device %.1f ms)", p->name,
		 (snap_loop_now_ns() - t0) / 1e6, (t1 - t0) / 1e6);
	return 0;
}

int snap_port_reopen(struct snap_port *p, const struct snap_port_cfg *pc)
{
	char name[64], arg[512], err[256];
	snap_port_dev_name(pc, name, sizeof(name));
	int r = snap_port_eal_arg(pc, arg, sizeof(arg));
	if (r)
		return r;
	const char *comma = strchr(arg, ',');
	/* A server's file the old daemon (or a new one that died) could not unlink. */
	snap_port_clear_stale_socket(pc);
	r = rte_eal_hotplug_add("vdev", name, comma ? comma + 1 : "");
	uint16_t pid;
	if (r == 0 && rte_eth_dev_get_port_by_name(name, &pid) != 0)
		r = -ENODEV;
	if (r) {
		SNAP_LOG(ERR, "port %s: cannot open device %s: %s", p->name, name, strerror(-r));
		return r;
	}
	struct rte_ether_addr before = p->mac;
	p->port_id = pid;
	p->generation++;
	r = port_start(p, pc, false, err, sizeof(err));
	if (r) {
		SNAP_LOG(ERR, "%s", err);
		snap_portdev_remove(p, name);
		int i = port_index(p);
		if (i >= 0)
			xdp_leftovers_close(i);
		return r;
	}
	if (pc->kind == SNAP_PORT_VHOST && pc->server && snap_vhost_wake() != 0)
		SNAP_LOG(WARNING, "port %s: vhost-user peers may wait up to 1 s to connect", p->name);
	if (!rte_is_same_ether_addr(&before, &p->mac))
		SNAP_LOG(WARNING, "port %s: MAC " RTE_ETHER_ADDR_PRT_FMT " after re-opening (no mac "
			 "configured): elements built before may still use the old one", p->name,
			 RTE_ETHER_ADDR_BYTES(&p->mac));
	return 0;
}

bool snap_port_device_open(const struct snap_port *p)
{
	int i = port_index(p);
	return i >= 0 && !closed[i];
}

int snap_port_reprobe(struct snap_port *p)
{
	int i = port_index(p);
	if (i < 0 || snap_port_started(p))
		return i < 0 ? i : -EBUSY;
	char name[64];
	snap_port_dev_name(port_cfgs[i], name, sizeof(name));
	int r = closed[i] ? 0 : snap_portdev_remove(p, name);
	if (r)
		return r;
	closed[i] = true;
	r = snap_port_reopen(p, port_cfgs[i]);
	closed[i] = r != 0;
	return r;
}

/* A takeover's af_packet socket, open since start-up beside the old daemon's, holds frames
 * the old daemon answered (or would have, had it not parked): only what comes next is
 * ours. Just started, before any queue owner runs. */
static void drain_rx(struct snap_port *p)
{
	struct rte_mbuf *m[32];
	unsigned n = 0;
	for (uint16_t q = 0; q < p->n_rxq; q++) {
		uint16_t k;
		while ((k = rte_eth_rx_burst(p->port_id, q, m, RTE_DIM(m))) > 0) {
			rte_pktmbuf_free_bulk(m, k);
			n += k;
		}
	}
	if (n)
		SNAP_LOG(INFO, "port %s: %u frames received before the hand-over dropped",
			 p->name, n);
}

int snap_port_reclaim(struct snap_port *p)
{
	int i = port_index(p);
	if (i < 0)
		return i;
	if (!closed[i] && p->kind == SNAP_PORT_AF_PACKET && !snap_port_started(p)) {
		/* ethdev reads nothing from a device that is not started. */
		int r = snap_port_start(p);
		if (r == 0)
			drain_rx(p);
		return r;
	}
	if (!closed[i])
		return snap_port_start(p);
	uint64_t t0 = snap_loop_now_ns();
	if (p->kind != SNAP_PORT_AF_XDP) {
		int r = snap_port_reopen(p, port_cfgs[i]);
		if (r == 0)
			closed[i] = false;
		return r;
	}
	int r = snap_xdp_reopen(p, port_cfgs[i], t0);
	if (r == 0)
		closed[i] = false;
	return r;
}

