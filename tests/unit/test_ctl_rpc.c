/* Control RPC server tests, in-process (fixture: ctl_rpc_fix.h): every implemented method's
 * replies, malformed, oversized and garbage frames, unknown methods and buggy handlers,
 * server creation errors, idle eviction, SO_PEERCRED rules and the snapctl binary. Deferred
 * replies and progress frames are in test_ctl_defer.c. */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "snap/log.h"
#include "tests/unit/ctl_rpc_fix.h"

#define NOBODY 65534

/* ---- test methods ------------------------------------------------------------------------ */

/* A buggy handler: returns 0 without replying. The server must still answer. */
static int h_silent(struct ctl_rpc_call *call, const uint8_t *req, size_t len)
{
	return 0;
}

/* Another buggy handler: replies twice, then returns an error. Exactly one Response. */
static int h_double(struct ctl_rpc_call *call, const uint8_t *req, size_t len)
{
	Ctl__StatusRequest empty = CTL__STATUS_REQUEST__INIT;
	ctl_rpc_reply(call, &empty.base);
	if (ctl_rpc_reply(call, &empty.base) != -EALREADY ||
	    ctl_rpc_progress(call, &empty.base) != -EALREADY)
		return -EIO;
	return -EINVAL;
}

/* ---- fixture ----------------------------------------------------------------------------- */

static int group_setup(void **state)
{
	static const struct ctl_fix_method methods[] = {
		{"test.silent", h_silent, CTL_RPC_READONLY},
		{"test.double", h_double, CTL_RPC_READONLY},
	};
	const struct ctl_fix_cfg cfg = {
		.name = "ctlrpc", .methods = methods, .n_methods = RTE_DIM(methods)};
	return ctl_fix_setup(&cfg);
}

static int group_teardown(void **state)
{
	return ctl_fix_teardown();
}

/* ---- helpers ----------------------------------------------------------------------------- */

static uint64_t find_counter(Ctl__ElementStats *el, const char *name, bool *found)
{
	for (size_t i = 0; i < el->n_counters; i++)
		if (strcmp(el->counters[i]->name, name) == 0) {
			*found = true;
			return el->counters[i]->value;
		}
	*found = false;
	return 0;
}

/* ---- method replies ---------------------------------------------------------------------- */

static void test_status(void **state)
{
	struct snapctl_conn *c = ctl_fix_conn_open();
	Ctl__StatusRequest q = CTL__STATUS_REQUEST__INIT;
	Ctl__Response *rsp = ctl_fix_call(c, CTL_M_STATUS, &q.base);
	assert_int_equal(ctl_fix_rsp_error(rsp), 0);
	assert_string_equal(rsp->method, CTL_M_STATUS);
	Ctl__StatusReply *r =
		(Ctl__StatusReply *)snapctl_reply_unpack(rsp, &ctl__status_reply__descriptor);
	assert_non_null(r);
	assert_string_equal(r->version, SNAP_VERSION);
	assert_string_equal(r->build_id, SNAP_BUILD_ID);
	assert_int_equal(r->pid, getpid());
	assert_int_equal(r->n_engines, 1);
	assert_true(r->has_n_clients && r->n_clients >= 1);
	assert_int_equal(r->proto_version, CTL_PROTO_VERSION);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	ctl__response__free_unpacked(rsp, NULL);
	snapctl_close(c);
}

static void test_engines(void **state)
{
	struct snapctl_conn *c = ctl_fix_conn_open();
	Ctl__EnginesRequest q = CTL__ENGINES_REQUEST__INIT;
	Ctl__Response *rsp = ctl_fix_call(c, CTL_M_ENGINES, &q.base);
	assert_int_equal(ctl_fix_rsp_error(rsp), 0);
	Ctl__EnginesReply *r =
		(Ctl__EnginesReply *)snapctl_reply_unpack(rsp, &ctl__engines_reply__descriptor);
	assert_non_null(r);
	assert_int_equal(r->n_engines, 1);
	Ctl__EngineInfo *e = r->engines[0];
	assert_string_equal(e->name, "e1");
	assert_string_equal(e->state, "parked");
	assert_int_equal(e->thread, -1);
	assert_int_equal(e->n_elements, 2);
	assert_string_equal(e->elements[0], "src:ctl_test_src");
	assert_string_equal(e->elements[1], "snk:ctl_test_sink");
	bool polls = false;
	for (size_t i = 0; i < e->n_counters; i++)
		if (strcmp(e->counters[i]->name, "polls") == 0) {
			polls = true;
			assert_int_equal(e->counters[i]->value, 5);
		}
	assert_true(polls);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	ctl__response__free_unpacked(rsp, NULL);

	q.name = "nope";
	rsp = ctl_fix_call(c, CTL_M_ENGINES, &q.base);
	assert_int_equal(ctl_fix_rsp_error(rsp), ENOENT);
	assert_non_null(strstr(rsp->message, "nope"));
	ctl__response__free_unpacked(rsp, NULL);
	snapctl_close(c);
}

static void test_stats(void **state)
{
	struct snapctl_conn *c = ctl_fix_conn_open();
	Ctl__StatsRequest q = CTL__STATS_REQUEST__INIT;
	q.engine = "e1";
	Ctl__Response *rsp = ctl_fix_call(c, CTL_M_STATS, &q.base);
	assert_int_equal(ctl_fix_rsp_error(rsp), 0);
	Ctl__StatsReply *r =
		(Ctl__StatsReply *)snapctl_reply_unpack(rsp, &ctl__stats_reply__descriptor);
	assert_non_null(r);
	assert_int_equal(r->n_engines, 1);
	Ctl__EngineStats *es = r->engines[0];
	assert_false(es->has_error && es->error);
	bool seen_engine = false, seen_src = false, seen_snk = false, f;
	for (size_t i = 0; i < es->n_elements; i++) {
		Ctl__ElementStats *el = es->elements[i];
		if (strcmp(el->element, "") == 0) {
			seen_engine = true;
			assert_int_equal(find_counter(el, "polls", &f), 5);
			assert_true(f);
			/* Each control call on a parked engine counts as a mailbox run. */
			assert_true(find_counter(el, "mbox_runs", &f) >= 1);
		} else if (strcmp(el->element, "src") == 0) {
			seen_src = true;
			assert_int_equal(find_counter(el, "generated", &f), 5);
			assert_true(f);
			find_counter(el, "in_pkts", &f);
			assert_true(f);
		} else if (strcmp(el->element, "snk") == 0) {
			seen_snk = true;
		}
	}
	assert_true(seen_engine && seen_src && seen_snk);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	ctl__response__free_unpacked(rsp, NULL);

	q.engine = "ghost";
	rsp = ctl_fix_call(c, CTL_M_STATS, &q.base);
	assert_int_equal(ctl_fix_rsp_error(rsp), ENOENT);
	ctl__response__free_unpacked(rsp, NULL);
	snapctl_close(c);
}

static void test_log_level(void **state)
{
	struct snapctl_conn *c = ctl_fix_conn_open();
	int before = rte_log_get_level((uint32_t)snap_logtype);
	Ctl__LogLevelRequest q = CTL__LOG_LEVEL_REQUEST__INIT;
	Ctl__Response *rsp = ctl_fix_call(c, CTL_M_LOG_LEVEL, &q.base);
	assert_int_equal(ctl_fix_rsp_error(rsp), 0);
	Ctl__LogLevelReply *r =
		(Ctl__LogLevelReply *)snapctl_reply_unpack(rsp, &ctl__log_level_reply__descriptor);
	assert_string_equal(r->snap_level, snap_log_level_name(before));
	protobuf_c_message_free_unpacked(&r->base, NULL);
	ctl__response__free_unpacked(rsp, NULL);

	q.level = "debug";
	rsp = ctl_fix_call(c, CTL_M_LOG_LEVEL_SET, &q.base);
	assert_int_equal(ctl_fix_rsp_error(rsp), 0);
	r = (Ctl__LogLevelReply *)snapctl_reply_unpack(rsp, &ctl__log_level_reply__descriptor);
	assert_string_equal(r->snap_level, "debug");
	assert_int_equal(rte_log_get_level((uint32_t)snap_logtype), RTE_LOG_DEBUG);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	ctl__response__free_unpacked(rsp, NULL);

	q.level = "loud";
	rsp = ctl_fix_call(c, CTL_M_LOG_LEVEL_SET, &q.base);
	assert_int_equal(ctl_fix_rsp_error(rsp), EINVAL);
	ctl__response__free_unpacked(rsp, NULL);
	q.level = "info";
	q.type = "martian";
	rsp = ctl_fix_call(c, CTL_M_LOG_LEVEL_SET, &q.base);
	assert_int_equal(ctl_fix_rsp_error(rsp), EINVAL);
	ctl__response__free_unpacked(rsp, NULL);
	q.level = NULL;
	q.type = NULL;
	rsp = ctl_fix_call(c, CTL_M_LOG_LEVEL_SET, &q.base); /* set without a level */
	assert_int_equal(ctl_fix_rsp_error(rsp), EINVAL);
	ctl__response__free_unpacked(rsp, NULL);

	assert_int_equal(ctl_log_level_set("snap", snap_log_level_name(before)), 0);
	assert_int_equal(rte_log_get_level((uint32_t)snap_logtype), before);
	snapctl_close(c);
}

/* ---- robustness -------------------------------------------------------------------------- */

static void test_unknown_methods(void **state)
{
	struct snapctl_conn *c = ctl_fix_conn_open();
	const char *names[] = {"nope", "engine.frobnicate", ""};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		Ctl__Response *rsp = ctl_fix_call(c, names[i], NULL);
		assert_int_equal(ctl_fix_rsp_error(rsp), ENOSYS);
		assert_non_null(strstr(rsp->message, "unknown or unimplemented method"));
		ctl__response__free_unpacked(rsp, NULL);
	}
	ctl_fix_expect_status_ok(c); /* same connection still served */
	Ctl__Response *rsp = ctl_fix_call(c, "test.silent", NULL);
	assert_int_equal(ctl_fix_rsp_error(rsp), EIO);
	ctl__response__free_unpacked(rsp, NULL);
	rsp = ctl_fix_call(c, "test.double", NULL);
	assert_int_equal(ctl_fix_rsp_error(rsp), 0);
	ctl__response__free_unpacked(rsp, NULL);
	ctl_fix_expect_status_ok(c); /* ids still match: no stray second Response */
	snapctl_close(c);
}

static void test_garbage(void **state)
{
	struct snapctl_conn *c = ctl_fix_conn_open();
	Ctl__Response *rsp = NULL;

	/* A frame that is not a Request at all. */
	static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x99, 0x01, 0x02};
	assert_int_equal(snapctl_send_frame(c, junk, sizeof(junk)), 0);
	assert_int_equal(snapctl_recv(c, CTL_FIX_TIMEOUT_MS, &rsp), 0);
	assert_int_equal(ctl_fix_rsp_error(rsp), EBADMSG);
	assert_int_equal(rsp->id, 0);
	ctl__response__free_unpacked(rsp, NULL);

	/* An empty frame (missing required fields). */
	assert_int_equal(snapctl_send_frame(c, NULL, 0), 0);
	assert_int_equal(snapctl_recv(c, CTL_FIX_TIMEOUT_MS, &rsp), 0);
	assert_int_equal(ctl_fix_rsp_error(rsp), EBADMSG);
	ctl__response__free_unpacked(rsp, NULL);

	/* A valid envelope whose payload is garbage for the method. */
	Ctl__Request env = CTL__REQUEST__INIT;
	env.version = CTL_PROTO_VERSION;
	env.id = 77;
	env.method = CTL_M_STATS;
	env.has_payload = true;
	env.payload.data = (uint8_t *)(uintptr_t)junk;
	env.payload.len = sizeof(junk);
	uint8_t buf[256];
	size_t n = ctl__request__pack(&env, buf);
	assert_int_equal(snapctl_send_frame(c, buf, n), 0);
	assert_int_equal(snapctl_recv(c, CTL_FIX_TIMEOUT_MS, &rsp), 0);
	assert_int_equal(rsp->id, 77);
	assert_int_equal(ctl_fix_rsp_error(rsp), EBADMSG);
	ctl__response__free_unpacked(rsp, NULL);

	/* Another protocol version. */
	assert_int_equal(snapctl_send_request(c, CTL_PROTO_VERSION + 1, 78, CTL_M_STATUS, NULL), 0);
	assert_int_equal(snapctl_recv(c, CTL_FIX_TIMEOUT_MS, &rsp), 0);
	assert_int_equal(rsp->id, 78);
	assert_int_equal(ctl_fix_rsp_error(rsp), EPROTONOSUPPORT);
	ctl__response__free_unpacked(rsp, NULL);

	/* A frame split into single bytes arrives whole. */
	Ctl__Request st = CTL__REQUEST__INIT;
	st.version = CTL_PROTO_VERSION;
	st.id = 79;
	st.method = CTL_M_STATUS;
	n = ctl__request__pack(&st, buf + 4);
	buf[0] = buf[1] = buf[2] = 0;
	buf[3] = (uint8_t)n;
	for (size_t i = 0; i < n + 4; i++) {
		assert_int_equal(snapctl_send_raw(c, buf + i, 1), 0);
		usleep(200);
	}
	assert_int_equal(snapctl_recv(c, CTL_FIX_TIMEOUT_MS, &rsp), 0);
	assert_int_equal(rsp->id, 79);
	assert_int_equal(ctl_fix_rsp_error(rsp), 0);
	ctl__response__free_unpacked(rsp, NULL);

	/* Three requests in one write: three replies, in order. */
	size_t off = 0;
	for (uint64_t id = 100; id < 103; id++) {
		st.id = id;
		n = ctl__request__pack(&st, buf + off + 4);
		buf[off] = buf[off + 1] = buf[off + 2] = 0;
		buf[off + 3] = (uint8_t)n;
		off += n + 4;
	}
	assert_int_equal(snapctl_send_raw(c, buf, off), 0);
	for (uint64_t id = 100; id < 103; id++) {
		assert_int_equal(snapctl_recv(c, CTL_FIX_TIMEOUT_MS, &rsp), 0);
		assert_int_equal(rsp->id, id);
		assert_int_equal(ctl_fix_rsp_error(rsp), 0);
		ctl__response__free_unpacked(rsp, NULL);
	}
	ctl_fix_expect_status_ok(c);
	snapctl_close(c);
}

static void test_oversized(void **state)
{
	struct snapctl_conn *c = ctl_fix_conn_open();
	struct snapctl_conn *other = ctl_fix_conn_open();
	/* Header announcing 16 MiB (limit is 64 KiB): error reply, then the server closes. */
	static const uint8_t hdr[] = {0x01, 0x00, 0x00, 0x00, 'x', 'y'};
	assert_int_equal(snapctl_send_raw(c, hdr, sizeof(hdr)), 0);
	Ctl__Response *rsp = NULL;
	assert_int_equal(snapctl_recv(c, CTL_FIX_TIMEOUT_MS, &rsp), 0);
	assert_int_equal(ctl_fix_rsp_error(rsp), EMSGSIZE);
	assert_non_null(strstr(rsp->message, "limit"));
	ctl__response__free_unpacked(rsp, NULL);
	assert_int_equal(snapctl_recv(c, CTL_FIX_TIMEOUT_MS, &rsp), -ECONNRESET);
	snapctl_close(c);

	/* A real request just over the limit (a huge method name) is refused the same way. */
	c = ctl_fix_conn_open();
	size_t big = 64 * 1024 + 100;
	char *name = malloc(big);
	memset(name, 'a', big - 1);
	name[big - 1] = '\0';
	assert_int_equal(snapctl_send_request(c, CTL_PROTO_VERSION, 5, name, NULL), 0);
	free(name);
	assert_int_equal(snapctl_recv(c, CTL_FIX_TIMEOUT_MS, &rsp), 0);
	assert_int_equal(ctl_fix_rsp_error(rsp), EMSGSIZE);
	ctl__response__free_unpacked(rsp, NULL);
	snapctl_close(c);

	/* Others were never disturbed; new clients are served. */
	ctl_fix_expect_status_ok(other);
	snapctl_close(other);
	c = ctl_fix_conn_open();
	ctl_fix_expect_status_ok(c);
	snapctl_close(c);
}

static void test_half_frame_disconnect(void **state)
{
	/* A client that dies mid-frame must not leave the server stuck. */
	for (int i = 0; i < 20; i++) {
		struct snapctl_conn *c = ctl_fix_conn_open();
		static const uint8_t part[] = {0x00, 0x00, 0x01, 0x00, 0x08, 0x01};
		assert_int_equal(snapctl_send_raw(c, part, sizeof(part)), 0);
		snapctl_close(c);
	}
	struct snapctl_conn *c = ctl_fix_conn_open();
	ctl_fix_expect_status_ok(c);
	snapctl_close(c);
}

/* ---- peer credentials -------------------------------------------------------------------- */

/* In a child running as nobody: call method, return its error code (or 200 + transport). */
static int nobody_call(const char *path, const char *method, const ProtobufCMessage *req)
{
	struct snapctl_conn *c = snapctl_connect(path);
	if (c == NULL)
		return errno == EACCES ? 201 : 202;
	Ctl__Response *rsp = NULL;
	int r = snapctl_call(c, method, req, CTL_FIX_TIMEOUT_MS, &rsp);
	snapctl_close(c);
	if (r < 0)
		return 203;
	int e = rsp->has_error ? rsp->error : 0;
	ctl__response__free_unpacked(rsp, NULL);
	return e;
}

static void drop_to_nobody(void)
{
	if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
		_exit(250);
}

/* Fork a child that drops to nobody and runs `method`; serve `s` from this thread (NULL: the
 * server thread serves) until it exits. Returns the child's exit code. */
static int as_nobody(struct ctl_rpc_server *s, const char *path, const char *method,
		     const ProtobufCMessage *req)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		drop_to_nobody();
		_exit(nobody_call(path, method, req));
	}
	int status = 0;
	for (int i = 0; i < 1000; i++) { /* <= 10 s */
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
		if (s) {
			struct pollfd p = {.fd = ctl_rpc_fd(s), .events = POLLIN};
			poll(&p, 1, 10);
			ctl_rpc_process(s);
		} else {
			usleep(10 * 1000);
		}
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	fail_msg("child as nobody did not finish");
	return -1;
}

static struct ctl_rpc_server *extra_server(const char *name, const char *group, bool ro_open,
					   char *path, size_t len)
{
	snprintf(path, len, "%s/%s.sock", ctl_fix_dir, name);
	struct ctl_rpc_config cfg;
	ctl_rpc_config_default(&cfg);
	cfg.path = path;
	cfg.mode = 0666;
	cfg.group = group;
	cfg.readonly_open = ro_open;
	struct ctl_rpc_server *s = ctl_rpc_create(&cfg);
	assert_non_null(s);
	return s;
}

static void test_peercred(void **state)
{
	if (geteuid() != 0)
		skip(); /* needs setuid to nobody */
	Ctl__LogLevelRequest set = CTL__LOG_LEVEL_REQUEST__INIT;
	set.level = "info";

	/* Main server: read-only open to all, no operator group. */
	assert_int_equal(as_nobody(NULL, ctl_fix_sock, CTL_M_STATUS, NULL), 0);
	assert_int_equal(as_nobody(NULL, ctl_fix_sock, CTL_M_STATS, NULL), 0);
	assert_int_equal(as_nobody(NULL, ctl_fix_sock, CTL_M_LOG_LEVEL_SET, &set.base), EPERM);
	/* Unknown methods are unknown to everyone (no oracle needed, but no crash either). */
	assert_int_equal(as_nobody(NULL, ctl_fix_sock, "nope", NULL), ENOSYS);

	/* Closed server: nobody may not even read. */
	char path[160];
	struct ctl_rpc_server *s = extra_server("closed", NULL, false, path, sizeof(path));
	assert_int_equal(as_nobody(s, path, CTL_M_STATUS, NULL), EPERM);
	ctl_rpc_destroy(s);

	/* Operator group: nobody's primary group is nogroup, so it may mutate. */
	if (getgrnam("nogroup") != NULL) {
		s = extra_server("ops", "nogroup", false, path, sizeof(path));
		struct stat st;
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_gid, NOBODY);
		assert_int_equal(st.st_mode & 0777, 0666);
		assert_int_equal(as_nobody(s, path, CTL_M_LOG_LEVEL_SET, &set.base), 0);
		ctl_rpc_destroy(s);
	}

	/* Socket mode keeps others out entirely: connect fails with EACCES (201). */
	snprintf(path, sizeof(path), "%s/private.sock", ctl_fix_dir);
	struct ctl_rpc_config cfg;
	ctl_rpc_config_default(&cfg);
	cfg.path = path;
	cfg.mode = 0600;
	s = ctl_rpc_create(&cfg);
	assert_non_null(s);
	assert_int_equal(as_nobody(s, path, CTL_M_STATUS, NULL), 201);
	ctl_rpc_destroy(s);
}

static void test_create_errors(void **state)
{
	struct ctl_rpc_config cfg;
	ctl_rpc_config_default(&cfg);
	/* A live server on the path is not stolen. */
	cfg.path = ctl_fix_sock;
	assert_null(ctl_rpc_create(&cfg));
	assert_int_equal(errno, EADDRINUSE);
	cfg.path = "/tmp/this/path/is/much/too/long/for/a/unix/socket/address/in/linux/because/it/"
		   "has/more/than/one/hundred/and/eight/characters/in/it.sock";
	assert_null(ctl_rpc_create(&cfg));
	assert_int_equal(errno, ENAMETOOLONG);
	char path[160];
	snprintf(path, sizeof(path), "%s/x.sock", ctl_fix_dir);
	cfg.path = path;
	cfg.group = "no-such-group-xyz";
	assert_null(ctl_rpc_create(&cfg));
	assert_int_equal(errno, ENOENT);
	/* A stale socket file (no server) is replaced. */
	cfg.group = NULL;
	struct ctl_rpc_server *s = ctl_rpc_create(&cfg);
	assert_non_null(s);
	ctl_rpc_destroy(s);
	assert_int_equal(access(path, F_OK), -1); /* destroy unlinks */
	assert_int_equal(ctl_rpc_register(CTL_M_STATUS, h_silent, CTL_RPC_READONLY), -EEXIST);
	assert_int_equal(ctl_rpc_register("x", h_silent, 0), -EINVAL);
}

static void test_idle_eviction(void **state)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/evict.sock", ctl_fix_dir);
	struct ctl_rpc_config cfg;
	ctl_rpc_config_default(&cfg);
	cfg.path = path;
	cfg.max_clients = 2;
	cfg.idle_evict_ms = 200;
	struct ctl_rpc_server *s = ctl_rpc_create(&cfg);
	assert_non_null(s);
	struct snapctl_conn *a = snapctl_connect(path), *b = snapctl_connect(path);
	assert_non_null(a);
	assert_non_null(b);
	for (int i = 0; i < 3; i++)
		ctl_rpc_process(s);
	assert_int_equal(ctl_rpc_n_clients(s), 2);
	/* Full, nobody idle long enough: the newcomer is refused. */
	struct snapctl_conn *c = snapctl_connect(path);
	assert_non_null(c); /* the kernel accepted it into the backlog */
	for (int i = 0; i < 3; i++)
		ctl_rpc_process(s);
	assert_int_equal(ctl_rpc_n_clients(s), 2);
	Ctl__Response *rsp = NULL;
	assert_int_equal(snapctl_recv(c, CTL_FIX_TIMEOUT_MS, &rsp), -ECONNRESET);
	snapctl_close(c);
	/* b stays active, a goes idle: the next newcomer takes a's slot. */
	usleep(250 * 1000);
	assert_int_equal(snapctl_send_request(b, CTL_PROTO_VERSION, 1, CTL_M_STATUS, NULL), 0);
	for (int i = 0; i < 3; i++)
		ctl_rpc_process(s);
	assert_int_equal(snapctl_recv(b, CTL_FIX_TIMEOUT_MS, &rsp), 0);
	ctl__response__free_unpacked(rsp, NULL);
	c = snapctl_connect(path);
	assert_non_null(c);
	assert_int_equal(snapctl_send_request(c, CTL_PROTO_VERSION, 2, CTL_M_STATUS, NULL), 0);
	for (int i = 0; i < 4; i++)
		ctl_rpc_process(s);
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

/* ---- the snapctl binary ------------------------------------------------------------------ */

/* Run snapctl with args (NULL-terminated), capture stdout+stderr into out; exit code. */
static int run_snapctl(bool nobody, char *out, size_t outlen, ...)
{
	const char *bin = getenv("SNAPCTL_BIN");
	char *argv[32];
	int argc = 0;
	argv[argc++] = (char *)(uintptr_t)bin;
	va_list ap;
	va_start(ap, outlen);
	for (char *a; argc < 31 && (a = va_arg(ap, char *)) != NULL;)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[0]);
		if (nobody)
			drop_to_nobody();
		execv(bin, argv);
		_exit(127);
	}
	close(pfd[1]);
	size_t n = 0;
	ssize_t k;
	while ((k = read(pfd[0], out + n, outlen - 1 - n)) > 0 && n + (size_t)k < outlen - 1)
		n += (size_t)k;
	if (k > 0)
		n += (size_t)k;
	out[n] = '\0';
	close(pfd[0]);
	int status;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

static void test_snapctl_binary(void **state)
{
	if (getenv("SNAPCTL_BIN") == NULL)
		skip();
	char out[16384];
	const char *S = ctl_fix_sock;
	assert_int_equal(run_snapctl(false, out, sizeof(out), "--socket", S, "status", NULL), 0);
	assert_non_null(strstr(out, "snapnetd " SNAP_VERSION));
	assert_int_equal(run_snapctl(false, out, sizeof(out), "-s", S, "engines", NULL), 0);
	assert_non_null(strstr(out, "NAME"));
	assert_non_null(strstr(out, "parked"));
	assert_int_equal(run_snapctl(false, out, sizeof(out), "-s", S, "--json", "engines", NULL), 0);
	assert_true(strncmp(out, "{\"engines\":[{\"name\":\"e1\"", 24) == 0);
	assert_int_equal(run_snapctl(false, out, sizeof(out), "-s", S, "engines", "zork", NULL), 1);
	assert_non_null(strstr(out, "no engine named 'zork'"));
	assert_int_equal(run_snapctl(false, out, sizeof(out), "-s", S, "stats", "--watch", "0.05",
				     "--count", "2", NULL), 0);
	assert_non_null(strstr(out, "RATE/s"));
	assert_non_null(strstr(out, "generated"));
	assert_int_equal(run_snapctl(false, out, sizeof(out), "-s", S, "--json", "stats", NULL), 0);
	assert_non_null(strstr(out, "\"element\":\"src\""));
	assert_int_equal(run_snapctl(false, out, sizeof(out), "-s", S, "log-level", NULL), 0);
	assert_non_null(strstr(out, "snap "));
	assert_int_equal(run_snapctl(false, out, sizeof(out), "-s", S, "groups", NULL), 0);
	assert_non_null(strstr(out, "DEADLINE"));
	assert_int_equal(run_snapctl(false, out, sizeof(out), "-s", S, "engine", "move", "e1",
				     "--group", "g", NULL), 1);
	assert_non_null(strstr(out, "no group named 'g'"));
	assert_int_equal(run_snapctl(false, out, sizeof(out), "-s", S, "bogus", NULL), 2);
	assert_int_equal(run_snapctl(false, out, sizeof(out), "-s", S, "capture", "p0", NULL), 2);
	assert_int_equal(run_snapctl(false, out, sizeof(out), "-s", S, "engine", NULL), 2);
	assert_int_equal(run_snapctl(false, out, sizeof(out), "engines", "--help", NULL), 0);
	assert_int_equal(run_snapctl(false, out, sizeof(out), "-s", "/nonexistent/x.sock", "status",
				     NULL), 3);
	assert_non_null(strstr(out, "not running"));
	if (geteuid() == 0) {
		assert_int_equal(run_snapctl(true, out, sizeof(out), "-s", S, "log-level", "debug",
					     NULL), 4);
		assert_non_null(strstr(out, "permission denied"));
		assert_int_equal(run_snapctl(true, out, sizeof(out), "-s", S, "status", NULL), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_engines),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_log_level),
		cmocka_unit_test(test_unknown_methods),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_half_frame_disconnect),
		cmocka_unit_test(test_peercred),
		cmocka_unit_test(test_create_errors),
		cmocka_unit_test(test_idle_eviction),
		cmocka_unit_test(test_snapctl_binary),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
