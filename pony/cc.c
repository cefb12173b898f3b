/* Swift-style delay-based congestion control (see cc.h). Pure arithmetic on per-flow state,
 * no clock reads, so tests drive it with synthetic delays. */
#include <math.h>

#include "pony/cc.h"

#define TIMEOUTS_TO_MIN 3 /* consecutive RTOs before the window falls to cwnd_min */

static double clampd(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

void pony_cc_init(struct pony_cc *cc, const struct pony_cc_params *p, double cwnd_init)
{
	cc->cwnd = clampd(cwnd_init, p->cwnd_min, p->cwnd_max);
	cc->last_decrease_tsc = 0;
	cc->last_delay_tsc = 0;
	cc->min_delay_tsc = UINT64_MAX;
	cc->decreases = 0;
	cc->samples = 0;
	cc->cwnd_undo = 0;
	cc->undos = 0;
}

uint64_t pony_cc_target(const struct pony_cc *cc, const struct pony_cc_params *p)
{
	if (p->base_max_tsc == 0 || cc->min_delay_tsc == UINT64_MAX)
		return p->target_tsc;
	return p->target_tsc + (cc->min_delay_tsc < p->base_max_tsc ? cc->min_delay_tsc
								      : p->base_max_tsc);
}

/* May we decrease now? Swift decreases at most once per RTT so one congestion episode,
 * reported by a whole window of acks, is answered once. */
static int can_decrease(const struct pony_cc *cc, uint64_t srtt, uint64_t now)
{
	return cc->last_decrease_tsc == 0 || now - cc->last_decrease_tsc >= srtt;
}

void pony_cc_on_ack(struct pony_cc *cc, const struct pony_cc_params *p, uint32_t acked,
		    uint64_t delay, uint64_t srtt, uint64_t now)
{
	cc->samples++;
	cc->last_delay_tsc = delay;
	if (delay < cc->min_delay_tsc)
		cc->min_delay_tsc = delay;
	uint64_t target = pony_cc_target(cc, p);
	if (delay < target) {
		/* Below target: ai packets per RTT. With cwnd >= 1 each ack adds ai/cwnd per
		 * packet; below one packet the window grows by ai per ack (Swift) so paced
		 * flows recover in a few RTTs. */
		if (cc->cwnd >= 1.0)
			cc->cwnd += p->ai * acked / cc->cwnd;
		else
			cc->cwnd += p->ai * acked;
	} else if (can_decrease(cc, srtt, now)) {
		double over = (double)(delay - target) / (double)delay;
		double f = 1.0 - p->beta * over;
		if (f < 1.0 - p->max_mdf)
			f = 1.0 - p->max_mdf;
		cc->cwnd *= f;
		cc->last_decrease_tsc = now;
		cc->decreases++;
	}
	cc->cwnd = clampd(cc->cwnd, p->cwnd_min, p->cwnd_max);
}

void pony_cc_on_loss(struct pony_cc *cc, const struct pony_cc_params *p, uint64_t srtt,
		     uint64_t now)
{
	if (!can_decrease(cc, srtt, now))
		return;
	cc->cwnd = clampd(cc->cwnd * (1.0 - p->max_mdf), p->cwnd_min, p->cwnd_max);
	cc->last_decrease_tsc = now;
	cc->decreases++;
}

void pony_cc_on_timeout(struct pony_cc *cc, const struct pony_cc_params *p, unsigned consecutive,
			uint64_t now)
{
	if (consecutive == 1)
		cc->cwnd_undo = cc->cwnd;
	if (consecutive >= TIMEOUTS_TO_MIN)
		cc->cwnd = p->cwnd_min;
	else
		cc->cwnd = clampd(cc->cwnd * (1.0 - p->max_mdf), p->cwnd_min, p->cwnd_max);
	cc->last_decrease_tsc = now;
	cc->decreases++;
}

void pony_cc_undo_timeout(struct pony_cc *cc)
{
	if (cc->cwnd_undo > cc->cwnd)
		cc->cwnd = cc->cwnd_undo;
	cc->cwnd_undo = 0;
	cc->undos++;
}

uint64_t pony_cc_pacing_gap(const struct pony_cc *cc, const struct pony_cc_params *p,
			    uint64_t srtt)
{
	if (cc->cwnd >= 1.0)
		return 0;
	uint64_t target = pony_cc_target(cc, p);
	uint64_t rtt = srtt < target ? srtt : target;
	return (uint64_t)llround((double)rtt / cc->cwnd);
}
