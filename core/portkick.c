/* memif rx interrupts: the memif protocol's own, which DPDK 22.11's PMD honours as a
 * sender but never offers as a receiver (it has no rx_queue_intr_enable).
 *
 * The protocol: every ring's header has a flags word. While MEMIF_RING_FLAG_MASK_INT is
 * clear, the producer writes the ring's eventfd after each burst it puts on the ring; the
 * PMD does so in both its transmit paths (copy and zero-copy). The PMD, as a receiver, sets
 * the flag when a connection comes up ("polling mode") and never clears it. Here an engine
 * about to sleep clears it on its rx ring and sleeps on a duplicate of that eventfd; woken,
 * it sets the flag again, so a busy receiver costs its peer no syscall. Any memif peer
 * (another snapnetd, VPP, libmemif) kicks this way: it is the protocol, not our extension.
 *
 * What it takes: the ring header and the eventfd sit in the PMD's private queue and
 * per-process structures, which no installed header describes. core/portkick_int.h mirrors the
 * few fields read here, for DPDK 22.11 only (those layouts are the same in every 22.11.x; any
 * other DPDK builds without this: engines then poll memif with back-off, as before). It
 * checks what it reads: once, the ethdev entry's device against rte_eth_dev_info_get() and
 * the driver's name; at every arm, the queue against the public fast-path table, its port
 * and direction, the region's bounds and the ring's cookie, the fd's identity (kcmp).
 * What fails turns kicks off for the queue (its owner polls with back-off).
 *
 * Two gaps, both closed by a bounded sleep (SNAP_ARM_GUARDED: the group looks again after
 * backoff_max_ns, 1 ms by default, after work, doubling to 64 ms while idle):
 *  - the PMD's transmit stores the ring's head and then loads the flags with no full fence
 *    between them, so a receiver that arms in that instant can miss the kick (our side is
 *    fenced: the arm is a locked read-modify-write before the engine's last look);
 *  - a reconnect gives the queue a new eventfd and sets the flag again (memif_connect):
 *    the next arm finds the fd changed (-ESTALE) and the owner takes the new one.
 * A disconnect unmaps the rings on the interrupt thread while the owner may be arming; the
 * PMD's own rx burst reads the same ring under the same race, and the window is the same. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <rte_ethdev.h>

#include "core/fdreg.h"

#include "core/portkick_int.h"

#ifdef KICK_LAYOUT
/* DPDK 22.11 lib/ethdev/ethdev_driver.h, struct rte_eth_dev: its layout only (we read
 * process_private and device), and its size, to index the array. */
struct m_ethdev {
	void *burst_fns[6];
	void *data;
	void *process_private;
	const void *dev_ops;
	struct rte_device *device;
	struct rte_intr_handle *intr_handle;
	void *cbs_first;
	void **cbs_last;
	void *post_rx_burst_cbs[RTE_MAX_QUEUES_PER_PORT];
	void *pre_tx_burst_cbs[RTE_MAX_QUEUES_PER_PORT];
	int state;
	void *security_ctx;
} __rte_cache_aligned;
extern struct m_ethdev snap_eth_devices[] __asm__("rte_eth_devices");

/* Read afresh at every arm: a reconnect changes both. */
int snap_portkick_find(const struct snap_port *p, uint16_t q, struct m_ring **ring, int *fd)
{
	if (!snap_port_started(p) || q >= p->n_rxq)
		return -ENOTCONN;
	const struct m_queue *mq = rte_eth_fp_ops[p->port_id].rxq.data[q];
	if (mq == NULL)
		return -ENOTCONN;
	if (mq->in_port != p->port_id || mq->type != (p->memif_client ? M_RING_S2C : M_RING_C2S))
		return -ENOTSUP;
	/* The PMD brings the link up once the rings are mapped, down before it unmaps them. */
	struct rte_eth_link link;
	if (rte_eth_link_get_nowait(p->port_id, &link) != 0 || !link.link_status)
		return -ENOTCONN;
	const struct m_private *pp = snap_eth_devices[p->port_id].process_private;
	if (pp == NULL || mq->region >= pp->regions_num || pp->regions[mq->region] == NULL)
		return -ENOTCONN;
	const struct m_region *r = pp->regions[mq->region];
	if (r->addr == NULL || (uint64_t)mq->ring_offset + sizeof(struct m_ring) > r->size)
		return -ENOTSUP;
	*ring = (struct m_ring *)((char *)r->addr + mq->ring_offset);
	if ((*ring)->cookie != M_COOKIE)
		return -ENOTSUP;
	*fd = rte_intr_fd_get(mq->intr_handle);
	return *fd >= 0 ? 0 : -ENOTCONN;
}

static bool same_file(int a, int b)
{
	pid_t me = getpid();
	return syscall(SYS_kcmp, me, me, KCMP_FILE, a, b) == 0;
}

/* Is fd an eventfd whose reads do not block (the PMD's rx burst reads it while armed)? */
static bool nonblocking_eventfd(int fd)
{
	char link[32];
	if (snap_fd_link(fd, link, sizeof(link)) < 0)
		return false;
	int fl = fcntl(fd, F_GETFL);
	return strcmp(link, "anon_inode:[eventfd]") == 0 && fl >= 0 && (fl & O_NONBLOCK);
}

int snap_port_kick_open(const struct snap_port *p, uint16_t q)
{
	if (p->kind != SNAP_PORT_MEMIF)
		return -ENOTSUP;
	struct rte_eth_dev_info info;
	if (rte_eth_dev_info_get(p->port_id, &info) != 0 || info.driver_name == NULL ||
	    strcmp(info.driver_name, "net_memif") != 0 ||
	    snap_eth_devices[p->port_id].device != info.device)
		return -ENOTSUP;
	struct m_ring *ring;
	int pfd, r = snap_portkick_find(p, q, &ring, &pfd);
	if (r)
		return r;
	int fd = fcntl(pfd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return -errno;
	/* kcmp missing (a kernel without CONFIG_KCMP, a seccomp filter) would leave a
	 * reconnect's new fd unnoticed: no kicks then. The type check: the PMD's fd may have
	 * been closed and its number reused between the two calls above. */
	if (!same_file(fd, pfd) || !nonblocking_eventfd(fd)) {
		close(fd);
		return -ENOTSUP;
	}
	return fd;
}

int snap_port_kick_arm(const struct snap_port *p, uint16_t q, int fd, bool arm)
{
	struct m_ring *ring;
	int pfd, r = snap_portkick_find(p, q, &ring, &pfd);
	if (r)
		return r;
	if (!arm) {
		__atomic_or_fetch(&ring->flags, M_MASK_INT, __ATOMIC_RELAXED);
		return 0;
	}
	if (!same_file(fd, pfd))
		return -ESTALE;
	/* A locked RMW: also the full fence between this store and the engine's last look at
	 * the ring's head (the other half of the kick protocol is the peer's). */
	__atomic_and_fetch(&ring->flags, (uint16_t)~M_MASK_INT, __ATOMIC_SEQ_CST);
	return 0;
}

#else /* another DPDK: no mirrored layout, engines poll memif with back-off */

int snap_port_kick_open(const struct snap_port *p, uint16_t q)
{
	(void)p, (void)q;
	return -ENOTSUP;
}

int snap_port_kick_arm(const struct snap_port *p, uint16_t q, int fd, bool arm)
{
	(void)p, (void)q, (void)fd, (void)arm;
	return -ENOTSUP;
}

#endif
