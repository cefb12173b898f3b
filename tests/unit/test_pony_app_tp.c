/* The app layer + libpony over two REAL Pony transports joined by the transport's simulated
 * link (tests/unit/pony_sim.h from wip-pony, 1% loss): an echo of 300 messages of 1..200000
 * bytes checked byte for byte, a local close seen by the peer as CLOSED (its posted buffers
 * come back with -ECONNRESET), then detach and gauges at zero.
 */
#include "pony_sim_app.h"


int main(void)
{
	CHECK(sim_eal_init("trial") == 0);
	struct pony_tp_config c;
	struct pony_tp *tp[2];
	for (int i = 0; i < 2; i++) {
		sim_cfg(&c, i);
		c.up = &pony_app_upcalls;
		CHECK(sim_ep_start(i, &c) == 0);
		tp[i] = sim_ep[i].tp;
	}
	sim_link.base_ns = 5000;
	sim_link.loss = 0.01;
	struct pony_app_config cfg;
	pony_app_config_defaults(&cfg);
	cfg.buf_size = 8u << 20;
	struct pony_app_host *hA = pony_app_host_create(NULL, "A", tp[0]);
	struct pony_app_host *hB = pony_app_host_create(NULL, "B", tp[1]);
	struct pony_app *a, *b;
	struct pony_app_session *sA = sim_app_session(&cfg, hA, 1, &a);
	struct pony_app_session *sB = sim_app_session(&cfg, hB, 2, &b);
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
	CHECK(sA->cnt.cpl_overflow == 0 && sB->cnt.cpl_overflow == 0);
	CHECK(sA->cnt.stray_upcalls == 0 && sB->cnt.stray_upcalls == 0);
	pony_app_unwrap(a);
	pony_app_unwrap(b);
	CHECK(pony_app_host_detach(hA, sA) == 0);
	CHECK(pony_app_host_detach(hB, sB) == 0);
	CHECK(pony_app_host_counters(hA)->sessions == 0 && pony_app_host_counters(hB)->sessions == 0);
	CHECK(pony_app_host_counters(hB)->streams == 0 && pony_app_host_counters(hB)->listens == 0);
	pony_app_host_destroy(hA);
	pony_app_host_destroy(hB);
	sim_drop_pending();
	sim_ep_stop(0);
	sim_ep_stop(1);
	sim_eal_fini();
	printf("trial ok\n");
	return 0;
}
