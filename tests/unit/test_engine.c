/* Engine runtime: graph building and its errors, run-to-completion emit, drops on unwired
 * outputs, the poll loop and its counters, mailbox calls (parked and running), and the
 * save/restore container. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_mbuf.h>

#include "core/engine_int.h"
#include "testlib.h"

static struct rte_mempool *pool;

/* "t_src": a source that emits `pending` packets on its next poll. */
struct t_src {
	unsigned pending;
	uint64_t state; /* saved/restored */
};

static unsigned src_poll(struct snap_elem *el, uint64_t now)
{
	struct t_src *s = snap_elem_priv(el);
	struct rte_mbuf *m[SNAP_BURST_MAX];
	unsigned n = s->pending < SNAP_BURST_MAX ? s->pending : SNAP_BURST_MAX;
	if (n == 0 || rte_pktmbuf_alloc_bulk(pool, m, n))
		return 0;
	for (unsigned i = 0; i < n; i++)
		rte_pktmbuf_append(m[i], 60);
	s->pending -= n;
	snap_elem_emit(el, 0, m, (uint16_t)n);
	return n;
}

static void pass_process(struct snap_elem *el, struct rte_mbuf **p, uint16_t n)
{
	snap_elem_emit(el, 0, p, n);
}

static int src_save(const struct snap_elem *el, struct snap_sbuf *out, uint32_t version)
{
	const struct t_src *s = snap_elem_priv(el);
	snap_sbuf_put(out, &s->state, sizeof(s->state));
	return 0;
}

static int src_restore(struct snap_elem *el, const void *d, size_t len, uint32_t version)
{
	struct t_src *s = snap_elem_priv(el);
	if (len != sizeof(s->state))
		return -EPROTO;
	memcpy(&s->state, d, len);
	return 0;
}

static const char *const outs[] = {"out", "alt"};
static const struct snap_elem_desc t_src_desc = {
	.name = "t_src", .priv_size = sizeof(struct t_src), .n_outputs = 2, .outputs = outs,
	.process = pass_process, .poll = src_poll, .state_version = 1, .save = src_save,
	.restore = src_restore,
};
SNAP_ELEM_REGISTER(t_src_desc)

/* "t_sink": counts and frees. */
static unsigned sink_count;
static void sink_process(struct snap_elem *el, struct rte_mbuf **p, uint16_t n)
{
	sink_count += n;
	rte_pktmbuf_free_bulk(p, n);
}
static const struct snap_elem_desc t_sink_desc = {
	.name = "t_sink", .process = sink_process,
};
SNAP_ELEM_REGISTER(t_sink_desc)

static const struct snap_elem_desc t_pass_desc = {
	.name = "t_pass", .n_outputs = 1, .outputs = outs, .process = pass_process,
};
SNAP_ELEM_REGISTER(t_pass_desc)

static int failing_init(struct snap_elem *el, const struct snap_elem_args *a)
{
	uint64_t v;
	return snap_elem_arg_u64(a, "n", 1, 1, 10, &v);
}
static const struct snap_elem_desc t_fail_desc = {
	.name = "t_fail", .process = sink_process, .init = failing_init,
};
SNAP_ELEM_REGISTER(t_fail_desc)

static struct snap_engine *mk(const char *name)
{
	struct snap_engine *e = snap_engine_create(name, SOCKET_ID_ANY);
	assert_non_null(e);
	assert_int_equal(snap_engine_add_elem(e, "t_src", "src", NULL, NULL, 0), 0);
	assert_int_equal(snap_engine_add_elem(e, "t_pass", "p1", NULL, NULL, 0), 0);
	assert_int_equal(snap_engine_add_elem(e, "t_pass", "p2", NULL, NULL, 0), 0);
	assert_int_equal(snap_engine_add_elem(e, "t_sink", "sink", NULL, NULL, 0), 0);
	return e;
}

static void test_build_errors(void **st)
{
	char msg[256];
	struct snap_engine *e = mk("e1");
	assert_null(snap_engine_create("e1", SOCKET_ID_ANY));
	assert_int_equal(errno, EEXIST);
	assert_int_equal(snap_engine_add_elem(e, "nope", "x", NULL, msg, sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, "unknown element type"));
	assert_int_equal(snap_engine_add_elem(e, "t_pass", "p1", NULL, msg, sizeof(msg)), -EEXIST);
	struct snap_elem_args *a = snap_elem_args_new();
	snap_elem_args_set(a, "n", "99");
	assert_int_equal(snap_engine_add_elem(e, "t_fail", "f", a, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "n = \"99\""));
	snap_elem_args_set(a, "n", "5");
	assert_int_equal(snap_engine_add_elem(e, "t_fail", "f", a, msg, sizeof(msg)), 0);
	snap_elem_args_free(a);
	assert_int_equal(snap_engine_link(e, "src", "bogus", "p1", msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "it has: out alt"));
	assert_int_equal(snap_engine_link(e, "src", NULL, "p1", msg, sizeof(msg)), 0);
	assert_int_equal(snap_engine_link(e, "src", "out", "p2", msg, sizeof(msg)), -EEXIST);
	assert_int_equal(snap_engine_link(e, "p1", NULL, "p2", msg, sizeof(msg)), 0);
	assert_int_equal(snap_engine_link(e, "p2", NULL, "p1", msg, sizeof(msg)), -ELOOP);
	assert_int_equal(snap_engine_link(e, "sink", NULL, "p1", msg, sizeof(msg)), -EINVAL);
	assert_int_equal(snap_engine_link(e, "nope", NULL, "p1", msg, sizeof(msg)), -ENOENT);
	snap_engine_destroy(e);
	assert_null(snap_engine_find("e1"));
}

static void test_poll_and_drops(void **st)
{
	struct snap_engine *e = mk("e2");
	unsigned avail = rte_mempool_avail_count(pool);
	assert_int_equal(snap_engine_link(e, "src", NULL, "p1", NULL, 0), 0);
	assert_int_equal(snap_engine_link(e, "p1", NULL, "sink", NULL, 0), 0);
	struct snap_elem *src = snap_engine_elem(e, "src");
	struct t_src *s = snap_elem_priv(src);
	s->pending = 100;
	sink_count = 0;
	unsigned work = 0;
	for (int i = 0; i < 10; i++)
		work += snap_engine_poll(e, rte_rdtsc());
	assert_int_equal(work, 100);
	assert_int_equal(sink_count, 100);
	assert_int_equal(e->st.polls, 10);
	assert_int_equal(e->st.busy_polls, 4); /* 32+32+32+4 */
	assert_int_equal(snap_engine_elem(e, "p1")->cnt.in_pkts, 100);
	assert_int_equal(src->cnt.out_pkts[0], 100);
	/* p2 is not wired: what reaches it is dropped and counted, not leaked. */
	assert_int_equal(snap_engine_link(e, "src", "alt", "p2", NULL, 0), 0);
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	snap_elem_emit1(src, 1, m);
	assert_int_equal(snap_engine_elem(e, "p2")->cnt.drops[SNAP_DROP_UNCONNECTED], 1);
	assert_int_equal(rte_mempool_avail_count(pool), avail);
	snap_engine_destroy(e);
}

static int add_arg(struct snap_engine *e, void *arg)
{
	*(int *)arg += 1;
	return 7;
}

struct runner {
	struct snap_engine *e;
	volatile int stop;
	pthread_t self;
};

static void *run(void *a)
{
	struct runner *r = a;
	r->self = pthread_self();
	while (!r->stop)
		snap_engine_poll(r->e, rte_rdtsc());
	return NULL;
}

static int whoami(struct snap_engine *e, void *arg)
{
	*(pthread_t *)arg = pthread_self();
	return 0;
}

static void test_mailbox(void **st)
{
	struct snap_engine *e = mk("e3");
	int x = 0;
	/* Parked: the caller owns the engine and runs the closure itself. */
	assert_int_equal(snap_engine_call(e, add_arg, &x, 100), 7);
	assert_int_equal(x, 1);
	/* Running: the closure runs on the engine's thread. */
	struct runner r = {.e = e};
	pthread_t t;
	atomic_store(&e->state, SNAP_ENGINE_RUNNING);
	pthread_create(&t, NULL, run, &r);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(snap_engine_call(e, add_arg, &x, 1000), 7);
	assert_int_equal(x, 1001);
	pthread_t who;
	assert_int_equal(snap_engine_call(e, whoami, &who, 1000), 0);
	r.stop = 1;
	pthread_join(t, NULL);
	assert_true(pthread_equal(who, t));
	/* Nobody polls now: the call times out and the closure is cancelled, never run. */
	assert_int_equal(snap_mbox_call(&e->mbox, add_arg, &x, 20), -ETIMEDOUT);
	snap_engine_poll(e, rte_rdtsc());
	assert_int_equal(x, 1001);
	atomic_store(&e->state, SNAP_ENGINE_PARKED);
	snap_engine_destroy(e);
}

static void test_save_restore(void **st)
{
	struct snap_engine *a = mk("e4"), *b = mk("e5");
	((struct t_src *)snap_elem_priv(snap_engine_elem(a, "src")))->state = 0xfeedface;
	struct snap_sbuf sb;
	snap_sbuf_init(&sb);
	assert_int_equal(snap_engine_save(a, &sb), 0);
	assert_int_equal(snap_engine_restore(b, sb.data, sb.len), 0);
	assert_int_equal(((struct t_src *)snap_elem_priv(snap_engine_elem(b, "src")))->state,
			 0xfeedface);
	/* Truncated or corrupted containers are refused. */
	assert_int_equal(snap_engine_restore(b, sb.data, sb.len - 1), -EPROTO);
	sb.data[8] ^= 0xff; /* version */
	assert_int_equal(snap_engine_restore(b, sb.data, sb.len), -EPROTO);
	snap_sbuf_fini(&sb);
	snap_engine_destroy(a);
	snap_engine_destroy(b);
}

int main(void)
{
	if (snap_test_eal_init("engine", 64))
		return 1;
	pool = rte_pktmbuf_pool_create("t", 1023, 0, 0, 2048, SOCKET_ID_ANY);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_errors),
		cmocka_unit_test(test_poll_and_drops),
		cmocka_unit_test(test_mailbox),
		cmocka_unit_test(test_save_restore),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	snap_test_eal_fini();
	return r;
}
