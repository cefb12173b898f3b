/* A port's device stopped, closed or removed without racing its PMD's interrupt handlers.
 *
 * DPDK 22.11's memif PMD tears a connection down (memif_disconnect, which frees the shared
 * regions) in two places: in the EAL interrupt thread when the peer goes away, and in the
 * thread that stops or closes the device. Nothing orders the two, so a peer leaving while
 * this daemon stopped or closed its port freed the regions twice and crashed the daemon
 * (SIGSEGV in rte_free, about one in six stops when two daemons joined by memif were
 * stopped together; a takeover's release and the link keeper's restarts race the same
 * way). Done on the interrupt thread instead (snap_eal_intr_call), our stop or close runs
 * between the PMD's handlers, and a close unregisters the control channel's handler before
 * the peer's hang-up can reach it. Other kinds keep the caller's thread: their PMDs have no
 * such handlers, and some (vhost) wait for threads of their own while closing. */
#include <errno.h>
#include <stdint.h>

#include <rte_dev.h>
#include <rte_ethdev.h>

#include "core/eal.h"
#include "core/portsetup.h"
#include "snap/port.h"

enum dev_op { DEV_STOP, DEV_CLOSE, DEV_REMOVE };

struct dev_call {
	enum dev_op op;
	uint16_t port_id;
	const char *vdev; /* DEV_REMOVE: the vdev name */
};

static int dev_call(void *arg)
{
	const struct dev_call *c = arg;
	switch (c->op) {
	case DEV_STOP:
		return rte_eth_dev_stop(c->port_id);
	case DEV_CLOSE:
		return rte_eth_dev_close(c->port_id);
	case DEV_REMOVE:
		return rte_eal_hotplug_remove("vdev", c->vdev);
	}
	return -EINVAL;
}

static int dev_do(const struct snap_port *p, struct dev_call *c)
{
	return p->kind == SNAP_PORT_MEMIF ? snap_eal_intr_call(dev_call, c) : dev_call(c);
}

int snap_portdev_stop(const struct snap_port *p)
{
	struct dev_call c = {.op = DEV_STOP, .port_id = p->port_id};
	return dev_do(p, &c);
}

int snap_portdev_close(const struct snap_port *p)
{
	snap_portwake_detach(p);
	struct dev_call c = {.op = DEV_CLOSE, .port_id = p->port_id};
	return dev_do(p, &c);
}

int snap_portdev_remove(const struct snap_port *p, const char *vdev)
{
	snap_portwake_detach(p);
	struct dev_call c = {.op = DEV_REMOVE, .port_id = p->port_id, .vdev = vdev};
	return dev_do(p, &c);
}
