/* Transparent upgrade, both sides of the takeover socket (see takeover.h). The old daemon
 * serves one attempt at a time synchronously on its control thread: every step has a socket
 * timeout, and until the new daemon reports its engines running the old one can roll back
 * (engines it parked are put back in their groups, ports restarted). */
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

#include <rte_ethdev.h>

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
#include "snap/takeover.h"

#define STEP_TIMEOUT_S 10 /* one protocol step (an engine restore, the new daemon's start) */

enum msg_type {
	T_HELLO = 1, /* new -> old: struct to_hello */
	T_WELCOME,   /* old -> new: struct to_welcome */
	T_GO,        /* new -> old: versions fine, start */
	T_REFUSE,    /* new -> old: struct to_status (cannot read the state) */
	T_FDS,       /* old -> new: struct to_fd[] + the fds */
	T_FDS_END,
	T_ENGINE,    /* old -> new: struct to_engine + engine blob */
	T_ACK,       /* new -> old: struct to_status */
	T_RELEASED,  /* old -> new: ports stopped, listeners closed; start running */
	T_RUNNING,   /* new -> old: struct to_status */
};

struct to_hello {
	uint32_t read_version; /* the state version the new binary reads */
	int32_t pid;
	char build[48];
};
struct to_welcome {
	uint32_t version;      /* the state version the old daemon writes */
	int32_t status;        /* 0, or why the old daemon will not hand over now */
	int32_t pid;
	uint32_t n_engines;
	char build[48];
	char msg[160];
};
struct to_status {
	int32_t status;
	char msg[160];
};
struct to_fd {
	int32_t kind;          /* enum snap_fd_kind */
	uint32_t pad;
	uint64_t owner;
	char desc[48];
};
struct to_engine {
	char name[SNAP_NAME_MAX];
	uint32_t index, total;
};

#define FD_BATCH 64

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void set_timeouts(int s, unsigned sec)
{
	struct timeval tv = {.tv_sec = sec};
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int peer_is_us(int s)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0)
		return -errno;
	return cr.uid == geteuid() ? 0 : -EACCES;
}

/* Receive one message of an expected type and exact payload size (fds refused). */
static int recv_fixed(int s, uint32_t want, void *out, uint32_t size)
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

static const char *build_id(void)
{
	const char *b = getenv("SNAP_TAKEOVER_BUILD_ID");
	return b && b[0] ? b : SNAP_BUILD_ID;
}

/* ================================ old daemon ================================ */

static int lfd = -1;
static char lpath[sizeof(((struct sockaddr_un *)0)->sun_path)];
static bool committed;
static snap_takeover_done_fn done_fn;
static void *done_arg;
static char **saved_argv;
static int saved_argc;

void snap_takeover_on_done(snap_takeover_done_fn fn, void *arg)
{
	done_fn = fn;
	done_arg = arg;
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

static int send_status(int s, uint32_t type, int status, const char *msg)
{
	struct to_status st = {.status = status};
	snprintf(st.msg, sizeof(st.msg), "%s", msg ? msg : "");
	return snap_takeover_send(s, type, &st, sizeof(st), NULL, 0);
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
	struct to_fd meta[FD_BATCH];
	int fds[FD_BATCH];
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
		if (n && (n == FD_BATCH || e == NULL)) {
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
			SNAP_LOG(ERR, "takeover: engine %s could not resume: %s", pk[i].e->name,
				 strerror(-r));
		else
			SNAP_LOG(NOTICE, "takeover: engine %s resumed in the old daemon",
				 pk[i].e->name);
	}
}

static void ports_set(bool up)
{
	for (unsigned i = 0; i < snap_port_count(); i++) {
		struct snap_port *p = snap_port_at(i);
		int r = up ? rte_eth_dev_start(p->port_id) : rte_eth_dev_stop(p->port_id);
		if (r)
			SNAP_LOG(WARNING, "takeover: port %s %s: %s", p->name,
				 up ? "start" : "stop", strerror(-r));
	}
}

/* Hand every engine over. res is filled; returns res->status. */
static int serve(int s, struct snap_takeover_result *res, const struct snap_config *cfg)
{
	struct to_hello hello;
	int r = recv_fixed(s, T_HELLO, &hello, sizeof(hello));
	if (r) {
		snprintf(res->msg, sizeof(res->msg), "takeover: no hello from the new daemon: %s",
			 strerror(-r));
		return res->status = r;
	}
	uint64_t t0 = mono_ns();
	hello.build[sizeof(hello.build) - 1] = '\0';
	res->new_pid = hello.pid;
	snprintf(res->new_build, sizeof(res->new_build), "%s", hello.build);
	unsigned n = snap_engine_count();
	res->engines_total = n;
	struct to_welcome w = {.version = SNAP_TAKEOVER_STATE_VERSION, .pid = getpid(),
			       .n_engines = n};
	snprintf(w.build, sizeof(w.build), "%s", build_id());
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
	if (r == 0)
		r = send_fds(s, &res->fds_passed);
	if (r) {
		snprintf(res->msg, sizeof(res->msg), "takeover: hand-shake failed: %s",
			 strerror(-r));
		return res->status = r;
	}
	SNAP_LOG(NOTICE, "takeover: new daemon pid %d (build %s): %u fds passed, moving %u "
		 "engines", hello.pid, res->new_build, res->fds_passed, n);

	/* Blackout, engine by engine: park, save, send, wait for the restore's ack. Parked
	 * engines stay intact here until the new daemon runs them. */
	struct parked pk[SNAP_TAKEOVER_ENGINES_MAX];
	uint64_t t_park[SNAP_TAKEOVER_ENGINES_MAX];
	unsigned np = 0;
	for (unsigned i = 0; i < n && r == 0; i++) {
		struct snap_engine *e = snap_engine_at(i);
		t_park[i] = mono_ns();
		pk[np] = (struct parked){e, e->group};
		if (e->group) {
			r = sched_engine_remove(e);
			if (r) {
				snprintf(res->msg, sizeof(res->msg),
					 "takeover: engine %s would not park: %s", e->name,
					 strerror(-r));
				break;
			}
		}
		np++;
		struct snap_sbuf b;
		snap_sbuf_init(&b);
		struct to_engine hdr = {.index = i, .total = n};
		snprintf(hdr.name, sizeof(hdr.name), "%s", e->name);
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
			r = recv_fixed(s, T_ACK, &ack, sizeof(ack));
		if (r == 0 && ack.status) {
			ack.msg[sizeof(ack.msg) - 1] = '\0';
			r = ack.status < 0 ? ack.status : -EPROTO;
			snprintf(res->msg, sizeof(res->msg), "new daemon could not restore %s: %s",
				 e->name, ack.msg);
			break;
		}
		if (r) {
			snprintf(res->msg, sizeof(res->msg),
				 "takeover of engine %s failed (%s): the old daemon resumed the %u "
				 "engine(s) it had parked", e->name,
				 r == -ECONNRESET ? "the new daemon went away" : strerror(-r), np);
			break;
		}
		SNAP_LOG(NOTICE, "takeover: engine %u of %u (%s) restored in the new daemon, "
			 "%zu bytes of state, parked %.3f ms so far", i + 1, n, e->name, blob,
			 (mono_ns() - t_park[i]) / 1e6);
	}
	if (r) {
		resume_parked(pk, np);
		return res->status = r;
	}

	/* Commit: release the ports and the takeover socket (the new daemon binds its own);
	 * app sockets and listeners were passed and stay open here only until we exit (this
	 * loop serves nothing more once the new daemon runs). */
	ports_set(false);
	listener_close(true);
	r = snap_takeover_send(s, T_RELEASED, NULL, 0, NULL, 0);
	struct to_status run = {0};
	if (r == 0)
		r = recv_fixed(s, T_RUNNING, &run, sizeof(run));
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
	uint64_t t_run = mono_ns();
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
	return 0;
}

static void on_accept(int fd, void *arg)
{
	int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return;
	struct snap_takeover_result res = {0};
	int r = peer_is_us(c);
	if (r) {
		SNAP_LOG(WARNING, "takeover: connection from another uid refused");
		close(c);
		return;
	}
	set_timeouts(c, STEP_TIMEOUT_S);
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

/* ================================ new daemon ================================ */

static int csock = -1;
static struct {
	int fd;
	enum snap_fd_kind kind;
	uint64_t owner;
	char desc[48];
} got_fds[4096];
static unsigned n_got;

int snap_takeover_take_fd(enum snap_fd_kind kind)
{
	for (unsigned i = 0; i < n_got; i++) {
		if (got_fds[i].kind == kind && got_fds[i].fd >= 0) {
			int fd = got_fds[i].fd;
			got_fds[i].fd = -1;
			return fd;
		}
	}
	return -1;
}

static int take_owned(enum snap_fd_kind kind, uint64_t owner, const char *desc)
{
	for (unsigned i = 0; i < n_got; i++) {
		if (got_fds[i].kind == kind && got_fds[i].owner == owner && got_fds[i].fd >= 0 &&
		    (desc == NULL || strcmp(got_fds[i].desc, desc) == 0)) {
			int fd = got_fds[i].fd;
			got_fds[i].fd = -1;
			return fd;
		}
	}
	return -1;
}

int snap_takeover_app_fds(uint32_t app_id, int *sock, int *memfd, int *cmd_efd, int *cpl_efd)
{
	/* The descriptions are the attach module's (pony/app_module.c). */
	*sock = take_owned(SNAP_FD_APP_CONN, app_id, NULL);
	*memfd = take_owned(SNAP_FD_APP_MEMFD, app_id, NULL);
	*cmd_efd = take_owned(SNAP_FD_APP_EVENTFD, app_id, "app cmd doorbell");
	*cpl_efd = take_owned(SNAP_FD_APP_EVENTFD, app_id, "app cpl doorbell");
	if (*sock >= 0 && *memfd >= 0 && *cmd_efd >= 0 && *cpl_efd >= 0)
		return 0;
	int fds[4] = {*sock, *memfd, *cmd_efd, *cpl_efd};
	for (int i = 0; i < 4; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return -ENOENT;
}

static void close_got_fds(void)
{
	for (unsigned i = 0; i < n_got; i++)
		if (got_fds[i].fd >= 0)
			close(got_fds[i].fd);
	n_got = 0;
}

static int recv_fds(int s)
{
	for (;;) {
		uint32_t type, len;
		void *p;
		int fds[FD_BATCH];
		unsigned nfds;
		int r = snap_takeover_recv(s, &type, &p, &len, fds, FD_BATCH, &nfds);
		if (r)
			return r;
		if (type == T_FDS_END) {
			free(p);
			return 0;
		}
		if (type != T_FDS || len != nfds * sizeof(struct to_fd)) {
			free(p);
			for (unsigned i = 0; i < nfds; i++)
				close(fds[i]);
			return -EPROTO;
		}
		const struct to_fd *m = p;
		for (unsigned i = 0; i < nfds; i++) {
			if (n_got >= sizeof(got_fds) / sizeof(got_fds[0])) {
				close(fds[i]);
				continue;
			}
			got_fds[n_got].fd = fds[i];
			got_fds[n_got].owner = m[i].owner;
			snprintf(got_fds[n_got].desc, sizeof(got_fds[n_got].desc), "%.47s",
				 m[i].desc);
			got_fds[n_got++].kind = (enum snap_fd_kind)m[i].kind;
			SNAP_LOG(INFO, "takeover: received fd %d: %s (%s, owner %llu)", fds[i],
				 snap_fd_kind_name((enum snap_fd_kind)m[i].kind), m[i].desc,
				 (unsigned long long)m[i].owner);
		}
		free(p);
	}
}

static int restore_one(const void *p, uint32_t len, char *msg, size_t msglen)
{
	struct to_engine h;
	if (len < sizeof(h)) {
		snprintf(msg, msglen, "short engine record");
		return -EPROTO;
	}
	memcpy(&h, p, sizeof(h));
	h.name[sizeof(h.name) - 1] = '\0';
	struct snap_engine *e = snap_engine_find(h.name);
	if (e == NULL) {
		snprintf(msg, msglen, "no engine '%s' in the new daemon's config", h.name);
		return -ENOENT;
	}
	int r = snap_engine_restore(e, (const uint8_t *)p + sizeof(h), len - sizeof(h));
	if (r)
		snprintf(msg, msglen, "engine %s: restore failed: %s", h.name, strerror(-r));
	else
		SNAP_LOG(NOTICE, "takeover: engine %u of %u (%s) restored", h.index + 1, h.total,
			 h.name);
	return r;
}

/* Ports were configured but not started (snap_ports_defer_start): the old daemon held the
 * devices until now. A memif client connects to its peer's server here. */
static int ports_start(char *err, size_t errlen)
{
	for (unsigned i = 0; i < snap_port_count(); i++) {
		struct snap_port *p = snap_port_at(i);
		int r = rte_eth_dev_start(p->port_id);
		if (r) {
			snprintf(err, errlen, "takeover: port %s: start failed: %s", p->name,
				 strerror(-r));
			return r;
		}
	}
	return 0;
}

int snap_takeover_client(const struct snap_config *cfg, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", cfg->takeover_socket);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	int r = connect(s, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	if (r) {
		snprintf(err, errlen, "takeover: cannot reach the running daemon at %s: %s",
			 sa.sun_path, strerror(-r));
		close(s);
		return r;
	}
	r = peer_is_us(s);
	if (r) {
		snprintf(err, errlen, "takeover: the daemon at %s runs as another user",
			 sa.sun_path);
		close(s);
		return r;
	}
	set_timeouts(s, STEP_TIMEOUT_S);
	uint32_t readv = SNAP_TAKEOVER_STATE_VERSION;
	const char *fake = getenv("SNAP_TAKEOVER_FAKE_VERSION");
	if (fake && fake[0])
		readv = (uint32_t)strtoul(fake, NULL, 10);
	struct to_hello h = {.read_version = readv, .pid = getpid()};
	snprintf(h.build, sizeof(h.build), "%s", build_id());
	struct to_welcome w;
	r = snap_takeover_send(s, T_HELLO, &h, sizeof(h), NULL, 0);
	if (r == 0)
		r = recv_fixed(s, T_WELCOME, &w, sizeof(w));
	if (r) {
		snprintf(err, errlen, "takeover: hand-shake failed: %s", strerror(-r));
		goto fail;
	}
	w.msg[sizeof(w.msg) - 1] = '\0';
	w.build[sizeof(w.build) - 1] = '\0';
	if (w.status) {
		snprintf(err, errlen, "takeover: the running daemon (pid %d) refused: %s", w.pid,
			 w.msg);
		r = -EBUSY;
		goto fail;
	}
	if (w.version != readv) {
		char m[160];
		snprintf(m, sizeof(m), "binary %s reads state version %u, running daemon (build %s)"
			 " writes version %u", build_id(), readv, w.build, w.version);
		send_status(s, T_REFUSE, -EPROTONOSUPPORT, m);
		snprintf(err, errlen, "takeover: %s: refusing before any blackout", m);
		r = -EPROTONOSUPPORT;
		goto fail;
	}
	r = snap_takeover_send(s, T_GO, NULL, 0, NULL, 0);
	if (r == 0)
		r = recv_fds(s);
	if (r) {
		snprintf(err, errlen, "takeover: fd hand-over failed: %s", strerror(-r));
		goto fail;
	}
	const char *die = getenv("SNAP_TAKEOVER_DIE_AFTER");
	unsigned die_after = die && die[0] ? (unsigned)strtoul(die, NULL, 10) : 0, restored = 0;
	for (;;) {
		uint32_t type, len;
		void *p;
		r = snap_takeover_recv(s, &type, &p, &len, NULL, 0, NULL);
		if (r) {
			snprintf(err, errlen, "takeover: lost the running daemon: %s", strerror(-r));
			goto fail;
		}
		if (type == T_RELEASED) {
			free(p);
			break;
		}
		if (type != T_ENGINE) {
			free(p);
			snprintf(err, errlen, "takeover: unexpected message %u", type);
			r = -EPROTO;
			goto fail;
		}
		char m[160] = "";
		int st = restore_one(p, len, m, sizeof(m));
		free(p);
		if (st == 0 && die_after && ++restored >= die_after) {
			fprintf(stderr, "snapnetd: SNAP_TAKEOVER_DIE_AFTER=%u: dying mid-takeover\n",
				die_after);
			_exit(1);
		}
		r = send_status(s, T_ACK, st, m);
		if (st || r) {
			snprintf(err, errlen, "takeover: %s", st ? m : strerror(-r));
			r = st ? st : r;
			goto fail;
		}
	}
	/* Listeners are adopted by their modules; app fds were taken by the sessions the pony
	 * engines restored. Anything else (an app still in its attach hand-shake) is dropped:
	 * that app sees its attach fail and may retry. */
	for (unsigned i = 0; i < n_got; i++) {
		if (got_fds[i].fd >= 0 && got_fds[i].kind != SNAP_FD_CONTROL_LISTEN &&
		    got_fds[i].kind != SNAP_FD_APP_LISTEN) {
			close(got_fds[i].fd);
			got_fds[i].fd = -1;
		}
	}
	r = ports_start(err, errlen);
	if (r)
		goto fail;
	csock = s;
	return 0;
fail:
	close_got_fds();
	close(s);
	return r;
}

int snap_takeover_client_finish(void)
{
	if (csock < 0)
		return -ENOTCONN;
	close_got_fds();
	int r = send_status(csock, T_RUNNING, 0, "running");
	close(csock);
	csock = -1;
	return r;
}
