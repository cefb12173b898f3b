/* Shared fixture for the element unit tests and the parse fuzzer: EAL + mbuf pool, a sink
 * element that collects what reaches it, frame builders, and a leak check. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mbuf.h>

#include "snap/element.h"
#include "snap/engine.h"
#include "snap/port.h"

#define ET_SINK_MAX 512

/* What a test_sink element instance collected (its priv). */
struct et_sink {
	uint16_t n;
	uint64_t overflow;   /* packets freed because pkts[] was full */
	struct rte_mbuf *pkts[ET_SINK_MAX];
};

extern struct rte_mempool *et_pool;

/* Start EAL (no hugepages, unique file prefix), create et_pool and two net_null ports
 * through the daemon's port code: "p0" (et_mac_us, 10.0.0.1/24, fd00::1/64) and "peer"
 * (et_mac_peer, 10.0.0.2/24, fd00::2/64), each with the static IPv6 neighbour
 * fd00::9 -> 02:00:00:00:00:09. 0 or -errno (message on stderr). */
int et_eal_init(const char *progname);
/* Kind of the two ports et_eal_init creates: null (default), ring (tx loops back to rx), or
 * memif (p0 the server, peer the client, joined through a socket in a private temporary
 * directory, both with rx_interrupts; the link comes up on the EAL interrupt thread). */
extern enum snap_port_kind et_port_kind;
/* Queue pairs of each (default 1). */
extern uint16_t et_port_queues;
/* Destroy ports and pool, clean up EAL and remove the prefix's runtime directory. */
void et_eal_fini(void);

/* Element "test_sink": holds every packet it gets until et_sink_clear. */
struct et_sink *et_sink_of(struct snap_engine *e, const char *name);
void et_sink_clear(struct et_sink *s);

/* Hand n packets to element `name` of e as if an upstream element emitted them. */
void et_feed(struct snap_engine *e, const char *name, struct rte_mbuf **pkts, uint16_t n);
/* One mbuf holding a copy of len bytes (single segment); NULL if they do not fit. */
struct rte_mbuf *et_mbuf(const void *bytes, size_t len);
/* Same, as a chain of segments of at most seg bytes each. */
struct rte_mbuf *et_mbuf_chain(const void *bytes, size_t len, size_t seg);

/* Mbufs of et_pool currently allocated. */
unsigned et_in_use(void);
/* Drops counted under reason by element name. */
uint64_t et_drops(struct snap_engine *e, const char *name, enum snap_drop reason);
/* An element-specific counter reported through desc->stats; UINT64_MAX if absent. */
uint64_t et_stat(struct snap_engine *e, const char *name, const char *counter);

/* Add an element with "k=v" pairs (NULL-terminated). Fails the test on error. */
void et_add(struct snap_engine *e, const char *type, const char *name, ...);
void et_link(struct snap_engine *e, const char *from, const char *out, const char *to);

/* Frame builders: write a complete valid frame into buf (>= 1514 bytes), return its length.
 * IPs are network order. */
extern const struct rte_ether_addr et_mac_us, et_mac_peer;
uint32_t et_ip(const char *s);
size_t et_build_udp(uint8_t *buf, const struct rte_ether_addr *dst, uint32_t sip, uint32_t dip,
		    uint16_t sport, uint16_t dport, size_t payload);
size_t et_build_icmp(uint8_t *buf, const struct rte_ether_addr *dst, uint32_t sip, uint32_t dip,
		     uint8_t type, size_t payload);
size_t et_build_arp(uint8_t *buf, const struct rte_ether_addr *dst, uint16_t op,
		    const struct rte_ether_addr *sha, uint32_t sip, uint32_t tip);
/* Recompute the IPv4 header checksum of a frame built above (after a test edited it). */
void et_fix_ip_cksum(uint8_t *buf);
/* Recompute the ICMP / UDP checksum (UDP: over the lengths in the headers). */
void et_fix_icmp_cksum(uint8_t *buf);
void et_fix_udp_cksum(uint8_t *buf);
