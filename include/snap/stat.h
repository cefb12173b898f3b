/* Single-writer counters that other threads read while they change (engine and scheduler
 * statistics). The writer is the one thread that owns the counter; readers load it with a
 * relaxed atomic load and get some value it held (no tearing, no data race under C11). */
#pragma once

#include <stdatomic.h>
#include <stdint.h>

/* Add v. Only the owning thread may call it: a relaxed load + store, not a read-modify-write,
 * so the hot path pays no locked instruction (on x86 it is the same add as a plain ++). */
static inline void snap_stat_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

/* Set to v (owning thread only). */
static inline void snap_stat_set(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, v, memory_order_relaxed);
}

/* Read from any thread. */
static inline uint64_t snap_stat_get(const _Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}
