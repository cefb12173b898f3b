/* Command service across an engine's app sessions (pony_app_host_poll): round robin, and
 * once apps ask for more than one priority class (issue 21), weighted by class. */
#include "pony/app_internal.h"

unsigned pony_app_host_poll(struct pony_app_host *h, unsigned budget)
{
	unsigned done = 0;
	struct pony_app_session *start = h->rr ? h->rr : h->live;
	if ((h->classes_asked & (h->classes_asked - 1)) == 0) {
		/* One class (every app normal, as before classes): round-robin from where the
		 * previous round stopped, one burst per session. */
		struct pony_app_session *s = start;
		while (s && done < budget) {
			unsigned b = budget - done < APP_BURST ? budget - done : APP_BURST;
			done += pony_app_session_poll(h, s, b);
			s = s->next ? s->next : h->live;
			if (s == start)
				break;
		}
		h->rr = s;
		pony_app_host_flush(h);
		return done;
	}
	/* Weighted by priority class (issue 21): a session's class is that of its latest send.
	 * Classes are served most urgent first, each up to its weight's share of the budget in
	 * a first pass (so a backlogged scavenger still gets its share), what is left in a
	 * second to the classes that reached their share. A session's burst is in proportion to
	 * its class weight (APP_BURST for normal, as before classes; at most 8 times that), once
	 * per pass, round-robin from where the previous round started. A session's own commands
	 * keep their order. */
	const uint32_t *w = pony_tp_qos_weight(h->tp);
	const uint64_t wsum = (uint64_t)w[0] + w[1] + w[2];
	h->round++;
	bool capped[PONY_QOS_N] = {false};
	for (unsigned pass = 0; pass < 2 && start; pass++) {
		const uint32_t stamp = h->round * 2 + pass; /* a session once per pass */
		for (unsigned c = 0; c < PONY_QOS_N && done < budget; c++) {
			if (pass && !capped[c])
				continue;
			uint64_t burst = (uint64_t)APP_BURST * w[c] / w[PONY_QOS_NORMAL];
			burst = burst > 8 * APP_BURST ? 8 * APP_BURST : burst ? burst : 1;
			uint64_t cap = pass ? budget : (uint64_t)budget * w[c] / wsum;
			cap = cap ? cap : 1;
			unsigned used = 0;
			struct pony_app_session *s = start;
			while (s && done < budget && used < cap) {
				if (pony_qos_class(s->qos) == c && s->served_round != stamp) {
					uint64_t b = budget - done < cap - used ? budget - done : cap - used;
					b = b < burst ? b : burst;
					s->served_round = stamp;
					unsigned n = pony_app_session_poll(h, s, (unsigned)b);
					done += n;
					used += n;
				}
				s = s->next ? s->next : h->live;
				if (s == start)
					break;
			}
			capped[c] = used >= cap;
		}
	}
	h->rr = start && start->next ? start->next : h->live;
	pony_app_host_flush(h);
	return done;
}
