/* Delay-based congestion control for Pony flows, after Swift (SIGCOMM'20): keep fabric delay
 * near a target with additive increase below it and a bounded multiplicative decrease above,
 * at most once per RTT; windows below one packet are enforced by pacing. */
#pragma once

#include <stdint.h>

struct pony_cc_params {
	uint64_t target_tsc;   /* target fabric delay: base + hops * per_hop, in TSC ticks */
	/* The flow's smallest fabric delay so far (the path's fixed delay: propagation, a
	 * slow hop) is added to the target, up to this many ticks; 0 keeps the target fixed.
	 * Without it a path whose fixed delay exceeds the target reads as congested on every
	 * ack and the window sinks to cwnd_min (pony_kernel_impaired showed it). */
	uint64_t base_max_tsc;
	double ai;             /* additive increase, packets per RTT */
	double beta;           /* decrease per unit of relative overshoot */
	double max_mdf;        /* largest decrease factor per event (0.5: halve at most) */
	double cwnd_min, cwnd_max;
};

/* Per-flow CC state: plain values, serializable as is. */
struct pony_cc {
	double cwnd;               /* packets; < 1 means paced */
	uint64_t last_decrease_tsc;
	uint64_t last_delay_tsc;   /* most recent fabric delay sample */
	uint64_t min_delay_tsc;
	uint64_t decreases;
	uint64_t samples;
	double cwnd_undo;          /* cwnd before the current timeout episode; 0 = none */
	uint64_t undos;            /* spurious timeouts undone */
};

void pony_cc_init(struct pony_cc *cc, const struct pony_cc_params *p, double cwnd_init);
/* An ack covering `acked` packets carried a fabric delay sample `delay` (RTT minus the
 * receiver's hold time); srtt bounds how often cwnd may decrease. */
void pony_cc_on_ack(struct pony_cc *cc, const struct pony_cc_params *p, uint32_t acked,
		    uint64_t delay, uint64_t srtt, uint64_t now);
/* Loss signals: fast retransmit (decrease by max_mdf at most once per RTT) and retransmit
 * timeout (after `consecutive` timeouts in a row, fall to cwnd_min). */
void pony_cc_on_loss(struct pony_cc *cc, const struct pony_cc_params *p, uint64_t srtt,
		     uint64_t now);
void pony_cc_on_timeout(struct pony_cc *cc, const struct pony_cc_params *p, unsigned consecutive,
			uint64_t now);
/* The timeout episode that began at the first of `consecutive` timeouts was spurious (an ack
 * for a transmission sent before it arrived): the window goes back to what it was before. */
void pony_cc_undo_timeout(struct pony_cc *cc);
/* The target this flow's delay samples are held to: target_tsc plus its base delay. */
uint64_t pony_cc_target(const struct pony_cc *cc, const struct pony_cc_params *p);
/* Pacing gap between packets when cwnd < 1, 0 when window-limited: one packet per
 * rtt / cwnd, where rtt is srtt but at most the delay target. A window below one packet
 * means "this share of a path held at its target delay"; dividing an srtt that the very
 * delay being fought has inflated would punish twice (a host whose threads wait for a CPU
 * had srtt at 10 ms, so cwnd_min paced one packet a second and an RPC took 26 s). */
uint64_t pony_cc_pacing_gap(const struct pony_cc *cc, const struct pony_cc_params *p,
			    uint64_t srtt);
