/* One-sided operations of the Pony transport (software RDMA): READ, WRITE, indirect READ and
 * scan-and-read, executed by the remote engine on registered memory without its app's threads.
 * Requests and responses are sequenced packets on the reliable flow (wire: WIRE.md, OS_REQ /
 * OS_RESP), so the receive bitmap that makes every seq arrive exactly once also makes every
 * request execute exactly once; a response is built once and kept until acked (READ results
 * are cached, never re-executed). Everything runs on the engine thread.
 * Implementation: pony/onesided.c (transport glue), pony/onesided_exec.c (record format and
 * execution, pure functions the fuzzer drives). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pony_tp;
struct pony_ip;

/* Operation codes (wire contract, WIRE.md). */
enum pony_os_opcode {
	PONY_OS_READ = 1,          /* len bytes at off */
	PONY_OS_WRITE = 2,         /* len bytes (carried in the request) to off */
	PONY_OS_READ_INDIRECT = 3, /* 8 bytes at off name the data, see PONY_OS_F_PTR */
	PONY_OS_SCAN_READ = 4,     /* pony_kv.h table at off: the value of key (request data) */
	PONY_OS_FETCH_ADD = 5,     /* the 8-byte word at off += operand; answers the old value */
	PONY_OS_CMP_SWAP = 6,      /* if word == compare: word = swap; answers the old value */
	PONY_OS_BPF = 7,           /* run a loaded eBPF program (pony/bpf.h) on the region */
	PONY_OS_OPCODE_MAX
};

/* READ_INDIRECT flag. Without it the 8 bytes at off are a descriptor {uint32 offset, uint32
 * len} (little-endian, offsets from the region start) and the data must fit the requester's
 * len; with it they are one uint64 offset (pointer-as-offset) and len bytes are read there. */
#define PONY_OS_F_PTR 0x01u

/* Atomics: the word is 8 bytes, 8-byte aligned in memory, in the region's host order; the
 * operands (request data: add, or compare then swap) and the old value (response data) are
 * little-endian u64s. They need a region readable and writable. Exactly once like WRITE:
 * the request executes when its packet first arrives; the answer is kept until acked. */
#define PONY_OS_ATOMIC_LEN 8u
/* Request data bytes of an atomic opcode (operands), 0 for the others. */
static inline uint16_t pony_os_atomic_args(uint8_t opcode)
{
	return opcode == PONY_OS_FETCH_ADD ? 8 : opcode == PONY_OS_CMP_SWAP ? 16 : 0;
}

/* PONY_OS_BPF: request data is {u8 name_len, name, argument block} (1 + 1..31 + 0..256
 * bytes), len the result room (8..8 + PONY_BPF_RESULT_MAX), off 0. The response data is the
 * program's return value (little-endian u64) then the bytes it appended. The requester keeps
 * the request data's length in its op's off (a BPF op has no remote offset). */
#define PONY_OS_BPF_IN_MAX (1u + 31u + 256u)
#define PONY_OS_BPF_OUT_MAX (8u + 256u)

#define PONY_OS_DATA_MAX 1024u  /* bytes one op reads or writes (fits one packet) */
#define PONY_OS_KEY_MAX 24u     /* scan key bytes (KV_KEY_MAX) */
#define PONY_OS_BATCH_MAX 64u   /* ops per packet */
#define PONY_OS_REQ_HDR 32u     /* request record header, then data_len bytes */
#define PONY_OS_RESP_HDR 12u    /* response record header, then data_len bytes */

/* Record layouts (wire contract, WIRE.md "One-sided payloads"; change both and bump
 * PONY_WIRE_VERSION): byte offsets from a record's start, multi-byte fields big-endian. */
enum pony_os_req_off {
	PONY_OSQ_OPCODE = 0,   /* u8 */
	PONY_OSQ_FLAGS = 1,    /* u8 */
	PONY_OSQ_DATA_LEN = 2, /* u16: bytes after the header (WRITE data, SCAN key) */
	PONY_OSQ_OP_ID = 4,    /* u32: the requester's, echoed in the response */
	PONY_OSQ_REGION = 8,   /* u32 */
	PONY_OSQ_LEN = 12,     /* u32 */
	PONY_OSQ_KEY = 16,     /* u64: the region's key */
	PONY_OSQ_OFF = 24,     /* u64 */
};
enum pony_os_resp_off {
	PONY_OSR_OP_ID = 0,    /* u32 */
	PONY_OSR_STATUS = 4,   /* u8: PONY_OS_ST_* */
	PONY_OSR_RESERVED = 5, /* u8: 0 */
	PONY_OSR_DATA_LEN = 6, /* u16 */
	PONY_OSR_LEN = 8,      /* u32 */
};
_Static_assert(PONY_OSQ_OFF + 8 == PONY_OS_REQ_HDR, "request record header size");
_Static_assert(PONY_OSR_LEN + 4 == PONY_OS_RESP_HDR, "response record header size");
#define PONY_OS_SCAN_RETRIES 4u /* seqlock retries before BUSY */

/* Status of one op as the remote engine reports it (wire contract). */
#define PONY_OS_STATUSES(X)                                                                \
	X(OK, "ok", 0)                                                                     \
	X(NO_REGION, "no_region", -ENOENT)           /* no such region id */               \
	X(BAD_KEY, "bad_key", -EKEYREJECTED)         /* region exists, key differs */      \
	X(REVOKED, "revoked", -EKEYREVOKED)          /* the region was revoked */          \
	X(PERM, "perm", -EACCES)                     /* read-only / write-only region */   \
	X(RANGE, "range", -ERANGE)                   /* [off, off+len) outside region */   \
	X(BAD_DESC, "bad_desc", -EOVERFLOW)          /* descriptor/pointer leaves region */\
	X(NOT_FOUND, "not_found", -ENODATA)          /* scan: key not in the table */      \
	X(TOO_BIG, "too_big", -EMSGSIZE)             /* data longer than the buffer */     \
	X(BAD_REQ, "bad_req", -EBADMSG)              /* bad opcode/flags/len in a record */\
	X(NO_TARGET, "no_target", -EOPNOTSUPP)       /* remote engine has no app layer */  \
	X(BAD_TABLE, "bad_table", -EILSEQ)           /* scan: table header invalid */      \
	X(BUSY, "busy", -EBUSY)                      /* scan: bucket kept changing */      \
	X(NO_PROG, "no_prog", -ENOEXEC)              /* BPF: no program of that name */    \
	X(FAULT, "fault", -EFAULT)                   /* BPF: the program faulted, stopped */

enum pony_os_status {
#define PONY_OS_X_ENUM(e, s, errno_) PONY_OS_ST_##e,
	PONY_OS_STATUSES(PONY_OS_X_ENUM)
#undef PONY_OS_X_ENUM
	PONY_OS_ST_MAX
};
/* Statuses counted in pony_os_stats.status (its size is a saved layout, pony/onesided_save.c):
 * the later BPF ones are counted by the owner's program table (pony/bpf.h). */
#define PONY_OS_ST_COUNTED PONY_OS_ST_NO_PROG
const char *pony_os_status_name(unsigned st);
/* The completion status (0 or -errno) an op with wire status st reports. */
int pony_os_status_errno(unsigned st);

/* A region as the resolver hands it to the executor. */
struct pony_bpf_table;
struct pony_os_region {
	uint8_t *base;
	uint64_t len;
	uint32_t perms; /* PONY_REGION_READ 1 | PONY_REGION_WRITE 2 */
	uint32_t id;    /* the region id (PONY_OS_BPF looks its programs up by it) */
	struct pony_bpf_table *bpf; /* the owner's programs, NULL if none */
};
#define PONY_OS_PERM_READ 1u
#define PONY_OS_PERM_WRITE 2u

/* Hooks of the transport's user (the app layer). resolve: look region up (engine thread, at
 * execution time: revocation through the same thread cannot race it); returns a
 * PONY_OS_ST_* (OK with *out filled). done: an op submitted with (owner, cookie) finished:
 * status 0 or -errno, len = bytes read/written/value length. Called exactly once per
 * accepted submit, never from inside pony_tp_os_submit. */
typedef unsigned (*pony_os_resolve_fn)(void *ctx, uint32_t region, uint64_t key,
				       struct pony_os_region *out);
struct pony_os_hooks {
	pony_os_resolve_fn resolve;
	void (*done)(void *owner, uint64_t cookie, int status, uint32_t len);
};

/* Install hooks (allocating the one-sided pools on first use: control thread, engine
 * parked); NULL hooks detach (pending ops are then dropped without upcalls, remote requests
 * answered NO_TARGET). 0 or -ENOMEM. */
int pony_tp_os_attach(struct pony_tp *tp, const struct pony_os_hooks *h, void *ctx);

/* One op to submit. buf: READ/READ_INDIRECT/SCAN_READ destination (len bytes, written
 * before done()), WRITE source (len bytes, copied when the request packet is first built).
 * BPF: buf holds the request data ({name_len, name, args}, off bytes: 2..PONY_OS_BPF_IN_MAX,
 * copied when the request packet is first built) and receives the result (len: 8..
 * PONY_OS_BPF_OUT_MAX); key_len 0.
 * SCAN_READ: the key is key_data[0..key_len), copied at submit; off is the table's offset in
 * the region. FETCH_ADD/CMP_SWAP: len 8, key_data the operands (key_len 8 or 16, copied at
 * submit), the old value written to buf (8 bytes). */
struct pony_os_op {
	uint8_t opcode;
	uint8_t flags;
	uint8_t key_len;
	uint32_t region;
	uint32_t len;
	uint64_t rkey;
	uint64_t off;
	const void *key_data;
	void *buf;
};

/* Queue op to (peer of either family, peer_port host order; 0 = our own port). Returns 0
 * (done() follows), -EINVAL (opcode/flags/len 0/key), -EMSGSIZE (len > data max for this
 * MTU), -ENOBUFS (op table full), -EHOSTUNREACH (flow table full), -ENODEV (no hooks),
 * -EAFNOSUPPORT (no address of the peer's family here). */
int pony_tp_os_submit(struct pony_tp *tp, const struct pony_ip *peer, uint16_t peer_port,
		      const struct pony_os_op *op, void *owner, uint64_t cookie);

struct pony_os_stats {
	uint64_t submitted, completed, req_pkts_tx, resp_pkts_tx, req_pkts_rx, resp_pkts_rx;
	uint64_t executed;                  /* ops run by this engine for peers */
	uint64_t status[PONY_OS_ST_COUNTED]; /* ...by the status they returned */
	uint64_t bytes_read, bytes_written; /* region bytes served */
	uint64_t malformed;                 /* OS packets whose records did not parse */
	uint64_t stray_resp;                /* response records for no pending op */
	uint64_t no_buf;                    /* request deferred: no response buffer */
	uint64_t resp_budget;               /* request deferred: its flow holds OS_RESP_PER_FLOW */
	uint64_t failed;                    /* ops failed locally (flow failure) */
};
/* Zeroes if one-sided ops were never attached. */
void pony_tp_os_stats(const struct pony_tp *tp, struct pony_os_stats *st);
/* Report them as named counters ("os_executed", "os_st_bad_key", ...) for snapctl stats. */
void pony_tp_os_report(const struct pony_tp *tp,
		       void (*fn)(void *ctx, const char *name, uint64_t value), void *ctx);

/* ---- Record format and execution (onesided_exec.c): pure functions over bytes. ---- */

/* Host view of one request record. data points into the packet. */
struct pony_os_rec {
	uint8_t opcode, flags;
	uint16_t data_len;
	uint32_t op_id, region, len;
	uint64_t key, off;
	const uint8_t *data;
};

/* Encode a request record into out (room >= PONY_OS_REQ_HDR + data_len). Returns bytes. */
size_t pony_os_put_req(uint8_t *out, const struct pony_os_rec *r);
/* Walk a request payload: fills up to max records; returns how many, or -EBADMSG if the
 * framing is bad (truncated record, trailing bytes, more than max, n != expected). */
int pony_os_parse_req(const uint8_t *p, size_t len, unsigned expected, struct pony_os_rec *out,
		      unsigned max);
/* Execute one record against region rg (already resolved, or NULL with st the resolver's
 * failure). Writes the response record into out, never more than room bytes: a result
 * whose data does not fit is answered BAD_REQ (status only); room < PONY_OS_RESP_HDR runs
 * nothing, writes nothing and returns 0. Returns the response bytes written; *status gets
 * the status. Never touches memory outside [rg->base, rg->base + rg->len). */
size_t pony_os_exec(const struct pony_os_rec *r, const struct pony_os_region *rg,
		    unsigned st, uint8_t *out, size_t room, unsigned *status);
/* Bytes of the largest response record a request record (opcode, len) can get: the header,
 * plus the data for everything but WRITE. Requesters pack by it; responders reserve by it. */
static inline uint32_t pony_os_resp_worst(uint32_t opcode, uint32_t len)
{
	return PONY_OS_RESP_HDR + (opcode == PONY_OS_WRITE ? 0u : len);
}
struct pony_os_stats;
/* Answer the n records of one request into out (room bytes, the response packet's payload):
 * each record, in order, gets exactly one response record. A record's data is returned only
 * if it fits with a status record kept for every record after it; otherwise it is answered
 * BAD_REQ without running. resolve (NULL: answer NO_TARGET) looks each region up. Counts
 * executed ops, their statuses and bytes into st. Returns the bytes written (<= room), or
 * -EMSGSIZE (nothing written, nothing run) when n is 0, over PONY_OS_BATCH_MAX, or n status
 * records alone exceed room: such a request can never be answered whole. */
int pony_os_answer(const struct pony_os_rec *rec, unsigned n, pony_os_resolve_fn resolve,
		   void *ctx, uint8_t *out, size_t room, struct pony_os_stats *st);
/* Response record header. */
struct pony_os_resp {
	uint32_t op_id;
	uint8_t status;
	uint16_t data_len;
	uint32_t len;
	const uint8_t *data;
};
/* Walk a response payload like pony_os_parse_req. */
int pony_os_parse_resp(const uint8_t *p, size_t len, unsigned expected, struct pony_os_resp *out,
		       unsigned max);

/* ---- Hooks for the flow code (onesided.c). ---- */
struct pony_flow;
struct pony_txdesc;
struct pony_hdr;
struct rte_mbuf;

static inline bool pony_os_type(uint8_t t)
{
	return t == 32 || t == 33; /* PONY_T_OS_REQ, PONY_T_OS_RESP */
}
/* f has one-sided work: ops queued or awaiting their response, responses to send. Keeps the
 * flow from idle teardown and under dead-peer detection. */
bool pony_os_busy(const struct pony_tp *tp, const struct pony_flow *f);
/* Something one-sided is ready to go on f (a response, or requests and a buffer). */
bool pony_os_pending(const struct pony_tp *tp, const struct pony_flow *f);
/* Fill d with f's next one-sided packet; false if none. */
bool pony_os_next(struct pony_tp *tp, struct pony_flow *f, struct pony_txdesc *d);
/* Payload of a one-sided desc (d->len bytes), NULL if it is gone. */
const uint8_t *pony_os_payload(struct pony_tp *tp, const struct pony_txdesc *d);
/* A one-sided desc was delivered: its buffer is free. */
void pony_os_delivered(struct pony_tp *tp, struct pony_txdesc *d);
/* A new OS_REQ/OS_RESP arrived: 0 consumed, -EAGAIN not now (peer retransmits). */
int pony_os_rx(struct pony_tp *tp, struct pony_flow *f, const struct pony_hdr *h,
	       struct rte_mbuf *m, uint32_t hl);
/* f fails or is released: fail its ops with err, free its buffers. */
void pony_os_flow_gone(struct pony_tp *tp, struct pony_flow *f, int err);
/* Free the one-sided state (pony_tp_destroy). */
void pony_os_destroy(struct pony_tp *tp);
