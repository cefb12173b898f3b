/* ring_rx / ring_tx: packets between engines over named rings (multi-producer, single-consumer,
 * include/snap/ring.h), e.g. from the engine that owns a single-queue port to Pony engines.
 * A ring's doorbell lets the consuming engine sleep in a spreading or compacting group. */
#include <errno.h>
#include <string.h>

#include "snap/element.h"
#include "snap/engine.h"
#include "snap/ring.h"

struct ring_el {
	struct snap_ring *ring;
	uint16_t burst;
	bool armed;     /* ring_rx: between an arm and its disarm */
	bool wake_fd;   /* ring_rx: the doorbell is one of the engine's wake fds */
	bool claimed;   /* ring_rx: this engine is the ring's consumer */
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
		return snap_elem_args_error(args, "cannot create ring '%s': %s", name,
					    strerror(errno));
	return 0;
}

static int ring_rx_init(struct snap_elem *el, const struct snap_elem_args *args)
{
	struct ring_el *s = snap_elem_priv(el);
	int r = ring_init(el, args);
	if (r < 0)
		return r;
	if (snap_ring_claim(s->ring, el->engine) < 0)
		return snap_elem_args_error(args, "ring '%s' has a consumer already (one ring_rx "
					    "per ring)", snap_elem_arg_str(args, "ring", ""));
	s->claimed = true;
	r = snap_engine_add_wake_fd(el->engine, snap_ring_wake_fd(s->ring));
	if (r < 0)
		return snap_elem_args_error(args, "no room for the ring's wake fd: %s",
					    strerror(-r));
	s->wake_fd = true;
	return 0;
}

static unsigned ring_rx_poll(struct snap_elem *el, uint64_t now)
{
	struct ring_el *s = snap_elem_priv(el);
	struct rte_mbuf *pkts[SNAP_BURST_MAX];
	unsigned avail = 0;
	unsigned n = snap_ring_dequeue_burst(s->ring, pkts, s->burst, &avail);
	if (avail)
		snap_engine_note_backlog(el->engine);
	if (n)
		snap_elem_emit(el, 0, pkts, (uint16_t)n);
	return n;
}

/* The doorbell: producers write the ring's eventfd only while we sleep (snap/ring.h). */
static int ring_rx_arm(struct snap_elem *el, bool arm)
{
	struct ring_el *s = snap_elem_priv(el);
	if (arm == s->armed)
		return 0;
	snap_ring_arm(s->ring, arm);
	s->armed = arm;
	return 0;
}

static void ring_rx_process(struct snap_elem *el, struct rte_mbuf **pkts, uint16_t n)
{
	snap_elem_emit(el, 0, pkts, n);
}

static void ring_rx_stats(const struct snap_elem *el, snap_stat_fn fn, void *ctx)
{
	const struct ring_el *s = snap_elem_priv(el);
	fn(ctx, "doorbells", atomic_load_explicit(&s->ring->doorbells, memory_order_relaxed));
}

static void ring_rx_destroy(struct snap_elem *el)
{
	struct ring_el *s = snap_elem_priv(el);
	if (s->armed)
		ring_rx_arm(el, false);
	if (s->wake_fd)
		snap_engine_del_wake_fd(el->engine, snap_ring_wake_fd(s->ring));
	if (s->claimed) {
		/* Nobody else may consume this ring: free what is left rather than leak it. */
		struct rte_mbuf *pkts[SNAP_BURST_MAX];
		unsigned n;
		while ((n = snap_ring_dequeue_burst(s->ring, pkts, SNAP_BURST_MAX, NULL)) > 0)
			rte_pktmbuf_free_bulk(pkts, n);
		snap_ring_release(s->ring, el->engine);
	}
}

static void ring_tx_process(struct snap_elem *el, struct rte_mbuf **pkts, uint16_t n)
{
	struct ring_el *s = snap_elem_priv(el);
	unsigned done = snap_ring_enqueue_burst(s->ring, pkts, n);
	if (done < n)
		snap_elem_drop_burst(el, pkts + done, (uint16_t)(n - done), SNAP_DROP_RING_FULL);
}

static const char *const out_names[] = {"out"};
static const struct snap_elem_desc ring_rx_desc = {
	.name = "ring_rx",
	.help = "receive packets other engines put on a named ring; wakes its engine from sleep "
		"(args: ring, burst=32)",
	.priv_size = sizeof(struct ring_el),
	.n_outputs = 1,
	.outputs = out_names,
	.init = ring_rx_init,
	.process = ring_rx_process,
	.poll = ring_rx_poll,
	.arm = ring_rx_arm,
	.stats = ring_rx_stats,
	.destroy = ring_rx_destroy,
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
