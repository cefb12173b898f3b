/* Group threads: placement (NUMA, pinning, SCHED_DEADLINE), the poll loop, and how an idle
 * thread gives its core back (adaptive spin, then epoll on wake fds + timerfd, the timer
 * backing off exponentially when some source can only be polled). */
#include <errno.h>
#include <numa.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_pause.h>

#include "sched/internal.h"
#include "snap/log.h"

#define TAG_CTL 0
#define TAG_TIMER 1
#define TAG_ENGINE 2
#define EVS_MAX 32

/* What the thread itself knows about the engine in each slot (its epoll registrations). */
struct slot_local {
	struct snap_engine *e;
	struct sched_eng *se;     /* e's record, looked up once per link */
	uint32_t gen;
	uint16_t n_fds;
	int fds[SNAP_ENGINE_WAKE_FDS_MAX];
};

static uint64_t tsc_to_ns(uint64_t tsc)
{
	return tsc * 1000000000ull / rte_get_tsc_hz();
}

static uint64_t ns_to_tsc(uint64_t ns)
{
	return ns * rte_get_tsc_hz() / 1000000000ull;
}

int sched_engine_node(const struct snap_engine *e)
{
	if (numa_available() < 0)
		return -1;
	int s = snap_engine_socket(e);
	if (s >= 0 && s <= numa_max_node())
		return s;
	int cpu = sched_getcpu();
	int n = cpu >= 0 ? numa_node_of_cpu(cpu) : -1;
	return n >= 0 ? n : 0;
}

/* Format a CPU set as "0-3,6". */
static void cpuset_str(const cpu_set_t *s, char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = '\0';
	for (int c = 0; c < CPU_SETSIZE && n < len; c++) {
		if (!CPU_ISSET(c, s))
			continue;
		int end = c;
		while (end + 1 < CPU_SETSIZE && CPU_ISSET(end + 1, s))
			end++;
		int w = end > c ? snprintf(buf + n, len - n, "%s%d-%d", n ? "," : "", c, end)
				: snprintf(buf + n, len - n, "%s%d", n ? "," : "", c);
		n += w > 0 ? (size_t)w : 0;
		c = end;
	}
}

/* Pin to t->cpu, or to the CPUs of t->node; record what was done in t->placement. */
static void place(struct sched_thread *t)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	char cpus[64];
	if (t->cpu >= 0) {
		CPU_SET(t->cpu, &set);
		if (numa_available() >= 0)
			t->node = numa_node_of_cpu(t->cpu);
	} else if (t->node >= 0) {
		struct bitmask *bm = numa_allocate_cpumask();
		if (bm && numa_node_to_cpus(t->node, bm) == 0) {
			for (unsigned c = 0; c < bm->size && c < CPU_SETSIZE; c++)
				if (numa_bitmask_isbitset(bm, c))
					CPU_SET(c, &set);
		}
		numa_free_cpumask(bm);
	}
	/* A spreading/compacting group with a cpus list keeps its threads on those CPUs (of
	 * the engine's node, if the list has any there). */
	const struct sched_params *p = &t->g->p;
	if (t->cpu < 0 && p->n_cpus) {
		cpu_set_t own, both;
		CPU_ZERO(&own);
		for (unsigned i = 0; i < p->n_cpus; i++)
			CPU_SET(p->cpus[i], &own);
		CPU_AND(&both, &own, &set);
		set = CPU_COUNT(&both) ? both : own;
	}
	if (CPU_COUNT(&set) == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		t->n_cpus = n > 0 ? (unsigned)n : 1;
		snprintf(t->placement, sizeof(t->placement), "unpinned (no NUMA information)");
		return;
	}
	t->n_cpus = (unsigned)CPU_COUNT(&set);
	cpuset_str(&set, cpus, sizeof(cpus));
	int r = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (t->cpu >= 0)
		snprintf(t->placement, sizeof(t->placement), "cpu %d (node %d)%s%s", t->cpu,
			 t->node, r ? " not applied: " : "", r ? strerror(r) : "");
	else
		snprintf(t->placement, sizeof(t->placement), "node %d cpus %s%s%s", t->node, cpus,
			 r ? " not applied: " : "", r ? strerror(r) : "");
}

static bool have_cap_sys_nice(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) != 0)
		return false;
	return (d[CAP_SYS_NICE / 32].effective >> (CAP_SYS_NICE % 32)) & 1;
}

/* Not in glibc's headers: the kernel ABI of sched_setattr(2). */
struct dl_attr {
	uint32_t size;
	uint32_t sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime;
	uint64_t sched_deadline;
	uint64_t sched_period;
};

#ifndef SCHED_DEADLINE
#define SCHED_DEADLINE 6
#endif

static void set_deadline(struct sched_thread *t)
{
	const struct sched_params *p = &t->g->p;
	if (t->polling || p->dl_runtime_ns == 0) {
		snprintf(t->deadline, sizeof(t->deadline), "off");
		return;
	}
	if (!have_cap_sys_nice()) {
		snprintf(t->deadline, sizeof(t->deadline), "unavailable (no CAP_SYS_NICE)");
		return;
	}
	struct dl_attr a = {
		.size = sizeof(a),
		.sched_policy = SCHED_DEADLINE,
		.sched_runtime = p->dl_runtime_ns,
		.sched_deadline = p->dl_period_ns,
		.sched_period = p->dl_period_ns,
	};
	if (syscall(SYS_sched_setattr, 0, &a, 0) != 0) {
		snprintf(t->deadline, sizeof(t->deadline), "unavailable (sched_setattr: %s)",
			 strerror(errno));
		return;
	}
	snprintf(t->deadline, sizeof(t->deadline), "on (%lu/%lu ns)",
		 (unsigned long)p->dl_runtime_ns, (unsigned long)p->dl_period_ns);
}

/* Keep the epoll set equal to the engine's wake fds (edge-triggered: a readiness edge wakes
 * us once, so fds the elements drain themselves never spin the loop). */
static void sync_fds(struct sched_thread *t, struct slot_local *l)
{
	uint32_t gen = snap_engine_wake_gen(l->e);
	if (gen == l->gen && l->n_fds == snap_engine_wake_fds(l->e, NULL, 0))
		return;
	int fds[SNAP_ENGINE_WAKE_FDS_MAX];
	unsigned n = snap_engine_wake_fds(l->e, fds, SNAP_ENGINE_WAKE_FDS_MAX);
	for (uint16_t i = 0; i < l->n_fds; i++)
		epoll_ctl(t->ep_fd, EPOLL_CTL_DEL, l->fds[i], NULL);
	l->n_fds = 0;
	for (unsigned i = 0; i < n; i++) {
		struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = TAG_ENGINE};
		int fd = fds[i];
		if (epoll_ctl(t->ep_fd, EPOLL_CTL_ADD, fd, &ev) == 0 || errno == EEXIST)
			l->fds[l->n_fds++] = fd;
	}
	l->gen = gen;
}

static void detach(struct sched_thread *t, struct slot_local *l)
{
	for (uint16_t i = 0; i < l->n_fds; i++)
		epoll_ctl(t->ep_fd, EPOLL_CTL_DEL, l->fds[i], NULL);
	l->n_fds = 0;
	l->e = NULL;
}

/* One round over the thread's engines; parks those whose park closure ran. */
static unsigned poll_all(struct sched_thread *t, struct slot_local *loc)
{
	unsigned work = 0;
	for (unsigned i = 0; i < SCHED_THREAD_ENGINES_MAX; i++) {
		/* acquire: pairs with the control thread's release in sched_thread_link, so
		 * the engine's fields written while it was parked are visible. */
		struct snap_engine *e = atomic_load_explicit(&t->slot[i], memory_order_acquire);
		if (e != loc[i].e) {
			detach(t, &loc[i]);
			loc[i].e = e;
			loc[i].se = e ? sched_eng(e) : NULL;
			loc[i].gen = UINT32_MAX;
		}
		if (e == NULL)
			continue;
		/* Each engine gets its own start time: its cpu_ns and queueing delay must not
		 * include the engines polled before it. */
		work += snap_engine_poll(e, rte_rdtsc());
		struct sched_eng *se = loc[i].se;
		if (unlikely(se->park_req)) {
			/* Safe point: the poll is over and we will not touch e again. */
			se->park_req = false;
			snap_engine_arm_wakeup(e, false); /* in case it was parked while armed */
			detach(t, &loc[i]);
			atomic_store_explicit(&t->slot[i], NULL, memory_order_release);
		}
	}
	return work;
}

#define GUARD_MAX_MULT 64u

/* Arming: *notsup when some source can only be polled, *guarded when one may miss a
 * wake-up (snap_engine_arm_wakeup). */
static void arm_all(struct snap_engine *const *es, unsigned n, bool arm, bool *notsup,
		    bool *guarded)
{
	for (unsigned i = 0; i < n; i++) {
		int r = snap_engine_arm_wakeup(es[i], arm);
		if (r == -ENOTSUP && notsup)
			*notsup = true;
		else if (r == SNAP_ARM_GUARDED && guarded)
			*guarded = true;
	}
}

static void drain(int fd)
{
	uint64_t v;
	ssize_t r = read(fd, &v, sizeof(v));
	(void)r;
}

/* Give the core back until something happens. Returns true if the thread actually slept
 * in epoll (for the adaptive spin). */
static bool idle_sleep(struct sched_thread *t, struct slot_local *loc)
{
	const struct sched_params *p = &t->g->p;
	struct snap_engine *es[SCHED_THREAD_ENGINES_MAX];
	unsigned n = 0;
	uint64_t dl = UINT64_MAX;
	struct epoll_event evs[EVS_MAX];
	bool notsup = false, guarded = false;

	for (unsigned i = 0; i < SCHED_THREAD_ENGINES_MAX; i++) {
		if (loc[i].e == NULL)
			continue;
		sync_fds(t, &loc[i]);
		es[n++] = loc[i].e;
	}
	/* Forget edges from the busy period so the sleep below waits for new ones. */
	int k = epoll_wait(t->ep_fd, evs, EVS_MAX, 0);
	for (int i = 0; i < k; i++)
		if (evs[i].data.u64 != TAG_ENGINE)
			drain(evs[i].data.u64 == TAG_CTL ? t->ctl_fd : t->timer_fd);

	arm_all(es, n, true, &notsup, &guarded);
	for (unsigned i = 0; i < n; i++) {
		uint64_t d = snap_engine_next_deadline(es[i]);
		dl = d < dl ? d : dl;
	}
	/* Armed: input from now on makes a wake fd readable. Look once more so input that
	 * arrived before arming is not slept on; same for a mailbox call or stop request
	 * (their posters bump the counter, then write ctl_fd). */
	unsigned work = poll_all(t, loc);
	uint64_t now = rte_rdtsc();
	/* That poll may have parked engines (disarmed, no longer ours): forget them. It may
	 * also have met an engine linked since the fd sync above (whose link wake-up the
	 * drain may have eaten), or an engine may have changed its wake fds: those are not
	 * armed or not in the epoll set, so go round once more instead of sleeping. */
	bool unsynced = false;
	n = 0;
	for (unsigned i = 0; i < SCHED_THREAD_ENGINES_MAX; i++) {
		if (loc[i].e == NULL)
			continue;
		es[n++] = loc[i].e;
		unsynced |= loc[i].gen != snap_engine_wake_gen(loc[i].e);
	}
	if (work || unsynced || atomic_load(&t->calls) || atomic_load(&t->stop) || dl <= now) {
		arm_all(es, n, false, NULL, NULL);
		return false;
	}
	/* The timer: the engines' earliest deadline, or sooner the next look at a source that
	 * cannot wake us, at an exponentially growing interval (the wake-up latency it costs
	 * is that interval, capped by backoff_max_ns). Wake fds still wake us at once. */
	uint64_t ns = dl == UINT64_MAX ? UINT64_MAX : tsc_to_ns(dl - now);
	uint64_t b = 0;
	/* A source whose wake-up can be lost (memif kicks): look again after the guard at the
	 * latest, an ordinary timed sleep (counted in timer_wakeups when it ends it). The
	 * guard is backoff_max_ns after work and doubles, up to GUARD_MAX_MULT times that,
	 * while its looks find nothing: an idle link then costs a look every 64 ms (default),
	 * not every millisecond. A kick is lost only in a race with a packet sent as we arm,
	 * so the long guards, armed rarely, almost never meet one. */
	if (guarded && !notsup) {
		uint64_t g = t->guard_ns ? t->guard_ns * 2 : p->backoff_max_ns;
		if (g > p->backoff_max_ns * GUARD_MAX_MULT)
			g = p->backoff_max_ns * GUARD_MAX_MULT;
		t->guard_ns = g;
		if (g < ns)
			ns = g;
	}
	if (notsup) {
		b = atomic_load_explicit(&t->st.backoff_cur_ns, memory_order_relaxed);
		b = b ? b * 2 : p->backoff_min_ns;
		if (b > p->backoff_max_ns)
			b = p->backoff_max_ns;
		snap_stat_set(&t->st.backoff_cur_ns, b);
		if (b < ns)
			ns = b;
		else
			b = 0; /* the engines' timer comes first: an ordinary timed sleep */
	}
	bool timer = ns != UINT64_MAX;
	if (timer) {
		struct itimerspec its = {.it_value = {(time_t)(ns / 1000000000ull),
						      (long)(ns % 1000000000ull)}};
		if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
			its.it_value.tv_nsec = 1;
		timerfd_settime(t->timer_fd, 0, &its, NULL);
	}
	if (b)
		snap_stat_add(&t->st.backoffs, 1);
	else
		snap_stat_add(&t->st.sleeps, 1);
	uint64_t t0 = b ? rte_rdtsc() : 0;
	k = epoll_wait(t->ep_fd, evs, EVS_MAX, -1);
	bool woke = false, fired = false;
	for (int i = 0; i < k; i++) {
		if (evs[i].data.u64 == TAG_CTL) {
			drain(t->ctl_fd);
			snap_stat_add(&t->st.ctl_wakeups, 1);
			woke = true;
		} else if (evs[i].data.u64 == TAG_TIMER) {
			drain(t->timer_fd);
			fired = true;
			if (!b) {
				snap_stat_add(&t->st.timer_wakeups, 1);
				woke = true;
			}
		} else {
			woke = true;
		}
	}
	if (b)
		snap_stat_add(&t->st.backoff_ns, tsc_to_ns(rte_rdtsc() - t0));
	if (woke)
		snap_stat_add(&t->st.wakeups, 1);
	if (timer && !fired) { /* a one-shot timer that fired is already off */
		struct itimerspec off = {0};
		timerfd_settime(t->timer_fd, 0, &off, NULL);
	}
	/* Engines that were parked meanwhile are not in loc any more; es[] entries are still
	 * ours: only this thread unlinks engines from itself. */
	for (unsigned i = 0; woke && i < n; i++)
		snap_stat_add(&sched_eng(es[i])->wakeups, 1);
	arm_all(es, n, false, NULL, NULL);
	return b == 0;
}

/* Whether the thread has an engine. A polling thread without one (all parked, as in an
 * upgrade's blackout, or not yet placed) has nothing to poll: it sleeps like the others
 * until a link wakes it, instead of taking CPU from the control thread that is saving or
 * restoring the engines it will run. */
static bool loc_busy(const struct slot_local *loc)
{
	for (unsigned i = 0; i < SCHED_THREAD_ENGINES_MAX; i++)
		if (loc[i].e != NULL)
			return true;
	return false;
}

/* One idle look's pause. A thread that spins while idle (a polling one always, any other
 * before it sleeps) and shares its CPU (with the engines' apps, on a small host) hands the
 * CPU over every idle_yield_polls looks: a task woken on this CPU that did not preempt us
 * would otherwise wait for the scheduler's tick (4 ms at HZ=250), the p99.9 of every RPC,
 * and an app spinning on its completions (pony_wait yields between looks, so it is never
 * woken and never preempts) would wait out the whole spin, every round trip. Alone on its
 * CPU the call returns at once. A thread that did no work since its last yield waits
 * IDLE_QUIET_MULT times as many looks: the app it yielded to gave it nothing (no command)
 * and got nothing from it (no completion), so handing the CPU back so soon would only
 * trade context switches with an app that looks and yields back, while the reply the
 * app waits for is still on the wire (at 64 RPCs in flight those switches took a third of
 * both cores). */
#define IDLE_QUIET_MULT 8u

static void idle_pause(struct sched_thread *t, const struct sched_params *p, uint32_t *run,
		       bool *worked)
{
	uint64_t polls = *worked ? p->idle_yield_polls
				 : (uint64_t)p->idle_yield_polls * IDLE_QUIET_MULT;
	if (p->idle_yield_polls && ++*run >= polls) {
		*run = 0;
		*worked = false;
		sched_yield();
		snap_stat_add(&t->st.idle_yields, 1);
	} else {
		rte_pause();
	}
}

static void *thread_main(void *arg)
{
	struct sched_thread *t = arg;
	const struct sched_params *p = &t->g->p;
	struct slot_local loc[SCHED_THREAD_ENGINES_MAX] = {0};
	char name[16];

	snprintf(name, sizeof(name), "sch-%.7s-%u", t->g->name, t->index);
	pthread_setname_np(pthread_self(), name);
	bool registered = rte_thread_register() == 0;
	place(t);
	set_deadline(t);
	if (!registered) {
		/* Engines still run; per-lcore DPDK facilities (mempool caches) are slower. */
		size_t n = strlen(t->placement);
		snprintf(t->placement + n, sizeof(t->placement) - n, ", not an EAL thread (%s)",
			 rte_strerror(rte_errno));
	}
	atomic_store_explicit(&t->ready, true, memory_order_release);

	uint64_t spin_ns = p->spin_min_ns, idle_start = 0;
	uint32_t idle_run = 0;
	bool worked = true; /* work since the last idle yield */
	snap_stat_set(&t->st.spin_ns, spin_ns);
	while (!atomic_load_explicit(&t->stop, memory_order_acquire)) {
		uint64_t now = rte_rdtsc();
		unsigned work = poll_all(t, loc);
		snap_stat_add(&t->st.loops, 1);
		if (work) {
			snap_stat_add(&t->st.busy_loops, 1);
			idle_start = 0;
			idle_run = 0;
			worked = true;
			if (atomic_load_explicit(&t->st.backoff_cur_ns, memory_order_relaxed))
				snap_stat_set(&t->st.backoff_cur_ns, 0);
			t->guard_ns = 0;
			continue;
		}
		snap_stat_add(&t->st.idle_loops, 1);
		if (t->polling && loc_busy(loc)) {
			idle_pause(t, p, &idle_run, &worked);
			continue;
		}
		if (atomic_load_explicit(&t->calls, memory_order_relaxed)) {
			/* A mailbox call is in flight: stay awake but let its poster run. */
			sched_yield();
			continue;
		}
		/* Backing off a poll-only source: no spin between the sleeps. */
		bool backing = atomic_load_explicit(&t->st.backoff_cur_ns, memory_order_relaxed);
		if (!backing) {
			if (idle_start == 0)
				idle_start = now;
			if (now - idle_start < ns_to_tsc(spin_ns)) {
				idle_pause(t, p, &idle_run, &worked);
				continue;
			}
		}
		uint64_t t0 = rte_rdtsc();
		bool slept = idle_sleep(t, loc);
		idle_start = 0;
		if (slept) {
			/* Adaptive spin: woken soon after sleeping means work comes often enough
			 * that spinning a little longer would have saved the sleep/wake cost. */
			uint64_t asleep = tsc_to_ns(rte_rdtsc() - t0);
			if (asleep < p->spin_max_ns)
				spin_ns = spin_ns * 2 > p->spin_max_ns ? p->spin_max_ns : spin_ns * 2;
			else
				spin_ns = spin_ns / 2 < p->spin_min_ns ? p->spin_min_ns : spin_ns / 2;
			snap_stat_set(&t->st.spin_ns, spin_ns);
		}
	}
	if (registered)
		rte_thread_unregister();
	return NULL;
}

struct sched_thread *sched_thread_start(struct sched_group *g, unsigned index, int node, int cpu)
{
	struct sched_thread *t = calloc(1, sizeof(*t));
	if (t == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	t->g = g;
	t->index = index;
	t->node = node;
	t->cpu = cpu;
	t->polling = g->mode == SCHED_MODE_DEDICATED;
	t->ctl_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	t->ep_fd = epoll_create1(EPOLL_CLOEXEC);
	t->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	int err = 0;
	if (t->ctl_fd < 0 || t->ep_fd < 0 || t->timer_fd < 0) {
		err = errno;
		goto fail;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG_CTL};
	struct epoll_event tev = {.events = EPOLLIN, .data.u64 = TAG_TIMER};
	if (epoll_ctl(t->ep_fd, EPOLL_CTL_ADD, t->ctl_fd, &ev) != 0 ||
	    epoll_ctl(t->ep_fd, EPOLL_CTL_ADD, t->timer_fd, &tev) != 0) {
		err = errno;
		goto fail;
	}
	err = pthread_create(&t->tid, NULL, thread_main, t);
	if (err)
		goto fail;
	/* Wait (politely, bounded) for placement so inspect and the log show the result. */
	for (unsigned i = 0; i < 2000 && !atomic_load_explicit(&t->ready, memory_order_acquire);
	     i++) {
		struct timespec ts = {0, 500000};
		nanosleep(&ts, NULL);
	}
	SNAP_LOG(INFO, "sched: group %s (%s) thread %u placed on %s, deadline %s", g->name,
		 sched_mode_name(g->mode), index, t->placement, t->deadline);
	return t;
fail:
	if (t->ctl_fd >= 0)
		close(t->ctl_fd);
	if (t->ep_fd >= 0)
		close(t->ep_fd);
	if (t->timer_fd >= 0)
		close(t->timer_fd);
	free(t);
	errno = err ? err : ENOMEM;
	return NULL;
}

void sched_thread_wake(struct sched_thread *t)
{
	uint64_t one = 1;
	ssize_t r = write(t->ctl_fd, &one, sizeof(one));
	(void)r; /* EAGAIN: counter saturated, the thread is awake anyway */
}

void sched_thread_stop(struct sched_thread *t)
{
	if (t == NULL)
		return;
	atomic_store_explicit(&t->stop, true, memory_order_release);
	sched_thread_wake(t);
	pthread_join(t->tid, NULL);
	close(t->ctl_fd);
	close(t->ep_fd);
	close(t->timer_fd);
	free(t);
}

uint64_t sched_thread_cpu_ns(const struct sched_thread *t)
{
	clockid_t cid;
	struct timespec ts;
	if (pthread_getcpuclockid(t->tid, &cid) != 0 || clock_gettime(cid, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int sched_thread_link(struct sched_thread *t, struct snap_engine *e)
{
	unsigned i = 0;
	while (i < SCHED_THREAD_ENGINES_MAX && t->engines[i])
		i++;
	if (i == SCHED_THREAD_ENGINES_MAX)
		return -ENOSPC;
	struct sched_eng *se = sched_eng(e);
	se->park_req = false;
	se->slot = (int)i;
	t->engines[i] = e;
	t->n_engines++;
	se->t = t;
	se->g = t->g;
	snap_engine_set_state(e, SNAP_ENGINE_RUNNING);
	/* release: everything written to the engine while parked is visible to the thread. */
	atomic_store_explicit(&t->slot[i], e, memory_order_release);
	sched_thread_wake(t);
	return 0;
}

static int park_closure(struct snap_engine *e, void *arg)
{
	struct sched_eng *se = sched_eng(e);
	se->park_req = true; /* the thread unlinks e right after this poll */
	return 0;
}

int sched_thread_unlink(struct snap_engine *e)
{
	struct sched_eng *se = sched_eng(e);
	struct sched_thread *t = se->t;
	int r = snap_engine_call(e, park_closure, NULL, SCHED_PARK_TIMEOUT_MS);
	if (r < 0)
		return r;
	/* The closure ran inside a poll; the slot clears when that poll ends, which element
	 * contracts bound (polls are bounded work). Giving up here would leave the thread and
	 * us disagreeing about who owns e, so wait, complaining if it takes long (our thread
	 * or the engine's may be descheduled on a busy machine). */
	unsigned spins = 0;
	uint64_t hz = rte_get_timer_hz(), warn = rte_get_timer_cycles() + hz;
	while (atomic_load_explicit(&t->slot[se->slot], memory_order_acquire) == e) {
		if (rte_get_timer_cycles() > warn) {
			SNAP_LOG(WARNING, "sched: engine %s: parked, waiting for thread %u to "
				 "finish its poll", snap_engine_name(e), t->index);
			warn = rte_get_timer_cycles() + 5 * hz;
		}
		if (++spins < 100) {
			rte_pause();
		} else {
			struct timespec ts = {0, 20000};
			nanosleep(&ts, NULL);
		}
	}
	t->engines[se->slot] = NULL;
	t->n_engines--;
	se->slot = -1;
	se->t = NULL;
	snap_engine_set_state(e, SNAP_ENGINE_PARKED);
	return 0;
}
