/* Runtime paths shared by snapnetd, snapctl and libpony: defaults that meet, a run dir
 * nobody else can squat, and the clients' peer-credential check. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "snap_paths.h"
#include "core/paths.h"

int snap_paths_run_dir_default(char *buf, size_t len)
{
	int n;
	if (geteuid() == 0) {
		n = snprintf(buf, len, "%s", SNAP_RUN_DIR_SYSTEM);
	} else {
		const char *x = getenv("XDG_RUNTIME_DIR");
		if (x == NULL || x[0] != '/')
			return -ENOENT;
		n = snprintf(buf, len, "%s/%s", x, SNAP_RUN_DIR_USER);
	}
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

void snap_paths_client_default(const char *name, char *buf, size_t len)
{
	char dir[256];
	struct stat st;
	if (geteuid() != 0 && snap_paths_run_dir_default(dir, sizeof(dir)) == 0) {
		snprintf(buf, len, "%s/%s", dir, name);
		if (lstat(buf, &st) == 0)
			return;
	}
	snprintf(buf, len, "%s/%s", SNAP_RUN_DIR_SYSTEM, name);
}

int snap_paths_run_dir_prepare(const char *dir, char *err, size_t errlen)
{
	bool made = mkdir(dir, 0755) == 0;
	if (!made && errno != EEXIST) {
		int e = errno;
		snprintf(err, errlen, "cannot create run dir %s: %s", dir, strerror(e));
		return -e;
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "run dir %s: %s", dir,
			 e == ELOOP || e == ENOTDIR ? "not a directory (or a symlink)" : strerror(e));
		return e == ELOOP ? -ENOTDIR : -e;
	}
	struct stat st;
	int r = 0;
	/* Created by us: the umask must not leave it group-writable. */
	if ((made && fchmod(fd, 0755) != 0) || fstat(fd, &st) != 0) {
		r = -errno;
		snprintf(err, errlen, "run dir %s: %s", dir, strerror(-r));
	} else if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		r = -EPERM;
		snprintf(err, errlen, "refusing run dir %s: owned by uid %u with mode %04o; it must "
			 "be owned by uid %u (this daemon) and not writable by group or others, "
			 "or another user could replace its sockets", dir, (unsigned)st.st_uid,
			 (unsigned)(st.st_mode & 07777), (unsigned)geteuid());
	}
	close(fd);
	return r;
}

int snap_paths_peer_check(int fd, const char *path, char *why, size_t len)
{
	struct ucred uc;
	socklen_t ul = sizeof(uc);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ul) != 0) {
		int e = errno;
		snprintf(why, len, "%s: cannot read the server's peer credentials: %s", path,
			 strerror(e));
		return -e;
	}
	if (uc.uid == 0)
		return 0;
	char dir[4096];
	const char *slash = strrchr(path, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash == path ? 1 : slash - path), path);
	struct stat st;
	if (stat(dir, &st) != 0) {
		int e = errno;
		snprintf(why, len, "%s: cannot check its directory %s: %s", path, dir, strerror(e));
		return -e;
	}
	if (st.st_uid == uc.uid && !(st.st_mode & (S_IWGRP | S_IWOTH)))
		return 0;
	snprintf(why, len, "refusing the server at %s: its peer credentials say uid %u (pid %d), "
		 "but only root or the owner of %s (uid %u%s) may serve there; another user's "
		 "socket?", path, (unsigned)uc.uid, (int)uc.pid, dir, (unsigned)st.st_uid,
		 st.st_mode & (S_IWGRP | S_IWOTH) ? ", and it is writable by others" : "");
	return -EPERM;
}

int snap_paths_open_trusted_dir(const char *dir, const char *what, char *err, size_t errlen)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno == ELOOP ? ENOTDIR : errno;
		snprintf(err, errlen, "%s %s: %s", what, dir,
			 e == ENOTDIR ? "not a directory (or a symlink)" : strerror(e));
		return -e;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || (st.st_uid != 0 && st.st_uid != geteuid()) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH))) {
		snprintf(err, errlen, "refusing %s %s: owned by uid %u with mode %04o; it must be "
			 "owned by root or uid %u (this daemon) and not writable by group or others",
			 what, dir, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
			 (unsigned)geteuid());
		close(fd);
		return -EPERM;
	}
	return fd;
}

const char *snap_paths_name_in(const char *dir, const char *path, char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	if (!name[0] || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		snprintf(err, errlen, "'%s': not a file name", path);
		return NULL;
	}
	if (slash == NULL)
		return name;
	char pdir[4096], a[PATH_MAX], b[PATH_MAX];
	snprintf(pdir, sizeof(pdir), "%.*s", (int)(slash == path ? 1 : slash - path), path);
	if (realpath(pdir, a) == NULL || realpath(dir, b) == NULL || strcmp(a, b) != 0) {
		snprintf(err, errlen, "'%s' is outside %s (only plain names in it are allowed)",
			 path, dir);
		return NULL;
	}
	return name;
}
