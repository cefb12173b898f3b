/* Private to core/takeover*.c: the takeover wire messages (all fixed-size structs; the
 * framing is in takeover_msg.c) and helpers both sides use. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "snap/element.h"

#define TO_STEP_TIMEOUT_S 10 /* one protocol step (an engine restore, the new daemon's start) */
#define TO_FD_BATCH 64
#define TO_SAVE_RESERVE (4u << 20) /* save buffer made ready before the blackout */
#define TO_RAN_WAIT_MS 1000u /* for the new daemon to see every engine poll */
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
	T_READS,     /* new -> old (protocol 2, in place of T_GO): struct to_reads */
	T_PLAN,      /* old -> new: struct to_status (0: the topology follows; else refused) */
	T_TOPOLOGY,  /* old -> new (protocol 2, after T_PLAN, before T_FDS): the run-time
		      * topology (struct to_topo_hdr ...), answered by a T_ACK (struct
		      * to_status) once the new daemon built it (or could not) */
	T_PRECOPY,   /* old -> new (when the new daemon reads "delta"): struct to_engine +
		      * engine blob, saved while the engine still ran; answered by T_ACK */
	T_ENGINE_DELTA, /* old -> new, in place of T_ENGINE after that engine's T_PRECOPY:
			 * struct to_engine + a delta (takeover_delta.c) turning the pre-copy
			 * payload into the T_ENGINE payload of now; answered by T_ACK */
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

/* What a new binary reads (protocol 2): a range of versions per part of the state. */
#define TO_READS_MAX 64
struct to_range {
	char name[32];         /* "engine" (the container) or an element type */
	uint32_t lo, hi;
};
struct to_reads {
	uint32_t n;
	uint32_t pad;
	struct to_range r[TO_READS_MAX];
};

/* Pre-copy and delta (takeover_delta.c): a new binary that applies deltas lists the part
 * TO_DELTA_PART at TO_DELTA_VERSION among its reads. All integers host order. */
#define TO_DELTA_PART "delta"
#define TO_DELTA_VERSION 1u
struct to_delta_hdr {
	uint64_t total;        /* the result's length */
	uint32_t n_runs;
	uint32_t pad;
};
struct to_delta_run {
	uint32_t off, len;     /* then len bytes: the result's [off, off + len) */
};
/* Append to out the delta turning base into cur (on allocation failure out->err is set). */
void to_delta_encode(const uint8_t *base, size_t base_len, const uint8_t *cur, size_t cur_len,
		     struct snap_sbuf *out);
/* Turn *base (*base_len bytes of a malloc'd *cap) into the delta's result, in place (grown
 * with realloc when needed). Everything is checked first: on error *base is unchanged. 0,
 * -EPROTO (malformed), -EFBIG (result over max), -ENOMEM. */
int to_delta_apply(uint8_t **base, size_t *base_len, size_t *cap, const void *delta, size_t len,
		   size_t max);
/* Old side, before engine e parks: save it on its own thread (its mailbox, waiting at most
 * TO_PRECOPY_WAIT_MS) into pre (hdr first), send that as T_PRECOPY and wait for its T_ACK.
 * 0 sent, 1 not saved (logged: the engine then goes in full), -errno the send or ack failed. */
#define TO_PRECOPY_WAIT_MS 1000u
struct snap_engine;
int to_precopy_send(int s, struct snap_engine *e, const struct to_engine *hdr,
		    struct snap_sbuf *pre, uint32_t container, bool planned);
/* Old side, parked: send payload b (struct to_engine + blob) as T_ENGINE, or, with pre (the
 * pre-copy's payload), as T_ENGINE_DELTA built in d. *sent: the bytes that went. 0/-errno. */
int to_engine_send(int s, const struct snap_sbuf *pre, const struct snap_sbuf *b,
		   struct snap_sbuf *d, size_t *sent);
/* Whether reader r lists part name at a range holding version v. */
bool to_reads_has(const struct to_reads *r, const char *name, uint32_t v);

/* takeover_versions.c. New side: fill r with this binary's read ranges. 0 or -E2BIG. */
int to_reads_mine(struct to_reads *r);
/* Old side: choose the container version and each saved element type's version for reader
 * r (kept for to_plan_version). 0 or -EPROTONOSUPPORT with the reason in msg. */
int to_plan(const struct to_reads *r, uint32_t *container, char *msg, size_t len);
/* The planned version for an element type (snap_engine_version_fn). */
uint32_t to_plan_version(const char *type, void *ctx);
/* Protocol 1 (a 0.1.0 peer): every element type in our engines can write version 1 (old
 * side); every type we have reads version 1 (new side). 0 or -EPROTONOSUPPORT with msg. */
int to_check_write_v1(char *msg, size_t len);
int to_check_read_v1(char *msg, size_t len);

/* ---- T_TOPOLOGY: what the old daemon runs now, for the new one to build instead of its
 * config file's engines and groups (engines and groups created, changed or moved at run
 * time, the log levels). The layout is a contract between releases: bump TO_TOPO_VERSION on
 * any change. All integers host order (both sides run on the same host).
 *
 *   struct to_topo_hdr
 *   struct to_topo_group   x n_groups
 *   { struct to_topo_engine, desc_len bytes of description (no NUL) }   x n_engines
 *
 * Groups are those of sched_cfg_describe; an engine's description is snap_engine_desc (the
 * body `snapctl engine create` takes), rebuilt through snap_config_parse_engine and the one
 * engine builder. Names and strings are NUL-terminated inside their fields. Engines in the
 * order the old daemon lists them (the first Pony engine serves the apps). */
#define TO_TOPO_VERSION 1u
#define TO_TOPO_DESC_MAX (64u << 10)
struct to_topo_hdr {
	uint32_t version;         /* TO_TOPO_VERSION */
	int32_t snap_log_level;   /* RTE_LOG_* of the daemon's own log type */
	int32_t dpdk_log_level;   /* RTE_LOG_* of DPDK's libraries and drivers */
	uint32_t n_groups;        /* <= SNAP_CFG_GROUPS_MAX */
	uint32_t n_engines;       /* <= SNAP_CFG_ENGINES_MAX */
	uint32_t pad;
};
struct to_topo_kv {
	char key[48];
	char val[160];
};
struct to_topo_group {
	char name[32];
	char mode[16];            /* sched_mode_name */
	uint32_t n_cpus;          /* <= SNAP_CFG_CPUS_MAX */
	uint32_t n_kv;            /* <= SNAP_CFG_KV_MAX: sched_params_set keys and values */
	int32_t cpus[64];
	struct to_topo_kv kv[16];
};
struct to_topo_engine {
	char name[32];
	char group[32];           /* one of the groups above, "" for an engine in no group */
	uint32_t desc_len;        /* 1..TO_TOPO_DESC_MAX */
	uint32_t pad;
};
/* The largest T_TOPOLOGY payload a receiver accepts (checked before allocating). */
#define TO_TOPO_MAX                                                                        \
	(sizeof(struct to_topo_hdr) + 16 * sizeof(struct to_topo_group) +                  \
	 32 * (sizeof(struct to_topo_engine) + TO_TOPO_DESC_MAX))

struct snap_config;
struct snap_sbuf;
/* Old side: the topology this daemon runs, appended to b. 0, or -E2BIG (more groups or
 * engines than a config holds, a description too long), -ENOTSUP (an engine made by code,
 * not from a description: it cannot be rebuilt), -ENOMEM, with a message in err. */
int to_topo_build(struct snap_sbuf *b, char *err, size_t errlen);
/* Old side, protocol 1 (a 0.1.0 new binary, which builds from its config file): 0 if what
 * runs is what cfg describes (engines, their groups, group modes, the log level), else
 * -ENOTSUP with what changed at run time in err (-ENOMEM). */
int to_topo_matches_config(const struct snap_config *cfg, char *err, size_t errlen);
/* New side: check a received topology (p, len: untrusted) and, only if all of it is good,
 * replace cfg's groups and engines with it and set the log levels. 0, or -EPROTO (layout:
 * counts, lengths, unterminated names, version), -EINVAL (a group or engine the config
 * parser or sched_cfg_params refuses), -ENOMEM, with a message in err. */
int to_topo_apply(const void *p, uint32_t len, struct snap_config *cfg, char *err,
		  size_t errlen);

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
/* T_RUNNING's text: when the new daemon had seen every engine poll (CLOCK_MONOTONIC, which
 * both daemons share), the end of their blackout. In the text, not a field, so the status
 * keeps its size for binaries of either side that know no stamp: an old daemon reads the
 * text as a message; a running report without it ends the blackout on arrival. */
#define TO_RUNNING_FMT "running, every engine polled at %llu ns"
/* The stamp in a T_RUNNING status: 0, or -ENOENT (none). */
int to_running_stamp(const struct to_status *st, uint64_t *ns);
/* The build id announced in the hello (SNAP_TAKEOVER_BUILD_ID overrides, tests). */
const char *to_build_id(void);
