/* snapctl's read-only commands: status, engines, groups, ports, flows, apps, stats (--watch). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "control/metrics_text.h"
#include "tools/snapctl.h"

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* ---- read-only commands ------------------------------------------------------------------ */

static void fmt_duration(char *buf, size_t n, uint64_t ms)
{
	uint64_t s = ms / 1000;
	if (s >= 86400)
		snprintf(buf, n, "%" PRIu64 "d%02" PRIu64 "h%02" PRIu64 "m", s / 86400,
			 s % 86400 / 3600, s % 3600 / 60);
	else if (s >= 3600)
		snprintf(buf, n, "%" PRIu64 "h%02" PRIu64 "m%02" PRIu64 "s", s / 3600, s % 3600 / 60,
			 s % 60);
	else
		snprintf(buf, n, "%" PRIu64 ".%03" PRIu64 "s", s, ms % 1000);
}

int snapctl_cmd_status(struct snapctl_ctx *x, int argc, char **argv)
{
	int a, ec = snapctl_simple_args(argc, argv, 0, "status", NULL, &a);
	if (ec >= 0)
		return ec;
	Ctl__StatusRequest q = CTL__STATUS_REQUEST__INIT;
	ProtobufCMessage *m;
	if ((ec = snapctl_rpc(x, CTL_M_STATUS, &q.base, &ctl__status_reply__descriptor, &m, 0)))
		return ec;
	bool done;
	snapctl_json_or(x, m, &done);
	if (!done) {
		Ctl__StatusReply *r = (Ctl__StatusReply *)m;
		char up[64];
		fmt_duration(up, sizeof(up), r->uptime_ms);
		printf("snapnetd %s (build %s, protocol %u)\n", r->version, r->build_id,
		       r->has_proto_version ? r->proto_version : 0);
		printf("  pid      %d\n  uptime   %s\n  engines  %u\n  ports    %u\n", r->pid, up,
		       r->n_engines, r->n_ports);
		if (r->has_n_groups)
			printf("  groups   %u\n", r->n_groups);
		if (r->has_n_apps)
			printf("  apps     %u\n", r->n_apps);
		if (r->has_n_clients)
			printf("  clients  %u\n", r->n_clients);
		/* Limits at work (refusals, backpressure): only what happened; --json has all. */
		for (size_t i = 0; i < r->n_counters; i++)
			if (r->counters[i]->value)
				printf("  %-24s %" PRIu64 "\n", r->counters[i]->name,
				       r->counters[i]->value);
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return EXIT_OK;
}

int snapctl_cmd_engines(struct snapctl_ctx *x, int argc, char **argv)
{
	int a, ec = snapctl_simple_args(argc, argv, 1, "engines", NULL, &a);
	if (ec >= 0)
		return ec;
	Ctl__EnginesRequest q = CTL__ENGINES_REQUEST__INIT;
	if (a < argc)
		q.name = argv[a];
	ProtobufCMessage *m;
	if ((ec = snapctl_rpc(x, CTL_M_ENGINES, &q.base, &ctl__engines_reply__descriptor, &m, 0)))
		return ec;
	bool done;
	snapctl_json_or(x, m, &done);
	if (!done) {
		Ctl__EnginesReply *r = (Ctl__EnginesReply *)m;
		static const char *const h[] = {"NAME", "ID", "GROUP", "THREAD", "STATE", "NUMA",
						"POLLS", "BUSY%", "WORK", "MBOX", "ELEMENTS"};
		struct snapctl_table *t = snapctl_table_new(11, h);
		for (size_t i = 0; t && i < r->n_engines; i++) {
			Ctl__EngineInfo *e = r->engines[i];
			uint64_t polls = snapctl_counter(e->counters, e->n_counters, "polls");
			uint64_t busy = snapctl_counter(e->counters, e->n_counters, "busy_polls");
			snapctl_table_cell(t, "%s", e->name);
			snapctl_table_cell(t, "%u", e->id);
			snapctl_table_cell(t, "%s", e->group && e->group[0] ? e->group : "-");
			if (e->has_thread && e->thread >= 0)
				snapctl_table_cell(t, "%d", e->thread);
			else
				snapctl_table_cell(t, "-");
			snapctl_table_cell(t, "%s", e->state);
			snapctl_table_cell(t, "%d", e->numa);
			snapctl_table_cell(t, "%" PRIu64, polls);
			snapctl_table_cell(t, "%.1f", polls ? 100.0 * (double)busy / (double)polls : 0.0);
			snapctl_table_cell(t, "%" PRIu64, snapctl_counter(e->counters, e->n_counters, "work"));
			snapctl_table_cell(t, "%" PRIu64,
					   snapctl_counter(e->counters, e->n_counters, "mbox_runs"));
			char els[512] = "";
			size_t off = 0;
			for (size_t k = 0; k < e->n_elements && off < sizeof(els); k++)
				off += (size_t)snprintf(els + off, sizeof(els) - off, "%s%s",
							k ? "," : "", e->elements[k]);
			snapctl_table_cell(t, "%s", els[0] ? els : "-");
			snapctl_table_end_row(t);
		}
		ec = snapctl_print_table(t);
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return ec;
}

int snapctl_cmd_groups(struct snapctl_ctx *x, int argc, char **argv)
{
	int a, ec = snapctl_simple_args(argc, argv, 0, "groups", NULL, &a);
	if (ec >= 0)
		return ec;
	Ctl__GroupsRequest q = CTL__GROUPS_REQUEST__INIT;
	ProtobufCMessage *m;
	if ((ec = snapctl_rpc(x, CTL_M_GROUPS, &q.base, &ctl__groups_reply__descriptor, &m, 0)))
		return ec;
	bool done;
	snapctl_json_or(x, m, &done);
	if (!done) {
		Ctl__GroupsReply *r = (Ctl__GroupsReply *)m;
		static const char *const h[] = {"NAME", "MODE", "CPUS", "THREADS", "ENGINES",
						"DEADLINE"};
		struct snapctl_table *t = snapctl_table_new(6, h);
		for (size_t i = 0; t && i < r->n_groups; i++) {
			Ctl__GroupInfo *g = r->groups[i];
			char cpus[256] = "", engs[512] = "";
			size_t off = 0;
			for (size_t k = 0; k < g->n_cpus && off < sizeof(cpus); k++)
				off += (size_t)snprintf(cpus + off, sizeof(cpus) - off, "%s%d",
							k ? "," : "", g->cpus[k]);
			off = 0;
			for (size_t k = 0; k < g->n_engines && off < sizeof(engs); k++)
				off += (size_t)snprintf(engs + off, sizeof(engs) - off, "%s%s",
							k ? "," : "", g->engines[k]);
			snapctl_table_cell(t, "%s", g->name);
			snapctl_table_cell(t, "%s", g->mode);
			snapctl_table_cell(t, "%s", cpus[0] ? cpus : "-");
			uint64_t cap = snapctl_counter(g->counters, g->n_counters, "thread_cap");
			if (g->has_n_threads && cap && strcmp(g->mode, "compacting") == 0)
				snapctl_table_cell(t, "%u (max %" PRIu64 ")", g->n_threads, cap);
			else if (g->has_n_threads)
				snapctl_table_cell(t, "%u", g->n_threads);
			else
				snapctl_table_cell(t, "-");
			snapctl_table_cell(t, "%s", engs[0] ? engs : "-");
			snapctl_table_cell(t, "%s", g->deadline ? g->deadline : "-");
			snapctl_table_end_row(t);
		}
		ec = snapctl_print_table(t);
		/* Per-thread placement and counters under the table. */
		for (size_t i = 0; i < r->n_groups; i++)
			for (size_t k = 0; k < r->groups[i]->n_thread_lines; k++)
				printf("  %s %s\n", r->groups[i]->name, r->groups[i]->thread_lines[k]);
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return ec;
}

static void print_list(const char *label, char **v, size_t n)
{
	printf("  %s", label);
	for (size_t i = 0; i < n; i++)
		printf("%s%s", i ? "," : " ", v[i]);
	printf("%s\n", n ? "" : " -");
}

/* Below the table: which engine owns each queue, and what the device can do. */
static void port_detail(const Ctl__PortInfo *p)
{
	printf("%s:\n  queues (rx/tx owner):", p->name);
	for (size_t q = 0; q < p->n_rxq_owner || q < p->n_txq_owner; q++) {
		const char *rx = q < p->n_rxq_owner && p->rxq_owner[q][0] ? p->rxq_owner[q] : "-";
		const char *tx = q < p->n_txq_owner && p->txq_owner[q][0] ? p->txq_owner[q] : "-";
		printf(" %zu:%s/%s", q, rx, tx);
	}
	printf("\n");
	if (p->has_max_rx_queues)
		printf("  max queues rx %u tx %u; mtu %u-%u; rx interrupts %s\n", p->max_rx_queues,
		       p->max_tx_queues, p->min_mtu, p->max_mtu, p->rx_interrupts ? "on" : "off");
	if (p->has_zero_copy)
		printf("  memif zero-copy %s\n", p->zero_copy ? "on (the server reads and writes "
		       "our mbufs)" : "off (copies to and from the shared rings)");
	print_list("rss offered:", p->rss_offered, p->n_rss_offered);
	print_list("rss configured:", p->rss, p->n_rss);
	if (p->steering)
		printf("  steering %s; rte_flow rules %u; udp ports %u + k*%u for queue k%s%s\n",
		       p->steering, p->steer_rules, p->steer_udp_base, p->steer_udp_block,
		       p->steer_refused ? "; rules refused: " : "",
		       p->steer_refused ? p->steer_refused : "");
	print_list("rx offloads:", p->rx_offloads, p->n_rx_offloads);
	print_list("tx offloads:", p->tx_offloads, p->n_tx_offloads);
}

int snapctl_cmd_ports(struct snapctl_ctx *x, int argc, char **argv)
{
	int a, ec = snapctl_simple_args(argc, argv, 1, "ports", NULL, &a);
	if (ec >= 0)
		return ec;
	Ctl__PortsRequest q = CTL__PORTS_REQUEST__INIT;
	if (a < argc)
		q.name = argv[a];
	ProtobufCMessage *m;
	if ((ec = snapctl_rpc(x, CTL_M_PORTS, &q.base, &ctl__ports_reply__descriptor, &m, 0)))
		return ec;
	bool done;
	snapctl_json_or(x, m, &done);
	if (!done) {
		Ctl__PortsReply *r = (Ctl__PortsReply *)m;
		static const char *const h[] = {"NAME", "KIND", "ID", "MAC", "IP", "NUMA", "RXQ",
						"TXQ", "LINK", "RX_PKTS", "TX_PKTS", "RX_MISSED",
						"ERRORS", "RECONNECTS"};
		struct snapctl_table *t = snapctl_table_new(14, h);
		for (size_t i = 0; t && i < r->n_ports; i++) {
			Ctl__PortInfo *p = r->ports[i];
			Ctl__Counter **c = p->counters;
			size_t n = p->n_counters;
			snapctl_table_cell(t, "%s", p->name);
			snapctl_table_cell(t, "%s", p->kind);
			snapctl_table_cell(t, "%u", p->port_id);
			snapctl_table_cell(t, "%s", p->mac);
			/* One column for both families: "v4", "v6" or "v4,v6" (no space, so
			 * the column stays one word). */
			if (p->ip6)
				snapctl_table_cell(t, "%s%s%s", p->ip ? p->ip : "", p->ip ? "," : "",
						   p->ip6);
			else
				snapctl_table_cell(t, "%s", p->ip ? p->ip : "-");
			snapctl_table_cell(t, "%d", p->numa);
			snapctl_table_cell(t, "%u", p->n_rxq);
			snapctl_table_cell(t, "%u", p->n_txq);
			if (p->has_link_up && p->link_up && p->has_link_speed_mbps)
				snapctl_table_cell(t, "up/%uM", p->link_speed_mbps);
			else
				snapctl_table_cell(t, "%s", p->has_link_up && p->link_up ? "up" : "down");
			snapctl_table_cell(t, "%" PRIu64, snapctl_counter(c, n, "ipackets"));
			snapctl_table_cell(t, "%" PRIu64, snapctl_counter(c, n, "opackets"));
			snapctl_table_cell(t, "%" PRIu64, snapctl_counter(c, n, "imissed"));
			snapctl_table_cell(t, "%" PRIu64,
					   snapctl_counter(c, n, "ierrors") + snapctl_counter(c, n, "oerrors") +
						   snapctl_counter(c, n, "rx_nombuf"));
			/* memif clients: links restored / connection attempts. */
			if (p->has_reconnects)
				snapctl_table_cell(t, "%" PRIu64 "/%" PRIu64, p->reconnects,
						   p->reconnect_attempts);
			else
				snapctl_table_cell(t, "-");
			snapctl_table_end_row(t);
		}
		ec = snapctl_print_table(t);
		for (size_t i = 0; ec == 0 && i < r->n_ports; i++)
			port_detail(r->ports[i]);
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return ec;
}

int snapctl_cmd_flows(struct snapctl_ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {HELP_OPT, {"engine", required_argument, NULL, 'e'}, {0}};
	Ctl__FlowsRequest q = CTL__FLOWS_REQUEST__INIT;
	optind = 0;
	int o;
	while ((o = getopt_long(argc, argv, "he:", lo, NULL)) != -1) {
		if (o == 'e')
			q.engine = optarg;
		else
			return snapctl_usage_of("flows", NULL, o == 'h' ? stdout : stderr,
					o == 'h' ? EXIT_OK : EXIT_USAGE);
	}
	if (optind < argc)
		return snapctl_usage_of("flows", NULL, stderr, EXIT_USAGE);
	ProtobufCMessage *m;
	int ec;
	if ((ec = snapctl_rpc(x, CTL_M_FLOWS, &q.base, &ctl__flows_reply__descriptor, &m, 0)))
		return ec;
	bool done;
	snapctl_json_or(x, m, &done);
	if (!done) {
		Ctl__FlowsReply *r = (Ctl__FlowsReply *)m;
		static const char *const h[] = {"ENGINE", "PEER", "ID", "STATE", "COUNTERS"};
		struct snapctl_table *t = snapctl_table_new(5, h);
		for (size_t i = 0; t && i < r->n_flows; i++) {
			Ctl__FlowInfo *f = r->flows[i];
			char cs[1024] = ""; /* ~30 counters, 12 of them per class */
			size_t off = 0;
			for (size_t k = 0; k < f->n_counters && off < sizeof(cs); k++)
				off += (size_t)snprintf(cs + off, sizeof(cs) - off, "%s%s=%" PRIu64,
							k ? " " : "", f->counters[k]->name,
							f->counters[k]->value);
			snapctl_table_cell(t, "%s", f->engine);
			snapctl_table_cell(t, "%s", f->peer);
			snapctl_table_cell(t, "%u", f->id);
			snapctl_table_cell(t, "%s", f->state ? f->state : "-");
			snapctl_table_cell(t, "%s", cs);
			snapctl_table_end_row(t);
		}
		ec = snapctl_print_table(t);
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return ec;
}

int snapctl_cmd_apps(struct snapctl_ctx *x, int argc, char **argv)
{
	int a, ec = snapctl_simple_args(argc, argv, 0, "apps", NULL, &a);
	if (ec >= 0)
		return ec;
	Ctl__AppsRequest q = CTL__APPS_REQUEST__INIT;
	ProtobufCMessage *m;
	if ((ec = snapctl_rpc(x, CTL_M_APPS, &q.base, &ctl__apps_reply__descriptor, &m, 0)))
		return ec;
	bool done;
	snapctl_json_or(x, m, &done);
	if (!done) {
		Ctl__AppsReply *r = (Ctl__AppsReply *)m;
		static const char *const h[] = {"NAME", "PID", "ENGINE", "COUNTERS"};
		struct snapctl_table *t = snapctl_table_new(4, h);
		for (size_t i = 0; t && i < r->n_apps; i++) {
			Ctl__AppInfo *p = r->apps[i];
			char cs[512] = "";
			size_t off = 0;
			for (size_t k = 0; k < p->n_counters && off < sizeof(cs); k++)
				off += (size_t)snprintf(cs + off, sizeof(cs) - off, "%s%s=%" PRIu64,
							k ? " " : "", p->counters[k]->name,
							p->counters[k]->value);
			snapctl_table_cell(t, "%s", p->name);
			snapctl_table_cell(t, "%d", p->pid);
			snapctl_table_cell(t, "%s", p->engine ? p->engine : "-");
			snapctl_table_cell(t, "%s", cs);
			snapctl_table_end_row(t);
		}
		ec = snapctl_print_table(t);
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return ec;
}

/* ---- stats (with --watch) ---------------------------------------------------------------- */

struct sample {
	char *key; /* "engine\0elem\0counter" flattened as "engine/elem/counter" */
	uint64_t value;
};

struct samples {
	struct sample *v;
	size_t n;
};

static void samples_free(struct samples *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].key);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static bool samples_find(const struct samples *s, const char *key, uint64_t *v)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].key, key) == 0) {
			*v = s->v[i].value;
			return true;
		}
	return false;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Render one stats sample; with prev (watch mode) add a per-second rate column. */
static int stats_render(const Ctl__StatsReply *r, const struct samples *prev, double dt,
			bool nonzero, struct samples *cur, bool *engine_error)
{
	static const char *const h[] = {"ENGINE", "ELEMENT", "COUNTER", "VALUE", "RATE/s"};
	struct snapctl_table *t = snapctl_table_new(prev ? 5 : 4, h);
	size_t total = 0;
	for (size_t i = 0; i < r->n_engines; i++)
		for (size_t j = 0; j < r->engines[i]->n_elements; j++)
			total += r->engines[i]->elements[j]->n_counters;
	cur->v = calloc(total ? total : 1, sizeof(*cur->v));
	cur->n = 0;
	for (size_t i = 0; t && i < r->n_engines; i++) {
		Ctl__EngineStats *es = r->engines[i];
		if (es->has_error && es->error) {
			fprintf(stderr, "snapctl: engine %s did not answer: %s\n", es->engine,
				strerror(es->error));
			*engine_error = true;
			continue;
		}
		for (size_t j = 0; j < es->n_elements; j++) {
			Ctl__ElementStats *el = es->elements[j];
			for (size_t k = 0; k < el->n_counters; k++) {
				Ctl__Counter *c = el->counters[k];
				char *key = NULL;
				if (asprintf(&key, "%s/%s/%s", es->engine, el->element, c->name) < 0)
					key = NULL;
				uint64_t old = 0;
				bool had = prev && key && samples_find(prev, key, &old);
				if (cur->v && key)
					cur->v[cur->n++] = (struct sample){key, c->value};
				else
					free(key);
				if (nonzero && c->value == 0)
					continue;
				snapctl_table_cell(t, "%s", es->engine);
				snapctl_table_cell(t, "%s", el->element[0] ? el->element : "-");
				snapctl_table_cell(t, "%s", c->name);
				snapctl_table_cell(t, "%" PRIu64, c->value);
				if (prev) {
					if (had && dt > 0 && c->value >= old)
						snapctl_table_cell(t, "%.1f", (double)(c->value - old) / dt);
					else
						snapctl_table_cell(t, "-");
				}
				snapctl_table_end_row(t);
			}
		}
	}
	return snapctl_print_table(t);
}

int snapctl_cmd_stats(struct snapctl_ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {HELP_OPT,
					   {"watch", optional_argument, NULL, 'w'},
					   {"count", required_argument, NULL, 'c'},
					   {"nonzero", no_argument, NULL, 'z'},
					   {0}};
	double interval = 0;
	uint64_t count = 0;
	/* Accept "--watch 2" as well as "--watch=2" (getopt only takes the latter for an
	 * optional argument): join them before parsing. */
	char *joined[65];
	char wbuf[64];
	if (argc > 64)
		return snapctl_usage_of("stats", NULL, stderr, EXIT_USAGE);
	int jn = 0;
	for (int i = 0; i < argc; i++) {
		double d;
		if ((!strcmp(argv[i], "--watch") || !strcmp(argv[i], "-w")) && i + 1 < argc &&
		    snapctl_parse_double(argv[i + 1], &d)) {
			snprintf(wbuf, sizeof(wbuf), "--watch=%s", argv[i + 1]);
			joined[jn++] = wbuf;
			i++;
		} else {
			joined[jn++] = argv[i];
		}
	}
	joined[jn] = NULL;
	argc = jn;
	argv = joined;
	bool watch = false, nonzero = false;
	optind = 0;
	int o;
	while ((o = getopt_long(argc, argv, "hw::c:z", lo, NULL)) != -1) {
		switch (o) {
		case 'w':
			watch = true;
			interval = 1;
			if (optarg && !snapctl_parse_double(optarg, &interval))
				return snapctl_usage_of("stats", NULL, stderr, EXIT_USAGE);
			if (interval < 0.05)
				interval = 0.05;
			break;
		case 'c':
			if (!snapctl_parse_u64(optarg, &count) || count == 0)
				return snapctl_usage_of("stats", NULL, stderr, EXIT_USAGE);
			break;
		case 'z':
			nonzero = true;
			break;
		case 'h':
			return snapctl_usage_of("stats", NULL, stdout, EXIT_OK);
		default:
			return snapctl_usage_of("stats", NULL, stderr, EXIT_USAGE);
		}
	}
	if (argc - optind > 1)
		return snapctl_usage_of("stats", NULL, stderr, EXIT_USAGE);
	if (count && !watch)
		watch = true, interval = 1;
	if (!watch)
		count = 1;
	Ctl__StatsRequest q = CTL__STATS_REQUEST__INIT;
	if (optind < argc)
		q.engine = argv[optind];

	struct samples prev = {0}, cur = {0};
	double prev_t = 0;
	int ec = EXIT_OK;
	signal(SIGINT, on_sigint);
	for (uint64_t it = 0; !interrupted && (count == 0 || it < count); it++) {
		if (it) {
			struct timespec ts = {(time_t)interval,
					      (long)((interval - (double)(time_t)interval) * 1e9)};
			while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !interrupted)
				;
			if (interrupted)
				break;
		}
		ProtobufCMessage *m;
		if ((ec = snapctl_rpc(x, CTL_M_STATS, &q.base, &ctl__stats_reply__descriptor, &m, 0)))
			break;
		double t = now_s();
		bool done, engine_error = false;
		snapctl_json_or(x, m, &done);
		if (!done) {
			if (watch && !x->json && isatty(STDOUT_FILENO))
				fputs("\033[H\033[2J", stdout); /* clear, like watch(1) */
			else if (it)
				fputc('\n', stdout);
			ec = stats_render((Ctl__StatsReply *)m, watch ? &prev : NULL, t - prev_t,
					  nonzero, &cur, &engine_error);
			samples_free(&prev);
			prev = cur;
			cur = (struct samples){0};
			if (!ec && engine_error)
				ec = EXIT_REPLY;
		}
		fflush(stdout);
		prev_t = t;
		protobuf_c_message_free_unpacked(m, NULL);
		if (ec && ec != EXIT_REPLY)
			break;
	}
	samples_free(&prev);
	return ec;
}


/* The counters of stats, ports, flows and apps in the OpenMetrics text format: the same
 * replies those commands print, rendered by the daemon's metrics endpoint code too. */
int snapctl_cmd_metrics(struct snapctl_ctx *x, int argc, char **argv)
{
	int a, ec = snapctl_simple_args(argc, argv, 0, "metrics", NULL, &a);
	if (ec >= 0)
		return ec;
	Ctl__StatsRequest sq = CTL__STATS_REQUEST__INIT;
	Ctl__PortsRequest pq = CTL__PORTS_REQUEST__INIT;
	Ctl__FlowsRequest fq = CTL__FLOWS_REQUEST__INIT;
	Ctl__AppsRequest aq = CTL__APPS_REQUEST__INIT;
	ProtobufCMessage *m[4] = {NULL, NULL, NULL, NULL};
	if ((ec = snapctl_rpc(x, CTL_M_STATS, &sq.base, &ctl__stats_reply__descriptor, &m[0], 0)) ||
	    (ec = snapctl_rpc(x, CTL_M_PORTS, &pq.base, &ctl__ports_reply__descriptor, &m[1], 0)) ||
	    (ec = snapctl_rpc(x, CTL_M_FLOWS, &fq.base, &ctl__flows_reply__descriptor, &m[2], 0)) ||
	    (ec = snapctl_rpc(x, CTL_M_APPS, &aq.base, &ctl__apps_reply__descriptor, &m[3], 0)))
		goto out;
	struct ctl_metrics_src src = {
		.stats = (Ctl__StatsReply *)m[0],
		.ports = (Ctl__PortsReply *)m[1],
		.flows = (Ctl__FlowsReply *)m[2],
		.apps = (Ctl__AppsReply *)m[3],
	};
	if (ctl_metrics_render(stdout, &src) < 0 || fflush(stdout) != 0) {
		fprintf(stderr, "snapctl: metrics: cannot write the output\n");
		ec = EXIT_REPLY;
	}
out:
	for (int i = 0; i < 4; i++)
		if (m[i])
			protobuf_c_message_free_unpacked(m[i], NULL);
	return ec;
}
