/* Neighbour discovery for the port's IPv6 address: answers solicitations for it (rewriting the
 * solicitation into the advertisement in place) and learns on-link neighbours. As with ARP,
 * a solicitation for our address may add its sender (it is about to talk to us); an
 * advertisement changes the table only when it answers a solicitation we sent (S flag and an
 * outstanding request for its target), so a forged unsolicited advertisement cannot
 * redirect our traffic. */
#include <errno.h>
#include <string.h>

#include "elements/ndp.h"
#include "elements/net.h"

#define ND_HOPS 255 /* RFC 4861: NDP is link-local; anything else was forwarded */

/* The ND message after the ICMPv6 header word: flags/reserved and target. */
struct nd_msg {
	uint8_t type, code;
	uint16_t cksum;
	uint8_t flags, rsvd[3];
	uint8_t target[16];
} __attribute__((packed));

static bool is_link_local(const uint8_t a[16])
{
	return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}

static bool is_unspecified(const uint8_t a[16])
{
	static const uint8_t zero[16];
	return memcmp(a, zero, 16) == 0;
}

int snap_ndp_build_solicit(struct snap_port *p, const uint8_t target[16], struct rte_mbuf *m)
{
	if (!p->has_ip6 || target[0] == 0xff || rte_pktmbuf_pkt_len(m) != 0)
		return -EINVAL;
	uint8_t *d = (uint8_t *)rte_pktmbuf_append(m, SNAP_NDP_NS_FRAME_LEN);
	if (d == NULL)
		return -ENOSPC;
	memset(d, 0, SNAP_NDP_NS_FRAME_LEN);
	struct rte_ether_hdr *eh = (struct rte_ether_hdr *)d;
	uint8_t group[16];
	snap_net_ip6_snm(target, group, &eh->dst_addr);
	eh->src_addr = p->mac;
	eh->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV6);
	struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(eh + 1);
	snap_net_ipv6_fill(ip, SNAP_ND_HDR_LEN + 8, SNAP_NET_NH_ICMP6, ND_HOPS, p->ip6, group);
	struct nd_msg *nd = (struct nd_msg *)(ip + 1);
	nd->type = SNAP_ND_NS;
	memcpy(nd->target, target, 16);
	uint8_t *opt = (uint8_t *)(nd + 1);
	opt[0] = SNAP_ND_OPT_SLLA;
	opt[1] = 1;
	memcpy(opt + 2, p->mac.addr_bytes, RTE_ETHER_ADDR_LEN);
	nd->cksum = rte_ipv6_udptcp_cksum(ip, nd);
	m->l2_len = sizeof(*eh);
	m->l3_len = sizeof(*ip);
	snap_port_nd6_solicit(p, target);
	return 0;
}

/* Walk the options of an ND message (RFC 4861 4.6): 0 and the link-layer address option of
 * type want (NULL if absent), or -EINVAL for an option of length 0 or one that runs past
 * the end. A link-layer option shorter than an Ethernet address is malformed too. */
static int nd_opts(const uint8_t *o, uint32_t len, uint8_t want, const uint8_t **lla)
{
	*lla = NULL;
	while (len > 0) {
		if (len < 2 || o[1] == 0 || (uint32_t)o[1] * 8 > len)
			return -EINVAL;
		uint32_t ol = (uint32_t)o[1] * 8;
		if (o[0] == want)
			*lla = o + 2;
		o += ol;
		len -= ol;
	}
	return 0;
}

/* Learn ip6 -> mac if the sender is a plausible on-link neighbour. */
static void nd_learn(struct snap_port *p, struct snap_ndp_stats *st, const uint8_t ip6[16],
		     const uint8_t *lla)
{
	struct rte_ether_addr mac;
	memcpy(mac.addr_bytes, lla, RTE_ETHER_ADDR_LEN);
	if (!rte_is_valid_assigned_ether_addr(&mac) ||
	    (!snap_port_on_link6(p, ip6) && !is_link_local(ip6)))
		return;
	if (snap_port_nd6_learn(p, ip6, &mac) == 0)
		st->learned++;
	else
		st->learn_failed++;
}

/* Rewrite the solicitation in *mp (ours, validated) into our solicited advertisement to its
 * sender. -ENOMEM when no private copy or room for the option could be had. */
static int nd_answer(struct snap_port *p, struct rte_mbuf **mp, uint32_t l4_off)
{
	if (snap_net_make_writable(mp) != 0)
		return -ENOMEM;
	struct rte_mbuf *m = *mp;
	uint32_t want = l4_off + SNAP_ND_HDR_LEN + 8, have = rte_pktmbuf_pkt_len(m);
	if (have > want && rte_pktmbuf_trim(m, (uint16_t)(have - want)) != 0)
		return -ENOMEM;
	if (have < want && rte_pktmbuf_append(m, (uint16_t)(want - have)) == NULL)
		return -ENOMEM;
	struct nd_msg *nd = snap_net_hdr(m, l4_off, SNAP_ND_HDR_LEN + 8);
	if (nd == NULL)
		return -ENOMEM;
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(eh + 1);
	uint8_t to[16];
	memcpy(to, ip->src_addr, 16);
	snap_net_ipv6_fill(ip, SNAP_ND_HDR_LEN + 8, SNAP_NET_NH_ICMP6, ND_HOPS, p->ip6, to);
	nd->type = SNAP_ND_NA;
	nd->code = 0;
	nd->cksum = 0;
	nd->flags = SNAP_ND_NA_SOLICITED | SNAP_ND_NA_OVERRIDE;
	memset(nd->rsvd, 0, sizeof(nd->rsvd));
	memcpy(nd->target, p->ip6, 16);
	uint8_t *opt = (uint8_t *)(nd + 1);
	opt[0] = SNAP_ND_OPT_TLLA;
	opt[1] = 1;
	memcpy(opt + 2, p->mac.addr_bytes, RTE_ETHER_ADDR_LEN);
	nd->cksum = rte_ipv6_udptcp_cksum(ip, nd);
	eh->dst_addr = eh->src_addr;
	eh->src_addr = p->mac;
	m->ol_flags &= ~(RTE_MBUF_F_RX_IP_CKSUM_MASK | RTE_MBUF_F_RX_L4_CKSUM_MASK);
	return 0;
}

enum snap_ndp_verdict snap_ndp_input(struct snap_port *p, struct snap_ndp_stats *st,
				     struct rte_mbuf **mp, uint32_t l4_off, uint8_t type)
{
	struct rte_mbuf *m = *mp;
	const struct rte_ipv6_hdr *ip = snap_net_hdr(m, SNAP_NET_L3_OFF, sizeof(*ip));
	uint32_t len = rte_pktmbuf_pkt_len(m) - l4_off;
	/* RFC 4861 7.1.1/7.1.2: hop limit 255, code 0, at least the fixed part, a unicast
	 * target, options well formed; all of it in the first segment (frames are one). */
	const struct nd_msg *nd = len >= SNAP_ND_HDR_LEN ? snap_net_hdr(m, l4_off, len) : NULL;
	const uint8_t *lla;
	if (ip == NULL || nd == NULL || ip->hop_limits != ND_HOPS || nd->code != 0 ||
	    nd->target[0] == 0xff ||
	    nd_opts((const uint8_t *)(nd + 1), len - SNAP_ND_HDR_LEN,
		    type == SNAP_ND_NS ? SNAP_ND_OPT_SLLA : SNAP_ND_OPT_TLLA, &lla) != 0)
		return SNAP_NDP_DROP;
	bool src_unspec = is_unspecified(ip->src_addr);
	bool ours = memcmp(nd->target, p->ip6, 16) == 0;
	if (type == SNAP_ND_NS) {
		/* A DAD probe (unspecified source) must go to the solicited-node group and
		 * carry no source address option. */
		if (src_unspec && (lla != NULL || !snap_net_ip6_is_snm_of(ip->dst_addr,
									   nd->target)))
			return SNAP_NDP_DROP;
		if (!ours || src_unspec) {
			st->ignored++;
			return SNAP_NDP_CONSUMED;
		}
		st->solicits++;
		if (lla != NULL)
			nd_learn(p, st, ip->src_addr, lla);
		return nd_answer(p, mp, l4_off) == 0 ? SNAP_NDP_REPLY : SNAP_NDP_NO_MBUF;
	}
	/* Advertisement: to a multicast group it cannot be solicited (7.1.2). */
	if (ip->dst_addr[0] == 0xff && (nd->flags & SNAP_ND_NA_SOLICITED))
		return SNAP_NDP_DROP;
	st->adverts_seen++;
	if (ours) {
		st->conflicts++;
		return SNAP_NDP_CONSUMED;
	}
	if (lla == NULL) {
		st->ignored++;
		return SNAP_NDP_CONSUMED;
	}
	if (!(nd->flags & SNAP_ND_NA_SOLICITED) || !snap_port_nd6_solicited(p, nd->target)) {
		st->unsolicited++;
		return SNAP_NDP_CONSUMED;
	}
	nd_learn(p, st, nd->target, lla);
	return SNAP_NDP_CONSUMED;
}
