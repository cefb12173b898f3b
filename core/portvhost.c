/* A nudge for DPDK 22.11's vhost library. Its event thread polls a set of fds with a 1 s
 * timeout and is woken when a connection joins the set, but not when a server's listening
 * socket does: a vhost-user server port opened while the thread sleeps accepts nobody for up
 * to a second. At start-up that goes unseen; after an upgrade's hand-over (or a roll-back)
 * it is the peer's whole outage. So after opening such a port we make the library wake its
 * thread the one way it does: a client connection of its own, to a listener of ours in a
 * private directory (a vhost-user client trusts whatever answers on its path, so the path
 * must be one nobody else can replace), dropped at once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <rte_vhost.h>

#include "snap/log.h"
#include "core/portsetup.h"

static int new_device(int vid)
{
	return -1; /* never a device: this connection only wakes the event thread */
}

static void destroy_device(int vid)
{
}

static const struct rte_vhost_device_ops kick_ops = {
	.new_device = new_device,
	.destroy_device = destroy_device,
};

int snap_vhost_wake(void)
{
	char dir[] = "/tmp/snapnetd-vhost.XXXXXX";
	if (mkdtemp(dir) == NULL)
		return -errno;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/kick", dir);
	int r = 0, l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) || listen(l, 1))
		r = -errno;
	if (r == 0 && (rte_vhost_driver_register(sa.sun_path, RTE_VHOST_USER_CLIENT |
							     RTE_VHOST_USER_NO_RECONNECT) ||
		       rte_vhost_driver_callback_register(sa.sun_path, &kick_ops) ||
		       rte_vhost_driver_start(sa.sun_path)))
		r = -EIO;
	/* Connected (the listener's backlog took it): the library added the connection and
	 * woke its thread. Unregistering closes it. */
	rte_vhost_driver_unregister(sa.sun_path);
	if (l >= 0)
		close(l);
	unlink(sa.sun_path);
	rmdir(dir);
	return r;
}
