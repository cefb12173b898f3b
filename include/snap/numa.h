/* Engine-owned tables on the engine's NUMA node. Every table an engine (or an element, a
 * transport, an app session of an engine) allocates for its life comes from here with the
 * engine's node (snap_engine_socket), so the thread that runs the engine, placed on that node
 * by its group, touches local memory. A test hook sees every allocation with the node asked
 * for, so a test can check that each call site passed the engine's node and not "any". */
#pragma once

#include <stddef.h>

/* n * size zeroed bytes, cache-line aligned, on NUMA node socket_id (SOCKET_ID_ANY: the
 * caller's). `what` names the table (for DPDK's heap statistics and the hook). With EAL
 * running this is DPDK memory (rte_zmalloc_socket); in a process without EAL (the app
 * layer's EAL-less tests, pony_loopd) plain calloc, node ignored. NULL with errno ENOMEM
 * (also on n * size overflow). n or size 0 still returns a distinct pointer. */
void *snap_numa_calloc(const char *what, size_t n, size_t size, int socket_id);
/* Free what snap_numa_calloc returned (NULL: no-op). Same EAL state as at the allocation. */
void snap_numa_free(void *p);

/* Test hook: fn is called after every successful snap_numa_calloc with the table's name,
 * pointer, size and the node asked for. NULL: none. Set it while no engine thread runs. */
typedef void (*snap_numa_hook_fn)(void *ctx, const char *what, void *p, size_t size,
				  int socket_id);
void snap_numa_set_hook(snap_numa_hook_fn fn, void *ctx);
