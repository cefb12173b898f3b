/* TEMPORARY until snap/port.c lands on main: a minimal port registry for element tests. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_malloc.h>
#include <rte_ring.h>

#include "tests/unit/elemtest.h"

static struct snap_port *ports[8];

struct snap_port *snap_port_find(const char *name)
{
	for (unsigned i = 0; i < 8; i++)
		if (ports[i] && strcmp(ports[i]->name, name) == 0)
			return ports[i];
	return NULL;
}

int snap_port_neigh_learn(struct snap_port *p, uint32_t ip, const struct rte_ether_addr *mac)
{
	uint64_t v = 0;
	memcpy(&v, mac, 6);
	int r = rte_hash_add_key_data(p->neigh, &ip, (void *)(uintptr_t)v);
	if (r == 0)
		p->neigh_updates++;
	else
		p->neigh_full++;
	return r ? -ENOSPC : 0;
}

int snap_port_neigh_lookup(const struct snap_port *p, uint32_t ip, struct rte_ether_addr *mac)
{
	void *d;
	if (rte_hash_lookup_data(p->neigh, &ip, &d) < 0)
		return -ENOENT;
	uint64_t v = (uintptr_t)d;
	memcpy(mac, &v, 6);
	return 0;
}

bool snap_port_on_link(const struct snap_port *p, uint32_t ip)
{
	if (p->ip == 0)
		return false;
	uint32_t mask = p->prefix_len ? rte_cpu_to_be_32(~0u << (32 - p->prefix_len)) : 0;
	return (ip & mask) == (p->ip & mask);
}

struct rte_ring *snap_ring_get(const char *name, int socket_id)
{
	struct rte_ring *r = rte_ring_lookup(name);
	if (r)
		return r;
	return rte_ring_create(name, 64, socket_id, RING_F_SC_DEQ);
}

struct snap_port *et_port_create(const char *name, const struct rte_ether_addr *mac,
				 const char *ip, uint8_t prefix_len)
{
	struct snap_port *p = rte_zmalloc("et_port", sizeof(*p), 0);
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->mac = *mac;
	p->ip = et_ip(ip);
	p->prefix_len = prefix_len;
	char hn[64];
	snprintf(hn, sizeof(hn), "neigh_%s", name);
	struct rte_hash_parameters hp = {.name = hn, .entries = 64, .key_len = 4,
					 .hash_func = rte_jhash, .socket_id = 0,
					 .extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF};
	p->neigh = rte_hash_create(&hp);
	for (unsigned i = 0; i < 8; i++)
		if (!ports[i]) {
			ports[i] = p;
			break;
		}
	return p;
}

void et_port_destroy(struct snap_port *p)
{
	for (unsigned i = 0; i < 8; i++)
		if (ports[i] == p)
			ports[i] = NULL;
	rte_hash_free(p->neigh);
	rte_free(p);
}
