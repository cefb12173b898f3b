/* Takeover framing (core/takeover_msg.c): fds arrive as the same open files, large payloads
 * cross a stream socket intact, and bad frames are refused without leaking fds. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/takeover.h"
#include "core/takeover_int.h"

static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

static unsigned open_fds(void)
{
	unsigned n = 0;
	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

static void test_fds_same_files(void **st)
{
	int sv[2];
	pair(sv);
	int efd = eventfd(0, EFD_CLOEXEC), mfd = memfd_create("t", MFD_CLOEXEC);
	assert_true(efd >= 0 && mfd >= 0);
	assert_int_equal(ftruncate(mfd, 4096), 0);
	int fds[2] = {efd, mfd};
	assert_int_equal(snap_takeover_send(sv[0], 7, "meta", 4, fds, 2), 0);
	uint32_t type, len;
	void *p;
	int got[4];
	unsigned n;
	assert_int_equal(snap_takeover_recv(sv[1], &type, &p, &len, 64, got, 4, &n), 0);
	assert_int_equal(type, 7);
	assert_int_equal(len, 4);
	assert_memory_equal(p, "meta", 4);
	free(p);
	assert_int_equal(n, 2);
	struct stat a, b;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(fstat(fds[i], &a), 0);
		assert_int_equal(fstat(got[i], &b), 0);
		assert_true(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
		assert_true(fcntl(got[i], F_GETFD) & FD_CLOEXEC);
		close(got[i]);
	}
	close(efd);
	close(mfd);
	close(sv[0]);
	close(sv[1]);
}

struct big {
	int sock;
	uint8_t *buf;
	uint32_t len;
	int r;
};

static void *sender(void *arg)
{
	struct big *b = arg;
	b->r = snap_takeover_send(b->sock, 9, b->buf, b->len, NULL, 0);
	return NULL;
}

static void test_big_payload(void **st)
{
	int sv[2];
	pair(sv);
	struct big b = {.sock = sv[0], .len = 3u << 20};
	b.buf = malloc(b.len);
	for (uint32_t i = 0; i < b.len; i++)
		b.buf[i] = (uint8_t)(i * 7 + 3);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, sender, &b), 0);
	uint32_t type, len;
	void *p;
	assert_int_equal(snap_takeover_recv(sv[1], &type, &p, &len, SNAP_TAKEOVER_FRAME_MAX, NULL,
					    0, NULL), 0);
	pthread_join(t, NULL);
	assert_int_equal(b.r, 0);
	assert_int_equal(len, b.len);
	assert_memory_equal(p, b.buf, b.len);
	free(p);
	free(b.buf);
	close(sv[0]);
	close(sv[1]);
}

static void test_bad_frames(void **st)
{
	int sv[2];
	pair(sv);
	unsigned before = open_fds();
	/* Garbage header with an fd attached: refused, the fd is not leaked. */
	int efd = eventfd(0, EFD_CLOEXEC);
	uint32_t junk[4] = {0xdeadbeef, 1, 0, 1};
	struct iovec iov = {junk, sizeof(junk)};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof(u));
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &efd, sizeof(int));
	assert_int_equal(sendmsg(sv[0], &mh, 0), (ssize_t)sizeof(junk));
	close(efd);
	uint32_t type, len;
	void *p;
	int got[1];
	unsigned n;
	assert_int_equal(snap_takeover_recv(sv[1], &type, &p, &len, 64, got, 1, &n), -EPROTO);
	assert_int_equal(open_fds(), before);
	/* More fds than the receiver takes: refused, closed. */
	int fds[2] = {eventfd(0, EFD_CLOEXEC), eventfd(0, EFD_CLOEXEC)};
	assert_int_equal(snap_takeover_send(sv[0], 1, NULL, 0, fds, 2), 0);
	close(fds[0]);
	close(fds[1]);
	assert_int_equal(snap_takeover_recv(sv[1], &type, &p, &len, 64, got, 1, &n), -EMSGSIZE);
	assert_int_equal(open_fds(), before);
	/* Peer gone mid-way. */
	close(sv[0]);
	assert_int_equal(snap_takeover_recv(sv[1], &type, &p, &len, 64, got, 1, &n), -ECONNRESET);
	close(sv[1]);
}

/* The running report's stamp (when the new daemon saw every engine poll): read back as
 * written; a plain "running" (a binary that stamps nothing), a zero, garbage or a message
 * that fills the field unterminated have none. */
static void test_running_stamp(void **st)
{
	struct to_status s = {0};
	uint64_t ns = 7;
	snprintf(s.msg, sizeof(s.msg), TO_RUNNING_FMT, 123456789012345ull);
	assert_int_equal(to_running_stamp(&s, &ns), 0);
	assert_true(ns == 123456789012345ull);
	snprintf(s.msg, sizeof(s.msg), "running");
	assert_int_equal(to_running_stamp(&s, &ns), -ENOENT);
	snprintf(s.msg, sizeof(s.msg), TO_RUNNING_FMT, 0ull);
	assert_int_equal(to_running_stamp(&s, &ns), -ENOENT);
	snprintf(s.msg, sizeof(s.msg), "running, every engine polled at x ns");
	assert_int_equal(to_running_stamp(&s, &ns), -ENOENT);
	memset(s.msg, '9', sizeof(s.msg));
	assert_int_equal(to_running_stamp(&s, &ns), -ENOENT);
}

/* Apply the delta from base to cur onto a copy of base: must give cur. Returns the delta's
 * size. */
static size_t round_trip(const uint8_t *base, size_t bl, const uint8_t *cur, size_t cl)
{
	struct snap_sbuf d;
	snap_sbuf_init(&d);
	to_delta_encode(base, bl, cur, cl, &d);
	assert_int_equal(d.err, 0);
	size_t len = bl, cap = bl ? bl : 1;
	uint8_t *b = malloc(cap);
	assert_non_null(b);
	memcpy(b, base, bl);
	assert_int_equal(to_delta_apply(&b, &len, &cap, d.data, d.len, 1 << 24), 0);
	assert_int_equal(len, cl);
	assert_memory_equal(b, cur, cl);
	size_t n = d.len;
	free(b);
	snap_sbuf_fini(&d);
	return n;
}

/* Engine state deltas (takeover_delta.c): exact for changes, growth and shrinking, small
 * when little changed; malformed deltas refused with the base untouched. */
static void test_delta(void **st)
{
	enum { N = 100000 };
	uint8_t *a = malloc(N + 5000), *c = malloc(N + 5000);
	assert_non_null(a);
	assert_non_null(c);
	uint64_t r = 88172645463325252ull;
	for (size_t i = 0; i < N + 5000; i++) {
		r ^= r << 13, r ^= r >> 7, r ^= r << 17;
		a[i] = (uint8_t)r;
	}
	memcpy(c, a, N + 5000);
	assert_true(round_trip(a, N, c, N) == sizeof(struct to_delta_hdr)); /* nothing changed */
	c[0] ^= 1, c[5000] ^= 1, c[5001] ^= 1, c[N - 1] ^= 1;
	assert_true(round_trip(a, N, c, N) < 4 * (64 + sizeof(struct to_delta_run)) + 16);
	assert_true(round_trip(a, N, c, N + 3333) < 3333 + 4 * 80 + 16); /* grown */
	round_trip(a, N, c, N - 777);                                     /* shrunk */
	round_trip(a, N, c, 0);
	round_trip(a, 0, c, 1000);                                        /* no base */
	round_trip(a, 63, c, 65);

	/* Refusals: a delta over the base's end with a gap, runs out of order or past the
	 * total, truncated; the base stays as it was. */
	struct {
		struct to_delta_hdr h;
		struct to_delta_run r1;
		uint8_t b1[8];
		struct to_delta_run r2;
		uint8_t b2[8];
	} bad;
	const struct {
		uint64_t total;
		uint32_t off1, off2, n_runs;
		size_t cut;
	} cases[] = {
		{N + 100, 0, N + 50, 2, 0},   /* [N, N + 50) from nowhere */
		{N, 100, 50, 2, 0},           /* out of order */
		{N, 100, N - 4, 2, 0},        /* run past the total */
		{N, 100, 200, 3, 0},          /* a run announced, none there */
		{N, 100, 200, 2, 3},          /* cut short */
		{(1 << 24) + 1, 0, 8, 2, 0},  /* over the limit */
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		bad.h = (struct to_delta_hdr){.total = cases[k].total, .n_runs = cases[k].n_runs};
		bad.r1 = (struct to_delta_run){.off = cases[k].off1, .len = 8};
		bad.r2 = (struct to_delta_run){.off = cases[k].off2, .len = 8};
		memset(bad.b1, 0xee, 8);
		memset(bad.b2, 0xee, 8);
		size_t len = N, cap = N;
		uint8_t *b = malloc(N);
		assert_non_null(b);
		memcpy(b, a, N);
		assert_int_not_equal(to_delta_apply(&b, &len, &cap, &bad, sizeof(bad) - cases[k].cut,
						    1 << 24), 0);
		assert_int_equal(len, N);
		assert_memory_equal(b, a, N);
		free(b);
	}
	free(a);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fds_same_files),
		cmocka_unit_test(test_big_payload),
		cmocka_unit_test(test_bad_frames),
		cmocka_unit_test(test_running_stamp),
		cmocka_unit_test(test_delta),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
