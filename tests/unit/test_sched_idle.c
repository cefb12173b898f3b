/* sched/ idle path with sources that cannot always wake their thread: a poll-only source
 * makes its thread back off (exponential timed looks, never a plain sleep), a source whose
 * wake-ups can be lost (SNAP_ARM_GUARDED, memif kicks) makes it sleep no longer than the
 * guard. Either way every item sent is served. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sched_synth.h"

/* A spreading group with c's engine, left idle for 100 ms; its thread's counters then. */
static struct sched_group *idle_group(struct sched_synth *c, const char *name,
				      const struct sched_params *p, struct sched_thread_info *ti)
{
	char en[32];
	snprintf(en, sizeof(en), "%s0", name);
	struct sched_group *g = sched_group_create(name, SCHED_MODE_SPREADING, p);
	assert_non_null(g);
	assert_int_equal(sched_engine_add(g, synth_engine(en, c, 64)), 0);
	synth_sleep_ns(100000000);
	assert_int_equal(sched_thread_info(g, 0, ti), 0);
	return g;
}

/* Then 20 items 3 ms apart: all served, in order. */
static void serve_and_destroy(struct sched_synth *c, struct sched_group *g)
{
	for (int i = 0; i < 20; i++) {
		synth_send(c, 1);
		synth_sleep_ns(3000000);
	}
	assert_true(synth_wait_drained(c, 2000));
	assert_int_equal(atomic_load(&c->errors), 0);
	char buf[8192];
	if (sched_group_format(g, buf, sizeof(buf)) > 0)
		printf("%s", buf);
	sched_group_destroy(g);
	synth_engine_free(c);
}

static void test_poll_only_backoff(void **state)
{
	(void)state;
	static struct sched_synth c; /* static: outlives a failed test */
	memset(&c, 0, sizeof(c));
	c.poll_only = true;
	struct sched_params p;
	sched_params_default(&p);
	p.backoff_min_ns = 2000;
	p.backoff_max_ns = 500000;
	struct sched_thread_info ti;
	struct sched_group *g = idle_group(&c, "po", &p, &ti);
	printf("idle poll-only: backoffs %lu, current step %lu ns (cap %lu ns), sleeps %lu\n",
	       (unsigned long)ti.backoffs, (unsigned long)ti.backoff_cur_ns,
	       (unsigned long)ti.backoff_max_ns, (unsigned long)ti.sleeps);
	assert_int_equal(ti.backoff_cur_ns, 500000);
	assert_true(ti.sleeps <= 1); /* only before its engine arrived: never with it */
	assert_true(ti.backoffs > 20 && ti.backoffs < 2000);
	serve_and_destroy(&c, g);
}

/* Every doorbell is lost (c.lossy): the guard alone must find every item, and the thread
 * sleeps (timer wake-ups at the guard), it does not back off. Idle, the guard doubles from
 * 2 ms (2, 4, 8, ... up to 128 ms): a few wake-ups in 100 ms, not the 50 of a fixed one. */
static void test_guarded_sleep(void **state)
{
	(void)state;
	static struct sched_synth c;
	memset(&c, 0, sizeof(c));
	c.lossy = true;
	struct sched_params p;
	sched_params_default(&p);
	p.backoff_max_ns = 2000000;
	struct sched_thread_info ti;
	struct sched_group *g = idle_group(&c, "gd", &p, &ti);
	printf("idle guarded: sleeps %lu, timer wake-ups %lu, backoffs %lu\n",
	       (unsigned long)ti.sleeps, (unsigned long)ti.timer_wakeups,
	       (unsigned long)ti.backoffs);
	assert_int_equal(ti.backoffs, 0);
	assert_true(ti.timer_wakeups >= 3 && ti.timer_wakeups <= 20); /* 2+4+8+16+32+64 ms */
	serve_and_destroy(&c, g);
}

static int setup(void **state)
{
	(void)state;
	return synth_group_setup("schedidle");
}

static int teardown(void **state)
{
	(void)state;
	return synth_group_teardown();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_poll_only_backoff),
		cmocka_unit_test(test_guarded_sleep),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
