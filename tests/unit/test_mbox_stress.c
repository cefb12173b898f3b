/* Mailbox stress: 1M closures posted back to back through snap_mbox_call to an engine that
 * forwards traffic at full speed on its own CPU: packets circle through a net_ring port
 * (port_rx -> port_tx -> the ring -> port_rx). Each closure must run exactly once, in order, on the engine's thread; the forwarding
 * rate with and without the flood is measured and printed (the flood in slices between quiet
 * windows, so drift of the machine cancels), and the median slice's drop is asserted loosely
 * (the target is 5%, which the engine's closure budget, daemon.mbox_gap_us, is there to keep).
 * A second case puts poster and engine on one CPU, where the poster must sleep in futex and
 * be woken by the engine instead of spinning away the CPU the engine needs. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>

#include "core/engine_int.h"
#include "tests/unit/elemtest.h"

#define N_CLOSURES 1000000u  /* override with $MBOX_STRESS_N */
/* Posting stops after this long. With the default 20 us budget gap 1M closures take about
 * 21 s (37 s on a machine busy with compiles); one so loaded that they do not fit reports
 * SKIP after checking the ones that ran, rather than running for an hour. */
#define POST_BUDGET_S 80.0 /* override with $MBOX_STRESS_BUDGET_S */
#define BASELINE_S 1.0
#define DROP_ASSERT 10.0   /* loose bound on the forwarding-rate drop, in percent */
#define SHARED_N 20000u    /* closures in the shared-CPU case */
#define LOOP_PKTS 128u     /* frames circling the ring port */

static struct snap_engine *eng;
static pthread_t engine_tid;
static atomic_bool engine_stop;
static _Atomic int engine_cpu = -1;        /* CPU the engine thread is pinned to */
static _Atomic uint64_t engine_fwd;        /* packets forwarded, published by the engine */
static double budget_s = POST_BUDGET_S;

/* Engine-side state, touched only by closures (i.e. on the engine's thread). */
static uint64_t next_seq;
static uint64_t wrong_thread;
static uint64_t out_of_order;
static bool skipped; /* report SKIP (77) to meson, which cmocka's return value cannot say */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* The CPUs this process may use: the poster takes the first, the engine the second (the
 * daemon's layout: control thread on main_cpu, a dedicated engine thread on another). */
static int cpus[2] = {-1, -1};

static void *engine_main(void *arg)
{
	struct snap_engine *e = arg;
	int last_cpu = -2;
	uint64_t polls = 0;
	/* Bounded in time even if the main thread dies mid-test. */
	double deadline = now_s() + budget_s + 60;
	while (!atomic_load_explicit(&engine_stop, memory_order_relaxed)) {
		int want = atomic_load_explicit(&engine_cpu, memory_order_relaxed);
		if (want != last_cpu) {
			if (want >= 0)
				pin(want);
			last_cpu = want;
		}
		snap_engine_poll(e, rte_rdtsc());
		if ((++polls & 255) == 0) {
			atomic_store_explicit(&engine_fwd, e->st.work - e->st.mbox_runs,
					      memory_order_relaxed);
			if (now_s() > deadline)
				break;
		}
	}
	return NULL;
}

static int closure(struct snap_engine *e, void *arg)
{
	uint64_t seq = *(const uint64_t *)arg;
	if (!pthread_equal(pthread_self(), engine_tid))
		wrong_thread++;
	if (seq != next_seq)
		out_of_order++;
	next_seq = seq + 1;
	return (int)(seq & 0x3fff); /* the poster checks it gets this back */
}

static int setup(void **state)
{
	const char *benv = getenv("MBOX_STRESS_BUDGET_S");
	if (benv && atof(benv) > 0 && atof(benv) < 3600)
		budget_s = atof(benv);
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		for (int c = 0, k = 0; c < CPU_SETSIZE && k < 2; c++)
			if (CPU_ISSET(c, &set))
				cpus[k++] = c;
	et_port_kind = SNAP_PORT_RING;
	if (et_eal_init("mboxstress") < 0)
		return -1;
	/* rte_eal_init pinned this thread to its main lcore; the engine thread would inherit
	 * that, so both get explicit CPUs. */
	if (cpus[0] >= 0)
		pin(cpus[0]);
	atomic_store(&engine_cpu, cpus[1] >= 0 ? cpus[1] : cpus[0]);
	const char *genv = getenv("MBOX_GAP_US"); /* for experiments; the daemon's default else */
	if (genv)
		snap_mbox_set_default_gap_us((unsigned)atoi(genv));
	eng = snap_engine_create("fwd", SOCKET_ID_ANY);
	if (eng == NULL)
		return -1;
	et_add(eng, "port_rx", "rx", "port=p0", NULL);
	et_add(eng, "counter", "cnt", NULL);
	et_add(eng, "port_tx", "tx", "port=p0", NULL);
	et_link(eng, "rx", "out", "cnt");
	et_link(eng, "cnt", "out", "tx");
	/* The traffic: a ring's worth of frames put on the loop once, forwarded forever. */
	struct snap_port *p = snap_port_find("p0");
	static uint8_t frame[1514];
	size_t len = et_build_udp(frame, &et_mac_peer, et_ip("10.0.0.1"), et_ip("10.0.0.2"), 9, 9,
				  18);
	for (unsigned i = 0; i < LOOP_PKTS; i++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(p->pool);
		if (m == NULL || rte_pktmbuf_append(m, (uint16_t)len) == NULL)
			return -1;
		memcpy(rte_pktmbuf_mtod(m, void *), frame, len);
		if (rte_eth_tx_burst(p->port_id, 0, &m, 1) != 1)
			return -1;
	}
	atomic_store(&eng->state, SNAP_ENGINE_RUNNING);
	atomic_store(&engine_stop, false);
	return pthread_create(&engine_tid, NULL, engine_main, eng) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	atomic_store(&engine_stop, true);
	pthread_join(engine_tid, NULL);
	atomic_store(&eng->state, SNAP_ENGINE_PARKED);
	snap_engine_destroy(eng);
	et_eal_fini();
	return 0;
}

/* CPU time the engine thread has used, in seconds. The forwarding rate is judged per
 * second of the engine's own CPU: other processes taking the engine's core change the
 * wall-clock rate by tens of percent (a busy machine: 175 vs 279 Mpps a second apart), the
 * per-CPU rate only by what the engine itself does, which is what the closures cost it. */
static double engine_cpu_s(void)
{
	clockid_t cid;
	struct timespec ts;
	if (pthread_getcpuclockid(engine_tid, &cid) != 0 || clock_gettime(cid, &ts) != 0)
		return 0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct rate {
	double wall; /* packets per second */
	double cpu;  /* packets per second of engine CPU */
};

static struct rate rate_since(uint64_t f0, double t0, double c0)
{
	uint64_t f = atomic_load(&engine_fwd) - f0;
	double dt = now_s() - t0, dc = engine_cpu_s() - c0;
	return (struct rate){(double)f / dt, dc > 0 ? (double)f / dc : 0};
}

/* Forwarding rates over `secs` with nothing posted. */
static struct rate fwd_rate(double secs)
{
	uint64_t f0 = atomic_load(&engine_fwd);
	double t0 = now_s(), c0 = engine_cpu_s();
	struct timespec ts = {(time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};
	nanosleep(&ts, NULL);
	return rate_since(f0, t0, c0);
}

struct post_result {
	uint64_t done, errors, bad_result;
	double secs;
};

/* Post closures seq from..from+n-1 back to back until n ran or the budget is spent. */
static struct post_result post(uint64_t from, uint64_t n, double budget)
{
	struct post_result pr = {0};
	double t0 = now_s(), deadline = t0 + budget;
	for (uint64_t seq = from; seq < from + n; seq++) {
		uint64_t arg = seq;
		int r = snap_mbox_call(&eng->mbox, closure, &arg, 1000);
		if (r < 0) {
			pr.errors++;
			break; /* a lost or timed-out closure breaks the sequence check anyway */
		}
		if (r != (int)(seq & 0x3fff))
			pr.bad_result++;
		pr.done++;
		if ((seq & 0xff) == 0 && now_s() > deadline)
			break;
	}
	pr.secs = now_s() - t0;
	return pr;
}

/* Closure-side counters are read after the last call returned (its DONE store released
 * them), so this thread sees their final values. */
static void check_ran(const struct post_result *pr, uint64_t from, uint64_t runs0)
{
	printf("mbox stress: wrong thread %lu, out of order %lu, bad result %lu, runs %lu\n",
	       (unsigned long)wrong_thread, (unsigned long)out_of_order,
	       (unsigned long)pr->bad_result, (unsigned long)(eng->mbox.runs - runs0));
	assert_int_equal(pr->errors, 0);
	assert_int_equal(next_seq, from + pr->done); /* each ran once ... */
	assert_int_equal(out_of_order, 0);           /* ... and in order (none twice/skipped) */
	assert_int_equal(wrong_thread, 0);
	assert_int_equal(pr->bad_result, 0);
	assert_int_equal(eng->mbox.runs - runs0, pr->done);
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
}

/* The flood in ROUNDS slices, each between two quiet windows: a slice's drop is against the
 * mean of the windows either side of it, and the median slice's is asserted. One baseline
 * before and one after a 21 s flood drifted by 17% on this VM (ASan, CI), more than the
 * bound, whatever the mailbox did; adjacent windows drift together. */
#define ROUNDS 9
static void test_mbox_flood(void **state)
{
	uint64_t n = N_CLOSURES;
	const char *env = getenv("MBOX_STRESS_N");
	if (env && atoll(env) > 0)
		n = (uint64_t)atoll(env);
	printf("mbox stress: poster on cpu %d, engine on cpu %d, budget gap %.1f us\n", cpus[0],
	       atomic_load(&engine_cpu),
	       (double)eng->mbox.gap_tsc * 1e6 / (double)rte_get_tsc_hz());
	struct rate base[ROUNDS + 1], during[ROUNDS];
	double drop[ROUNDS], drop_wall[ROUNDS];
	struct post_result pr = {0};
	uint64_t runs0 = eng->mbox.runs, wakes0 = eng->mbox.wakes;
	double t_end = now_s() + budget_s;
	unsigned rounds = 0;
	base[0] = fwd_rate(BASELINE_S / 4);
	for (unsigned k = 0; k < ROUNDS && pr.done < n; k++) {
		uint64_t slice = k + 1 < ROUNDS ? n / ROUNDS : n - pr.done;
		uint64_t f0 = atomic_load(&engine_fwd);
		double t0 = now_s(), c0 = engine_cpu_s();
		struct post_result p = post(next_seq, slice, t_end - t0);
		during[k] = rate_since(f0, t0, c0);
		base[k + 1] = fwd_rate(BASELINE_S / 4);
		pr.done += p.done;
		pr.errors += p.errors;
		pr.bad_result += p.bad_result;
		pr.secs += p.secs;
		double idle = (base[k].cpu + base[k + 1].cpu) / 2;
		double idle_wall = (base[k].wall + base[k + 1].wall) / 2;
		drop[k] = idle > 0 ? 100.0 * (1.0 - during[k].cpu / idle) : 0;
		drop_wall[k] = idle_wall > 0 ? 100.0 * (1.0 - during[k].wall / idle_wall) : 0;
		rounds++;
		if (p.errors || p.done < slice)
			break;
	}
	printf("mbox stress: %lu closures in %.2f s (%.0f calls/s, %.2f us/call), errors %lu, "
	       "%lu futex wake-ups by the engine\n", (unsigned long)pr.done, pr.secs,
	       (double)pr.done / pr.secs, 1e6 * pr.secs / (double)pr.done,
	       (unsigned long)pr.errors, (unsigned long)(eng->mbox.wakes - wakes0));
	printf("mbox stress: forwarding per engine CPU-second, quiet / during each slice (Mpps):");
	for (unsigned k = 0; k < rounds; k++)
		printf(" %.1f/%.1f", base[k].cpu / 1e6, during[k].cpu / 1e6);
	printf(" %.1f\n", base[rounds].cpu / 1e6);
	double sorted[ROUNDS], sorted_wall[ROUNDS];
	memcpy(sorted, drop, sizeof(sorted));
	memcpy(sorted_wall, drop_wall, sizeof(sorted_wall));
	qsort(sorted, rounds, sizeof(double), cmp_double);
	qsort(sorted_wall, rounds, sizeof(double), cmp_double);
	double med = rounds ? sorted[rounds / 2] : 0;
	printf("mbox stress: forwarding drop during the flood, per engine CPU-second: median "
	       "%.1f%% over %u slices (%.1f%% to %.1f%%; target < 5%%, asserted < %.0f%%); per "
	       "wall-clock second %.1f%% (includes other processes)\n", med, rounds,
	       rounds ? sorted[0] : 0, rounds ? sorted[rounds - 1] : 0, DROP_ASSERT,
	       rounds ? sorted_wall[rounds / 2] : 0);
	check_ran(&pr, 0, runs0);
	assert_true(base[0].cpu > 0 && rounds > 0 && during[0].cpu > 0);
	if (pr.done < n) {
		printf("mbox stress: SKIP: only %lu of %lu closures within %.0f s: the machine is "
		       "too loaded to measure\n", (unsigned long)pr.done, (unsigned long)n, budget_s);
		skipped = true;
		skip();
	}
	assert_true(med < DROP_ASSERT);
}

static void test_mbox_shared_cpu(void **state)
{
	/* Engine onto the poster's CPU: every round trip needs the scheduler to switch. */
	atomic_store(&engine_cpu, cpus[0]);
	fwd_rate(0.05); /* let the engine thread migrate */
	uint64_t from = next_seq, runs0 = eng->mbox.runs, wakes0 = eng->mbox.wakes;
	struct post_result pr = post(from, SHARED_N, budget_s);
	printf("mbox stress: shared cpu %d: %lu closures in %.2f s (%.1f us/call), %lu futex "
	       "wake-ups by the engine\n", cpus[0], (unsigned long)pr.done, pr.secs,
	       1e6 * pr.secs / (double)pr.done, (unsigned long)(eng->mbox.wakes - wakes0));
	check_ran(&pr, from, runs0);
	assert_int_equal(pr.done, SHARED_N);
	atomic_store(&engine_cpu, cpus[1] >= 0 ? cpus[1] : cpus[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mbox_flood),
		cmocka_unit_test(test_mbox_shared_cpu),
	};
	int failed = cmocka_run_group_tests(tests, setup, teardown);
	return failed ? failed : skipped ? 77 : 0;
}
