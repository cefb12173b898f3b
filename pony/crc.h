/* CRC-32C (Castagnoli), Pony's packet checksum: raw values (no pre/post inversion), so calls
 * chain and match rte_hash_crc's convention; pony_wire_csum adds the inversions. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <nmmintrin.h>

/* CRC-32C of len bytes at p continuing from crc. Buffers of PONY_CRC_FOLD_MIN bytes and more
 * go through ISA-L's folding implementation (tools/bench/crc_bench measures both). */
#define PONY_CRC_FOLD_MIN 256
uint32_t pony_crc32c(const void *p, size_t len, uint32_t crc);

/* The crc32 instruction over whole 8-byte words, then the tail. SSE4.2 is part of the build's
 * baseline (DPDK's -march=corei7), so no run-time dispatch: rte_hash_crc re-checks its
 * algorithm choice every 8 bytes, which cost a third of the checksum on small packets. */
static inline uint32_t pony_crc32c_small(const uint8_t *p, size_t len, uint32_t crc)
{
	uint64_t c = crc, w[2];
	/* Two words a turn: the loop's counter and branch cost as much as the crc32 itself. */
	for (; len >= 16; p += 16, len -= 16) {
		memcpy(w, p, 16);
		c = _mm_crc32_u64(_mm_crc32_u64(c, w[0]), w[1]);
	}
	if (len & 8) {
		memcpy(w, p, 8);
		c = _mm_crc32_u64(c, w[0]);
		p += 8;
	}
	uint32_t c32 = (uint32_t)c;
	if (len & 4) {
		uint32_t w4;
		memcpy(&w4, p, 4);
		c32 = _mm_crc32_u32(c32, w4);
		p += 4;
	}
	if (len & 2) {
		uint16_t w2;
		memcpy(&w2, p, 2);
		c32 = _mm_crc32_u16(c32, w2);
		p += 2;
	}
	if (len & 1)
		c32 = _mm_crc32_u8(c32, *p);
	return c32;
}

/* Copy len bytes from src to dst (not overlapping) and return the CRC-32C of those bytes
 * continuing from crc: the same value as pony_crc32c(src, len, crc). On a CPU with AVX-512
 * carry-less multiply (VPCLMULQDQ) from PONY_CRC_COPY_MIN bytes on, the checksum is folded
 * into the copy, one pass over the bytes instead of two; elsewhere it is memcpy, then
 * pony_crc32c over the destination while it is in cache. Inline below that size: an RPC's
 * payload takes no call beyond memcpy's. */
#define PONY_CRC_COPY_MIN 512
uint32_t pony_crc32c_copy_big(void *dst, const void *src, size_t len, uint32_t crc);
static inline uint32_t pony_crc32c_copy(void *dst, const void *src, size_t len, uint32_t crc)
{
	if (len >= PONY_CRC_COPY_MIN)
		return pony_crc32c_copy_big(dst, src, len, crc);
	memcpy(dst, src, len);
	return len < PONY_CRC_FOLD_MIN ? pony_crc32c_small(dst, len, crc) : pony_crc32c(dst, len, crc);
}

/* The two-pass form pony_crc32c_copy falls back to (memcpy, then pony_crc32c over dst); here
 * so tests and crc_bench reach it on any CPU. */
uint32_t pony_crc32c_copy_unfused(void *dst, const void *src, size_t len, uint32_t crc);

/* Which pony_crc32c_copy runs on this CPU: "fused-avx512" or "memcpy+crc" (crc_bench prints it). */
const char *pony_crc32c_copy_impl(void);
