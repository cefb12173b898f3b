/* The exception path's filter (see exception.h): parsing the allow list at init, matching
 * frames per packet. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_tcp.h>
#include <rte_udp.h>

#include "elements/exception.h"
#include "elements/net.h"

#define EXC_CLASS_LIST(X)                                                                  \
	X(TCP, "tcp")                                                                       \
	X(UDP, "udp")                                                                       \
	X(ICMP, "icmp")                                                                     \
	X(ARP, "arp")                                                                       \
	X(IPV4_OTHER, "ipv4_other")                                                         \
	X(IPV6, "ipv6")                                                                     \
	X(OTHER, "other")
SNAP_X_NAME_FN(snap_exc_class_name, EXC_CLASS_LIST)

static inline void bit_set(uint8_t *map, unsigned i)
{
	map[i >> 3] |= (uint8_t)(1u << (i & 7));
}

static inline bool bit_get(const uint8_t *map, unsigned i)
{
	return map[i >> 3] & (1u << (i & 7));
}

/* "N" or "N-M" within [lo, 65535]: 0 and the range, or -EINVAL. */
static int parse_range(const char *s, unsigned lo, unsigned *a, unsigned *b)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	unsigned long x = strtoul(s, &end, 10), y = x;
	if (*end == '-') {
		if (end[1] < '0' || end[1] > '9')
			return -EINVAL;
		y = strtoul(end + 1, &end, 10);
	}
	if (*end || x < lo || y > 65535 || x > y)
		return -EINVAL;
	*a = (unsigned)x;
	*b = (unsigned)y;
	return 0;
}

/* One token into f. 0 or -EINVAL. */
static int parse_token(struct snap_exc_filter *f, const char *t)
{
	static const char *const whole[SNAP_EXC_CLASSES] = {
		[SNAP_EXC_ICMP] = "icmp", [SNAP_EXC_ARP] = "arp", [SNAP_EXC_IPV6] = "ipv6",
		[SNAP_EXC_OTHER] = "other",
	};
	unsigned a, b;
	if (strcmp(t, "all") == 0) {
		memset(f, 0xff, sizeof(*f));
		return 0;
	}
	for (unsigned c = 0; c < SNAP_EXC_CLASSES; c++) {
		if (whole[c] && strcmp(t, whole[c]) == 0) {
			f->cls[c] = 1;
			return 0;
		}
	}
	if (strcmp(t, "tcp") == 0 || strcmp(t, "udp") == 0) {
		f->cls[t[0] == 't' ? SNAP_EXC_TCP : SNAP_EXC_UDP] = 1;
		return 0;
	}
	if (strncmp(t, "tcp:", 4) == 0 || strncmp(t, "udp:", 4) == 0) {
		if (parse_range(t + 4, 1, &a, &b))
			return -EINVAL;
		uint8_t *map = t[0] == 't' ? f->tcp : f->udp;
		for (unsigned p = a; p <= b; p++)
			bit_set(map, p);
		return 0;
	}
	if (strncmp(t, "proto:", 6) == 0) {
		if (parse_range(t + 6, 0, &a, &b) || b > 255)
			return -EINVAL;
		for (unsigned p = a; p <= b; p++)
			bit_set(f->proto, p);
		return 0;
	}
	return -EINVAL;
}

int snap_exc_filter_parse(struct snap_exc_filter *f, const char *list, char *err, size_t errlen)
{
	memset(f, 0, sizeof(*f));
	if (list == NULL)
		return parse_token(f, "all");
	char tok[32];
	unsigned n = 0;
	for (const char *s = list;;) {
		s += strspn(s, ", \t");
		if (*s == '\0')
			break;
		size_t len = strcspn(s, ", \t");
		if (len >= sizeof(tok)) {
			snprintf(err, errlen, "allow: token \"%.*s...\" too long", 16, s);
			return -EINVAL;
		}
		memcpy(tok, s, len);
		tok[len] = '\0';
		if (parse_token(f, tok)) {
			snprintf(err, errlen, "allow: bad token \"%s\" (expected all, tcp, udp, "
				 "tcp:P[-Q], udp:P[-Q], icmp, arp, proto:N, ipv6 or other)", tok);
			return -EINVAL;
		}
		n++;
		s += len;
	}
	if (n == 0) {
		snprintf(err, errlen, "allow: empty list (omit it to allow all, or name what "
			 "may reach the kernel)");
		return -EINVAL;
	}
	/* TCP and UDP allowed whole are all their ports: the per-packet check is one bit. */
	for (unsigned c = SNAP_EXC_TCP; c <= SNAP_EXC_UDP; c++)
		if (f->cls[c])
			memset(c == SNAP_EXC_TCP ? f->tcp : f->udp, 0xff, sizeof(f->tcp));
	return 0;
}

bool snap_exc_filter_match(const struct snap_exc_filter *f, struct rte_mbuf *m,
			   enum snap_exc_class *cls)
{
	const struct rte_ether_hdr *eh = snap_net_hdr(m, 0, sizeof(*eh));
	uint16_t ihl;
	const struct rte_ipv4_hdr *ip;
	*cls = SNAP_EXC_OTHER;
	if (unlikely(eh == NULL))
		return false;
	switch (eh->ether_type) {
	case RTE_BE16(RTE_ETHER_TYPE_IPV4):
		break;
	case RTE_BE16(RTE_ETHER_TYPE_ARP):
		*cls = SNAP_EXC_ARP;
		return f->cls[SNAP_EXC_ARP];
	case RTE_BE16(RTE_ETHER_TYPE_IPV6):
		*cls = SNAP_EXC_IPV6;
		return f->cls[SNAP_EXC_IPV6];
	default:
		return f->cls[SNAP_EXC_OTHER];
	}
	*cls = SNAP_EXC_IPV4_OTHER;
	ip = snap_net_ipv4(m, &ihl);
	if (unlikely(ip == NULL))
		return false;
	uint8_t proto = ip->next_proto_id;
	if (bit_get(f->proto, proto))
		goto allowed;
	/* Only a first fragment (offset 0) carries the ports. */
	if (ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_OFFSET_MASK))
		return false;
	if (proto == IPPROTO_ICMP) {
		*cls = SNAP_EXC_ICMP;
		return f->cls[SNAP_EXC_ICMP];
	}
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return false;
	*cls = proto == IPPROTO_TCP ? SNAP_EXC_TCP : SNAP_EXC_UDP;
	/* TCP and UDP both start with the 16-bit source and destination ports. */
	const struct rte_udp_hdr *uh = snap_net_hdr(m, SNAP_NET_L3_OFF + ihl, 4);
	if (unlikely(uh == NULL))
		return false;
	return bit_get(proto == IPPROTO_TCP ? f->tcp : f->udp, rte_be_to_cpu_16(uh->dst_port));
allowed:
	*cls = proto == IPPROTO_TCP   ? SNAP_EXC_TCP
	       : proto == IPPROTO_UDP ? SNAP_EXC_UDP
	       : proto == IPPROTO_ICMP ? SNAP_EXC_ICMP
				      : SNAP_EXC_IPV4_OTHER;
	return true;
}
