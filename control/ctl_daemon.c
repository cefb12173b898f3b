/* RPC methods of the daemon module: `status` and `log-level`, with their core functions. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "control/ctl.h"
#include "control/ctl.pb-c.h"
#include "control/internal.h"
#include "control/rpc.h"
#include "core/build_id.h"
#include "snap/log.h"
#include "core/loop.h"
#include "core/module.h"
#include "sched/sched.h"
#include "snap/port.h"

static uint64_t start_ns;

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Runs before main: good enough as "process start" for uptime. */
static void __attribute__((constructor)) record_start(void)
{
	start_ns = mono_ns();
}

uint64_t ctl_uptime_ms(void)
{
	return (mono_ns() - start_ns) / 1000000ull;
}

#define STATUS_MOD_COUNTERS_MAX 64

/* control.*, every module's NAME.* and loop.* counters into r (names and Counters from a). */
static void status_counters(struct ctl_arena *a, struct ctl_rpc_server *srv,
			    Ctl__StatusReply *r)
{
	const char *names[STATUS_MOD_COUNTERS_MAX];
	const char *owner[STATUS_MOD_COUNTERS_MAX];
	uint64_t vals[STATUS_MOD_COUNTERS_MAX];
	unsigned n_app = 0;
	const struct snap_module *m;
	for (unsigned i = 0; (m = snap_module_at(i)) != NULL; i++) {
		if (m->counters == NULL)
			continue;
		unsigned k = m->counters(names + n_app, vals + n_app,
					 STATUS_MOD_COUNTERS_MAX - n_app);
		for (unsigned j = 0; j < k; j++)
			owner[n_app + j] = m->name;
		n_app += k;
	}
	struct snap_loop_stats ls;
	snap_loop_get_stats(&ls);
	const char *loop_names[] = {"loop.fds", "loop.fds_peak", "loop.fd_refused"};
	uint64_t loop_vals[] = {ls.fds, ls.fds_peak, ls.fd_refused};
	size_t max = CTL_RPC_C_MAX + n_app + 3;
	r->counters = ctl_arena_alloc(a, max * sizeof(*r->counters));
	if (r->counters == NULL)
		return;
	char name[64];
	for (unsigned c = 0; c < CTL_RPC_C_MAX; c++) {
		snprintf(name, sizeof(name), "control.%s", ctl_rpc_counter_name(c));
		r->counters[r->n_counters++] = ctl_counter_new(a, name, ctl_rpc_counter(srv, c));
	}
	for (unsigned i = 0; i < n_app; i++) {
		snprintf(name, sizeof(name), "%s.%s", owner[i], names[i]);
		r->counters[r->n_counters++] = ctl_counter_new(a, name, vals[i]);
	}
	for (unsigned i = 0; i < 3; i++)
		r->counters[r->n_counters++] = ctl_counter_new(a, loop_names[i], loop_vals[i]);
}

int ctl_log_level_set(const char *type, const char *level)
{
	int lvl = level ? snap_log_level_parse(level) : -EINVAL;
	if (lvl < 0)
		return -EINVAL;
	bool snap = type == NULL || !type[0] || strcasecmp(type, "snap") == 0;
	bool dpdk = type && strcasecmp(type, "dpdk") == 0;
	if (type && strcasecmp(type, "all") == 0)
		snap = dpdk = true;
	if (!snap && !dpdk)
		return -EINVAL;
	if (dpdk)
		snap_log_set_dpdk_level(lvl);
	if (snap)
		rte_log_set_level((uint32_t)snap_logtype, (uint32_t)lvl);
	return 0;
}

void ctl_log_level_get(int *snap_level, int *dpdk_level)
{
	*snap_level = rte_log_get_level((uint32_t)snap_logtype);
	*dpdk_level = snap_log_dpdk_level();
}

/* ---- handlers ---------------------------------------------------------------------------- */

static int h_status(struct ctl_rpc_call *call, const uint8_t *req, size_t len)
{
	Ctl__StatusReply r = CTL__STATUS_REPLY__INIT;
	r.version = (char *)(uintptr_t)SNAP_VERSION;
	r.build_id = (char *)(uintptr_t)snap_build_id;
	r.uptime_ms = ctl_uptime_ms();
	r.pid = (int32_t)getpid();
	r.n_engines = snap_engine_count();
	r.n_ports = snap_port_count();
	r.has_n_groups = true;
	while (sched_group_at(r.n_groups))
		r.n_groups++;
	unsigned apps;
	if (snap_module_sessions(&apps)) {
		r.has_n_apps = true;
		r.n_apps = apps;
	}
	r.has_n_clients = true;
	r.n_clients = ctl_rpc_n_clients(ctl_rpc_call_server(call));
	r.has_proto_version = true;
	r.proto_version = CTL_PROTO_VERSION;
	struct ctl_arena a = {0};
	status_counters(&a, ctl_rpc_call_server(call), &r);
	int rr = a.oom ? ctl_rpc_error(call, -ENOMEM, "out of memory")
		       : ctl_rpc_reply(call, &r.base);
	ctl_arena_free(&a);
	return rr;
}

/* `log-level` reports; `log-level.set` changes (and reports), so reading stays read-only. */
static int log_level(struct ctl_rpc_call *call, const uint8_t *req, size_t len, bool set)
{
	Ctl__LogLevelRequest *q = (Ctl__LogLevelRequest *)ctl_rpc_unpack(
		call, &ctl__log_level_request__descriptor, req, len);
	if (q == NULL)
		return -EBADMSG;
	int r = 0;
	if (set && q->level == NULL)
		r = ctl_rpc_error(call, -EINVAL, "log-level.set needs a level");
	if (set && q->level) {
		r = ctl_log_level_set(q->type, q->level);
		if (r < 0)
			r = ctl_rpc_error(call, r,
					  "bad log level '%s' or type '%s' (levels: error warning "
					  "notice info debug or 1..8; types: snap dpdk all)",
					  q->level, q->type ? q->type : "snap");
		else
			SNAP_LOG(NOTICE, "control: log level of %s set to %s",
				 q->type ? q->type : "snap", q->level);
	}
	protobuf_c_message_free_unpacked(&q->base, NULL);
	if (r < 0)
		return r;
	int s, d;
	ctl_log_level_get(&s, &d);
	Ctl__LogLevelReply rep = CTL__LOG_LEVEL_REPLY__INIT;
	rep.snap_level = (char *)(uintptr_t)snap_log_level_name(s);
	rep.dpdk_level = (char *)(uintptr_t)snap_log_level_name(d);
	return ctl_rpc_reply(call, &rep.base);
}

static int h_log_level(struct ctl_rpc_call *call, const uint8_t *req, size_t len)
{
	return log_level(call, req, len, false);
}

static int h_log_level_set(struct ctl_rpc_call *call, const uint8_t *req, size_t len)
{
	return log_level(call, req, len, true);
}

CTL_RPC_REGISTER(status, CTL_M_STATUS, h_status, CTL_RPC_READONLY)
CTL_RPC_REGISTER(log_level, CTL_M_LOG_LEVEL, h_log_level, CTL_RPC_READONLY)
CTL_RPC_REGISTER(log_level_set, CTL_M_LOG_LEVEL_SET, h_log_level_set, CTL_RPC_MUTATING)
