/* Named inter-engine rings with a doorbell (include/snap/ring.h has the protocol): the
 * registry by name, the consumer claim, and the slow paths of the doorbell. */
#include <errno.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <rte_errno.h>
#include <rte_malloc.h>

#include "snap/ring.h"

#define RINGS_MAX 128
#define RING_SIZE 4096

static struct snap_ring *rings[RINGS_MAX];
static unsigned n_rings;

struct snap_ring *snap_ring_get(const char *name, int socket_id)
{
	char full[RTE_RING_NAMESIZE];
	if (snprintf(full, sizeof(full), "snr_%s", name) >= (int)sizeof(full)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	struct rte_ring *rr = rte_ring_lookup(full);
	for (unsigned i = 0; rr && i < n_rings; i++)
		if (rings[i]->r == rr)
			return rings[i];
	if (rr || n_rings >= RINGS_MAX) { /* a ring of that name we did not make: refuse it */
		errno = rr ? EEXIST : ENOSPC;
		return NULL;
	}
	struct snap_ring *r = rte_zmalloc_socket("snap_ring", sizeof(*r), RTE_CACHE_LINE_SIZE,
						 socket_id);
	if (r == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	r->socket_id = socket_id;
	r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->efd < 0) {
		int err = errno;
		rte_free(r);
		errno = err;
		return NULL;
	}
	/* Many engines may feed one engine: multi-producer, single-consumer. */
	r->r = rte_ring_create(full, RING_SIZE, socket_id, RING_F_SC_DEQ);
	if (r->r == NULL) {
		int err = rte_errno;
		close(r->efd);
		rte_free(r);
		errno = err;
		return NULL;
	}
	rings[n_rings++] = r;
	return r;
}

int snap_ring_claim(struct snap_ring *r, const struct snap_engine *e)
{
	if (r->consumer && r->consumer != e)
		return -EBUSY;
	r->consumer = e;
	return 0;
}

int snap_ring_release(struct snap_ring *r, const struct snap_engine *e)
{
	if (r->consumer != e || e == NULL)
		return -ENOENT;
	r->consumer = NULL;
	return 0;
}

void snap_ring_wake(struct snap_ring *r)
{
	/* Only the producer that turns sleeping 1 -> 0 rings: one syscall per sleep. */
	if (atomic_exchange_explicit(&r->sleeping, 0, memory_order_relaxed) == 0)
		return;
	uint64_t one = 1;
	ssize_t w = write(r->efd, &one, sizeof(one)); /* EAGAIN only at 2^64-2: still readable */
	(void)w;
	atomic_fetch_add_explicit(&r->doorbells, 1, memory_order_relaxed);
}

void snap_ring_arm(struct snap_ring *r, bool arm)
{
	if (arm) {
		atomic_store_explicit(&r->sleeping, 1, memory_order_relaxed);
		/* Order the store above before the executor's re-check of the ring. */
		atomic_thread_fence(memory_order_seq_cst);
		return;
	}
	if (atomic_exchange_explicit(&r->sleeping, 0, memory_order_relaxed) == 0) {
		/* A producer took the doorbell: reset the eventfd so its count does not grow. */
		uint64_t v;
		ssize_t rd = read(r->efd, &v, sizeof(v));
		(void)rd;
	}
}

void snap_rings_destroy(void)
{
	for (unsigned i = 0; i < n_rings; i++) {
		rte_ring_free(rings[i]->r);
		close(rings[i]->efd);
		rte_free(rings[i]);
		rings[i] = NULL;
	}
	n_rings = 0;
}
