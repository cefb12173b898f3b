/* Private to the one-sided ops (pony/onesided*.c): the op table, per-flow queues and packet
 * buffer pool of a transport, shared by the datapath (onesided.c) and its save/restore
 * (onesided_save.c). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "pony/onesided.h"

#define OS_OPS 4096u          /* ops in flight per transport (op id: gen << 16 | index) */
#define OS_BUFS 512u          /* one-sided packets in flight or queued, both directions */
#define OS_BUF_RESERVE 32u    /* buffers only responses may take (requests never starve them) */
/* Response buffers one flow may hold (queued or unacked). Every request packet costs one,
 * whatever its records' status (a wrong key too: the requester must learn BAD_KEY, reliably),
 * so this is what bounds a peer flooding requests; with a peer's flows bounded by
 * max_flows_per_peer (8 of 64 by default) one peer IP holds at most half the pool. */
#define OS_RESP_PER_FLOW 32u

enum { OS_OP_FREE = 0, OS_OP_QUEUED, OS_OP_INFLIGHT };

struct os_op {
	uint8_t state, opcode, flags, key_len;
	uint16_t gen;
	uint32_t flow, flow_id; /* flow slot and its incarnation at submit */
	uint32_t region, len;
	uint64_t rkey, off;
	uint8_t key[PONY_OS_KEY_MAX];
	void *buf, *owner;
	uint64_t cookie;
	uint32_t next;
};

struct os_flow {
	uint32_t q_head, q_tail; /* ops to pack */
	uint32_t r_head, r_tail; /* response buffers to send */
	uint32_t n_ops;          /* ops queued or awaiting their response */
	uint32_t n_resp;         /* response buffers held, queued or unacked (<= OS_RESP_PER_FLOW) */
};

struct os_buf {
	bool used;
	uint8_t type;
	uint16_t len, nrec;
	uint32_t next;
	uint32_t flow; /* response: the flow slot charged for it (os_flow.n_resp) */
	uint32_t gen; /* copied into the desc (msg_id): a stale desc never finds a reused buffer */
};

struct pony_os {
	struct pony_os_hooks hooks;
	bool attached;
	void *ctx;
	struct os_op *ops;
	uint32_t op_free;
	struct os_flow *flows;
	struct os_buf *bufs;
	uint8_t *data;
	uint32_t buf_size, buf_free, n_free;
	uint32_t data_max; /* largest op length for this MTU */
	uint32_t gen;      /* buffer generations, from a random start per transport */
	uint32_t n_flows;  /* os_flow slots (the transport's max_flows) */
	struct pony_os_stats st;
};

static inline uint8_t *buf_data(struct pony_os *os, uint32_t b)
{
	return os->data + (size_t)b * os->buf_size;
}
