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
 *   pony_rpc client -s SOCK -i IP (IPv4 or IPv6) [-p service] [-n rpcs] [-m max_len] [-M min_len]
 *       [-S streams] [-w window] [-b big_rpcs] [-B big_max] [-x seed] [-I idle_s] [-T timeout_s]
 *       n RPCs of log-uniform random sizes in [min_len, max_len] on S streams with w in
 *       flight per stream; every reply must equal the request byte for byte and arrive in
 *       order; then b more RPCs up to big_max; then (-I) block idle for idle_s seconds in
 *       pony_wait and report the process's CPU use from /proc/self/stat. With -d secs the
 *       first phase stops issuing after secs seconds (n is then an upper bound). SIGUSR1
 *       ends either early (the test has what it measures).
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
#include "pony_rpc.h"

#include <signal.h>

/* SIGUSR1 tells a client to stop early: a timed phase (-d) stops issuing (what is in
 * flight still completes and is checked) and the idle phase (-I) ends, so a test need not
 * wait out a duration once it has what it measures. */
static volatile sig_atomic_t stop_early;

static void on_usr1(int sig)
{
	(void)sig;
	stop_early = 1;
}

double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

const char *engine_name;

struct pony_app *attach(const char *sock)
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
int next_cpl(struct pony_app *a, struct pony_completion *c, double deadline)
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

int wait_op(struct pony_app *a, unsigned op, struct pony_completion *c, double deadline)
{
	int r;
	while ((r = next_cpl(a, c, deadline)) > 0)
		if (c->op == op)
			return c->status;
	return r == 0 ? -ETIMEDOUT : r;
}

void fill(uint8_t *p, uint32_t len, uint64_t id)
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
		if (t_end && to_issue && (stop_early || now_s() >= t_end)) {
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
		while (!stop_early && now_s() < end) {
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
	/* No SA_RESTART: the signal interrupts pony_wait, which returns -EINTR. */
	struct sigaction sa = {.sa_handler = on_usr1};
	sigaction(SIGUSR1, &sa, NULL);
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
