/* Control RPC server: protobuf-c requests over a Unix stream socket, served non-blocking from
 * the daemon's control thread. Method handlers live in one table, registered per module. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <protobuf-c/protobuf-c.h>

#include "control/rpc_wire.h"

struct ctl_rpc_server;
struct ctl_rpc_call;

/* ---- method table ------------------------------------------------------------------------ */

/* Method flags: READONLY methods may be opened to every peer that can connect (config);
 * MUTATING methods need root, the daemon's own uid, or membership of the operator group. */
#define CTL_RPC_READONLY 0x1u
#define CTL_RPC_MUTATING 0x2u

/* Handler return value meaning "the reply will come later" (see ctl_rpc_reply). */
#define CTL_RPC_DEFERRED 1

/*
 * A method handler, run on the control thread. req/len is the Request's payload (the
 * method's *Request message, possibly empty). Returns:
 *   0                 after calling ctl_rpc_reply() once;
 *   -errno            the server sends an error reply with that code and the message recorded
 *                     by ctl_rpc_error() (strerror otherwise);
 *   CTL_RPC_DEFERRED  the handler keeps `call` and finishes it later with exactly one
 *                     ctl_rpc_reply() or ctl_rpc_error(); the connection reads no further
 *                     requests until then.
 */
typedef int (*ctl_rpc_handler_fn)(struct ctl_rpc_call *call, const uint8_t *req, size_t len);

/* Register a method (normally through CTL_RPC_REGISTER from a module's constructor).
 * flags: exactly one of CTL_RPC_READONLY / CTL_RPC_MUTATING.
 * 0, -EINVAL (bad name or flags), -EEXIST (name taken), -ENOSPC (table full). */
int ctl_rpc_register(const char *method, ctl_rpc_handler_fn fn, unsigned flags);
#define CTL_RPC_REGISTER(tag, method, fn, flags)                                           \
	static void __attribute__((constructor)) ctl_rpc_reg_##tag(void)                   \
	{                                                                                 \
		ctl_rpc_register(method, fn, flags);                                      \
	}

/* ---- inside a handler -------------------------------------------------------------------- */

/* Send msg (the method's *Reply) as the successful answer. For a deferred call this also
 * releases `call`. 0, or -ENOMEM/-EMSGSIZE (then an error reply is sent instead), -EALREADY
 * (this call was already answered; nothing sent). */
int ctl_rpc_reply(struct ctl_rpc_call *call, const ProtobufCMessage *msg);
/* Send msg (the method's progress message, e.g. UpgradeProgress) as an intermediate
 * Response: same id, `progress` set; the call stays open for more progress and its one final
 * reply/error. Only for clients that asked for progress in their request (others must get
 * exactly one Response). Inside the handler the frame is queued and goes out when the
 * handler returns; on a deferred call it is written out at once, because the control thread
 * may stay busy in a long synchronous step (upgrade) without returning to the loop (what the
 * socket does not take goes out later). 0; -ENOTCONN (the client left: nothing more can
 * reach it; the call must still be finished); -EALREADY (already answered); -ENOMEM or
 * -EMSGSIZE (this frame dropped, the call goes on). */
int ctl_rpc_progress(struct ctl_rpc_call *call, const ProtobufCMessage *msg);
/* Record an error for people ("no engine 'x'") and return err (a negative errno) so a handler
 * can `return ctl_rpc_error(call, -ENOENT, ...)`. For a deferred call it sends the error
 * reply at once and releases `call`. */
int ctl_rpc_error(struct ctl_rpc_call *call, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Unpack the request payload as a `desc` message; NULL (error recorded, return -EBADMSG) when
 * it does not parse or lacks required fields. Free with protobuf_c_message_free_unpacked. */
ProtobufCMessage *ctl_rpc_unpack(struct ctl_rpc_call *call,
				 const ProtobufCMessageDescriptor *desc, const uint8_t *req,
				 size_t len);
/* For deferred calls: fn(arg) runs if the client disconnects before the reply; the owner must
 * still finish the call with ctl_rpc_reply/ctl_rpc_error (which then only free it). */
void ctl_rpc_on_cancel(struct ctl_rpc_call *call, void (*fn)(void *arg), void *arg);
struct ctl_rpc_server *ctl_rpc_call_server(const struct ctl_rpc_call *call);

/* Run a READONLY method in-process, as if a client with every right had called it: other
 * views of the same data (DPDK telemetry, the metrics endpoint) go through the very handler
 * `snapctl` uses. Control thread only; the method must answer synchronously. On success
 * *reply (malloc'd, the caller frees it) holds the packed *Reply message. 0, or the
 * handler's -errno (-ENOENT...) with its message in err; -ENOSYS (no such read-only
 * method), -ENOMEM, -EINPROGRESS (the method deferred its answer: nothing to return). */
int ctl_rpc_invoke(const char *method, const uint8_t *req, size_t len, uint8_t **reply,
		   size_t *reply_len, char *err, size_t errlen);

/* ---- the server -------------------------------------------------------------------------- */

struct ctl_rpc_config {
	const char *path;      /* socket path (CTL_SOCKET_DEFAULT) */
	bool adopt;            /* serve adopt_fd, an already listening socket bound to path
				* (upgrade: received from the old daemon), instead of binding */
	int adopt_fd;
	unsigned mode;         /* socket file mode (0660) */
	const char *group;     /* operator group name: socket's group and who may mutate;
				* NULL/"": only root and the daemon's uid */
	bool readonly_open;    /* READONLY methods allowed for any peer that can connect */
	uint32_t max_msg;      /* largest request payload (CTL_MAX_MSG_DEFAULT) */
	unsigned max_clients;  /* concurrent connections (64) */
	unsigned idle_evict_ms; /* with every slot taken, a new client evicts the oldest
				 * connection that never sent a request, else the longest-idle
				 * one idle at least this long (5000), so idle connections
				 * cannot lock operators out */
	unsigned hello_timeout_ms; /* a connection that sends no complete request within this
				    * is closed (3000) */
	uint32_t max_out;      /* unsent reply bytes per connection (256 KiB): at this much the
				* server reads no more requests from it until it drains
				* (backpressure; one reply may overshoot it) */
	unsigned budget;       /* requests served per connection per ctl_rpc_process (8), so
				* a pipelining client cannot starve the others */
};
void ctl_rpc_config_default(struct ctl_rpc_config *c);

/* Create the server: bind/listen on cfg->path (a stale socket file is replaced; a socket with
 * a live server behind it is not: EADDRINUSE), chmod to mode, chgrp to group.
 * NULL with errno: EINVAL (bad config), ENOENT (unknown group), ENAMETOOLONG, EADDRINUSE,
 * ENOMEM, or the socket call's errno. */
struct ctl_rpc_server *ctl_rpc_create(const struct ctl_rpc_config *cfg);
/* Close every connection (cancelling deferred calls), the socket and unlink its path.
 * NULL is a no-op. */
void ctl_rpc_destroy(struct ctl_rpc_server *s);

/* The one fd the control loop polls for EPOLLIN: an epoll fd over the listening socket, the
 * connections and watched fds (ctl_rpc_watch_fd). */
int ctl_rpc_fd(const struct ctl_rpc_server *s);
/* The listening socket (for upgrade's fd registry). */
int ctl_rpc_listen_fd(const struct ctl_rpc_server *s);
/* Handle whatever is ready, without blocking: accept (at most 16 per call), read, dispatch
 * (at most cfg.budget requests per connection per call), write, watched fds. Call when
 * ctl_rpc_fd is readable (calling it spuriously is harmless); it stays readable while some
 * connection has requests left over. Returns the number of events handled (>= 0) or -errno
 * of epoll_wait. */
int ctl_rpc_process(struct ctl_rpc_server *s);

/* Watch an extra fd (e.g. a capture's timerfd) from the server's epoll: cb(arg) runs from
 * ctl_rpc_process when fd is readable. 0 or -errno (epoll_ctl, -ENOMEM). */
int ctl_rpc_watch_fd(struct ctl_rpc_server *s, int fd, void (*cb)(void *arg), void *arg);
int ctl_rpc_unwatch_fd(struct ctl_rpc_server *s, int fd);

/* Housekeeping, from a periodic timer (about every 250 ms): close connections past their
 * hello timeout. now_ns: CLOCK_MONOTONIC. */
void ctl_rpc_tick(struct ctl_rpc_server *s, uint64_t now_ns);

/* The server's counters (status shows them as control.NAME): one list makes the enum and
 * the names. */
#define CTL_RPC_COUNTERS(X)                                                                \
	X(REQUESTS, "requests")            /* complete request frames dispatched */       \
	X(ERRORS, "errors")                /* error replies sent */                       \
	X(OUT_PAUSED, "out_paused")        /* a connection hit max_out: reading paused */ \
	X(BUDGET_YIELD, "budget_yield")    /* a connection used its budget, more queued */ \
	X(REFUSED_FULL, "refused_full")    /* accepted then closed: every slot busy */    \
	X(EVICTED, "evicted")              /* closed to make room for a newcomer */       \
	X(HELLO_TIMEOUT, "hello_timeout")  /* closed: no request within hello_timeout */  \
	X(ACCEPT_ERRORS, "accept_errors")  /* accept failed (out of fds, memory) */

enum ctl_rpc_counter {
#define CTL_RPC_X_ENUM(e, s) CTL_RPC_C_##e,
	CTL_RPC_COUNTERS(CTL_RPC_X_ENUM)
#undef CTL_RPC_X_ENUM
	CTL_RPC_C_MAX
};
/* Name of a counter ("out_paused"); "?" if out of range. */
const char *ctl_rpc_counter_name(unsigned c);

/* Introspection for status: open connections; a counter's value (0 if out of range). */
unsigned ctl_rpc_n_clients(const struct ctl_rpc_server *s);
uint64_t ctl_rpc_counter(const struct ctl_rpc_server *s, unsigned c);
