/* The optional Prometheus scrape endpoint (config daemon.metrics_listen, off by default):
 * GET /metrics over HTTP/1.x on a loopback TCP address, served non-blocking from the control
 * thread through one epoll fd on the event loop (as the control server is). The body is what
 * `snapctl metrics` prints: the stats/ports/flows/apps RPC methods run in-process
 * (ctl_rpc_invoke) and rendered by control/metrics_text.c. Bounded: MH_CONN_MAX connections,
 * MH_REQ_MAX request bytes, MH_IDLE_NS idle time; one request per connection. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control/ctl.pb-c.h"
#include "control/metrics_http.h"
#include "control/metrics_text.h"
#include "control/rpc.h"
#include "control/rpc_wire.h"
#include "snap/log.h"
#include "core/loop.h"

#define MH_CONN_MAX 8
#define MH_REQ_MAX 2048
#define MH_IDLE_NS (10 * 1000000000ull)

struct mh_conn {
	int fd; /* -1: free slot */
	char in[MH_REQ_MAX];
	size_t in_len;
	char *out; /* the whole response; sent from out_off */
	size_t out_len, out_off;
	bool draining; /* response sent, waiting for the client to close */
	uint64_t last_ns;
};

static struct {
	int ep;  /* -1 when off */
	int lfd; /* -1 when off or still waiting for the address (upgrade) */
	struct sockaddr_in addr;
	char spec[64];
	struct mh_conn c[MH_CONN_MAX];
	uint64_t served, refused;
} mh = {.ep = -1, .lfd = -1};

int ctl_metrics_http_parse(const char *spec, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(spec, ':');
	if (colon == NULL || (size_t)(colon - spec) >= sizeof(host))
		return -EINVAL;
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	char *end;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || port == 0 || port > 65535)
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (!strcmp(host, "localhost"))
		snprintf(host, sizeof(host), "127.0.0.1");
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return -EINVAL;
	/* Loopback only: the counters name peers and apps, and nothing authenticates a scrape. */
	if ((ntohl(sa->sin_addr.s_addr) >> 24) != 127)
		return -EADDRNOTAVAIL;
	return 0;
}

static void conn_close(struct mh_conn *c)
{
	epoll_ctl(mh.ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* The metrics text, or NULL. Runs the same methods `snapctl metrics` calls. */
static char *render_metrics(size_t *len)
{
	static const struct {
		const char *method;
		const ProtobufCMessageDescriptor *desc;
	} src[] = {
		{CTL_M_STATS, &ctl__stats_reply__descriptor},
		{CTL_M_PORTS, &ctl__ports_reply__descriptor},
		{CTL_M_FLOWS, &ctl__flows_reply__descriptor},
		{CTL_M_APPS, &ctl__apps_reply__descriptor},
	};
	ProtobufCMessage *m[4] = {NULL, NULL, NULL, NULL};
	for (unsigned i = 0; i < 4; i++) {
		uint8_t *rep;
		size_t n;
		char err[128];
		/* An empty request (every engine, port...) is valid for each of them. */
		int r = ctl_rpc_invoke(src[i].method, NULL, 0, &rep, &n, err, sizeof(err));
		if (r == 0) {
			m[i] = protobuf_c_message_unpack(src[i].desc, NULL, n, rep);
			free(rep);
		} else { /* its families are left out of this scrape */
			SNAP_LOG(WARNING, "metrics: %s: %s", src[i].method, err);
		}
	}
	char *text = NULL;
	FILE *f = open_memstream(&text, len);
	if (f) {
		struct ctl_metrics_src s = {(Ctl__StatsReply *)m[0], (Ctl__PortsReply *)m[1],
					    (Ctl__FlowsReply *)m[2], (Ctl__AppsReply *)m[3]};
		int r = ctl_metrics_render(f, &s);
		if (fclose(f) != 0 || r < 0) {
			free(text);
			text = NULL;
		}
	}
	for (unsigned i = 0; i < 4; i++)
		if (m[i])
			protobuf_c_message_free_unpacked(m[i], NULL);
	return text;
}

/* Queue the response to c and wait for EPOLLOUT (the socket may take it at once). */
static void respond(struct mh_conn *c, const char *status, const char *type, const char *body,
		    size_t body_len)
{
	char hdr[256];
	int h = snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n", status, type, body_len);
	c->out = malloc((size_t)h + body_len);
	if (c->out == NULL) {
		conn_close(c);
		return;
	}
	memcpy(c->out, hdr, (size_t)h);
	memcpy(c->out + h, body, body_len);
	c->out_len = (size_t)h + body_len;
	struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
	epoll_ctl(mh.ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void handle_request(struct mh_conn *c)
{
	static const char text[] = "text/plain; charset=utf-8";
	char method[8], path[64];
	if (sscanf(c->in, "%7s %63s HTTP/1.", method, path) != 2) {
		respond(c, "400 Bad Request", text, "bad request\n", 12);
	} else if (strcmp(method, "GET") != 0) {
		respond(c, "405 Method Not Allowed", text, "GET only\n", 9);
	} else if (strcmp(path, "/metrics") != 0) {
		respond(c, "404 Not Found", text, "only /metrics\n", 14);
	} else {
		size_t n = 0;
		char *body = render_metrics(&n);
		if (body == NULL) {
			respond(c, "500 Internal Server Error", text, "out of memory\n", 14);
			return;
		}
		mh.served++;
		respond(c, "200 OK", CTL_METRICS_CONTENT_TYPE, body, n);
		free(body);
	}
}

static void conn_event(struct mh_conn *c, uint32_t events)
{
	c->last_ns = snap_loop_now_ns();
	if (c->draining) {
		/* Response sent: read what the client still sends until it closes, so closing
		 * with unread input does not reset the connection before it read the answer
		 * (bounded by the idle timeout). */
		char sink[512];
		ssize_t r = recv(c->fd, sink, sizeof(sink), 0);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
			conn_close(c);
		return;
	}
	if (c->out) {
		ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (w > 0)
			c->out_off += (size_t)w;
		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			conn_close(c);
		} else if (c->out_off == c->out_len) {
			shutdown(c->fd, SHUT_WR);
			c->draining = true;
			struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
			epoll_ctl(mh.ep, EPOLL_CTL_MOD, c->fd, &ev);
		}
		return;
	}
	ssize_t r = recv(c->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len, 0);
	if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR) || (events & EPOLLERR)) {
		conn_close(c);
		return;
	}
	if (r < 0)
		return;
	c->in_len += (size_t)r;
	c->in[c->in_len] = '\0';
	if (strstr(c->in, "\r\n\r\n") || strstr(c->in, "\n\n"))
		handle_request(c);
	else if (c->in_len == sizeof(c->in) - 1)
		respond(c, "431 Request Header Fields Too Large", "text/plain; charset=utf-8",
			"request too large\n", 18);
}

static void accept_all(void)
{
	for (;;) {
		int fd = accept4(mh.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct mh_conn *c = NULL;
		for (unsigned i = 0; i < MH_CONN_MAX && c == NULL; i++)
			if (mh.c[i].fd < 0)
				c = &mh.c[i];
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		if (c == NULL || epoll_ctl(mh.ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
			mh.refused++; /* full: the scraper retries at its next interval */
			close(fd);
			continue;
		}
		c->fd = fd;
		c->in_len = 0;
		c->last_ns = snap_loop_now_ns();
	}
}

static void on_readable(int fd, void *arg)
{
	(void)arg;
	struct epoll_event evs[MH_CONN_MAX + 1];
	int n = epoll_wait(fd, evs, MH_CONN_MAX + 1, 0);
	for (int i = 0; i < n; i++) {
		if (evs[i].data.ptr == NULL)
			accept_all();
		else
			conn_event(evs[i].data.ptr, evs[i].events);
	}
}

/* Bind and listen on mh.addr; 0 or -errno. */
static int mh_listen(void)
{
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&mh.addr, sizeof(mh.addr)) != 0 || listen(fd, 16) != 0 ||
	    epoll_ctl(mh.ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return -e;
	}
	mh.lfd = fd;
	return 0;
}

static void on_timer(uint64_t now_ns, void *arg)
{
	(void)arg;
	if (mh.ep < 0)
		return;
	if (mh.lfd < 0 && mh_listen() == 0)
		SNAP_LOG(NOTICE, "metrics: serving http://%s/metrics", mh.spec);
	for (unsigned i = 0; i < MH_CONN_MAX; i++)
		if (mh.c[i].fd >= 0 && now_ns - mh.c[i].last_ns > MH_IDLE_NS)
			conn_close(&mh.c[i]);
}

int ctl_metrics_http_start(const char *spec, bool upgrading, char *err, size_t errlen)
{
	if (spec == NULL || !spec[0])
		return 0;
	int r = ctl_metrics_http_parse(spec, &mh.addr);
	if (r < 0) {
		snprintf(err, errlen, "metrics_listen \"%s\": %s", spec,
			 r == -EADDRNOTAVAIL ? "only loopback addresses (127.0.0.0/8) are allowed"
					     : "expected ADDRESS:PORT, e.g. \"127.0.0.1:9464\"");
		return -EINVAL; /* a config error either way */
	}
	snprintf(mh.spec, sizeof(mh.spec), "%s", spec);
	for (unsigned i = 0; i < MH_CONN_MAX; i++)
		mh.c[i].fd = -1;
	mh.ep = epoll_create1(EPOLL_CLOEXEC);
	if (mh.ep < 0) {
		r = -errno;
		snprintf(err, errlen, "metrics_listen: epoll: %s", strerror(-r));
		return r;
	}
	r = mh_listen();
	if (r == -EADDRINUSE && upgrading) {
		/* The old daemon serves until it exits; the timer binds then. */
		SNAP_LOG(NOTICE, "metrics: %s busy (the daemon being replaced), binding when free",
			 spec);
	} else if (r < 0) {
		snprintf(err, errlen, "metrics_listen %s: %s", spec, strerror(-r));
		goto fail;
	}
	if ((r = snap_loop_add_fd(mh.ep, on_readable, NULL)) < 0 ||
	    (r = snap_loop_add_timer(1000, on_timer, NULL)) < 0) {
		snap_loop_del_fd(mh.ep);
		snprintf(err, errlen, "metrics_listen: event loop: %s", strerror(-r));
		goto fail;
	}
	if (mh.lfd >= 0)
		SNAP_LOG(NOTICE, "metrics: serving http://%s/metrics", spec);
	return 0;
fail:
	if (mh.lfd >= 0)
		close(mh.lfd);
	close(mh.ep);
	mh.lfd = mh.ep = -1;
	return r;
}

void ctl_metrics_http_stop(void)
{
	if (mh.ep < 0)
		return;
	for (unsigned i = 0; i < MH_CONN_MAX; i++)
		if (mh.c[i].fd >= 0)
			conn_close(&mh.c[i]);
	snap_loop_del_fd(mh.ep);
	if (mh.lfd >= 0)
		close(mh.lfd);
	close(mh.ep);
	mh.lfd = mh.ep = -1;
	SNAP_LOG(INFO, "metrics: %lu scrapes served, %lu connections refused (full)",
		 (unsigned long)mh.served, (unsigned long)mh.refused);
}
