/* Helpers shared by the control-plane tests: a throw-away EAL and a test element type. */
#pragma once

#include <stdint.h>

/* Start EAL without hugepages/PCI under a unique file prefix derived from name. 0 or -1. */
int ctl_test_eal_init(const char *name);
/* rte_eal_cleanup and remove the prefix's runtime directory. */
void ctl_test_eal_fini(void);

/* Element type "ctl_test_src": a source whose poll does `work_iters` rounds of arithmetic
 * (synthetic work) and returns 1; reports counter "generated" (polls seen) and "checksum". */
extern volatile unsigned ctl_test_src_work_iters;
