/* pony_rpc's passive and one-way modes: the echo server, the sink that never grants
 * credit, the holder of pending sends, and the push/drain pair (see pony_rpc.c). */
#include "pony_rpc.h"

/* ---- server / sink ---------------------------------------------------------------------- */

int run_server(const struct opts *o)
{
	struct pony_app *a = attach(o->sock);
	struct pony_completion c;
	if (pony_listen(a, (uint16_t)o->service, 0) < 0 || wait_op(a, PONY_OP_LISTEN, &c, now_s() + 5) != 0) {
		fprintf(stderr, "server: listen failed\n");
		return 1;
	}
	printf("server: listening on %u\n", o->service);
	fflush(stdout);
	unsigned long echoed = 0;
	int r;
	while ((r = next_cpl(a, &c, now_s() + 3600)) >= 0) {
		if (r == 0)
			continue;
		switch (c.op) {
		case PONY_OP_ACCEPT:
			for (unsigned i = 0; i < o->window; i++) {
				void *b = pony_buf_alloc(a, o->max_len);
				if (b == NULL || pony_recv_post(a, c.stream, b, o->max_len, 0) < 0) {
					fprintf(stderr, "server: cannot post %u buffers of %u B\n",
						o->window, o->max_len);
					pony_buf_free(a, b);
					break;
				}
			}
			break;
		case PONY_OP_RECV:
			if (c.status == 0 && pony_send(a, c.stream, c.buf, c.len, 0) == 0)
				break;
			pony_buf_free(a, c.buf);
			break;
		case PONY_OP_SEND:
			echoed += c.status == 0;
			if (c.status != 0 || pony_recv_post(a, c.stream, c.buf, o->max_len, 0) < 0)
				pony_buf_free(a, c.buf);
			break;
		case PONY_OP_CLOSED:
			printf("server: stream %u closed (%s), %lu echoed\n", c.stream,
			       pony_strerror(c.status), echoed);
			fflush(stdout);
			break;
		default:
			break;
		}
	}
	fprintf(stderr, "server: %s\n", pony_strerror(r));
	pony_close(a);
	return 0;
}

int run_sink(const struct opts *o)
{
	struct pony_app *a = attach(o->sock);
	struct pony_completion c;
	if (pony_listen(a, (uint16_t)o->service, 0) < 0 || wait_op(a, PONY_OP_LISTEN, &c, now_s() + 5) != 0)
		return 1;
	printf("sink: listening on %u\n", o->service);
	char *buf = pony_buf_alloc(a, 256);
	unsigned streams = 0, closed = 0, queued = 0, sent_ok = 0, sent_err = 0;
	int last_err = 0, close_status = 1;
	double deadline = now_s() + 150;
	/* Every accepted stream gets n sends the peer never grants credit for; they stay
	 * pending until the peer goes away. Done when every stream closed and every send
	 * completed. */
	while (streams == 0 || closed < streams || sent_ok + sent_err < queued) {
		int r = next_cpl(a, &c, deadline);
		if (r <= 0) {
			fprintf(stderr, "sink: %s (streams %u closed %u, sends %u: ok %u err %u)\n",
				r == 0 ? "timeout" : pony_strerror(r), streams, closed, queued,
				sent_ok, sent_err);
			return 1;
		}
		switch (c.op) {
		case PONY_OP_ACCEPT:
			streams++;
			for (unsigned i = 0; i < o->n; i++) {
				int q;
				while ((q = pony_send(a, c.stream, buf, 256, i)) == -EAGAIN)
					usleep(1000);
				if (q < 0) {
					fprintf(stderr, "sink: send: %s\n", pony_strerror(q));
					return 1;
				}
				queued++;
			}
			printf("SINK streams %u sends %u\n", streams, queued);
			break;
		case PONY_OP_SEND:
			if (c.status == 0) {
				sent_ok++;
			} else {
				sent_err++;
				last_err = c.status;
			}
			break;
		case PONY_OP_CLOSED:
			closed++;
			close_status = c.status;
			break;
		default:
			break;
		}
	}
	printf("sink: %u streams closed (last: %s); of %u pending sends %u failed (%s), %u acked\n",
	       streams, pony_strerror(close_status), queued, sent_err, pony_strerror(last_err),
	       sent_ok);
	pony_close(a);
	return sent_err > 0 && sent_ok == 0 ? 0 : 1;
}

/* Queue n sends over as many streams as the per-stream send queue (60 here) requires. */
int run_hold(const struct opts *o)
{
	struct pony_app *a = attach(o->sock);
	struct pony_completion c;
	char *buf = pony_buf_alloc(a, 4096);
	unsigned left = o->n, streams = 0;
	while (left) {
		if (pony_stream_open_str(a, o->ip, (uint16_t)o->service, 1) < 0 ||
		    wait_op(a, PONY_OP_OPEN, &c, now_s() + 10) != 0) {
			fprintf(stderr, "hold: open failed\n");
			return 1;
		}
		streams++;
		for (unsigned i = 0; i < 60 && left; i++, left--) {
			int r;
			while ((r = pony_send(a, c.stream, buf, 4096, i)) == -EAGAIN)
				usleep(1000);
			if (r < 0) {
				fprintf(stderr, "hold: send: %s\n", pony_strerror(r));
				return 1;
			}
		}
	}
	usleep(300 * 1000); /* let the daemon take every command */
	struct pony_completion cs[64];
	int n;
	while ((n = pony_poll(a, cs, 64)) > 0)
		for (int i = 0; i < n; i++)
			if (cs[i].status != 0 || cs[i].op == PONY_OP_SEND) {
				fprintf(stderr, "hold: unexpected %s completion: %s\n",
					pony_op_name(cs[i].op), pony_strerror(cs[i].status));
				return 1;
			}
	printf("HOLDING %u sends on %u streams\n", o->n, streams);
	fflush(stdout);
	for (;;)
		pause();
}

/* ---- push / drain: one-way stream with a receiver that stops reading -------------------- */


/* Receiver: verifies every message (id in the first 8 bytes, content derived from it),
 * counts each id once; after `pause_after` messages it stops re-posting buffers for
 * pause_s seconds (the sender gets no credit), then resumes. */
int run_drain(const struct opts *o)
{
	struct pony_app *a = attach(o->sock);
	struct pony_completion c;
	if (pony_listen(a, (uint16_t)o->service, 0) < 0 || wait_op(a, PONY_OP_LISTEN, &c, now_s() + 5) != 0)
		return 1;
	printf("drain: listening on %u\n", o->service);
	if (wait_op(a, PONY_OP_ACCEPT, &c, now_s() + 60) != 0)
		return 1;
	uint32_t st = c.stream;
	bool until_close = o->n == 0; /* count until the peer closes; check content only */
	uint8_t *seen = calloc(o->n ? o->n : 1, 1), *want = malloc(o->max_len);
	uint64_t bytes = 0;
	double t_first = 0, t_last = 0;
	void *parked[MAX_WINDOW];
	unsigned n_parked = 0, got = 0, dups = 0, bad = 0;
	for (unsigned i = 0; i < o->window; i++) {
		void *b = pony_buf_alloc(a, o->max_len);
		if (b == NULL || pony_recv_post(a, st, b, o->max_len, 0) < 0)
			return 1;
	}
	double pause_end = 0, deadline = now_s() + o->timeout_s;
	bool paused = false;
	while (until_close || got < o->n) {
		if (paused && now_s() >= pause_end) {
			paused = false;
			printf("RESUMED after %u messages\n", got);
			for (unsigned i = 0; i < n_parked; i++)
				if (pony_recv_post(a, st, parked[i], o->max_len, 0) < 0)
					return 1;
			n_parked = 0;
		}
		int r = next_cpl(a, &c, paused ? pause_end : deadline);
		if (r < 0 || (r == 0 && !paused)) {
			fprintf(stderr, "drain: %s after %u messages\n", r ? pony_strerror(r) : "timeout", got);
			return 1;
		}
		if (r > 0 && c.op == PONY_OP_CLOSED && until_close)
			break;
		if (r == 0 || c.op != PONY_OP_RECV)
			continue;
		if (c.status == -ECONNRESET && until_close)
			break; /* the sender closed: posted buffers come back, then CLOSED */
		if (c.status != 0) {
			fprintf(stderr, "drain: recv: %s\n", pony_strerror(c.status));
			return 1;
		}
		uint64_t id = 0;
		memcpy(&id, c.buf, c.len >= 8 ? 8 : 0);
		fill(want, c.len, id);
		if (c.len < 8 || (!until_close && id >= o->n) || memcmp(want, c.buf, c.len) != 0)
			bad++;
		else if (!until_close && seen[id]++)
			dups++;
		else
			got++;
		bytes += c.len;
		t_last = now_s();
		if (t_first == 0)
			t_first = t_last;
		if (got == o->pause_after && !paused && o->pause_s) {
			paused = true;
			pause_end = now_s() + o->pause_s;
			printf("PAUSED after %u messages for %u s\n", got, o->pause_s);
		}
		if (paused)
			parked[n_parked++] = c.buf;
		else if (pony_recv_post(a, st, c.buf, o->max_len, 0) < 0)
			return 1;
	}
	printf("drain: %u distinct messages intact, %u duplicates, %u bad\n", got, dups, bad);
	if (until_close)
		printf("DRAIN_BYTES %lu %.3f\n", (unsigned long)bytes, t_last - t_first);
	pony_close(a);
	return dups || bad ? 1 : 0;
}

/* Sender: keeps up to window sends queued; a send the transport refuses for a full send
 * queue (-ENOBUFS completion) is back-pressure: it is retried later, never dropped. */
int run_push(const struct opts *o)
{
	struct pony_app *a = attach(o->sock);
	struct pony_completion c;
	if (pony_stream_open_str(a, o->ip, (uint16_t)o->service, 1) < 0 ||
	    wait_op(a, PONY_OP_OPEN, &c, now_s() + 10) != 0) {
		fprintf(stderr, "push: open failed\n");
		return 1;
	}
	uint32_t st = c.stream;
	uint8_t *slot[MAX_WINDOW];
	uint64_t id_of[MAX_WINDOW];
	unsigned free_slots[MAX_WINDOW], n_free = 0, retry[MAX_WINDOW], n_retry = 0;
	for (unsigned i = 0; i < o->window; i++) {
		slot[i] = pony_buf_alloc(a, o->max_len);
		if (slot[i] == NULL)
			return 1;
		free_slots[n_free++] = i;
	}
	uint64_t next = 0, acked = 0, bp = 0;
	double t0 = now_s(), deadline = t0 + o->timeout_s, last_retry = 0;
	unsigned total = o->n;
	while (acked < total) {
		if (o->duration_s && now_s() - t0 >= o->duration_s && total == o->n)
			total = (unsigned)next; /* time is up: finish what is queued */
		if (n_retry && now_s() - last_retry > 0.005) { /* else every 5 ms */
			unsigned s = retry[--n_retry];
			last_retry = now_s();
			if (pony_send(a, st, slot[s], o->max_len, s) < 0)
				retry[n_retry++] = s;
		}
		while (n_free && next < total && n_retry == 0) {
			unsigned s = free_slots[--n_free];
			id_of[s] = next;
			fill(slot[s], o->max_len, next++);
			if (pony_send(a, st, slot[s], o->max_len, s) < 0)
				retry[n_retry++] = s;
		}
		if (now_s() > deadline) {
			fprintf(stderr, "push: timeout with %lu of %u acked\n", (unsigned long)acked, o->n);
			return 1;
		}
		int r = pony_poll(a, &c, 1);
		if (r == 0) {
			pony_wait(a, 5);
			continue;
		}
		if (r < 0)
			return 1;
		if (c.op != PONY_OP_SEND)
			continue;
		unsigned s = (unsigned)c.tag;
		if (c.status == -ENOBUFS) {
			if (bp++ == 0)
				printf("BACKPRESSURE first at message %lu\n", (unsigned long)id_of[s]);
			retry[n_retry++] = s;
		} else if (c.status != 0) {
			fprintf(stderr, "push: send: %s\n", pony_strerror(c.status));
			return 1;
		} else {
			acked++;
			free_slots[n_free++] = s;
			last_retry = 0; /* the send queue has room again: retry at once */
		}
	}
	double el = now_s() - t0;
	printf("push: %u messages of %u B acked in %.2f s (%.1f Mbit/s); %lu sends refused with "
	       "ENOBUFS (back-pressure) and retried\n", total, o->max_len, el,
	       (double)total * o->max_len * 8 / el / 1e6, (unsigned long)bp);
	pony_stream_close(a, st, 2);
	wait_op(a, PONY_OP_CLOSE, &c, now_s() + 5);
	pony_close(a);
	return 0;
}

