/* Element type registry, element arguments and the save() buffer. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snap/element.h"
#include "snap/log.h"

#define ELEM_TYPES_MAX 128
#define ELEM_ARGS_MAX 64

uint64_t snap_reload_gen;

static const struct snap_elem_desc *types[ELEM_TYPES_MAX];
static unsigned n_types;

void snap_elem_register(const struct snap_elem_desc *d)
{
	/* Runs from constructors, before main: a duplicate or overflow is a build bug. */
	if (n_types >= ELEM_TYPES_MAX || snap_elem_find(d->name) != NULL ||
	    d->n_outputs > SNAP_ELEM_OUT_MAX || d->process == NULL ||
	    (d->save && (d->state_version == 0 || d->restore == NULL ||
			 d->state_read_min > d->state_version ||
			 d->state_write_min > d->state_version))) {
		fprintf(stderr, "snap: bad or duplicate element type '%s'\n", d->name);
		abort();
	}
	types[n_types++] = d;
}

const struct snap_elem_desc *snap_elem_find(const char *name)
{
	for (unsigned i = 0; i < n_types; i++)
		if (strcmp(types[i]->name, name) == 0)
			return types[i];
	return NULL;
}

void snap_elem_state_range(const struct snap_elem_desc *d, uint32_t *write_min,
			   uint32_t *read_min, uint32_t *cur)
{
	uint32_t v = d->save ? d->state_version : 0;
	*cur = v;
	*write_min = d->state_write_min ? d->state_write_min : v;
	*read_min = d->state_read_min ? d->state_read_min : v;
}

const struct snap_elem_desc *snap_elem_type_at(unsigned i)
{
	return i < n_types ? types[i] : NULL;
}

struct snap_elem_args {
	unsigned n;
	char *key[ELEM_ARGS_MAX];
	char *val[ELEM_ARGS_MAX];
	char err[256];
	struct snap_engine *engine;
};

struct snap_elem_args *snap_elem_args_new(void)
{
	return calloc(1, sizeof(struct snap_elem_args));
}

void snap_elem_args_free(struct snap_elem_args *a)
{
	if (a == NULL)
		return;
	for (unsigned i = 0; i < a->n; i++) {
		free(a->key[i]);
		free(a->val[i]);
	}
	free(a);
}

int snap_elem_args_set(struct snap_elem_args *a, const char *key, const char *val)
{
	char *v = strdup(val);
	if (v == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < a->n; i++) {
		if (strcmp(a->key[i], key) == 0) {
			free(a->val[i]);
			a->val[i] = v;
			return 0;
		}
	}
	if (a->n >= ELEM_ARGS_MAX) {
		free(v);
		return -E2BIG;
	}
	char *k = strdup(key);
	if (k == NULL) {
		free(v);
		return -ENOMEM;
	}
	a->key[a->n] = k;
	a->val[a->n] = v;
	a->n++;
	return 0;
}

/* Internal: the engine builder attaches the engine before calling init. */
void snap_elem_args_bind(struct snap_elem_args *a, struct snap_engine *e);
void snap_elem_args_bind(struct snap_elem_args *a, struct snap_engine *e)
{
	a->engine = e;
	a->err[0] = '\0';
}

struct snap_engine *snap_elem_args_engine(const struct snap_elem_args *a)
{
	return a->engine;
}

const char *snap_elem_args_errmsg(const struct snap_elem_args *a)
{
	return a->err;
}

const char *snap_elem_arg_str(const struct snap_elem_args *a, const char *key, const char *dflt)
{
	if (a == NULL)
		return dflt;
	for (unsigned i = 0; i < a->n; i++)
		if (strcmp(a->key[i], key) == 0)
			return a->val[i];
	return dflt;
}

int snap_elem_args_error(const struct snap_elem_args *a, const char *fmt, ...)
{
	/* The error buffer is diagnostic output, not configuration: writing it through a const
	 * pointer keeps init()'s contract (args are read-only input) for everything else. */
	struct snap_elem_args *w = (struct snap_elem_args *)(uintptr_t)a;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->err, sizeof(w->err), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int snap_elem_arg_u64(const struct snap_elem_args *a, const char *key, uint64_t dflt,
		      uint64_t min, uint64_t max, uint64_t *out)
{
	const char *s = snap_elem_arg_str(a, key, NULL);
	if (s == NULL) {
		*out = dflt;
		return 0;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
		return snap_elem_args_error(a, "%s = \"%s\": expected an integer in [%llu, %llu]",
					    key, s, (unsigned long long)min,
					    (unsigned long long)max);
	*out = v;
	return 0;
}

int snap_elem_arg_double(const struct snap_elem_args *a, const char *key, double dflt,
			 double min, double max, double *out)
{
	const char *s = snap_elem_arg_str(a, key, NULL);
	if (s == NULL) {
		*out = dflt;
		return 0;
	}
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= min && v <= max))
		return snap_elem_args_error(a, "%s = \"%s\": expected a number in [%g, %g]", key,
					    s, min, max);
	*out = v;
	return 0;
}

int snap_elem_args_foreach(const struct snap_elem_args *a, snap_elem_arg_fn fn, void *ctx)
{
	for (unsigned i = 0; a && i < a->n; i++) {
		int r = fn(ctx, a->key[i], a->val[i]);
		if (r)
			return r;
	}
	return 0;
}

void snap_sbuf_init(struct snap_sbuf *b)
{
	memset(b, 0, sizeof(*b));
}

void snap_sbuf_fini(struct snap_sbuf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

int snap_sbuf_reserve(struct snap_sbuf *b, size_t cap)
{
	if (b->err)
		return b->err;
	if (cap > b->cap) {
		uint8_t *d = realloc(b->data, cap);
		if (d == NULL)
			return -ENOMEM;
		b->data = d;
		b->cap = cap;
	}
	memset(b->data + b->len, 0, b->cap - b->len);
	return 0;
}

void snap_sbuf_put(struct snap_sbuf *b, const void *p, size_t n)
{
	if (b->err || n == 0) /* nothing to add (p may be NULL then: an empty table) */
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *d = realloc(b->data, cap);
		if (d == NULL) {
			b->err = -ENOMEM;
			return;
		}
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}
