/* Saving and restoring a Pony transport's state (transparent upgrade: the old daemon saves,
 * the new one restores into a transport created with the same limits). The blob format is
 * versioned in save.c; it is for the same host (TSC values are kept as they are). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pony/transport.h"
#include "snap/element.h"

/* Translators for the pointers the transport holds on behalf of its user; each gets the old
 * value and returns the one valid in this process. NULL members (or a NULL table) keep the
 * old values (restore within one process, e.g. tests). */
struct pony_tp_rebind {
	void *ctx;
	void *(*owner)(void *ctx, uint32_t sid, void *old);
	/* A queued message's buffer (pony_tp_send's buf), identified by its cookie. */
	const void *(*tx_buf)(void *ctx, uint32_t sid, uint64_t cookie, const void *old);
	/* The destination of a message being received (what rx_begin returned). */
	uint8_t *(*rx_dst)(void *ctx, uint32_t sid, uint64_t cookie, uint8_t *old);
	void *(*listener)(void *ctx, uint16_t service, void *old);
	/* A one-sided op's completion target (pony_tp_os_submit's owner) and its buffer (a
	 * READ's destination, a WRITE's source), identified by the op's cookie. */
	void *(*os_owner)(void *ctx, uint64_t cookie, void *old);
	void *(*os_buf)(void *ctx, uint64_t cookie, void *old);
};

/* Whether a bool copied from a saved blob holds 0 or 1: read as a byte, since loading a bool
 * with any other value is undefined. Every restore checks its structs' bools with it. */
static inline bool pony_saved_bool_ok(const bool *b)
{
	uint8_t v;
	memcpy(&v, b, 1);
	return v <= 1;
}

/* Append tp's state to out, in blob version `version` (pony/save_int.h: 3, release 0.1.0's
 * layout; 4, self-describing tables). 0, -ENOMEM, -EPROTONOSUPPORT (a version this build
 * does not write), or -EPROTO (version 3 while a flow has an IPv6 peer: release 0.1.0
 * knows IPv4 only). No packets or upcalls. pony_tp_save writes the newest. */
int pony_tp_save_v(const struct pony_tp *tp, struct snap_sbuf *out, uint32_t version);
int pony_tp_save(const struct pony_tp *tp, struct snap_sbuf *out);
/* Replace tp's state with a saved one (tp must have been created with the same max_flows,
 * max_streams, window and sendq_max; its config otherwise applies). The rebind callbacks run
 * for every stream/message/listener/one-sided op before this returns. 0, -EPROTO (other format version),
 * -EINVAL (not a Pony blob, truncated, inconsistent, or different limits: tp unchanged),
 * -ENOMEM (no mbufs for the held segments: tp is left without them). */
int pony_tp_restore(struct pony_tp *tp, const void *data, size_t len,
		    const struct pony_tp_rebind *rb);

/* The one-sided part (pony/onesided_save.c), for pony_tp_save/restore only: ops in flight,
 * the per-flow queues, packet buffers with their bytes and generations, stats, in the layout
 * of transport blob version tp_version. Save appends nothing if one-sided ops were never
 * attached; 0 or -ENOMEM. Restore checks the section (exactly len bytes) and, only with
 * apply, installs it (allocating the pools if tp has none: hooks stay as the new user
 * attached them) and rebinds each op's owner and buffer. 0, -EPROTO (other layout),
 * -EINVAL (damaged), -ENOMEM. */
int pony_os_save(const struct pony_tp *tp, struct snap_sbuf *out, uint32_t tp_version);
int pony_os_restore(struct pony_tp *tp, const void *data, size_t len, uint32_t tp_version,
		    const struct pony_tp_rebind *rb, bool apply);
