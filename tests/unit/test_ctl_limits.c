/* Control RPC server limits (issue 14), in-process (fixture: ctl_rpc_fix.h): idle and
 * silent connections evicted when the server is full, the hello timeout, and a pipelining
 * client that reads no replies paused at max_out and served a budget per pass. Each test
 * drives a server of its own with ctl_rpc_process. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/ctl_rpc_fix.h"

static char limits_path[160];

/* Defaults with the socket at DIR/name; the caller adjusts cfg, then limits_start(). */
static const char *limits_cfg(struct ctl_rpc_config *cfg, const char *name)
{
	snprintf(limits_path, sizeof(limits_path), "%s/%s", ctl_fix_dir, name);
	ctl_rpc_config_default(cfg);
	cfg->path = limits_path;
	return limits_path;
}

static struct ctl_rpc_server *limits_start(const struct ctl_rpc_config *cfg)
{
	struct ctl_rpc_server *s = ctl_rpc_create(cfg);
	assert_non_null(s);
	return s;
}

static void process(struct ctl_rpc_server *s, int times)
{
	for (int i = 0; i < times; i++)
		ctl_rpc_process(s);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void test_idle_eviction(void **state)
{
	struct ctl_rpc_config cfg;
	const char *path = limits_cfg(&cfg, "evict.sock");
	cfg.max_clients = 2;
	cfg.idle_evict_ms = 200;
	struct ctl_rpc_server *s = limits_start(&cfg);
	struct snapctl_conn *a = snapctl_connect(path), *b = snapctl_connect(path);
	assert_non_null(a);
	assert_non_null(b);
	Ctl__Response *rsp = NULL;
	/* Both speak (a silent connection would be evicted for any newcomer). */
	assert_int_equal(snapctl_send_request(a, CTL_PROTO_VERSION, 7, CTL_M_STATUS, NULL), 0);
	assert_int_equal(snapctl_send_request(b, CTL_PROTO_VERSION, 8, CTL_M_STATUS, NULL), 0);
	process(s, 3);
	assert_int_equal(ctl_rpc_n_clients(s), 2);
	assert_int_equal(snapctl_recv(a, CTL_FIX_TIMEOUT_MS, &rsp), 0);
	ctl__response__free_unpacked(rsp, NULL);
	assert_int_equal(snapctl_recv(b, CTL_FIX_TIMEOUT_MS, &rsp), 0);
	ctl__response__free_unpacked(rsp, NULL);
	/* Full, nobody idle long enough: the newcomer is refused. */
	struct snapctl_conn *c = snapctl_connect(path);
	assert_non_null(c); /* the kernel accepted it into the backlog */
	process(s, 3);
	assert_int_equal(ctl_rpc_n_clients(s), 2);
	assert_int_equal(ctl_rpc_counter(s, CTL_RPC_C_REFUSED_FULL), 1);
	assert_int_equal(snapctl_recv(c, CTL_FIX_TIMEOUT_MS, &rsp), -ECONNRESET);
	snapctl_close(c);
	/* b stays active, a goes idle: the next newcomer takes a's slot. */
	usleep(250 * 1000);
	assert_int_equal(snapctl_send_request(b, CTL_PROTO_VERSION, 1, CTL_M_STATUS, NULL), 0);
	process(s, 3);
	assert_int_equal(snapctl_recv(b, CTL_FIX_TIMEOUT_MS, &rsp), 0);
	ctl__response__free_unpacked(rsp, NULL);
	c = snapctl_connect(path);
	assert_non_null(c);
	assert_int_equal(snapctl_send_request(c, CTL_PROTO_VERSION, 2, CTL_M_STATUS, NULL), 0);
	process(s, 4);
	assert_int_equal(snapctl_recv(c, CTL_FIX_TIMEOUT_MS, &rsp), 0);
	assert_int_equal(rsp->id, 2);
	ctl__response__free_unpacked(rsp, NULL);
	/* a was evicted */
	assert_int_equal(snapctl_recv(a, CTL_FIX_TIMEOUT_MS, &rsp), -ECONNRESET);
	snapctl_close(a);
	snapctl_close(b);
	snapctl_close(c);
	ctl_rpc_destroy(s);
}

/* Issue 14: connections that never send a request are evicted first when the server is
 * full, and closed after hello_timeout even when it is not. */
static void test_silent_eviction_and_timeout(void **state)
{
	struct ctl_rpc_config cfg;
	const char *path = limits_cfg(&cfg, "silent.sock");
	cfg.max_clients = 3;
	cfg.hello_timeout_ms = 100;
	struct ctl_rpc_server *s = limits_start(&cfg);
	struct snapctl_conn *a = snapctl_connect(path), *b = snapctl_connect(path);
	struct snapctl_conn *d = snapctl_connect(path);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(d);
	process(s, 3);
	/* Full of silent connections: a speaking newcomer still gets in. */
	struct snapctl_conn *c = snapctl_connect(path);
	assert_non_null(c);
	assert_int_equal(snapctl_send_request(c, CTL_PROTO_VERSION, 1, CTL_M_STATUS, NULL), 0);
	process(s, 4);
	Ctl__Response *rsp = NULL;
	assert_int_equal(snapctl_recv(c, CTL_FIX_TIMEOUT_MS, &rsp), 0);
	ctl__response__free_unpacked(rsp, NULL);
	assert_int_equal(ctl_rpc_counter(s, CTL_RPC_C_EVICTED), 1);
	assert_int_equal(ctl_rpc_n_clients(s), 3);
	/* The remaining silent ones time out; the one that spoke stays. */
	usleep(150 * 1000);
	ctl_rpc_tick(s, now_ns());
	assert_int_equal(ctl_rpc_counter(s, CTL_RPC_C_HELLO_TIMEOUT), 2);
	assert_int_equal(ctl_rpc_n_clients(s), 1);
	snapctl_close(d);
	snapctl_close(a);
	snapctl_close(b);
	snapctl_close(c);
	ctl_rpc_destroy(s);
}

/* Issue 14: a client that pipelines requests and reads no replies is paused at max_out
 * (the server's memory stays bounded) and served at most budget requests per pass, while
 * another client is answered in the same pass. */
static void test_pipelined_backpressure(void **state)
{
	struct ctl_rpc_config cfg;
	const char *path = limits_cfg(&cfg, "pipe.sock");
	cfg.max_out = 4096;
	cfg.budget = 4;
	struct ctl_rpc_server *s = limits_start(&cfg);
	struct snapctl_conn *hog = snapctl_connect(path), *ok = snapctl_connect(path);
	assert_non_null(hog);
	assert_non_null(ok);
	/* One write of many frames (one small write each would hit the socket's per-write
	 * overhead long before the server's cap). */
	enum { SENT = 1000 };
	const int sent = SENT;
	static uint8_t burst[SENT * 64];
	size_t blen = 0;
	for (int i = 0; i < sent; i++) {
		Ctl__Request q = CTL__REQUEST__INIT;
		q.version = CTL_PROTO_VERSION;
		q.id = (uint64_t)i;
		q.method = (char *)(uintptr_t)CTL_M_STATUS;
		size_t n = ctl__request__get_packed_size(&q);
		assert_true(n < 60);
		burst[blen] = burst[blen + 1] = burst[blen + 2] = 0;
		burst[blen + 3] = (uint8_t)n;
		ctl__request__pack(&q, burst + blen + 4);
		blen += 4 + n;
	}
	assert_int_equal(snapctl_send_raw(hog, burst, blen), 0);
	assert_int_equal(snapctl_send_request(ok, CTL_PROTO_VERSION, 1, CTL_M_STATUS, NULL), 0);
	uint64_t before = ctl_rpc_counter(s, CTL_RPC_C_REQUESTS);
	ctl_rpc_process(s);
	/* One pass: at most a budget for the hog and ok's one request. */
	assert_true(ctl_rpc_counter(s, CTL_RPC_C_REQUESTS) - before <= cfg.budget + 1);
	process(s, 200);
	Ctl__Response *rsp = NULL;
	assert_int_equal(snapctl_recv(ok, CTL_FIX_TIMEOUT_MS, &rsp), 0);
	assert_int_equal(rsp->id, 1);
	ctl__response__free_unpacked(rsp, NULL);
	assert_true(ctl_rpc_counter(s, CTL_RPC_C_BUDGET_YIELD) >= 1);
	assert_true(ctl_rpc_counter(s, CTL_RPC_C_OUT_PAUSED) >= 1);
	/* Paused: 200 passes served far fewer than were sent (the hog reads nothing). */
	uint64_t served = ctl_rpc_counter(s, CTL_RPC_C_REQUESTS);
	process(s, 50);
	assert_int_equal(ctl_rpc_counter(s, CTL_RPC_C_REQUESTS), served);
	/* Reading resumes it: every request is answered, in order, none lost. */
	for (int i = 0; i < sent; i++) {
		int r;
		while ((r = snapctl_recv(hog, 10, &rsp)) == -ETIMEDOUT)
			ctl_rpc_process(s);
		assert_int_equal(r, 0);
		assert_int_equal(rsp->id, (uint64_t)i);
		ctl__response__free_unpacked(rsp, NULL);
	}
	assert_true(ctl_rpc_counter(s, CTL_RPC_C_REQUESTS) > served);
	snapctl_close(hog);
	snapctl_close(ok);
	ctl_rpc_destroy(s);
}

static int group_setup(void **state)
{
	const struct ctl_fix_cfg cfg = {.name = "ctllimits"};
	return ctl_fix_setup(&cfg);
}

static int group_teardown(void **state)
{
	return ctl_fix_teardown();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_eviction),
		cmocka_unit_test(test_silent_eviction_and_timeout),
		cmocka_unit_test(test_pipelined_backpressure),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
