/* Takeover wire framing: a 16-byte header (magic, type, payload length, fd count) whose
 * sendmsg carries the fds (SCM_RIGHTS), then the payload. A stream socket; every receive
 * states the largest payload it accepts, checked before anything is allocated. Timeouts come
 * from SO_RCVTIMEO/SO_SNDTIMEO set by the caller. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/fdpass.h"
#include "core/takeover.h"

_Static_assert(SNAP_TAKEOVER_PARTIAL_MAX + 16 <= sizeof(((struct snap_takeover_partial *)0)->buf),
	       "room for a header and the payload");

#define MSG_MAGIC 0x534e5455u /* "SNTU" */
#define FDS_MAX SNAP_FDPASS_MAX
#define PAYLOAD_MAX SNAP_TAKEOVER_FRAME_MAX

struct msg_hdr {
	uint32_t magic, type, len, nfds;
};

static int write_all(int sock, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = send(sock, c, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int sock, void *p, size_t n)
{
	char *c = p;
	while (n) {
		ssize_t r = recv(sock, c, n, 0);
		if (r == 0)
			return -ECONNRESET;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		}
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

int snap_takeover_send(int sock, uint32_t type, const void *payload, uint32_t len,
		       const int *fds, unsigned nfds)
{
	if (nfds > FDS_MAX || len > PAYLOAD_MAX)
		return -EINVAL;
	struct msg_hdr h = {MSG_MAGIC, type, len, nfds};
	long n = snap_fdpass_send(sock, &h, sizeof(h), fds, nfds, 0);
	if (n < 0)
		return (int)n;
	if ((size_t)n < sizeof(h)) {
		int r = write_all(sock, (char *)&h + n, sizeof(h) - (size_t)n);
		if (r)
			return r;
	}
	return len ? write_all(sock, payload, len) : 0;
}

int snap_takeover_gather(int sock, struct snap_takeover_partial *pt, uint32_t want_type,
			 uint32_t max_len, void *out, uint32_t *len)
{
	if (max_len > SNAP_TAKEOVER_PARTIAL_MAX || pt->got > sizeof(pt->buf))
		return -EINVAL;
	struct msg_hdr h;
	/* Two reads at most: the header (checked before its payload is read), then the rest.
	 * Never past this frame: whatever follows is the caller's next message. */
	for (int pass = 0; pass < 2; pass++) {
		size_t want = sizeof(h);
		if (pt->got >= sizeof(h)) {
			memcpy(&h, pt->buf, sizeof(h));
			want += h.len;
		}
		if (pt->got < want) {
			ssize_t n;
			do
				n = recv(sock, pt->buf + pt->got, want - pt->got, MSG_DONTWAIT);
			while (n < 0 && errno == EINTR);
			if (n == 0)
				return -ECONNRESET;
			if (n < 0)
				return -errno; /* -EAGAIN: nothing more yet */
			pt->got += (uint32_t)n;
		}
		if (pt->got < sizeof(h))
			return -EAGAIN;
		memcpy(&h, pt->buf, sizeof(h));
		/* fds sent along were dropped by recv (no control buffer): a bad frame anyway. */
		if (h.magic != MSG_MAGIC || h.type != want_type || h.nfds != 0)
			return -EPROTO;
		if (h.len > max_len)
			return -EMSGSIZE;
		if (pt->got == sizeof(h) + h.len) {
			memcpy(out, pt->buf + sizeof(h), h.len);
			*len = h.len;
			return 0;
		}
	}
	return -EAGAIN;
}

int snap_takeover_recv(int sock, uint32_t *type, void **payload, uint32_t *len, uint32_t max_len,
		       int *fds, unsigned max_fds, unsigned *nfds)
{
	struct msg_hdr h;
	struct iovec iov = {.iov_base = &h, .iov_len = sizeof(h)};
	union {
		char buf[CMSG_SPACE(sizeof(int) * FDS_MAX)];
		struct cmsghdr align;
	} u;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf)};
	*payload = NULL;
	*len = 0;
	if (nfds)
		*nfds = 0;
	ssize_t n;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return -ECONNRESET;
	if (n < 0)
		return errno == EAGAIN ? -ETIMEDOUT : -errno;
	/* Collect the fds first, so every error path below can close them. */
	int got[FDS_MAX];
	unsigned ngot = 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		unsigned k = (unsigned)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (unsigned i = 0; i < k && ngot < FDS_MAX; i++)
			memcpy(&got[ngot++], CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
	}
	int r = 0;
	if ((size_t)n < sizeof(h))
		r = read_all(sock, (char *)&h + n, sizeof(h) - (size_t)n);
	if (r == 0 && (h.magic != MSG_MAGIC || h.nfds != ngot || (mh.msg_flags & MSG_CTRUNC)))
		r = -EPROTO;
	if (r == 0 && (h.len > max_len || h.len > PAYLOAD_MAX || ngot > max_fds))
		r = -EMSGSIZE;
	void *p = NULL;
	if (r == 0 && h.len) {
		p = malloc(h.len);
		r = p ? read_all(sock, p, h.len) : -ENOMEM;
	}
	if (r) {
		free(p);
		for (unsigned i = 0; i < ngot; i++)
			close(got[i]);
		return r;
	}
	if (ngot) /* fds may be NULL when none are allowed: memcpy(NULL, ..., 0) is UB */
		memcpy(fds, got, sizeof(int) * ngot);
	if (nfds)
		*nfds = ngot;
	*type = h.type;
	*payload = p;
	*len = h.len;
	return 0;
}
