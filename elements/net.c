/* Out-of-line part of the L2/L3 helpers (see net.h): argument parsing and addressing that
 * runs at init or per packet but is too large to inline everywhere. */
#include <errno.h>

#include "elements/net.h"

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
