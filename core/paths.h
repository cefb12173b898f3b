/* Runtime paths: the default run dir, its ownership check, and the clients' check that the
 * server behind a socket is root or the owner of the socket's directory (issue 14 items 5,
 * 8). Plain libc: linked into snapnetd, snapctl and libpony alike. Names: include/snap_paths.h. */
#pragma once

#include <stddef.h>

/* The default run dir of a daemon with this process's euid: SNAP_RUN_DIR_SYSTEM for root,
 * else $XDG_RUNTIME_DIR/SNAP_RUN_DIR_USER. 0; -ENOENT (not root and XDG_RUNTIME_DIR unset or
 * not absolute: there is no private place to default to, the operator must give a run dir);
 * -ENAMETOOLONG. */
int snap_paths_run_dir_default(char *buf, size_t len);

/* The path a client tries when given none: as root, SNAP_RUN_DIR_SYSTEM/name; as any other
 * user, $XDG_RUNTIME_DIR/SNAP_RUN_DIR_USER/name if that exists (the user's own daemon), else
 * SNAP_RUN_DIR_SYSTEM/name (the system daemon). buf gets a truncated path if too short. */
void snap_paths_client_default(const char *name, char *buf, size_t len);

/* Create dir (mode 0755: apps of other users must reach app.sock inside) unless it exists,
 * then check it: a real directory (not a symlink), owned by this process's euid, not
 * writable by group or others; a sticky or shared dir could hold another user's socket.
 * 0; -EPERM (wrong owner or mode), -ENOTDIR, or the -errno of mkdir/open, with a message
 * naming the path, its owner and mode in err. */
int snap_paths_run_dir_prepare(const char *dir, char *err, size_t errlen);

/* May the server behind connected socket fd, reached at path, be trusted? Yes if its
 * SO_PEERCRED uid is 0, or is the owner of path's directory and that directory is not
 * writable by group or others. 0; -EPERM with the reason in why (a squatter's socket); or
 * the -errno of getsockopt/stat. */
int snap_paths_peer_check(int fd, const char *path, char *why, size_t len);

/* Open dir, where the daemon runs or creates files for operators (upgrade_dir, capture_dir):
 * a real directory owned by root or this euid and not writable by group or others, so nobody
 * else can swap what is inside. The fd (O_DIRECTORY, close-on-exec) or -errno with a message
 * in err starting with `what`: -EPERM (owner or mode), -ENOTDIR (not a dir, or a symlink),
 * or open's error. */
int snap_paths_open_trusted_dir(const char *dir, const char *what, char *err, size_t errlen);

/* The file name that path designates inside dir: path itself if it has no '/', else its last
 * component, if path's directory resolves to the same directory as dir. NULL with a message
 * in err for "", ".", "..", a trailing '/', or a path outside dir. */
const char *snap_paths_name_in(const char *dir, const char *path, char *err, size_t errlen);
