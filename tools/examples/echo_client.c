/* libpony example: echo RPC client. Opens a stream to an echo server, sends -n messages of
 * -l bytes one at a time and reports round-trip latency percentiles.
 * Usage: echo_client [-s socket] [-e engine] -i ip [-p service] [-n count] [-l bytes] */
#include <getopt.h>

#include "ex_common.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *engine = NULL, *ip = NULL;
	unsigned service = 7, count = 1000, len = 64;
	int opt;
	while ((opt = getopt(argc, argv, "s:e:i:p:n:l:")) != -1) {
		switch (opt) {
		case 's': sock = optarg; break;
		case 'e': engine = optarg; break;
		case 'i': ip = optarg; break;
		case 'p': service = (unsigned)atoi(optarg); break;
		case 'n': count = (unsigned)atoi(optarg); break;
		case 'l': len = (unsigned)atoi(optarg); break;
		default: ip = NULL; optind = argc; break;
		}
	}
	if (ip == NULL || count == 0 || len == 0 || len > PONY_MSG_MAX_BYTES) {
		fprintf(stderr, "usage: %s [-s socket] [-e engine] -i ip [-p service] [-n count] "
			"[-l bytes]\n", argv[0]);
		return 2;
	}
	struct pony_app *app = ex_connect(sock, engine);
	char *tx = pony_buf_alloc(app, len), *rx = pony_buf_alloc(app, len);
	double *rtt = calloc(count, sizeof(*rtt));
	if (tx == NULL || rx == NULL || rtt == NULL) {
		fprintf(stderr, "echo_client: no buffer space for %u bytes\n", len);
		return 1;
	}
	for (unsigned i = 0; i < len; i++)
		tx[i] = (char)('a' + i % 26);
	ex_check(pony_stream_open_str(app, ip, (uint16_t)service, 1), "open");
	struct ex_loop l = {.app = app};
	struct pony_completion c;
	uint32_t stream = 0;
	unsigned done = 0;
	double t0 = 0;
	int r = 0, ret = 1;
	while (done < count && (r = ex_next(&l, &c, 5000)) > 0) {
		if (c.status != 0) {
			fprintf(stderr, "echo_client: %s: %s\n", pony_op_name(c.op),
				pony_strerror(c.status));
			goto out;
		}
		if (c.op == PONY_OP_OPEN) {
			stream = c.stream;
		} else if (c.op == PONY_OP_RECV) {
			if (c.len != len || memcmp(rx, tx, len) != 0) {
				fprintf(stderr, "echo_client: reply %u differs\n", done);
				goto out;
			}
			rtt[done++] = ex_now_us() - t0;
		} else {
			continue; /* SEND acks */
		}
		if (done == count)
			break;
		ex_check(pony_recv_post(app, stream, rx, len, 2), "recv");
		t0 = ex_now_us();
		ex_check(pony_send(app, stream, tx, len, 3), "send");
	}
	if (done < count) {
		fprintf(stderr, "echo_client: stopped after %u of %u (%s)\n", done, count,
			r == 0 ? "timeout" : pony_strerror(r));
		goto out;
	}
	qsort(rtt, count, sizeof(*rtt), cmp_double);
	printf("echo_client: %u x %u B: rtt p50 %.1f us, p99 %.1f us, max %.1f us\n", count, len,
	       rtt[count / 2], rtt[(size_t)(count * 0.99)], rtt[count - 1]);
	pony_stream_close(app, stream, 4);
	ret = 0;
out:
	pony_close(app);
	free(rtt);
	return ret;
}
