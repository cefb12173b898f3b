/* The app layer + libpony over two REAL Pony transports joined by the transport's simulated
 * link (tests/unit/pony_sim.h from wip-pony, 1% loss): an echo of 300 messages of 1..200000
 * bytes checked byte for byte, a local close seen by the peer as CLOSED (its posted buffers
 * come back with -ECONNRESET), then detach and gauges at zero.
 */
#include "pony_sim_app.h"


int main(void)
{
	struct sim_apps p;
	sim_apps_start(&p, "trial", 8u << 20);
	sim_link.loss = 0.01;
	struct pony_app_host *hA = p.h[0], *hB = p.h[1];
	struct pony_app *a = p.app[0], *b = p.app[1];
	CHECK(pony_listen(b, 7, 70) == 0);
	const unsigned N = 300;
	char *tx = pony_buf_alloc(a, 200000), *rx = pony_buf_alloc(a, 200000);
	for (unsigned i = 0; i < 200000; i++)
		tx[i] = (char)(i * 7);
	uint32_t stream = 0, bstream = 0;
	unsigned sent = 0, got = 0, echoed = 0, closedB = 0, closeA = 0;
	bool opened = false;
	struct pony_completion cp[32];
	for (unsigned step = 0; step < 2000000 && !(closeA && closedB); step++) {
		sim_step();
		pony_app_host_poll(hA, 256);
		pony_app_host_poll(hB, 256);
		if (step == 0)
			CHECK(pony_stream_open(a, 0x7f000002, 7, 1) == 0);
		int n = pony_poll(b, cp, 32);
		for (int i = 0; i < n; i++) {
			struct pony_completion *x = &cp[i];
			if (x->op == PONY_OP_ACCEPT) {
				CHECK(x->status == 0 && x->peer_ip == 0x7f000001);
				bstream = x->stream;
				for (int k = 0; k < 4; k++) {
					void *bb = pony_buf_alloc(b, 200000);
					CHECK(pony_recv_post(b, x->stream, bb, 200000, 0) == 0);
				}
			} else if (x->op == PONY_OP_RECV) {
				if (x->status == -ECONNRESET && got == N)
					continue; /* A closed: posted buffers come back */
				CHECK(x->status == 0);
				CHECK(pony_send(b, x->stream, x->buf, x->len, 0) == 0);
			} else if (x->op == PONY_OP_SEND) {
				CHECK(x->status == 0);
				echoed++;
				CHECK(pony_recv_post(b, x->stream, x->buf, 200000, 0) == 0);
			} else if (x->op == PONY_OP_CLOSED) {
				CHECK(x->stream == bstream && x->tag == 70);
				closedB = 1;
			} else if (x->op == PONY_OP_RECV || x->op == PONY_OP_LISTEN) {
				CHECK(x->status == 0);
			}
		}
		n = pony_poll(a, cp, 32);
		bool next = false;
		for (int i = 0; i < n; i++) {
			struct pony_completion *x = &cp[i];
			if (x->op == PONY_OP_OPEN) {
				CHECK(x->status == 0);
				stream = x->stream;
				opened = true;
				next = true;
			} else if (x->op == PONY_OP_RECV) {
				CHECK(x->status == 0);
				uint32_t want = 1 + (got * 7919u) % 199999u;
				CHECK(x->len == want && memcmp(rx, tx, want) == 0);
				got++;
				next = true;
			} else if (x->op == PONY_OP_CLOSE) {
				closeA = 1;
			} else if (x->op == PONY_OP_SEND) {
				CHECK(x->status == 0);
			}
		}
		if (opened && next && sent < N) {
			uint32_t len = 1 + (sent * 7919u) % 199999u;
			CHECK(pony_recv_post(a, stream, rx, 200000, 0) == 0);
			CHECK(pony_send(a, stream, tx, len, 0) == 0);
			sent++;
		} else if (opened && next && got == N) {
			CHECK(pony_stream_close(a, stream, 9) == 0);
		}
	}
	printf("trial: sent %u got %u echoed %u closeA %u closedB %u; sim sent %lu lost %lu\n",
	       sent, got, echoed, closeA, closedB, (unsigned long)sim_link.sent,
	       (unsigned long)sim_link.lost);
	CHECK(got == N && closeA && closedB);
	sim_apps_stop(&p);
	printf("trial ok\n");
	return 0;
}
