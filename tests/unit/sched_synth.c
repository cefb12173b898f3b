/* Harness helpers for the sched/ unit tests (see sched_synth.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sched_synth.h"
#include "testlib.h"

void synth_sleep_ns(uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
	nanosleep(&ts, NULL);
}

struct snap_engine *synth_engine(const char *name, struct sched_synth *c, unsigned ring_size)
{
	int r = sched_synth_start(c, name, ring_size);
	if (r < 0)
		fprintf(stderr, "sched_synth_start(%s): %s\n", name, strerror(-r));
	assert_int_equal(r, 0);
	return c->e;
}

bool synth_wait_drained(struct sched_synth *c, unsigned timeout_ms)
{
	uint64_t end = synth_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	while (atomic_load_explicit(&c->received, memory_order_acquire) < c->sent) {
		if (synth_now_ns() > end)
			return false;
		synth_sleep_ns(200000);
	}
	return true;
}

bool synth_send_all(struct sched_synth *c, unsigned n, unsigned timeout_ms)
{
	uint64_t end = synth_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	while ((n -= synth_send(c, n)) > 0) {
		if (synth_now_ns() > end)
			return false;
		synth_sleep_ns(100000);
	}
	return true;
}

int synth_group_setup(const char *name)
{
	if (snap_test_eal_init(name, 128) < 0)
		return -1;
	return sched_init();
}

int synth_group_teardown(void)
{
	sched_fini();
	snap_test_eal_fini();
	return 0;
}
