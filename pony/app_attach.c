/* The app attach socket (control thread): accept apps on a Unix SOCK_SEQPACKET socket, check
 * the peer's credentials against the policy, create the app's shared region and hand it to
 * its engine, pass memfd + eventfds with SCM_RIGHTS, and detach the app when its socket
 * closes. A small poll-style API lets the daemon's main loop drive it; every fd is listed
 * for the upgrade fd registry. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "pony/app.h"
#include "pony/shm.h"
#include "snap/counters.h"
#include "core/fdpass.h"
#include "snap/log.h"
#include "core/unixsock.h"

#define PEER_GROUPS_MAX 64
#define REFUSED_LINGER_MS 1000
#define REFUSED_MAX 64 /* lingering refused sockets; beyond that close at once */

/* REFUSED: the refusal was sent; we wait for the app to close (closing first, with its
 * hello unread, would make its kernel report a reset instead of our reason). */
enum conn_state { CONN_WAIT_REQ, CONN_ATTACHED, CONN_DETACH_PENDING, CONN_REFUSED };

struct attach_conn {
	struct attach_conn *next;
	int fd;
	enum conn_state state;
	uint32_t app_id;
	uid_t uid;
	uint32_t own_ok;      /* pony_app_owner_mask of the peer, for its session */
	uint64_t since_ms;
	struct pony_app_host *host;
	struct pony_app_session *s;
	int memfd, cmd_efd, cpl_efd; /* owned here (the session only uses them) */
};

struct pony_app_attach {
	struct pony_app_config cfg;
	int lfd;
	struct attach_conn *conns;
	unsigned n_attached;
	unsigned n_refused;
	unsigned n_pending;     /* CONN_WAIT_REQ: bounded by cfg.max_pending */
	uint64_t cnt[PONY_ATTACH_C_MAX];
	uint32_t next_id;
	struct pony_app_attach_hooks hooks;
	void *hooks_ctx;
};

static void host_gone(void *ctx, struct pony_app_host *h);

static int fd_added(struct pony_app_attach *a, int fd, enum pony_app_fd_kind k, uint32_t id)
{
	if (a->hooks.fd_added && fd >= 0)
		return a->hooks.fd_added(a->hooks_ctx, fd, k, id);
	return 0;
}

static void fd_removed(struct pony_app_attach *a, int fd, enum pony_app_fd_kind k, uint32_t id)
{
	if (a->hooks.fd_removed && fd >= 0)
		a->hooks.fd_removed(a->hooks_ctx, fd, k, id);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int pony_app_policy_check(const struct pony_app_config *c, uid_t uid, const gid_t *gids,
			  unsigned n_gids, char *msg, size_t msglen)
{
	if (c->allow_own_uid && uid == geteuid())
		return 0;
	for (unsigned i = 0; i < c->n_allow_uids; i++)
		if (c->allow_uids[i] == uid)
			return 0;
	for (unsigned i = 0; i < c->n_allow_gids; i++)
		for (unsigned j = 0; j < n_gids; j++)
			if (c->allow_gids[i] == gids[j])
				return 0;
	snprintf(msg, msglen,
		 "snapnetd refused uid %u (gid %u): not allowed by the app policy (config "
		 "daemon.allow_users / daemon.allow_groups)",
		 (unsigned)uid, n_gids ? (unsigned)gids[0] : 0u);
	return -EACCES;
}

/* Send a reply, with fds when nfds > 0. 0 or -errno. Never blocks, never raises SIGPIPE. */
static int send_rep(int fd, const struct pony_attach_rep *rep, const int *fds, unsigned nfds)
{
	long n = snap_fdpass_send(fd, rep, sizeof(*rep), fds, nfds, MSG_DONTWAIT);
	if (n < 0)
		return (int)n;
	return n == (long)sizeof(*rep) ? 0 : -EPROTO;
}

static void refuse(int fd, int status, const char *msg)
{
	struct pony_attach_rep rep = {
		.magic = PONY_ATTACH_MAGIC, .version = PONY_SHM_VERSION, .status = status,
	};
	snprintf(rep.msg, sizeof(rep.msg), "%s", msg);
	send_rep(fd, &rep, NULL, 0);
}

struct pony_app_attach *pony_app_attach_create(const struct pony_app_config *c)
{
	char err[160];
	if (pony_app_config_check(c, err, sizeof(err)) != 0) {
		SNAP_LOG(ERR, "%s", err);
		errno = EINVAL;
		return NULL;
	}
	struct pony_app_attach *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return NULL;
	a->cfg = *c;
	a->next_id = 1;
	char why[256];
	a->lfd = snap_unix_listen(c->socket_path, SOCK_SEQPACKET, c->socket_mode, c->socket_gid,
				  64, why, sizeof(why));
	if (a->lfd >= 0) {
		int w = pony_app_host_watch(host_gone, a);
		if (w == 0)
			return a;
		close(a->lfd);
		unlink(c->socket_path);
		snprintf(why, sizeof(why), "%s: cannot watch hosts: %s", c->socket_path,
			 strerror(-w));
		a->lfd = w;
	}
	SNAP_LOG(ERR, "app socket: %s", why);
	int e = -a->lfd;
	free(a);
	errno = e;
	return NULL;
}

struct pony_app_attach *pony_app_attach_adopt_listener(const struct pony_app_config *c, int lfd)
{
	char err[160];
	int fl = fcntl(lfd, F_GETFL);
	if (pony_app_config_check(c, err, sizeof(err)) != 0 || fl < 0 ||
	    fcntl(lfd, F_SETFL, fl | O_NONBLOCK) != 0) {
		errno = EINVAL;
		return NULL;
	}
	struct pony_app_attach *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return NULL;
	a->cfg = *c;
	a->next_id = 1;
	a->lfd = lfd;
	if (pony_app_host_watch(host_gone, a) != 0) {
		free(a);
		errno = ENOSPC;
		return NULL;
	}
	return a;
}

int pony_app_attach_adopt(struct pony_app_attach *a, struct pony_app_host *h,
			  struct pony_app_session *s, uint32_t app_id, int sock, uid_t uid)
{
	struct attach_conn *cn = calloc(1, sizeof(*cn));
	if (cn == NULL)
		return -ENOMEM;
	cn->fd = sock;
	cn->state = CONN_ATTACHED;
	cn->app_id = app_id;
	cn->uid = uid;
	/* The old daemon's session: its user's groups are not saved, only its uid counts. */
	pony_app_session_set_owner(s, &a->cfg, pony_app_owner_mask(&a->cfg, uid, NULL, 0));
	cn->since_ms = now_ms();
	cn->host = h;
	cn->s = s;
	pony_app_session_fds(s, &cn->memfd, &cn->cmd_efd, &cn->cpl_efd);
	cn->next = a->conns;
	a->conns = cn;
	a->n_attached++;
	if (app_id >= a->next_id)
		a->next_id = app_id + 1;
	fd_added(a, cn->fd, PONY_APP_FD_CONN, app_id);
	fd_added(a, cn->memfd, PONY_APP_FD_MEMFD, app_id);
	fd_added(a, cn->cmd_efd, PONY_APP_FD_CMD_EFD, app_id);
	fd_added(a, cn->cpl_efd, PONY_APP_FD_CPL_EFD, app_id);
	return 0;
}

static void conn_close_fds(struct pony_app_attach *a, struct attach_conn *cn)
{
	int fds[4] = {cn->fd, cn->memfd, cn->cmd_efd, cn->cpl_efd};
	static const enum pony_app_fd_kind kinds[4] = {PONY_APP_FD_CONN, PONY_APP_FD_MEMFD,
						       PONY_APP_FD_CMD_EFD, PONY_APP_FD_CPL_EFD};
	for (int i = 0; i < 4; i++) {
		if (fds[i] < 0)
			continue;
		fd_removed(a, fds[i], kinds[i], cn->app_id);
		close(fds[i]);
	}
}

static void conn_unlink(struct pony_app_attach *a, struct attach_conn *cn)
{
	if (cn->state == CONN_REFUSED)
		a->n_refused--;
	if (cn->state == CONN_WAIT_REQ)
		a->n_pending--;
	for (struct attach_conn **p = &a->conns; *p; p = &(*p)->next)
		if (*p == cn) {
			*p = cn->next;
			break;
		}
	conn_close_fds(a, cn);
	free(cn);
}

/* h is being destroyed (its engine was, with apps attached) and took its sessions with it:
 * forget them and hang up on those apps, which then see the daemon close their socket. */
static void host_gone(void *ctx, struct pony_app_host *h)
{
	struct pony_app_attach *a = ctx;
	struct attach_conn *next;
	for (struct attach_conn *cn = a->conns; cn; cn = next) {
		next = cn->next;
		if (cn->host != h)
			continue;
		if (cn->s) {
			cn->s = NULL;
			a->n_attached--;
		}
		SNAP_LOG(INFO, "app %u (uid %u) detached: its engine was destroyed", cn->app_id,
			 (unsigned)cn->uid);
		conn_unlink(a, cn);
	}
}

/* Detach an attached app (or retry). The fds are closed only once the engine let go. */
static void conn_detach(struct pony_app_attach *a, struct attach_conn *cn)
{
	if (cn->s) {
		int r = pony_app_host_detach(cn->host, cn->s);
		if (r) {
			SNAP_LOG(WARNING, "app %u: detach failed (%s), will retry", cn->app_id,
				 strerror(-r));
			cn->state = CONN_DETACH_PENDING;
			return;
		}
		cn->s = NULL;
		a->n_attached--;
		SNAP_LOG(INFO, "app %u (uid %u) detached", cn->app_id, (unsigned)cn->uid);
	}
	conn_unlink(a, cn);
}

/* Make room for a new hello: close the oldest pending one. A flood of idle connects thus
 * only ever delays itself; an app sends its hello right after connecting and is served
 * at accept time (handle_listener), long before max_pending newer ones push it out. */
static void evict_oldest_pending(struct pony_app_attach *a)
{
	struct attach_conn *old = NULL;
	for (struct attach_conn *cn = a->conns; cn; cn = cn->next)
		if (cn->state == CONN_WAIT_REQ && (old == NULL || cn->since_ms < old->since_ms))
			old = cn;
	if (old == NULL)
		return;
	a->cnt[PONY_ATTACH_C_HELLO_EVICTED]++;
	SNAP_LOG_LIMITED(NOTICE, 1000, "apps: %u connections in their hello, closing the oldest "
			 "(uid %u)", a->n_pending, (unsigned)old->uid);
	refuse(old->fd, -EAGAIN, "snapnetd: too many connections in their hello; try again");
	conn_unlink(a, old);
}

static void handle_req(struct pony_app_attach *a, struct attach_conn *cn);

static void handle_listener(struct pony_app_attach *a)
{
	/* Bounded: at most a handful per call so one flood cannot starve the control loop. */
	for (int k = 0; k < 16; k++) {
		int fd = accept4(a->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED) {
				a->cnt[PONY_ATTACH_C_ACCEPT_ERRORS]++;
				SNAP_LOG_LIMITED(WARNING, 1000, "apps: accept: %s", strerror(errno));
			}
			return;
		}
		a->cnt[PONY_ATTACH_C_ACCEPTED]++;
		struct ucred cr;
		socklen_t len = sizeof(cr);
		gid_t gids[PEER_GROUPS_MAX + 1];
		unsigned n_gids = 0;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0) {
			close(fd);
			continue;
		}
		gids[n_gids++] = cr.gid;
		socklen_t glen = sizeof(gids) - sizeof(gids[0]);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, &gids[1], &glen) == 0)
			n_gids += glen / sizeof(gid_t);
		char msg[PONY_ATTACH_MSG_MAX];
		int r = pony_app_policy_check(&a->cfg, cr.uid, gids, n_gids, msg, sizeof(msg));
		enum pony_attach_counter why = PONY_ATTACH_C_REFUSED_POLICY;
		if (r == 0 && a->n_attached >= a->cfg.max_apps) {
			snprintf(msg, sizeof(msg), "snapnetd: app limit (%u) reached",
				 a->cfg.max_apps);
			r = -ENOSPC;
			why = PONY_ATTACH_C_REFUSED_MAX_APPS;
		}
		if (r) {
			a->cnt[why]++;
			SNAP_LOG_LIMITED(NOTICE, 1000, "app attach from pid %d uid %u refused: %s",
					 (int)cr.pid, (unsigned)cr.uid, msg);
			refuse(fd, r, msg);
			shutdown(fd, SHUT_WR);
			if (a->n_refused >= REFUSED_MAX) {
				close(fd);
				continue;
			}
		} else if (a->n_pending >= a->cfg.max_pending) {
			evict_oldest_pending(a);
		}
		struct attach_conn *cn = calloc(1, sizeof(*cn));
		if (cn == NULL) {
			a->cnt[PONY_ATTACH_C_ACCEPT_ERRORS]++;
			if (!r)
				refuse(fd, -ENOMEM, "snapnetd: out of memory");
			close(fd);
			continue;
		}
		cn->fd = fd;
		cn->memfd = cn->cmd_efd = cn->cpl_efd = -1;
		cn->uid = cr.uid;
		cn->own_ok = pony_app_owner_mask(&a->cfg, cr.uid, gids, n_gids);
		cn->since_ms = now_ms();
		cn->state = r ? CONN_REFUSED : CONN_WAIT_REQ;
		a->n_refused += r != 0;
		a->n_pending += r == 0;
		cn->next = a->conns;
		a->conns = cn;
		if (fd_added(a, fd, PONY_APP_FD_CONN, 0) < 0) {
			/* The loop said why (rate-limited); the app sees its socket close. */
			a->cnt[PONY_ATTACH_C_FD_REFUSED]++;
			conn_unlink(a, cn);
			continue;
		}
		if (r == 0)
			handle_req(a, cn); /* the hello is usually there already */
	}
}

/* Apps attached to h (their sessions may be busier or idler: attached apps is what the
 * control thread knows without asking the engines). */
static unsigned host_load(const struct pony_app_host *h, void *ctx)
{
	const struct pony_app_attach *a = ctx;
	unsigned n = 0;
	for (const struct attach_conn *cn = a->conns; cn; cn = cn->next)
		n += cn->host == h && cn->state == CONN_ATTACHED;
	return n;
}

/* The app's hello: validate, build its session, hand it to the engine, reply with fds. */
static void handle_req(struct pony_app_attach *a, struct attach_conn *cn)
{
	struct pony_attach_req req;
	ssize_t n = recv(cn->fd, &req, sizeof(req), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	char msg[PONY_ATTACH_MSG_MAX];
	int st = 0;
	if (n != (ssize_t)sizeof(req) || req.magic != PONY_ATTACH_MAGIC) {
		if (n > 0) {
			a->cnt[PONY_ATTACH_C_REFUSED_HELLO]++;
			refuse(cn->fd, -EPROTO, "snapnetd: malformed attach request");
		}
		conn_unlink(a, cn);
		return;
	}
	req.engine[sizeof(req.engine) - 1] = '\0';
	const char *eng = req.engine[0] ? req.engine : a->cfg.engine;
	struct pony_app_host *h = strcmp(eng, PONY_APP_ENGINE_ANY) == 0
					  ? pony_app_host_least(host_load, a)
					  : pony_app_host_find(eng);
	if (h)
		eng = pony_app_host_name(h);
	if (!pony_shm_version_ok(req.version)) {
		st = -EPROTO;
		snprintf(msg, sizeof(msg), "snapnetd speaks app protocol %u..%u, library %u",
			 PONY_SHM_VERSION_MIN, PONY_SHM_VERSION, req.version);
	} else if (h == NULL) {
		st = -ENODEV;
		snprintf(msg, sizeof(msg), "snapnetd has no Pony engine named '%s'", eng);
	} else if (a->n_attached >= a->cfg.max_apps) {
		/* Checked again: several connections may have passed the accept-time check. */
		st = -ENOSPC;
		snprintf(msg, sizeof(msg), "snapnetd: app limit (%u) reached", a->cfg.max_apps);
	}
	if (st) {
		a->cnt[st == -ENOSPC ? PONY_ATTACH_C_REFUSED_MAX_APPS : PONY_ATTACH_C_REFUSED_HELLO]++;
		refuse(cn->fd, st, msg);
		conn_unlink(a, cn);
		return;
	}
	uint32_t id = a->next_id++;
	cn->app_id = id;
	struct pony_app_session *s = pony_app_session_create(&a->cfg, id, cn->fd,
							     pony_app_host_socket(h));
	if (s == NULL) {
		st = -errno;
		snprintf(msg, sizeof(msg), "snapnetd: cannot create shared region: %s",
			 strerror(errno));
		refuse(cn->fd, st, msg);
		conn_unlink(a, cn);
		return;
	}
	pony_app_session_set_owner(s, &a->cfg, cn->own_ok);
	pony_app_session_set_version(s, req.version);
	pony_app_session_fds(s, &cn->memfd, &cn->cmd_efd, &cn->cpl_efd);
	fd_added(a, cn->memfd, PONY_APP_FD_MEMFD, id);
	fd_added(a, cn->cmd_efd, PONY_APP_FD_CMD_EFD, id);
	fd_added(a, cn->cpl_efd, PONY_APP_FD_CPL_EFD, id);
	st = pony_app_host_adopt(h, s);
	if (st) {
		pony_app_session_free(s);
		snprintf(msg, sizeof(msg), "snapnetd: engine '%s' did not take the app: %s", eng,
			 strerror(-st));
		refuse(cn->fd, st, msg);
		conn_unlink(a, cn);
		return;
	}
	cn->s = s;
	cn->host = h;
	cn->app_id = id;
	cn->state = CONN_ATTACHED;
	a->n_pending--;
	a->n_attached++;
	a->cnt[PONY_ATTACH_C_ATTACHED]++;
	const struct pony_shm_hdr *hdr = pony_app_session_base(s);
	struct pony_attach_rep rep = {
		.magic = PONY_ATTACH_MAGIC, .version = req.version, .status = 0,
		.region_size = hdr->region_size, .app_id = id,
	};
	snprintf(rep.msg, sizeof(rep.msg), "attached to engine %s as app %u", eng, id);
	int fds[3] = {cn->memfd, cn->cmd_efd, cn->cpl_efd};
	if (send_rep(cn->fd, &rep, fds, 3) != 0) {
		conn_detach(a, cn);
		return;
	}
	SNAP_LOG(INFO, "app %u (uid %u) attached to engine %s", id, (unsigned)cn->uid, eng);
}

int pony_app_attach_handle(struct pony_app_attach *a, int fd, short revents)
{
	if (fd == a->lfd) {
		handle_listener(a);
		return 0;
	}
	for (struct attach_conn *cn = a->conns; cn; cn = cn->next) {
		if (cn->fd != fd)
			continue;
		if (cn->state == CONN_REFUSED) {
			char junk[sizeof(struct pony_attach_req)];
			ssize_t n = recv(cn->fd, junk, sizeof(junk), MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				conn_unlink(a, cn);
			return 0;
		}
		if (cn->state == CONN_WAIT_REQ) {
			if (revents & (POLLHUP | POLLERR) && !(revents & POLLIN))
				conn_unlink(a, cn);
			else
				handle_req(a, cn);
			return 0;
		}
		if (cn->state != CONN_ATTACHED)
			return 0;
		/* Apps send nothing after the hello: data is discarded, EOF/error detaches. */
		char junk[256];
		ssize_t n = recv(cn->fd, junk, sizeof(junk), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
		    (revents & (POLLHUP | POLLERR)))
			conn_detach(a, cn);
		return 0;
	}
	return -ENOENT;
}

void pony_app_attach_tick(struct pony_app_attach *a)
{
	uint64_t now = now_ms();
	struct attach_conn *next;
	for (struct attach_conn *cn = a->conns; cn; cn = next) {
		next = cn->next;
		if (cn->state == CONN_DETACH_PENDING) {
			conn_detach(a, cn);
		} else if (cn->state == CONN_WAIT_REQ &&
			   now - cn->since_ms > a->cfg.hello_timeout_ms) {
			a->cnt[PONY_ATTACH_C_HELLO_TIMEOUT]++;
			SNAP_LOG_LIMITED(NOTICE, 1000, "apps: closing a connection of uid %u: no "
					 "hello in %u ms", (unsigned)cn->uid, a->cfg.hello_timeout_ms);
			conn_unlink(a, cn);
		} else if (cn->state == CONN_REFUSED && now - cn->since_ms > REFUSED_LINGER_MS) {
			conn_unlink(a, cn);
		}
	}
}

unsigned pony_app_attach_pollfds(const struct pony_app_attach *a, struct pollfd *out,
				 unsigned max)
{
	unsigned n = 0;
	if (n < max)
		out[n++] = (struct pollfd){.fd = a->lfd, .events = POLLIN};
	for (const struct attach_conn *cn = a->conns; cn && n < max; cn = cn->next)
		if (cn->state != CONN_DETACH_PENDING)
			out[n++] = (struct pollfd){.fd = cn->fd, .events = POLLIN};
	return n;
}

unsigned pony_app_attach_fds(const struct pony_app_attach *a, struct pony_app_fd *out,
			     unsigned max)
{
	unsigned n = 0;
#define PUT(f, k, id)                                                                     \
	do {                                                                              \
		if ((f) >= 0) {                                                           \
			if (n < max)                                                      \
				out[n] = (struct pony_app_fd){(f), (k), (id)};            \
			n++;                                                              \
		}                                                                         \
	} while (0)
	PUT(a->lfd, PONY_APP_FD_LISTENER, 0);
	for (const struct attach_conn *cn = a->conns; cn; cn = cn->next) {
		PUT(cn->fd, PONY_APP_FD_CONN, cn->app_id);
		PUT(cn->memfd, PONY_APP_FD_MEMFD, cn->app_id);
		PUT(cn->cmd_efd, PONY_APP_FD_CMD_EFD, cn->app_id);
		PUT(cn->cpl_efd, PONY_APP_FD_CPL_EFD, cn->app_id);
	}
#undef PUT
	return n;
}

unsigned pony_app_attach_count(const struct pony_app_attach *a)
{
	return a->n_attached;
}

unsigned pony_app_attach_pending(const struct pony_app_attach *a)
{
	return a->n_pending;
}

SNAP_X_NAME_FN(pony_app_attach_counter_name, PONY_ATTACH_COUNTERS)

uint64_t pony_app_attach_counter(const struct pony_app_attach *a, unsigned c)
{
	return c < PONY_ATTACH_C_MAX ? a->cnt[c] : 0;
}

void pony_app_attach_destroy(struct pony_app_attach *a)
{
	if (a == NULL)
		return;
	/* Bounded retries: an engine that never answers leaves its sessions (and their fds)
	 * behind rather than letting us free memory it may still touch. */
	for (int tries = 0; a->conns && tries < 3; tries++) {
		struct attach_conn *next;
		for (struct attach_conn *cn = a->conns; cn; cn = next) {
			next = cn->next;
			/* An app in the middle of its hello: say why, so libpony tries again
			 * (an upgrade's new daemon is already serving the listener). */
			if (cn->state == CONN_WAIT_REQ)
				refuse(cn->fd, -EAGAIN,
				       "snapnetd: this daemon is stopping or being upgraded; try again");
			conn_detach(a, cn);
		}
	}
	pony_app_host_unwatch(host_gone, a);
	fd_removed(a, a->lfd, PONY_APP_FD_LISTENER, 0);
	close(a->lfd);
	unlink(a->cfg.socket_path);
	free(a);
}

void pony_app_attach_set_hooks(struct pony_app_attach *a, const struct pony_app_attach_hooks *h,
			       void *ctx)
{
	a->hooks = h ? *h : (struct pony_app_attach_hooks){0};
	a->hooks_ctx = ctx;
	fd_added(a, a->lfd, PONY_APP_FD_LISTENER, 0);
	for (const struct attach_conn *cn = a->conns; cn; cn = cn->next) {
		fd_added(a, cn->fd, PONY_APP_FD_CONN, cn->app_id);
		fd_added(a, cn->memfd, PONY_APP_FD_MEMFD, cn->app_id);
		fd_added(a, cn->cmd_efd, PONY_APP_FD_CMD_EFD, cn->app_id);
		fd_added(a, cn->cpl_efd, PONY_APP_FD_CPL_EFD, cn->app_id);
	}
}

void pony_app_attach_set_policy(struct pony_app_attach *a, const struct pony_app_config *c)
{
	memcpy(a->cfg.allow_uids, c->allow_uids, sizeof(a->cfg.allow_uids));
	a->cfg.n_allow_uids = c->n_allow_uids;
	memcpy(a->cfg.allow_gids, c->allow_gids, sizeof(a->cfg.allow_gids));
	a->cfg.n_allow_gids = c->n_allow_gids;
	a->cfg.allow_own_uid = c->allow_own_uid;
	memcpy(a->cfg.owners, c->owners, sizeof(a->cfg.owners));
	a->cfg.n_owners = c->n_owners;
}
