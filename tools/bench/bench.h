/* snapbench's internal transport interface: a message transport (connect/accept, send a
 * message, receive messages through upcalls, poll/wait) that the workloads in client.c and
 * the echo server drive without knowing whether the kernel TCP stack or Pony Express moves
 * the bytes. A backend is one file defining one `const struct bench_tp_ops`. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* The benchmark's own header at the start of every message (transport payload, not a wire
 * header of any transport). Messages are at least this long. */
struct bench_msg_hdr {
	uint32_t magic;
	uint32_t flags;
	uint64_t tag; /* client's send time (ns, CLOCK_MONOTONIC); echoed back unchanged */
};
#define BENCH_MSG_MAGIC 0x53424d31u /* "SBM1" */
#define BENCH_F_SINK 0x1u           /* server consumes the message, sends no reply */
#define BENCH_MSG_MIN ((uint32_t)sizeof(struct bench_msg_hdr))

/* One connection (TCP) or stream (Pony). Backends embed it first in their own struct. */
struct bench_conn {
	uint32_t id;  /* 0..n-1 in the order connect() returned or accept() saw them */
	void *user;   /* owned by the workload */
};

struct bench_tp_cfg {
	const char *addr;      /* server: address to bind; client: address to connect to */
	uint16_t port;         /* 0 on a server: any free port (listen() reports it) */
	uint32_t max_msg;      /* largest message either side may send or accept */
	uint32_t tx_queue;     /* bytes of unsent messages a conn may hold before send() says
				* -EAGAIN (a send into an empty queue is always taken) */
	uint32_t max_conns;    /* server: connections beyond this are closed at accept */
	/* Hints for transports that receive into buffers posted ahead (Pony); 0 = default.
	 * Kernel TCP ignores them. */
	uint32_t rx_max;       /* largest message this side expects to receive (<= max_msg) */
	uint32_t rx_depth;     /* messages a conn should be able to receive back to back */
};

/* Upcalls, run from inside poll() (and connect()). `ctx` is bench_tp_upcalls.ctx. */
struct bench_tp_upcalls {
	void *ctx;
	/* Server: a new connection arrived. */
	void (*accepted)(void *ctx, struct bench_conn *c);
	/* A whole message arrived; buf is valid only during the call. Return 0 when consumed,
	 * -EAGAIN to get the same message again once the conn is writable (backpressure). */
	int (*msg)(void *ctx, struct bench_conn *c, const void *buf, uint32_t len);
	/* A conn whose send() said -EAGAIN can take messages again. */
	void (*writable)(void *ctx, struct bench_conn *c);
	/* The conn is gone (err 0: peer closed; -errno: failure or malformed input). The conn
	 * pointer is invalid after the call. */
	void (*closed)(void *ctx, struct bench_conn *c, int err);
	/* One-sided read completed (Pony only; may be NULL for transports without reads). */
	void (*read_done)(void *ctx, struct bench_conn *c, uint64_t cookie, int status);
};

struct bench_tp;

struct bench_tp_ops {
	const char *name;
	/* Creates a transport; NULL with errno set on failure. cfg and up are copied. */
	struct bench_tp *(*create)(const struct bench_tp_cfg *cfg,
				   const struct bench_tp_upcalls *up);
	/* Closes every conn (no upcalls) and frees everything. NULL is a no-op. */
	void (*destroy)(struct bench_tp *tp);
	/* Server: starts accepting on cfg addr:port; *port receives the bound port.
	 * 0 or -errno. */
	int (*listen)(struct bench_tp *tp, uint16_t *port);
	/* Client: opens n conns to cfg addr:port and waits (at most timeout_ms) until all are
	 * established; conns[0..n-1] receive them. 0, -ETIMEDOUT, -errno of the first failure
	 * (then no conn is left open). */
	int (*connect)(struct bench_tp *tp, unsigned n, struct bench_conn **conns,
		       int timeout_ms);
	/* Queues one message of len bytes (BENCH_MSG_MIN..max_msg); the transport copies what
	 * it cannot hand over at once, so buf may be reused on return. 0, -EAGAIN (queue full:
	 * wait for writable()), -EMSGSIZE, -ENOTCONN. */
	int (*send)(struct bench_tp *tp, struct bench_conn *c, const void *buf, uint32_t len);
	/* Optional; NULL when the stack has no buffers of its own to offer (a socket: the
	 * message is built in the caller's memory and send() copies it in). A buffer of the
	 * transport's to build the next message of len bytes in, which send() then takes
	 * without a copy (Pony: a payload buffer in the app's shared region, where a Pony app
	 * builds what it sends). *built: it still holds the caller's last message of at least
	 * len bytes, so only what differs needs writing (the header), as an app sending the
	 * same data again would; false: write all of it. The buffer stays the caller's until
	 * send() takes it; the next msg_buf() before that returns the same one. 0, -EAGAIN (none
	 * free: wait for writable()), -EMSGSIZE, -ENOTCONN. */
	int (*msg_buf)(struct bench_tp *tp, struct bench_conn *c, uint32_t len, void **buf,
		       bool *built);
	/* Waits up to timeout_ms for events and runs the upcalls for them. Returns how many
	 * events were handled (0 on timeout), or -errno (-EINTR when a signal arrived). */
	int (*poll)(struct bench_tp *tp, int timeout_ms);
	/* One-sided read of len bytes at off in the peer's registered region into dst;
	 * read_done() reports completion. NULL for transports without one-sided ops. */
	int (*read)(struct bench_tp *tp, struct bench_conn *c, uint64_t off, void *dst,
		    uint32_t len, uint64_t cookie);
};

/* Every backend compiled in, NULL-terminated (tp_registry.c). */
extern const struct bench_tp_ops *const bench_transports[];

/* The backend called name, or NULL. */
const struct bench_tp_ops *bench_tp_find(const char *name);
