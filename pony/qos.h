/* RPC priority classes (issue 21, after Aequitas, SIGCOMM 2022): the class codes shared by
 * the wire, the saved state and the app layer; the weighted round robin that serves classes
 * in proportion to their weights; and the sender's admission control, which measures each
 * (class, destination)'s RPC latency against the class's SLO and downgrades a share of new
 * RPCs to the next lower class while the SLO is missed (additive increase, multiplicative
 * decrease of the admit probability). Pure computations over caller-owned state: no DPDK,
 * no allocation after pony_qos_init, so the unit tests drive them directly. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Classes, most urgent first (the numbers of include/pony.h's enum pony_class). */
enum pony_qos_class {
	PONY_QOS_CRITICAL = 0,
	PONY_QOS_NORMAL = 1,
	PONY_QOS_SCAVENGER = 2,
	PONY_QOS_N = 3,
};

/* The class as a code where 0 means normal: what the wire (DATA's src_sid, pony/WIRE.md
 * "Priority classes"), saved state and zero-filled records carry, so everything written by
 * a build without classes reads as normal. code 1 critical, 2 scavenger, 3 (never sent)
 * normal. The map swaps 0 and 1 and keeps 2: its own inverse. */
static inline uint8_t pony_qos_code(unsigned cls)
{
	return (uint8_t)(cls < 2 ? cls ^ 1u : cls);
}
static inline unsigned pony_qos_class(unsigned code)
{
	return code == 1 ? PONY_QOS_CRITICAL : code == 2 ? PONY_QOS_SCAVENGER : PONY_QOS_NORMAL;
}
/* Or'ed into pony_tp_send_qos's class: the message is an RPC request, its latency runs to
 * the next message received on its stream (the response) instead of to its ack. */
#define PONY_QOS_RPC 0x100u
#define PONY_QOS_RPC_MAX 8 /* RPCs a stream measures at once (more: measured to the ack) */

/* Name of a class ("critical", "normal", "scavenger"), "?" if out of range. */
const char *pony_qos_name(unsigned cls);

/* ---- Weighted round robin over the classes (deficit round robin with a cost of one
 * packet or command per service: the shares are measured in packets, not bytes or time). */
struct pony_wrr {
	uint8_t cur;                 /* class whose turn it is */
	uint32_t credit[PONY_QOS_N]; /* services left in cur's turn (only cur's is non-zero) */
};

/* Pick the class to serve next among those whose bit is set in `ready` (bit c: class c has
 * work; non-zero), charging it one service. A class keeps the turn for weight[c] services
 * while it has work; an idle class loses its turn (no credit is banked, so a class that was
 * idle cannot burst past the others afterwards). O(PONY_QOS_N). weight[c] >= 1. */
unsigned pony_wrr_pick(struct pony_wrr *w, const uint32_t *weight, unsigned ready);

/* ---- Yielding (pony/flowtx.c). Weighted round robin orders a flow's own queue, but the
 * packets then wait in FIFOs no class reaches: the port's ring, the peer's receive queue
 * and engine. A delay-based window fills those up to its delay target (Swift), so a
 * critical RPC behind a bulk stream would wait that long whatever the weights. So, as a
 * network with priority queues would: while a class has sent within the transport's
 * qos_yield_hold_us, every lower class's data is held to a second window per flow kept
 * at the flow's base delay + qos_yield_delay_us (the same Swift rules, a low target: 1 us
 * by default, or one packet's time at the bottleneck when the acks show more), and
 * critical data may pass a full window by qos_crit_burst packets. Bulk still fills the
 * link, with a short standing queue; the critical RPC waits behind that queue only. Each
 * time a lower class's data waits on that window counts in its `yielded`. ---- */

/* ---- Admission control. ---- */

#define PONY_QOS_ENT_MAX 256 /* (class, destination) entries a transport tracks */
#define PONY_QOS_PROBE 8     /* slots searched for an entry (the oldest is reused) */
#define PONY_QOS_HIST_SUB 8  /* latency buckets per power of two of nanoseconds (<13%) */
#define PONY_QOS_HIST (32 * PONY_QOS_HIST_SUB) /* up to 2^32 ns (4.3 s; more: the last) */

struct pony_qos_params {
	uint32_t weight[PONY_QOS_N]; /* WRR weights (8, 4, 1) */
	uint64_t slo_ns[PONY_QOS_N]; /* RPC latency target per class; 0: no admission control
				      * for that class (scavenger never has one: nothing below) */
	double miss_share;           /* share of admitted RPCs allowed over the SLO (0.01: the
				      * SLO is for the p99) */
	double step;                 /* admit probability taken per RPC over the SLO (0.05); one
				      * met adds step * miss_share / (1 - miss_share) */
	double p_min;                /* floor of the admit probability (0.01): some RPCs keep
				      * probing the class so it recovers */
};

/* Parse "C:N:S" (config key qos_weights), each weight 1..1024, into w[3]. 0 or -EINVAL. */
int pony_qos_parse_weights(const char *s, uint32_t w[PONY_QOS_N]);

/* Defaults above; pony_qos_params_check: 0 or -EINVAL (a weight 0 or over 1024, step or
 * p_min outside (0, 1], miss_share outside (0, 0.5], an SLO on the scavenger class). */
void pony_qos_params_default(struct pony_qos_params *p);
int pony_qos_params_check(const struct pony_qos_params *p);

struct pony_qos_ent {
	uint32_t dest;     /* peer IPv4 (network order) */
	uint8_t cls;
	bool used;
	uint32_t gen;      /* bumped when the slot is reused: stale samples are ignored */
	double p;          /* admit probability */
	uint64_t last_ns;  /* last admission (reuse picks the oldest) */
	uint64_t met, missed, downgraded;
};

struct pony_qos_hist {
	uint64_t n;
	uint64_t b[PONY_QOS_HIST];
};

/* Per-class counters (snapctl stats/flows). */
struct pony_qos_class_stats {
	uint64_t tx_pkts, tx_bytes, rx_pkts, rx_bytes;
	uint64_t rpcs;        /* RPCs completed in this class (latency samples) */
	uint64_t slo_missed;  /* of those, over the class's SLO */
	uint64_t slo_missed_floor; /* of those, admitted while the admit probability sat at
				    * p_min: downgrading cannot hold the class at its SLO under
				    * this load (the SLO is out of reach: under the latency the
				    * load itself gives even a class that is almost all
				    * downgraded) */
	uint64_t downgraded;  /* RPCs asked for this class and sent in the next lower one */
	uint64_t yielded;     /* times its data waited for a higher class (transport's yield) */
	uint64_t p50_ns, p99_ns, p999_ns; /* completion latency (filled by pony_qos_stats) */
};

struct pony_qos {
	struct pony_qos_params prm;
	struct pony_qos_ent ent[PONY_QOS_ENT_MAX];
	struct pony_qos_class_stats cls[PONY_QOS_N];
	struct pony_qos_hist hist[PONY_QOS_N];
	uint64_t evictions;   /* entries reused for another (class, destination) */
	double p_up;          /* added per met RPC: step * miss_share / (1 - miss_share) */
};

/* Reset q with params p (checked by the caller). */
void pony_qos_init(struct pony_qos *q, const struct pony_qos_params *p);

/* A ticket ties an RPC to its entry until it completes (0: no entry, nothing measured). */
typedef uint32_t pony_qos_ticket;

/* Admission of a new RPC asking for class cls to dest at time now_ns, with rnd a uniform
 * 32-bit random number (the caller's generator: tests pass fixed values). Returns the class
 * it runs in: cls, or the next lower class when not admitted (counted downgraded). *t gets
 * the ticket to pass to pony_qos_complete (0 when cls has no SLO). Never fails: a full
 * table reuses the oldest entry of the probe window. */
unsigned pony_qos_admit(struct pony_qos *q, unsigned cls, uint32_t dest, uint64_t now_ns,
			uint32_t rnd, pony_qos_ticket *t);

/* The RPC of ticket t, which ran in class ran, completed after lat_ns: records the latency
 * in ran's histogram and, when it ran in the class it asked for, moves that entry's admit
 * probability: missed, - step (floored at p_min); met, + step * miss_share / (1 -
 * miss_share) (capped at 1). Additive both ways, so the probability settles where exactly
 * miss_share of the admitted RPCs miss, whatever the probability (with a multiplicative
 * decrease the share would grow as the probability falls): the admitted RPCs' percentile
 * 1 - miss_share is held at the SLO. A stale ticket (entry reused meanwhile) only records
 * the latency. */
void pony_qos_complete(struct pony_qos *q, pony_qos_ticket t, unsigned ran, uint64_t lat_ns);

/* Admit probability of (cls, dest): 1 when untracked. */
double pony_qos_admit_p(const struct pony_qos *q, unsigned cls, uint32_t dest);

/* Percentile pc (0..100) of a histogram, ns (upper edge of the bucket; 0 when empty). */
uint64_t pony_qos_hist_pct(const struct pony_qos_hist *h, double pc);

/* Copy the per-class counters with percentiles filled in. */
void pony_qos_stats(const struct pony_qos *q, struct pony_qos_class_stats out[PONY_QOS_N]);
