/* The control thread's event loop (core/loop.c): its fd table grows past the old fixed
 * 1,024 slots, and an fd it cannot watch is refused with an error and counted (issue 14),
 * never silently dropped; a timer can defer itself. No EAL: the loop and its rate-limited log need none. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/loop.h"

#define N_FDS 1100

static int fired;

static void on_fd(int fd, void *arg)
{
	uint64_t v;
	if (read(fd, &v, sizeof(v)) == sizeof(v))
		fired++;
}

static void on_timer(uint64_t now_ns, void *arg)
{
	snap_loop_stop();
}

static void test_grow_and_refuse(void **state)
{
	struct rlimit rl, old;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	if (old.rlim_max != RLIM_INFINITY && old.rlim_max < N_FDS + 64)
		skip();
	rl = old;
	rl.rlim_cur = N_FDS + 64;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_int_equal(snap_loop_init(), 0);
	static int fds[N_FDS];
	for (int i = 0; i < N_FDS; i++) {
		fds[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		assert_true(fds[i] >= 0);
		assert_int_equal(snap_loop_add_fd(fds[i], on_fd, NULL), 0);
	}
	assert_int_equal(snap_loop_add_fd(fds[0], on_fd, NULL), -EEXIST);
	struct snap_loop_stats st;
	snap_loop_get_stats(&st);
	assert_int_equal(st.fds, N_FDS);
	assert_int_equal(st.fd_refused, 0);
	/* The highest fd still gets its events. */
	uint64_t one = 1;
	assert_int_equal(write(fds[N_FDS - 1], &one, sizeof(one)), sizeof(one));
	assert_int_equal(snap_loop_add_timer(50, on_timer, NULL), 0);
	snap_loop_run();
	assert_int_equal(fired, 1);
	/* Above the fd limit (lowered after the fd was opened): refused and counted. */
	int high = fds[N_FDS - 1];
	assert_int_equal(snap_loop_del_fd(high), 0);
	assert_int_equal(snap_loop_del_fd(high), -ENOENT);
	rl.rlim_cur = 256;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	snap_loop_fini(); /* the table starts over: growing it must consult the limit */
	assert_int_equal(snap_loop_init(), 0);
	assert_int_equal(snap_loop_add_fd(high, on_fd, NULL), -EMFILE);
	snap_loop_get_stats(&st);
	assert_int_equal(st.fd_refused, 1);
	assert_int_equal(snap_loop_add_fd(-1, on_fd, NULL), -EBADF);
	snap_loop_fini();
	for (int i = 0; i < N_FDS; i++)
		close(fds[i]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	(void)state;
}

static int deferred_runs, stopper_runs;

static void on_deferred(uint64_t now_ns, void *arg)
{
	deferred_runs++;
	assert_int_equal(snap_loop_timer_defer(on_deferred, arg, 60000), 0);
}

static void on_stopper(uint64_t now_ns, void *arg)
{
	if (++stopper_runs == 3)
		snap_loop_stop();
}

/* A timer that defers itself (the compacting controller with no compacting group) is not
 * called at its period meanwhile; other timers keep theirs. */
static void test_timer_defer(void **state)
{
	assert_int_equal(snap_loop_init(), 0);
	assert_int_equal(snap_loop_timer_defer(on_deferred, NULL, 1), -ENOENT);
	assert_int_equal(snap_loop_add_timer(1, on_deferred, NULL), 0);
	assert_int_equal(snap_loop_add_timer(20, on_stopper, NULL), 0);
	snap_loop_run();
	assert_int_equal(stopper_runs, 3);
	assert_int_equal(deferred_runs, 1);
	snap_loop_fini();
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grow_and_refuse),
		cmocka_unit_test(test_timer_defer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
