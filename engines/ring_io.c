/* ring_rx / ring_tx: packets between engines over named DPDK rings (multi-producer,
 * single-consumer), e.g. from the engine that owns a single-queue port to Pony engines. */
#include <errno.h>

#include <rte_ring.h>

#include "snap/element.h"
#include "snap/engine.h"
#include "snap/port.h"

struct ring_el {
	struct rte_ring *ring;
	uint16_t burst;
};

static int ring_init(struct snap_elem *el, const struct snap_elem_args *args)
{
	struct ring_el *s = snap_elem_priv(el);
	const char *name = snap_elem_arg_str(args, "ring", NULL);
	uint64_t burst;
	if (name == NULL)
		return snap_elem_args_error(args, "missing 'ring' (a ring name shared by engines)");
	if (snap_elem_arg_u64(args, "burst", SNAP_BURST_MAX, 1, SNAP_BURST_MAX, &burst))
		return -EINVAL;
	s->burst = (uint16_t)burst;
	s->ring = snap_ring_get(name, snap_engine_socket(snap_elem_args_engine(args)));
	if (s->ring == NULL)
		return snap_elem_args_error(args, "cannot create ring '%s'", name);
	return 0;
}

static unsigned ring_rx_poll(struct snap_elem *el, uint64_t now)
{
	struct ring_el *s = snap_elem_priv(el);
	struct rte_mbuf *pkts[SNAP_BURST_MAX];
	unsigned avail = 0;
	unsigned n = rte_ring_sc_dequeue_burst(s->ring, (void **)pkts, s->burst, &avail);
	if (avail)
		snap_engine_note_backlog(el->engine);
	if (n)
		snap_elem_emit(el, 0, pkts, (uint16_t)n);
	return n;
}

/* A ring has no notification fd: a sleeping engine must keep polling it (with back-off). */
static int ring_rx_arm(struct snap_elem *el, bool arm)
{
	return arm ? -ENOTSUP : 0;
}

static void ring_rx_process(struct snap_elem *el, struct rte_mbuf **pkts, uint16_t n)
{
	snap_elem_emit(el, 0, pkts, n);
}

static void ring_tx_process(struct snap_elem *el, struct rte_mbuf **pkts, uint16_t n)
{
	struct ring_el *s = snap_elem_priv(el);
	unsigned done = rte_ring_mp_enqueue_burst(s->ring, (void *const *)pkts, n, NULL);
	if (done < n)
		snap_elem_drop_burst(el, pkts + done, (uint16_t)(n - done), SNAP_DROP_RING_FULL);
}

static const char *const out_names[] = {"out"};
static const struct snap_elem_desc ring_rx_desc = {
	.name = "ring_rx",
	.help = "receive packets other engines put on a named ring (args: ring, burst=32)",
	.priv_size = sizeof(struct ring_el),
	.n_outputs = 1,
	.outputs = out_names,
	.init = ring_init,
	.process = ring_rx_process,
	.poll = ring_rx_poll,
	.arm = ring_rx_arm,
};
SNAP_ELEM_REGISTER(ring_rx_desc)

static const struct snap_elem_desc ring_tx_desc = {
	.name = "ring_tx",
	.help = "hand packets to another engine through a named ring (args: ring)",
	.priv_size = sizeof(struct ring_el),
	.n_outputs = 0,
	.init = ring_init,
	.process = ring_tx_process,
};
SNAP_ELEM_REGISTER(ring_tx_desc)
