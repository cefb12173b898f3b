/* Unit tests of the shared-memory contract: the layout (alignment, no overlap, header
 * checks) and the SPSC rings as implemented by libpony (app side) and the daemon's session
 * code: full/empty, wraparound of the free-running uint32 indexes, and a two-thread stress
 * where both sides sleep on their eventfds (doorbells), bounded in count and time, that
 * fails on any lost wakeup or reordered completion. */
#include <errno.h>
#include <stdatomic.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include "pony_app_fix.h"

static void test_layout(void **state)
{
	const uint32_t sizes[] = {16, 64, 1024, 65536};
	const uint64_t bufs[] = {1, 4096, 5000, 64ull << 20};
	for (unsigned i = 0; i < 4; i++) {
		for (unsigned j = 0; j < 4; j++) {
			struct pony_shm_hdr h = {0};
			assert_int_equal(pony_shm_layout(&h, sizes[i], sizes[3 - i], bufs[j]), 0);
			assert_int_equal(h.cmd_ring_off % 64, 0);
			assert_int_equal(h.cpl_ring_off % 64, 0);
			assert_int_equal(h.cmd_off % 64, 0);
			assert_int_equal(h.cpl_off % 64, 0);
			assert_int_equal(h.buf_off % 4096, 0);
			assert_true(h.cmd_ring_off >= sizeof(h));
			assert_true(h.cpl_ring_off >= h.cmd_ring_off + sizeof(struct pony_shm_ring));
			assert_true(h.cmd_off >= h.cpl_ring_off + sizeof(struct pony_shm_ring));
			assert_true(h.cpl_off >= h.cmd_off + (uint64_t)h.cmd_entries * 64);
			assert_true(h.buf_off >= h.cpl_off + (uint64_t)h.cpl_entries * 64);
			assert_true(h.buf_size >= bufs[j]);
			assert_int_equal(h.region_size, h.buf_off + h.buf_size);
			assert_int_equal(pony_shm_check(&h, h.region_size), 0);
			/* Any tampering is caught. */
			struct pony_shm_hdr t = h;
			t.magic ^= 1;
			assert_int_equal(pony_shm_check(&t, h.region_size), -EPROTO);
			t = h;
			t.version++;
			assert_int_equal(pony_shm_check(&t, h.region_size), -EPROTO);
			t = h;
			t.buf_off += 64;
			assert_int_equal(pony_shm_check(&t, h.region_size), -EPROTO);
			t = h;
			t.cmd_entries = 3;
			assert_int_equal(pony_shm_check(&t, h.region_size), -EPROTO);
			assert_int_equal(pony_shm_check(&h, h.region_size - 1), -EPROTO);
		}
	}
	struct pony_shm_hdr h = {0};
	assert_int_equal(pony_shm_layout(&h, 8, 16, 4096), -EINVAL);
	assert_int_equal(pony_shm_layout(&h, 24, 16, 4096), -EINVAL);
	assert_int_equal(pony_shm_layout(&h, 16, 1u << 17, 4096), -EINVAL);
	assert_int_equal(pony_shm_layout(&h, 16, 16, 0), -EINVAL);
	/* One writer per cache line: producer and consumer fields never share one. */
	assert_int_equal(offsetof(struct pony_shm_ring, prod) / 64,
			 offsetof(struct pony_shm_ring, prod.tail) / 64);
	assert_true(offsetof(struct pony_shm_ring, cons.head) / 64 !=
		    offsetof(struct pony_shm_ring, prod.tail) / 64);
	(void)state;
}

/* Commands that complete immediately (revoking an unknown region), tagged by sequence. */
static int push_seq(struct pony_app *a, uint64_t tag)
{
	return pony_region_revoke(a, 1, tag);
}

static void test_full_empty(void **state)
{
	struct app_fix x;
	fix_init(&x, "t_fe", 1, NULL);
	struct pony_app *a = x.app[0];
	struct pony_completion c[64];
	assert_int_equal(fix_run(&x, 0, c, 64), 0); /* empty both ways */
	unsigned n = x.s[0]->hdr.cmd_entries;
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(push_seq(a, i), 0);
	assert_int_equal(push_seq(a, 999), -EAGAIN); /* full */
	assert_int_equal(pony_app_session_poll(x.h, x.s[0], 1000), n);
	assert_int_equal(atomic_load(&a->cmd_ring->cons.head), n);
	assert_int_equal(pony_app_session_poll(x.h, x.s[0], 1000), 0); /* empty */
	assert_int_equal(pony_poll(a, c, 64), (int)n);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(c[i].tag, i);
	assert_int_equal(pony_poll(a, c, 64), 0);
	assert_int_equal(push_seq(a, 1000), 0); /* room again */
	fix_fini(&x);
	(void)state;
}

/* Start both rings at `start` (as if 2^32 - few operations had happened before). */
static void set_indexes(struct app_fix *x, unsigned i, uint32_t start)
{
	struct pony_app_session *s = x->s[i];
	struct pony_app *a = x->app[i];
	s->cmd_head = s->cmd_tail_seen = start;
	s->cpl_tail = s->cpl_head_seen = start;
	atomic_store(&a->cmd_ring->prod.tail, start);
	atomic_store(&a->cmd_ring->cons.head, start);
	atomic_store(&a->cpl_ring->prod.tail, start);
	atomic_store(&a->cpl_ring->cons.head, start);
	a->cmd_tail = a->cmd_head_cache = a->cpl_head = start;
}

static void test_wraparound(void **state)
{
	struct app_fix x;
	fix_init(&x, "t_wrap", 1, NULL);
	struct pony_app *a = x.app[0];
	set_indexes(&x, 0, UINT32_MAX - 40);
	uint64_t next = 0, want = 0;
	struct pony_completion c[16];
	/* Odd batch sizes so slot positions drift across the ring's end. */
	for (int round = 0; round < 50; round++) {
		for (int k = 0; k < 7; k++)
			assert_int_equal(push_seq(a, next++), 0);
		pony_app_session_poll(x.h, x.s[0], 5);
		int n;
		while ((n = fix_run(&x, 0, c, 3)) > 0)
			for (int i = 0; i < n; i++)
				assert_int_equal(c[i].tag, want++);
	}
	assert_int_equal(want, next);
	assert_true(a->cmd_tail < 1000); /* it did wrap */
	assert_false(pony_app_session_broken(x.s[0]));
	fix_fini(&x);
	(void)state;
}

#define STRESS_CMDS 200000u
#define STRESS_SECONDS 4

struct stress {
	struct app_fix *x;
	_Atomic int stop;
	uint64_t daemon_sleeps, daemon_lost, app_sleeps, app_lost, done, order_errors;
	uint64_t full_when_done;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Daemon side: poll; when idle, arm the doorbell and sleep on the cmd eventfd. A sleep that
 * times out with commands in the ring is a lost wakeup. */
static void *daemon_thread(void *arg)
{
	struct stress *st = arg;
	struct pony_app_session *s = st->x->s[0];
	int memfd, cmd_efd, cpl_efd;
	pony_app_session_fds(s, &memfd, &cmd_efd, &cpl_efd);
	while (!atomic_load(&st->stop)) {
		if (pony_app_host_poll(st->x->h, 64))
			continue;
		pony_app_host_arm(st->x->h, true);
		struct pollfd p = {.fd = cmd_efd, .events = POLLIN};
		int r = poll(&p, 1, 1000);
		pony_app_host_arm(st->x->h, false);
		st->daemon_sleeps++;
		if (r == 0 && !atomic_load(&st->stop) &&
		    pony_shm_tail(s->cmd_ring) != s->cmd_head)
			st->daemon_lost++;
	}
	return NULL;
}

/* The app's waits spin for spin_us first (pony_set_wait_spin) or sleep at once. */
static void stress_two_threads(unsigned spin_us)
{
	struct app_fix x;
	fix_init(&x, "t_stress", 1, NULL);
	struct stress st = {.x = &x};
	struct pony_app *a = x.app[0];
	assert_int_equal(pony_set_wait_spin(a, PONY_WAIT_SPIN_MAX_US + 1), -EINVAL);
	assert_int_equal(pony_set_wait_spin(a, spin_us), 0);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, daemon_thread, &st), 0);
	uint64_t next = 0, want = 0;
	struct pony_completion c[32];
	double t0 = now_s();
	while (want < STRESS_CMDS && now_s() - t0 < STRESS_SECONDS) {
		int pr = 0;
		while (next - want < 200 && (pr = push_seq(a, next)) == 0)
			next++;
		/* Every completion in, yet the ring full: the daemon published completions before
		 * it gave their slots back, and with no doorbell for ring space we would sleep
		 * here until the timeout (and so would it). */
		if (next == want && pr == -EAGAIN)
			st.full_when_done++;
		int n = pony_poll(a, c, 32);
		assert_true(n >= 0);
		for (int i = 0; i < n; i++)
			if (c[i].tag != want++)
				st.order_errors++;
		if (n > 0)
			continue;
		/* Nothing ready: sleep on our eventfd; a timeout with completions pending is a
		 * lost wakeup. */
		int w = pony_wait(a, 1000);
		st.app_sleeps++;
		if (w == 0 && pony_shm_tail(a->cpl_ring) != a->cpl_head)
			st.app_lost++;
	}
	double dt = now_s() - t0;
	atomic_store(&st.stop, 1);
	uint64_t one = 1;
	int memfd, cmd_efd, cpl_efd;
	pony_app_session_fds(x.s[0], &memfd, &cmd_efd, &cpl_efd);
	assert_int_equal(write(cmd_efd, &one, sizeof(one)), sizeof(one));
	pthread_join(th, NULL);
	printf("stress: %lu commands in %.2f s (%.0f/s), daemon sleeps %lu, app sleeps %lu\n",
	       (unsigned long)want, dt, (double)want / dt, (unsigned long)st.daemon_sleeps,
	       (unsigned long)st.app_sleeps);
	assert_int_equal(st.order_errors, 0);
	assert_int_equal(st.full_when_done, 0);
	assert_int_equal(st.daemon_lost, 0);
	assert_int_equal(st.app_lost, 0);
	assert_true(want >= 1000); /* made progress */
	assert_int_equal(x.s[0]->cnt.cpl_overflow, 0);
	assert_false(pony_app_session_broken(x.s[0]));
	fix_fini(&x);
}

static void test_stress_two_threads(void **state)
{
	stress_two_threads(0);
	(void)state;
}

/* Spinning waits (yielding between looks) lose nothing either. */
static void test_stress_spin(void **state)
{
	stress_two_threads(50);
	(void)state;
}

/* A thread that keeps the CPU (a busy engine) until told to stop, within 5 s. */
struct hog {
	atomic_int started, stop;
	int cpu;
};

static void *hog_main(void *arg)
{
	struct hog *h = arg;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(h->cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	atomic_store(&h->started, 1);
	double t0 = now_s();
	while (!atomic_load(&h->stop) && now_s() - t0 < 5)
		;
	return NULL;
}

/* The default spin stops at a yield that ran a busy thread on our CPU (it would keep the
 * CPU until preempted, at every look), and once such yields are a quarter of the recent
 * ones stays off for a back-off that doubles at each, and starts over after a second
 * without one; spins in between still work. */
static void test_spin_busy_sharer(void **state)
{
	struct app_fix x;
	fix_init(&x, "t_spinb", 1, NULL);
	struct pony_app *a = x.app[0];
	a->spin_ns = (uint64_t)PONY_WAIT_SPIN_AUTO_US * 1000;
	a->spin_auto = true;
	struct hog h = {.cpu = sched_getcpu()};
	assert_true(h.cpu >= 0);
	cpu_set_t set, old;
	assert_int_equal(pthread_getaffinity_np(pthread_self(), sizeof(old), &old), 0);
	CPU_ZERO(&set);
	CPU_SET(h.cpu, &set);
	assert_int_equal(pthread_setaffinity_np(pthread_self(), sizeof(set), &set), 0);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, hog_main, &h), 0);
	while (!atomic_load(&h.started))
		sched_yield();
	/* Nothing completes: each wait times out. A yield runs the hog only when we have
	 * used about as much CPU as it has (the scheduler favours a thread that slept), so
	 * each round first keeps the CPU 3 ms, as an app busy with completions does. The
	 * back-off doubles with each cut. */
	for (unsigned want = 3, round = 0; round < 2; round++, want++) {
		double t0 = now_s();
		for (unsigned i = 0; i < 300 && a->spin_cuts < want && now_s() - t0 < 4; i++) {
			double b = now_s();
			while (now_s() - b < 0.003)
				;
			assert_int_equal(pony_wait(a, 1), 0);
		}
		assert_int_equal(a->spin_cuts, want);
		/* 1, 2, 4 ms; then, a second later, 1 ms again */
		assert_int_equal(a->spin_off_ns, round == 0 ? 4000000 : 1000000);
		a->spin_long_last -= 1000000001ull; /* as if the last were a second old */
	}
	/* Within the back-off no wait spins, so none is cut. */
	a->spin_off_until = UINT64_MAX;
	assert_int_equal(pony_wait(a, 1), 0);
	assert_int_equal(a->spin_cuts, 4);
	atomic_store(&h.stop, 1);
	pthread_join(th, NULL);
	assert_int_equal(pthread_setaffinity_np(pthread_self(), sizeof(old), &old), 0);
	/* Back-off over, the spin finds a completion (and leaves the back-off as it is). */
	a->spin_off_until = 0;
	assert_int_equal(push_seq(a, 7), 0);
	pony_app_session_poll(x.h, x.s[0], 1000);
	assert_int_equal(pony_wait(a, 1000), 1);
	assert_int_equal(a->spin_off_ns, 1000000);
	struct pony_completion c;
	assert_int_equal(pony_poll(a, &c, 1), 1);
	assert_int_equal(c.tag, 7);
	fix_fini(&x);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_full_empty),
		cmocka_unit_test(test_wraparound),
		cmocka_unit_test(test_stress_two_threads),
		cmocka_unit_test(test_stress_spin),
		cmocka_unit_test(test_spin_busy_sharer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
