/* Pony's secrets against an off-path peer: a per-transport key from getrandom(), SipHash-2-4
 * over it for flow ids and ISNs nobody can predict, and the stateless handshake cookie (the
 * responder's flow id in SYN_ACK, pony/WIRE.md "Handshake") that lets a responder hold no
 * state for a peer until that peer has shown it receives what is sent to its address. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pony_tp;
struct pony_ip;

/* SipHash-2-4 (Aumasson and Bernstein) of len bytes at p under the 128-bit key k. */
uint64_t pony_siphash(const uint64_t k[2], const void *p, size_t len);

/* Fill k with 16 bytes from getrandom(). 0 or -errno (getrandom's error). */
int pony_key_init(uint64_t k[2]);

/* Next unpredictable 32-bit value of the transport (flow ids, ISNs, one-sided buffer
 * generations): SipHash of a counter under the transport's key. */
uint32_t pony_tp_rand(struct pony_tp *tp);

/* The responder's half of a stateless handshake for the peer (ip, port) whose SYN carried
 * flow id peer_id, in the cookie time slot that holds tp->now. */
struct pony_cookie {
	uint32_t local_id; /* our flow id: 2 bits of time slot, 30 bits of MAC, never 0 */
	uint32_t isn;      /* our initial sequence number */
};
void pony_cookie_make(const struct pony_tp *tp, const struct pony_ip *ip, uint16_t port,
		      uint32_t peer_id, struct pony_cookie *c);
/* Is local_id a cookie we made for (ip, port, peer_id) in the current or the previous time
 * slot? On true, c holds the cookie (the same local_id and its ISN). */
bool pony_cookie_check(const struct pony_tp *tp, const struct pony_ip *ip, uint16_t port,
		       uint32_t peer_id, uint32_t local_id, struct pony_cookie *c);
