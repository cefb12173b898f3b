/* ARP for the port's IPv4 address: the `arp` element (responder + neighbour learning) and a
 * request builder that engines use when a next hop's MAC is unknown. */
#pragma once

#include <stdint.h>

#include <rte_mbuf.h>

#include "snap/port.h"

/* Bytes of an ARP request frame built by snap_arp_build_request: Ethernet + ARP, padded to
 * the Ethernet minimum (without FCS). */
#define SNAP_ARP_FRAME_LEN 60

/*
 * Fill m (freshly allocated, empty: data_len == 0) with a broadcast ARP request from port p
 * (its MAC and IPv4 address) asking for target_ip (network byte order). The caller owns m
 * before and after, and sends it on p's tx. target_ip is recorded as asked for, so its
 * reply may add a neighbour entry. No allocation, no logging: usable per packet.
 * Returns 0, -EINVAL (p has no IPv4 address, target_ip is 0, or m is not empty),
 * -ENOSPC (m's buffer is too small).
 */
int snap_arp_build_request(struct snap_port *p, uint32_t target_ip, struct rte_mbuf *m);
