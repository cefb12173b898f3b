/* libpony example: tiny key-value server. The table (pony_kv.h) lives in a payload buffer
 * registered as a read-only memory region, so clients can later read it one-sidedly; GET,
 * PUT and INFO arrive as RPC messages and are answered with one message each.
 * Usage: kv_server [-s socket] [-e engine] [-p service] [-n buckets (power of two)] */
#include <getopt.h>

#include "ex_common.h"
#include <pony_kv.h>

#define RX_BUFS 16

static struct kv_table_hdr *table;
static struct kv_info info;

/* Handle one request of len bytes; fill resp. Requests are untrusted: check every length. */
static void serve(const struct kv_req *q, uint32_t len, struct kv_resp *r)
{
	memset(r, 0, sizeof(*r));
	r->status = KV_BAD;
	if (len < offsetof(struct kv_req, data))
		return;
	r->id = q->id;
	uint32_t body = len - (uint32_t)offsetof(struct kv_req, data);
	if (q->key_len > KV_KEY_MAX || q->val_len > KV_VAL_MAX ||
	    (uint32_t)q->key_len + q->val_len > body)
		return;
	struct kv_bucket *b;
	switch (q->op) {
	case KV_GET:
		b = q->key_len ? kv_find(table, q->data, q->key_len) : NULL;
		r->status = b ? KV_OK : KV_NOT_FOUND;
		if (b) {
			r->val_len = b->val_len;
			memcpy(r->val, b->val, b->val_len);
		}
		break;
	case KV_PUT: {
		int e = kv_put(table, q->data, q->key_len, q->data + q->key_len, q->val_len);
		r->status = e == 0 ? KV_OK : e == -2 ? KV_FULL : KV_BAD;
		break;
	}
	case KV_INFO:
		r->status = KV_OK;
		r->val_len = sizeof(info);
		memcpy(r->val, &info, sizeof(info));
		break;
	default:
		break;
	}
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *engine = NULL;
	unsigned service = 11211, nb = 1024;
	int opt;
	while ((opt = getopt(argc, argv, "s:e:p:n:")) != -1) {
		switch (opt) {
		case 's': sock = optarg; break;
		case 'e': engine = optarg; break;
		case 'p': service = (unsigned)atoi(optarg); break;
		case 'n': nb = (unsigned)atoi(optarg); break;
		default: nb = 0; break;
		}
	}
	if (nb == 0 || (nb & (nb - 1))) {
		fprintf(stderr, "usage: %s [-s socket] [-e engine] [-p service] [-n buckets]\n",
			argv[0]);
		return 2;
	}
	struct pony_app *app = ex_connect(sock, engine);
	table = pony_buf_alloc(app, kv_region_size(nb));
	if (table == NULL) {
		fprintf(stderr, "kv_server: %u buckets do not fit the payload area (%zu B)\n", nb,
			pony_buf_area_size(app));
		return 1;
	}
	kv_init(table, nb);
	info.n_buckets = nb;
	ex_check(pony_region_register(app, table, kv_region_size(nb), PONY_REGION_READ, 0),
		 "region");
	ex_check(pony_listen(app, (uint16_t)service, 0), "listen");
	struct ex_loop l = {.app = app};
	struct pony_completion c;
	int r;
	while ((r = ex_next(&l, &c, -1)) > 0) {
		switch (c.op) {
		case PONY_OP_REGION_REG:
			ex_check(c.status, "region");
			info.region = c.region;
			info.key = c.key;
			break;
		case PONY_OP_LISTEN:
			ex_check(c.status, "listen");
			printf("kv_server: service %u, %u buckets in region %u\n", service, nb,
			       info.region);
			fflush(stdout);
			break;
		case PONY_OP_ACCEPT:
			for (unsigned i = 0; i < RX_BUFS; i++) {
				void *b = pony_buf_alloc(app, sizeof(struct kv_req));
				if (b == NULL || pony_recv_post(app, c.stream, b, sizeof(struct kv_req),
								(uintptr_t)b))
					pony_buf_free(app, b);
			}
			break;
		case PONY_OP_RECV: {
			if (c.status != 0 && c.status != -EMSGSIZE) {
				pony_buf_free(app, c.buf); /* stream closed */
				break;
			}
			struct kv_resp resp;
			serve(c.buf, c.status ? 0 : c.len, &resp);
			uint32_t rlen = (uint32_t)offsetof(struct kv_resp, val) + resp.val_len;
			pony_send_copy(app, c.stream, &resp, rlen, 0);
			if (pony_recv_post(app, c.stream, c.buf, sizeof(struct kv_req), c.tag))
				pony_buf_free(app, c.buf);
			break;
		}
		default:
			break;
		}
	}
	fprintf(stderr, "kv_server: %s\n", pony_strerror(r));
	pony_close(app);
	return 1;
}
