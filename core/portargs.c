/* The EAL argument that creates each kind of port's DPDK device (its --vdev, or -a for a PCI
 * device), and the device's name. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include <rte_ether.h>

#include "core/config.h"
#include "core/portsetup.h"

void snap_port_dev_name(const struct snap_port_cfg *pc, char *buf, size_t len)
{
	/* A vdev name must start with its driver's name. */
	static const char *const drv[] = {
		[SNAP_PORT_MEMIF] = "net_memif",     [SNAP_PORT_VHOST] = "net_vhost",
		[SNAP_PORT_VIRTIO_USER] = "net_virtio_user", [SNAP_PORT_AF_PACKET] = "net_af_packet",
		[SNAP_PORT_AF_XDP] = "net_af_xdp",   [SNAP_PORT_TAP] = "net_tap",
		[SNAP_PORT_RING] = "net_ring",       [SNAP_PORT_NULL] = "net_null",
	};
	if (pc->kind == SNAP_PORT_PCI)
		snprintf(buf, len, "%s", pc->pci);
	else
		snprintf(buf, len, "%s_%s", drv[pc->kind], pc->name);
}

/* Appends to buf[*n..len); once the text no longer fits, *n stays past len and nothing more
 * is written (a plain `n += snprintf(buf + n, len - n, ...)` would pass a wrapped size). */
__attribute__((format(printf, 4, 5)))
static void append(char *buf, size_t len, size_t *n, const char *fmt, ...)
{
	if (*n >= len)
		return;
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(buf + *n, len - *n, fmt, ap);
	va_end(ap);
	*n = r < 0 ? len : *n + (size_t)r;
}

static void append_mac(char *buf, size_t len, size_t *n, const struct snap_port_cfg *pc)
{
	if (pc->mac_set)
		append(buf, len, n, ",mac=" RTE_ETHER_ADDR_PRT_FMT, RTE_ETHER_ADDR_BYTES(&pc->mac));
}

int snap_port_eal_arg(const struct snap_port_cfg *pc, char *buf, size_t len)
{
	char name[64];
	size_t n = 0;
	if (len == 0)
		return -ENAMETOOLONG;
	buf[0] = '\0';
	snap_port_dev_name(pc, name, sizeof(name));
	append(buf, len, &n, "%s", name);
	switch (pc->kind) {
	case SNAP_PORT_MEMIF:
		/* Filesystem socket (not abstract) so file permissions govern who may connect. */
		append(buf, len, &n, ",role=%s,socket=%s,socket-abstract=no,id=%u,bsize=%u",
		       pc->server ? "server" : "client", pc->socket, pc->memif_id,
		       pc->mtu + 64 > 2048 ? 16384 : 2048);
		if (pc->zero_copy)
			append(buf, len, &n, ",zero-copy=yes");
		append_mac(buf, len, &n, pc);
		break;
	case SNAP_PORT_VHOST:
		append(buf, len, &n, ",iface=%s,queues=%u,client=%d", pc->socket, pc->queues,
		       pc->server ? 0 : 1);
		break;
	case SNAP_PORT_VIRTIO_USER:
		/* Several queue pairs need the control queue (VIRTIO_NET_CTRL_MQ enables them). */
		append(buf, len, &n, ",path=%s,queues=%u,server=%d%s", pc->socket, pc->queues,
		       pc->server ? 1 : 0, pc->queues > 1 ? ",cq=1" : "");
		append_mac(buf, len, &n, pc);
		break;
	case SNAP_PORT_AF_PACKET: {
		append(buf, len, &n, ",iface=%s,qpairs=%u", pc->iface, pc->queues);
		char slots[64];
		snap_portafp_eal_arg(pc, slots, sizeof(slots));
		append(buf, len, &n, "%s", slots);
		break;
	}
	case SNAP_PORT_AF_XDP:
		append(buf, len, &n, ",iface=%s,start_queue=0,queue_count=%u", pc->iface,
		       pc->queues);
		break;
	case SNAP_PORT_TAP:
		append(buf, len, &n, ",iface=%s", pc->iface[0] ? pc->iface : pc->name);
		append_mac(buf, len, &n, pc);
		break;
	case SNAP_PORT_NULL:
		/* A null port's rx would otherwise fabricate packets forever. */
		append(buf, len, &n, ",no-rx=1");
		break;
	case SNAP_PORT_RING:
	case SNAP_PORT_PCI:
	default:
		break;
	}
	if (pc->devargs[0])
		append(buf, len, &n, ",%s", pc->devargs);
	return n >= len ? -ENAMETOOLONG : 0;
}
