/* Test app for one-sided ops between two daemons.
 *   target -s SOCK: registers a 1 MiB region (known pattern, descriptors at [0, 64 KiB), a
 *     pony_kv.h table at 512 KiB with keys k0..k99) and a 4 KiB read-only one, prints
 *     "region R key K ro R2 key2 K2", then sleeps without polling its rings until killed
 *     (one-sided ops must not need it).
 *   client -s SOCK -i IP -r R:K -R R2:K2 [-n N]: N rounds of every op type (read, write then
 *     read back, indirect by descriptor and by pointer, scan-and-read), each checked byte for
 *     byte, with many ops in flight, then every error case with its status. Prints "PASS ..."
 *     and exits 0, or says what differed and exits 1. -n 0: rounds until SIGUSR1 (a test
 *     that must keep ops in flight across events of its own, whatever the host's speed). */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pony.h>

#include "app_check.h"
#include "pony_kv.h"

#define RLEN (1u << 20)
#define TABLE_OFF (512u << 10)
#define NB 256u
#define BATCH 64u

static uint8_t pat(uint64_t i)
{
	return (uint8_t)(i * 29 + (i >> 9));
}

static int target(const char *sock)
{
	struct pony_app *app = pony_connect(sock, NULL);
	if (app == NULL) {
		fprintf(stderr, "connect: %s\n", pony_connect_error());
		return 1;
	}
	/* The read-write region is the first allocation (the start of the shared payload area);
	 * the read-only one is placed at the very end of it: a filler takes everything in
	 * between, so remote reads of ro's last bytes touch the area's last bytes. */
	uint8_t *r = pony_buf_alloc(app, RLEN), *ro = NULL;
	if (r == NULL)
		return 1;
	size_t area = pony_buf_area_size(app);
	for (size_t slack = 0; ro == NULL && slack <= 65536; slack += 64) {
		void *fill = area > RLEN + 4096 + slack ? pony_buf_alloc(app, area - RLEN - 4096 - slack)
							: NULL;
		ro = pony_buf_alloc(app, 4096);
		if (ro && ro + 4096 != r + area) { /* not at the end: try a bigger filler */
			pony_buf_free(app, ro);
			ro = NULL;
		}
		if (ro == NULL)
			pony_buf_free(app, fill);
	}
	if (ro == NULL) {
		fprintf(stderr, "target: cannot place a region at the end of the payload area\n");
		return 1;
	}
	for (uint64_t i = 0; i < RLEN; i++)
		r[i] = pat(i);
	for (uint32_t i = 0; i < 8192; i++) { /* descriptor i: {65536 + i * 48, 1 + i % 1000} */
		uint32_t d[2] = {65536 + i * 48, 1 + i % 1000};
		memcpy(r + i * 8, d, 8);
	}
	struct kv_table_hdr *t = (struct kv_table_hdr *)(r + TABLE_OFF);
	kv_init(t, NB);
	for (unsigned i = 0; i < 100; i++) {
		char k[16], v[KV_VAL_MAX];
		int kl = snprintf(k, sizeof(k), "k%u", i);
		memset(v, 'A' + i % 26, 1 + i % KV_VAL_MAX);
		if (kv_put(t, k, (unsigned)kl, v, 1 + i % KV_VAL_MAX) != 0)
			return 1;
	}
	memset(ro, 0x77, 4096);
	if (pony_region_register(app, r, RLEN, PONY_REGION_READ | PONY_REGION_WRITE, 1) ||
	    pony_region_register(app, ro, 4096, PONY_REGION_READ, 2))
		return 1;
	struct pony_completion c[2];
	int got = 0;
	while (got < 2) {
		if (pony_wait(app, 5000) <= 0)
			return 1;
		int n = pony_poll(app, c + got, 2 - got);
		if (n < 0)
			return 1;
		got += n;
	}
	if (c[0].status || c[1].status)
		return 1;
	struct pony_completion *a = c[0].tag == 1 ? &c[0] : &c[1], *b = a == c ? &c[1] : &c[0];
	printf("region %u key %016" PRIx64 " ro %u key2 %016" PRIx64 "\n", a->region, a->key,
	       b->region, b->key);
	fflush(stdout);
	for (;;)
		pause(); /* never polls again */
}

static struct pony_app *app;
static unsigned pending;

/* Wait for all pending completions into out (bounded). */
static int drain(struct pony_completion *out)
{
	unsigned got = 0;
	for (int spins = 0; got < pending && spins < 20000; spins++) {
		int n = pony_poll(app, out + got, pending - got);
		if (n < 0)
			return n;
		got += (unsigned)n;
		if (got < pending && n == 0) {
			int w = pony_wait(app, 1);
			if (w < 0 && w != -EINTR) /* EINTR: the SIGUSR1 that ends the rounds */
				return -EPIPE;
		}
	}
	if (got != pending) {
		fprintf(stderr, "only %u of %u completions\n", got, pending);
		return -ETIMEDOUT;
	}
	pending = 0;
	return (int)got;
}

static int expect(int call, int status, const char *what)
{
	struct pony_completion c;
	FAILIF(call != 0, "%s: submit %d", what, call);
	pending = 1;
	FAILIF(drain(&c) != 1, "%s: no completion", what);
	FAILIF(c.status != status, "%s: status %d (%s), want %d", what, c.status,
	       pony_strerror(c.status), status);
	return 0;
}

static volatile sig_atomic_t stop_rounds;

static void on_usr1(int sig)
{
	(void)sig;
	stop_rounds = 1;
}

static int client(const char *sock, const char *ip, struct pony_remote rw,
		  struct pony_remote ro, unsigned rounds)
{
	if (rounds == 0) {
		struct sigaction sa = {.sa_handler = on_usr1};
		sigaction(SIGUSR1, &sa, NULL);
		rounds = UINT32_MAX;
	}
	app = pony_connect(sock, NULL);
	FAILIF(app == NULL, "connect: %s", pony_connect_error());
	struct pony_addr a; /* IPv4 or IPv6 text */
	FAILIF(pony_addr_parse(ip, &a) != 0, "bad ip");
	FAILIF(pony_remote_set_addr(app, &rw, &a) != 0 || pony_remote_set_addr(app, &ro, &a) != 0,
	       "remote address");
	uint8_t *buf = pony_buf_alloc(app, BATCH * PONY_ONESIDED_MAX), *src = pony_buf_alloc(app, 65536);
	FAILIF(buf == NULL || src == NULL, "alloc");
	struct pony_completion c[BATCH];
	unsigned long n_ops = 0;
	unsigned r;
	for (r = 0; r < rounds && !stop_rounds; r++) {
		/* Reads of random lengths/offsets, BATCH in flight. */
		for (unsigned k = 0; k < BATCH; k++) {
			uint32_t len = 1 + (r * 131 + k * 977) % PONY_ONESIDED_MAX;
			uint64_t off = 65536 + ((uint64_t)(r * BATCH + k) * 7919) % (TABLE_OFF - 65536 - len);
			FAILIF(pony_read(app, &rw, off, buf + k * PONY_ONESIDED_MAX, len, off << 16 | k),
			       "read submit");
		}
		pending = BATCH;
		FAILIF(drain(c) != BATCH, "read drain");
		for (unsigned k = 0; k < BATCH; k++) {
			uint64_t off = c[k].tag >> 16;
			FAILIF(c[k].status != 0 || c[k].op != PONY_OP_READ, "read status %d", c[k].status);
			for (uint32_t i = 0; i < c[k].len; i++)
				FAILIF(((uint8_t *)c[k].buf)[i] != pat(off + i), "read byte %u at %" PRIu64,
				       i, off);
		}
		/* Writes into the last 64 KiB (the target never reads them), then read back. */
		uint64_t woff = RLEN - 65536 + (r % 64) * 1024;
		for (unsigned i = 0; i < 1024; i++)
			src[i] = (uint8_t)(r + i * 3);
		FAILIF(expect(pony_write(app, &rw, woff, src, 1024, 1), 0, "write"), "write");
		FAILIF(expect(pony_read(app, &rw, woff, buf, 1024, 1), 0, "read back"), "read back");
		FAILIF(memcmp(buf, src, 1024) != 0, "write not read back");
		/* Indirect by descriptor: descriptor i names 1 + i % 1000 bytes at 65536 + 48 i. */
		for (unsigned k = 0; k < BATCH; k++) {
			uint32_t i = (r * BATCH + k) % 8192;
			FAILIF(pony_read_indirect(app, &rw, (uint64_t)i * 8, buf + k * PONY_ONESIDED_MAX,
						  PONY_ONESIDED_MAX, 0, i),
			       "indirect submit");
		}
		pending = BATCH;
		FAILIF(drain(c) != BATCH, "indirect drain");
		for (unsigned k = 0; k < BATCH; k++) {
			uint32_t i = (uint32_t)c[k].tag;
			FAILIF(c[k].status != 0 || c[k].len != 1 + i % 1000, "indirect %u: %d len %u", i,
			       c[k].status, c[k].len);
			for (uint32_t j = 0; j < c[k].len; j++)
				FAILIF(((uint8_t *)c[k].buf)[j] != pat(65536 + i * 48 + j), "indirect byte");
		}
		/* Indirect by pointer: a uint64 offset we write, then follow. */
		uint64_t ptr = 200000 + r;
		memcpy(src, &ptr, 8);
		FAILIF(expect(pony_write(app, &rw, RLEN - 8, src, 8, 1), 0, "ptr write"), "ptr");
		FAILIF(expect(pony_read_indirect(app, &rw, RLEN - 8, buf, 100, PONY_INDIRECT_PTR, 1), 0,
			      "indirect ptr"), "ptr");
		for (uint32_t j = 0; j < 100; j++)
			FAILIF(buf[j] != pat(ptr + j), "indirect ptr byte");
		/* Scan-and-read of every key class. */
		for (unsigned k = 0; k < BATCH; k++) {
			char key[16];
			unsigned i = (r * BATCH + k) % 100;
			int kl = snprintf(key, sizeof(key), "k%u", i);
			FAILIF(pony_scan_read(app, &rw, TABLE_OFF, key, (uint32_t)kl,
					      buf + k * PONY_ONESIDED_MAX, KV_VAL_MAX, i),
			       "scan submit");
		}
		pending = BATCH;
		FAILIF(drain(c) != BATCH, "scan drain");
		for (unsigned k = 0; k < BATCH; k++) {
			unsigned i = (unsigned)c[k].tag;
			FAILIF(c[k].status != 0 || c[k].len != 1 + i % KV_VAL_MAX, "scan k%u: %d len %u", i,
			       c[k].status, c[k].len);
			for (uint32_t j = 0; j < c[k].len; j++)
				FAILIF(((uint8_t *)c[k].buf)[j] != 'A' + i % 26, "scan byte");
		}
		n_ops += 3 * BATCH + 4;
	}
	/* Errors, each with its own status. */
	struct pony_remote bad = rw;
	bad.key ^= 0x100;
	FAILIF(expect(pony_read(app, &bad, 0, buf, 8, 0), -EKEYREJECTED, "wrong key"), "errors");
	bad = rw;
	bad.region ^= 0x3;
	FAILIF(expect(pony_read(app, &bad, 0, buf, 8, 0), -ENOENT, "no region"), "errors");
	FAILIF(expect(pony_read(app, &rw, RLEN - 7, buf, 8, 0), -ERANGE, "out of range"), "errors");
	FAILIF(expect(pony_write(app, &ro, 0, src, 8, 0), -EACCES, "read-only"), "errors");
	/* ro ends where the target's shared payload area ends: its last bytes are readable,
	 * one byte past them is not. */
	memset(buf, 0, 64);
	FAILIF(expect(pony_read(app, &ro, 4096 - 64, buf, 64, 0), 0, "read at the area's end"),
	       "edge");
	for (unsigned j = 0; j < 64; j++)
		FAILIF(((uint8_t *)buf)[j] != 0x77, "edge byte %u: %02x", j, ((uint8_t *)buf)[j]);
	FAILIF(expect(pony_read(app, &ro, 4096 - 63, buf, 64, 0), -ERANGE, "past the area's end"),
	       "edge");
	FAILIF(expect(pony_read(app, &rw, 0, buf, 64, 0), 0, "read at the area's start"), "edge");
	uint32_t d0[2];
	memcpy(d0, buf, 8); /* descriptor 0 lives at the area's first byte */
	FAILIF(d0[0] != 65536 || d0[1] != 1, "start of area: descriptor 0 is {%u, %u}", d0[0],
	       d0[1]);
	uint64_t out_ptr = RLEN - 50;
	memcpy(src, &out_ptr, 8);
	FAILIF(expect(pony_write(app, &rw, RLEN - 16, src, 8, 0), 0, "ptr write"), "errors");
	FAILIF(expect(pony_read_indirect(app, &rw, RLEN - 16, buf, 100, PONY_INDIRECT_PTR, 0),
		      -EOVERFLOW, "pointer out of region"), "errors");
	FAILIF(expect(pony_scan_read(app, &rw, TABLE_OFF, "absent", 6, buf, KV_VAL_MAX, 0), -ENODATA,
		      "scan miss"), "errors");
	FAILIF(expect(pony_scan_read(app, &rw, 0, "k1", 2, buf, KV_VAL_MAX, 0), -EILSEQ,
		      "scan no table"), "errors");
	FAILIF(pony_read(app, &ro, 0, buf, PONY_ONESIDED_LARGE_MAX + 1, 0) != -EINVAL,
	       "too long not refused locally");
	printf("PASS %lu one-sided ops checked over %u rounds, every error status seen\n", n_ops, r);
	pony_close(app);
	return 0;
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *ip = NULL;
	struct pony_remote rw = {0}, ro = {0};
	unsigned rounds = 50;
	if (argc < 2)
		goto usage;
	int o;
	optind = 2;
	while ((o = getopt(argc, argv, "s:i:r:R:n:")) != -1) {
		switch (o) {
		case 's': sock = optarg; break;
		case 'i': ip = optarg; break;
		case 'r':
			if (sscanf(optarg, "%u:%" SCNx64, &rw.region, &rw.key) != 2)
				goto usage;
			break;
		case 'R':
			if (sscanf(optarg, "%u:%" SCNx64, &ro.region, &ro.key) != 2)
				goto usage;
			break;
		case 'n': rounds = (unsigned)atoi(optarg); break;
		default: goto usage;
		}
	}
	if (strcmp(argv[1], "target") == 0)
		return target(sock);
	if (strcmp(argv[1], "client") == 0 && ip && rw.region && ro.region)
		return client(sock, ip, rw, ro, rounds);
usage:
	fprintf(stderr, "usage: %s target -s SOCK | client -s SOCK -i IP -r R:K -R R2:K2 [-n N]\n",
		argv[0]);
	return 2;
}
