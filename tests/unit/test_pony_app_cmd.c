/* Unit tests of the daemon-side app layer against the fake transport: command validation
 * (every bad field -> its error completion and counter, no transport call), stream/op
 * lifecycles through upcalls, limits, regions, isolation between apps, protocol violations,
 * completion backpressure and teardown back to zero. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>

#include "pony_app_fix.h"
#include "core/config.h"

#define ERRCNT(x, i, e) ((x)->s[i]->cnt.errors[PONY_APP_ERR_##e])

/* One bad command: expect status, the counter for reason, and no transport call. */
static void expect_refused(struct app_fix *x, unsigned i, struct pony_shm_cmd c, int status,
			   enum pony_app_err why)
{
	uint64_t before = x->s[i]->cnt.errors[why];
	unsigned long calls = x->f->n_total;
	c.tag = 0xbad0 + why;
	fix_raw(x, i, &c);
	struct pony_completion cpl = fix_one(x, i);
	if (cpl.status != status || x->s[i]->cnt.errors[why] != before + 1)
		fprintf(stderr, "op %u: status %d (want %d), counter %s %lu\n", c.op, cpl.status,
			status, pony_app_err_name(why),
			(unsigned long)x->s[i]->cnt.errors[why]);
	assert_int_equal(cpl.status, status);
	assert_int_equal(cpl.tag, 0xbad0 + why);
	assert_int_equal(x->s[i]->cnt.errors[why], before + 1);
	assert_int_equal(x->f->n_total, calls);
}

/* Open a stream on app i and complete it through the opened() upcall. Returns its id. */
static uint32_t open_stream(struct app_fix *x, unsigned i, uint64_t tag)
{
	assert_int_equal(pony_stream_open(x->app[i], 0x7f000001, 7, tag), 0);
	assert_int_equal(fix_run(x, i, NULL, 0), 0);
	const struct fake_tp_call *o = fake_tp_last(x->f, FAKE_OPEN);
	assert_non_null(o);
	pony_app_upcalls.opened(o->owner, o->sid, 0);
	struct pony_completion c = fix_one(x, i);
	assert_int_equal(c.op, PONY_OP_OPEN);
	assert_int_equal(c.status, 0);
	assert_int_equal(c.tag, tag);
	assert_int_equal(c.peer_ip, 0x7f000001);
	return c.stream;
}

/* One-sided commands: every bad field refused with its status and counter before the
 * transport is called; a good one reaches the transport (the fake refuses one-sided ops, so
 * its error comes back as TRANSPORT and the op is released). */
static void test_onesided_cmds(void **state)
{
	struct app_fix x;
	fix_init(&x, "t_os", 1, NULL);
	uint64_t area = x.s[0]->hdr.buf_size;
	typedef struct pony_shm_cmd C;
	C ok = {.op = PONY_OP_READ, .ip = 0x7f000002, .region = 1, .rkey = 5, .roff = 0, .len = 64};
	C c = ok;
	c.len = 0;
	expect_refused(&x, 0, c, -EINVAL, PONY_APP_ERR_BAD_LEN);
	c.len = PONY_ONESIDED_MAX + 1;
	expect_refused(&x, 0, c, -EINVAL, PONY_APP_ERR_BAD_LEN);
	c = ok;
	c.off = area - 63;
	expect_refused(&x, 0, c, -EFAULT, PONY_APP_ERR_BAD_BUFFER);
	c = ok;
	c.off = UINT64_MAX - 10;
	expect_refused(&x, 0, c, -EFAULT, PONY_APP_ERR_BAD_BUFFER);
	c = ok;
	c.flags = PONY_CMDF_IND_PTR; /* only for READ_INDIRECT */
	expect_refused(&x, 0, c, -EINVAL, PONY_APP_ERR_BAD_FIELD);
	c = ok;
	c.stream = 3;
	expect_refused(&x, 0, c, -EINVAL, PONY_APP_ERR_BAD_FIELD);
	c = ok;
	c.count = 2; /* key length: SCAN_READ only */
	expect_refused(&x, 0, c, -EINVAL, PONY_APP_ERR_BAD_FIELD);
	c = ok;
	c.op = PONY_OP_SCAN_READ;
	expect_refused(&x, 0, c, -EINVAL, PONY_APP_ERR_BAD_COUNT); /* key length 0 */
	c.count = PONY_SCAN_KEY_MAX + 1;
	expect_refused(&x, 0, c, -EINVAL, PONY_APP_ERR_BAD_COUNT);
	c.count = 8;
	c.len = 4; /* key longer than the buffer */
	expect_refused(&x, 0, c, -EINVAL, PONY_APP_ERR_BAD_COUNT);
	/* Well-formed: reaches the fake transport, which refuses one-sided ops. */
	c = ok;
	c.op = PONY_OP_READ_INDIRECT;
	c.flags = PONY_CMDF_IND_PTR;
	expect_refused(&x, 0, c, -EOPNOTSUPP, PONY_APP_ERR_TRANSPORT);
	assert_int_equal(x.s[0]->n_ops, 0);
	assert_int_equal(x.s[0]->tp_refs, 0);
	/* Non-one-sided ops must leave rkey/roff zero. */
	expect_refused(&x, 0, (C){.op = PONY_OP_LISTEN, .service = 9, .rkey = 1}, -EINVAL,
		       PONY_APP_ERR_BAD_FIELD);
	fix_fini(&x);
}

static void test_bad_fields(void **state)
{
	struct app_fix x;
	fix_init(&x, "t_bad", 2, NULL);
	uint64_t area = x.s[0]->hdr.buf_size;
	uint32_t sid = open_stream(&x, 0, 1);
	uint32_t other = open_stream(&x, 1, 1); /* app 1's stream */
	typedef struct pony_shm_cmd C;
	expect_refused(&x, 0, (C){.op = 0}, -EINVAL, PONY_APP_ERR_BAD_OP);
	expect_refused(&x, 0, (C){.op = 99}, -EINVAL, PONY_APP_ERR_BAD_OP);
	expect_refused(&x, 0, (C){.op = PONY_OP_ACCEPT}, -EINVAL, PONY_APP_ERR_BAD_OP);
	expect_refused(&x, 0, (C){.op = PONY_OP_CLOSED}, -EINVAL, PONY_APP_ERR_BAD_OP);
	expect_refused(&x, 0, (C){.op = PONY_OP_LISTEN, .flags = 0x80}, -EINVAL,
		       PONY_APP_ERR_BAD_FIELD);
	expect_refused(&x, 0, (C){.op = PONY_OP_LISTEN, .roff = 1}, -EINVAL,
		       PONY_APP_ERR_BAD_FIELD);
	expect_refused(&x, 0, (C){.op = PONY_OP_LISTEN, .service = 1, .stream = sid}, -EINVAL,
		       PONY_APP_ERR_BAD_FIELD);
	expect_refused(&x, 0, (C){.op = PONY_OP_CLOSE, .stream = sid, .off = 64}, -EINVAL,
		       PONY_APP_ERR_BAD_FIELD);
	expect_refused(&x, 0, (C){.op = PONY_OP_RECV, .stream = sid, .len = 64, .count = 1,
				  .flags = PONY_CMDF_FREE_ON_DONE},
		       -EINVAL, PONY_APP_ERR_BAD_FIELD);
	expect_refused(&x, 0, (C){.op = PONY_OP_SEND, .stream = sid, .len = 0}, -EINVAL,
		       PONY_APP_ERR_BAD_LEN);
	expect_refused(&x, 0, (C){.op = PONY_OP_SEND, .stream = sid, .len = PONY_MSG_MAX + 1},
		       -EINVAL, PONY_APP_ERR_BAD_LEN);
	expect_refused(&x, 0, (C){.op = PONY_OP_SEND, .stream = sid, .off = area, .len = 1},
		       -EFAULT, PONY_APP_ERR_BAD_BUFFER);
	expect_refused(&x, 0, (C){.op = PONY_OP_SEND, .stream = sid, .off = area - 8, .len = 9},
		       -EFAULT, PONY_APP_ERR_BAD_BUFFER);
	expect_refused(&x, 0, (C){.op = PONY_OP_SEND, .stream = sid, .off = UINT64_MAX - 3,
				  .len = 8},
		       -EFAULT, PONY_APP_ERR_BAD_BUFFER);
	expect_refused(&x, 0, (C){.op = PONY_OP_SEND, .stream = sid + 1, .len = 8}, -EBADF,
		       PONY_APP_ERR_BAD_STREAM);
	expect_refused(&x, 0, (C){.op = PONY_OP_SEND, .stream = sid ^ (1u << 16), .len = 8},
		       -EBADF, PONY_APP_ERR_BAD_STREAM); /* stale generation */
	expect_refused(&x, 0, (C){.op = PONY_OP_SEND, .stream = 0xffffffff, .len = 8}, -EBADF,
		       PONY_APP_ERR_BAD_STREAM);
	if (other != sid) /* ids are per app: app 1's id is only ours if it happens to match */
		expect_refused(&x, 0, (C){.op = PONY_OP_SEND, .stream = other, .len = 8}, -EBADF,
			       PONY_APP_ERR_BAD_STREAM);
	expect_refused(&x, 0, (C){.op = PONY_OP_RECV, .stream = sid, .len = 64, .count = 0},
		       -EINVAL, PONY_APP_ERR_BAD_COUNT);
	expect_refused(&x, 0, (C){.op = PONY_OP_RECV, .stream = sid, .len = 64,
				  .count = PONY_RECV_BATCH_MAX + 1},
		       -EINVAL, PONY_APP_ERR_BAD_COUNT);
	expect_refused(&x, 0, (C){.op = PONY_OP_RECV, .stream = sid, .len = area / 2 + 64,
				  .count = 2},
		       -EFAULT, PONY_APP_ERR_BAD_BUFFER);
	expect_refused(&x, 0, (C){.op = PONY_OP_RECV, .stream = sid, .len = 1u << 22,
				  .count = 64, .off = 0},
		       -EFAULT, PONY_APP_ERR_BAD_BUFFER);
	expect_refused(&x, 0, (C){.op = PONY_OP_RECV, .stream = 12345, .len = 64, .count = 1},
		       -EBADF, PONY_APP_ERR_BAD_STREAM);
	expect_refused(&x, 0, (C){.op = PONY_OP_REGION_REG, .len = 64, .perms = 0}, -EINVAL,
		       PONY_APP_ERR_BAD_PERMS);
	expect_refused(&x, 0, (C){.op = PONY_OP_REGION_REG, .len = 64, .perms = 4}, -EINVAL,
		       PONY_APP_ERR_BAD_PERMS);
	expect_refused(&x, 0, (C){.op = PONY_OP_REGION_REG, .len = 0, .perms = 1}, -EFAULT,
		       PONY_APP_ERR_BAD_BUFFER);
	expect_refused(&x, 0, (C){.op = PONY_OP_REGION_REG, .off = 64, .len = area, .perms = 1},
		       -EFAULT, PONY_APP_ERR_BAD_BUFFER);
	expect_refused(&x, 0, (C){.op = PONY_OP_REGION_REVOKE, .region = 7}, -ENOENT,
		       PONY_APP_ERR_BAD_REGION);
	expect_refused(&x, 0, (C){.op = PONY_OP_UNLISTEN, .service = 9}, -ENOENT,
		       PONY_APP_ERR_BAD_SERVICE);
	/* Sending on a stream that is still opening. */
	assert_int_equal(pony_stream_open(x.app[0], 1, 2, 3), 0);
	assert_int_equal(fix_run(&x, 0, NULL, 0), 0);
	const struct fake_tp_call *o = fake_tp_last(x.f, FAKE_OPEN);
	struct app_stream *st = o->owner;
	expect_refused(&x, 0, (C){.op = PONY_OP_SEND, .stream = st->id, .len = 8}, -ENOTCONN,
		       PONY_APP_ERR_NOT_CONNECTED);
	/* Transport refusal is reported with its error and counted. */
	x.f->ret[FAKE_LISTEN] = -EADDRINUSE;
	assert_int_equal(pony_listen(x.app[0], 80, 5), 0);
	struct pony_completion c = fix_one(&x, 0);
	assert_int_equal(c.status, -EADDRINUSE);
	assert_int_equal(ERRCNT(&x, 0, TRANSPORT), 1);
	/* None of this touched app 1. */
	for (unsigned e = 0; e < PONY_APP_ERR_MAX; e++)
		assert_int_equal(x.s[1]->cnt.errors[e], 0);
	assert_int_equal(x.s[0]->cnt.cpl_overflow, 0);
	fix_fini(&x);
	(void)state;
}

static void test_stream_lifecycle(void **state)
{
	struct app_fix x;
	fix_init(&x, "t_life", 1, NULL);
	struct pony_app *a = x.app[0];
	char *rx = pony_buf_alloc(a, 2 * 256);
	assert_non_null(rx);
	/* Buffers posted while opening are granted when the open completes. */
	assert_int_equal(pony_stream_open_str(a, "127.0.0.2", 9, 77), 0);
	assert_int_equal(fix_run(&x, 0, NULL, 0), 0);
	const struct fake_tp_call *o = fake_tp_last(x.f, FAKE_OPEN);
	assert_int_equal(o->ip, htonl(0x7f000002)); /* transport: network order */
	assert_int_equal(o->service, 9);
	struct app_stream *st = o->owner;
	uint32_t tsid = o->sid;
	assert_int_equal(pony_recv_post_n(a, st->id, rx, 256, 2, 55), 0);
	assert_int_equal(fix_run(&x, 0, NULL, 0), 0);
	assert_int_equal(fake_tp_count(x.f, FAKE_GRANT), 0);
	pony_app_upcalls.opened(st, tsid, 0);
	struct pony_completion c = fix_one(&x, 0);
	assert_int_equal(c.op, PONY_OP_OPEN);
	assert_int_equal(c.tag, 77);
	uint32_t sid = c.stream;
	const struct fake_tp_call *g = fake_tp_last(x.f, FAKE_GRANT);
	assert_non_null(g);
	assert_int_equal(g->n, 2);
	/* Send: the transport gets the daemon's view of the very same bytes. */
	char *tx = pony_buf_alloc(a, 100);
	memcpy(tx, "hello", 6);
	assert_int_equal(pony_send(a, sid, tx, 6, 88), 0);
	assert_int_equal(fix_run(&x, 0, NULL, 0), 0);
	const struct fake_tp_call *snd = fake_tp_last(x.f, FAKE_SEND);
	assert_int_equal(snd->len, 6);
	assert_ptr_equal(snd->buf, x.s[0]->buf + (tx - a->buf));
	assert_string_equal(snd->buf, "hello");
	pony_app_upcalls.tx_done(st, tsid, snd->cookie, 0);
	c = fix_one(&x, 0);
	assert_int_equal(c.op, PONY_OP_SEND);
	assert_int_equal(c.tag, 88);
	assert_ptr_equal(c.buf, tx);
	assert_int_equal(c.len, 6);
	/* A stale cookie is ignored and counted. */
	pony_app_upcalls.tx_done(st, tsid, snd->cookie, 0);
	assert_int_equal(x.s[0]->cnt.stray_upcalls, 1);
	/* Receive into the first posted buffer, which rx_peek names without taking it (as
	 * often as asked), and nothing for a message it cannot hold or a stale sid. */
	uint64_t ck;
	char *peek = pony_app_upcalls.rx_peek(st, tsid, 5);
	assert_ptr_equal(peek, x.s[0]->buf + (rx - a->buf));
	assert_ptr_equal(pony_app_upcalls.rx_peek(st, tsid, 256), peek);
	assert_null(pony_app_upcalls.rx_peek(st, tsid, 257));
	assert_null(pony_app_upcalls.rx_peek(st, tsid + 1, 5));
	assert_int_equal(x.s[0]->cnt.stray_upcalls, 1); /* the stale tx_done's: peek counts none */
	char *dst = pony_app_upcalls.rx_begin(st, tsid, 5, &ck);
	assert_ptr_equal(dst, peek);
	memcpy(dst, "world", 5);
	pony_app_upcalls.rx_done(st, tsid, ck, 5, 0);
	c = fix_one(&x, 0);
	assert_int_equal(c.op, PONY_OP_RECV);
	assert_int_equal(c.tag, 55);
	assert_ptr_equal(c.buf, rx);
	assert_int_equal(c.len, 5);
	assert_memory_equal(c.buf, "world", 5);
	/* Too long for the second buffer: -EMSGSIZE, the buffer is consumed. */
	dst = pony_app_upcalls.rx_begin(st, tsid, 300, &ck);
	assert_null(dst);
	pony_app_upcalls.rx_done(st, tsid, ck, 0, -EMSGSIZE);
	c = fix_one(&x, 0);
	assert_int_equal(c.status, -EMSGSIZE);
	assert_ptr_equal(c.buf, rx + 256);
	/* Beyond the credit: refused, counted; nothing to peek at. */
	assert_null(pony_app_upcalls.rx_peek(st, tsid, 1));
	assert_null(pony_app_upcalls.rx_begin(st, tsid, 1, &ck));
	/* Peer closes: pending receives fail, then CLOSED with the open's tag. */
	assert_int_equal(pony_recv_post(a, sid, rx, 256, 56), 0);
	assert_int_equal(fix_run(&x, 0, NULL, 0), 0);
	pony_app_upcalls.closed(st, tsid, 0);
	struct pony_completion cs[4];
	assert_int_equal(fix_run(&x, 0, cs, 4), 2);
	assert_int_equal(cs[0].op, PONY_OP_RECV);
	assert_int_equal(cs[0].status, -ECONNRESET);
	assert_int_equal(cs[1].op, PONY_OP_CLOSED);
	assert_int_equal(cs[1].tag, 77);
	assert_int_equal(cs[1].stream, sid);
	/* The id is dead now. */
	assert_int_equal(pony_send(a, sid, tx, 6, 89), 0);
	c = fix_one(&x, 0);
	assert_int_equal(c.status, -EBADF);
	const struct pony_app_host_counters *hc = pony_app_host_counters(x.h);
	assert_int_equal(hc->streams, 0);
	assert_int_equal(hc->ops, 0);
	assert_int_equal(x.s[0]->owed, 0);
	fix_fini(&x);
	(void)state;
}

static void test_accept_close_copy(void **state)
{
	struct app_fix x;
	fix_init(&x, "t_acc", 1, NULL);
	struct pony_app *a = x.app[0];
	assert_int_equal(pony_listen(a, 4242, 10), 0);
	struct pony_completion c = fix_one(&x, 0);
	assert_int_equal(c.op, PONY_OP_LISTEN);
	assert_int_equal(c.status, 0);
	const struct fake_tp_call *l = fake_tp_last(x.f, FAKE_LISTEN);
	void *owner = NULL;
	assert_int_equal(pony_app_upcalls.accept(l->owner, 500, PONY_IP4(htonl(0x0a000001)), 4242,
						 &owner),
			 0);
	c = fix_one(&x, 0);
	assert_int_equal(c.op, PONY_OP_ACCEPT);
	assert_int_equal(c.tag, 10);
	assert_int_equal(c.peer_ip, 0x0a000001);
	uint32_t sid = c.stream;
	/* Copy-in send: the library frees its buffer when the completion is polled. */
	size_t free_before = 0;
	void *probe = pony_buf_alloc(a, x.s[0]->hdr.buf_size);
	assert_non_null(probe); /* whole area free */
	pony_buf_free(a, probe);
	(void)free_before;
	assert_int_equal(pony_send_copy(a, sid, "abc", 3, 11), 0);
	assert_int_equal(fix_run(&x, 0, NULL, 0), 0);
	const struct fake_tp_call *snd = fake_tp_last(x.f, FAKE_SEND);
	assert_memory_equal(snd->buf, "abc", 3);
	/* Local close with the send pending: close recorded, CLOSE completion; the send's
	 * later cancellation still completes. */
	assert_int_equal(pony_stream_close(a, sid, 12), 0);
	c = fix_one(&x, 0);
	assert_int_equal(c.op, PONY_OP_CLOSE);
	assert_int_equal(c.tag, 12);
	assert_int_equal(fake_tp_last(x.f, FAKE_CLOSE)->sid, 500);
	pony_app_upcalls.tx_done(owner, 500, snd->cookie, -ECANCELED);
	c = fix_one(&x, 0);
	assert_int_equal(c.op, PONY_OP_SEND);
	assert_int_equal(c.status, -ECANCELED);
	assert_null(c.buf); /* freed by the library */
	probe = pony_buf_alloc(a, x.s[0]->hdr.buf_size);
	assert_non_null(probe); /* the copy buffer went back */
	pony_buf_free(a, probe);
	/* Unlisten; an accept afterwards is refused. */
	assert_int_equal(pony_unlisten(a, 4242, 13), 0);
	c = fix_one(&x, 0);
	assert_int_equal(c.op, PONY_OP_UNLISTEN);
	assert_int_equal(c.status, 0);
	assert_int_equal(pony_app_upcalls.accept(l->owner, 501, PONY_IP4(1), 4242, &owner), -ECONNREFUSED);
	assert_int_equal(x.s[0]->cnt.accept_refused, 1);
	fix_fini(&x);
	(void)state;
}

static void test_limits(void **state)
{
	struct app_fix x;
	fix_init(&x, "t_lim", 1, NULL);
	struct pony_app *a = x.app[0];
	struct pony_completion c;
	for (unsigned i = 0; i < x.cfg.max_streams; i++) {
		assert_int_equal(pony_stream_open(a, 1, 1, i), 0);
		assert_int_equal(fix_run(&x, 0, NULL, 0), 0);
	}
	assert_int_equal(pony_stream_open(a, 1, 1, 99), 0);
	c = fix_one(&x, 0);
	assert_int_equal(c.status, -ENOSPC);
	assert_int_equal(ERRCNT(&x, 0, LIMIT_STREAMS), 1);
	/* Accepting beyond the limit is refused too. */
	assert_int_equal(pony_listen(a, 5, 1), 0);
	c = fix_one(&x, 0);
	void *owner;
	assert_int_equal(pony_app_upcalls.accept(fake_tp_last(x.f, FAKE_LISTEN)->owner, 900, PONY_IP4(1),
						 5, &owner),
			 -ECONNREFUSED);
	/* Listens. */
	assert_int_equal(pony_listen(a, 6, 1), 0);
	c = fix_one(&x, 0);
	assert_int_equal(c.status, 0);
	assert_int_equal(pony_listen(a, 7, 1), 0);
	c = fix_one(&x, 0);
	assert_int_equal(c.status, -ENOSPC);
	/* Regions. */
	void *b = pony_buf_alloc(a, 4096);
	for (unsigned i = 0; i < x.cfg.max_regions; i++) {
		assert_int_equal(pony_region_register(a, b, 4096, PONY_REGION_READ, i), 0);
		c = fix_one(&x, 0);
		assert_int_equal(c.status, 0);
	}
	assert_int_equal(pony_region_register(a, b, 4096, PONY_REGION_READ, 9), 0);
	c = fix_one(&x, 0);
	assert_int_equal(c.status, -ENOSPC);
	/* Ops: the 4 opens hold 4; post receives up to the limit on an opening stream. */
	struct app_stream *st = fake_tp_last(x.f, FAKE_OPEN)->owner;
	unsigned room = x.cfg.max_ops - x.s[0]->n_ops;
	assert_int_equal(pony_recv_post_n(a, st->id, b, 64, room, 1), 0);
	assert_int_equal(fix_run(&x, 0, NULL, 0), 0);
	assert_int_equal(pony_recv_post(a, st->id, b, 64, 2), 0);
	c = fix_one(&x, 0);
	assert_int_equal(c.status, -ENOBUFS);
	assert_int_equal(ERRCNT(&x, 0, LIMIT_OPS), 1);
	fix_fini(&x);
	(void)state;
}

static void test_regions(void **state)
{
	struct app_fix x;
	fix_init(&x, "t_reg", 2, NULL);
	struct pony_app *a = x.app[0];
	char *b = pony_buf_alloc(a, 8192);
	assert_int_equal(pony_region_register(a, b, 8192, PONY_REGION_READ, 1), 0);
	struct pony_completion r1 = fix_one(&x, 0);
	assert_int_equal(r1.status, 0);
	assert_int_equal(pony_region_register(a, b, 4096,
					      PONY_REGION_READ | PONY_REGION_WRITE, 2), 0);
	struct pony_completion r2 = fix_one(&x, 0);
	assert_true(r1.key != r2.key);
	assert_true(r1.region != r2.region);
	char *d = x.s[0]->buf + (b - a->buf);
	assert_ptr_equal(pony_app_region_lookup(x.s[0], r1.region, r1.key, 16, 32,
						PONY_REGION_READ), d + 16);
	assert_null(pony_app_region_lookup(x.s[0], r1.region, r1.key ^ 1, 0, 1,
					   PONY_REGION_READ));
	assert_null(pony_app_region_lookup(x.s[0], r1.region, r1.key, 0, 1, PONY_REGION_WRITE));
	assert_null(pony_app_region_lookup(x.s[0], r1.region, r1.key, 8000, 193,
					   PONY_REGION_READ));
	assert_null(pony_app_region_lookup(x.s[0], r1.region, r1.key, UINT64_MAX, 2,
					   PONY_REGION_READ));
	/* Another app cannot revoke or use it. */
	assert_null(pony_app_region_lookup(x.s[1], r1.region, r1.key, 0, 1, PONY_REGION_READ));
	assert_int_equal(pony_region_revoke(x.app[1], r1.region, 3), 0);
	struct pony_completion c = fix_one(&x, 1);
	assert_int_equal(c.status, -ENOENT);
	assert_int_equal(pony_region_revoke(a, r1.region, 4), 0);
	c = fix_one(&x, 0);
	assert_int_equal(c.status, 0);
	assert_int_equal(c.region, r1.region);
	assert_null(pony_app_region_lookup(x.s[0], r1.region, r1.key, 0, 1, PONY_REGION_READ));
	fix_fini(&x);
	(void)state;
}

static void test_violations(void **state)
{
	struct app_fix x;
	fix_init(&x, "t_viol", 3, NULL);
	const struct pony_app_host_counters *hc = pony_app_host_counters(x.h);
	/* 0: producer index more than a ring ahead. */
	atomic_store(&x.app[0]->cmd_ring->prod.tail, x.s[0]->hdr.cmd_entries + 1);
	pony_app_session_poll(x.h, x.s[0], 100);
	assert_true(pony_app_session_broken(x.s[0]));
	/* 1: producer index going backwards after a valid command. */
	assert_int_equal(pony_listen(x.app[1], 1, 1), 0);
	assert_int_equal(fix_run(&x, 1, NULL, 0), 0); /* completion left unread */
	atomic_store(&x.app[1]->cmd_ring->prod.tail, 0);
	pony_app_session_poll(x.h, x.s[1], 100);
	assert_true(pony_app_session_broken(x.s[1]));
	assert_int_equal(hc->listens, 0); /* torn down at once */
	/* 2: completion consumer index beyond the producer. */
	atomic_store(&x.app[2]->cpl_ring->cons.head, 5);
	pony_app_session_poll(x.h, x.s[2], 100);
	assert_true(pony_app_session_broken(x.s[2]));
	assert_int_equal(hc->protocol_violations, 3);
	/* A fresh app on the same host is unaffected. */
	x.n = 4;
	fix_add(&x, 3);
	assert_int_equal(pony_listen(x.app[3], 1, 1), 0);
	struct pony_completion c = fix_one(&x, 3);
	assert_int_equal(c.status, 0);
	assert_false(pony_app_session_broken(x.s[3]));
	for (unsigned i = 0; i < x.n; i++)
		fix_detach(&x, i);
	assert_int_equal(hc->sessions, 0);
	assert_int_equal(hc->mapped_bytes, 0);
	fix_fini(&x);
	(void)state;
}

static void test_backpressure(void **state)
{
	struct app_fix x;
	fix_init(&x, "t_bp", 1, NULL);
	struct pony_app *a = x.app[0];
	uint32_t entries = x.s[0]->hdr.cpl_entries;
	unsigned pushed = 0, got = 0;
	uint64_t want_tag = 0;
	/* Commands that each complete at once, never polled: the daemon must stop taking
	 * them while the completion ring lacks credit, and never lose one. */
	for (int round = 0; round < 200; round++) {
		while (pony_region_revoke(a, 1, pushed) == 0)
			pushed++;
		pony_app_session_poll(x.h, x.s[0], 1000);
	}
	assert_true(x.s[0]->cnt.cmds <= entries);
	assert_true(x.s[0]->cnt.cmds + APP_CMD_CREDIT > entries);
	assert_int_equal(x.s[0]->cnt.cpl_overflow, 0);
	/* Drain everything in order. */
	struct pony_completion c[32];
	for (int round = 0; round < 10000 && got < pushed; round++) {
		int n = fix_run(&x, 0, c, 32);
		for (int i = 0; i < n; i++) {
			assert_int_equal(c[i].tag, want_tag);
			want_tag++;
		}
		got += (unsigned)n;
	}
	assert_int_equal(got, pushed);
	fix_fini(&x);
	(void)state;
}

/* The app rewrites the slot while the daemon works on it: the daemon uses its copy. */
static void scribble(enum fake_tp_fn fn, void *ctx)
{
	struct app_fix *x = ctx;
	if (fn != FAKE_OPEN)
		return;
	struct pony_shm_cmd *slot = &x->app[0]->cmds[0];
	slot->tag = 0xdead;
	slot->op = PONY_OP_SEND;
	slot->off = UINT64_MAX;
	slot->ip = 0;
}

static void test_double_fetch(void **state)
{
	struct app_fix x;
	fix_init(&x, "t_df", 1, NULL);
	x.f->hook = scribble;
	x.f->hook_ctx = &x;
	assert_int_equal(pony_stream_open(x.app[0], 0x01020304, 3, 0x600d), 0);
	assert_int_equal(fix_run(&x, 0, NULL, 0), 0);
	const struct fake_tp_call *o = fake_tp_last(x.f, FAKE_OPEN);
	pony_app_upcalls.opened(o->owner, o->sid, -ECONNREFUSED);
	struct pony_completion c = fix_one(&x, 0);
	assert_int_equal(c.op, PONY_OP_OPEN);
	assert_int_equal(c.tag, 0x600d);
	assert_int_equal(c.peer_ip, 0x01020304);
	assert_int_equal(c.status, -ECONNREFUSED);
	assert_int_equal(pony_app_host_counters(x.h)->streams, 0);
	fix_fini(&x);
	(void)state;
}

static void test_teardown(void **state)
{
	struct app_fix x;
	fix_init(&x, "t_down", 2, NULL);
	const struct pony_app_host_counters *hc = pony_app_host_counters(x.h);
	struct pony_app *a = x.app[0];
	uint32_t sid = open_stream(&x, 0, 1);
	void *owner = fake_tp_last(x.f, FAKE_OPEN)->owner;
	uint32_t tsid = fake_tp_last(x.f, FAKE_OPEN)->sid;
	char *b = pony_buf_alloc(a, 1024);
	assert_int_equal(pony_recv_post_n(a, sid, b, 128, 4, 2), 0);
	assert_int_equal(pony_send(a, sid, b + 512, 100, 3), 0);
	assert_int_equal(pony_listen(a, 77, 4), 0);
	assert_int_equal(pony_region_register(a, b, 1024, PONY_REGION_READ, 5), 0);
	assert_int_equal(pony_stream_open(a, 1, 1, 6), 0); /* left opening */
	pony_app_session_poll(x.h, x.s[0], 100);
	uint64_t cookie = fake_tp_last(x.f, FAKE_SEND)->cookie;
	open_stream(&x, 1, 1); /* app 1 keeps one stream */
	assert_int_equal(hc->streams, 3);
	assert_int_equal(hc->listens, 1);
	assert_int_equal(hc->regions, 1);
	unsigned closes = fake_tp_count(x.f, FAKE_CLOSE);
	fix_detach(&x, 0);
	assert_int_equal(fake_tp_count(x.f, FAKE_CLOSE), closes + 2);
	assert_int_equal(fake_tp_count(x.f, FAKE_UNLISTEN), 1);
	assert_int_equal(hc->streams, 1);
	assert_int_equal(hc->listens, 0);
	assert_int_equal(hc->regions, 0);
	/* The send is still in the transport: the region stays mapped until it completes. */
	assert_int_equal(hc->sessions, 2);
	assert_int_equal(hc->ops, 1);
	pony_app_upcalls.tx_done(owner, tsid, cookie, -ECANCELED);
	assert_int_equal(hc->sessions, 1);
	assert_int_equal(hc->ops, 0);
	fix_detach(&x, 1);
	assert_int_equal(hc->sessions, 0);
	assert_int_equal(hc->streams, 0);
	assert_int_equal(hc->mapped_bytes, 0);
	fix_fini(&x);
	(void)state;
}

/* Receive edge cases: a cookie of a queued (not begun) receive is refused without
 * corrupting the FIFO; -EMSGSIZE with the message's real length completes; a refused grant
 * fails only the buffers just posted; a receive the transport began keeps a detached
 * session (and its mapping) alive until rx_done. */
static void test_rx_edges(void **state)
{
	struct app_fix x;
	fix_init(&x, "t_rx", 1, NULL);
	struct pony_app *a = x.app[0];
	uint32_t sid = open_stream(&x, 0, 1);
	struct app_stream *st = fake_tp_last(x.f, FAKE_OPEN)->owner;
	uint32_t tsid = st->sid;
	char *b = pony_buf_alloc(a, 4 * 64);
	assert_int_equal(pony_recv_post_n(a, sid, b, 64, 2, 7), 0);
	assert_int_equal(fix_run(&x, 0, NULL, 0), 0);
	uint32_t queued = st->rx_tail;
	pony_app_upcalls.rx_done(st, tsid, (uint64_t)x.s[0]->ops[queued].gen << 32 | queued, 3, 0);
	assert_int_equal(x.s[0]->cnt.stray_upcalls, 1);
	assert_int_equal(fix_run(&x, 0, NULL, 0), 0);
	uint64_t ck;
	assert_null(pony_app_upcalls.rx_begin(st, tsid, 1000, &ck));
	pony_app_upcalls.rx_done(st, tsid, ck, 1000, -EMSGSIZE);
	struct pony_completion c = fix_one(&x, 0);
	assert_int_equal(c.status, -EMSGSIZE);
	assert_int_equal(c.len, 0);
	/* Grant refused: the 2 new buffers fail, the 1 older one stays posted. */
	x.f->ret[FAKE_GRANT] = -ENOTCONN;
	assert_int_equal(pony_recv_post_n(a, sid, b + 128, 64, 2, 8), 0);
	struct pony_completion cs[4];
	assert_int_equal(fix_run(&x, 0, cs, 4), 2);
	assert_int_equal(cs[0].status, -ENOTCONN);
	assert_int_equal(cs[0].tag, 8);
	assert_int_equal(cs[1].tag, 8);
	x.f->ret[FAKE_GRANT] = 0;
	char *dst = pony_app_upcalls.rx_begin(st, tsid, 10, &ck);
	assert_ptr_equal(dst, x.s[0]->buf + (b + 64 - a->buf));
	/* Detach while the transport is writing into that buffer. */
	const struct pony_app_host_counters *hc = pony_app_host_counters(x.h);
	fix_detach(&x, 0);
	assert_int_equal(hc->sessions, 1);
	memset(dst, 1, 10); /* still mapped: ASan/segv would catch otherwise */
	pony_app_upcalls.rx_done(st, tsid, ck, 10, 0);
	assert_int_equal(hc->sessions, 0);
	assert_int_equal(hc->mapped_bytes, 0);
	fix_fini(&x);
	(void)state;
}

static void test_config(void **state)
{
	struct pony_app_config c;
	char err[128];
	pony_app_config_defaults(&c);
	assert_int_equal(pony_app_config_check(&c, err, sizeof(err)), 0);
	assert_true(pony_app_cpl_entries(&c) >= c.max_ops + c.max_streams + PONY_RECV_BATCH_MAX);
	c.cmd_entries = 100;
	assert_int_equal(pony_app_config_check(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "cmd_entries"));
	pony_app_config_defaults(&c);
	c.max_ops = 60000;
	assert_int_equal(pony_app_config_check(&c, err, sizeof(err)), -EINVAL);
	/* From the daemon's config. */
	static struct snap_config sc;
	snprintf(sc.app_socket, sizeof(sc.app_socket), "/tmp/x.sock");
	sc.socket_mode = 0600;
	sc.allow_uids[sc.n_allow_uids++] = 1000;
	sc.allow_gids[sc.n_allow_gids++] = 50;
	sc.app_region_mb = 16;
	sc.app_max_streams = 1024;
	sc.app_max_ops = 4096;
	sc.app_max_regions = 0;
	assert_int_equal(pony_app_config_from_snap(&sc, &c, err, sizeof(err)), 0);
	assert_string_equal(c.socket_path, "/tmp/x.sock");
	assert_int_equal(c.socket_mode, 0600);
	assert_int_equal(c.n_allow_uids, 1);
	assert_int_equal(c.allow_gids[0], 50);
	assert_int_equal(c.buf_size, 16u << 20);
	assert_int_equal(c.max_ops, 4096);
	assert_int_equal(c.max_regions, 0);
	sc.app_max_ops = 1 << 20;
	assert_int_equal(pony_app_config_from_snap(&sc, &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "max_ops"));
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_fields),
		cmocka_unit_test(test_stream_lifecycle),
		cmocka_unit_test(test_accept_close_copy),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_regions),
		cmocka_unit_test(test_violations),
		cmocka_unit_test(test_backpressure),
		cmocka_unit_test(test_double_fetch),
		cmocka_unit_test(test_teardown),
		cmocka_unit_test(test_rx_edges),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_onesided_cmds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
