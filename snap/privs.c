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

#include "snap/config.h"
#include "snap/log.h"
#include "snap/privs.h"

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

/* Add cap to the sets of type, and to those an upgrade's exec keeps (inheritable: a root
 * process's new image gets its inheritable set; ambient: another uid's gets that one). */
static void keep(unsigned type, bool exec, int cap)
{
	capng_update(CAPNG_ADD, type, (unsigned)cap);
	if (exec)
		capng_update(CAPNG_ADD, CAPNG_INHERITABLE | CAPNG_AMBIENT | CAPNG_PERMITTED,
			     (unsigned)cap);
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
	bool nice = capng_have_capability(CAPNG_EFFECTIVE, CAP_SYS_NICE);
	/* The bounding set can only shrink with CAP_SETPCAP: a new binary of an upgrade
	 * starts with it empty already. */
	bool setpcap = capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP);
	capng_clear(CAPNG_SELECT_ALL);
	unsigned type = CAPNG_EFFECTIVE | CAPNG_PERMITTED;
	if (raw || xdp)
		keep(type, true, CAP_NET_RAW);
	if (xdp) {
		keep(type, true, CAP_NET_ADMIN);
		keep(type, true, CAP_SYS_ADMIN);
		/* A umem registered again (an upgrade, a roll-back) is charged to
		 * RLIMIT_MEMLOCK without it. */
		keep(type, true, CAP_IPC_LOCK);
#ifdef CAP_BPF
		keep(type, true, CAP_BPF);
#endif
	}
	/* A tap is created at start-up only: the daemon never uses CAP_NET_ADMIN afterwards,
	 * its next binary does (permitted, for ambient, not effective). */
	if (tap)
		keep(0, true, CAP_NET_ADMIN);
	/* Real-time engine groups (SCHED_DEADLINE) need CAP_SYS_NICE when threads move, in
	 * this binary and the next. */
	if (nice)
		keep(type, true, CAP_SYS_NICE);
	bool become = cfg->user[0] && geteuid() == 0;
	/* The sets before the bounding set: a capability outside it cannot be made inheritable
	 * any more. */
	int r = capng_apply(CAPNG_SELECT_CAPS);
	if (r == 0)
		r = become ? change_id(cfg) : setpcap ? capng_apply(CAPNG_SELECT_BOUNDS) : 0;
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
