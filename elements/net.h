/* Small L2/L3 helpers shared by the protocol elements (eth_classify, arp, ipv4_in, icmp_echo,
 * udp_demux) and the modules that send UDP (pony): where headers sit in a frame, the port
 * argument, RFC 1624 checksum updates, UDP/IPv4 and UDP/IPv6 framing. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <netinet/in.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "snap/element.h"
#include "snap/port.h"

/*
 * Frame layout contract between these elements: packets travel with the mbuf data pointing at
 * the Ethernet header (never adjusted), untagged (eth_classify drops VLAN tags), so the IPv4
 * header is at offset SNAP_NET_L3_OFF. ipv4_in sets m->l2_len / m->l3_len and trims Ethernet
 * padding so that pkt_len == SNAP_NET_L3_OFF + IPv4 total length. Headers this stack parses
 * must lie in the first segment (true for every port's rx mbufs: one segment per frame);
 * frames whose headers do not are dropped as truncated.
 */
#define SNAP_NET_L3_OFF ((uint16_t)sizeof(struct rte_ether_hdr))

/* Resolve the element's required `port = NAME` argument. 0, or -EINVAL with the message set
 * on args (missing, or no such port). */
int snap_net_port_arg(const struct snap_elem_args *a, struct snap_port **out);

/* Claim p's neighbour tables for the engine that builds the element (arp, icmp6): 0, or
 * -EINVAL with the message set on a when another engine's element writes them (one
 * writer per port). */
int snap_net_claim_neigh(const struct snap_elem_args *a, struct snap_port *p);

/* Is ip (network order) a broadcast address for port p: limited broadcast, or the directed
 * broadcast of p's subnet when p has an address and a prefix shorter than /31. */
bool snap_net_ip_is_bcast(const struct snap_port *p, uint32_t ip);

/* Pointer to len contiguous bytes at off in the first segment, or NULL if they are not all
 * there. Used for every header access so that short frames can never be read past. */
static inline void *snap_net_hdr(struct rte_mbuf *m, uint32_t off, uint32_t len)
{
	if (unlikely((uint64_t)off + len > rte_pktmbuf_data_len(m)))
		return NULL;
	return rte_pktmbuf_mtod_offset(m, uint8_t *, off);
}

/* The IPv4 header of a frame that went through ipv4_in plus its length in bytes, checked
 * again against the first segment so elements stay safe when wired without ipv4_in in
 * front (fuzzing, odd configs). NULL if the header is not all there. */
static inline struct rte_ipv4_hdr *snap_net_ipv4(struct rte_mbuf *m, uint16_t *ihl)
{
	struct rte_ipv4_hdr *ip = snap_net_hdr(m, SNAP_NET_L3_OFF, sizeof(*ip));
	if (ip == NULL)
		return NULL;
	uint16_t hl = (uint16_t)((ip->version_ihl & 0x0f) * 4);
	if (unlikely(hl < sizeof(*ip) || snap_net_hdr(m, SNAP_NET_L3_OFF, hl) == NULL))
		return NULL;
	*ihl = hl;
	return ip;
}

/* The L3 input elements (ipv4_in, ipv6_in) share their outputs and their last steps. */
enum { SNAP_NET_IN_UDP, SNAP_NET_IN_ICMP, SNAP_NET_IN_OTHER, SNAP_NET_IN_N };

/* Output for upper-layer protocol proto of a validated packet m (icmp: ICMP's number in this
 * family): udp, icmp, or other when wired; otherwise m is dropped as ip_proto_unhandled and
 * SNAP_NET_IN_N returned. */
static inline uint16_t snap_net_in_proto(struct snap_elem *el, struct rte_mbuf *m,
					 uint8_t proto, uint8_t icmp, bool other_wired)
{
	if (proto == IPPROTO_UDP)
		return SNAP_NET_IN_UDP;
	if (proto == icmp)
		return SNAP_NET_IN_ICMP;
	if (other_wired)
		return SNAP_NET_IN_OTHER;
	snap_elem_drop(el, m, SNAP_DROP_PROTO_UNHANDLED);
	return SNAP_NET_IN_N;
}

/* The process loop of an L3 input element: one() validates a packet and returns its output,
 * or SNAP_NET_IN_N after dropping it. Always inlined, so one() is a direct (inlined) call. */
typedef uint16_t (*snap_net_in_fn)(struct snap_elem *el, const void *priv, struct rte_mbuf *m,
				   bool other_wired);
static __rte_always_inline void snap_net_in_process(struct snap_elem *el, struct rte_mbuf **pkts,
						    uint16_t n, snap_net_in_fn one)
{
	const void *priv = snap_elem_priv(el);
	struct snap_elem_batch b;
	snap_elem_batch_init(&b, SNAP_NET_IN_N);
	bool other_wired = el->out[SNAP_NET_IN_OTHER].next != NULL;
	for (uint16_t i = 0; i < n; i++) {
		uint16_t o = one(el, priv, pkts[i], other_wired);
		if (o != SNAP_NET_IN_N)
			snap_elem_batch_add(&b, o, pkts[i]);
	}
	snap_elem_batch_flush(el, &b, SNAP_NET_IN_N);
}

/* RFC 1624 eqn. 3: checksum ck after one 16-bit word of the covered data changes from old to
 * new. All three in the same (network) byte order as stored in the packet. */
static inline uint16_t snap_net_cksum_update16(uint16_t ck, uint16_t old, uint16_t new)
{
	uint32_t s = (uint16_t)~ck + (uint32_t)(uint16_t)~old + new;
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Make the first segment of *m safe to rewrite in place (replies built from requests): a
 * segment shared with a clone or attached to another mbuf's buffer would change that packet
 * too, so such a packet is replaced by a private copy (rare: rx frames are never shared).
 * 0, or -ENOMEM with *m untouched (the caller drops it as no_mbuf). */
static inline int snap_net_make_writable(struct rte_mbuf **m)
{
	if (likely(RTE_MBUF_DIRECT(*m) && rte_mbuf_refcnt_read(*m) == 1))
		return 0;
	struct rte_mbuf *c = rte_pktmbuf_copy(*m, (*m)->pool, 0, UINT32_MAX);
	if (c == NULL)
		return -ENOMEM;
	c->ol_flags = (*m)->ol_flags;
	c->l2_len = (*m)->l2_len;
	c->l3_len = (*m)->l3_len;
	rte_pktmbuf_free(*m);
	*m = c;
	return 0;
}

/* Ethernet + IPv4 (no options) + UDP: the headers snap_net_udp4_prepend writes. */
#define SNAP_NET_UDP4_HDRS                                                                \
	((uint16_t)(sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv4_hdr) +          \
		    sizeof(struct rte_udp_hdr)))

/* Ones' complement sum (RFC 1071) of an IPv4 header of ihl bytes (20..60, a multiple of 4),
 * folded to 16 bits: the same value as rte_raw_cksum(ip, ihl) (0xffff for a valid header),
 * which adds 16-bit words one at a time; here 32-bit words go into a 64-bit sum folded once
 * at the end, a third of the instructions (this runs for every packet sent and received). */
static inline uint16_t snap_net_ip4_sum(const void *ip, uint32_t ihl)
{
	const uint8_t *p = ip;
	uint32_t w[5];
	memcpy(w, p, sizeof(w)); /* the 20 bytes every header has, without a loop */
	uint64_t s = (uint64_t)w[0] + w[1] + w[2] + w[3] + w[4];
	for (uint32_t i = sizeof(w); i + 4 <= ihl; i += 4) { /* options */
		uint32_t o;
		memcpy(&o, p + i, 4);
		s += o;
	}
	s = (s >> 32) + (s & 0xffffffffu); /* at most 15 words: < 2^36 before, 2^32 + 14 after */
	s = (s >> 32) + (s & 0xffffffffu);
	s = (s >> 16) + (s & 0xffffu);
	s = (s >> 16) + (s & 0xffffu);
	return (uint16_t)s;
}

/* Addresses of a UDP/IPv4 datagram: IPs network order, ports host order. */
struct snap_net_udp4 {
	struct rte_ether_addr src_mac, dst_mac;
	uint32_t src_ip, dst_ip;
	uint16_t src_port, dst_port;
};

/* Frame m's data (the UDP payload) as one datagram: prepends Ethernet, IPv4 (DF, TTL 64,
 * id ip_id, header checksum computed) and UDP (checksum 0: the payload carries its own)
 * and sets l2_len/l3_len. Returns the Ethernet header, or NULL when m lacks the headroom
 * or the datagram would exceed IPv4's 64 KiB (m unchanged). */
static inline struct rte_ether_hdr *snap_net_udp4_prepend(struct rte_mbuf *m,
							  const struct snap_net_udp4 *a,
							  uint16_t ip_id)
{
	uint32_t plen = rte_pktmbuf_pkt_len(m);
	uint32_t ip_len = plen + sizeof(struct rte_ipv4_hdr) + sizeof(struct rte_udp_hdr);
	if (ip_len > UINT16_MAX)
		return NULL;
	struct rte_ether_hdr *eh = (struct rte_ether_hdr *)rte_pktmbuf_prepend(m, SNAP_NET_UDP4_HDRS);
	if (eh == NULL)
		return NULL;
	eh->dst_addr = a->dst_mac;
	eh->src_addr = a->src_mac;
	eh->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eh + 1);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->type_of_service = 0;
	ip->total_length = rte_cpu_to_be_16((uint16_t)ip_len);
	ip->packet_id = rte_cpu_to_be_16(ip_id);
	ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->hdr_checksum = 0;
	ip->src_addr = a->src_ip;
	ip->dst_addr = a->dst_ip;
	ip->hdr_checksum = (uint16_t)~snap_net_ip4_sum(ip, sizeof(*ip));
	struct rte_udp_hdr *uh = (struct rte_udp_hdr *)(ip + 1);
	uh->src_port = rte_cpu_to_be_16(a->src_port);
	uh->dst_port = rte_cpu_to_be_16(a->dst_port);
	uh->dgram_len = rte_cpu_to_be_16((uint16_t)(plen + sizeof(struct rte_udp_hdr)));
	uh->dgram_cksum = 0;
	m->l2_len = sizeof(*eh);
	m->l3_len = sizeof(*ip);
	return eh;
}

/* ---- IPv6 ---- */

/* IPv6 next-header values this stack knows (netinet/in.h spells them per libc). */
#define SNAP_NET_NH_ICMP6 58

/* Ethernet + IPv6 + UDP: the headers snap_net_udp6_prepend writes. */
#define SNAP_NET_UDP6_HDRS                                                                \
	((uint16_t)(sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv6_hdr) +          \
		    sizeof(struct rte_udp_hdr)))

/* Addresses of a UDP/IPv6 datagram: IPs network order, ports host order. */
struct snap_net_udp6 {
	struct rte_ether_addr src_mac, dst_mac;
	uint8_t src_ip[16], dst_ip[16];
	uint16_t src_port, dst_port;
};

/* Fill the fixed IPv6 header: version 6, traffic class and flow label 0, hop limit hops. */
static inline void snap_net_ipv6_fill(struct rte_ipv6_hdr *ip, uint16_t payload_len,
				      uint8_t proto, uint8_t hops, const uint8_t src[16],
				      const uint8_t dst[16])
{
	ip->vtc_flow = RTE_BE32(6u << 28);
	ip->payload_len = rte_cpu_to_be_16(payload_len);
	ip->proto = proto;
	ip->hop_limits = hops;
	memcpy(ip->src_addr, src, 16);
	memcpy(ip->dst_addr, dst, 16);
}

/* Frame m's data (the UDP payload) as one UDP/IPv6 datagram: prepends Ethernet, IPv6 (hop
 * limit 64, no extension headers) and UDP with its checksum, which IPv6 makes mandatory
 * (RFC 8200 8.1; summed in software over every segment, a computed 0 sent as 0xffff), and
 * sets l2_len/l3_len. Returns the Ethernet header, or NULL when m lacks the headroom or the
 * datagram would exceed 64 KiB of payload (m unchanged). */
static inline struct rte_ether_hdr *snap_net_udp6_prepend(struct rte_mbuf *m,
							  const struct snap_net_udp6 *a)
{
	uint32_t udp_len = rte_pktmbuf_pkt_len(m) + sizeof(struct rte_udp_hdr);
	if (udp_len > UINT16_MAX)
		return NULL;
	struct rte_ether_hdr *eh = (struct rte_ether_hdr *)rte_pktmbuf_prepend(m, SNAP_NET_UDP6_HDRS);
	if (eh == NULL)
		return NULL;
	eh->dst_addr = a->dst_mac;
	eh->src_addr = a->src_mac;
	eh->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);
	struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(eh + 1);
	snap_net_ipv6_fill(ip, (uint16_t)udp_len, IPPROTO_UDP, 64, a->src_ip, a->dst_ip);
	struct rte_udp_hdr *uh = (struct rte_udp_hdr *)(ip + 1);
	uh->src_port = rte_cpu_to_be_16(a->src_port);
	uh->dst_port = rte_cpu_to_be_16(a->dst_port);
	uh->dgram_len = rte_cpu_to_be_16((uint16_t)udp_len);
	uh->dgram_cksum = 0;
	m->l2_len = sizeof(*eh);
	m->l3_len = sizeof(*ip);
	uh->dgram_cksum = rte_ipv6_udptcp_cksum_mbuf(m, ip, SNAP_NET_L3_OFF + sizeof(*ip));
	return eh;
}

/* Is a the solicited-node multicast group of ours (ff02::1:ffXX:XXXX, RFC 4291 2.7.1)? */
static inline bool snap_net_ip6_is_snm_of(const uint8_t a[16], const uint8_t ours[16])
{
	static const uint8_t pfx[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff};
	return memcmp(a, pfx, sizeof(pfx)) == 0 && memcmp(a + 13, ours + 13, 3) == 0;
}

/* The all-nodes group ff02::1. */
static inline bool snap_net_ip6_is_all_nodes(const uint8_t a[16])
{
	static const uint8_t all[16] = {0xff, 0x02, [15] = 0x01};
	return memcmp(a, all, 16) == 0;
}

/* The solicited-node group of target and its Ethernet group address 33:33:ff:XX:XX:XX
 * (RFC 2464 7), where a neighbour solicitation for target is sent. */
static inline void snap_net_ip6_snm(const uint8_t target[16], uint8_t group[16],
				    struct rte_ether_addr *mac)
{
	static const uint8_t pfx[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff};
	memcpy(group, pfx, sizeof(pfx));
	memcpy(group + 13, target + 13, 3);
	const uint8_t m[6] = {0x33, 0x33, group[12], group[13], group[14], group[15]};
	memcpy(mac->addr_bytes, m, sizeof(m));
}
