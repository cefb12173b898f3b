/* The one way snapnetd creates a listening Unix socket (control, app and takeover sockets):
 * a stale file of a dead server is replaced, a live server's never; the file is created
 * with its final mode (no window with the umask's mode) and is never reached through a
 * symlink afterwards. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Listen on path with a socket of type (SOCK_STREAM or SOCK_SEQPACKET; CLOEXEC and NONBLOCK
 * are added), file mode `mode` (<= 0777), group gid (-1: the daemon's) and backlog.
 * Returns the listening fd, or -errno with a message naming path in err:
 *   -ENAMETOOLONG  path does not fit sun_path
 *   -EEXIST        path exists and is not a socket (never removed)
 *   -EADDRINUSE    a live server answers on path
 *   -EINVAL        mode has bits outside 0777
 *   other          socket/bind/fchownat/fchmodat/listen failed (the file is removed). */
int snap_unix_listen(const char *path, int type, unsigned mode, int gid, int backlog,
		     char *err, size_t errlen);
