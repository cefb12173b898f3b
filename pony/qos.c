/* RPC priority classes: weighted round robin and Aequitas-style admission (see qos.h). */
#include <errno.h>
#include <string.h>

#include "pony/qos.h"

const char *pony_qos_name(unsigned cls)
{
	static const char *const names[PONY_QOS_N] = {"critical", "normal", "scavenger"};
	return cls < PONY_QOS_N ? names[cls] : "?";
}

unsigned pony_wrr_pick(struct pony_wrr *w, const uint32_t *weight, unsigned ready)
{
	unsigned c = w->cur < PONY_QOS_N ? w->cur : 0;
	/* At most one full turn of the classes: ready is non-zero, so one of them has work. */
	for (unsigned i = 0; i <= PONY_QOS_N; i++) {
		if ((ready & (1u << c)) && w->credit[c] > 0)
			break;
		w->credit[c] = 0; /* idle or spent: the turn passes, nothing is banked */
		c = (c + 1) % PONY_QOS_N;
		w->credit[c] = weight[c] ? weight[c] : 1;
	}
	w->cur = (uint8_t)c;
	w->credit[c]--;
	return c;
}

int pony_qos_parse_weights(const char *s, uint32_t w[PONY_QOS_N])
{
	for (unsigned c = 0; c < PONY_QOS_N; c++) {
		uint32_t v = 0;
		unsigned digits = 0;
		for (; *s >= '0' && *s <= '9' && digits < 5; s++, digits++)
			v = v * 10 + (uint32_t)(*s - '0');
		if (digits == 0 || v == 0 || v > 1024 || *s != (c + 1 < PONY_QOS_N ? ':' : '\0'))
			return -EINVAL;
		w[c] = v;
		s++;
	}
	return 0;
}

void pony_qos_params_default(struct pony_qos_params *p)
{
	*p = (struct pony_qos_params){
		.weight = {8, 4, 1}, .miss_share = 0.01, .step = 0.05, .p_min = 0.01};
}

int pony_qos_params_check(const struct pony_qos_params *p)
{
	for (unsigned c = 0; c < PONY_QOS_N; c++)
		if (p->weight[c] == 0 || p->weight[c] > 1024)
			return -EINVAL;
	if (!(p->step > 0 && p->step <= 1) || !(p->miss_share > 0 && p->miss_share <= 0.5) ||
	    !(p->p_min > 0 && p->p_min <= 1) || p->slo_ns[PONY_QOS_SCAVENGER] != 0)
		return -EINVAL;
	return 0;
}

void pony_qos_init(struct pony_qos *q, const struct pony_qos_params *p)
{
	memset(q, 0, sizeof(*q));
	q->prm = *p;
	q->p_up = p->step * p->miss_share / (1 - p->miss_share); /* not per RPC */
	for (unsigned i = 0; i < PONY_QOS_ENT_MAX; i++)
		q->ent[i].gen = 1;
}

static unsigned ent_hash(unsigned cls, uint32_t dest)
{
	uint32_t h = (dest ^ (cls * 0x9e3779b9u)) * 0x85ebca6bu;
	return (h ^ (h >> 15)) % PONY_QOS_ENT_MAX;
}

static struct pony_qos_ent *ent_find(const struct pony_qos *q, unsigned cls, uint32_t dest)
{
	unsigned h = ent_hash(cls, dest);
	for (unsigned i = 0; i < PONY_QOS_PROBE; i++) {
		const struct pony_qos_ent *e = &q->ent[(h + i) % PONY_QOS_ENT_MAX];
		if (e->used && e->cls == cls && e->dest == dest)
			return (struct pony_qos_ent *)e;
	}
	return NULL;
}

/* The entry of (cls, dest), taking a free or the oldest slot of its probe window. */
static struct pony_qos_ent *ent_get(struct pony_qos *q, unsigned cls, uint32_t dest)
{
	struct pony_qos_ent *e = ent_find(q, cls, dest);
	if (e != NULL)
		return e;
	unsigned h = ent_hash(cls, dest);
	struct pony_qos_ent *victim = NULL;
	for (unsigned i = 0; i < PONY_QOS_PROBE; i++) {
		e = &q->ent[(h + i) % PONY_QOS_ENT_MAX];
		if (!e->used) {
			victim = e;
			break;
		}
		if (victim == NULL || e->last_ns < victim->last_ns)
			victim = e;
	}
	if (victim->used) {
		q->evictions++;
		victim->gen++;
	}
	uint32_t gen = victim->gen;
	*victim = (struct pony_qos_ent){.dest = dest, .cls = (uint8_t)cls, .used = true,
					.gen = gen ? gen : 1, .p = 1.0};
	return victim;
}

unsigned pony_qos_admit(struct pony_qos *q, unsigned cls, uint32_t dest, uint64_t now_ns,
			uint32_t rnd, pony_qos_ticket *t)
{
	*t = 0;
	if (cls >= PONY_QOS_N)
		cls = PONY_QOS_NORMAL;
	if (q->prm.slo_ns[cls] == 0)
		return cls;
	struct pony_qos_ent *e = ent_get(q, cls, dest);
	e->last_ns = now_ns;
	/* rnd / 2^32 is uniform in [0, 1): admitted with probability p. */
	if ((double)rnd < e->p * 4294967296.0) {
		*t = (e->gen & 0xffffffu) << 8 | (uint32_t)(e - q->ent);
		return cls;
	}
	e->downgraded++;
	q->cls[cls].downgraded++;
	return cls + 1;
}

/* Log-linear: values below SUB are their own bucket; above, SUB buckets per power of two
 * (the bits below the top one that select the bucket: SUB = 2^3). */
#define SUB_BITS 3
_Static_assert(PONY_QOS_HIST_SUB == 1 << SUB_BITS, "histogram sub-buckets");

static unsigned hist_index(uint64_t v)
{
	if (v < PONY_QOS_HIST_SUB)
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned i = msb * PONY_QOS_HIST_SUB +
		     (unsigned)((v >> (msb - SUB_BITS)) & (PONY_QOS_HIST_SUB - 1));
	return i < PONY_QOS_HIST ? i : PONY_QOS_HIST - 1;
}

static uint64_t hist_upper(unsigned i)
{
	if (i < PONY_QOS_HIST_SUB * SUB_BITS) /* values below SUB (SUB..3 * SUB - 1: unused) */
		return i;
	unsigned msb = i / PONY_QOS_HIST_SUB, sub = i % PONY_QOS_HIST_SUB;
	return ((uint64_t)(PONY_QOS_HIST_SUB + sub + 1) << (msb - SUB_BITS)) - 1;
}

uint64_t pony_qos_hist_pct(const struct pony_qos_hist *h, double pc)
{
	if (h->n == 0)
		return 0;
	uint64_t want = (uint64_t)((double)h->n * pc / 100.0);
	if (want >= h->n)
		want = h->n - 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < PONY_QOS_HIST; i++) {
		seen += h->b[i];
		if (seen > want)
			return hist_upper(i);
	}
	return hist_upper(PONY_QOS_HIST - 1);
}

void pony_qos_complete(struct pony_qos *q, pony_qos_ticket t, unsigned ran, uint64_t lat_ns)
{
	if (ran >= PONY_QOS_N)
		return;
	q->hist[ran].n++;
	q->hist[ran].b[hist_index(lat_ns)]++;
	q->cls[ran].rpcs++;
	bool missed = q->prm.slo_ns[ran] && lat_ns > q->prm.slo_ns[ran];
	q->cls[ran].slo_missed += missed;
	if (t == 0)
		return;
	struct pony_qos_ent *e = &q->ent[t & 0xff];
	if (!e->used || (e->gen & 0xffffffu) != t >> 8 || e->cls != ran)
		return; /* the entry was reused for another pair meanwhile */
	if (missed) {
		e->missed++;
		q->cls[ran].slo_missed_floor += e->p <= q->prm.p_min;
		e->p -= q->prm.step;
		if (e->p < q->prm.p_min)
			e->p = q->prm.p_min;
	} else {
		e->met++;
		e->p += q->p_up;
		if (e->p > 1.0)
			e->p = 1.0;
	}
}

double pony_qos_admit_p(const struct pony_qos *q, unsigned cls, uint32_t dest)
{
	const struct pony_qos_ent *e = cls < PONY_QOS_N ? ent_find(q, cls, dest) : NULL;
	return e ? e->p : 1.0;
}

void pony_qos_stats(const struct pony_qos *q, struct pony_qos_class_stats out[PONY_QOS_N])
{
	for (unsigned c = 0; c < PONY_QOS_N; c++) {
		out[c] = q->cls[c];
		out[c].p50_ns = pony_qos_hist_pct(&q->hist[c], 50);
		out[c].p99_ns = pony_qos_hist_pct(&q->hist[c], 99);
		out[c].p999_ns = pony_qos_hist_pct(&q->hist[c], 99.9);
	}
}
