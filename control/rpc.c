/* Control RPC server: Unix socket, length-prefixed protobuf envelopes, per-connection buffers,
 * SO_PEERCRED authorization and dispatch into the method table (rpc_call.c). Runs
 * non-blocking on the control thread; nothing here touches engine state. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control/ctl.pb-c.h"
#include "control/rpc.h"
#include "control/rpc_internal.h"
#include "snap/counters.h"
#include "snap/log.h"
#include "core/unixsock.h"

#define EVENTS_BATCH 32
#define ACCEPTS_PER_PASS 16

uint64_t ctl_rpc_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void ctl_rpc_config_default(struct ctl_rpc_config *c)
{
	memset(c, 0, sizeof(*c));
	c->path = CTL_SOCKET_DEFAULT;
	c->mode = 0660;
	c->max_msg = CTL_MAX_MSG_DEFAULT;
	c->max_clients = 64;
	c->idle_evict_ms = 5000;
	c->hello_timeout_ms = 3000;
	c->max_out = 256u << 10;
	c->budget = 8;
}

int ctl_rpc_listen_fd(const struct ctl_rpc_server *s)
{
	return s->lfd;
}

int ctl_rpc_fd(const struct ctl_rpc_server *s)
{
	return s->epfd;
}

unsigned ctl_rpc_n_clients(const struct ctl_rpc_server *s)
{
	return s->n_clients;
}

SNAP_X_NAME_FN(ctl_rpc_counter_name, CTL_RPC_COUNTERS)

uint64_t ctl_rpc_counter(const struct ctl_rpc_server *s, unsigned c)
{
	return c < CTL_RPC_C_MAX ? s->cnt[c] : 0;
}

void ctl_rpc_bury(struct ctl_rpc_server *s, struct ctl_rpc_item *it)
{
	struct ctl_rpc_item **pp = &s->items;
	while (*pp && *pp != it)
		pp = &(*pp)->next;
	if (*pp)
		*pp = it->next;
	it->dead = true;
	it->next = s->graveyard;
	s->graveyard = it;
}

void ctl_rpc_free_graveyard(struct ctl_rpc_server *s)
{
	while (s->graveyard) {
		struct ctl_rpc_item *it = s->graveyard;
		s->graveyard = it->next;
		if (it->kind == ITEM_CONN) {
			struct ctl_rpc_conn *c = (struct ctl_rpc_conn *)it;
			free(c->in);
			free(c->out);
		}
		free(it);
	}
}

/* ---- requests ---------------------------------------------------------------------------- */

/* One complete frame: decode the envelope, authorize, dispatch. */
void ctl_rpc_dispatch(struct ctl_rpc_conn *c, const uint8_t *frame, size_t len)
{
	struct ctl_rpc_server *s = c->s;
	s->cnt[CTL_RPC_C_REQUESTS]++;
	Ctl__Request *req = ctl__request__unpack(NULL, len, frame);
	if (req == NULL) {
		ctl_rpc_send_error(c, 0, NULL, EBADMSG, "malformed request envelope");
		return;
	}
	if (req->version != CTL_PROTO_VERSION) {
		char msg[ERRMSG_MAX];
		snprintf(msg, sizeof(msg), "protocol version %u not supported (daemon speaks %u)",
			 req->version, CTL_PROTO_VERSION);
		ctl_rpc_send_error(c, req->id, req->method, EPROTONOSUPPORT, msg);
		goto out;
	}
	const struct ctl_rpc_method *m = ctl_rpc_method_find(req->method);
	if (m == NULL) {
		char msg[ERRMSG_MAX];
		snprintf(msg, sizeof(msg), "unknown or unimplemented method '%.64s'", req->method);
		ctl_rpc_send_error(c, req->id, req->method, ENOSYS, msg);
		goto out;
	}
	bool allowed = c->operator || (m->flags == CTL_RPC_READONLY && s->readonly_open);
	if (!allowed) {
		char msg[ERRMSG_MAX];
		snprintf(msg, sizeof(msg),
			 "permission denied: '%s' needs root, the daemon's user or the operator "
			 "group (uid %u)", m->name, (unsigned)c->uid);
		SNAP_LOG(NOTICE, "control: refused %s for uid %u pid %d", m->name,
			 (unsigned)c->uid, (int)c->pid);
		ctl_rpc_send_error(c, req->id, req->method, EPERM, msg);
		goto out;
	}
	struct ctl_rpc_call *call = calloc(1, sizeof(*call));
	if (call == NULL) {
		ctl_rpc_send_error(c, req->id, req->method, ENOMEM, "out of memory");
		goto out;
	}
	call->s = s;
	call->c = c;
	call->id = req->id;
	snprintf(call->method, sizeof(call->method), "%s", m->name);
	int r = m->fn(call, req->has_payload ? req->payload.data : NULL,
		      req->has_payload ? req->payload.len : 0);
	if (r == CTL_RPC_DEFERRED && !call->replied) {
		call->deferred = true;
		c->pending = call;
		goto out;
	}
	/* If the handler replied (a failed reply already queued its own error), nothing more. */
	if (!call->replied && r < 0)
		ctl_rpc_send_error(c, call->id, call->method, r, call->errmsg);
	else if (!call->replied) /* returned 0 without replying: a handler bug, say so */
		ctl_rpc_send_error(c, call->id, call->method, EIO, "handler sent no reply");
	free(call);
out:
	ctl__request__free_unpacked(req, NULL);
}

/* Operators: root, the daemon's own user, and members of the operator group (primary or
 * supplementary, looked up once per connection). */
static bool peer_is_operator(const struct ctl_rpc_server *s, uid_t uid, gid_t gid)
{
	if (uid == 0 || uid == geteuid())
		return true;
	if (!s->have_group)
		return false;
	if (gid == s->op_gid)
		return true;
	struct passwd pw, *res = NULL;
	char buf[4096];
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || res == NULL)
		return false;
	gid_t groups[256];
	int ng = 256;
	if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &ng) < 0)
		ng = 256; /* truncated list: check what we have */
	for (int i = 0; i < ng; i++)
		if (groups[i] == s->op_gid)
			return true;
	return false;
}

/* Make room for a newcomer: close the oldest connection that never sent a request (an
 * idle flood must not lock operators out), else the one idle the longest if idle for
 * idle_evict_ns; never one waiting for a deferred reply. true if a slot was freed. */
static bool evict_one(struct ctl_rpc_server *s)
{
	uint64_t now = ctl_rpc_mono_ns();
	struct ctl_rpc_conn *silent = NULL, *idle = NULL;
	for (struct ctl_rpc_item *it = s->items; it; it = it->next) {
		struct ctl_rpc_conn *c = (struct ctl_rpc_conn *)it;
		if (it->kind != ITEM_CONN || c->pending)
			continue;
		if (!c->spoke && (silent == NULL || c->since_ns < silent->since_ns))
			silent = c;
		if (now - c->last_active_ns >= s->idle_evict_ns &&
		    (idle == NULL || c->last_active_ns < idle->last_active_ns))
			idle = c;
	}
	struct ctl_rpc_conn *victim = silent ? silent : idle;
	if (victim == NULL)
		return false;
	SNAP_LOG_LIMITED(NOTICE, 1000, "control: all %u slots taken, closing %s connection of pid %d",
			 s->n_clients, silent ? "a silent" : "an idle", (int)victim->pid);
	s->cnt[CTL_RPC_C_EVICTED]++;
	ctl_rpc_conn_close(victim);
	return true;
}

/* Accept one pending client; false when there is none (or accept failed). */
static bool accept_one(struct ctl_rpc_server *s)
{
	int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno == EINTR || errno == ECONNABORTED)
			return true;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			/* EMFILE and the like: the client stays in the backlog and we try again
			 * on the next pass; counted, and said once a second at most. */
			s->cnt[CTL_RPC_C_ACCEPT_ERRORS]++;
			SNAP_LOG_LIMITED(WARNING, 1000, "control: accept: %s", strerror(errno));
		}
		return false;
	}
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) < 0) {
		close(fd);
		return true;
	}
	if (s->n_clients >= s->max_clients && !evict_one(s)) {
		s->cnt[CTL_RPC_C_REFUSED_FULL]++;
		SNAP_LOG_LIMITED(WARNING, 1000, "control: too many clients (%u), refusing pid %d",
				 s->n_clients, (int)cr.pid);
		close(fd);
		return true;
	}
	struct ctl_rpc_conn *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		s->cnt[CTL_RPC_C_ACCEPT_ERRORS]++;
		close(fd);
		return true;
	}
	c->it.kind = ITEM_CONN;
	c->s = s;
	c->fd = fd;
	c->pid = cr.pid;
	c->uid = cr.uid;
	c->gid = cr.gid;
	c->operator = peer_is_operator(s, cr.uid, cr.gid);
	c->ev = EPOLLIN;
	c->last_active_ns = c->since_ns = ctl_rpc_mono_ns();
	struct epoll_event e = {.events = EPOLLIN, .data.ptr = &c->it};
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
		s->cnt[CTL_RPC_C_ACCEPT_ERRORS]++;
		close(fd);
		free(c);
		return true;
	}
	c->it.next = s->items;
	s->items = &c->it;
	s->n_clients++;
	/* A client usually sent its request right after connecting: serving it now makes it
	 * a speaker before the next newcomer looks for a silent connection to evict. */
	ctl_rpc_conn_serve(c);
	return true;
}

/* Bounded per pass (the listener stays readable), so a connect flood cannot hold the
 * control thread away from the clients already connected. */
static void accept_some(struct ctl_rpc_server *s)
{
	for (unsigned k = 0; k < ACCEPTS_PER_PASS && accept_one(s); k++)
		;
}

void ctl_rpc_tick(struct ctl_rpc_server *s, uint64_t now_ns)
{
	s->depth++;
	struct ctl_rpc_item *next;
	for (struct ctl_rpc_item *it = s->items; it; it = next) {
		next = it->next; /* closing moves it to the graveyard list */
		struct ctl_rpc_conn *c = (struct ctl_rpc_conn *)it;
		if (it->kind != ITEM_CONN || c->spoke || c->pending ||
		    now_ns - c->since_ns < s->hello_timeout_ns)
			continue;
		s->cnt[CTL_RPC_C_HELLO_TIMEOUT]++;
		SNAP_LOG_LIMITED(NOTICE, 1000, "control: closing connection of pid %d: no request "
				 "in %u ms", (int)c->pid, (unsigned)(s->hello_timeout_ns / 1000000));
		ctl_rpc_conn_close(c);
	}
	if (--s->depth == 0)
		ctl_rpc_free_graveyard(s);
}

/* ---- watched fds ------------------------------------------------------------------------- */

int ctl_rpc_watch_fd(struct ctl_rpc_server *s, int fd, void (*cb)(void *arg), void *arg)
{
	struct ctl_rpc_watch *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return -ENOMEM;
	w->it.kind = ITEM_WATCH;
	w->fd = fd;
	w->cb = cb;
	w->arg = arg;
	struct epoll_event e = {.events = EPOLLIN, .data.ptr = &w->it};
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
		int r = -errno;
		free(w);
		return r;
	}
	w->it.next = s->items;
	s->items = &w->it;
	return 0;
}

int ctl_rpc_unwatch_fd(struct ctl_rpc_server *s, int fd)
{
	for (struct ctl_rpc_item *it = s->items; it; it = it->next) {
		if (it->kind != ITEM_WATCH || ((struct ctl_rpc_watch *)it)->fd != fd)
			continue;
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
		ctl_rpc_bury(s, it);
		if (s->depth == 0)
			ctl_rpc_free_graveyard(s);
		return 0;
	}
	return -ENOENT;
}

/* ---- lifecycle and the loop -------------------------------------------------------------- */

int ctl_rpc_process(struct ctl_rpc_server *s)
{
	struct epoll_event evs[EVENTS_BATCH];
	int n = epoll_wait(s->epfd, evs, EVENTS_BATCH, 0);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	s->depth++;
	s->pass++;
	for (int i = 0; i < n; i++) {
		struct ctl_rpc_item *it = evs[i].data.ptr;
		if (it->dead)
			continue;
		switch (it->kind) {
		case ITEM_LISTEN:
			accept_some(s);
			break;
		case ITEM_KICK: /* the ready list below */
			break;
		case ITEM_WATCH: {
			struct ctl_rpc_watch *w = (struct ctl_rpc_watch *)it;
			w->cb(w->arg);
			break;
		}
		case ITEM_CONN: {
			struct ctl_rpc_conn *c = (struct ctl_rpc_conn *)it;
			if (evs[i].events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
				if (c->pending || (evs[i].events & EPOLLERR)) {
					ctl_rpc_conn_close(c);
					break;
				}
			}
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP))
				ctl_rpc_conn_serve(c);
			else if (evs[i].events & EPOLLOUT)
				ctl_rpc_conn_flush(c);
			break;
		}
		}
	}
	ctl_rpc_serve_ready(s);
	ctl_rpc_kick_update(s);
	if (--s->depth == 0)
		ctl_rpc_free_graveyard(s);
	return n;
}

struct ctl_rpc_server *ctl_rpc_create(const struct ctl_rpc_config *cfg)
{
	struct ctl_rpc_config def;
	ctl_rpc_config_default(&def);
	const char *path = cfg && cfg->path && cfg->path[0] ? cfg->path : def.path;
	struct ctl_rpc_server *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->lfd = s->epfd = s->kick_fd = -1;
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->max_msg = cfg && cfg->max_msg ? cfg->max_msg : def.max_msg;
	s->max_clients = cfg && cfg->max_clients ? cfg->max_clients : def.max_clients;
#define CFG_OR_DEFAULT(f) (cfg && cfg->f ? cfg->f : def.f)
	s->idle_evict_ns = (uint64_t)CFG_OR_DEFAULT(idle_evict_ms) * 1000000ull;
	s->hello_timeout_ns = (uint64_t)CFG_OR_DEFAULT(hello_timeout_ms) * 1000000ull;
	s->max_out = CFG_OR_DEFAULT(max_out);
	s->budget = CFG_OR_DEFAULT(budget);
#undef CFG_OR_DEFAULT
	s->readonly_open = cfg && cfg->readonly_open;
	unsigned mode = cfg && cfg->mode ? cfg->mode : def.mode;
	int err = 0;
	if (s->max_msg > CTL_CLIENT_MAX_MSG || (mode & ~0777u)) {
		err = EINVAL;
		goto fail;
	}
	if (cfg && cfg->group && cfg->group[0]) {
		struct group gr, *res = NULL;
		char buf[4096];
		if (getgrnam_r(cfg->group, &gr, buf, sizeof(buf), &res) != 0 || res == NULL) {
			SNAP_LOG(ERR, "control: unknown operator group '%s'", cfg->group);
			err = ENOENT;
			goto fail;
		}
		s->have_group = true;
		s->op_gid = gr.gr_gid;
	}

	if (cfg && cfg->adopt) {
		s->lfd = cfg->adopt_fd;
		int fl = fcntl(s->lfd, F_GETFL);
		if (fl < 0 || fcntl(s->lfd, F_SETFL, fl | O_NONBLOCK) < 0) {
			err = errno;
			goto fail;
		}
		goto listening;
	}
	char why[256];
	s->lfd = snap_unix_listen(path, SOCK_STREAM, mode, s->have_group ? (int)s->op_gid : -1, 64,
				  why, sizeof(why));
	if (s->lfd < 0) {
		err = -s->lfd;
		SNAP_LOG(ERR, "control: %s", why);
		goto fail;
	}
listening:
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0) {
		err = errno;
		unlink(path);
		goto fail;
	}
	s->listen_it.kind = ITEM_LISTEN;
	s->kick_it.kind = ITEM_KICK;
	s->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct epoll_event e = {.events = EPOLLIN, .data.ptr = &s->listen_it};
	struct epoll_event ek = {.events = EPOLLIN, .data.ptr = &s->kick_it};
	if (s->kick_fd < 0 || epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &e) < 0 ||
	    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->kick_fd, &ek) < 0) {
		err = errno;
		unlink(path);
		goto fail;
	}
	SNAP_LOG(INFO, "control: listening on %s (mode %03o%s%s)", path, mode,
		 s->have_group ? ", operator group " : "", s->have_group ? cfg->group : "");
	return s;
fail:
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->kick_fd >= 0)
		close(s->kick_fd);
	free(s);
	errno = err;
	return NULL;
}

void ctl_rpc_destroy(struct ctl_rpc_server *s)
{
	if (s == NULL)
		return;
	s->depth++;
	while (s->items) {
		struct ctl_rpc_item *it = s->items;
		if (it->kind == ITEM_CONN) {
			ctl_rpc_conn_close((struct ctl_rpc_conn *)it);
		} else {
			epoll_ctl(s->epfd, EPOLL_CTL_DEL, ((struct ctl_rpc_watch *)it)->fd, NULL);
			ctl_rpc_bury(s, it);
		}
	}
	s->depth--;
	ctl_rpc_free_graveyard(s);
	close(s->lfd);
	close(s->epfd);
	close(s->kick_fd);
	unlink(s->path);
	free(s);
}
