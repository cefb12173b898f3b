/* Path MTU probing (issue 16; after RFC 8899, packetization-layer PMTU discovery). The
 * handshake agrees on the largest segment both ports' MTUs take (struct pony_flow seg_max),
 * but a link between them may carry less: a 1,500-byte bridge between two jumbo ports drops
 * every larger frame without a word (veths, bridges and switches send no "too big" back),
 * and a flow that segmented at the agreed size would retransmit the same big packets until
 * it failed. So a flow sends DATA at a 1,500-byte MTU's segment (or the agreed one if
 * smaller) until one probe of the agreed size is acked:
 *  - the probe is a sequenced NOP padded to the agreed segment, sent ahead of new data;
 *  - acked before any retransmission: the path carries it, segments go up to the agreed
 *    size;
 *  - declared lost (pony/flow.c detect_losses: a packet sent a whole srtt after it was
 *    delivered, no dupthresh, so reordering behind it does not fail it): its seq is
 *    retransmitted as a plain, small NOP (so the cumulative ack passes it), no congestion
 *    signal is taken from it, and the probe is tried again, up to PONY_PMTU_TRIES times in
 *    a row; then again after PONY_PMTU_RETRY_S (RFC 8899's 600 s).
 * A receiver of a release before probing drops the padded NOP as malformed: the probe
 * fails and the flow keeps the safe size toward it, so both mixes interoperate.
 * Process-local state (not saved): after an upgrade every flow starts over at the safe size
 * and probes again. Element key `pmtu_probe = 0` trusts the configured MTUs instead (the
 * agreed size at once, as before probing). What it does not do: a path that shrinks under
 * a flow that already went big strands that flow's big packets (a seq cannot be
 * resegmented) and the flow fails after dead_timeout_us; the next one probes again. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "pony/internal.h"

#define PONY_PMTU_TRIES 3      /* probes in a row before waiting PONY_PMTU_RETRY_S */
#define PONY_PMTU_RETRY_S 600

/* The segment flow f sends DATA (and packs one-sided requests) at now. */
static inline uint32_t pony_pmtu_seg(const struct pony_tp *tp, const struct pony_flow *f)
{
	uint32_t s = tp->pmtu[f - tp->flows].seg;
	return s ? s : f->seg_max;
}

/* A flow slot is taken: no probing state. */
void pony_pmtu_reset(struct pony_tp *tp, struct pony_flow *f);
/* f just agreed on its seg_max (handshake), or was restored established: start at the safe
 * size and probe, or take seg_max at once (nothing bigger than 1,500's, or probing off). */
void pony_pmtu_start(struct pony_tp *tp, struct pony_flow *f);
/* Every established flow after a restore. */
void pony_pmtu_restart_all(struct pony_tp *tp);
/* About to send new seq `seq` of f (window open, f has something to send): if a probe is
 * due, fill d as the probe and return true. */
bool pony_pmtu_next(struct pony_tp *tp, struct pony_flow *f, struct pony_txdesc *d,
		    uint32_t seq);
/* Payload bytes of padding seq's (re)transmission carries: the agreed segment for the
 * probe's first transmission, 0 otherwise. */
uint16_t pony_pmtu_pad(const struct pony_tp *tp, const struct pony_flow *f, uint32_t seq,
		       const struct pony_txdesc *d);
/* seq (a NOP) was delivered: the probe's verdict when it is the probe. */
void pony_pmtu_delivered(struct pony_tp *tp, struct pony_flow *f, uint32_t seq,
			 const struct pony_txdesc *d);
/* seq is the probe still awaiting its verdict (its loss says nothing about congestion). */
static inline bool pony_pmtu_is_probe(const struct pony_tp *tp, const struct pony_flow *f,
				      uint32_t seq)
{
	const struct pony_pmtu *p = &tp->pmtu[f - tp->flows];
	return p->state == PONY_PMTU_INFLIGHT && p->probe_seq == seq;
}
/* A zero-filled buffer of at least any segment's size, for the padding. */
extern const uint8_t pony_pmtu_zeros[];
