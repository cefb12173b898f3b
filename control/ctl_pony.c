/* RPC methods of the Pony module: `flows` (every Pony flow of every engine with its
 * transport counters) and `apps` (attached applications). Flow and session state belongs to
 * the engine's thread, so it is copied there by a mailbox closure (snap_engine_call) into
 * buffers the control thread allocated; nothing is read from here directly. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "control/ctl.h"
#include "control/ctl.pb-c.h"
#include "control/internal.h"
#include "control/rpc.h"
#include "pony/app.h"
#include "pony/elem.h"
#include "snap/engine.h"

#define FLOWS_MAX 4096 /* per engine, per reply */
#define APPS_MAX 256   /* per engine, per reply */

struct flow_snap {
	unsigned n;
	bool truncated;
	struct {
		unsigned slot;
		struct pony_flow_stats st;
	} f[FLOWS_MAX];
};

/* Engine thread: copy every live flow of every pony element of e. */
static int flows_fn(struct snap_engine *e, void *arg)
{
	struct flow_snap *fs = arg;
	fs->n = 0;
	for (uint16_t i = 0; i < snap_engine_n_elems(e); i++) {
		struct pony_tp *tp = pony_elem_tp(snap_engine_elem_at(e, i));
		if (tp == NULL)
			continue;
		struct pony_flow_stats st;
		int r;
		for (unsigned k = 0; (r = pony_tp_flow_stats(tp, k, &st)) != -ENOENT; k++) {
			if (r != 0)
				continue;
			if (fs->n == FLOWS_MAX) {
				fs->truncated = true;
				return 0;
			}
			fs->f[fs->n].slot = k;
			fs->f[fs->n++].st = st;
		}
	}
	return 0;
}

static void add_counter(struct ctl_arena *a, Ctl__Counter ***v, size_t *n, const char *name,
			uint64_t value)
{
	Ctl__Counter *c = ctl_counter_new(a, name, value);
	if (c)
		(*v)[(*n)++] = c;
}

static Ctl__FlowInfo *flow_info(struct ctl_arena *a, const char *engine, unsigned slot,
				const struct pony_flow_stats *st)
{
	Ctl__FlowInfo *fi = ctl_arena_alloc(a, sizeof(*fi));
	if (fi == NULL)
		return NULL;
	ctl__flow_info__init(fi);
	/* "a.b.c.d:port" for IPv4 peers, "[v6]:port" for IPv6 ones (as in URLs). */
	char peer[64], ip[INET6_ADDRSTRLEN];
	bool v4 = pony_ip_is4(&st->peer);
	inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? (const void *)&st->peer_ip : st->peer.b, ip,
		  sizeof(ip));
	snprintf(peer, sizeof(peer), v4 ? "%s:%u" : "[%s]:%u", ip, st->peer_port);
	fi->engine = ctl_arena_str(a, engine);
	fi->peer = ctl_arena_str(a, peer);
	fi->has_id = true;
	fi->id = slot;
	fi->state = ctl_arena_str(a, pony_flow_state_name(st->state));
	const struct {
		const char *n;
		uint64_t v;
	} cs[] = {
		{"streams", st->n_streams},
		{"local_port", st->local_port},
		{"cwnd_milli", (uint64_t)(st->cwnd * 1000)},
		{"inflight", st->inflight},
		{"seg_max", st->seg_max},
		{"seg_agreed", st->seg_agreed},
		{"yield_cwnd_milli", (uint64_t)(st->yield_cwnd * 1000)},
		{"pkt_time_ns", st->pkt_time_ns},
		{"srtt_us", st->srtt_ns / 1000},
		{"rttvar_us", st->rttvar_ns / 1000},
		{"rto_us", st->rto_ns / 1000},
		{"delay_last_ns", st->last_delay_ns},
		{"delay_min_ns", st->min_delay_ns},
		{"delay_samples", st->delay_samples},
		{"retransmits", st->retransmits},
		{"fast_retransmits", st->fast_retransmits},
		{"timeouts", st->timeouts},
		{"spurious_timeouts", st->spurious_timeouts},
		{"cc_decreases", st->cc_decreases},
		{"tx_pkts", st->tx_pkts},
		{"rx_pkts", st->rx_pkts},
		{"tx_bytes", st->tx_bytes},
		{"rx_bytes", st->rx_bytes},
	};
	/* Per priority class (pony/qos.h order): DATA packets and bytes each way. */
	static const char *const qn[3][4] = {
		{"critical_tx_pkts", "critical_tx_bytes", "critical_rx_pkts", "critical_rx_bytes"},
		{"normal_tx_pkts", "normal_tx_bytes", "normal_rx_pkts", "normal_rx_bytes"},
		{"scavenger_tx_pkts", "scavenger_tx_bytes", "scavenger_rx_pkts",
		 "scavenger_rx_bytes"},
	};
	size_t n = sizeof(cs) / sizeof(cs[0]);
	fi->counters = ctl_arena_alloc(a, (n + 12) * sizeof(*fi->counters));
	for (size_t i = 0; fi->counters && i < n; i++)
		add_counter(a, &fi->counters, &fi->n_counters, cs[i].n, cs[i].v);
	for (unsigned c = 0; fi->counters && c < 3; c++) {
		const uint64_t v[4] = {st->cls_tx_pkts[c], st->cls_tx_bytes[c], st->cls_rx_pkts[c],
				       st->cls_rx_bytes[c]};
		for (unsigned k = 0; k < 4; k++)
			add_counter(a, &fi->counters, &fi->n_counters, qn[c][k], v[k]);
	}
	return fi;
}

static int h_flows(struct ctl_rpc_call *call, const uint8_t *req, size_t len)
{
	Ctl__FlowsRequest *q = (Ctl__FlowsRequest *)ctl_rpc_unpack(
		call, &ctl__flows_request__descriptor, req, len);
	if (q == NULL)
		return -EBADMSG;
	struct ctl_arena a = {0};
	Ctl__FlowsReply rep = CTL__FLOWS_REPLY__INIT;
	struct flow_snap *fs = malloc(sizeof(*fs));
	int r = 0;
	bool found = q->engine == NULL;
	if (fs == NULL) {
		r = ctl_rpc_error(call, -ENOMEM, "out of memory");
		goto out;
	}
	for (unsigned i = 0; i < snap_engine_count(); i++) {
		struct snap_engine *e = snap_engine_at(i);
		if (e == NULL || (q->engine && strcmp(q->engine, snap_engine_name(e)) != 0))
			continue;
		found = true;
		fs->truncated = false;
		int cr = snap_engine_call(e, flows_fn, fs, CTL_ENGINE_TIMEOUT_MS);
		if (cr < 0) {
			r = ctl_rpc_error(call, cr, "engine %s did not answer: %s", snap_engine_name(e),
					  strerror(-cr));
			goto out;
		}
		if (fs->n == 0)
			continue;
		Ctl__FlowInfo **v = ctl_arena_alloc(&a, (rep.n_flows + fs->n) * sizeof(*v));
		if (v == NULL)
			break;
		if (rep.n_flows)
			memcpy(v, rep.flows, rep.n_flows * sizeof(*v));
		rep.flows = v;
		for (unsigned k = 0; k < fs->n; k++) {
			Ctl__FlowInfo *fi = flow_info(&a, snap_engine_name(e), fs->f[k].slot, &fs->f[k].st);
			if (fi)
				rep.flows[rep.n_flows++] = fi;
		}
	}
	if (!found)
		r = ctl_rpc_error(call, -ENOENT, "no engine '%s'", q->engine);
	else
		r = a.oom ? ctl_rpc_error(call, -ENOMEM, "out of memory")
			  : ctl_rpc_reply(call, &rep.base);
out:
	free(fs);
	ctl_arena_free(&a);
	protobuf_c_message_free_unpacked(&q->base, NULL);
	return r;
}

struct apps_snap {
	struct pony_app_host *h;
	unsigned n;
	struct pony_app_info v[APPS_MAX];
};

static int apps_fn(struct snap_engine *e, void *arg)
{
	(void)e;
	struct apps_snap *as = arg;
	as->n = pony_app_host_list(as->h, as->v, APPS_MAX);
	if (as->n > APPS_MAX)
		as->n = APPS_MAX;
	return 0;
}

static Ctl__AppInfo *app_info(struct ctl_arena *a, const char *engine,
			      const struct pony_app_info *p)
{
	Ctl__AppInfo *ai = ctl_arena_alloc(a, sizeof(*ai));
	if (ai == NULL)
		return NULL;
	ctl__app_info__init(ai);
	char name[32];
	snprintf(name, sizeof(name), "app%u", p->app_id);
	ai->name = ctl_arena_str(a, name);
	ai->engine = ctl_arena_str(a, engine);
	/* The socket is the attach layer's (control thread); its peer's pid is fixed. */
	struct ucred cr = {0};
	socklen_t cl = sizeof(cr);
	ai->pid = getsockopt(p->sock_fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0 ? cr.pid : -1;
	uint64_t errors = 0;
	for (unsigned e = 0; e < PONY_APP_ERR_MAX; e++)
		errors += p->cnt.errors[e];
	const struct {
		const char *n;
		uint64_t v;
	} cs[] = {
		{"uid", cr.uid},
		{"streams", p->streams},
		{"ops", p->ops},
		{"regions", p->regions},
		{"listens", p->listens},
		{"mapped_bytes", p->mapped_bytes},
		{"cmds", p->cnt.cmds},
		{"cpls", p->cnt.cpls},
		{"kicks", p->cnt.kicks},
		{"errors", errors},
		{"accept_refused", p->cnt.accept_refused},
		{"tx_bytes", p->cnt.tx_bytes},
		{"rx_bytes", p->cnt.rx_bytes},
	};
	size_t n = sizeof(cs) / sizeof(cs[0]);
	ai->counters = ctl_arena_alloc(a, n * sizeof(*ai->counters));
	for (size_t i = 0; ai->counters && i < n; i++)
		add_counter(a, &ai->counters, &ai->n_counters, cs[i].n, cs[i].v);
	return ai;
}

static int h_apps(struct ctl_rpc_call *call, const uint8_t *req, size_t len)
{
	Ctl__AppsRequest *q = (Ctl__AppsRequest *)ctl_rpc_unpack(
		call, &ctl__apps_request__descriptor, req, len);
	if (q == NULL)
		return -EBADMSG;
	struct ctl_arena a = {0};
	Ctl__AppsReply rep = CTL__APPS_REPLY__INIT;
	struct apps_snap *as = malloc(sizeof(*as));
	int r = 0;
	if (as == NULL) {
		r = ctl_rpc_error(call, -ENOMEM, "out of memory");
		goto out;
	}
	for (unsigned i = 0; i < snap_engine_count(); i++) {
		struct snap_engine *e = snap_engine_at(i);
		if (e == NULL || (as->h = pony_app_host_find(snap_engine_name(e))) == NULL)
			continue;
		int cr = snap_engine_call(e, apps_fn, as, CTL_ENGINE_TIMEOUT_MS);
		if (cr < 0) {
			r = ctl_rpc_error(call, cr, "engine %s did not answer: %s", snap_engine_name(e),
					  strerror(-cr));
			goto out;
		}
		if (as->n == 0)
			continue;
		Ctl__AppInfo **v = ctl_arena_alloc(&a, (rep.n_apps + as->n) * sizeof(*v));
		if (v == NULL)
			break;
		if (rep.n_apps)
			memcpy(v, rep.apps, rep.n_apps * sizeof(*v));
		rep.apps = v;
		for (unsigned k = 0; k < as->n; k++) {
			Ctl__AppInfo *ai = app_info(&a, snap_engine_name(e), &as->v[k]);
			if (ai)
				rep.apps[rep.n_apps++] = ai;
		}
	}
	r = a.oom ? ctl_rpc_error(call, -ENOMEM, "out of memory") : ctl_rpc_reply(call, &rep.base);
out:
	free(as);
	ctl_arena_free(&a);
	protobuf_c_message_free_unpacked(&q->base, NULL);
	return r;
}

CTL_RPC_REGISTER(flows, CTL_M_FLOWS, h_flows, CTL_RPC_READONLY)
CTL_RPC_REGISTER(apps, CTL_M_APPS, h_apps, CTL_RPC_READONLY)
