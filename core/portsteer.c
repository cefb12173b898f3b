/* Flow steering of a multi-queue port (snap/steer.h): at start, pick how each queue gets
 * its engine's Pony flows and install rte_flow rules where the device takes them. Control
 * thread, before the engines are built; the result is fixed for the port's life. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ethdev.h>
#include <rte_flow.h>

#include "core/config.h"
#include "core/portsetup.h"
#include "snap/log.h"
#include "snap/port.h"
#include "snap/steer.h"

/* One rule: IPv4/UDP to dst_port -> rx queue q. Validated first, then created; NULL and
 * the device's reason in why on refusal. */
static struct rte_flow *rule_create(struct snap_port *p, uint16_t q, uint16_t dst_port,
				    char *why, size_t whylen)
{
	const struct rte_flow_attr attr = {.ingress = 1};
	const struct rte_flow_item_udp udp_spec = {.hdr.dst_port = rte_cpu_to_be_16(dst_port)};
	const struct rte_flow_item_udp udp_mask = {.hdr.dst_port = RTE_BE16(0xffff)};
	const struct rte_flow_item pattern[] = {
		{.type = RTE_FLOW_ITEM_TYPE_ETH},
		{.type = RTE_FLOW_ITEM_TYPE_IPV4},
		{.type = RTE_FLOW_ITEM_TYPE_UDP, .spec = &udp_spec, .mask = &udp_mask},
		{.type = RTE_FLOW_ITEM_TYPE_END},
	};
	const struct rte_flow_action_queue queue = {.index = q};
	const struct rte_flow_action actions[] = {
		{.type = RTE_FLOW_ACTION_TYPE_QUEUE, .conf = &queue},
		{.type = RTE_FLOW_ACTION_TYPE_END},
	};
	struct rte_flow_error fe = {0};
	struct rte_flow *f = NULL;
	int r = rte_flow_validate(p->port_id, &attr, pattern, actions, &fe);
	if (r == 0)
		f = rte_flow_create(p->port_id, &attr, pattern, actions, &fe);
	if (f == NULL)
		snprintf(why, whylen, "%s %s", r ? "validate:" : "create:",
			 fe.message ? fe.message : strerror(rte_errno ? rte_errno : -r));
	return f;
}

static void rules_flush(struct snap_port *p)
{
	struct rte_flow_error fe;
	for (uint16_t q = 0; q < SNAP_PORT_QUEUES_MAX; q++) {
		if (p->steer_flow[q] != NULL)
			rte_flow_destroy(p->port_id, p->steer_flow[q], &fe);
		p->steer_flow[q] = NULL;
	}
	p->steer_rules = 0;
}

/* One rule per queue: the first port of its block (the engine's port under FLOW). */
static int rules_install(struct snap_port *p)
{
	for (uint16_t q = 0; q < p->n_rxq; q++) {
		uint16_t port = (uint16_t)(p->steer_base + q * p->steer_block);
		p->steer_flow[q] = rule_create(p, q, port, p->steer_why, sizeof(p->steer_why));
		if (p->steer_flow[q] == NULL) {
			rules_flush(p);
			return -ENOTSUP;
		}
		p->steer_rules++;
	}
	return 0;
}

/* Does the device hash with our key (so the flow mapper predicts its choice)? Read back:
 * a device may have kept its own (core/port.c warns when the key length differs). */
static bool rss_ours(const struct snap_port *p)
{
	uint8_t key[SNAP_STEER_RSS_KEY_LEN * 2];
	struct rte_eth_rss_conf rc = {.rss_key = key, .rss_key_len = sizeof(key)};
	if (p->rss_hf == 0 || rte_eth_dev_rss_hash_conf_get(p->port_id, &rc) != 0)
		return false;
	return rc.rss_key_len == SNAP_STEER_RSS_KEY_LEN &&
	       memcmp(key, snap_steer_rss_key, SNAP_STEER_RSS_KEY_LEN) == 0;
}

void snap_port_steer_setup(struct snap_port *p, const struct snap_port_cfg *pc)
{
	/* A config not from the parser (tests) leaves them 0: the parser's defaults. */
	p->steer_block = pc->steer_block ? pc->steer_block : SNAP_STEER_UDP_BLOCK_DEFAULT;
	p->steer_base = pc->steer_block ? pc->steer_base : SNAP_STEER_UDP_BASE_DEFAULT;
	p->steer_mode = SNAP_STEER_NONE;
	p->steer_why[0] = '\0';
	if (p->n_rxq <= 1)
		return;
	/* The peer's tx queue is our rx queue: the sending engine picks, nothing to install. */
	if (p->kind == SNAP_PORT_MEMIF || p->kind == SNAP_PORT_VHOST ||
	    p->kind == SNAP_PORT_VIRTIO_USER) {
		p->steer_mode = SNAP_STEER_QUEUE_PAIRING;
		return;
	}
	if (rules_install(p) == 0) {
		p->steer_mode = SNAP_STEER_FLOW;
		SNAP_LOG(NOTICE, "port %s: flow steering by rte_flow: UDP port %u + k*%u -> rx "
			 "queue k (%u rules)", p->name, p->steer_base, p->steer_block,
			 p->steer_rules);
		return;
	}
	bool rss = rss_ours(p);
	p->steer_mode = rss ? SNAP_STEER_RSS : SNAP_STEER_NONE;
	SNAP_LOG(WARNING, "port %s: rte_flow steering rules refused (%s); steering by %s", p->name,
		 p->steer_why, rss ? "RSS and the flow mapper" :
		 "nothing we can predict (engines sharing this port's address see the kernel's "
		 "or device's queue choice)");
}

void snap_port_steer_close(struct snap_port *p)
{
	if (p->steer_rules)
		rules_flush(p);
}
