/* snapnetd: parse config, start EAL and ports unprivileged, build engines, hand them to their
 * groups, then serve the control thread's event loop until SIGTERM/SIGINT. */
#include <errno.h>
#include <inttypes.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_log.h>

#include "snap/mbox.h"
#include "sched/sched.h"
#include "core/build.h"
#include "core/build_id.h"
#include "core/config.h"
#include "core/daemon.h"
#include "core/eal.h"
#include "snap/engine.h"
#include "snap/log.h"
#include "core/loop.h"
#include "core/notify.h"
#include "core/paths.h"
#include "core/portsetup.h"
#include "core/privs.h"
#include "core/takeover.h"
#include "snap_paths.h"

enum {
	EXIT_RUNTIME = 1, /* failed after the config was accepted */
	EXIT_CONFIG = 2,  /* bad command line or config */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: snapnetd [-c FILE] [options]\n"
		"  -c, --config FILE         configuration file (libconfig syntax; see tools/conf/;\n"
		"                            default " SNAP_CONFIG_DEFAULT ")\n"
		"  -n, --name NAME           instance name (overrides daemon.name)\n"
		"      --run-dir DIR         directory for sockets (default " SNAP_RUN_DIR_SYSTEM " as\n"
		"                            root, else $XDG_RUNTIME_DIR/" SNAP_RUN_DIR_USER "); must be\n"
		"                            owned by the daemon's uid, not group/other-writable\n"
		"      --control-socket PATH control RPC socket (snapctl; default RUNDIR/"
		SNAP_CONTROL_SOCKET_NAME ")\n"
		"      --app-socket PATH     application attach socket (libpony; default RUNDIR/"
		SNAP_APP_SOCKET_NAME ")\n"
		"  -m, --memory MB           DPDK memory (overrides daemon.memory_mb)\n"
		"      --hugepages           use hugepages if the kernel has free ones\n"
		"  -l, --log-level LEVEL     error|warning|notice|info|debug\n"
		"      --takeover            take over the running instance (transparent upgrade)\n"
		"      --check               validate the config file and exit\n"
		"      --list-elements       list the element types this binary has\n"
		"      --state-versions      list the saved-state versions it writes and reads\n"
		"                            (transparent upgrade between releases)\n"
		"  -V, --version             print version and build id\n"
		"  -h, --help                this text\n"
		"Exit status: 0 clean shutdown, 1 runtime failure, 2 bad command line or config.\n");
}

static void list_elements(void)
{
	const struct snap_elem_desc *d;
	for (unsigned i = 0; (d = snap_elem_type_at(i)) != NULL; i++) {
		printf("%-14s %s\n", d->name, d->help ? d->help : "");
		if (d->n_outputs) {
			printf("%-14s outputs:", "");
			for (uint16_t o = 0; o < d->n_outputs; o++)
				printf(" %s", d->outputs[o]);
			printf("\n");
		}
	}
}

/* SIGHUP: re-read the config file and apply what can change while running: the log level
 * and the app policy. Everything else (ports, engines, sockets) stays as it is; a bad file
 * changes nothing and says why. */
static void reload(struct snap_config *cfg)
{
	static struct snap_config fresh; /* large: not on the stack */
	char err[512];
	snap_notify_reloading();
	int lvl = -EINVAL;
	int r = snap_config_load(cfg->file, &fresh, err, sizeof(err));
	if (r == 0 && (lvl = snap_log_level_parse(fresh.log_level)) < 0) {
		snprintf(err, sizeof(err), "%s: unknown log level '%s'", cfg->file,
			 fresh.log_level);
		r = -EINVAL;
	}
	if (r == 0)
		r = snap_daemon_modules_reload(snap_daemon(), &fresh, err, sizeof(err));
	if (r == 0) {
		rte_log_set_level(snap_logtype, (uint32_t)lvl);
		snprintf(cfg->log_level, sizeof(cfg->log_level), "%s", fresh.log_level);
		memcpy(cfg->allow_uids, fresh.allow_uids, sizeof(cfg->allow_uids));
		cfg->n_allow_uids = fresh.n_allow_uids;
		memcpy(cfg->allow_gids, fresh.allow_gids, sizeof(cfg->allow_gids));
		cfg->n_allow_gids = fresh.n_allow_gids;
		memcpy(cfg->service_owners, fresh.service_owners, sizeof(cfg->service_owners));
		cfg->n_service_owners = fresh.n_service_owners;
		SNAP_LOG(NOTICE, "reloaded %s: log level %s, app policy %u uids %u gids",
			 cfg->file, snap_log_level_name(lvl), cfg->n_allow_uids, cfg->n_allow_gids);
	} else {
		SNAP_LOG(ERR, "reload refused, nothing changed: %s", err);
	}
	snap_notify_ready("running: %u ports, %u engines%s", cfg->n_ports, snap_engine_count(),
			  r == 0 ? "" : "; last reload failed");
}

static void on_signal(int fd, void *arg)
{
	struct signalfd_siginfo si;
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGHUP) {
		/* Elements re-read their own files (Pony's key file) at their next poll, whatever
		 * becomes of the config file's reload. */
		__atomic_add_fetch(&snap_reload_gen, 1, __ATOMIC_RELAXED);
		reload(arg);
		return;
	}
	SNAP_LOG(NOTICE, "signal %u (%s): shutting down", si.ssi_signo,
		 strsignal((int)si.ssi_signo));
	snap_notify_stopping();
	snap_loop_stop();
}

static bool takeover; /* --takeover: this process is the new daemon of an upgrade */

static int parse_args(int argc, char **argv, struct snap_config *cfg, int *rc)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"name", required_argument, NULL, 'n'},
		{"run-dir", required_argument, NULL, 'R'},
		{"control-socket", required_argument, NULL, 'C'},
		{"app-socket", required_argument, NULL, 'A'},
		{"memory", required_argument, NULL, 'm'},
		{"hugepages", no_argument, NULL, 'H'},
		{"log-level", required_argument, NULL, 'l'},
		{"check", no_argument, NULL, 'k'},
		{"takeover", no_argument, NULL, 'T'},
		{"list-elements", no_argument, NULL, 'E'},
		{"state-versions", no_argument, NULL, 'S'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *file = NULL, *name = NULL, *run_dir = NULL, *ctl = NULL, *app = NULL,
		   *level = NULL;
	long mem = 0;
	bool huge = false, check = false;
	char err[512];
	int c;
	while ((c = getopt_long(argc, argv, "c:n:m:l:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': file = optarg; break;
		case 'n': name = optarg; break;
		case 'R': run_dir = optarg; break;
		case 'C': ctl = optarg; break;
		case 'A': app = optarg; break;
		case 'H': huge = true; break;
		case 'l': level = optarg; break;
		case 'k': check = true; break;
		case 'T': takeover = true; break;
		case 'm': {
			char *end;
			mem = strtol(optarg, &end, 10);
			if (*end || mem < 64 || mem > (1 << 20)) {
				fprintf(stderr, "snapnetd: --memory: expected MB in [64, 1048576]\n");
				*rc = EXIT_CONFIG;
				return -1;
			}
			break;
		}
		case 'E': list_elements(); *rc = 0; return -1;
		case 'S': snap_takeover_print_versions(stdout); *rc = 0; return -1;
		case 'V':
			printf("snapnetd %s (build %s)\n", SNAP_VERSION, snap_build_id);
			*rc = 0;
			return -1;
		case 'h': usage(stdout); *rc = 0; return -1;
		default: usage(stderr); *rc = EXIT_CONFIG; return -1;
		}
	}
	if (file == NULL)
		file = SNAP_CONFIG_DEFAULT; /* as a system service: no arguments */
	if (optind < argc) {
		fprintf(stderr, "snapnetd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		*rc = EXIT_CONFIG;
		return -1;
	}
	if (snap_config_load(file, cfg, err, sizeof(err))) {
		fprintf(stderr, "snapnetd: %s\n", err);
		*rc = EXIT_CONFIG;
		return -1;
	}
#define OVERRIDE(dst, src)                                                                 \
	do {                                                                               \
		if (src) {                                                                 \
			if (strlen(src) >= sizeof(dst)) {                                  \
				fprintf(stderr, "snapnetd: %s: too long\n", src);          \
				*rc = EXIT_CONFIG;                                         \
				return -1;                                                 \
			}                                                                  \
			strcpy(dst, src);                                                  \
		}                                                                          \
	} while (0)
	OVERRIDE(cfg->name, name);
	OVERRIDE(cfg->run_dir, run_dir);
	OVERRIDE(cfg->control_socket, ctl);
	OVERRIDE(cfg->app_socket, app);
	OVERRIDE(cfg->log_level, level);
#undef OVERRIDE
	if (mem)
		cfg->memory_mb = (unsigned)mem;
	if (huge)
		cfg->hugepages = true;
	if (snap_log_level_parse(cfg->log_level) < 0) {
		fprintf(stderr, "snapnetd: %s: unknown log level '%s'\n", file, cfg->log_level);
		*rc = EXIT_CONFIG;
		return -1;
	}
	if (snap_config_finish(cfg, err, sizeof(err))) {
		/* --check judges the file; the missing run dir is this user's environment. */
		fprintf(stderr, "snapnetd: %s%s: %s\n", check ? "note: " : "", file, err);
		if (!check) {
			*rc = EXIT_CONFIG;
			return -1;
		}
	}
	if (check) {
		printf("%s: ok: %u ports, %u groups, %u engines\n", file, cfg->n_ports,
		       cfg->n_groups, cfg->n_engines);
		*rc = 0;
		return -1;
	}
	return 0;
}

static void print_counter(void *ctx, const char *elem, const char *name, uint64_t v)
{
	const struct snap_engine *e = ctx;
	printf("counter %s %s %s %" PRIu64 "\n", snap_engine_name(e), elem[0] ? elem : "-", name, v);
}

/* Final counters on stdout at shutdown, one "counter ENGINE ELEMENT NAME VALUE" line each,
 * so a run leaves a record even when nobody asked snapctl. Engines are parked here. */
static void dump_counters(void)
{
	for (unsigned i = 0; i < snap_engine_count(); i++) {
		struct snap_engine *e = snap_engine_at(i);
		snap_engine_report(e, print_counter, e);
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct snap_daemon *d = snap_daemon();
	static struct snap_config cfg_store; /* large: not on the stack */
	struct snap_config *cfg = &cfg_store;
	char err[512];
	int rc = 0, sfd = -1;

	if (parse_args(argc, argv, cfg, &rc))
		return rc;
	snap_takeover_set_argv(argc, argv);
	d->cfg = cfg;
	d->start_ns = snap_loop_now_ns();
	rte_log_set_level(snap_logtype, (uint32_t)snap_log_level_parse(cfg->log_level));

	int r = snap_paths_run_dir_prepare(cfg->run_dir, err, sizeof(err));
	if (r) {
		fprintf(stderr, "snapnetd: %s\n", err);
		return EXIT_RUNTIME;
	}
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	/* Blocked before any thread starts, so every engine thread inherits the mask and only
	 * the control thread's signalfd sees these signals. */
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (snap_loop_init() || (sfd = signalfd(-1, &mask, SFD_CLOEXEC)) < 0 ||
	    snap_loop_add_fd(sfd, on_signal, cfg) || snap_notify_init(takeover)) {
		fprintf(stderr, "snapnetd: event loop set-up failed: %s\n", strerror(errno));
		return EXIT_RUNTIME;
	}

	/* A takeover's old daemon still owns its sockets: none of them is stale. */
	if (!takeover)
		snap_ports_clear_stale_sockets(cfg);
	snap_ports_defer_start = takeover;
	r = snap_eal_start(cfg, err, sizeof(err));
	if (r) {
		fprintf(stderr, "snapnetd: %s\n", err);
		rc = EXIT_RUNTIME;
		goto out_loop;
	}
	snap_log_journal_setup();
	snap_mbox_set_default_gap_us(cfg->mbox_gap_us);
	r = snap_ports_create(cfg, err, sizeof(err));
	if (r) {
		fprintf(stderr, "snapnetd: %s\n", err);
		rc = EXIT_RUNTIME;
		goto out_ports;
	}
	/* A takeover builds the engines the old daemon runs now (engines and groups made or
	 * changed with snapctl included), not those of the config file. */
	r = takeover ? 0 : snap_engines_build(cfg, err, sizeof(err));
	if (r) {
		/* Element arguments are config: a bad one is the operator's to fix. */
		fprintf(stderr, "snapnetd: %s\n", err);
		rc = EXIT_CONFIG;
		goto out_engines;
	}
	if (takeover) {
		/* Brownout (EAL and ports are up): build the old daemon's topology, receive its
		 * fds and engine states; on return it has released ports and sockets. */
		r = snap_takeover_client(cfg, err, sizeof(err));
		if (r) {
			fprintf(stderr, "snapnetd: %s\n", err);
			rc = EXIT_RUNTIME;
			goto out_engines;
		}
	}
	r = snap_daemon_modules_start(d, err, sizeof(err));
	if (r) {
		fprintf(stderr, "snapnetd: %s\n", err);
		rc = r == -EINVAL ? EXIT_CONFIG : EXIT_RUNTIME;
		goto out_modules;
	}
	snap_eal_telemetry_link(cfg->run_dir);
	/* Before the old daemon of an upgrade hears we run (and exits): the service manager
	 * must know the new main pid first. */
	snap_notify_ready("running: %u ports, %u engines", cfg->n_ports, snap_engine_count());
	if (takeover && (r = snap_takeover_client_finish()) != 0)
		SNAP_LOG(WARNING, "takeover: could not tell the old daemon we run: %s",
			 strerror(-r));
	if (snap_privs_drop(cfg) < 0 && cfg->user[0]) {
		fprintf(stderr, "snapnetd: cannot run as user %s (see the log); stopping\n",
			 cfg->user);
		snap_notify_stopping();
		rc = EXIT_RUNTIME;
		goto out_modules;
	}
	SNAP_LOG(NOTICE, "snapnetd %s (build %s) instance %s ready: %u ports, %u engines; "
		 "control %s, apps %s", SNAP_VERSION, snap_build_id, cfg->name, cfg->n_ports,
		 snap_engine_count(), cfg->control_socket, cfg->app_socket);
	/* For scripts that wait for readiness. */
	printf("READY %s\n", cfg->name);
	fflush(stdout);

	snap_loop_run();
	if (snap_takeover_committed()) {
		/* Handed over: sockets, app sessions and ports belong to the new daemon now, so
		 * nothing is torn down (no app detach, no unlink); only our DPDK files go. */
		SNAP_LOG(NOTICE, "snapnetd %s: handed over, exiting", cfg->name);
		sched_fini();
		snap_eal_stop();
		fflush(stdout);
		_exit(0);
	}

out_modules:
	snap_daemon_modules_stop(d);
	dump_counters();
out_engines:
	while (snap_engine_count())
		snap_engine_destroy(snap_engine_at(0));
out_ports:
	snap_ports_destroy();
	snap_eal_stop();
out_loop:
	snap_loop_fini();
	if (sfd >= 0)
		close(sfd);
	rmdir(cfg->run_dir); /* only if empty: an operator's files stay */
	SNAP_LOG(NOTICE, "snapnetd %s stopped", cfg->name);
	return rc;
}
