/* memif kicks (core/portkick.c): the mirrored DPDK 22.11 memif layouts it reads, and its ring
 * lookup, shared with its unit test (which plays a hostile peer writing the shared ring).
 * Internal to the daemon. */
#pragma once

#include <stdint.h>

#include <rte_config.h>
#include <rte_interrupts.h>
#include <rte_version.h>

#include "snap/port.h"

#if RTE_VERSION >= RTE_VERSION_NUM(22, 11, 0, 0) && RTE_VERSION < RTE_VERSION_NUM(22, 12, 0, 0)
#define KICK_LAYOUT 1
#endif

#ifdef KICK_LAYOUT
/* The memif protocol's ring header (version 2), its first cache line. */
struct m_ring {
	uint32_t cookie;
	uint16_t flags;
	uint16_t head;
};
#define M_COOKIE 0x3E31F20u
#define M_MASK_INT 1u

/* DPDK 22.11 drivers/net/memif/rte_eth_memif.h: the leading fields we read. */
enum { M_RING_C2S, M_RING_S2C };
struct m_region {
	void *addr;
	uint64_t size;
	int fd;
	uint32_t pkt_buffer_offset;
};
struct m_private {
	struct m_region *regions[256];
	uint16_t regions_num;
};
struct m_queue {
	void *mempool;
	void *pmd;
	int type;
	uint16_t region;
	uint16_t in_port;
	uint32_t ring_offset;
	uint16_t last_head, last_tail;
	void *buffers;
	uint64_t n_pkts, n_bytes;
	struct rte_intr_handle *intr_handle;
	uint8_t log2_ring_size;
};

/* The ring header of rx queue q of memif port p and the PMD's eventfd for it, read afresh
 * and checked (queue, port, direction, link, region bounds, cookie): 0, or -ENOTCONN (not
 * connected now), -ENOTSUP (not what the layout says: kicks off for the queue). */
int snap_portkick_find(const struct snap_port *p, uint16_t q, struct m_ring **ring, int *fd);
#endif
