/* What DPDK 22.11's af_xdp PMD (with libxdp, single-program mode) leaves behind when its
 * device is removed (or its set-up fails), which keeps the queue bound (EBUSY for the next
 * opener: an upgrade's new daemon, a roll-back): the queues' AF_XDP sockets, still open,
 * and the XDP program and socket map that still hold them. port.c has the fds a port's
 * set-up opened noted here and, after removing the device, closed, and the program
 * detached. And the way back in: a probe that tells when the kernel has freed a queue, and
 * the re-open that waits for it. */
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_xdp.h>

#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <rte_mempool.h>

#include "core/config.h"
#include "snap/log.h"
#include "core/fdreg.h"
#include "core/loop.h"
#include "snap/port.h"
#include "core/portsetup.h"

#ifndef AF_XDP
#define AF_XDP 44
#endif
#ifndef SOL_XDP
#define SOL_XDP 283
#endif

bool snap_xsk_is(int fd)
{
	int dom = 0;
	socklen_t len = sizeof(dom);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &len) == 0)
		return dom == AF_XDP;
	/* The program and its socket map (which holds the sockets). */
	char link[32];
	if (snap_fd_link(fd, link, sizeof(link)) < 0)
		return false;
	return strcmp(link, "anon_inode:bpf-map") == 0 || strcmp(link, "anon_inode:bpf-prog") == 0;
}

unsigned snap_xsk_fds(int *fds, unsigned max)
{
	DIR *d = opendir("/proc/self/fd");
	if (d == NULL)
		return 0;
	unsigned n = 0;
	struct dirent *e;
	while (n < max && (e = readdir(d)) != NULL) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		if (*end == '\0' && e->d_name[0] && fd != dirfd(d) && snap_xsk_is((int)fd))
			fds[n++] = (int)fd;
	}
	closedir(d);
	return n;
}

#define NOTE_MAX (2 * SNAP_PORT_QUEUES_MAX + 4)
#define FDS_MAX (NOTE_MAX * SNAP_CFG_PORTS_MAX)

static int noted[SNAP_CFG_PORTS_MAX][NOTE_MAX];
static unsigned n_noted[SNAP_CFG_PORTS_MAX];
static int before[FDS_MAX];
static unsigned n_before;

void snap_xdp_note_begin(void)
{
	n_before = snap_xsk_fds(before, FDS_MAX);
}

void snap_xdp_note_end(unsigned port)
{
	int after[FDS_MAX];
	unsigned na = port < SNAP_CFG_PORTS_MAX ? snap_xsk_fds(after, FDS_MAX) : 0;
	for (unsigned a = 0; a < na; a++) {
		bool old = false;
		for (unsigned b = 0; b < n_before; b++)
			old |= before[b] == after[a];
		if (!old && n_noted[port] < NOTE_MAX)
			noted[port][n_noted[port]++] = after[a];
	}
}

struct xdp_req {
	struct nlmsghdr nh;
	struct ifinfomsg ifi;
	struct rtattr xdp;        /* IFLA_XDP, nesting the two below */
	struct rtattr fd_attr;    /* IFLA_XDP_FD = -1: none */
	int32_t fd;
	struct rtattr flags_attr; /* IFLA_XDP_FLAGS: the mode */
	uint32_t flags;
};

/* One detach request for the mode in flags: the kernel's ack status. */
static int detach_mode(int s, int ifindex, uint32_t flags)
{
	struct xdp_req q = {0};
	q.nh.nlmsg_len = sizeof(q);
	q.nh.nlmsg_type = RTM_SETLINK;
	q.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	q.ifi.ifi_family = AF_UNSPEC;
	q.ifi.ifi_index = ifindex;
	q.xdp.rta_type = IFLA_XDP | NLA_F_NESTED;
	q.xdp.rta_len = sizeof(q) - offsetof(struct xdp_req, xdp);
	q.fd_attr.rta_type = IFLA_XDP_FD;
	q.fd_attr.rta_len = RTA_LENGTH(sizeof(q.fd));
	q.fd = -1;
	q.flags_attr.rta_type = IFLA_XDP_FLAGS;
	q.flags_attr.rta_len = RTA_LENGTH(sizeof(q.flags));
	q.flags = flags;
	if (send(s, &q, sizeof(q), 0) != (ssize_t)sizeof(q))
		return -errno;
	char buf[512];
	ssize_t n = recv(s, buf, sizeof(buf), 0);
	if (n < 0)
		return -errno;
	const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
	if ((size_t)n < NLMSG_LENGTH(sizeof(struct nlmsgerr)) || h->nlmsg_type != NLMSG_ERROR)
		return -EPROTO;
	struct nlmsgerr e;
	memcpy(&e, NLMSG_DATA(h), sizeof(e));
	return e.error;
}

int snap_xdp_detach(const char *iface)
{
	int ifindex = (int)if_nametoindex(iface);
	if (ifindex == 0)
		return -ENODEV;
	int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (s < 0)
		return -errno;
	struct timeval tv = {.tv_sec = 1};
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/* Whichever mode libxdp chose; detaching an empty mode is no error. */
	int r = detach_mode(s, ifindex, XDP_FLAGS_DRV_MODE);
	int r2 = detach_mode(s, ifindex, XDP_FLAGS_SKB_MODE);
	close(s);
	return r ? r : r2;
}

int snap_xdp_leftovers_close(unsigned port, const char *iface)
{
	uint64_t t0 = snap_loop_now_ns();
	unsigned n = 0;
	for (unsigned k = 0; port < SNAP_CFG_PORTS_MAX && k < n_noted[port]; k++)
		if (snap_xsk_is(noted[port][k])) {
			close(noted[port][k]);
			n++;
		}
	if (port < SNAP_CFG_PORTS_MAX)
		n_noted[port] = 0;
	uint64_t t1 = snap_loop_now_ns();
	int r = snap_xdp_detach(iface);
	SNAP_LOG(INFO, "%s: %u af_xdp leftovers closed in %.1f ms, program detached in %.1f ms",
		 iface, n, (t1 - t0) / 1e6, (snap_loop_now_ns() - t1) / 1e6);
	return r;
}

int snap_xsk_queue_held(const char *iface, unsigned q)
{
	int ifindex = (int)if_nametoindex(iface);
	if (ifindex == 0)
		return -ENODEV;
	/* The smallest socket bind takes: a two-chunk umem with fill, completion and rx
	 * rings of two entries. Its pages stay pinned until the kernel frees the umem. */
	enum { CHUNK = 4096, RING = 2 };
	void *area = mmap(NULL, 2 * CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	if (area == MAP_FAILED)
		return -errno;
	int r = 0, fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
	struct xdp_umem_reg reg = {.addr = (uintptr_t)area, .len = 2 * CHUNK, .chunk_size = CHUNK};
	int ring = RING;
	if (fd < 0 || setsockopt(fd, SOL_XDP, XDP_UMEM_REG, &reg, sizeof(reg)) ||
	    setsockopt(fd, SOL_XDP, XDP_UMEM_FILL_RING, &ring, sizeof(ring)) ||
	    setsockopt(fd, SOL_XDP, XDP_UMEM_COMPLETION_RING, &ring, sizeof(ring)) ||
	    setsockopt(fd, SOL_XDP, XDP_RX_RING, &ring, sizeof(ring))) {
		r = -errno;
	} else {
		struct sockaddr_xdp sa = {.sxdp_family = AF_XDP, .sxdp_ifindex = (uint32_t)ifindex,
					  .sxdp_queue_id = q, .sxdp_flags = XDP_ZEROCOPY};
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			r = -EAGAIN;
		else
			r = errno == EBUSY ? 1 : (errno == EOPNOTSUPP || errno == EINVAL) ? 0 : -errno;
	}
	if (fd >= 0)
		close(fd);
	munmap(area, 2 * CHUNK);
	return r;
}

/* The kernel frees an AF_XDP queue only after a chain of deferred frees (program, socket
 * map, socket, buffer pool) once the old daemon let go of it: bind says EBUSY until then,
 * 10 ms to over 100 ms on a loaded machine. And each failed open of the 22.11 PMD loses a
 * fill ring's worth of p's mbufs (XSK_FILL_MBUFS a queue: handed to a fill ring that is
 * then destroyed), which engines restored here may already hold buffers of, so the pool
 * cannot be made anew: wait for the queues with a probe that takes nothing
 * (snap_xsk_queue_held), then open, and try again only while the pool still has what an
 * open takes. */
#define XSK_FILL_MBUFS 2048u
#define XSK_WAIT_MS 2000u /* for the kernel to free an af_xdp port's queues */
int snap_xdp_reopen(struct snap_port *p, const struct snap_port_cfg *pc, uint64_t t0)
{
	uint64_t limit = t0 + XSK_WAIT_MS * 1000000ull;
	unsigned tries = 0, waits = 0;
	int r;
	do {
		if (tries++)
			usleep(5000);
		for (unsigned q = 0; q < pc->queues; q++) {
			int h;
			while ((h = snap_xsk_queue_held(pc->iface, q)) == 1 &&
			       snap_loop_now_ns() < limit) {
				waits++;
				usleep(1000);
			}
			if (h < 0 && h != -EAGAIN)
				SNAP_LOG(WARNING, "port %s: cannot tell whether queue %u of %s is free: "
					 "%s", p->name, q, pc->iface, strerror(-h));
		}
		r = snap_port_reopen(p, pc);
	} while (r && snap_loop_now_ns() < limit &&
		 rte_mempool_avail_count(p->pool) >= XSK_FILL_MBUFS * pc->queues + 2 * 1024u);
	if (r == 0)
		SNAP_LOG(INFO, "port %s: opened after %.1f ms (%u ms waiting for the kernel to free "
			 "its queues, %u open tries)", p->name, (snap_loop_now_ns() - t0) / 1e6,
			 waits, tries);
	else
		SNAP_LOG(ERR, "port %s: not opened after %.1f ms and %u tries (%u mbufs of %u left)",
			 p->name, (snap_loop_now_ns() - t0) / 1e6, tries,
			 rte_mempool_avail_count(p->pool), p->pool->size);
	return r;
}
