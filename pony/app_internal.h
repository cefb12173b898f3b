/* Private state of the daemon-side app layer shared by app.c (sessions, upcalls,
 * completions) and app_cmd.c (command validation and execution). Engine thread only. */
#pragma once

#include "pony/app.h"
#include "pony/onesided.h"
#include "pony/qos.h"
#include "pony/shm.h"

#define APP_NONE UINT32_MAX
#define APP_STREAM_IDX_BITS 16 /* stream id = gen << 16 | index; gen never 0 */
#define APP_BURST 32u          /* commands per session per round */
/* Completion credit a command needs before it is taken off the ring: one immediate
 * completion plus at most PONY_RECV_BATCH_MAX (recv) or 2 (open) owed ones. */
#define APP_CMD_CREDIT (PONY_RECV_BATCH_MAX + 2)

enum app_stream_state { APP_STREAM_FREE = 0, APP_STREAM_OPENING, APP_STREAM_OPEN };

struct app_stream {
	struct pony_app_session *s; /* the transport's owner pointer is &stream */
	uint32_t id;                /* app-visible id; 0 when free */
	uint32_t sid;               /* transport's stream id */
	uint16_t gen;
	uint8_t state;              /* enum app_stream_state */
	uint8_t qos;                /* default class of its sends (pony_qos_code: 0 normal) */
	uint16_t service;
	uint32_t peer_ip;
	uint64_t tag;               /* tag of the CLOSED completion */
	uint32_t open_op;           /* pending OPEN op while OPENING */
	uint32_t rx_head, rx_tail;  /* FIFO of posted receive ops (op indexes) */
	uint32_t rx_deferred;       /* credits to grant once the stream is open */
};

struct app_op {
	uint64_t tag;
	uint64_t off;     /* payload-area offset */
	uint32_t len;
	uint32_t gen;     /* cookie = gen << 32 | index */
	uint32_t stream;  /* app-visible stream id */
	uint32_t next;    /* free list / rx FIFO link */
	uint8_t op;       /* enum pony_op; PONY_OP_NONE when free */
	uint8_t flags;    /* the command's flags (echoed) */
	bool held;        /* the transport holds this buffer (send queued, receive begun) */
	uint8_t qos;      /* SEND: class it runs in (pony_qos_code: 0 normal) */
};

struct app_region {
	uint32_t id;      /* gen << 16 | index; 0 when free */
	uint16_t gen;
	uint32_t perms;
	uint64_t off, len;
	uint64_t key;
};

struct app_listen {
	struct pony_app_session *s; /* the transport's listener pointer is &listen */
	bool used;
	uint16_t service;
	uint64_t tag;
};

struct pony_app_session {
	struct pony_app_host *host;
	struct pony_app_session *next, *prev; /* host's live or zombie list */
	uint32_t app_id;
	int sock_fd, memfd, cmd_efd, cpl_efd; /* owned by the attach layer */
	void *base;
	size_t map_size;
	struct pony_shm_hdr hdr;  /* the daemon's own copy: never re-read from the region */
	char *buf;                /* base + hdr.buf_off */
	struct pony_shm_ring *cmd_ring, *cpl_ring;
	struct pony_shm_cmd *cmds;
	struct pony_shm_cpl *cpls;
	uint32_t cmd_head;        /* next command to take */
	uint32_t cmd_tail_seen;   /* last accepted app tail (must not go backwards) */
	uint32_t cpl_tail;        /* next completion slot */
	uint32_t cpl_head_seen;   /* last accepted app head */
	uint32_t owed;            /* completions promised (pending ops + live streams) */
	bool kick;                /* completions written since the last doorbell check */
	bool broken;              /* broke the ring protocol: cut off */
	bool torn;                /* streams/ops/regions released */
	bool detached;            /* left the host's live list (zombie until tx drains) */

	uint32_t max_streams, max_ops, max_regions, max_listens;
	uint32_t n_streams, n_ops, n_regions, n_listens;
	uint32_t tp_refs;           /* ops whose buffer the transport holds (held) */
	uint32_t op_free;         /* free list head */
	struct app_stream *streams;
	struct app_op *ops;
	struct app_region *regions;
	struct app_listen *listens;
	struct pony_bpf_table *bpf; /* eBPF programs loaded for its regions (pony/bpf.h) */
	uint32_t bpf_attempts;      /* load commands taken (<= PONY_BPF_LOADS_MAX) */
	/* Service ranges owned by someone (config) and which of them this app's user may
	 * listen on (bit i: own_lo/hi[i]); set once at attach. */
	uint8_t n_own;
	uint32_t own_ok;
	uint16_t own_lo[SNAP_CFG_OWNERS_MAX], own_hi[SNAP_CFG_OWNERS_MAX];
	/* Command service by class (pony_app_host_poll): the class the app's latest send asked
	 * for (pony_qos_code: 0 normal, so a new session is normal), and the pass of the host
	 * poll in which it was last served (2 * round + pass). Process-local. */
	uint8_t qos;
	uint32_t served_round;
	struct pony_app_counters cnt;
};

struct pony_app_host {
	struct snap_engine *engine;
	char name[32];
	struct pony_tp *tp;
	struct pony_app_session *live, *zombies;
	struct pony_app_session *rr; /* next session to poll first */
	uint32_t round;              /* host polls so far (pony_app_host_poll) */
	/* Bit c: some app's send has asked for class c (never cleared): with one class alone,
	 * command service is the plain round robin, without the weighted passes. */
	uint8_t classes_asked;
	bool bpf_ops;                /* apps may load eBPF programs (pony element bpf_ops) */
	bool kick_pending;
	/* Program validation budget (PONY_BPF_LOAD_DUTY_PCT): ns the engine may still spend
	 * validating (earned at the duty rate, at most PONY_BPF_LOAD_BURST_MS' worth), and
	 * when (CLOCK_MONOTONIC ns) that was last brought up to date. */
	int64_t bpf_credit;
	uint64_t bpf_credit_ns;
	struct pony_app_host_counters cnt;
};

/* ---- Per-op table work, inline (each RPC allocates, holds and frees two ops and looks up
 * its stream twice). ---- */

/* An op slot from the free list (APP_NONE when all are in use); it owes a completion. */
static inline uint32_t app_op_alloc(struct pony_app_session *s)
{
	uint32_t i = s->op_free;
	if (i == APP_NONE)
		return APP_NONE;
	s->op_free = s->ops[i].next;
	s->ops[i].next = APP_NONE;
	s->ops[i].gen++;
	s->n_ops++;
	s->owed++;
	s->host->cnt.ops++;
	return i;
}

/* Release op i (its completion pushed, or no longer owed). */
static inline void app_op_free(struct pony_app_session *s, uint32_t i)
{
	struct app_op *op = &s->ops[i];
	if (op->held)
		s->tp_refs--;
	op->held = false;
	op->op = PONY_OP_NONE;
	op->next = s->op_free;
	s->op_free = i;
	s->n_ops--;
	s->owed--;
	s->host->cnt.ops--;
}

/* The transport now holds op i's buffer (send queued, receive begun). */
static inline void app_op_hold(struct pony_app_session *s, uint32_t i)
{
	s->ops[i].held = true;
	s->tp_refs++;
}

/* The live stream of id (index and generation), NULL for any other. */
static inline struct app_stream *app_stream_get(struct pony_app_session *s, uint32_t id)
{
	uint32_t idx = id & ((1u << APP_STREAM_IDX_BITS) - 1);
	if (idx >= s->max_streams)
		return NULL;
	struct app_stream *st = &s->streams[idx];
	return st->state != APP_STREAM_FREE && st->id == id ? st : NULL;
}

/* app.c: completions, ops, streams. */
void app_cpl_push(struct pony_app_session *s, const struct pony_shm_cpl *c);
/* app_cpl_push in two steps, for a completion written in place: the ring's next entry (NULL:
 * the session is torn or the ring full, counted), then its publication. */
struct pony_shm_cpl *app_cpl_slot(struct pony_app_session *s);
void app_cpl_commit(struct pony_app_session *s);
int64_t app_cpl_credit(struct pony_app_session *s);
int app_cpl_refresh(struct pony_app_session *s);
void app_violation(struct pony_app_session *s);
struct app_stream *app_stream_alloc(struct pony_app_session *s);
void app_stream_free(struct pony_app_session *s, struct app_stream *st);
/* Complete every posted receive of st with status (no completion if the app is gone). */
void app_stream_fail_rx(struct pony_app_session *s, struct app_stream *st, int status);
/* Complete op idx with status and free it. */
void app_op_complete(struct pony_app_session *s, uint32_t idx, int status, uint32_t len);
/* A detached session's transport references dropped to 0: free it (app.c). */
void app_session_tp_drained(struct pony_app_session *s);

/* app_cmd.c: validate and execute one command copied out of the ring. */
void app_cmd_exec(struct pony_app_session *s, const struct pony_shm_cmd *c);
/* A command with PONY_CMDF_ADDR6: addr6 is the 16 bytes of its address entry, NULL when the
 * app published none (refused). */
void app_cmd_exec6(struct pony_app_session *s, const struct pony_shm_cmd *c,
		   const uint8_t *addr6);
/* app_cmd.c: one-sided ops (pony/onesided.h) resolve regions and complete through these. */
extern const struct pony_os_hooks pony_app_os_hooks;
