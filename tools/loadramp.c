/* loadramp: ramp synthetic load up and down over a group of engines and print, per step, the
 * CPU the group's threads used, its thread count and queueing delay, so the scheduling modes
 * can be compared (Snap's "compacting saves cores at low load" claim, measured). */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_log.h>

#include "sched/sched.h"
#include "sched/synth.h"

#define ENGINES_MAX 16

struct opts {
	int mode;               /* -1: all three */
	unsigned engines;
	uint64_t cost_ns;
	double max_load;        /* offered cores at the peak, over all engines */
	unsigned steps;
	unsigned step_ms;
	struct sched_params p;
	bool check;
};

struct producer {
	struct sched_synth *s;
	unsigned n;
	_Atomic uint64_t rate_milli; /* items per second per engine, x1000 */
	_Atomic bool stop;
};

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
	nanosleep(&ts, NULL);
}

/* Sends at the requested rate in rounds of ROUND_NS, carrying fractions over. Rounds are
 * short so arrivals are smooth: 1 ms rounds would hand every engine a millisecond's items at
 * once, and the last of them would wait behind the rest whatever the scheduler did. */
#define ROUND_NS 100000
static void *produce(void *arg)
{
	struct producer *pr = arg;
	double carry[ENGINES_MAX] = {0};
	uint64_t last = sched_synth_now_ns();
	prctl(PR_SET_TIMERSLACK, 1000UL); /* 100 us sleeps, not 150 */
	while (!atomic_load(&pr->stop)) {
		sleep_ns(ROUND_NS);
		uint64_t now = sched_synth_now_ns();
		double per = (double)atomic_load(&pr->rate_milli) / 1000.0 * (double)(now - last) /
			     1e9;
		last = now;
		for (unsigned i = 0; i < pr->n; i++) {
			carry[i] += per;
			unsigned k = (unsigned)carry[i];
			if (k) {
				carry[i] -= k;
				sched_synth_send(&pr->s[i], k);
			}
		}
	}
	return NULL;
}

/* Sum of the engines' queueing-delay histograms. */
static void hist_sum(struct sched_synth *s, unsigned n, uint64_t *h)
{
	memset(h, 0, SNAP_QDELAY_BUCKETS * sizeof(*h));
	for (unsigned i = 0; i < n; i++) {
		struct sched_engine_info ei;
		sched_engine_info(s[i].e, &ei);
		for (unsigned b = 0; b < SNAP_QDELAY_BUCKETS; b++)
			h[b] += ei.qdelay_hist[b];
	}
}

/* One ramp over one mode. Returns 0 if --check passed (or was not asked). */
static int ramp(const struct opts *o, enum sched_mode mode)
{
	struct sched_synth s[ENGINES_MAX];
	memset(s, 0, sizeof(s));
	char name[32];
	int rc = 0;
	struct sched_group *g = sched_group_create(sched_mode_name(mode), mode, &o->p);
	if (g == NULL) {
		fprintf(stderr, "loadramp: group: %s\n", strerror(errno));
		return 1;
	}
	for (unsigned i = 0; i < o->engines; i++) {
		snprintf(name, sizeof(name), "ramp-%s-%u", sched_mode_name(mode), i);
		s[i].cost_ns = o->cost_ns;
		int r = sched_synth_start(&s[i], name, 16384);
		if (r == 0)
			r = sched_engine_add(g, s[i].e);
		if (r < 0) {
			fprintf(stderr, "loadramp: engine %s: %s\n", name, strerror(-r));
			rc = 1;
			goto out;
		}
	}
	struct producer pr = {.s = s, .n = o->engines};
	pthread_t th;
	if (pthread_create(&th, NULL, produce, &pr) != 0) {
		rc = 1;
		goto out;
	}
	unsigned max_threads = 0;
	unsigned nsteps = 2 * o->steps + 1;
	for (unsigned k = 0; k < nsteps; k++) {
		unsigned lvl = k <= o->steps ? k : nsteps - 1 - k;
		double load = o->max_load * lvl / o->steps;
		double rate = load / ((double)o->cost_ns / 1e9) / o->engines;
		atomic_store(&pr.rate_milli, (uint64_t)(rate * 1000));
		struct sched_group_info g0, g1;
		uint64_t h0[SNAP_QDELAY_BUCKETS], h1[SNAP_QDELAY_BUCKETS], samples;
		sched_group_info(g, &g0);
		hist_sum(s, o->engines, h0);
		uint64_t t0 = sched_synth_now_ns();
		while (sched_synth_now_ns() - t0 < (uint64_t)o->step_ms * 1000000ull) {
			sched_tick(sched_synth_now_ns());
			sleep_ns(10000000);
		}
		uint64_t wall = sched_synth_now_ns() - t0;
		sched_group_info(g, &g1);
		hist_sum(s, o->engines, h1);
		for (unsigned b = 0; b < SNAP_QDELAY_BUCKETS; b++)
			h1[b] -= h0[b];
		/* The step's p99 over every busy poll of every engine (the controller's own
		 * figure, g1.p99_max_ns, is only its last window's worst engine). */
		uint64_t p99 = sched_hist_p99_ns(h1, &samples);
		uint64_t backlog = 0;
		for (unsigned i = 0; i < o->engines; i++)
			backlog += s[i].sent - atomic_load(&s[i].received);
		if (g1.n_threads > max_threads)
			max_threads = g1.n_threads;
		printf("%s,%u,%.3f,%.3f,%u,%.1f,%.3f,%lu,%lu,%lu\n", sched_mode_name(mode), k, load,
		       (double)(g1.cpu_ns - g0.cpu_ns) / (double)wall, g1.n_threads,
		       (double)p99 / 1000.0, (double)g1.little_milli / 1000.0,
		       (unsigned long)g1.grows, (unsigned long)g1.shrinks, (unsigned long)backlog);
		fflush(stdout);
	}
	atomic_store(&pr.stop, true);
	pthread_join(th, NULL);
	/* Let the group settle at zero load, then check. */
	for (unsigned i = 0; i < 100; i++) {
		sched_tick(sched_synth_now_ns());
		sleep_ns(10000000);
	}
	struct sched_group_info gi;
	sched_group_info(g, &gi);
	uint64_t errors = 0, lost = 0;
	for (unsigned i = 0; i < o->engines; i++) {
		errors += atomic_load(&s[i].errors);
		lost += s[i].sent - atomic_load(&s[i].received);
	}
	if (o->check) {
		if (errors || lost) {
			fprintf(stderr, "loadramp: %s: %lu order errors, %lu items not received\n",
				sched_mode_name(mode), (unsigned long)errors, (unsigned long)lost);
			rc = 1;
		}
		if (mode == SCHED_MODE_COMPACTING && (max_threads < 2 || gi.n_threads != 1)) {
			fprintf(stderr, "loadramp: compacting: peak %u threads, %u at rest "
				"(want >= 2, then 1)\n", max_threads, gi.n_threads);
			rc = 1;
		}
	}
	fprintf(stderr, "loadramp: %s: peak threads %u, at rest %u, grows %lu shrinks %lu "
		"moves %lu, order errors %lu, not received %lu\n", sched_mode_name(mode),
		max_threads, gi.n_threads, (unsigned long)gi.grows, (unsigned long)gi.shrinks,
		(unsigned long)gi.moves, (unsigned long)errors, (unsigned long)lost);
out:
	sched_group_destroy(g);
	for (unsigned i = 0; i < o->engines; i++)
		sched_synth_stop(&s[i]);
	return rc;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: loadramp [--mode spreading|compacting|dedicated|all] [--engines N]\n"
		"  [--cost-ns NS] [--max-load CORES] [--steps N] [--step-ms MS] [--cpus 0,1]\n"
		"  [--max-threads N] [--target-us US] [--backoff-max-us US] [--check]\n"
		"Ramps offered load 0 -> max -> 0 and prints CSV:\n"
		"mode,step,offered_cores,cpu_cores,threads,p99_us,little,grows,shrinks,backlog\n");
}

int main(int argc, char **argv)
{
	struct opts o = {.mode = SCHED_MODE_COMPACTING, .engines = 4, .cost_ns = 10000,
			 .max_load = 0.8, .steps = 6, .step_ms = 300};
	sched_params_default(&o.p);
	static const struct option lo[] = {
		{"mode", required_argument, NULL, 'm'},
		{"engines", required_argument, NULL, 'e'},
		{"cost-ns", required_argument, NULL, 'c'},
		{"max-load", required_argument, NULL, 'l'},
		{"steps", required_argument, NULL, 's'},
		{"step-ms", required_argument, NULL, 't'},
		{"cpus", required_argument, NULL, 'C'},
		{"max-threads", required_argument, NULL, 'x'},
		{"target-us", required_argument, NULL, 'T'},
		{"backoff-max-us", required_argument, NULL, 'b'},
		{"check", no_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'm':
			o.mode = strcmp(optarg, "all") == 0 ? -1 : sched_mode_parse(optarg);
			if (o.mode < -1) {
				usage();
				return 2;
			}
			break;
		case 'e':
			o.engines = (unsigned)atoi(optarg);
			break;
		case 'c':
			o.cost_ns = strtoull(optarg, NULL, 0);
			break;
		case 'l':
			o.max_load = atof(optarg);
			break;
		case 's':
			o.steps = (unsigned)atoi(optarg);
			break;
		case 't':
			o.step_ms = (unsigned)atoi(optarg);
			break;
		case 'C': {
			char *save = NULL;
			for (char *tok = strtok_r(optarg, ",", &save);
			     tok && o.p.n_cpus < SCHED_CPUS_MAX; tok = strtok_r(NULL, ",", &save))
				o.p.cpus[o.p.n_cpus++] = atoi(tok);
			break;
		}
		case 'x':
			o.p.max_threads = (uint16_t)atoi(optarg);
			break;
		case 'T':
			o.p.qdelay_target_ns = strtoull(optarg, NULL, 0) * 1000;
			o.p.qdelay_low_ns = o.p.qdelay_target_ns / 4;
			break;
		case 'b':
			o.p.backoff_max_ns = strtoull(optarg, NULL, 0) * 1000;
			break;
		case 'k':
			o.check = true;
			break;
		default:
			usage();
			return ch == 'h' ? 0 : 2;
		}
	}
	if (o.engines == 0 || o.engines > ENGINES_MAX || o.cost_ns == 0 || o.steps == 0 ||
	    o.step_ms == 0 || o.max_load <= 0 || o.max_load > 64) {
		usage();
		return 2;
	}
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "loadramp-%d", (int)getpid());
	char *eal[] = {argv[0], "--no-huge", "--no-pci", "-m", "128", "-l", "0", "--no-telemetry",
		       "--file-prefix", prefix, "--log-level=lib.*:error", NULL};
	if (rte_eal_init((int)RTE_DIM(eal) - 1, eal) < 0) {
		fprintf(stderr, "loadramp: EAL init failed\n");
		return 1;
	}
	sched_init();
	printf("mode,step,offered_cores,cpu_cores,threads,p99_us,little,grows,shrinks,backlog\n");
	int rc = 0;
	for (int m = SCHED_MODE_DEDICATED; m <= SCHED_MODE_COMPACTING; m++)
		if (o.mode == -1 || o.mode == m)
			rc |= ramp(&o, (enum sched_mode)m);
	sched_fini();
	rte_eal_cleanup();
	char cmd[256];
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	if (getuid() == 0)
		snprintf(cmd, sizeof(cmd), "rm -rf '/var/run/dpdk/%s'", prefix);
	else
		snprintf(cmd, sizeof(cmd), "rm -rf '%s/dpdk/%s'", xdg ? xdg : "/tmp", prefix);
	if (system(cmd) != 0)
		fprintf(stderr, "loadramp: could not remove the EAL runtime dir\n");
	return rc;
}
