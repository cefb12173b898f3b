/* libpony private state: the attached app (mapping, ring cursors, doorbells) and the
 * payload-area allocator, which lives in the app's private memory so that nothing the
 * daemon or a stray write into the shared region does can corrupt it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pony/shm.h"

#define PONY_ALLOC_GRANULE 128u /* bytes per allocator block (>= PONY_BUF_ALIGN) */

struct pony_extent {
	struct pony_extent *next;
	uint32_t start, n; /* in blocks */
};

/* First-fit allocator over [0, nblk) blocks: a sorted free list with coalescing, and the
 * length of each live allocation at its first block (0: not an allocation start). */
struct pony_alloc {
	uint32_t nblk;
	uint32_t *len_at;
	struct pony_extent *free;
};

int pony_alloc_init(struct pony_alloc *al, uint64_t bytes);
void pony_alloc_fini(struct pony_alloc *al);
/* Returns the byte offset, or UINT64_MAX when no extent fits. */
uint64_t pony_alloc_get(struct pony_alloc *al, uint64_t bytes);
/* Free the allocation starting at byte offset off; 0, or -EINVAL if none starts there. */
int pony_alloc_put(struct pony_alloc *al, uint64_t off);

struct pony_app {
	int sock, memfd, cmd_efd, cpl_efd;
	uint32_t app_id;
	void *base;
	size_t size;
	struct pony_shm_hdr hdr;  /* validated copy */
	struct pony_shm_ring *cmd_ring, *cpl_ring;
	struct pony_shm_cmd *cmds;
	struct pony_shm_cpl *cpls;
	char *buf;
	uint32_t cmd_tail, cmd_head_cache;
	uint32_t cpl_head;
	bool armed;   /* our sleeping flag is set */
	bool dead;    /* the daemon closed the socket */
	struct pony_alloc alloc;
	/* Large one-sided ops (onesided.c): each sent as pieces, completed once. */
	struct pony_large_op {
		uint64_t tag;
		uint64_t off;      /* payload-area offset of the whole buffer */
		uint32_t len, left; /* bytes; pieces not completed yet (0: slot free) */
		int status;        /* the first failing piece's */
		uint8_t op;
	} large[PONY_LARGE_OPS_MAX];
	/* IPv6 remotes of one-sided ops: handle h (1..) in pony_remote.ip is peers6[h - 1]. */
	uint8_t peers6[PONY_PEERS6_MAX][16];
	unsigned n_peers6;
	uint32_t version; /* shm version to say hello with / agreed (pony/shm.h) */
	uint64_t spin_ns; /* pony_wait spins this long before it sleeps (pony_set_wait_spin) */
	bool spin_auto;   /* the default spin: only while a yield hands the CPU to another
			   * thread (wait.c) */
	/* The default spin is off until spin_off_until (CLOCK_MONOTONIC ns): yields found the
	 * thread sharing our CPU busy, the last at spin_long_last. spin_off_ns is the last
	 * back-off (0: none yet). */
	uint64_t spin_off_until, spin_off_ns, spin_long_last;
	int32_t spin_long_share; /* moving share of long yields, of 65536 (wait.c) */
	uint64_t spin_cuts; /* back-offs begun (tests, diagnostics) */
};

/* onesided.c, for pony_poll: whether completion c (flags PONY_CMDF_PIECE) finishes its large
 * op; if so *out is that op's one completion. 0 (absorbed), 1 (out filled), or -EPROTO (a
 * piece of no op we sent). */
struct pony_shm_cpl;
int pony_large_piece_done(struct pony_app *a, const struct pony_shm_cpl *c,
			  struct pony_completion *out);

/* Build an app handle over an already mapped region (in-process tests that run the real
 * daemon code against the real library without a socket). The handle does not own base or
 * the fds: pony_app_unwrap frees only the handle. NULL with errno EPROTO (bad header) or
 * ENOMEM. Not exported from libpony.so. */
struct pony_app *pony_app_wrap(void *base, size_t size, int cmd_efd, int cpl_efd);
void pony_app_unwrap(struct pony_app *a);
/* wait.c: clear our sleeping flag and drain the eventfd the daemon may have rung. */
void pony_disarm(struct pony_app *a);

/* pony.c, for the other parts of the library: the payload-area offset of [buf, buf+len)
 * (0, or -EFAULT if it is not inside the area), and queueing one command on the ring
 * (0, -EAGAIN when full, -EPIPE when the daemon is gone). */
int pony_buf_off(const struct pony_app *a, const void *buf, uint64_t len, uint64_t *off);
int pony_cmd_push(struct pony_app *a, const struct pony_shm_cmd *c);
/* k consecutive entries c[0..k), published together: 0, -EAGAIN (room for fewer), -EPIPE. */
int pony_cmd_push_n(struct pony_app *a, const struct pony_shm_cmd *c, uint32_t k);
/* Queue c whose ip may be a pony_remote_set_addr handle: then as an IPv6 command and its
 * address entry (PONY_CMDF_ADDR6), both or neither. 0, -EAGAIN, -EINVAL (an ip in 0.0.0.0/8
 * that is no handle of ours), -EPIPE. */
int pony_cmd_push_peer(struct pony_app *a, const struct pony_shm_cmd *c);
/* Ring entries c takes (2 for an IPv6 remote). */
static inline uint32_t pony_cmd_slots(const struct pony_shm_cmd *c)
{
	return c->ip != 0 && c->ip < (1u << 24) ? 2 : 1;
}
