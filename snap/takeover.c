/* Transparent upgrade, the old daemon's side of the takeover socket (see takeover.h): it
 * serves one attempt at a time synchronously on its control thread; every step has a socket
 * timeout, and until the new daemon reports its engines running the old one can roll back
 * (engines it parked are put back in their groups, ports restarted). Shared helpers too. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "pony/app.h"
#include "pony/app_module.h"
#include "sched/sched.h"
#include "snap/build.h"
#include "snap/config.h"
#include "snap/daemon.h"
#include "snap/engine.h"
#include "snap/fdreg.h"
#include "snap/log.h"
#include "snap/loop.h"
#include "snap/port.h"
#include "snap/portsetup.h"
#include "snap/build_id.h"
#include "snap/takeover.h"
#include "snap/takeover_int.h"

uint64_t to_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void to_set_timeouts(int s, unsigned sec)
{
	struct timeval tv = {.tv_sec = sec};
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int to_peer_is_us(int s)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0)
		return -errno;
	return cr.uid == geteuid() ? 0 : -EACCES;
}

int to_recv_fixed(int s, uint32_t want, void *out, uint32_t size)
{
	uint32_t type, len;
	void *p;
	int r = snap_takeover_recv(s, &type, &p, &len, NULL, 0, NULL);
	if (r)
		return r;
	if (type != want || len != size) {
		free(p);
		return -EPROTO;
	}
	memcpy(out, p, size);
	free(p);
	return 0;
}

const char *to_build_id(void)
{
	const char *b = getenv("SNAP_TAKEOVER_BUILD_ID");
	return b && b[0] ? b : snap_build_id;
}

int to_send_status(int s, uint32_t type, int status, const char *msg)
{
	struct to_status st = {.status = status};
	snprintf(st.msg, sizeof(st.msg), "%s", msg ? msg : "");
	return snap_takeover_send(s, type, &st, sizeof(st), NULL, 0);
}

static int lfd = -1;
static char lpath[sizeof(((struct sockaddr_un *)0)->sun_path)];
static bool committed;
static snap_takeover_done_fn done_fn;
static void *done_arg;
static snap_takeover_progress_fn progress_fn;
static void *progress_arg;
static char **saved_argv;
static int saved_argc;

void snap_takeover_on_done(snap_takeover_done_fn fn, void *arg)
{
	done_fn = fn;
	done_arg = arg;
}

void snap_takeover_on_progress(snap_takeover_progress_fn fn, void *arg)
{
	progress_fn = fn;
	progress_arg = arg;
}

static void report(struct snap_takeover_progress *p, enum snap_takeover_step step)
{
	p->step = step;
	if (progress_fn)
		progress_fn(p, progress_arg);
}

bool snap_takeover_committed(void)
{
	return committed;
}

void snap_takeover_set_argv(int argc, char **argv)
{
	saved_argc = argc;
	saved_argv = argv;
}

pid_t snap_takeover_spawn(const char *binary)
{
	if (saved_argv == NULL || saved_argc < 1 || saved_argc > 250)
		return -EINVAL;
	char *argv[256];
	int n = 0;
	bool have = false;
	argv[n++] = (char *)binary;
	for (int i = 1; i < saved_argc; i++) {
		have |= strcmp(saved_argv[i], "--takeover") == 0;
		argv[n++] = saved_argv[i];
	}
	if (!have)
		argv[n++] = "--takeover";
	argv[n] = NULL;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* Only stdio goes to the new binary: an inherited port socket or DPDK file would
		 * keep the old daemon's devices alive after it exits. */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		closefrom(3);
		execv(binary, argv);
		fprintf(stderr, "snapnetd: upgrade: exec %s: %s\n", binary, strerror(errno));
		_exit(127);
	}
	return pid;
}

static void on_accept(int fd, void *arg);

int snap_takeover_listen(const struct snap_config *cfg)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(cfg->takeover_socket) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", cfg->takeover_socket);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	mode_t old = umask(0177);
	int r = bind(s, (struct sockaddr *)&sa, sizeof(sa));
	if (r && errno == EADDRINUSE) {
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		bool live = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		if (probe >= 0)
			close(probe);
		if (!live) {
			unlink(sa.sun_path);
			r = bind(s, (struct sockaddr *)&sa, sizeof(sa));
		}
	}
	int e = r ? errno : 0;
	umask(old);
	if (e == 0 && listen(s, 4) != 0)
		e = errno;
	if (e == 0)
		e = -snap_loop_add_fd(s, on_accept, NULL);
	if (e) {
		close(s);
		return -e;
	}
	lfd = s;
	snprintf(lpath, sizeof(lpath), "%s", sa.sun_path);
	snap_fdreg_add(s, SNAP_FD_TAKEOVER, 0, "takeover listener");
	return 0;
}

static void listener_close(bool unlink_path)
{
	if (lfd < 0)
		return;
	snap_loop_del_fd(lfd);
	snap_fdreg_del(lfd);
	close(lfd);
	lfd = -1;
	if (unlink_path)
		unlink(lpath);
}

void snap_takeover_stop(void)
{
	listener_close(!committed);
}

/* The fd registry records an app's socket at accept, before the app has an id; the attach
 * layer knows the id now. */
static uint64_t conn_owner(int fd, uint64_t owner)
{
	struct pony_app_attach *a = pony_app_module_attach();
	struct pony_app_fd l[512];
	unsigned n = a ? pony_app_attach_fds(a, l, 512) : 0;
	for (unsigned i = 0; i < n && i < 512; i++)
		if (l[i].fd == fd && l[i].kind == PONY_APP_FD_CONN)
			return l[i].app_id;
	return owner;
}

/* Every registered fd except the takeover socket, in batches with its metadata. */
static int send_fds(int s, unsigned *count)
{
	struct to_fd meta[TO_FD_BATCH];
	int fds[TO_FD_BATCH];
	unsigned n = 0, total = 0;
	for (unsigned i = 0;; i++) {
		const struct snap_fd_ent *e = snap_fdreg_at(i);
		if (e && e->kind != SNAP_FD_TAKEOVER) {
			meta[n] = (struct to_fd){.kind = e->kind, .owner = e->owner};
			if (e->kind == SNAP_FD_APP_CONN)
				meta[n].owner = conn_owner(e->fd, e->owner);
			snprintf(meta[n].desc, sizeof(meta[n].desc), "%s", e->desc);
			fds[n++] = e->fd;
		}
		if (n && (n == TO_FD_BATCH || e == NULL)) {
			int r = snap_takeover_send(s, T_FDS, meta, n * sizeof(meta[0]), fds, n);
			if (r)
				return r;
			total += n;
			n = 0;
		}
		if (e == NULL)
			break;
	}
	*count = total;
	return snap_takeover_send(s, T_FDS_END, &total, sizeof(total), NULL, 0);
}

struct parked {
	struct snap_engine *e;
	struct sched_group *g;
};

/* Put every engine parked by this attempt back where it ran. */
static void resume_parked(struct parked *pk, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (pk[i].g == NULL)
			continue;
		int r = sched_engine_add(pk[i].g, pk[i].e);
		if (r)
			SNAP_LOG(ERR, "takeover: engine %s could not resume: %s", snap_engine_name(pk[i].e),
				 strerror(-r));
		else
			SNAP_LOG(NOTICE, "takeover: engine %s resumed in the old daemon",
				 snap_engine_name(pk[i].e));
	}
}

/* Every engine is parked here, so stopping syncs with nobody. A memif client that cannot
 * reconnect on a roll-back is left to the link keeper (portlink.c). */
static void ports_set(bool up)
{
	for (unsigned i = 0; i < snap_port_count(); i++) {
		struct snap_port *p = snap_port_at(i);
		int r = up ? snap_port_start(p) : snap_port_stop(p, 1000);
		if (r)
			SNAP_LOG(WARNING, "takeover: port %s %s: %s", p->name,
				 up ? "start" : "stop", strerror(-r));
	}
}

/* Hand every engine over. res is filled; returns res->status. */
static int serve(int s, struct snap_takeover_result *res, const struct snap_config *cfg)
{
	struct to_hello hello;
	int r = to_recv_fixed(s, T_HELLO, &hello, sizeof(hello));
	if (r) {
		snprintf(res->msg, sizeof(res->msg), "takeover: no hello from the new daemon: %s",
			 strerror(-r));
		return res->status = r;
	}
	uint64_t t0 = to_mono_ns();
	hello.build[sizeof(hello.build) - 1] = '\0';
	res->new_pid = hello.pid;
	snprintf(res->new_build, sizeof(res->new_build), "%s", hello.build);
	struct snap_takeover_progress pg = {.new_pid = hello.pid, .new_build = res->new_build};
	report(&pg, SNAP_TAKEOVER_STEP_HELLO);
	unsigned n = snap_engine_count();
	res->engines_total = n;
	struct to_welcome w = {.version = SNAP_TAKEOVER_STATE_VERSION, .pid = getpid(),
			       .n_engines = n};
	snprintf(w.build, sizeof(w.build), "%s", to_build_id());
	if (n > SNAP_TAKEOVER_ENGINES_MAX) {
		w.status = -E2BIG;
		snprintf(w.msg, sizeof(w.msg), "%u engines (max %d)", n,
			 SNAP_TAKEOVER_ENGINES_MAX);
	}
	r = snap_takeover_send(s, T_WELCOME, &w, sizeof(w), NULL, 0);
	if (w.status) {
		snprintf(res->msg, sizeof(res->msg), "takeover refused: %s", w.msg);
		return res->status = w.status;
	}
	uint32_t type, len;
	void *p = NULL;
	if (r == 0)
		r = snap_takeover_recv(s, &type, &p, &len, NULL, 0, NULL);
	if (r == 0 && type == T_REFUSE && len == sizeof(struct to_status)) {
		struct to_status *st = p;
		st->msg[sizeof(st->msg) - 1] = '\0';
		snprintf(res->msg, sizeof(res->msg), "new binary refused: %s", st->msg);
		r = st->status < 0 ? st->status : -EPROTONOSUPPORT;
		free(p);
		return res->status = r;
	}
	free(p);
	if (r == 0 && type != T_GO)
		r = -EPROTO;
	if (r == 0) {
		pg.state_version = SNAP_TAKEOVER_STATE_VERSION;
		report(&pg, SNAP_TAKEOVER_STEP_VERSION);
		r = send_fds(s, &res->fds_passed);
	}
	if (r) {
		snprintf(res->msg, sizeof(res->msg), "takeover: hand-shake failed: %s",
			 strerror(-r));
		return res->status = r;
	}
	SNAP_LOG(NOTICE, "takeover: new daemon pid %d (build %s): %u fds passed, moving %u "
		 "engines", hello.pid, res->new_build, res->fds_passed, n);
	pg.fds_passed = res->fds_passed;
	report(&pg, SNAP_TAKEOVER_STEP_FDS);

	/* Blackout, engine by engine: park, save, send, wait for the restore's ack. Parked
	 * engines stay intact here until the new daemon runs them. */
	struct parked pk[SNAP_TAKEOVER_ENGINES_MAX];
	uint64_t t_park[SNAP_TAKEOVER_ENGINES_MAX];
	unsigned np = 0;
	for (unsigned i = 0; i < n && r == 0; i++) {
		struct snap_engine *e = snap_engine_at(i);
		t_park[i] = to_mono_ns();
		pk[np] = (struct parked){e, sched_engine_group(e)};
		if (pk[np].g) {
			r = sched_engine_remove(e);
			if (r) {
				snprintf(res->msg, sizeof(res->msg),
					 "takeover: engine %s would not park: %s", snap_engine_name(e),
					 strerror(-r));
				break;
			}
		}
		np++;
		struct snap_sbuf b;
		snap_sbuf_init(&b);
		struct to_engine hdr = {.index = i, .total = n};
		snprintf(hdr.name, sizeof(hdr.name), "%s", snap_engine_name(e));
		snap_sbuf_put(&b, &hdr, sizeof(hdr));
		r = snap_engine_save(e, &b);
		if (r == 0 && b.err)
			r = b.err;
		if (r == 0 && b.len > UINT32_MAX)
			r = -EFBIG;
		if (r == 0)
			r = snap_takeover_send(s, T_ENGINE, b.data, (uint32_t)b.len, NULL, 0);
		size_t blob = b.len;
		snap_sbuf_fini(&b);
		struct to_status ack = {0};
		if (r == 0)
			r = to_recv_fixed(s, T_ACK, &ack, sizeof(ack));
		if (r == 0 && ack.status) {
			ack.msg[sizeof(ack.msg) - 1] = '\0';
			r = ack.status < 0 ? ack.status : -EPROTO;
			snprintf(res->msg, sizeof(res->msg), "new daemon could not restore %s: %s",
				 snap_engine_name(e), ack.msg);
			break;
		}
		if (r) {
			snprintf(res->msg, sizeof(res->msg),
				 "takeover of engine %s failed (%s): the old daemon resumed the %u "
				 "engine(s) it had parked", snap_engine_name(e),
				 r == -ECONNRESET ? "the new daemon went away" : strerror(-r), np);
			break;
		}
		pg.engine = snap_engine_name(e);
		pg.index = i;
		pg.total = n;
		pg.engine_ns = to_mono_ns() - t_park[i];
		pg.state_bytes = blob;
		SNAP_LOG(NOTICE, "takeover: engine %u of %u (%s) restored in the new daemon, "
			 "%zu bytes of state, parked %.3f ms so far", i + 1, n, snap_engine_name(e), blob,
			 pg.engine_ns / 1e6);
		report(&pg, SNAP_TAKEOVER_STEP_ENGINE);
	}
	if (r) {
		resume_parked(pk, np);
		return res->status = r;
	}
	struct pony_app_attach *apps = pony_app_module_attach();
	pg.engine = NULL;
	pg.apps = apps ? pony_app_attach_count(apps) : 0;
	report(&pg, SNAP_TAKEOVER_STEP_APPS);

	/* Commit: release the ports and the takeover socket (the new daemon binds its own);
	 * app sockets and listeners were passed and stay open here only until we exit (this
	 * loop serves nothing more once the new daemon runs). */
	ports_set(false);
	listener_close(true);
	r = snap_takeover_send(s, T_RELEASED, NULL, 0, NULL, 0);
	struct to_status run = {0};
	if (r == 0) {
		pg.ports = snap_port_count();
		report(&pg, SNAP_TAKEOVER_STEP_RELEASED);
		r = to_recv_fixed(s, T_RUNNING, &run, sizeof(run));
	}
	if (r == 0 && run.status)
		r = run.status < 0 ? run.status : -EPROTO;
	if (r) {
		/* Never two daemons on the same ports: make sure the new one is gone. */
		if (hello.pid > 0)
			kill(hello.pid, SIGKILL);
		snprintf(res->msg, sizeof(res->msg),
			 "new daemon failed after the ports were released (%s): old daemon resumed",
			 strerror(-r));
		ports_set(true);
		if (snap_takeover_listen(cfg))
			SNAP_LOG(ERR, "takeover: takeover socket not restored");
		resume_parked(pk, np);
		return res->status = r;
	}
	uint64_t t_run = to_mono_ns();
	committed = true;
	res->committed = true;
	res->engines_moved = n;
	for (unsigned i = 0; i < n; i++) {
		res->blackout_ns[i] = t_run - t_park[i];
		if (res->blackout_ns[i] > res->blackout_max_ns)
			res->blackout_max_ns = res->blackout_ns[i];
	}
	res->brownout_ns = t_run - t0;
	snprintf(res->msg, sizeof(res->msg), "handed over to pid %d", hello.pid);
	report(&pg, SNAP_TAKEOVER_STEP_RUNNING);
	return 0;
}

static void on_accept(int fd, void *arg)
{
	int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return;
	struct snap_takeover_result res = {0};
	int r = to_peer_is_us(c);
	if (r) {
		SNAP_LOG(WARNING, "takeover: connection from another uid refused");
		close(c);
		return;
	}
	to_set_timeouts(c, TO_STEP_TIMEOUT_S);
	serve(c, &res, snap_daemon()->cfg);
	close(c);
	if (res.status)
		SNAP_LOG(WARNING, "takeover: %s (old daemon keeps serving)", res.msg);
	else
		SNAP_LOG(NOTICE, "takeover: %s: %u engines, blackout max %.3f ms, brownout %.3f ms",
			 res.msg, res.engines_moved, res.blackout_max_ns / 1e6,
			 res.brownout_ns / 1e6);
	if (done_fn)
		done_fn(&res, done_arg);
	if (res.committed)
		snap_loop_stop();
}
