/* Helpers private to control/: the reply arena shared by the RPC method modules. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/ctl.pb-c.h"

/* Everything a reply points to; freed by ctl_arena_free. On allocation failure oom is set and
 * the allocators return NULL (ctl_arena_str returns "" so callers may ignore it). */
struct ctl_arena {
	void **p;
	unsigned n, cap;
	bool oom;
};
void *ctl_arena_alloc(struct ctl_arena *a, size_t size); /* zeroed */
char *ctl_arena_str(struct ctl_arena *a, const char *s);
void ctl_arena_free(struct ctl_arena *a);
Ctl__Counter *ctl_counter_new(struct ctl_arena *a, const char *name, uint64_t v);

/* Whether an upgrade is under way (from the request until its reply): a capture started then
 * would not survive it, so `capture` refuses (ctl_upgrade.c). */
bool ctl_upgrade_active(void);
