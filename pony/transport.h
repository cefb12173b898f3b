/* Pony Express transport, as seen by its users inside the same engine (the app layer in
 * pony/app*.c and one-sided ops). Everything here runs on the engine's thread: no locks.
 *
 * Model: one reliable *flow* per peer engine (seq/ack/SACK, RTO, delay-based CC, pacing);
 * many *streams* multiplexed over it; a stream carries *messages* (1 B .. PONY_MSG_MAX) that
 * arrive exactly once and in order. Receiver-driven flow control: a stream's receiver grants
 * credit as receive buffers (one message each) with pony_tp_grant(); the sender transmits
 * message i only once i < credit, so a slow receiver bounds the memory both sides spend.
 * Payload is copied from the sender's buffer into mbufs at (re)transmission and from mbufs
 * into the receiver's buffer at in-order delivery; nothing else copies it.
 *
 * Changes from the first contract: pony_tp_create takes `struct pony_tp_config` (was
 * pony_tp_config_internal) and has pony_tp_destroy; upcalls are set with
 * pony_tp_set_upcalls; the engine side is pony_tp_input/poll/next_deadline; stats through
 * pony_tp_get_stats/pony_tp_flow_stats; pony_tp_open_port names the peer's UDP port;
 * state save/restore in pony/save.h.
 * Implementation: pony/transport.c, stream.c, flow.c, flowtx.c, cc.c; wire format WIRE.md.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define PONY_MSG_MAX (8u << 20) /* largest message: 8 MiB */

struct pony_tp;
struct pony_auth_keyset;

/* A peer's IP address, one key type for both families: an IPv6 address, or an IPv4 one as
 * the v4-mapped ::ffff:a.b.c.d (RFC 4291 2.5.5.2). Bytes in network order. Flows, cookies,
 * authentication identities and saved state all key on it. */
struct pony_ip {
	union {
		uint8_t b[16];
		uint32_t w[4];
		uint64_t q[2];
	};
};

/* Word 2 of a v4-mapped address (bytes 00 00 ff ff) as it lies in memory. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define PONY_IP_V4MAPPED_W2 0xffff0000u
#else
#define PONY_IP_V4MAPPED_W2 0x0000ffffu
#endif

/* The v4-mapped form of ip4 (network order). */
static inline struct pony_ip pony_ip_from4(uint32_t ip4)
{
	struct pony_ip a;
	a.q[0] = 0;
	a.w[2] = PONY_IP_V4MAPPED_W2;
	a.w[3] = ip4;
	return a;
}

/* The same as a pointer to a compound literal (for arguments: PONY_IP4(ip)). */
#define PONY_IP4(ip4) (&(const struct pony_ip){.w = {0, 0, PONY_IP_V4MAPPED_W2, (ip4)}})

static inline bool pony_ip_is4(const struct pony_ip *a)
{
	return a->q[0] == 0 && a->w[2] == PONY_IP_V4MAPPED_W2;
}

/* The IPv4 address (network order) of a v4-mapped a; 0 for an IPv6 one. */
static inline uint32_t pony_ip_4(const struct pony_ip *a)
{
	return pony_ip_is4(a) ? a->w[3] : 0;
}

/* A 32-bit name of a for tables keyed by peer (admission control): the IPv4 address
 * itself, or the IPv6 address folded (two peers whose names collide share an entry). */
static inline uint32_t pony_ip_key32(const struct pony_ip *a)
{
	return pony_ip_is4(a) ? a->w[3] : a->w[0] ^ a->w[1] ^ a->w[2] ^ a->w[3];
}

static inline bool pony_ip_eq(const struct pony_ip *a, const struct pony_ip *b)
{
	return ((a->q[0] ^ b->q[0]) | (a->q[1] ^ b->q[1])) == 0;
}
struct rte_mbuf;
struct rte_mempool;

/* Upcalls from the transport into its user (set with pony_tp_set_upcalls or in the config).
 * `owner` is the pointer the user gave when it opened or accepted the stream. Upcalls never re-enter the transport for the same stream
 * except through the functions documented as safe from upcalls (grant, send, close). */
struct pony_tp_upcalls {
	/* A peer opened a stream to `service` on which the user listens. Return 0 and set
	 * *owner to accept, or -errno to refuse (the opener's opened() sees -ECONNREFUSED). */
	int (*accept)(void *listener, uint32_t sid, const struct pony_ip *peer, uint16_t service,
		      void **owner);
	/* Result of pony_tp_open: 0 established, or -ECONNREFUSED (refused), -ETIMEDOUT (no
	 * answer within dead_timeout), -ECONNRESET (the peer restarted meanwhile). Not called
	 * for a stream the user closed before the answer came. */
	void (*opened)(void *owner, uint32_t sid, int status);
	/* The next message (in stream order) of `len` bytes begins. The user returns where to
	 * put it: a writable destination of at least `len` bytes, and a cookie. Returning NULL
	 * means the receive buffer is too small: the transport discards the message's bytes and
	 * reports it through rx_done with -EMSGSIZE (it still consumes that buffer's credit). */
	void *(*rx_begin)(void *owner, uint32_t sid, uint32_t len, uint64_t *cookie);
	/* The message is complete (status 0) or was discarded (-EMSGSIZE). A message whose
	 * rx_begin was called but that can no longer complete reports the reason instead:
	 * -ECANCELED (local close), -ECONNRESET (peer closed or restarted), -ETIMEDOUT (peer
	 * dead). Either way the buffer given by rx_begin is the user's again. */
	void (*rx_done)(void *owner, uint32_t sid, uint64_t cookie, uint32_t len, int status);
	/* A message sent with pony_tp_send is acknowledged by the peer's transport (0) or has
	 * failed (-ECONNRESET peer closed or restarted, -ETIMEDOUT peer dead, -ECANCELED local
	 * close, -ECONNREFUSED the open was refused). Completions come in send order. */
	void (*tx_done)(void *owner, uint32_t sid, uint64_t cookie, int status);
	/* The stream ended: the peer closed it (0) or the flow failed (-ETIMEDOUT peer dead,
	 * -ECONNRESET peer restarted). After this the sid is invalid; pending tx/rx were already
	 * completed with errors. Not called after a local pony_tp_close, nor for a stream whose
	 * opened() reported an error. */
	void (*closed)(void *owner, uint32_t sid, int status);
	/* Optional (NULL: not asked). Where rx_begin, called now for a message of `len` bytes,
	 * would put it, or NULL if it would return NULL or cannot tell; no side effect. The
	 * transport then copies a message's first segment there while it checks the segment's
	 * checksum (one pass instead of a check and a copy), before it calls rx_begin: a
	 * segment that fails the check leaves its bytes in that buffer, beyond what any message
	 * delivered into it later covers or overwritten by it. */
	void *(*rx_peek)(void *owner, uint32_t sid, uint32_t len);
};

/* The largest IP MTU a transport takes: an af_packet port's (SNAP_PORT_MTU_MAX_AFP; other
 * ports stop at 9,000). */
#define PONY_MTU_MAX 64000

/* Transport configuration (the pony element fills it from its config block; tests directly).
 * Limits size the fixed pools allocated at create: nothing is allocated afterwards except
 * mbufs from `pool`. Zero fields take the documented defaults. */
struct pony_tp_config {
	uint32_t local_ip;      /* network byte order; 0: none (an IPv6-only engine) */
	uint8_t local_ip6[16];  /* ours for IPv6 peers; all zero: none. The local address of a
				 * flow (its authentication identity) is the one of its peer's
				 * family. */
	uint16_t local_port;    /* our engine's UDP port, host order */
	uint16_t mtu;           /* IP MTU, 576..PONY_MTU_MAX; segment payload = mtu - 28 -
				 * PONY_HDR_MAX (1500) */
	uint32_t max_flows;     /* peers (64) */
	uint32_t max_streams;   /* streams over all flows (1024) */
	uint32_t window;        /* packets in flight per flow, power of 2, 64..16384 (256) */
	uint32_t sendq_max;     /* queued messages per stream before -ENOBUFS, pow2 (64) */
	uint64_t tsc_hz;        /* clock rate of the now_tsc arguments (rte_get_tsc_hz()) */
	uint32_t rto_min_us;    /* (200) */
	uint32_t rto_max_us;    /* (100000) */
	uint32_t rto_init_us;   /* before the first RTT sample (1000) */
	uint32_t keepalive_us;  /* probe an idle flow with open streams after this (10000) */
	uint32_t dead_timeout_us; /* peer silent this long with state pending: fail (1000000) */
	uint32_t ack_delay_us;  /* an ack for one new packet waits this long for a packet of
				 * ours to carry it, e.g. an RPC's reply (20; 1 = at once) */
	uint32_t target_delay_us; /* CC base target fabric delay (25) */
	uint32_t target_per_hop_us; /* added per hop (1); hops from config `hops` */
	uint32_t hops;          /* assumed hop count for the target (3) */
	uint32_t target_base_max_us; /* add each flow's minimum delay to its target, up to
				      * this (0: fixed target; the pony element's default is
				      * 100000) */
	double cc_ai;           /* additive increase, packets per RTT (1.0) */
	double cc_beta;         /* multiplicative decrease factor (0.8) */
	double cc_max_mdf;      /* max decrease per RTT (0.5) */
	double cwnd_min;        /* packets, may be < 1: then paced (0.01) */
	double cwnd_max;        /* packets (window) */
	double cwnd_init;       /* packets (16) */
	uint32_t seed;          /* unused: flow ids and ISNs come from a getrandom() key */
	uint32_t max_flows_per_peer;   /* flows one peer IP may make us hold (max_flows/8, >= 1) */
	uint32_t max_streams_per_peer; /* streams one peer IP may open here (max_streams/4) */
	struct rte_mempool *pool; /* mbufs for transmit (data room >= headroom + mtu) */
	/* Transmit hook (local_port: the flow's UDP source port): takes ownership of n packets whose data starts at the Pony header and
	 * whose headroom can take Ethernet/IPv4/UDP. Returns how many it accepted; the
	 * transport frees the rest (counted) and relies on retransmission. */
	uint16_t (*xmit)(void *ctx, const struct pony_ip *peer, uint16_t peer_port,
			 uint16_t local_port, struct rte_mbuf **pkts, uint16_t n);
	void *xmit_ctx;
	/* Flow steering (optional; NULL: every flow uses local_port): called with xmit_ctx when
	 * we open a flow to peer_ip:peer_port, returns the flow's local UDP port (0: local_port),
	 * e.g. one whose return traffic the NIC steers to this engine (snap/steer.h). Flows the
	 * peer opens use local_port. The peer keys the flow by our address and this port. */
	uint16_t (*pick_port)(void *ctx, const struct pony_ip *peer, uint16_t peer_port);
	const struct pony_tp_upcalls *up; /* may be set later with pony_tp_set_upcalls */
	/* Authenticated flows (pony/auth.h; NULL: off). Copied at create. When on, every packet
	 * sent carries an AES-GCM tag under the set's sending key, and a packet received without
	 * a valid tag under one of its keys is dropped (counted auth_fail); segments are
	 * PONY_AUTH_TRAILER bytes smaller. Both ends of a flow must agree on on/off. */
	const struct pony_auth_keyset *auth_keys;
	/* Priority classes (pony/qos.h, issue 21), indexed by PONY_QOS_*: weights of the
	 * weighted round robin over the classes' data, in packets (0: 8, 4, 1), and each
	 * class's RPC latency target for admission control (0: none; not for scavenger). */
	uint32_t qos_weight[3];
	uint32_t qos_slo_us[3];
	uint32_t qos_slo_pct; /* the SLOs are for this percentile, 50..99 (0: 99) */
	/* A flow that had nothing queued at its previous turn hands xmit its next batch in
	 * pieces of at least this many bytes, so the peer starts on the first frames while we
	 * build the rest (flowtx.c flow_tx). UINT32_MAX: whole batches, for a port whose every
	 * transmit call is a system call (0: PONY_TX_LEAD_BYTES). */
	uint32_t tx_lead_bytes;
	/* Yielding (pony/qos.h): while a class has sent within qos_yield_hold_us (10000), the
	 * lower classes' data keeps each flow's delay near its base + qos_yield_delay_us (10)
	 * instead of target_delay_us, and critical data may pass a full window by
	 * qos_crit_burst packets (4). */
	uint32_t qos_yield_delay_us;
	uint32_t qos_yield_hold_us;
	uint32_t qos_crit_burst;
	/* Path MTU (pony/pmtu.h): false (default) sends at a 1,500-byte MTU's segment until a
	 * probe of the agreed size is acked; true trusts both ports' MTUs from the handshake. */
	bool pmtu_trust;
	/* NUMA node of the transport's tables (the engine's, snap_engine_socket; -1
	 * SOCKET_ID_ANY: the caller's; 0 in a zeroed config is node 0). */
	int socket_id;
};

/* Create a transport. cfg is copied. NULL with errno EINVAL (bad limits, no pool/xmit/tsc_hz)
 * or ENOMEM. */
struct pony_tp *pony_tp_create(const struct pony_tp_config *cfg);
/* Replace the keys of an authenticated transport (rotation, engine thread): sending switches
 * to ks's sending key at once, receiving accepts exactly ks's keys; flows stay up. 0, or
 * -EINVAL (created without auth_keys, or ks empty). */
int pony_tp_auth_set_keys(struct pony_tp *tp, const struct pony_auth_keyset *ks);
/* Destroy: frees held mbufs and pools; no upcalls are made. NULL is a no-op. */
void pony_tp_destroy(struct pony_tp *tp);
/* Set the upcall table (the app layer does this once before listening/opening). */
void pony_tp_set_upcalls(struct pony_tp *tp, const struct pony_tp_upcalls *up);

/* now_tsc (here and in pony_tp_poll): the caller's TSC reading. It may lag a value passed
 * earlier (callers sample at different moments); the transport's clock only moves forward.
 *
 * Feed received packets (data at the Pony header, UDP payload) from an IPv4 peer (ip network
 * order, udp port host order). Consumes (frees) every mbuf. Malformed ones are counted drops.
 * pony_tp_input_at takes a peer of either family. */
void pony_tp_input(struct pony_tp *tp, uint32_t peer_ip, uint16_t peer_port,
		   struct rte_mbuf **pkts, uint16_t n, uint64_t now_tsc);
/* Run timers (RTO, keep-alive, dead peers), flush acks and transmit what cwnd, pacing and
 * credits allow. Bounded work; returns units done (0 idle). */
unsigned pony_tp_poll(struct pony_tp *tp, uint64_t now_tsc);
/* pony_tp_input with the packets' host arrival time: rx_tsc is the earliest TSC at which
 * they may have reached this host (e.g. when the engine last found its input empty; clamped
 * to now). The time a packet sat in a ring while the engine slept or was busy is host
 * delay, not fabric delay: congestion control sees the delay from rx_tsc (here and in the
 * hold time the peer is told), RTO still the full round trip. pony_tp_input is this with
 * rx_tsc = now_tsc. */
void pony_tp_input_at(struct pony_tp *tp, const struct pony_ip *peer, uint16_t peer_port,
		      struct rte_mbuf **pkts, uint16_t n, uint64_t now_tsc, uint64_t rx_tsc);
/* Earliest TSC at which pony_tp_poll has timed work: now-ish if something can be sent,
 * UINT64_MAX if nothing is pending. */
uint64_t pony_tp_next_deadline(const struct pony_tp *tp);

/* Transport-wide counters (sum over flows plus packet-level drops). */
struct pony_tp_stats {
	uint64_t tx_pkts, rx_pkts, tx_bytes, rx_bytes;
	uint64_t data_tx, data_rx, retransmits, fast_retransmits, timeouts;
	uint64_t acks_tx, acks_rx, probes_tx, dup_rx, ooo_rx, out_of_window;
	uint64_t malformed, bad_version, bad_csum, no_flow, rst_tx, rst_rx;
	uint64_t no_mbuf, xmit_full, flows_failed, flows_created, msgs_tx, msgs_rx;
	uint64_t held_mbufs; /* mbufs held for reassembly right now (gauge) */
	uint64_t credit_stalls; /* times a stream had data but no credit */
	uint64_t rst_limited;   /* stateless replies (RST, cookie SYN_ACK, challenge ACK) not
				 * sent: rate limit */
	uint64_t auth_fail;     /* dropped: missing, unknown-key or wrong tag (authenticated
				 * mode), or a tag we cannot check (auth off) */
	/* Defences against a hostile peer (pony/WIRE.md "Handshake", "Resets"). */
	uint64_t cookie_tx;     /* SYN_ACKs sent without state (cookie) */
	uint64_t cookie_ok;     /* flows created when the peer echoed a valid cookie */
	uint64_t cookie_bad;    /* packets for no flow whose dst_flow is not our cookie */
	uint64_t refused_flow_budget;   /* SYNs/handshakes from a peer IP at its flow budget */
	uint64_t refused_stream_budget; /* OPENs from a peer IP at its stream budget */
	uint64_t refused_no_listener;   /* OPENs to a service nobody listens on */
	uint64_t refuse_deferred; /* OPENs left unacked: refusal queue or window full */
	uint64_t challenge_ack_tx; /* challenge ACKs: unexpected SYN or inexact RST */
	uint64_t rst_bad_seq;   /* RSTs ignored: ids or seq do not match the flow */
	uint64_t ack_invalid;   /* acks of seqs never sent: ignored */
	uint64_t ack_timeouts;  /* flows failed: the peer acked nothing for dead_timeout */
	uint64_t spurious_timeouts; /* retransmit timeouts undone: the original was acked */
	uint64_t credit_tx;     /* CREDIT packets: a credit owed with no data to ride on */
};
void pony_tp_get_stats(const struct pony_tp *tp, struct pony_tp_stats *st);
/* DATA payloads whose checksum was computed in their copy to the app's buffer (the receive
 * path's one pass); kept beside the saved stats, so it restarts at an upgrade. */
uint64_t pony_tp_rx_placed(const struct pony_tp *tp);

/* Flow states, in their numeric order (the state field of pony_flow_stats), with the names
 * snapctl and logs print. */
#define PONY_FLOW_STATES(X)                                                                \
	X(FREE, "free")                                                                    \
	X(SYN_SENT, "syn_sent")                                                            \
	X(ESTABLISHED, "established")                                                      \
	X(FAILED, "failed")
/* Name of a flow state, "?" if unknown. */
const char *pony_flow_state_name(uint8_t state);

/* Per-flow state and counters (for snapctl and tests). */
struct pony_flow_stats {
	struct pony_ip peer;
	uint32_t peer_ip; /* IPv4 peers: pony_ip_4(&peer); 0 for IPv6 ones */
	uint16_t peer_port;
	uint16_t local_port; /* our UDP port for the flow (steered flows: not local_port) */
	uint8_t state; /* PONY_FLOW_STATES order: pony_flow_state_name() */
	uint32_t n_streams;
	double cwnd;   /* packets */
	uint64_t srtt_ns, rttvar_ns, rto_ns, last_delay_ns, min_delay_ns;
	uint32_t inflight;
	uint32_t seg_max; /* payload bytes per DATA packet now (pony/pmtu.h) */
	uint32_t seg_agreed; /* the largest both MTUs take (handshake): seg_max once probed */
	uint64_t delay_samples, retransmits, timeouts, fast_retransmits, cc_decreases;
	uint64_t spurious_timeouts;
	uint64_t tx_bytes, rx_bytes, tx_pkts, rx_pkts;
	/* DATA packets and payload bytes per priority class (PONY_QOS_* order, pony/qos.h). */
	uint64_t cls_tx_pkts[3], cls_tx_bytes[3], cls_rx_pkts[3], cls_rx_bytes[3];
	/* Yielding (pony/qos.h): the lower classes' window (packets) and the packet time the
	 * acks show (0: no estimate yet), the least queue the yield target asks for. */
	double yield_cwnd;
	uint64_t pkt_time_ns;
};
/* Fill st for the i-th flow slot; -ENOENT past the end, -ESRCH if slot i is free. */
int pony_tp_flow_stats(const struct pony_tp *tp, unsigned i, struct pony_flow_stats *st);

/* Listen on service (a 16-bit service number, per engine). 0, -EADDRINUSE, -ENOSPC (64
 * listeners). unlisten: 0 or -ENOENT. */
int pony_tp_listen(struct pony_tp *tp, uint16_t service, void *listener);
int pony_tp_unlisten(struct pony_tp *tp, uint16_t service);

/* Open a stream to (peer, service). Sets *sid at once; opened()
 * reports the result (-ETIMEDOUT when the peer does not answer within dead_timeout). Messages
 * may be queued with pony_tp_send and credits granted before opened(). 0, -EHOSTUNREACH
 * (flow table full), -ENOSPC (stream limit), -EINVAL (no upcalls set), -EAFNOSUPPORT (we
 * have no address of the peer's family). */
int pony_tp_open(struct pony_tp *tp, const struct pony_ip *peer, uint16_t service, void *owner,
		 uint32_t *sid);

/* Same, to a peer of either family on an explicit UDP port (pony_tp_open uses our own
 * local_port: engines that talk to each other usually share one port number on every host). */
int pony_tp_open_port(struct pony_tp *tp, const struct pony_ip *peer, uint16_t peer_port,
		      uint16_t service, void *owner, uint32_t *sid);

/* The peer of stream sid into *out. 0 or -ENOTCONN (unknown sid). */
int pony_tp_stream_peer(const struct pony_tp *tp, uint32_t sid, struct pony_ip *out);

/* Queue a message of len bytes from buf. buf must stay valid and unchanged until tx_done
 * (the transport reads it at every (re)transmission). 0, -EINVAL (len 0 or > PONY_MSG_MAX),
 * -ENOTCONN, -ENOBUFS (the stream's send queue limit). Safe from upcalls. */
int pony_tp_send(struct pony_tp *tp, uint32_t sid, const void *buf, uint32_t len,
		 uint64_t cookie);

/* pony_tp_send in priority class cls (PONY_QOS_*; pony_tp_send is class normal). When cls
 * has an SLO, admission control (pony/qos.h) may run the message in the next lower class:
 * *ran (if not NULL) gets the class it runs in. Its latency is measured in that class: from
 * here to tx_done, or with PONY_QOS_RPC or'ed into cls, to the next message the stream
 * delivers (its response). Errors as pony_tp_send; -EINVAL also for cls out of range. */
int pony_tp_send_qos(struct pony_tp *tp, uint32_t sid, const void *buf, uint32_t len,
		     unsigned cls, unsigned *ran, uint64_t cookie);

/* Inside rx_done: the class code (pony_qos_code, 0 normal) the sender ran the message being
 * completed in (a segment held across an upgrade reads as normal). A receiver that answers
 * in that class keeps an RPC's class on the way back, downgraded or not. */
unsigned pony_tp_rx_code(const struct pony_tp *tp);

/* The weights of the classes (3, PONY_QOS_* order; the app layer serves commands by them). */
const uint32_t *pony_tp_qos_weight(const struct pony_tp *tp);

/* Per-class counters and completion-latency percentiles (3 entries, PONY_QOS_* order;
 * the struct is pony/qos.h's pony_qos_class_stats). */
struct pony_qos_class_stats;
void pony_tp_qos_stats(const struct pony_tp *tp, struct pony_qos_class_stats *out);
/* The same as named counters for `snapctl stats` ("qos_critical_tx_pkts",
 * "qos_normal_p99_ns", "qos_scavenger_downgraded"...: tx/rx pkts and bytes, rpcs,
 * slo_missed, downgraded, p50/p99/p999 of the completion latency, yielded and
 * slo_missed_floor, per class). */
void pony_tp_qos_report(const struct pony_tp *tp,
			void (*fn)(void *ctx, const char *name, uint64_t value), void *ctx);

/* Path MTU probing's counters (pony/pmtu.h) for `snapctl stats`: "pmtu_probes_tx",
 * "pmtu_raised" (flows that went up to their agreed segment), "pmtu_failed" (probes lost). */
void pony_tp_pmtu_report(const struct pony_tp *tp,
			 void (*fn)(void *ctx, const char *name, uint64_t value), void *ctx);

/* Grant n more receive buffers (credits) on the stream. 0, -ENOTCONN, -EINVAL (more than
 * 2^30 outstanding). Safe from upcalls. */
int pony_tp_grant(struct pony_tp *tp, uint32_t sid, uint32_t n);

/* Close a stream: pending sends complete with -ECANCELED (and a partly received message
 * with rx_done(-ECANCELED)) before this returns; the peer sees closed(0) after every
 * message sent before the close was delivered. 0 or -ENOTCONN (unknown/closed sid). Safe
 * from upcalls. */
int pony_tp_close(struct pony_tp *tp, uint32_t sid);
