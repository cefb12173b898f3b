/* Fuzz target for the control RPC server: arbitrary bytes sent on a control connection (a
 * stream of length-prefixed frames, or not) may only produce error replies and a closed
 * connection; after every input the server must still answer a status call. No EAL: with no
 * engines or ports the handlers touch no DPDK state beyond rte_log. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control/rpc.h"
#include "tools/snapctl_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ctl_rpc_server *srv;
static char path[108];

static void cleanup(void)
{
	ctl_rpc_destroy(srv);
}

/* Liveness probe for builds without the daemon's method modules (the libFuzzer build links
 * only the server); where ctl_daemon.c's status exists, registering this fails harmlessly. */
static int h_status(struct ctl_rpc_call *call, const uint8_t *req, size_t len)
{
	ProtobufCMessage *m = ctl_rpc_unpack(call, &ctl__status_request__descriptor, req, len);
	if (m == NULL)
		return -EBADMSG;
	protobuf_c_message_free_unpacked(m, NULL);
	Ctl__StatusReply r = CTL__STATUS_REPLY__INIT;
	r.version = (char *)"fuzz";
	r.build_id = (char *)"fuzz";
	return ctl_rpc_reply(call, &r.base);
}

static void setup(void)
{
	ctl_rpc_register(CTL_M_STATUS, h_status, CTL_RPC_READONLY);
	snprintf(path, sizeof(path), "/tmp/fuzz-ctl-%d.sock", (int)getpid());
	struct ctl_rpc_config cfg;
	ctl_rpc_config_default(&cfg);
	cfg.path = path;
	cfg.mode = 0600;
	cfg.max_msg = 4096; /* small, so oversized frames are within the fuzzer's reach */
	srv = ctl_rpc_create(&cfg);
	if (srv == NULL) {
		perror("ctl_rpc_create");
		abort();
	}
	atexit(cleanup);
}

static int raw_connect(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		abort();
	return fd;
}

/* Drain whatever the server sent; true at EOF. */
static bool drain(int fd)
{
	uint8_t buf[65536];
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return true;
		if (n < 0)
			return false;
	}
}

static void check_alive(void)
{
	struct snapctl_conn *c = snapctl_connect(path);
	if (c == NULL || snapctl_send_request(c, CTL_PROTO_VERSION, 1, CTL_M_STATUS, NULL) < 0)
		abort();
	for (int i = 0; i < 4; i++)
		ctl_rpc_process(srv); /* accept, then read and answer */
	Ctl__Response *rsp = NULL;
	if (snapctl_recv(c, 1000, &rsp) < 0 || rsp->id != 1 || (rsp->has_error && rsp->error)) {
		fprintf(stderr, "fuzz_ctl_rpc: server stopped answering\n");
		abort();
	}
	ctl__response__free_unpacked(rsp, NULL);
	snapctl_close(c);
	ctl_rpc_process(srv); /* notice the close */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (srv == NULL)
		setup();
	int fd = raw_connect();
	size_t off = 0;
	bool eof = false;
	if (size == 0)
		shutdown(fd, SHUT_WR);
	/* Feed the input while serving, so inputs larger than the socket buffer get through;
	 * then half-close and serve until the server closes. Bounded: 4000 rounds of <= 1 ms. */
	for (int i = 0; i < 4000 && !eof; i++) {
		if (off < size) {
			ssize_t n = send(fd, data + off, size - off, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0)
				off += (size_t)n;
			else if (n < 0 && errno != EAGAIN)
				off = size; /* server closed on us (e.g. oversized frame) */
			if (off == size)
				shutdown(fd, SHUT_WR);
		}
		ctl_rpc_process(srv);
		eof = drain(fd);
		if (!eof && off == size) {
			struct pollfd p = {.fd = ctl_rpc_fd(srv), .events = POLLIN};
			poll(&p, 1, 1);
		}
	}
	close(fd);
	if (!eof) {
		fprintf(stderr, "fuzz_ctl_rpc: connection not closed after the input\n");
		abort();
	}
	ctl_rpc_process(srv);
	check_alive();
	return 0;
}
