/* The "sched_synth" source element and its harness (see synth.h). The element only accepts
 * harness objects that sched_synth_start registered, so a config naming it cannot make it
 * dereference an arbitrary pointer. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_errno.h>

#include "sched/synth.h"

#define SYNTH_MAX 256

static struct sched_synth *live[SYNTH_MAX]; /* control thread only */

uint64_t sched_synth_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct synth_priv {
	struct sched_synth *s;
};

static int synth_init(struct snap_elem *el, const struct snap_elem_args *args)
{
	struct synth_priv *p = snap_elem_priv(el);
	uint64_t v;
	int r = snap_elem_arg_u64(args, "harness", 0, 1, UINT64_MAX, &v);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < SYNTH_MAX; i++)
		if (live[i] && (uintptr_t)live[i] == v) {
			p->s = live[i];
			return 0;
		}
	return snap_elem_args_error(args, "sched_synth: harness = %lu is not a live harness "
				    "(this element is created by sched_synth_start only)",
				    (unsigned long)v);
}

static void synth_process(struct snap_elem *el, struct rte_mbuf **pkts, uint16_t n)
{
	snap_elem_drop_burst(el, pkts, n, SNAP_DROP_UNCONNECTED);
}

static unsigned synth_poll(struct snap_elem *el, uint64_t now_tsc)
{
	struct sched_synth *s = ((struct synth_priv *)snap_elem_priv(el))->s;
	void *objs[32];
	unsigned timer = 0;
	uint64_t tt = atomic_load_explicit(&s->timer_tsc, memory_order_relaxed);
	if (tt && now_tsc >= tt) {
		atomic_store(&s->timer_tsc, 0);
		atomic_store(&s->timer_fired_ns, sched_synth_now_ns());
		timer = 1;
	}
	unsigned avail = 0;
	unsigned n = rte_ring_dequeue_burst(s->ring, objs, RTE_DIM(objs), &avail);
	if (n == 0)
		return timer;
	if (avail)
		snap_engine_note_backlog(el->engine);
	uint64_t sent = atomic_load(&s->t_sent_ns);
	if (sent) {
		unsigned k = atomic_load(&s->n_lat);
		if (k < SCHED_SYNTH_LAT_MAX)
			s->lat[k] = sched_synth_now_ns() - sent;
		atomic_store(&s->t_sent_ns, 0);
		atomic_store(&s->n_lat, k + 1);
	}
	uint64_t next = atomic_load_explicit(&s->next_seq, memory_order_relaxed);
	uint64_t cost = s->cost_ns ? s->cost_ns * rte_get_tsc_hz() / 1000000000ull : 0;
	for (unsigned i = 0; i < n; i++) {
		uint64_t seq = (uintptr_t)objs[i];
		if (seq != next)
			atomic_fetch_add(&s->errors, 1);
		next = seq + 1;
		if (cost) {
			uint64_t end = rte_rdtsc() + cost;
			while (rte_rdtsc() < end)
				;
		}
	}
	atomic_store_explicit(&s->next_seq, next, memory_order_relaxed);
	/* release: a reader that sees the count also sees next_seq/errors. */
	atomic_fetch_add_explicit(&s->received, n, memory_order_release);
	return n + timer;
}

static uint64_t synth_deadline(const struct snap_elem *el)
{
	struct sched_synth *s = ((struct synth_priv *)snap_elem_priv(el))->s;
	uint64_t tt = atomic_load_explicit(&s->timer_tsc, memory_order_relaxed);
	return tt ? tt : UINT64_MAX;
}

static int synth_arm(struct snap_elem *el, bool arm)
{
	struct sched_synth *s = ((struct synth_priv *)snap_elem_priv(el))->s;
	if (arm)
		return s->poll_only ? -ENOTSUP : s->lossy ? SNAP_ARM_GUARDED : 0;
	uint64_t v;
	ssize_t r = read(s->efd, &v, sizeof(v)); /* consume the doorbell after a sleep */
	(void)r;
	return 0;
}

static const struct snap_elem_desc synth_desc = {
	.name = "sched_synth",
	.help = "synthetic load source for scheduler tests (created by sched_synth_start only)",
	.priv_size = sizeof(struct synth_priv),
	.init = synth_init,
	.process = synth_process,
	.poll = synth_poll,
	.next_deadline = synth_deadline,
	.arm = synth_arm,
};
SNAP_ELEM_REGISTER(synth_desc)

int sched_synth_start(struct sched_synth *s, const char *name, unsigned ring_size)
{
	char rname[RTE_RING_NAMESIZE], v[32];
	unsigned slot = 0;
	int r;
	while (slot < SYNTH_MAX && live[slot])
		slot++;
	if (slot == SYNTH_MAX)
		return -ENOSPC;
	s->efd = -1;
	snprintf(rname, sizeof(rname), "synth-%.20s", name);
	s->ring = rte_ring_create(rname, ring_size, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (s->ring == NULL)
		return -(rte_errno ? rte_errno : ENOMEM);
	s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->efd < 0) {
		r = -errno;
		goto fail;
	}
	s->e = snap_engine_create(name, SOCKET_ID_ANY);
	if (s->e == NULL) {
		r = -errno;
		goto fail;
	}
	struct snap_elem_args *a = snap_elem_args_new();
	if (a == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	live[slot] = s;
	snprintf(v, sizeof(v), "%lu", (unsigned long)(uintptr_t)s);
	r = snap_elem_args_set(a, "harness", v);
	if (r == 0)
		r = snap_engine_add_elem(s->e, "sched_synth", "src", a, NULL, 0);
	snap_elem_args_free(a);
	if (r == 0)
		r = snap_engine_add_wake_fd(s->e, s->efd);
	if (r < 0) {
		live[slot] = NULL;
		goto fail;
	}
	return 0;
fail:
	snap_engine_destroy(s->e);
	s->e = NULL;
	rte_ring_free(s->ring);
	s->ring = NULL;
	if (s->efd >= 0)
		close(s->efd);
	s->efd = -1;
	return r;
}

void sched_synth_stop(struct sched_synth *s)
{
	if (s == NULL || s->ring == NULL)
		return;
	for (unsigned i = 0; i < SYNTH_MAX; i++)
		if (live[i] == s)
			live[i] = NULL;
	snap_engine_destroy(s->e);
	rte_ring_free(s->ring);
	close(s->efd);
	s->e = NULL;
	s->ring = NULL;
	s->efd = -1;
}

unsigned sched_synth_send(struct sched_synth *s, unsigned n)
{
	unsigned k = 0;
	while (k < n && rte_ring_enqueue(s->ring, (void *)(uintptr_t)s->sent) == 0) {
		s->sent++;
		k++;
	}
	if (!s->poll_only && !s->lossy) {
		uint64_t one = 1;
		ssize_t r = write(s->efd, &one, sizeof(one));
		(void)r; /* EAGAIN: the counter is saturated, the engine will see it */
	}
	return k;
}
