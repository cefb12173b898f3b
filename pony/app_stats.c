/* App-layer counters as the control plane reads them (snapctl stats, apps, metrics): the
 * engine's host totals, each session's counters and error counts by name. Read on the engine
 * thread (through its mailbox) like everything else of a host. */
#include <stdio.h>

#include "pony/app_internal.h"
#include "pony/bpf.h"

static const char *const err_names[] = {
#define PONY_X_NAME(e, s) [PONY_APP_ERR_##e] = s,
	PONY_APP_ERRORS(PONY_X_NAME)
#undef PONY_X_NAME
};

const char *pony_app_err_name(unsigned e)
{
	return e < PONY_APP_ERR_MAX ? err_names[e] : "?";
}

const struct pony_app_host_counters *pony_app_host_counters(const struct pony_app_host *h)
{
	return &h->cnt;
}

void pony_app_host_stats(const struct pony_app_host *h, pony_app_stat_fn fn, void *ctx)
{
	const struct pony_app_host_counters *c = &h->cnt;
	fn(ctx, "apps_attached", c->attached);
	fn(ctx, "apps_detached", c->detached);
	fn(ctx, "apps_protocol_violations", c->protocol_violations);
	fn(ctx, "apps_listen_not_owner", c->listen_not_owner);
	fn(ctx, "apps_sessions", c->sessions);
	fn(ctx, "apps_streams", c->streams);
	fn(ctx, "apps_ops", c->ops);
	fn(ctx, "apps_regions", c->regions);
	fn(ctx, "apps_listens", c->listens);
	fn(ctx, "apps_mapped_bytes", c->mapped_bytes);
	fn(ctx, "apps_bpf_loads", c->bpf_loads);
	fn(ctx, "apps_bpf_refused", c->bpf_refused);
	char name[64];
	for (const struct pony_app_session *s = h->live; s; s = s->next) {
#define STAT(n, v)                                                                        \
	do {                                                                              \
		snprintf(name, sizeof(name), "app%u.%s", s->app_id, n);                   \
		fn(ctx, name, v);                                                         \
	} while (0)
		STAT("cmds", s->cnt.cmds);
		STAT("cpls", s->cnt.cpls);
		STAT("kicks", s->cnt.kicks);
		STAT("accept_refused", s->cnt.accept_refused);
		STAT("cpl_overflow", s->cnt.cpl_overflow);
		STAT("stray_upcalls", s->cnt.stray_upcalls);
		STAT("tx_bytes", s->cnt.tx_bytes);
		STAT("rx_bytes", s->cnt.rx_bytes);
		if (s->bpf) { /* custom ops run for peers on this app's regions */
			STAT("bpf_progs", s->bpf->n);
			STAT("bpf_runs", s->bpf->runs);
			STAT("bpf_faults", s->bpf->faults);
			STAT("bpf_no_prog", s->bpf->no_prog);
		}
		for (unsigned e = 0; e < PONY_APP_ERR_MAX; e++)
			if (s->cnt.errors[e])
				STAT(pony_app_err_name(e), s->cnt.errors[e]);
#undef STAT
	}
}

unsigned pony_app_host_list(const struct pony_app_host *h, struct pony_app_info *out,
			    unsigned max)
{
	unsigned n = 0;
	for (const struct pony_app_session *s = h->live; s; s = s->next, n++) {
		if (n >= max)
			continue;
		out[n] = (struct pony_app_info){
			.app_id = s->app_id, .sock_fd = s->sock_fd, .streams = s->n_streams,
			.ops = s->n_ops, .regions = s->n_regions, .listens = s->n_listens,
			.mapped_bytes = s->map_size, .cnt = s->cnt};
	}
	return n;
}
