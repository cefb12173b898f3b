/* Pony flows, transmit side (flowtx.c): packet building, the per-peer transmit batch,
 * retransmission, pacing, and the timers (RTO, keep-alive, dead peer, SYN retry, idle FIN). */
#pragma once

#include "pony/internal.h"

/* Send an unsequenced packet (SYN, SYN_ACK, ACK, PROBE, FIN, FIN_ACK) on f, with the
 * current ack/SACK/echo. 0 or -ENOBUFS (no mbuf, counted). */
int pony_flowtx_send_unseq(struct pony_tp *tp, struct pony_flow *f, uint8_t type);
/* Answer packet `in` that matches no flow (or not its ids): an RST carrying its ids swapped
 * and seq = its ack, so only the flow that sent it can act on it (pony/WIRE.md "Resets").
 * Rate-limited with the other stateless replies (PONY_RST_PER_MS per millisecond). */
void pony_flowtx_send_rst(struct pony_tp *tp, const struct pony_ip *ip, uint16_t port,
			  const struct pony_hdr *in);
/* Stateless SYN_ACK to (ip, port) answering `in` (its SYN, or a packet that shows it got
 * our SYN_ACK but whose handshake ACK we never saw), carrying cookie c. Rate-limited. */
void pony_flowtx_send_cookie(struct pony_tp *tp, const struct pony_ip *ip, uint16_t port,
			     const struct pony_hdr *in, const struct pony_cookie *c);
/* Challenge ACK on established flow f (unexpected SYN, RST with an inexact seq): our
 * current ids and ack, so a restarted peer can answer with an exact RST. Rate-limited. */
void pony_flowtx_challenge(struct pony_tp *tp, struct pony_flow *f);
/* The initiator's handshake ACK (flag HS): our ISN and window, to the responder's cookie.
 * 0 or -ENOBUFS. */
int pony_flowtx_send_hs(struct pony_tp *tp, struct pony_flow *f);
/* Hand the batched packets to the xmit hook. */
void pony_flowtx_flush(struct pony_tp *tp);
/* Free a flow that holds nothing (no streams, nothing in flight), without upcalls. */
void pony_flow_release(struct pony_tp *tp, struct pony_flow *f);
/* Recompute tp->flows_hi from the slots' states (after a restore). */
void pony_flow_recount(struct pony_tp *tp);
/* Fail a flow: every stream and pending message completes with err (upcalls). */
void pony_flow_fail(struct pony_tp *tp, struct pony_flow *f, int err);
