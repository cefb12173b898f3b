/* RPC method of the ports module: `ports` (addressing, queues and owners, capabilities,
 * link, ethdev counters, memif reconnects). Port records are written at start-up and by the
 * control thread (link keeping), and ethdev info/stats/link reads are safe from any thread,
 * so no engine is involved. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_ethdev.h>

#include "control/ctl.pb-c.h"
#include "control/internal.h"
#include "control/rpc.h"
#include "snap/engine.h"
#include "snap/port.h"
#include "snap/steer.h"

/* Names of the bits of mask that name() knows, as an arena array; *n their count. */
static char **bit_names(struct ctl_arena *a, uint64_t mask, const char *(*name)(uint64_t),
			size_t *n)
{
	char **v = ctl_arena_alloc(a, 64 * sizeof(char *));
	*n = 0;
	for (unsigned b = 0; v && b < 64; b++) {
		const char *s = mask & (1ull << b) ? name(1ull << b) : NULL;
		if (s && strcmp(s, "UNKNOWN") != 0)
			v[(*n)++] = ctl_arena_str(a, s);
	}
	return v;
}

static const char *rss_name(uint64_t bit)
{
	static const struct {
		uint64_t bit;
		const char *name;
	} names[] = {
		{RTE_ETH_RSS_IPV4, "ipv4"},   {RTE_ETH_RSS_NONFRAG_IPV4_UDP, "ipv4-udp"},
		{RTE_ETH_RSS_NONFRAG_IPV4_TCP, "ipv4-tcp"}, {RTE_ETH_RSS_IPV6, "ipv6"},
		{RTE_ETH_RSS_NONFRAG_IPV6_UDP, "ipv6-udp"}, {RTE_ETH_RSS_NONFRAG_IPV6_TCP, "ipv6-tcp"},
	};
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].bit == bit)
			return names[i].name;
	return NULL;
}

/* Capabilities from the device and what we configured of them. */
static void port_caps(struct ctl_arena *a, const struct snap_port *p, Ctl__PortInfo *pi)
{
	struct rte_eth_dev_info info;
	if (rte_eth_dev_info_get(p->port_id, &info) != 0)
		return;
	pi->has_max_rx_queues = pi->has_max_tx_queues = true;
	pi->max_rx_queues = info.max_rx_queues;
	pi->max_tx_queues = info.max_tx_queues;
	pi->has_min_mtu = pi->has_max_mtu = true;
	pi->min_mtu = info.min_mtu;
	pi->max_mtu = info.max_mtu;
	pi->has_rx_interrupts = true;
	pi->rx_interrupts = p->rx_intr;
	pi->rx_offloads = bit_names(a, info.rx_offload_capa, rte_eth_dev_rx_offload_name,
				    &pi->n_rx_offloads);
	pi->tx_offloads = bit_names(a, info.tx_offload_capa, rte_eth_dev_tx_offload_name,
				    &pi->n_tx_offloads);
	pi->rss_offered = bit_names(a, info.flow_type_rss_offloads, rss_name, &pi->n_rss_offered);
	pi->rss = bit_names(a, p->rss_hf, rss_name, &pi->n_rss);
	pi->steering = ctl_arena_str(a, snap_steer_mode_name(p->steer_mode));
	pi->has_steer_rules = pi->has_steer_udp_base = pi->has_steer_udp_block = true;
	pi->steer_rules = p->steer_rules;
	pi->steer_udp_base = p->steer_base;
	pi->steer_udp_block = p->steer_block;
	if (p->steer_why[0])
		pi->steer_refused = ctl_arena_str(a, p->steer_why);
}

/* Fill pi from p (strings and arrays in a). */
static void port_info(struct ctl_arena *a, const struct snap_port *p, Ctl__PortInfo *pi)
{
	ctl__port_info__init(pi);
	pi->name = ctl_arena_str(a, p->name);
	pi->kind = ctl_arena_str(a, snap_port_kind_name(p->kind));
	pi->port_id = p->port_id;
	char buf[64];
	snprintf(buf, sizeof(buf), RTE_ETHER_ADDR_PRT_FMT, RTE_ETHER_ADDR_BYTES(&p->mac));
	pi->mac = ctl_arena_str(a, buf);
	if (p->ip) {
		char ip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &p->ip, ip, sizeof(ip));
		snprintf(buf, sizeof(buf), "%s/%u", ip, p->prefix_len);
		pi->ip = ctl_arena_str(a, buf);
	}
	if (p->has_ip6) {
		char ip6[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, p->ip6, ip6, sizeof(ip6));
		snprintf(buf, sizeof(buf), "%s/%u", ip6, p->prefix6_len);
		pi->ip6 = ctl_arena_str(a, buf);
	}
	pi->numa = p->socket_id;
	pi->n_rxq = p->n_rxq;
	pi->n_txq = p->n_txq;
	pi->has_mtu = true;
	pi->mtu = p->mtu;
	/* A released device, or one being probed again, has nothing to read. */
	bool dev = snap_port_device_open(p);
	struct rte_eth_link link;
	if (dev && rte_eth_link_get_nowait(p->port_id, &link) == 0) {
		pi->has_link_up = true;
		pi->link_up = link.link_status == RTE_ETH_LINK_UP;
		if (link.link_speed != RTE_ETH_SPEED_NUM_NONE &&
		    link.link_speed != RTE_ETH_SPEED_NUM_UNKNOWN) {
			pi->has_link_speed_mbps = true;
			pi->link_speed_mbps = link.link_speed;
		}
	}
	struct rte_eth_stats st;
	if (dev && rte_eth_stats_get(p->port_id, &st) == 0) {
		/* af_packet direct transmit bypasses the PMD, whose counters miss it. */
		struct snap_port_direct_stats d;
		snap_port_direct_stats(p, &d);
		st.opackets += d.pkts;
		st.obytes += d.bytes;
		st.oerrors += d.dropped;
		const struct {
			const char *n;
			uint64_t v;
		} cs[] = {
			{"ipackets", st.ipackets}, {"opackets", st.opackets}, {"ibytes", st.ibytes},
			{"obytes", st.obytes},     {"imissed", st.imissed},   {"ierrors", st.ierrors},
			{"oerrors", st.oerrors},   {"rx_nombuf", st.rx_nombuf},
		};
		size_t n = sizeof(cs) / sizeof(cs[0]);
		pi->counters = ctl_arena_alloc(a, n * sizeof(*pi->counters));
		for (size_t i = 0; pi->counters && i < n; i++) {
			Ctl__Counter *c = ctl_counter_new(a, cs[i].n, cs[i].v);
			if (c)
				pi->counters[pi->n_counters++] = c;
		}
	}
	if (p->memif_client) {
		pi->has_zero_copy = true;
		pi->zero_copy = p->zero_copy;
	}
	if (p->memif_client || p->virtio_client) {
		pi->has_reconnect_attempts = pi->has_reconnects = true;
		pi->reconnect_attempts = p->reconnect_attempts;
		pi->reconnects = p->reconnects;
	}
	if (dev)
		port_caps(a, p, pi);
	pi->rxq_owner = ctl_arena_alloc(a, (p->n_rxq + 1) * sizeof(char *));
	for (uint16_t q = 0; pi->rxq_owner && q < p->n_rxq && q < SNAP_PORT_QUEUES_MAX; q++)
		pi->rxq_owner[pi->n_rxq_owner++] =
			ctl_arena_str(a, p->rxq_owner[q] ? snap_engine_name(p->rxq_owner[q]) : "");
	pi->txq_owner = ctl_arena_alloc(a, (p->n_txq + 1) * sizeof(char *));
	for (uint16_t q = 0; pi->txq_owner && q < p->n_txq && q < SNAP_PORT_QUEUES_MAX; q++)
		pi->txq_owner[pi->n_txq_owner++] =
			ctl_arena_str(a, p->txq_owner[q] ? snap_engine_name(p->txq_owner[q]) : "");
}

static int h_ports(struct ctl_rpc_call *call, const uint8_t *req, size_t len)
{
	Ctl__PortsRequest *q = (Ctl__PortsRequest *)ctl_rpc_unpack(
		call, &ctl__ports_request__descriptor, req, len);
	if (q == NULL)
		return -EBADMSG;
	struct ctl_arena a = {0};
	int r;
	Ctl__PortsReply rep = CTL__PORTS_REPLY__INIT;
	unsigned n = snap_port_count();
	rep.ports = ctl_arena_alloc(&a, (n ? n : 1) * sizeof(*rep.ports));
	for (unsigned i = 0; rep.ports && i < n; i++) {
		const struct snap_port *p = snap_port_at(i);
		if (p == NULL || (q->name && strcmp(q->name, p->name) != 0))
			continue;
		Ctl__PortInfo *pi = ctl_arena_alloc(&a, sizeof(*pi));
		if (pi == NULL)
			break;
		port_info(&a, p, pi);
		rep.ports[rep.n_ports++] = pi;
	}
	if (a.oom)
		r = ctl_rpc_error(call, -ENOMEM, "out of memory");
	else if (q->name && rep.n_ports == 0)
		r = ctl_rpc_error(call, -ENOENT, "no port named '%s'", q->name);
	else
		r = ctl_rpc_reply(call, &rep.base);
	ctl_arena_free(&a);
	protobuf_c_message_free_unpacked(&q->base, NULL);
	return r;
}

CTL_RPC_REGISTER(ports, CTL_M_PORTS, h_ports, CTL_RPC_READONLY)
