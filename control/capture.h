/* Packet capture of a port to a pcapng file, for `snapctl capture`: ethdev rx/tx callbacks
 * copy packets (rte_pcapng_copy) into a ring that the control thread drains into the file.
 *
 * Synchronization of the end of a capture (why the callbacks can be freed safely):
 * rte_eth_remove_{rx,tx}_callback only unlinks a callback; an engine thread may still be
 * running it. Only the engine that owns a queue (port->rxq_owner/txq_owner) calls rx/tx burst
 * on it, and it does so only inside snap_engine_poll. So after unlinking, the control thread
 * runs an empty closure on every owning engine (snap_port_sync_owners): when that closure has
 * run, the engine is between polls (no callback in flight), and the mailbox's release/acquire
 * pair orders the unlink before its next burst. That is the grace period; after it the
 * callbacks, the copy pool and the ring are freed. If an engine does not answer in time, the
 * memory is leaked on purpose (logged) rather than freed under a running callback. */
#pragma once

#include <stdint.h>

struct ctl_rpc_server;
struct ctl_capture;

#define CTL_CAPTURE_RX 0x1u
#define CTL_CAPTURE_TX 0x2u
#define CTL_CAPTURE_SNAPLEN_MAX 16384u /* copy buffers are sized by this, not 64 KiB */
#define CTL_CAPTURE_MAX_MS (3600u * 1000u) /* count-only captures end after this anyway */

struct ctl_capture_req {
	const char *port;       /* snap port name */
	const char *dir;        /* the capture directory (daemon.capture_dir; NULL/"": refused) */
	const char *path;       /* a file name in dir, or a path whose directory is dir (an
				 * existing file is replaced, never written through: 0640) */
	uint64_t count;         /* stop after this many packets; 0: no limit */
	uint32_t duration_ms;   /* stop after this long; 0: CTL_CAPTURE_MAX_MS */
	uint32_t snaplen;       /* bytes per packet; 0: the port's MTU + L2 headers */
	unsigned dirs;          /* CTL_CAPTURE_RX | CTL_CAPTURE_TX (0: both) */
};

struct ctl_capture_result {
	uint64_t packets;       /* written to the file */
	uint64_t bytes;         /* bytes written to the file */
	uint64_t dropped;       /* seen while capturing but not written (pool or ring full) */
	uint64_t elapsed_ms;
};

/* Called once on the control thread when the capture ends: err 0 (count or duration
 * reached), -ECANCELED (ctl_capture_cancel / shutdown) or -EIO (writing the file failed). */
typedef void (*ctl_capture_done_fn)(void *arg, int err, const struct ctl_capture_result *res);

/*
 * Start capturing. Progress is driven by a timerfd watched by srv (ctl_rpc_process).
 * 0 and *out, or -errno with a message in err: -ENOENT (no such port), -EINVAL (bad request:
 * neither count nor duration, relative path), -EBUSY (the port is already being captured),
 * -ENOMEM, or the errno of creating the file or of adding a callback.
 */
int ctl_capture_start(struct ctl_rpc_server *srv, const struct ctl_capture_req *req,
		      ctl_capture_done_fn done, void *arg, struct ctl_capture **out, char *err,
		      size_t errlen);
/* Captures in progress; port (len bytes) gets the first one's port name ("" if none). A
 * capture lives in this process and its port's callbacks: `upgrade` refuses while one runs. */
unsigned ctl_capture_active(char *port, size_t len);
/* Ask a capture to end at its next tick (done runs with -ECANCELED). */
void ctl_capture_cancel(struct ctl_capture *c);
/* End every capture now (daemon shutdown, before the server and ports go away). */
void ctl_capture_stop_all(void);
