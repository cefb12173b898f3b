/* sched/ functional tests: engines run in every mode, moves and live mode changes lose,
 * duplicate or reorder nothing, mailbox calls wake sleeping threads, parameters are checked
 * (poll-only and guarded sources: test_sched_idle.c). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <linux/capability.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <rte_cycles.h>

#include "sched/cfg.h"
#include "sched_synth.h"

/* Placement and moves as sched reports them (the engine itself is opaque here). */
static int engine_thread(const struct snap_engine *e)
{
	struct sched_engine_info si;
	sched_engine_info(e, &si);
	return si.thread;
}

static uint64_t engine_moves(const struct snap_engine *e)
{
	struct sched_engine_info si;
	sched_engine_info(e, &si);
	return si.moves;
}

struct report_find {
	const char *name;
	uint64_t value;
	int found;
};

static void report_find_fn(void *ctx, const char *elem, const char *counter, uint64_t value)
{
	struct report_find *f = ctx;
	if (elem[0] == '\0' && strcmp(counter, f->name) == 0) {
		f->value = value;
		f->found++;
	}
}

/* An engine-level counter from snap_engine_report (exactly once in the list). */
static uint64_t report_value(const struct snap_engine *e, const char *name)
{
	struct report_find f = {.name = name};
	snap_engine_report(e, report_find_fn, &f);
	assert_int_equal(f.found, 1);
	return f.value;
}

static void dump(struct sched_group *g)
{
	char buf[8192];
	if (sched_group_format(g, buf, sizeof(buf)) > 0)
		printf("%s", buf);
}

static struct sched_group *mkgroup(const char *name, enum sched_mode m)
{
	struct sched_params p;
	sched_params_default(&p);
	if (m == SCHED_MODE_DEDICATED) {
		p.n_cpus = 1;
		p.cpus[0] = 0;
	}
	struct sched_group *g = sched_group_create(name, m, &p);
	assert_non_null(g);
	return g;
}

static void test_each_mode(void **state)
{
	for (int m = SCHED_MODE_DEDICATED; m <= SCHED_MODE_COMPACTING; m++) {
		static struct sched_synth c[2]; /* static: outlives a failed test */
		memset(&c, 0, sizeof(c));
		char n[32];
		struct sched_group *g = mkgroup(sched_mode_name(m), (enum sched_mode)m);
		for (int i = 0; i < 2; i++) {
			snprintf(n, sizeof(n), "mode%d-%d", m, i);
			struct snap_engine *e = synth_engine(n, &c[i], 1024);
			assert_int_equal(sched_engine_add(g, e), 0);
			assert_int_equal(snap_engine_state(e), SNAP_ENGINE_RUNNING);
			assert_ptr_equal(sched_engine_group(e), g);
			assert_int_not_equal(engine_thread(e), -1);
			/* Adding twice is refused. */
			assert_int_equal(sched_engine_add(g, e), -EBUSY);
		}
		for (int k = 0; k < 20; k++)
			for (int i = 0; i < 2; i++) {
				assert_true(synth_send_all(&c[i], 500, 2000));
				synth_sleep_ns(200000);
			}
		for (int i = 0; i < 2; i++) {
			assert_true(synth_wait_drained(&c[i], 3000));
			assert_int_equal(c[i].sent, 10000);
			assert_int_equal(atomic_load(&c[i].errors), 0);
		}
		struct sched_group_info gi;
		assert_int_equal(sched_group_info(g, &gi), 0);
		assert_int_equal(gi.n_engines, 2);
		/* Spreading: a thread per engine; the others pack both on one thread. */
		assert_int_equal(gi.n_threads, m == SCHED_MODE_SPREADING ? 2 : 1);
		dump(g);
		struct sched_thread_info ti;
		assert_int_equal(sched_thread_info(g, 0, &ti), 0);
		assert_true(ti.busy_loops > 0);
		/* Every thread hands its CPU over between idle polls (the main thread slept
		 * 200 us at a time on that CPU's neighbours meanwhile): a dedicated one all
		 * along, the others while they spin before they sleep. */
		assert_true(ti.idle_yields <= ti.idle_loops);
		if (m == SCHED_MODE_DEDICATED)
			assert_true(ti.idle_yields > 0);
		else
			assert_true(ti.sleeps > 0);
		assert_true(ti.placement[0] != '\0');
		assert_true(ti.node >= 0); /* libnuma is there on every machine we build on */
		assert_null(strstr(ti.placement, "not applied"));
		for (int i = 0; i < 2; i++) {
			assert_int_equal(sched_engine_remove(c[i].e), 0);
			assert_int_equal(snap_engine_state(c[i].e), SNAP_ENGINE_PARKED);
			assert_int_equal(engine_thread(c[i].e), -1);
			assert_null(sched_engine_group(c[i].e));
			assert_int_equal(sched_engine_remove(c[i].e), -ENOENT);
			synth_engine_free(&c[i]);
		}
		assert_int_equal(sched_group_info(g, &gi), 0);
		assert_int_equal(gi.n_threads, 0); /* empty groups keep no thread */
		sched_group_destroy(g);
	}
}

struct feeder {
	struct sched_synth *c;
	unsigned n;
	_Atomic bool stop;
};

static void *feed(void *arg)
{
	struct feeder *f = arg;
	uint64_t end = synth_now_ns() + 20ull * 1000000000ull; /* hard bound */
	while (!atomic_load(&f->stop) && synth_now_ns() < end) {
		for (unsigned i = 0; i < f->n; i++)
			synth_send(&f->c[i], 16);
		synth_sleep_ns(50000);
	}
	return NULL;
}

static void test_moves_and_mode_changes(void **state)
{
	static struct sched_synth c[3]; /* static: outlives a failed test */
	memset(&c, 0, sizeof(c));
	struct sched_group *a = mkgroup("mv-a", SCHED_MODE_SPREADING);
	struct sched_group *b = mkgroup("mv-b", SCHED_MODE_COMPACTING);
	char n[32];
	for (int i = 0; i < 3; i++) {
		snprintf(n, sizeof(n), "mv%d", i);
		assert_int_equal(sched_engine_add(i ? b : a, synth_engine(n, &c[i], 16384)), 0);
	}
	static struct feeder f; /* static: the feeder outlives a failed test */
	f = (struct feeder){.c = c, .n = 3};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, feed, &f), 0);
	static const enum sched_mode modes[] = {SCHED_MODE_COMPACTING, SCHED_MODE_DEDICATED,
						SCHED_MODE_SPREADING};
	uint64_t moves = 0, move_max = 0, mode_max = 0;
	for (int round = 0; round < 12; round++) {
		synth_sleep_ns(20000000);
		struct snap_engine *e = c[round % 3].e;
		struct sched_group *to = sched_engine_group(e) == a ? b : a;
		uint64_t t0 = synth_now_ns();
		assert_int_equal(sched_engine_move(e, to), 0);
		uint64_t dt = synth_now_ns() - t0;
		move_max = dt > move_max ? dt : move_max;
		assert_ptr_equal(sched_engine_group(e), to);
		moves++;
		synth_sleep_ns(20000000);
		struct sched_group *g = round & 1 ? a : b;
		struct sched_group_info gi;
		sched_group_info(g, &gi);
		if (gi.mode != modes[round % 3]) /* same mode: a no-op */
			moves += gi.n_engines;
		t0 = synth_now_ns();
		assert_int_equal(sched_group_set_mode(g, modes[round % 3]), 0);
		dt = synth_now_ns() - t0;
		mode_max = dt > mode_max ? dt : mode_max;
		sched_group_info(g, &gi);
		assert_int_equal(gi.mode, modes[round % 3]);
	}
	/* Return both groups to sleeping modes before draining. */
	struct sched_group_info ga, gb;
	sched_group_info(a, &ga);
	sched_group_info(b, &gb);
	moves += (ga.mode != SCHED_MODE_SPREADING ? ga.n_engines : 0) +
		 (gb.mode != SCHED_MODE_COMPACTING ? gb.n_engines : 0);
	assert_int_equal(sched_group_set_mode(a, SCHED_MODE_SPREADING), 0);
	assert_int_equal(sched_group_set_mode(b, SCHED_MODE_COMPACTING), 0);
	atomic_store(&f.stop, true);
	pthread_join(th, NULL);
	uint64_t total = 0, emoves = 0;
	for (int i = 0; i < 3; i++) {
		assert_true(synth_wait_drained(&c[i], 5000));
		printf("engine %d: sent %lu received %lu order errors %lu moves %lu\n", i,
		       (unsigned long)c[i].sent, (unsigned long)atomic_load(&c[i].received),
		       (unsigned long)atomic_load(&c[i].errors), (unsigned long)engine_moves(c[i].e));
		assert_int_equal(atomic_load(&c[i].received), c[i].sent);
		assert_int_equal(atomic_load(&c[i].errors), 0);
		assert_int_equal(atomic_load(&c[i].next_seq), c[i].sent);
		total += c[i].sent;
		emoves += engine_moves(c[i].e);
	}
	printf("longest engine move %.3f ms, longest mode change %.3f ms\n", move_max / 1e6,
	       mode_max / 1e6);
	assert_true(move_max < 1000000000ull && mode_max < 2000000000ull);
	assert_true(total > 1000);
	printf("emoves %lu moves %lu\n", (unsigned long)emoves, (unsigned long)moves);
	assert_int_equal(emoves, moves); /* every move and re-placement counted once */
	dump(a);
	dump(b);
	sched_group_destroy(a);
	sched_group_destroy(b);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(snap_engine_state(c[i].e), SNAP_ENGINE_PARKED);
		/* Out of every group, the engine keeps its moves, and its report says so. */
		assert_int_equal(report_value(c[i].e, "moves"), engine_moves(c[i].e));
		synth_engine_free(&c[i]);
	}
}

static int count_closure(struct snap_engine *e, void *arg)
{
	(*(int *)arg)++;
	return 7;
}

static void test_mbox_wakes_sleeper(void **state)
{
	static struct sched_synth c; /* static: outlives a failed test */
	memset(&c, 0, sizeof(c));
	struct sched_group *g = mkgroup("mbox", SCHED_MODE_SPREADING);
	assert_int_equal(sched_engine_add(g, synth_engine("mbox0", &c, 64)), 0);
	int runs = 0;
	for (int i = 0; i < 50; i++) {
		synth_sleep_ns(2000000); /* long enough for the thread to go to sleep */
		uint64_t t0 = synth_now_ns();
		assert_int_equal(snap_engine_call(c.e, count_closure, &runs, 1000), 7);
		assert_true(synth_now_ns() - t0 < 500000000ull);
	}
	assert_int_equal(runs, 50);
	struct sched_thread_info ti;
	assert_int_equal(sched_thread_info(g, 0, &ti), 0);
	printf("sleeps %lu ctl wake-ups %lu\n", (unsigned long)ti.sleeps,
	       (unsigned long)ti.ctl_wakeups);
	assert_true(ti.sleeps >= 10);
	assert_true(ti.ctl_wakeups >= 10);
	sched_group_destroy(g);
	synth_engine_free(&c);
}

static void test_params(void **state)
{
	struct sched_params p;
	sched_params_default(&p);
	p.backoff_min_ns = 10;
	p.backoff_max_ns = 5;
	assert_null(sched_group_create("bad", SCHED_MODE_SPREADING, &p));
	assert_int_equal(errno, EINVAL);
	sched_params_default(&p);
	p.n_cpus = 1;
	p.cpus[0] = 100000;
	assert_null(sched_group_create("bad", SCHED_MODE_DEDICATED, &p));
	assert_null(sched_group_create("bad", (enum sched_mode)9, NULL));
	assert_null(sched_group_create("", SCHED_MODE_SPREADING, NULL));
	sched_params_default(&p);
	p.dl_runtime_ns = 2000000;
	p.dl_period_ns = 1000000;
	assert_null(sched_group_create("bad", SCHED_MODE_SPREADING, &p));
	/* By name (config and RPC path). */
	sched_params_default(&p);
	assert_int_equal(sched_params_set(&p, "cpus", "0,2-3"), 0);
	assert_int_equal(p.n_cpus, 3);
	assert_int_equal(p.cpus[2], 3);
	assert_int_equal(sched_params_set(&p, "max_threads", "8"), 0);
	assert_int_equal(p.max_threads, 8);
	assert_int_equal(sched_params_set(&p, "qdelay_target_ns", "20000"), 0);
	assert_int_equal(p.qdelay_target_ns, 20000);
	assert_int_equal(p.idle_yield_polls, 4);
	/* A 4-byte field is written and read as 4 bytes: its neighbours keep their values. */
	assert_int_equal(sched_params_set(&p, "idle_yield_polls", "7"), 0);
	assert_int_equal(p.idle_yield_polls, 7);
	assert_int_equal(p.max_threads, 8);
	for (unsigned k = 0;; k++) {
		const char *key;
		uint64_t val;
		assert_int_equal(sched_params_get(&p, k, &key, &val), 0);
		if (strcmp(key, "idle_yield_polls") == 0) {
			assert_int_equal(val, 7);
			break;
		}
	}
	assert_int_equal(sched_params_set(&p, "idle_yield_polls", "0"), 0); /* never */
	{
		struct sched_params q;
		sched_params_default(&q);
		assert_int_equal(sched_params_set(&q, "idle_yield_polls", "0"), 0);
		struct sched_group *y0 = sched_group_create("y0", SCHED_MODE_DEDICATED, &q);
		struct sched_group_info yi;
		assert_non_null(y0);
		assert_int_equal(sched_group_info(y0, &yi), 0);
		assert_int_equal(yi.params.idle_yield_polls, 0); /* 0 stays 0: not a default */
		sched_group_destroy(y0);
	}
	assert_int_equal(sched_params_set(&p, "max_threads", "65"), -EINVAL);
	assert_int_equal(sched_params_set(&p, "max_threads", "-1"), -EINVAL);
	assert_int_equal(sched_params_set(&p, "cpus", "3-1"), -EINVAL);
	assert_int_equal(sched_params_set(&p, "cpus", "0,x"), -EINVAL);
	assert_int_equal(sched_params_set(&p, "nope", "1"), -ENOENT);
	struct sched_group *g = sched_group_create("ok", SCHED_MODE_SPREADING, NULL);
	assert_non_null(g);
	assert_null(sched_group_create("ok", SCHED_MODE_SPREADING, NULL));
	assert_int_equal(errno, EEXIST);
	assert_ptr_equal(sched_group_find("ok"), g);
	assert_int_equal(sched_mode_parse("compacting"), SCHED_MODE_COMPACTING);
	assert_int_equal(sched_mode_parse("nope"), -EINVAL);
	assert_int_equal(sched_group_set_mode(g, (enum sched_mode)7), -EINVAL);
	sched_group_destroy(g);
	sched_group_destroy(NULL);
	/* The synthetic source refuses a harness pointer it did not create (config input). */
	struct snap_engine *e = snap_engine_create("bogus", SOCKET_ID_ANY);
	assert_non_null(e);
	struct snap_elem_args *a = snap_elem_args_new();
	assert_int_equal(snap_elem_args_set(a, "harness", "12345"), 0);
	char err[160];
	assert_int_equal(snap_engine_add_elem(e, "sched_synth", "s", a, err, sizeof(err)),
			 -EINVAL);
	printf("%s\n", err);
	snap_elem_args_free(a);
	snap_engine_destroy(e);
	assert_int_equal(sched_engine_remove(NULL), -ENOENT);
}

static void test_deadline_report(void **state)
{
	static struct sched_synth c; /* static: outlives a failed test */
	memset(&c, 0, sizeof(c));
	struct sched_params p;
	sched_params_default(&p);
	p.dl_runtime_ns = 200000;
	p.dl_period_ns = 1000000;
	struct sched_group *g = sched_group_create("dl", SCHED_MODE_SPREADING, &p);
	assert_non_null(g);
	assert_int_equal(sched_engine_add(g, synth_engine("dl0", &c, 1024)), 0);
	struct sched_group_info gi;
	assert_int_equal(sched_group_info(g, &gi), 0);
	printf("deadline: %s\n", gi.deadline);
	assert_true(strncmp(gi.deadline, "on (", 4) == 0 ||
		    strncmp(gi.deadline, "unavailable (", 13) == 0);
	for (int i = 0; i < 10; i++) {
		synth_send(&c, 100);
		synth_sleep_ns(1000000);
	}
	assert_true(synth_wait_drained(&c, 3000));
	assert_int_equal(atomic_load(&c.errors), 0);
	sched_group_destroy(g);
	synth_engine_free(&c);
}

static int set_timer_closure(struct snap_engine *e, void *arg)
{
	struct sched_synth *c = arg;
	atomic_store(&c->timer_tsc, rte_rdtsc() + rte_get_tsc_hz() / 100); /* +10 ms */
	return 0;
}

/* A sleeping engine wakes for its element's timer (timerfd at snap_engine_next_deadline). */
static void test_timer_wakes_sleeper(void **state)
{
	static struct sched_synth c; /* static: outlives a failed test */
	memset(&c, 0, sizeof(c));
	struct sched_params p;
	sched_params_default(&p);
	p.n_cpus = 1;
	p.cpus[0] = 1; /* spreading threads confined to a CPU list */
	struct sched_group *g = sched_group_create("timer", SCHED_MODE_SPREADING, &p);
	assert_non_null(g);
	assert_int_equal(sched_engine_add(g, synth_engine("timer0", &c, 64)), 0);
	struct sched_thread_info ti;
	assert_int_equal(sched_thread_info(g, 0, &ti), 0);
	printf("placement: %s\n", ti.placement);
	assert_non_null(strstr(ti.placement, " cpus 1"));
	/* Five timers that each wake the sleeping thread. The thread is awake until the
	 * mailbox call that set the timer has returned to its poster (it yields while a call
	 * is in flight); a poster descheduled past the deadline on a loaded machine leaves it
	 * awake when the timer is due, and the timer then fires from a poll, on time but
	 * with no timer wake-up. Such a round proves nothing about the wake-up: it is run
	 * again, up to 25 rounds in all. Every round's timer must fire on time. */
	unsigned woken = 0, rounds = 0;
	for (; woken < 5 && rounds < 25; rounds++) {
		synth_sleep_ns(5000000);
		assert_int_equal(sched_thread_info(g, 0, &ti), 0);
		uint64_t tw0 = ti.timer_wakeups;
		atomic_store(&c.timer_fired_ns, 0);
		uint64_t t0 = synth_now_ns();
		assert_int_equal(snap_engine_call(c.e, set_timer_closure, &c, 1000), 0);
		uint64_t end = t0 + 1000000000ull, fired;
		while ((fired = atomic_load(&c.timer_fired_ns)) == 0 && synth_now_ns() < end)
			synth_sleep_ns(1000000);
		assert_true(fired != 0);
		assert_int_equal(sched_thread_info(g, 0, &ti), 0);
		bool by_timer = ti.timer_wakeups > tw0;
		woken += by_timer;
		printf("timer due in 10 ms fired after %.3f ms%s\n", (double)(fired - t0) / 1e6,
		       by_timer ? "" : " (thread awake at the deadline: round repeated)");
		assert_true(fired - t0 >= 9000000 && fired - t0 < 500000000);
	}
	printf("%u timer wake-ups in %u rounds\n", woken, rounds);
	assert_true(woken >= 5);
	sched_group_destroy(g);
	synth_engine_free(&c);
}

static int add_fd_closure(struct snap_engine *e, void *arg)
{
	return snap_engine_add_wake_fd(e, *(int *)arg);
}

/* Wake fds added while the engine runs are picked up (wake_gen) before the next sleep. */
static void test_wake_fd_added_live(void **state)
{
	static struct sched_synth c; /* static: outlives a failed test */
	memset(&c, 0, sizeof(c));
	struct sched_group *g = mkgroup("wfd", SCHED_MODE_COMPACTING);
	assert_int_equal(sched_engine_add(g, synth_engine("wfd0", &c, 64)), 0);
	int fd2 = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(fd2 >= 0);
	synth_sleep_ns(5000000); /* let the thread sleep once on the original fd set */
	assert_int_equal(snap_engine_call(c.e, add_fd_closure, &fd2, 1000), 0);
	for (int i = 0; i < 10; i++) {
		synth_sleep_ns(3000000);
		/* Enqueue without the usual doorbell; ring only the new fd. */
		assert_int_equal(rte_ring_enqueue(c.ring, (void *)(uintptr_t)c.sent), 0);
		c.sent++;
		uint64_t one = 1;
		assert_int_equal(write(fd2, &one, sizeof(one)), sizeof(one));
		assert_true(synth_wait_drained(&c, 1000));
	}
	assert_int_equal(atomic_load(&c.errors), 0);
	dump(g);
	sched_group_destroy(g);
	synth_engine_free(&c);
	close(fd2);
}

/* Drop (or restore) CAP_SYS_NICE in this thread's effective set; new threads inherit it. */
static void cap_sys_nice(bool on)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];
	assert_int_equal(syscall(SYS_capget, &h, d), 0);
	if (on)
		d[0].effective |= 1u << CAP_SYS_NICE;
	else
		d[0].effective &= ~(1u << CAP_SYS_NICE);
	assert_int_equal(syscall(SYS_capset, &h, d), 0);
}

static void test_deadline_without_cap(void **state)
{
	static struct sched_synth c; /* static: outlives a failed test */
	memset(&c, 0, sizeof(c));
	struct sched_params p;
	sched_params_default(&p);
	p.dl_runtime_ns = 200000;
	p.dl_period_ns = 1000000;
	cap_sys_nice(false);
	struct sched_group *g = sched_group_create("nocap", SCHED_MODE_SPREADING, &p);
	assert_non_null(g);
	int r = sched_engine_add(g, synth_engine("nocap0", &c, 1024));
	cap_sys_nice(true);
	assert_int_equal(r, 0);
	struct sched_group_info gi;
	assert_int_equal(sched_group_info(g, &gi), 0);
	printf("deadline without CAP_SYS_NICE: %s\n", gi.deadline);
	assert_string_equal(gi.deadline, "unavailable (no CAP_SYS_NICE)");
	synth_send(&c, 100);
	assert_true(synth_wait_drained(&c, 2000)); /* still runs, as SCHED_OTHER */
	sched_group_destroy(g);
	synth_engine_free(&c);
}

/* Groups from a (hand-built) parsed config: parameters by name, errors with the group's name
 * and line, engines started in their groups (or the default group). */
static void test_cfg_apply(void **state)
{
	static struct snap_config cfg;
	static struct sched_synth c[2];
	memset(&cfg, 0, sizeof(cfg));
	memset(c, 0, sizeof(c));
	char err[256] = "";
	struct sched_params p;
	struct snap_group_cfg *g = &cfg.groups[cfg.n_groups++];
	snprintf(g->name, sizeof(g->name), "cg");
	snprintf(g->mode, sizeof(g->mode), "compacting");
	g->line = 12;
	snprintf(g->kv[0].key, sizeof(g->kv[0].key), "qdelay_target_ns");
	snprintf(g->kv[0].val, sizeof(g->kv[0].val), "20000");
	snprintf(g->kv[1].key, sizeof(g->kv[1].key), "bogus");
	snprintf(g->kv[1].val, sizeof(g->kv[1].val), "1");
	g->n_kv = 2;
	assert_int_equal(sched_cfg_params(g, &p, err, sizeof(err)), -EINVAL);
	printf("%s\n", err);
	assert_non_null(strstr(err, "'cg' (line 12): unknown parameter 'bogus'"));
	g->n_kv = 1;
	assert_int_equal(sched_cfg_params(g, &p, err, sizeof(err)), 0);
	assert_int_equal(p.qdelay_target_ns, 20000);
	snprintf(g->kv[1].key, sizeof(g->kv[1].key), "qdelay_low_ns");
	snprintf(g->kv[1].val, sizeof(g->kv[1].val), "30000"); /* above the target */
	g->n_kv = 2;
	assert_int_equal(sched_cfg_params(g, &p, err, sizeof(err)), -EINVAL);
	printf("%s\n", err);
	g->n_kv = 1;

	snprintf(cfg.engines[0].name, sizeof(cfg.engines[0].name), "cfg0");
	snprintf(cfg.engines[0].group, sizeof(cfg.engines[0].group), "cg");
	snprintf(cfg.engines[1].name, sizeof(cfg.engines[1].name), "cfg1"); /* no group */
	cfg.n_engines = 2;
	synth_engine("cfg0", &c[0], 256);
	synth_engine("cfg1", &c[1], 256);
	assert_int_equal(sched_cfg_apply(&cfg, err, sizeof(err)), 0);
	struct sched_group *cg = sched_group_find("cg");
	struct sched_group *dg = sched_group_find(SCHED_CFG_DEFAULT_GROUP);
	assert_non_null(cg);
	assert_non_null(dg);
	assert_ptr_equal(sched_engine_group(c[0].e), cg);
	assert_ptr_equal(sched_engine_group(c[1].e), dg);
	struct sched_group_info gi;
	assert_int_equal(sched_group_info(cg, &gi), 0);
	assert_int_equal(gi.mode, SCHED_MODE_COMPACTING);
	assert_int_equal(gi.params.qdelay_target_ns, 20000);
	for (int i = 0; i < 2; i++) {
		synth_send(&c[i], 100);
		assert_true(synth_wait_drained(&c[i], 2000));
	}
	sched_group_destroy(cg);
	sched_group_destroy(dg);
	for (int i = 0; i < 2; i++)
		synth_engine_free(&c[i]);
}

/* Engines linked onto a thread that is going to sleep or asleep (compacting: one thread for
 * all) must be polled and woken by their own doorbell: add, feed once, remove, many times. */
static void test_link_while_sleeping(void **state)
{
	static struct sched_synth c[2];
	memset(c, 0, sizeof(c));
	struct sched_group *g = mkgroup("lws", SCHED_MODE_COMPACTING);
	assert_int_equal(sched_engine_add(g, synth_engine("lws0", &c[0], 64)), 0);
	synth_engine("lws1", &c[1], 64);
	for (unsigned i = 0; i < 200; i++) {
		synth_sleep_ns((i % 4) * 20000); /* vary where the thread is in its idle path */
		assert_int_equal(sched_engine_add(g, c[1].e), 0);
		synth_sleep_ns((i % 3) * 30000);
		synth_send(&c[1], 1);
		assert_true(synth_wait_drained(&c[1], 1000));
		assert_int_equal(sched_engine_remove(c[1].e), 0);
	}
	assert_int_equal(atomic_load(&c[1].errors), 0);
	sched_group_destroy(g);
	for (int i = 0; i < 2; i++)
		synth_engine_free(&c[i]);
}

/* A move the target cannot take (its only thread is full) leaves the engine running in its
 * old group. */
static void test_move_failure_restores(void **state)
{
	enum { N = SCHED_THREAD_ENGINES_MAX };
	static struct sched_synth c[N + 1];
	memset(c, 0, sizeof(c));
	char n[32];
	struct sched_params p;
	sched_params_default(&p);
	p.n_cpus = 1;
	p.cpus[0] = 0;
	struct sched_group *full = sched_group_create("full", SCHED_MODE_DEDICATED, &p);
	struct sched_group *src = mkgroup("src", SCHED_MODE_SPREADING);
	assert_non_null(full);
	for (int i = 0; i < N; i++) {
		snprintf(n, sizeof(n), "full%d", i);
		assert_int_equal(sched_engine_add(full, synth_engine(n, &c[i], 64)), 0);
	}
	struct snap_engine *e = synth_engine("mover", &c[N], 64);
	assert_int_equal(sched_engine_add(src, e), 0);
	assert_int_equal(sched_engine_move(e, full), -ENOSPC);
	assert_ptr_equal(sched_engine_group(e), src);
	assert_int_equal(snap_engine_state(e), SNAP_ENGINE_RUNNING);
	synth_send(&c[N], 10);
	assert_true(synth_wait_drained(&c[N], 1000));
	struct sched_group_info gi;
	assert_int_equal(sched_group_info(src, &gi), 0);
	assert_int_equal(gi.n_engines, 1);
	assert_int_equal(gi.n_threads, 1);
	sched_group_destroy(full); /* stops the polling thread at once */
	sched_group_destroy(src);
	for (int i = 0; i <= N; i++)
		synth_engine_free(&c[i]);
}

static int setup(void **state)
{
	return synth_group_setup("sched");
}

static int teardown(void **state)
{
	return synth_group_teardown();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_each_mode),
		cmocka_unit_test(test_mbox_wakes_sleeper),
		cmocka_unit_test(test_moves_and_mode_changes),
		cmocka_unit_test(test_deadline_report),
		cmocka_unit_test(test_deadline_without_cap),
		cmocka_unit_test(test_timer_wakes_sleeper),
		cmocka_unit_test(test_wake_fd_added_live),
		cmocka_unit_test(test_cfg_apply),
		cmocka_unit_test(test_link_while_sleeping),
		cmocka_unit_test(test_move_failure_restores),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
