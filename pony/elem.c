/* The `pony` element: hosts one Pony transport in an engine. process() takes the engine's
 * Pony UDP packets (Ethernet frames from udp_demux, over IPv4 or IPv6), poll() runs timers
 * and transmit, and output `tx` carries finished Ethernet/IP/UDP frames toward port_tx. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "elements/arp.h"
#include "elements/ndp.h"
#include "elements/net.h"
#include "pony/app.h"
#include "pony/app_save.h"
#include "pony/save_int.h"
#include "pony/auth.h"
#include "pony/elem.h"
#include "pony/elem_steer.h"
#include "pony/internal.h"
#include "snap/engine.h"
#include "snap/log.h"
#include "snap/port.h"

#define ARP_RETRY_US 1000 /* at most one ARP request (or NDP solicitation) per peer per this
			   * interval */
#define ARP_SLOTS 16

enum { OUT_TX = 0 };
static const char *const pony_outputs[] = {"tx"};

#define APP_CMD_BUDGET 256 /* app commands drained per poll: bounds one poll's work */

struct pony_elem {
	struct pony_tp *tp;
	struct pony_app_host *apps;  /* app sessions served by this engine (NULL: none) */
	struct snap_elem *el;
	struct snap_port *port;      /* NULL: portless mode (tests): frames to broadcast MAC */
	struct rte_mempool *own_pool; /* portless mode only */
	struct rte_ether_addr mac;
	uint32_t ip;                 /* network order; 0: no IPv4 address */
	uint8_t ip6[16];             /* valid when has_ip6 */
	bool has_ip6;
	uint16_t udp_port;
	uint16_t ip_id;
	struct pony_steer steer;     /* our flows' local ports on a multi-queue port */
	uint64_t hz;
	uint64_t arp_gap;
	uint64_t poll_tsc;           /* start of the engine poll that last polled us */
	struct {
		struct pony_ip ip;
		uint64_t tsc;
	} arp[ARP_SLOTS];
	uint64_t rx_not_pony, no_neigh, arp_tx, nd_tx;
	/* The last peer's MAC, valid while the port's neighbour generation is still gen: a
	 * flow's packets go to one peer, and a hash lookup per burst was 4% of an RPC. */
	struct {
		bool valid;
		uint32_t gen;
		struct pony_ip ip;
		struct rte_ether_addr mac;
	} nc;
	uint64_t auth_reloads, auth_reload_errors;
	uint64_t reload_gen;         /* snap_reload_gen when the key file was last read */
	char auth_path[PATH_MAX];    /* key file ("": not authenticated) */
};

struct pony_tp *pony_elem_tp(struct snap_elem *el)
{
	if (el == NULL || el->desc == NULL || strcmp(el->desc->name, "pony") != 0)
		return NULL;
	return ((struct pony_elem *)snap_elem_priv(el))->tp;
}

/* Ask who has ip (rate-limited per target): a broadcast ARP who-has for an IPv4 peer, an
 * NDP solicitation to its solicited-node group for an IPv6 one, so the port's neighbour
 * table fills; until then Pony's retransmissions retry the send. */
static void neigh_request(struct pony_elem *pe, const struct pony_ip *ip, uint64_t now)
{
	unsigned slot = (unsigned)((ip->q[0] ^ ip->q[1]) * 0x9e3779b97f4a7c15ull >> 60) %
			ARP_SLOTS;
	if (pony_ip_eq(&pe->arp[slot].ip, ip) && now - pe->arp[slot].tsc < pe->arp_gap)
		return;
	pe->arp[slot].ip = *ip;
	pe->arp[slot].tsc = now;
	struct rte_mbuf *m = rte_pktmbuf_alloc(pe->port->pool);
	if (m == NULL)
		return;
	bool v4 = pony_ip_is4(ip);
	if ((v4 ? snap_arp_build_request(pe->port, ip->w[3], m)
		: snap_ndp_build_solicit(pe->port, ip->b, m)) < 0) {
		rte_pktmbuf_free(m);
		return;
	}
	if (v4)
		pe->arp_tx++;
	else
		pe->nd_tx++;
	snap_elem_emit1(pe->el, OUT_TX, m);
}

static int neigh_lookup(const struct pony_elem *pe, const struct pony_ip *ip,
			struct rte_ether_addr *mac)
{
	return pony_ip_is4(ip) ? snap_port_neigh_lookup(pe->port, ip->w[3], mac)
			       : snap_port_nd6_lookup(pe->port, ip->b, mac);
}

/* Frame n packets for an IPv6 peer (IPv6 makes the UDP checksum mandatory: the rare
 * family here, so out of the IPv4 loop). Returns how many it framed into pkts[0..). */
static uint16_t frame6(struct pony_elem *pe, const struct pony_ip *peer,
		       const struct rte_ether_addr *dmac, uint16_t peer_port, uint16_t local_port,
		       struct rte_mbuf **pkts, uint16_t n)
{
	struct snap_net_udp6 a = {.src_mac = pe->mac, .dst_mac = *dmac, .src_port = local_port,
				  .dst_port = peer_port};
	memcpy(a.src_ip, pe->ip6, 16);
	memcpy(a.dst_ip, peer->b, 16);
	uint16_t k = 0;
	for (uint16_t i = 0; i < n; i++) {
		if (snap_net_udp6_prepend(pkts[i], &a) == NULL) {
			snap_elem_drop(pe->el, pkts[i], SNAP_DROP_TRUNCATED);
			continue;
		}
		pkts[k++] = pkts[i];
	}
	return k;
}

/* Transport xmit hook: wrap Pony packets in Ethernet/IP/UDP and emit them on `tx`. */
static uint16_t elem_xmit(void *ctx, const struct pony_ip *peer, uint16_t peer_port,
			  uint16_t local_port, struct rte_mbuf **pkts, uint16_t n)
{
	struct pony_elem *pe = ctx;
	struct rte_ether_addr dmac;

	if (pe->port != NULL) {
		uint32_t gen = snap_port_neigh_gen(pe->port);
		if (pe->nc.valid && pe->nc.gen == gen && pony_ip_eq(&pe->nc.ip, peer)) {
			dmac = pe->nc.mac;
		} else if (neigh_lookup(pe, peer, &dmac) == 0) {
			pe->nc.valid = true;
			pe->nc.ip = *peer;
			pe->nc.gen = gen;
			pe->nc.mac = dmac;
		} else {
			/* Unresolved: drop (the transport retransmits) and ask who has it. */
			pe->no_neigh += n;
			snap_elem_drop_burst(pe->el, pkts, n, SNAP_DROP_NO_NEIGHBOUR);
			neigh_request(pe, peer, rte_rdtsc());
			return n;
		}
	} else {
		memset(&dmac, 0xff, sizeof(dmac));
	}
	if (unlikely(!pony_ip_is4(peer))) {
		snap_elem_emit(pe->el, OUT_TX, pkts,
			       frame6(pe, peer, &dmac, peer_port, local_port, pkts, n));
		return n;
	}
	/* UDP checksum 0: Pony carries its own crc32c over header and payload. */
	const struct snap_net_udp4 a = {.src_mac = pe->mac, .dst_mac = dmac, .src_ip = pe->ip,
					.dst_ip = peer->w[3], .src_port = local_port,
					.dst_port = peer_port};
	uint16_t k = 0;
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		if (snap_net_udp4_prepend(m, &a, pe->ip_id++) == NULL) {
			snap_elem_drop(pe->el, m, SNAP_DROP_TRUNCATED);
			continue;
		}
		pkts[k++] = m;
	}
	snap_elem_emit(pe->el, OUT_TX, pkts, k);
	return n;
}

/* Transport pick_port hook: the steered local port of a flow we open. */
static uint16_t elem_pick_port(void *ctx, const struct pony_ip *peer, uint16_t peer_port)
{
	struct pony_elem *pe = ctx;
	return pony_steer_pick(&pe->steer, peer, peer_port);
}

/* The IPv6 half of unwrap: the UDP header after a fixed IPv6 header (ipv6_in passes no
 * extension headers), the peer's address into *ip; NULL to drop. */
static struct rte_udp_hdr *unwrap6(struct pony_elem *pe, struct rte_mbuf *m,
				   struct rte_ether_hdr *eh, struct pony_ip *ip)
{
	struct rte_ipv6_hdr *h6 = (struct rte_ipv6_hdr *)(eh + 1);
	if (!pe->has_ip6 || rte_pktmbuf_data_len(m) < SNAP_NET_UDP6_HDRS ||
	    h6->proto != IPPROTO_UDP)
		return NULL;
	memcpy(ip->b, h6->src_addr, 16);
	if (pony_ip_is4(ip))
		return NULL; /* a v4-mapped source on the wire would alias an IPv4 peer's flows */
	return (struct rte_udp_hdr *)(h6 + 1);
}

/* Strip Ethernet/IP/UDP (udp_demux validated them; we re-check what we rely on) and
 * return the peer's address: an IPv4 one in *ip4 (never 0), or *ip4 = 0 and the IPv6 one
 * in *ip6. 0, or -1 to drop; -2 when m went to another engine's flows (taken or dropped by
 * flow steering). */
static int unwrap(struct pony_elem *pe, struct rte_mbuf *m, uint32_t *ip4, struct pony_ip *ip6,
		  uint16_t *port)
{
	if (!rte_pktmbuf_is_contiguous(m) || rte_pktmbuf_data_len(m) < SNAP_NET_UDP4_HDRS)
		return -1;
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_udp_hdr *uh;
	if (likely(eh->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))) {
		struct rte_ipv4_hdr *iph = (struct rte_ipv4_hdr *)(eh + 1);
		uint32_t ihl = (uint32_t)(iph->version_ihl & 0x0f) * 4;
		if (ihl < 20 || iph->next_proto_id != IPPROTO_UDP || iph->src_addr == 0 ||
		    rte_pktmbuf_data_len(m) < sizeof(*eh) + ihl + sizeof(struct rte_udp_hdr))
			return -1;
		*ip4 = iph->src_addr;
		uh = (struct rte_udp_hdr *)((uint8_t *)iph + ihl);
	} else if (eh->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6)) {
		if ((uh = unwrap6(pe, m, eh, ip6)) == NULL)
			return -1;
		*ip4 = 0;
	} else {
		return -1;
	}
	uint16_t ulen = rte_be_to_cpu_16(uh->dgram_len);
	uint32_t off = (uint32_t)((uint8_t *)(uh + 1) - (uint8_t *)eh);
	if (ulen < sizeof(*uh) || off + ulen - sizeof(*uh) > rte_pktmbuf_data_len(m))
		return -1;
	uint16_t dport = rte_be_to_cpu_16(uh->dst_port);
	if (dport != pe->udp_port) {
		/* A steered flow's port: ours, or another engine's (handed over, never read by
		 * our flow table). */
		int r = pony_steer_active(&pe->steer) ? pony_steer_accept(&pe->steer, pe->el, dport, m)
						       : -ENOENT;
		if (r <= 0)
			return r == 0 ? -2 : -1;
	}
	*port = rte_be_to_cpu_16(uh->src_port);
	rte_pktmbuf_adj(m, (uint16_t)off);
	/* Drop Ethernet padding beyond the UDP length. */
	rte_pktmbuf_trim(m, (uint16_t)(rte_pktmbuf_data_len(m) - (ulen - sizeof(*uh))));
	return 0;
}

/* One burst from one peer (IPv4 ip4, or ip6 when ip4 is 0) into the transport: the 16-byte
 * key is built here, once per burst, not per packet. */
static void input_burst(struct pony_elem *pe, uint32_t ip4, const struct pony_ip *ip6,
			uint16_t port, struct rte_mbuf **burst, uint16_t n, uint64_t now,
			uint64_t rx)
{
	struct pony_ip key = ip4 ? pony_ip_from4(ip4) : *ip6;
	pony_tp_input_at(pe->tp, &key, port, burst, n, now, rx);
}

/* SIGHUP: re-read the key file on the engine's thread (rare; the transport is ours here).
 * A bad file keeps the keys we have, so a typo cannot cut every flow. */
static void auth_reload(struct pony_elem *pe)
{
	uint64_t gen = __atomic_load_n(&snap_reload_gen, __ATOMIC_RELAXED);
	if (__builtin_expect(gen == pe->reload_gen, 1) || pe->auth_path[0] == '\0')
		return;
	pe->reload_gen = gen;
	struct pony_auth_keyset ks;
	char err[256] = "the transport refused the key set";
	int r = pony_auth_keyset_load(pe->auth_path, &ks, err, sizeof(err));
	if (r == 0)
		r = pony_tp_auth_set_keys(pe->tp, &ks);
	explicit_bzero(&ks, sizeof(ks));
	if (r < 0) {
		pe->auth_reload_errors++;
		SNAP_LOG(ERR, "pony %s: keys not reloaded, keeping the old ones: %s",
			 pe->el->name, err);
		return;
	}
	pe->auth_reloads++;
	SNAP_LOG(NOTICE, "pony %s: keys reloaded from %s", pe->el->name, pe->auth_path);
}

static void pony_process(struct snap_elem *el, struct rte_mbuf **pkts, uint16_t n)
{
	struct pony_elem *pe = snap_elem_priv(el);
	auth_reload(pe);
	uint64_t now = rte_rdtsc();
	/* These packets were not in our input when the engine last polled us (its port or
	 * ring source runs in that same poll), so they arrived after it started: the best
	 * host arrival time we have without NIC timestamps. */
	uint64_t rx = pe->poll_tsc ? pe->poll_tsc : now;
	struct rte_mbuf *burst[SNAP_BURST_MAX];
	uint16_t nb = 0;
	uint32_t bip4 = 0;
	struct pony_ip bip6; /* read only while bip4 is 0 (set with it) */
	uint16_t bport = 0;

	/* Consecutive packets from one peer go in together (one ack per burst per flow). An
	 * IPv4 peer is compared in its 4 bytes (0: an IPv6 one, compared in bip6). */
	for (uint16_t i = 0; i < n; i++) {
		uint32_t ip4 = 0;
		struct pony_ip ip6;
		uint16_t port;
		int u = unwrap(pe, pkts[i], &ip4, &ip6, &port);
		if (u == -2)
			continue;
		if (u < 0) {
			pe->rx_not_pony++;
			snap_elem_drop(el, pkts[i], SNAP_DROP_PONY_MALFORMED);
			continue;
		}
		if (nb && (ip4 != bip4 || port != bport ||
			   (unlikely(ip4 == 0) && !pony_ip_eq(&ip6, &bip6)))) {
			input_burst(pe, bip4, &bip6, bport, burst, nb, now, rx);
			nb = 0;
		}
		if (unlikely(ip4 == 0))
			bip6 = ip6;
		bip4 = ip4;
		bport = port;
		burst[nb++] = pkts[i];
	}
	if (nb)
		input_burst(pe, bip4, &bip6, bport, burst, nb, now, rx);
	/* Deliveries above wrote completions: ring the apps that wait, once per burst. */
	if (pe->apps)
		pony_app_host_flush(pe->apps);
}

static unsigned pony_poll(struct snap_elem *el, uint64_t now_tsc)
{
	struct pony_elem *pe = snap_elem_priv(el);
	pe->poll_tsc = now_tsc;
	auth_reload(pe);
	unsigned work = pe->apps ? pony_app_host_poll(pe->apps, APP_CMD_BUDGET) : 0;
	if (work >= APP_CMD_BUDGET && el->engine)
		snap_engine_note_backlog(el->engine); /* apps' commands left for the next poll */
	return work + pony_tp_poll(pe->tp, now_tsc);
}

/* App doorbells are eventfds among the engine's wake fds: a sleeping engine wakes for them. */
static int pony_arm(struct snap_elem *el, bool arm)
{
	struct pony_elem *pe = snap_elem_priv(el);
	return pe->apps ? pony_app_host_arm(pe->apps, arm) : 0;
}

static uint64_t pony_next_deadline(const struct snap_elem *el)
{
	const struct pony_elem *pe = snap_elem_priv(el);
	return pony_tp_next_deadline(pe->tp);
}

#define ARG_U32(key, field, dflt, lo, hi)                                                 \
	do {                                                                              \
		uint64_t v_;                                                              \
		if (snap_elem_arg_u64(args, key, dflt, lo, hi, &v_) < 0)                  \
			return snap_elem_args_error(args, "bad %s", key);                 \
		cfg.field = (uint32_t)v_;                                                 \
	} while (0)

static int pony_init(struct snap_elem *el, const struct snap_elem_args *args)
{
	struct pony_elem *pe = snap_elem_priv(el);
	struct pony_tp_config cfg = {0};
	uint64_t v;
	/* The node of the transport's tables and pool: the engine's. */
	int socket = el->engine ? snap_engine_socket(el->engine) : SOCKET_ID_ANY;

	pe->el = el;
	pe->hz = rte_get_tsc_hz();
	pe->arp_gap = pe->hz / 1000000 * ARP_RETRY_US;
	const char *port = snap_elem_arg_str(args, "port", NULL);
	if (port != NULL) {
		pe->port = snap_port_find(port);
		if (pe->port == NULL)
			return snap_elem_args_error(args, "unknown port '%s'", port);
		pe->mac = pe->port->mac;
		pe->ip = pe->port->ip;
		pe->has_ip6 = pe->port->has_ip6;
		if (pe->has_ip6)
			memcpy(pe->ip6, pe->port->ip6, 16);
		cfg.pool = pe->port->pool;
		cfg.mtu = pe->port->mtu;
		/* Transmit pieces pay only where the peer runs beside us, not where each burst
		 * is a system call that runs its path on our CPU. */
		if (snap_port_tx_syscall(pe->port))
			cfg.tx_lead_bytes = UINT32_MAX;
	}
	const char *ip = snap_elem_arg_str(args, "ip", NULL);
	if (ip != NULL && inet_pton(AF_INET, ip, &pe->ip) != 1)
		return snap_elem_args_error(args, "bad ip '%s'", ip);
	const char *ip6 = snap_elem_arg_str(args, "ip6", NULL);
	if (ip6 != NULL) {
		struct pony_ip a;
		if (inet_pton(AF_INET6, ip6, a.b) != 1 || a.b[0] == 0xff || pony_ip_is4(&a) ||
		    (a.q[0] == 0 && a.q[1] == 0))
			return snap_elem_args_error(args, "bad ip6 '%s' (want a unicast IPv6 "
						    "address, not v4-mapped)", ip6);
		memcpy(pe->ip6, a.b, 16);
		pe->has_ip6 = true;
	}
	if (pe->ip == 0 && !pe->has_ip6)
		return snap_elem_args_error(args, "need port = NAME (with an address), "
					    "ip = A.B.C.D or ip6 = ADDR");
	if (snap_elem_arg_u64(args, "udp_port", PONY_UDP_PORT_DEFAULT, 1, 65535, &v) < 0)
		return snap_elem_args_error(args, "bad udp_port");
	pe->udp_port = (uint16_t)v;
	if (pe->port == NULL) {
		/* Portless (tests, loopback graphs): a private pool, broadcast destination. */
		char name[RTE_MEMPOOL_NAMESIZE];
		snprintf(name, sizeof(name), "pony_%u_%u", el->engine ? snap_engine_id(el->engine) : 0, el->index);
		pe->own_pool = rte_pktmbuf_pool_create(name, 4095, 128, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
						       socket);
		if (pe->own_pool == NULL)
			return snap_elem_args_error(args, "cannot create mbuf pool");
		cfg.pool = pe->own_pool;
		pe->mac.addr_bytes[0] = 0x02;
		memcpy(&pe->mac.addr_bytes[2], pe->ip ? (const uint8_t *)&pe->ip : pe->ip6 + 12, 4);
	}
	ARG_U32("mtu", mtu, cfg.mtu ? cfg.mtu : 1500, 576, PONY_MTU_MAX);
	ARG_U32("max_flows", max_flows, 64, 1, 4096);
	ARG_U32("max_streams", max_streams, 1024, 1, PONY_SID_IDX_MASK);
	ARG_U32("window", window, 256, 64, 16384);
	ARG_U32("sendq_max", sendq_max, 64, 1, 65536);
	/* 1 ms: an idle engine of a spreading/compacting group may sleep up to the group's
	 * backoff_max_ns (1 ms by default) before it polls a poll-only port such as memif, so
	 * round trips spike by that much; a lower RTO fired spuriously (on a lossless memif link
	 * every retransmission was spurious and RPC throughput fell sevenfold). */
	ARG_U32("rto_min_us", rto_min_us, 1000, 1, 10000000);
	ARG_U32("rto_max_us", rto_max_us, 100000, 1, 100000000);
	ARG_U32("keepalive_us", keepalive_us, 50000, 1, 100000000);
	ARG_U32("dead_timeout_us", dead_timeout_us, 1000000, 1, 1000000000);
	/* Up to 100 ms (TCP's delayed ack is 40-200 ms), but below the RTO floor: an ack held
	 * as long as the peer's retransmission timer fires it for every lone packet (peers of
	 * one deployment share these settings). */
	ARG_U32("ack_delay_us", ack_delay_us, 20, 1, 100000);
	if (cfg.ack_delay_us >= cfg.rto_min_us)
		return snap_elem_args_error(args, "ack_delay_us (%u) must be below rto_min_us (%u): "
					    "an ack held that long fires the peer's retransmission "
					    "timer", cfg.ack_delay_us, cfg.rto_min_us);
	ARG_U32("target_delay_us", target_delay_us, 25, 1, 1000000);
	ARG_U32("target_per_hop_us", target_per_hop_us, 1, 0, 1000000);
	ARG_U32("hops", hops, 3, 0, 64);
	ARG_U32("target_base_max_us", target_base_max_us, 100000, 0, 10000000);
	ARG_U32("seed", seed, 0, 0, UINT32_MAX); /* accepted, unused (ids come from getrandom) */
	/* 0: the transport's defaults (max_flows / 8, max_streams / 4). */
	ARG_U32("max_flows_per_peer", max_flows_per_peer, 0, 0, 4096);
	ARG_U32("max_streams_per_peer", max_streams_per_peer, 0, 0, PONY_SID_IDX_MASK);
	/* Priority classes (pony/qos.h): weights and admission-control latency targets. */
	const char *qw = snap_elem_arg_str(args, "qos_weights", NULL);
	if (qw != NULL && pony_qos_parse_weights(qw, cfg.qos_weight) < 0)
		return snap_elem_args_error(args, "bad qos_weights '%s': want CRITICAL:NORMAL:"
					    "SCAVENGER, each 1..1024 (e.g. 8:4:1)", qw);
	ARG_U32("qos_slo_critical_us", qos_slo_us[PONY_QOS_CRITICAL], 0, 0, 10000000);
	ARG_U32("qos_slo_normal_us", qos_slo_us[PONY_QOS_NORMAL], 0, 0, 10000000);
	ARG_U32("qos_slo_pct", qos_slo_pct, 99, 50, 99);
	/* Yielding (pony/qos.h): the lower classes' delay target while a higher class is
	 * active, how long a class stays active after it sent, critical's pass over a window. */
	ARG_U32("qos_yield_delay_us", qos_yield_delay_us, 1, 1, 1000000);
	ARG_U32("qos_yield_hold_us", qos_yield_hold_us, 10000, 1, 10000000);
	ARG_U32("qos_crit_burst", qos_crit_burst, 4, 1, 64);
	/* Path MTU probing (pony/pmtu.h): 1 probes before sending segments over a 1,500-byte
	 * MTU's, 0 trusts both ports' MTUs. */
	uint64_t probe;
	if (snap_elem_arg_u64(args, "pmtu_probe", 1, 0, 1, &probe) < 0)
		return snap_elem_args_error(args, "bad pmtu_probe: want 0 or 1");
	cfg.pmtu_trust = probe == 0;
	struct pony_auth_keyset ks;
	const char *keys = snap_elem_arg_str(args, "auth_key_file", NULL);
	if (keys != NULL) {
		char err[256];
		if (snprintf(pe->auth_path, sizeof(pe->auth_path), "%s", keys) >=
		    (int)sizeof(pe->auth_path))
			return snap_elem_args_error(args, "auth_key_file: path too long");
		if (pony_auth_keyset_load(keys, &ks, err, sizeof(err)) < 0)
			return snap_elem_args_error(args, "auth_key_file: %s", err);
		cfg.auth_keys = &ks;
		pe->reload_gen = __atomic_load_n(&snap_reload_gen, __ATOMIC_RELAXED);
	}
	cfg.local_ip = pe->ip;
	memcpy(cfg.local_ip6, pe->ip6, 16);
	cfg.local_port = pe->udp_port;
	cfg.tsc_hz = pe->hz;
	/* Engines sharing a multi-queue port's address give their flows ports that the port
	 * steers back to them (docs/ARCHITECTURE.md, "Queues and flow steering"). */
	if (pony_steer_init(&pe->steer, el, pe->port, pe->ip, args) < 0)
		return -EINVAL;
	cfg.xmit = elem_xmit;
	cfg.xmit_ctx = pe;
	if (pony_steer_active(&pe->steer))
		cfg.pick_port = elem_pick_port;
	cfg.socket_id = socket;
	pe->tp = pony_tp_create(&cfg);
	if (keys != NULL)
		explicit_bzero(&ks, sizeof(ks));
	if (pe->tp == NULL)
		return snap_elem_args_error(args, "invalid transport limits (window and sendq_max "
					    "must be powers of 2, rto_min <= rto_max) or no memory");
	/* apps = 0 for an engine that only relays; by default an engine with a port serves
	 * apps, registered under the engine's name for the attach socket. */
	if (snap_elem_arg_u64(args, "apps", el->engine && pe->port ? 1 : 0, 0, 1, &v) < 0)
		return snap_elem_args_error(args, "apps must be 0 or 1");
	if (v) {
		pe->apps = pony_app_host_create(el->engine, NULL, pe->tp);
		if (pe->apps == NULL)
			return snap_elem_args_error(args, "cannot create the app layer: %s",
						    strerror(errno));
		pony_tp_set_upcalls(pe->tp, &pony_app_upcalls);
		/* eBPF custom ops are opt-in: DPDK 22.11's rte_bpf validator crashes on some
		 * hostile programs (found by fuzz_pony_bpf), so only hosts whose apps are trusted
		 * enable loading. */
		uint64_t bpf = 0;
		if (snap_elem_arg_u64(args, "bpf_ops", 0, 0, 1, &bpf) < 0)
			return snap_elem_args_error(args, "bpf_ops must be 0 or 1");
		pony_app_host_set_bpf(pe->apps, bpf != 0);
	}
	return 0;
}

static void pony_destroy(struct snap_elem *el)
{
	struct pony_elem *pe = snap_elem_priv(el);
	pony_app_host_destroy(pe->apps);
	pe->apps = NULL;
	pony_tp_destroy(pe->tp);
	pe->tp = NULL;
	rte_mempool_free(pe->own_pool);
	pe->own_pool = NULL;
}

static void pony_stats(const struct snap_elem *el, snap_stat_fn fn, void *ctx)
{
	const struct pony_elem *pe = snap_elem_priv(el);
	struct pony_tp_stats st;
	pony_tp_get_stats(pe->tp, &st);
#define S(x) fn(ctx, #x, st.x)
	S(tx_pkts); S(rx_pkts); S(tx_bytes); S(rx_bytes); S(data_tx); S(data_rx);
	S(retransmits); S(fast_retransmits); S(timeouts); S(acks_tx); S(acks_rx); S(probes_tx);
	S(dup_rx); S(ooo_rx); S(out_of_window); S(malformed); S(bad_version); S(bad_csum);
	S(no_flow); S(rst_tx); S(rst_rx); S(no_mbuf); S(xmit_full); S(flows_failed);
	S(flows_created); S(msgs_tx); S(msgs_rx); S(held_mbufs); S(credit_stalls);
	S(rst_limited); S(cookie_tx); S(cookie_ok); S(cookie_bad); S(refused_flow_budget);
	S(refused_stream_budget); S(refused_no_listener); S(refuse_deferred); S(challenge_ack_tx);
	S(rst_bad_seq); S(ack_invalid); S(ack_timeouts); S(spurious_timeouts); S(credit_tx); S(auth_fail);
#undef S
	fn(ctx, "rx_placed", pony_tp_rx_placed(pe->tp));
	if (pe->auth_path[0]) {
		fn(ctx, "auth_reloads", pe->auth_reloads);
		fn(ctx, "auth_reload_errors", pe->auth_reload_errors);
	}
	fn(ctx, "rx_not_pony", pe->rx_not_pony);
	fn(ctx, "no_neighbour", pe->no_neigh);
	fn(ctx, "arp_requests", pe->arp_tx);
	if (pe->has_ip6)
		fn(ctx, "nd_solicits", pe->nd_tx);
	pony_steer_stats(&pe->steer, fn, ctx);
	pony_tp_os_report(pe->tp, fn, ctx);
	pony_tp_qos_report(pe->tp, fn, ctx);
	pony_tp_pmtu_report(pe->tp, fn, ctx);
	if (pe->apps)
		pony_app_host_stats(pe->apps, fn, ctx);
}

/* Upgrade: the app sessions and the transport (pony/app_save.c). */
/* The element's saved-state versions: 1, release 0.1.0 (the transport's blob in its
 * version 3, structs as they lie in memory); 2, the transport in self-describing tables.
 * The app sessions' part keeps its own version inside (pony/app_save.c). */
#define PONY_ELEM_STATE_V 2

static int pony_save(const struct snap_elem *el, struct snap_sbuf *out, uint32_t version)
{
	const struct pony_elem *pe = snap_elem_priv(el);
	/* One-sided ops in flight travel in the transport's blob (pony_os_save). */
	return pony_app_save_v(pe->apps, pe->tp, out,
			       version == 1 ? PONY_TP_SAVE_V_RAW : PONY_TP_SAVE_V_TABLES);
}

/* Either version: the transport's blob says which of its formats it is. */
static int pony_restore(struct snap_elem *el, const void *data, size_t len, uint32_t version)
{
	struct pony_elem *pe = snap_elem_priv(el);
	return pony_app_restore(pe->apps, pe->tp, data, len);
}

static const struct snap_elem_desc pony_desc = {
	.name = "pony",
	.help = "Pony Express transport: flows, streams, messages over UDP (output tx: frames)",
	.priv_size = sizeof(struct pony_elem),
	.n_outputs = 1,
	.outputs = pony_outputs,
	.init = pony_init,
	.process = pony_process,
	.poll = pony_poll,
	.next_deadline = pony_next_deadline,
	.arm = pony_arm,
	.stats = pony_stats,
	.state_version = PONY_ELEM_STATE_V,
	.state_read_min = 1,
	.state_write_min = 1,
	.save = pony_save,
	.restore = pony_restore,
	.destroy = pony_destroy,
};
SNAP_ELEM_REGISTER(pony_desc);
