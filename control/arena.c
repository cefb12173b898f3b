/* Allocation arena for building protobuf replies: everything a reply points to is freed at
 * once after it is sent, so handlers need no per-field cleanup on error paths. */
#include <stdlib.h>
#include <string.h>

#include "control/internal.h"

void *ctl_arena_alloc(struct ctl_arena *a, size_t size)
{
	if (a->n == a->cap) {
		unsigned ncap = a->cap ? 2 * a->cap : 64;
		void **np = realloc(a->p, ncap * sizeof(*np));
		if (np == NULL) {
			a->oom = true;
			return NULL;
		}
		a->p = np;
		a->cap = ncap;
	}
	void *m = calloc(1, size ? size : 1);
	if (m == NULL) {
		a->oom = true;
		return NULL;
	}
	a->p[a->n++] = m;
	return m;
}

char *ctl_arena_str(struct ctl_arena *a, const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = ctl_arena_alloc(a, n);
	if (d)
		memcpy(d, s, n);
	return d ? d : (char *)(uintptr_t)"";
}

void ctl_arena_free(struct ctl_arena *a)
{
	for (unsigned i = 0; i < a->n; i++)
		free(a->p[i]);
	free(a->p);
}

Ctl__Counter *ctl_counter_new(struct ctl_arena *a, const char *name, uint64_t v)
{
	Ctl__Counter *c = ctl_arena_alloc(a, sizeof(*c));
	if (c == NULL)
		return NULL;
	ctl__counter__init(c);
	c->name = ctl_arena_str(a, name);
	c->value = v;
	return c;
}

