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

int snap_privs_drop(const struct snap_config *cfg)
{
	capng_get_caps_process();
	if (capng_have_capabilities(CAPNG_SELECT_CAPS) == CAPNG_NONE) {
		describe();
		SNAP_LOG(INFO, "capabilities after start-up: %s", desc);
		return 0;
	}
	bool raw = false, xdp = false;
	for (unsigned i = 0; i < cfg->n_ports; i++) {
		raw |= cfg->ports[i].kind == SNAP_PORT_AF_PACKET;
		xdp |= cfg->ports[i].kind == SNAP_PORT_AF_XDP;
	}
	bool nice = capng_have_capability(CAPNG_EFFECTIVE, CAP_SYS_NICE);
	capng_clear(CAPNG_SELECT_BOTH);
	unsigned type = CAPNG_EFFECTIVE | CAPNG_PERMITTED;
	if (raw || xdp)
		capng_update(CAPNG_ADD, type, CAP_NET_RAW);
	if (xdp) {
		capng_update(CAPNG_ADD, type, CAP_NET_ADMIN);
		capng_update(CAPNG_ADD, type, CAP_SYS_ADMIN);
#ifdef CAP_BPF
		capng_update(CAPNG_ADD, type, CAP_BPF);
#endif
	}
	/* Real-time engine groups (SCHED_DEADLINE) need CAP_SYS_NICE when threads move. */
	if (nice)
		capng_update(CAPNG_ADD, type, CAP_SYS_NICE);
	bool become = cfg->user[0] && geteuid() == 0;
	int r = become ? change_id(cfg) : capng_apply(CAPNG_SELECT_BOTH);
	if (r < 0 && become)
		return r; /* the operator asked for another user: not running as it is fatal */
	capng_get_caps_process();
	describe();
	if (r < 0) {
		SNAP_LOG(WARNING, "could not drop capabilities (capng_apply: %d); keeping: %s", r,
			 desc);
		return -EPERM;
	}
	SNAP_LOG(INFO, "capabilities after start-up: %s", desc);
	return 0;
}
