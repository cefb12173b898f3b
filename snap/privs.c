/* Capability dropping after start-up, with libcap-ng. */
#include <cap-ng.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <linux/capability.h>

#include "snap/config.h"
#include "snap/log.h"
#include "snap/privs.h"

static char desc[256] = "none";

static void describe(void)
{
	char *t = capng_print_caps_text(CAPNG_PRINT_BUFFER, CAPNG_EFFECTIVE);
	snprintf(desc, sizeof(desc), "%s", t && t[0] ? t : "none");
	free(t);
}

const char *snap_privs_describe(void)
{
	return desc;
}

int snap_privs_drop(const struct snap_config *cfg)
{
	capng_get_caps_process();
	if (capng_have_capabilities(CAPNG_SELECT_CAPS) == CAPNG_NONE) {
		describe();
		SNAP_LOG(INFO, "capabilities after start-up: %s", desc);
		return 0;
	}
	bool raw = false, xdp = false;
	for (unsigned i = 0; i < cfg->n_ports; i++) {
		raw |= cfg->ports[i].kind == SNAP_PORT_AF_PACKET;
		xdp |= cfg->ports[i].kind == SNAP_PORT_AF_XDP;
	}
	bool nice = capng_have_capability(CAPNG_EFFECTIVE, CAP_SYS_NICE);
	capng_clear(CAPNG_SELECT_BOTH);
	unsigned type = CAPNG_EFFECTIVE | CAPNG_PERMITTED;
	if (raw || xdp)
		capng_update(CAPNG_ADD, type, CAP_NET_RAW);
	if (xdp) {
		capng_update(CAPNG_ADD, type, CAP_NET_ADMIN);
		capng_update(CAPNG_ADD, type, CAP_SYS_ADMIN);
#ifdef CAP_BPF
		capng_update(CAPNG_ADD, type, CAP_BPF);
#endif
	}
	/* Real-time engine groups (SCHED_DEADLINE) need CAP_SYS_NICE when threads move. */
	if (nice)
		capng_update(CAPNG_ADD, type, CAP_SYS_NICE);
	int r = capng_apply(CAPNG_SELECT_BOTH);
	capng_get_caps_process();
	describe();
	if (r < 0) {
		SNAP_LOG(WARNING, "could not drop capabilities (capng_apply: %d); keeping: %s", r,
			 desc);
		return -EPERM;
	}
	SNAP_LOG(INFO, "capabilities after start-up: %s", desc);
	return 0;
}
