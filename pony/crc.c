/* CRC-32C: ISA-L for checksums alone, and a copy with the checksum folded into it.
 *
 * The fold (after Intel's "Fast CRC Computation Using PCLMULQDQ", worked out for this
 * polynomial and layout, constants below): read 16 bytes little-endian as a lane; in the
 * reflected bit order CRC-32C uses, bit i of the lane is the coefficient of x^(127-i), so the
 * low 8 bytes L are the high-degree half and the high 8 bytes H the low one. Moving a lane D
 * bits forward (its end onto the end of a lane D bits later) multiplies it by x^D, and modulo
 * P the product is kept to 128 bits by one carry-less multiply per half:
 *     fold(L, H) = clmul(L, rev64(x^(63+D) mod P)) ^ clmul(H, rev64(x^(D-1) mod P))
 * (a carry-less product of two bit-reversed 64-bit values is the reversed product shifted by
 * one, hence 63 and -1). The 128-bit value left at the end is congruent to the whole input,
 * so the crc32 instruction over its 16 bytes from 0 gives the input's CRC. The initial crc
 * enters XORed into the first 4 bytes, as a reflected CRC allows. Constants from
 * x^e mod P with P = 0x11EDC6F41 (tests/unit/test_pony_crc.c checks every length against
 * ISA-L, so a wrong constant cannot pass). */
#include <stdbool.h>
#include <string.h>

#include <immintrin.h>
#include <isa-l/crc.h>

#include "pony/crc.h"

/* {low qword, high qword} constants for a fold by D bits. */
#define K128_LO 0x3743f7bd00000000ull
#define K128_HI 0x3171d43000000000ull
#define K256_LO 0x33ccbbbc00000000ull
#define K256_HI 0xa2158b3400000000ull
#define K384_LO 0xa46ef4aa00000000ull
#define K384_HI 0x6051243f00000000ull
#define K512_LO 0x1c19243b00000000ull
#define K512_HI 0x75bba45b00000000ull
#define K2048_LO 0xe9a5d8be00000000ull
#define K2048_HI 0x1426a81500000000ull

uint32_t pony_crc32c(const void *p, size_t len, uint32_t crc)
{
	/* ISA-L folds the buffer with carry-less multiplies over several streams at once; the
	 * crc32 instruction chained 8 bytes at a time waits 3 cycles per step. Both compute
	 * the same raw CRC-32C (no inversion), so they can be chained either way. */
	if (len >= PONY_CRC_FOLD_MIN && len <= INT32_MAX)
		return crc32_iscsi((unsigned char *)(uintptr_t)p, (int)len, crc);
	return pony_crc32c_small(p, len, crc);
}

#define FUSED_TARGET __attribute__((target("avx512f,avx512vl,vpclmulqdq,pclmul,sse4.2")))
#define FUSED_INLINE FUSED_TARGET __attribute__((always_inline)) static inline

FUSED_INLINE __m512i fold512(__m512i x, __m512i k, __m512i next)
{
	__m512i lo = _mm512_clmulepi64_epi128(x, k, 0x00);
	__m512i hi = _mm512_clmulepi64_epi128(x, k, 0x11);
	return _mm512_ternarylogic_epi64(lo, hi, next, 0x96); /* lo ^ hi ^ next */
}

FUSED_INLINE __m128i fold128(__m128i x, uint64_t k_lo, uint64_t k_hi)
{
	__m128i k = _mm_set_epi64x((long long)k_hi, (long long)k_lo);
	return _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11));
}

/* 256 bytes from s to d (64-byte aligned), kept in v. The loops over the four accumulators
 * are unrolled so the arrays live in registers: kept as loops, gcc put them on the stack and
 * the fold ran at half the speed. */
FUSED_INLINE void copy256(uint8_t *d, const uint8_t *s, __m512i v[4])
{
#pragma GCC unroll 4
	for (unsigned i = 0; i < 4; i++) {
		v[i] = _mm512_loadu_si512(s + 64 * i);
		_mm512_store_si512(d + 64 * i, v[i]);
	}
}

/* len >= PONY_CRC_COPY_MIN. Four 64-byte accumulators 256 bytes apart in the main loop, so
 * four folds are in flight while loads and stores stream; then one, then one lane. The
 * stores are aligned (the bytes before dst's next 64-byte boundary go by the crc32
 * instruction): a 64-byte store across two lines costs two, which made the fold slower than
 * memcpy then crc. */
FUSED_TARGET static uint32_t copy_fold(uint8_t *d, const uint8_t *s, size_t len, uint32_t crc)
{
	size_t head = (size_t)(-(uintptr_t)d & 63);
	if (head) {
		memcpy(d, s, head);
		crc = pony_crc32c_small(s, head, crc);
		s += head, d += head, len -= head; /* >= 256 left: PONY_CRC_COPY_MIN */
	}
	__m512i x[4], blk[4];
	copy256(d, s, x);
	x[0] = _mm512_xor_si512(x[0], _mm512_set_epi64(0, 0, 0, 0, 0, 0, 0, crc));
	s += 256, d += 256, len -= 256;

	const __m512i k4 = _mm512_broadcast_i32x4(_mm_set_epi64x((long long)K2048_HI,
								 (long long)K2048_LO));
	for (; len >= 256; s += 256, d += 256, len -= 256) {
		copy256(d, s, blk);
#pragma GCC unroll 4
		for (unsigned i = 0; i < 4; i++)
			x[i] = fold512(x[i], k4, blk[i]);
	}
	const __m512i k1 = _mm512_broadcast_i32x4(_mm_set_epi64x((long long)K512_HI,
								 (long long)K512_LO));
	__m512i x3 = fold512(fold512(fold512(x[0], k1, x[1]), k1, x[2]), k1, x[3]);
	for (; len >= 64; s += 64, d += 64, len -= 64) {
		__m512i y = _mm512_loadu_si512(s);
		_mm512_store_si512(d, y);
		x3 = fold512(x3, k1, y);
	}
	__m128i a = _mm_xor_si128(fold128(_mm512_extracti32x4_epi32(x3, 0), K384_LO, K384_HI),
				  fold128(_mm512_extracti32x4_epi32(x3, 1), K256_LO, K256_HI));
	a = _mm_xor_si128(a, fold128(_mm512_extracti32x4_epi32(x3, 2), K128_LO, K128_HI));
	a = _mm_xor_si128(a, _mm512_extracti32x4_epi32(x3, 3));
	for (; len >= 16; s += 16, d += 16, len -= 16) {
		__m128i y = _mm_loadu_si128((const __m128i *)s);
		_mm_storeu_si128((__m128i *)d, y);
		a = _mm_xor_si128(fold128(a, K128_LO, K128_HI), y);
	}
	memcpy(d, s, len);
	uint64_t c = _mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(a));
	c = _mm_crc32_u64(c, (uint64_t)_mm_extract_epi64(a, 1));
	return pony_crc32c_small(d, len, (uint32_t)c);
}

_Static_assert(PONY_CRC_COPY_MIN >= 256 + 63, "the fold needs 256 bytes after the head");

static bool fused_ok;

/* Once at load: the CPU (and the kernel's saved state) must have AVX-512 and VPCLMULQDQ. */
__attribute__((constructor)) static void crc_init(void)
{
	__builtin_cpu_init();
	fused_ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
		   __builtin_cpu_supports("vpclmulqdq") && __builtin_cpu_supports("pclmul");
}

uint32_t pony_crc32c_copy_unfused(void *dst, const void *src, size_t len, uint32_t crc)
{
	memcpy(dst, src, len);
	return pony_crc32c(dst, len, crc); /* just written: read from cache */
}

uint32_t pony_crc32c_copy_big(void *dst, const void *src, size_t len, uint32_t crc)
{
	if (fused_ok && len >= PONY_CRC_COPY_MIN)
		return copy_fold(dst, src, len, crc);
	return pony_crc32c_copy_unfused(dst, src, len, crc);
}

const char *pony_crc32c_copy_impl(void)
{
	return fused_ok ? "fused-avx512" : "memcpy+crc";
}
