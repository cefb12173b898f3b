/* Private to snap/takeover*.c: the takeover wire messages (all fixed-size structs; the
 * framing is in takeover_msg.c) and helpers both sides use. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "snap/element.h"

#define TO_STEP_TIMEOUT_S 10 /* one protocol step (an engine restore, the new daemon's start) */
#define TO_FD_BATCH 64
#define TO_CHILD_FD 3        /* the channel's fd number in the new daemon (SNAP_TAKEOVER_FD) */

enum msg_type {
	T_HELLO = 1, /* new -> old: struct to_hello */
	T_WELCOME,   /* old -> new: struct to_welcome */
	T_GO,        /* new -> old: versions fine, start */
	T_REFUSE,    /* new -> old: struct to_status (cannot read the state) */
	T_FDS,       /* old -> new: struct to_fd[] + the fds */
	T_FDS_END,
	T_ENGINE,    /* old -> new: struct to_engine + engine blob */
	T_ACK,       /* new -> old: struct to_status */
	T_RELEASED,  /* old -> new: ports stopped, listeners closed; start running */
	T_RUNNING,   /* new -> old: struct to_status */
};

struct to_hello {
	uint32_t read_version; /* the state version the new binary reads */
	int32_t pid;
	char build[48];
};
struct to_welcome {
	uint32_t version;      /* the state version the old daemon writes */
	int32_t status;        /* 0, or why the old daemon will not hand over now */
	int32_t pid;
	uint32_t n_engines;
	char build[48];
	char msg[160];
};
struct to_status {
	int32_t status;
	char msg[160];
};
struct to_fd {
	int32_t kind;          /* enum snap_fd_kind */
	uint32_t pad;
	uint64_t owner;
	char desc[48];
};
struct to_engine {
	char name[SNAP_NAME_MAX];
	uint32_t index, total;
};

uint64_t to_mono_ns(void);
/* SO_RCVTIMEO/SO_SNDTIMEO of sec seconds. */
void to_set_timeouts(int s, unsigned sec);
/* 0 if the peer runs as our uid and (pid > 0) is process pid, -EACCES otherwise, or
 * getsockopt's -errno. */
int to_peer_is(int s, pid_t pid);
/* Receive one message of type want with exactly size payload bytes (no fds). 0, -EPROTO, or
 * snap_takeover_recv's error. */
int to_recv_fixed(int s, uint32_t want, void *out, uint32_t size);
int to_send_status(int s, uint32_t type, int status, const char *msg);
/* The build id announced in the hello (SNAP_TAKEOVER_BUILD_ID overrides, tests). */
const char *to_build_id(void);
