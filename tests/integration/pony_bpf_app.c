/* Test app for eBPF custom one-sided ops between two daemons (issue 21).
 *   target -s SOCK: registers a 64 KiB region holding a 16-hop linked list (nodes scattered
 *     over it) and a table of 16 records, loads the example programs "walk" and "scan" and a
 *     program "oob" that reads past the region's end, prints "region R key K", then sleeps
 *     without polling its rings until killed (the ops must not need it).
 *   client -s SOCK -i IP -r R:K [-n N]: N rounds of the 16-hop walk as one op (final value and
 *     offset checked) and of the scan (matching records checked), then "oob" (-EFAULT) and an
 *     unknown name (-ENOEXEC). Prints "PASS ..." and exits 0, or what differed and exits 1. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pony.h>

#include "../../tools/examples/bpf_progs.h"
#include "app_check.h"

#define RLEN (64u << 10)
#define LIST_OFF 4096u
#define TABLE_OFF 512u
#define HOPS 16u

static int wait_one(struct pony_app *app, struct pony_completion *c)
{
	for (int k = 0; k < 1000; k++) {
		int n = pony_poll(app, c, 1);
		if (n == 1)
			return 0;
		if (n < 0 || pony_wait(app, 10) < 0)
			return -1;
	}
	return -1;
}

static int target(const char *sock)
{
	struct pony_app *app = pony_connect(sock, NULL);
	FAILIF(app == NULL, "connect: %s", pony_connect_error());
	uint8_t *r = pony_buf_alloc(app, RLEN);
	FAILIF(r == NULL, "alloc");
	memset(r, 0, RLEN);
	for (unsigned h = 0; h <= HOPS; h++) {
		struct bpf_walk_node nd = {.next = bpf_walk_node_off(LIST_OFF, h + 1),
					   .value = 1000 + h};
		memcpy(r + bpf_walk_node_off(LIST_OFF, h), &nd, sizeof(nd));
	}
	struct bpf_scan_rec *recs = (struct bpf_scan_rec *)(r + TABLE_OFF);
	for (unsigned i = 0; i < BPF_SCAN_MAX; i++)
		recs[i] = (struct bpf_scan_rec){.key = i, .value = 100 + i};
	struct pony_completion c;
	FAILIF(pony_region_register(app, r, RLEN, PONY_REGION_READ, 1) || wait_one(app, &c) ||
	       c.status, "register");
	uint32_t region = c.region;
	uint64_t key = c.key;
	static struct pony_bpf_insn p[PONY_BPF_INSNS_MAX];
	FAILIF(pony_bpf_load(app, region, "walk", p, bpf_walk_prog(p), 2) || wait_one(app, &c) ||
	       c.status, "load walk: %d %s", c.status, pony_bpf_reason_name(c.len));
	FAILIF(pony_bpf_load(app, region, "scan", p, bpf_scan_prog(p), 3) || wait_one(app, &c) ||
	       c.status, "load scan: %d %s", c.status, pony_bpf_reason_name(c.len));
	p[0] = BPF_I(BPF_I_MOV64_K, 1, 0, 0, RLEN - 4);
	p[1] = BPF_I(BPF_I_CALL, 0, 0, 0, PONY_BPF_LOAD64);
	p[2] = BPF_I(BPF_I_EXIT, 0, 0, 0, 0);
	FAILIF(pony_bpf_load(app, region, "oob", p, 3, 4) || wait_one(app, &c) || c.status,
	       "load oob: %d %s", c.status, pony_bpf_reason_name(c.len));
	printf("region %" PRIu32 " key %" PRIu64 "\n", region, key);
	fflush(stdout);
	for (;;)
		pause(); /* never polls again */
}

static int call(struct pony_app *app, const struct pony_remote *rm, const char *name,
		const void *arg, uint32_t arg_len, uint8_t *buf, uint32_t len,
		struct pony_completion *c)
{
	int r;
	while ((r = pony_bpf_call(app, rm, name, arg, arg_len, buf, len, 1)) == -EAGAIN)
		pony_wait(app, 1);
	return r ? r : wait_one(app, c);
}

static int client(const char *sock, const char *ip, struct pony_remote rm, unsigned rounds)
{
	struct in_addr a;
	FAILIF(inet_pton(AF_INET, ip, &a) != 1, "bad ip");
	rm.ip = ntohl(a.s_addr);
	struct pony_app *app = pony_connect(sock, NULL);
	FAILIF(app == NULL, "connect: %s", pony_connect_error());
	uint8_t *buf = pony_buf_alloc(app, 4096);
	FAILIF(buf == NULL, "alloc");
	struct pony_completion c;
	for (unsigned i = 0; i < rounds; i++) {
		unsigned hops = i == 0 ? HOPS : i % (HOPS + 1);
		struct bpf_walk_args wa = {.start = bpf_walk_node_off(LIST_OFF, 0), .hops = hops};
		FAILIF(call(app, &rm, "walk", &wa, sizeof(wa), buf, 32, &c), "walk: submit");
		uint64_t v[2];
		memcpy(v, buf, 16);
		FAILIF(c.status || c.len != 16 || v[0] != 1000 + hops ||
		       v[1] != bpf_walk_node_off(LIST_OFF, hops),
		       "walk %u hops: status %d len %u value %" PRIu64 " at %" PRIu64, hops,
		       c.status, c.len, v[0], v[1]);
		struct bpf_scan_args sa = {.table = TABLE_OFF, .n = BPF_SCAN_MAX, .want = i % 4,
					   .mask = 3};
		FAILIF(call(app, &rm, "scan", &sa, sizeof(sa), buf, 8 + 4 * 16, &c), "scan");
		uint64_t cnt;
		memcpy(&cnt, buf, 8);
		FAILIF(c.status || cnt != 4 || c.len != 8 + 4 * 16, "scan: %d %" PRIu64, c.status,
		       cnt);
		for (unsigned k = 0; k < 4; k++) {
			struct bpf_scan_rec rec;
			memcpy(&rec, buf + 8 + k * 16, 16);
			FAILIF(rec.key != i % 4 + 4 * k || rec.value != 100 + rec.key, "scan record");
		}
	}
	FAILIF(call(app, &rm, "oob", NULL, 0, buf, 64, &c) || c.status != -EFAULT,
	       "oob: status %d, want -EFAULT", c.status);
	FAILIF(call(app, &rm, "nope", NULL, 0, buf, 64, &c) || c.status != -ENOEXEC,
	       "unknown name: status %d, want -ENOEXEC", c.status);
	printf("PASS %u rounds: 16-hop walk in one op, scan, fault and unknown name refused\n",
	       rounds);
	pony_close(app);
	return 0;
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *ip = NULL;
	struct pony_remote rm = {0};
	unsigned rounds = 20;
	if (argc < 2)
		goto usage;
	int o;
	while ((o = getopt(argc - 1, argv + 1, "s:i:r:n:")) != -1) {
		if (o == 's')
			sock = optarg;
		else if (o == 'i')
			ip = optarg;
		else if (o == 'r' && sscanf(optarg, "%" SCNu32 ":%" SCNu64, &rm.region, &rm.key) == 2)
			continue;
		else if (o == 'n')
			rounds = (unsigned)strtoul(optarg, NULL, 0);
		else
			goto usage;
	}
	if (sock && strcmp(argv[1], "target") == 0)
		return target(sock);
	if (sock && ip && rm.region && strcmp(argv[1], "client") == 0)
		return client(sock, ip, rm, rounds);
usage:
	fprintf(stderr, "usage: pony_bpf_app target -s SOCK | client -s SOCK -i IP -r R:K [-n N]\n");
	return 2;
}
