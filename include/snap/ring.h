/* Named rings between engines: multi-producer, single-consumer rings of mbufs with a doorbell,
 * so the consuming engine can sleep when idle and be woken by the first producer that
 * enqueues, without a syscall per burst while it is awake (the pattern of the app doorbells
 * in pony/shm.h).
 *
 * Doorbell protocol (Dekker, as in pony/shm.h; no lost wake-ups):
 *   Consumer before sleeping (snap_ring_arm(r, true)): store sleeping = 1; FENCE(seq_cst);
 *             then the executor polls once more (re-checks the ring) before it blocks on the
 *             engine's wake fds, which include snap_ring_wake_fd(r).
 *   Producer after publishing (snap_ring_enqueue_burst): FENCE(seq_cst); load sleeping; only
 *             if it is 1: exchange it to 0 and, if it was still 1, write the eventfd (so one
 *             producer rings per sleep, however many producers there are).
 *   Consumer after waking (snap_ring_arm(r, false)): exchange sleeping to 0; if a producer
 *             had taken it (it read 0), drain the eventfd.
 * The two fences order each side's store before its load, so either the consumer's re-check
 * sees the new entries or the producer sees sleeping == 1 and rings. A late ring (a producer
 * that took the doorbell while the consumer found the work anyway) costs one spurious
 * wake-up at most.
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>

#include <rte_branch_prediction.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

struct snap_engine;

struct snap_ring {
	struct rte_ring *r;       /* set at create, read-only after */
	int efd;                  /* doorbell (eventfd, non-blocking), read-only after create */
	int socket_id;            /* NUMA node it was created on */
	const struct snap_engine *consumer; /* snap_ring_claim; control thread only */
	/* Doorbell line: the consumer stores `sleeping`; a producer writes it (exchange) and
	 * `doorbells` only when it finds the consumer asleep, so an awake consumer's line is
	 * only read by producers. */
	_Atomic uint32_t sleeping __rte_cache_aligned;
	_Atomic uint64_t doorbells; /* eventfd writes by producers (one per sleep at most) */
};

/* Ring named `name` (at most 27 bytes), created on first use on NUMA node socket_id
 * (SOCKET_ID_ANY: the caller's): 4096 slots, any number of producers, one consumer. Control
 * thread (engine building). NULL with errno ENAMETOOLONG, ENOSPC (128 rings), ENOMEM, or the
 * eventfd's error. Freed by snap_rings_destroy at shutdown. */
struct snap_ring *snap_ring_get(const char *name, int socket_id);

/* Make e the ring's one consumer (control thread, at element init): 0, or -EBUSY if another
 * engine consumes it already (a second consumer would break the single-consumer dequeue).
 * release: 0 or -ENOENT if e is not the consumer. */
int snap_ring_claim(struct snap_ring *r, const struct snap_engine *e);
int snap_ring_release(struct snap_ring *r, const struct snap_engine *e);

/* The eventfd a sleeping consumer waits on (add it to the engine's wake fds). */
static inline int snap_ring_wake_fd(const struct snap_ring *r)
{
	return r->efd;
}

/* Slow path of snap_ring_enqueue_burst: the consumer sleeps; ring it (once). */
void snap_ring_wake(struct snap_ring *r);

/* Producer (any thread): enqueue up to n packets; returns how many went in (the caller owns
 * the rest). Rings the consumer only if it sleeps: one fence and one load per burst. */
static inline unsigned snap_ring_enqueue_burst(struct snap_ring *r, struct rte_mbuf **pkts,
					       unsigned n)
{
	unsigned done = rte_ring_enqueue_burst(r->r, (void *const *)pkts, n, NULL);
	if (likely(done)) {
		/* Order the tail publish above before the load of sleeping (protocol above). */
		atomic_thread_fence(memory_order_seq_cst);
		if (unlikely(atomic_load_explicit(&r->sleeping, memory_order_relaxed)))
			snap_ring_wake(r);
	}
	return done;
}

/* Consumer (the claiming engine's thread): dequeue up to n packets; *avail (if non-NULL)
 * gets how many remain. */
static inline unsigned snap_ring_dequeue_burst(struct snap_ring *r, struct rte_mbuf **pkts,
					       unsigned n, unsigned *avail)
{
	return rte_ring_sc_dequeue_burst(r->r, (void **)pkts, n, avail);
}

/* Consumer: arm (true) before a sleep, disarm (false) after it, in pairs (protocol above).
 * Disarming drains the eventfd only when a producer rang. */
void snap_ring_arm(struct snap_ring *r, bool arm);

/* Shutdown (snap_ports_destroy): free every ring. Nothing may use them any more. */
void snap_rings_destroy(void);
