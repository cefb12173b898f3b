/* Pony flows, transmit side (flowtx.c): packet building, the per-peer transmit batch,
 * retransmission, pacing, and the timers (RTO, keep-alive, dead peer, SYN retry, idle FIN). */
#pragma once

#include "pony/internal.h"

/* Send an unsequenced packet (SYN, SYN_ACK, ACK, PROBE, FIN, FIN_ACK) on f, with the
 * current ack/SACK/echo. 0 or -ENOBUFS (no mbuf, counted). */
int pony_flowtx_send_unseq(struct pony_tp *tp, struct pony_flow *f, uint8_t type);
/* Answer a packet for an unknown flow: RST carrying our_id (may be 0: then 1 is used) and
 * addressed to their_id. Rate-limited (PONY_RST_PER_MS per millisecond) so a flood of stray
 * packets cannot turn us into a reflector. */
void pony_flowtx_send_rst(struct pony_tp *tp, uint32_t ip, uint16_t port, uint32_t our_id,
			  uint32_t their_id);
/* Hand the batched packets to the xmit hook. */
void pony_flowtx_flush(struct pony_tp *tp);
/* Free a flow that holds nothing (no streams, nothing in flight), without upcalls. */
void pony_flow_release(struct pony_tp *tp, struct pony_flow *f);
/* Recompute tp->flows_hi from the slots' states (after a restore). */
void pony_flow_recount(struct pony_tp *tp);
/* Fail a flow: every stream and pending message completes with err (upcalls). */
void pony_flow_fail(struct pony_tp *tp, struct pony_flow *f, int err);
