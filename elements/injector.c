/* injector: seeded, reproducible impairment for tests and demos: loss, duplication,
 * corruption, reordering and delay with jitter, each counted. A source element: its poll()
 * releases delayed and held packets when they fall due. */
#include <errno.h>

#include <rte_cycles.h>
#include <rte_malloc.h>

#include "elements/net.h"
#include "snap/engine.h"

/*
 * Args (probabilities in [0, 1] apply per packet, independently):
 *   loss, dup, corrupt, reorder     probabilities (default 0)
 *   reorder_k = K                   a reordered packet is held until K later packets passed
 *                                   (default 1), or reorder_timeout_us elapsed (default 1000)
 *   delay_us, jitter_us             every packet waits delay + uniform[0, jitter] (default 0)
 *   queue = N                       most packets waiting for their delay (default 1024);
 *                                   beyond it they are dropped as injector_queue_full
 *   seed = S                        RNG seed (default 1): same seed + same input = same output
 * Pipeline per packet: loss -> duplication (a deep copy, rte_pktmbuf_copy) -> corruption of
 * each copy -> reorder hold -> delay queue -> out.
 */
enum { OUT_OUT, N_OUT };
static const char *const outputs[N_OUT] = {"out"};

#define INJ_HOLD_MAX 32    /* packets held for reordering at once */
#define INJ_POLL_BUDGET 256 /* packets released per poll, to keep a poll bounded */

struct inj_slot {
	uint64_t due;  /* TSC */
	uint64_t seq;  /* ties broken by arrival: fixed delay keeps order */
	struct rte_mbuf *m;
};

struct inj_hold {
	struct rte_mbuf *m;
	uint32_t left;    /* packets still to pass before release */
	uint64_t since;   /* TSC when held */
};

struct injector {
	double loss, dup, corrupt, reorder;
	uint32_t reorder_k;
	uint64_t reorder_timeout;    /* cycles */
	uint64_t delay, jitter;      /* cycles */
	uint64_t rng;
	uint64_t seq;
	uint32_t qlimit, qn;
	struct inj_slot *heap;       /* min-heap on (due, seq) */
	uint16_t n_held;
	struct inj_hold held[INJ_HOLD_MAX];
	uint16_t n_stage;
	struct rte_mbuf *stage[SNAP_BURST_MAX];

	uint64_t lost, duplicated, dup_failed, corrupted, corrupt_failed, reordered,
		reorder_timeouts, delayed;
};

/* splitmix64: tiny, fast, good enough for impairment decisions, and trivially seeded. */
static inline uint64_t inj_rand(struct injector *s)
{
	uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline bool inj_chance(struct injector *s, double p)
{
	return p > 0 && (double)(inj_rand(s) >> 11) * 0x1.0p-53 < p;
}

static int injector_init(struct snap_elem *el, const struct snap_elem_args *a)
{
	struct injector *s = snap_elem_priv(el);
	uint64_t k, tmo_us, delay_us, jitter_us, q, seed;
	int r;
	if ((r = snap_elem_arg_double(a, "loss", 0, 0, 1, &s->loss)) ||
	    (r = snap_elem_arg_double(a, "dup", 0, 0, 1, &s->dup)) ||
	    (r = snap_elem_arg_double(a, "corrupt", 0, 0, 1, &s->corrupt)) ||
	    (r = snap_elem_arg_double(a, "reorder", 0, 0, 1, &s->reorder)) ||
	    (r = snap_elem_arg_u64(a, "reorder_k", 1, 1, 1u << 20, &k)) ||
	    (r = snap_elem_arg_u64(a, "reorder_timeout_us", 1000, 1, 10000000, &tmo_us)) ||
	    (r = snap_elem_arg_u64(a, "delay_us", 0, 0, 10000000, &delay_us)) ||
	    (r = snap_elem_arg_u64(a, "jitter_us", 0, 0, 10000000, &jitter_us)) ||
	    (r = snap_elem_arg_u64(a, "queue", 1024, 1, 1u << 20, &q)) ||
	    (r = snap_elem_arg_u64(a, "seed", 1, 0, UINT64_MAX, &seed)))
		return r;
	uint64_t per_us = rte_get_tsc_hz() / 1000000;
	s->reorder_k = (uint32_t)k;
	s->reorder_timeout = tmo_us * per_us;
	s->delay = delay_us * per_us;
	s->jitter = jitter_us * per_us;
	s->rng = seed;
	s->qlimit = (uint32_t)q;
	if (s->delay || s->jitter) {
		s->heap = snap_engine_zmalloc(el->engine, sizeof(*s->heap) * s->qlimit);
		if (s->heap == NULL)
			return snap_elem_args_error(a, "queue = %u: out of memory", s->qlimit);
	}
	return 0;
}

static inline bool slot_before(const struct inj_slot *a, const struct inj_slot *b)
{
	return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void heap_push(struct injector *s, struct inj_slot v)
{
	uint32_t i = s->qn++;
	while (i > 0) {
		uint32_t p = (i - 1) / 2;
		if (!slot_before(&v, &s->heap[p]))
			break;
		s->heap[i] = s->heap[p];
		i = p;
	}
	s->heap[i] = v;
}

static struct rte_mbuf *heap_pop(struct injector *s)
{
	struct rte_mbuf *m = s->heap[0].m;
	struct inj_slot last = s->heap[--s->qn];
	uint32_t i = 0;
	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= s->qn)
			break;
		if (c + 1 < s->qn && slot_before(&s->heap[c + 1], &s->heap[c]))
			c++;
		if (!slot_before(&s->heap[c], &last))
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (s->qn)
		s->heap[i] = last;
	return m;
}

static void inj_flush(struct snap_elem *el, struct injector *s)
{
	uint16_t n = s->n_stage;
	s->n_stage = 0;
	snap_elem_emit(el, OUT_OUT, s->stage, n);
}

static void inj_out(struct snap_elem *el, struct injector *s, struct rte_mbuf *m)
{
	s->stage[s->n_stage++] = m;
	if (s->n_stage == SNAP_BURST_MAX)
		inj_flush(el, s);
}

static void inj_delay(struct snap_elem *el, struct injector *s, struct rte_mbuf *m, uint64_t now)
{
	if (s->heap == NULL) {
		inj_out(el, s, m);
		return;
	}
	if (unlikely(s->qn == s->qlimit)) {
		snap_elem_drop(el, m, SNAP_DROP_INJECT_QUEUE_FULL);
		return;
	}
	uint64_t j = s->jitter ? inj_rand(s) % (s->jitter + 1) : 0;
	heap_push(s, (struct inj_slot){now + s->delay + j, s->seq++, m});
	s->delayed++;
}

static void inj_release_hold(struct injector *s, uint16_t i)
{
	s->held[i] = s->held[--s->n_held];
}

static void inj_reorder(struct snap_elem *el, struct injector *s, struct rte_mbuf *m, uint64_t now)
{
	if (inj_chance(s, s->reorder) && s->n_held < INJ_HOLD_MAX) {
		s->held[s->n_held++] = (struct inj_hold){m, s->reorder_k, now};
		s->reordered++;
		return;
	}
	inj_delay(el, s, m, now);
	/* m passed: it counts toward every held packet's release, which follows m. */
	for (uint16_t i = 0; i < s->n_held;) {
		if (--s->held[i].left == 0) {
			struct rte_mbuf *h = s->held[i].m;
			inj_release_hold(s, i);
			inj_delay(el, s, h, now);
		} else {
			i++;
		}
	}
}

/* Flip one byte past the Ethernet header (so the IP/UDP/ICMP checksums, not the MAC filter,
 * are what notices). Writes only into a segment this packet owns alone: a segment shared
 * with a clone or indirect mbuf would corrupt the other packet too, so such a packet is
 * first replaced by a private copy. Returns the (possibly new) packet. */
static struct rte_mbuf *inj_corrupt(struct injector *s, struct rte_mbuf *m)
{
	uint32_t len = rte_pktmbuf_pkt_len(m);
	if (len <= SNAP_NET_L3_OFF)
		return m;
	uint32_t off = SNAP_NET_L3_OFF + (uint32_t)(inj_rand(s) % (len - SNAP_NET_L3_OFF));
	uint8_t flip = (uint8_t)(1 + inj_rand(s) % 255);
	struct rte_mbuf *seg = m;
	uint32_t o = off;
	while (o >= seg->data_len) {
		o -= seg->data_len;
		seg = seg->next;
	}
	if (!RTE_MBUF_DIRECT(seg) || rte_mbuf_refcnt_read(seg) != 1 ||
	    rte_mbuf_refcnt_read(m) != 1) {
		struct rte_mbuf *c = rte_pktmbuf_copy(m, m->pool, 0, UINT32_MAX);
		if (c == NULL) {
			s->corrupt_failed++;
			return m;
		}
		rte_pktmbuf_free(m);
		m = c;
		seg = m;
		o = off;
		while (o >= seg->data_len) {
			o -= seg->data_len;
			seg = seg->next;
		}
	}
	*rte_pktmbuf_mtod_offset(seg, uint8_t *, o) ^= flip;
	s->corrupted++;
	return m;
}

static void injector_process(struct snap_elem *el, struct rte_mbuf **pkts, uint16_t n)
{
	struct injector *s = snap_elem_priv(el);
	uint64_t now = (s->heap || s->reorder > 0) ? rte_rdtsc() : 0;
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m[2] = {pkts[i], NULL};
		if (inj_chance(s, s->loss)) {
			s->lost++;
			snap_elem_drop(el, m[0], SNAP_DROP_INJECT_LOSS);
			continue;
		}
		unsigned copies = 1;
		if (inj_chance(s, s->dup)) {
			m[1] = rte_pktmbuf_copy(m[0], m[0]->pool, 0, UINT32_MAX);
			if (m[1] != NULL) {
				s->duplicated++;
				copies = 2;
			} else {
				s->dup_failed++;
			}
		}
		for (unsigned c = 0; c < copies; c++) {
			if (inj_chance(s, s->corrupt))
				m[c] = inj_corrupt(s, m[c]);
			inj_reorder(el, s, m[c], now);
		}
	}
	inj_flush(el, s);
}

static unsigned injector_poll(struct snap_elem *el, uint64_t now)
{
	struct injector *s = snap_elem_priv(el);
	unsigned done = 0;
	/* Held packets whose followers never came (traffic stopped) go after a timeout. */
	for (uint16_t i = 0; i < s->n_held;) {
		/* since may be later than now (held by a process() run after the engine
		 * read its clock): compare, do not subtract. */
		if (now >= s->held[i].since + s->reorder_timeout) {
			struct rte_mbuf *h = s->held[i].m;
			inj_release_hold(s, i);
			s->reorder_timeouts++;
			inj_delay(el, s, h, now);
			done++;
		} else {
			i++;
		}
	}
	while (s->qn && s->heap[0].due <= now && done < INJ_POLL_BUDGET) {
		inj_out(el, s, heap_pop(s));
		done++;
	}
	inj_flush(el, s);
	return done;
}

static uint64_t injector_next_deadline(const struct snap_elem *el)
{
	const struct injector *s = snap_elem_priv(el);
	uint64_t d = s->qn ? s->heap[0].due : UINT64_MAX;
	for (uint16_t i = 0; i < s->n_held; i++)
		if (s->held[i].since + s->reorder_timeout < d)
			d = s->held[i].since + s->reorder_timeout;
	return d;
}

static void injector_stats(const struct snap_elem *el, snap_stat_fn fn, void *ctx)
{
	const struct injector *s = snap_elem_priv(el);
	fn(ctx, "lost", s->lost);
	fn(ctx, "duplicated", s->duplicated);
	fn(ctx, "dup_failed", s->dup_failed);
	fn(ctx, "corrupted", s->corrupted);
	fn(ctx, "corrupt_failed", s->corrupt_failed);
	fn(ctx, "reordered", s->reordered);
	fn(ctx, "reorder_timeouts", s->reorder_timeouts);
	fn(ctx, "delayed", s->delayed);
	fn(ctx, "queued", s->qn);
	fn(ctx, "held", s->n_held);
}

static void injector_destroy(struct snap_elem *el)
{
	struct injector *s = snap_elem_priv(el);
	if (s == NULL)
		return;
	for (uint16_t i = 0; i < s->n_held; i++)
		rte_pktmbuf_free(s->held[i].m);
	s->n_held = 0;
	for (uint32_t i = 0; i < s->qn; i++)
		rte_pktmbuf_free(s->heap[i].m);
	s->qn = 0;
	rte_free(s->heap);
	s->heap = NULL;
}

static const struct snap_elem_desc injector_desc = {
	.name = "injector",
	.help = "seeded loss/dup/corrupt/reorder/delay impairment (args: loss, dup, corrupt, "
		"reorder, reorder_k, delay_us, jitter_us, queue, seed)",
	.priv_size = sizeof(struct injector),
	.n_outputs = N_OUT,
	.outputs = outputs,
	.init = injector_init,
	.process = injector_process,
	.poll = injector_poll,
	.next_deadline = injector_next_deadline,
	.stats = injector_stats,
	.destroy = injector_destroy,
};
SNAP_ELEM_REGISTER(injector_desc)
