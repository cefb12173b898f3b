/* libpony example: key-value client. One request per run over an RPC stream:
 *   kv_client [-s socket] [-e engine] -i ip [-p service] put KEY VALUE
 *   kv_client ... get KEY
 *   kv_client ... info        (where the table lives: region id and key)
 * or, with -o, GET by one-sided scan-and-read: the server's engine looks the key up in the
 * table region and returns the value in one round trip; the server app is not involved.
 * -o asks the server for the region once over RPC (info); -r REGION:KEY skips even that. */
#include <arpa/inet.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>

#include "ex_common.h"
#include <pony_kv.h>

static int usage(const char *me)
{
	fprintf(stderr, "usage: %s [-s socket] [-e engine] -i ip [-p service] "
		"put KEY VALUE | get KEY | info\n"
		"       %s [-s socket] [-e engine] -i ip [-p service] -o [-r REGION:KEY] get KEY\n",
		me, me);
	return 2;
}

static int rpc(struct pony_app *app, const char *ip, unsigned service, const struct kv_req *q,
	       uint32_t qlen, struct kv_resp *resp);

/* GET by scan-and-read (pony_scan_read): the table is the server's region, from offset 0. */
static int get_onesided(struct pony_app *app, const char *ip, unsigned service,
			const struct kv_info *given, const char *key)
{
	struct kv_info in;
	if (given) {
		in = *given;
	} else {
		struct kv_req q = {.op = KV_INFO, .id = 1};
		struct kv_resp *resp = pony_buf_alloc(app, sizeof(*resp));
		ex_check(resp ? 0 : -ENOMEM, "buffer");
		int r = rpc(app, ip, service, &q, offsetof(struct kv_req, data), resp);
		if (r)
			return r;
		if (resp->status != KV_OK || resp->val_len != sizeof(in)) {
			fprintf(stderr, "kv_client: info failed\n");
			return 1;
		}
		memcpy(&in, resp->val, sizeof(in));
	}
	struct in_addr a;
	if (inet_pton(AF_INET, ip, &a) != 1)
		return 2;
	struct pony_remote rm = {.ip = ntohl(a.s_addr), .region = in.region, .key = in.key};
	char *val = pony_buf_alloc(app, KV_VAL_MAX);
	ex_check(val ? 0 : -ENOMEM, "buffer");
	ex_check(pony_scan_read(app, &rm, 0, key, (uint32_t)strlen(key), val, KV_VAL_MAX, 0),
		 "scan_read");
	struct ex_loop l = {.app = app};
	struct pony_completion c;
	int r;
	while ((r = ex_next(&l, &c, 5000)) > 0 && c.op != PONY_OP_SCAN_READ)
		;
	if (r <= 0) {
		fprintf(stderr, "kv_client: no answer (%s)\n", r ? pony_strerror(r) : "timeout");
		return 1;
	}
	if (c.status == -ENODATA) {
		printf("not found\n");
		pony_close(app);
		return 3;
	}
	if (c.status != 0) {
		fprintf(stderr, "kv_client: scan_read: %s\n", pony_strerror(c.status));
		return 1;
	}
	printf("%.*s\n", (int)c.len, val);
	pony_close(app);
	return 0;
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *engine = NULL, *ip = NULL;
	unsigned service = 11211;
	int opt;
	bool onesided = false, have_region = false;
	struct kv_info info = {0};
	while ((opt = getopt(argc, argv, "s:e:i:p:or:")) != -1) {
		switch (opt) {
		case 'o': onesided = true; break;
		case 'r':
			if (sscanf(optarg, "%u:%" SCNx64, &info.region, &info.key) != 2)
				return usage(argv[0]);
			have_region = true;
			break;
		case 's': sock = optarg; break;
		case 'e': engine = optarg; break;
		case 'i': ip = optarg; break;
		case 'p': service = (unsigned)atoi(optarg); break;
		default: return usage(argv[0]);
		}
	}
	if (ip == NULL || optind >= argc)
		return usage(argv[0]);
	struct kv_req q = {.id = 1};
	const char *cmd = argv[optind];
	const char *key = optind + 1 < argc ? argv[optind + 1] : "";
	const char *val = optind + 2 < argc ? argv[optind + 2] : "";
	size_t klen = strlen(key), vlen = strlen(val);
	if (strcmp(cmd, "get") == 0 && optind + 2 == argc)
		q.op = KV_GET;
	else if (strcmp(cmd, "put") == 0 && optind + 3 == argc)
		q.op = KV_PUT;
	else if (strcmp(cmd, "info") == 0 && optind + 1 == argc)
		q.op = KV_INFO;
	else
		return usage(argv[0]);
	if (onesided && q.op != KV_GET)
		return usage(argv[0]);
	if (klen > KV_KEY_MAX || vlen > KV_VAL_MAX || (q.op != KV_INFO && klen == 0)) {
		fprintf(stderr, "kv_client: key 1..%u bytes, value up to %u bytes\n", KV_KEY_MAX,
			KV_VAL_MAX);
		return 2;
	}
	q.key_len = (uint8_t)klen;
	q.val_len = q.op == KV_PUT ? (uint16_t)vlen : 0;
	memcpy(q.data, key, klen);
	memcpy(q.data + klen, val, q.val_len);
	uint32_t qlen = (uint32_t)(offsetof(struct kv_req, data) + klen + q.val_len);

	struct pony_app *app = ex_connect(sock, engine);
	if (onesided)
		return get_onesided(app, ip, service, have_region ? &info : NULL, key);
	struct kv_resp *resp = pony_buf_alloc(app, sizeof(*resp));
	ex_check(resp ? 0 : -ENOMEM, "buffer");
	int r = rpc(app, ip, service, &q, qlen, resp);
	if (r)
		return r;
	static const char *const st[] = {"ok", "not found", "table full", "bad request"};
	if (resp->status != KV_OK) {
		int not_found = resp->status == KV_NOT_FOUND; /* resp dies with the region */
		printf("%s\n", st[resp->status]);
		pony_close(app);
		return not_found ? 3 : 1;
	}
	if (q.op == KV_GET) {
		printf("%.*s\n", (int)resp->val_len, resp->val);
	} else if (q.op == KV_INFO && resp->val_len == sizeof(struct kv_info)) {
		struct kv_info in;
		memcpy(&in, resp->val, sizeof(in));
		printf("region %u key %016llx buckets %u\n", in.region,
		       (unsigned long long)in.key, in.n_buckets);
	} else {
		printf("ok\n");
	}
	pony_close(app);
	return 0;
}

/* One request/response over a fresh stream; the response lands in resp. 0 or exit code 1. */
static int rpc(struct pony_app *app, const char *ip, unsigned service, const struct kv_req *q,
	       uint32_t qlen, struct kv_resp *resp)
{
	ex_check(pony_stream_open_str(app, ip, (uint16_t)service, 0), "open");
	struct ex_loop l = {.app = app};
	struct pony_completion c;
	int r;
	while ((r = ex_next(&l, &c, 5000)) > 0) {
		if (c.status != 0) {
			fprintf(stderr, "kv_client: %s: %s\n", pony_op_name(c.op),
				pony_strerror(c.status));
			return 1;
		}
		if (c.op == PONY_OP_OPEN) {
			ex_check(pony_recv_post(app, c.stream, resp, sizeof(*resp), 0), "recv");
			ex_check(pony_send_copy(app, c.stream, q, qlen, 0), "send");
		} else if (c.op == PONY_OP_RECV) {
			break;
		}
	}
	if (r <= 0) {
		fprintf(stderr, "kv_client: no answer (%s)\n", r ? pony_strerror(r) : "timeout");
		return 1;
	}
	if (c.len < offsetof(struct kv_resp, val) || resp->id != q->id || resp->status > KV_BAD ||
	    resp->val_len > c.len - offsetof(struct kv_resp, val)) {
		fprintf(stderr, "kv_client: malformed response\n");
		return 1;
	}
	return 0;
}
