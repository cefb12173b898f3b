/* Out-of-line part of the L2/L3 helpers (see net.h): argument parsing and addressing that
 * runs at init or per packet but is too large to inline everywhere. */
#include <errno.h>

#include "elements/net.h"
#include "snap/engine.h"

int snap_net_port_arg(const struct snap_elem_args *a, struct snap_port **out)
{
	const char *name = snap_elem_arg_str(a, "port", NULL);
	if (name == NULL)
		return snap_elem_args_error(a, "missing argument port = NAME");
	struct snap_port *p = snap_port_find(name);
	if (p == NULL)
		return snap_elem_args_error(a, "port = \"%s\": no such port", name);
	*out = p;
	return 0;
}

bool snap_net_ip_is_bcast(const struct snap_port *p, uint32_t ip)
{
	if (ip == RTE_BE32(0xffffffff))
		return true;
	if (p == NULL || p->ip == 0 || p->prefix_len == 0 || p->prefix_len >= 31)
		return false;
	uint32_t host = rte_cpu_to_be_32(UINT32_MAX >> p->prefix_len);
	return (ip & ~host) == (p->ip & ~host) && (ip & host) == host;
}

int snap_net_claim_neigh(const struct snap_elem_args *a, struct snap_port *p)
{
	/* The neighbour tables take one writer: on a multi-queue port only one engine (the
	 * one whose queue gets ARP and NDP: queue 0 under RSS) may run arp and icmp6. */
	struct snap_engine *e = snap_elem_args_engine(a);
	if (e != NULL && p->neigh_writer != NULL && p->neigh_writer != e)
		return snap_elem_args_error(a, "port %s: its neighbour table is written by the "
					    "arp/icmp6 elements of engine %s (one such engine per "
					    "port)", p->name, snap_engine_name(p->neigh_writer));
	if (e != NULL)
		p->neigh_writer = e;
	return 0;
}
