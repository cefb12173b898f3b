/* The module table (module.h): a sorted array filled by constructors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/module.h"

static const struct snap_module *mods[SNAP_MODULES_MAX];
static unsigned n_mods;

void snap_module_register(const struct snap_module *m)
{
	for (unsigned i = 0; i < n_mods; i++)
		if (strcmp(mods[i]->name, m->name) == 0) {
			fprintf(stderr, "snap: module %s registered twice\n", m->name);
			abort();
		}
	if (n_mods == SNAP_MODULES_MAX) {
		fprintf(stderr, "snap: module table full (%u)\n", SNAP_MODULES_MAX);
		abort();
	}
	unsigned i = n_mods++;
	for (; i > 0 && mods[i - 1]->order > m->order; i--)
		mods[i] = mods[i - 1];
	mods[i] = m;
}

const struct snap_module *snap_module_at(unsigned i)
{
	return i < n_mods ? mods[i] : NULL;
}

bool snap_module_sessions(unsigned *n)
{
	bool any = false;
	*n = 0;
	for (unsigned i = 0; i < n_mods; i++)
		if (mods[i]->sessions) {
			*n += mods[i]->sessions();
			any = true;
		}
	return any;
}
