/* Compacting controller: every window it measures each engine's p99 queueing delay and
 * load, sizes the group with Little's law, and moves engines between threads (growing when
 * delay exceeds the target, packing back when load falls). Runs on the control thread. */
#include <errno.h>
#include <string.h>

#include "sched/internal.h"
#include "snap/log.h"

#define P99_MIN_SAMPLES 20 /* fewer busy polls than this in a window: no p99 opinion */

uint64_t sched_hist_p99_ns(const uint64_t *h, uint64_t *total)
{
	uint64_t n = 0;
	for (unsigned b = 0; b < SNAP_QDELAY_BUCKETS; b++)
		n += h[b];
	*total = n;
	if (n == 0)
		return 0;
	/* The rank of the 99th percentile, then linear interpolation inside its bucket
	 * ([2^(b-1), 2^b) us; bucket 0 is [0, 1) us): a power-of-two answer would move the
	 * estimate in steps of 2x around a 50 us target. */
	uint64_t need = n - n / 100, acc = 0;
	for (unsigned b = 0; b < SNAP_QDELAY_BUCKETS; b++) {
		if (acc + h[b] >= need && h[b]) {
			uint64_t lo = b ? (1ull << (b - 1)) * 1000ull : 0, hi = (1ull << b) * 1000ull;
			return lo + (hi - lo) * (need - acc) / h[b];
		}
		acc += h[b];
	}
	return (1ull << (SNAP_QDELAY_BUCKETS - 1)) * 1000ull;
}

/* Close the window of one engine: p99 and Little's-law concurrency (arrival rate times
 * service time = work/window * cpu_ns/work = busy fraction of a core). */
static void engine_window(struct snap_engine *e, uint64_t win_ns, bool record)
{
	struct sched_eng *se = sched_eng(e);
	struct snap_engine_stats st;
	snap_engine_stats_read(e, &st);
	const uint64_t *h = st.qdelay_hist;
	uint64_t d[SNAP_QDELAY_BUCKETS];
	for (unsigned b = 0; b < SNAP_QDELAY_BUCKETS; b++)
		d[b] = h[b] - se->w_hist[b];
	uint64_t work = st.work, cpu = st.cpu_ns;
	if (record) {
		uint64_t samples;
		uint64_t p99 = sched_hist_p99_ns(d, &samples);
		se->p99_ns = samples >= P99_MIN_SAMPLES ? p99 : 0;
		uint64_t dc = cpu - se->w_cpu_ns;
		/* cpu_ns is wall time inside busy polls: on an oversubscribed machine it also
		 * counts preemption, but one engine never needs more than one core. */
		uint64_t l = win_ns ? dc * 1000 / win_ns : 0;
		se->load_milli = (uint32_t)(l > 1000 ? 1000 : l);
	}
	memcpy(se->w_hist, h, sizeof(se->w_hist));
	se->w_work = work;
	se->w_cpu_ns = cpu;
}

static struct sched_thread *least_loaded(struct sched_group *g, const struct sched_thread *not,
					 int node, unsigned *load_out)
{
	struct sched_thread *best = NULL;
	unsigned best_load = 0;
	for (unsigned i = 0; i < SCHED_THREADS_MAX; i++) {
		struct sched_thread *t = g->threads[i];
		if (t == NULL || t == not || t->node != node ||
		    t->n_engines >= SCHED_THREAD_ENGINES_MAX)
			continue;
		unsigned l = 0;
		for (unsigned k = 0; k < SCHED_THREAD_ENGINES_MAX; k++)
			if (t->engines[k])
				l += sched_eng(t->engines[k])->load_milli;
		if (best == NULL || l < best_load) {
			best = t;
			best_load = l;
		}
	}
	if (load_out)
		*load_out = best_load;
	return best;
}

static unsigned load_of(const struct sched_thread *t, struct snap_engine **heaviest)
{
	unsigned l = 0, hmax = 0;
	*heaviest = NULL;
	for (unsigned k = 0; k < SCHED_THREAD_ENGINES_MAX; k++) {
		struct snap_engine *e = t->engines[k];
		if (e == NULL)
			continue;
		unsigned el = sched_eng(e)->load_milli;
		l += el;
		if (*heaviest == NULL || el > hmax) {
			*heaviest = e;
			hmax = el;
		}
	}
	return l;
}

/* The busiest thread running two or more engines (a lone engine is not helped by moving
 * it), its load and heaviest engine; NULL if none. */
static struct sched_thread *busiest_shared(struct sched_group *g, unsigned *load,
					   struct snap_engine **heaviest)
{
	struct sched_thread *hot = NULL;
	unsigned hot_load = 0;
	struct snap_engine *hot_h = NULL;
	for (unsigned i = 0; i < SCHED_THREADS_MAX; i++) {
		struct sched_thread *t = g->threads[i];
		struct snap_engine *h;
		if (t == NULL || t->n_engines < 2)
			continue;
		unsigned l = load_of(t, &h);
		if (hot == NULL || l > hot_load) {
			hot = t;
			hot_load = l;
			hot_h = h;
		}
	}
	*load = hot_load;
	if (heaviest)
		*heaviest = hot_h;
	return hot;
}

/* Even the load out between existing threads: move the one engine from the busiest shared
 * thread to the least busy thread (same node) that lowers the busier of the two the most.
 * Growing moves a single engine to a new thread, so without this four equal engines on two
 * threads could stay split 3+1 at the CPU limit, the three queueing behind each other's
 * batches. Returns true if an engine moved. */
static bool balance(struct sched_group *g)
{
	unsigned hot_load;
	struct sched_thread *hot = busiest_shared(g, &hot_load, NULL);
	if (hot == NULL)
		return false;
	unsigned cool_load;
	struct sched_thread *cool = least_loaded(g, hot, hot->node, &cool_load);
	if (cool == NULL || cool_load >= hot_load)
		return false;
	struct snap_engine *best = NULL;
	unsigned best_max = hot_load;
	for (unsigned k = 0; k < SCHED_THREAD_ENGINES_MAX; k++) {
		struct snap_engine *e = hot->engines[k];
		if (e == NULL)
			continue;
		unsigned el = sched_eng(e)->load_milli;
		unsigned mx = hot_load - el > cool_load + el ? hot_load - el : cool_load + el;
		/* Demand a clear gain (5% of a core): load estimates are noisy and each move
		 * costs a park and a hand-over. */
		if (mx + 50 <= best_max) {
			best = e;
			best_max = mx;
		}
	}
	if (best == NULL || sched_move_to_thread(best, cool) < 0)
		return false;
	g->balances++;
	SNAP_LOG(INFO, "sched: group %s balances: %s moved from thread %u to thread %u "
		 "(load %u.%03u and %u.%03u before)", g->name, snap_engine_name(best), hot->index, cool->index,
		 hot_load / 1000, hot_load % 1000, cool_load / 1000, cool_load % 1000);
	return true;
}

/* Relieve the busiest shared thread: its heaviest engine goes to a new thread. */
static void grow(struct sched_group *g, unsigned n_threads)
{
	unsigned hot_load;
	struct snap_engine *victim;
	struct sched_thread *hot = busiest_shared(g, &hot_load, &victim);
	if (hot == NULL)
		return;
	if (n_threads >= sched_group_thread_cap(g, hot)) {
		g->held_at_max++;
		return;
	}
	struct sched_thread *nt = sched_group_new_thread(g, hot->node, -1);
	if (nt == NULL) {
		SNAP_LOG(WARNING, "sched: group %s cannot grow: %s", g->name, strerror(errno));
		return;
	}
	if (sched_move_to_thread(victim, nt) < 0) {
		if (nt->n_engines == 0)
			sched_group_drop_thread(g, nt);
		return;
	}
	g->grows++;
	g->grow_load[n_threads + 1] = g->little_milli ? g->little_milli : 1;
	SNAP_LOG(INFO, "sched: group %s grows to %u threads: %s moved off thread %u "
		 "(p99 %lu ns > target %lu ns, load %u.%03u)", g->name, n_threads + 1, snap_engine_name(victim),
		 hot->index, (unsigned long)g->p99_max_ns, (unsigned long)g->p.qdelay_target_ns,
		 hot_load / 1000, hot_load % 1000);
}

/* Pack the least loaded thread's engines onto the others and stop it. */
static void shrink(struct sched_group *g)
{
	struct sched_thread *cold = NULL;
	unsigned cold_load = 0;
	for (unsigned i = 0; i < SCHED_THREADS_MAX; i++) {
		struct sched_thread *t = g->threads[i];
		struct snap_engine *h;
		if (t == NULL)
			continue;
		unsigned l = load_of(t, &h);
		if (cold == NULL || l < cold_load) {
			cold = t;
			cold_load = l;
		}
	}
	if (cold == NULL)
		return;
	for (unsigned k = 0; k < SCHED_THREAD_ENGINES_MAX; k++) {
		struct snap_engine *e = cold->engines[k];
		if (e == NULL)
			continue;
		struct sched_thread *to = least_loaded(g, cold, cold->node, NULL);
		if (to == NULL || sched_move_to_thread(e, to) < 0)
			return; /* keep the thread; try again next window */
		g->rebalances++;
	}
	g->grow_load[sched_group_n_threads(g)] = 0;
	sched_group_drop_thread(g, cold);
	g->shrinks++;
	SNAP_LOG(INFO, "sched: group %s shrinks to %u threads (p99 %lu ns, Little %u.%03u)",
		 g->name, sched_group_n_threads(g), (unsigned long)g->p99_max_ns,
		 g->little_milli / 1000, g->little_milli % 1000);
}

/* One window's end: sample every engine, then grow, shrink or keep the group. */
static void compact_window(struct sched_group *g, uint64_t now_ns, bool record)
{
	uint64_t win = record ? now_ns - g->win_start_ns : 0;
	g->win_start_ns = now_ns;
	uint64_t p99max = 0, little = 0;
	for (unsigned i = 0; i < g->n_engines; i++) {
		struct snap_engine *e = g->engines[i];
		engine_window(e, win, record);
		struct sched_eng *se = sched_eng(e);
		if (se->p99_ns > p99max)
			p99max = se->p99_ns;
		little += se->load_milli;
	}
	if (!record)
		return;
	g->windows++;
	g->p99_max_ns = p99max;
	g->little_milli = (uint32_t)little;
	unsigned n = sched_group_n_threads(g);
	/* Little's law: the group needs ceil(concurrency / utilisation target) threads. */
	unsigned want = (unsigned)((little * 100 + (uint64_t)g->p.util_target_pct * 1000 - 1) /
				   ((uint64_t)g->p.util_target_pct * 1000));
	if (want == 0)
		want = 1;
	g->threads_wanted = (uint16_t)want;
	if (n == 0)
		return;
	bool hot = p99max > g->p.qdelay_target_ns || want > n;
	bool fits = little * 100 <= (uint64_t)(n - 1) * g->p.util_low_pct * 1000;
	/* Below the load that made us grow to n, by the same margin as low vs target
	 * utilisation. */
	bool below_grow = (uint64_t)little * g->p.util_target_pct <
			  (uint64_t)g->grow_load[n] * g->p.util_low_pct;
	bool cold = n > 1 && p99max < g->p.qdelay_low_ns && fits &&
		    (g->grow_load[n] == 0 || below_grow);
	g->grow_streak = hot ? g->grow_streak + 1 : 0;
	g->shrink_streak = cold ? g->shrink_streak + 1 : 0;
	if (g->grow_streak >= g->p.hysteresis) {
		g->grow_streak = 0;
		/* Even out the threads we have before adding one, unless Little's law says
		 * they are too few anyway. */
		if (want > n || !balance(g))
			grow(g, n);
	} else if (g->shrink_streak >= g->p.hysteresis) {
		g->shrink_streak = 0;
		shrink(g);
	}
	/* Moves reset the engines' windows so the next decision sees the new placement. */
	for (unsigned i = 0; i < g->n_engines; i++)
		engine_window(g->engines[i], 0, false);
}

uint64_t sched_compact_tick(struct sched_group *g, uint64_t now_ns)
{
	bool record = g->win_start_ns != 0;
	if (record && now_ns - g->win_start_ns < g->p.window_ns)
		return g->win_start_ns + g->p.window_ns - now_ns;
	compact_window(g, now_ns, record);
	return g->p.window_ns;
}
