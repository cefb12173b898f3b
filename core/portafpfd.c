/* af_packet rx "interrupts": the queue's own packet socket, which the kernel makes readable
 * as it fills the socket's receive ring, for the queue's owner to sleep on.
 *
 * DPDK 22.11's af_packet PMD has no rx interrupts (no rx_queue_intr_enable, no interrupt
 * fds), so a spreading engine on an af_packet port could only poll with back-off. But each
 * queue pair of that PMD is one AF_PACKET socket with a TPACKET_V2 ring, bound to the
 * interface, opened at probe and closed at stop; and a packet socket with a receive ring
 * polls readable while the frame before the kernel's next one is the user's (not yet read
 * back): level-triggered on the ring itself, so an engine that looked at the ring last,
 * found it empty and then sleeps cannot miss a frame (the kernel wakes the socket's
 * waiters after each frame it writes). Nothing to arm, nothing to drain.
 *
 * The socket is the PMD's private fd, which no API hands out: it is found among this
 * process's descriptors as the one AF_PACKET socket, bound to the port's interface, with a
 * TPACKET_V2 ring. Only a one-queue port qualifies: with several, nothing tells which
 * socket is which queue (they are the same but for their fd numbers), and sleeping on
 * another queue's socket would miss wake-ups. A second such socket (another port on the
 * same interface) makes the answer ambiguous: refused the same way. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_ether.h>
#include <linux/if_packet.h>

#include <rte_ethdev.h>

#include "snap/port.h"

/* fd's an AF_PACKET socket with a TPACKET_V2 ring bound to ifindex. */
static bool afp_ring_socket(int fd, int ifindex)
{
	int dom = 0, ver = -1;
	socklen_t l = sizeof(dom);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &l) < 0 || dom != AF_PACKET)
		return false;
	struct sockaddr_ll sll;
	memset(&sll, 0, sizeof(sll));
	l = sizeof(sll);
	if (getsockname(fd, (struct sockaddr *)&sll, &l) < 0 || sll.sll_ifindex != ifindex)
		return false;
	l = sizeof(ver);
	return getsockopt(fd, SOL_PACKET, PACKET_VERSION, &ver, &l) == 0 && ver == TPACKET_V2;
}

int snap_port_afp_rx_fd(const struct snap_port *p, uint16_t q)
{
	if (p->kind != SNAP_PORT_AF_PACKET || p->n_rxq != 1 || q != 0 ||
	    !snap_port_device_open(p))
		return -ENOTSUP;
	struct rte_eth_dev_info info;
	if (rte_eth_dev_info_get(p->port_id, &info) != 0 || info.if_index == 0)
		return -ENOTSUP;
	DIR *d = opendir("/proc/self/fd");
	if (d == NULL)
		return -errno;
	int found = -ENOENT;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		char *end;
		long fd = strtol(de->d_name, &end, 10);
		if (*end != '\0' || end == de->d_name || fd < 0 || fd == dirfd(d))
			continue;
		if (!afp_ring_socket((int)fd, (int)info.if_index))
			continue;
		if (found >= 0) {
			found = -EEXIST; /* two: which one is ours cannot be told */
			break;
		}
		found = (int)fd;
	}
	closedir(d);
	return found;
}
