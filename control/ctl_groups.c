/* RPC methods of the groups module: `groups`, `group.create`, `group.set-mode`, and the
 * engine lifecycle methods that are group operations (`engine.create|destroy|move`). Thin
 * wrappers over sched/ and the engine builder; all run on the control thread, which is the
 * only thread that changes engine ownership. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "control/ctl.pb-c.h"
#include "control/internal.h"
#include "control/rpc.h"
#include "sched/sched.h"
#include "core/build.h"
#include "core/config.h"
#include "core/daemon.h"
#include "snap/engine.h"

static void group_info(struct ctl_arena *a, const struct sched_group *g, Ctl__GroupInfo *gi)
{
	struct sched_group_info in;
	ctl__group_info__init(gi);
	if (sched_group_info(g, &in))
		return;
	gi->name = ctl_arena_str(a, in.name);
	gi->mode = ctl_arena_str(a, sched_mode_name(in.mode));
	gi->deadline = ctl_arena_str(a, in.deadline);
	gi->has_n_threads = true;
	gi->n_threads = in.n_threads;
	gi->cpus = ctl_arena_alloc(a, (in.params.n_cpus + 1) * sizeof(*gi->cpus));
	for (unsigned i = 0; gi->cpus && i < in.params.n_cpus; i++)
		gi->cpus[gi->n_cpus++] = in.params.cpus[i];
	unsigned ne = snap_engine_count();
	gi->engines = ctl_arena_alloc(a, (ne + 1) * sizeof(char *));
	for (unsigned i = 0; gi->engines && i < ne; i++) {
		struct snap_engine *e = snap_engine_at(i);
		if (e && sched_engine_group(e) == g)
			gi->engines[gi->n_engines++] = ctl_arena_str(a, snap_engine_name(e));
	}
	const struct {
		const char *n;
		uint64_t v;
	} cs[] = {
		{"moves", in.moves},           {"windows", in.windows},
		{"grows", in.grows},           {"shrinks", in.shrinks},
		{"rebalances", in.rebalances}, {"balances", in.balances}, {"held_at_max", in.held_at_max},
		{"p99_max_ns", in.p99_max_ns}, {"little_milli", in.little_milli},
		{"threads_wanted", in.threads_wanted}, {"thread_cap", in.thread_cap},
	};
	size_t n = sizeof(cs) / sizeof(cs[0]);
	gi->counters = ctl_arena_alloc(a, n * sizeof(*gi->counters));
	for (size_t i = 0; gi->counters && i < n; i++) {
		Ctl__Counter *c = ctl_counter_new(a, cs[i].n, cs[i].v);
		if (c)
			gi->counters[gi->n_counters++] = c;
	}
	gi->thread_lines = ctl_arena_alloc(a, (in.n_threads + 1) * sizeof(char *));
	struct sched_thread_info t;
	for (unsigned i = 0; gi->thread_lines && sched_thread_info(g, i, &t) == 0; i++) {
		char line[512];
		int off = snprintf(line, sizeof(line),
				   "thread %u: %s; %s; busy %llu/%llu loops, sleeps %llu, wakeups "
				   "%llu, backoffs %llu, backoff now %llu ns, cpu %llu ms; engines:",
				   t.index, t.placement, t.deadline, (unsigned long long)t.busy_loops,
				   (unsigned long long)t.loops, (unsigned long long)t.sleeps,
				   (unsigned long long)t.wakeups, (unsigned long long)t.backoffs,
				   (unsigned long long)t.backoff_cur_ns,
				   (unsigned long long)(t.cpu_ns / 1000000));
		for (unsigned k = 0; k < t.n_engines && off > 0 && (size_t)off < sizeof(line); k++)
			off += snprintf(line + off, sizeof(line) - off, " %s", t.engines[k]);
		gi->thread_lines[gi->n_thread_lines++] = ctl_arena_str(a, line);
	}
}

static int h_groups(struct ctl_rpc_call *call, const uint8_t *req, size_t len)
{
	Ctl__GroupsRequest *q = (Ctl__GroupsRequest *)ctl_rpc_unpack(
		call, &ctl__groups_request__descriptor, req, len);
	if (q == NULL)
		return -EBADMSG;
	struct ctl_arena a = {0};
	Ctl__GroupsReply rep = CTL__GROUPS_REPLY__INIT;
	unsigned n = 0;
	while (sched_group_at(n))
		n++;
	rep.groups = ctl_arena_alloc(&a, (n + 1) * sizeof(*rep.groups));
	for (unsigned i = 0; rep.groups && i < n; i++) {
		Ctl__GroupInfo *gi = ctl_arena_alloc(&a, sizeof(*gi));
		if (gi == NULL)
			break;
		group_info(&a, sched_group_at(i), gi);
		rep.groups[rep.n_groups++] = gi;
	}
	int r = a.oom ? ctl_rpc_error(call, -ENOMEM, "out of memory")
		      : ctl_rpc_reply(call, &rep.base);
	ctl_arena_free(&a);
	protobuf_c_message_free_unpacked(&q->base, NULL);
	return r;
}

/* Core function behind `group create`. */
static int group_create(const char *name, const char *mode_s, const int32_t *cpus,
			size_t n_cpus, uint32_t max_threads, char *err, size_t errlen)
{
	int mode = sched_mode_parse(mode_s);
	if (mode < 0) {
		snprintf(err, errlen, "mode must be dedicated, spreading or compacting");
		return -EINVAL;
	}
	struct sched_params p;
	sched_params_default(&p);
	if (n_cpus > SCHED_CPUS_MAX) {
		snprintf(err, errlen, "at most %d CPUs", SCHED_CPUS_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < n_cpus; i++)
		p.cpus[i] = cpus[i];
	p.n_cpus = (uint16_t)n_cpus;
	if (max_threads) {
		if (max_threads > SCHED_THREADS_MAX) {
			snprintf(err, errlen, "at most %d threads", SCHED_THREADS_MAX);
			return -EINVAL;
		}
		p.max_threads = (uint16_t)max_threads;
	}
	if (sched_group_create(name, (enum sched_mode)mode, &p) == NULL) {
		int e = errno;
		snprintf(err, errlen, "cannot create group '%s': %s", name,
			 e == EEXIST ? "a group of that name exists" : strerror(e));
		return -e;
	}
	return 0;
}

static int h_group_create(struct ctl_rpc_call *call, const uint8_t *req, size_t len)
{
	Ctl__GroupCreateRequest *q = (Ctl__GroupCreateRequest *)ctl_rpc_unpack(
		call, &ctl__group_create_request__descriptor, req, len);
	if (q == NULL)
		return -EBADMSG;
	char err[256];
	int r = group_create(q->name, q->mode, q->cpus, q->n_cpus,
			     q->has_n_threads ? q->n_threads : 0, err, sizeof(err));
	Ctl__GroupOpReply rep = CTL__GROUP_OP_REPLY__INIT;
	r = r ? ctl_rpc_error(call, r, "%s", err) : ctl_rpc_reply(call, &rep.base);
	protobuf_c_message_free_unpacked(&q->base, NULL);
	return r;
}

static int h_group_set_mode(struct ctl_rpc_call *call, const uint8_t *req, size_t len)
{
	Ctl__GroupSetModeRequest *q = (Ctl__GroupSetModeRequest *)ctl_rpc_unpack(
		call, &ctl__group_set_mode_request__descriptor, req, len);
	if (q == NULL)
		return -EBADMSG;
	struct sched_group *g = sched_group_find(q->name);
	int mode = sched_mode_parse(q->mode), r;
	Ctl__GroupOpReply rep = CTL__GROUP_OP_REPLY__INIT;
	if (g == NULL)
		r = ctl_rpc_error(call, -ENOENT, "no group named '%s'", q->name);
	else if (mode < 0)
		r = ctl_rpc_error(call, -EINVAL, "mode must be dedicated, spreading or compacting");
	else if ((r = sched_group_set_mode(g, (enum sched_mode)mode)) != 0)
		r = ctl_rpc_error(call, r, "group '%s': mode change failed: %s", q->name,
				  strerror(-r));
	else
		r = ctl_rpc_reply(call, &rep.base);
	protobuf_c_message_free_unpacked(&q->base, NULL);
	return r;
}

static int h_engine_move(struct ctl_rpc_call *call, const uint8_t *req, size_t len)
{
	Ctl__EngineMoveRequest *q = (Ctl__EngineMoveRequest *)ctl_rpc_unpack(
		call, &ctl__engine_move_request__descriptor, req, len);
	if (q == NULL)
		return -EBADMSG;
	struct snap_engine *e = snap_engine_find(q->name);
	struct sched_group *g = sched_group_find(q->group);
	Ctl__EngineOpReply rep = CTL__ENGINE_OP_REPLY__INIT;
	int r;
	if (e == NULL)
		r = ctl_rpc_error(call, -ENOENT, "no engine named '%s'", q->name);
	else if (g == NULL)
		r = ctl_rpc_error(call, -ENOENT, "no group named '%s'", q->group);
	else if (q->has_thread && q->thread >= 0)
		r = ctl_rpc_error(call, -EINVAL, "the group places engines on its threads; "
				  "omit --thread");
	else if ((r = sched_engine_move(e, g)) != 0)
		r = ctl_rpc_error(call, r, "moving '%s' to '%s' failed: %s", q->name, q->group,
				  strerror(-r));
	else
		r = ctl_rpc_reply(call, &rep.base);
	protobuf_c_message_free_unpacked(&q->base, NULL);
	return r;
}

static int h_engine_destroy(struct ctl_rpc_call *call, const uint8_t *req, size_t len)
{
	Ctl__EngineDestroyRequest *q = (Ctl__EngineDestroyRequest *)ctl_rpc_unpack(
		call, &ctl__engine_destroy_request__descriptor, req, len);
	if (q == NULL)
		return -EBADMSG;
	struct snap_engine *e = snap_engine_find(q->name);
	Ctl__EngineOpReply rep = CTL__ENGINE_OP_REPLY__INIT;
	int r = 0;
	if (e == NULL) {
		r = ctl_rpc_error(call, -ENOENT, "no engine named '%s'", q->name);
	} else {
		if (sched_engine_group(e))
			r = sched_engine_remove(e);
		if (r) {
			r = ctl_rpc_error(call, r, "engine '%s' did not stop: %s", q->name,
					  strerror(-r));
		} else {
			/* Parked and owned by us: its elements release their queues and memory. */
			snap_engine_destroy(e);
			r = ctl_rpc_reply(call, &rep.base);
		}
	}
	protobuf_c_message_free_unpacked(&q->base, NULL);
	return r;
}

static int h_engine_create(struct ctl_rpc_call *call, const uint8_t *req, size_t len)
{
	Ctl__EngineCreateRequest *q = (Ctl__EngineCreateRequest *)ctl_rpc_unpack(
		call, &ctl__engine_create_request__descriptor, req, len);
	if (q == NULL)
		return -EBADMSG;
	static struct snap_engine_cfg ec; /* large; the control thread is single */
	char err[512];
	int r;
	struct snap_engine *e = NULL;
	const char *gname = q->group && q->group[0] ? q->group : "default";
	struct sched_group *g = sched_group_find(gname);
	/* Engines named without a group go to "default", a spreading group made on demand
	 * (as at start-up). */
	if (g == NULL && strcmp(gname, "default") == 0)
		g = sched_group_create(gname, SCHED_MODE_SPREADING, NULL);
	if (g == NULL) {
		r = ctl_rpc_error(call, -ENOENT, "no group named '%s'", gname);
		goto out;
	}
	if (q->config == NULL || !q->config[0]) {
		r = ctl_rpc_error(call, -EINVAL, "an engine needs a config: elements = (...); "
				  "links = (...);");
		goto out;
	}
	if ((r = snap_config_parse_engine(q->name, q->config, &ec, err, sizeof(err))) != 0 ||
	    (r = snap_engine_build(snap_daemon()->cfg, &ec, &e, err, sizeof(err))) != 0) {
		r = ctl_rpc_error(call, r, "%s", err);
		goto out;
	}
	if ((r = sched_engine_add(g, e)) != 0) {
		snap_engine_destroy(e);
		r = ctl_rpc_error(call, r, "cannot run engine in group '%s': %s", gname,
				  strerror(-r));
		goto out;
	}
	Ctl__EngineCreateReply rep = CTL__ENGINE_CREATE_REPLY__INIT;
	rep.has_id = true;
	rep.id = snap_engine_id(e);
	r = ctl_rpc_reply(call, &rep.base);
out:
	protobuf_c_message_free_unpacked(&q->base, NULL);
	return r;
}

CTL_RPC_REGISTER(groups, CTL_M_GROUPS, h_groups, CTL_RPC_READONLY)
CTL_RPC_REGISTER(group_create, CTL_M_GROUP_CREATE, h_group_create, CTL_RPC_MUTATING)
CTL_RPC_REGISTER(group_set_mode, CTL_M_GROUP_SET_MODE, h_group_set_mode, CTL_RPC_MUTATING)
CTL_RPC_REGISTER(engine_move, CTL_M_ENGINE_MOVE, h_engine_move, CTL_RPC_MUTATING)
CTL_RPC_REGISTER(engine_destroy, CTL_M_ENGINE_DESTROY, h_engine_destroy, CTL_RPC_MUTATING)
CTL_RPC_REGISTER(engine_create, CTL_M_ENGINE_CREATE, h_engine_create, CTL_RPC_MUTATING)
