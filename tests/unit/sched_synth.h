/* Test helpers for sched/: cmocka-asserting wrappers around the synthetic load harness
 * (sched/synth.h). EAL setup is testlib.h's. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "sched/sched.h"
#include "sched/synth.h"

void synth_sleep_ns(uint64_t ns);
#define synth_now_ns sched_synth_now_ns
#define synth_send sched_synth_send
#define synth_engine_free sched_synth_stop

/* cmocka group setup/teardown shared by the sched tests: EAL under prefix `name` (testlib.h)
 * and sched_init; then sched_fini and EAL clean-up with its runtime dir. */
int synth_group_setup(const char *name);
int synth_group_teardown(void);

/* Start harness c as engine `name` (fails the test on error); returns its parked engine. */
struct snap_engine *synth_engine(const char *name, struct sched_synth *c, unsigned ring_size);
/* Send n items, waiting for ring space (bounded by timeout_ms). true if all were sent. */
bool synth_send_all(struct sched_synth *c, unsigned n, unsigned timeout_ms);
/* Wait (bounded by timeout_ms) until the engine received everything sent. true if so. */
bool synth_wait_drained(struct sched_synth *c, unsigned timeout_ms);
