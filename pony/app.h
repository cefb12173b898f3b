/* Daemon side of the app layer: per-app sessions living inside a Pony engine (command
 * validation, completions, transport upcalls) and the attach socket run by the control
 * thread. Apps are untrusted: everything read from shared memory is copied once and checked.
 *
 * Threads. pony_app_config_* and pony_app_attach_* run on the control thread. A session is
 * created there, then handed to its engine with snap_engine_call(); from then on only the
 * engine's thread touches it (pony_app_host_* and the upcalls), until the control thread
 * detaches it again through snap_engine_call().
 */
#pragma once

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* transport.h names this struct in a prototype without declaring it; declare it first so the
 * header compiles warning-free. */
struct pony_tp_config_internal;
#include "pony/transport.h"
#include "core/config.h"
/* Deliberately not pony/shm.h (which pulls the public <pony.h>): daemon files that include
 * this header, like the pony element, also include the transport's internals, whose names
 * share the pony_ prefix with the client API. */

struct snap_engine;
struct pony_app_host;
struct pony_app_session;

#define PONY_APP_POLICY_MAX 32

/* App-layer configuration (daemon config block `apps { ... }`). */
struct pony_app_config {
	char socket_path[108];   /* Unix socket path */
	unsigned socket_mode;    /* file mode of the socket, e.g. 0660 */
	long socket_gid;         /* group of the socket file; -1: leave as created */
	uint32_t allow_uids[PONY_APP_POLICY_MAX];
	unsigned n_allow_uids;
	uint32_t allow_gids[PONY_APP_POLICY_MAX];
	unsigned n_allow_gids;
	bool allow_own_uid;      /* the daemon's own uid is always allowed (default true) */
	char engine[32];         /* default engine for apps that name none */
	uint64_t buf_size;       /* payload-area bytes per app (config: app_region_mb) */
	uint32_t cmd_entries;    /* command ring entries (power of two) */
	uint32_t max_apps;       /* attached apps, whole daemon (checked at accept and hello) */
	uint32_t max_pending;    /* connections still in their hello; a newcomer beyond this
				  * closes the oldest (the flood, not the app that just came) */
	uint32_t hello_timeout_ms; /* a connection that sends no hello within this is closed */
	uint32_t max_streams;    /* per app */
	uint32_t max_ops;        /* outstanding sends + posted receives + pending opens, per app */
	uint32_t max_regions;    /* per app */
	uint32_t max_listens;    /* per app */
	/* Who may listen on which services (daemon.service_owners); uncovered ones: anyone. */
	unsigned n_owners;
	struct snap_service_owner owners[SNAP_CFG_OWNERS_MAX];
};

/* Defaults: socket PONY_DEFAULT_SOCKET mode 0660, own uid only, 4 MiB payload, 256 cmd
 * entries, 64 apps, 16 pending hellos of at most 3 s, 256 streams, 1024 ops, 64 regions,
 * 16 listens, engine "pony". */
void pony_app_config_defaults(struct pony_app_config *c);
/* Check ranges and that the derived completion ring fits. 0 or -EINVAL with err filled. */
int pony_app_config_check(const struct pony_app_config *c, char *err, size_t errlen);
/* Completion ring entries for a config: a power of two >= max_ops + max_streams +
 * PONY_RECV_BATCH_MAX + 8 (see "completion credit" in app.c). */
uint32_t pony_app_cpl_entries(const struct pony_app_config *c);
/* Fill c from the daemon's parsed config (app_socket, socket_mode, allow_uids/gids,
 * app_engine, app_region_mb, app_max_streams/ops/regions/apps/pending, app_hello_timeout_ms);
 * fields it leaves 0/empty keep
 * their defaults (max_regions 0 means no regions). 0 or -EINVAL (err says which limit). */
struct snap_config;
int pony_app_config_from_snap(const struct snap_config *sc, struct pony_app_config *c,
			      char *err, size_t errlen);

/* ---- Counters ---- */

/* Why a command was refused (the completion status in brackets). One list for the enum and
 * the names snapctl and tests print. */
#define PONY_APP_ERRORS(X)                                                                \
	X(BAD_OP, "bad_op")             /* unknown op code [-EINVAL] */                   \
	X(BAD_FIELD, "bad_field")       /* stray flags/reserved/unused fields [-EINVAL] */\
	X(BAD_LEN, "bad_len")           /* 0 or > PONY_MSG_MAX [-EINVAL] */               \
	X(BAD_COUNT, "bad_count")       /* recv count 0 or > batch max [-EINVAL] */       \
	X(BAD_BUFFER, "bad_buffer")     /* outside the payload area [-EFAULT] */          \
	X(BAD_STREAM, "bad_stream")     /* not an open stream of this app [-EBADF] */     \
	X(NOT_CONNECTED, "not_connected") /* send on an opening stream [-ENOTCONN] */     \
	X(BAD_REGION, "bad_region")     /* not a region of this app [-ENOENT] */          \
	X(BAD_PERMS, "bad_perms")       /* region perms 0 or unknown bits [-EINVAL] */    \
	X(BAD_SERVICE, "bad_service")   /* unlisten of a service not listened [-ENOENT] */\
	X(LIMIT_STREAMS, "limit_streams") /* [-ENOSPC] */                                 \
	X(LIMIT_OPS, "limit_ops")       /* [-ENOBUFS] */                                  \
	X(LIMIT_REGIONS, "limit_regions") /* [-ENOSPC] */                                 \
	X(LIMIT_LISTENS, "limit_listens") /* [-ENOSPC] */                                 \
	X(TRANSPORT, "transport_error") /* the transport refused [its error] */           \
	X(NO_RANDOM, "no_random")       /* key generation failed [-EAGAIN] */             \
	X(NOT_OWNER, "not_service_owner") /* listen on another user's service [-EACCES] */

enum pony_app_err {
#define PONY_X_ENUM(e, s) PONY_APP_ERR_##e,
	PONY_APP_ERRORS(PONY_X_ENUM)
#undef PONY_X_ENUM
	PONY_APP_ERR_MAX
};
const char *pony_app_err_name(unsigned e);

/* Per-session counters (engine thread writes). */
struct pony_app_counters {
	uint64_t cmds;                     /* commands taken off the ring */
	uint64_t cpls;                     /* completions written */
	uint64_t kicks;                    /* eventfd writes to the app */
	uint64_t errors[PONY_APP_ERR_MAX]; /* refused commands by reason */
	uint64_t accept_refused;           /* incoming streams refused (limits, no credit) */
	uint64_t cpl_overflow;             /* completions lost to a full ring (must stay 0) */
	uint64_t stray_upcalls;            /* upcalls for streams/ops we no longer know */
	uint64_t tx_bytes, rx_bytes;
};

/* Per-host (engine) counters and gauges; gauges return to 0 when every app is gone. */
struct pony_app_host_counters {
	uint64_t attached, detached;     /* sessions adopted / torn down */
	uint64_t protocol_violations;    /* apps disconnected for breaking the ring protocol */
	uint64_t listen_not_owner;       /* listens refused: the service belongs to other users */
	uint64_t sessions;               /* gauge: live + zombie sessions */
	uint64_t streams;                /* gauge */
	uint64_t ops;                    /* gauge: outstanding ops */
	uint64_t regions;                /* gauge */
	uint64_t listens;                /* gauge */
	uint64_t mapped_bytes;           /* gauge: shared memory mapped */
	uint64_t bpf_loads, bpf_refused; /* eBPF programs loaded / refused (pony/bpf.h) */
};

/* ---- Host: the app layer of one Pony engine ---- */

/* Create the app layer of an engine whose transport is tp (the pony element calls this from
 * its init, on the control thread, engine parked). engine may be NULL (tests): sessions are
 * then adopted and detached directly and no wake fds are registered. The host is registered
 * under engine's name (or name, when engine is NULL) for the attach layer.
 * NULL with errno EEXIST (name taken), ENOMEM, EINVAL. */
struct pony_app_host *pony_app_host_create(struct snap_engine *engine, const char *name,
					   struct pony_tp *tp);
/* NUMA node of h's engine (SOCKET_ID_ANY without one): where its sessions' tables go. */
int pony_app_host_socket(const struct pony_app_host *h);
/* Detach every session (engine thread or parked) and free. NULL is a no-op. Watchers
 * (pony_app_host_watch) hear of it after the sessions are gone, before h is freed. */
void pony_app_host_destroy(struct pony_app_host *h);
/* A layer that keeps (host, session) pairs, the attach socket, learns here that a host is
 * going away with its sessions (its engine was destroyed with apps attached), so it drops
 * them instead of detaching them later through freed memory. fn(ctx, h) runs on the
 * control thread inside pony_app_host_destroy; it may compare h and its sessions' pointers
 * but not use them. 0, -ENOSPC (PONY_APP_HOST_WATCHERS_MAX watchers). */
#define PONY_APP_HOST_WATCHERS_MAX 8
typedef void (*pony_app_host_gone_fn)(void *ctx, struct pony_app_host *h);
int pony_app_host_watch(pony_app_host_gone_fn fn, void *ctx);
/* Remove a watcher (same fn and ctx); unknown ones are ignored. */
void pony_app_host_unwatch(pony_app_host_gone_fn fn, void *ctx);
/* The upcalls to put into the transport's config: owners/listeners are app-layer objects. */
extern const struct pony_tp_upcalls pony_app_upcalls;
/* One bounded round: drain up to budget commands over all sessions (round-robin, bursts of
 * 32 per session), then ring the eventfds of apps waiting for completions. Returns the
 * commands handled. Engine thread. */
unsigned pony_app_host_poll(struct pony_app_host *h, unsigned budget);
/* Ring app eventfds for completions written by upcalls since the last poll (call at the end
 * of the pony element's process()). Engine thread. */
void pony_app_host_flush(struct pony_app_host *h);
/* Whether h's apps may load eBPF programs (on at creation; the pony element's bpf_ops key,
 * off by default, decides for daemons). Loads refused with reason "disabled" otherwise. */
void pony_app_host_set_bpf(struct pony_app_host *h, bool on);
/* Before sleeping (arm=true): set every session's sleeping flag and re-check its ring; if a
 * command is already there, the doorbell eventfd is made readable so the sleep ends at once.
 * After waking (false): clear the flags and reset the eventfds. Always 0 (every session has
 * a wake fd). Engine thread. */
int pony_app_host_arm(struct pony_app_host *h, bool arm);
const struct pony_app_host_counters *pony_app_host_counters(const struct pony_app_host *h);
/* Find a host by engine name (control thread). NULL if none. */
struct pony_app_host *pony_app_host_find(const char *name);
/* Engine name meaning "any Pony engine": the attach layer picks the least loaded (apps spread
 * over the engines of a multi-queue port). */
#define PONY_APP_ENGINE_ANY "*"
/* The host for which load(h, ctx) is smallest (the first of equals), NULL if there is none.
 * Control thread. */
struct pony_app_host *pony_app_host_least(unsigned (*load)(const struct pony_app_host *h,
							   void *ctx),
					  void *ctx);
/* The engine name a host serves (for messages). */
const char *pony_app_host_name(const struct pony_app_host *h);
/* Report counters: per session "app<id>.<counter>" and host totals. Engine thread. */
typedef void (*pony_app_stat_fn)(void *ctx, const char *name, uint64_t value);
void pony_app_host_stats(const struct pony_app_host *h, pony_app_stat_fn fn, void *ctx);

/* One attached app as the control plane shows it (`snapctl apps`). */
struct pony_app_info {
	uint32_t app_id;
	int sock_fd;          /* the app's socket (the caller may read SO_PEERCRED from it) */
	uint32_t streams, ops, regions, listens;
	uint64_t mapped_bytes;
	struct pony_app_counters cnt;
};
/* Copy up to max live sessions of h into out; returns how many there are (may exceed max).
 * Engine thread (through snap_engine_call) or parked. */
unsigned pony_app_host_list(const struct pony_app_host *h, struct pony_app_info *out,
			    unsigned max);

/* ---- Sessions (mostly for the attach layer and tests) ---- */

/* Create a session's shared region (memfd sized, sealed against resizing, mapped, header
 * and rings initialised) and eventfds; its tables on NUMA node socket_id (the node of the
 * host that will adopt it, pony_app_host_socket). Control thread. NULL with errno (ENOMEM,
 * EINVAL, or the failing syscall's). The session owns its mapping; the fds are recorded in
 * it but are owned and closed by the caller (the attach layer keeps every fd, for upgrade's
 * registry). */
struct pony_app_session *pony_app_session_create(const struct pony_app_config *c,
						 uint32_t app_id, int sock_fd, int socket_id);
/* The fds of a session (memfd, cmd eventfd = daemon's doorbell, cpl eventfd = app's). */
void pony_app_session_fds(const struct pony_app_session *s, int *memfd, int *cmd_efd,
			  int *cpl_efd);
/* Base address and header of the daemon's mapping (tests poke the rings through it). */
void *pony_app_session_base(const struct pony_app_session *s);
/* The shm version agreed at attach (pony_shm_version_ok), into the region header. */
void pony_app_session_set_version(struct pony_app_session *s, uint32_t version);
/* Whether the session broke the ring protocol and was cut off. */
bool pony_app_session_broken(const struct pony_app_session *s);
/* Free a session that was never adopted (control thread). NULL is a no-op. */
void pony_app_session_free(struct pony_app_session *s);

/* Hand s to h (runs on h's engine thread via snap_engine_call, or directly without an
 * engine). 0, -ENOSPC (engine wake-fd table full), or snap_engine_call's error (then s still
 * belongs to the caller). */
int pony_app_host_adopt(struct pony_app_host *h, struct pony_app_session *s);
/* Tear s down (engine thread via snap_engine_call): close its streams (peers see them
 * close), unlisten, drop pending ops, regions; the mapping is released as soon as the
 * transport holds no send buffer of it. After 0 the caller may close the session's fds.
 * 0 or snap_engine_call's error (then retry later; s is untouched). */
int pony_app_host_detach(struct pony_app_host *h, struct pony_app_session *s);

/* Test hook: drain one session now (what pony_app_host_poll does for it). */
unsigned pony_app_session_poll(struct pony_app_host *h, struct pony_app_session *s,
			       unsigned budget);

/* For one-sided ops (later): find region `id` of session s, check key and that [off,
 * off+len) lies inside it with perms. Returns the daemon-side address, or NULL
 * (unknown id, wrong key, out of bounds, missing permission). Engine thread. */
void *pony_app_region_lookup(struct pony_app_session *s, uint32_t id, uint64_t key,
			     uint64_t off, uint64_t len, uint32_t perms);

/* ---- Attach socket (control thread) ---- */

struct pony_app_attach;

/* Kinds of fds the attach layer holds, for upgrade's fd registry. */
enum pony_app_fd_kind {
	PONY_APP_FD_LISTENER,
	PONY_APP_FD_CONN,     /* an app's socket */
	PONY_APP_FD_MEMFD,
	PONY_APP_FD_CMD_EFD,  /* daemon doorbell (app -> daemon) */
	PONY_APP_FD_CPL_EFD,  /* app doorbell (daemon -> app) */
};

struct pony_app_fd {
	int fd;
	enum pony_app_fd_kind kind;
	uint32_t app_id;      /* 0 for the listener */
};

/* Create the listening socket from c (bind to c->socket_path, replacing a stale socket
 * file; chmod to socket_mode; chown to socket_gid when >= 0). c is copied.
 * NULL with errno (EINVAL config, EADDRINUSE a live daemon already listens there, or the
 * failing syscall's). */
struct pony_app_attach *pony_app_attach_create(const struct pony_app_config *c);
/* Upgrade: an attach layer serving lfd, a listening socket received from the old daemon
 * (already bound to c->socket_path). NULL with errno EINVAL/ENOMEM. */
struct pony_app_attach *pony_app_attach_adopt_listener(const struct pony_app_config *c, int lfd);
/* Upgrade: take over an attached app whose session s was restored into host h (sock, the
 * app's connection, and the session's fds are owned by the attach layer from now on; the
 * hooks see them added). 0 or -ENOMEM. */
int pony_app_attach_adopt(struct pony_app_attach *a, struct pony_app_host *h,
			  struct pony_app_session *s, uint32_t app_id, int sock, uid_t uid);
/* Optional notifications of every fd the attach layer starts or stops holding, so the
 * daemon can keep its event loop (listener and app sockets: watch for readability and call
 * pony_app_attach_handle) and its fd registry (all kinds) in sync without polling
 * pony_app_attach_pollfds. fd_removed runs just before the fd is closed. */
struct pony_app_attach_hooks {
	/* 0, or -errno if the daemon cannot serve fd (its event loop refused it): a new app
	 * connection is then closed at once (counted fd_refused); other kinds ignore it. */
	int (*fd_added)(void *ctx, int fd, enum pony_app_fd_kind kind, uint32_t app_id);
	void (*fd_removed)(void *ctx, int fd, enum pony_app_fd_kind kind, uint32_t app_id);
};
/* Install hooks (copied; NULL removes them); fd_added is called at once for every fd
 * already held. */
void pony_app_attach_set_hooks(struct pony_app_attach *a, const struct pony_app_attach_hooks *h,
			       void *ctx);
/* Detach every app, close every fd, unlink the socket file. NULL is a no-op. */
void pony_app_attach_destroy(struct pony_app_attach *a);
/* The fds the control loop must poll (POLLIN) right now: the listener and every app
 * socket. Returns how many were written (at most max). */
unsigned pony_app_attach_pollfds(const struct pony_app_attach *a, struct pollfd *out,
				 unsigned max);
/* Handle revents on fd (one the previous call returned): accept and attach new apps on the
 * listener; detach apps whose socket closed. 0, or -ENOENT if fd is not ours. */
int pony_app_attach_handle(struct pony_app_attach *a, int fd, short revents);
/* Housekeeping (call at least every second): retries detaches that timed out. */
void pony_app_attach_tick(struct pony_app_attach *a);
/* Replace who may attach (allow lists, own-uid rule) and who may listen on which services
 * (service_owners; for apps attaching from now on) with c's; the rest of the running
 * config stays. Judged at each later hello; apps already attached keep their sessions. */
void pony_app_attach_set_policy(struct pony_app_attach *a, const struct pony_app_config *c);
/* Every fd held (listener, app sockets, memfds, eventfds) for the fd registry. Returns the
 * total count (may exceed max; only max are written). */
unsigned pony_app_attach_fds(const struct pony_app_attach *a, struct pony_app_fd *out,
			     unsigned max);
/* Attached apps right now. */
unsigned pony_app_attach_count(const struct pony_app_attach *a);

/* What the attach socket refused and why (status shows them as apps.NAME): one list makes
 * the enum and the names. */
#define PONY_ATTACH_COUNTERS(X)                                                            \
	X(ACCEPTED, "accepted")             /* connections accepted */                    \
	X(ATTACHED, "attached")             /* hellos that ended attached */              \
	X(REFUSED_POLICY, "refused_policy") /* uid/gid not allowed */                     \
	X(REFUSED_MAX_APPS, "refused_max_apps") /* max_apps reached (accept or hello) */  \
	X(REFUSED_HELLO, "refused_hello")   /* malformed hello, version, engine, region */ \
	X(HELLO_EVICTED, "hello_evicted")   /* closed: max_pending hellos, a newer came */ \
	X(HELLO_TIMEOUT, "hello_timeout")   /* closed: no hello within hello_timeout_ms */ \
	X(FD_REFUSED, "fd_refused")         /* closed: the event loop could not watch it */ \
	X(ACCEPT_ERRORS, "accept_errors")   /* accept failed (out of fds, memory) */

enum pony_attach_counter {
#define PONY_ATTACH_X_ENUM(e, s) PONY_ATTACH_C_##e,
	PONY_ATTACH_COUNTERS(PONY_ATTACH_X_ENUM)
#undef PONY_ATTACH_X_ENUM
	PONY_ATTACH_C_MAX
};
/* Name of a counter ("hello_timeout"); "?" if out of range. */
const char *pony_app_attach_counter_name(unsigned c);
/* A counter's value (0 if out of range). */
uint64_t pony_app_attach_counter(const struct pony_app_attach *a, unsigned c);
/* Connections in their hello right now. */
unsigned pony_app_attach_pending(const struct pony_app_attach *a);
/* The policy check alone: 0 if (uid, gids) may attach under c, else -EACCES with a reason
 * in msg. */
/* Which service_owners entries of c let (uid, gids) listen: bit i for entry i (root and the
 * daemon's own uid: every entry). */
uint32_t pony_app_owner_mask(const struct pony_app_config *c, uid_t uid, const gid_t *gids,
			     unsigned n_gids);
/* Give session s the service ranges of c and the mask above (control thread, before the
 * session is adopted): a listen on a covered service no allowed entry covers is refused. */
void pony_app_session_set_owner(struct pony_app_session *s, const struct pony_app_config *c,
				uint32_t mask);
int pony_app_policy_check(const struct pony_app_config *c, uid_t uid, const gid_t *gids,
			  unsigned n_gids, char *msg, size_t msglen);
