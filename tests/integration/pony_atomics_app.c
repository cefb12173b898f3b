/* Test app for remote atomics (issue 21), against the read-write region of
 * pony_onesided_app's target. Three 8-byte words at OFF (8-byte aligned): a counter that
 * fetch-and-adds bump, a lock word, and a counter guarded by the lock.
 *   init -s SOCK -i IP -r R:K -o OFF: zero the three words (one WRITE).
 *   fadd -s SOCK -i IP -r R:K -o OFF -n N [-d DEPTH]: N fetch-and-adds of 1 on word 0, DEPTH
 *     in flight; every completion must be OK with 8 bytes. Prints "PASS fadd N".
 *   lock -s SOCK -i IP -r R:K -o OFF -n N -t ID: N critical sections: take the lock with
 *     compare-and-swap 0 -> ID (retrying while another holder has it), read word 2, write
 *     it + 1, release with compare-and-swap ID -> 0 (which must find ID). Prints "PASS lock N
 *     retries R".
 *   get -s SOCK -i IP -r R:K -o OFF: prints "words A B C".
 * Exits 0, or 1 saying what went wrong. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pony.h>

static struct pony_app *app;

/* Wait for one completion (30 s at most). */
static int one(struct pony_completion *c)
{
	for (int i = 0; i < 3000; i++) {
		int n = pony_poll(app, c, 1);
		if (n == 1)
			return 0;
		if (n < 0)
			return n;
		pony_wait(app, 10);
	}
	return -ETIMEDOUT;
}

#define FAIL(...)                                                                          \
	do {                                                                               \
		fprintf(stderr, __VA_ARGS__);                                              \
		fputc('\n', stderr);                                                       \
		return 1;                                                                  \
	} while (0)

static int fadd(const struct pony_remote *rm, uint64_t off, unsigned n, unsigned depth)
{
	uint64_t *res = pony_buf_alloc(app, depth * 8);
	unsigned *free_slots = calloc(depth, sizeof(*free_slots));
	if (res == NULL || free_slots == NULL)
		FAIL("no payload buffer");
	/* A slot is the op's until its completion: completions come in any order, and the
	 * old value lands in the slot when the response arrives. */
	unsigned sent = 0, done = 0, n_free = depth;
	for (unsigned i = 0; i < depth; i++)
		free_slots[i] = i;
	while (done < n) {
		while (sent < n && n_free > 0) {
			unsigned slot = free_slots[n_free - 1];
			int r = pony_fetch_add(app, rm, off, 1, &res[slot], slot);
			if (r == -EAGAIN)
				break;
			if (r)
				FAIL("fetch_add: %s", strerror(-r));
			n_free--;
			sent++;
		}
		struct pony_completion c;
		int r = one(&c);
		if (r)
			FAIL("fadd: no completion after %u of %u: %s", done, n, strerror(-r));
		if (c.op != PONY_OP_FETCH_ADD || c.status != 0 || c.len != 8 || c.tag >= depth ||
		    c.buf != &res[c.tag])
			FAIL("fadd %" PRIu64 ": op %u status %d len %u", c.tag, c.op, c.status, c.len);
		free_slots[n_free++] = (unsigned)c.tag;
		done++;
	}
	printf("PASS fadd %u\n", n);
	return 0;
}

/* One op and its completion; the completion's status. */
static int sync_op(int r, struct pony_completion *c)
{
	if (r)
		return r;
	r = one(c);
	return r ? r : c->status;
}

static int lock_loop(const struct pony_remote *rm, uint64_t off, unsigned n, uint64_t id)
{
	uint64_t *b = pony_buf_alloc(app, 64);
	if (b == NULL)
		FAIL("no payload buffer");
	uint64_t retries = 0;
	struct pony_completion c;
	for (unsigned i = 0; i < n; i++) {
		for (;;) {
			int r = sync_op(pony_cmp_swap(app, rm, off + 8, 0, id, b, 1), &c);
			if (r)
				FAIL("lock %u: %s", i, strerror(-r));
			if (b[0] == 0)
				break;
			retries++;
		}
		int r = sync_op(pony_read(app, rm, off + 16, b + 4, 8, 2), &c);
		if (r)
			FAIL("read %u: %s", i, strerror(-r));
		b[5] = b[4] + 1;
		r = sync_op(pony_write(app, rm, off + 16, b + 5, 8, 3), &c);
		if (r)
			FAIL("write %u: %s", i, strerror(-r));
		r = sync_op(pony_cmp_swap(app, rm, off + 8, id, 0, b, 4), &c);
		if (r || b[0] != id)
			FAIL("unlock %u: %s, the lock held %" PRIu64 " not %" PRIu64, i,
			     r ? strerror(-r) : "ok", b[0], id);
	}
	printf("PASS lock %u retries %" PRIu64 "\n", n, retries);
	return 0;
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *ip = NULL;
	struct pony_remote rm = {0};
	uint64_t off = 0, id = 1;
	unsigned n = 1000, depth = 32;
	if (argc < 2)
		goto usage;
	int o;
	optind = 2;
	while ((o = getopt(argc, argv, "s:i:r:o:n:d:t:")) != -1) {
		switch (o) {
		case 's': sock = optarg; break;
		case 'i': ip = optarg; break;
		case 'r':
			if (sscanf(optarg, "%u:%" SCNx64, &rm.region, &rm.key) != 2)
				goto usage;
			break;
		case 'o': off = strtoull(optarg, NULL, 0); break;
		case 'n': n = (unsigned)atoi(optarg); break;
		case 'd': depth = (unsigned)atoi(optarg); break;
		case 't': id = strtoull(optarg, NULL, 0); break;
		default: goto usage;
		}
	}
	struct in_addr a;
	if (sock == NULL || ip == NULL || inet_pton(AF_INET, ip, &a) != 1 || rm.region == 0 ||
	    off % 8 || depth == 0 || depth > 128 || id == 0)
		goto usage;
	rm.ip = ntohl(a.s_addr);
	app = pony_connect(sock, NULL);
	if (app == NULL)
		FAIL("connect: %s", pony_connect_error());
	struct pony_completion c;
	uint64_t *b = pony_buf_alloc(app, 64);
	if (b == NULL)
		FAIL("no payload buffer");
	if (strcmp(argv[1], "init") == 0) {
		memset(b, 0, 24);
		int r = sync_op(pony_write(app, &rm, off, b, 24, 0), &c);
		if (r)
			FAIL("init: %s", strerror(-r));
		printf("PASS init\n");
		return 0;
	}
	if (strcmp(argv[1], "get") == 0) {
		int r = sync_op(pony_read(app, &rm, off, b, 24, 0), &c);
		if (r)
			FAIL("get: %s", strerror(-r));
		printf("words %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", b[0], b[1], b[2]);
		return 0;
	}
	if (strcmp(argv[1], "fadd") == 0)
		return fadd(&rm, off, n, depth);
	if (strcmp(argv[1], "lock") == 0)
		return lock_loop(&rm, off, n, id);
usage:
	fprintf(stderr, "usage: %s init|fadd|lock|get -s SOCK -i IP -r R:K -o OFF [-n N] "
		"[-d DEPTH] [-t ID]\n", argv[0]);
	return 2;
}
