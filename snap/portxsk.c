/* The AF_XDP sockets this process holds. DPDK 22.11's af_xdp PMD (with libxdp) leaves a
 * queue's socket open when its device is closed, which keeps the queue bound: an upgrade's
 * new daemon (or a roll-back) then gets EBUSY. port.c notes which sockets a device opened
 * and closes what its removal left. */
#include <dirent.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "snap/portsetup.h"

#ifndef AF_XDP
#define AF_XDP 44
#endif

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
		int dom = 0;
		socklen_t len = sizeof(dom);
		if (*end == '\0' && e->d_name[0] && fd != dirfd(d) &&
		    getsockopt((int)fd, SOL_SOCKET, SO_DOMAIN, &dom, &len) == 0 && dom == AF_XDP)
			fds[n++] = (int)fd;
	}
	closedir(d);
	return n;
}

bool snap_xsk_is(int fd)
{
	int dom = 0;
	socklen_t len = sizeof(dom);
	return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &len) == 0 && dom == AF_XDP;
}
