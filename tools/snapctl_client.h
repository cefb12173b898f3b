/* Client side of the control protocol (control/ctl.proto over a Unix socket): connect, frame,
 * call, receive. Used by snapctl and by tests; needs only protobuf-c (no DPDK). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "control/ctl.pb-c.h"
#include "control/rpc_wire.h"

struct snapctl_conn;

/* Connect to the daemon's control socket and check the server's credentials (root or the
 * owner of the socket's directory, snap_paths_peer_check). NULL with errno: ENOENT or
 * ECONNREFUSED (no daemon listening), EACCES (socket not accessible to this user), EPERM
 * (untrusted server: snapctl_connect_error says why), ENAMETOOLONG, ENOMEM. */
struct snapctl_conn *snapctl_connect(const char *path);
/* Why the last snapctl_connect refused the server ("" if it did not). */
const char *snapctl_connect_error(void);
/* NULL is a no-op. */
void snapctl_close(struct snapctl_conn *c);

/*
 * Call `method` with `req` (the method's *Request message, NULL for an empty payload) and wait
 * for its Response for at most timeout_ms (0: forever). On 0, *rsp is the Response (free with
 * ctl__response__free_unpacked); the method's own outcome is rsp->error (0 ok, else a
 * positive errno with rsp->message). Transport errors: -ETIMEDOUT, -ECONNRESET (daemon closed
 * the connection), -EBADMSG (unparseable reply), -EMSGSIZE, -ENOMEM, -EPROTO (reply to another
 * request id, or a progress frame), or a socket errno.
 */
int snapctl_call(struct snapctl_conn *c, const char *method, const ProtobufCMessage *req,
		 unsigned timeout_ms, Ctl__Response **rsp);

/* Like snapctl_call, for a request that asked for progress (e.g. UpgradeRequest.progress):
 * each intermediate Response (progress set, same id) goes to on_progress, which must not
 * keep it; the final Response is returned in *rsp. timeout_ms bounds the whole call, not
 * each frame (0: forever). Same errors as snapctl_call; a progress frame when on_progress is
 * NULL (snapctl_call: the request did not ask for any) is -EPROTO. */
typedef void (*snapctl_progress_fn)(const Ctl__Response *rsp, void *arg);
int snapctl_call_progress(struct snapctl_conn *c, const char *method,
			  const ProtobufCMessage *req, unsigned timeout_ms,
			  snapctl_progress_fn on_progress, void *arg, Ctl__Response **rsp);

/* Decode rsp's payload as a `desc` message (free with protobuf_c_message_free_unpacked).
 * NULL if it does not parse. An absent payload decodes as an empty message. */
ProtobufCMessage *snapctl_reply_unpack(const Ctl__Response *rsp,
				       const ProtobufCMessageDescriptor *desc);

/* Low level (tests): write raw bytes; write one frame (header + payload); read one Response
 * frame. Same errors as snapctl_call. */
int snapctl_send_raw(struct snapctl_conn *c, const void *buf, size_t len);
int snapctl_send_frame(struct snapctl_conn *c, const void *payload, size_t len);
int snapctl_recv(struct snapctl_conn *c, unsigned timeout_ms, Ctl__Response **rsp);
/* Build and send a Request envelope with an explicit version and id (tests). */
int snapctl_send_request(struct snapctl_conn *c, uint32_t version, uint64_t id,
			 const char *method, const ProtobufCMessage *req);
