/* Test harness for Pony transports: two pony_tp instances joined by a simulated link with
 * seeded loss/reorder/duplication/corruption and a simulated clock (1 tick = 1 ns), plus test
 * upcalls that check exactly-once, in-order, byte-identical delivery. Code in pony_sim.c,
 * which every program including this header links (tests/unit and tests/fuzz meson.build). */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>

#include "pony/internal.h"

#define SIM_HZ 1000000000ull
#define SIM_PENDING_MAX 65536
#define SIM_EP_MAX 3 /* a pair, and a third peer for the dual-stack case */
#define SIM_TS_MAX 8
#define SIM_PATTERN (2u << 20)
#define SIM_CALLS_MAX 4096

/* xorshift64 state behind every random choice of the harness (link impairments, message
 * plans, the pattern bytes). Programs may reseed it between runs; never 0. */
extern uint64_t sim_rng_state;

static inline uint64_t sim_rand(void)
{
	sim_rng_state ^= sim_rng_state << 13;
	sim_rng_state ^= sim_rng_state >> 7;
	sim_rng_state ^= sim_rng_state << 17;
	return sim_rng_state;
}

/* Uniform in [0, 1). */
static inline double sim_unif(void)
{
	return (double)(sim_rand() >> 11) / (double)(1ull << 53);
}

struct sim_pkt {
	struct rte_mbuf *m;
	uint64_t at;
	int dst; /* endpoint index */
	int src;
	bool v6; /* sent to an IPv6 address: comes from the sender's IPv6 one */
};

struct sim_link {
	double loss, reorder, dup, corrupt;
	uint64_t base_ns, reorder_ns;
	bool down[SIM_EP_MAX]; /* packets to this endpoint are dropped */
	bool capture;          /* keep packets in pending without delivering */
	/* Input is given a clock this far ahead of the following poll's, as in an engine
	 * whose pony element reads a fresher TSC than the poll's start. */
	uint64_t input_ahead_ns;
	/* Bottleneck (0: none): each direction serializes at rate_bps behind a FIFO of at
	 * most qmax_ns; queueing delay samples are summed for the tests. */
	double rate_bps;
	uint64_t qmax_ns;
	/* Path MTU (0: none): IP packets larger than this are dropped without a word, as a
	 * 1,500-byte bridge between jumbo ports does (too_big counts them); set to the ports'
	 * MTU, it catches a packet that would not fit them. */
	uint32_t mtu;
	uint64_t too_big;
	/* Drop NOPs that carry payload, as a receiver of a release before path MTU probing
	 * does (it counts them malformed); old_nops counts them. */
	bool old_receiver;
	uint64_t old_nops;
	/* While log_calls: each xmit call's sender, packet count, and how many of its packets
	 * carry more than 1 KiB (calls past SIM_CALLS_MAX are counted, not logged). */
	bool log_calls;
	unsigned n_calls;
	struct sim_call {
		uint8_t src;
		uint16_t pkts, big;
	} calls[SIM_CALLS_MAX];
	uint64_t busy_until[SIM_EP_MAX];
	uint64_t q_sum_ns, q_samples, q_max_ns, q_drops, bytes;
	unsigned n;
	struct sim_pkt p[SIM_PENDING_MAX];
	uint64_t sent, lost, dups, corrupted, reordered;
};

struct sim_ep;

/* One stream endpoint as the test app sees it. */
struct sim_ts {
	struct sim_ep *ep;
	uint32_t sid;
	int opened; /* 1 ok, <0 error, 0 pending */
	int closed; /* 1 closed(0), <0 error, 0 open */
	bool closed_called;
	/* tx */
	uint32_t total, sent, acked, tx_err;
	int last_tx_err;
	uint32_t *len, *off; /* per message index, chosen by the sender */
	/* rx */
	uint32_t rx_next;
	uint32_t rx_bad;  /* order/size/content errors */
	uint8_t *rx_buf;
	uint32_t rx_len;
	uint8_t *peek_buf; /* rx_peek's answer: the next rx_begin's buffer */
	uint32_t peek_len;
	uint32_t rx_err;
	int last_rx_err;
	const struct sim_ts *peer; /* whose len/off tables describe what we receive */
	uint32_t credit_step;      /* grant one per completed message when nonzero */
};

struct sim_ep {
	struct pony_tp *tp;
	int idx;
	uint32_t ip;          /* IPv4 endpoints: cfg.local_ip; 0 for IPv6 ones */
	struct pony_ip addr;  /* its address as the transport keys it (either family) */
	struct pony_ip addr6; /* dual-stack endpoints (local_ip and local_ip6): the IPv6 one */
	uint16_t port;
	unsigned n_ts;
	struct sim_ts ts[SIM_TS_MAX];
	uint32_t initial_credit;
};

/* The one link, the endpoints (index = position; tp NULL when not started), the random
 * payload pattern messages are cut from, the mbuf pool of both transports, and the clock. */
extern struct sim_link sim_link;
extern struct sim_ep sim_ep[SIM_EP_MAX];
extern uint8_t *sim_pattern;
extern struct rte_mempool *sim_pool;
extern uint64_t sim_now;

/* ---- Setup. ---- */

/* Start the EAL (no huge pages, no PCI, file prefix name_PID), create sim_pool and fill
 * sim_pattern. If PONY_SIM_SEED is set, sim_rng_state is seeded from it first (replays
 * another random run of every scenario). Returns 0, or -1 if anything failed. */
int sim_eal_init(const char *name);

/* Free what sim_eal_init made, clean the EAL up and remove its runtime dir. */
void sim_eal_fini(void);

/* Fill c with the harness defaults for endpoint idx: 127.0.0.(idx+1):PONY_UDP_PORT_DEFAULT, sim_pool, the
 * link's xmit, the checking upcalls, short RTO/keep-alive/dead timeouts for simulated time.
 * With PONY_SIM_AUTH=1 in the environment, also one shared auth key: every scenario then
 * runs authenticated (all pass except those that inject unauthenticated packets on purpose,
 * e.g. test_syn_flood_reaped, whose SYNs are then dropped as auth_fail). */
void sim_cfg(struct pony_tp_config *c, int idx);

/* Reset endpoint idx and create its transport from c. Returns 0 or -errno of
 * pony_tp_create. */
int sim_ep_start(int idx, struct pony_tp_config *c);

/* Destroy endpoint idx's transport (NULL is fine) and free its streams' buffers. */
void sim_ep_stop(int idx);

/* ---- Streams. ---- */

/* A zeroed stream slot of ep, or NULL when all SIM_TS_MAX are taken. */
struct sim_ts *sim_ts_new(struct sim_ep *ep);

/* Give stream t `total` messages of random sizes: log-uniform in [1, max_len], with max_len
 * every 97th and 1 every 89th, each at a random pattern offset. Returns 0 or -ENOMEM. */
int sim_ts_plan(struct sim_ts *t, uint32_t total, uint32_t max_len);

/* Queue as many planned messages as the transport accepts. */
void sim_ts_pump(struct sim_ts *t);

/* ---- Running. ---- */

/* Deliver every pending packet due by now (in due order within a burst). Returns how many;
 * 0 while the link captures. */
unsigned sim_deliver(void);

/* When the earliest pending packet is due; UINT64_MAX if none (or capturing). */
uint64_t sim_next_due(void);

/* Free every packet on the link. */
void sim_drop_pending(void);

/* One step of the simulation: pump apps, deliver due packets, poll, advance the clock to
 * the next event. Returns work done. */
unsigned sim_step(void);

/* Step until cond() holds, at most max_steps steps and max_sim_ns of simulated time.
 * Returns cond() at the end. */
bool sim_run_until(bool (*cond)(void), uint64_t max_sim_ns, unsigned max_steps);
