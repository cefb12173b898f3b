/* Helpers for unit tests that need DPDK: an unprivileged EAL with a unique file prefix, and
 * removal of its runtime directory at the end so tests leave nothing behind. */
#pragma once

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_eal.h>

static char snap_test_rundir[512];

/* Start EAL for test `name` with `mem_mb` of ordinary memory. 0 or -1. */
static inline int snap_test_eal_init(const char *name, unsigned mem_mb)
{
	char prefix[96], mem[16];
	snprintf(prefix, sizeof(prefix), "--file-prefix=t_%s_%d", name, (int)getpid());
	snprintf(mem, sizeof(mem), "%u", mem_mb);
	char *argv[] = {(char *)"snaptest", (char *)"--no-huge", (char *)"--no-pci", (char *)"-m",
			mem, prefix, (char *)"--log-level=lib.*:error", (char *)"--no-telemetry"};
	if (rte_eal_init(RTE_DIM(argv), argv) < 0)
		return -1;
	snprintf(snap_test_rundir, sizeof(snap_test_rundir), "%s", rte_eal_get_runtime_dir());
	return 0;
}

static inline void snap_test_eal_fini(void)
{
	rte_eal_cleanup();
	DIR *d = opendir(snap_test_rundir);
	if (d) {
		struct dirent *de;
		char p[1024];
		while ((de = readdir(d)) != NULL) {
			snprintf(p, sizeof(p), "%s/%s", snap_test_rundir, de->d_name);
			unlink(p);
		}
		closedir(d);
		rmdir(snap_test_rundir);
	}
}
