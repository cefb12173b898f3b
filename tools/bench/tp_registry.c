/* The list of snapbench transport backends. Adding one: a tp_<name>.c defining
 * `bench_tp_<name>`; meson compiles it when the file exists and defines SNAPBENCH_HAVE_<NAME>. */
#include "bench.h"

#include <string.h>

extern const struct bench_tp_ops bench_tp_tcp;
#ifdef SNAPBENCH_HAVE_PONY
extern const struct bench_tp_ops bench_tp_pony;
#endif

const struct bench_tp_ops *const bench_transports[] = {
	&bench_tp_tcp,
#ifdef SNAPBENCH_HAVE_PONY
	&bench_tp_pony,
#endif
	NULL,
};

const struct bench_tp_ops *bench_tp_find(const char *name)
{
	for (unsigned i = 0; bench_transports[i]; i++)
		if (!strcmp(bench_transports[i]->name, name))
			return bench_transports[i];
	return NULL;
}
