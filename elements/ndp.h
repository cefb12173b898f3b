/* NDP (RFC 4861) for the port's IPv6 address: the neighbour solicitation builder that senders
 * use when a next hop's MAC is unknown, and the solicitation/advertisement handling that the
 * icmp6 element runs (NDP in place of ARP). */
#pragma once

#include <stdint.h>

#include <rte_ip.h>
#include <rte_mbuf.h>

#include "snap/port.h"

/* Bytes of a neighbour solicitation built by snap_ndp_build_solicit: Ethernet + IPv6 +
 * NS (24) + source link-layer address option (8). */
#define SNAP_NDP_NS_FRAME_LEN 86

#define SNAP_ND_NS 135
#define SNAP_ND_NA 136
#define SNAP_ND_HDR_LEN 24         /* type, code, cksum, flags/reserved, target */
#define SNAP_ND_OPT_SLLA 1
#define SNAP_ND_OPT_TLLA 2
#define SNAP_ND_NA_ROUTER 0x80
#define SNAP_ND_NA_SOLICITED 0x40
#define SNAP_ND_NA_OVERRIDE 0x20

/*
 * Fill m (freshly allocated, empty) with a neighbour solicitation from port p (its MAC and
 * IPv6 address) for target, sent to target's solicited-node group. The caller owns m before
 * and after and sends it on p's tx. target is recorded as asked for, so its solicited
 * advertisement may add a neighbour entry. No allocation, no logging: usable per packet.
 * Returns 0, -EINVAL (p has no IPv6 address, target is multicast, or m is not empty),
 * -ENOSPC (m's buffer is too small).
 */
int snap_ndp_build_solicit(struct snap_port *p, const uint8_t target[16], struct rte_mbuf *m);

/* What NDP handling counts (the icmp6 element's stats). */
struct snap_ndp_stats {
	uint64_t solicits;      /* solicitations for our address (answered) */
	uint64_t adverts_seen;
	uint64_t ignored;       /* solicitations for other targets, DAD probes, adverts without
				 * a link-layer address */
	uint64_t learned;
	uint64_t learn_failed;  /* table full, or a static entry */
	uint64_t unsolicited;   /* adverts we did not ask for: refused, never learned */
	uint64_t conflicts;     /* someone else advertises our address */
};

/* Outcome of snap_ndp_input. */
enum snap_ndp_verdict {
	SNAP_NDP_REPLY,     /* *mp was rewritten into an advertisement to send */
	SNAP_NDP_CONSUMED,  /* handled; the caller frees it (or passes it on to the kernel) */
	SNAP_NDP_DROP,      /* malformed (RFC 4861 7.1): the caller drops *mp, ndp_malformed */
	SNAP_NDP_NO_MBUF,   /* no private copy or room for the answer: the caller drops *mp,
			     * no_mbuf */
};

/* Handle the NS or NA in *mp (after ipv6_in and a verified ICMPv6 checksum; ip and l4_off
 * locate it, type is SNAP_ND_NS or SNAP_ND_NA). May replace *mp with a private copy. */
enum snap_ndp_verdict snap_ndp_input(struct snap_port *p, struct snap_ndp_stats *st,
				     struct rte_mbuf **mp, uint32_t l4_off, uint8_t type);
