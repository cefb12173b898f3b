/* RPC methods of the engines module: `engines` and `stats`. Engine state is copied on the
 * engine's own thread by a mailbox closure (or directly while parked), never read from here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/ctl.h"
#include "control/ctl.pb-c.h"
#include "control/internal.h"
#include "control/rpc.h"
#include "sched/sched.h"

/* ---- core -------------------------------------------------------------------------------- */

static int snapshot_fn(struct snap_engine *e, void *arg)
{
	struct ctl_engine_snap *out = arg;
	snap_engine_stats_read(e, &out->st);
	out->n_elems = snap_engine_n_elems(e);
	for (uint16_t i = 0; i < out->n_elems; i++) {
		const struct snap_elem *el = snap_engine_elem_at(e, i);
		snprintf(out->elem_name[i], SNAP_NAME_MAX, "%s", el->name);
		snprintf(out->elem_type[i], SNAP_NAME_MAX, "%s", el->desc->name);
	}
	return 0;
}

int ctl_engine_snapshot(struct snap_engine *e, struct ctl_engine_snap *out, unsigned timeout_ms)
{
	memset(out, 0, sizeof(*out));
	return snap_engine_call(e, snapshot_fn, out, timeout_ms);
}

static void stat_fn(void *ctx, const char *elem, const char *counter, uint64_t value)
{
	struct ctl_stat_buf *b = ctx;
	if (b->n == b->cap) {
		b->truncated = true;
		return;
	}
	struct ctl_stat *s = &b->v[b->n++];
	snprintf(s->elem, sizeof(s->elem), "%s", elem);
	snprintf(s->name, sizeof(s->name), "%s", counter);
	s->value = value;
}

static int collect_fn(struct snap_engine *e, void *arg)
{
	snap_engine_report(e, stat_fn, arg);
	return 0;
}

int ctl_stats_collect(struct snap_engine *e, struct ctl_stat_buf *b, unsigned timeout_ms)
{
	b->n = 0;
	b->truncated = false;
	return snap_engine_call(e, collect_fn, b, timeout_ms);
}

/* ---- handlers ---------------------------------------------------------------------------- */

/* st: the engine's own counters; si: the scheduler's (wakeups, moves). */
static void engine_counters(struct ctl_arena *a, Ctl__EngineInfo *ei, const struct snap_engine_stats *st,
			    const struct sched_engine_info *si)
{
	const struct {
		const char *n;
		uint64_t v;
	} es[] = {
		{"polls", st->polls},         {"busy_polls", st->busy_polls}, {"work", st->work},
		{"mbox_runs", st->mbox_runs}, {"cpu_ns", st->cpu_ns},         {"wakeups", si->wakeups},
		{"moves", si->moves},         {"qdelay_last_ns", st->qdelay_last_ns},
	};
	size_t n = sizeof(es) / sizeof(es[0]);
	ei->counters = ctl_arena_alloc(a, n * sizeof(*ei->counters));
	if (ei->counters == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		Ctl__Counter *c = ctl_counter_new(a, es[i].n, es[i].v);
		if (c)
			ei->counters[ei->n_counters++] = c;
	}
}

static int h_engines(struct ctl_rpc_call *call, const uint8_t *req, size_t len)
{
	Ctl__EnginesRequest *q = (Ctl__EnginesRequest *)ctl_rpc_unpack(
		call, &ctl__engines_request__descriptor, req, len);
	if (q == NULL)
		return -EBADMSG;
	struct ctl_arena a = {0};
	int r = 0;
	Ctl__EnginesReply rep = CTL__ENGINES_REPLY__INIT;
	unsigned n = snap_engine_count();
	struct ctl_engine_snap *snap = malloc(sizeof(*snap));
	rep.engines = ctl_arena_alloc(&a, (n ? n : 1) * sizeof(*rep.engines));
	if (snap == NULL || rep.engines == NULL) {
		r = ctl_rpc_error(call, -ENOMEM, "out of memory");
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		struct snap_engine *e = snap_engine_at(i);
		if (e == NULL || (q->name && strcmp(q->name, snap_engine_name(e)) != 0))
			continue;
		Ctl__EngineInfo *ei = ctl_arena_alloc(&a, sizeof(*ei));
		if (ei == NULL)
			break;
		ctl__engine_info__init(ei);
		ei->name = ctl_arena_str(&a, snap_engine_name(e));
		ei->id = snap_engine_id(e);
		ei->numa = snap_engine_socket(e);
		bool running = snap_engine_state(e) == SNAP_ENGINE_RUNNING;
		int sr = ctl_engine_snapshot(e, snap, CTL_ENGINE_TIMEOUT_MS);
		ei->state = ctl_arena_str(&a, sr < 0 ? "unresponsive" : running ? "running" : "parked");
		/* Placement is the control thread's own bookkeeping (sched/), readable here. */
		struct sched_engine_info si;
		ei->has_thread = true;
		ei->thread = -1;
		if (sched_engine_info(e, &si) == 0) {
			ei->group = ctl_arena_str(&a, si.group);
			ei->thread = si.thread;
		}
		if (sr == 0) {
			ei->elements = ctl_arena_alloc(&a, (snap->n_elems + 1) * sizeof(char *));
			for (uint16_t k = 0; ei->elements && k < snap->n_elems; k++) {
				char buf[2 * SNAP_NAME_MAX + 2];
				snprintf(buf, sizeof(buf), "%s:%s", snap->elem_name[k],
					 snap->elem_type[k]);
				ei->elements[ei->n_elements++] = ctl_arena_str(&a, buf);
			}
			engine_counters(&a, ei, &snap->st, &si);
		}
		rep.engines[rep.n_engines++] = ei;
	}
	if (a.oom)
		r = ctl_rpc_error(call, -ENOMEM, "out of memory");
	else if (q->name && rep.n_engines == 0)
		r = ctl_rpc_error(call, -ENOENT, "no engine named '%s'", q->name);
	else
		r = ctl_rpc_reply(call, &rep.base);
out:
	free(snap);
	ctl_arena_free(&a);
	protobuf_c_message_free_unpacked(&q->base, NULL);
	return r;
}

#define STATS_CAP 8192 /* counters per engine: 64 elements x (in/out/drops/own) with room */

/* Group a flat snapshot (elements appear in report order, each element's counters
 * contiguous) into ElementStats. */
static void stats_group(struct ctl_arena *a, Ctl__EngineStats *es, const struct ctl_stat_buf *b)
{
	es->elements = ctl_arena_alloc(a, (b->n + 1) * sizeof(*es->elements));
	if (es->elements == NULL)
		return;
	Ctl__ElementStats *cur = NULL;
	unsigned first = 0;
	for (unsigned i = 0; i <= b->n; i++) {
		bool boundary = i == b->n || cur == NULL || strcmp(b->v[i].elem, cur->element) != 0;
		if (!boundary)
			continue;
		if (cur) { /* close the previous group: counters [first, i) */
			cur->counters = ctl_arena_alloc(a, (i - first) * sizeof(*cur->counters));
			for (unsigned k = first; cur->counters && k < i; k++) {
				Ctl__Counter *c = ctl_counter_new(a, b->v[k].name, b->v[k].value);
				if (c)
					cur->counters[cur->n_counters++] = c;
			}
		}
		if (i == b->n)
			break;
		cur = ctl_arena_alloc(a, sizeof(*cur));
		if (cur == NULL)
			return;
		ctl__element_stats__init(cur);
		cur->element = ctl_arena_str(a, b->v[i].elem);
		es->elements[es->n_elements++] = cur;
		first = i;
	}
}

static int h_stats(struct ctl_rpc_call *call, const uint8_t *req, size_t len)
{
	Ctl__StatsRequest *q = (Ctl__StatsRequest *)ctl_rpc_unpack(
		call, &ctl__stats_request__descriptor, req, len);
	if (q == NULL)
		return -EBADMSG;
	struct ctl_arena a = {0};
	int r;
	Ctl__StatsReply rep = CTL__STATS_REPLY__INIT;
	unsigned n = snap_engine_count();
	struct ctl_stat_buf b = {.v = malloc(STATS_CAP * sizeof(struct ctl_stat)), .cap = STATS_CAP};
	rep.engines = ctl_arena_alloc(&a, (n ? n : 1) * sizeof(*rep.engines));
	if (b.v == NULL || rep.engines == NULL) {
		r = ctl_rpc_error(call, -ENOMEM, "out of memory");
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		struct snap_engine *e = snap_engine_at(i);
		if (e == NULL || (q->engine && strcmp(q->engine, snap_engine_name(e)) != 0))
			continue;
		Ctl__EngineStats *es = ctl_arena_alloc(&a, sizeof(*es));
		if (es == NULL)
			break;
		ctl__engine_stats__init(es);
		es->engine = ctl_arena_str(&a, snap_engine_name(e));
		int cr = ctl_stats_collect(e, &b, CTL_ENGINE_TIMEOUT_MS);
		if (cr < 0) {
			es->has_error = true;
			es->error = -cr;
		} else {
			stats_group(&a, es, &b);
		}
		rep.engines[rep.n_engines++] = es;
	}
	if (a.oom)
		r = ctl_rpc_error(call, -ENOMEM, "out of memory");
	else if (q->engine && rep.n_engines == 0)
		r = ctl_rpc_error(call, -ENOENT, "no engine named '%s'", q->engine);
	else
		r = ctl_rpc_reply(call, &rep.base);
out:
	free(b.v);
	ctl_arena_free(&a);
	protobuf_c_message_free_unpacked(&q->base, NULL);
	return r;
}

CTL_RPC_REGISTER(engines, CTL_M_ENGINES, h_engines, CTL_RPC_READONLY)
CTL_RPC_REGISTER(stats, CTL_M_STATS, h_stats, CTL_RPC_READONLY)
