/* snapbench's kernel TCP backend: non-blocking sockets with TCP_NODELAY under one epoll set
 * (level-triggered), messages framed by a little-endian u32 length prefix. This is the
 * baseline Pony Express is compared against, so it does what a careful app would do and no
 * more: writev straight from the caller's buffer, copy only what the socket did not take. */
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define TCP_RX_INIT (16u << 10)   /* first receive buffer; grows to the largest message */
#define TCP_EVENTS 64             /* epoll events per poll() */
#define TCP_READS_PER_EVENT 16    /* fairness across conns: reads per readable event */
#define TCP_ACCEPTS_PER_EVENT 256 /* same for accepts per listener event */
#define TCP_BACKLOG 4096

struct tcp_conn {
	struct bench_conn pub;
	int fd;
	uint32_t mask;        /* epoll events currently registered */
	bool connecting;
	bool blocked;         /* msg() said -EAGAIN: stop reading until the tx queue drains */
	bool dead;
	uint8_t *rx;
	uint32_t rx_cap, rx_off, rx_len; /* unparsed bytes are rx[rx_off, rx_len) */
	uint8_t *tx;
	uint32_t tx_cap, tx_off, tx_len; /* unsent bytes are tx[tx_off, tx_len) */
	struct tcp_conn *prev, *next;    /* live list, or graveyard list once dead */
};

struct bench_tp {
	struct bench_tp_cfg cfg;
	struct bench_tp_upcalls up;
	int ep;
	int lfd;
	uint32_t next_id;
	uint32_t live;
	struct tcp_conn *conns;     /* live conns */
	struct tcp_conn *graveyard; /* closed during this poll(); freed at its end */
};

static int set_mask(struct bench_tp *tp, struct tcp_conn *c, uint32_t mask)
{
	if (c->mask == mask)
		return 0;
	struct epoll_event ev = { .events = mask, .data.ptr = c };
	if (epoll_ctl(tp->ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		return -errno;
	c->mask = mask;
	return 0;
}

/* What the conn must hear about now: input unless backpressured, output while queued. */
static int update_mask(struct bench_tp *tp, struct tcp_conn *c)
{
	uint32_t m = c->blocked ? 0 : EPOLLIN;
	if (c->tx_len > c->tx_off || c->connecting)
		m |= EPOLLOUT;
	return set_mask(tp, c, m);
}

static struct tcp_conn *conn_new(struct bench_tp *tp, int fd)
{
	struct tcp_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->fd = fd;
	c->pub.id = tp->next_id++;
	c->next = tp->conns;
	if (tp->conns)
		tp->conns->prev = c;
	tp->conns = c;
	tp->live++;
	return c;
}

static void conn_unlink(struct bench_tp *tp, struct tcp_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		tp->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	tp->live--;
}

static void conn_free(struct tcp_conn *c)
{
	free(c->rx);
	free(c->tx);
	free(c);
}

/* Closes the socket at once; the struct lives until the end of the current poll() so that
 * later events of the same batch that point at it see `dead`. */
static void conn_close(struct bench_tp *tp, struct tcp_conn *c, int err, bool upcall)
{
	if (c->dead)
		return;
	c->dead = true;
	epoll_ctl(tp->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	conn_unlink(tp, c);
	c->next = tp->graveyard;
	tp->graveyard = c;
	if (upcall && tp->up.closed)
		tp->up.closed(tp->up.ctx, &c->pub, err);
}

static void bury(struct bench_tp *tp)
{
	while (tp->graveyard) {
		struct tcp_conn *c = tp->graveyard;
		tp->graveyard = c->next;
		conn_free(c);
	}
}

static int grow(uint8_t **buf, uint32_t *cap, uint64_t need)
{
	if (need <= *cap)
		return 0;
	uint64_t n = *cap ? *cap : TCP_RX_INIT;
	while (n < need)
		n *= 2;
	if (n > UINT32_MAX)
		return -EMSGSIZE;
	uint8_t *p = realloc(*buf, n);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = (uint32_t)n;
	return 0;
}

/* Delivers every whole message in rx. 0, or -errno for a malformed stream. */
static int conn_parse(struct bench_tp *tp, struct tcp_conn *c)
{
	while (!c->blocked && !c->dead && c->rx_len - c->rx_off >= 4) {
		uint32_t len;
		memcpy(&len, c->rx + c->rx_off, 4);
		if (len < BENCH_MSG_MIN || len > tp->cfg.max_msg)
			return -EBADMSG;
		if (c->rx_len - c->rx_off - 4 < len) {
			/* Make room for the whole message so the next reads complete it. */
			if (c->rx_off) {
				memmove(c->rx, c->rx + c->rx_off, c->rx_len - c->rx_off);
				c->rx_len -= c->rx_off;
				c->rx_off = 0;
			}
			return grow(&c->rx, &c->rx_cap, (uint64_t)len + 4);
		}
		int r = tp->up.msg(tp->up.ctx, &c->pub, c->rx + c->rx_off + 4, len);
		if (r == -EAGAIN) {
			c->blocked = true;
			break;
		}
		c->rx_off += 4 + len;
	}
	if (c->rx_off == c->rx_len)
		c->rx_off = c->rx_len = 0;
	return 0;
}

static void conn_readable(struct bench_tp *tp, struct tcp_conn *c)
{
	if (!c->rx_cap && grow(&c->rx, &c->rx_cap, TCP_RX_INIT) < 0) {
		conn_close(tp, c, -ENOMEM, true);
		return;
	}
	for (int i = 0; i < TCP_READS_PER_EVENT && !c->blocked && !c->dead; i++) {
		if (c->rx_off && c->rx_len == c->rx_cap) {
			memmove(c->rx, c->rx + c->rx_off, c->rx_len - c->rx_off);
			c->rx_len -= c->rx_off;
			c->rx_off = 0;
		}
		uint32_t room = c->rx_cap - c->rx_len;
		ssize_t n = read(c->fd, c->rx + c->rx_len, room);
		if (n == 0) {
			conn_close(tp, c, 0, true);
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			conn_close(tp, c, -errno, true);
			return;
		}
		c->rx_len += (uint32_t)n;
		int r = conn_parse(tp, c);
		if (r < 0) {
			conn_close(tp, c, r, true);
			return;
		}
		if ((uint32_t)n < room)
			break; /* socket drained: level-triggered epoll tells us about more */
	}
	if (!c->dead && update_mask(tp, c) < 0)
		conn_close(tp, c, -errno, true);
}

static void conn_writable(struct bench_tp *tp, struct tcp_conn *c)
{
	while (c->tx_len > c->tx_off) {
		ssize_t n = send(c->fd, c->tx + c->tx_off, c->tx_len - c->tx_off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			conn_close(tp, c, -errno, true);
			return;
		}
		c->tx_off += (uint32_t)n;
	}
	c->tx_off = c->tx_len = 0;
	if (c->blocked) {
		c->blocked = false;
		int r = conn_parse(tp, c);
		if (r < 0) {
			conn_close(tp, c, r, true);
			return;
		}
	}
	if (c->dead)
		return;
	if (update_mask(tp, c) < 0) {
		conn_close(tp, c, -errno, true);
		return;
	}
	if (tp->up.writable && c->tx_len == c->tx_off)
		tp->up.writable(tp->up.ctx, &c->pub);
}

static void do_accept(struct bench_tp *tp)
{
	for (int i = 0; i < TCP_ACCEPTS_PER_EVENT; i++) {
		int fd = accept4(tp->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return; /* EAGAIN, or a transient error the next event retries */
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (tp->live >= tp->cfg.max_conns) {
			close(fd);
			continue;
		}
		struct tcp_conn *c = conn_new(tp, fd);
		if (!c) {
			close(fd);
			continue;
		}
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
		if (epoll_ctl(tp->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			conn_close(tp, c, -errno, false);
			continue;
		}
		c->mask = EPOLLIN;
		if (tp->up.accepted)
			tp->up.accepted(tp->up.ctx, &c->pub);
	}
}

static void handle(struct bench_tp *tp, struct epoll_event *ev)
{
	struct tcp_conn *c = ev->data.ptr;
	if (!c) {
		do_accept(tp);
		return;
	}
	if (c->dead)
		return;
	if (ev->events & EPOLLERR) {
		int err = 0;
		socklen_t l = sizeof(err);
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		conn_close(tp, c, err ? -err : -EIO, true);
		return;
	}
	if (ev->events & EPOLLOUT)
		conn_writable(tp, c);
	if (!c->dead && (ev->events & (EPOLLIN | EPOLLHUP))) {
		if (c->blocked)
			conn_close(tp, c, 0, true); /* hang-up while we could not read */
		else
			conn_readable(tp, c);
	}
}

static struct bench_tp *tcp_create(const struct bench_tp_cfg *cfg,
				   const struct bench_tp_upcalls *up)
{
	if (!up->msg || cfg->max_msg < BENCH_MSG_MIN || cfg->max_msg > (1u << 30)) {
		errno = EINVAL;
		return NULL;
	}
	struct bench_tp *tp = calloc(1, sizeof(*tp));
	if (!tp)
		return NULL;
	tp->cfg = *cfg;
	tp->up = *up;
	tp->lfd = -1;
	tp->ep = epoll_create1(EPOLL_CLOEXEC);
	if (tp->ep < 0) {
		int e = errno;
		free(tp);
		errno = e;
		return NULL;
	}
	return tp;
}

static void tcp_destroy(struct bench_tp *tp)
{
	if (!tp)
		return;
	while (tp->conns)
		conn_close(tp, tp->conns, 0, false);
	bury(tp);
	if (tp->lfd >= 0)
		close(tp->lfd);
	close(tp->ep);
	free(tp);
}

static int make_addr(const struct bench_tp_cfg *cfg, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(cfg->port);
	if (inet_pton(AF_INET, cfg->addr, &sa->sin_addr) != 1)
		return -EINVAL;
	return 0;
}

static int tcp_listen(struct bench_tp *tp, uint16_t *port)
{
	struct sockaddr_in sa;
	int r = make_addr(&tp->cfg, &sa);
	if (r < 0)
		return r;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	socklen_t sl = sizeof(sa);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, TCP_BACKLOG) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0 ||
	    epoll_ctl(tp->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	tp->lfd = fd;
	*port = ntohs(sa.sin_port);
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int tcp_connect(struct bench_tp *tp, unsigned n, struct bench_conn **conns,
		       int timeout_ms)
{
	struct sockaddr_in sa;
	int r = make_addr(&tp->cfg, &sa);
	if (r < 0)
		return r;
	unsigned pending = 0;
	for (unsigned i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			r = -errno;
			goto fail;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct tcp_conn *c = conn_new(tp, fd);
		if (!c) {
			close(fd);
			r = -ENOMEM;
			goto fail;
		}
		conns[i] = &c->pub;
		c->pub.id = i;
		c->connecting = true;
		c->mask = EPOLLOUT;
		struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
		if (epoll_ctl(tp->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			r = -errno;
			goto fail;
		}
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
			r = -errno;
			goto fail;
		}
		pending++;
	}
	int64_t deadline = now_ms() + timeout_ms;
	struct epoll_event evs[TCP_EVENTS];
	while (pending) {
		int64_t left = deadline - now_ms();
		if (left <= 0) {
			r = -ETIMEDOUT;
			goto fail;
		}
		int k = epoll_wait(tp->ep, evs, TCP_EVENTS, (int)left);
		if (k < 0) {
			if (errno == EINTR) {
				r = -EINTR;
				goto fail;
			}
			r = -errno;
			goto fail;
		}
		for (int j = 0; j < k; j++) {
			struct tcp_conn *c = evs[j].data.ptr;
			if (!c || !c->connecting)
				continue;
			int err = 0;
			socklen_t l = sizeof(err);
			getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
			if (err) {
				r = -err;
				goto fail;
			}
			c->connecting = false;
			pending--;
			if (update_mask(tp, c) < 0) {
				r = -errno;
				goto fail;
			}
		}
	}
	tp->next_id = n;
	return 0;
fail:
	while (tp->conns)
		conn_close(tp, tp->conns, 0, false);
	bury(tp);
	return r;
}

static int tcp_send(struct bench_tp *tp, struct bench_conn *pc, const void *buf, uint32_t len)
{
	struct tcp_conn *c = (struct tcp_conn *)pc;
	if (c->dead || c->connecting)
		return -ENOTCONN;
	if (len < BENCH_MSG_MIN || len > tp->cfg.max_msg)
		return -EMSGSIZE;
	uint32_t queued = c->tx_len - c->tx_off;
	if (queued) {
		if ((uint64_t)queued + 4 + len > tp->cfg.tx_queue)
			return -EAGAIN;
		if (c->tx_off) {
			memmove(c->tx, c->tx + c->tx_off, queued);
			c->tx_off = 0;
			c->tx_len = queued;
		}
		int r = grow(&c->tx, &c->tx_cap, (uint64_t)queued + 4 + len);
		if (r < 0)
			return r;
		memcpy(c->tx + c->tx_len, &len, 4);
		memcpy(c->tx + c->tx_len + 4, buf, len);
		c->tx_len += 4 + len;
		return 0;
	}
	struct iovec iov[2] = { { .iov_base = &len, .iov_len = 4 },
				{ .iov_base = (void *)buf, .iov_len = len } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t n;
	do
		n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno != EAGAIN)
			return -errno; /* the conn's EPOLLERR/HUP closes it in poll() */
		n = 0;
	}
	uint32_t done = (uint32_t)n;
	if (done == 4 + len)
		return 0;
	/* Keep the rest; the caller's buffer may be reused once we return. */
	int r = grow(&c->tx, &c->tx_cap, 4 + len - done);
	if (r < 0)
		return r;
	uint32_t t = 0;
	if (done < 4) {
		memcpy(c->tx, (uint8_t *)&len + done, 4 - done);
		t = 4 - done;
		done = 4;
	}
	memcpy(c->tx + t, (const uint8_t *)buf + (done - 4), len - (done - 4));
	c->tx_off = 0;
	c->tx_len = t + len - (done - 4);
	r = update_mask(tp, c);
	return r < 0 ? r : 0;
}

__attribute__((noinline)) static int tcp_poll(struct bench_tp *tp, int timeout_ms)
{
	struct epoll_event evs[TCP_EVENTS];
	int n = epoll_wait(tp->ep, evs, TCP_EVENTS, timeout_ms);
	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++)
		handle(tp, &evs[i]);
	bury(tp);
	return n;
}

const struct bench_tp_ops bench_tp_tcp = {
	.name = "tcp",
	.create = tcp_create,
	.destroy = tcp_destroy,
	.listen = tcp_listen,
	.connect = tcp_connect,
	.send = tcp_send,
	.poll = tcp_poll,
	.read = NULL, /* the kernel TCP stack has no one-sided ops */
};
