/* The daemon's modules as the core sees them: each module (the control server, the app
 * layer, ...) registers one static descriptor of callbacks, and the core (core/modules.c,
 * core/takeover.c, core/main.c) and other modules reach it only through that table, never
 * by its name or its headers. Registration runs from constructors, before main. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/fdreg.h"

struct snap_config;

/* Up to max (name, value) status counters; names static (or valid until the next call).
 * Returns how many were written. */
typedef unsigned (*snap_module_counters_fn)(const char **names, uint64_t *values,
					    unsigned max);

struct snap_module {
	const char *name;  /* for logs, and the prefix of its status counters ("apps.NAME") */
	unsigned order;    /* started in increasing order after the groups, stopped in reverse */
	/* Start after ports, engines and groups exist (a takeover's fds are available through
	 * snap_takeover_take_fd). 0 or -errno with a message in err (-EINVAL: config). */
	int (*start)(const struct snap_config *cfg, char *err, size_t errlen);
	/* Stop; engines still run. Safe if never started. */
	void (*stop)(void);
	/* Optional. SIGHUP: take what may change at run time from a freshly loaded config.
	 * 0 or -errno with a message (then nothing of this module changed). */
	int (*reload)(const struct snap_config *fresh, char *err, size_t errlen);
	/* Optional: clients attached to this module (apps), summed into `status`. */
	unsigned (*sessions)(void);
	/* Optional: status counters, shown by `snapctl status` as NAME.COUNTER. */
	snap_module_counters_fn counters;
	/* Optional, upgrade: the owner id to hand over with a registered fd of this kind (a
	 * connection registered before its session had an id); return owner if not ours. */
	uint64_t (*fd_owner)(int fd, enum snap_fd_kind kind, uint64_t owner);
};

#define SNAP_MODULES_MAX 16

/* Add m (static storage) to the table. Constructors only (single-threaded); a full table
 * or a second module of the same name aborts the process: a build error, not a run-time one. */
void snap_module_register(const struct snap_module *m);
#define SNAP_MODULE_REGISTER(m)                                                            \
	static void __attribute__((constructor)) snap_module_reg_##m(void)                 \
	{                                                                                  \
		snap_module_register(&(m));                                                \
	}

/* Registered modules in start order (increasing order field); NULL past the end. */
const struct snap_module *snap_module_at(unsigned i);
/* Clients of every module that counts them, summed into *n; false if no module does. */
bool snap_module_sessions(unsigned *n);
