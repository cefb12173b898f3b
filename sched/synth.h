/* Synthetic load for the scheduler: an engine with one "sched_synth" source element that
 * consumes sequence numbers fed by another thread through an SPSC ring, optionally burning a
 * fixed CPU cost per item and checking order. Used by the sched tests and tools/loadramp. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_ring.h>

#include "snap/engine.h"

#define SCHED_SYNTH_LAT_MAX 4096

/* Caller-allocated and zeroed; set the options, then sched_synth_start. */
struct sched_synth {
	/* Options. */
	bool poll_only;          /* the source says -ENOTSUP when asked to arm (no doorbell) */
	bool lossy;              /* it says SNAP_ARM_GUARDED, and the producer rings no doorbell
	                          * (every wake-up lost: only the group's guard finds items) */
	uint64_t cost_ns;        /* busy CPU per item */
	/* Producer side (one producer thread at a time). */
	uint64_t sent;
	/* Engine side; read with atomics. */
	_Atomic uint64_t next_seq;  /* next expected sequence number */
	_Atomic uint64_t received;
	_Atomic uint64_t errors;    /* items out of order (lost, duplicated or reordered) */
	_Atomic uint64_t t_sent_ns; /* latency probe: set by the producer (CLOCK_MONOTONIC) */
	_Atomic unsigned n_lat;     /* samples in lat[] (may exceed SCHED_SYNTH_LAT_MAX) */
	uint64_t lat[SCHED_SYNTH_LAT_MAX]; /* probe -> first poll that saw the item, ns */
	_Atomic uint64_t timer_tsc;        /* a one-shot element timer (0: none) */
	_Atomic uint64_t timer_fired_ns;
	/* Set by start. */
	struct rte_ring *ring;
	int efd;                 /* the engine's wake fd (doorbell) */
	struct snap_engine *e;   /* parked after start */
};

/* Create the ring (ring_size, power of two), the doorbell and a parked engine named name.
 * 0 or -errno (-EEXIST engine name taken, -ENOMEM, -ENOSPC, -EINVAL). */
int sched_synth_start(struct sched_synth *s, const char *name, unsigned ring_size);
/* Destroy the engine (must be parked), ring and doorbell. */
void sched_synth_stop(struct sched_synth *s);
/* Enqueue up to n sequence numbers and ring the doorbell (unless poll_only). Returns how
 * many were enqueued (the ring may be full). Producer thread only. */
unsigned sched_synth_send(struct sched_synth *s, unsigned n);
/* CLOCK_MONOTONIC in ns. */
uint64_t sched_synth_now_ns(void);
