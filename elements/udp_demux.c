/* udp_demux: validates UDP datagrams (over IPv4 or IPv6) and hands each to the consumer of its destination port:
 * a static output (p0..p7) of this engine or a named ring feeding another engine. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_udp.h>

#include "elements/net.h"
#include "snap/engine.h"
#include "snap/ring.h"

/*
 * Arguments: one key per destination port,
 *   dport_5000 = p0              -> static output p0..p7 of this element
 *   dport_6000 = ring:pony1.rx   -> enqueue to snap_ring_get("pony1.rx") (drop ring_full when
 *                                   the ring is full)
 *   dports_4864_5375 = p0        -> every port of 4864..5375 (a range; e.g. a port's steered
 *                                   UDP ports for Pony flows, snap/steer.h)
 * Datagrams to other ports go to output `unmatched` if it is wired, else are dropped as
 * udp_no_listener. Consumers receive the whole frame: the mbuf data still points at the
 * Ethernet header, l2_len/l3_len/l4_len are set, and pkt_len ends where the datagram ends, so
 * a consumer can swap addresses and reply in place.
 */
#define UDP_DEMUX_STATIC 8
#define UDP_DEMUX_RINGS 8

enum { OUT_UNMATCHED = UDP_DEMUX_STATIC, N_OUT };
static const char *const outputs[N_OUT] = {"p0", "p1", "p2", "p3", "p4",
					   "p5", "p6", "p7", "unmatched"};

/* map[] values: 0 unmatched, 1..8 static output + 1, 9.. ring index + 9. */
#define MAP_RING_BASE (UDP_DEMUX_STATIC + 1)

struct udp_demux {
	uint8_t map[65536];          /* by destination port, host order */
	uint16_t n_rings;
	struct snap_ring *rings[UDP_DEMUX_RINGS];
	char ring_names[UDP_DEMUX_RINGS][SNAP_NAME_MAX * 2];
	uint64_t to_rings;
};

struct parse_ctx {
	struct snap_elem *el;
	struct udp_demux *s;
	const struct snap_elem_args *a;
};

static int udp_demux_ring(struct parse_ctx *c, const char *name)
{
	struct udp_demux *s = c->s;
	for (uint16_t i = 0; i < s->n_rings; i++)
		if (strcmp(s->ring_names[i], name) == 0)
			return i;
	if (s->n_rings == UDP_DEMUX_RINGS)
		return snap_elem_args_error(c->a, "more than %d distinct rings", UDP_DEMUX_RINGS);
	if (name[0] == '\0' || strlen(name) >= sizeof(s->ring_names[0]))
		return snap_elem_args_error(c->a, "ring name \"%s\" empty or too long", name);
	struct snap_ring *r = snap_ring_get(name, snap_engine_socket(c->el->engine));
	if (r == NULL)
		return snap_elem_args_error(c->a, "ring \"%s\": %s", name, strerror(errno));
	snprintf(s->ring_names[s->n_rings], sizeof(s->ring_names[0]), "%s", name);
	s->rings[s->n_rings] = r;
	return s->n_rings++;
}

/* A port number of a key, 1..65535, ending at *end; 0 if none. */
static unsigned long key_port(const char *s, char **end)
{
	if (*s < '0' || *s > '9')
		return 0;
	unsigned long port = strtoul(s, end, 10);
	return port > 65535 ? 0 : port;
}

static int udp_demux_arg(void *ctx, const char *key, const char *val)
{
	struct parse_ctx *c = ctx;
	char *end = NULL;
	unsigned long lo, hi;
	if (strncmp(key, "dport_", 6) == 0) {
		lo = hi = key_port(key + 6, &end);
		if (lo == 0 || *end)
			return snap_elem_args_error(c->a, "%s: port must be 1..65535", key);
	} else if (strncmp(key, "dports_", 7) == 0) {
		lo = key_port(key + 7, &end);
		hi = lo && *end == '_' ? key_port(end + 1, &end) : 0;
		if (hi == 0 || *end || hi < lo)
			return snap_elem_args_error(c->a, "%s: expected dports_LO_HI, ports 1..65535, "
						    "LO <= HI", key);
	} else {
		return snap_elem_args_error(c->a, "unknown argument %s (expected dport_N or "
					    "dports_LO_HI: libconfig names cannot hold dots)", key);
	}
	uint8_t to = 0;
	if (strncmp(val, "ring:", 5) == 0) {
		int r = udp_demux_ring(c, val + 5);
		if (r < 0)
			return r;
		to = (uint8_t)(MAP_RING_BASE + r);
	}
	for (uint8_t o = 0; o < UDP_DEMUX_STATIC && to == 0; o++)
		if (strcmp(val, outputs[o]) == 0)
			to = (uint8_t)(o + 1);
	if (to == 0)
		return snap_elem_args_error(c->a, "%s = \"%s\": expected p0..p7 or ring:NAME", key, val);
	for (unsigned long port = lo; port <= hi; port++)
		if (c->s->map[port])
			return snap_elem_args_error(c->a, "%s: port %lu given twice", key, port);
	for (unsigned long port = lo; port <= hi; port++)
		c->s->map[port] = to;
	return 0;
}

static int udp_demux_init(struct snap_elem *el, const struct snap_elem_args *a)
{
	struct parse_ctx c = {el, snap_elem_priv(el), a};
	return snap_elem_args_foreach(a, udp_demux_arg, &c);
}

/* udp_demux_one for a UDP/IPv6 datagram (after ipv6_in: no extension headers). The checksum
 * is mandatory over IPv6 (RFC 8200 8.1): 0 is refused as a bad checksum. */
static int udp_demux_one6(struct snap_elem *el, const struct udp_demux *s, struct rte_mbuf *m)
{
	enum snap_drop why = SNAP_DROP_UDP_MALFORMED;
	const uint32_t l4_off = SNAP_NET_L3_OFF + sizeof(struct rte_ipv6_hdr);
	struct rte_ipv6_hdr *ip = snap_net_hdr(m, SNAP_NET_L3_OFF, sizeof(*ip));
	struct rte_udp_hdr *uh = ip ? snap_net_hdr(m, l4_off, sizeof(*uh)) : NULL;
	if (uh == NULL || ip->proto != IPPROTO_UDP)
		goto drop;
	uint32_t l4_len = rte_pktmbuf_pkt_len(m) - l4_off;
	if (rte_be_to_cpu_16(ip->payload_len) != l4_len || rte_be_to_cpu_16(uh->dgram_len) != l4_len)
		goto drop;
	uint64_t ck = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
	if (ck == RTE_MBUF_F_RX_L4_CKSUM_BAD ||
	    (ck != RTE_MBUF_F_RX_L4_CKSUM_GOOD &&
	     (uh->dgram_cksum == 0 || rte_ipv6_udptcp_cksum_mbuf_verify(m, ip, l4_off) != 0))) {
		why = SNAP_DROP_UDP_CSUM;
		goto drop;
	}
	m->l2_len = SNAP_NET_L3_OFF;
	m->l3_len = sizeof(*ip);
	m->l4_len = sizeof(*uh);
	return s->map[rte_be_to_cpu_16(uh->dst_port)];
drop:
	snap_elem_drop(el, m, why);
	return -1;
}

/* Validate m; returns its map[] entry, or -1 after dropping it. */
static int udp_demux_one(struct snap_elem *el, const struct udp_demux *s, struct rte_mbuf *m)
{
	/* The IP version nibble is the byte snap_net_ipv4 reads next anyway: IPv4 pays one
	 * predictable branch for the IPv6 underlay. */
	const uint8_t *vh = snap_net_hdr(m, SNAP_NET_L3_OFF, 1);
	if (unlikely(vh != NULL && (*vh >> 4) == 6))
		return udp_demux_one6(el, s, m);
	uint16_t ihl;
	enum snap_drop why = SNAP_DROP_UDP_MALFORMED;
	struct rte_ipv4_hdr *ip = snap_net_ipv4(m, &ihl);
	uint32_t l4_off = SNAP_NET_L3_OFF + ihl;
	struct rte_udp_hdr *uh = ip ? snap_net_hdr(m, l4_off, sizeof(*uh)) : NULL;
	if (unlikely(uh == NULL))
		goto drop;
	/* ipv4_in trimmed the frame to the datagram; the UDP length must say the same (a
	 * shorter UDP length with trailing bytes is legal but unused; we refuse it rather than
	 * hand consumers two disagreeing lengths). */
	uint32_t l4_len = rte_pktmbuf_pkt_len(m) - l4_off;
	if (unlikely(rte_be_to_cpu_16(ip->total_length) != l4_len + ihl ||
		     rte_be_to_cpu_16(uh->dgram_len) != l4_len))
		goto drop;
	uint64_t ck = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
	if (unlikely(ck == RTE_MBUF_F_RX_L4_CKSUM_BAD ||
		     (ck != RTE_MBUF_F_RX_L4_CKSUM_GOOD && uh->dgram_cksum != 0 &&
		      rte_ipv4_udptcp_cksum_mbuf_verify(m, ip, (uint16_t)l4_off) != 0))) {
		why = SNAP_DROP_UDP_CSUM;
		goto drop;
	}
	m->l2_len = SNAP_NET_L3_OFF;
	m->l3_len = ihl;
	m->l4_len = sizeof(*uh);
	return s->map[rte_be_to_cpu_16(uh->dst_port)];
drop:
	snap_elem_drop(el, m, why);
	return -1;
}

static void udp_demux_process(struct snap_elem *el, struct rte_mbuf **pkts, uint16_t n)
{
	struct udp_demux *s = snap_elem_priv(el);
	struct snap_elem_batch b;
	struct rte_mbuf *rq[UDP_DEMUX_RINGS][SNAP_BURST_MAX];
	uint16_t rn[UDP_DEMUX_RINGS] = {0};
	bool unmatched_wired = el->out[OUT_UNMATCHED].next != NULL;
	snap_elem_batch_init(&b, N_OUT);

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		int v = udp_demux_one(el, s, m);
		if (v < 0)
			continue;
		if (v >= MAP_RING_BASE) {
			unsigned r = (unsigned)v - MAP_RING_BASE;
			rq[r][rn[r]++] = m;
		} else if (v > 0) {
			snap_elem_batch_add(&b, (uint16_t)(v - 1), m);
		} else if (unmatched_wired) {
			snap_elem_batch_add(&b, OUT_UNMATCHED, m);
		} else {
			snap_elem_drop(el, m, SNAP_DROP_UDP_NO_LISTENER);
		}
	}
	for (uint16_t r = 0; r < s->n_rings; r++) {
		if (rn[r] == 0)
			continue;
		unsigned done = snap_ring_enqueue_burst(s->rings[r], rq[r], rn[r]);
		s->to_rings += done;
		if (done < rn[r])
			snap_elem_drop_burst(el, rq[r] + done, (uint16_t)(rn[r] - done),
					     SNAP_DROP_RING_FULL);
	}
	snap_elem_batch_flush(el, &b, N_OUT);
}

static void udp_demux_stats(const struct snap_elem *el, snap_stat_fn fn, void *ctx)
{
	const struct udp_demux *s = snap_elem_priv(el);
	fn(ctx, "to_rings", s->to_rings);
}

static const struct snap_elem_desc udp_demux_desc = {
	.name = "udp_demux",
	.help = "validate UDP, dispatch by destination port (args: dport_N = p0..p7 | ring:NAME)",
	.priv_size = sizeof(struct udp_demux),
	.n_outputs = N_OUT,
	.outputs = outputs,
	.init = udp_demux_init,
	.process = udp_demux_process,
	.stats = udp_demux_stats,
};
SNAP_ELEM_REGISTER(udp_demux_desc)
