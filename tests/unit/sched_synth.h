/* Test helpers for sched/: a synthetic source element whose work is a stream of sequence
 * numbers the test feeds through an SPSC ring (checked in order on the engine), plus EAL
 * setup/teardown for unit tests. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_ring.h>

#include "sched/sched.h"

#define SYNTH_LAT_MAX 4096

struct synth_ctl {
	struct rte_ring *ring;   /* sequence numbers, SP/SC */
	int efd;                 /* the engine's wake fd, written by the producer */
	bool poll_only;          /* arm() says -ENOTSUP */
	uint64_t cost_ns;        /* busy work per item */
	uint64_t sent;           /* producer side */
	/* Engine side (read by the test with atomics). */
	_Atomic uint64_t next_seq, received, errors;
	_Atomic uint64_t t_sent_ns;          /* latency probe: when the last item was sent */
	_Atomic unsigned n_lat;
	_Atomic uint64_t timer_tsc;          /* a timer of the element (0: none) */
	_Atomic uint64_t timer_fired_ns;
	uint64_t lat[SYNTH_LAT_MAX];
	struct snap_engine *e;
};

/* EAL with a unique file prefix; cleanup removes its runtime dir. */
int synth_eal_init(const char *tag);
void synth_eal_fini(void);

uint64_t synth_now_ns(void);
void synth_sleep_ns(uint64_t ns);

/* Engine `name` with one sched_synth source fed by c (ring of ring_size). Fails the test on
 * error. */
struct snap_engine *synth_engine(const char *name, struct synth_ctl *c, unsigned ring_size);
void synth_engine_free(struct synth_ctl *c);
/* Enqueue n sequence numbers (fewer if the ring is full) and wake the engine. Returns how
 * many were sent. */
unsigned synth_send(struct synth_ctl *c, unsigned n);
/* Wait (bounded by timeout_ms) until the engine received everything sent. true if so. */
bool synth_wait_drained(struct synth_ctl *c, unsigned timeout_ms);
