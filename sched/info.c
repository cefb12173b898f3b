/* Inspection of groups, threads and engines (snapctl): counters are read with relaxed loads
 * so looking never stops or wakes an engine thread. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sched/internal.h"

int sched_group_info(const struct sched_group *g, struct sched_group_info *out)
{
	if (g == NULL || out == NULL)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", g->name);
	out->mode = g->mode;
	out->params = g->p;
	out->n_threads = sched_group_n_threads(g);
	out->n_engines = g->n_engines;
	out->moves = g->moves;
	out->windows = g->windows;
	out->grows = g->grows;
	out->shrinks = g->shrinks;
	out->rebalances = g->rebalances;
	out->balances = g->balances;
	out->held_at_max = g->held_at_max;
	out->p99_max_ns = g->p99_max_ns;
	out->little_milli = g->little_milli;
	out->threads_wanted = g->threads_wanted;
	out->cpu_ns = g->retired_cpu_ns;
	for (unsigned i = 0; i < SCHED_THREADS_MAX; i++)
		if (g->threads[i])
			out->cpu_ns += sched_thread_cpu_ns(g->threads[i]);
	const struct sched_thread *first = NULL;
	for (unsigned i = 0; i < SCHED_THREADS_MAX && first == NULL; i++)
		first = g->threads[i];
	out->thread_cap = 0;
	if (first && atomic_load_explicit(&first->ready, memory_order_acquire))
		out->thread_cap = (uint16_t)sched_group_thread_cap(g, first);
	if (g->p.dl_runtime_ns == 0 || g->mode == SCHED_MODE_DEDICATED)
		snprintf(out->deadline, sizeof(out->deadline), "off");
	else if (first)
		snprintf(out->deadline, sizeof(out->deadline), "%s", first->deadline);
	else
		snprintf(out->deadline, sizeof(out->deadline), "configured (no thread yet)");
	return 0;
}

#define LD(f) atomic_load_explicit(&t->st.f, memory_order_relaxed)

int sched_thread_info(const struct sched_group *g, unsigned i, struct sched_thread_info *out)
{
	if (g == NULL || out == NULL)
		return -EINVAL;
	const struct sched_thread *t = NULL;
	for (unsigned j = 0; j < SCHED_THREADS_MAX; j++)
		if (g->threads[j] && i-- == 0) {
			t = g->threads[j];
			break;
		}
	if (t == NULL)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	out->index = t->index;
	out->node = t->node;
	out->cpu = t->cpu;
	snprintf(out->placement, sizeof(out->placement), "%s", t->placement);
	snprintf(out->deadline, sizeof(out->deadline), "%s", t->deadline);
	for (unsigned k = 0; k < SCHED_THREAD_ENGINES_MAX; k++)
		if (t->engines[k])
			snprintf(out->engines[out->n_engines++], SNAP_NAME_MAX, "%s",
				 snap_engine_name(t->engines[k]));
	out->loops = LD(loops);
	out->busy_loops = LD(busy_loops);
	out->idle_loops = LD(idle_loops);
	out->idle_yields = LD(idle_yields);
	out->sleeps = LD(sleeps);
	out->wakeups = LD(wakeups);
	out->ctl_wakeups = LD(ctl_wakeups);
	out->timer_wakeups = LD(timer_wakeups);
	out->backoffs = LD(backoffs);
	out->backoff_ns = LD(backoff_ns);
	out->backoff_cur_ns = LD(backoff_cur_ns);
	out->spin_ns = LD(spin_ns);
	out->backoff_max_ns = g->p.backoff_max_ns;
	out->cpu_ns = sched_thread_cpu_ns(t);
	return 0;
}

int sched_engine_info(const struct snap_engine *e, struct sched_engine_info *out)
{
	if (e == NULL || out == NULL)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->thread = -1;
	struct snap_engine_stats st;
	snap_engine_stats_read(e, &st);
	const struct sched_eng *se = sched_eng(e);
	out->polls = st.polls;
	out->busy_polls = st.busy_polls;
	out->idle_polls = out->polls - out->busy_polls;
	out->work = st.work;
	out->cpu_ns = st.cpu_ns;
	out->wakeups = snap_stat_get(&se->wakeups);
	out->moves = snap_stat_get(&se->moves);
	memcpy(out->qdelay_hist, st.qdelay_hist, sizeof(out->qdelay_hist));
	if (se->g == NULL)
		return -ENOENT;
	snprintf(out->group, sizeof(out->group), "%s", se->g->name);
	if (se->t)
		out->thread = (int)se->t->index;
	out->qdelay_p99_ns = se->p99_ns;
	return 0;
}

/* snprintf that accumulates into (buf, len) and keeps counting past the end. */
static void __attribute__((format(printf, 4, 5)))
put(char *buf, size_t len, size_t *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(*n < len ? buf + *n : NULL, *n < len ? len - *n : 0, fmt, ap);
	va_end(ap);
	if (w > 0)
		*n += (size_t)w;
}

int sched_group_format(const struct sched_group *g, char *buf, size_t len)
{
	struct sched_group_info gi;
	if (sched_group_info(g, &gi) < 0 || (buf == NULL && len))
		return -EINVAL;
	size_t n = 0;
	put(buf, len, &n,
	    "group %s mode %s threads %u engines %u moves %lu cpu %lu ns deadline: %s\n",
	    gi.name, sched_mode_name(gi.mode), gi.n_threads, gi.n_engines,
	    (unsigned long)gi.moves, (unsigned long)gi.cpu_ns, gi.deadline);
	if (gi.mode == SCHED_MODE_COMPACTING)
		put(buf, len, &n,
		    "  controller: windows %lu grows %lu shrinks %lu rebalances %lu balances %lu "
		    "held_at_max %lu p99_max %lu ns (target %lu) little %u.%03u wanted %u/%u "
		    "(cap %u: max_threads or CPUs)\n",
		    (unsigned long)gi.windows, (unsigned long)gi.grows, (unsigned long)gi.shrinks,
		    (unsigned long)gi.rebalances, (unsigned long)gi.balances,
		    (unsigned long)gi.held_at_max,
		    (unsigned long)gi.p99_max_ns, (unsigned long)gi.params.qdelay_target_ns,
		    gi.little_milli / 1000, gi.little_milli % 1000, gi.threads_wanted,
		    gi.params.max_threads, gi.thread_cap);
	struct sched_thread_info ti;
	for (unsigned i = 0; sched_thread_info(g, i, &ti) == 0; i++) {
		put(buf, len, &n,
		    "  thread %u on %s deadline: %s cpu %lu ns loops %lu busy %lu idle %lu "
		    "(yields %lu) sleeps %lu wakeups %lu (ctl %lu timer %lu) spin %lu ns backoffs %lu "
		    "(%lu ns, now %lu ns, cap %lu ns = max extra wake-up latency)\n",
		    ti.index, ti.placement, ti.deadline, (unsigned long)ti.cpu_ns,
		    (unsigned long)ti.loops, (unsigned long)ti.busy_loops,
		    (unsigned long)ti.idle_loops, (unsigned long)ti.idle_yields,
		    (unsigned long)ti.sleeps,
		    (unsigned long)ti.wakeups, (unsigned long)ti.ctl_wakeups,
		    (unsigned long)ti.timer_wakeups, (unsigned long)ti.spin_ns,
		    (unsigned long)ti.backoffs, (unsigned long)ti.backoff_ns,
		    (unsigned long)ti.backoff_cur_ns, (unsigned long)ti.backoff_max_ns);
		for (unsigned k = 0; k < ti.n_engines; k++) {
			const struct snap_engine *e = snap_engine_find(ti.engines[k]);
			struct sched_engine_info ei;
			if (e == NULL || sched_engine_info(e, &ei) < 0)
				continue;
			put(buf, len, &n,
			    "    engine %s polls %lu busy %lu idle %lu work %lu cpu %lu ns "
			    "wakeups %lu moves %lu p99 %lu ns qdelay_us",
			    ti.engines[k], (unsigned long)ei.polls, (unsigned long)ei.busy_polls,
			    (unsigned long)ei.idle_polls, (unsigned long)ei.work,
			    (unsigned long)ei.cpu_ns, (unsigned long)ei.wakeups,
			    (unsigned long)ei.moves, (unsigned long)ei.qdelay_p99_ns);
			for (unsigned b = 0; b < SNAP_QDELAY_BUCKETS; b++)
				if (ei.qdelay_hist[b])
					put(buf, len, &n, " <%u:%lu", 1u << b,
					    (unsigned long)ei.qdelay_hist[b]);
			put(buf, len, &n, "\n");
		}
	}
	return (int)n;
}
