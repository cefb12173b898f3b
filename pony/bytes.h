/* Big-endian field access at unaligned offsets for Pony's wire formats (header, one-sided
 * payloads): memcpy keeps it legal for any alignment; the compiler turns it into one load. */
#pragma once

#include <stdint.h>
#include <string.h>

#include <rte_byteorder.h>

static inline uint16_t pony_rd16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return rte_be_to_cpu_16(v);
}

static inline uint32_t pony_rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return rte_be_to_cpu_32(v);
}

static inline uint64_t pony_rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return rte_be_to_cpu_64(v);
}

static inline void pony_wr16(uint8_t *p, uint16_t v)
{
	v = rte_cpu_to_be_16(v);
	memcpy(p, &v, 2);
}

static inline void pony_wr32(uint8_t *p, uint32_t v)
{
	v = rte_cpu_to_be_32(v);
	memcpy(p, &v, 4);
}

static inline void pony_wr64(uint8_t *p, uint64_t v)
{
	v = rte_cpu_to_be_64(v);
	memcpy(p, &v, 8);
}
