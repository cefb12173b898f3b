/* Saved-state versions in a takeover (issue 18): which format each part of the state is
 * written in, agreed before any engine is parked. The new binary lists what it reads (the
 * engine container and every element type that saves state, each as a range); the old
 * daemon picks, for each part it will send, the newest version both sides know, or refuses
 * naming the part. A 0.1.0 binary on either side speaks protocol version 1 (no lists): then
 * everything is in its version 1, which each side checks it can write or read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snap/engine.h"
#include "core/engine_int.h"
#include "core/takeover.h"
#include "core/takeover_int.h"

#define CONTAINER "engine"
#define TOPOLOGY "topology" /* the run-time topology (T_TOPOLOGY, takeover_topo.c) */

/* The old daemon's plan: one version per element type it sends. */
static struct {
	unsigned n;
	char type[TO_READS_MAX][32];
	uint32_t version[TO_READS_MAX];
} plan;

static int add_range(struct to_reads *r, const char *name, uint32_t lo, uint32_t hi)
{
	if (r->n >= TO_READS_MAX)
		return -E2BIG;
	struct to_range *g = &r->r[r->n++];
	snprintf(g->name, sizeof(g->name), "%s", name);
	g->lo = lo;
	g->hi = hi;
	return 0;
}

/* SNAP_TAKEOVER_FAKE_READS=TYPE:LO-HI (tests): claim another read range for one part. */
static void fake_reads(struct to_reads *r)
{
	const char *f = getenv("SNAP_TAKEOVER_FAKE_READS");
	char name[32];
	unsigned lo, hi;
	if (f == NULL || sscanf(f, "%31[^:]:%u-%u", name, &lo, &hi) != 3)
		return;
	for (unsigned i = 0; i < r->n; i++)
		if (strcmp(r->r[i].name, name) == 0) {
			r->r[i].lo = lo;
			r->r[i].hi = hi;
			return;
		}
	add_range(r, name, lo, hi);
}

int to_reads_mine(struct to_reads *r)
{
	memset(r, 0, sizeof(*r));
	int e = add_range(r, CONTAINER, SNAP_ENGINE_SAVE_V1, SNAP_ENGINE_SAVE_V2);
	if (e == 0)
		e = add_range(r, TOPOLOGY, TO_TOPO_VERSION, TO_TOPO_VERSION);
	/* SNAP_TAKEOVER_NO_DELTA=1 (tests, comparisons): ask for every engine in full. */
	const char *nd = getenv("SNAP_TAKEOVER_NO_DELTA");
	if (e == 0 && !(nd && nd[0] == '1'))
		e = add_range(r, TO_DELTA_PART, TO_DELTA_VERSION, TO_DELTA_VERSION);
	const struct snap_elem_desc *d;
	for (unsigned i = 0; e == 0 && (d = snap_elem_type_at(i)) != NULL; i++) {
		uint32_t wmin, rmin, cur;
		snap_elem_state_range(d, &wmin, &rmin, &cur);
		if (cur)
			e = add_range(r, d->name, rmin, cur);
	}
	fake_reads(r);
	return e;
}

static const struct to_range *find_range(const struct to_reads *r, const char *name)
{
	for (unsigned i = 0; i < r->n && i < TO_READS_MAX; i++)
		if (strncmp(r->r[i].name, name, sizeof(r->r[i].name)) == 0)
			return &r->r[i];
	return NULL;
}

bool to_reads_has(const struct to_reads *r, const char *name, uint32_t v)
{
	const struct to_range *g = find_range(r, name);
	return g && g->lo <= v && v <= g->hi;
}

/* Pick the newest version in both [wlo, whi] and the reader's range for name. */
static int pick(const struct to_reads *r, const char *name, uint32_t wlo, uint32_t whi,
		uint32_t *v, char *msg, size_t len)
{
	const struct to_range *g = find_range(r, name);
	if (g == NULL) {
		snprintf(msg, len, "the new binary has no element type '%s' (state to move)", name);
		return -EPROTONOSUPPORT;
	}
	uint32_t hi = whi < g->hi ? whi : g->hi, lo = wlo > g->lo ? wlo : g->lo;
	if (lo > hi) {
		snprintf(msg, len, "'%s' state: the new binary reads versions %u-%u, this daemon "
			 "writes %u-%u", name, g->lo, g->hi, wlo, whi);
		return -EPROTONOSUPPORT;
	}
	*v = hi;
	return 0;
}

/* Call fn for each element type with saved state in this daemon's engines, once each. */
static int each_saved_type(int (*fn)(const struct snap_elem_desc *d, void *arg), void *arg)
{
	const struct snap_elem_desc *seen[TO_READS_MAX];
	unsigned n = 0;
	for (unsigned i = 0; i < snap_engine_count(); i++) {
		const struct snap_engine *e = snap_engine_at(i);
		for (uint16_t k = 0; k < e->n_elems; k++) {
			const struct snap_elem_desc *d = e->elems[k]->desc;
			bool dup = false;
			for (unsigned j = 0; j < n; j++)
				dup |= seen[j] == d;
			if (d->save == NULL || dup)
				continue;
			if (n >= TO_READS_MAX)
				return -E2BIG;
			seen[n++] = d;
			int r = fn(d, arg);
			if (r)
				return r;
		}
	}
	return 0;
}

struct plan_arg {
	const struct to_reads *r;
	char *msg;
	size_t len;
};

static int plan_one(const struct snap_elem_desc *d, void *arg)
{
	struct plan_arg *a = arg;
	uint32_t wmin, rmin, cur, v;
	snap_elem_state_range(d, &wmin, &rmin, &cur);
	int r = pick(a->r, d->name, wmin, cur, &v, a->msg, a->len);
	if (r)
		return r;
	snprintf(plan.type[plan.n], sizeof(plan.type[0]), "%s", d->name);
	plan.version[plan.n++] = v;
	return 0;
}

int to_plan(const struct to_reads *r, uint32_t *container, char *msg, size_t len)
{
	plan.n = 0;
	int e = pick(r, CONTAINER, SNAP_ENGINE_SAVE_V1, SNAP_ENGINE_SAVE_V2, container, msg, len);
	uint32_t topo;
	if (e == 0 && find_range(r, TOPOLOGY) == NULL) {
		snprintf(msg, len, "the new binary cannot build the running topology (it reads no "
			 "'%s')", TOPOLOGY);
		e = -EPROTONOSUPPORT;
	}
	if (e == 0) /* only one layout so far: both sides must have it */
		e = pick(r, TOPOLOGY, TO_TOPO_VERSION, TO_TOPO_VERSION, &topo, msg, len);
	if (e == 0)
		e = each_saved_type(plan_one, &(struct plan_arg){r, msg, len});
	if (e == -E2BIG)
		snprintf(msg, len, "more than %d element types with saved state", TO_READS_MAX);
	return e;
}

uint32_t to_plan_version(const char *type, void *ctx)
{
	(void)ctx;
	for (unsigned i = 0; i < plan.n; i++)
		if (strcmp(plan.type[i], type) == 0)
			return plan.version[i];
	return 0; /* not planned: refused by snap_engine_save_v */
}

static int v1_writable(const struct snap_elem_desc *d, void *arg)
{
	struct plan_arg *a = arg;
	uint32_t wmin, rmin, cur;
	snap_elem_state_range(d, &wmin, &rmin, &cur);
	if (wmin <= 1)
		return 0;
	snprintf(a->msg, a->len, "the new binary reads only state version 1 (release 0.1.0) "
		 "and element type '%s' no longer writes it (oldest: %u)", d->name, wmin);
	return -EPROTONOSUPPORT;
}

int to_check_write_v1(char *msg, size_t len)
{
	return each_saved_type(v1_writable, &(struct plan_arg){NULL, msg, len});
}

int to_check_read_v1(char *msg, size_t len)
{
	const struct snap_elem_desc *d;
	for (unsigned i = 0; (d = snap_elem_type_at(i)) != NULL; i++) {
		uint32_t wmin, rmin, cur;
		snap_elem_state_range(d, &wmin, &rmin, &cur);
		if (cur && rmin > 1) {
			snprintf(msg, len, "the running daemon writes state version 1 (release "
				 "0.1.0) and element type '%s' no longer reads it (oldest: %u)",
				 d->name, rmin);
			return -EPROTONOSUPPORT;
		}
	}
	return 0;
}

void snap_takeover_print_versions(FILE *f)
{
	fprintf(f, "%-20s %7s %10s %10s\n", "STATE", "VERSION", "WRITES", "READS");
	fprintf(f, "%-20s %7u %7u-%-2u %7u-%-2u\n", "takeover protocol",
		SNAP_TAKEOVER_STATE_VERSION, SNAP_TAKEOVER_STATE_VERSION_MIN,
		SNAP_TAKEOVER_STATE_VERSION, SNAP_TAKEOVER_STATE_VERSION_MIN,
		SNAP_TAKEOVER_STATE_VERSION);
	fprintf(f, "%-20s %7u %7u-%-2u %7u-%-2u\n", CONTAINER " container",
		SNAP_ENGINE_SAVE_V2, SNAP_ENGINE_SAVE_V1, SNAP_ENGINE_SAVE_V2, SNAP_ENGINE_SAVE_V1,
		SNAP_ENGINE_SAVE_V2);
	fprintf(f, "%-20s %7u %7u-%-2u %7u-%-2u\n", "run-time topology", TO_TOPO_VERSION,
		TO_TOPO_VERSION, TO_TOPO_VERSION, TO_TOPO_VERSION, TO_TOPO_VERSION);
	const struct snap_elem_desc *d;
	for (unsigned i = 0; (d = snap_elem_type_at(i)) != NULL; i++) {
		uint32_t wmin, rmin, cur;
		snap_elem_state_range(d, &wmin, &rmin, &cur);
		if (cur)
			fprintf(f, "element %-12s %7u %7u-%-2u %7u-%-2u\n", d->name, cur, wmin, cur,
				rmin, cur);
	}
}
