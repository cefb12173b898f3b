/* The smallest libpony program (the README's "Using libpony"): attach to the local daemon,
 * open a stream to an echo service, send one message and print the reply.
 * Usage: pony_hello PEER_IP [SERVICE]    (e.g. against pony_echo_server on that host) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pony.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s PEER_IP [SERVICE]\n", argv[0]);
		return 2;
	}
	struct pony_app *app = pony_connect(NULL, NULL); /* the system daemon's socket */
	if (app == NULL) {
		fprintf(stderr, "pony_connect: %s\n", pony_connect_error());
		return 1;
	}
	char *reply = pony_buf_alloc(app, 64); /* receive buffers live in the shared area */
	uint16_t service = (uint16_t)(argc > 2 ? atoi(argv[2]) : 7);
	if (reply == NULL || pony_stream_open_str(app, argv[1], service, 0) != 0) {
		fprintf(stderr, "cannot open a stream to %s\n", argv[1]);
		return 1;
	}
	int rc = 1;
	struct pony_completion c;
	while (pony_wait(app, 5000) == 1) { /* every result arrives as a completion */
		if (pony_poll(app, &c, 1) != 1)
			continue;
		if (c.status != 0) {
			fprintf(stderr, "%s: %s\n", pony_op_name(c.op), pony_strerror(c.status));
			break;
		}
		if (c.op == PONY_OP_OPEN) {
			pony_recv_post(app, c.stream, reply, 64, 0);
			pony_send_copy(app, c.stream, "hello", 5, 0);
		} else if (c.op == PONY_OP_RECV) {
			printf("reply: %.*s\n", (int)c.len, reply);
			rc = 0;
			break;
		}
	}
	pony_close(app);
	return rc;
}
