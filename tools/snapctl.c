/* snapctl: the operator's command-line client for snapnetd's control socket. Each command is
 * one RPC (control/ctl.proto) rendered as an aligned table, or as JSON with --json.
 *
 * Exit codes (stable, for scripts):
 *   0  success
 *   1  the daemon answered with an error (unknown engine, bad argument, unimplemented method)
 *   2  usage error (bad command line)
 *   3  daemon not running or unreachable (no socket, refused, timed out, connection closed)
 *   4  permission denied (socket not accessible, or the method needs operator rights)
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools/snapctl_client.h"
#include "tools/snapctl_out.h"

enum {
	EXIT_OK = 0,
	EXIT_REPLY = 1,
	EXIT_USAGE = 2,
	EXIT_UNREACHABLE = 3,
	EXIT_PERM = 4,
};

struct ctx {
	const char *socket;
	bool json;
	unsigned timeout_ms;
	struct snapctl_conn *conn;
};

struct cmd {
	const char *name;
	const char *sub; /* NULL: no sub-command */
	int (*fn)(struct ctx *x, int argc, char **argv);
	const char *usage;
	const char *help;
};

static const struct cmd cmds[];

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* ---- RPC plumbing ------------------------------------------------------------------------ */

static int connect_daemon(struct ctx *x)
{
	if (x->conn)
		return EXIT_OK;
	x->conn = snapctl_connect(x->socket);
	if (x->conn)
		return EXIT_OK;
	int err = errno;
	if (err == EACCES || err == EPERM) {
		fprintf(stderr,
			"snapctl: permission denied on %s (operators need to be in the daemon's "
			"operator group)\n", x->socket);
		return EXIT_PERM;
	}
	if (err == ENOENT || err == ECONNREFUSED || err == ENOTDIR)
		fprintf(stderr, "snapctl: snapnetd is not running (no control server at %s; "
				"set --socket or $%s)\n", x->socket, CTL_SOCKET_ENV);
	else
		fprintf(stderr, "snapctl: cannot connect to %s: %s\n", x->socket, strerror(err));
	return EXIT_UNREACHABLE;
}

/*
 * Call method with req, decode the reply as rdesc into *out (caller frees). Prints the reason
 * of any failure and returns the exit code. timeout_ms 0 uses the global --timeout.
 */
static int rpc(struct ctx *x, const char *method, const ProtobufCMessage *req,
	       const ProtobufCMessageDescriptor *rdesc, ProtobufCMessage **out, unsigned timeout_ms)
{
	*out = NULL;
	int ec = connect_daemon(x);
	if (ec)
		return ec;
	Ctl__Response *rsp = NULL;
	int r = snapctl_call(x->conn, method, req, timeout_ms ? timeout_ms : x->timeout_ms, &rsp);
	if (r < 0) {
		if (r == -ETIMEDOUT)
			fprintf(stderr, "snapctl: %s: the daemon did not answer in time\n", method);
		else if (r == -ECONNRESET)
			fprintf(stderr, "snapctl: %s: the daemon closed the connection\n", method);
		else
			fprintf(stderr, "snapctl: %s: %s\n", method, strerror(-r));
		return EXIT_UNREACHABLE;
	}
	if (rsp->has_error && rsp->error) {
		fprintf(stderr, "snapctl: %s: %s\n", method,
			rsp->message && rsp->message[0] ? rsp->message : strerror(rsp->error));
		ec = rsp->error == EPERM || rsp->error == EACCES ? EXIT_PERM : EXIT_REPLY;
		ctl__response__free_unpacked(rsp, NULL);
		return ec;
	}
	*out = snapctl_reply_unpack(rsp, rdesc);
	ctl__response__free_unpacked(rsp, NULL);
	if (*out == NULL) {
		fprintf(stderr, "snapctl: %s: malformed reply from the daemon\n", method);
		return EXIT_REPLY;
	}
	return EXIT_OK;
}

/* ---- argument helpers -------------------------------------------------------------------- */

static int usage_of(const char *name, const char *sub, FILE *f, int code)
{
	for (const struct cmd *c = cmds; c->name; c++) {
		if (strcmp(c->name, name) != 0 || (sub && c->sub && strcmp(c->sub, sub) != 0))
			continue;
		fprintf(f, "usage: snapctl [global options] %s\n  %s\n", c->usage, c->help);
	}
	return code;
}

/* getopt over a command's own options; returns the index of the first positional or -1 on a
 * usage error (message printed). Leading "--help" shows the command's usage. */
static bool parse_u64(const char *s, uint64_t *v)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);
	if (!*s || *end || errno || s[0] == '-')
		return false;
	*v = x;
	return true;
}

static bool parse_double(const char *s, double *v)
{
	char *end;
	errno = 0;
	*v = strtod(s, &end);
	return *s && !*end && !errno && *v >= 0;
}

#define HELP_OPT {"help", no_argument, NULL, 'h'}

static void json_or(struct ctx *x, const ProtobufCMessage *m, bool *done)
{
	*done = x->json;
	if (x->json)
		snapctl_json_print(stdout, m);
}

static int print_table(struct snapctl_table *t)
{
	if (t == NULL || snapctl_table_print(t, stdout) < 0) {
		snapctl_table_free(t);
		fprintf(stderr, "snapctl: out of memory\n");
		return EXIT_REPLY;
	}
	snapctl_table_free(t);
	return EXIT_OK;
}

static uint64_t counter(Ctl__Counter **cs, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(cs[i]->name, name) == 0)
			return cs[i]->value;
	return 0;
}

/* Commands with no options but --help and at most `maxpos` positionals: -1 and *pos (first
 * positional) to go on, or the exit code to return now. */
static int simple_args(int argc, char **argv, int maxpos, const char *name, const char *sub,
		       int *pos)
{
	static const struct option lo[] = {HELP_OPT, {0}};
	optind = 0;
	int o;
	while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1)
		return usage_of(name, sub, o == 'h' ? stdout : stderr,
				o == 'h' ? EXIT_OK : EXIT_USAGE);
	if (argc - optind > maxpos) {
		fprintf(stderr, "snapctl: %s: too many arguments\n", name);
		return usage_of(name, sub, stderr, EXIT_USAGE);
	}
	*pos = optind;
	return -1;
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

static int cmd_status(struct ctx *x, int argc, char **argv)
{
	int a, ec = simple_args(argc, argv, 0, "status", NULL, &a);
	if (ec >= 0)
		return ec;
	Ctl__StatusRequest q = CTL__STATUS_REQUEST__INIT;
	ProtobufCMessage *m;
	if ((ec = rpc(x, CTL_M_STATUS, &q.base, &ctl__status_reply__descriptor, &m, 0)))
		return ec;
	bool done;
	json_or(x, m, &done);
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
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return EXIT_OK;
}

static int cmd_engines(struct ctx *x, int argc, char **argv)
{
	int a, ec = simple_args(argc, argv, 1, "engines", NULL, &a);
	if (ec >= 0)
		return ec;
	Ctl__EnginesRequest q = CTL__ENGINES_REQUEST__INIT;
	if (a < argc)
		q.name = argv[a];
	ProtobufCMessage *m;
	if ((ec = rpc(x, CTL_M_ENGINES, &q.base, &ctl__engines_reply__descriptor, &m, 0)))
		return ec;
	bool done;
	json_or(x, m, &done);
	if (!done) {
		Ctl__EnginesReply *r = (Ctl__EnginesReply *)m;
		static const char *const h[] = {"NAME", "ID", "GROUP", "THREAD", "STATE", "NUMA",
						"POLLS", "BUSY%", "WORK", "MBOX", "ELEMENTS"};
		struct snapctl_table *t = snapctl_table_new(11, h);
		for (size_t i = 0; t && i < r->n_engines; i++) {
			Ctl__EngineInfo *e = r->engines[i];
			uint64_t polls = counter(e->counters, e->n_counters, "polls");
			uint64_t busy = counter(e->counters, e->n_counters, "busy_polls");
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
			snapctl_table_cell(t, "%" PRIu64, counter(e->counters, e->n_counters, "work"));
			snapctl_table_cell(t, "%" PRIu64,
					   counter(e->counters, e->n_counters, "mbox_runs"));
			char els[512] = "";
			size_t off = 0;
			for (size_t k = 0; k < e->n_elements && off < sizeof(els); k++)
				off += (size_t)snprintf(els + off, sizeof(els) - off, "%s%s",
							k ? "," : "", e->elements[k]);
			snapctl_table_cell(t, "%s", els[0] ? els : "-");
			snapctl_table_end_row(t);
		}
		ec = print_table(t);
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return ec;
}

static int cmd_groups(struct ctx *x, int argc, char **argv)
{
	int a, ec = simple_args(argc, argv, 0, "groups", NULL, &a);
	if (ec >= 0)
		return ec;
	Ctl__GroupsRequest q = CTL__GROUPS_REQUEST__INIT;
	ProtobufCMessage *m;
	if ((ec = rpc(x, CTL_M_GROUPS, &q.base, &ctl__groups_reply__descriptor, &m, 0)))
		return ec;
	bool done;
	json_or(x, m, &done);
	if (!done) {
		Ctl__GroupsReply *r = (Ctl__GroupsReply *)m;
		static const char *const h[] = {"NAME", "MODE", "CPUS", "THREADS", "ENGINES"};
		struct snapctl_table *t = snapctl_table_new(5, h);
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
			if (g->has_n_threads)
				snapctl_table_cell(t, "%u", g->n_threads);
			else
				snapctl_table_cell(t, "-");
			snapctl_table_cell(t, "%s", engs[0] ? engs : "-");
			snapctl_table_end_row(t);
		}
		ec = print_table(t);
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return ec;
}

static int cmd_ports(struct ctx *x, int argc, char **argv)
{
	int a, ec = simple_args(argc, argv, 1, "ports", NULL, &a);
	if (ec >= 0)
		return ec;
	Ctl__PortsRequest q = CTL__PORTS_REQUEST__INIT;
	if (a < argc)
		q.name = argv[a];
	ProtobufCMessage *m;
	if ((ec = rpc(x, CTL_M_PORTS, &q.base, &ctl__ports_reply__descriptor, &m, 0)))
		return ec;
	bool done;
	json_or(x, m, &done);
	if (!done) {
		Ctl__PortsReply *r = (Ctl__PortsReply *)m;
		static const char *const h[] = {"NAME", "KIND", "ID", "MAC", "IP", "NUMA", "RXQ",
						"TXQ", "LINK", "RX_PKTS", "TX_PKTS", "RX_MISSED",
						"ERRORS"};
		struct snapctl_table *t = snapctl_table_new(13, h);
		for (size_t i = 0; t && i < r->n_ports; i++) {
			Ctl__PortInfo *p = r->ports[i];
			Ctl__Counter **c = p->counters;
			size_t n = p->n_counters;
			snapctl_table_cell(t, "%s", p->name);
			snapctl_table_cell(t, "%s", p->kind);
			snapctl_table_cell(t, "%u", p->port_id);
			snapctl_table_cell(t, "%s", p->mac);
			snapctl_table_cell(t, "%s", p->ip ? p->ip : "-");
			snapctl_table_cell(t, "%d", p->numa);
			snapctl_table_cell(t, "%u", p->n_rxq);
			snapctl_table_cell(t, "%u", p->n_txq);
			if (p->has_link_up && p->link_up && p->has_link_speed_mbps)
				snapctl_table_cell(t, "up/%uM", p->link_speed_mbps);
			else
				snapctl_table_cell(t, "%s", p->has_link_up && p->link_up ? "up" : "down");
			snapctl_table_cell(t, "%" PRIu64, counter(c, n, "ipackets"));
			snapctl_table_cell(t, "%" PRIu64, counter(c, n, "opackets"));
			snapctl_table_cell(t, "%" PRIu64, counter(c, n, "imissed"));
			snapctl_table_cell(t, "%" PRIu64,
					   counter(c, n, "ierrors") + counter(c, n, "oerrors") +
						   counter(c, n, "rx_nombuf"));
			snapctl_table_end_row(t);
		}
		ec = print_table(t);
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return ec;
}

static int cmd_flows(struct ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {HELP_OPT, {"engine", required_argument, NULL, 'e'}, {0}};
	Ctl__FlowsRequest q = CTL__FLOWS_REQUEST__INIT;
	optind = 0;
	int o;
	while ((o = getopt_long(argc, argv, "he:", lo, NULL)) != -1) {
		if (o == 'e')
			q.engine = optarg;
		else
			return usage_of("flows", NULL, o == 'h' ? stdout : stderr,
					o == 'h' ? EXIT_OK : EXIT_USAGE);
	}
	if (optind < argc)
		return usage_of("flows", NULL, stderr, EXIT_USAGE);
	ProtobufCMessage *m;
	int ec;
	if ((ec = rpc(x, CTL_M_FLOWS, &q.base, &ctl__flows_reply__descriptor, &m, 0)))
		return ec;
	bool done;
	json_or(x, m, &done);
	if (!done) {
		Ctl__FlowsReply *r = (Ctl__FlowsReply *)m;
		static const char *const h[] = {"ENGINE", "PEER", "ID", "STATE", "COUNTERS"};
		struct snapctl_table *t = snapctl_table_new(5, h);
		for (size_t i = 0; t && i < r->n_flows; i++) {
			Ctl__FlowInfo *f = r->flows[i];
			char cs[512] = "";
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
		ec = print_table(t);
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return ec;
}

static int cmd_apps(struct ctx *x, int argc, char **argv)
{
	int a, ec = simple_args(argc, argv, 0, "apps", NULL, &a);
	if (ec >= 0)
		return ec;
	Ctl__AppsRequest q = CTL__APPS_REQUEST__INIT;
	ProtobufCMessage *m;
	if ((ec = rpc(x, CTL_M_APPS, &q.base, &ctl__apps_reply__descriptor, &m, 0)))
		return ec;
	bool done;
	json_or(x, m, &done);
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
		ec = print_table(t);
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
	return print_table(t);
}

static int cmd_stats(struct ctx *x, int argc, char **argv)
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
		return usage_of("stats", NULL, stderr, EXIT_USAGE);
	int jn = 0;
	for (int i = 0; i < argc; i++) {
		double d;
		if ((!strcmp(argv[i], "--watch") || !strcmp(argv[i], "-w")) && i + 1 < argc &&
		    parse_double(argv[i + 1], &d)) {
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
			if (optarg && !parse_double(optarg, &interval))
				return usage_of("stats", NULL, stderr, EXIT_USAGE);
			if (interval < 0.05)
				interval = 0.05;
			break;
		case 'c':
			if (!parse_u64(optarg, &count) || count == 0)
				return usage_of("stats", NULL, stderr, EXIT_USAGE);
			break;
		case 'z':
			nonzero = true;
			break;
		case 'h':
			return usage_of("stats", NULL, stdout, EXIT_OK);
		default:
			return usage_of("stats", NULL, stderr, EXIT_USAGE);
		}
	}
	if (argc - optind > 1)
		return usage_of("stats", NULL, stderr, EXIT_USAGE);
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
		if ((ec = rpc(x, CTL_M_STATS, &q.base, &ctl__stats_reply__descriptor, &m, 0)))
			break;
		double t = now_s();
		bool done, engine_error = false;
		json_or(x, m, &done);
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

/* ---- mutating commands ------------------------------------------------------------------- */

static int print_ok(struct ctx *x, ProtobufCMessage *m, const char *what)
{
	bool done;
	json_or(x, m, &done);
	if (!done)
		printf("%s\n", what);
	protobuf_c_message_free_unpacked(m, NULL);
	return EXIT_OK;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		size_t k = fread(buf + n, 1, cap - n - 1, f);
		n += k;
		if (k == 0)
			break;
		if (n + 1 == cap) {
			char *nb = cap < (1u << 24) ? realloc(buf, cap * 2) : NULL;
			if (nb == NULL) {
				free(buf);
				buf = NULL;
				errno = EFBIG;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	if (buf)
		buf[n] = '\0';
	fclose(f);
	return buf;
}

static int cmd_engine_create(struct ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {HELP_OPT,
					   {"group", required_argument, NULL, 'g'},
					   {"config", required_argument, NULL, 'c'},
					   {"config-file", required_argument, NULL, 'f'},
					   {0}};
	Ctl__EngineCreateRequest q = CTL__ENGINE_CREATE_REQUEST__INIT;
	char *file = NULL;
	optind = 0;
	int o;
	while ((o = getopt_long(argc, argv, "hg:c:f:", lo, NULL)) != -1) {
		if (o == 'g')
			q.group = optarg;
		else if (o == 'c')
			q.config = optarg;
		else if (o == 'f' && (file = read_file(optarg)) != NULL)
			q.config = file;
		else if (o == 'f') {
			fprintf(stderr, "snapctl: cannot read %s: %s\n", optarg, strerror(errno));
			return EXIT_USAGE;
		} else
			return usage_of("engine", "create", o == 'h' ? stdout : stderr,
					o == 'h' ? EXIT_OK : EXIT_USAGE);
	}
	if (argc - optind != 1) {
		free(file);
		return usage_of("engine", "create", stderr, EXIT_USAGE);
	}
	q.name = argv[optind];
	ProtobufCMessage *m;
	int ec = rpc(x, CTL_M_ENGINE_CREATE, &q.base, &ctl__engine_create_reply__descriptor, &m, 0);
	free(file);
	if (ec)
		return ec;
	char msg[128];
	snprintf(msg, sizeof(msg), "engine %s created", q.name);
	return print_ok(x, m, msg);
}

static int cmd_engine_destroy(struct ctx *x, int argc, char **argv)
{
	int a, ec = simple_args(argc, argv, 1, "engine", "destroy", &a);
	if (ec >= 0)
		return ec;
	if (a >= argc)
		return usage_of("engine", "destroy", stderr, EXIT_USAGE);
	Ctl__EngineDestroyRequest q = CTL__ENGINE_DESTROY_REQUEST__INIT;
	q.name = argv[a];
	ProtobufCMessage *m;
	if ((ec = rpc(x, CTL_M_ENGINE_DESTROY, &q.base, &ctl__engine_op_reply__descriptor, &m, 0)))
		return ec;
	char msg[128];
	snprintf(msg, sizeof(msg), "engine %s destroyed", q.name);
	return print_ok(x, m, msg);
}

static int cmd_engine_move(struct ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {HELP_OPT,
					   {"group", required_argument, NULL, 'g'},
					   {"thread", required_argument, NULL, 't'},
					   {0}};
	Ctl__EngineMoveRequest q = CTL__ENGINE_MOVE_REQUEST__INIT;
	optind = 0;
	int o;
	uint64_t th;
	while ((o = getopt_long(argc, argv, "hg:t:", lo, NULL)) != -1) {
		if (o == 'g')
			q.group = optarg;
		else if (o == 't' && parse_u64(optarg, &th) && th < INT32_MAX)
			q.has_thread = true, q.thread = (int32_t)th;
		else
			return usage_of("engine", "move", o == 'h' ? stdout : stderr,
					o == 'h' ? EXIT_OK : EXIT_USAGE);
	}
	if (argc - optind != 1 || q.group == NULL)
		return usage_of("engine", "move", stderr, EXIT_USAGE);
	q.name = argv[optind];
	ProtobufCMessage *m;
	int ec = rpc(x, CTL_M_ENGINE_MOVE, &q.base, &ctl__engine_op_reply__descriptor, &m, 0);
	if (ec)
		return ec;
	char msg[160];
	snprintf(msg, sizeof(msg), "engine %s moved to group %s", q.name, q.group);
	return print_ok(x, m, msg);
}

static bool valid_mode(const char *m)
{
	return !strcmp(m, "dedicated") || !strcmp(m, "spreading") || !strcmp(m, "compacting");
}

static int cmd_group_create(struct ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {HELP_OPT,
					   {"mode", required_argument, NULL, 'm'},
					   {"cpus", required_argument, NULL, 'c'},
					   {"threads", required_argument, NULL, 't'},
					   {0}};
	Ctl__GroupCreateRequest q = CTL__GROUP_CREATE_REQUEST__INIT;
	int32_t cpus[256];
	optind = 0;
	int o;
	uint64_t v;
	while ((o = getopt_long(argc, argv, "hm:c:t:", lo, NULL)) != -1) {
		if (o == 'm' && valid_mode(optarg)) {
			q.mode = optarg;
		} else if (o == 'c') {
			/* "2,3,5-7" */
			for (char *tok = strtok(optarg, ","); tok; tok = strtok(NULL, ",")) {
				char *dash = strchr(tok, '-');
				uint64_t lo_c, hi_c;
				if (dash)
					*dash = '\0';
				if (!parse_u64(tok, &lo_c) || (dash && !parse_u64(dash + 1, &hi_c)))
					return usage_of("group", "create", stderr, EXIT_USAGE);
				if (!dash)
					hi_c = lo_c;
				for (uint64_t c = lo_c; c <= hi_c && c < 4096; c++) {
					if (q.n_cpus == 256)
						return usage_of("group", "create", stderr, EXIT_USAGE);
					cpus[q.n_cpus++] = (int32_t)c;
				}
			}
			q.cpus = cpus;
		} else if (o == 't' && parse_u64(optarg, &v) && v > 0 && v < 4096) {
			q.has_n_threads = true;
			q.n_threads = (uint32_t)v;
		} else {
			if (o == 'm')
				fprintf(stderr, "snapctl: mode must be dedicated, spreading or "
						"compacting\n");
			return usage_of("group", "create", o == 'h' ? stdout : stderr,
					o == 'h' ? EXIT_OK : EXIT_USAGE);
		}
	}
	if (argc - optind != 1 || q.mode == NULL)
		return usage_of("group", "create", stderr, EXIT_USAGE);
	q.name = argv[optind];
	ProtobufCMessage *m;
	int ec = rpc(x, CTL_M_GROUP_CREATE, &q.base, &ctl__group_op_reply__descriptor, &m, 0);
	if (ec)
		return ec;
	char msg[160];
	snprintf(msg, sizeof(msg), "group %s created (%s)", q.name, q.mode);
	return print_ok(x, m, msg);
}

static int cmd_group_set_mode(struct ctx *x, int argc, char **argv)
{
	int a, ec = simple_args(argc, argv, 2, "group", "set-mode", &a);
	if (ec >= 0)
		return ec;
	if (argc - a != 2 || !valid_mode(argv[a + 1]))
		return usage_of("group", "set-mode", stderr, EXIT_USAGE);
	Ctl__GroupSetModeRequest q = CTL__GROUP_SET_MODE_REQUEST__INIT;
	q.name = argv[a];
	q.mode = argv[a + 1];
	ProtobufCMessage *m;
	if ((ec = rpc(x, CTL_M_GROUP_SET_MODE, &q.base, &ctl__group_op_reply__descriptor, &m, 0)))
		return ec;
	char msg[160];
	snprintf(msg, sizeof(msg), "group %s is now %s", q.name, q.mode);
	return print_ok(x, m, msg);
}

static int cmd_log_level(struct ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {HELP_OPT, {"type", required_argument, NULL, 't'}, {0}};
	Ctl__LogLevelRequest q = CTL__LOG_LEVEL_REQUEST__INIT;
	optind = 0;
	int o;
	while ((o = getopt_long(argc, argv, "ht:", lo, NULL)) != -1) {
		if (o == 't' && (!strcmp(optarg, "snap") || !strcmp(optarg, "dpdk") ||
				 !strcmp(optarg, "all")))
			q.type = optarg;
		else
			return usage_of("log-level", NULL, o == 'h' ? stdout : stderr,
					o == 'h' ? EXIT_OK : EXIT_USAGE);
	}
	if (argc - optind > 1)
		return usage_of("log-level", NULL, stderr, EXIT_USAGE);
	if (optind < argc)
		q.level = argv[optind];
	ProtobufCMessage *m;
	int ec = rpc(x, q.level ? CTL_M_LOG_LEVEL_SET : CTL_M_LOG_LEVEL, &q.base,
		     &ctl__log_level_reply__descriptor, &m, 0);
	if (ec)
		return ec;
	bool done;
	json_or(x, m, &done);
	if (!done) {
		Ctl__LogLevelReply *r = (Ctl__LogLevelReply *)m;
		printf("snap  %s\ndpdk  %s\n", r->snap_level, r->dpdk_level);
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return EXIT_OK;
}

static int cmd_capture(struct ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {HELP_OPT,
					   {"out", required_argument, NULL, 'o'},
					   {"count", required_argument, NULL, 'c'},
					   {"duration", required_argument, NULL, 'd'},
					   {"snaplen", required_argument, NULL, 's'},
					   {"direction", required_argument, NULL, 'D'},
					   {0}};
	Ctl__CaptureRequest q = CTL__CAPTURE_REQUEST__INIT;
	const char *out = NULL;
	double dur;
	uint64_t v;
	optind = 0;
	int o;
	while ((o = getopt_long(argc, argv, "ho:c:d:s:D:", lo, NULL)) != -1) {
		if (o == 'o') {
			out = optarg;
		} else if (o == 'c' && parse_u64(optarg, &v) && v > 0) {
			q.has_count = true;
			q.count = v;
		} else if (o == 'd' && parse_double(optarg, &dur) && dur > 0 && dur < 86400) {
			q.has_duration_ms = true;
			q.duration_ms = (uint32_t)(dur * 1000 + 0.5);
		} else if (o == 's' && parse_u64(optarg, &v) && v >= 64 && v <= 65535) {
			q.has_snaplen = true;
			q.snaplen = (uint32_t)v;
		} else if (o == 'D' && (!strcmp(optarg, "rx") || !strcmp(optarg, "tx") ||
					!strcmp(optarg, "both"))) {
			q.direction = optarg;
		} else {
			return usage_of("capture", NULL, o == 'h' ? stdout : stderr,
					o == 'h' ? EXIT_OK : EXIT_USAGE);
		}
	}
	if (argc - optind != 1 || out == NULL || (!q.has_count && !q.has_duration_ms))
		return usage_of("capture", NULL, stderr, EXIT_USAGE);
	q.port = argv[optind];
	/* The daemon writes the file from its own working directory: send an absolute path. */
	char abs[PATH_MAX + 1];
	if (out[0] != '/') {
		char cwd[PATH_MAX];
		if (getcwd(cwd, sizeof(cwd)) == NULL ||
		    (size_t)snprintf(abs, sizeof(abs), "%s/%s", cwd, out) >= sizeof(abs)) {
			fprintf(stderr, "snapctl: capture: path too long\n");
			return EXIT_USAGE;
		}
		out = abs;
	}
	q.path = (char *)(uintptr_t)out;
	/* Count-only captures wait as long as traffic takes (Ctrl-C closes the connection,
	 * which stops the capture); timed ones get the duration plus slack. */
	unsigned timeout = q.has_duration_ms ? q.duration_ms + x->timeout_ms : 0;
	ProtobufCMessage *m;
	int ec = connect_daemon(x);
	if (ec)
		return ec;
	if (timeout == 0) {
		/* snapctl_call treats 0 as "forever"; rpc() would substitute --timeout. */
		Ctl__Response *rsp = NULL;
		int r = snapctl_call(x->conn, CTL_M_CAPTURE, &q.base, 0, &rsp);
		if (r < 0) {
			fprintf(stderr, "snapctl: capture: %s\n", strerror(-r));
			return EXIT_UNREACHABLE;
		}
		if (rsp->has_error && rsp->error) {
			fprintf(stderr, "snapctl: capture: %s\n",
				rsp->message ? rsp->message : strerror(rsp->error));
			ec = rsp->error == EPERM ? EXIT_PERM : EXIT_REPLY;
			ctl__response__free_unpacked(rsp, NULL);
			return ec;
		}
		m = snapctl_reply_unpack(rsp, &ctl__capture_reply__descriptor);
		ctl__response__free_unpacked(rsp, NULL);
		if (m == NULL)
			return EXIT_REPLY;
	} else if ((ec = rpc(x, CTL_M_CAPTURE, &q.base, &ctl__capture_reply__descriptor, &m,
			     timeout))) {
		return ec;
	}
	bool done;
	json_or(x, m, &done);
	if (!done) {
		Ctl__CaptureReply *r = (Ctl__CaptureReply *)m;
		printf("captured %" PRIu64 " packets (%" PRIu64 " bytes, %" PRIu64
		       " dropped) in %" PRIu64 " ms to %s\n",
		       r->packets, r->bytes, r->dropped, r->elapsed_ms, r->path);
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return EXIT_OK;
}

static int cmd_upgrade(struct ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {HELP_OPT,
					   {"binary", required_argument, NULL, 'b'},
					   {"timeout", required_argument, NULL, 't'},
					   {0}};
	Ctl__UpgradeRequest q = CTL__UPGRADE_REQUEST__INIT;
	double t;
	optind = 0;
	int o;
	while ((o = getopt_long(argc, argv, "hb:t:", lo, NULL)) != -1) {
		if (o == 'b') {
			q.binary = optarg;
		} else if (o == 't' && parse_double(optarg, &t) && t > 0 && t < 3600) {
			q.has_timeout_ms = true;
			q.timeout_ms = (uint32_t)(t * 1000);
		} else {
			return usage_of("upgrade", NULL, o == 'h' ? stdout : stderr,
					o == 'h' ? EXIT_OK : EXIT_USAGE);
		}
	}
	if (optind != argc || q.binary == NULL)
		return usage_of("upgrade", NULL, stderr, EXIT_USAGE);
	char abs[PATH_MAX];
	if (realpath(q.binary, abs) == NULL || access(abs, X_OK) < 0) {
		fprintf(stderr, "snapctl: upgrade: %s is not an executable file\n", q.binary);
		return EXIT_USAGE;
	}
	q.binary = abs;
	ProtobufCMessage *m;
	unsigned timeout = (q.has_timeout_ms ? q.timeout_ms : 30000) + x->timeout_ms;
	int ec = rpc(x, CTL_M_UPGRADE, &q.base, &ctl__upgrade_reply__descriptor, &m, timeout);
	if (ec)
		return ec;
	bool done;
	json_or(x, m, &done);
	if (!done) {
		Ctl__UpgradeReply *r = (Ctl__UpgradeReply *)m;
		printf("upgraded to %s", abs);
		if (r->has_new_pid)
			printf(": new pid %d", r->new_pid);
		if (r->has_blackout_us)
			printf(", blackout %" PRIu64 " us", r->blackout_us);
		if (r->has_engines_moved)
			printf(", %u engines moved", r->engines_moved);
		printf("\n");
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return EXIT_OK;
}

/* ---- main -------------------------------------------------------------------------------- */

static int cmd_help(struct ctx *x, int argc, char **argv);

static const struct cmd cmds[] = {
	{"status", NULL, cmd_status, "status", "daemon version, build id, uptime, pid and counts"},
	{"engines", NULL, cmd_engines, "engines [NAME]",
	 "engines with group, thread, state, NUMA node, poll counters and elements"},
	{"groups", NULL, cmd_groups, "groups", "scheduling groups, their mode, CPUs and engines"},
	{"ports", NULL, cmd_ports, "ports [NAME]",
	 "ports with kind, DPDK id, MAC, IP, NUMA, queues, link and ethdev counters"},
	{"flows", NULL, cmd_flows, "flows [--engine ENGINE]", "Pony Express flows and counters"},
	{"apps", NULL, cmd_apps, "apps", "attached applications"},
	{"stats", NULL, cmd_stats, "stats [ENGINE] [--watch [SECS]] [--count N] [--nonzero]",
	 "every counter of every engine and element; --watch refreshes every SECS (1) with "
	 "rates, --count bounds the refreshes, --nonzero hides zeros"},
	{"engine", "create", cmd_engine_create,
	 "engine create NAME [--group GROUP] [--config TEXT | --config-file FILE]",
	 "build a new engine from an engine block in snapnetd's config syntax"},
	{"engine", "destroy", cmd_engine_destroy, "engine destroy NAME",
	 "stop and destroy an engine"},
	{"engine", "move", cmd_engine_move, "engine move NAME --group GROUP [--thread N]",
	 "move an engine to another group (and thread)"},
	{"group", "create", cmd_group_create,
	 "group create NAME --mode dedicated|spreading|compacting [--cpus LIST] [--threads N]",
	 "create a scheduling group"},
	{"group", "set-mode", cmd_group_set_mode,
	 "group set-mode NAME dedicated|spreading|compacting", "change a group's scheduling mode"},
	{"log-level", NULL, cmd_log_level, "log-level [LEVEL] [--type snap|dpdk|all]",
	 "show, or set to LEVEL (error|warning|notice|info|debug or 1..8), the log level"},
	{"capture", NULL, cmd_capture,
	 "capture PORT --out FILE (--count N | --duration SECS) [--snaplen N] "
	 "[--direction rx|tx|both]",
	 "the daemon writes PORT's traffic to a pcapng FILE until N packets or SECS elapsed"},
	{"upgrade", NULL, cmd_upgrade, "upgrade --binary PATH [--timeout SECS]",
	 "transparent upgrade: hand the running engines over to a new snapnetd binary"},
	{"help", NULL, cmd_help, "help [COMMAND]", "this help, or one command's"},
	{0},
};

static void usage_all(FILE *f)
{
	fprintf(f,
		"usage: snapctl [--socket PATH] [--json] [--timeout SECS] COMMAND [ARGS]\n"
		"\nglobal options:\n"
		"  -s, --socket PATH   control socket (default $%s or %s)\n"
		"  -j, --json          machine-readable output (one JSON object per reply)\n"
		"  -t, --timeout SECS  how long to wait for the daemon (default 5)\n"
		"  -h, --help          this help; `snapctl COMMAND --help` for a command's\n"
		"\ncommands:\n",
		CTL_SOCKET_ENV, CTL_SOCKET_DEFAULT);
	for (const struct cmd *c = cmds; c->name; c++)
		fprintf(f, "  %s\n      %s\n", c->usage, c->help);
	fprintf(f, "\nexit codes: 0 ok, 1 error reply from the daemon, 2 usage, 3 daemon not "
		   "running or unreachable, 4 permission denied\n");
}

static int cmd_help(struct ctx *x, int argc, char **argv)
{
	if (argc > 1) {
		for (const struct cmd *c = cmds; c->name; c++)
			if (strcmp(c->name, argv[1]) == 0)
				return usage_of(argv[1], argc > 2 ? argv[2] : NULL, stdout, EXIT_OK);
		fprintf(stderr, "snapctl: unknown command '%s'\n", argv[1]);
		return EXIT_USAGE;
	}
	usage_all(stdout);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {{"socket", required_argument, NULL, 's'},
					   {"json", no_argument, NULL, 'j'},
					   {"timeout", required_argument, NULL, 't'},
					   {"help", no_argument, NULL, 'h'},
					   {0}};
	struct ctx x = {.timeout_ms = 5000};
	x.socket = getenv(CTL_SOCKET_ENV);
	if (x.socket == NULL || !x.socket[0])
		x.socket = CTL_SOCKET_DEFAULT;
	int o;
	double t;
	while ((o = getopt_long(argc, argv, "+s:jt:h", lo, NULL)) != -1) {
		switch (o) {
		case 's':
			x.socket = optarg;
			break;
		case 'j':
			x.json = true;
			break;
		case 't':
			if (!parse_double(optarg, &t) || t <= 0 || t > 86400) {
				fprintf(stderr, "snapctl: bad --timeout '%s'\n", optarg);
				return EXIT_USAGE;
			}
			x.timeout_ms = (unsigned)(t * 1000);
			break;
		case 'h':
			usage_all(stdout);
			return EXIT_OK;
		default:
			usage_all(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage_all(stderr);
		return EXIT_USAGE;
	}
	char **cargv = argv + optind;
	int cargc = argc - optind;
	const struct cmd *found = NULL;
	bool name_known = false;
	for (const struct cmd *c = cmds; c->name; c++) {
		if (strcmp(c->name, cargv[0]) != 0)
			continue;
		name_known = true;
		if (c->sub == NULL || (cargc > 1 && strcmp(c->sub, cargv[1]) == 0)) {
			found = c;
			break;
		}
	}
	if (found == NULL) {
		if (name_known) {
			bool help = cargc > 1 && (!strcmp(cargv[1], "--help") ||
						  !strcmp(cargv[1], "-h"));
			if (!help)
				fprintf(stderr, "snapctl: %s needs a sub-command\n", cargv[0]);
			return usage_of(cargv[0], NULL, help ? stdout : stderr,
					help ? EXIT_OK : EXIT_USAGE);
		}
		fprintf(stderr, "snapctl: unknown command '%s' (try snapctl --help)\n", cargv[0]);
		return EXIT_USAGE;
	}
	/* The command sees its own argv: argv[0] is the (sub-)command word. */
	if (found->sub) {
		cargv++;
		cargc--;
	}
	int ec = found->fn(&x, cargc, cargv);
	snapctl_close(x.conn);
	return ec;
}
