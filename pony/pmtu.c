/* Path MTU probing (see pmtu.h). */
#include "pony/pmtu.h"

#include <string.h>

#include <rte_common.h>

/* The largest segment: a PONY_MTU_MAX MTU's (ports take no more: core/config.h). */
const uint8_t pony_pmtu_zeros[PONY_MTU_MAX];

static uint64_t secs_tsc(const struct pony_tp *tp, uint64_t s)
{
	return s * tp->cfg.tsc_hz;
}

void pony_pmtu_reset(struct pony_tp *tp, struct pony_flow *f)
{
	tp->pmtu[f - tp->flows] = (struct pony_pmtu){0};
}

void pony_pmtu_start(struct pony_tp *tp, struct pony_flow *f)
{
	struct pony_pmtu *p = &tp->pmtu[f - tp->flows];
	*p = (struct pony_pmtu){0};
	/* tp->seg_legacy: a 1,500-byte MTU's segment, or ours when our MTU is smaller (less
	 * IPv6's extra header for a flow to an IPv6 peer, as its seg_max). */
	uint32_t safe = tp->seg_legacy - pony_flow_ip_extra(tp, f);
	if (tp->cfg.pmtu_trust || f->seg_max <= safe)
		return;
	p->seg = safe;
	p->state = PONY_PMTU_DUE;
	p->next_tsc = tp->now;
}

void pony_pmtu_restart_all(struct pony_tp *tp)
{
	for (uint32_t i = 0; i < tp->cfg.max_flows; i++) {
		struct pony_flow *f = &tp->flows[i];
		if (f->state != PONY_F_ESTABLISHED) {
			pony_pmtu_reset(tp, f);
			continue;
		}
		/* A flow to an IPv6 peer saved by a release that sized its segment for IPv4's
		 * headers: new segments fit the MTU from now on. */
		uint32_t cap = tp->seg_max - pony_flow_ip_extra(tp, f);
		if (f->seg_max > cap)
			f->seg_max = cap;
		pony_pmtu_start(tp, f);
	}
}

bool pony_pmtu_next(struct pony_tp *tp, struct pony_flow *f, struct pony_txdesc *d,
		    uint32_t seq)
{
	struct pony_pmtu *p = &tp->pmtu[f - tp->flows];
	if (p->state != PONY_PMTU_DUE || tp->now < p->next_tsc)
		return false;
	memset(d, 0, sizeof(*d));
	d->type = PONY_T_NOP;
	d->stream = PONY_NONE;
	p->state = PONY_PMTU_INFLIGHT;
	p->probe_seq = seq;
	tp->pmtu_st.probes_tx++;
	return true;
}

uint16_t pony_pmtu_pad(const struct pony_tp *tp, const struct pony_flow *f, uint32_t seq,
		       const struct pony_txdesc *d)
{
	if (d->retx != 0 || !pony_pmtu_is_probe(tp, f, seq))
		return 0;
	return (uint16_t)RTE_MIN(f->seg_max, (uint32_t)sizeof(pony_pmtu_zeros));
}

void pony_pmtu_delivered(struct pony_tp *tp, struct pony_flow *f, uint32_t seq,
			 const struct pony_txdesc *d)
{
	if (!pony_pmtu_is_probe(tp, f, seq))
		return;
	struct pony_pmtu *p = &tp->pmtu[f - tp->flows];
	if (d->retx == 0) {
		/* Only the padded transmission was ever sent: it got through. */
		p->seg = f->seg_max;
		p->state = PONY_PMTU_OFF;
		p->tries = 0;
		tp->pmtu_st.raised++;
		return;
	}
	/* The small retransmission (or the late original: a retransmission says we cannot
	 * tell) arrived: the probe failed. */
	tp->pmtu_st.failed++;
	p->state = PONY_PMTU_DUE;
	if (++p->tries < PONY_PMTU_TRIES) {
		p->next_tsc = tp->now;
	} else {
		p->tries = 0;
		p->next_tsc = tp->now + secs_tsc(tp, PONY_PMTU_RETRY_S);
	}
}

void pony_tp_pmtu_report(const struct pony_tp *tp,
			 void (*fn)(void *ctx, const char *name, uint64_t value), void *ctx)
{
	fn(ctx, "pmtu_probes_tx", tp->pmtu_st.probes_tx);
	fn(ctx, "pmtu_raised", tp->pmtu_st.raised);
	fn(ctx, "pmtu_failed", tp->pmtu_st.failed);
}
