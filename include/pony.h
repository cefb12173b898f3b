/* libpony: the client library through which applications use snapnetd's Pony Express
 * transport over shared memory. This is the only header an application needs.
 *
 * Model. pony_connect() attaches the process to a daemon's app socket and maps one shared
 * region: a command ring (app -> daemon), a completion ring (daemon -> app) and a payload
 * area. Messages are sent from and received into buffers inside the payload area
 * (pony_buf_alloc); nothing is copied between the app and the daemon except by the
 * transport itself. Every operation is asynchronous: a call queues a command and returns at
 * once; its result arrives later as a struct pony_completion carrying the caller's 64-bit tag.
 *
 * Ids. Stream and region ids are opaque 32-bit values chosen by the daemon, private to this
 * app (another app's ids mean nothing here). A stream id stays valid until its CLOSE,
 * CLOSED or failed OPEN completion; ids are reused later with a different generation, so a
 * stale id is refused (-EBADF), never confused with a newer stream.
 *
 * Threads. A struct pony_app is not thread-safe: use it from one thread at a time (or one
 * pony_app per thread: each has its own rings).
 *
 * Errors. Functions returning int return 0 (or a documented non-negative value) on success
 * and a negative errno on failure; constructors return NULL and set errno. Completions carry
 * status 0 or a negative errno. pony_strerror() turns either into text. The errors used:
 *   -EINVAL      bad argument (length 0 or too large, unknown flag, NULL pointer)
 *   -EFAULT      a buffer that is not inside this app's payload area
 *   -EBADF       unknown or closed stream id
 *   -ENOENT      unknown region id, or no listener on that service
 *   -EAGAIN      command ring full: poll completions, then retry
 *   -ENOBUFS     per-app limit of outstanding operations reached
 *   -ENOSPC      per-app limit of streams, regions or listeners reached
 *   -EADDRINUSE  another app on the same engine listens on that service
 *   -ENOTCONN    the stream is not (yet) established
 *   -EMSGSIZE    a received message was larger than the posted buffer (it is discarded)
 *   -ECONNREFUSED / -ETIMEDOUT / -EHOSTUNREACH   a stream open failed
 *   -ECONNRESET  the peer closed the stream while the operation was pending
 *   -ECANCELED   the stream was closed locally while the operation was pending
 *   -EACCES      the daemon's policy refused this user (pony_connect), or a listen on a
 *                service the daemon's config gives to other users
 *   -EPERM       the socket's server is neither root nor its directory's owner (pony_connect)
 *   -EPROTO      version mismatch or a malformed reply from the daemon
 *   -EPIPE       the daemon went away (connection closed)
 * One-sided operations add their own statuses (see pony_read below).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "pony_version.h"
#include "snap_paths.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The system daemon's app socket. pony_connect(NULL) uses $PONY_SOCKET, else (not root) the
 * user's own daemon's $XDG_RUNTIME_DIR/snapnetd/app.sock if it exists, else this. */
#define PONY_DEFAULT_SOCKET SNAP_RUN_DIR_SYSTEM "/" SNAP_APP_SOCKET_NAME
#define PONY_MSG_MAX_BYTES (8u << 20) /* largest message */
#define PONY_RECV_BATCH_MAX 64u       /* buffers one pony_recv_post_n may post */
#define PONY_BUF_ALIGN 64u            /* pony_buf_alloc alignment */

/* Symbols exported by libpony.so (everything else in the library is hidden). */
#define PONY_API __attribute__((visibility("default")))

struct pony_app;

/* The version of the libpony the app runs with, "MAJOR.MINOR.PATCH" (static storage, never
 * NULL, cannot fail). It differs from PONY_VERSION, the version the app was compiled
 * against, when the shared library was upgraded underneath it; the app/daemon shared-memory
 * protocol is versioned separately (pony_connect fails with EPROTO on a mismatch). */
PONY_API const char *pony_version(void);

/* Operation type of a completion (and of a command on the ring). */
enum pony_op {
	PONY_OP_NONE = 0,
	PONY_OP_OPEN = 1,      /* pony_stream_open finished: stream, status */
	PONY_OP_LISTEN = 2,    /* pony_listen finished */
	PONY_OP_UNLISTEN = 3,  /* pony_unlisten finished */
	PONY_OP_ACCEPT = 4,    /* a peer opened a stream to a service we listen on (tag: the
				* listen's tag; stream, peer_ip, service) */
	PONY_OP_SEND = 5,      /* a message was acknowledged (0) or failed */
	PONY_OP_RECV = 6,      /* a message arrived in a posted buffer (buf, len) or failed */
	PONY_OP_CLOSE = 7,     /* pony_stream_close finished; the stream id is free */
	PONY_OP_CLOSED = 8,    /* the peer closed the stream (0) or it failed (-ETIMEDOUT);
				* tag: the stream's tag (from open, or the listen's); id free */
	PONY_OP_REGION_REG = 9,    /* pony_region_register finished: region, key */
	PONY_OP_REGION_REVOKE = 10, /* pony_region_revoke finished */
	PONY_OP_READ = 11,          /* one-sided ops finished: buf, len (bytes read/written, */
	PONY_OP_WRITE = 12,         /* or the value's length); status 0 or a remote error */
	PONY_OP_READ_INDIRECT = 13, /* (see "One-sided operations" below) */
	PONY_OP_SCAN_READ = 14,
	PONY_OP_FETCH_ADD = 15,     /* remote atomics: buf holds the old value, len 8 */
	PONY_OP_CMP_SWAP = 16,
	PONY_OP_BPF_CALL = 17,      /* custom op: buf holds the program's result, len its bytes */
	PONY_OP_BPF_LOAD = 18,      /* pony_bpf_load finished: status; len the reason if refused */
	PONY_OP_MAX
};

/* Memory-region permissions for remote one-sided operations. */
enum pony_region_perm {
	PONY_REGION_READ = 1u << 0,
	PONY_REGION_WRITE = 1u << 1,
};

/* One finished operation or event. Fields not listed for an op are 0. */
struct pony_completion {
	uint64_t tag;       /* the caller's tag */
	int32_t status;     /* 0 or -errno (see the list above) */
	uint16_t op;        /* enum pony_op */
	__extension__ union { /* (__extension__: C99 -pedantic apps compile it too) */
		uint16_t service;   /* OPEN, LISTEN, UNLISTEN, ACCEPT */
		uint16_t qos_class; /* SEND: enum pony_class the message ran in: the class asked
				     * for, or the next lower one when the daemon's admission
				     * control downgraded it (its class missed its latency
				     * target); PONY_CLASS_NORMAL from a daemon without classes.
				     * RECV: the class the sender ran it in (answer an RPC in
				     * it to keep its class both ways) */
	};
	uint32_t stream;    /* stream id (OPEN, ACCEPT, SEND, RECV, CLOSE, CLOSED) */
	uint32_t len;       /* SEND: bytes sent; RECV: bytes received; one-sided: bytes read or
			     * written, the value's length (scan), the needed length (-EMSGSIZE) */
	void *buf;          /* SEND, RECV, one-sided: the buffer given to the operation */
	uint32_t peer_ip;   /* OPEN, ACCEPT: peer IPv4 address, host byte order */
	uint32_t region;    /* REGION_REG, REGION_REVOKE: region id */
	uint64_t key;       /* REGION_REG: the region's 64-bit access key */
};

/* Options for pony_connect; a NULL opts means all defaults. */
struct pony_opts {
	const char *engine;   /* daemon engine to attach to; NULL: the daemon's default;
			       * "*": the Pony engine with the fewest attached apps */
	unsigned timeout_ms;  /* attach handshake timeout; 0: 5000 */
};

/* Attach to the daemon listening at path (NULL: $PONY_SOCKET, else the default above).
 * The server must be root or the owner of the socket's directory (SO_PEERCRED), or the
 * attach is refused before anything is sent: another user's socket squatting the path.
 * Returns the app handle, or NULL with errno: EPERM (the server is not trusted: see
 * pony_connect_error), EACCES (policy refused this uid/gid), ENOENT /
 * ECONNREFUSED (no daemon at path), ETIMEDOUT, EPROTO (version mismatch, bad reply),
 * ENODEV (unknown engine), ENOSPC (daemon's app limit), ENOMEM; EAGAIN / ECONNRESET when
 * the daemon kept closing the handshake (stopping, or being upgraded: such a hello is retried
 * every 10 ms within timeout_ms, so an upgrade in progress is ridden out). After a failure,
 * pony_connect_error() says why in words (e.g. the daemon's refusal message). */
PONY_API struct pony_app *pony_connect(const char *path, const struct pony_opts *opts);

/* Why the calling thread's last pony_connect failed ("" if it did not). */
PONY_API const char *pony_connect_error(void);

/* Detach: the daemon closes this app's streams (peers see them close), fails pending
 * operations and frees the region. Buffers from this app become invalid. NULL is a no-op. */
PONY_API void pony_close(struct pony_app *app);

/* Payload buffers inside the shared region. alloc: a buffer of len bytes aligned to
 * PONY_BUF_ALIGN, or NULL with errno EINVAL (len 0) / ENOMEM (area exhausted). free: a
 * buffer from pony_buf_alloc not in use by a pending operation; NULL is a no-op; anything
 * else is ignored (returns without effect). */
PONY_API void *pony_buf_alloc(struct pony_app *app, size_t len);
PONY_API void pony_buf_free(struct pony_app *app, void *buf);
/* Bytes of the payload area (total, as sized by the daemon's config). */
PONY_API size_t pony_buf_area_size(const struct pony_app *app);

/* Open a stream to (peer ip, service). ip is an IPv4 address in host byte order
 * (pony_stream_open_str parses dotted-quad text). The result is a PONY_OP_OPEN completion
 * with the new stream id, or an error status (then no CLOSED follows). tag is returned in
 * that completion and in the stream's CLOSED completion.
 * Returns 0 (queued) or -EAGAIN (ring full), -EINVAL (bad address text), -EPIPE. */
PONY_API int pony_stream_open(struct pony_app *app, uint32_t ip, uint16_t service, uint64_t tag);
PONY_API int pony_stream_open_str(struct pony_app *app, const char *ip, uint16_t service, uint64_t tag);
/* pony_stream_open with flags: PONY_SEND_CLASS(c) makes c the stream's default class (else
 * normal); -EINVAL for other bits. */
PONY_API int pony_stream_open_flags(struct pony_app *app, uint32_t ip, uint16_t service,
				    unsigned flags, uint64_t tag);

/* ---- Peers of either family (IPv4 or IPv6 underlay) ---- */

/* A peer's address. */
struct pony_addr {
	uint16_t family;  /* AF_INET or AF_INET6 */
	uint16_t rsvd;    /* 0 */
	uint8_t addr[16]; /* AF_INET6: the address; AF_INET: its 4 bytes first (network order),
			   * the rest 0 */
};

/* Parse IPv4 dotted-quad or IPv6 text into *out. 0 or -EINVAL. (pony_stream_open_str takes
 * either form too.) */
PONY_API int pony_addr_parse(const char *text, struct pony_addr *out);

/* pony_stream_open to a peer of either family (an IPv4-mapped IPv6 address is IPv4). The
 * engine needs an address of the peer's family (its port's ip or ip6): else the OPEN
 * completion fails with -EAFNOSUPPORT. Returns 0, -EAGAIN, -EINVAL (bad family), -EPIPE,
 * -EAFNOSUPPORT (IPv6, and the daemon predates IPv6 peers). */
PONY_API int pony_stream_open_addr(struct pony_app *app, const struct pony_addr *addr,
				   uint16_t service, uint64_t tag);

/* pony_poll, with the peer of each OPEN and ACCEPT completion: peers[i] belongs to out[i]
 * (family 0 for other ops). peer_ip in the completion stays the IPv4 address (0 for an
 * IPv6 peer). */
PONY_API int pony_poll_peers(struct pony_app *app, struct pony_completion *out,
			     struct pony_addr *peers, unsigned max);

#define PONY_PEERS6_MAX 64u /* IPv6 remotes of one-sided ops per app (pony_remote_set_addr) */

/* Listen on a service: PONY_OP_LISTEN completion (0, -EADDRINUSE, -ENOSPC); then one
 * PONY_OP_ACCEPT completion (with this tag) per incoming stream, already established.
 * unlisten: PONY_OP_UNLISTEN completion (0, -ENOENT). Returns 0, -EAGAIN, -EPIPE. */
PONY_API int pony_listen(struct pony_app *app, uint16_t service, uint64_t tag);
PONY_API int pony_unlisten(struct pony_app *app, uint16_t service, uint64_t tag);

/* Close a stream: pending sends and receives complete with -ECANCELED, then a
 * PONY_OP_CLOSE completion (after which the id is free). Returns 0, -EAGAIN, -EPIPE. */
PONY_API int pony_stream_close(struct pony_app *app, uint32_t stream, uint64_t tag);

/* Priority classes (issue 21). The engine serves the classes' messages by weighted round
 * robin (weights in the daemon's config, 8:4:1 by default) when it chooses the next packet
 * to send, and carries the class to the peer. A class with a latency target (SLO, daemon
 * config) is under admission control: per class and peer host, while its messages' latency
 * (send to acknowledgement) misses the target, a growing share of new messages asking for
 * it is sent in the next lower class instead (the SEND completion's qos_class says which). */
enum pony_class {
	PONY_CLASS_CRITICAL = 0,  /* latency-critical RPCs */
	PONY_CLASS_NORMAL = 1,    /* the default: everything sent without a class */
	PONY_CLASS_SCAVENGER = 2, /* bulk: whatever the others leave */
};
/* Flags of pony_send_flags (this message's class) and pony_stream_open_flags (the stream's
 * default class, used by sends that name none). */
#define PONY_SEND_CLASS(c) ((((unsigned)(c)) + 1u) << 4)
#define PONY_SEND_CLASS_MASK 0x30u
/* pony_send_flags: this message is an RPC request: admission control measures its latency
 * up to the next message the stream receives (its response; responses are taken to come in
 * request order) instead of up to its acknowledgement. */
#define PONY_SEND_RPC 0x40u

/* Send one message of len bytes (1..PONY_MSG_MAX_BYTES) from buf, which must lie inside the
 * payload area and stay unchanged until the PONY_OP_SEND completion. Returns 0, -EAGAIN,
 * -EFAULT (buf not in the area), -EINVAL (len), -EPIPE; errors found by the daemon
 * (-EBADF, -ENOTCONN, -ENOBUFS) arrive as the completion's status. */
PONY_API int pony_send(struct pony_app *app, uint32_t stream, const void *buf, uint32_t len,
	      uint64_t tag);
/* pony_send with flags: PONY_SEND_CLASS(c) or 0 (the stream's class), and PONY_SEND_RPC.
 * -EINVAL for other bits; errors otherwise as pony_send (a daemon without classes refuses
 * the flags: an -EINVAL completion). */
PONY_API int pony_send_flags(struct pony_app *app, uint32_t stream, const void *buf,
			     uint32_t len, unsigned flags, uint64_t tag);
/* Convenience: copy data into a fresh payload buffer and send it; the library frees that
 * buffer when the SEND completion is polled (its buf field is then NULL). Returns 0,
 * -ENOMEM (area full), or pony_send's errors. */
PONY_API int pony_send_copy(struct pony_app *app, uint32_t stream, const void *data, uint32_t len,
		   uint64_t tag);

/* Post a receive buffer (one message each; it also grants the sender one message of
 * credit). Buffers are filled in posting order; a message longer than len fails that buffer
 * with -EMSGSIZE. May be posted while the stream is still opening. Returns as pony_send.
 * post_n: n (1..PONY_RECV_BATCH_MAX) buffers of len bytes each, back to back from buf,
 * each completing separately (same tag). */
PONY_API int pony_recv_post(struct pony_app *app, uint32_t stream, void *buf, uint32_t len,
		   uint64_t tag);
PONY_API int pony_recv_post_n(struct pony_app *app, uint32_t stream, void *buf, uint32_t len,
		     uint32_t n, uint64_t tag);

/* Register [buf, buf+len) of the payload area for remote one-sided access with perms
 * (PONY_REGION_READ|WRITE). The PONY_OP_REGION_REG completion carries the region id and an
 * unguessable 64-bit key that a remote must present. revoke: PONY_OP_REGION_REVOKE
 * completion (0, -ENOENT). Returns 0, -EAGAIN, -EFAULT, -EINVAL (perms), -EPIPE; limits
 * (-ENOSPC) arrive in the completion. */
PONY_API int pony_region_register(struct pony_app *app, void *buf, uint64_t len, uint32_t perms,
			 uint64_t tag);
PONY_API int pony_region_revoke(struct pony_app *app, uint32_t region, uint64_t tag);

/* ---- One-sided operations ----
 * Executed by the remote host's Pony engine on a region its app registered; the remote app's
 * threads are not involved. Each call queues one op (ops to the same host are batched into
 * packets) and returns; a completion with the op's PONY_OP_* code, buf and len follows.
 * Exactly once: a WRITE is applied once even if its packet is retransmitted; a READ's result
 * is produced once and resent from the remote engine's copy. Ops in flight at the same time
 * may execute in any order. buf must lie inside the payload area (-EFAULT). len: 1..1024
 * bytes (PONY_ONESIDED_MAX; smaller with a small MTU: -EMSGSIZE completion).
 * Completion statuses from the remote engine (each also counted there):
 *   -ENOENT        no region with that id
 *   -EKEYREJECTED  wrong key
 *   -EKEYREVOKED   the region was revoked
 *   -EACCES        write to a read-only region / read of a write-only one
 *   -ERANGE        [off, off + len) is not inside the region
 *   -EOVERFLOW     indirect: the descriptor/pointer names bytes outside the region
 *   -EMSGSIZE      indirect/scan: the data is longer than len (completion len = its length)
 *   -ENODATA       scan: key not found
 *   -EILSEQ        scan: the region does not hold a valid table at off
 *   -EBUSY         scan: the bucket was being rewritten on every try (retry)
 *   -EBADMSG       malformed op; -EOPNOTSUPP the remote engine serves no one-sided ops
 *   -ENOEXEC       bpf_call: the region has no program of that name
 *   -EFAULT        bpf_call: the program faulted (see "Custom one-sided operations")
 * and locally: -ETIMEDOUT / -ECONNRESET (the flow failed: a WRITE may or may not have been
 * applied), -ENOBUFS (too many ops in flight), -EHOSTUNREACH. */
#define PONY_ONESIDED_MAX 1024u
/* pony_read and pony_write take up to 64 KiB: libpony sends a longer op as pieces of
 * PONY_ONESIDED_MAX bytes (batched into packets by the engine) and completes it once, when
 * every piece has: status 0 and the whole length, or the first failing piece's status (len
 * 0; other pieces of a WRITE may have been applied: pieces run in any order, like the ops of
 * an RDMA NIC, and a large op is not atomic). It needs as many free command slots and
 * daemon op slots as pieces (-EAGAIN if the ring cannot take them all now; at most
 * PONY_LARGE_OPS_MAX large ops in flight, else -EBUSY); the remote needs a 1 KiB op to fit
 * its path (MTU 1500 or more). */
#define PONY_ONESIDED_LARGE_MAX (64u << 10)
#define PONY_LARGE_OPS_MAX 32u
#define PONY_SCAN_KEY_MAX 24u
#define PONY_INDIRECT_PTR 0x1u /* pony_read_indirect: the 8 bytes are a uint64 offset */

/* Where a remote region is: host (IPv4, host byte order; port 0 = the engines' common Pony
 * port), region id and key (from the remote app's PONY_OP_REGION_REG completion). */
struct pony_remote {
	uint32_t ip;
	uint16_t port;
	uint32_t region;
	uint64_t key;
};

/* Point rm at addr (its region and key are left as they are). struct pony_remote holds an
 * IPv4 address: an IPv6 one is stored as a handle in 0.0.0.0/8 (never a peer) that the
 * library replaces by the address when it sends the op; up to PONY_PEERS6_MAX distinct
 * IPv6 addresses per app, for its lifetime. Returns 0, -EINVAL (bad family), -ENOSPC. */
PONY_API int pony_remote_set_addr(struct pony_app *app, struct pony_remote *rm,
				  const struct pony_addr *addr);

/* Read len bytes at offset off of the remote region into buf. Returns 0, -EAGAIN, -EFAULT,
 * -EINVAL (len 0 or > PONY_ONESIDED_LARGE_MAX, NULL), -EBUSY (large ops), -EPIPE. */
PONY_API int pony_read(struct pony_app *app, const struct pony_remote *rm, uint64_t off,
		       void *buf, uint32_t len, uint64_t tag);
/* Write len bytes from buf to offset off of the remote region (needs PONY_REGION_WRITE).
 * Keep buf unchanged until the completion (it is read when the request is first sent). */
PONY_API int pony_write(struct pony_app *app, const struct pony_remote *rm, uint64_t off,
			const void *buf, uint32_t len, uint64_t tag);
/* Indirect read: the 8 bytes at off of the remote region are read first, then the data they
 * name, both inside the region. flags 0: a descriptor {uint32 offset, uint32 len}
 * (little-endian) and len is buf's size (the data must fit); PONY_INDIRECT_PTR: one uint64
 * offset (little-endian) and len bytes are read there. The completion's len is the bytes read. */
PONY_API int pony_read_indirect(struct pony_app *app, const struct pony_remote *rm, uint64_t off,
				void *buf, uint32_t len, unsigned flags, uint64_t tag);
/* Scan-and-read: look key (1..PONY_SCAN_KEY_MAX bytes) up in the hash table at offset off of
 * the remote region (the layout of <pony_kv.h>: struct kv_table_hdr, linear
 * probing, seqlocked buckets) and read its value (at most len bytes) into buf, in one round
 * trip. The completion's len is the value's length. */
PONY_API int pony_scan_read(struct pony_app *app, const struct pony_remote *rm, uint64_t off,
			    const void *key, uint32_t key_len, void *buf, uint32_t len,
			    uint64_t tag);

/* Remote atomics on the 8-byte word at offset off of the remote region (8-byte aligned in
 * the remote's memory, else -EBADMSG; the region must be readable and writable, else
 * -EACCES), executed exactly once by the remote engine with one atomic instruction, so the
 * region's own app may use atomics on the same word meanwhile. The word is in the remote
 * host's order; operands and the old value travel as little-endian u64s (every host this
 * runs on is little-endian: they are plain uint64_t there).
 * fetch_add: word += add. res: 8 bytes of the payload area; the completion (PONY_OP_FETCH_ADD,
 * len 8) finds the word's old value there.
 * cmp_swap: if word == expect, word = swap. res: 16 bytes of the payload area (the operands
 * travel in them); the completion (PONY_OP_CMP_SWAP) finds the old value in the first 8: the
 * swap happened iff it equals expect.
 * res is the op's until its completion (the daemon reads the operands from it when it takes
 * the command, and writes the old value there when the answer comes): reusing it earlier for
 * another op can hand that op the first one's old value as its operand. Completions of ops in
 * flight together come in any order.
 * Returns as pony_read; -EINVAL for a NULL res. */
PONY_API int pony_fetch_add(struct pony_app *app, const struct pony_remote *rm, uint64_t off,
			    uint64_t add, uint64_t *res, uint64_t tag);
PONY_API int pony_cmp_swap(struct pony_app *app, const struct pony_remote *rm, uint64_t off,
			   uint64_t expect, uint64_t swap, uint64_t *res, uint64_t tag);

/* ---- Custom one-sided operations in eBPF ----
 * The owner of a region loads eBPF programs for it by name; a remote app runs one against the
 * region in one round trip (pony_bpf_call), executed by the owner's engine. Programs are
 * checked by DPDK's rte_bpf when loaded (no loops, no unknown instructions, stack and
 * argument accesses in bounds) and see the region only through the helpers below, each
 * bounds-checked: a call outside the region, beyond its permissions, the result buffer or
 * the budget stops the run (every later helper call does nothing) and the op completes
 * -EFAULT (counted os_st_fault by the owner's engine). A run executes at most
 * PONY_BPF_INSNS_MAX instructions (no loops) and PONY_BPF_CALLS_MAX helper calls.
 * Calling convention: R1 points to the argument block (PONY_BPF_ARG_MAX bytes, zero past the
 * caller's arguments); helpers take R1..R5 and return R0 (they clobber R1..R5); R0 at exit is
 * the op's return value. Helper ids are the imm of EBPF_CALL (code 0x85). */
struct pony_bpf_insn { /* struct ebpf_insn of DPDK's bpf_def.h (and Linux's struct bpf_insn) */
	uint8_t code;
	uint8_t dst_reg : 4;
	uint8_t src_reg : 4;
	int16_t off;
	int32_t imm;
};
enum pony_bpf_helper {
	PONY_BPF_LOAD64 = 0,     /* (off): the 8-byte word at off (host order) */
	PONY_BPF_STORE64 = 1,    /* (off, val): word at off = val (region writable); returns 0 */
	PONY_BPF_EMIT = 2,       /* (off, len): append region bytes [off, off+len) to the result */
	PONY_BPF_EMIT64 = 3,     /* (val): append val (little-endian) to the result */
	PONY_BPF_REGION_LEN = 4, /* (): the region's length in bytes */
	PONY_BPF_HELPERS
};
#define PONY_BPF_INSNS_MAX 1024u      /* instructions a program may have */
/* How complex a program may be: rte_bpf validates by walking every path, so its time grows
 * with the paths, about 130 ns a step here (a scan of 16 records with a branch each, 1.2 M
 * steps, took 155 ms of its engine). A program's steps are the sum over its instructions of
 * the paths that reach each (a program without branches: its length); at most 2^16, some
 * 8 ms of validation. Branch-free code costs least (tools/examples/bpf_progs.h). */
#define PONY_BPF_STEPS_MAX (1u << 16)
#define PONY_BPF_CALLS_MAX 256u       /* helper calls a run may make */
#define PONY_BPF_NAME_MAX 31u         /* program name bytes (printable ASCII) */
#define PONY_BPF_ARG_MAX 256u         /* argument block bytes */
#define PONY_BPF_RESULT_MAX 256u      /* bytes a program may append to its result */
#define PONY_BPF_PROGS_PER_REGION 4u
#define PONY_BPF_PROGS_PER_APP 8u
/* Load attempts an app may make while attached: validating a program takes its engine up to
 * tens of milliseconds, so an app cannot keep the engine from serving others by loading.
 * And an engine spends at most PONY_BPF_LOAD_DUTY_PCT percent of its time validating, after
 * a first PONY_BPF_LOAD_BURST_MS, whichever apps ask (a load beyond is refused "busy",
 * -EAGAIN: retry later). */
#define PONY_BPF_LOAD_DUTY_PCT 2u
#define PONY_BPF_LOAD_BURST_MS 100u
#define PONY_BPF_LOADS_MAX 256u
#define PONY_BPF_LOAD_HDR 32u /* BPF_LOAD command buffer: name (NUL-padded), then the insns */
/* Why a load was refused: the PONY_OP_BPF_LOAD completion's status, and its len holds the
 * reason's number (pony_bpf_reason_name gives its name). */
#define PONY_BPF_REASONS(X)                                                                \
	X(OK, "ok", 0)                                                                     \
	X(NAME, "bad_name", -EINVAL)           /* name empty, too long or not printable */ \
	X(SIZE, "bad_size", -E2BIG)            /* 0 or over PONY_BPF_INSNS_MAX insns */    \
	X(VERIFY, "verify", -EINVAL)           /* rte_bpf refused it (daemon log: why) */  \
	X(EXISTS, "exists", -EEXIST)           /* the region has a program of that name */ \
	X(LIMIT_REGION, "limit_region", -ENOSPC) /* PONY_BPF_PROGS_PER_REGION loaded */     \
	X(LIMIT_APP, "limit_app", -ENOSPC)     /* PONY_BPF_PROGS_PER_APP loaded */         \
	X(NO_REGION, "no_region", -ENOENT)     /* not a live region of this app */         \
	X(NO_MEM, "no_mem", -ENOMEM)                                                       \
	X(LOADS, "too_many_loads", -EDQUOT)    /* PONY_BPF_LOADS_MAX attempts made */     \
	X(BUSY, "busy", -EAGAIN)               /* the engine's load budget is spent: retry */ \
	X(COMPLEX, "too_complex", -E2BIG)      /* over PONY_BPF_STEPS_MAX to validate */     \
	X(DISABLED, "disabled", -EPERM)        /* the daemon's pony element lacks bpf_ops */
PONY_API const char *pony_bpf_reason_name(unsigned reason);

/* Load n instructions (1..PONY_BPF_INSNS_MAX) as program name for region (one of this app's
 * regions; revoking it unloads its programs; at most PONY_BPF_LOADS_MAX attempts per
 * connection). The instructions are copied into a payload
 * buffer the library frees at the completion. The PONY_OP_BPF_LOAD completion: 0, or a
 * PONY_BPF_REASONS status with the reason in len. Returns 0, -EINVAL (NULL, n or name
 * length), -ENOMEM (no payload buffer), -EAGAIN, -EPIPE. */
PONY_API int pony_bpf_load(struct pony_app *app, uint32_t region, const char *name,
			   const struct pony_bpf_insn *ins, uint32_t n, uint64_t tag);
/* Run program name of the remote region with the argument block arg[0..arg_len) (arg_len
 * <= PONY_BPF_ARG_MAX). buf (payload area, len bytes, len >= 8 and >= the request: 1 +
 * name length + arg_len) receives the result: the program's return value (little-endian
 * u64) then the bytes it appended (at most min(len - 8, PONY_BPF_RESULT_MAX)); the
 * completion's len is 8 + those bytes. The request travels in buf until the daemon sends
 * it: keep buf for the op until its completion. Exactly once like WRITE. Completion errors
 * as for the other one-sided ops, and -ENOEXEC (no program of that name for the region),
 * -EFAULT (the program faulted). Returns as pony_read, -EINVAL for bad lengths. */
PONY_API int pony_bpf_call(struct pony_app *app, const struct pony_remote *rm, const char *name,
			   const void *arg, uint32_t arg_len, void *buf, uint32_t len,
			   uint64_t tag);

/* Take up to max completions. Returns how many (0..max), or -EPIPE if the daemon is gone,
 * -EPROTO if it broke the ring protocol. Never blocks. */
PONY_API int pony_poll(struct pony_app *app, struct pony_completion *out, unsigned max);

/* Block until a completion is ready or timeout_ms passes (-1: forever). Returns 1 (ready),
 * 0 (timeout), -EPIPE (daemon gone), -EINTR. It first looks for a completion for up to a
 * spin, yielding the CPU between looks, and only then sleeps: an app that shares its core
 * with a polling engine (a dedicated group on a small host) sees its completion a few
 * microseconds after the engine writes it, where a sleep and a wake-up cost tens. The
 * default spin, PONY_WAIT_SPIN_AUTO_US, ends at the first yield that ran no other thread
 * (nothing shares this CPU: spinning would only burn it), so an app alone on its core
 * sleeps after one look; and at a yield that kept the app away over 50 us (the engine on
 * this CPU has work and keeps it, where a sleeping app is woken by the engine's doorbell
 * and preempts): while a quarter of the recent yields are such, the spin stays off for
 * 1 ms, doubling at each further one up to 128 ms, back to 1 ms after a second without
 * one. A spin set with pony_set_wait_spin, or $PONY_WAIT_SPIN_US read by
 * pony_connect (0: never spin), lasts its full time whoever shares the CPU. */
PONY_API int pony_wait(struct pony_app *app, int timeout_ms);
/* Set pony_wait's spin, microseconds (0: none, at most PONY_WAIT_SPIN_MAX_US). 0 or
 * -EINVAL. */
#define PONY_WAIT_SPIN_MAX_US 1000000u
#define PONY_WAIT_SPIN_AUTO_US 50u
PONY_API int pony_set_wait_spin(struct pony_app *app, unsigned us);

/* For an application's own epoll: an fd that becomes readable when completions arrive,
 * provided pony_arm() returned 0 since the last pony_poll. pony_arm: returns 1 if
 * completions are already pending (do not sleep), 0 if armed (the daemon will signal the
 * fd). The socket fd (pony_sock_fd) becomes readable/hung-up when the daemon goes away. */
PONY_API int pony_fd(const struct pony_app *app);
PONY_API int pony_sock_fd(const struct pony_app *app);
PONY_API int pony_arm(struct pony_app *app);

/* Text for a status or error (negative errno or 0). Never NULL. */
PONY_API const char *pony_strerror(int err);
/* Name of an op ("send"), "?" if unknown. */
PONY_API const char *pony_op_name(unsigned op);

#ifdef __cplusplus
}
#endif
