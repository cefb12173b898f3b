/* Admission control seen by an application (issue 21): the app layer + libpony over two
 * real transports on the simulated link (5 us each way). A's critical class has an SLO of
 * 1 us that no RPC can meet: the first RPCs run critical and miss it, the admit probability
 * collapses, and most later RPCs complete with qos_class NORMAL in their SEND completions,
 * as many as the transport counted downgraded. Every echo still arrives intact. B's RECV
 * completions say which class each request ran in (as many critical and normal ones as A's
 * SEND completions), A's say its echoes ran critical. */
#include "pony_sim_app.h"

#define RPCS 100

int main(void)
{
	struct sim_apps p;
	sim_apps_start(&p, "app_qos", 1u << 20);
	p.tp[0]->qos.prm.slo_ns[PONY_QOS_CRITICAL] = 1000;
	struct pony_app *a = p.app[0], *b = p.app[1];
	CHECK(pony_listen(b, 7, 70) == 0);
	char *tx = pony_buf_alloc(a, 64), *rx = pony_buf_alloc(a, 64);
	uint32_t stream = 0;
	unsigned sent = 0, got = 0, acked = 0, down = 0, critical = 0, closeA = 0, closedB = 0;
	unsigned b_rx_cls[3] = {0}, a_rx_crit = 0;
	bool opened = false, want_next = false;
	struct pony_completion cp[32];
	for (unsigned step = 0; step < 2000000 && !(closeA && closedB); step++) {
		sim_step();
		pony_app_host_poll(p.h[0], 256);
		pony_app_host_poll(p.h[1], 256);
		if (step == 0)
			CHECK(pony_stream_open_flags(a, 0x7f000002, 7,
						     PONY_SEND_CLASS(PONY_CLASS_CRITICAL), 1) == 0);
		int n = pony_poll(b, cp, 32);
		for (int i = 0; i < n; i++) {
			struct pony_completion *x = &cp[i];
			if (x->op == PONY_OP_ACCEPT) {
				for (int k = 0; k < 4; k++)
					CHECK(pony_recv_post(b, x->stream, pony_buf_alloc(b, 64), 64,
							     0) == 0);
			} else if (x->op == PONY_OP_RECV && x->status == 0) {
				CHECK(x->qos_class <= PONY_CLASS_SCAVENGER);
				b_rx_cls[x->qos_class]++;
				CHECK(pony_send_flags(b, x->stream, x->buf, x->len,
						      PONY_SEND_CLASS(PONY_CLASS_CRITICAL), 0) == 0);
			} else if (x->op == PONY_OP_SEND) {
				CHECK(x->status == 0);
				CHECK(pony_recv_post(b, x->stream, x->buf, 64, 0) == 0);
			} else if (x->op == PONY_OP_CLOSED) {
				closedB = 1;
			}
		}
		n = pony_poll(a, cp, 32);
		for (int i = 0; i < n; i++) {
			struct pony_completion *x = &cp[i];
			if (x->op == PONY_OP_OPEN) {
				CHECK(x->status == 0);
				stream = x->stream;
				opened = want_next = true;
			} else if (x->op == PONY_OP_SEND) {
				CHECK(x->status == 0);
				CHECK(x->qos_class == PONY_CLASS_CRITICAL ||
				      x->qos_class == PONY_CLASS_NORMAL);
				down += x->qos_class == PONY_CLASS_NORMAL;
				critical += x->qos_class == PONY_CLASS_CRITICAL;
				acked++;
			} else if (x->op == PONY_OP_RECV) {
				CHECK(x->status == 0 && x->len == 64 && memcmp(rx, tx, 64) == 0);
				a_rx_crit += x->qos_class == PONY_CLASS_CRITICAL;
				got++;
				want_next = true;
			} else if (x->op == PONY_OP_CLOSE) {
				closeA = 1;
			}
		}
		/* One RPC at a time, each after the previous one's echo and completion. */
		if (opened && want_next && acked == got && sent < RPCS) {
			memset(tx, (int)sent, 64);
			CHECK(pony_recv_post(a, stream, rx, 64, 0) == 0);
			CHECK(pony_send_flags(a, stream, tx, 64, PONY_SEND_RPC, 0) == 0);
			sent++;
			want_next = false;
		} else if (opened && want_next && got == RPCS && acked == RPCS) {
			CHECK(pony_stream_close(a, stream, 9) == 0);
			want_next = false;
		}
	}
	struct pony_qos_class_stats st[PONY_QOS_N];
	pony_tp_qos_stats(p.tp[0], st);
	printf("app_qos: %u RPCs, %u critical, %u downgraded (transport: %lu downgraded, %lu "
	       "critical RPCs measured)\n", got, critical, down,
	       (unsigned long)st[PONY_QOS_CRITICAL].downgraded,
	       (unsigned long)st[PONY_QOS_CRITICAL].rpcs);
	CHECK(got == RPCS && acked == RPCS && closeA && closedB);
	CHECK(critical >= 1 && down >= RPCS / 2);
	CHECK(st[PONY_QOS_CRITICAL].downgraded == down);
	CHECK(st[PONY_QOS_CRITICAL].rpcs == critical); /* measured at their echoes */
	CHECK(b_rx_cls[PONY_CLASS_CRITICAL] == critical && b_rx_cls[PONY_CLASS_NORMAL] == down);
	CHECK(a_rx_crit == RPCS);
	CHECK(pony_unlisten(b, 7, 0) == 0);
	for (unsigned step = 0; step < 100; step++) {
		pony_app_host_poll(p.h[1], 256);
		if (pony_poll(b, cp, 32) > 0)
			break;
	}
	sim_apps_stop(&p);
	printf("app_qos ok\n");
	return 0;
}
