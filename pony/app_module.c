/* App-attach module glue: the attach layer's fds go onto the control loop (listener and app
 * sockets) and into the fd registry (all of them, for upgrade's hand-over). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "pony/app.h"
#include "pony/app_module.h"
#include "core/config.h"
#include "core/fdreg.h"
#include "snap/log.h"
#include "core/loop.h"
#include "core/module.h"
#include "core/takeover.h"

#define TICK_MS 250

static struct pony_app_attach *attach;

/* pony/app_save.c. Weak: tests link the app layer against a fake transport without it. */
extern unsigned pony_app_restored_adopt(struct pony_app_attach *a) __attribute__((weak));

static unsigned app_count(void)
{
	return attach ? pony_app_attach_count(attach) : 0;
}

static void on_readable(int fd, void *arg)
{
	pony_app_attach_handle(arg, fd, POLLIN);
}

static enum snap_fd_kind reg_kind(enum pony_app_fd_kind k)
{
	switch (k) {
	case PONY_APP_FD_LISTENER: return SNAP_FD_APP_LISTEN;
	case PONY_APP_FD_CONN: return SNAP_FD_APP_CONN;
	case PONY_APP_FD_MEMFD: return SNAP_FD_APP_MEMFD;
	default: return SNAP_FD_APP_EVENTFD;
	}
}

static int fd_added(void *ctx, int fd, enum pony_app_fd_kind kind, uint32_t app_id)
{
	static const char *const what[] = {"app listener", "app socket", "app memfd",
					   "app cmd doorbell", "app cpl doorbell"};
	snap_fdreg_add(fd, reg_kind(kind), app_id, what[kind]);
	if (kind != PONY_APP_FD_LISTENER && kind != PONY_APP_FD_CONN)
		return 0;
	/* A refusal is counted and logged (rate-limited) by the loop; a new app connection is
	 * then closed by the attach layer, which calls fd_removed (snap_loop_del_fd: -ENOENT). */
	return snap_loop_add_fd(fd, on_readable, ctx);
}

static void fd_removed(void *ctx, int fd, enum pony_app_fd_kind kind, uint32_t app_id)
{
	if (kind == PONY_APP_FD_LISTENER || kind == PONY_APP_FD_CONN)
		snap_loop_del_fd(fd);
	snap_fdreg_del(fd);
}

/* The attach layer's counters and how many hellos are pending, for `status` (apps.NAME). */
static unsigned app_counters(const char **names, uint64_t *values, unsigned max)
{
	unsigned n = 0;
	for (unsigned c = 0; attach && c < PONY_ATTACH_C_MAX && n < max; c++, n++) {
		names[n] = pony_app_attach_counter_name(c);
		values[n] = pony_app_attach_counter(attach, c);
	}
	if (attach && n < max) {
		names[n] = "pending";
		values[n++] = pony_app_attach_pending(attach);
	}
	return n;
}

static void tick(uint64_t now_ns, void *arg)
{
	if (attach)
		pony_app_attach_tick(attach);
}

int pony_app_module_reload(const struct snap_config *cfg, char *err, size_t errlen)
{
	struct pony_app_config ac;
	int r = pony_app_config_from_snap(cfg, &ac, err, errlen);
	if (r == 0 && attach)
		pony_app_attach_set_policy(attach, &ac);
	return r;
}

int pony_app_module_start(const struct snap_config *cfg, char *err, size_t errlen)
{
	static struct pony_app_config ac;
	int r = pony_app_config_from_snap(cfg, &ac, err, errlen);
	if (r)
		return r;
	int lfd = snap_takeover_take_fd(SNAP_FD_APP_LISTEN); /* upgrade: keep the listener */
	attach = lfd >= 0 ? pony_app_attach_adopt_listener(&ac, lfd) : pony_app_attach_create(&ac);
	if (attach == NULL) {
		r = -errno;
		snprintf(err, errlen, "app socket %s: %s", ac.socket_path,
			 r == -EADDRINUSE ? "another daemon is listening there" : strerror(-r));
		return r;
	}
	static const struct pony_app_attach_hooks hooks = {fd_added, fd_removed};
	pony_app_attach_set_hooks(attach, &hooks, attach);
	/* Upgrade: sessions the engines restored. */
	unsigned n = pony_app_restored_adopt ? pony_app_restored_adopt(attach) : 0;
	if (n)
		SNAP_LOG(NOTICE, "apps: %u attached apps carried over from the old daemon", n);
	r = snap_loop_add_timer(TICK_MS, tick, NULL);
	if (r) {
		snprintf(err, errlen, "apps: cannot add the housekeeping timer");
		return r;
	}
	return 0;
}

void pony_app_module_stop(void)
{
	pony_app_attach_destroy(attach);
	attach = NULL;
}

/* The fd registry records an app's socket at accept, before the app has an id; the attach
 * layer knows the id now (upgrade: the new daemon matches sockets to sessions by it). */
static uint64_t fd_owner(int fd, enum snap_fd_kind kind, uint64_t owner)
{
	if (attach == NULL || kind != SNAP_FD_APP_CONN)
		return owner;
	struct pony_app_fd l[512];
	unsigned n = pony_app_attach_fds(attach, l, 512);
	for (unsigned i = 0; i < n && i < 512; i++)
		if (l[i].fd == fd && l[i].kind == PONY_APP_FD_CONN)
			return l[i].app_id;
	return owner;
}

static const struct snap_module app_module = {
	.name = "apps", .order = 40, .start = pony_app_module_start,
	.stop = pony_app_module_stop, .reload = pony_app_module_reload,
	.sessions = app_count, .counters = app_counters, .fd_owner = fd_owner,
};
SNAP_MODULE_REGISTER(app_module)
