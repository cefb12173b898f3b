/* Helpers shared by the control-plane tests: test element types (EAL: tests/unit/testlib.h). */
#pragma once

#include <stdint.h>

/* Element type "ctl_test_src": a source whose poll does `work_iters` rounds of arithmetic
 * (synthetic work) and returns 1; reports counter "generated" (polls seen) and "checksum". */
extern volatile unsigned ctl_test_src_work_iters;
