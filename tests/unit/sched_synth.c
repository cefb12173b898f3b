/* Synthetic source element and EAL helpers for the sched/ tests (see sched_synth.h). */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <rte_eal.h>
#include <rte_cycles.h>

#include "sched_synth.h"

static char prefix[64];

uint64_t synth_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void synth_sleep_ns(uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
	nanosleep(&ts, NULL);
}

int synth_eal_init(const char *tag)
{
	snprintf(prefix, sizeof(prefix), "%s-%d", tag, (int)getpid());
	char *argv[] = {"test", "--no-huge", "--no-pci", "-m", "128", "-l", "0",
			"--no-telemetry", "--file-prefix", prefix, "--log-level=lib.*:error", NULL};
	int r = rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv);
	return r < 0 ? -1 : 0;
}

void synth_eal_fini(void)
{
	rte_eal_cleanup();
	char cmd[256];
	const char *rt = getuid() == 0 ? "/var/run/dpdk" : getenv("XDG_RUNTIME_DIR");
	if (rt && prefix[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s%s/%s'", rt, getuid() == 0 ? "" : "/dpdk",
			 prefix);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove the EAL runtime dir\n");
	}
}

struct synth_priv {
	struct synth_ctl *c;
};

static int synth_init(struct snap_elem *el, const struct snap_elem_args *args)
{
	struct synth_priv *p = snap_elem_priv(el);
	uint64_t v;
	int r = snap_elem_arg_u64(args, "ctl", 0, 1, UINT64_MAX, &v);
	if (r < 0)
		return r;
	p->c = (struct synth_ctl *)(uintptr_t)v;
	return 0;
}

static void synth_process(struct snap_elem *el, struct rte_mbuf **pkts, uint16_t n)
{
	snap_elem_drop_burst(el, pkts, n, SNAP_DROP_UNCONNECTED);
}

static unsigned synth_poll(struct snap_elem *el, uint64_t now_tsc)
{
	struct synth_ctl *c = ((struct synth_priv *)snap_elem_priv(el))->c;
	void *objs[32];
	unsigned timer = 0;
	uint64_t tt = atomic_load(&c->timer_tsc);
	if (tt && now_tsc >= tt) {
		atomic_store(&c->timer_tsc, 0);
		atomic_store(&c->timer_fired_ns, synth_now_ns());
		timer = 1;
	}
	unsigned n = rte_ring_dequeue_burst(c->ring, objs, 32, NULL);
	if (n == 0)
		return timer;
	uint64_t sent = atomic_load(&c->t_sent_ns);
	if (sent) {
		unsigned k = atomic_load(&c->n_lat);
		if (k < SYNTH_LAT_MAX)
			c->lat[k] = synth_now_ns() - sent;
		atomic_store(&c->t_sent_ns, 0);
		atomic_store(&c->n_lat, k + 1);
	}
	uint64_t next = atomic_load_explicit(&c->next_seq, memory_order_relaxed);
	for (unsigned i = 0; i < n; i++) {
		uint64_t seq = (uintptr_t)objs[i];
		if (seq != next)
			atomic_fetch_add(&c->errors, 1);
		next = seq + 1;
		if (c->cost_ns) {
			uint64_t end = rte_rdtsc() + c->cost_ns * rte_get_tsc_hz() / 1000000000ull;
			while (rte_rdtsc() < end)
				;
		}
	}
	atomic_store_explicit(&c->next_seq, next, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->received, n, memory_order_release);
	return n + timer;
}

static uint64_t synth_deadline(const struct snap_elem *el)
{
	struct synth_ctl *c = ((struct synth_priv *)snap_elem_priv(el))->c;
	uint64_t tt = atomic_load(&c->timer_tsc);
	return tt ? tt : UINT64_MAX;
}

static int synth_arm(struct snap_elem *el, bool arm)
{
	struct synth_ctl *c = ((struct synth_priv *)snap_elem_priv(el))->c;
	if (arm && c->poll_only)
		return -ENOTSUP;
	if (!arm) {
		uint64_t v;
		ssize_t r = read(c->efd, &v, sizeof(v)); /* drain the doorbell after a sleep */
		(void)r;
	}
	return 0;
}

static const struct snap_elem_desc synth_desc = {
	.name = "sched_synth",
	.help = "test source: sequence numbers from a ring",
	.priv_size = sizeof(struct synth_priv),
	.init = synth_init,
	.process = synth_process,
	.poll = synth_poll,
	.arm = synth_arm,
	.next_deadline = synth_deadline,
};
SNAP_ELEM_REGISTER(synth_desc)

struct snap_engine *synth_engine(const char *name, struct synth_ctl *c, unsigned ring_size)
{
	char rname[64], v[32];
	snprintf(rname, sizeof(rname), "r-%s", name);
	c->ring = rte_ring_create(rname, ring_size, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	assert_non_null(c->ring);
	c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(c->efd >= 0);
	struct snap_engine *e = snap_engine_create(name, SOCKET_ID_ANY);
	assert_non_null(e);
	struct snap_elem_args *a = snap_elem_args_new();
	assert_non_null(a);
	snprintf(v, sizeof(v), "%lu", (unsigned long)(uintptr_t)c);
	assert_int_equal(snap_elem_args_set(a, "ctl", v), 0);
	char err[128];
	int r = snap_engine_add_elem(e, "sched_synth", "src", a, err, sizeof(err));
	if (r < 0)
		fprintf(stderr, "add_elem: %s\n", err);
	assert_int_equal(r, 0);
	snap_elem_args_free(a);
	assert_int_equal(snap_engine_add_wake_fd(e, c->efd), 0);
	c->e = e;
	return e;
}

void synth_engine_free(struct synth_ctl *c)
{
	snap_engine_destroy(c->e);
	rte_ring_free(c->ring);
	close(c->efd);
}

unsigned synth_send(struct synth_ctl *c, unsigned n)
{
	unsigned k = 0;
	for (; k < n; k++)
		if (rte_ring_enqueue(c->ring, (void *)(uintptr_t)c->sent) != 0)
			break;
		else
			c->sent++;
	if (!c->poll_only) { /* a poll-only source has no doorbell */
		uint64_t one = 1;
		ssize_t r = write(c->efd, &one, sizeof(one));
		(void)r;
	}
	return k;
}

bool synth_wait_drained(struct synth_ctl *c, unsigned timeout_ms)
{
	uint64_t end = synth_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	while (atomic_load_explicit(&c->received, memory_order_acquire) < c->sent) {
		if (synth_now_ns() > end)
			return false;
		synth_sleep_ns(200000);
	}
	return true;
}
