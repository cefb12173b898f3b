/* core/paths.c and core/unixsock.c: run dir checks, trusted dirs, names inside a dir, the
 * clients' peer check against a listener of our own, and the listener helper's refusal to
 * touch a non-socket path (a planted symlink). No privileges needed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/paths.h"
#include "core/unixsock.h"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/snap-paths-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void path(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

static void test_run_dir(void **state)
{
	char p[128], err[512];
	path(p, sizeof(p), "run");
	umask(002); /* a group-writable umask must not leave a new run dir group-writable */
	assert_int_equal(snap_paths_run_dir_prepare(p, err, sizeof(err)), 0);
	umask(022);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0755);
	assert_int_equal(snap_paths_run_dir_prepare(p, err, sizeof(err)), 0);
	chmod(p, 0775);
	assert_int_equal(snap_paths_run_dir_prepare(p, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "mode 0775"));
	char l[128];
	path(l, sizeof(l), "link");
	assert_int_equal(symlink(p, l), 0);
	assert_int_equal(snap_paths_run_dir_prepare(l, err, sizeof(err)), -ENOTDIR);
	assert_non_null(strstr(err, "symlink"));
}

static void test_name_in(void **state)
{
	char p[128], err[512];
	assert_string_equal(snap_paths_name_in(dir, "x.pcapng", err, sizeof(err)), "x.pcapng");
	path(p, sizeof(p), "x.pcapng");
	assert_string_equal(snap_paths_name_in(dir, p, err, sizeof(err)), "x.pcapng");
	assert_null(snap_paths_name_in(dir, "..", err, sizeof(err)));
	assert_null(snap_paths_name_in(dir, "../x", err, sizeof(err)));
	path(p, sizeof(p), "sub/../../x");
	assert_null(snap_paths_name_in(dir, p, err, sizeof(err)));
	assert_null(snap_paths_name_in(dir, "/etc/passwd", err, sizeof(err)));
	assert_non_null(strstr(err, "outside"));
	path(p, sizeof(p), "");
	assert_null(snap_paths_name_in(dir, p, err, sizeof(err)));
}

static void test_trusted_dir(void **state)
{
	char err[512];
	int fd = snap_paths_open_trusted_dir(dir, "capture_dir", err, sizeof(err));
	assert_true(fd >= 0);
	close(fd);
	chmod(dir, 0777);
	assert_int_equal(snap_paths_open_trusted_dir(dir, "capture_dir", err, sizeof(err)),
			 -EPERM);
	assert_non_null(strstr(err, "refusing capture_dir"));
	chmod(dir, 0700);
}

static void test_listen_and_peer(void **state)
{
	char p[128], err[512];
	path(p, sizeof(p), "s.sock");
	int l = snap_unix_listen(p, SOCK_STREAM, 0640, -1, 4, err, sizeof(err));
	assert_true(l >= 0);
	struct stat st;
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	/* A live server is never replaced. */
	assert_int_equal(snap_unix_listen(p, SOCK_STREAM, 0640, -1, 4, err, sizeof(err)),
			 -EADDRINUSE);
	/* Our own listener in our own dir passes the clients' check. */
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, p, strlen(p) + 1); /* short: dir is /tmp/snap-paths-XXXXXX */
	assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(snap_paths_peer_check(c, p, err, sizeof(err)), 0);
	/* Unless the dir is writable by others (and we are not root). */
	chmod(dir, 0777);
	int r = snap_paths_peer_check(c, p, err, sizeof(err));
	chmod(dir, 0700);
	if (geteuid() != 0) {
		assert_int_equal(r, -EPERM);
		assert_non_null(strstr(err, "peer credentials"));
	}
	close(c);
	close(l);
	/* A stale socket (its server gone) is replaced. */
	l = snap_unix_listen(p, SOCK_STREAM, 0600, -1, 4, err, sizeof(err));
	assert_true(l >= 0);
	close(l);
}

static void test_symlink_not_followed(void **state)
{
	char p[128], victim[128], err[512];
	path(victim, sizeof(victim), "victim");
	path(p, sizeof(p), "planted.sock");
	FILE *f = fopen(victim, "w");
	fclose(f);
	chmod(victim, 0600);
	assert_int_equal(symlink(victim, p), 0);
	assert_int_equal(snap_unix_listen(p, SOCK_SEQPACKET, 0666, -1, 4, err, sizeof(err)),
			 -EEXIST);
	assert_non_null(strstr(err, "not a socket"));
	struct stat st;
	assert_int_equal(stat(victim, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_run_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_name_in, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trusted_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listen_and_peer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_not_followed, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
