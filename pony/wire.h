/* Pony Express wire format (see pony/WIRE.md, the contract): header layout, packet types,
 * validating parser and builder. Pure functions over byte buffers, so the fuzzer runs them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PONY_WIRE_VERSION 3 /* 2: one-sided OS_REQ / OS_RESP; 3: stateless handshake, exact
			     * RST, key_id + auth trailer */
#define PONY_UDP_PORT_DEFAULT 4793 /* configurable per pony element; not 4791 (RoCEv2), see WIRE.md */
#define PONY_SACK_MAX 4
#define PONY_HDR_FIXED 72                                  /* bytes before the SACK blocks */
#define PONY_HDR_MAX (PONY_HDR_FIXED + 8 * PONY_SACK_MAX) /* 104 */
#define PONY_OS_RECS_MAX 64 /* records per one-sided packet (PONY_OS_BATCH_MAX) */
/* Authenticated packets (key_id != 0) end in a trailer after the payload: a 96-bit AES-GCM
 * nonce then the 128-bit tag over everything before the trailer (WIRE.md "Authentication"). */
#define PONY_AUTH_TRAILER 28

/* Packet types. Values are wire contract: never renumber, only append (see WIRE.md). */
enum pony_type {
	PONY_T_SYN = 1,      /* flow set-up: src_flow = sender's flow id, seq = its initial seq */
	PONY_T_SYN_ACK = 2,  /* flow set-up reply: both flow ids, seq = responder's initial seq */
	PONY_T_RST = 3,      /* "I have no flow with that id": receiver fails the flow */
	PONY_T_FIN = 4,      /* idle flow teardown request */
	PONY_T_FIN_ACK = 5,  /* teardown confirmed */
	PONY_T_ACK = 6,      /* pure acknowledgement (cum ack + SACK + echoed timestamp) */
	PONY_T_PROBE = 7,    /* keep-alive: receiver answers with an ACK at once */
	/* Sequenced (reliable) types: consume a packet sequence number, acked, retransmitted. */
	PONY_T_DATA = 16,     /* one segment of a message */
	PONY_T_OPEN = 17,     /* open stream: src_sid = opener's sid, aux = service */
	PONY_T_OPEN_ACK = 18, /* accept (aux = 0) / refuse (aux = errno) */
	PONY_T_CLOSE = 19,    /* close stream sid (processed once all earlier seqs arrived) */
	PONY_T_CREDIT = 20,   /* aux = absolute credit: sender may send msg ids < aux */
	PONY_T_NOP = 21,      /* retransmission of a seq whose content is gone (closed stream) */
	/* One-sided operations (version 2, pony/onesided.h): sequenced, payload = op records. */
	PONY_T_OS_REQ = 32,  /* aux = number of request records in the payload */
	PONY_T_OS_RESP = 33, /* aux = number of response records in the payload */
	/* Reserved (never used so far); parsed as "unknown type". */
	PONY_T_WRITE = 34,
	PONY_T_WRITE_ACK = 35,
	PONY_T_ATOMIC = 36,
	PONY_T_ATOMIC_RESP = 37,
};

static inline int pony_type_sequenced(uint8_t t)
{
	return (t >= PONY_T_DATA && t <= PONY_T_NOP) || t == PONY_T_OS_REQ || t == PONY_T_OS_RESP;
}

/* Flags. */
#define PONY_F_ACK_VALID 0x01 /* ack/SACK/echo fields are meaningful */
#define PONY_F_RETX 0x02      /* this is a retransmission (statistics only) */
#define PONY_F_ACK_NOW 0x04   /* ask the receiver to ack immediately (last segment, probes) */
#define PONY_F_HS 0x08        /* (v3, ACK only) handshake ACK: seq = sender's ISN, aux = its
			       * window, dst_flow = the responder's cookie */
#define PONY_F_ALL 0x0f

/* Host-order view of a header. */
struct pony_hdr {
	uint8_t version;
	uint8_t type;
	uint8_t flags;
	uint8_t n_sack;
	uint32_t src_flow; /* sender's flow id (nonzero) */
	uint32_t dst_flow; /* receiver's flow id (0 in SYN) */
	uint32_t seq;      /* packet sequence number (sequenced types, SYN/SYN_ACK ISN) */
	uint32_t ack;      /* cumulative: next seq expected from the peer */
	uint64_t ts;       /* sender's transmit time, ns (its own clock) */
	uint64_t ts_echo;  /* peer's ts of the packet that triggered this ack */
	uint32_t echo_delay; /* ns the receiver held that packet before this ack */
	uint32_t sid;        /* receiver's stream id */
	uint32_t src_sid;    /* sender's stream id (OPEN, OPEN_ACK) */
	uint32_t msg_id;     /* message number in the stream (DATA), message count (CLOSE) */
	uint32_t msg_len;    /* message length, 1..PONY_MSG_MAX (DATA) */
	uint32_t offset;     /* byte offset of this segment in the message (DATA) */
	uint32_t aux;        /* type-specific: service, status, credit */
	uint16_t payload_len;
	uint8_t key_id;      /* 0: crc32c in csum; else the AES-GCM trailer's key (csum = 0) */
	uint32_t csum;       /* crc32c of header (csum = 0) + payload */
	bool csum_deferred;  /* pony_wire_parse_rx: csum not checked yet, the caller must */
	struct {
		uint32_t start, end; /* received seqs [start, end) beyond ack */
	} sack[PONY_SACK_MAX];
};

/* Parse and validate a packet (Pony header + payload [+ auth trailer], len bytes) into h.
 * Checks: length, version, type known, n_sack, payload_len == len - header (- trailer when
 * key_id != 0), the checksum (only when key_id is 0: the caller checks the tag), and per-type field
 * bounds (DATA: msg_len in 1..PONY_MSG_MAX, offset + payload <= msg_len, payload > 0; SACK
 * blocks non-empty, ordered start < end, beyond ack and at most 2^15 wide).
 * Returns the header length (payload starts there) or: -EMSGSIZE truncated/inconsistent
 * lengths, -EPROTONOSUPPORT bad version, -EBADMSG bad checksum, -EINVAL a bad field. */
int pony_wire_parse(const void *pkt, size_t len, struct pony_hdr *h);

/* pony_wire_parse for the receive path: the checksum of DATA with a payload of
 * PONY_CRC_COPY_MIN bytes or more (key_id 0) is left to the caller, who checks it in the copy
 * that delivers the payload (pony_wire_csum_copy) or alone (pony_wire_csum) before acting on
 * any field; such a header comes back with csum_deferred set. A packet that fails another
 * check and has a bad checksum still returns -EBADMSG. */
int pony_wire_parse_rx(const void *pkt, size_t len, struct pony_hdr *h);

/* Header length for h (PONY_HDR_FIXED + 8 * n_sack). */
static inline size_t pony_wire_hdr_len(const struct pony_hdr *h)
{
	return PONY_HDR_FIXED + 8u * h->n_sack;
}

/* Write h (version forced to PONY_WIRE_VERSION) into out (>= pony_wire_hdr_len(h) bytes)
 * with the checksum computed over header and the payload that follows it in memory
 * (h->payload_len bytes at out + hdr_len); with h->key_id != 0 the csum is 0 and the caller
 * appends the auth trailer (pony_auth_seal). Returns the header length. */
size_t pony_wire_build(void *out, const struct pony_hdr *h);

/* pony_wire_build with the payload copied in from payload (h->payload_len bytes, not
 * overlapping out): the checksum is computed in the same pass as the copy (pony_crc32c_copy). */
size_t pony_wire_build_copy(void *out, const struct pony_hdr *h, const void *payload);

/* The checksum pony_wire_build writes: crc32c over hdr_len header bytes (its csum field
 * taken as zero) followed by payload_len payload bytes, starting at pkt. */
uint32_t pony_wire_csum(const void *pkt, size_t hdr_len, size_t payload_len);

/* pony_wire_csum with the payload copied to dst (payload_len bytes, not overlapping) in the
 * same pass. */
uint32_t pony_wire_csum_copy(const void *pkt, size_t hdr_len, size_t payload_len, void *dst);


/* Name of a type for logs/tests ("DATA"), "?" if unknown. */
const char *pony_type_name(uint8_t t);
