/* Transparent upgrade, the new daemon's side (`snapnetd --takeover`, see takeover.h):
 * hand-shake, building the engines the old daemon runs (its run-time topology), receiving
 * fds and engine states into them, then starting the ports the old daemon released. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/build.h"
#include "core/config.h"
#include "snap/engine.h"
#include "core/fdreg.h"
#include "snap/log.h"
#include "snap/port.h"
#include "core/portsetup.h"
#include "core/takeover.h"
#include "core/takeover_int.h"

static int csock = -1;
static uint64_t polls_parked[SNAP_TAKEOVER_ENGINES_MAX]; /* each engine's, at the release */
static uint64_t ran_ns; /* when every engine had polled here (engines_ran_ns) */
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
		int fds[TO_FD_BATCH];
		unsigned nfds;
		int r = snap_takeover_recv(s, &type, &p, &len, TO_FD_BATCH * sizeof(struct to_fd),
					   fds, TO_FD_BATCH, &nfds);
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
			if (n_got >= sizeof(got_fds) / sizeof(got_fds[0]) || m[i].kind < 0 ||
			    m[i].kind > SNAP_FD_OTHER) {
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
	uint64_t t0 = to_mono_ns();
	int r = snap_engine_restore(e, (const uint8_t *)p + sizeof(h), len - sizeof(h));
	if (r)
		snprintf(msg, msglen, "engine %s: restore failed: %s", h.name, strerror(-r));
	else
		SNAP_LOG(NOTICE, "takeover: engine %u of %u (%s) restored in %.3f ms", h.index + 1,
			 h.total, h.name, (to_mono_ns() - t0) / 1e6);
	return r;
}

/* Pre-copies (T_PRECOPY) by engine index, each the payload of a T_ENGINE as it was while
 * the engine still ran, patched by its T_ENGINE_DELTA into the payload of now. */
static struct {
	uint8_t *data;
	size_t len, cap;
} pre[SNAP_TAKEOVER_ENGINES_MAX];

static void precopy_drop(unsigned i)
{
	free(pre[i].data);
	pre[i].data = NULL;
	pre[i].len = pre[i].cap = 0;
}

/* Takes p (a T_PRECOPY payload). 0 or -EPROTO (no header, index out of range). */
static int precopy_keep(void *p, uint32_t len)
{
	struct to_engine h;
	if (len < sizeof(h)) {
		free(p);
		return -EPROTO;
	}
	memcpy(&h, p, sizeof(h));
	if (h.index >= SNAP_TAKEOVER_ENGINES_MAX) {
		free(p);
		return -EPROTO;
	}
	precopy_drop(h.index);
	pre[h.index].data = p;
	pre[h.index].len = pre[h.index].cap = len;
	return 0;
}

/* A T_ENGINE_DELTA: its engine's pre-copy patched, then restored as a T_ENGINE. */
static int restore_delta(const void *p, uint32_t len, char *msg, size_t msglen)
{
	struct to_engine h;
	if (len < sizeof(h)) {
		snprintf(msg, msglen, "short engine delta");
		return -EPROTO;
	}
	memcpy(&h, p, sizeof(h));
	h.name[sizeof(h.name) - 1] = '\0';
	if (h.index >= SNAP_TAKEOVER_ENGINES_MAX || pre[h.index].data == NULL) {
		snprintf(msg, msglen, "engine %s: a delta without its pre-copy", h.name);
		return -EPROTO;
	}
	unsigned i = h.index;
	int r = to_delta_apply(&pre[i].data, &pre[i].len, &pre[i].cap, (const uint8_t *)p +
			       sizeof(h), len - sizeof(h), SNAP_TAKEOVER_FRAME_MAX);
	if (r == 0 && (pre[i].len < sizeof(h) || memcmp(pre[i].data, &h, sizeof(h.name)) != 0))
		r = -EPROTO; /* the patched payload must be this engine's */
	if (r)
		snprintf(msg, msglen, "engine %s: bad delta: %s", h.name, strerror(-r));
	else
		r = restore_one(pre[i].data, (uint32_t)pre[i].len, msg, msglen);
	precopy_drop(i);
	return r;
}

/* Receive the running daemon's topology and build its engines from it instead of the config
 * file's (parked; sched_cfg_apply makes their groups at module start), then tell the old
 * daemon, for whom a refusal here costs no blackout. 0 or -errno with err set. */
static int build_topology(int s, struct snap_config *cfg, char *err, size_t errlen)
{
	uint32_t type, len;
	void *p;
	int r = snap_takeover_recv(s, &type, &p, &len, TO_TOPO_MAX, NULL, 0, NULL);
	if (r) {
		snprintf(err, errlen, "takeover: no topology from the running daemon: %s",
			 strerror(-r));
		return r;
	}
	if (type != T_TOPOLOGY) {
		snprintf(err, errlen, "takeover: expected the topology, got message %u", type);
		r = -EPROTO;
	} else {
		r = to_topo_apply(p, len, cfg, err, errlen);
	}
	free(p);
	if (r == 0)
		r = snap_engines_build(cfg, err, errlen);
	int w = to_send_status(s, T_ACK, r, r ? err : "built");
	if (r == 0 && w) {
		snprintf(err, errlen, "takeover: lost the running daemon: %s", strerror(-w));
		r = w;
	}
	return r;
}

/* Ports were configured but not started (snap_ports_defer_start), exclusive ones not even
 * opened: the old daemon held the devices until now. A memif client connects to its peer's
 * server here; if that server is away, the link keeper connects it later (portlink.c), as
 * at a normal start. */
static int ports_start(char *err, size_t errlen)
{
	for (unsigned i = 0; i < snap_port_count(); i++) {
		struct snap_port *p = snap_port_at(i);
		uint64_t t0 = to_mono_ns();
		int r = snap_port_reclaim(p);
		if (r == 0)
			SNAP_LOG(NOTICE, "takeover: port %s started in %.3f ms", p->name,
				 (to_mono_ns() - t0) / 1e6);
		if (r && p->memif_client) {
			SNAP_LOG(WARNING, "takeover: port %s: memif server does not answer; the link "
				 "comes up when it does", p->name);
			continue;
		}
		if (r) {
			snprintf(err, errlen, "takeover: port %s: start failed: %s", p->name,
				 strerror(-r));
			return r;
		}
	}
	return 0;
}

/* The channel our parent (the old daemon) handed down, taken out of the environment so no
 * process we start inherits it. The fd or -errno with err set. */
static int channel_take(char *err, size_t errlen)
{
	const char *v = getenv(SNAP_TAKEOVER_FD_ENV);
	char *end = NULL;
	long fd = v && v[0] ? strtol(v, &end, 10) : -1;
	if (fd < 3 || fd > 1024 || *end != '\0') {
		snprintf(err, errlen, "takeover: no takeover channel (%s): --takeover is for the "
			 "binary `snapctl upgrade` starts", SNAP_TAKEOVER_FD_ENV);
		return -ENOTCONN;
	}
	unsetenv(SNAP_TAKEOVER_FD_ENV);
	int s = (int)fd, type = 0;
	socklen_t tl = sizeof(type);
	if (fcntl(s, F_SETFD, FD_CLOEXEC) != 0 ||
	    getsockopt(s, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 || type != SOCK_STREAM) {
		snprintf(err, errlen, "takeover: fd %d is not a stream socket", s);
		return -ENOTCONN;
	}
	/* A socketpair's credentials are its creator's: the old daemon, our parent. */
	int r = to_peer_is(s, getppid());
	if (r) {
		snprintf(err, errlen, "takeover: the channel's peer is not our parent daemon with "
			 "our uid");
		close(s);
		return r;
	}
	return s;
}

int snap_takeover_client(struct snap_config *cfg, char *err, size_t errlen)
{
	int s = channel_take(err, errlen);
	if (s < 0)
		return s;
	int r;
	to_set_timeouts(s, TO_STEP_TIMEOUT_S);
	uint32_t readv = SNAP_TAKEOVER_STATE_VERSION;
	const char *fake = getenv("SNAP_TAKEOVER_FAKE_VERSION");
	if (fake && fake[0])
		readv = (uint32_t)strtoul(fake, NULL, 10);
	struct to_hello h = {.read_version = readv, .pid = getpid()};
	snprintf(h.build, sizeof(h.build), "%s", to_build_id());
	struct to_welcome w;
	r = snap_takeover_send(s, T_HELLO, &h, sizeof(h), NULL, 0);
	if (r == 0)
		r = to_recv_fixed(s, T_WELCOME, &w, sizeof(w));
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
	uint32_t lo = fake && fake[0] ? readv : SNAP_TAKEOVER_STATE_VERSION_MIN;
	char m[160] = "";
	if (w.version < lo || w.version > readv) {
		snprintf(m, sizeof(m), "binary %s reads state versions %u-%u, running daemon (build "
			 "%s) writes version %u", to_build_id(), lo, readv, w.build, w.version);
		r = -EPROTONOSUPPORT;
	} else if (w.version == 1) {
		r = to_check_read_v1(m, sizeof(m));
	}
	if (r) {
		to_send_status(s, T_REFUSE, r, m);
		snprintf(err, errlen, "takeover: %s: refusing before any blackout", m);
		goto fail;
	}
	if (w.version == 1) {
		/* A 0.1.0 daemon sends no topology: build what our config file says, as 0.1.0
		 * does, before saying go (a bad config is refused with nothing parked). */
		r = snap_engines_build(cfg, m, sizeof(m));
		if (r) {
			to_send_status(s, T_REFUSE, r, m);
			snprintf(err, errlen, "takeover: %s", m);
			goto fail;
		}
		r = snap_takeover_send(s, T_GO, NULL, 0, NULL, 0);
	} else {
		/* Tell what we read, part by part; the old daemon plans or refuses, then sends
		 * what it runs for us to build. */
		static struct to_reads rd;
		struct to_status plan = {0};
		r = to_reads_mine(&rd);
		if (r == 0)
			r = snap_takeover_send(s, T_READS, &rd, sizeof(rd), NULL, 0);
		if (r == 0)
			r = to_recv_fixed(s, T_PLAN, &plan, sizeof(plan));
		if (r == 0 && plan.status) {
			plan.msg[sizeof(plan.msg) - 1] = '\0';
			snprintf(err, errlen, "takeover: the running daemon (build %s) refused: %s",
				 w.build, plan.msg);
			r = plan.status < 0 ? plan.status : -EPROTONOSUPPORT;
			goto fail;
		}
		if (r == 0 && (r = build_topology(s, cfg, err, errlen)) != 0)
			goto fail;
	}
	if (r == 0)
		r = recv_fds(s);
	if (r) {
		snprintf(err, errlen, "takeover: fd hand-over failed: %s", strerror(-r));
		goto fail;
	}
	const char *die = getenv("SNAP_TAKEOVER_DIE_AFTER");
	unsigned die_after = die && die[0] ? (unsigned)strtoul(die, NULL, 10) : 0, restored = 0;
	const char *slow = getenv("SNAP_TAKEOVER_ACK_DELAY_MS");
	unsigned ack_delay_ms = slow && slow[0] ? (unsigned)strtoul(slow, NULL, 10) : 0;
	for (;;) {
		uint32_t type, len;
		void *p;
		r = snap_takeover_recv(s, &type, &p, &len, SNAP_TAKEOVER_FRAME_MAX, NULL, 0, NULL);
		if (r) {
			snprintf(err, errlen, "takeover: lost the running daemon: %s", strerror(-r));
			goto fail;
		}
		if (type == T_RELEASED) {
			free(p);
			break;
		}
		if (type == T_PRECOPY) { /* kept until its engine's delta */
			r = precopy_keep(p, len);
			int ws = to_send_status(s, T_ACK, r, r ? "bad pre-copy" : "kept");
			if (r || ws) {
				r = r ? r : ws;
				snprintf(err, errlen, "takeover: pre-copy: %s", strerror(-r));
				goto fail;
			}
			continue;
		}
		if (type != T_ENGINE && type != T_ENGINE_DELTA) {
			free(p);
			snprintf(err, errlen, "takeover: unexpected message %u", type);
			r = -EPROTO;
			goto fail;
		}
		m[0] = '\0';
		int st = type == T_ENGINE ? restore_one(p, len, m, sizeof(m))
					  : restore_delta(p, len, m, sizeof(m));
		free(p);
		if (st == 0 && die_after && ++restored >= die_after) {
			fprintf(stderr, "snapnetd: SNAP_TAKEOVER_DIE_AFTER=%u: dying mid-takeover\n",
				die_after);
			_exit(1);
		}
		if (ack_delay_ms && ack_delay_ms < 5000) /* test hook: a slow restore */
			usleep(ack_delay_ms * 1000u);
		r = to_send_status(s, T_ACK, st, m);
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
	/* Test hook: the failure that costs most to undo (the old daemon must open the ports
	 * we now hold again, after we are gone). Only while the named file exists, so a test
	 * fails just the upgrades it chooses. */
	const char *die_rel = getenv("SNAP_TAKEOVER_DIE_RELEASED");
	if (die_rel && die_rel[0] && access(die_rel, F_OK) == 0) {
		fprintf(stderr, "snapnetd: SNAP_TAKEOVER_DIE_RELEASED: dying with the ports open\n");
		_exit(1);
	}
	/* Each engine's poll count now, while parked: the running report waits for it to move. */
	for (unsigned i = 0; i < snap_engine_count() && i < SNAP_TAKEOVER_ENGINES_MAX; i++) {
		struct snap_engine_stats es;
		snap_engine_stats_read(snap_engine_at(i), &es);
		polls_parked[i] = es.polls;
	}
	csock = s;
	for (unsigned i = 0; i < SNAP_TAKEOVER_ENGINES_MAX; i++)
		precopy_drop(i); /* any the old daemon sent no delta for */
	return 0;
fail:
	for (unsigned i = 0; i < SNAP_TAKEOVER_ENGINES_MAX; i++)
		precopy_drop(i);
	close_got_fds();
	close(s);
	return r;
}

/* When every engine had polled here since the hand-over (the groups started them), or 0 if
 * one has not within TO_RAN_WAIT_MS (an engine no group runs): then the report carries no
 * stamp and the old daemon counts to its arrival. */
static uint64_t engines_ran_ns(void)
{
	uint64_t limit = to_mono_ns() + TO_RAN_WAIT_MS * 1000000ull;
	unsigned n = snap_engine_count();
	if (n > SNAP_TAKEOVER_ENGINES_MAX)
		return 0;
	for (unsigned i = 0; i < n;) {
		struct snap_engine_stats es;
		snap_engine_stats_read(snap_engine_at(i), &es);
		if (es.polls != polls_parked[i]) {
			i++;
			continue;
		}
		if (to_mono_ns() > limit)
			return 0;
		struct timespec ts = {0, 20000};
		nanosleep(&ts, NULL);
	}
	return to_mono_ns();
}

void snap_takeover_client_engines_started(void)
{
	if (csock >= 0 && ran_ns == 0)
		ran_ns = engines_ran_ns();
}

int snap_takeover_client_finish(void)
{
	if (csock < 0)
		return -ENOTCONN;
	close_got_fds();
	char msg[sizeof(((struct to_status *)0)->msg)] = "running";
	uint64_t ran = ran_ns ? ran_ns : engines_ran_ns();
	if (ran)
		snprintf(msg, sizeof(msg), TO_RUNNING_FMT, (unsigned long long)ran);
	int r = to_send_status(csock, T_RUNNING, 0, msg);
	close(csock);
	csock = -1;
	return r;
}
