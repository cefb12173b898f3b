/* The exception path's filter: which of the frames the engine does not consume itself may go
 * to the host kernel. Parsed once at init from an allow list; matched per packet. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_mbuf.h>

/* What a frame is, for the filter and the per-class counters. */
enum snap_exc_class {
	SNAP_EXC_TCP,
	SNAP_EXC_UDP,
	SNAP_EXC_ICMP,
	SNAP_EXC_ARP,
	SNAP_EXC_IPV4_OTHER, /* another IPv4 protocol, or a fragment past the first */
	SNAP_EXC_IPV6,
	SNAP_EXC_OTHER,      /* any other EtherType */
	SNAP_EXC_CLASSES
};

/*
 * Allow list. Tokens, separated by commas and/or spaces:
 *   all                      everything (the default when the list is absent)
 *   tcp | udp                every destination port of that protocol
 *   tcp:P | tcp:P-Q          destination port P, or P..Q (1..65535), same for udp
 *   icmp                     ICMP the engine did not answer (echo replies, errors)
 *   arp                      ARP replies the arp element passes on (the kernel needs them to
 *                            reach anyone: without it only static neighbours work)
 *   proto:N                  every datagram of IPv4 protocol N (0..255)
 *   ipv6 | other             IPv6 frames | frames of any other EtherType
 * Bitmaps, so the per-packet match is a few loads whatever the list's length.
 */
struct snap_exc_filter {
	uint8_t cls[SNAP_EXC_CLASSES];   /* class allowed whole */
	uint8_t proto[256 / 8];          /* IPv4 protocols allowed whole */
	uint8_t tcp[65536 / 8];          /* TCP destination ports */
	uint8_t udp[65536 / 8];          /* UDP destination ports */
};

/* Parse list into f (zeroed first). NULL list: allow all. 0, or -EINVAL with a message that
 * names the bad token written to err (errlen bytes). */
int snap_exc_filter_parse(struct snap_exc_filter *f, const char *list, char *err, size_t errlen);

/* Classify frame m (data at the Ethernet header; headers checked against the first segment,
 * so any frame is safe) and say whether f lets it through. *cls gets the class. */
bool snap_exc_filter_match(const struct snap_exc_filter *f, struct rte_mbuf *m,
			   enum snap_exc_class *cls);

/* Counter names of the classes ("tcp", "udp", ...). */
const char *snap_exc_class_name(unsigned c);
