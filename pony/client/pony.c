/* libpony: attach to snapnetd, queue commands on the shared command ring, take completions
 * off the completion ring, and sleep on the completion eventfd. See include/pony.h for the
 * API and pony/shm.h for the ring and doorbell protocol implemented here (app side). */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "pony/client/internal.h"
#include "core/paths.h"

static __thread char connect_err[PONY_ATTACH_MSG_MAX + 64];

const char *pony_connect_error(void)
{
	return connect_err;
}

static void __attribute__((format(printf, 1, 2))) set_err(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(connect_err, sizeof(connect_err), fmt, ap);
	va_end(ap);
}

/* Receive the daemon's reply and up to 3 fds. Returns bytes or -errno. */
static ssize_t recv_rep(int sock, struct pony_attach_rep *rep, int *fds, unsigned *nfds,
			int timeout_ms)
{
	struct pollfd p = {.fd = sock, .events = POLLIN};
	int r = poll(&p, 1, timeout_ms);
	if (r == 0)
		return -ETIMEDOUT;
	if (r < 0)
		return -errno;
	struct iovec iov = {.iov_base = rep, .iov_len = sizeof(*rep)};
	union {
		char buf[CMSG_SPACE(sizeof(int) * 3)];
		struct cmsghdr align;
	} u;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf)};
	ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0 && errno == ECONNRESET) {
		/* A daemon that refused us and closed before reading our hello makes the kernel
		 * report a reset ahead of its queued reply; the reply is still there. */
		mh.msg_controllen = sizeof(u.buf);
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			errno = ECONNRESET;
	}
	if (n < 0)
		return -errno;
	*nfds = 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		unsigned k = (unsigned)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (unsigned i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (*nfds < 3)
				fds[(*nfds)++] = fd;
			else
				close(fd);
		}
	}
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		return -EPROTO;
	return n;
}

/* Take over a mapped region: validate its header, set the ring pointers, start the
 * allocator. 0, -EPROTO, -ENOMEM. */
static int adopt_region(struct pony_app *a, void *p, uint64_t region_size)
{
	a->base = p;
	a->size = region_size;
	memcpy(&a->hdr, p, sizeof(a->hdr));
	if (pony_shm_check(&a->hdr, region_size) != 0) {
		set_err("shared region header: wrong magic, version or layout (library speaks "
			"version %u)", PONY_SHM_VERSION);
		return -EPROTO;
	}
	a->cmd_ring = pony_shm_cmd_ring(p, &a->hdr);
	a->cpl_ring = pony_shm_cpl_ring(p, &a->hdr);
	a->cmds = (struct pony_shm_cmd *)((char *)p + a->hdr.cmd_off);
	a->cpls = (struct pony_shm_cpl *)((char *)p + a->hdr.cpl_off);
	a->buf = (char *)p + a->hdr.buf_off;
	/* Continue from wherever the indexes are (0 for a fresh region). */
	a->cmd_tail = atomic_load(&a->cmd_ring->prod.tail);
	a->cmd_head_cache = atomic_load(&a->cmd_ring->cons.head);
	a->cpl_head = atomic_load(&a->cpl_ring->cons.head);
	if (pony_alloc_init(&a->alloc, a->hdr.buf_size) != 0) {
		set_err("out of memory");
		return -ENOMEM;
	}
	return 0;
}

struct pony_app *pony_app_wrap(void *base, size_t size, int cmd_efd, int cpl_efd)
{
	struct pony_app *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return NULL;
	a->sock = a->memfd = -1;
	a->cmd_efd = cmd_efd;
	a->cpl_efd = cpl_efd;
	int r = adopt_region(a, base, size);
	if (r) {
		pony_alloc_fini(&a->alloc);
		free(a);
		errno = -r;
		return NULL;
	}
	return a;
}

void pony_app_unwrap(struct pony_app *a)
{
	if (a == NULL)
		return;
	pony_alloc_fini(&a->alloc);
	free(a);
}

static int map_region(struct pony_app *a, uint64_t region_size)
{
	struct stat st;
	if (fstat(a->memfd, &st) != 0 || (uint64_t)st.st_size < region_size ||
	    region_size < sizeof(struct pony_shm_hdr)) {
		set_err("snapnetd sent a region smaller than announced");
		return -EPROTO;
	}
	void *p = mmap(NULL, region_size, PROT_READ | PROT_WRITE, MAP_SHARED, a->memfd, 0);
	if (p == MAP_FAILED) {
		int e = errno;
		set_err("cannot map the shared region: %s", strerror(e));
		return -e;
	}
	int r = adopt_region(a, p, region_size);
	if (r) {
		munmap(p, region_size);
		a->base = NULL;
	}
	return r;
}

static int do_connect(struct pony_app *a, const char *path, const struct pony_opts *opts)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		set_err("socket path too long: %s", path);
		return -EINVAL;
	}
	strcpy(sa.sun_path, path);
	a->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (a->sock < 0 || connect(a->sock, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;
		set_err("cannot reach snapnetd at %s: %s", path, strerror(e));
		return -e;
	}
	/* Before the hello: a squatter must learn nothing and hand us no region. */
	char why[sizeof(connect_err)];
	int pr = snap_paths_peer_check(a->sock, path, why, sizeof(why));
	if (pr) {
		set_err("%s", why);
		return pr;
	}
	struct pony_attach_req req = {.magic = PONY_ATTACH_MAGIC, .version = a->version};
	if (opts && opts->engine) {
		if (strlen(opts->engine) >= sizeof(req.engine)) {
			set_err("engine name too long: %s", opts->engine);
			return -EINVAL;
		}
		strcpy(req.engine, opts->engine);
	}
	/* A refused app may find the socket already closed: read the reason anyway. */
	if (send(a->sock, &req, sizeof(req), MSG_NOSIGNAL) < 0 && errno != EPIPE &&
	    errno != ECONNRESET) {
		int e = errno;
		set_err("snapnetd at %s: %s", path, strerror(e));
		return -e;
	}
	struct pony_attach_rep rep;
	int fds[3];
	unsigned nfds = 0;
	int timeout = opts && opts->timeout_ms ? (int)opts->timeout_ms : 5000;
	ssize_t n = recv_rep(a->sock, &rep, fds, &nfds, timeout);
	int r = 0;
	if (n < 0) {
		r = (int)n;
		set_err("snapnetd at %s did not answer: %s", path, strerror(-r));
	} else if (n != (ssize_t)sizeof(rep) || rep.magic != PONY_ATTACH_MAGIC) {
		r = n == 0 ? -ECONNRESET : -EPROTO;
		set_err("snapnetd at %s: %s", path,
			n == 0 ? "closed the connection" : "malformed reply");
	} else if (rep.status != 0) {
		rep.msg[sizeof(rep.msg) - 1] = '\0';
		r = rep.status < 0 && rep.status > -4096 ? rep.status : -EPROTO;
		set_err("%s", rep.msg[0] ? rep.msg : strerror(-r));
		if (r == -EPROTO && rep.version >= PONY_SHM_VERSION_MIN &&
		    rep.version < a->version) {
			a->version = rep.version; /* an older daemon: again, in its version */
			r = -EAGAIN;
		}
	} else if (nfds != 3) {
		r = -EPROTO;
		set_err("snapnetd at %s: reply without the region's fds", path);
	}
	if (r) {
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
		return r;
	}
	a->memfd = fds[0];
	a->cmd_efd = fds[1];
	a->cpl_efd = fds[2];
	a->app_id = rep.app_id;
	return map_region(a, rep.region_size);
}

struct pony_app *pony_connect(const char *path, const struct pony_opts *opts)
{
	connect_err[0] = '\0';
	if (path == NULL)
		path = getenv("PONY_SOCKET");
	char def[256];
	if (path == NULL || path[0] == '\0') {
		snap_paths_client_default(SNAP_APP_SOCKET_NAME, def, sizeof(def));
		path = def;
	}
	struct pony_app *a = calloc(1, sizeof(*a));
	if (a == NULL) {
		set_err("out of memory");
		return NULL;
	}
	a->sock = a->memfd = a->cmd_efd = a->cpl_efd = -1;
	a->version = PONY_SHM_VERSION;
	a->spin_ns = (uint64_t)PONY_WAIT_SPIN_AUTO_US * 1000;
	a->spin_auto = true;
	const char *spin = getenv("PONY_WAIT_SPIN_US");
	if (spin != NULL && spin[0] != '\0') {
		char *end;
		unsigned long us = strtoul(spin, &end, 10);
		a->spin_auto = false;
		a->spin_ns = 0; /* anything but a number in range: no spin at all */
		if (*end == '\0' && spin[0] != '-' && us <= PONY_WAIT_SPIN_MAX_US)
			a->spin_ns = us * 1000;
	}
	/* A daemon that closes the hello without an answer (it is stopping or being upgraded:
	 * the new daemon then serves the same socket) or says -EAGAIN is tried again, every
	 * 10 ms, within the handshake timeout. A refusal or an absent daemon is final. */
	unsigned budget_ms = opts && opts->timeout_ms ? opts->timeout_ms : 5000;
	struct timespec t0, now, pause = {0, 10000000};
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int r;
	for (;;) {
		r = do_connect(a, path, opts);
		if (r != -EAGAIN && r != -ECONNRESET)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		uint64_t ms = (uint64_t)(now.tv_sec - t0.tv_sec) * 1000u +
			      (uint64_t)(now.tv_nsec / 1000000) - (uint64_t)(t0.tv_nsec / 1000000);
		if (ms + 10 >= budget_ms)
			break;
		close(a->sock);
		a->sock = -1;
		nanosleep(&pause, NULL);
	}
	if (r) {
		pony_close(a);
		errno = -r;
		return NULL;
	}
	return a;
}

void pony_close(struct pony_app *a)
{
	if (a == NULL)
		return;
	if (a->base)
		munmap(a->base, a->size);
	int fds[4] = {a->sock, a->memfd, a->cmd_efd, a->cpl_efd};
	for (int i = 0; i < 4; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	pony_alloc_fini(&a->alloc);
	free(a);
}

/* ---- buffers ---- */

void *pony_buf_alloc(struct pony_app *a, size_t len)
{
	if (len == 0) {
		errno = EINVAL;
		return NULL;
	}
	uint64_t off = pony_alloc_get(&a->alloc, len);
	if (off == UINT64_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	return a->buf + off;
}

void pony_buf_free(struct pony_app *a, void *buf)
{
	if (buf == NULL || (char *)buf < a->buf || (char *)buf >= a->buf + a->hdr.buf_size)
		return;
	pony_alloc_put(&a->alloc, (uint64_t)((char *)buf - a->buf));
}

size_t pony_buf_area_size(const struct pony_app *a)
{
	return a->hdr.buf_size;
}

/* Offset of [buf, buf+len) in the payload area, or -EFAULT. */
int pony_buf_off(const struct pony_app *a, const void *buf, uint64_t len, uint64_t *off)
{
	const char *p = buf;
	if (p < a->buf || p >= a->buf + a->hdr.buf_size)
		return -EFAULT;
	*off = (uint64_t)(p - a->buf);
	return len <= a->hdr.buf_size - *off ? 0 : -EFAULT;
}

/* ---- commands ---- */

int pony_cmd_push_n(struct pony_app *a, const struct pony_shm_cmd *c, uint32_t k)
{
	if (a->dead)
		return -EPIPE;
	const uint32_t n = a->hdr.cmd_entries;
	if (a->cmd_tail - a->cmd_head_cache + k > n) {
		a->cmd_head_cache = pony_shm_head(a->cmd_ring);
		if (a->cmd_tail - a->cmd_head_cache + k > n)
			return -EAGAIN;
	}
	for (uint32_t i = 0; i < k; i++)
		memcpy(&a->cmds[(a->cmd_tail + i) & (n - 1)], &c[i], sizeof(*c));
	a->cmd_tail += k;
	pony_shm_publish(a->cmd_ring, a->cmd_tail); /* all k entries at once */
	if (pony_shm_consumer_sleeps(a->cmd_ring)) {
		uint64_t one = 1;
		if (write(a->cmd_efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			return -errno;
	}
	return 0;
}

int pony_cmd_push(struct pony_app *a, const struct pony_shm_cmd *c)
{
	return pony_cmd_push_n(a, c, 1);
}

int pony_stream_open(struct pony_app *a, uint32_t ip, uint16_t service, uint64_t tag)
{
	return pony_stream_open_flags(a, ip, service, 0, tag);
}

int pony_stream_open_flags(struct pony_app *a, uint32_t ip, uint16_t service, unsigned flags,
			   uint64_t tag)
{
	if (flags & ~PONY_SEND_CLASS_MASK)
		return -EINVAL;
	struct pony_shm_cmd c = {.op = PONY_OP_OPEN, .ip = ip, .service = service, .tag = tag,
				 .flags = (uint8_t)flags};
	return pony_cmd_push(a, &c);
}

int pony_stream_open_str(struct pony_app *a, const char *ip, uint16_t service, uint64_t tag)
{
	struct pony_addr pa;
	if (ip == NULL || pony_addr_parse(ip, &pa) < 0)
		return -EINVAL;
	return pony_stream_open_addr(a, &pa, service, tag);
}

int pony_listen(struct pony_app *a, uint16_t service, uint64_t tag)
{
	struct pony_shm_cmd c = {.op = PONY_OP_LISTEN, .service = service, .tag = tag};
	return pony_cmd_push(a, &c);
}

int pony_unlisten(struct pony_app *a, uint16_t service, uint64_t tag)
{
	struct pony_shm_cmd c = {.op = PONY_OP_UNLISTEN, .service = service, .tag = tag};
	return pony_cmd_push(a, &c);
}

int pony_stream_close(struct pony_app *a, uint32_t stream, uint64_t tag)
{
	struct pony_shm_cmd c = {.op = PONY_OP_CLOSE, .stream = stream, .tag = tag};
	return pony_cmd_push(a, &c);
}

static int send_flags(struct pony_app *a, uint32_t stream, const void *buf, uint32_t len,
		      uint64_t tag, uint8_t flags)
{
	uint64_t off;
	if (len == 0 || len > PONY_MSG_MAX_BYTES)
		return -EINVAL;
	if (pony_buf_off(a, buf, len, &off))
		return -EFAULT;
	struct pony_shm_cmd c = {.op = PONY_OP_SEND, .stream = stream, .off = off, .len = len,
				 .tag = tag, .flags = flags};
	return pony_cmd_push(a, &c);
}

int pony_send(struct pony_app *a, uint32_t stream, const void *buf, uint32_t len, uint64_t tag)
{
	return send_flags(a, stream, buf, len, tag, 0);
}

int pony_send_flags(struct pony_app *a, uint32_t stream, const void *buf, uint32_t len,
		    unsigned flags, uint64_t tag)
{
	if (flags & ~(PONY_SEND_CLASS_MASK | PONY_SEND_RPC))
		return -EINVAL;
	return send_flags(a, stream, buf, len, tag, (uint8_t)flags);
}

int pony_send_copy(struct pony_app *a, uint32_t stream, const void *data, uint32_t len,
		   uint64_t tag)
{
	if (len == 0 || len > PONY_MSG_MAX_BYTES || data == NULL)
		return -EINVAL;
	void *b = pony_buf_alloc(a, len);
	if (b == NULL)
		return -ENOMEM;
	memcpy(b, data, len);
	int r = send_flags(a, stream, b, len, tag, PONY_CMDF_FREE_ON_DONE);
	if (r)
		pony_buf_free(a, b);
	return r;
}

int pony_recv_post_n(struct pony_app *a, uint32_t stream, void *buf, uint32_t len, uint32_t n,
		     uint64_t tag)
{
	uint64_t off;
	if (len == 0 || len > PONY_MSG_MAX_BYTES || n == 0 || n > PONY_RECV_BATCH_MAX)
		return -EINVAL;
	if (pony_buf_off(a, buf, (uint64_t)len * n, &off))
		return -EFAULT;
	struct pony_shm_cmd c = {.op = PONY_OP_RECV, .stream = stream, .off = off, .len = len,
				 .count = n, .tag = tag};
	return pony_cmd_push(a, &c);
}

int pony_recv_post(struct pony_app *a, uint32_t stream, void *buf, uint32_t len, uint64_t tag)
{
	return pony_recv_post_n(a, stream, buf, len, 1, tag);
}

/* ---- completions and sleeping ---- */

int pony_poll(struct pony_app *a, struct pony_completion *out, unsigned max)
{
	return pony_poll_peers(a, out, NULL, max);
}

/* The peer of an OPEN or ACCEPT completion (pony_shm_cpl.peer_addr: IPv6 or v4-mapped). */
static void cpl_peer(const struct pony_shm_cpl *c, struct pony_addr *p)
{
	static const uint8_t v4mapped[12] = {[10] = 0xff, [11] = 0xff};
	memset(p, 0, sizeof(*p));
	if (c->op != PONY_OP_OPEN && c->op != PONY_OP_ACCEPT)
		return;
	if (memcmp(c->peer_addr, v4mapped, 12) == 0) {
		p->family = AF_INET;
		memcpy(p->addr, c->peer_addr + 12, 4);
	} else {
		p->family = AF_INET6;
		memcpy(p->addr, c->peer_addr, 16);
	}
}

int pony_poll_peers(struct pony_app *a, struct pony_completion *out, struct pony_addr *peers,
		    unsigned max)
{
	uint32_t tail = pony_shm_tail(a->cpl_ring);
	uint32_t avail = tail - a->cpl_head;
	if (avail > a->hdr.cpl_entries)
		return -EPROTO;
	pony_disarm(a);
	if (avail == 0)
		return a->dead ? -EPIPE : 0;
	/* Pieces of a large op are taken off the ring as they come; the op's one completion
	 * is returned with the last. */
	unsigned n = 0, i = 0;
	for (; i < avail && n < max; i++) {
		struct pony_shm_cpl c;
		memcpy(&c, &a->cpls[(a->cpl_head + i) & (a->hdr.cpl_entries - 1)], sizeof(c));
		struct pony_completion *o = &out[n];
		if (c.flags & PONY_CMDF_PIECE) {
			int r = pony_large_piece_done(a, &c, o);
			if (r < 0) {
				a->cpl_head += i;
				pony_shm_release(a->cpl_ring, a->cpl_head);
				return r;
			}
			n += (unsigned)r;
			continue;
		}
		if (peers != NULL)
			cpl_peer(&c, &peers[n]);
		n++;
		*o = (struct pony_completion){
			.tag = c.tag, .status = c.status, .op = c.op, .service = c.service,
			.stream = c.stream, .len = c.len, .peer_ip = c.peer_ip,
			.region = c.region, .key = c.key,
		};
		if (c.op == PONY_OP_SEND || c.op == PONY_OP_RECV)
			o->qos_class = c.service ? (uint16_t)(c.service - 1) : PONY_CLASS_NORMAL;
		if ((c.op == PONY_OP_SEND || c.op == PONY_OP_RECV || c.op == PONY_OP_BPF_LOAD ||
		     pony_shm_op_onesided(c.op)) && c.off < a->hdr.buf_size)
			o->buf = a->buf + c.off;
		if (c.flags & PONY_CMDF_FREE_ON_DONE) {
			pony_buf_free(a, o->buf);
			o->buf = NULL;
		}
	}
	a->cpl_head += i;
	pony_shm_release(a->cpl_ring, a->cpl_head);
	return (int)n;
}

/* ---- text ---- */

const char *pony_strerror(int err)
{
	switch (err) {
	case 0: return "success";
	case -EFAULT: return "buffer outside the app's shared payload area";
	case -EBADF: return "unknown or closed stream";
	case -ENOENT: return "no such region or listener";
	case -EAGAIN: return "command ring full: poll completions and retry";
	case -ENOBUFS: return "too many outstanding operations for this app";
	case -ENOSPC: return "per-app limit of streams, regions or listeners reached";
	case -EADDRINUSE: return "service already listened on";
	case -ENOTCONN: return "stream not established";
	case -EMSGSIZE: return "message larger than the receive buffer (discarded)";
	case -ECONNREFUSED: return "connection refused by the peer";
	case -ETIMEDOUT: return "peer not responding";
	case -EHOSTUNREACH: return "peer unreachable";
	case -ECONNRESET: return "stream closed by the peer";
	case -ECANCELED: return "stream closed locally";
	case -EACCES: return "snapnetd refused this user (app policy)";
	case -EPROTO: return "protocol mismatch with snapnetd";
	case -EPIPE: return "snapnetd went away";
	case -EKEYREJECTED: return "remote region key rejected";
	case -EKEYREVOKED: return "remote region revoked";
	case -ERANGE: return "offset/length outside the remote region";
	case -EOVERFLOW: return "remote descriptor points outside its region";
	case -ENODATA: return "key not found in the remote table";
	case -EILSEQ: return "no valid table at that remote offset";
	default: break;
	}
	const char *s = err < 0 ? strerrordesc_np(-err) : NULL;
	return s ? s : "unknown error";
}

const char *pony_op_name(unsigned op)
{
	static const char *const names[PONY_OP_MAX] = {
		[PONY_OP_NONE] = "none", [PONY_OP_OPEN] = "open", [PONY_OP_LISTEN] = "listen",
		[PONY_OP_UNLISTEN] = "unlisten", [PONY_OP_ACCEPT] = "accept",
		[PONY_OP_SEND] = "send", [PONY_OP_RECV] = "recv", [PONY_OP_CLOSE] = "close",
		[PONY_OP_CLOSED] = "closed", [PONY_OP_REGION_REG] = "region_register",
		[PONY_OP_REGION_REVOKE] = "region_revoke", [PONY_OP_READ] = "read",
		[PONY_OP_WRITE] = "write", [PONY_OP_READ_INDIRECT] = "read_indirect",
		[PONY_OP_SCAN_READ] = "scan_read", [PONY_OP_FETCH_ADD] = "fetch_add",
		[PONY_OP_CMP_SWAP] = "cmp_swap", [PONY_OP_BPF_CALL] = "bpf_call",
		[PONY_OP_BPF_LOAD] = "bpf_load",
	};
	return op < PONY_OP_MAX ? names[op] : "?";
}
