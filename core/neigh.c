/* A port's neighbour cache: a lock-free rte_hash read by every engine and written by one ARP
 * element, bounded with eviction (a flood of on-link senders cannot fill it for good), plus
 * the outstanding requests that decide which ARP replies may add an entry. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_jhash.h>

#include "snap/port.h"

/* The data word: MAC in bits 0-47, learn time (seconds, wrapping) in 48-62, static in 63. */
#define V_MAC ((1ull << 48) - 1)
#define V_STATIC (1ull << 63)
#define V_TIME_SHIFT 48
#define V_TIME_MASK 0x7fffu
#define EVICT_SAMPLE 8
#define GRACE_MS 20 /* far beyond any lookup a reader can be in (< 1 us) */
/* Evict before the table is really full: an evicted slot only comes back after its grace. */
#define EVICT_AT (SNAP_NEIGH_ENTRIES - SNAP_NEIGH_DEAD_MAX)

int snap_port_neigh_create(struct snap_port *p)
{
	char name[RTE_HASH_NAMESIZE];
	snprintf(name, sizeof(name), "nb_%.24s", p->name);
	struct rte_hash_parameters hp = {
		.name = name,
		.entries = SNAP_NEIGH_ENTRIES,
		.key_len = sizeof(uint32_t),
		.hash_func = rte_jhash,
		.socket_id = p->socket_id,
		/* Readers on any engine thread never block; the one writer frees an evicted
		 * key slot only after a grace period (RW_CONCURRENCY_LF implies no free on
		 * delete). */
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF |
			      RTE_HASH_EXTRA_FLAGS_MULTI_WRITER_ADD,
	};
	p->neigh = rte_hash_create(&hp);
	return p->neigh ? 0 : -rte_errno;
}

static uint16_t now_s(void)
{
	return (uint16_t)((rte_get_timer_cycles() / rte_get_timer_hz()) & V_TIME_MASK);
}

static uint64_t pack(const struct rte_ether_addr *mac, bool is_static)
{
	uint64_t v = 0;
	memcpy(&v, mac->addr_bytes, RTE_ETHER_ADDR_LEN);
	return (v & V_MAC) | (uint64_t)now_s() << V_TIME_SHIFT | (is_static ? V_STATIC : 0);
}

/* Free the key slots whose grace period is over. */
static void reclaim(struct snap_port *p)
{
	uint64_t now = rte_get_timer_cycles(), grace = rte_get_timer_hz() / 1000 * GRACE_MS;
	unsigned k = 0;
	for (unsigned i = 0; i < p->neigh_n_dead; i++) {
		if (now - p->neigh_dead[i].tsc >= grace)
			rte_hash_free_key_with_position(p->neigh, p->neigh_dead[i].pos);
		else
			p->neigh_dead[k++] = p->neigh_dead[i];
	}
	p->neigh_n_dead = k;
}

/* Evict the oldest-learned dynamic entry among the next EVICT_SAMPLE from the hand (an
 * approximated LRU of learn times). 0 or -ENOSPC. */
static int evict(struct snap_port *p)
{
	if (p->neigh_n_dead >= SNAP_NEIGH_DEAD_MAX)
		return -ENOSPC;
	uint16_t now = now_s();
	uint32_t victim = 0, best_age = 0;
	bool found = false;
	for (unsigned seen = 0, wraps = 0; seen < EVICT_SAMPLE && wraps < 2;) {
		const void *key;
		void *data;
		if (rte_hash_iterate(p->neigh, &key, &data, &p->neigh_hand) < 0) {
			p->neigh_hand = 0;
			wraps++;
			continue;
		}
		seen++;
		uint64_t v = (uint64_t)(uintptr_t)data;
		if (v & V_STATIC)
			continue;
		uint32_t age = (uint16_t)(now - (uint16_t)(v >> V_TIME_SHIFT)) & V_TIME_MASK;
		if (!found || age > best_age) {
			memcpy(&victim, key, sizeof(victim));
			best_age = age;
			found = true;
		}
	}
	if (!found)
		return -ENOSPC;
	int32_t pos = rte_hash_del_key(p->neigh, &victim);
	if (pos < 0)
		return -ENOSPC;
	p->neigh_dead[p->neigh_n_dead].pos = pos;
	p->neigh_dead[p->neigh_n_dead++].tsc = rte_get_timer_cycles();
	p->neigh_evicted++;
	atomic_fetch_add_explicit(&p->neigh_gen, 1, memory_order_release);
	return 0;
}

static int put(struct snap_port *p, uint32_t ip, const struct rte_ether_addr *mac,
	       bool is_static)
{
	uint64_t v = pack(mac, is_static);
	void *old;
	bool known = rte_hash_lookup_data(p->neigh, &ip, &old) >= 0;
	uint64_t ov = (uint64_t)(uintptr_t)old;
	if (known && (ov & V_STATIC) && !is_static)
		return -EPERM;
	if (known && (ov & (V_MAC | V_STATIC)) == (v & (V_MAC | V_STATIC)))
		return 0;
	reclaim(p);
	if (!known && rte_hash_count(p->neigh) >= EVICT_AT && evict(p) != 0) {
		p->neigh_full++;
		return -ENOSPC;
	}
	if (rte_hash_add_key_data(p->neigh, &ip, (void *)(uintptr_t)v) < 0) {
		p->neigh_full++;
		return -ENOSPC;
	}
	p->neigh_updates++;
	atomic_fetch_add_explicit(&p->neigh_gen, 1, memory_order_release);
	return 0;
}

int snap_port_neigh_static(struct snap_port *p, uint32_t ip, const struct rte_ether_addr *mac)
{
	return put(p, ip, mac, true);
}

int snap_port_neigh_learn(struct snap_port *p, uint32_t ip, const struct rte_ether_addr *mac)
{
	return put(p, ip, mac, false);
}

int snap_port_neigh_lookup(const struct snap_port *p, uint32_t ip, struct rte_ether_addr *mac)
{
	void *d;
	if (rte_hash_lookup_data(p->neigh, &ip, &d) < 0)
		return -ENOENT;
	uint64_t v = (uint64_t)(uintptr_t)d;
	memcpy(mac->addr_bytes, &v, RTE_ETHER_ADDR_LEN);
	return 0;
}

bool snap_port_neigh_known(const struct snap_port *p, uint32_t ip)
{
	return rte_hash_lookup(p->neigh, &ip) >= 0;
}

static _Atomic uint32_t *asked_slot(struct snap_port *p, uint32_t ip)
{
	return &p->neigh_asked[rte_jhash_1word(ip, 0) % SNAP_NEIGH_ASKED];
}

void snap_port_neigh_solicit(struct snap_port *p, uint32_t ip)
{
	atomic_store_explicit(asked_slot(p, ip), ip, memory_order_relaxed);
}

bool snap_port_neigh_solicited(struct snap_port *p, uint32_t ip)
{
	uint32_t want = ip;
	return ip != 0 && atomic_compare_exchange_strong_explicit(asked_slot(p, ip), &want, 0,
								  memory_order_relaxed,
								  memory_order_relaxed);
}
