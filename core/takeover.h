/* Transparent upgrade: a new snapnetd takes over a running one through the takeover channel.
 * The channel is one end of a socketpair the old daemon creates when it spawns the new binary
 * (`snapctl upgrade`) and hands down as an inherited fd (SNAP_TAKEOVER_FD): there is no path
 * another process could connect to, and the only peer is the child we spawned. The new daemon
 * (`snapnetd --takeover`) speaks first once its own EAL and ports exist, then receives the
 * old daemon's run-time topology (groups, engines as they are now, log levels) and builds
 * its engines from it, not from its config file (brownout, nothing parked yet), then the
 * registered fds and every engine's saved state, one engine at a time. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "core/fdreg.h"

struct snap_config;

/* Version of the takeover protocol and the fd metadata. 1: release 0.1.0 (one version for
 * all state); 2: the new binary lists the versions of each part of the state it reads (the
 * engine container, each element type's blob) and the old daemon writes each in the newest
 * version both know, or refuses naming the part (core/takeover_versions.c). Both versions
 * are spoken, so 0.1.0 and this release upgrade to each other. Whatever cannot be agreed is
 * refused before any engine is parked. In protocol 2 the run-time topology (groups, engines
 * as they are now, log levels) is one of the parts ("topology") and follows the plan, so the
 * new daemon builds what the old one runs; a 0.1.0 binary builds from its config file. */
#define SNAP_TAKEOVER_STATE_VERSION 2u
#define SNAP_TAKEOVER_STATE_VERSION_MIN 1u
/* Test hooks (read only by the NEW daemon, i.e. the --takeover side; an old daemon passes
 * its environment to the binary it spawns for `snapctl upgrade`):
 *   SNAP_TAKEOVER_FAKE_VERSION=N  claim to read only state version N (incompatibility test)
 *   SNAP_TAKEOVER_FAKE_READS=T:L-H  claim to read element type T's state in versions L-H
 *   SNAP_TAKEOVER_DIE_AFTER=N     _exit(1) after restoring N engines, before acking the Nth
 *   SNAP_TAKEOVER_BUILD_ID=S      build id announced in the hello (a "different" binary)
 *   SNAP_TAKEOVER_ACK_DELAY_MS=N  wait N ms (< 5000) before acking each restored engine (a
 *                                 slow hand-over whose progress must still arrive live) */

#define SNAP_TAKEOVER_ENGINES_MAX 64
/* Largest takeover frame (an engine's saved state; a Pony engine's is ~3-4 MB with default
 * limits). A bigger engine state fails its save in the old daemon (-EFBIG: that engine is
 * resumed there); a bigger frame header is refused by the receiver before any allocation. */
#define SNAP_TAKEOVER_FRAME_MAX (64u << 20)
/* The environment variable carrying the new daemon's end of the channel (an fd number). */
#define SNAP_TAKEOVER_FD_ENV "SNAP_TAKEOVER_FD"

/* What an upgrade did, for the old daemon's caller (snapctl's deferred reply). */
struct snap_takeover_result {
	int status;                 /* 0, or -errno of the failure (the old daemon kept serving
				     * unless committed is set) */
	char msg[400];              /* one line for people */
	pid_t new_pid;
	char new_build[48];
	bool committed;             /* ports and listeners were handed over: the old daemon exits */
	unsigned engines_total;
	unsigned engines_moved;
	uint64_t blackout_ns[SNAP_TAKEOVER_ENGINES_MAX]; /* park -> running in the new daemon */
	uint64_t blackout_max_ns;
	uint64_t brownout_ns;       /* hello -> done (the new daemon's own start-up excluded) */
	unsigned fds_passed;
};

/* One step of a takeover on the old daemon's side, reported as it happens (snapctl's live
 * progress), in this order; a failure ends the sequence early (then the done listener says
 * why). */
enum snap_takeover_step {
	SNAP_TAKEOVER_STEP_HELLO,    /* the new daemon finished its start-up and connected */
	SNAP_TAKEOVER_STEP_VERSION,  /* it reads the state version we write: nothing parked yet */
	SNAP_TAKEOVER_STEP_FDS,      /* every registered fd passed */
	SNAP_TAKEOVER_STEP_ENGINE,   /* one engine parked, saved, restored and acknowledged */
	SNAP_TAKEOVER_STEP_APPS,     /* every engine moved, with the app sessions they host */
	SNAP_TAKEOVER_STEP_RELEASED, /* our ports stopped */
	SNAP_TAKEOVER_STEP_RUNNING,  /* the new daemon started its ports and runs the engines */
};

struct snap_takeover_progress {
	enum snap_takeover_step step;
	pid_t new_pid;              /* every step */
	const char *new_build;      /* every step */
	uint32_t state_version;     /* VERSION */
	unsigned fds_passed;        /* FDS and later */
	unsigned apps;              /* APPS: attached apps (their sessions were in the engines) */
	unsigned ports;             /* RELEASED */
	const char *engine;         /* ENGINE: its name, index (0-based) of total, the time from */
	unsigned index, total;      /* its park to the new daemon's ack, and the size of its */
	uint64_t engine_ns;         /* saved state */
	uint64_t state_bytes;
};

/* ---- old daemon (control thread) ---- */

/* Drop the channel of an attempt still waiting for its new daemon's hello (an upgrade that
 * ended, daemon stop). */
void snap_takeover_stop(void);
/* Called (control thread) when a takeover attempt ends, successfully or not. One listener;
 * NULL removes it. */
typedef void (*snap_takeover_done_fn)(const struct snap_takeover_result *r, void *arg);
void snap_takeover_on_done(snap_takeover_done_fn fn, void *arg);
/* Called (control thread, inside the takeover: engines may be parked, so be quick and never
 * block) at each step of an attempt. One listener; NULL removes it. */
typedef void (*snap_takeover_progress_fn)(const struct snap_takeover_progress *p, void *arg);
void snap_takeover_on_progress(snap_takeover_progress_fn fn, void *arg);
/* Whether a hand-over committed: the caller must then exit without tearing down app
 * sessions or unlinking sockets (they are the new daemon's now). */
bool snap_takeover_committed(void);
/* The command line this daemon was started with, and (read here: call it before the EAL
 * pins the main thread) the CPUs it may run on, both for spawning the new binary. */
void snap_takeover_set_argv(int argc, char **argv);
/* Spawn `binary` with this daemon's arguments plus --takeover (stdout/stderr inherited, the
 * channel as fd 3 named by SNAP_TAKEOVER_FD, nothing else) and wait for its hello on the
 * control loop without blocking it; an earlier attempt still waiting is dropped. Only the
 * spawned pid is trusted: a hello naming another pid is refused, and only that pid is ever
 * killed. Returns the child's pid or -errno. */
pid_t snap_takeover_spawn(const char *binary);

/* ---- new daemon ---- */

/* Run the new side over the channel inherited from the old daemon (SNAP_TAKEOVER_FD, which is
 * then unset and closed on exec): check it is a stream socket whose peer is our parent with
 * our uid, check versions, receive the old daemon's run-time topology, replace cfg's groups
 * and engines with it and build those engines (parked: the caller builds none itself), receive
 * fds and every engine's state into them, then wait for the old daemon to release its ports
 * and listeners. On 0 the caller starts its modules (groups start the engines, sockets are
 * bound again) and must then call snap_takeover_client_finish(). -errno with a message in err
 * otherwise (engines built so far stay registered: the caller destroys them): -ENOTCONN (no
 * channel: not spawned by `snapctl upgrade`), -EACCES (the peer is not our parent or runs as
 * another uid), -EPROTONOSUPPORT (versions), -EBUSY (old daemon refused), -EMSGSIZE (a frame
 * over its bound), -EPROTO (also a topology that breaks its layout), -EINVAL (a group or
 * engine of the topology refused by the config checks), an engine build's error. */
int snap_takeover_client(struct snap_config *cfg, char *err, size_t errlen);
/* A listening socket received from the old daemon, for its module to adopt (the control
 * server takes SNAP_FD_CONTROL_LISTEN). The caller owns the fd. -1 if none. */
int snap_takeover_take_fd(enum snap_fd_kind kind);
/* The fds of app app_id received from the old daemon (its socket, memfd, cmd and cpl
 * doorbells), for the pony engine that restores the app's session; the caller owns them.
 * 0 or -ENOENT (then none is returned). */
int snap_takeover_app_fds(uint32_t app_id, int *sock, int *memfd, int *cmd_efd, int *cpl_efd);
/* Print every part of the saved state with the version this binary writes and the ranges it
 * writes and reads (`snapnetd --state-versions`). */
void snap_takeover_print_versions(FILE *f);
/* The groups have started the engines (called right after, before the other modules
 * start): note when every engine had polled here, which ends their blackout; nothing
 * outside a takeover. The wait is bounded (TO_RAN_WAIT_MS). */
void snap_takeover_client_engines_started(void);
/* Tell the old daemon the engines run here now (it reports and exits), with that time (or,
 * if not noted, the time it sees them poll now). 0 or -errno. */
int snap_takeover_client_finish(void);

/* ---- wire helpers (takeover_msg.c; also used by tests) ---- */

/* Send one framed message (type, payload) with up to 250 fds. 0 or -errno. */
int snap_takeover_send(int sock, uint32_t type, const void *payload, uint32_t len,
		       const int *fds, unsigned nfds);
/* Receive one framed message of at most max_len payload bytes into a malloc'd payload
 * (*payload, *len; free it) and up to max_fds fds (*nfds). Blocks up to the socket's
 * SO_RCVTIMEO. 0, -ECONNRESET (EOF), -EPROTO (bad frame; stray fds are closed), -EMSGSIZE
 * (payload over max_len or SNAP_TAKEOVER_FRAME_MAX, refused before allocating; more fds than
 * max_fds; the stream is then out of step and must be closed), or recvmsg's -errno. */
int snap_takeover_recv(int sock, uint32_t *type, void **payload, uint32_t *len, uint32_t max_len,
		       int *fds, unsigned max_fds, unsigned *nfds);
/* A small frame received piecewise without blocking (the old daemon's wait for the hello). */
#define SNAP_TAKEOVER_PARTIAL_MAX 256
struct snap_takeover_partial {
	uint8_t buf[16 + SNAP_TAKEOVER_PARTIAL_MAX];
	uint32_t got; /* 0 to start a frame */
};
/* Read what has arrived of one frame of type want_type without fds and at most max_len
 * (<= SNAP_TAKEOVER_PARTIAL_MAX) payload bytes into pt, never past its end and never
 * blocking. 0 once whole (payload copied to out, *len), -EAGAIN (not all of it yet: call again
 * when readable), -ECONNRESET (EOF), -EPROTO (another type, fds, or not a frame: the header
 * is checked as soon as it is in), -EMSGSIZE (announces more than max_len), -EINVAL, or
 * recv's -errno. */
int snap_takeover_gather(int sock, struct snap_takeover_partial *pt, uint32_t want_type,
			 uint32_t max_len, void *out, uint32_t *len);
