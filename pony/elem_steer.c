/* Flow steering in the `pony` element (pony/elem_steer.h): engines sharing a port's address
 * give each flow a local UDP port in their own queue's block, so the port's rte_flow rules
 * or RSS (predicted by the flow mapper, snap/steer.h) deliver its return traffic to them,
 * and the destination port of a packet names the engine that owns its flow. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pony/elem_steer.h"
#include "snap/engine.h"
#include "snap/log.h"
#include "snap/ring.h"
#include "snap/steer.h"

static int steer_rings(struct pony_steer *s, struct snap_elem *el, const char *prefix,
		       const struct snap_elem_args *args)
{
	int socket = el->engine ? snap_engine_socket(el->engine) : SOCKET_ID_ANY;
	for (uint16_t j = 0; j < s->n_queues; j++) {
		char name[SNAP_NAME_MAX * 2];
		if (j == s->q)
			continue;
		if (snprintf(name, sizeof(name), "%s%u", prefix, j) >= (int)sizeof(name))
			return snap_elem_args_error(args, "steer_ring \"%s\" too long", prefix);
		s->ring[j] = snap_ring_get(name, socket);
		if (s->ring[j] == NULL)
			return snap_elem_args_error(args, "ring \"%s\": %s", name, strerror(errno));
	}
	return 0;
}

int pony_steer_init(struct pony_steer *s, struct snap_elem *el, struct snap_port *p,
		    uint32_t ip, const struct snap_elem_args *args)
{
	memset(s, 0, sizeof(*s));
	if (p == NULL || p->n_rxq <= 1 || el->engine == NULL)
		return 0;
	s->mode = p->steer_mode;
	if (s->mode == SNAP_STEER_NONE)
		SNAP_LOG(WARNING, "pony %s: port %s (%s) spreads its %u queues by a hash we "
			 "cannot predict (no rte_flow rules, no RSS with our key): Pony engines "
			 "sharing its address may see each other's flows", el->name, p->name,
			 snap_port_kind_name(p->kind), p->n_rxq);
	if (s->mode != SNAP_STEER_FLOW && s->mode != SNAP_STEER_RSS)
		return 0;
	uint16_t q;
	for (q = 0; q < p->n_rxq && p->rxq_owner[q] != el->engine; q++)
		;
	if (q == p->n_rxq) {
		/* Fed through rings, not by the port: its flows' return traffic cannot be
		 * steered to it, so it keeps the shared port (a passive engine). */
		SNAP_LOG(NOTICE, "pony %s: engine polls no rx queue of port %s: flows use the "
			 "element's own UDP port, unsteered", el->name, p->name);
		return 0;
	}
	s->q = q;
	s->n_queues = p->n_rxq;
	s->base = p->steer_base;
	s->block = p->steer_block;
	s->ip = ip;
	const char *prefix = snap_elem_arg_str(args, "steer_ring", NULL);
	return prefix != NULL ? steer_rings(s, el, prefix, args) : 0;
}

uint16_t pony_steer_pick(void *ctx, const struct pony_ip *peer, uint16_t peer_port)
{
	struct pony_steer *s = ctx;
	uint16_t lo = (uint16_t)(s->base + s->q * s->block);
	if (s->mode == SNAP_STEER_FLOW)
		return lo; /* the rule's port: the rule, not a hash, picks the queue */
	/* The RSS mapper knows the IPv4 hash input only: IPv6 flows count as unmapped. */
	int r = pony_ip_is4(peer) ? snap_steer_pick_block4(s->ip, peer->w[3], peer_port,
							   s->n_queues, s->q, s->base, s->block)
				  : 0;
	if (r > 0)
		return (uint16_t)r;
	s->unmapped++;
	return 0;
}

int pony_steer_accept(struct pony_steer *s, struct snap_elem *el, uint16_t dport,
		      struct rte_mbuf *m)
{
	int owner = snap_steer_port_queue(s->base, s->block, s->n_queues, dport);
	if (owner < 0)
		return -ENOENT;
	if (owner == s->q)
		return 1;
	/* Another engine's flow: never ours to process (our table would open a stray flow). */
	s->misdirected++;
	if (s->ring[owner] != NULL && snap_ring_enqueue_burst(s->ring[owner], &m, 1) == 1) {
		s->handed_off++;
		return 0;
	}
	snap_elem_drop(el, m, s->ring[owner] != NULL ? SNAP_DROP_RING_FULL
						     : SNAP_DROP_PONY_MISDIRECTED);
	return 0;
}

void pony_steer_stats(const struct pony_steer *s, snap_stat_fn fn, void *ctx)
{
	if (s->n_queues == 0)
		return;
	fn(ctx, "steer_queue", s->q);
	fn(ctx, "steer_misdirected", s->misdirected);
	fn(ctx, "steer_handed_off", s->handed_off);
	fn(ctx, "steer_unmapped", s->unmapped);
}
