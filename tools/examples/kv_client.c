/* libpony example: key-value client. One request per run over an RPC stream:
 *   kv_client [-s socket] [-e engine] -i ip [-p service] put KEY VALUE
 *   kv_client ... get KEY
 *   kv_client ... info        (where the table lives, for one-sided reads later) */
#include <getopt.h>

#include "ex_common.h"
#include "kv_layout.h"

static int usage(const char *me)
{
	fprintf(stderr, "usage: %s [-s socket] [-e engine] -i ip [-p service] "
		"put KEY VALUE | get KEY | info\n", me);
	return 2;
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *engine = NULL, *ip = NULL;
	unsigned service = 11211;
	int opt;
	while ((opt = getopt(argc, argv, "s:e:i:p:")) != -1) {
		switch (opt) {
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
	struct kv_resp *resp = pony_buf_alloc(app, sizeof(*resp));
	ex_check(resp ? 0 : -ENOMEM, "buffer");
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
			ex_check(pony_send_copy(app, c.stream, &q, qlen, 0), "send");
		} else if (c.op == PONY_OP_RECV) {
			break;
		}
	}
	if (r <= 0) {
		fprintf(stderr, "kv_client: no answer (%s)\n", r ? pony_strerror(r) : "timeout");
		return 1;
	}
	static const char *const st[] = {"ok", "not found", "table full", "bad request"};
	if (c.len < offsetof(struct kv_resp, val) || resp->id != q.id || resp->status > KV_BAD ||
	    resp->val_len > c.len - offsetof(struct kv_resp, val)) {
		fprintf(stderr, "kv_client: malformed response\n");
		return 1;
	}
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
