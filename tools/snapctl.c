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

#include "build_id_vcs.h"
#include "core/paths.h"
#include "tools/snapctl.h"

struct cmd {
	const char *name;
	const char *sub; /* NULL: no sub-command */
	int (*fn)(struct snapctl_ctx *x, int argc, char **argv);
	const char *usage;
	const char *help;
};

static const struct cmd cmds[];

/* ---- RPC plumbing ------------------------------------------------------------------------ */

int snapctl_connect_daemon(struct snapctl_ctx *x)
{
	if (x->conn)
		return EXIT_OK;
	x->conn = snapctl_connect(x->socket);
	if (x->conn)
		return EXIT_OK;
	int err = errno;
	if (snapctl_connect_error()[0]) {
		fprintf(stderr, "snapctl: %s\n", snapctl_connect_error());
		return EXIT_PERM;
	}
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

int snapctl_rpc(struct snapctl_ctx *x, const char *method, const ProtobufCMessage *req,
	       const ProtobufCMessageDescriptor *rdesc, ProtobufCMessage **out, unsigned timeout_ms)
{
	return snapctl_rpc_progress(x, method, req, rdesc, out, timeout_ms, NULL, NULL);
}

int snapctl_rpc_progress(struct snapctl_ctx *x, const char *method, const ProtobufCMessage *req,
			 const ProtobufCMessageDescriptor *rdesc, ProtobufCMessage **out,
			 unsigned timeout_ms, snapctl_progress_fn on_progress, void *arg)
{
	*out = NULL;
	int ec = snapctl_connect_daemon(x);
	if (ec)
		return ec;
	Ctl__Response *rsp = NULL;
	unsigned t = timeout_ms == 0 ? x->timeout_ms : timeout_ms == SNAPCTL_WAIT_FOREVER ? 0
										     : timeout_ms;
	int r = snapctl_call_progress(x->conn, method, req, t, on_progress, arg, &rsp);
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

int snapctl_usage_of(const char *name, const char *sub, FILE *f, int code)
{
	for (const struct cmd *c = cmds; c->name; c++) {
		if (strcmp(c->name, name) != 0 || (sub && c->sub && strcmp(c->sub, sub) != 0))
			continue;
		fprintf(f, "usage: snapctl [global options] %s\n  %s\n", c->usage, c->help);
	}
	return code;
}

bool snapctl_parse_u64(const char *s, uint64_t *v)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);
	if (!*s || *end || errno || s[0] == '-')
		return false;
	*v = x;
	return true;
}

bool snapctl_parse_double(const char *s, double *v)
{
	char *end;
	errno = 0;
	*v = strtod(s, &end);
	return *s && !*end && !errno && *v >= 0;
}

void snapctl_json_or(struct snapctl_ctx *x, const ProtobufCMessage *m, bool *done)
{
	*done = x->json;
	if (x->json)
		snapctl_json_print(stdout, m);
}

int snapctl_print_table(struct snapctl_table *t)
{
	if (t == NULL || snapctl_table_print(t, stdout) < 0) {
		snapctl_table_free(t);
		fprintf(stderr, "snapctl: out of memory\n");
		return EXIT_REPLY;
	}
	snapctl_table_free(t);
	return EXIT_OK;
}

uint64_t snapctl_counter(Ctl__Counter **cs, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(cs[i]->name, name) == 0)
			return cs[i]->value;
	return 0;
}

/* Commands with no options but --help and at most `maxpos` positionals: -1 and *pos (first
 * positional) to go on, or the exit code to return now. */
int snapctl_simple_args(int argc, char **argv, int maxpos, const char *name, const char *sub,
		       int *pos)
{
	static const struct option lo[] = {HELP_OPT, {0}};
	optind = 0;
	int o;
	while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1)
		return snapctl_usage_of(name, sub, o == 'h' ? stdout : stderr,
				o == 'h' ? EXIT_OK : EXIT_USAGE);
	if (argc - optind > maxpos) {
		fprintf(stderr, "snapctl: %s: too many arguments\n", name);
		return snapctl_usage_of(name, sub, stderr, EXIT_USAGE);
	}
	*pos = optind;
	return -1;
}

/* ---- main -------------------------------------------------------------------------------- */

static int cmd_help(struct snapctl_ctx *x, int argc, char **argv);

static const struct cmd cmds[] = {
	{"status", NULL, snapctl_cmd_status, "status", "daemon version, build id, uptime, pid and counts"},
	{"engines", NULL, snapctl_cmd_engines, "engines [NAME]",
	 "engines with group, thread, state, NUMA node, poll counters and elements"},
	{"groups", NULL, snapctl_cmd_groups, "groups", "scheduling groups, their mode, CPUs and engines"},
	{"ports", NULL, snapctl_cmd_ports, "ports [NAME]",
	 "ports with kind, DPDK id, MAC, IP, NUMA, queues, link, ethdev counters and, for memif "
	 "clients, reconnects/attempts"},
	{"flows", NULL, snapctl_cmd_flows, "flows [--engine ENGINE]", "Pony Express flows and counters"},
	{"apps", NULL, snapctl_cmd_apps, "apps", "attached applications"},
	{"stats", NULL, snapctl_cmd_stats, "stats [ENGINE] [--watch [SECS]] [--count N] [--nonzero]",
	 "every counter of every engine and element; --watch refreshes every SECS (1) with "
	 "rates, --count bounds the refreshes, --nonzero hides zeros"},
	{"metrics", NULL, snapctl_cmd_metrics, "metrics",
	 "the counters of stats, ports, flows and apps in the OpenMetrics text format"},
	{"engine", "create", snapctl_cmd_engine_create,
	 "engine create NAME [--group GROUP] [--config TEXT | --config-file FILE]",
	 "build a new engine from an engine block in snapnetd's config syntax"},
	{"engine", "destroy", snapctl_cmd_engine_destroy, "engine destroy NAME",
	 "stop and destroy an engine"},
	{"engine", "move", snapctl_cmd_engine_move, "engine move NAME --group GROUP",
	 "move an engine to another group (and thread)"},
	{"group", "create", snapctl_cmd_group_create,
	 "group create NAME --mode dedicated|spreading|compacting [--cpus LIST] [--threads N]",
	 "create a scheduling group"},
	{"group", "set-mode", snapctl_cmd_group_set_mode,
	 "group set-mode NAME dedicated|spreading|compacting", "change a group's scheduling mode"},
	{"log-level", NULL, snapctl_cmd_log_level, "log-level [LEVEL] [--type snap|dpdk|all]",
	 "show, or set to LEVEL (error|warning|notice|info|debug or 1..8), the log level"},
	{"capture", NULL, snapctl_cmd_capture,
	 "capture PORT --out FILE (--count N | --duration SECS) [--snaplen N] "
	 "[--direction rx|tx|both]",
	 "the daemon writes PORT's traffic to a pcapng FILE until N packets or SECS elapsed"},
	{"upgrade", NULL, snapctl_cmd_upgrade,
	 "upgrade --binary PATH [--timeout SECS] [--no-progress]",
	 "transparent upgrade: hand the running engines over to a new snapnetd binary, printing "
	 "each step as it happens (elapsed ms; with --json one object per line, the reply "
	 "last); --no-progress prints only the result"},
	{"help", NULL, cmd_help, "help [COMMAND]", "this help, or one command's"},
	{0},
};

static void usage_all(FILE *f)
{
	fprintf(f,
		"usage: snapctl [--socket PATH] [--json] [--timeout SECS] COMMAND [ARGS]\n"
		"\nglobal options:\n"
		"  -s, --socket PATH   control socket (default $%s; else, not as root,\n"
		"                      $XDG_RUNTIME_DIR/" SNAP_RUN_DIR_USER "/" SNAP_CONTROL_SOCKET_NAME
		" if it exists;\n"
		"                      else %s); the server must be root\n"
		"                      or the owner of the socket's directory\n"
		"  -j, --json          machine-readable output (one JSON object per reply)\n"
		"  -t, --timeout SECS  how long to wait for the daemon (default 5)\n"
		"  -h, --help          this help; `snapctl COMMAND --help` for a command's\n"
		"  -V, --version       print snapctl's version and build id\n"
		"\ncommands:\n",
		CTL_SOCKET_ENV, CTL_SOCKET_DEFAULT);
	for (const struct cmd *c = cmds; c->name; c++)
		fprintf(f, "  %s\n      %s\n", c->usage, c->help);
	fprintf(f, "\nexit codes: 0 ok, 1 error reply from the daemon, 2 usage, 3 daemon not "
		   "running or unreachable, 4 permission denied\n");
}

static int cmd_help(struct snapctl_ctx *x, int argc, char **argv)
{
	if (argc > 1) {
		for (const struct cmd *c = cmds; c->name; c++)
			if (strcmp(c->name, argv[1]) == 0)
				return snapctl_usage_of(argv[1], argc > 2 ? argv[2] : NULL, stdout, EXIT_OK);
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
					   {"version", no_argument, NULL, 'V'},
					   {0}};
	struct snapctl_ctx x = {.timeout_ms = 5000};
	char def[256];
	x.socket = getenv(CTL_SOCKET_ENV);
	if (x.socket == NULL || !x.socket[0]) {
		snap_paths_client_default(SNAP_CONTROL_SOCKET_NAME, def, sizeof(def));
		x.socket = def;
	}
	int o;
	double t;
	while ((o = getopt_long(argc, argv, "+s:jt:hV", lo, NULL)) != -1) {
		switch (o) {
		case 's':
			x.socket = optarg;
			break;
		case 'j':
			x.json = true;
			break;
		case 't':
			if (!snapctl_parse_double(optarg, &t) || t <= 0 || t > 86400) {
				fprintf(stderr, "snapctl: bad --timeout '%s'\n", optarg);
				return EXIT_USAGE;
			}
			x.timeout_ms = (unsigned)(t * 1000);
			break;
		case 'h':
			usage_all(stdout);
			return EXIT_OK;
		case 'V':
			/* The daemon's own version: `snapctl status`. */
			printf("snapctl %s (build %s)\n", SNAP_VERSION, SNAP_BUILD_ID);
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
			return snapctl_usage_of(cargv[0], NULL, help ? stdout : stderr,
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

