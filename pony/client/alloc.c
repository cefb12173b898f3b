/* libpony payload-area allocator: first fit over 128-byte blocks with a sorted, coalescing
 * free list. Simple and O(free extents); apps that need more allocate big buffers once and
 * carve them up themselves. */
#include <errno.h>
#include <stdlib.h>

#include "pony/client/internal.h"

int pony_alloc_init(struct pony_alloc *al, uint64_t bytes)
{
	al->nblk = (uint32_t)(bytes / PONY_ALLOC_GRANULE);
	al->len_at = calloc(al->nblk ? al->nblk : 1, sizeof(*al->len_at));
	al->free = calloc(1, sizeof(*al->free));
	if (al->len_at == NULL || al->free == NULL || al->nblk == 0) {
		free(al->len_at);
		free(al->free);
		return -ENOMEM;
	}
	al->free->start = 0;
	al->free->n = al->nblk;
	return 0;
}

void pony_alloc_fini(struct pony_alloc *al)
{
	while (al->free) {
		struct pony_extent *e = al->free;
		al->free = e->next;
		free(e);
	}
	free(al->len_at);
	al->len_at = NULL;
}

uint64_t pony_alloc_get(struct pony_alloc *al, uint64_t bytes)
{
	if (bytes == 0 || bytes > (uint64_t)al->nblk * PONY_ALLOC_GRANULE)
		return UINT64_MAX;
	uint32_t n = (uint32_t)((bytes + PONY_ALLOC_GRANULE - 1) / PONY_ALLOC_GRANULE);
	for (struct pony_extent **p = &al->free; *p; p = &(*p)->next) {
		struct pony_extent *e = *p;
		if (e->n < n)
			continue;
		uint32_t start = e->start;
		e->start += n;
		e->n -= n;
		if (e->n == 0) {
			*p = e->next;
			free(e);
		}
		al->len_at[start] = n;
		return (uint64_t)start * PONY_ALLOC_GRANULE;
	}
	return UINT64_MAX;
}

int pony_alloc_put(struct pony_alloc *al, uint64_t off)
{
	if (off % PONY_ALLOC_GRANULE || off / PONY_ALLOC_GRANULE >= al->nblk)
		return -EINVAL;
	uint32_t start = (uint32_t)(off / PONY_ALLOC_GRANULE);
	uint32_t n = al->len_at[start];
	if (n == 0)
		return -EINVAL;
	struct pony_extent *prev = NULL, *next = al->free;
	while (next && next->start < start) {
		prev = next;
		next = next->next;
	}
	/* Merge with the neighbours where they touch; allocate a node only if neither does. */
	bool merge_prev = prev && prev->start + prev->n == start;
	bool merge_next = next && start + n == next->start;
	if (!merge_prev && !merge_next) {
		struct pony_extent *e = malloc(sizeof(*e));
		if (e == NULL)
			return -ENOMEM; /* stays allocated: leaks space, never corrupts */
		e->start = start;
		e->n = n;
		e->next = next;
		if (prev)
			prev->next = e;
		else
			al->free = e;
	} else if (merge_prev && merge_next) {
		prev->n += n + next->n;
		prev->next = next->next;
		free(next);
	} else if (merge_prev) {
		prev->n += n;
	} else {
		next->start = start;
		next->n += n;
	}
	al->len_at[start] = 0;
	return 0;
}
