/* Attach protocol tests over a real Unix socket: SO_PEERCRED policy (a policy that refuses
 * our uid gives a clear error string), gid policy, the hello/version/engine checks, fds
 * passed with SCM_RIGHTS, socket file mode, the fd listing for upgrade, detach on close
 * back to zero, the bound and timeout on pending hellos, and the library noticing a daemon
 * that went away. The daemon side is pumped by the test's main thread; the app runs in a
 * second thread. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include "pony_app_fix.h"

struct env {
	struct pony_app_config cfg;
	struct pony_tp *tp;
	struct fake_tp *f;
	struct pony_app_host *h;
	struct pony_app_attach *at;
};

struct client {
	struct env *env;
	const char *engine;
	_Atomic int done;
	int err;
	char msg[256];
	int listen_status;
	int wait_after_close; /* pony_wait result after the daemon went away */
	bool hold;            /* keep attached until released */
	_Atomic int release;
	_Atomic int attached;
};

static void env_init(struct env *e, bool allow_own, const char *name)
{
	memset(e, 0, sizeof(*e));
	pony_app_config_defaults(&e->cfg);
	snprintf(e->cfg.socket_path, sizeof(e->cfg.socket_path), "/tmp/pony-test-%d-%s.sock",
		 (int)getpid(), name);
	snprintf(e->cfg.engine, sizeof(e->cfg.engine), "%s", name);
	e->cfg.allow_own_uid = allow_own;
	e->cfg.buf_size = 64 * 1024;
	e->cfg.cmd_entries = 16;
	e->tp = fake_tp_new(&e->f);
	e->h = pony_app_host_create(NULL, name, e->tp);
	assert_non_null(e->h);
}

static void env_start(struct env *e)
{
	e->at = pony_app_attach_create(&e->cfg);
	assert_non_null(e->at);
}

static void env_fini(struct env *e)
{
	pony_app_attach_destroy(e->at);
	pony_app_host_destroy(e->h);
	fake_tp_free(e->tp);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static struct pony_app_host *extra_host; /* a second engine's host, polled by pump too */

/* Run the daemon side until *flag or 5 s. */
static void pump(struct env *e, _Atomic int *flag)
{
	double t0 = now_s();
	while (!atomic_load(flag) && now_s() - t0 < 5) {
		struct pollfd p[16];
		unsigned n = pony_app_attach_pollfds(e->at, p, 16);
		poll(p, n, 10);
		for (unsigned i = 0; i < n; i++)
			if (p[i].revents)
				assert_int_equal(pony_app_attach_handle(e->at, p[i].fd, p[i].revents),
						 0);
		pony_app_attach_tick(e->at);
		if (e->h)
			pony_app_host_poll(e->h, 64);
		if (extra_host)
			pony_app_host_poll(extra_host, 64);
	}
	assert_true(atomic_load(flag));
}

static void *client_thread(void *arg)
{
	struct client *c = arg;
	struct pony_opts o = {.engine = c->engine, .timeout_ms = 3000};
	struct pony_app *a = pony_connect(c->env->cfg.socket_path, &o);
	if (a == NULL) {
		c->err = errno;
		snprintf(c->msg, sizeof(c->msg), "%s", pony_connect_error());
		atomic_store(&c->done, 1);
		return NULL;
	}
	atomic_store(&c->attached, 1);
	c->listen_status = 1;
	if (pony_listen(a, 5000, 42) == 0 && pony_wait(a, 3000) == 1) {
		struct pony_completion cpl;
		if (pony_poll(a, &cpl, 1) == 1 && cpl.tag == 42)
			c->listen_status = cpl.status;
	}
	if (c->hold) {
		for (int i = 0; i < 500 && !atomic_load(&c->release); i++)
			usleep(10000);
		c->wait_after_close = pony_wait(a, 3000);
	}
	pony_close(a);
	atomic_store(&c->done, 1);
	return NULL;
}

static void run_client(struct env *e, struct client *c)
{
	c->env = e;
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, client_thread, c), 0);
	pump(e, &c->done);
	pthread_join(th, NULL);
}

static void test_refused_uid(void **state)
{
	struct env e;
	env_init(&e, false, "refuse");
	env_start(&e);
	struct client c = {0};
	run_client(&e, &c);
	printf("refusal: errno %d, \"%s\"\n", c.err, c.msg);
	assert_int_equal(c.err, EACCES);
	char want[64];
	snprintf(want, sizeof(want), "refused uid %u", (unsigned)geteuid());
	assert_non_null(strstr(c.msg, want));
	assert_int_equal(pony_app_attach_count(e.at), 0);
	assert_int_equal(pony_app_host_counters(e.h)->attached, 0);
	env_fini(&e);
	(void)state;
}

static void test_policy_unit(void **state)
{
	struct pony_app_config cfg;
	pony_app_config_defaults(&cfg);
	cfg.allow_own_uid = false;
	cfg.allow_uids[cfg.n_allow_uids++] = 1234;
	cfg.allow_gids[cfg.n_allow_gids++] = 77;
	char msg[160];
	gid_t g[2] = {5, 77};
	assert_int_equal(pony_app_policy_check(&cfg, 1234, g, 1, msg, sizeof(msg)), 0);
	assert_int_equal(pony_app_policy_check(&cfg, 99, g, 2, msg, sizeof(msg)), 0);
	assert_int_equal(pony_app_policy_check(&cfg, 99, g, 1, msg, sizeof(msg)), -EACCES);
	assert_non_null(strstr(msg, "uid 99"));
	(void)state;
}

static void test_attach_lifecycle(void **state)
{
	struct env e;
	env_init(&e, false, "life");
	e.cfg.allow_gids[e.cfg.n_allow_gids++] = getegid(); /* allowed through the gid list */
	e.cfg.socket_mode = 0660;
	env_start(&e);
	struct stat st;
	assert_int_equal(stat(e.cfg.socket_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);
	struct client c = {.hold = true};
	c.env = &e;
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, client_thread, &c), 0);
	pump(&e, &c.attached);
	assert_int_equal(pony_app_attach_count(e.at), 1);
	struct pony_app_fd fds[16];
	unsigned n = pony_app_attach_fds(e.at, fds, 16);
	assert_int_equal(n, 5);
	unsigned kinds = 0;
	for (unsigned i = 0; i < n; i++) {
		kinds |= 1u << fds[i].kind;
		assert_true(fcntl(fds[i].fd, F_GETFD) >= 0);
	}
	assert_int_equal(kinds, 0x1f);
	/* The app can neither grow nor shrink the region (sealed). */
	for (unsigned i = 0; i < n; i++)
		if (fds[i].kind == PONY_APP_FD_MEMFD)
			assert_int_equal(fcntl(fds[i].fd, F_GET_SEALS),
					 F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	/* Let the client's listen go through, then release it: it closes, we detach. */
	for (int i = 0; i < 300 && c.listen_status == 1; i++) {
		struct pollfd p[16];
		unsigned k = pony_app_attach_pollfds(e.at, p, 16);
		poll(p, k, 10);
		pony_app_host_poll(e.h, 64);
	}
	assert_int_equal(c.listen_status, 0);
	assert_int_equal(pony_app_host_counters(e.h)->listens, 1);
	/* Daemon side goes away: the app's next wait says so. */
	env_fini(&e);
	atomic_store(&c.release, 1);
	pthread_join(th, NULL);
	assert_int_equal(c.wait_after_close, -EPIPE);
	(void)state;
}

/* Net count of fds the hooks were told about, per kind. */
static int hook_fds[5];

static int hook_add(void *ctx, int fd, enum pony_app_fd_kind k, uint32_t id)
{
	(void)ctx;
	(void)id;
	assert_true(fcntl(fd, F_GETFD) >= 0);
	hook_fds[k]++;
	return 0;
}

static void hook_del(void *ctx, int fd, enum pony_app_fd_kind k, uint32_t id)
{
	(void)ctx;
	(void)id;
	assert_true(fcntl(fd, F_GETFD) >= 0); /* told before the close */
	hook_fds[k]--;
}

/* An env (own uid allowed) whose attach layer reports its fds to the hooks above. */
static void env_start_counted(struct env *e, const char *name)
{
	env_init(e, true, name);
	env_start(e);
	static const struct pony_app_attach_hooks hooks = {.fd_added = hook_add,
							   .fd_removed = hook_del};
	memset(hook_fds, 0, sizeof(hook_fds));
	pony_app_attach_set_hooks(e->at, &hooks, NULL);
}

static void test_detach_on_close(void **state)
{
	struct env e;
	env_start_counted(&e, "close");
	assert_int_equal(hook_fds[PONY_APP_FD_LISTENER], 1);
	struct client c = {0};
	run_client(&e, &c); /* attaches, listens, closes */
	assert_int_equal(c.err, 0);
	assert_int_equal(c.listen_status, 0);
	/* Pump until the close is seen. */
	for (int i = 0; i < 500 && pony_app_attach_count(e.at); i++) {
		struct pollfd p[16];
		unsigned n = pony_app_attach_pollfds(e.at, p, 16);
		poll(p, n, 10);
		for (unsigned k = 0; k < n; k++)
			if (p[k].revents)
				pony_app_attach_handle(e.at, p[k].fd, p[k].revents);
	}
	assert_int_equal(pony_app_attach_count(e.at), 0);
	const struct pony_app_host_counters *hc = pony_app_host_counters(e.h);
	assert_int_equal(hc->attached, 1);
	assert_int_equal(hc->detached, 1);
	assert_int_equal(hc->sessions, 0);
	assert_int_equal(hc->listens, 0);
	assert_int_equal(hc->mapped_bytes, 0);
	assert_int_equal(fake_tp_count(e.f, FAKE_UNLISTEN), 1);
	struct pony_app_fd fds[4];
	assert_int_equal(pony_app_attach_fds(e.at, fds, 4), 1); /* only the listener */
	/* The hooks saw the app's 4 fds come and go. */
	assert_int_equal(hook_fds[PONY_APP_FD_LISTENER], 1);
	for (int k = PONY_APP_FD_CONN; k <= PONY_APP_FD_CPL_EFD; k++)
		assert_int_equal(hook_fds[k], 0);
	/* Unknown engine: clear error. */
	struct client c2 = {.engine = "nope"};
	run_client(&e, &c2);
	assert_int_equal(c2.err, ENODEV);
	assert_non_null(strstr(c2.msg, "nope"));
	/* A second daemon on the same live socket is refused; a stale file is replaced. */
	struct pony_app_attach *dup = pony_app_attach_create(&e.cfg);
	assert_null(dup);
	assert_int_equal(errno, EADDRINUSE);
	env_fini(&e);
	assert_int_equal(hook_fds[PONY_APP_FD_LISTENER], 0);
	(void)state;
}

/* Engine "*" (issue 17): each attaching app goes to the host with the fewest attached apps,
 * so apps spread over the Pony engines of a multi-queue port. */
static void test_attach_any(void **state)
{
	struct env e;
	env_init(&e, true, "anyA");
	struct fake_tp *f2;
	struct pony_tp *tp2 = fake_tp_new(&f2);
	extra_host = pony_app_host_create(NULL, "anyB", tp2);
	assert_non_null(extra_host);
	env_start(&e);
	struct client c[3] = {{.engine = "*", .hold = true}, {.engine = "*", .hold = true},
			      {.engine = "*", .hold = true}};
	pthread_t th[3];
	for (int i = 0; i < 3; i++) {
		c[i].env = &e;
		assert_int_equal(pthread_create(&th[i], NULL, client_thread, &c[i]), 0);
		pump(&e, &c[i].attached);
		/* Two hosts: the second app goes to the other one, the third to either. */
		if (i == 1) {
			assert_int_equal(pony_app_host_counters(e.h)->attached, 1);
			assert_int_equal(pony_app_host_counters(extra_host)->attached, 1);
		}
	}
	for (int i = 0; i < 3; i++) {
		atomic_store(&c[i].release, 1);
		pump(&e, &c[i].done);
		pthread_join(th[i], NULL);
	}
	assert_int_equal(pony_app_host_counters(e.h)->attached +
				 pony_app_host_counters(extra_host)->attached, 3);
	pony_app_attach_destroy(e.at);
	e.at = NULL;
	pony_app_host_destroy(extra_host);
	extra_host = NULL;
	fake_tp_free(tp2);
	env_fini(&e);
	(void)state;
}

/* One round of the daemon side's attach layer, without judging the results. */
static void pump_once(struct env *e)
{
	struct pollfd p[16];
	unsigned n = pony_app_attach_pollfds(e->at, p, 16);
	poll(p, n, 10);
	for (unsigned k = 0; k < n; k++)
		if (p[k].revents)
			pony_app_attach_handle(e->at, p[k].fd, p[k].revents);
}

/* A bare connection to the daemon's app socket (the test speaks the protocol itself). */
static int raw_connect(struct env *e)
{
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", e->cfg.socket_path);
	assert_int_equal(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return s;
}

/* Destroying an engine with apps attached destroys its app host and sessions (the pony
 * element's destroy): the attach layer must forget them at once, not detach them through
 * freed memory when the apps disconnect later (ASan build: a use-after-free before the
 * fix). The apps see the daemon hang up; the socket keeps serving a new host. */
static void test_host_destroyed_with_apps(void **state)
{
	struct env e;
	env_start_counted(&e, "gone");
	struct client c[2] = {{.hold = true}, {.hold = true}};
	pthread_t th[2];
	for (int i = 0; i < 2; i++) {
		c[i].env = &e;
		assert_int_equal(pthread_create(&th[i], NULL, client_thread, &c[i]), 0);
		pump(&e, &c[i].attached);
	}
	for (int k = 0; k < 2; k++) /* both listens through, so sessions hold state */
		for (int i = 0; i < 300 && c[k].listen_status == 1; i++) {
			pump_once(&e);
			pony_app_host_poll(e.h, 64);
		}
	assert_int_equal(pony_app_attach_count(e.at), 2);
	assert_int_equal(hook_fds[PONY_APP_FD_CONN], 2);

	pony_app_host_destroy(e.h); /* what engine destroy does through the pony element */
	e.h = NULL;
	assert_int_equal(pony_app_attach_count(e.at), 0);
	for (int k = PONY_APP_FD_CONN; k <= PONY_APP_FD_CPL_EFD; k++)
		assert_int_equal(hook_fds[k], 0);
	struct pony_app_fd fds[8];
	assert_int_equal(pony_app_attach_fds(e.at, fds, 8), 1); /* only the listener */

	/* Now the apps disconnect: nothing of theirs is left to detach. */
	for (int i = 0; i < 2; i++) {
		atomic_store(&c[i].release, 1);
		pump(&e, &c[i].done);
		pthread_join(th[i], NULL);
		assert_int_equal(c[i].listen_status, 0);
		assert_int_equal(c[i].wait_after_close, -EPIPE);
	}
	for (int i = 0; i < 10; i++)
		pump_once(&e);
	assert_int_equal(pony_app_attach_count(e.at), 0);

	/* A new engine of the same name: apps attach to it as usual. */
	e.h = pony_app_host_create(NULL, "gone", e.tp);
	assert_non_null(e.h);
	struct client c3 = {0};
	run_client(&e, &c3);
	assert_int_equal(c3.err, 0);
	assert_int_equal(c3.listen_status, 0);
	for (int i = 0; i < 500 && pony_app_attach_count(e.at); i++) {
		pump_once(&e);
		pony_app_host_poll(e.h, 64);
	}
	assert_int_equal(pony_app_attach_count(e.at), 0);
	env_fini(&e);
	(void)state;
}

static void test_bad_hello(void **state)
{
	struct env e;
	env_init(&e, true, "hello");
	env_start(&e);
	int s = raw_connect(&e);
	struct pony_attach_req req = {.magic = PONY_ATTACH_MAGIC, .version = 99};
	assert_int_equal(send(s, &req, sizeof(req), 0), sizeof(req));
	struct pony_attach_rep rep = {0};
	ssize_t got = 0;
	for (int i = 0; i < 300 && got <= 0; i++) {
		pump_once(&e);
		got = recv(s, &rep, sizeof(rep), MSG_DONTWAIT);
	}
	assert_int_equal(got, sizeof(rep));
	assert_int_equal(rep.status, -EPROTO);
	assert_non_null(strstr(rep.msg, "protocol"));
	close(s);
	assert_int_equal(pony_app_attach_count(e.at), 0);
	env_fini(&e);
	(void)state;
}

/* Issue 14: idle connections beyond max_pending displace the oldest pending one, never the
 * app that sends its hello; and pending ones time out after hello_timeout_ms. Counted. */
static void test_pending_bound(void **state)
{
	struct env e;
	env_init(&e, true, "bound");
	e.cfg.max_pending = 2;
	e.cfg.hello_timeout_ms = 100;
	env_start(&e);
	int idle[3];
	for (int i = 0; i < 3; i++) {
		idle[i] = raw_connect(&e);
		pump_once(&e);
	}
	assert_int_equal(pony_app_attach_pending(e.at), 2);
	assert_int_equal(pony_app_attach_counter(e.at, PONY_ATTACH_C_HELLO_EVICTED), 1);
	struct client c = {.engine = "bound"};
	run_client(&e, &c); /* attaches, then closes */
	assert_int_equal(c.err, 0);
	assert_int_equal(pony_app_attach_counter(e.at, PONY_ATTACH_C_ATTACHED), 1);
	usleep(150 * 1000);
	pony_app_attach_tick(e.at);
	assert_int_equal(pony_app_attach_pending(e.at), 0);
	assert_true(pony_app_attach_counter(e.at, PONY_ATTACH_C_HELLO_TIMEOUT) >= 1);
	assert_string_equal(pony_app_attach_counter_name(PONY_ATTACH_C_HELLO_TIMEOUT),
			    "hello_timeout");
	for (int i = 0; i < 3; i++)
		close(idle[i]);
	env_fini(&e);
	(void)state;
}

/* A daemon that stops (or hands over to its upgrade) while an app's hello is pending answers
 * it with -EAGAIN, the status libpony retries on. */
static void test_hello_pending_at_stop(void **state)
{
	struct env e;
	env_init(&e, true, "pending");
	env_start(&e);
	int s = raw_connect(&e);
	for (int i = 0; i < 20; i++) /* let the daemon side accept it; no hello is sent */
		pump_once(&e);
	env_fini(&e);
	struct pony_attach_rep rep = {0};
	assert_int_equal(recv(s, &rep, sizeof(rep), 0), sizeof(rep));
	assert_int_equal(rep.status, -EAGAIN);
	assert_non_null(strstr(rep.msg, "try again"));
	close(s);
	(void)state;
}

/* A fake daemon for the retry test: answers the n-th hello by script. */
struct fake_daemon {
	int lfd;
	int script_len;
	const int *script;   /* per connection: 0 close without reply, else the status sent */
	_Atomic int conns;
	_Atomic int stop;
};

static void *fake_daemon_main(void *arg)
{
	struct fake_daemon *fd = arg;
	while (!atomic_load(&fd->stop)) {
		struct pollfd p = {.fd = fd->lfd, .events = POLLIN};
		if (poll(&p, 1, 10) <= 0)
			continue;
		int c = accept(fd->lfd, NULL, NULL);
		if (c < 0)
			continue;
		int i = atomic_fetch_add(&fd->conns, 1);
		struct pony_attach_req req;
		if (recv(c, &req, sizeof(req), 0) == sizeof(req)) {
			int st = fd->script[i < fd->script_len ? i : fd->script_len - 1];
			if (st) {
				struct pony_attach_rep rep = {.magic = PONY_ATTACH_MAGIC,
							      .version = PONY_SHM_VERSION,
							      .status = st};
				snprintf(rep.msg, sizeof(rep.msg), "scripted %d", st);
				send(c, &rep, sizeof(rep), MSG_NOSIGNAL);
			}
		}
		close(c);
	}
	return NULL;
}

static int fake_daemon_start(struct fake_daemon *fd, const char *path, const int *script, int n,
			     pthread_t *th)
{
	fd->script = script;
	fd->script_len = n;
	atomic_store(&fd->conns, 0);
	atomic_store(&fd->stop, 0);
	fd->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	if (bind(fd->lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd->lfd, 8))
		return -1;
	return pthread_create(th, NULL, fake_daemon_main, fd);
}

static void fake_daemon_stop(struct fake_daemon *fd, const char *path, pthread_t th)
{
	atomic_store(&fd->stop, 1);
	pthread_join(th, NULL);
	close(fd->lfd);
	unlink(path);
}

/* A hello closed without an answer, then -EAGAIN (a daemon stopping or being upgraded):
 * libpony tries again; a real answer (here a refusal) ends it. A daemon that keeps closing
 * is given up on when the handshake timeout runs out. */
static void test_connect_retries(void **state)
{
	char path[64];
	snprintf(path, sizeof(path), "/tmp/pony-retry-%d.sock", (int)getpid());
	struct fake_daemon fd;
	pthread_t th;
	static const int script[] = {0, -EAGAIN, -EPERM};
	assert_int_equal(fake_daemon_start(&fd, path, script, 3, &th), 0);
	errno = 0;
	assert_null(pony_connect(path, NULL));
	assert_int_equal(errno, EPERM);
	assert_string_equal(pony_connect_error(), "scripted -1");
	assert_int_equal(atomic_load(&fd.conns), 3);
	fake_daemon_stop(&fd, path, th);

	static const int closing[] = {0};
	assert_int_equal(fake_daemon_start(&fd, path, closing, 1, &th), 0);
	struct pony_opts o = {.timeout_ms = 200};
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_null(pony_connect(path, &o));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	printf("gave up after %.0f ms and %d attempts (errno %d)\n", ms, atomic_load(&fd.conns),
	       errno);
	assert_int_equal(errno, ECONNRESET);
	assert_true(atomic_load(&fd.conns) >= 5);
	assert_true(ms < 2000);
	fake_daemon_stop(&fd, path, th);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_unit),
		cmocka_unit_test(test_refused_uid),
		cmocka_unit_test(test_attach_lifecycle),
		cmocka_unit_test(test_detach_on_close),
		cmocka_unit_test(test_bad_hello),
		cmocka_unit_test(test_connect_retries),
		cmocka_unit_test(test_hello_pending_at_stop),
		cmocka_unit_test(test_pending_bound),
		cmocka_unit_test(test_host_destroyed_with_apps),
		cmocka_unit_test(test_attach_any),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
