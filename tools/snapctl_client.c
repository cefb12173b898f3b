/* Control-protocol client: blocking socket with poll()-based timeouts, one request at a time. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/paths.h"
#include "tools/snapctl_client.h"

struct snapctl_conn {
	int fd;
	uint64_t next_id;
};

static char connect_why[512];

const char *snapctl_connect_error(void)
{
	return connect_why;
}

struct snapctl_conn *snapctl_connect(const char *path)
{
	connect_why[0] = '\0';
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	struct snapctl_conn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->next_id = 1;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = errno;
		if (c->fd >= 0)
			close(c->fd);
		free(c);
		errno = err;
		return NULL;
	}
	/* Before the first request: a squatter must not see what we ask (an upgrade's path). */
	int r = snap_paths_peer_check(c->fd, path, connect_why, sizeof(connect_why));
	if (r) {
		close(c->fd);
		free(c);
		errno = -r;
		return NULL;
	}
	return c;
}

void snapctl_close(struct snapctl_conn *c)
{
	if (c == NULL)
		return;
	close(c->fd);
	free(c);
}

int snapctl_send_raw(struct snapctl_conn *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EPIPE ? -ECONNRESET : -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int snapctl_send_frame(struct snapctl_conn *c, const void *payload, size_t len)
{
	if (len > UINT32_MAX)
		return -EMSGSIZE;
	uint8_t *buf = malloc(CTL_FRAME_HDR + len);
	if (buf == NULL)
		return -ENOMEM;
	buf[0] = (uint8_t)(len >> 24);
	buf[1] = (uint8_t)(len >> 16);
	buf[2] = (uint8_t)(len >> 8);
	buf[3] = (uint8_t)len;
	if (len)
		memcpy(buf + CTL_FRAME_HDR, payload, len);
	int r = snapctl_send_raw(c, buf, CTL_FRAME_HDR + len);
	free(buf);
	return r;
}

int snapctl_send_request(struct snapctl_conn *c, uint32_t version, uint64_t id,
			 const char *method, const ProtobufCMessage *req)
{
	Ctl__Request env = CTL__REQUEST__INIT;
	uint8_t *payload = NULL;
	env.version = version;
	env.id = id;
	env.method = (char *)(uintptr_t)method;
	if (req) {
		size_t n = protobuf_c_message_get_packed_size(req);
		payload = malloc(n ? n : 1);
		if (payload == NULL)
			return -ENOMEM;
		protobuf_c_message_pack(req, payload);
		env.has_payload = true;
		env.payload.data = payload;
		env.payload.len = n;
	}
	size_t n = ctl__request__get_packed_size(&env);
	uint8_t *buf = malloc(n ? n : 1);
	int r = -ENOMEM;
	if (buf) {
		ctl__request__pack(&env, buf);
		r = snapctl_send_frame(c, buf, n);
	}
	free(buf);
	free(payload);
	return r;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Read exactly len bytes before the deadline (0: none). */
static int read_full(struct snapctl_conn *c, uint8_t *p, size_t len, uint64_t deadline)
{
	while (len) {
		int wait = -1;
		if (deadline) {
			uint64_t now = mono_ms();
			if (now >= deadline)
				return -ETIMEDOUT;
			wait = (int)(deadline - now);
		}
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		int pr = poll(&pfd, 1, wait);
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pr == 0)
			return -ETIMEDOUT;
		ssize_t n = recv(c->fd, p, len, 0);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ECONNRESET;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int snapctl_recv(struct snapctl_conn *c, unsigned timeout_ms, Ctl__Response **rsp)
{
	uint64_t deadline = timeout_ms ? mono_ms() + timeout_ms : 0;
	uint8_t hdr[CTL_FRAME_HDR];
	int r = read_full(c, hdr, sizeof(hdr), deadline);
	if (r < 0)
		return r;
	uint32_t n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
	if (n > CTL_CLIENT_MAX_MSG)
		return -EMSGSIZE;
	uint8_t *buf = malloc(n ? n : 1);
	if (buf == NULL)
		return -ENOMEM;
	r = read_full(c, buf, n, deadline);
	if (r == 0) {
		*rsp = ctl__response__unpack(NULL, n, buf);
		if (*rsp == NULL)
			r = -EBADMSG;
	}
	free(buf);
	return r;
}

int snapctl_call_progress(struct snapctl_conn *c, const char *method,
			  const ProtobufCMessage *req, unsigned timeout_ms,
			  snapctl_progress_fn on_progress, void *arg, Ctl__Response **rsp)
{
	uint64_t id = c->next_id++;
	int r = snapctl_send_request(c, CTL_PROTO_VERSION, id, method, req);
	if (r < 0)
		return r;
	uint64_t deadline = timeout_ms ? mono_ms() + timeout_ms : 0;
	for (;;) {
		unsigned left = 0;
		if (deadline) {
			uint64_t now = mono_ms();
			if (now >= deadline)
				return -ETIMEDOUT;
			left = (unsigned)(deadline - now);
		}
		r = snapctl_recv(c, left, rsp);
		if (r < 0)
			return r;
		/* A reply with id 0 is the server refusing the frame itself (e.g. oversized). */
		if ((*rsp)->id != id && (*rsp)->id != 0) {
			ctl__response__free_unpacked(*rsp, NULL);
			*rsp = NULL;
			return -EPROTO;
		}
		if (!(*rsp)->has_progress || !(*rsp)->progress)
			return 0;
		if (on_progress)
			on_progress(*rsp, arg);
		ctl__response__free_unpacked(*rsp, NULL);
		*rsp = NULL;
		if (on_progress == NULL)
			return -EPROTO; /* progress nobody asked for: the server broke the protocol */
	}
}

int snapctl_call(struct snapctl_conn *c, const char *method, const ProtobufCMessage *req,
		 unsigned timeout_ms, Ctl__Response **rsp)
{
	return snapctl_call_progress(c, method, req, timeout_ms, NULL, NULL, rsp);
}

ProtobufCMessage *snapctl_reply_unpack(const Ctl__Response *rsp,
				       const ProtobufCMessageDescriptor *desc)
{
	static const uint8_t empty[1];
	if (!rsp->has_payload)
		return protobuf_c_message_unpack(desc, NULL, 0, empty);
	return protobuf_c_message_unpack(desc, NULL, rsp->payload.len, rsp->payload.data);
}
