/* Pony wire format: build/parse round trip, and every validation rule rejecting what it
 * should (truncation, version, checksum, field bounds, SACK sanity). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <rte_hash_crc.h>

#include "pony/transport.h"
#include "pony/wire.h"

static uint8_t buf[PONY_HDR_MAX + 2048];

static struct pony_hdr data_hdr(uint16_t plen)
{
	struct pony_hdr h = {.type = PONY_T_DATA, .flags = PONY_F_ACK_VALID, .src_flow = 0x11,
			     .dst_flow = 0x22, .seq = 0xfffffffe, .ack = 100, .ts = 123456789,
			     .ts_echo = 987654321, .echo_delay = 555, .sid = 0x100001, .src_sid = 3,
			     .msg_id = 7, .msg_len = 5000, .offset = 4000, .aux = 9,
			     .payload_len = plen, .n_sack = 2};
	h.sack[0].start = 110, h.sack[0].end = 120;
	h.sack[1].start = 130, h.sack[1].end = 131;
	return h;
}

static size_t build(struct pony_hdr *h)
{
	size_t hl = pony_wire_hdr_len(h);
	for (unsigned i = 0; i < h->payload_len; i++)
		buf[hl + i] = (uint8_t)(i * 7);
	return pony_wire_build(buf, h) + h->payload_len;
}

static void test_roundtrip(void **state)
{
	struct pony_hdr h = data_hdr(1000), g;
	size_t len = build(&h);
	assert_int_equal(len, PONY_HDR_FIXED + 16 + 1000);
	assert_int_equal(pony_wire_parse(buf, len, &g), PONY_HDR_FIXED + 16);
	assert_int_equal(g.version, PONY_WIRE_VERSION);
	assert_int_equal(g.type, PONY_T_DATA);
	assert_int_equal(g.seq, 0xfffffffe);
	assert_int_equal(g.ts, 123456789);
	assert_int_equal(g.ts_echo, 987654321);
	assert_int_equal(g.echo_delay, 555);
	assert_int_equal(g.sid, 0x100001);
	assert_int_equal(g.src_sid, 3);
	assert_int_equal(g.msg_id, 7);
	assert_int_equal(g.msg_len, 5000);
	assert_int_equal(g.offset, 4000);
	assert_int_equal(g.aux, 9);
	assert_int_equal(g.n_sack, 2);
	assert_int_equal(g.sack[1].start, 130);
	assert_int_equal(g.sack[1].end, 131);
	/* Control packet without payload. */
	struct pony_hdr c = {.type = PONY_T_SYN, .src_flow = 5, .seq = 42};
	len = build(&c);
	assert_int_equal(pony_wire_parse(buf, len, &g), PONY_HDR_FIXED);
	assert_int_equal(g.seq, 42);
	assert_string_equal(pony_type_name(PONY_T_CREDIT), "CREDIT");
	assert_string_equal(pony_type_name(200), "?");
}

static void test_corruption(void **state)
{
	struct pony_hdr h = data_hdr(300), g;
	size_t len = build(&h);
	/* Every single-bit flip anywhere is caught (length, version or checksum). */
	for (size_t i = 0; i < len; i++) {
		for (int b = 0; b < 8; b++) {
			buf[i] ^= (uint8_t)(1u << b);
			assert_true(pony_wire_parse(buf, len, &g) < 0);
			buf[i] ^= (uint8_t)(1u << b);
		}
	}
	assert_true(pony_wire_parse(buf, len, &g) > 0);
	buf[0] = PONY_WIRE_VERSION + 1;
	assert_int_equal(pony_wire_parse(buf, len, &g), -EPROTONOSUPPORT);
	buf[0] = PONY_WIRE_VERSION;
	buf[len - 1] ^= 1;
	assert_int_equal(pony_wire_parse(buf, len, &g), -EBADMSG);
}

static void test_lengths(void **state)
{
	struct pony_hdr h = data_hdr(300), g;
	size_t len = build(&h);
	for (size_t l = 0; l < len; l++)
		assert_true(pony_wire_parse(buf, l, &g) < 0);
	assert_int_equal(pony_wire_parse(buf, len + 1, &g), -EMSGSIZE);
	assert_int_equal(pony_wire_parse(buf, 10, &g), -EMSGSIZE);
}

static int parse_of(struct pony_hdr h)
{
	struct pony_hdr g;
	size_t len = build(&h);
	return pony_wire_parse(buf, len, &g);
}

static void test_field_bounds(void **state)
{
	struct pony_hdr h;
	h = data_hdr(1000);
	h.msg_len = 4999; /* offset + payload beyond the message */
	assert_int_equal(parse_of(h), -EINVAL);
	h = data_hdr(1000);
	h.msg_len = PONY_MSG_MAX + 1;
	assert_int_equal(parse_of(h), -EINVAL);
	h = data_hdr(0); /* DATA without payload */
	assert_int_equal(parse_of(h), -EINVAL);
	h = data_hdr(10);
	h.type = PONY_T_CREDIT; /* payload on a control type */
	assert_int_equal(parse_of(h), -EINVAL);
	h = data_hdr(10);
	h.type = PONY_T_WRITE; /* reserved, not in this version */
	assert_int_equal(parse_of(h), -EINVAL);
	h = data_hdr(10);
	h.type = PONY_T_OS_REQ; /* one-sided: record count in aux, 1..64 */
	h.aux = 0;
	assert_int_equal(parse_of(h), -EINVAL);
	h.aux = 65;
	assert_int_equal(parse_of(h), -EINVAL);
	h.aux = 1;
	assert_true(parse_of(h) > 0);
	h = data_hdr(0);
	h.type = PONY_T_OS_RESP; /* one-sided without payload */
	h.aux = 1;
	assert_int_equal(parse_of(h), -EINVAL);
	h = data_hdr(10);
	h.src_flow = 0;
	assert_int_equal(parse_of(h), -EINVAL);
	h = data_hdr(10);
	h.dst_flow = 0;
	assert_int_equal(parse_of(h), -EINVAL);
	h = data_hdr(10);
	h.flags = 0x80;
	assert_int_equal(parse_of(h), -EINVAL);
	h = data_hdr(10);
	h.sack[0].start = 100; /* not beyond the cumulative ack */
	assert_int_equal(parse_of(h), -EINVAL);
	h = data_hdr(10);
	h.sack[0].end = h.sack[0].start; /* empty */
	assert_int_equal(parse_of(h), -EINVAL);
	h = data_hdr(10);
	h.sack[1].end = h.sack[1].start + 40000; /* absurdly wide */
	assert_int_equal(parse_of(h), -EINVAL);
	h = data_hdr(10);
	h.flags = 0; /* SACK without a valid ack */
	assert_int_equal(parse_of(h), -EINVAL);
	/* n_sack beyond the maximum. */
	h = data_hdr(10);
	size_t len = build(&h);
	buf[3] = PONY_SACK_MAX + 1;
	struct pony_hdr g;
	assert_true(pony_wire_parse(buf, len, &g) < 0);
	/* Sequence wrap: SACK blocks across 2^32 are fine. */
	h = data_hdr(10);
	h.ack = 0xfffffff0;
	h.sack[0].start = 0xfffffff8, h.sack[0].end = 4;
	h.sack[1].start = 10, h.sack[1].end = 12;
	assert_true(parse_of(h) > 0);
}

/* The checksum is the wire contract's definition, whatever the code's shortcuts (word-wise
 * header, header and payload as one run, the copy that checksums): ~crc32c from ~0 over the
 * header with its csum field zero, then the payload. Every SACK count, lengths around the
 * word and fold boundaries. Computed here by DPDK's crc, byte-wise from the definition. */
static void test_csum_definition(void **state)
{
	static const uint16_t plens[] = {0, 1, 7, 8, 9, 15, 16, 17, 64, 183, 184, 255, 256, 511,
					 512, 1000, 2048};
	static uint8_t ref[PONY_HDR_MAX + 2048], copy[2048];
	for (unsigned ns = 0; ns <= PONY_SACK_MAX; ns++)
		for (unsigned k = 0; k < sizeof(plens) / sizeof(plens[0]); k++) {
			struct pony_hdr h = data_hdr(plens[k]);
			h.n_sack = (uint8_t)ns;
			for (unsigned i = 0; i < ns; i++)
				h.sack[i].start = 110 + 10 * i, h.sack[i].end = 115 + 10 * i;
			if (plens[k] == 0)
				h.type = PONY_T_ACK;
			size_t len = build(&h), hl = pony_wire_hdr_len(&h);
			memcpy(ref, buf, len);
			memset(ref + 68, 0, 4);
			uint32_t want = ~rte_hash_crc(ref, (uint32_t)len, 0xffffffffu);
			assert_int_equal(pony_wire_csum(buf, hl, plens[k]), want);
			assert_int_equal(pony_wire_csum_copy(buf, hl, plens[k], copy), want);
			assert_memory_equal(copy, buf + hl, plens[k]);
			/* As sent: bytes 68..71, big-endian. */
			assert_int_equal((uint32_t)buf[68] << 24 | buf[69] << 16 | buf[70] << 8 | buf[71],
					 want);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_corruption),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_field_bounds),
		cmocka_unit_test(test_csum_definition),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
