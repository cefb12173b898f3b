/* Control RPC deferred replies and progress frames, in-process (fixture: ctl_rpc_fix.h): test
 * methods that answer from a timer or from the server loop, pipelined requests behind them,
 * clients that leave early (cancel hooks), and progress frames on and off the wire. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/ctl_rpc_fix.h"

/* ---- test methods (deferred replies) ----------------------------------------------------- */

struct defer_state {
	struct ctl_rpc_call *call;
	int tfd;
	atomic_int cancelled;
	atomic_int finished;
};
static struct defer_state defer;

static void defer_fire(void *arg)
{
	struct defer_state *d = arg;
	uint64_t n;
	if (read(d->tfd, &n, sizeof(n)) < 0)
		return;
	ctl_rpc_unwatch_fd(ctl_rpc_call_server(d->call), d->tfd);
	close(d->tfd);
	Ctl__StatusRequest empty = CTL__STATUS_REQUEST__INIT; /* any message will do */
	/* Count first: the reply wakes the client, which checks the count. */
	atomic_fetch_add(&d->finished, 1);
	ctl_rpc_reply(d->call, &empty.base);
}

static void defer_cancel(void *arg)
{
	struct defer_state *d = arg;
	atomic_fetch_add(&d->cancelled, 1);
}

/* Replies after delay_ms (payload: the delay as a decimal string). */
static int h_defer(struct ctl_rpc_call *call, const uint8_t *req, size_t len)
{
	unsigned ms = 20;
	if (len > 0 && len < 8) {
		char buf[8];
		memcpy(buf, req, len);
		buf[len] = '\0';
		ms = (unsigned)atoi(buf);
	}
	defer.call = call;
	defer.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	struct itimerspec its = {.it_value = {ms / 1000, (long)(ms % 1000) * 1000000}};
	timerfd_settime(defer.tfd, 0, &its, NULL);
	int r = ctl_rpc_watch_fd(ctl_rpc_call_server(call), defer.tfd, defer_fire, &defer);
	if (r < 0)
		return ctl_rpc_error(call, r, "watch failed");
	ctl_rpc_on_cancel(call, defer_cancel, &defer);
	return CTL_RPC_DEFERRED;
}

/* test.progress: one progress frame from the handler, then from the server loop (outside
 * ctl_rpc_process, where an upgrade reports its takeover steps) 20 ms later a second one, a
 * synchronous 300 ms step that never returns to the loop, and the reply. */
#define PROGRESS_BLOCK_MS 300
static struct {
	struct ctl_rpc_call *call;
	uint64_t due_ns;
	atomic_int second;     /* what ctl_rpc_progress returned for the second frame */
	atomic_int cancelled;
	atomic_int finished;
} prog;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int send_step(struct ctl_rpc_call *call, const char *phase)
{
	Ctl__UpgradeProgress m = CTL__UPGRADE_PROGRESS__INIT;
	m.phase = (char *)(uintptr_t)phase;
	m.text = (char *)(uintptr_t)phase;
	return ctl_rpc_progress(call, &m.base);
}

/* The fixture's loop hook: the server thread runs it after every ctl_rpc_process. */
static void progress_step(void)
{
	if (prog.call == NULL || now_ns() < prog.due_ns)
		return;
	struct ctl_rpc_call *call = prog.call;
	prog.call = NULL;
	int r = send_step(call, "two");
	atomic_store(&prog.second, r);
	if (r == 0)
		usleep(PROGRESS_BLOCK_MS * 1000);
	Ctl__StatusRequest empty = CTL__STATUS_REQUEST__INIT;
	atomic_fetch_add(&prog.finished, 1);
	ctl_rpc_reply(call, &empty.base);
}

static void progress_cancel(void *arg)
{
	atomic_fetch_add(&prog.cancelled, 1);
}

static int h_progress(struct ctl_rpc_call *call, const uint8_t *req, size_t len)
{
	if (send_step(call, "one") != 0)
		return ctl_rpc_error(call, -EIO, "progress from the handler refused");
	ctl_rpc_on_cancel(call, progress_cancel, NULL);
	prog.due_ns = now_ns() + 20 * 1000000ull;
	prog.call = call;
	return CTL_RPC_DEFERRED;
}

/* ---- fixture ----------------------------------------------------------------------------- */

static int group_setup(void **state)
{
	static const struct ctl_fix_method methods[] = {
		{"test.defer", h_defer, CTL_RPC_READONLY},
		{"test.progress", h_progress, CTL_RPC_READONLY},
	};
	const struct ctl_fix_cfg cfg = {.name = "ctldefer",
					.methods = methods,
					.n_methods = RTE_DIM(methods),
					.loop_hook = progress_step};
	return ctl_fix_setup(&cfg);
}

static int group_teardown(void **state)
{
	return ctl_fix_teardown();
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_deferred(void **state)
{
	struct snapctl_conn *c = ctl_fix_conn_open();
	atomic_store(&defer.finished, 0);
	atomic_store(&defer.cancelled, 0);
	/* Pipelined behind the deferred call: answered after it, in order. */
	assert_int_equal(snapctl_send_request(c, CTL_PROTO_VERSION, 1, "test.defer", NULL), 0);
	assert_int_equal(snapctl_send_request(c, CTL_PROTO_VERSION, 2, CTL_M_STATUS, NULL), 0);
	Ctl__Response *rsp = NULL;
	assert_int_equal(snapctl_recv(c, CTL_FIX_TIMEOUT_MS, &rsp), 0);
	assert_int_equal(rsp->id, 1);
	assert_int_equal(ctl_fix_rsp_error(rsp), 0);
	ctl__response__free_unpacked(rsp, NULL);
	assert_int_equal(snapctl_recv(c, CTL_FIX_TIMEOUT_MS, &rsp), 0);
	assert_int_equal(rsp->id, 2);
	ctl__response__free_unpacked(rsp, NULL);
	assert_int_equal(atomic_load(&defer.finished), 1);
	assert_int_equal(atomic_load(&defer.cancelled), 0);
	snapctl_close(c);

	/* The client leaves before the reply: cancel runs, the late reply is discarded. */
	c = ctl_fix_conn_open();
	Ctl__Request env = CTL__REQUEST__INIT;
	env.version = CTL_PROTO_VERSION;
	env.id = 3;
	env.method = "test.defer";
	env.has_payload = true;
	env.payload.data = (uint8_t *)"300";
	env.payload.len = 3;
	uint8_t buf[64];
	size_t n = ctl__request__pack(&env, buf);
	assert_int_equal(snapctl_send_frame(c, buf, n), 0);
	usleep(50 * 1000);
	snapctl_close(c);
	for (int i = 0; i < 200 && atomic_load(&defer.finished) < 2; i++)
		usleep(10 * 1000);
	assert_int_equal(atomic_load(&defer.cancelled), 1);
	assert_int_equal(atomic_load(&defer.finished), 2);
	c = ctl_fix_conn_open();
	ctl_fix_expect_status_ok(c);
	snapctl_close(c);
}

struct seen_progress {
	unsigned n;
	char phase[4][8];
	uint64_t at_ns[4];
	bool bad; /* a frame with the wrong id, method or payload */
};

static void on_progress(const Ctl__Response *rsp, void *arg)
{
	struct seen_progress *sp = arg;
	Ctl__UpgradeProgress *m = (Ctl__UpgradeProgress *)snapctl_reply_unpack(
		rsp, &ctl__upgrade_progress__descriptor);
	if (m == NULL || sp->n == 4 || strcmp(rsp->method, "test.progress") != 0 ||
	    (rsp->has_error && rsp->error)) {
		sp->bad = true;
	} else {
		snprintf(sp->phase[sp->n], sizeof(sp->phase[0]), "%s", m->phase);
		sp->at_ns[sp->n++] = now_ns();
	}
	if (m)
		protobuf_c_message_free_unpacked(&m->base, NULL);
}

static void test_progress(void **state)
{
	/* Both frames arrive as they are sent: the second while the server is still blocked in
	 * its synchronous step, not with the reply. */
	struct snapctl_conn *c = ctl_fix_conn_open();
	struct seen_progress sp = {0};
	atomic_store(&prog.finished, 0);
	atomic_store(&prog.cancelled, 0);
	Ctl__Response *rsp = NULL;
	assert_int_equal(snapctl_call_progress(c, "test.progress", NULL, CTL_FIX_TIMEOUT_MS,
					       on_progress, &sp, &rsp), 0);
	uint64_t end = now_ns();
	assert_false(sp.bad);
	assert_int_equal(sp.n, 2);
	assert_string_equal(sp.phase[0], "one");
	assert_string_equal(sp.phase[1], "two");
	assert_true(end - sp.at_ns[1] >= (PROGRESS_BLOCK_MS - 50) * 1000000ull);
	assert_int_equal(ctl_fix_rsp_error(rsp), 0);
	assert_false(rsp->has_progress && rsp->progress);
	ctl__response__free_unpacked(rsp, NULL);
	assert_int_equal(atomic_load(&prog.second), 0);
	/* The connection serves the next request normally. */
	ctl_fix_expect_status_ok(c);

	snapctl_close(c);

	/* On the wire: same id, `progress` set. The client leaves after the first frame: the
	 * next progress is -ENOTCONN, the call is cancelled and still finished by its owner. */
	c = ctl_fix_conn_open();
	assert_int_equal(snapctl_send_request(c, CTL_PROTO_VERSION, 9, "test.progress", NULL), 0);
	assert_int_equal(snapctl_recv(c, CTL_FIX_TIMEOUT_MS, &rsp), 0);
	assert_true(rsp->has_progress && rsp->progress);
	assert_int_equal(rsp->id, 9);
	ctl__response__free_unpacked(rsp, NULL);
	snapctl_close(c);
	for (int i = 0; i < 200 && atomic_load(&prog.finished) < 2; i++)
		usleep(10 * 1000);
	assert_int_equal(atomic_load(&prog.finished), 2);
	assert_int_equal(atomic_load(&prog.second), -ENOTCONN);
	assert_int_equal(atomic_load(&prog.cancelled), 1);

	/* A client that did not ask for progress (snapctl_call) calls such frames a protocol
	 * error. */
	c = ctl_fix_conn_open();
	assert_int_equal(snapctl_call(c, "test.progress", NULL, CTL_FIX_TIMEOUT_MS, &rsp), -EPROTO);
	snapctl_close(c);
	for (int i = 0; i < 200 && atomic_load(&prog.finished) < 3; i++)
		usleep(10 * 1000);
	assert_int_equal(atomic_load(&prog.finished), 3);
	c = ctl_fix_conn_open();
	ctl_fix_expect_status_ok(c);
	snapctl_close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deferred),
		cmocka_unit_test(test_progress),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
