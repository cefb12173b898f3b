/* Module start/stop order for the daemon. Engine threads: interim runner (one polling thread
 * per engine with back-off) until sched/ groups are wired in. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_lcore.h>

#include "snap/config.h"
#include "snap/daemon.h"
#include "snap/engine.h"
#include "snap/log.h"

#define RUNNERS_MAX 64

struct runner {
	pthread_t tid;
	struct snap_engine *e;
	atomic_bool stop;
};

static struct runner runners[RUNNERS_MAX];
static unsigned n_runners;

static void *runner_main(void *arg)
{
	struct runner *r = arg;
	unsigned idle = 0;
	rte_thread_register();
	while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		if (snap_engine_poll(r->e, rte_rdtsc())) {
			idle = 0;
			continue;
		}
		if (++idle > 256) {
			struct timespec ts = {0, RTE_MIN(idle - 256, 1000u) * 1000};
			nanosleep(&ts, NULL);
		}
	}
	rte_thread_unregister();
	return NULL;
}

int snap_daemon_modules_start(struct snap_daemon *d, char *err, size_t errlen)
{
	for (unsigned i = 0; i < snap_engine_count() && n_runners < RUNNERS_MAX; i++) {
		struct runner *r = &runners[n_runners];
		r->e = snap_engine_at(i);
		atomic_store(&r->e->state, SNAP_ENGINE_RUNNING);
		if (pthread_create(&r->tid, NULL, runner_main, r)) {
			snprintf(err, errlen, "cannot start engine thread");
			return -EAGAIN;
		}
		n_runners++;
	}
	return 0;
}

void snap_daemon_modules_stop(struct snap_daemon *d)
{
	for (unsigned i = 0; i < n_runners; i++)
		atomic_store(&runners[i].stop, true);
	for (unsigned i = 0; i < n_runners; i++) {
		pthread_join(runners[i].tid, NULL);
		atomic_store(&runners[i].e->state, SNAP_ENGINE_PARKED);
	}
	n_runners = 0;
}
