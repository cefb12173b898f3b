/* Fuzz target: adversarial apps against the daemon-side command validator. The input drives
 * app A: raw commands (random, or biased to live stream ids and payload-area edges), ring
 * index corruption, completion polling, transport upcalls with arbitrary statuses, and
 * scribbling over A's ring while the daemon is inside the transport. App B, on the same
 * host, runs a fixed script afterwards and must see exactly the right completions: no
 * input to A may crash the daemon, touch memory outside A's region (ASan), lose a
 * completion, or affect B. Transport: the recording fake (tests/unit/fake_tp.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../unit/fake_tp.h"
#include "pony/app_internal.h"
#include "pony/client/internal.h"
#include "snap/log.h"

#define CHECK(c)                                                                          \
	do {                                                                              \
		if (!(c)) {                                                               \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);    \
			abort();                                                          \
		}                                                                         \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz {
	const uint8_t *p;
	size_t n;
	struct pony_app_session *a;
	struct pony_app *app;
};

static uint8_t take8(struct fz *z)
{
	if (z->n == 0)
		return 0;
	z->n--;
	return *z->p++;
}

static uint64_t take64(struct fz *z)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | take8(z);
	return v;
}


/* While the daemon is inside the transport, the app rewrites its whole command ring. */
static void scribble(enum fake_tp_fn fn, void *ctx)
{
	struct fz *z = ctx;
	(void)fn;
	if (z->n && (z->p[0] & 3) == 0) {
		uint8_t b = take8(z);
		memset(z->app->cmds, b, (size_t)z->app->hdr.cmd_entries * sizeof(struct pony_shm_cmd));
	}
}

/* Well-behaved producer (index abuse has its own action): skip when full. */
static void raw_push(struct fz *z, const struct pony_shm_cmd *c)
{
	struct pony_app *a = z->app;
	if (a->cmd_tail - atomic_load(&a->cmd_ring->cons.head) >= a->hdr.cmd_entries)
		return;
	memcpy(&a->cmds[a->cmd_tail & (a->hdr.cmd_entries - 1)], c, sizeof(*c));
	a->cmd_tail++;
	atomic_store_explicit(&a->cmd_ring->prod.tail, a->cmd_tail, memory_order_release);
}

static uint32_t live_stream(struct pony_app_session *s, uint8_t pick)
{
	for (uint32_t k = 0; k < s->max_streams; k++) {
		struct app_stream *st = &s->streams[(pick + k) % s->max_streams];
		if (st->state != APP_STREAM_FREE)
			return st->id;
	}
	return pick;
}

static void upcall(struct fz *z, struct fake_tp *f)
{
	if (f->n_calls == 0 || z->a->torn)
		return;
	const struct fake_tp_call *c = &f->calls[take8(z) % f->n_calls];
	int status = -(int)(take8(z) % 120);
	uint64_t ck;
	switch (take8(z) % 6) {
	case 0:
		if (c->fn == FAKE_OPEN)
			pony_app_upcalls.opened(c->owner, c->sid, status);
		break;
	case 1:
		if (c->fn == FAKE_SEND) {
			/* find the stream owning this send by sid */
			for (uint32_t k = 0; k < z->a->max_streams; k++)
				if (z->a->streams[k].sid == c->sid)
					pony_app_upcalls.tx_done(&z->a->streams[k], c->sid,
								 c->cookie, status);
		}
		break;
	case 2:
		if (c->fn == FAKE_OPEN)
			pony_app_upcalls.closed(c->owner, c->sid, status);
		break;
	case 3:
		if (c->fn == FAKE_LISTEN && c->owner) {
			void *owner;
			pony_app_upcalls.accept(c->owner, 10000 + take8(z), PONY_IP4(1), c->service,
						&owner);
		}
		break;
	default:
		if (c->fn == FAKE_OPEN || c->fn == FAKE_GRANT) {
			for (uint32_t k = 0; k < z->a->max_streams; k++) {
				struct app_stream *st = &z->a->streams[k];
				if (st->state == APP_STREAM_FREE || st->sid != c->sid)
					continue;
				uint32_t len = (uint32_t)take64(z) % 70000;
				char *dst = pony_app_upcalls.rx_begin(st, st->sid, len, &ck);
				if (dst) {
					/* Writes exactly where the transport would: ASan checks it. */
					CHECK(dst >= z->a->buf &&
					      dst + len <= z->a->buf + z->a->hdr.buf_size);
					memset(dst, 0xab, len);
				}
				pony_app_upcalls.rx_done(st, st->sid, ck, dst ? len : 0,
							 dst ? 0 : -EMSGSIZE);
				break;
			}
		}
		break;
	}
}

static void check_b(struct pony_app_host *h, struct pony_app_session *b, struct pony_app *app)
{
	struct pony_completion c[8];
	char *buf = pony_buf_alloc(app, 4096);
	CHECK(buf);
	CHECK(pony_region_register(app, buf, 4096, PONY_REGION_READ, 1) == 0);
	CHECK(pony_listen(app, 60000, 2) == 0);
	CHECK(pony_region_revoke(app, 0x7fff, 3) == 0);
	pony_app_session_poll(h, b, 100);
	CHECK(pony_poll(app, c, 8) == 3);
	CHECK(c[0].tag == 1 && c[0].status == 0 && c[0].op == PONY_OP_REGION_REG);
	CHECK(c[1].tag == 2 && c[1].status == 0);
	CHECK(c[2].tag == 3 && c[2].status == -ENOENT);
	CHECK(pony_app_region_lookup(b, c[0].region, c[0].key, 0, 4096, PONY_REGION_READ) ==
	      b->buf + (buf - app->buf));
	for (unsigned e = 0; e < PONY_APP_ERR_MAX; e++)
		CHECK(b->cnt.errors[e] == (e == PONY_APP_ERR_BAD_REGION));
	CHECK(!b->broken && b->cnt.cpl_overflow == 0 && b->cnt.stray_upcalls == 0);
}

/* Totals over all runs, printed by the replay driver. */
static struct {
	uint64_t runs, broken, cmds, errors;
} fz_stats;
void pony_fuzz_report(void);
void pony_fuzz_report(void)
{
	printf("runs %lu, app A disconnected in %lu, commands %lu, refused %lu\n",
	       (unsigned long)fz_stats.runs, (unsigned long)fz_stats.broken,
	       (unsigned long)fz_stats.cmds, (unsigned long)fz_stats.errors);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int quiet;
	if (!quiet++)
		rte_log_set_level(snap_logtype, RTE_LOG_ERR); /* one line per violation */
	struct pony_app_config cfg;
	pony_app_config_defaults(&cfg);
	cfg.buf_size = 64 * 1024;
	cfg.cmd_entries = 16;
	cfg.max_streams = 4;
	cfg.max_ops = 64;
	cfg.max_regions = 4;
	cfg.max_listens = 2;
	struct fake_tp *f;
	struct pony_tp *tp = fake_tp_new(&f);
	struct pony_app_host *h = pony_app_host_create(NULL, "fuzz", tp);
	CHECK(h);
	struct pony_app_session *s[2];
	struct pony_app *app[2];
	for (int i = 0; i < 2; i++) {
		s[i] = pony_app_session_create(&cfg, (uint32_t)i + 1, -1, SOCKET_ID_ANY);
		CHECK(s[i]);
		CHECK(pony_app_host_adopt(h, s[i]) == 0);
		int m, ce, pe;
		pony_app_session_fds(s[i], &m, &ce, &pe);
		app[i] = pony_app_wrap(pony_app_session_base(s[i]), s[i]->map_size, ce, pe);
		CHECK(app[i]);
	}
	struct fz z = {.p = data, .n = size, .a = s[0], .app = app[0]};
	f->hook = scribble;
	f->hook_ctx = &z;
	uint64_t area = s[0]->hdr.buf_size;
	struct pony_completion cpl[32];
	for (unsigned steps = 0; z.n && steps < 4096; steps++) {
		uint8_t act = take8(&z);
		struct pony_shm_cmd c;
		switch (act % 12) {
		case 0: case 1: case 2: /* raw command bytes */
			for (unsigned i = 0; i < sizeof(c); i++)
				((uint8_t *)&c)[i] = take8(&z);
			if (act % 12 >= 1) { /* biased: sane op, zero rsvd, live ids */
				c.op = (uint8_t)(1 + c.op % (PONY_OP_MAX - 1));
				c.rkey = c.roff = 0;
				c.flags &= PONY_CMDF_ALL;
				c.stream = live_stream(s[0], (uint8_t)c.stream);
			}
			if (act % 12 == 2) { /* payload-area edges */
				c.off = area - (c.off % 512);
				c.len %= 1024;
				c.count %= 8;
			}
			raw_push(&z, &c);
			break;
		case 3: case 4: /* library calls */
			switch (take8(&z) % 5) {
			case 0: pony_stream_open(app[0], 1, take8(&z), 7); break;
			case 1: pony_listen(app[0], take8(&z), 8); break;
			case 2: {
				char *b = pony_buf_alloc(app[0], 1 + take8(&z) * 16u);
				if (b)
					pony_recv_post_n(app[0], live_stream(s[0], take8(&z)), b, 16,
							 1 + take8(&z) % 4, 9);
				break;
			}
			case 3: pony_send_copy(app[0], live_stream(s[0], take8(&z)), "x", 1, 10); break;
			default: pony_stream_close(app[0], live_stream(s[0], take8(&z)), 11); break;
			}
			break;
		case 5: case 6:
			pony_app_session_poll(h, s[0], take8(&z));
			break;
		case 7:
			pony_poll(app[0], cpl, 1 + take8(&z) % 32);
			break;
		case 8: case 9:
			upcall(&z, f);
			break;
		case 10: { /* index corruption: made rare so most runs explore a live ring */
			uint8_t k = take8(&z);
			if (k & 0x7e)
				break;
			if (k & 1)
				atomic_store(&app[0]->cmd_ring->prod.tail, (uint32_t)take64(&z));
			else
				atomic_store(&app[0]->cpl_ring->cons.head, (uint32_t)take64(&z));
			break;
		}
		default:
			pony_app_host_poll(h, 64);
			break;
		}
		CHECK(s[0]->cnt.cpl_overflow == 0);
		CHECK(s[0]->owed <= s[0]->hdr.cpl_entries);
	}
	f->hook = NULL;
	fz_stats.runs++;
	fz_stats.broken += s[0]->broken;
	fz_stats.cmds += s[0]->cnt.cmds;
	for (unsigned e = 0; e < PONY_APP_ERR_MAX; e++)
		fz_stats.errors += s[0]->cnt.errors[e];
	check_b(h, s[1], app[1]);
	for (int i = 0; i < 2; i++) {
		int m, ce, pe;
		pony_app_session_fds(s[i], &m, &ce, &pe);
		pony_app_unwrap(app[i]);
		CHECK(pony_app_host_detach(h, s[i]) == 0);
		close(m);
		close(ce);
		close(pe);
	}
	const struct pony_app_host_counters *hc = pony_app_host_counters(h);
	CHECK(hc->streams == 0 && hc->listens == 0 && hc->regions == 0);
	pony_app_host_destroy(h);
	fake_tp_free(tp);
	return 0;
}
