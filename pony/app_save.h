/* Upgrade of a Pony engine with its attached apps: the pony element's save/restore blob is
 * the app layer's sessions (ring positions, streams, ops, regions, listens) followed by the
 * transport state (pony/save.h), whose pointers into sessions and payload areas are rebound
 * to the new process's. Engine thread or parked engine. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct pony_app_host;
struct pony_app_attach;
struct pony_tp;
struct snap_sbuf;

/* Save h's live sessions (h may be NULL: no app layer) and tp into out. 0, -EBUSY (a
 * detached session still drains its transport buffers: retry later), -ENOMEM. */
int pony_app_save(const struct pony_app_host *h, const struct pony_tp *tp,
		  struct snap_sbuf *out);
/* The same with the transport's part in blob version tp_version (pony/save_int.h); also
 * -EPROTONOSUPPORT. */
int pony_app_save_v(const struct pony_app_host *h, const struct pony_tp *tp,
		    struct snap_sbuf *out, uint32_t tp_version);
/* Rebuild the sessions (mapping the apps' memfds received by the takeover, see
 * snap_takeover_app_fds) and restore tp with pointers rebound. 0, -EPROTO (format),
 * -ENOENT (an app's fds were not received), -EINVAL, -ENOMEM, or pony_tp_restore's error. */
int pony_app_restore(struct pony_app_host *h, struct pony_tp *tp, const void *data,
		     size_t len);
/* Check a saved blob's app sessions without building anything (restore runs it first; the
 * fuzz target too): format, then per session its limits (ones a config allows), its shm
 * header (the layout those limits give), ring positions, op free list and rx lists, stream
 * states, payload spans of ops and regions. On 0, *tp_off is where the transport's state
 * starts. 0, -EPROTO (format, truncated), -EINVAL (inconsistent), -ENOMEM. */
int pony_app_save_check(const void *data, size_t len, size_t *tp_off);
/* After the app-attach layer exists in the new daemon: hand it the restored sessions'
 * connections (they stay attached; apps notice nothing). Returns how many were adopted. */
unsigned pony_app_restored_adopt(struct pony_app_attach *a);
