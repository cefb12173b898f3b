/* Drop reasons: one X-macro list produces the enum and the names that snapctl, logs and
 * tests print, so every tool says the same words. Append new reasons at the end of a section;
 * the numeric values are not part of any saved-state or wire format (names are). */
#pragma once

#define SNAP_DROP_REASONS(X)                                                              \
	X(UNCONNECTED, "unconnected_output")                                              \
	X(TRUNCATED, "truncated")                                                         \
	X(UNKNOWN_ETHERTYPE, "unknown_ethertype")                                         \
	X(NOT_FOR_US, "not_for_us")                                                       \
	X(VLAN, "vlan_unsupported")                                                       \
	X(ARP_MALFORMED, "arp_malformed")                                                 \
	X(ARP_UNSUPPORTED, "arp_unsupported")                                             \
	X(IP_VERSION, "ip_bad_version")                                                   \
	X(IP_HDR_LEN, "ip_bad_header_length")                                             \
	X(IP_TOTAL_LEN, "ip_bad_total_length")                                            \
	X(IP_CSUM, "ip_bad_checksum")                                                     \
	X(IP_TTL, "ip_ttl_expired")                                                       \
	X(IP_FRAGMENT, "ip_fragment")                                                     \
	X(IP_OPTIONS, "ip_options")                                                       \
	X(IP_BAD_SOURCE, "ip_bad_source")                                                 \
	X(IP6_EXT_HDR, "ipv6_ext_header")                                                 \
	X(NDP_MALFORMED, "ndp_malformed")                                                 \
	X(ICMP_MALFORMED, "icmp_malformed")                                               \
	X(ICMP_CSUM, "icmp_bad_checksum")                                                 \
	X(ICMP_UNHANDLED, "icmp_unhandled_type")                                          \
	X(ICMP_BROADCAST, "icmp_broadcast_ignored")                                       \
	X(UDP_MALFORMED, "udp_malformed")                                                 \
	X(UDP_CSUM, "udp_bad_checksum")                                                   \
	X(UDP_NO_LISTENER, "udp_no_listener")                                             \
	X(PROTO_UNHANDLED, "ip_proto_unhandled")                                          \
	X(TX_FULL, "tx_queue_full")                                                       \
	X(RING_FULL, "ring_full")                                                         \
	X(NO_MBUF, "no_mbuf")                                                             \
	X(NO_NEIGHBOUR, "no_neighbour")                                                   \
	X(INJECT_LOSS, "injected_loss")                                                   \
	X(INJECT_QUEUE_FULL, "injector_queue_full")                                       \
	X(PONY_MALFORMED, "pony_malformed")                                               \
	X(PONY_BAD_VERSION, "pony_bad_version")                                           \
	X(PONY_CSUM, "pony_bad_checksum")                                                 \
	X(PONY_NO_FLOW, "pony_unknown_flow")                                              \
	X(PONY_DUPLICATE, "pony_duplicate")                                               \
	X(PONY_OUT_OF_WINDOW, "pony_out_of_window")                                       \
	X(POLICY, "policy")                                                               \
	X(SHUTDOWN, "shutdown")                                                           \
	X(PORT_STOPPED, "port_stopped")                                                   \
	X(EXC_FILTERED, "exception_filtered")                                             \
	X(EXC_TAP_FULL, "exception_tap_full")                                             \
	X(EXC_BAD_FRAME, "exception_bad_frame")                                           \
	X(PONY_MISDIRECTED, "pony_misdirected")

enum snap_drop {
#define SNAP_X_ENUM(e, s) SNAP_DROP_##e,
	SNAP_DROP_REASONS(SNAP_X_ENUM)
#undef SNAP_X_ENUM
	SNAP_DROP_MAX
};

/* Name of a drop reason ("truncated"); "?" if out of range. */
const char *snap_drop_name(unsigned reason);

/* Defines `const char *fn(unsigned i)`: the name of entry i of an X-macro list whose entries
 * are X(ENUM, "name"), or "?" if out of range. One per list, next to its enum's users. */
#define SNAP_X_NAME_(e, s) s,
#define SNAP_X_NAME_FN(fn, LIST)                                                           \
	const char *fn(unsigned i)                                                         \
	{                                                                                  \
		static const char *const names_[] = {LIST(SNAP_X_NAME_)};                  \
		return i < sizeof(names_) / sizeof(names_[0]) ? names_[i] : "?";            \
	}
