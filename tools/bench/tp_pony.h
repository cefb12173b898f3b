/* snapbench's Pony Express backend: a conn is a libpony stream on a snapnetd engine reached
 * through its app socket ($PONY_SOCKET). Messages are received into buffers posted ahead in
 * the shared payload area (their count is the peer's credit), sent from that area (a copy
 * of the caller's buffer, or zero-copy when an echo server sends back the buffer it was
 * just handed), and every result comes back on libpony's completion ring. One-sided reads
 * go to a region the server registers and names in a hello on every stream.
 * This header is private to the backend: tp_pony.c (the backend's operations) and
 * tp_pony_cpl.c (completions, conns and their wait lists). */
#pragma once

#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <pony.h>

#define PT_CPL_BATCH 64        /* completions taken per pony_poll */
/* Sends in flight per stream. The engine refuses sends beyond its sendq_max (run.sh
 * configures 128); staying below keeps that a -EAGAIN here instead of a failed send. */
#define PT_STREAM_SENDS 64
/* And bytes in flight per stream (past two sends): as a TCP socket's buffer bounds what it
 * holds, a few MiB cover any bandwidth-delay product here, while 64 sends of 1 MiB would
 * spread the stream over 64 MiB of buffers, out of every cache, which an application
 * streaming large messages has no reason to do (the kernel's sender reuses one buffer). */
#define PT_STREAM_BYTES (4u << 20)
#define PT_RX_DEPTH_MAX 32     /* receive buffers posted per stream */
#define PT_RX_BYTES (8u << 20) /* ... and bytes of them, past 4 buffers (the same reason) */
/* Receive buffers posted over all streams of a server, below the daemon's per-app op limit
 * (run.sh configures app_max_ops = 16384; sends in flight need ops too). A daemon with a
 * smaller limit needs $SNAPBENCH_PONY_RX_OPS set below it. */
#define PT_RX_OPS_BUDGET 8192
#define PT_TX_BUFS_MAX 8192    /* send buffers */
#define PT_NO_BUF UINT32_MAX
#define PT_GRAIN 128           /* buffer size granule (libpony's allocator block) */
#define PT_DEFAULT_SERVICE 5000
#define PT_CMD_SPIN_NS (1000ull * 1000000ull) /* longest wait for room on the command ring */
#define PT_WAITER_POLL_MS 1    /* wait bound while conns wait for room that no completion signals */

enum pt_kind { K_OPEN = 1, K_LISTEN, K_RECV, K_SEND_COPY, K_SEND_ZC, K_CLOSE, K_REGION, K_READ };

/* One-sided reads: the server registers one region and tells every stream where it is in a
 * hello, the first message on the stream, which the client's transport consumes. */
#define PT_REGION_BYTES 4096u
#define PT_HELLO_MAGIC 0x53425247u /* "SBRG" */
struct pt_hello {
	uint32_t magic;
	uint32_t region;
	uint64_t key;
};
_Static_assert(sizeof(struct pt_hello) == BENCH_MSG_MIN, "a hello fits the smallest buffer");

/* Tag layout: kind (8 bits) | conn slot (32 bits) | buffer index (24 bits). */
static inline uint64_t tag_of(enum pt_kind k, uint32_t conn, uint32_t idx)
{
	return (uint64_t)k << 56 | (uint64_t)conn << 24 | (idx & 0xffffffu);
}
static inline enum pt_kind tag_kind(uint64_t t) { return (enum pt_kind)(t >> 56); }
static inline uint32_t tag_conn(uint64_t t) { return (uint32_t)(t >> 24); }
static inline uint32_t tag_idx(uint64_t t) { return (uint32_t)(t & 0xffffffu); }

enum pt_state { S_FREE, S_OPENING, S_OPEN, S_DEAD };

struct pt_held { uint32_t slot, len; };

struct pt_conn {
	struct bench_conn pub;
	uint32_t slot;        /* index in bench_tp.conns */
	uint32_t stream;
	enum pt_state state;
	bool stream_gone;     /* CLOSE or CLOSED seen: the stream id is free */
	bool waiting;         /* on one of the wait lists (never two) */
	bool from_starved;    /* woken from starved, counted in starved_woken until served */
	bool want_tx;         /* send() said -EAGAIN: writable() is owed */
	uint32_t ops;         /* posted receives + sends not yet completed */
	uint32_t sends;       /* sends not yet completed */
	uint64_t send_bytes;  /* their bytes (pt_send's) */
	uint8_t *rx;          /* depth receive buffers of rx_size bytes, back to back */
	/* Messages the workload did not take yet (msg() said -EAGAIN), in arrival order. */
	struct pt_held held[PT_RX_DEPTH_MAX];
	uint32_t held_head, held_n;
	struct pt_conn *wnext;
	bool hello;           /* client: the server's hello arrived, remote is set */
	struct pony_remote remote;
};

struct bench_tp {
	struct bench_tp_cfg cfg;
	struct bench_tp_upcalls up;
	struct pony_app *app;
	bool server;
	uint16_t service;
	int open_err;         /* connect(): first failed open */
	uint32_t opening;     /* connect(): opens without a result yet */
	/* Conns: slots [0, hw) ever used; free ones are reused once every op of the old
	 * stream has completed, so a tag can never name the wrong conn. */
	struct pt_conn *conns;
	uint32_t cap, hw, live, next_id;
	uint32_t rx_size, depth;
	uint8_t *tx;          /* send (and read) buffers: n_tx of tx_size bytes */
	uint32_t tx_size, n_tx, tx_top;
	uint32_t *tx_free;    /* stack of free tx buffer indexes */
	uint32_t *tx_built;   /* bytes of the client's message each one holds (msg_buf) */
	uint32_t msg_held;    /* handed out by msg_buf, not yet sent; PT_NO_BUF: none */
	/* Conns waiting: to be served after the current batch (held messages, room again);
	 * for a free send buffer; for room on the command ring (no completion signals
	 * that: retried after at most PT_WAITER_POLL_MS). */
	struct pt_conn *waiters, *starved, *ringwait;
	struct pt_conn *starved_tail; /* starved is first come, first served */
	uint32_t starved_woken;       /* of them, woken and not yet served */
	bool ring_full;       /* a send met a full command ring since the engine last drained */
	uint8_t *cur_rx;      /* the receive buffer being handed to msg() */
	bool cur_taken;       /* ... and send() took it for a zero-copy echo */
	uint32_t hellos;      /* client: conns whose hello arrived */
	struct pt_hello region; /* server: what every hello says */
	uint64_t *rd_cookie;  /* reads in flight, by send buffer index (their destination) */
	void **rd_dst;
};

static inline uint32_t round_up(uint64_t n)
{
	return (uint32_t)((n + PT_GRAIN - 1) / PT_GRAIN * PT_GRAIN);
}

/* Takes a free send buffer for bytes other than the client's message (a copy, a read's
 * destination); PT_NO_BUF when none is free. */
static inline uint32_t pt_tx_take(struct bench_tp *tp)
{
	if (!tp->tx_top)
		return PT_NO_BUF;
	uint32_t i = tp->tx_free[--tp->tx_top];
	tp->tx_built[i] = 0;
	return i;
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* tp_pony_cpl.c: conns, their wait lists, and what each completion does. */
void pt_list_add(struct pt_conn **list, struct pt_conn *c);
void pt_list_wake(struct bench_tp *tp, struct pt_conn **from);
/* Queue a conn for a free send buffer; wake as many queued ones as buffers are free (all
 * of them at every freed buffer would retry a thousand conns for one buffer). */
void pt_starved_add(struct bench_tp *tp, struct pt_conn *c);
void pt_starved_wake(struct bench_tp *tp);
void pt_conn_kill(struct bench_tp *tp, struct pt_conn *c, int err, bool upcall);
struct pt_conn *pt_conn_new(struct bench_tp *tp, uint32_t stream);
void pt_handle(struct bench_tp *tp, const struct pony_completion *p);
int pt_run_waiters(struct bench_tp *tp);
int pt_drain(struct bench_tp *tp);
