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
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include <rte_common.h>
#include <rte_ethdev.h>
#include <rte_ether.h>

#include "core/config.h"
#include "core/portsetup.h"
#include "snap/log.h"

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

/* What rtnetlink says of an interface: a veth, and its peer's ifindex and namespace. */
struct link_info {
	bool veth;
	uint32_t peer;     /* IFLA_LINK: the peer's ifindex in its namespace; 0 unknown */
	bool peer_elsewhere; /* IFLA_LINK_NETNSID: the peer is in another namespace */
};

static int linkinfo_attr(const struct nlattr *a, void *data)
{
	bool *veth = data;
	if (mnl_attr_get_type(a) == IFLA_INFO_KIND && mnl_attr_validate(a, MNL_TYPE_STRING) >= 0)
		*veth = strcmp(mnl_attr_get_str(a), "veth") == 0;
	return MNL_CB_OK;
}

static int link_attr(const struct nlattr *a, void *data)
{
	struct link_info *li = data;
	switch (mnl_attr_get_type(a)) {
	case IFLA_LINK:
		if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
			li->peer = mnl_attr_get_u32(a);
		break;
	case IFLA_LINK_NETNSID:
		li->peer_elsewhere = true;
		break;
	case IFLA_LINKINFO:
		if (mnl_attr_validate(a, MNL_TYPE_NESTED) >= 0)
			mnl_attr_parse_nested(a, linkinfo_attr, &li->veth);
		break;
	}
	return MNL_CB_OK;
}

static int link_msg(const struct nlmsghdr *nlh, void *data)
{
	return mnl_attr_parse(nlh, sizeof(struct ifinfomsg), link_attr, data);
}

/* RTM_GETLINK for ifindex: 0, or -errno (the caller then skips the check). */
static int link_query(unsigned ifindex, struct link_info *li)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (nl == NULL)
		return -errno;
	int r = -EIO;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto out;
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	/* Kept apart: the reply is read into the same buffer, over the request. */
	const uint32_t seq = (uint32_t)time(NULL);
	nlh->nlmsg_seq = seq;
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = (int)ifindex;
	unsigned portid = mnl_socket_get_portid(nl);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		goto out;
	ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n > 0 && mnl_cb_run(buf, (size_t)n, seq, portid, link_msg, li) >= 0)
		r = 0;
out:
	mnl_socket_close(nl);
	return r;
}

/* An interface MTU over the veth peer's leaves every bigger frame the peer refuses at the
 * head of the packet socket's transmit ring: the kernel takes it back on NET_XMIT_DROP
 * without advancing the ring, resends it at every kick and never passes it, so the port
 * sends nothing more (measured: 34 sends, 26 drops of the same frame, 2 delivered). A peer
 * in this namespace is read and a smaller MTU refused; one in another cannot be read from
 * here, so the operator is told. Anything rtnetlink does not answer skips the check. */
static int check_veth_peer(const struct snap_port_cfg *pc, int s, char *err, size_t errlen)
{
	unsigned ifindex = if_nametoindex(pc->iface);
	struct link_info li = {0};
	if (ifindex == 0 || link_query(ifindex, &li) < 0 || !li.veth || li.peer == 0)
		return 0;
	if (li.peer_elsewhere) {
		SNAP_LOG(NOTICE, "port %s: %s is a veth whose peer is in another network namespace: "
			 "give the peer MTU %u too (a frame it refuses stalls the port's transmit "
			 "ring)", pc->name, pc->iface, pc->mtu);
		return 0;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	if (if_indextoname(li.peer, ifr.ifr_name) == NULL || ioctl(s, SIOCGIFMTU, &ifr) < 0)
		return 0;
	if ((uint32_t)ifr.ifr_mtu >= pc->mtu)
		return 0;
	snprintf(err, errlen, "port %s: %s's veth peer %s has MTU %d, under the port's %u: every "
		 "frame it refuses would stall the port's transmit ring (set %s's MTU to %u "
		 "first)", pc->name, pc->iface, ifr.ifr_name, ifr.ifr_mtu, pc->mtu, ifr.ifr_name,
		 pc->mtu);
	return -EINVAL;
}

int snap_portafp_set_mtu(const struct snap_port_cfg *pc, char *err, size_t errlen)
{
	/* The config bounds it; a caller that did not must not reach the kernel with it (an
	 * MTU under 68 takes every IPv4 address off the interface). */
	if (pc->mtu < SNAP_PORT_MTU_MIN || pc->mtu > SNAP_PORT_MTU_MAX_AFP) {
		snprintf(err, errlen, "port %s: MTU %u is outside %u..%u", pc->name, pc->mtu,
			 SNAP_PORT_MTU_MIN, SNAP_PORT_MTU_MAX_AFP);
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
	} else if ((r = check_veth_peer(pc, s, err, errlen)) == 0 &&
		   (uint32_t)ifr.ifr_mtu != pc->mtu) {
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

/* Why the port's own MAC pays (measured, Pony over af_packet on a veth pair at MTU 64000,
 * alternating runs): with the interface's MAC each of the port's frames is also the
 * kernel's, which routes it (no address: to an error route, allocated and freed through
 * RCU per frame) and drops it in ip_error, all on the sending CPU inside its sendto; with a
 * MAC of its own the frame is PACKET_OTHERHOST and ip_rcv drops it first thing. Streams
 * of 64 KiB messages +11..15%, 64 KiB ping-pong +5..7%. */
void snap_portafp_own_mac(const struct snap_port_cfg *pc, uint16_t port_id)
{
	unsigned ifindex = if_nametoindex(pc->iface);
	struct link_info li = {0};
	if (ifindex && link_query(ifindex, &li) == 0 && li.veth)
		return;
	int r = rte_eth_promiscuous_enable(port_id);
	if (r < 0)
		SNAP_LOG(NOTICE, "port %s: cannot make %s promiscuous (%s): frames for the port's "
			 "own MAC " RTE_ETHER_ADDR_PRT_FMT " reach it only if %s passes them (ip "
			 "link set %s promisc on, or give the daemon CAP_NET_ADMIN)", pc->name,
			 pc->iface, strerror(-r), RTE_ETHER_ADDR_BYTES(&pc->mac), pc->iface,
			 pc->iface);
}
