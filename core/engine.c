/* Engine runtime: building an engine's element graph, the poll loop body, the registry, and
 * save/restore of element state. Scheduling (which thread polls) lives in sched/. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>

#include "core/engine_int.h"
#include "snap/log.h"
#include "snap/numa.h"

#define ENGINES_MAX 256
#define SAVE_MAGIC 0x534e4150454e4731ull /* "SNAPENG1" */

void snap_elem_args_bind(struct snap_elem_args *a, struct snap_engine *e);

static struct snap_engine *engines[ENGINES_MAX];
static uint32_t next_engine_id = 1;

struct snap_engine *snap_engine_find(const char *name)
{
	for (unsigned i = 0; i < ENGINES_MAX; i++)
		if (engines[i] && strcmp(engines[i]->name, name) == 0)
			return engines[i];
	return NULL;
}

struct snap_engine *snap_engine_at(unsigned i)
{
	/* Dense view over the sparse table, in creation order. */
	for (unsigned j = 0; j < ENGINES_MAX; j++)
		if (engines[j] && i-- == 0)
			return engines[j];
	return NULL;
}

unsigned snap_engine_count(void)
{
	unsigned n = 0;
	for (unsigned j = 0; j < ENGINES_MAX; j++)
		n += engines[j] != NULL;
	return n;
}

struct snap_engine *snap_engine_create(const char *name, int socket_id)
{
	if (name == NULL || name[0] == '\0' || strlen(name) >= SNAP_NAME_MAX) {
		errno = EINVAL;
		return NULL;
	}
	if (snap_engine_find(name)) {
		errno = EEXIST;
		return NULL;
	}
	unsigned slot = 0;
	while (slot < ENGINES_MAX && engines[slot])
		slot++;
	if (slot == ENGINES_MAX) {
		errno = ENOSPC;
		return NULL;
	}
	struct snap_engine *e = snap_numa_calloc("snap_engine", 1, sizeof(*e), socket_id);
	if (e == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->id = next_engine_id++;
	e->socket_id = socket_id;
	snap_mbox_init(&e->mbox);
	snap_engine_set_state(e, SNAP_ENGINE_PARKED);
	engines[slot] = e;
	return e;
}

void snap_engine_destroy(struct snap_engine *e)
{
	if (e == NULL)
		return;
	for (int i = e->n_elems - 1; i >= 0; i--) {
		struct snap_elem *el = e->elems[i];
		if (el->desc->destroy)
			el->desc->destroy(el);
		snap_numa_free(el->priv);
		snap_numa_free(el);
	}
	for (unsigned j = 0; j < ENGINES_MAX; j++)
		if (engines[j] == e)
			engines[j] = NULL;
	free(e->desc);
	snap_numa_free(e);
}

int snap_engine_set_desc(struct snap_engine *e, const char *desc)
{
	char *d = NULL;
	if (desc && (d = strdup(desc)) == NULL)
		return -ENOMEM;
	free(e->desc);
	e->desc = d;
	return 0;
}

const char *snap_engine_desc(const struct snap_engine *e)
{
	return e->desc;
}

void *snap_engine_zmalloc(const struct snap_engine *e, size_t size)
{
	return snap_numa_calloc("snap_engine_mem", 1, size, e->socket_id);
}

const char *snap_engine_name(const struct snap_engine *e)
{
	return e->name;
}

uint32_t snap_engine_id(const struct snap_engine *e)
{
	return e->id;
}

int snap_engine_socket(const struct snap_engine *e)
{
	return e->socket_id;
}

void snap_engine_stats_read(const struct snap_engine *e, struct snap_engine_stats *out)
{
	out->polls = snap_stat_get(&e->st.polls);
	out->busy_polls = snap_stat_get(&e->st.busy_polls);
	out->work = snap_stat_get(&e->st.work);
	out->mbox_runs = snap_stat_get(&e->st.mbox_runs);
	out->cpu_ns = snap_stat_get(&e->st.cpu_ns);
	for (unsigned b = 0; b < SNAP_QDELAY_BUCKETS; b++)
		out->qdelay_hist[b] = snap_stat_get(&e->st.qdelay_hist[b]);
	out->qdelay_last_ns = snap_stat_get(&e->st.qdelay_last_ns);
}

enum snap_engine_state snap_engine_state(const struct snap_engine *e)
{
	return (enum snap_engine_state)atomic_load_explicit(&e->state, memory_order_acquire);
}

void snap_engine_set_state(struct snap_engine *e, enum snap_engine_state s)
{
	atomic_store_explicit(&e->state, (int)s, memory_order_release);
}

void *snap_engine_exec_data(struct snap_engine *e)
{
	return e->exec_data;
}

uint32_t snap_engine_wake_gen(const struct snap_engine *e)
{
	return atomic_load_explicit(&e->wake_gen, memory_order_acquire);
}

unsigned snap_engine_wake_fds(const struct snap_engine *e, int *fds, unsigned max)
{
	for (unsigned i = 0; i < e->n_wake_fds && i < max; i++)
		fds[i] = e->wake_fds[i];
	return e->n_wake_fds;
}

struct snap_elem *snap_engine_elem(const struct snap_engine *e, const char *name)
{
	for (uint16_t i = 0; i < e->n_elems; i++)
		if (strcmp(e->elems[i]->name, name) == 0)
			return e->elems[i];
	return NULL;
}

uint16_t snap_engine_n_elems(const struct snap_engine *e)
{
	return e->n_elems;
}

struct snap_elem *snap_engine_elem_at(const struct snap_engine *e, uint16_t i)
{
	return i < e->n_elems ? e->elems[i] : NULL;
}

int snap_engine_add_elem(struct snap_engine *e, const char *type, const char *name,
			 const struct snap_elem_args *args, char *errmsg, size_t errlen)
{
	char dummy[8];
	if (errmsg == NULL) {
		errmsg = dummy;
		errlen = sizeof(dummy);
	}
	errmsg[0] = '\0';
	const struct snap_elem_desc *d = snap_elem_find(type);
	if (d == NULL) {
		snprintf(errmsg, errlen, "unknown element type '%s'", type);
		return -ENOENT;
	}
	if (name == NULL || !name[0] || strlen(name) >= SNAP_NAME_MAX) {
		snprintf(errmsg, errlen, "element name must be 1..%d characters", SNAP_NAME_MAX - 1);
		return -EINVAL;
	}
	if (snap_engine_elem(e, name)) {
		snprintf(errmsg, errlen, "duplicate element name '%s'", name);
		return -EEXIST;
	}
	if (e->n_elems >= SNAP_ENGINE_ELEMS_MAX) {
		snprintf(errmsg, errlen, "too many elements (max %d)", SNAP_ENGINE_ELEMS_MAX);
		return -ENOSPC;
	}
	struct snap_elem *el = snap_engine_zmalloc(e, sizeof(*el));
	if (el == NULL) {
		snprintf(errmsg, errlen, "out of memory");
		return -ENOMEM;
	}
	el->desc = d;
	el->engine = e;
	el->index = e->n_elems;
	snprintf(el->name, sizeof(el->name), "%s", name);
	if (d->priv_size) {
		el->priv = snap_engine_zmalloc(e, d->priv_size);
		if (el->priv == NULL) {
			snap_numa_free(el);
			snprintf(errmsg, errlen, "out of memory");
			return -ENOMEM;
		}
	}
	struct snap_elem_args *empty = NULL;
	if (args == NULL) {
		empty = snap_elem_args_new();
		if (empty == NULL) {
			snap_numa_free(el->priv);
			snap_numa_free(el);
			return -ENOMEM;
		}
		args = empty;
	}
	snap_elem_args_bind((struct snap_elem_args *)(uintptr_t)args, e);
	int r = d->init ? d->init(el, args) : 0;
	if (r < 0) {
		const char *m = snap_elem_args_errmsg(args);
		snprintf(errmsg, errlen, "%s", m[0] ? m : strerror(-r));
		if (d->destroy)
			d->destroy(el);
		snap_numa_free(el->priv);
		snap_numa_free(el);
		snap_elem_args_free(empty);
		return r;
	}
	snap_elem_args_free(empty);
	e->elems[e->n_elems++] = el;
	if (d->poll)
		e->sources[e->n_sources++] = el;
	return 0;
}

static bool reaches(const struct snap_elem *from, const struct snap_elem *target, unsigned depth)
{
	if (from == target)
		return true;
	if (depth > SNAP_ENGINE_ELEMS_MAX)
		return true; /* cannot happen in an acyclic graph; treat as a cycle */
	for (uint16_t o = 0; o < from->desc->n_outputs; o++)
		if (from->out[o].next && reaches(from->out[o].next, target, depth + 1))
			return true;
	return false;
}

int snap_engine_link(struct snap_engine *e, const char *from, const char *out_name,
		     const char *to, char *errmsg, size_t errlen)
{
	char dummy[8];
	if (errmsg == NULL) {
		errmsg = dummy;
		errlen = sizeof(dummy);
	}
	struct snap_elem *a = snap_engine_elem(e, from), *b = snap_engine_elem(e, to);
	if (a == NULL || b == NULL) {
		snprintf(errmsg, errlen, "no element named '%s'", a == NULL ? from : to);
		return -ENOENT;
	}
	uint16_t out = 0;
	if (out_name && out_name[0]) {
		for (out = 0; out < a->desc->n_outputs; out++)
			if (strcmp(a->desc->outputs[out], out_name) == 0)
				break;
		if (out == a->desc->n_outputs) {
			int n = snprintf(errmsg, errlen, "element '%s' (%s) has no output '%s'; it has:",
					 from, a->desc->name, out_name);
			for (uint16_t i = 0; i < a->desc->n_outputs && n > 0 && (size_t)n < errlen; i++)
				n += snprintf(errmsg + n, errlen - n, " %s", a->desc->outputs[i]);
			return -EINVAL;
		}
	} else if (a->desc->n_outputs == 0) {
		snprintf(errmsg, errlen, "element '%s' (%s) has no outputs", from, a->desc->name);
		return -EINVAL;
	}
	if (a->out[out].next) {
		snprintf(errmsg, errlen, "output %s.%s is already linked to '%s'", from,
			 a->desc->outputs[out], a->out[out].next->name);
		return -EEXIST;
	}
	if (reaches(b, a, 0)) {
		snprintf(errmsg, errlen, "link %s -> %s would make a cycle", from, to);
		return -ELOOP;
	}
	a->out[out].next = b;
	return 0;
}

/* Bucket b counts us < 2^b: the bit length of us, capped at the last bucket (a clz instead
 * of a loop over the buckets: this runs on every busy poll). */
static unsigned qdelay_bucket(uint64_t ns)
{
	uint64_t us = ns / 1000;
	unsigned b = us ? 64u - (unsigned)__builtin_clzll(us) : 0;
	return b < SNAP_QDELAY_BUCKETS - 1 ? b : SNAP_QDELAY_BUCKETS - 1;
}

void snap_engine_note_backlog(struct snap_engine *e)
{
	e->more = true;
}

unsigned snap_engine_poll(struct snap_engine *e, uint64_t now_tsc)
{
	unsigned work = 0;
	snap_stat_add(&e->st.polls, 1);
	if (unlikely(snap_mbox_run(&e->mbox, e, now_tsc))) {
		snap_stat_add(&e->st.mbox_runs, 1);
		work++;
	}
	for (uint16_t i = 0; i < e->n_sources; i++) {
		struct snap_elem *el = e->sources[i];
		work += el->desc->poll(el, now_tsc);
	}
	uint64_t end = rte_rdtsc();
	if (work) {
		uint64_t hz = rte_get_tsc_hz();
		snap_stat_add(&e->st.busy_polls, 1);
		snap_stat_add(&e->st.work, work);
		snap_stat_add(&e->st.cpu_ns, (end - now_tsc) * 1000000000ull / hz);
		uint64_t since = e->backlog_since_tsc ? e->backlog_since_tsc : e->last_poll_tsc;
		if (since && now_tsc > since) {
			uint64_t ns = (now_tsc - since) * 1000000000ull / hz;
			snap_stat_set(&e->st.qdelay_last_ns, ns);
			snap_stat_add(&e->st.qdelay_hist[qdelay_bucket(ns)], 1);
		}
	}
	if (unlikely(e->more)) {
		if (e->backlog_since_tsc == 0)
			e->backlog_since_tsc = now_tsc;
		e->more = false;
	} else {
		e->backlog_since_tsc = 0;
	}
	e->last_poll_tsc = end;
	return work;
}

uint64_t snap_engine_next_deadline(const struct snap_engine *e)
{
	uint64_t d = UINT64_MAX;
	for (uint16_t i = 0; i < e->n_sources; i++) {
		const struct snap_elem *el = e->sources[i];
		if (el->desc->next_deadline) {
			uint64_t t = el->desc->next_deadline(el);
			if (t < d)
				d = t;
		}
	}
	return d;
}

int snap_engine_arm_wakeup(struct snap_engine *e, bool arm)
{
	int r = 0;
	for (uint16_t i = 0; i < e->n_sources; i++) {
		struct snap_elem *el = e->sources[i];
		int a = el->desc->arm ? el->desc->arm(el, arm) : 0;
		if (a < 0)
			r = -ENOTSUP;
		else if (a == SNAP_ARM_GUARDED && r == 0)
			r = SNAP_ARM_GUARDED;
	}
	/* Restart the queueing-delay clock at the wake-up: the sleep itself is not queueing
	 * delay, but the time this engine then waits while its thread polls other engines
	 * is (the signal the compacting controller needs). */
	if (!arm)
		e->last_poll_tsc = rte_rdtsc();
	return r;
}

int snap_engine_add_wake_fd(struct snap_engine *e, int fd)
{
	if (e->n_wake_fds >= SNAP_ENGINE_WAKE_FDS_MAX)
		return -ENOSPC;
	e->wake_fds[e->n_wake_fds++] = fd;
	atomic_fetch_add_explicit(&e->wake_gen, 1, memory_order_release);
	return 0;
}

int snap_engine_del_wake_fd(struct snap_engine *e, int fd)
{
	for (uint16_t i = 0; i < e->n_wake_fds; i++) {
		if (e->wake_fds[i] == fd) {
			e->wake_fds[i] = e->wake_fds[--e->n_wake_fds];
			atomic_fetch_add_explicit(&e->wake_gen, 1, memory_order_release);
			return 0;
		}
	}
	return -ENOENT;
}

static const struct snap_executor *executor;

void snap_engine_set_executor(const struct snap_executor *x)
{
	executor = x;
}

int snap_engine_call(struct snap_engine *e, snap_mbox_fn fn, void *arg, unsigned timeout_ms)
{
	if (snap_engine_state(e) == SNAP_ENGINE_PARKED) {
		/* No engine thread owns it: the control thread does. Count it as a mailbox run
		 * so counters do not depend on where the engine happened to be. */
		int r = fn(e, arg);
		snap_stat_add(&e->st.mbox_runs, 1);
		return r;
	}
	void (*hook)(struct snap_engine *, bool) = executor ? executor->call : NULL;
	if (hook)
		hook(e, true);
	int r = snap_mbox_call(&e->mbox, fn, arg, timeout_ms);
	if (hook)
		hook(e, false);
	return r;
}

/* Adapts an element's (name, value) callback to the engine's (elem, name, value) one. */
struct stat_adapter {
	snap_engine_stat_fn fn;
	void *ctx;
	const char *elem;
};

static void stat_adapter_fn(void *ctx, const char *name, uint64_t value)
{
	struct stat_adapter *ad = ctx;
	ad->fn(ad->ctx, ad->elem, name, value);
}

void snap_engine_report(const struct snap_engine *e, snap_engine_stat_fn fn, void *ctx)
{
	struct snap_engine_stats st;
	snap_engine_stats_read(e, &st);
	struct {
		const char *n;
		uint64_t v;
	} es[] = {
		{"polls", st.polls},          {"busy_polls", st.busy_polls},
		{"work", st.work},            {"mbox_runs", st.mbox_runs},
		{"cpu_ns", st.cpu_ns},
	}, es2[] = {
		{"qdelay_last_ns", st.qdelay_last_ns},
		/* Futex wake-ups the engine gave sleeping mailbox posters (this process only). */
		{"mbox_wakes", e->mbox.wakes},
	};
	for (unsigned i = 0; i < RTE_DIM(es); i++)
		fn(ctx, "", es[i].n, es[i].v);
	/* The executor's counters (wakeups, moves) keep their place in the list. */
	if (executor && executor->report)
		executor->report(e, fn, ctx);
	for (unsigned i = 0; i < RTE_DIM(es2); i++)
		fn(ctx, "", es2[i].n, es2[i].v);
	char name[32];
	for (unsigned b = 0; b < SNAP_QDELAY_BUCKETS; b++) {
		if (!st.qdelay_hist[b])
			continue;
		snprintf(name, sizeof(name), "qdelay_lt_%uus", 1u << b);
		fn(ctx, "", name, st.qdelay_hist[b]);
	}
	for (uint16_t i = 0; i < e->n_elems; i++) {
		const struct snap_elem *el = e->elems[i];
		fn(ctx, el->name, "in_pkts", el->cnt.in_pkts);
		fn(ctx, el->name, "in_bytes", el->cnt.in_bytes);
		for (uint16_t o = 0; o < el->desc->n_outputs; o++) {
			if (!el->cnt.out_pkts[o])
				continue;
			snprintf(name, sizeof(name), "to_%s", el->desc->outputs[o]);
			fn(ctx, el->name, name, el->cnt.out_pkts[o]);
		}
		for (unsigned r = 0; r < SNAP_DROP_MAX; r++) {
			if (!el->cnt.drops[r])
				continue;
			snprintf(name, sizeof(name), "drop_%s", snap_drop_name(r));
			fn(ctx, el->name, name, el->cnt.drops[r]);
		}
		if (el->desc->stats) {
			struct stat_adapter ad = {fn, ctx, el->name};
			el->desc->stats(el, stat_adapter_fn, &ad);
		}
	}
}

/* Saved-state container (a contract between daemon versions: SNAP_ENGINE_SAVE_V*; each
 * element versions its own blob):
 *   u64 magic, u32 version, u32 records, then per record:
 *   version 1: char elem_name[32], char elem_type[32], u32 len, u8 blob[len];
 *   version 2: the same with u32 elem_version before len. */
struct save_rec_hdr {
	char name[SNAP_NAME_MAX];
	char type[32];
	uint32_t len;
} __attribute__((packed));
struct save_rec_hdr2 {
	char name[SNAP_NAME_MAX];
	char type[32];
	uint32_t version;
	uint32_t len;
} __attribute__((packed));

int snap_engine_save_v(const struct snap_engine *e, struct snap_sbuf *out, uint32_t container,
		       snap_engine_version_fn fn, void *ctx)
{
	uint64_t magic = SAVE_MAGIC;
	uint32_t n = 0;
	if (container != SNAP_ENGINE_SAVE_V1 && container != SNAP_ENGINE_SAVE_V2)
		return -EPROTONOSUPPORT;
	for (uint16_t i = 0; i < e->n_elems; i++)
		n += e->elems[i]->desc->save != NULL;
	snap_sbuf_put(out, &magic, sizeof(magic));
	snap_sbuf_put(out, &container, sizeof(container));
	snap_sbuf_put(out, &n, sizeof(n));
	for (uint16_t i = 0; i < e->n_elems; i++) {
		const struct snap_elem *el = e->elems[i];
		const struct snap_elem_desc *d = el->desc;
		if (!d->save)
			continue;
		uint32_t wmin, rmin, cur;
		snap_elem_state_range(d, &wmin, &rmin, &cur);
		uint32_t v = container == SNAP_ENGINE_SAVE_V1 ? 1 : fn ? fn(d->name, ctx) : cur;
		if (v < wmin || v > cur)
			return -EPROTONOSUPPORT;
		struct snap_sbuf blob;
		snap_sbuf_init(&blob);
		int r = d->save(el, &blob, v);
		if (r == 0 && blob.err)
			r = blob.err;
		if (r == 0 && blob.len > UINT32_MAX)
			r = -EFBIG;
		if (r) {
			snap_sbuf_fini(&blob);
			return r;
		}
		struct save_rec_hdr2 h = {.version = v, .len = (uint32_t)blob.len};
		snprintf(h.name, sizeof(h.name), "%s", el->name);
		snprintf(h.type, sizeof(h.type), "%s", d->name);
		if (container == SNAP_ENGINE_SAVE_V1) {
			struct save_rec_hdr h1 = {.len = h.len};
			memcpy(h1.name, h.name, sizeof(h1.name));
			memcpy(h1.type, h.type, sizeof(h1.type));
			snap_sbuf_put(out, &h1, sizeof(h1));
		} else {
			snap_sbuf_put(out, &h, sizeof(h));
		}
		snap_sbuf_put(out, blob.data, blob.len);
		snap_sbuf_fini(&blob);
	}
	return out->err;
}

int snap_engine_save(const struct snap_engine *e, struct snap_sbuf *out)
{
	return snap_engine_save_v(e, out, SNAP_ENGINE_SAVE_V2, NULL, NULL);
}

int snap_engine_restore(struct snap_engine *e, const void *data, size_t len)
{
	const uint8_t *p = data, *end = p + len;
	uint64_t magic;
	uint32_t container, n;
	if (len < sizeof(magic) + 2 * sizeof(uint32_t))
		return -EPROTO;
	memcpy(&magic, p, sizeof(magic));
	memcpy(&container, p + 8, sizeof(container));
	memcpy(&n, p + 12, sizeof(n));
	p += 16;
	if (magic != SAVE_MAGIC ||
	    (container != SNAP_ENGINE_SAVE_V1 && container != SNAP_ENGINE_SAVE_V2))
		return -EPROTO;
	for (uint32_t i = 0; i < n; i++) {
		struct save_rec_hdr2 h = {.version = 1};
		if (container == SNAP_ENGINE_SAVE_V1) {
			struct save_rec_hdr h1;
			if ((size_t)(end - p) < sizeof(h1))
				return -EPROTO;
			memcpy(&h1, p, sizeof(h1));
			p += sizeof(h1);
			memcpy(h.name, h1.name, sizeof(h.name));
			memcpy(h.type, h1.type, sizeof(h.type));
			h.len = h1.len;
		} else {
			if ((size_t)(end - p) < sizeof(h))
				return -EPROTO;
			memcpy(&h, p, sizeof(h));
			p += sizeof(h);
		}
		if ((size_t)(end - p) < h.len)
			return -EPROTO;
		h.name[sizeof(h.name) - 1] = '\0';
		h.type[sizeof(h.type) - 1] = '\0';
		struct snap_elem *el = snap_engine_elem(e, h.name);
		if (el == NULL || strcmp(el->desc->name, h.type) != 0 || !el->desc->restore)
			return -ENOENT;
		uint32_t wmin, rmin, cur;
		snap_elem_state_range(el->desc, &wmin, &rmin, &cur);
		if (h.version < rmin || h.version > cur)
			return -EPROTO;
		int r = el->desc->restore(el, p, h.len, h.version);
		if (r)
			return r;
		p += h.len;
	}
	return p == end ? 0 : -EPROTO;
}
