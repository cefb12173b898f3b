/* snapctl's mutating commands: engine and group lifecycle, log-level, capture, upgrade. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools/snapctl.h"

/* ---- mutating commands ------------------------------------------------------------------- */

static int print_ok(struct snapctl_ctx *x, ProtobufCMessage *m, const char *what)
{
	bool done;
	snapctl_json_or(x, m, &done);
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

int snapctl_cmd_engine_create(struct snapctl_ctx *x, int argc, char **argv)
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
			return snapctl_usage_of("engine", "create", o == 'h' ? stdout : stderr,
					o == 'h' ? EXIT_OK : EXIT_USAGE);
	}
	if (argc - optind != 1) {
		free(file);
		return snapctl_usage_of("engine", "create", stderr, EXIT_USAGE);
	}
	q.name = argv[optind];
	ProtobufCMessage *m;
	int ec = snapctl_rpc(x, CTL_M_ENGINE_CREATE, &q.base, &ctl__engine_create_reply__descriptor, &m, 0);
	free(file);
	if (ec)
		return ec;
	char msg[128];
	snprintf(msg, sizeof(msg), "engine %s created", q.name);
	return print_ok(x, m, msg);
}

int snapctl_cmd_engine_destroy(struct snapctl_ctx *x, int argc, char **argv)
{
	int a, ec = snapctl_simple_args(argc, argv, 1, "engine", "destroy", &a);
	if (ec >= 0)
		return ec;
	if (a >= argc)
		return snapctl_usage_of("engine", "destroy", stderr, EXIT_USAGE);
	Ctl__EngineDestroyRequest q = CTL__ENGINE_DESTROY_REQUEST__INIT;
	q.name = argv[a];
	ProtobufCMessage *m;
	if ((ec = snapctl_rpc(x, CTL_M_ENGINE_DESTROY, &q.base, &ctl__engine_op_reply__descriptor, &m, 0)))
		return ec;
	char msg[128];
	snprintf(msg, sizeof(msg), "engine %s destroyed", q.name);
	return print_ok(x, m, msg);
}

int snapctl_cmd_engine_move(struct snapctl_ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {HELP_OPT,
					   {"group", required_argument, NULL, 'g'},
					   {0}};
	Ctl__EngineMoveRequest q = CTL__ENGINE_MOVE_REQUEST__INIT;
	optind = 0;
	int o;
	/* No --thread: a group places its engines on its own threads (the compacting controller
	 * rebalances them), so a pinned thread would not hold. */
	while ((o = getopt_long(argc, argv, "hg:", lo, NULL)) != -1) {
		if (o == 'g')
			q.group = optarg;
		else
			return snapctl_usage_of("engine", "move", o == 'h' ? stdout : stderr,
					o == 'h' ? EXIT_OK : EXIT_USAGE);
	}
	if (argc - optind != 1 || q.group == NULL)
		return snapctl_usage_of("engine", "move", stderr, EXIT_USAGE);
	q.name = argv[optind];
	ProtobufCMessage *m;
	int ec = snapctl_rpc(x, CTL_M_ENGINE_MOVE, &q.base, &ctl__engine_op_reply__descriptor, &m, 0);
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

int snapctl_cmd_group_create(struct snapctl_ctx *x, int argc, char **argv)
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
				if (!snapctl_parse_u64(tok, &lo_c) || (dash && !snapctl_parse_u64(dash + 1, &hi_c)))
					return snapctl_usage_of("group", "create", stderr, EXIT_USAGE);
				if (!dash)
					hi_c = lo_c;
				for (uint64_t c = lo_c; c <= hi_c && c < 4096; c++) {
					if (q.n_cpus == 256)
						return snapctl_usage_of("group", "create", stderr, EXIT_USAGE);
					cpus[q.n_cpus++] = (int32_t)c;
				}
			}
			q.cpus = cpus;
		} else if (o == 't' && snapctl_parse_u64(optarg, &v) && v > 0 && v < 4096) {
			q.has_n_threads = true;
			q.n_threads = (uint32_t)v;
		} else {
			if (o == 'm')
				fprintf(stderr, "snapctl: mode must be dedicated, spreading or "
						"compacting\n");
			return snapctl_usage_of("group", "create", o == 'h' ? stdout : stderr,
					o == 'h' ? EXIT_OK : EXIT_USAGE);
		}
	}
	if (argc - optind != 1 || q.mode == NULL)
		return snapctl_usage_of("group", "create", stderr, EXIT_USAGE);
	q.name = argv[optind];
	ProtobufCMessage *m;
	int ec = snapctl_rpc(x, CTL_M_GROUP_CREATE, &q.base, &ctl__group_op_reply__descriptor, &m, 0);
	if (ec)
		return ec;
	char msg[160];
	snprintf(msg, sizeof(msg), "group %s created (%s)", q.name, q.mode);
	return print_ok(x, m, msg);
}

int snapctl_cmd_group_set_mode(struct snapctl_ctx *x, int argc, char **argv)
{
	int a, ec = snapctl_simple_args(argc, argv, 2, "group", "set-mode", &a);
	if (ec >= 0)
		return ec;
	if (argc - a != 2 || !valid_mode(argv[a + 1]))
		return snapctl_usage_of("group", "set-mode", stderr, EXIT_USAGE);
	Ctl__GroupSetModeRequest q = CTL__GROUP_SET_MODE_REQUEST__INIT;
	q.name = argv[a];
	q.mode = argv[a + 1];
	ProtobufCMessage *m;
	if ((ec = snapctl_rpc(x, CTL_M_GROUP_SET_MODE, &q.base, &ctl__group_op_reply__descriptor, &m, 0)))
		return ec;
	char msg[160];
	snprintf(msg, sizeof(msg), "group %s is now %s", q.name, q.mode);
	return print_ok(x, m, msg);
}

int snapctl_cmd_log_level(struct snapctl_ctx *x, int argc, char **argv)
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
			return snapctl_usage_of("log-level", NULL, o == 'h' ? stdout : stderr,
					o == 'h' ? EXIT_OK : EXIT_USAGE);
	}
	if (argc - optind > 1)
		return snapctl_usage_of("log-level", NULL, stderr, EXIT_USAGE);
	if (optind < argc)
		q.level = argv[optind];
	ProtobufCMessage *m;
	int ec = snapctl_rpc(x, q.level ? CTL_M_LOG_LEVEL_SET : CTL_M_LOG_LEVEL, &q.base,
		     &ctl__log_level_reply__descriptor, &m, 0);
	if (ec)
		return ec;
	bool done;
	snapctl_json_or(x, m, &done);
	if (!done) {
		Ctl__LogLevelReply *r = (Ctl__LogLevelReply *)m;
		printf("snap  %s\ndpdk  %s\n", r->snap_level, r->dpdk_level);
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return EXIT_OK;
}

int snapctl_cmd_capture(struct snapctl_ctx *x, int argc, char **argv)
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
		} else if (o == 'c' && snapctl_parse_u64(optarg, &v) && v > 0) {
			q.has_count = true;
			q.count = v;
		} else if (o == 'd' && snapctl_parse_double(optarg, &dur) && dur > 0 && dur < 86400) {
			q.has_duration_ms = true;
			q.duration_ms = (uint32_t)(dur * 1000 + 0.5);
		} else if (o == 's' && snapctl_parse_u64(optarg, &v) && v >= 64 && v <= 65535) {
			q.has_snaplen = true;
			q.snaplen = (uint32_t)v;
		} else if (o == 'D' && (!strcmp(optarg, "rx") || !strcmp(optarg, "tx") ||
					!strcmp(optarg, "both"))) {
			q.direction = optarg;
		} else {
			return snapctl_usage_of("capture", NULL, o == 'h' ? stdout : stderr,
					o == 'h' ? EXIT_OK : EXIT_USAGE);
		}
	}
	if (argc - optind != 1 || out == NULL || (!q.has_count && !q.has_duration_ms))
		return snapctl_usage_of("capture", NULL, stderr, EXIT_USAGE);
	q.port = argv[optind];
	/* A plain name goes as is (into the daemon's capture_dir); a relative path is made
	 * absolute, since the daemon has another working directory. */
	char abs[PATH_MAX + 1];
	if (out[0] != '/' && strchr(out, '/')) {
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
	int ec = snapctl_rpc(x, CTL_M_CAPTURE, &q.base, &ctl__capture_reply__descriptor, &m,
			     timeout ? timeout : SNAPCTL_WAIT_FOREVER);
	if (ec)
		return ec;
	bool done;
	snapctl_json_or(x, m, &done);
	if (!done) {
		Ctl__CaptureReply *r = (Ctl__CaptureReply *)m;
		printf("captured %" PRIu64 " packets (%" PRIu64 " bytes, %" PRIu64
		       " dropped) in %" PRIu64 " ms to %s\n",
		       r->packets, r->bytes, r->dropped, r->elapsed_ms, r->path);
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return EXIT_OK;
}

/* What `upgrade` learned from its progress frames: engine names for the final summary. */
struct upgrade_seen {
	bool json;
	char names[64][48]; /* by hand-over index; "" if not reported */
};

/* One progress frame, printed as it arrives (flushed: snapctl's stdout is often a pipe). */
static void upgrade_progress(const Ctl__Response *rsp, void *arg)
{
	struct upgrade_seen *u = arg;
	Ctl__UpgradeProgress *p = (Ctl__UpgradeProgress *)snapctl_reply_unpack(
		rsp, &ctl__upgrade_progress__descriptor);
	if (p == NULL) {
		fprintf(stderr, "snapctl: upgrade: malformed progress frame ignored\n");
		return;
	}
	if (p->engine && p->has_engine_index && p->engine_index >= 1 && p->engine_index <= 64)
		snprintf(u->names[p->engine_index - 1], sizeof(u->names[0]), "%s", p->engine);
	if (u->json)
		snapctl_json_print(stdout, &p->base);
	else
		printf("%9.1f ms  %s\n", p->elapsed_us / 1000.0, p->text);
	fflush(stdout);
	protobuf_c_message_free_unpacked(&p->base, NULL);
}

static void upgrade_summary(const Ctl__UpgradeReply *r, const struct upgrade_seen *u,
			    const char *binary)
{
	if (r->n_engine_blackout_us)
		printf("blackout per engine:");
	for (size_t i = 0; i < r->n_engine_blackout_us; i++) {
		const char *name = i < 64 ? u->names[i] : "";
		printf("%s ", i ? "," : "");
		if (name[0])
			printf("%s", name);
		else
			printf("#%zu", i + 1);
		printf(" %" PRIu64 " us", r->engine_blackout_us[i]);
	}
	if (r->n_engine_blackout_us)
		printf("\n");
	if (r->has_brownout_us)
		printf("brownout %" PRIu64 " us, %u fds passed\n", r->brownout_us,
		       r->has_fds_passed ? r->fds_passed : 0);
	printf("upgraded to %s", binary);
	if (r->new_build && r->new_build[0])
		printf(" (build %s)", r->new_build);
	if (r->has_new_pid)
		printf(": new pid %d", r->new_pid);
	if (r->has_blackout_us)
		printf(", blackout %" PRIu64 " us", r->blackout_us);
	if (r->has_engines_moved)
		printf(", %u engine%s moved", r->engines_moved, r->engines_moved == 1 ? "" : "s");
	printf("\n");
}

int snapctl_cmd_upgrade(struct snapctl_ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {HELP_OPT,
					   {"binary", required_argument, NULL, 'b'},
					   {"timeout", required_argument, NULL, 't'},
					   {"no-progress", no_argument, NULL, 'P'},
					   {0}};
	Ctl__UpgradeRequest q = CTL__UPGRADE_REQUEST__INIT;
	q.has_progress = q.progress = true;
	double t;
	optind = 0;
	int o;
	while ((o = getopt_long(argc, argv, "hb:t:", lo, NULL)) != -1) {
		if (o == 'b') {
			q.binary = optarg;
		} else if (o == 'P') {
			q.has_progress = q.progress = false;
		} else if (o == 't' && snapctl_parse_double(optarg, &t) && t > 0 && t < 3600) {
			q.has_timeout_ms = true;
			q.timeout_ms = (uint32_t)(t * 1000);
		} else {
			return snapctl_usage_of("upgrade", NULL, o == 'h' ? stdout : stderr,
					o == 'h' ? EXIT_OK : EXIT_USAGE);
		}
	}
	if (optind != argc || q.binary == NULL)
		return snapctl_usage_of("upgrade", NULL, stderr, EXIT_USAGE);
	char abs[PATH_MAX];
	if (realpath(q.binary, abs) == NULL || access(abs, X_OK) < 0) {
		fprintf(stderr, "snapctl: upgrade: %s is not an executable file\n", q.binary);
		return EXIT_USAGE;
	}
	q.binary = abs;
	ProtobufCMessage *m;
	struct upgrade_seen seen = {.json = x->json};
	unsigned timeout = (q.has_timeout_ms ? q.timeout_ms : 30000) + x->timeout_ms;
	int ec = snapctl_rpc_progress(x, CTL_M_UPGRADE, &q.base, &ctl__upgrade_reply__descriptor,
				      &m, timeout, q.progress ? upgrade_progress : NULL, &seen);
	if (ec)
		return ec;
	bool done;
	snapctl_json_or(x, m, &done);
	if (!done)
		upgrade_summary((Ctl__UpgradeReply *)m, &seen, abs);
	protobuf_c_message_free_unpacked(m, NULL);
	return EXIT_OK;
}
