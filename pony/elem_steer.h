/* Flow steering in the `pony` element (pony/elem_steer.c): which local UDP port each flow
 * of this engine uses so the port steers its return traffic to this engine's rx queue, and
 * what to do with a packet that arrived on another engine's queue (snap/steer.h). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "pony/transport.h"
#include "snap/element.h"
#include "snap/port.h"

struct snap_ring;

struct pony_steer {
	uint8_t mode;          /* enum snap_steer_mode of the port, as this engine uses it */
	uint16_t q, n_queues;  /* this engine's rx queue of the port and the port's count */
	uint16_t base, block;  /* the port's steered UDP port blocks */
	uint32_t ip;           /* our address (network order), for the mapper's hash */
	/* Misdirected packets go to the owning queue's engine through ring[owner] (NULL: no
	 * ring configured, they are dropped as pony_misdirected). */
	struct snap_ring *ring[SNAP_PORT_QUEUES_MAX];
	uint64_t misdirected, handed_off, unmapped;
};

/* Set s up for a pony element el on port p (NULL: no steering) from its args
 * (steer_ring = "PREFIX": rings PREFIX0, PREFIX1, ... feed each queue's engine). Logs why
 * steering is off where engines share a hash-steered port. 0, or -EINVAL after
 * snap_elem_args_error. */
int pony_steer_init(struct pony_steer *s, struct snap_elem *el, struct snap_port *p,
		    uint32_t ip, const struct snap_elem_args *args);

/* Is steering choosing our flows' local ports (a pick_port hook to install)? */
static inline bool pony_steer_active(const struct pony_steer *s)
{
	return s->n_queues > 1;
}

/* The transport's pick_port hook (ctx: the struct pony_steer): the local UDP port of a new
 * flow to peer:peer_port; 0 (the element's own port) if the mapper finds none (counted
 * unmapped; so are IPv6 peers in RSS mode: the mapper models the IPv4 hash only). */
uint16_t pony_steer_pick(void *ctx, const struct pony_ip *peer, uint16_t peer_port);

/* A packet m to our local UDP port dport (not the element's own): 1, this engine's block,
 * process it; 0, another queue's block: m was handed to that queue's engine or dropped
 * (counted); -ENOENT, no steered port (m untouched: the caller drops it). */
int pony_steer_accept(struct pony_steer *s, struct snap_elem *el, uint16_t dport,
		      struct rte_mbuf *m);

/* Counters for the element's stats. */
void pony_steer_stats(const struct pony_steer *s, snap_stat_fn fn, void *ctx);
