/* Group API on the control thread: create/destroy groups, place engines on threads by mode,
 * move engines (park on the old thread through the mailbox, link on the new one), live mode
 * changes, and the mailbox-call hook that wakes sleeping threads. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sched/internal.h"
#include "snap/log.h"

static struct sched_group *groups[SCHED_GROUPS_MAX];
static bool inited;

/* Wake the engine's thread around a mailbox call so a sleeping thread runs the closure. */
static void call_hook(struct snap_engine *e, bool begin)
{
	struct sched_thread *t = sched_eng(e)->t;
	if (t == NULL)
		return;
	if (begin) {
		/* Counter before the eventfd write: a thread about to sleep either sees the
		 * counter or gets the event (see idle_sleep). */
		atomic_fetch_add(&t->calls, 1);
		sched_thread_wake(t);
	} else {
		atomic_fetch_sub(&t->calls, 1);
	}
}

/* The engine-level counters that are sched's, in snap_engine_report's list. */
static void report_hook(const struct snap_engine *e, snap_engine_stat_fn fn, void *ctx)
{
	const struct sched_eng *se = sched_eng(e);
	fn(ctx, "", "wakeups", snap_stat_get(&se->wakeups));
	fn(ctx, "", "moves", snap_stat_get(&se->moves));
}

static const struct snap_executor executor = {.call = call_hook, .report = report_hook};
/* After sched_fini no engine runs, but their wakeups and moves stay in their records and
 * are still reported (the daemon's counter dump at exit comes after sched_fini). */
static const struct snap_executor executor_stopped = {.report = report_hook};

int sched_init(void)
{
	if (inited)
		return -EALREADY;
	snap_engine_set_executor(&executor);
	inited = true;
	return 0;
}

void sched_fini(void)
{
	for (unsigned i = 0; i < SCHED_GROUPS_MAX; i++)
		sched_group_destroy(groups[i]);
	snap_engine_set_executor(&executor_stopped);
	inited = false;
}

struct sched_group *sched_group_find(const char *name)
{
	for (unsigned i = 0; name && i < SCHED_GROUPS_MAX; i++)
		if (groups[i] && strcmp(groups[i]->name, name) == 0)
			return groups[i];
	return NULL;
}

struct sched_group *sched_group_at(unsigned i)
{
	for (unsigned j = 0; j < SCHED_GROUPS_MAX; j++)
		if (groups[j] && i-- == 0)
			return groups[j];
	return NULL;
}

struct sched_group *sched_group_create(const char *name, enum sched_mode mode,
				       const struct sched_params *params)
{
	if (name == NULL || !name[0] || strlen(name) >= SCHED_NAME_MAX ||
	    (unsigned)mode > SCHED_MODE_COMPACTING) {
		errno = EINVAL;
		return NULL;
	}
	if (sched_group_find(name)) {
		errno = EEXIST;
		return NULL;
	}
	unsigned slot = 0;
	while (slot < SCHED_GROUPS_MAX && groups[slot])
		slot++;
	if (slot == SCHED_GROUPS_MAX) {
		errno = ENOSPC;
		return NULL;
	}
	struct sched_params p;
	if (params)
		p = *params;
	else
		sched_params_default(&p);
	if (sched_params_check(&p) < 0) {
		errno = EINVAL;
		return NULL;
	}
	struct sched_group *g = calloc(1, sizeof(*g));
	if (g == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	snprintf(g->name, sizeof(g->name), "%s", name);
	g->mode = mode;
	g->p = p;
	groups[slot] = g;
	return g;
}

unsigned sched_group_n_threads(const struct sched_group *g)
{
	unsigned n = 0;
	for (unsigned i = 0; i < SCHED_THREADS_MAX; i++)
		n += g->threads[i] != NULL;
	return n;
}

unsigned sched_group_thread_cap(const struct sched_group *g, const struct sched_thread *t)
{
	return t->n_cpus < g->p.max_threads ? t->n_cpus : g->p.max_threads;
}

struct sched_thread *sched_group_new_thread(struct sched_group *g, int node, int cpu)
{
	unsigned i = 0;
	while (i < SCHED_THREADS_MAX && g->threads[i])
		i++;
	if (i == SCHED_THREADS_MAX) {
		errno = ENOSPC;
		return NULL;
	}
	struct sched_thread *t = sched_thread_start(g, i, node, cpu);
	if (t)
		g->threads[i] = t;
	return t;
}

void sched_group_drop_thread(struct sched_group *g, struct sched_thread *t)
{
	g->threads[t->index] = NULL;
	g->retired_cpu_ns += sched_thread_cpu_ns(t); /* its clock goes away with it */
	sched_thread_stop(t);
}

static unsigned thread_load(const struct sched_thread *t)
{
	unsigned l = 0;
	for (unsigned i = 0; i < SCHED_THREAD_ENGINES_MAX; i++)
		if (t->engines[i])
			l += sched_eng(t->engines[i])->load_milli;
	return l;
}

/* The thread a newly added engine goes to under g's mode (creating it if needed). */
static struct sched_thread *choose_thread(struct sched_group *g, struct snap_engine *e)
{
	int node = sched_engine_node(e);
	if (g->mode == SCHED_MODE_DEDICATED) {
		unsigned n = g->p.n_cpus ? g->p.n_cpus : 1;
		for (unsigned k = 0; k < n; k++) {
			unsigned i = (g->rr + k) % n;
			struct sched_thread *t = g->threads[i];
			if (t == NULL) {
				t = sched_thread_start(g, i, node, g->p.n_cpus ? g->p.cpus[i] : -1);
				if (t == NULL)
					return NULL;
				g->threads[i] = t;
			}
			if (t->n_engines < SCHED_THREAD_ENGINES_MAX) {
				g->rr = i + 1;
				if (t->cpu >= 0 && node >= 0 && t->node != node)
					SNAP_LOG(WARNING,
						 "sched: engine %s (node %d) on dedicated cpu %d of node %d",
						 snap_engine_name(e), node, t->cpu, t->node);
				return t;
			}
		}
		errno = ENOSPC;
		return NULL;
	}
	if (g->mode == SCHED_MODE_COMPACTING) {
		/* Pack: the least loaded thread on the engine's node with room. */
		struct sched_thread *best = NULL;
		for (unsigned i = 0; i < SCHED_THREADS_MAX; i++) {
			struct sched_thread *t = g->threads[i];
			if (t && t->node == node && t->n_engines < SCHED_THREAD_ENGINES_MAX &&
			    (best == NULL || thread_load(t) < thread_load(best)))
				best = t;
		}
		if (best)
			return best;
	}
	/* Spreading (always), compacting (no thread on this node yet). */
	return sched_group_new_thread(g, node, -1);
}

/* Drop threads left without engines (the compacting controller keeps none idle either). */
static void reap_threads(struct sched_group *g)
{
	for (unsigned i = 0; i < SCHED_THREADS_MAX; i++)
		if (g->threads[i] && g->threads[i]->n_engines == 0)
			sched_group_drop_thread(g, g->threads[i]);
}

static void group_list_add(struct sched_group *g, struct snap_engine *e)
{
	g->engines[g->n_engines++] = e;
}

static void group_list_del(struct sched_group *g, struct snap_engine *e)
{
	for (unsigned i = 0; i < g->n_engines; i++)
		if (g->engines[i] == e) {
			g->engines[i] = g->engines[--g->n_engines];
			return;
		}
}

/* Forget a parked engine that could not be re-placed: it leaves g, unowned. */
static void drop_engine(struct sched_group *g, struct snap_engine *e, int err)
{
	SNAP_LOG(ERR, "sched: engine %s left parked, out of group %s: %s", snap_engine_name(e),
		 g->name, strerror(-err));
	group_list_del(g, e);
	sched_eng(e)->g = NULL;
}

/* Place a parked engine into g. */
static int place_engine(struct sched_group *g, struct snap_engine *e)
{
	struct sched_thread *t = choose_thread(g, e);
	if (t == NULL)
		return -(errno ? errno : ENOSPC);
	int r = sched_thread_link(t, e);
	if (r < 0)
		reap_threads(g);
	return r;
}

int sched_engine_add(struct sched_group *g, struct snap_engine *e)
{
	if (g == NULL || e == NULL)
		return -EINVAL;
	struct sched_eng *se = sched_eng(e);
	if (snap_engine_state(e) != SNAP_ENGINE_PARKED || se->g)
		return -EBUSY;
	if (g->n_engines >= SCHED_GROUP_ENGINES_MAX)
		return -ENOSPC;
	/* A fresh compacting window; the lifetime counters stay. */
	se->park_req = false;
	se->slot = -1;
	memset(se->w_hist, 0, sizeof(se->w_hist));
	se->w_work = se->w_cpu_ns = se->p99_ns = 0;
	se->load_milli = 0;
	int r = place_engine(g, e);
	if (r < 0) {
		se->g = NULL;
		return r;
	}
	group_list_add(g, e);
	return 0;
}

/* Park e and take it out of its group's bookkeeping, keeping its window. */
static int detach_engine(struct snap_engine *e)
{
	struct sched_eng *se = sched_eng(e);
	struct sched_group *g = se->g;
	int r = sched_thread_unlink(e);
	if (r < 0)
		return r;
	group_list_del(g, e);
	se->g = NULL;
	return 0;
}

struct sched_group *sched_engine_group(const struct snap_engine *e)
{
	return sched_eng(e)->g;
}

int sched_engine_remove(struct snap_engine *e)
{
	if (e == NULL || sched_eng(e)->g == NULL)
		return -ENOENT;
	struct sched_group *g = sched_eng(e)->g;
	int r = detach_engine(e);
	if (r < 0)
		return r;
	reap_threads(g);
	return 0;
}

int sched_move_to_thread(struct snap_engine *e, struct sched_thread *t)
{
	int r = sched_thread_unlink(e);
	if (r < 0)
		return r;
	r = sched_thread_link(t, e);
	if (r < 0) {
		drop_engine(t->g, e, r);
		return r;
	}
	snap_stat_add(&sched_eng(e)->moves, 1);
	t->g->moves++;
	return 0;
}

int sched_engine_move(struct snap_engine *e, struct sched_group *g)
{
	if (e == NULL || g == NULL)
		return -EINVAL;
	struct sched_group *old = sched_eng(e)->g;
	if (old == NULL)
		return -ENOENT;
	if (g->n_engines >= SCHED_GROUP_ENGINES_MAX)
		return -ENOSPC;
	int r = detach_engine(e);
	if (r < 0)
		return r;
	r = place_engine(g, e);
	if (r < 0) {
		/* Put it back into its old group (its old thread may be gone: place afresh). */
		group_list_add(old, e);
		int r2 = place_engine(old, e);
		if (r2 < 0)
			drop_engine(old, e, r2);
		reap_threads(old);
		return r;
	}
	group_list_add(g, e);
	snap_stat_add(&sched_eng(e)->moves, 1);
	old->moves++;
	if (g != old)
		g->moves++;
	reap_threads(old);
	return 0;
}

int sched_group_set_mode(struct sched_group *g, enum sched_mode mode)
{
	if (g == NULL || (unsigned)mode > SCHED_MODE_COMPACTING)
		return -EINVAL;
	if (mode == g->mode)
		return 0;
	/* Park everything (engines keep their state and queued input), restart the threads
	 * under the new mode, re-place. Engines pause from their park to their re-placement
	 * (milliseconds: thread start-up); parking all first keeps a failure simple to undo. */
	struct snap_engine *es[SCHED_GROUP_ENGINES_MAX];
	unsigned n = g->n_engines;
	memcpy(es, g->engines, n * sizeof(es[0]));
	int first = 0;
	for (unsigned i = 0; i < n; i++) {
		int r = sched_thread_unlink(es[i]);
		if (r < 0) {
			/* Still running on its old thread: keep the old mode. Re-place the ones
			 * already parked and report. */
			first = r;
			for (unsigned j = 0; j < i; j++) {
				int r2 = place_engine(g, es[j]);
				if (r2 < 0)
					drop_engine(g, es[j], r2);
			}
			return first;
		}
	}
	for (unsigned i = 0; i < SCHED_THREADS_MAX; i++)
		if (g->threads[i])
			sched_group_drop_thread(g, g->threads[i]);
	SNAP_LOG(INFO, "sched: group %s: %s -> %s (%u engines)", g->name,
		 sched_mode_name(g->mode), sched_mode_name(mode), n);
	g->mode = mode;
	g->rr = 0;
	g->win_start_ns = 0;
	g->grow_streak = g->shrink_streak = 0;
	memset(g->grow_load, 0, sizeof(g->grow_load));
	for (unsigned i = 0; i < n; i++) {
		int r = place_engine(g, es[i]);
		if (r < 0) {
			drop_engine(g, es[i], r);
			if (first == 0)
				first = r;
			continue;
		}
		snap_stat_add(&sched_eng(es[i])->moves, 1);
		g->moves++;
	}
	return first;
}

void sched_group_destroy(struct sched_group *g)
{
	if (g == NULL)
		return;
	while (g->n_engines) {
		struct snap_engine *e = g->engines[g->n_engines - 1];
		if (sched_engine_remove(e) < 0) {
			/* Cannot park it: its thread must keep running; leak the group rather
			 * than free memory a thread still uses. */
			SNAP_LOG(ERR, "sched: group %s not destroyed: engine %s would not park",
				 g->name, snap_engine_name(e));
			return;
		}
	}
	for (unsigned i = 0; i < SCHED_THREADS_MAX; i++)
		if (g->threads[i])
			sched_group_drop_thread(g, g->threads[i]);
	for (unsigned i = 0; i < SCHED_GROUPS_MAX; i++)
		if (groups[i] == g)
			groups[i] = NULL;
	free(g);
}

uint64_t sched_tick(uint64_t now_ns)
{
	uint64_t next = UINT64_MAX;
	for (unsigned i = 0; i < SCHED_GROUPS_MAX; i++) {
		if (groups[i] && groups[i]->mode == SCHED_MODE_COMPACTING) {
			uint64_t d = sched_compact_tick(groups[i], now_ns);
			next = d < next ? d : next;
		}
	}
	return next;
}
