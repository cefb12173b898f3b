/* Shared fixture of the in-process control RPC tests (see ctl_rpc_fix.h). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "tests/unit/ctl_rpc_fix.h"
#include "tests/unit/testlib.h"

char ctl_fix_dir[64];
char ctl_fix_sock[128];
struct snap_engine *ctl_fix_eng;

static struct ctl_rpc_server *srv;
static pthread_t srv_thread;
static atomic_bool stop;
/* Written before the server thread starts, read only by it. */
static void (*loop_hook)(void);

static void *serve(void *arg)
{
	struct ctl_rpc_server *s = arg;
	/* Bounded: the tests finish well within this; a hung test must not spin forever. */
	for (int i = 0; i < 120 * 20 && !atomic_load(&stop); i++) {
		struct pollfd p = {.fd = ctl_rpc_fd(s), .events = POLLIN};
		poll(&p, 1, 50);
		ctl_rpc_process(s);
		if (loop_hook)
			loop_hook();
	}
	return NULL;
}

static int start_server(void)
{
	struct ctl_rpc_config cfg;
	ctl_rpc_config_default(&cfg);
	cfg.path = ctl_fix_sock;
	cfg.mode = 0666;
	cfg.readonly_open = true;
	cfg.max_msg = 64 * 1024;
	srv = ctl_rpc_create(&cfg);
	if (srv == NULL) {
		fprintf(stderr, "ctl_rpc_create: %s\n", strerror(errno));
		return -1;
	}
	atomic_store(&stop, false);
	return pthread_create(&srv_thread, NULL, serve, srv) == 0 ? 0 : -1;
}

static void stop_server(void)
{
	atomic_store(&stop, true);
	pthread_join(srv_thread, NULL);
	ctl_rpc_destroy(srv);
	srv = NULL;
}

int ctl_fix_setup(const struct ctl_fix_cfg *cfg)
{
	if (snap_test_eal_init(cfg->name, 128) < 0)
		return -1;
	snprintf(ctl_fix_dir, sizeof(ctl_fix_dir), "/tmp/%s.XXXXXX", cfg->name);
	if (mkdtemp(ctl_fix_dir) == NULL || chmod(ctl_fix_dir, 0755) < 0) {
		ctl_fix_dir[0] = '\0';
		return -1;
	}
	snprintf(ctl_fix_sock, sizeof(ctl_fix_sock), "%s/control.sock", ctl_fix_dir);

	struct snap_engine *e = snap_engine_create("e1", SOCKET_ID_ANY);
	ctl_fix_eng = e;
	char err[128];
	if (e == NULL || snap_engine_add_elem(e, "ctl_test_src", "src", NULL, err, sizeof(err)) ||
	    snap_engine_add_elem(e, "ctl_test_sink", "snk", NULL, err, sizeof(err)) ||
	    snap_engine_link(e, "src", NULL, "snk", err, sizeof(err)))
		return -1;
	/* Parked, so the control thread may poll it itself before serving starts. */
	for (int i = 0; i < 5; i++)
		snap_engine_poll(e, rte_rdtsc());

	for (size_t i = 0; i < cfg->n_methods; i++) {
		const struct ctl_fix_method *m = &cfg->methods[i];
		if (ctl_rpc_register(m->name, m->handler, m->flags) < 0) {
			fprintf(stderr, "ctl_rpc_register %s failed\n", m->name);
			return -1;
		}
	}
	loop_hook = cfg->loop_hook;
	return start_server();
}

int ctl_fix_teardown(void)
{
	if (srv)
		stop_server();
	snap_engine_destroy(ctl_fix_eng);
	ctl_fix_eng = NULL;
	if (ctl_fix_dir[0] != '\0') {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", ctl_fix_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", ctl_fix_dir);
	}
	snap_test_eal_fini();
	return 0;
}

struct snapctl_conn *ctl_fix_conn_open(void)
{
	struct snapctl_conn *c = snapctl_connect(ctl_fix_sock);
	assert_non_null(c);
	return c;
}

Ctl__Response *ctl_fix_call(struct snapctl_conn *c, const char *method,
			    const ProtobufCMessage *req)
{
	Ctl__Response *rsp = NULL;
	int r = snapctl_call(c, method, req, CTL_FIX_TIMEOUT_MS, &rsp);
	if (r < 0)
		fail_msg("call %s: %s", method, strerror(-r));
	assert_int_equal(rsp->version, CTL_PROTO_VERSION);
	return rsp;
}

int ctl_fix_rsp_error(const Ctl__Response *rsp)
{
	return rsp->has_error ? rsp->error : 0;
}

void ctl_fix_expect_status_ok(struct snapctl_conn *c)
{
	Ctl__StatusRequest q = CTL__STATUS_REQUEST__INIT;
	Ctl__Response *rsp = ctl_fix_call(c, CTL_M_STATUS, &q.base);
	assert_int_equal(ctl_fix_rsp_error(rsp), 0);
	ctl__response__free_unpacked(rsp, NULL);
}
