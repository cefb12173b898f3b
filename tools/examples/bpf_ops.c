/* libpony example: custom one-sided operations in eBPF. One app plays both sides: as the
 * region's owner it registers a region holding a linked list and a table of records and
 * loads the two example programs of bpf_progs.h ("walk", "scan"); as a remote it runs them
 * through its engine (-i: the owner's host; the app's own by default), each in one round
 * trip:
 *   bpf_ops [-s socket] [-e engine] [-i ip] [-p port] [-h hops] [-k want] [-m mask] */
#include <arpa/inet.h>
#include <getopt.h>
#include <inttypes.h>

#include "bpf_progs.h"
#include "ex_common.h"

#define RLEN (64u << 10)
#define LIST_OFF 4096u
#define TABLE_OFF 512u

static struct pony_completion wait_op(struct ex_loop *l, const char *what)
{
	struct pony_completion c;
	ex_check(ex_next(l, &c, 5000) == 1 ? 0 : -ETIMEDOUT, what);
	if (c.status) {
		fprintf(stderr, "%s: %s", what, pony_strerror(c.status));
		if (c.op == PONY_OP_BPF_LOAD)
			fprintf(stderr, " (%s)", pony_bpf_reason_name(c.len));
		fprintf(stderr, "\n");
		exit(1);
	}
	return c;
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *engine = NULL, *ip = "127.0.0.1";
	unsigned port = 0, hops = 16;
	uint64_t want = 1, mask = 3;
	int o;
	while ((o = getopt(argc, argv, "s:e:i:p:h:k:m:")) != -1) {
		switch (o) {
		case 's': sock = optarg; break;
		case 'e': engine = optarg; break;
		case 'i': ip = optarg; break;
		case 'p': port = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'h': hops = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'k': want = strtoull(optarg, NULL, 0); break;
		case 'm': mask = strtoull(optarg, NULL, 0); break;
		default:
			fprintf(stderr, "usage: %s [-s socket] [-e engine] [-i ip] [-p port] "
				"[-h hops] [-k want] [-m mask]\n", argv[0]);
			return 2;
		}
	}
	if (hops > BPF_WALK_MAX) {
		fprintf(stderr, "at most %u hops\n", BPF_WALK_MAX);
		return 2;
	}
	struct in_addr a;
	if (inet_pton(AF_INET, ip, &a) != 1) {
		fprintf(stderr, "bad ip %s\n", ip);
		return 2;
	}
	struct ex_loop l = {.app = ex_connect(sock, engine)};
	struct pony_app *app = l.app;

	/* The owner: the region, the list (node h holds 1000 + h), the records (key i). */
	uint8_t *r = pony_buf_alloc(app, RLEN);
	ex_check(r ? 0 : -ENOMEM, "region buffer");
	memset(r, 0, RLEN);
	for (unsigned h = 0; h <= BPF_WALK_MAX; h++) {
		struct bpf_walk_node nd = {.next = bpf_walk_node_off(LIST_OFF, h + 1),
					   .value = 1000 + h};
		memcpy(r + bpf_walk_node_off(LIST_OFF, h), &nd, sizeof(nd));
	}
	for (unsigned i = 0; i < BPF_SCAN_MAX; i++) {
		struct bpf_scan_rec rec = {.key = i, .value = 100 + i};
		memcpy(r + TABLE_OFF + i * sizeof(rec), &rec, sizeof(rec));
	}
	ex_check(pony_region_register(app, r, RLEN, PONY_REGION_READ, 1), "register");
	struct pony_completion c = wait_op(&l, "register");
	struct pony_remote rm = {.ip = ntohl(a.s_addr), .port = (uint16_t)port,
				 .region = c.region, .key = c.key};
	static struct pony_bpf_insn prog[PONY_BPF_INSNS_MAX];
	ex_check(pony_bpf_load(app, rm.region, "walk", prog, bpf_walk_prog(prog), 2), "load walk");
	wait_op(&l, "load walk");
	ex_check(pony_bpf_load(app, rm.region, "scan", prog, bpf_scan_prog(prog), 3), "load scan");
	wait_op(&l, "load scan");

	/* The remote: the walk, then the scan, one op each. */
	uint8_t *buf = pony_buf_alloc(app, 512);
	ex_check(buf ? 0 : -ENOMEM, "buffer");
	struct bpf_walk_args wa = {.start = bpf_walk_node_off(LIST_OFF, 0), .hops = hops};
	double t0 = ex_now_us();
	ex_check(pony_bpf_call(app, &rm, "walk", &wa, sizeof(wa), buf, 32, 4), "walk");
	c = wait_op(&l, "walk");
	double t1 = ex_now_us();
	uint64_t v[2];
	memcpy(v, buf, sizeof(v));
	printf("walk: %u hops in one op (%.0f us): value %" PRIu64 " at offset %" PRIu64 "\n",
	       hops, t1 - t0, v[0], v[1]);
	struct bpf_scan_args sa = {.table = TABLE_OFF, .n = BPF_SCAN_MAX, .want = want,
				   .mask = mask};
	ex_check(pony_bpf_call(app, &rm, "scan", &sa, sizeof(sa), buf, 8 + PONY_BPF_RESULT_MAX, 5),
		 "scan");
	c = wait_op(&l, "scan");
	uint64_t n;
	memcpy(&n, buf, 8);
	printf("scan: %" PRIu64 " records with key & %#" PRIx64 " == %#" PRIx64 ":", n, mask, want);
	for (uint64_t i = 0; i < n && 8 + (i + 1) * 16 <= c.len; i++) {
		struct bpf_scan_rec rec;
		memcpy(&rec, buf + 8 + i * 16, sizeof(rec));
		printf(" %" PRIu64 "=%" PRIu64, rec.key, rec.value);
	}
	printf("\n");
	pony_close(app);
	return v[0] == 1000 + hops && v[1] == bpf_walk_node_off(LIST_OFF, hops) ? 0 : 1;
}
