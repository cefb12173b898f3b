/* The daemon's fd registry: every long-lived fd it holds for a socket, an app (connection,
 * memfd, eventfds) or a port, with what it is and who owns it. One list, so transparent
 * upgrade can hand all of them to a new binary with SCM_RIGHTS and the new binary can tell
 * which is which; snapctl can show them. Control thread only. */
#pragma once

#include <stddef.h>
#include <stdint.h>

enum snap_fd_kind {
	SNAP_FD_CONTROL_LISTEN, /* control RPC listening socket */
	SNAP_FD_APP_LISTEN,     /* app-attach listening socket */
	SNAP_FD_APP_CONN,       /* an attached app's connection */
	SNAP_FD_APP_MEMFD,      /* an app's shared memory region */
	SNAP_FD_APP_EVENTFD,    /* an app's or engine's doorbell */
	SNAP_FD_TAKEOVER,       /* upgrade hand-over socket */
	SNAP_FD_OTHER,
};

struct snap_fd_ent {
	int fd;
	enum snap_fd_kind kind;
	uint64_t owner;  /* app id, engine id, ... (kind-specific) */
	char desc[48];
};

/* Record fd. 0, -EEXIST (already recorded), -ENOSPC. */
int snap_fdreg_add(int fd, enum snap_fd_kind kind, uint64_t owner, const char *desc);
/* Forget fd (the caller closes it). 0 or -ENOENT. */
int snap_fdreg_del(int fd);
/* i-th entry (stable only until the next add/del) or NULL. */
const struct snap_fd_ent *snap_fdreg_at(unsigned i);
const char *snap_fd_kind_name(enum snap_fd_kind k);

/* What the kernel names fd in /proc/self/fd (a path, or "anon_inode:[eventfd]",
 * "anon_inode:bpf-map", ...), into buf (NUL-terminated, cut to len - 1). 0 or -errno.
 * Any thread. */
int snap_fd_link(int fd, char *buf, size_t len);
