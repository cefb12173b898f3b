/* Ports: DPDK ethdevs (virtual or PCI) with their addressing, mempool and neighbour table.
 * Each rx/tx queue pair is owned by exactly one engine (claimed when the port_rx/port_tx
 * element is built). Ports are created by the daemon at start and live until shutdown. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_hash.h>
#include <rte_mempool.h>

#define SNAP_PORT_QUEUES_MAX 16
#define SNAP_NEIGH_ENTRIES 1024  /* neighbour cache size per port */
#define SNAP_NEIGH_DEAD_MAX 64   /* evicted slots awaiting their grace period */
#define SNAP_NEIGH_ASKED 16      /* outstanding ARP requests remembered per port */

struct rte_flow;
struct snap_engine;

/* An evicted neighbour key slot, freed after its grace period (core/neigh.c). */
struct snap_neigh_dead {
	int32_t pos;
	uint64_t tsc;
};

/* A port's IPv6 neighbour cache (core/neigh.c, the same bounded lock-free table as the IPv4
 * one, keyed by the 16-byte address): written only by the icmp6 element of the engine in
 * neigh_writer, read by any engine; changes bump the port's neigh_gen too. */
struct snap_port_nd6 {
	struct rte_hash *tab;
	uint32_t hand;
	unsigned n_dead;
	struct snap_neigh_dead dead[SNAP_NEIGH_DEAD_MAX];
	/* Targets we sent a solicitation for and whose advertisement is not in yet, as a keyed
	 * 32-bit hash of the address (0 = free slot; a 16-byte slot cannot be swapped
	 * lock-free): only those advertisements may add or change an entry. The key is random
	 * per port so a peer cannot aim a forged advertisement at a colliding slot. */
	_Atomic uint32_t asked[SNAP_NEIGH_ASKED];
	uint32_t asked_key;
	uint64_t updates, full, evicted;
};

enum snap_port_kind {
	SNAP_PORT_MEMIF,
	SNAP_PORT_VHOST,
	SNAP_PORT_VIRTIO_USER,
	SNAP_PORT_AF_PACKET,
	SNAP_PORT_AF_XDP,
	SNAP_PORT_TAP,
	SNAP_PORT_RING,
	SNAP_PORT_NULL,
	SNAP_PORT_PCI,
};

struct snap_port {
	char name[32];
	enum snap_port_kind kind;
	uint16_t port_id;              /* DPDK ethdev id */
	/* The device is started: its queue owners may burst on it. DPDK forbids rx/tx bursts
	 * concurrent with rte_eth_dev_stop/start, so the control thread clears this and waits
	 * for every owner to pass a quiescent point (snap_port_sync_owners) before it stops the
	 * device, and sets it (release) only once a start succeeded. Owners load it (acquire)
	 * before every burst: see snap_port_started(). */
	_Atomic bool started;
	bool memif_client;             /* memif role client: the daemon reconnects it (portlink.c) */
	bool virtio_client;            /* virtio-user client: probed again when its link drops */
	bool zero_copy;                /* memif client in zero-copy mode (core/portzc.c) */
	uint32_t generation;           /* bumped by each probe after the first: interrupt fds
	                                * taken before are stale */
	int socket_id;                 /* NUMA node (from the device; 0 if unknown) */
	struct rte_ether_addr mac;
	uint32_t ip;                   /* network byte order; 0 if none */
	uint8_t prefix_len;
	uint16_t mtu;
	uint16_t n_rxq, n_txq;
	bool rx_intr;                  /* rx interrupts enabled at configure time */
	/* With rx_intr: an eventfd per rx queue (the first n_link_efd), written on each link
	 * or queue-state event of the device (core/portwake.c). The queue's owner sleeps on it
	 * beside its interrupt fd and arms again when woken: a vhost-user peer that connects
	 * or reconnects starts with its notifications off, so an rx interrupt armed before
	 * would never fire. Process-local, kept across re-probes. */
	uint16_t n_link_efd;
	int link_efd[SNAP_PORT_QUEUES_MAX];
	uint64_t rss_hf;               /* RSS hash types configured (snap/steer.h key); 0: none */
	/* Flow steering (core/portsteer.c), decided at start and fixed after: the mode (enum
	 * snap_steer_mode), the steered UDP port blocks, the rte_flow rules installed (FLOW) and,
	 * when rules were refused, why (for snapctl ports; "" otherwise). */
	uint8_t steer_mode;
	uint16_t steer_base, steer_block;
	uint16_t steer_rules;
	struct rte_flow *steer_flow[SNAP_PORT_QUEUES_MAX];
	char steer_why[128];
	struct rte_mempool *pool;      /* rx and tx mbufs, on socket_id */
	/* Neighbour cache (core/neigh.c): IPv4 (network order) -> MAC packed in the low 48 bits
	 * of the data pointer, with a static flag and the learn time above. Written only by the
	 * arp elements of one engine, neigh_writer (and the port setup before), read lock-free
	 * by any engine (RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF). */
	struct rte_hash *neigh;
	/* Bumped (release) after every change of an entry, so a sender may cache a lookup and
	 * trust it while the generation it read before the lookup is still current. */
	_Atomic uint32_t neigh_gen;
	/* The engine whose arp elements write neigh: claimed by the first arp element built on
	 * the port; an arp element of another engine is refused (one writer). Build time. */
	struct snap_engine *neigh_writer;
	/* Eviction (the writer's only): sampling position, and the key slots of evicted
	 * entries, freed only after a grace period (a lock-free reader may still be in one). */
	uint32_t neigh_hand;
	unsigned neigh_n_dead;
	struct snap_neigh_dead neigh_dead[SNAP_NEIGH_DEAD_MAX];
	/* Addresses we asked for (snap_port_neigh_solicit, any engine) whose reply is not in yet:
	 * only those replies may add an entry. 0 = free slot. */
	_Atomic uint32_t neigh_asked[SNAP_NEIGH_ASKED];
	struct snap_engine *rxq_owner[SNAP_PORT_QUEUES_MAX];
	struct snap_engine *txq_owner[SNAP_PORT_QUEUES_MAX];
	/* Set by the queue's owner (on its thread) around a tx burst whose first txq_skip
	 * packets the queue refused before: a tx capture callback, which runs inside that burst
	 * on the same thread, skips them because it recorded them at their first offer. */
	uint16_t txq_skip[SNAP_PORT_QUEUES_MAX];
	/* af_packet direct transmit (core/portafptx.c, port setting tx_direct): a ring-less
	 * packet socket per tx queue, opened at setup; off while a capture watches the
	 * port's transmit side (tx_capture, set by the control thread: DPDK's tx callbacks
	 * only see rte_eth_tx_burst). */
	uint16_t n_afp_tx_fd; /* one per tx queue, or 0: the PMD sends */
	int afp_tx_fd[SNAP_PORT_QUEUES_MAX];
	/* What each queue sent that way and what the kernel refused for good: written by the
	 * queue's owner alone (relaxed), read by the control thread, which adds them to the
	 * ethdev counters it reports (those never see these frames). */
	struct snap_port_direct_stats {
		uint64_t pkts, bytes, dropped;
	} afp_tx_st[SNAP_PORT_QUEUES_MAX];
	_Atomic bool tx_capture;
	uint64_t neigh_updates;
	uint64_t neigh_full;           /* learns refused: table full and nothing evictable yet */
	uint64_t neigh_evicted;        /* entries evicted to make room (oldest of a sample) */
	/* Link keeping (memif clients; control thread only): connection attempts made after
	 * start-up while the link was down, and links brought up by one of them. */
	uint64_t reconnect_attempts;
	uint64_t reconnects;
	uint64_t start_ns;             /* CLOCK_MONOTONIC of the last successful start */
	/* IPv6 (config key ip6): the address and its on-link prefix; has_ip6 false: none (then
	 * nd6 is unused and the IPv6 elements drop everything as not_for_us). */
	bool has_ip6;
	uint8_t prefix6_len;
	uint8_t ip6[16];
	struct snap_port_nd6 nd6;
};

/* May the owner of one of p's queues burst on it now? (Engine threads, every burst.) */
static inline bool snap_port_started(const struct snap_port *p)
{
	return atomic_load_explicit(&p->started, memory_order_acquire);
}

/* The eventfd rx queue q's owner sleeps on to learn of p's link events (above), or -1
 * (p has no rx interrupts). The owner reads it empty when it disarms. */
static inline int snap_port_link_wake_fd(const struct snap_port *p, uint16_t q)
{
	return q < p->n_link_efd ? p->link_efd[q] : -1;
}

/* memif rx "interrupts" (core/portkick.c): the memif protocol's kicks, which DPDK 22.11's
 * PMD sends but never asks for. Owner of rx queue q (its engine thread) only.
 * open: a new fd (the caller closes it) that the peer's transmits make readable while q is
 * armed; -ENOTSUP (not memif, or a DPDK whose memif internals this build does not know, or
 * no kcmp: poll instead, for good), -ENOTCONN (no connection now: try again later).
 * arm true: the peer kicks from now on; 0, -ESTALE (fd is not q's eventfd any more: a
 * reconnect; close it and open again), -ENOTCONN, -ENOTSUP. A kick can still be missed in
 * a narrow race on the peer's side: sleep no longer than a guard (SNAP_ARM_GUARDED).
 * arm false: the peer stops kicking; 0 or -ENOTCONN (nothing to undo). */
int snap_port_kick_open(const struct snap_port *p, uint16_t q);
int snap_port_kick_arm(const struct snap_port *p, uint16_t q, int fd, bool arm);

/* af_packet rx "interrupts" (core/portafpfd.c): the packet socket of rx queue q, which the
 * kernel makes readable while frames wait in its ring (level-triggered: nothing to arm or
 * drain; a pending socket error, e.g. ENETDOWN while the interface is down, also wakes,
 * until SO_ERROR is read). The PMD's own fd, found in /proc/self/fd: valid until the port
 * stops or is probed again (its generation changes). -ENOTSUP (not af_packet, or more than
 * one queue: which socket serves which queue cannot be told), -ENOENT (no such socket),
 * -EEXIST (two on the interface). Control thread, at build time. */
int snap_port_afp_rx_fd(const struct snap_port *p, uint16_t q);

/* Send up to n frames on tx queue q of an af_packet port with direct transmit (its queue's
 * owner only): sent frames are freed and counted in afp_tx_st[q], as are frames the kernel
 * refuses for good (too long, interface down: `dropped`); returns how many of pkts are
 * gone, the rest (the kernel's queue full) the caller keeps and offers again. */
struct rte_mbuf;
uint16_t snap_port_afp_tx(struct snap_port *p, uint16_t q, struct rte_mbuf **pkts,
			  uint16_t n);
/* The sum of afp_tx_st over p's queues (any thread). */
void snap_port_direct_stats(const struct snap_port *p, struct snap_port_direct_stats *out);

/* Whether tx queue bursts of p go out by snap_port_afp_tx rather than the PMD. */
static inline bool snap_port_tx_direct(const struct snap_port *p)
{
	return p->n_afp_tx_fd && !atomic_load_explicit(&p->tx_capture, memory_order_relaxed);
}

/* p's device exists (not closed by an upgrade's release, nor by a re-probe that failed):
 * only then does port_id name a DPDK port to read link, stats or capabilities from. Control
 * thread. */
bool snap_port_device_open(const struct snap_port *p);

/* Lookup by config name; NULL if none. */
struct snap_port *snap_port_find(const char *name);
struct snap_port *snap_port_at(unsigned i);
unsigned snap_port_count(void);
const char *snap_port_kind_name(enum snap_port_kind k);

/* Each transmit burst on port p is a system call into the kernel's stack, which runs the
 * receiving side's path on the calling CPU (af_packet, af_xdp, tap): more, smaller bursts
 * only add calls there. Shared-memory rings and NICs take a burst without one. */
static inline bool snap_port_tx_syscall(const struct snap_port *p)
{
	return p->kind == SNAP_PORT_AF_PACKET || p->kind == SNAP_PORT_AF_XDP ||
	       p->kind == SNAP_PORT_TAP;
}

/* Claim rx (tx) queue q of port for engine e (at build time, engine parked). 0 (also when
 * e owns it already), -EBUSY (owned by another engine), -EINVAL (no such queue). */
int snap_port_claim_rxq(struct snap_port *p, uint16_t q, struct snap_engine *e);
int snap_port_claim_txq(struct snap_port *p, uint16_t q, struct snap_engine *e);
/* Give back rx (tx) queue q if e owns it (an element's destroy, engine parked), so another
 * engine may claim it. 0 (released), -ENOENT (e does not own it: nothing changes; an init
 * that failed to claim may call it), -EINVAL (no such queue). */
int snap_port_release_rxq(struct snap_port *p, uint16_t q, const struct snap_engine *e);
int snap_port_release_txq(struct snap_port *p, uint16_t q, const struct snap_engine *e);

/* Make every engine that owns one of p's queues pass a quiescent point (an empty closure
 * through its mailbox; run directly if parked): once this returns 0, no burst that started
 * before the call is still running, and later bursts see what the caller stored before it.
 * Control thread only. 0, or the first snap_engine_call error (-ETIMEDOUT, -EBUSY; the
 * engine is named in the log), after trying every owner. */
int snap_port_sync_owners(struct snap_port *p, unsigned timeout_ms);

/* Neighbour cache (core/neigh.c). Bounded: when it is full, learning a new address evicts
 * the oldest-learned of a few sampled dynamic entries (static ones, from the config, are
 * never evicted nor changed by learning).
 * create: port setup; 0 or -rte_errno. static: a config entry; 0 or -ENOSPC.
 * learn (the port's single writer): 0 (added or updated; an eviction is counted in
 * neigh_evicted), -EPERM (a static entry), -ENOSPC (full and no slot out of its grace period
 * yet; counted in neigh_full).
 * lookup (any engine): 0 and *mac, or -ENOENT. known: whether ip has an entry. */
int snap_port_neigh_create(struct snap_port *p);
int snap_port_neigh_static(struct snap_port *p, uint32_t ip, const struct rte_ether_addr *mac);
int snap_port_neigh_learn(struct snap_port *p, uint32_t ip, const struct rte_ether_addr *mac);
int snap_port_neigh_lookup(const struct snap_port *p, uint32_t ip, struct rte_ether_addr *mac);
/* The neighbour table's generation: read it before a lookup; a cached result stays valid
 * while the generation is unchanged (any engine, lock-free). */
static inline uint32_t snap_port_neigh_gen(const struct snap_port *p)
{
	return atomic_load_explicit(&p->neigh_gen, memory_order_acquire);
}
bool snap_port_neigh_known(const struct snap_port *p, uint32_t ip);
/* Outstanding ARP requests (any engine, lock-free): solicit records that we asked for ip
 * (an older request sharing its slot is forgotten); solicited answers whether a reply from
 * ip was asked for, and forgets it (one reply per request). */
void snap_port_neigh_solicit(struct snap_port *p, uint32_t ip);
bool snap_port_neigh_solicited(struct snap_port *p, uint32_t ip);

/* Is ip (network order) on this port's subnet? */
bool snap_port_on_link(const struct snap_port *p, uint32_t ip);

/* IPv6 neighbour cache (p->nd6; core/neigh.c): the same contracts as the IPv4 calls above,
 * with a 16-byte address. All return -ENOENT (lookup, learn, static) or false when the port
 * has no IPv6 address (no table). create: port setup, a no-op without ip6. */
int snap_port_nd6_create(struct snap_port *p);
void snap_port_nd6_destroy(struct snap_port *p);
int snap_port_nd6_static(struct snap_port *p, const uint8_t ip6[16],
			 const struct rte_ether_addr *mac);
int snap_port_nd6_learn(struct snap_port *p, const uint8_t ip6[16],
			const struct rte_ether_addr *mac);
int snap_port_nd6_lookup(const struct snap_port *p, const uint8_t ip6[16],
			 struct rte_ether_addr *mac);
bool snap_port_nd6_known(const struct snap_port *p, const uint8_t ip6[16]);
void snap_port_nd6_solicit(struct snap_port *p, const uint8_t ip6[16]);
bool snap_port_nd6_solicited(struct snap_port *p, const uint8_t ip6[16]);
/* Is ip6 on this port's IPv6 prefix (false without an IPv6 address)? */
bool snap_port_on_link6(const struct snap_port *p, const uint8_t ip6[16]);

