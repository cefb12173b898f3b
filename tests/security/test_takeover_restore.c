/* Issue 14 item 6, unit level: what a new daemon reads during a takeover is bounded and
 * checked before use. A frame header announcing more than the receiver takes is refused before
 * anything is allocated; the hello is gathered without blocking; saved app sessions whose limits, shm
 * layout, ring positions, op free list, rx lists or payload spans are damaged are refused by
 * pony_app_save_check (so pony_app_restore builds nothing), as are transport tables whose
 * indexes point outside the new daemon's tables. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "../unit/pony_save_fix.h"
#include "../unit/pony_sim.h"
#include "pony/app_internal.h"
#include "pony/app_save.h"
#include "pony/internal.h"
#include "pony/save.h"
#include "core/takeover.h"

#define MAGIC 0x534e5455u /* takeover_msg.c's frame magic */

static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	struct timeval tv = {.tv_sec = 5};
	setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

static void test_frame_bounds(void **st)
{
	int sv[2];
	pair(sv);
	/* 1 GiB announced: refused at the header, whatever the limit asked. */
	uint32_t h[4] = {MAGIC, 1, 1u << 30, 0};
	assert_int_equal(write(sv[0], h, sizeof(h)), (ssize_t)sizeof(h));
	uint32_t type, len;
	void *p = (void *)1;
	assert_int_equal(snap_takeover_recv(sv[1], &type, &p, &len, SNAP_TAKEOVER_FRAME_MAX, NULL,
					    0, NULL), -EMSGSIZE);
	assert_null(p);
	close(sv[0]);
	close(sv[1]);
	/* Over the receiver's own limit (a hello-sized reader, 200 bytes offered). */
	pair(sv);
	static uint8_t big[200];
	assert_int_equal(snap_takeover_send(sv[0], 1, big, sizeof(big), NULL, 0), 0);
	assert_int_equal(snap_takeover_recv(sv[1], &type, &p, &len, 56, NULL, 0, NULL), -EMSGSIZE);
	/* The sender refuses a frame over the maximum too. */
	assert_int_equal(snap_takeover_send(sv[0], 1, big, SNAP_TAKEOVER_FRAME_MAX + 1u, NULL, 0),
			 -EINVAL);
	close(sv[0]);
	close(sv[1]);
}

/* The hello wait: pieces are taken as they come, the header is judged as soon as it is in. */
static void test_gather(void **st)
{
	int sv[2];
	pair(sv);
	struct snap_takeover_partial pt = {0};
	uint8_t out[56];
	uint32_t len;
	assert_int_equal(snap_takeover_gather(sv[1], &pt, 1, 56, out, &len), -EAGAIN); /* nothing */
	uint8_t hello[56] = {1, 2, 3};
	uint32_t h[4] = {MAGIC, 1, sizeof(hello), 0};
	assert_int_equal(write(sv[0], h, 10), 10); /* part of the header */
	assert_int_equal(snap_takeover_gather(sv[1], &pt, 1, 56, out, &len), -EAGAIN);
	assert_int_equal(write(sv[0], (uint8_t *)h + 10, 6), 6);
	assert_int_equal(snap_takeover_gather(sv[1], &pt, 1, 56, out, &len), -EAGAIN);
	assert_int_equal(write(sv[0], hello, 20), 20);
	assert_int_equal(snap_takeover_gather(sv[1], &pt, 1, 56, out, &len), -EAGAIN);
	assert_int_equal(write(sv[0], hello + 20, 36), 36);
	assert_int_equal(write(sv[0], "next", 4), 4); /* the following frame stays unread */
	assert_int_equal(snap_takeover_gather(sv[1], &pt, 1, 56, out, &len), 0);
	assert_int_equal(len, 56);
	assert_memory_equal(out, hello, 56);
	char next[4];
	assert_int_equal(read(sv[1], next, 4), 4);
	close(sv[0]);
	pt.got = 0;
	assert_int_equal(snap_takeover_gather(sv[1], &pt, 1, 56, out, &len), -ECONNRESET);
	close(sv[1]);
	/* Refused at the header: another type, more than a hello, not a frame. */
	uint32_t bad[3][4] = {{MAGIC, 2, 56, 0}, {MAGIC, 1, 1u << 30, 0}, {0xdeadbeef, 1, 0, 0}};
	int want[3] = {-EPROTO, -EMSGSIZE, -EPROTO};
	for (int i = 0; i < 3; i++) {
		pair(sv);
		pt.got = 0;
		assert_int_equal(write(sv[0], bad[i], sizeof(bad[i])), (ssize_t)sizeof(bad[i]));
		assert_int_equal(snap_takeover_gather(sv[1], &pt, 1, 56, out, &len), want[i]);
		close(sv[0]);
		close(sv[1]);
	}
}

static struct pony_app_host *host;
static struct pony_app_session *sess;

static int setup(void **st)
{
	return save_fix_init("sec_to", &host, &sess);
}

static int teardown(void **st)
{
	save_fix_fini(host);
	return 0;
}

/* Save the host as it is now and run the checks (and, if they pass, the transport restore). */
static int save_check(void)
{
	struct snap_sbuf b;
	snap_sbuf_init(&b);
	assert_int_equal(pony_app_save(host, sim_ep[0].tp, &b), 0);
	size_t off;
	int r = pony_app_save_check(b.data, b.len, &off);
	if (r == 0)
		r = pony_tp_restore(sim_ep[0].tp, (uint8_t *)b.data + off, b.len - off, NULL);
	snap_sbuf_fini(&b);
	return r;
}

static void test_sessions_checked(void **st)
{
	struct pony_app_session *s = sess;
	assert_int_equal(save_check(), 0);
#define BAD(field, value)                                                                   \
	do {                                                                                 \
		__typeof__(s->field) saved = s->field;                                       \
		s->field = (value);                                                          \
		assert_int_equal(save_check(), -EINVAL);                                     \
		s->field = saved;                                                            \
	} while (0)
	BAD(op_free, 9999);                          /* free list head out of the table */
	BAD(op_free, APP_NONE);                      /* free list shorter than the free ops */
	BAD(ops[5].next, 5);                         /* a cycle in the free list */
	BAD(ops[5].next, 100000);                    /* a link out of the table */
	BAD(cmd_tail_seen, s->cmd_head + 17);        /* ring positions a ring apart */
	BAD(cpl_tail, s->cpl_head_seen - 1);
	BAD(n_streams, s->max_streams + 1);          /* counts over their tables */
	BAD(tp_refs, 1);
	BAD(hdr.buf_off, s->hdr.buf_off + 4096);     /* shm header not the layout */
	BAD(hdr.cmd_entries, 1u << 20);
	BAD(map_size, s->map_size + 4096);
	BAD(max_streams, 0);                         /* a limit no config allows */
	/* An op in use whose buffer is outside the payload area. */
	uint32_t i = app_op_alloc(s);
	assert_int_not_equal(i, APP_NONE);
	s->ops[i].op = PONY_OP_SEND;
	s->ops[i].len = 16;
	assert_int_equal(save_check(), 0);
	BAD(ops[i].off, s->hdr.buf_size - 8);
	/* A stream whose rx list runs out of the op table. */
	s->streams[0].state = APP_STREAM_OPEN;
	s->streams[0].rx_head = s->streams[0].rx_tail = s->streams[0].open_op = APP_NONE;
	assert_int_equal(save_check(), 0);
	BAD(streams[0].rx_head, 70000);
	BAD(streams[0].state, 9);
	s->streams[0].state = APP_STREAM_FREE;
	app_op_free(s, i);
	/* A region past the payload area. */
	s->regions[0].id = 1;
	s->regions[0].len = 4096;
	assert_int_equal(save_check(), 0);
	BAD(regions[0].off, 1);
	s->regions[0].id = 0;
	assert_int_equal(save_check(), 0);
}

static void test_transport_checked(void **st)
{
	struct pony_tp *tp = sim_ep[0].tp;
	assert_int_equal(save_check(), 0);
	uint32_t saved = tp->stream_free;
	tp->stream_free = 1000;
	assert_int_equal(save_check(), -EINVAL);
	tp->stream_free = saved;
	/* A live stream whose sid names another slot (its send queue would be another's). */
	struct pony_stream *ps = &tp->streams[3];
	struct pony_stream keep = *ps;
	ps->state = PONY_S_OPEN;
	ps->flow = 0;
	ps->sid = 5;
	ps->held = PONY_NONE;
	ps->prev = ps->next = PONY_NONE;
	assert_int_equal(save_check(), -EINVAL);
	ps->sid = 3;
	ps->tx_head = 0;
	ps->tx_tail = 1000; /* more queued than sendq_max */
	assert_int_equal(save_check(), -EINVAL);
	*ps = keep;
	/* A live flow whose receive window is not the table's (its bitmap is sized by it). */
	struct pony_flow *f = &tp->flows[1];
	struct pony_flow fk = *f;
	f->state = PONY_F_ESTABLISHED;
	f->streams = PONY_NONE;
	f->rx.size = 1u << 20;
	assert_int_equal(save_check(), -EINVAL);
	*f = fk;
	assert_int_equal(save_check(), 0);
}

int main(void)
{
	const struct CMUnitTest frames[] = {
		cmocka_unit_test(test_frame_bounds),
		cmocka_unit_test(test_gather),
	};
	const struct CMUnitTest blobs[] = {
		cmocka_unit_test(test_sessions_checked),
		cmocka_unit_test(test_transport_checked),
	};
	int r = cmocka_run_group_tests(frames, NULL, NULL);
	return r | cmocka_run_group_tests(blobs, setup, teardown);
}
