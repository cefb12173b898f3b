/* libpony example: echo server. Listens on a service; every message received on an
 * accepted stream is sent back from the same buffer (zero copies in the app), and the
 * buffer is posted again once the echo is acknowledged.
 * Usage: echo_server [-s socket] [-e engine] [-p service] [-b buffers-per-stream] */
#include <getopt.h>

#include "ex_common.h"

#define MSG_BUF (64 * 1024)

/* Tags carry the buffer pointer: every op on a buffer finds it again from its completion. */
static uint64_t tag_of(void *buf)
{
	return (uint64_t)(uintptr_t)buf;
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *engine = NULL;
	unsigned service = 7, nbuf = 8;
	int opt;
	while ((opt = getopt(argc, argv, "s:e:p:b:")) != -1) {
		switch (opt) {
		case 's': sock = optarg; break;
		case 'e': engine = optarg; break;
		case 'p': service = (unsigned)atoi(optarg); break;
		case 'b': nbuf = (unsigned)atoi(optarg); break;
		default:
			fprintf(stderr, "usage: %s [-s socket] [-e engine] [-p service] [-b n]\n",
				argv[0]);
			return 2;
		}
	}
	struct pony_app *app = ex_connect(sock, engine);
	ex_check(pony_listen(app, (uint16_t)service, 0), "listen");
	struct ex_loop l = {.app = app};
	struct pony_completion c;
	unsigned long echoed = 0;
	int r;
	while ((r = ex_next(&l, &c, -1)) > 0) {
		switch (c.op) {
		case PONY_OP_LISTEN:
			ex_check(c.status, "listen");
			printf("echo_server: listening on service %u\n", service);
			fflush(stdout);
			break;
		case PONY_OP_ACCEPT:
			for (unsigned i = 0; i < nbuf; i++) {
				void *b = pony_buf_alloc(app, MSG_BUF);
				if (b == NULL || pony_recv_post(app, c.stream, b, MSG_BUF, tag_of(b)))
					pony_buf_free(app, b);
			}
			break;
		case PONY_OP_RECV:
			if (c.status == 0 &&
			    pony_send(app, c.stream, c.buf, c.len, tag_of(c.buf)) == 0)
				break;
			pony_buf_free(app, c.buf); /* stream gone (or too long): drop the buffer */
			break;
		case PONY_OP_SEND:
			echoed += c.status == 0;
			if (c.status != 0 ||
			    pony_recv_post(app, c.stream, c.buf, MSG_BUF, tag_of(c.buf)) != 0)
				pony_buf_free(app, c.buf);
			break;
		case PONY_OP_CLOSED:
			printf("echo_server: stream %u closed (%s), %lu echoed so far\n", c.stream,
			       pony_strerror(c.status), echoed);
			fflush(stdout);
			break;
		default:
			break;
		}
	}
	fprintf(stderr, "echo_server: %s\n", pony_strerror(r));
	pony_close(app);
	return r == -EPIPE ? 1 : 0;
}
