/* Flow steering (include/snap/steer.h): the software twin of the NIC's RSS hash, so the
 * flow mapper can choose local UDP ports whose return traffic lands on a given queue. */
#include <errno.h>

#include <rte_byteorder.h>
#include <rte_thash.h>

#include "snap/steer.h"

const uint8_t snap_steer_rss_key[SNAP_STEER_RSS_KEY_LEN] = {
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
};

uint32_t snap_steer_toeplitz4(const uint8_t *key, uint32_t src_ip, uint32_t dst_ip,
			      uint16_t sport, uint16_t dport)
{
	struct rte_ipv4_tuple t = {
		.src_addr = rte_be_to_cpu_32(src_ip),
		.dst_addr = rte_be_to_cpu_32(dst_ip),
		.sport = sport,
		.dport = dport,
	};
	return rte_softrss((uint32_t *)&t, RTE_THASH_V4_L4_LEN, key);
}

uint32_t snap_steer_hash4(uint32_t src_ip, uint32_t dst_ip, uint16_t sport, uint16_t dport)
{
	return snap_steer_toeplitz4(snap_steer_rss_key, src_ip, dst_ip, sport, dport);
}

uint16_t snap_steer_queue4(uint32_t src_ip, uint32_t dst_ip, uint16_t sport, uint16_t dport,
			   uint16_t n_queues)
{
	if (n_queues <= 1)
		return 0;
	return (uint16_t)(snap_steer_hash4(src_ip, dst_ip, sport, dport) % n_queues);
}

int snap_steer_pick_port4(uint32_t local_ip, uint32_t peer_ip, uint16_t peer_port,
			  uint16_t n_queues, uint16_t queue, uint16_t lo, uint16_t hi,
			  uint16_t start)
{
	if (n_queues == 0 || queue >= n_queues || lo > hi || start < lo || start > hi)
		return -EINVAL;
	uint32_t span = (uint32_t)hi - lo + 1;
	for (uint32_t i = 0; i < span; i++) {
		uint16_t p = (uint16_t)(lo + (start - lo + i) % span);
		if (snap_steer_queue4(peer_ip, local_ip, peer_port, p, n_queues) == queue)
			return p;
	}
	return -ENOENT;
}

int snap_steer_pick_block4(uint32_t local_ip, uint32_t peer_ip, uint16_t peer_port,
			   uint16_t n_queues, uint16_t q, uint16_t base, uint16_t block)
{
	uint32_t lo = (uint32_t)base + (uint32_t)q * block, hi = lo + block - 1;
	if (block == 0 || q >= n_queues || hi > UINT16_MAX)
		return -EINVAL;
	/* Different peers start at different points, so their flows do not all share the
	 * block's first matching port (any port works; spreading eases reading captures). */
	uint16_t start = (uint16_t)(lo + snap_steer_hash4(peer_ip, local_ip, peer_port, 0) % block);
	return snap_steer_pick_port4(local_ip, peer_ip, peer_port, n_queues, q, (uint16_t)lo,
				     (uint16_t)hi, start);
}

const char *snap_steer_mode_name(enum snap_steer_mode m)
{
	switch (m) {
	case SNAP_STEER_QUEUE_PAIRING:
		return "queue-pairing";
	case SNAP_STEER_RSS:
		return "rss";
	case SNAP_STEER_FLOW:
		return "flow";
	default:
		return "none";
	}
}
