/* A port's neighbour caches (IPv4 and IPv6): lock-free rte_hashes read by every engine and
 * written by one ARP (NDP) element, bounded with eviction (a flood of on-link senders cannot
 * fill them for good), plus the outstanding requests that decide which ARP replies (neighbour
 * advertisements) may add an entry. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_random.h>

#include "core/config.h"
#include "core/portsetup.h"
#include "snap/log.h"
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

/* One table's state: the IPv4 one lives in the port's neigh_* fields (their names are used
 * elsewhere), the IPv6 one in p->nd6; both share the port's generation. */
struct tab {
	struct rte_hash *h;
	uint32_t *hand;
	unsigned *n_dead;
	struct snap_neigh_dead *dead;
	uint64_t *updates, *full, *evicted;
	_Atomic uint32_t *gen;
	uint32_t klen;
};

static struct tab tab4(struct snap_port *p)
{
	return (struct tab){p->neigh, &p->neigh_hand, &p->neigh_n_dead, p->neigh_dead,
			    &p->neigh_updates, &p->neigh_full, &p->neigh_evicted, &p->neigh_gen,
			    sizeof(uint32_t)};
}

static struct tab tab6(struct snap_port *p)
{
	struct snap_port_nd6 *n = &p->nd6;
	return (struct tab){n->tab, &n->hand, &n->n_dead, n->dead, &n->updates, &n->full,
			    &n->evicted, &p->neigh_gen, 16};
}

static struct rte_hash *tab_create(const struct snap_port *p, const char *pfx, uint32_t klen)
{
	char name[RTE_HASH_NAMESIZE];
	snprintf(name, sizeof(name), "%s_%.24s", pfx, p->name);
	struct rte_hash_parameters hp = {
		.name = name,
		.entries = SNAP_NEIGH_ENTRIES,
		.key_len = klen,
		.hash_func = rte_jhash,
		.socket_id = p->socket_id,
		/* Readers on any engine thread never block; the one writer frees an evicted
		 * key slot only after a grace period (RW_CONCURRENCY_LF implies no free on
		 * delete). */
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF |
			      RTE_HASH_EXTRA_FLAGS_MULTI_WRITER_ADD,
	};
	return rte_hash_create(&hp);
}

int snap_port_neigh_create(struct snap_port *p)
{
	p->neigh = tab_create(p, "nb", sizeof(uint32_t));
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
static void reclaim(const struct tab *t)
{
	uint64_t now = rte_get_timer_cycles(), grace = rte_get_timer_hz() / 1000 * GRACE_MS;
	unsigned k = 0;
	for (unsigned i = 0; i < *t->n_dead; i++) {
		if (now - t->dead[i].tsc >= grace)
			rte_hash_free_key_with_position(t->h, t->dead[i].pos);
		else
			t->dead[k++] = t->dead[i];
	}
	*t->n_dead = k;
}

/* Evict the oldest-learned dynamic entry among the next EVICT_SAMPLE from the hand (an
 * approximated LRU of learn times). 0 or -ENOSPC. */
static int evict(const struct tab *t)
{
	if (*t->n_dead >= SNAP_NEIGH_DEAD_MAX)
		return -ENOSPC;
	uint16_t now = now_s();
	uint8_t victim[16];
	uint32_t best_age = 0;
	bool found = false;
	for (unsigned seen = 0, wraps = 0; seen < EVICT_SAMPLE && wraps < 2;) {
		const void *key;
		void *data;
		if (rte_hash_iterate(t->h, &key, &data, t->hand) < 0) {
			*t->hand = 0;
			wraps++;
			continue;
		}
		seen++;
		uint64_t v = (uint64_t)(uintptr_t)data;
		if (v & V_STATIC)
			continue;
		uint32_t age = (uint16_t)(now - (uint16_t)(v >> V_TIME_SHIFT)) & V_TIME_MASK;
		if (!found || age > best_age) {
			memcpy(victim, key, t->klen);
			best_age = age;
			found = true;
		}
	}
	if (!found)
		return -ENOSPC;
	int32_t pos = rte_hash_del_key(t->h, victim);
	if (pos < 0)
		return -ENOSPC;
	t->dead[*t->n_dead].pos = pos;
	t->dead[(*t->n_dead)++].tsc = rte_get_timer_cycles();
	(*t->evicted)++;
	atomic_fetch_add_explicit(t->gen, 1, memory_order_release);
	return 0;
}

static int put(const struct tab *t, const void *key, const struct rte_ether_addr *mac,
	       bool is_static)
{
	uint64_t v = pack(mac, is_static);
	void *old;
	bool known = rte_hash_lookup_data(t->h, key, &old) >= 0;
	uint64_t ov = (uint64_t)(uintptr_t)old;
	if (known && (ov & V_STATIC) && !is_static)
		return -EPERM;
	if (known && (ov & (V_MAC | V_STATIC)) == (v & (V_MAC | V_STATIC)))
		return 0;
	reclaim(t);
	if (!known && rte_hash_count(t->h) >= EVICT_AT && evict(t) != 0) {
		(*t->full)++;
		return -ENOSPC;
	}
	if (rte_hash_add_key_data(t->h, key, (void *)(uintptr_t)v) < 0) {
		(*t->full)++;
		return -ENOSPC;
	}
	(*t->updates)++;
	atomic_fetch_add_explicit(t->gen, 1, memory_order_release);
	return 0;
}

static int get(const struct rte_hash *h, const void *key, struct rte_ether_addr *mac)
{
	void *d;
	if (rte_hash_lookup_data(h, key, &d) < 0)
		return -ENOENT;
	uint64_t v = (uint64_t)(uintptr_t)d;
	memcpy(mac->addr_bytes, &v, RTE_ETHER_ADDR_LEN);
	return 0;
}

int snap_port_neigh_static(struct snap_port *p, uint32_t ip, const struct rte_ether_addr *mac)
{
	struct tab t = tab4(p);
	return put(&t, &ip, mac, true);
}

int snap_port_neigh_learn(struct snap_port *p, uint32_t ip, const struct rte_ether_addr *mac)
{
	struct tab t = tab4(p);
	return put(&t, &ip, mac, false);
}

int snap_port_neigh_lookup(const struct snap_port *p, uint32_t ip, struct rte_ether_addr *mac)
{
	return get(p->neigh, &ip, mac);
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

int snap_port_neigh_static_cfg(struct snap_port *p, const struct snap_neigh_cfg *nc)
{
	return nc->v6 ? snap_port_nd6_static(p, nc->ip6, &nc->mac)
		      : snap_port_neigh_static(p, nc->ip, &nc->mac);
}

/* ---- IPv6 ---- */

int snap_port_nd6_create(struct snap_port *p)
{
	if (!p->has_ip6)
		return 0;
	p->nd6.tab = tab_create(p, "nd", 16);
	if (p->nd6.tab == NULL)
		return -rte_errno;
	p->nd6.asked_key = (uint32_t)rte_rand();
	char a[INET6_ADDRSTRLEN];
	inet_ntop(AF_INET6, p->ip6, a, sizeof(a));
	SNAP_LOG(INFO, "port %s: ip6 %s/%u", p->name, a, p->prefix6_len);
	return 0;
}

void snap_port_nd6_destroy(struct snap_port *p)
{
	rte_hash_free(p->nd6.tab);
	p->nd6.tab = NULL;
}

int snap_port_nd6_static(struct snap_port *p, const uint8_t ip6[16],
			 const struct rte_ether_addr *mac)
{
	if (p->nd6.tab == NULL)
		return -ENOENT;
	struct tab t = tab6(p);
	return put(&t, ip6, mac, true);
}

int snap_port_nd6_learn(struct snap_port *p, const uint8_t ip6[16],
			const struct rte_ether_addr *mac)
{
	if (p->nd6.tab == NULL)
		return -ENOENT;
	struct tab t = tab6(p);
	return put(&t, ip6, mac, false);
}

int snap_port_nd6_lookup(const struct snap_port *p, const uint8_t ip6[16],
			 struct rte_ether_addr *mac)
{
	return p->nd6.tab ? get(p->nd6.tab, ip6, mac) : -ENOENT;
}

bool snap_port_nd6_known(const struct snap_port *p, const uint8_t ip6[16])
{
	return p->nd6.tab != NULL && rte_hash_lookup(p->nd6.tab, ip6) >= 0;
}

/* The keyed hash an asked slot holds: never 0 (the free mark). */
static uint32_t asked6_tag(const struct snap_port *p, const uint8_t ip6[16])
{
	uint32_t h = rte_jhash(ip6, 16, p->nd6.asked_key);
	return h ? h : 1;
}

void snap_port_nd6_solicit(struct snap_port *p, const uint8_t ip6[16])
{
	uint32_t tag = asked6_tag(p, ip6);
	atomic_store_explicit(&p->nd6.asked[tag % SNAP_NEIGH_ASKED], tag, memory_order_relaxed);
}

bool snap_port_nd6_solicited(struct snap_port *p, const uint8_t ip6[16])
{
	uint32_t tag = asked6_tag(p, ip6), want = tag;
	return atomic_compare_exchange_strong_explicit(&p->nd6.asked[tag % SNAP_NEIGH_ASKED],
						       &want, 0, memory_order_relaxed,
						       memory_order_relaxed);
}

bool snap_port_on_link6(const struct snap_port *p, const uint8_t ip6[16])
{
	if (!p->has_ip6)
		return false;
	unsigned full = p->prefix6_len / 8, rest = p->prefix6_len % 8;
	if (memcmp(ip6, p->ip6, full) != 0)
		return false;
	uint8_t mask = (uint8_t)(0xff00u >> rest);
	return rest == 0 || ((ip6[full] ^ p->ip6[full]) & mask) == 0;
}
