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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control/ctl.pb-c.h"
#include "control/rpc.h"
#include "control/rpc_internal.h"
#include "snap/log.h"
#include "snap/unixsock.h"

#define EVENTS_BATCH 32

static uint64_t mono_ns(void)
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

uint64_t ctl_rpc_n_requests(const struct ctl_rpc_server *s)
{
	return s->n_requests;
}

uint64_t ctl_rpc_n_errors(const struct ctl_rpc_server *s)
{
	return s->n_errors;
}

static void bury(struct ctl_rpc_server *s, struct ctl_rpc_item *it)
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

static void free_graveyard(struct ctl_rpc_server *s)
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

/* ---- connections ------------------------------------------------------------------------- */

static void conn_close(struct ctl_rpc_conn *c)
{
	if (c->it.dead)
		return;
	struct ctl_rpc_server *s = c->s;
	struct ctl_rpc_call *call = c->pending;
	c->pending = NULL;
	if (call) {
		/* The owner still finishes the call; it only frees it from now on. */
		call->c = NULL;
		if (call->cancel)
			call->cancel(call->cancel_arg);
	}
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	s->n_clients--;
	bury(s, &c->it);
	if (s->depth == 0)
		free_graveyard(s);
}

static void conn_update_events(struct ctl_rpc_conn *c)
{
	size_t unsent = c->out_len - c->out_off;
	uint32_t ev = 0;
	/* Stop reading while a call is deferred (requests are answered in order) or while the
	 * client is not reading its replies (bounded output buffering). */
	if (!c->closing && c->pending == NULL && unsent < c->s->max_msg)
		ev |= EPOLLIN;
	if (c->pending)
		ev |= EPOLLRDHUP; /* notice a client that gives up waiting */
	if (unsent)
		ev |= EPOLLOUT;
	if (ev == c->ev)
		return;
	struct epoll_event e = {.events = ev, .data.ptr = &c->it};
	if (epoll_ctl(c->s->epfd, EPOLL_CTL_MOD, c->fd, &e) == 0)
		c->ev = ev;
}

/* Write what we can; close when done if closing. */
static void conn_flush(struct ctl_rpc_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			conn_close(c); /* peer gone */
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->closing && c->out_len == 0) {
		conn_close(c);
		return;
	}
	conn_update_events(c);
}

static int buf_reserve(uint8_t **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 4096;
	while (ncap < need)
		ncap *= 2;
	uint8_t *p = realloc(*buf, ncap);
	if (p == NULL)
		return -ENOMEM;
	*buf = p;
	*cap = ncap;
	return 0;
}

/* Queue one Response frame. */
int ctl_rpc_conn_send(struct ctl_rpc_conn *c, const Ctl__Response *rsp)
{
	size_t n = protobuf_c_message_get_packed_size(&rsp->base);
	if (n > CTL_CLIENT_MAX_MSG)
		return -EMSGSIZE;
	if (c->out_off && c->out_len + CTL_FRAME_HDR + n > c->out_cap) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (buf_reserve(&c->out, &c->out_cap, c->out_len + CTL_FRAME_HDR + n) < 0)
		return -ENOMEM;
	uint8_t *p = c->out + c->out_len;
	p[0] = (uint8_t)(n >> 24);
	p[1] = (uint8_t)(n >> 16);
	p[2] = (uint8_t)(n >> 8);
	p[3] = (uint8_t)n;
	protobuf_c_message_pack(&rsp->base, p + CTL_FRAME_HDR);
	c->out_len += CTL_FRAME_HDR + n;
	return 0;
}

void ctl_rpc_send_error(struct ctl_rpc_conn *c, uint64_t id, const char *method, int err, const char *msg)
{
	Ctl__Response rsp = CTL__RESPONSE__INIT;
	rsp.version = CTL_PROTO_VERSION;
	rsp.id = id;
	rsp.method = (char *)(uintptr_t)(method ? method : "");
	rsp.has_error = true;
	rsp.error = err < 0 ? -err : err;
	rsp.message = (char *)(uintptr_t)(msg && msg[0] ? msg : strerror(rsp.error));
	c->s->n_errors++;
	if (ctl_rpc_conn_send(c, &rsp) < 0)
		c->closing = true; /* cannot even say why: drop the client */
}

/* ---- calls ------------------------------------------------------------------------------- */

static void call_release(struct ctl_rpc_call *call)
{
	struct ctl_rpc_conn *c = call->c;
	if (c && c->pending == call)
		c->pending = NULL;
	free(call);
}

static void conn_parse(struct ctl_rpc_conn *c);

/* A deferred call has been answered: flush and resume reading that client's requests. */
void ctl_rpc_call_finish_deferred(struct ctl_rpc_call *call)
{
	struct ctl_rpc_conn *c = call->c;
	call_release(call);
	if (c == NULL)
		return;
	c->s->depth++;
	conn_parse(c);
	if (!c->it.dead)
		conn_flush(c);
	if (--c->s->depth == 0)
		free_graveyard(c->s);
}

void ctl_rpc_conn_push(struct ctl_rpc_conn *c)
{
	struct ctl_rpc_server *s = c->s;
	s->depth++; /* a closed connection is freed only after we are done with it */
	conn_flush(c);
	if (--s->depth == 0)
		free_graveyard(s);
}

/* One complete frame: decode the envelope, authorize, dispatch. */
static void dispatch(struct ctl_rpc_conn *c, const uint8_t *frame, size_t len)
{
	struct ctl_rpc_server *s = c->s;
	s->n_requests++;
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

/* Dispatch every complete frame in the input buffer. */
static void conn_parse(struct ctl_rpc_conn *c)
{
	size_t off = 0;
	while (!c->closing && c->pending == NULL && c->in_len - off >= CTL_FRAME_HDR) {
		const uint8_t *p = c->in + off;
		uint32_t n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
		if (n > c->s->max_msg) {
			/* The stream cannot be resynchronised cheaply: say why, then close. */
			char msg[ERRMSG_MAX];
			snprintf(msg, sizeof(msg), "request of %u bytes exceeds the %u-byte limit", n,
				 c->s->max_msg);
			ctl_rpc_send_error(c, 0, NULL, EMSGSIZE, msg);
			c->closing = true;
			off = c->in_len;
			break;
		}
		if (c->in_len - off - CTL_FRAME_HDR < n)
			break;
		dispatch(c, p + CTL_FRAME_HDR, n);
		off += CTL_FRAME_HDR + n;
	}
	if (off) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
}

static void conn_readable(struct ctl_rpc_conn *c)
{
	for (;;) {
		if (c->closing || c->pending)
			break;
		/* Room for at least the next frame header, up to one maximal frame. */
		size_t want = c->in_len + 4096;
		if (want > c->s->max_msg + CTL_FRAME_HDR)
			want = c->s->max_msg + CTL_FRAME_HDR;
		if (want <= c->in_len) {
			conn_parse(c); /* buffer full of complete frames (cannot happen) */
			break;
		}
		if (buf_reserve(&c->in, &c->in_cap, want) < 0) {
			conn_close(c);
			return;
		}
		ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			conn_close(c);
			return;
		}
		if (n == 0) { /* orderly shutdown: answer what is complete, then close */
			conn_parse(c);
			c->closing = true;
			break;
		}
		c->in_len += (size_t)n;
		c->last_active_ns = mono_ns();
		conn_parse(c);
		if (c->it.dead)
			return;
	}
	conn_flush(c);
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

/* Close the connection idle the longest, if idle for idle_evict_ns and not waiting for a
 * deferred reply. true if a slot was freed. */
static bool evict_idle(struct ctl_rpc_server *s)
{
	uint64_t now = mono_ns();
	struct ctl_rpc_conn *victim = NULL;
	for (struct ctl_rpc_item *it = s->items; it; it = it->next) {
		struct ctl_rpc_conn *c = (struct ctl_rpc_conn *)it;
		if (it->kind != ITEM_CONN || c->pending || now - c->last_active_ns < s->idle_evict_ns)
			continue;
		if (victim == NULL || c->last_active_ns < victim->last_active_ns)
			victim = c;
	}
	if (victim == NULL)
		return false;
	SNAP_LOG(NOTICE, "control: all %u slots taken, closing idle connection of pid %d",
		 s->n_clients, (int)victim->pid);
	conn_close(victim);
	return true;
}

static void accept_all(struct ctl_rpc_server *s)
{
	for (;;) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				SNAP_LOG(WARNING, "control: accept: %s", strerror(errno));
			return;
		}
		struct ucred cr;
		socklen_t crlen = sizeof(cr);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) < 0) {
			close(fd);
			continue;
		}
		if (s->n_clients >= s->max_clients && !evict_idle(s)) {
			SNAP_LOG(WARNING, "control: too many clients (%u), refusing pid %d",
				 s->n_clients, (int)cr.pid);
			close(fd);
			continue;
		}
		struct ctl_rpc_conn *c = calloc(1, sizeof(*c));
		if (c == NULL) {
			close(fd);
			continue;
		}
		c->it.kind = ITEM_CONN;
		c->s = s;
		c->fd = fd;
		c->pid = cr.pid;
		c->uid = cr.uid;
		c->gid = cr.gid;
		c->operator = peer_is_operator(s, cr.uid, cr.gid);
		c->ev = EPOLLIN;
		c->last_active_ns = mono_ns();
		struct epoll_event e = {.events = EPOLLIN, .data.ptr = &c->it};
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->it.next = s->items;
		s->items = &c->it;
		s->n_clients++;
	}
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
		bury(s, it);
		if (s->depth == 0)
			free_graveyard(s);
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
	for (int i = 0; i < n; i++) {
		struct ctl_rpc_item *it = evs[i].data.ptr;
		if (it->dead)
			continue;
		switch (it->kind) {
		case ITEM_LISTEN:
			accept_all(s);
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
					conn_close(c);
					break;
				}
			}
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP))
				conn_readable(c);
			else if (evs[i].events & EPOLLOUT)
				conn_flush(c);
			break;
		}
		}
	}
	if (--s->depth == 0)
		free_graveyard(s);
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
	s->lfd = s->epfd = -1;
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->max_msg = cfg && cfg->max_msg ? cfg->max_msg : def.max_msg;
	s->max_clients = cfg && cfg->max_clients ? cfg->max_clients : def.max_clients;
	s->idle_evict_ns = (uint64_t)(cfg && cfg->idle_evict_ms ? cfg->idle_evict_ms
								 : def.idle_evict_ms) * 1000000ull;
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
	struct epoll_event e = {.events = EPOLLIN, .data.ptr = &s->listen_it};
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &e) < 0) {
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
			conn_close((struct ctl_rpc_conn *)it);
		} else {
			epoll_ctl(s->epfd, EPOLL_CTL_DEL, ((struct ctl_rpc_watch *)it)->fd, NULL);
			bury(s, it);
		}
	}
	s->depth--;
	free_graveyard(s);
	close(s->lfd);
	close(s->epfd);
	unlink(s->path);
	free(s);
}
