/* Listening Unix sockets for the daemon: one set-up (stale-file check, creation mode, group,
 * no symlink following) for every socket it serves. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/unixsock.h"

/* Is a live server answering on sa? (Then its socket must not be stolen.) */
static bool in_use(const struct sockaddr_un *sa, int type)
{
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	bool live = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	close(fd);
	return live;
}

int snap_unix_listen(const char *path, int type, unsigned mode, int gid, int backlog,
		     char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (mode & ~0777u) {
		snprintf(err, errlen, "%s: bad socket mode %o", path, mode);
		return -EINVAL;
	}
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: path too long for a Unix socket (max %zu)", path,
			 sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket (not removed)", path);
			return -EEXIST;
		}
		if (in_use(&sa, type)) {
			snprintf(err, errlen, "another server is listening on %s", path);
			return -EADDRINUSE;
		}
		unlink(path); /* stale socket of a dead daemon */
	}
	int fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "%s: socket: %s", path, strerror(e));
		return -e;
	}
	/* bind() creates the file with the socket inode's mode minus the umask: set both, so
	 * the file is born owner-only (group and others come after the group is right) and
	 * nothing is chmod'ed or chown'ed by a path a symlink could redirect. */
	const char *what = "bind";
	int e = 0;
	mode_t old = umask(0077);
	if (fchmod(fd, 0600) != 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		e = errno;
	umask(old);
	if (e) {
		close(fd);
		snprintf(err, errlen, "%s: %s: %s", path, what, strerror(e));
		return -e;
	}
	if (gid >= 0 && fchownat(AT_FDCWD, path, (uid_t)-1, (gid_t)gid, AT_SYMLINK_NOFOLLOW) != 0)
		e = errno, what = "set group";
	else if ((mode & 0777) != 0600 &&
		 fchmodat(AT_FDCWD, path, mode, AT_SYMLINK_NOFOLLOW) != 0)
		e = errno, what = "set mode";
	else if (listen(fd, backlog) != 0)
		e = errno, what = "listen";
	if (e) {
		unlink(path);
		close(fd);
		snprintf(err, errlen, "%s: %s: %s", path, what, strerror(e));
		return -e;
	}
	return fd;
}
