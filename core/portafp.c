/* af_packet ports with frames above 1,500 bytes. DPDK 22.11's af_packet PMD keeps the
 * kernel's default ring slot of 2,048 bytes unless told otherwise (a longer frame is cut to
 * the slot), wants what follows a slot's header to fit one mbuf, and refuses every MTU over
 * 1,500 in rte_eth_dev_set_mtu (it reports a 1,518-byte frame limit whatever the
 * interface). So the slot is sized here from the configured MTU, the pool's data room from
 * the slot, and the interface's MTU is the kernel's to set (SIOCSIFMTU), as `ip link set
 * mtu` would: the PMD sends and receives whatever fits its slots. */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_ether.h>

#include "core/config.h"
#include "core/portsetup.h"

/* A TPACKET_V2 slot: the kernel writes the frame 66 bytes in (the tpacket2 header and
 * sockaddr_ll, aligned so the IP header is), and the PMD copies from 32 bytes in (past its
 * header) into one mbuf. */
#define AFP_FRAME_OFF 66u
#define AFP_SLOT_HDR 32u
#define AFP_SLOT_DEFAULT 2048u
#define AFP_VLAN_ROOM 4u

/* Slots are whole KiB: the PMD finds slot i at i x framesz from the ring's start, so the
 * blocks (whole pages) must hold whole slots with no gap, and a KiB multiple needs at most
 * 4 slots a block for that. */
uint32_t snap_portafp_slot(uint32_t mtu)
{
	uint32_t f = RTE_ALIGN_CEIL(mtu + RTE_ETHER_HDR_LEN + AFP_VLAN_ROOM + AFP_FRAME_OFF,
				    1024u);
	return f < AFP_SLOT_DEFAULT ? AFP_SLOT_DEFAULT : f;
}

static uint32_t gcd(uint32_t a, uint32_t b)
{
	while (b) {
		uint32_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

uint32_t snap_portafp_data_room(uint32_t mtu)
{
	return snap_portafp_slot(mtu) - AFP_SLOT_HDR;
}

int snap_portafp_eal_arg(const struct snap_port_cfg *pc, char *buf, size_t len)
{
	uint32_t f = snap_portafp_slot(pc->mtu);
	if (f == AFP_SLOT_DEFAULT) {
		if (len)
			buf[0] = '\0';
		return 0;
	}
	long ps = sysconf(_SC_PAGESIZE);
	uint32_t page = ps > 0 ? (uint32_t)ps : 4096u;
	uint32_t b = f * (page / gcd(f, page)); /* the smallest page multiple of slots */
	return snprintf(buf, len, ",framesz=%u,blocksz=%u", f, b);
}

int snap_portafp_set_mtu(const struct snap_port_cfg *pc, char *err, size_t errlen)
{
	/* The config bounds it; a caller that did not must not reach the kernel with it (an
	 * MTU under 68 takes every IPv4 address off the interface). */
	if (pc->mtu < SNAP_PORT_MTU_MIN || pc->mtu > SNAP_PORT_MTU_MAX) {
		snprintf(err, errlen, "port %s: MTU %u is outside %u..%u", pc->name, pc->mtu,
			 SNAP_PORT_MTU_MIN, SNAP_PORT_MTU_MAX);
		return -EINVAL;
	}
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		snprintf(err, errlen, "port %s: socket: %s", pc->name, strerror(errno));
		return -errno;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	if (strlen(pc->iface) >= sizeof(ifr.ifr_name)) {
		close(s);
		snprintf(err, errlen, "port %s: interface name too long", pc->name);
		return -ENAMETOOLONG;
	}
	memcpy(ifr.ifr_name, pc->iface, strlen(pc->iface));
	int r = 0;
	if (ioctl(s, SIOCGIFMTU, &ifr) < 0) {
		r = -errno;
		snprintf(err, errlen, "port %s: interface %s: %s", pc->name, pc->iface,
			 strerror(errno));
	} else if ((uint32_t)ifr.ifr_mtu != pc->mtu) {
		ifr.ifr_mtu = (int)pc->mtu;
		if (ioctl(s, SIOCSIFMTU, &ifr) < 0) {
			r = -errno;
			snprintf(err, errlen, "port %s: cannot set MTU %u on %s: %s (it needs "
				 "CAP_NET_ADMIN, or set it with ip link before starting)", pc->name,
				 pc->mtu, pc->iface, strerror(errno));
		}
	}
	close(s);
	return r;
}
