/* NUMA placement of engine-owned tables (issue 17): an engine on a node builds a Pony element
 * (transport, one-sided state, authenticated flows, app layer, its own mbuf pool), an
 * injector and a ring_rx, and adopts an app session. Every table allocated meanwhile must
 * have been asked for on the engine's node (the snap_numa hook sees the node each call site
 * passed, which on a one-node machine is the only way to tell the engine's node from "any")
 * and must live there (the memseg DPDK reads back for the address). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <rte_lcore.h>
#include <rte_memory.h>
#include <rte_mempool.h>

#include "pony/app.h"
#include "snap/numa.h"
#include "snap/ring.h"
#include "tests/unit/elemtest.h"

#define ALLOCS_MAX 256

struct alloc {
	const char *what;
	void *p;
	size_t size;
	int socket;
};
static struct alloc allocs[ALLOCS_MAX];
static unsigned n_allocs;

static void record(void *ctx, const char *what, void *p, size_t size, int socket_id)
{
	if (n_allocs < ALLOCS_MAX)
		allocs[n_allocs++] = (struct alloc){what, p, size, socket_id};
}

/* The node DPDK placed the memory at p on; -2 if p is not DPDK memory. */
static int node_of(const void *p)
{
	const struct rte_memseg *ms = rte_mem_virt2memseg(p, NULL);
	return ms ? ms->socket_id : -2;
}

static bool seen(const char *what)
{
	for (unsigned i = 0; i < n_allocs; i++)
		if (strcmp(allocs[i].what, what) == 0)
			return true;
	return false;
}

static void test_engine_tables_on_node(void **state)
{
	/* The engine's node: the last one EAL knows (node 0 on a one-node machine). */
	int node = (int)rte_socket_id_by_idx(rte_socket_count() - 1);
	char keys[] = "/tmp/snap_numa_keys_XXXXXX";
	int fd = mkstemp(keys);
	assert_true(fd >= 0);
	static const char k[] =
		"1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
	assert_int_equal(write(fd, k, strlen(k)), (ssize_t)strlen(k));
	close(fd);
	assert_int_equal(chmod(keys, 0600), 0);

	n_allocs = 0;
	snap_numa_set_hook(record, NULL);
	struct snap_engine *e = snap_engine_create("numa", node);
	assert_non_null(e);
	char key_arg[64];
	snprintf(key_arg, sizeof(key_arg), "auth_key_file=%s", keys);
	et_add(e, "pony", "pony", "ip=10.0.0.9", "apps=1", "max_flows=8", "max_streams=64",
	       key_arg, NULL);
	et_add(e, "injector", "inj", "delay_us=10", NULL);
	et_add(e, "ring_rx", "rx", "ring=numa.r", NULL);
	struct pony_app_host *h = pony_app_host_find("numa");
	assert_non_null(h);
	assert_int_equal(pony_app_host_socket(h), node);
	struct pony_app_config cfg;
	pony_app_config_defaults(&cfg);
	struct pony_app_session *s = pony_app_session_create(&cfg, 1, -1, pony_app_host_socket(h));
	assert_non_null(s);
	assert_int_equal(pony_app_host_adopt(h, s), 0);
	snap_numa_set_hook(NULL, NULL);
	unlink(keys);

	/* Every table of the engine, its elements, the transport and the app layer. */
	static const char *const tables[] = {
		"snap_engine", "snap_engine_mem", "pony_tp", "pony_flows", "pony_descs",
		"pony_rxmaps", "pony_flow_ht", "pony_streams", "pony_txmsgs", "pony_held",
		"pony_os", "pony_os_ops", "pony_os_flows", "pony_os_bufs", "pony_os_data",
		"pony_auth", "pony_auth_slots", "pony_app_host", "pony_app_session",
		"pony_app_streams", "pony_app_ops", "pony_app_regions", "pony_app_listens",
	};
	for (size_t i = 0; i < RTE_DIM(tables); i++)
		if (!seen(tables[i]))
			fail_msg("no allocation of %s went through snap_numa_calloc", tables[i]);
	assert_true(n_allocs < ALLOCS_MAX);
	unsigned bad = 0;
	for (unsigned i = 0; i < n_allocs; i++) {
		const struct alloc *a = &allocs[i];
		int at = node_of(a->p);
		if (a->socket != node || at != node) {
			printf("%s (%zu bytes): asked for node %d, lives on %d; engine's node %d\n",
			       a->what, a->size, a->socket, at, node);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
	printf("%u engine-owned allocations, all asked for and placed on node %d\n", n_allocs,
	       node);

	/* Not through the hook: the portless pony element's mbuf pool and the ring. */
	char pool[RTE_MEMPOOL_NAMESIZE];
	snprintf(pool, sizeof(pool), "pony_%u_%u", snap_engine_id(e), 0u);
	struct rte_mempool *mp = rte_mempool_lookup(pool);
	assert_non_null(mp);
	assert_int_equal(mp->socket_id, node);
	assert_int_equal(node_of(mp), node);
	struct snap_ring *r = snap_ring_get("numa.r", SOCKET_ID_ANY); /* exists: no new ring */
	assert_non_null(r);
	assert_int_equal(r->socket_id, node);
	assert_int_equal(node_of(r), node);
	assert_int_equal(node_of(r->r), node);

	int fds[3];
	pony_app_session_fds(s, &fds[0], &fds[1], &fds[2]);
	snap_engine_destroy(e); /* detaches and frees the session with the host */
	for (int i = 0; i < 3; i++)
		close(fds[i]); /* the attach layer's part, in the daemon */
}

int main(int argc, char **argv)
{
	if (et_eal_init(argv[0]) < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_engine_tables_on_node),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	et_eal_fini();
	return rc;
}
