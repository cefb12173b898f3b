/* Capability dropping after start-up, with libcap-ng. */
#include <cap-ng.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_eal.h>

#include "core/config.h"
#include "snap/log.h"
#include "core/privs.h"

static char desc[256] = "none";

static void describe(void)
{
	char *t = capng_print_caps_text(CAPNG_PRINT_BUFFER, CAPNG_EFFECTIVE);
	snprintf(desc, sizeof(desc), "%s", t && t[0] ? t : "none");
	free(t);
}

/* Give dir and the entries in it (sockets, DPDK's lock and map files) to uid:gid, without
 * following links, so the daemon can still remove them at exit and clients see a run dir
 * owned by the uid that serves it (their peer check). Not recursive: both dirs are flat. */
static int give_dir(const char *dir, uid_t uid, gid_t gid)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	int r = fchown(dfd, uid, gid) ? -errno : 0;
	DIR *d = fdopendir(dup(dfd));
	struct dirent *e;
	while (r == 0 && d != NULL && (e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    fchownat(dfd, e->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
			r = -errno;
	if (d)
		closedir(d);
	close(dfd);
	return r;
}

/* daemon.user/group: become that user with only the kept capabilities (capng's state). */
static int change_id(const struct snap_config *cfg)
{
	uid_t uid = (uid_t)cfg->run_uid;
	gid_t gid = (gid_t)cfg->run_gid;
	int r = give_dir(cfg->run_dir, uid, gid);
	const char *eal = rte_eal_get_runtime_dir();
	if (r == 0 && eal && eal[0])
		r = give_dir(eal, uid, gid);
	if (r < 0) {
		SNAP_LOG(ERR, "user %s: cannot hand the run dirs over: %s; staying uid %u",
			 cfg->user, strerror(-r), (unsigned)geteuid());
		return r;
	}
	r = capng_change_id((int)uid, (int)gid, CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING);
	if (r < 0) {
		SNAP_LOG(ERR, "user %s: capng_change_id failed (%d); staying uid %u", cfg->user, r,
			 (unsigned)geteuid());
		return -EPERM;
	}
	SNAP_LOG(NOTICE, "running as user %s (uid %u, gid %u)", cfg->user, (unsigned)uid,
		 (unsigned)gid);
	return 0;
}

/* Capabilities the ports' devices need to be opened: by the new binary of an upgrade (the
 * old daemon closed them, snap_port_release) and by a roll-back. */
static void port_caps(const struct snap_config *cfg, bool *raw, bool *xdp, bool *tap)
{
	*raw = *xdp = *tap = false;
	for (unsigned i = 0; i < cfg->n_ports; i++) {
		*raw |= cfg->ports[i].kind == SNAP_PORT_AF_PACKET;
		*xdp |= cfg->ports[i].kind == SNAP_PORT_AF_XDP;
		*tap |= cfg->ports[i].kind == SNAP_PORT_TAP;
	}
}

#define EXEC_CAPS_MAX 8

struct caps {
	int cap[EXEC_CAPS_MAX];
	bool eff[EXEC_CAPS_MAX]; /* used by this daemon too (else only kept for the next) */
	unsigned n;
};

static void want(struct caps *c, int cap, bool eff)
{
	if (c->n < EXEC_CAPS_MAX) {
		c->cap[c->n] = cap;
		c->eff[c->n++] = eff;
	}
}

/* Set the process's inheritable set to c's capabilities, nothing else changed: before the
 * user change, which still needs CAP_CHOWN and the rest, and before the bounding set goes
 * (a capability outside it cannot be made inheritable any more). */
static int inheritable_first(const struct caps *c)
{
	void *saved = capng_save_state();
	if (saved == NULL)
		return -ENOMEM;
	capng_get_caps_process();
	for (unsigned k = 0; k <= CAP_LAST_CAP; k++)
		capng_update(CAPNG_DROP, CAPNG_INHERITABLE, k);
	for (unsigned i = 0; i < c->n; i++)
		capng_update(CAPNG_ADD, CAPNG_INHERITABLE, (unsigned)c->cap[i]);
	int r = capng_apply(CAPNG_SELECT_CAPS);
	capng_restore_state(&saved);
	return r;
}

int snap_privs_drop(const struct snap_config *cfg)
{
	capng_get_caps_process();
	if (capng_have_capabilities(CAPNG_SELECT_CAPS) == CAPNG_NONE) {
		describe();
		SNAP_LOG(INFO, "capabilities after start-up: %s", desc);
		return 0;
	}
	bool raw, xdp, tap;
	port_caps(cfg, &raw, &xdp, &tap);
	struct caps c = {.n = 0};
	if (raw || xdp)
		want(&c, CAP_NET_RAW, true);
	if (xdp) {
		want(&c, CAP_NET_ADMIN, true);
		want(&c, CAP_SYS_ADMIN, true);
		/* A umem registered again (a roll-back, the next binary) is charged to
		 * RLIMIT_MEMLOCK without it. */
		want(&c, CAP_IPC_LOCK, true);
#ifdef CAP_BPF
		want(&c, CAP_BPF, true);
#endif
	}
	/* A tap is created at start-up only: this daemon never uses CAP_NET_ADMIN afterwards,
	 * its next binary does. */
	if (tap && !xdp)
		want(&c, CAP_NET_ADMIN, false);
	/* Real-time engine groups (SCHED_DEADLINE) need CAP_SYS_NICE when threads move, in
	 * this binary and the next. */
	if (capng_have_capability(CAPNG_EFFECTIVE, CAP_SYS_NICE))
		want(&c, CAP_SYS_NICE, true);
	/* The bounding set can only shrink with CAP_SETPCAP: a new binary of an upgrade
	 * starts with it empty already. */
	bool setpcap = capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP);
	bool become = cfg->user[0] && geteuid() == 0;
	int r = inheritable_first(&c);
	/* Kept for an upgrade's exec: a root process's new image gets the inheritable set,
	 * another uid's the ambient one (which needs the capability permitted). */
	capng_clear(CAPNG_SELECT_ALL);
	for (unsigned i = 0; i < c.n; i++) {
		unsigned k = (unsigned)c.cap[i];
		capng_update(CAPNG_ADD, CAPNG_PERMITTED | CAPNG_INHERITABLE | CAPNG_AMBIENT, k);
		if (c.eff[i])
			capng_update(CAPNG_ADD, CAPNG_EFFECTIVE, k);
	}
	if (r == 0)
		r = become ? change_id(cfg) : capng_apply(CAPNG_SELECT_CAPS);
	if (r == 0 && !become && setpcap)
		r = capng_apply(CAPNG_SELECT_BOUNDS);
	if (r < 0 && become)
		return r; /* the operator asked for another user: not running as it is fatal */
	/* After the uid change, which empties the ambient set. */
	int ra = r == 0 ? capng_apply(CAPNG_SELECT_AMBIENT) : 0;
	capng_get_caps_process();
	describe();
	if (r < 0) {
		SNAP_LOG(WARNING, "could not drop capabilities (capng_apply: %d); keeping: %s", r,
			 desc);
		return -EPERM;
	}
	if (ra < 0)
		SNAP_LOG(WARNING, "cannot keep capabilities for an upgrade's new binary "
			 "(ambient: %d): it may fail to open this daemon's ports", ra);
	SNAP_LOG(INFO, "capabilities after start-up: %s", desc);
	return 0;
}
