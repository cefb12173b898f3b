/* CRC-32C (pony/crc.c): pony_crc32c and pony_crc32c_copy against DPDK's rte_hash_crc at every
 * length up to past a jumbo frame, from every source/destination misalignment class and with
 * chained initial values; the copy writes exactly its bytes; pony_wire_build_copy writes the
 * same packet as pony_wire_build. On a CPU with VPCLMULQDQ this runs the fused fold (every
 * constant and every tail path); the unfused fallback runs everywhere. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <rte_hash_crc.h>

#include "pony/crc.h"
#include "pony/transport.h"
#include "pony/wire.h"

#define MAXLEN 9100
#define GUARD 64

static uint8_t src[MAXLEN + 128], dst[MAXLEN + 128 + 2 * GUARD];

static void fill(uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < sizeof(src); i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		src[i] = (uint8_t)x;
	}
}

static void check_one(size_t len, size_t so, size_t doff, uint32_t init)
{
	uint32_t want = rte_hash_crc(src + so, (uint32_t)len, init);
	for (int k = 0; k < 2; k++) { /* the copy this CPU runs, then the unfused fallback */
		memset(dst, 0xa5, sizeof(dst));
		uint32_t got = (k ? pony_crc32c_copy_unfused : pony_crc32c_copy)(
			dst + GUARD + doff, src + so, len, init);
		if (got != want)
			fail_msg("%s len %zu src+%zu dst+%zu init %08x: %08x, want %08x",
				 k ? "unfused" : "copy", len, so, doff, init, got, want);
		assert_memory_equal(dst + GUARD + doff, src + so, len);
		for (size_t i = 0; i < GUARD + doff; i++)
			assert_int_equal(dst[i], 0xa5);
		for (size_t i = GUARD + doff + len; i < sizeof(dst); i++)
			assert_int_equal(dst[i], 0xa5);
	}
	assert_int_equal(pony_crc32c(src + so, len, init), want);
}

static void test_every_length(void **state)
{
	(void)state;
	fill(1);
	printf("pony_crc32c_copy: %s\n", pony_crc32c_copy_impl());
	for (size_t len = 0; len <= 2100; len++)
		check_one(len, len % 13, (len * 7) % 64, 0xffffffffu);
	for (size_t len = 2101; len <= MAXLEN; len += 37)
		check_one(len, len % 64, (len * 3) % 64, (uint32_t)len * 0x9e3779b9u);
	check_one(MAXLEN, 0, 0, 0);
}

static void test_alignments_and_chaining(void **state)
{
	(void)state;
	fill(2);
	for (size_t so = 0; so < 64; so++)
		for (size_t doff = 0; doff < 64; doff += 5)
			check_one(1000 + so, so, doff, (uint32_t)(so * 77 + doff));
	/* Chained: a prefix's crc as the next call's initial value equals one call. */
	uint32_t whole = rte_hash_crc(src, 8868, 0xffffffffu);
	uint32_t c = pony_crc32c_copy(dst, src, 72, 0xffffffffu);
	c = pony_crc32c_copy(dst + 72, src + 72, 8868 - 72, c);
	assert_int_equal(c, whole);
}

static void test_build_copy(void **state)
{
	(void)state;
	fill(3);
	static uint8_t a[PONY_HDR_MAX + MAXLEN], b[PONY_HDR_MAX + MAXLEN];
	const uint16_t lens[] = {1, 15, 255, 256, 1400, 4097, 8868};
	for (unsigned i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct pony_hdr h = {.type = PONY_T_DATA, .flags = PONY_F_ACK_VALID, .src_flow = 5,
				     .dst_flow = 6, .seq = 77, .ack = 70, .sid = 3, .msg_id = 2,
				     .msg_len = 9000, .offset = 0, .payload_len = lens[i],
				     .n_sack = (uint8_t)(i % 3)};
		for (unsigned j = 0; j < h.n_sack; j++)
			h.sack[j].start = 80 + 4 * j, h.sack[j].end = 82 + 4 * j;
		memset(a, 0, sizeof(a));
		memset(b, 0, sizeof(b));
		size_t hl = pony_wire_hdr_len(&h);
		memcpy(a + hl, src, lens[i]);
		assert_int_equal(pony_wire_build(a, &h), hl);
		assert_int_equal(pony_wire_build_copy(b, &h, src), hl);
		assert_memory_equal(a, b, hl + lens[i]);
		struct pony_hdr g;
		assert_int_equal(pony_wire_parse(b, hl + lens[i], &g), (int)hl);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_length),
		cmocka_unit_test(test_alignments_and_chaining),
		cmocka_unit_test(test_build_copy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
