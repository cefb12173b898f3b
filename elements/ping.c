/* icmp_ping: an ICMP echo client inside an engine, for liveness checks, demos and tests.
 * It sends echo requests to `dst` at a fixed interval and matches replies (by identifier) to
 * measure round-trip time; every other packet it is given passes through to `other`, so it
 * sits in front of icmp_echo on the ICMP path. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>

#include "snap/element.h"
#include "snap/engine.h"
#include "snap/port.h"

enum { OUT_TX, OUT_OTHER };

struct ping {
	struct snap_port *port;
	uint32_t dst;            /* network order */
	uint16_t ident;          /* ICMP identifier, network order */
	uint16_t seq;
	uint16_t payload;        /* bytes after the ICMP header (>= 8: the send TSC) */
	uint64_t interval_tsc;
	uint64_t next_tsc;
	uint64_t count;          /* 0: unlimited */
	uint64_t sent, received, no_neighbour, no_mbuf, bad_reply;
	uint64_t rtt_min_ns, rtt_max_ns, rtt_sum_ns, rtt_last_ns;
};

static int ping_init(struct snap_elem *el, const struct snap_elem_args *args)
{
	struct ping *s = snap_elem_priv(el);
	const char *port = snap_elem_arg_str(args, "port", NULL);
	const char *dst = snap_elem_arg_str(args, "dst", NULL);
	uint64_t interval_us, size, count;
	struct in_addr a;
	if (port == NULL || (s->port = snap_port_find(port)) == NULL)
		return snap_elem_args_error(args, "needs 'port' naming a configured port");
	if (s->port->ip == 0)
		return snap_elem_args_error(args, "port %s has no IPv4 address", port);
	if (dst == NULL || inet_pton(AF_INET, dst, &a) != 1)
		return snap_elem_args_error(args, "needs 'dst' = an IPv4 address");
	if (snap_elem_arg_u64(args, "interval_us", 100000, 10, 60000000, &interval_us) ||
	    snap_elem_arg_u64(args, "size", 56, 8, 1400, &size) ||
	    snap_elem_arg_u64(args, "count", 0, 0, UINT64_MAX, &count))
		return -EINVAL;
	s->dst = a.s_addr;
	s->payload = (uint16_t)size;
	s->count = count;
	s->interval_tsc = interval_us * rte_get_tsc_hz() / 1000000;
	s->ident = htons((uint16_t)(0x5300 | (snap_engine_id(el->engine) & 0xff)));
	s->rtt_min_ns = UINT64_MAX;
	return 0;
}

static struct rte_mbuf *build_request(struct ping *s, const struct rte_ether_addr *dmac,
				      uint64_t now)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(s->port->pool);
	if (m == NULL)
		return NULL;
	uint16_t icmp_len = (uint16_t)(sizeof(struct rte_icmp_hdr) + s->payload);
	uint16_t len = (uint16_t)(sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv4_hdr) +
				  icmp_len);
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, len);
	if (p == NULL) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)p;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_icmp_hdr *icmp = (struct rte_icmp_hdr *)(ip + 1);
	rte_ether_addr_copy(dmac, &eth->dst_addr);
	rte_ether_addr_copy(&s->port->mac, &eth->src_addr);
	eth->ether_type = htons(RTE_ETHER_TYPE_IPV4);
	memset(ip, 0, sizeof(*ip));
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = htons((uint16_t)(sizeof(*ip) + icmp_len));
	ip->packet_id = htons(s->seq);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_ICMP;
	ip->src_addr = s->port->ip;
	ip->dst_addr = s->dst;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	icmp->icmp_type = RTE_IP_ICMP_ECHO_REQUEST;
	icmp->icmp_code = 0;
	icmp->icmp_ident = s->ident;
	icmp->icmp_seq_nb = htons(s->seq);
	uint8_t *data = (uint8_t *)(icmp + 1);
	memcpy(data, &now, sizeof(now));
	for (uint16_t i = sizeof(now); i < s->payload; i++)
		data[i] = (uint8_t)i;
	icmp->icmp_cksum = 0;
	icmp->icmp_cksum = (uint16_t)~rte_raw_cksum(icmp, icmp_len);
	return m;
}

static unsigned ping_poll(struct snap_elem *el, uint64_t now)
{
	struct ping *s = snap_elem_priv(el);
	if (now < s->next_tsc || (s->count && s->sent >= s->count))
		return 0;
	s->next_tsc = now + s->interval_tsc;
	struct rte_ether_addr dmac;
	if (snap_port_neigh_lookup(s->port, s->dst, &dmac) < 0) {
		/* The ARP element learns neighbours from traffic; until then, count. */
		s->no_neighbour++;
		return 1;
	}
	struct rte_mbuf *m = build_request(s, &dmac, now);
	if (m == NULL) {
		s->no_mbuf++;
		return 1;
	}
	s->seq++;
	s->sent++;
	snap_elem_emit1(el, OUT_TX, m);
	return 1;
}

static uint64_t ping_deadline(const struct snap_elem *el)
{
	const struct ping *s = snap_elem_priv(el);
	return (s->count && s->sent >= s->count) ? UINT64_MAX : s->next_tsc;
}

/* Is m an echo reply to us? Assumes ipv4_in already validated the IP header and length. */
static bool is_our_reply(const struct ping *s, struct rte_mbuf *m, uint64_t *sent_tsc)
{
	uint32_t l2 = sizeof(struct rte_ether_hdr);
	if (rte_pktmbuf_data_len(m) < l2 + sizeof(struct rte_ipv4_hdr))
		return false;
	const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, l2);
	uint32_t l3 = rte_ipv4_hdr_len(ip);
	if (ip->next_proto_id != IPPROTO_ICMP ||
	    rte_pktmbuf_data_len(m) < l2 + l3 + sizeof(struct rte_icmp_hdr) + sizeof(uint64_t))
		return false;
	const struct rte_icmp_hdr *icmp =
		rte_pktmbuf_mtod_offset(m, struct rte_icmp_hdr *, l2 + l3);
	if (icmp->icmp_type != RTE_IP_ICMP_ECHO_REPLY || icmp->icmp_ident != s->ident ||
	    ip->src_addr != s->dst)
		return false;
	memcpy(sent_tsc, icmp + 1, sizeof(*sent_tsc));
	return true;
}

static void ping_process(struct snap_elem *el, struct rte_mbuf **pkts, uint16_t n)
{
	struct ping *s = snap_elem_priv(el);
	struct snap_elem_batch b;
	uint64_t now = rte_rdtsc(), hz = rte_get_tsc_hz();
	snap_elem_batch_init(&b, 2);
	for (uint16_t i = 0; i < n; i++) {
		uint64_t t;
		if (!is_our_reply(s, pkts[i], &t)) {
			snap_elem_batch_add(&b, OUT_OTHER, pkts[i]);
			continue;
		}
		if (t > now || now - t > 60 * hz) {
			s->bad_reply++;
		} else {
			uint64_t ns = (now - t) * 1000000000ull / hz;
			s->received++;
			s->rtt_last_ns = ns;
			s->rtt_sum_ns += ns;
			s->rtt_min_ns = RTE_MIN(s->rtt_min_ns, ns);
			s->rtt_max_ns = RTE_MAX(s->rtt_max_ns, ns);
		}
		rte_pktmbuf_free(pkts[i]);
	}
	snap_elem_batch_flush(el, &b, 2);
}

static void ping_stats(const struct snap_elem *el, snap_stat_fn fn, void *ctx)
{
	const struct ping *s = snap_elem_priv(el);
	fn(ctx, "sent", s->sent);
	fn(ctx, "received", s->received);
	fn(ctx, "no_neighbour", s->no_neighbour);
	fn(ctx, "no_mbuf", s->no_mbuf);
	fn(ctx, "bad_reply", s->bad_reply);
	fn(ctx, "rtt_min_ns", s->received ? s->rtt_min_ns : 0);
	fn(ctx, "rtt_avg_ns", s->received ? s->rtt_sum_ns / s->received : 0);
	fn(ctx, "rtt_max_ns", s->rtt_max_ns);
	fn(ctx, "rtt_last_ns", s->rtt_last_ns);
}

static const char *const ping_outputs[] = {"tx", "other"};
static const struct snap_elem_desc ping_desc = {
	.name = "icmp_ping",
	.help = "send ICMP echo requests and time the replies (args: port, dst, interval_us=100000, "
		"size=56, count=0)",
	.priv_size = sizeof(struct ping),
	.n_outputs = 2,
	.outputs = ping_outputs,
	.init = ping_init,
	.process = ping_process,
	.poll = ping_poll,
	.next_deadline = ping_deadline,
	.stats = ping_stats,
};
SNAP_ELEM_REGISTER(ping_desc)
