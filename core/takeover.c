/* Transparent upgrade, the old daemon's side of the takeover channel (see takeover.h): it
 * spawns the new binary with its end of a socketpair, waits for its hello on the control loop
 * without blocking, then serves the hand-over synchronously; every step has a socket timeout,
 * and until the new daemon reports its engines running the old one can roll back (engines it
 * parked are put back in their groups, ports restarted). Shared helpers too. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sched/sched.h"
#include "core/build.h"
#include "core/daemon.h"
#include "snap/engine.h"
#include "core/fdreg.h"
#include "snap/log.h"
#include "core/loop.h"
#include "core/module.h"
#include "snap/port.h"
#include "core/portsetup.h"
#include "core/build_id.h"
#include "core/takeover.h"
#include "core/takeover_int.h"

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

int to_peer_is(int s, pid_t pid)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0)
		return -errno;
	return cr.uid == geteuid() && (pid <= 0 || cr.pid == pid) ? 0 : -EACCES;
}

int to_recv_fixed(int s, uint32_t want, void *out, uint32_t size)
{
	uint32_t type, len;
	void *p;
	int r = snap_takeover_recv(s, &type, &p, &len, size, NULL, 0, NULL);
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

int to_running_stamp(const struct to_status *st, uint64_t *ns)
{
	char msg[sizeof(st->msg)];
	memcpy(msg, st->msg, sizeof(msg));
	msg[sizeof(msg) - 1] = '\0';
	unsigned long long v;
	if (sscanf(msg, TO_RUNNING_FMT, &v) != 1 || v == 0)
		return -ENOENT;
	*ns = v;
	return 0;
}

/* The attempt in progress: our end of the channel and the pid we spawned (the only pid we
 * trust or ever kill). */
static int csk = -1;
static pid_t child_pid;
static struct snap_takeover_partial hello_in; /* the hello as it arrives */
static bool committed;
static snap_takeover_done_fn done_fn;
static void *done_arg;
static snap_takeover_progress_fn progress_fn;
static void *progress_arg;
static char **saved_argv;
static int saved_argc;
/* The CPUs this daemon was started on, before the EAL pinned its main thread to main_cpu:
 * the new binary starts on them too. Inheriting the pinned thread's one CPU instead, the new
 * daemon's EAL found no CPU for its control threads beside the main lcore and put them
 * all (the interrupt thread among them) on it: the next upgrade's port release waited up
 * to 3.4 ms for that thread behind a polling engine, against 0.1 ms on a fresh start. */
static cpu_set_t saved_cpus;
static bool have_saved_cpus;

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
	have_saved_cpus = sched_getaffinity(0, sizeof(saved_cpus), &saved_cpus) == 0;
}

static void channel_close(void)
{
	if (csk < 0)
		return;
	snap_loop_del_fd(csk);
	close(csk);
	csk = -1;
	child_pid = 0;
	hello_in.got = 0;
}

void snap_takeover_stop(void)
{
	channel_close();
}

/* The child's environment: ours (test hooks pass through) with the channel's fd number. Built
 * before fork: the child of a threaded process may only call async-signal-safe functions. */
static char **child_env(char *fdvar)
{
	extern char **environ;
	size_t n = 0, k = 0;
	while (environ[n])
		n++;
	char **env = calloc(n + 2, sizeof(*env));
	if (env == NULL)
		return NULL;
	size_t plen = strlen(SNAP_TAKEOVER_FD_ENV);
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], SNAP_TAKEOVER_FD_ENV, plen) != 0 || environ[i][plen] != '=')
			env[k++] = environ[i];
	env[k++] = fdvar;
	env[k] = NULL;
	return env;
}

static void on_peer(int fd, void *arg);

/* The only kill of this module: the pid we spawned (never 0, our own process group). */
static void kill_child(pid_t pid)
{
	if (pid > 0)
		kill(pid, SIGKILL);
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
	channel_close();
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return -errno;
	char fdvar[32];
	snprintf(fdvar, sizeof(fdvar), "%s=%d", SNAP_TAKEOVER_FD_ENV, TO_CHILD_FD);
	char **env = child_env(fdvar);
	int r = env ? snap_loop_add_fd(sv[0], on_peer, NULL) : -ENOMEM;
	if (r) {
		free(env);
		close(sv[0]);
		close(sv[1]);
		return r;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		/* Only stdio and the channel go to the new binary: an inherited port socket or
		 * DPDK file would keep the old daemon's devices alive after it exits. dup2 (or
		 * fcntl, if it is already there) clears close-on-exec on the channel. */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (sv[1] == TO_CHILD_FD ? fcntl(sv[1], F_SETFD, 0) < 0
					 : dup2(sv[1], TO_CHILD_FD) < 0)
			_exit(127);
		closefrom(TO_CHILD_FD + 1);
		if (have_saved_cpus) /* best effort: the start-up set may have lost a CPU */
			(void)sched_setaffinity(0, sizeof(saved_cpus), &saved_cpus);
		execve(binary, argv, env);
		fprintf(stderr, "snapnetd: upgrade: exec %s: %s\n", binary, strerror(errno));
		_exit(127);
	}
	int e = errno;
	free(env);
	close(sv[1]);
	if (pid < 0) {
		snap_loop_del_fd(sv[0]);
		close(sv[0]);
		return -e;
	}
	csk = sv[0];
	child_pid = pid;
	return pid;
}

/* The owner id to hand over with a registered fd: the module that registered it may know a
 * better one now (an app socket registered at accept, before its session had an id). */
static uint64_t fd_owner(int fd, enum snap_fd_kind kind, uint64_t owner)
{
	const struct snap_module *m;
	for (unsigned i = 0; (m = snap_module_at(i)) != NULL; i++)
		if (m->fd_owner)
			owner = m->fd_owner(fd, kind, owner);
	return owner;
}


/* Every registered fd (SNAP_FD_TAKEOVER excepted), in batches with its metadata. */
static int send_fds(int s, unsigned *count)
{
	struct to_fd meta[TO_FD_BATCH];
	int fds[TO_FD_BATCH];
	unsigned n = 0, total = 0;
	for (unsigned i = 0;; i++) {
		const struct snap_fd_ent *e = snap_fdreg_at(i);
		if (e && e->kind != SNAP_FD_TAKEOVER) {
			meta[n] = (struct to_fd){.kind = e->kind, .owner = e->owner};
			meta[n].owner = fd_owner(e->fd, e->kind, e->owner);
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

/* Every engine is parked here, so stopping syncs with nobody. Releasing closes the devices
 * the new daemon cannot open beside ours (snap_port_cfg_exclusive); a roll-back opens them
 * again. A memif client that cannot reconnect on a roll-back is left to the link keeper
 * (portlink.c). */
static void ports_set(bool up)
{
	for (unsigned i = 0; i < snap_port_count(); i++) {
		struct snap_port *p = snap_port_at(i);
		uint64_t t0 = to_mono_ns();
		int r = up ? snap_port_reclaim(p) : snap_port_release(p, 1000);
		if (r)
			SNAP_LOG(WARNING, "takeover: port %s %s: %s", p->name,
				 up ? "start" : "stop", strerror(-r));
		else if (!up) /* inside the blackout: what each port kind costs it */
			SNAP_LOG(NOTICE, "takeover: port %s released in %.3f ms", p->name,
				 (to_mono_ns() - t0) / 1e6);
	}
}

/* The run-time topology to the new daemon, which builds its engines and groups from it (its
 * brownout) and acks: nothing is parked yet, so a refusal costs no blackout. 0 or -errno
 * with res->msg set. */
static int send_topology(int s, const struct snap_sbuf *topo, struct snap_takeover_result *res)
{
	struct to_status ack = {0};
	int r = snap_takeover_send(s, T_TOPOLOGY, topo->data, (uint32_t)topo->len, NULL, 0);
	if (r == 0)
		r = to_recv_fixed(s, T_ACK, &ack, sizeof(ack));
	if (r) {
		snprintf(res->msg, sizeof(res->msg), "takeover: topology hand-over failed: %s",
			 r == -ECONNRESET ? "the new daemon went away" : strerror(-r));
		return r;
	}
	if (ack.status) {
		ack.msg[sizeof(ack.msg) - 1] = '\0';
		snprintf(res->msg, sizeof(res->msg), "new daemon could not build the running "
			 "topology (nothing was parked): %s", ack.msg);
		return ack.status < 0 ? ack.status : -EPROTO;
	}
	SNAP_LOG(NOTICE, "takeover: new daemon built the running topology (%zu bytes)", topo->len);
	return 0;
}

/* Hand every engine over to the child pid we spawned, which said hello. res is filled;
 * returns res->status. topo: scratch for the topology (the caller finis it). */
static int serve(int s, pid_t pid, struct to_hello hello, struct snap_sbuf *topo,
		 struct snap_takeover_result *res)
{
	int r;
	uint64_t t0 = to_mono_ns();
	hello.build[sizeof(hello.build) - 1] = '\0';
	res->new_pid = pid;
	snprintf(res->new_build, sizeof(res->new_build), "%s", hello.build);
	if (hello.pid != pid) {
		/* Only an exec'd child keeps our pid's child; anything else is not the binary
		 * we started (its pid is reported, never used). */
		struct to_welcome no = {.version = SNAP_TAKEOVER_STATE_VERSION, .pid = getpid(),
					.status = -EACCES};
		snprintf(no.msg, sizeof(no.msg), "hello from pid %d, not the spawned pid %d",
			 (int)hello.pid, (int)pid);
		snap_takeover_send(s, T_WELCOME, &no, sizeof(no), NULL, 0);
		snprintf(res->msg, sizeof(res->msg), "takeover refused: %s", no.msg);
		kill_child(pid);
		return res->status = -EACCES;
	}
	struct snap_takeover_progress pg = {.new_pid = pid, .new_build = res->new_build};
	report(&pg, SNAP_TAKEOVER_STEP_HELLO);
	unsigned n = snap_engine_count();
	res->engines_total = n;
	/* A binary of release 0.1.0 reads protocol 1 only: everything in its version 1. */
	uint32_t proto = hello.read_version == 1 ? 1 : SNAP_TAKEOVER_STATE_VERSION;
	uint32_t container = SNAP_ENGINE_SAVE_V1;
	struct to_welcome w = {.version = proto, .pid = getpid(), .n_engines = n};
	snprintf(w.build, sizeof(w.build), "%s", to_build_id());
	if (n > SNAP_TAKEOVER_ENGINES_MAX) {
		w.status = -E2BIG;
		snprintf(w.msg, sizeof(w.msg), "%u engines (max %d)", n,
			 SNAP_TAKEOVER_ENGINES_MAX);
	} else if (proto == 1) {
		w.status = to_check_write_v1(w.msg, sizeof(w.msg));
		const struct snap_config *cfg = snap_daemon()->cfg;
		if (w.status == 0 && cfg)
			w.status = to_topo_matches_config(cfg, w.msg, sizeof(w.msg));
	} else {
		/* Described now, so what cannot be rebuilt is refused before anything else. */
		w.status = to_topo_build(topo, w.msg, sizeof(w.msg));
	}
	r = snap_takeover_send(s, T_WELCOME, &w, sizeof(w), NULL, 0);
	if (w.status) {
		snprintf(res->msg, sizeof(res->msg), "takeover refused: %s", w.msg);
		return res->status = w.status;
	}
	uint32_t type, len;
	void *p = NULL;
	bool delta = false; /* the new binary applies deltas: pre-copy each engine */
	if (r == 0)
		r = snap_takeover_recv(s, &type, &p, &len, sizeof(struct to_reads), NULL, 0, NULL);
	if (r == 0 && type == T_REFUSE && len == sizeof(struct to_status)) {
		struct to_status *st = p;
		st->msg[sizeof(st->msg) - 1] = '\0';
		snprintf(res->msg, sizeof(res->msg), "new binary refused: %s", st->msg);
		r = st->status < 0 ? st->status : -EPROTONOSUPPORT;
		free(p);
		return res->status = r;
	}
	if (r == 0 && proto == 1 && type != T_GO)
		r = -EPROTO;
	if (r == 0 && proto > 1) {
		/* What the new binary reads, part by part: agree on each before parking. */
		if (type != T_READS || len != sizeof(struct to_reads) ||
		    ((struct to_reads *)p)->n > TO_READS_MAX) {
			r = -EPROTO;
		} else {
			char m[160] = "";
			int pr = to_plan(p, &container, m, sizeof(m));
			delta = to_reads_has(p, TO_DELTA_PART, TO_DELTA_VERSION);
			r = to_send_status(s, T_PLAN, pr, m);
			if (pr) {
				free(p);
				snprintf(res->msg, sizeof(res->msg), "takeover refused before any "
					 "blackout: %s", m);
				return res->status = pr;
			}
		}
	}
	free(p);
	if (r == 0) {
		pg.state_version = proto;
		report(&pg, SNAP_TAKEOVER_STEP_VERSION);
		/* Protocol 1 (a 0.1.0 binary) builds from its config file: no topology. */
		r = proto > 1 ? send_topology(s, topo, res) : 0;
		if (r)
			return res->status = r;
		r = send_fds(s, &res->fds_passed);
	}
	if (r) {
		snprintf(res->msg, sizeof(res->msg), "takeover: hand-shake failed: %s",
			 strerror(-r));
		return res->status = r;
	}
	SNAP_LOG(NOTICE, "takeover: new daemon pid %d (build %s): %u fds passed, moving %u "
		 "engines", (int)pid, res->new_build, res->fds_passed, n);
	pg.fds_passed = res->fds_passed;
	report(&pg, SNAP_TAKEOVER_STEP_FDS);

	/* Blackout, engine by engine: park, save, send, wait for the restore's ack. Parked
	 * engines stay intact here until the new daemon runs them. */
	struct parked pk[SNAP_TAKEOVER_ENGINES_MAX];
	uint64_t t_park[SNAP_TAKEOVER_ENGINES_MAX];
	unsigned np = 0;
	/* The save buffer is allocated and its pages touched before the first engine parks,
	 * and reused for each: growing it inside the blackout cost a page fault per 4 KiB
	 * (and under ASan a copy per doubling). */
	struct snap_sbuf b, d, pre[SNAP_TAKEOVER_ENGINES_MAX];
	int pc[SNAP_TAKEOVER_ENGINES_MAX];
	snap_sbuf_init(&b);
	snap_sbuf_init(&d);
	(void)snap_sbuf_reserve(&b, TO_SAVE_RESERVE); /* only a speed-up: the puts grow it */
	if (delta)
		(void)snap_sbuf_reserve(&d, TO_SAVE_RESERVE / 16);
	/* Brownout that does work: every engine's whole state while they all still run, so
	 * that the blackout sends only what changed since (1: not pre-copied, sent in full). */
	for (unsigned i = 0; i < n; i++) {
		snap_sbuf_init(&pre[i]);
		struct to_engine hdr = {.index = i, .total = n};
		snprintf(hdr.name, sizeof(hdr.name), "%s", snap_engine_name(snap_engine_at(i)));
		pc[i] = delta && r == 0 ? to_precopy_send(s, snap_engine_at(i), &hdr, &pre[i],
							   container, proto > 1) : 1;
		if (pc[i] < 0 && r == 0) {
			r = pc[i];
			snprintf(res->msg, sizeof(res->msg), "takeover: pre-copy of engine %s "
				 "failed (%s) before any blackout", hdr.name,
				 r == -ECONNRESET ? "the new daemon went away" : strerror(-r));
		}
	}
	for (unsigned i = 0; i < n && r == 0; i++) {
		struct snap_engine *e = snap_engine_at(i);
		struct to_engine hdr = {.index = i, .total = n};
		snprintf(hdr.name, sizeof(hdr.name), "%s", snap_engine_name(e));
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
		uint64_t t_parked = to_mono_ns(), t_saved = 0, t_sent = 0;
		b.len = 0;
		snap_sbuf_put(&b, &hdr, sizeof(hdr));
		r = snap_engine_save_v(e, &b, container, proto > 1 ? to_plan_version : NULL,
				       NULL);
		if (r == 0 && b.err)
			r = b.err;
		if (r == 0 && b.len > SNAP_TAKEOVER_FRAME_MAX)
			r = -EFBIG; /* the receiver would refuse it */
		t_saved = to_mono_ns();
		size_t sent = 0;
		if (r == 0)
			r = to_engine_send(s, pc[i] == 0 ? &pre[i] : NULL, &b, &d, &sent);
		t_sent = to_mono_ns();
		size_t blob = b.len;
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
			 "%zu bytes of state (%zu sent%s), parked %.3f ms so far (park %.3f, save "
			 "%.3f, send %.3f, restore and ack %.3f ms)", i + 1, n, snap_engine_name(e),
			 blob, sent, pc[i] == 0 ? " after a pre-copy" : "", pg.engine_ns / 1e6,
			 (t_parked - t_park[i]) / 1e6, (t_saved - t_parked) / 1e6,
			 (t_sent - t_saved) / 1e6, (to_mono_ns() - t_sent) / 1e6);
		report(&pg, SNAP_TAKEOVER_STEP_ENGINE);
	}
	snap_sbuf_fini(&b);
	snap_sbuf_fini(&d);
	for (unsigned i = 0; i < n; i++)
		snap_sbuf_fini(&pre[i]);
	if (r) {
		resume_parked(pk, np);
		return res->status = r;
	}
	pg.engine = NULL;
	snap_module_sessions(&pg.apps);
	report(&pg, SNAP_TAKEOVER_STEP_APPS);

	/* Commit: release the ports (the new daemon starts its own); app sockets and listeners
	 * were passed and stay open here only until we exit (this loop serves nothing more once
	 * the new daemon runs). */
	ports_set(false);
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
		kill_child(pid);
		snprintf(res->msg, sizeof(res->msg),
			 "new daemon failed after the ports were released (%s): old daemon resumed",
			 strerror(-r));
		ports_set(true);
		resume_parked(pk, np);
		return res->status = r;
	}
	uint64_t t_got = to_mono_ns(), t_run = t_got, ran;
	/* The engines ran again when the new daemon saw them poll, which its report stamps;
	 * when this thread then gets a CPU to read it (behind two polling threads on a small
	 * host, up to a scheduler tick) is not their blackout. A stamp outside the hand-over
	 * (none, or a clock that disagrees) leaves the report's arrival. */
	if (n && to_running_stamp(&run, &ran) == 0 && ran > t_park[n - 1] && ran <= t_got)
		t_run = ran;
	committed = true;
	res->committed = true;
	res->engines_moved = n;
	for (unsigned i = 0; i < n; i++) {
		res->blackout_ns[i] = t_run - t_park[i];
		if (res->blackout_ns[i] > res->blackout_max_ns)
			res->blackout_max_ns = res->blackout_ns[i];
	}
	res->brownout_ns = t_got - t0;
	snprintf(res->msg, sizeof(res->msg), "handed over to pid %d", (int)pid);
	report(&pg, SNAP_TAKEOVER_STEP_RUNNING);
	return 0;
}

/* The channel is readable: (more of) the spawned child's hello, EOF, or garbage. Until the
 * hello is complete this takes what arrived and returns, so a child that is slow, silent or
 * sends it byte by byte never holds the control thread (the upgrade's watch kills it at its
 * deadline; the EOF then lands here).
 * The hand-over itself runs synchronously from here: engines are parked, and every step is
 * bounded by TO_STEP_TIMEOUT_S. */
static void on_peer(int fd, void *arg)
{
	struct to_hello hello;
	uint32_t len = 0;
	int r = snap_takeover_gather(fd, &hello_in, T_HELLO, sizeof(hello), &hello, &len);
	if (r == -EAGAIN)
		return;
	if (r == 0 && len != sizeof(hello))
		r = -EPROTO;
	pid_t pid = child_pid;
	struct snap_takeover_result res = {.new_pid = pid};
	if (r == -ECONNRESET) {
		/* A child that exits is reported by the upgrade's watch, with its exit status. */
		channel_close();
		return;
	}
	if (r) {
		res.status = r;
		snprintf(res.msg, sizeof(res.msg), "takeover refused: bad hello from pid %d: %s "
			 "(killed)", (int)pid, r == -EMSGSIZE ? "frame longer than a hello"
							     : strerror(-r));
		kill_child(pid);
	} else {
		to_set_timeouts(fd, TO_STEP_TIMEOUT_S);
		struct snap_sbuf topo;
		snap_sbuf_init(&topo);
		serve(fd, pid, hello, &topo, &res);
		snap_sbuf_fini(&topo);
	}
	channel_close();
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
