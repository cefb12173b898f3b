/* Test app for the end-to-end Pony tests over real daemons (tests/integration/pony_*.sh):
 * a checking echo RPC client and server, plus the modes the failure tests need (an app
 * that holds many ops and is then killed, a server whose ops must fail when that app dies,
 * an idle client whose CPU use is measured).
 *
 *   pony_rpc server -s SOCK [-p service] [-m max_len] [-w bufs_per_stream]
 *       echo every message back from the buffer it arrived in (re-posted after the echo).
 *   pony_rpc sink -s SOCK [-p service] [-n sends]
 *       on every accepted stream post no receive buffer and queue n sends the peer never
 *       grants credit for; exit 0 once every stream closed and every send failed.
 *   pony_rpc client -s SOCK -i IP [-p service] [-n rpcs] [-m max_len] [-M min_len]
 *       [-S streams] [-w window] [-b big_rpcs] [-B big_max] [-x seed] [-I idle_s] [-T timeout_s]
 *       n RPCs of log-uniform random sizes in [min_len, max_len] on S streams with w in
 *       flight per stream; every reply must equal the request byte for byte and arrive in
 *       order; then b more RPCs up to big_max; then (-I) block idle for idle_s seconds in
 *       pony_wait and report the process's CPU use from /proc/self/stat. With -d secs the
 *       first phase stops issuing after secs seconds (n is then an upper bound).
 *   pony_rpc hold -s SOCK -i IP [-p service] [-n ops]
 *       queue n sends on as many streams as needed (60 each; the sink grants no credit, so
 *       they stay pending), print "HOLDING <n> ..." and sleep until killed.
 *   pony_rpc drain -s SOCK [-p service] -n msgs -m len [-w bufs] [-P pause_after -D pause_s]
 *       receive n one-way messages, each checked and counted once; after pause_after of them
 *       post no buffers for pause_s seconds (a receiver that stops reading), then resume.
 *       With -n 0: count until the peer closes the stream and print "DRAIN_BYTES bytes secs".
 *   pony_rpc push -s SOCK -i IP [-p service] (-n msgs | -d secs) -m len [-w window]
 *       send n messages (or for secs seconds) of len bytes, up to window queued; -ENOBUFS
 *       completions (the transport's send queue is full: back-pressure) are counted and
 *       retried; then close the stream.
 *   pony_rpc connect -s SOCK
 *       attach and detach; print the daemon's refusal if any (exit 3 when refused).
 * Exit status: 0 ok, 1 a check failed, 2 usage, 3 refused by the daemon. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pony.h>

#define MAX_STREAMS 8
#define MAX_WINDOW 64

struct opts {
	const char *sock, *ip;
	unsigned service, n, streams, window, big, idle_s, timeout_s;
	uint32_t max_len, min_len, big_max;
	uint64_t seed;
	unsigned pause_after, pause_s, duration_s;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static const char *engine_name; /* -e: the daemon engine to attach to (NULL: its default) */

static struct pony_app *attach(const char *sock)
{
	struct pony_opts po = {.engine = engine_name};
	struct pony_app *a = pony_connect(sock, &po);
	if (a == NULL) {
		fprintf(stderr, "pony_rpc: pony_connect: %s\n", pony_connect_error());
		exit(errno == EACCES ? 3 : 1);
	}
	return a;
}

/* Next completion, waiting at most until deadline (seconds, now_s clock). 1, 0 timeout, <0. */
static int next_cpl(struct pony_app *a, struct pony_completion *c, double deadline)
{
	for (;;) {
		int n = pony_poll(a, c, 1);
		if (n != 0)
			return n;
		double left = deadline - now_s();
		if (left <= 0)
			return 0;
		int r = pony_wait(a, (int)(left * 1000) + 1);
		if (r < 0 && r != -EINTR)
			return r;
	}
}

static int wait_op(struct pony_app *a, unsigned op, struct pony_completion *c, double deadline)
{
	int r;
	while ((r = next_cpl(a, c, deadline)) > 0)
		if (c->op == op)
			return c->status;
	return r == 0 ? -ETIMEDOUT : r;
}

/* ---- server / sink ---------------------------------------------------------------------- */

static int run_server(const struct opts *o)
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

static int run_sink(const struct opts *o)
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
static int run_hold(const struct opts *o)
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

static void fill(uint8_t *p, uint32_t len, uint64_t id);

/* Receiver: verifies every message (id in the first 8 bytes, content derived from it),
 * counts each id once; after `pause_after` messages it stops re-posting buffers for
 * pause_s seconds (the sender gets no credit), then resumes. */
static int run_drain(const struct opts *o)
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
static int run_push(const struct opts *o)
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

/* ---- client ------------------------------------------------------------------------------ */

struct slot {
	uint8_t *tx, *rx;
	uint32_t len;
	uint64_t id;     /* rpc number */
	double t0;
	bool busy;
};

struct cstream {
	uint32_t id;
	struct slot slot[MAX_WINDOW];
	unsigned head;   /* slot whose reply comes next (replies arrive in posting order) */
};

struct client {
	const struct opts *o;
	struct pony_app *a;
	struct cstream st[MAX_STREAMS];
	uint64_t rng, issued, done, bytes;
	double lat_sum, lat_max, last_cpl;
};

static uint32_t pick_len(struct client *k, uint32_t lo, uint32_t hi)
{
	double u = (double)(splitmix(&k->rng) >> 11) / 9007199254740992.0;
	double l = exp(log((double)lo) + u * (log((double)hi + 1) - log((double)lo)));
	uint32_t v = (uint32_t)l;
	return v < lo ? lo : v > hi ? hi : v;
}

static void fill(uint8_t *p, uint32_t len, uint64_t id)
{
	uint64_t x = id * 0x2545f4914f6cdd1dull;
	uint32_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t v = splitmix(&x);
		memcpy(p + i, &v, 8);
	}
	uint64_t v = splitmix(&x);
	memcpy(p + i, &v, len - i);
	if (len >= 8)
		memcpy(p, &id, 8); /* the rpc number first: misordering shows in the message */
}

static int issue(struct client *k, unsigned s, unsigned w, uint32_t lo, uint32_t hi)
{
	struct cstream *cs = &k->st[s];
	struct slot *sl = &cs->slot[w];
	sl->len = pick_len(k, lo, hi);
	sl->id = k->issued++;
	fill(sl->tx, sl->len, sl->id ^ k->o->seed);
	int r;
	while ((r = pony_recv_post(k->a, cs->id, sl->rx, k->o->big_max, 0)) == -EAGAIN)
		usleep(50);
	if (r < 0)
		return r;
	while ((r = pony_send(k->a, cs->id, sl->tx, sl->len, 0)) == -EAGAIN)
		usleep(50);
	if (r < 0)
		return r;
	sl->busy = true;
	sl->t0 = now_s();
	return 0;
}

/* Run RPCs until `total` have completed; lengths in [lo, hi]. */
static int run_phase(struct client *k, uint64_t total, uint32_t lo, uint32_t hi, double deadline)
{
	const struct opts *o = k->o;
	uint64_t target = k->done + total, to_issue = total;
	for (unsigned s = 0; s < o->streams; s++)
		for (unsigned w = 0; w < o->window && to_issue; w++, to_issue--) {
			int r = issue(k, s, (k->st[s].head + w) % o->window, lo, hi);
			if (r < 0) {
				fprintf(stderr, "client: issue: %s\n", pony_strerror(r));
				return 1;
			}
		}
	struct pony_completion c;
	double t_end = o->duration_s ? now_s() + o->duration_s : 0;
	while (k->done < target) {
		if (t_end && to_issue && now_s() >= t_end) {
			to_issue = 0; /* time is up: finish what is in flight */
			target = k->issued;
		}
		int r = next_cpl(k->a, &c, deadline);
		if (r <= 0) {
			fprintf(stderr, "client: %s after %lu of %lu rpcs\n",
				r == 0 ? "timeout" : pony_strerror(r), (unsigned long)k->done,
				(unsigned long)target);
			return 1;
		}
		if (c.status != 0) {
			fprintf(stderr, "client: %s failed: %s (%.0f ms after the last good completion, "
				"%lu rpcs done)\n", pony_op_name(c.op), pony_strerror(c.status),
				(now_s() - k->last_cpl) * 1e3, (unsigned long)k->done);
			return 1;
		}
		k->last_cpl = now_s();
		if (c.op != PONY_OP_RECV)
			continue;
		unsigned s = 0;
		while (s < o->streams && k->st[s].id != c.stream)
			s++;
		if (s == o->streams) {
			fprintf(stderr, "client: reply on unknown stream %u\n", c.stream);
			return 1;
		}
		struct cstream *cs = &k->st[s];
		struct slot *sl = &cs->slot[cs->head];
		if (!sl->busy || (uint8_t *)c.buf != sl->rx) {
			fprintf(stderr, "client: reply out of order on stream %u\n", c.stream);
			return 1;
		}
		if (c.len != sl->len || memcmp(sl->rx, sl->tx, sl->len) != 0) {
			fprintf(stderr, "client: rpc %lu (%u B) came back different (%u B)\n",
				(unsigned long)sl->id, sl->len, c.len);
			return 1;
		}
		double lat = now_s() - sl->t0;
		k->lat_sum += lat;
		if (lat > k->lat_max)
			k->lat_max = lat;
		k->bytes += sl->len;
		k->done++;
		sl->busy = false;
		unsigned w = cs->head;
		cs->head = (cs->head + 1) % o->window;
		if (to_issue) {
			to_issue--;
			if ((r = issue(k, s, w, lo, hi)) < 0) {
				fprintf(stderr, "client: issue: %s\n", pony_strerror(r));
				return 1;
			}
		}
	}
	return 0;
}

static int proc_cpu_ticks(unsigned long *ticks)
{
	FILE *f = fopen("/proc/self/stat", "r");
	if (f == NULL)
		return -1;
	char buf[1024];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	unsigned long ut, st;
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	*ticks = ut + st;
	return 0;
}

static int run_client(const struct opts *o)
{
	struct client *k = calloc(1, sizeof(*k));
	k->o = o;
	k->rng = o->seed * 0x9e3779b97f4a7c15ull + 1;
	k->a = attach(o->sock);
	struct pony_completion c;
	for (unsigned s = 0; s < o->streams; s++) {
		if (pony_stream_open_str(k->a, o->ip, (uint16_t)o->service, s) < 0 ||
		    wait_op(k->a, PONY_OP_OPEN, &c, now_s() + 10) != 0) {
			fprintf(stderr, "client: open: %s\n", pony_strerror(c.status));
			return 1;
		}
		k->st[s].id = c.stream;
		for (unsigned w = 0; w < o->window; w++) {
			struct slot *sl = &k->st[s].slot[w];
			sl->tx = pony_buf_alloc(k->a, o->big_max);
			sl->rx = pony_buf_alloc(k->a, o->big_max);
			if (sl->tx == NULL || sl->rx == NULL) {
				fprintf(stderr, "client: payload area too small for %u x %u x 2 x %u B\n",
					o->streams, o->window, o->big_max);
				return 1;
			}
		}
	}
	double deadline = now_s() + o->timeout_s;
	double t0 = now_s();
	k->last_cpl = t0;
	if (run_phase(k, o->n, o->min_len, o->max_len, deadline))
		return 1;
	double t1 = now_s();
	printf("client: %lu rpcs of %u..%u B on %u streams (window %u): all echoed intact and in "
	       "order; %.2f s, %.0f rpc/s, %.1f MB/s each way, mean latency %.1f us, max %.1f ms\n",
	       (unsigned long)k->done, o->min_len, o->max_len, o->streams, o->window, t1 - t0,
	       k->done / (t1 - t0),
	       k->bytes / (t1 - t0) / 1e6, k->lat_sum / (k->done ? k->done : 1) * 1e6,
	       k->lat_max * 1e3);
	if (o->big) {
		uint64_t b0 = k->bytes;
		if (run_phase(k, o->big, o->max_len < o->big_max ? o->max_len + 1 : 1, o->big_max, deadline))
			return 1;
		double t2 = now_s();
		printf("client: %u big rpcs up to %u B: intact; %.2f s, %.1f MB/s each way\n", o->big,
		       o->big_max, t2 - t1, (k->bytes - b0) / (t2 - t1) / 1e6);
	}
	fflush(stdout);
	if (o->idle_s) {
		/* Blocking mode: receives stay posted, nothing arrives; we sleep in pony_wait. */
		unsigned long c0, c1;
		long hz = sysconf(_SC_CLK_TCK);
		if (proc_cpu_ticks(&c0) < 0)
			return 1;
		double i0 = now_s(), end = i0 + o->idle_s;
		unsigned wakeups = 0;
		while (now_s() < end) {
			int r = pony_wait(k->a, (int)((end - now_s()) * 1000) + 1);
			if (r < 0 && r != -EINTR) {
				fprintf(stderr, "client: wait: %s\n", pony_strerror(r));
				return 1;
			}
			if (r == 1) {
				wakeups++;
				struct pony_completion cs[16];
				int n = pony_poll(k->a, cs, 16);
				if (n < 0)
					return 1;
			}
		}
		if (proc_cpu_ticks(&c1) < 0)
			return 1;
		double el = now_s() - i0;
		double pct = (double)(c1 - c0) / (double)hz / el * 100.0;
		printf("IDLE_CPU_PCT %.2f (%.1f s blocked in pony_wait, %u wake-ups)\n", pct, el,
		       wakeups);
	}
	for (unsigned s = 0; s < o->streams; s++)
		pony_stream_close(k->a, k->st[s].id, 99);
	pony_close(k->a);
	free(k);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: pony_rpc server|sink|drain|client|hold|push|connect -s SOCK [options] "
		"(see the header of tests/integration/pony_rpc.c)\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	const char *mode = argv[1];
	struct opts o = {.service = 7, .n = 1000, .streams = 1, .window = 8, .max_len = 65536,
			 .min_len = 1, .big_max = 0, .seed = 1, .timeout_s = 120};
	int opt;
	optind = 2;
	while ((opt = getopt(argc, argv, "s:e:i:p:n:m:M:S:w:b:B:x:I:T:P:D:d:")) != -1) {
		switch (opt) {
		case 's': o.sock = optarg; break;
		case 'e': engine_name = optarg; break;
		case 'i': o.ip = optarg; break;
		case 'p': o.service = (unsigned)atoi(optarg); break;
		case 'n': o.n = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'm': o.max_len = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'M': o.min_len = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'S': o.streams = (unsigned)atoi(optarg); break;
		case 'w': o.window = (unsigned)atoi(optarg); break;
		case 'b': o.big = (unsigned)atoi(optarg); break;
		case 'B': o.big_max = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'x': o.seed = strtoull(optarg, NULL, 0); break;
		case 'I': o.idle_s = (unsigned)atoi(optarg); break;
		case 'T': o.timeout_s = (unsigned)atoi(optarg); break;
		case 'P': o.pause_after = (unsigned)atoi(optarg); break;
		case 'D': o.pause_s = (unsigned)atoi(optarg); break;
		case 'd': o.duration_s = (unsigned)atoi(optarg); o.n = 0xfffffff0u; break;
		default: return usage();
		}
	}
	if (o.big_max < o.max_len)
		o.big_max = o.max_len;
	if (o.sock == NULL || o.streams == 0 || o.streams > MAX_STREAMS || o.window == 0 ||
	    o.window > MAX_WINDOW || o.min_len == 0 || o.min_len > o.max_len ||
	    o.big_max > PONY_MSG_MAX_BYTES)
		return usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(mode, "server") == 0)
		return run_server(&o);
	if (strcmp(mode, "sink") == 0)
		return run_sink(&o);
	if (strcmp(mode, "drain") == 0)
		return run_drain(&o);
	if (strcmp(mode, "connect") == 0) {
		struct pony_app *a = attach(o.sock);
		printf("connect: attached\n");
		pony_close(a);
		return 0;
	}
	if (o.ip == NULL)
		return usage();
	if (strcmp(mode, "client") == 0)
		return run_client(&o);
	if (strcmp(mode, "hold") == 0)
		return run_hold(&o);
	if (strcmp(mode, "push") == 0)
		return run_push(&o);
	return usage();
}
