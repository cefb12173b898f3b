/* Pony header parse (validate everything, trust nothing) and build. Byte offsets here are the
 * wire contract documented in pony/WIRE.md; change both together and bump the version. */
#include <errno.h>
#include <string.h>

#include <rte_byteorder.h>
#include <nmmintrin.h>

#include "pony/transport.h"
#include "pony/bytes.h"
#include "pony/crc.h"
#include "pony/wire.h"

/* Field offsets (bytes from the start of the Pony header). */
enum {
	OFF_VERSION = 0,
	OFF_TYPE = 1,
	OFF_FLAGS = 2,
	OFF_NSACK = 3,
	OFF_SRC_FLOW = 4,
	OFF_DST_FLOW = 8,
	OFF_SEQ = 12,
	OFF_ACK = 16,
	OFF_TS = 20,
	OFF_TS_ECHO = 28,
	OFF_ECHO_DELAY = 36,
	OFF_SID = 40,
	OFF_SRC_SID = 44,
	OFF_MSG_ID = 48,
	OFF_MSG_LEN = 52,
	OFF_OFFSET = 56,
	OFF_AUX = 60,
	OFF_PAYLOAD_LEN = 64,
	OFF_KEY_ID = 66,
	OFF_RESERVED = 67,
	OFF_CSUM = 68,
	OFF_SACK = 72,
};
_Static_assert(OFF_SACK == PONY_HDR_FIXED, "fixed header size is part of the wire contract");

#define SACK_SPAN_MAX (1u << 15) /* no sane window is wider; bounds receiver work */

/* The checksum is crc32c over the header with the csum field taken as zero, then the
 * payload. This is the header's part: raw crc32c from the initial ~0 over hdr_len bytes. The
 * csum field is the upper half of the header's ninth little-endian word (bytes 64..71), so
 * the header goes as words with that half masked: the same bytes, zeros in place of the
 * field. */
_Static_assert(OFF_CSUM == 68 && PONY_HDR_FIXED == 72, "csum is the top of word 8");
static inline uint32_t hdr_fixed_crc(const uint8_t *p)
{
	uint64_t w[9];
	memcpy(w, p, sizeof(w));
	/* Written out: gcc -O2 keeps the loop, a counter and a branch a word, on every packet. */
	uint64_t c = _mm_crc32_u64(0xffffffffu, w[0]);
	c = _mm_crc32_u64(c, w[1]);
	c = _mm_crc32_u64(c, w[2]);
	c = _mm_crc32_u64(c, w[3]);
	c = _mm_crc32_u64(c, w[4]);
	c = _mm_crc32_u64(c, w[5]);
	c = _mm_crc32_u64(c, w[6]);
	c = _mm_crc32_u64(c, w[7]);
	return (uint32_t)_mm_crc32_u64(c, w[8] & 0xffffffffull); /* little-endian: bytes 64..67 */
}

static uint32_t hdr_crc(const uint8_t *p, size_t hdr_len)
{
	return pony_crc32c_small(p + PONY_HDR_FIXED, hdr_len - PONY_HDR_FIXED, hdr_fixed_crc(p));
}

uint32_t pony_wire_csum(const void *pkt, size_t hdr_len, size_t payload_len)
{
	const uint8_t *p = pkt;
	/* The SACK blocks and the payload follow the fixed header: one run of bytes. */
	size_t rest = hdr_len - PONY_HDR_FIXED + payload_len;
	uint32_t c = hdr_fixed_crc(p);
	return ~(rest < PONY_CRC_FOLD_MIN ? pony_crc32c_small(p + PONY_HDR_FIXED, rest, c)
					  : pony_crc32c(p + PONY_HDR_FIXED, rest, c));
}

static int type_known(uint8_t t)
{
	return (t >= PONY_T_SYN && t <= PONY_T_PROBE) || pony_type_sequenced(t);
}

static int parse(const void *pkt, size_t len, struct pony_hdr *h, bool may_defer)
{
	const uint8_t *p = pkt;

	memset(h, 0, sizeof(*h)); /* unused SACK slots read as zero */
	if (len < PONY_HDR_FIXED)
		return -EMSGSIZE;
	/* Version first: a future version may change everything after these bytes. */
	if (p[OFF_VERSION] != PONY_WIRE_VERSION)
		return -EPROTONOSUPPORT;
	h->version = p[OFF_VERSION];
	h->type = p[OFF_TYPE];
	h->flags = p[OFF_FLAGS];
	h->n_sack = p[OFF_NSACK];
	if (h->n_sack > PONY_SACK_MAX)
		return -EINVAL;
	size_t hl = pony_wire_hdr_len(h);
	if (len < hl)
		return -EMSGSIZE;
	h->payload_len = pony_rd16(p + OFF_PAYLOAD_LEN);
	h->key_id = p[OFF_KEY_ID];
	size_t trailer = h->key_id ? PONY_AUTH_TRAILER : 0;
	if (len < hl + trailer || (size_t)h->payload_len != len - hl - trailer)
		return -EMSGSIZE;
	h->csum = pony_rd32(p + OFF_CSUM);
	/* Authenticated: the tag covers every byte, the crc would only cost time. */
	/* Left to the caller (pony_wire_parse_rx): a payload the fused copy takes. The lengths
	 * are checked, so the caller can compute the csum. */
	bool defer = may_defer && h->key_id == 0 && h->type == PONY_T_DATA &&
		     h->payload_len >= PONY_CRC_COPY_MIN;
	if (h->key_id ? h->csum != 0 : !defer && pony_wire_csum(p, hl, h->payload_len) != h->csum)
		return -EBADMSG;
	h->csum_deferred = defer;
	if (!type_known(h->type) || p[OFF_RESERVED] != 0 || (h->flags & ~PONY_F_ALL) ||
	    ((h->flags & PONY_F_HS) && (h->type != PONY_T_ACK || !(h->flags & PONY_F_ACK_VALID))))
		return -EINVAL;
	h->src_flow = pony_rd32(p + OFF_SRC_FLOW);
	h->dst_flow = pony_rd32(p + OFF_DST_FLOW);
	h->seq = pony_rd32(p + OFF_SEQ);
	h->ack = pony_rd32(p + OFF_ACK);
	h->ts = pony_rd64(p + OFF_TS);
	h->ts_echo = pony_rd64(p + OFF_TS_ECHO);
	h->echo_delay = pony_rd32(p + OFF_ECHO_DELAY);
	h->sid = pony_rd32(p + OFF_SID);
	h->src_sid = pony_rd32(p + OFF_SRC_SID);
	h->msg_id = pony_rd32(p + OFF_MSG_ID);
	h->msg_len = pony_rd32(p + OFF_MSG_LEN);
	h->offset = pony_rd32(p + OFF_OFFSET);
	h->aux = pony_rd32(p + OFF_AUX);
	if (h->src_flow == 0)
		return -EINVAL;
	if (h->type != PONY_T_SYN && h->dst_flow == 0)
		return -EINVAL;
	for (unsigned i = 0; i < h->n_sack; i++) {
		h->sack[i].start = pony_rd32(p + OFF_SACK + 8 * i);
		h->sack[i].end = pony_rd32(p + OFF_SACK + 8 * i + 4);
		uint32_t span = h->sack[i].end - h->sack[i].start;
		/* Serial arithmetic: each block lies strictly beyond the cumulative ack. */
		if (span == 0 || span > SACK_SPAN_MAX || (int32_t)(h->sack[i].start - h->ack) <= 0 ||
		    (int32_t)(h->sack[i].end - h->ack) > (int32_t)SACK_SPAN_MAX)
			return -EINVAL;
	}
	if (h->n_sack && !(h->flags & PONY_F_ACK_VALID))
		return -EINVAL;
	if (h->type == PONY_T_DATA) {
		if (h->payload_len == 0 || h->msg_len == 0 || h->msg_len > PONY_MSG_MAX ||
		    h->offset >= h->msg_len || h->payload_len > h->msg_len - h->offset)
			return -EINVAL;
	} else if (h->type == PONY_T_OS_REQ || h->type == PONY_T_OS_RESP) {
		/* Records are validated by pony/onesided_exec.c; here only their count. */
		if (h->payload_len == 0 || h->aux == 0 || h->aux > PONY_OS_RECS_MAX)
			return -EINVAL;
	} else if (h->payload_len != 0 && h->type != PONY_T_NOP) {
		/* only DATA and the one-sided types carry payload, and NOP padding (a path MTU
		 * probe, pony/pmtu.h: read by nobody) */
		return -EINVAL;
	}
	return (int)hl;
}

int pony_wire_parse(const void *pkt, size_t len, struct pony_hdr *h)
{
	return parse(pkt, len, h, false);
}

int pony_wire_parse_rx(const void *pkt, size_t len, struct pony_hdr *h)
{
	int r = parse(pkt, len, h, true);
	/* Whatever else is wrong, a packet with a bad checksum is counted as one. */
	if (r < 0 && h->csum_deferred) {
		h->csum_deferred = false;
		if (pony_wire_csum(pkt, pony_wire_hdr_len(h), h->payload_len) != h->csum)
			return -EBADMSG;
	}
	return r;
}

uint32_t pony_wire_csum_copy(const void *pkt, size_t hdr_len, size_t payload_len, void *dst)
{
	const uint8_t *p = pkt;
	return ~pony_crc32c_copy(dst, p + hdr_len, payload_len, hdr_crc(p, hdr_len));
}

static size_t put_hdr(uint8_t *p, const struct pony_hdr *h)
{
	size_t hl = pony_wire_hdr_len(h);

	p[OFF_VERSION] = PONY_WIRE_VERSION;
	p[OFF_TYPE] = h->type;
	p[OFF_FLAGS] = h->flags;
	p[OFF_NSACK] = h->n_sack;
	pony_wr32(p + OFF_SRC_FLOW, h->src_flow);
	pony_wr32(p + OFF_DST_FLOW, h->dst_flow);
	pony_wr32(p + OFF_SEQ, h->seq);
	pony_wr32(p + OFF_ACK, h->ack);
	pony_wr64(p + OFF_TS, h->ts);
	pony_wr64(p + OFF_TS_ECHO, h->ts_echo);
	pony_wr32(p + OFF_ECHO_DELAY, h->echo_delay);
	pony_wr32(p + OFF_SID, h->sid);
	pony_wr32(p + OFF_SRC_SID, h->src_sid);
	pony_wr32(p + OFF_MSG_ID, h->msg_id);
	pony_wr32(p + OFF_MSG_LEN, h->msg_len);
	pony_wr32(p + OFF_OFFSET, h->offset);
	pony_wr32(p + OFF_AUX, h->aux);
	pony_wr16(p + OFF_PAYLOAD_LEN, h->payload_len);
	p[OFF_KEY_ID] = h->key_id;
	p[OFF_RESERVED] = 0;
	for (unsigned i = 0; i < h->n_sack; i++) {
		pony_wr32(p + OFF_SACK + 8 * i, h->sack[i].start);
		pony_wr32(p + OFF_SACK + 8 * i + 4, h->sack[i].end);
	}
	return hl;
}

size_t pony_wire_build(void *out, const struct pony_hdr *h)
{
	uint8_t *p = out;
	size_t hl = put_hdr(p, h);
	pony_wr32(p + OFF_CSUM, h->key_id ? 0 : pony_wire_csum(p, hl, h->payload_len));
	return hl;
}

size_t pony_wire_build_copy(void *out, const struct pony_hdr *h, const void *payload)
{
	uint8_t *p = out;
	size_t hl = put_hdr(p, h);
	if (h->key_id) {
		memcpy(p + hl, payload, h->payload_len);
		pony_wr32(p + OFF_CSUM, 0);
	} else {
		/* The checksum rides the copy: the payload bytes are read once. */
		uint32_t c = pony_crc32c_copy(p + hl, payload, h->payload_len, hdr_crc(p, hl));
		pony_wr32(p + OFF_CSUM, ~c);
	}
	return hl;
}

const char *pony_type_name(uint8_t t)
{
	switch (t) {
	case PONY_T_SYN: return "SYN";
	case PONY_T_SYN_ACK: return "SYN_ACK";
	case PONY_T_RST: return "RST";
	case PONY_T_FIN: return "FIN";
	case PONY_T_FIN_ACK: return "FIN_ACK";
	case PONY_T_ACK: return "ACK";
	case PONY_T_PROBE: return "PROBE";
	case PONY_T_DATA: return "DATA";
	case PONY_T_OPEN: return "OPEN";
	case PONY_T_OPEN_ACK: return "OPEN_ACK";
	case PONY_T_CLOSE: return "CLOSE";
	case PONY_T_CREDIT: return "CREDIT";
	case PONY_T_NOP: return "NOP";
	case PONY_T_OS_REQ: return "OS_REQ";
	case PONY_T_OS_RESP: return "OS_RESP";
	default: return "?";
	}
}
