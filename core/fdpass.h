/* Passing file descriptors over a Unix socket (SCM_RIGHTS), for the daemon's two senders: the
 * app attach reply (memfd + eventfds) and the upgrade hand-over (every registered fd). */
#pragma once

#include <stddef.h>

#define SNAP_FDPASS_MAX 250 /* fds per message, below the kernel's SCM_MAX_FD (253) */

/* One sendmsg of len bytes of buf with nfds fds attached (none when nfds is 0), retried on
 * EINTR, never raising SIGPIPE; flags adds e.g. MSG_DONTWAIT. Returns the bytes sent (the
 * fds went with the first byte) or -errno; -EINVAL for more than SNAP_FDPASS_MAX fds. */
long snap_fdpass_send(int sock, const void *buf, size_t len, const int *fds, unsigned nfds,
		      int flags);
