/* drop: a sink that frees every packet under one drop reason, so a config can discard a
 * class of traffic on purpose and still say why in the counters. */
#include <string.h>

#include "snap/element.h"

struct drop {
	enum snap_drop reason;
};

/* Args: reason = NAME, one of the drop reason names (default "policy"). */
static int drop_init(struct snap_elem *el, const struct snap_elem_args *a)
{
	struct drop *s = snap_elem_priv(el);
	const char *name = snap_elem_arg_str(a, "reason", snap_drop_name(SNAP_DROP_POLICY));
	for (unsigned r = 0; r < SNAP_DROP_MAX; r++) {
		if (strcmp(snap_drop_name(r), name) == 0) {
			s->reason = (enum snap_drop)r;
			return 0;
		}
	}
	return snap_elem_args_error(a, "reason = \"%s\": not a drop reason name", name);
}

static void drop_process(struct snap_elem *el, struct rte_mbuf **pkts, uint16_t n)
{
	const struct drop *s = snap_elem_priv(el);
	snap_elem_drop_burst(el, pkts, n, s->reason);
}

static const struct snap_elem_desc drop_desc = {
	.name = "drop",
	.help = "free every packet, counted under one reason (args: reason, default policy)",
	.priv_size = sizeof(struct drop),
	.init = drop_init,
	.process = drop_process,
};
SNAP_ELEM_REGISTER(drop_desc)
