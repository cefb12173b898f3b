/* Pony transport internals shared by transport.c (API, streams, delivery), flow.c (flows,
 * seq/ack/SACK, timers, transmit) and rxwin.c. State lives in fixed pools indexed by
 * integers (no pointers between records), so it can be serialized for an upgrade. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "pony/cc.h"
#include "pony/cookie.h"
#include "pony/onesided.h"
#include "pony/qos.h"
#include "pony/transport.h"
#include "pony/wire.h"

#define PONY_NONE UINT32_MAX
#define PONY_SID_IDX_BITS 20 /* sid = generation << 20 | slot: stale sids are detected */
#define PONY_SID_IDX_MASK ((1u << PONY_SID_IDX_BITS) - 1)
#define PONY_LISTEN_MAX 64
#define PONY_TX_BATCH 32
#define PONY_TX_LEAD_BYTES 4096 /* an idle flow's first batch goes out in pieces this big */
#define PONY_RST_PER_MS 64 /* stateless replies (RST, cookie SYN_ACK, challenge ACK) per ms */
#define PONY_REFUSE_Q 8    /* OPEN refusals a flow queues without a stream (stateless) */
/* Packets of no known flow incarnation checked per millisecond at most (authenticated mode):
 * each may need a key derived (HKDF + AES key schedule, microseconds), so a flood of forged
 * packets from random sources cannot take the engine; the rest are dropped as auth_fail. */
#define PONY_AUTH_SCRATCH_PER_MS 32

static inline bool seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static inline bool seq_le(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}

/* ---- Receive window: which sequenced packets beyond the cumulative ack arrived. ---- */
struct pony_rxwin {
	uint32_t rcv_nxt;  /* every seq < rcv_nxt arrived */
	uint32_t rcv_max;  /* one past the highest seq that arrived */
	uint32_t last;     /* most recently arrived seq (its SACK block is reported first) */
	uint32_t size;     /* window (power of 2, multiple of 64) */
	uint64_t *map;     /* size bits, indexed by seq & (size - 1) */
};

enum pony_rx_verdict {
	PONY_RX_NEW = 0,    /* first arrival, inside the window */
	PONY_RX_DUP,        /* already received (below rcv_nxt or its bit set) */
	PONY_RX_OUTSIDE,    /* beyond the window: drop without acking */
};

void pony_rxwin_init(struct pony_rxwin *w, uint64_t *map, uint32_t size, uint32_t isn);
enum pony_rx_verdict pony_rxwin_check(const struct pony_rxwin *w, uint32_t seq);
/* Record seq (must be PONY_RX_NEW); advances rcv_nxt over the contiguous prefix. Returns
 * how far rcv_nxt moved. */
uint32_t pony_rxwin_mark(struct pony_rxwin *w, uint32_t seq);
/* Fill up to max SACK blocks: the block holding the latest arrival first, then the lowest
 * ones. Returns how many. */
unsigned pony_rxwin_sack(const struct pony_rxwin *w, uint32_t (*blk)[2], unsigned max);

/* ---- Sender side. ---- */
enum pony_desc_state {
	PONY_D_FREE = 0,
	PONY_D_INFLIGHT, /* sent, not (s)acked */
	PONY_D_LOST,     /* declared lost, waiting for retransmission */
	PONY_D_SACKED,   /* selectively acked (cumulative ack will free it) */
};

/* One sequenced packet in flight: enough to rebuild it (payload from the app's buffer). */
struct pony_txdesc {
	uint8_t state;
	uint8_t type;
	uint8_t retx;
	uint8_t pad;
	uint16_t len;       /* DATA payload bytes */
	uint32_t stream;    /* local sid (DATA) to find the message; PONY_NONE for control */
	uint32_t sid;       /* receiver's sid */
	uint32_t src_sid;
	uint32_t msg_id;
	uint32_t msg_len;
	uint32_t offset;
	uint32_t aux;
	uint64_t sent_tsc;
};

struct pony_txmsg {
	const uint8_t *buf; /* the app's buffer, read at every (re)transmission */
	uint64_t cookie;
	uint32_t len;
	uint32_t msg_id;
	uint32_t seg_off;   /* bytes handed to packets so far */
	uint32_t acked;     /* bytes acknowledged */
};

enum pony_stream_state {
	PONY_S_FREE = 0,
	PONY_S_OPENING,  /* OPEN sent, waiting for OPEN_ACK */
	PONY_S_OPEN,
	PONY_S_CLOSING,  /* closed locally: CLOSE to send, then free */
	/* A refused OPEN gets no stream: its OPEN_ACK(error) waits in the flow's refusal
	 * queue (pony_flow.refuse_*), so refusals cost a peer's flow, not the stream pool. */
};

/* Control packets a stream still has to send (flags; sent in this order). */
#define PONY_C_OPEN 0x01
#define PONY_C_OPEN_ACK 0x02
#define PONY_C_CREDIT 0x04
#define PONY_C_CLOSE 0x08

struct pony_stream {
	uint32_t sid;        /* current full sid of this slot */
	uint8_t state;
	uint8_t ctrl;        /* PONY_C_* to send */
	bool ready;          /* counted in flow->n_ready */
	bool close_after_open; /* closed by the user while OPENING */
	bool close_pending;  /* peer's CLOSE arrived, waits for all earlier seqs */
	bool rx_active, rx_discard;
	bool passive;        /* opened by the peer: counted in flow->n_passive (its budget) */
	uint16_t service;
	uint32_t flow;
	uint32_t peer_sid;
	uint32_t prev, next; /* flow's stream list */
	/* Flow's transmit queues (pony/txq.h): [0] stream control to send, [1] data. */
	uint32_t txq_prev[2], txq_next[2];
	bool in_txq[2];
	void *owner;
	/* Transmit: msg ids [tx_head, tx_seg) partly/fully sent, [tx_seg, tx_tail) queued. */
	uint32_t tx_head, tx_seg, tx_tail;
	uint32_t peer_credit; /* may send msg ids < peer_credit */
	/* Receive. */
	uint32_t rx_next;     /* next msg id to deliver */
	uint32_t rx_granted;  /* absolute credit granted by the user */
	uint32_t rx_advertised;
	uint32_t rx_len, rx_got;
	uint8_t *rx_dst;
	uint64_t rx_cookie;
	uint32_t held;        /* list of held out-of-order segments (tp->held index) */
	uint32_t close_seq;
};

/* A received DATA segment kept until its message becomes the stream's current one. */
struct pony_held {
	struct rte_mbuf *m; /* data adjusted to the payload */
	uint32_t msg_id, msg_len, offset;
	uint32_t next;      /* stream's list / free list */
	uint8_t code;       /* its message's class code (pony_qos_code); restored ones: 0 */
};

enum pony_flow_state {
#define PONY_FLOW_X_ENUM(e, s) PONY_F_##e,
	PONY_FLOW_STATES(PONY_FLOW_X_ENUM)
#undef PONY_FLOW_X_ENUM
};

struct pony_flow {
	uint8_t state;
	bool ack_pending;    /* an ack is owed to the peer (see ack_due_tsc) */
	bool fin_sent;
	uint32_t peer_ip;    /* IPv4 peers: the address (saved state of releases before IPv6
			      * knows only this); 0 for IPv6 ones. The key is tp->peers[]. */
	uint16_t peer_port;
	uint16_t local_port; /* our UDP port for this flow (0: cfg.local_port): pick_port */
	uint32_t local_id, peer_id;
	uint32_t isn;
	uint32_t peer_window; /* from its SYN/SYN_ACK; 0 = unknown (use ours) */
	uint32_t seg_max;     /* payload per packet: ours and the peer's smaller (handshake) */
	/* Transmit sequence space. */
	uint32_t snd_una, snd_nxt;
	uint32_t pipe;       /* INFLIGHT descs */
	uint32_t n_lost;     /* LOST descs */
	uint32_t high_sacked; /* highest (s)acked seq + 1 */
	uint64_t rack_tsc;   /* send time of the latest-sent packet known delivered */
	uint64_t rto_start;  /* RTO timer runs from here while pipe > 0 */
	uint32_t backoff;
	uint32_t consec_timeouts;
	uint64_t rto_fired_tsc; /* first timeout of the current episode (0: none): an ack that
				 * echoes an older transmission proves it spurious */
	uint64_t srtt, rttvar, rto; /* TSC ticks */
	uint64_t last_echo;  /* latest echoed timestamp processed (sample once) */
	uint64_t next_send_tsc; /* pacing */
	struct pony_cc cc;
	/* Receive. */
	struct pony_rxwin rx;
	uint64_t echo_ts, echo_rx_tsc;
	uint64_t ack_due_tsc; /* an owed ack goes out standalone at this time if no packet of
			       * ours has carried it by then */
	uint32_t rx_unacked;  /* new sequenced packets since our last ack */
	uint64_t last_rx_tsc, last_tx_tsc, created_tsc;
	uint64_t una_tsc;    /* snd_una last advanced (or the first seq went out): a peer that
			      * acks nothing for dead_timeout is failed, probes or not */
	/* OPEN refusals to send (peer's sid, errno): a refused OPEN holds no stream. */
	uint8_t refuse_head, refuse_n;
	uint16_t refuse_err[PONY_REFUSE_Q];
	uint32_t refuse_sid[PONY_REFUSE_Q];
	/* Streams. */
	uint32_t streams, n_streams;
	uint32_t txq_head[2], txq_tail[2]; /* streams with control / data to send (txq.h) */
	uint32_t n_passive;  /* streams the peer opened (max_streams_per_peer over its flows) */
	uint32_t n_ready, n_ctrl, n_close_pending;
	uint32_t n_held;     /* segments held for reassembly (<= window: a peer cannot hog) */
	/* Counters. */
	uint64_t tx_bytes, rx_bytes, tx_pkts, rx_pkts;
	uint64_t retransmits, timeouts, fast_retransmits;
};

/* A flow's priority-class state (pony/qos.h, pony/txq.h): one data queue of streams per
 * class served by weighted round robin, and per-class counters. Process-local (not saved):
 * pony_txq_rebuild rebuilds the queues after a restore, the counters start again. */
struct pony_qflow {
	uint32_t head[PONY_QOS_N], tail[PONY_QOS_N];
	struct pony_wrr wrr;
	struct pony_cc cc_yield; /* the lower classes' window while a higher one is active */
	/* Ticks per packet between acks while packets stay in flight (a moving average, 0:
	 * none yet): about one packet's time at the bottleneck, the least queue the yield
	 * target asks for (pony/flow.c yield_on_ack). ack_tsc: the last ack's arrival if it
	 * left packets in flight, else 0. */
	uint64_t pkt_tsc, ack_tsc;
	bool tx_idle; /* nothing was queued when its last flow_tx ended (flowtx.c) */
	uint64_t tx_pkts[PONY_QOS_N], tx_bytes[PONY_QOS_N];
	uint64_t rx_pkts[PONY_QOS_N], rx_bytes[PONY_QOS_N];
};

/* A flow's path MTU probing (pony/pmtu.h), per flow slot beside struct pony_flow (whose
 * layout the saved state of release 0.1.0 fixes). Process-local: restarted after a
 * restore. */
enum pony_pmtu_state {
	PONY_PMTU_OFF = 0,   /* nothing to probe: seg is the agreed size (or 0: use it) */
	PONY_PMTU_DUE,       /* a probe goes out ahead of new data once now >= next_tsc */
	PONY_PMTU_INFLIGHT,  /* probe_seq is the probe */
};

struct pony_pmtu {
	uint32_t seg;        /* DATA payload per packet now; 0: the flow's seg_max */
	uint32_t probe_seq;
	uint8_t state;
	uint8_t tries;       /* failed probes in a row */
	uint64_t next_tsc;
};

struct pony_pmtu_stats {
	uint64_t probes_tx;  /* probes sent */
	uint64_t raised;     /* probes acked: flows that went up to their agreed size */
	uint64_t failed;     /* probes lost (retransmitted small) */
};

/* A queued message's class and admission record, beside its struct pony_txmsg (same
 * index). Process-local: a message restored after an upgrade reads as normal, unmeasured. */
struct pony_qmsg {
	uint64_t t0;          /* tp->now when queued: completion latency */
	pony_qos_ticket ticket;
	uint8_t code;         /* pony_qos_code of the class it runs in */
	bool rpc;             /* measured at its response (struct pony_srpc), not its ack */
};

/* A stream's RPCs waiting for their responses (PONY_QOS_RPC), oldest first: the next
 * message the stream receives answers the oldest. Process-local, reset with the stream. */
struct pony_srpc {
	uint8_t head, n;
	struct {
		uint64_t t0;
		pony_qos_ticket ticket;
		uint8_t code;
	} e[PONY_QOS_RPC_MAX];
};

struct pony_listener {
	bool used;
	uint16_t service;
	void *listener;
};

struct pony_tp {
	struct pony_tp_config cfg;
	struct pony_cc_params ccp;
	const struct pony_tp_upcalls *up;
	uint32_t seg_max;     /* DATA payload per packet our MTU takes (advertised in handshakes) */
	uint32_t seg_floor;   /* the same for a 576-byte MTU: no peer may ask for less */
	uint32_t seg_legacy;  /* the same for 1500: a peer that advertises nothing */
	uint64_t rto_min, rto_max, rto_init, keepalive, dead; /* TSC ticks */
	uint64_t ack_delay;   /* TSC ticks an ack may wait for a packet to ride on */
	double ns_per_tsc;
	uint64_t key[2];             /* from getrandom(): flow ids, ISNs, cookies (pony/cookie.h) */
	uint64_t rand_ctr;           /* pony_tp_rand's counter */
	struct pony_flow *flows;
	/* Each flow's peer address, its key with peer_port (v4-mapped for IPv4). Beside the
	 * flows, not in them: struct pony_flow keeps release 0.1.0's layout (pony/save.c). */
	struct pony_ip *peers;
	uint32_t flows_hi;           /* 1 + highest non-free flow slot: per-poll scans stop here */
	struct pony_txdesc *descs;   /* max_flows * window */
	uint64_t *rxmaps;            /* max_flows * window / 64 */
	uint32_t *flow_ht;           /* open addressing (peer address, port) -> flow index */
	uint32_t flow_ht_mask;
	struct pony_stream *streams;
	struct pony_txmsg *txmsgs;   /* max_streams * sendq_max */
	uint32_t stream_free;        /* free list through streams[].next */
	struct pony_held *held;      /* max_flows * window */
	uint32_t held_free;
	struct pony_listener listen[PONY_LISTEN_MAX];
	struct pony_tp_stats st;
	/* Transmit batch toward one peer, flushed before returning to the engine (never holds
	 * packets across calls, so it is not part of saved state). */
	uint16_t txb_n;
	uint16_t txb_port, txb_lport;
	uint32_t txb_bytes;          /* frame bytes in txb */
	uint32_t txb_lim;            /* flush once txb_bytes reaches it (flowtx.c flow_tx) */
	struct pony_ip txb_peer;
	struct rte_mbuf *txb[PONY_TX_BATCH];
	uint64_t now;                /* time of the current input/poll call */
	uint64_t rx_tsc;             /* earliest arrival of the packets being input (<= now) */
	uint64_t rst_window_tsc;
	uint32_t rst_in_window;
	struct pony_os *os;          /* one-sided ops (pony/onesided.c); NULL until attached */
	struct pony_auth *auth;      /* authenticated flows (pony/auth.h); NULL: off */
	uint64_t auth_window_tsc;    /* PONY_AUTH_SCRATCH_PER_MS accounting */
	uint32_t auth_in_window;
	/* Priority classes (pony/qos.h): weights, SLOs, admission table, per-class counters. */
	struct pony_qos qos;
	/* Bit c: DATA of class c has arrived (never cleared). Until a second class shows up,
	 * a burst is processed in arrival order without peeking at each packet's class. */
	uint8_t rx_classes;
	/* Bit c: a message of class c was queued to send (never cleared). With normal alone,
	 * transmit skips the class passes (the critical-first flows, the weighted pick). */
	uint8_t tx_classes;
	uint8_t rx_code;  /* class code of the message rx_done is completing (pony_tp_rx_code) */
	/* The packet being input had its payload copied to rx_placed (rx_placed_len bytes) as
	 * its checksum was checked (pony_stream_rx_place): the segment's delivery to that very
	 * place skips its copy. NULL otherwise; cleared by the first delivery (a held
	 * segment of the next message, delivered in the same input, may go to the same
	 * address of a re-posted buffer) and at the end of the packet's input. */
	uint8_t *rx_placed;
	uint32_t rx_placed_len;
	/* Payloads placed so (a counter beside the saved pony_tp_stats, whose layout release
	 * 0.1.0 reads: restarts at an upgrade). */
	uint64_t rx_placed_n;
	/* Classes yield in the shared FIFO (the port's ring, the peer's engine): while a class
	 * has sent within yield_hold ticks (cls_until[c] > now), the data of every lower class
	 * is held to each flow's yield window (struct pony_qflow cc_yield: the flow's delay
	 * kept near ccp_yield's low target), and critical data may pass a full window by
	 * crit_burst packets. See pony/qos.h "Yielding". */
	struct pony_cc_params ccp_yield;
	uint64_t yield_hold;
	uint64_t cls_until[3];
	uint32_t crit_burst;
	struct pony_qflow *qflows;   /* max_flows */
	struct pony_qmsg *qmsgs;     /* max_streams * sendq_max, indexed like txmsgs */
	uint8_t *scls;               /* max_streams: the class queue a stream's data is in */
	struct pony_srpc *srpc;      /* max_streams */
	struct pony_pmtu *pmtu;      /* max_flows (pony/pmtu.h) */
	struct pony_pmtu_stats pmtu_st;
};

static inline struct pony_ip *flow_peer(const struct pony_tp *tp, const struct pony_flow *f)
{
	return &tp->peers[f - tp->flows];
}

/* Segment sizes (ours, advertised, agreed) count 28 bytes of IPv4 and UDP header
 * (WIRE.md); a flow to an IPv6 peer's packets carry 20 more, taken off its segment. */
#define PONY_IP6_EXTRA 20u
static inline uint32_t pony_flow_ip_extra(const struct pony_tp *tp, const struct pony_flow *f)
{
	return pony_ip_is4(flow_peer(tp, f)) ? 0u : PONY_IP6_EXTRA;
}

static inline struct pony_txdesc *flow_desc(struct pony_tp *tp, struct pony_flow *f, uint32_t seq)
{
	uint32_t fi = (uint32_t)(f - tp->flows);
	return &tp->descs[(size_t)fi * tp->cfg.window + (seq & (tp->cfg.window - 1))];
}

static inline struct pony_txmsg *stream_msg(struct pony_tp *tp, const struct pony_stream *s,
					    uint32_t msg_id)
{
	size_t si = s->sid & PONY_SID_IDX_MASK;
	return &tp->txmsgs[si * tp->cfg.sendq_max + (msg_id & (tp->cfg.sendq_max - 1))];
}

static inline struct pony_qmsg *stream_qmsg(struct pony_tp *tp, const struct pony_stream *s,
					    uint32_t msg_id)
{
	return &tp->qmsgs[(size_t)(s->sid & PONY_SID_IDX_MASK) * tp->cfg.sendq_max +
			  (msg_id & (tp->cfg.sendq_max - 1))];
}

/* transport.c: a message of stream s was delivered: the response of its oldest RPC. */
void pony_qos_rx_msg(struct pony_tp *tp, const struct pony_stream *s);

/* transport.c: streams and delivery. */
/* The live stream of id sid (its table index and generation), NULL for any other. */
static inline struct pony_stream *pony_stream_get(struct pony_tp *tp, uint32_t sid)
{
	uint32_t idx = sid & PONY_SID_IDX_MASK;
	if (idx >= tp->cfg.max_streams)
		return NULL;
	struct pony_stream *s = &tp->streams[idx];
	return s->state != PONY_S_FREE && s->sid == sid ? s : NULL;
}
/* Allocate a stream on flow f (linked into its list) or NULL; free unlinks and releases. */
struct pony_stream *pony_stream_alloc(struct pony_tp *tp, struct pony_flow *f);
void pony_stream_free(struct pony_tp *tp, struct pony_stream *s);
/* User close: 0 or -ENOTCONN. */
int pony_strm_close(struct pony_tp *tp, struct pony_stream *s);
/* pony_stream_update_ready, pony_stream_set_ctrl, pony_stream_clear_ctrl: pony/txq.h */
/* Handle the content of a new sequenced packet. Returns 1 if the mbuf was kept (held),
 * 0 if processed (caller frees), -EAGAIN if it cannot be taken now (do not mark it
 * received: the peer retransmits). */
/* Where the payload of DATA h (header parsed, checksum not yet checked, so no field is
 * trusted) would be delivered, when that is the posted buffer of the current message of its
 * stream and these bytes are ones no accepted segment has written: flow f is established
 * with every seq below rcv_nxt received and none beyond, h is seq rcv_nxt, and it is the next
 * bytes of the message (offset == received so far). Whatever the header really said, a
 * write there touches only bytes the message has yet to receive (segments of a message take
 * seqs in offset order), which a checked segment writes again later. NULL: no such place;
 * the caller checks the checksum alone and the delivery copies. */
uint8_t *pony_stream_rx_place(struct pony_tp *tp, const struct pony_flow *f,
			      const struct pony_hdr *h);
int pony_stream_rx(struct pony_tp *tp, struct pony_flow *f, const struct pony_hdr *h,
		   uint32_t seq, struct rte_mbuf *m, uint32_t hl);
/* Fill d with the stream's next control packet (clears its flag; a CLOSING stream is freed
 * once its CLOSE is out). */
void pony_stream_next_ctrl(struct pony_tp *tp, struct pony_stream *s, struct pony_txdesc *d);
/* Fill d with the stream's next data segment (at most seg_max bytes). */
void pony_stream_next_seg(struct pony_tp *tp, struct pony_stream *s, struct pony_txdesc *d,
			  uint32_t seg_max);
/* Acked DATA bytes of message msg_id on local stream `stream`. */
void pony_stream_acked(struct pony_tp *tp, uint32_t stream, uint32_t msg_id, uint32_t bytes);
/* Process peer CLOSEs whose seq is now below rcv_nxt. */
void pony_stream_close_ready(struct pony_tp *tp, struct pony_flow *f);
/* Fail every stream of a flow with err (upcalls), free their state. */
void pony_stream_fail_all(struct pony_tp *tp, struct pony_flow *f, int err);
/* Fill d with the flow's next queued OPEN refusal, if any. */
bool pony_stream_next_refusal(struct pony_flow *f, struct pony_txdesc *d);

/* flow.c */
struct pony_flow *pony_flow_lookup(struct pony_tp *tp, const struct pony_ip *ip, uint16_t port);
/* f's local UDP port (cfg.local_port for f NULL or a flow without its own). */
static inline uint16_t pony_flow_local_port(const struct pony_tp *tp, const struct pony_flow *f)
{
	return f != NULL && f->local_port ? f->local_port : tp->cfg.local_port;
}
/* Rebuild the (address, port) -> flow table from the flow array (after a restore: flows
 * saved before IPv6 get their address from peer_ip). */
void pony_flow_ht_rebuild(struct pony_tp *tp);
/* NULL when the table is full. */
struct pony_flow *pony_flow_get_or_open(struct pony_tp *tp, const struct pony_ip *ip,
					uint16_t port);
void pony_flow_input(struct pony_tp *tp, const struct pony_ip *ip, uint16_t port,
		     struct rte_mbuf *m);
/* Streams the peer at ip opened here, over all its flows (for its budget). */
uint32_t pony_flow_peer_streams(const struct pony_tp *tp, const struct pony_ip *ip);
/* Our address toward a peer of ip's family (cfg.local_ip v4-mapped, or cfg.local_ip6) into
 * *out; false (out all zero) when we have none of that family. */
bool pony_tp_local_addr(const struct pony_tp *tp, const struct pony_ip *ip, struct pony_ip *out);
void pony_flow_flush_acks(struct pony_tp *tp);
unsigned pony_flow_poll_all(struct pony_tp *tp);
uint64_t pony_flow_next_deadline(const struct pony_tp *tp);
uint32_t pony_tp_rand(struct pony_tp *tp);

/* flowauth.c: the tag of every packet in authenticated mode (no-ops when tp->auth is NULL).
 * Seal h's packet of len bytes at pkt (built, with PONY_AUTH_TRAILER bytes of room after it)
 * for the peer (ip, port); f is the flow it belongs to, NULL for an RST without one. 0 or
 * -EIO (counted by the caller as a send failure). */
int pony_flow_auth_tx(struct pony_tp *tp, const struct pony_flow *f, const struct pony_ip *ip,
		      uint16_t port, const struct pony_hdr *h, uint8_t *pkt, size_t len);
/* Check a parsed packet from (ip, port) that lookup matched to f (or NULL). 0: authentic
 * (its trailer trimmed off m) or nothing to check; -EBADMSG: drop it, counted auth_fail. */
int pony_flow_auth_rx(struct pony_tp *tp, const struct pony_flow *f, const struct pony_ip *ip,
		      uint16_t port, const struct pony_hdr *h, struct rte_mbuf *m, uint32_t hl);
