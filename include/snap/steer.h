/* Flow steering: which rx queue a UDP flow lands on, and the flow mapper that picks a local
 * UDP port so the return traffic lands on a chosen queue (as eRPC and Machnet do).
 * Ports with RSS hash IPv4/IPv6 + UDP ports with the Toeplitz function and snap_steer_rss_key
 * (configured by core/port.c); a peer running this code uses the same key, so both ends can
 * compute the other's queue choice. Ports without RSS (memif, vhost, af_packet in DPDK
 * 22.11) land a packet on the rx queue with the index of the peer's tx queue, so there the
 * sender's engine, not a hash, picks the queue (docs/ARCHITECTURE.md, "Queues and flow
 * steering"). */
#pragma once

#include <errno.h>
#include <stdint.h>

#include <rte_ethdev.h>

/* Hash types we ask of a device (masked with what its dev_info offers). */
#define SNAP_STEER_RSS_HF                                                                  \
	(RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_IPV6 |              \
	 RTE_ETH_RSS_NONFRAG_IPV6_UDP)
#define SNAP_STEER_RSS_KEY_LEN 40

/* The symmetric Toeplitz key (0x6d5a repeated): a flow hashes the same in both directions,
 * so a flow's two ends agree on its queue index when their queue counts match. */
extern const uint8_t snap_steer_rss_key[SNAP_STEER_RSS_KEY_LEN];

/* The Toeplitz hash of an IPv4/UDP packet from src_ip:sport to dst_ip:dport (addresses
 * network order, ports host order) under key (40 bytes), as a NIC computes it. */
uint32_t snap_steer_toeplitz4(const uint8_t *key, uint32_t src_ip, uint32_t dst_ip,
			      uint16_t sport, uint16_t dport);
/* The same under snap_steer_rss_key. */
uint32_t snap_steer_hash4(uint32_t src_ip, uint32_t dst_ip, uint16_t sport, uint16_t dport);

/* The rx queue, of n_queues, that an RSS port with our key gives that packet (0 when
 * n_queues <= 1). Exact for every redirection table whose size is a multiple of n_queues
 * (the default table of every NIC when n_queues is a power of two: entry i -> queue
 * i % n_queues). */
uint16_t snap_steer_queue4(uint32_t src_ip, uint32_t dst_ip, uint16_t sport, uint16_t dport,
			   uint16_t n_queues);

/* The flow mapper: the first local UDP port p in [lo, hi], starting the search at `start`
 * (wrapping), such that a packet from peer_ip:peer_port to local_ip:p lands on rx queue
 * `queue` of a local RSS port with n_queues queues. Returns p, or -EINVAL (queue >=
 * n_queues, n_queues 0, lo > hi, start outside [lo, hi]) or -ENOENT (no port in the range
 * maps there: a range narrower than a few times n_queues). */
int snap_steer_pick_port4(uint32_t local_ip, uint32_t peer_ip, uint16_t peer_port,
			  uint16_t n_queues, uint16_t queue, uint16_t lo, uint16_t hi,
			  uint16_t start);

/* How a multi-queue port's rx queue is chosen for a Pony flow (core/portsteer.c decides at
 * start, in this order): FLOW, rte_flow rules send each queue's steered UDP port to it;
 * QUEUE_PAIRING, the peer's tx queue is our rx queue (memif, vhost, virtio_user); RSS, our
 * key hashes the flow and the flow mapper picks local ports that land on the queue; NONE, a
 * hash we cannot predict (or one queue). */
enum snap_steer_mode {
	SNAP_STEER_NONE,
	SNAP_STEER_QUEUE_PAIRING,
	SNAP_STEER_RSS,
	SNAP_STEER_FLOW,
};
const char *snap_steer_mode_name(enum snap_steer_mode m);

/* Steered UDP ports: queue q of a port owns the block [base + q * block, base + (q + 1) *
 * block - 1]; an engine picks its flows' local ports in its queue's block (first port of
 * the block under FLOW rules; a mapper-chosen one under RSS), so a packet's destination port
 * names the engine that owns its flow. Defaults of the port config keys steer_udp_base and
 * steer_udp_block. */
#define SNAP_STEER_UDP_BASE_DEFAULT 4864
#define SNAP_STEER_UDP_BLOCK_DEFAULT 256

/* The queue whose block holds UDP port `port`, or -ENOENT when port is outside the n_queues
 * blocks from base (block > 0). */
static inline int snap_steer_port_queue(uint16_t base, uint16_t block, uint16_t n_queues,
					uint16_t port)
{
	if (port < base || block == 0 || (uint32_t)(port - base) / block >= n_queues)
		return -ENOENT;
	return (int)((port - base) / block);
}

/* The flow mapper over queue q's block: the local port in [base + q * block, base + (q + 1)
 * * block - 1] for a flow with peer_ip:peer_port whose return traffic lands on rx queue q,
 * the search starting at a point that spreads peers over the block. Returns the port,
 * -EINVAL (q >= n_queues, block 0, block past port 65535) or -ENOENT (none in the block). */
int snap_steer_pick_block4(uint32_t local_ip, uint32_t peer_ip, uint16_t peer_port,
			   uint16_t n_queues, uint16_t q, uint16_t base, uint16_t block);
