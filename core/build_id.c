/* This binary's build id. The core library carries a weak definition with the build-time id
 * (git describe, from the generated build_id_vcs.h); an executable compiled with
 * SNAP_BUILD_ID_OVERRIDE carries a strong one that wins at link time. That is how the upgrade
 * tests get a second, separately built daemon binary that differs in its build id
 * (snapnetd-next, whose override is SNAP_BUILD_ID "-next"), as a real new release would. */
#include "core/build_id.h"
#include "build_id_vcs.h"

#ifdef SNAP_BUILD_ID_OVERRIDE
const char snap_build_id[] = SNAP_BUILD_ID_OVERRIDE;
#else
__attribute__((weak)) const char snap_build_id[] = SNAP_BUILD_ID;
#endif
