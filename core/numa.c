/* Engine-owned tables on the engine's NUMA node (include/snap/numa.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <rte_lcore.h>
#include <rte_malloc.h>

#include "snap/numa.h"

static snap_numa_hook_fn hook;
static void *hook_ctx;

/* EAL's lcore count is 0 until rte_eal_init has run (and stays set until exit). */
static bool eal_running(void)
{
	return rte_lcore_count() > 0;
}

void *snap_numa_calloc(const char *what, size_t n, size_t size, int socket_id)
{
	if (n != 0 && size > SIZE_MAX / n) {
		errno = ENOMEM;
		return NULL;
	}
	size_t len = n * size;
	if (len == 0)
		len = 1;
	void *p = eal_running() ? rte_zmalloc_socket(what, len, RTE_CACHE_LINE_SIZE, socket_id)
				: calloc(1, len);
	if (p == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	if (hook)
		hook(hook_ctx, what, p, len, socket_id);
	return p;
}

void snap_numa_free(void *p)
{
	if (p == NULL)
		return;
	if (eal_running())
		rte_free(p);
	else
		free(p);
}

void snap_numa_set_hook(snap_numa_hook_fn fn, void *ctx)
{
	hook = fn;
	hook_ctx = ctx;
}
