/* ctl_rpc_invoke, the in-process path DPDK telemetry and the metrics endpoint take to the
 * control methods (fixture: ctl_rpc_fix.h), and the OpenMetrics text of its replies. The
 * checks run inside a method on the fixture's server thread, the control thread. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "control/ctl.pb-c.h"
#include "control/metrics_text.h"
#include "control/rpc.h"
#include "tests/unit/ctl_rpc_fix.h"

/* A buggy handler: returns 0 without replying. */
static int h_silent(struct ctl_rpc_call *call, const uint8_t *req, size_t len)
{
	return 0;
}

/* Runs on the server (control) thread: ctl_rpc_invoke of real methods, in-process as the
 * telemetry and metrics endpoints use it, and the OpenMetrics rendering of its reply. */
static int h_invoke(struct ctl_rpc_call *call, const uint8_t *req, size_t len)
{
	uint8_t *rep, buf[64];
	size_t n;
	char err[128], *text = NULL;
	Ctl__StatsRequest q = CTL__STATS_REQUEST__INIT;
	q.engine = "e1";
	size_t ql = ctl__stats_request__pack(&q, buf);
	if (ctl_rpc_invoke(CTL_M_STATS, buf, ql, &rep, &n, err, sizeof(err)) != 0)
		return ctl_rpc_error(call, -EPROTO, "stats e1: %s", err);
	Ctl__StatsReply *r = ctl__stats_reply__unpack(NULL, n, rep);
	free(rep);
	FILE *f = open_memstream(&text, &n);
	struct ctl_metrics_src src = {.stats = r};
	int rr = r && f ? ctl_metrics_render(f, &src) : -EIO;
	if (f)
		fclose(f);
	bool ok = rr == 0 && text &&
		  strstr(text, "# TYPE snap_element counter\n") &&
		  strstr(text, "\nsnap_element_total{engine=\"e1\",element=\"\",counter=\"polls\"} 5\n") &&
		  strstr(text, "\nsnap_element_total{engine=\"e1\",element=\"src\",counter=\"generated\"} 5\n") &&
		  n > 6 && !strcmp(text + n - 6, "# EOF\n");
	free(text);
	if (r)
		ctl__stats_reply__free_unpacked(r, NULL);
	if (!ok)
		return ctl_rpc_error(call, -EPROTO, "metrics text of stats e1 not as expected");
	q.engine = "ghost";
	ql = ctl__stats_request__pack(&q, buf);
	if (ctl_rpc_invoke(CTL_M_STATS, buf, ql, &rep, &n, err, sizeof(err)) != -ENOENT ||
	    !strstr(err, "ghost"))
		return ctl_rpc_error(call, -EPROTO, "stats ghost: %s", err);
	if (ctl_rpc_invoke(CTL_M_ENGINE_DESTROY, NULL, 0, &rep, &n, err, sizeof(err)) != -ENOSYS)
		return ctl_rpc_error(call, -EPROTO, "a mutating method ran in-process");
	if (ctl_rpc_invoke("test.silent", NULL, 0, &rep, &n, err, sizeof(err)) != -EIO)
		return ctl_rpc_error(call, -EPROTO, "a handler without reply: %s", err);
	Ctl__StatusRequest empty = CTL__STATUS_REQUEST__INIT;
	return ctl_rpc_reply(call, &empty.base);
}

static void test_invoke(void **state)
{
	struct snapctl_conn *c = ctl_fix_conn_open();
	Ctl__StatusRequest q = CTL__STATUS_REQUEST__INIT;
	Ctl__Response *rsp = ctl_fix_call(c, "test.invoke", &q.base);
	if (ctl_fix_rsp_error(rsp))
		fprintf(stderr, "test.invoke: %s\n", rsp->message ? rsp->message : "?");
	assert_int_equal(ctl_fix_rsp_error(rsp), 0);
	ctl__response__free_unpacked(rsp, NULL);
	snapctl_close(c);
}

static int group_setup(void **state)
{
	static const struct ctl_fix_method methods[] = {
		{"test.silent", h_silent, CTL_RPC_READONLY},
		{"test.invoke", h_invoke, CTL_RPC_READONLY},
	};
	const struct ctl_fix_cfg cfg = {
		.name = "ctlinv", .methods = methods, .n_methods = 2};
	return ctl_fix_setup(&cfg);
}

static int group_teardown(void **state)
{
	return ctl_fix_teardown();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invoke),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
