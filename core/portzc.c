/* memif zero-copy (a memif client's `zero_copy = true;`).
 *
 * DPDK's memif PMD in zero-copy mode exports the client's DPDK memory (every memory segment
 * list, as shared-memory regions) to the server, which then reads transmitted frames out
 * of the client's mbufs and writes received frames straight into them: the client makes
 * no copy either way. Four things make that safe to offer:
 *  - Trust. The server can read and write all of the client's DPDK heap, not only packet
 *    buffers (the engines' tables live there too). So the server must be root or this
 *    daemon's user: the socket's directory must be owned by one of them and writable by
 *    nobody else, so no other local user can put a socket there.
 *  - Memory layout. In 22.11 the PMD names region 1 in every descriptor it transmits
 *    (the PMD leaves the region index as a to-do), i.e. the first memory segment list
 *    the EAL walks: an mbuf outside that list would be read from the wrong place. Every
 *    mempool must lie in it: checked before the port starts and again once every port's
 *    pool is made (snap_ports_create).
 *  - The EAL must keep each segment list in one file (--single-file-segments; eal.c adds
 *    it), or the PMD refuses the device.
 *  - Reconnects. The PMD gets each region's fd from rte_memseg_get_fd(), which returns the
 *    EAL's own fd, and closes it when the connection ends (memif_free_regions). The next
 *    connection then sends the server a closed fd number, or one reused by another file of
 *    ours: the server's mmap fails ("No such device") and the link never comes back after
 *    the server restarts (or the client's first attempt before the server was up). The
 *    memif PMD is the only caller of that function in DPDK 22.11, so the daemon
 *    interposes it (the executable's symbol comes first in the dynamic lookup; meson.build
 *    exports it) and hands out a duplicate, which the PMD may close.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_errno.h>
#include <rte_memory.h>
#include <rte_mempool.h>

#include "core/config.h"
#include "core/paths.h"
#include "core/portsetup.h"

int rte_memseg_get_fd(const struct rte_memseg *ms);
int rte_memseg_get_fd(const struct rte_memseg *ms)
{
	typedef int get_fd_fn(const struct rte_memseg *);
	static get_fd_fn *real;
	if (real == NULL) {
		/* POSIX lets a data pointer from dlsym become a function pointer this way. */
		*(void **)&real = dlsym(RTLD_NEXT, "rte_memseg_get_fd");
		if (real == NULL) {
			rte_errno = ENOTSUP;
			return -1;
		}
	}
	int fd = real(ms);
	if (fd < 0)
		return fd;
	int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (dup_fd < 0)
		rte_errno = errno;
	return dup_fd;
}

bool snap_port_cfg_zero_copy_any(const struct snap_config *cfg)
{
	for (unsigned i = 0; i < cfg->n_ports; i++)
		if (cfg->ports[i].zero_copy)
			return true;
	return false;
}

/* The memory segment list the PMD's region 1 maps: the first one rte_memseg_walk visits
 * (it skips external lists). */
static int first_msl(const struct rte_memseg_list *msl, const struct rte_memseg *ms, void *arg)
{
	(void)ms;
	*(const struct rte_memseg_list **)arg = msl;
	return 1;
}

struct zc_walk {
	const struct rte_memseg_list *msl;
	const char *bad_pool;
};

static void chunk_in_msl(struct rte_mempool *mp, void *arg, struct rte_mempool_memhdr *hdr,
			 unsigned idx)
{
	(void)idx;
	struct zc_walk *w = arg;
	const char *end = (const char *)hdr->addr + hdr->len - 1;
	if (rte_mem_virt2memseg_list(hdr->addr) != w->msl ||
	    rte_mem_virt2memseg_list(end) != w->msl)
		w->bad_pool = mp->name;
}

static void pool_in_msl(struct rte_mempool *mp, void *arg)
{
	rte_mempool_mem_iter(mp, chunk_in_msl, arg);
}

int snap_port_zc_check(const struct snap_port_cfg *pc, char *err, size_t errlen)
{
	char dir[SNAP_PATH_MAX];
	const char *slash = strrchr(pc->socket, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash == pc->socket ? 1 : slash - pc->socket),
			 pc->socket);
	char why[512];
	int fd = snap_paths_open_trusted_dir(dir, "socket directory", why, sizeof(why));
	if (fd < 0) {
		snprintf(err, errlen, "port %s: zero_copy lets the memif server read and write this "
			 "daemon's memory, so only root or this daemon's user may serve it: %s",
			 pc->name, why);
		return fd;
	}
	close(fd);
	struct zc_walk w = {0};
	rte_memseg_walk(first_msl, &w.msl);
	if (w.msl == NULL) {
		snprintf(err, errlen, "port %s: zero_copy: no DPDK memory segments to share",
			 pc->name);
		return -ENOMEM;
	}
	rte_mempool_walk(pool_in_msl, &w);
	if (w.bad_pool) {
		snprintf(err, errlen, "port %s: zero_copy: mempool %s lies outside the first memory "
			 "segment list, which is the only one DPDK 22.11's memif sends from (use "
			 "one hugepage size on one NUMA node, or no hugepages)", pc->name, w.bad_pool);
		return -EXDEV;
	}
	return 0;
}
