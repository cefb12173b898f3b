/* fd registry (see fdreg.h): a dense array, small and rarely changed. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/fdreg.h"

#define FDREG_MAX 4096

static struct snap_fd_ent ents[FDREG_MAX];
static unsigned n_ents;

int snap_fdreg_add(int fd, enum snap_fd_kind kind, uint64_t owner, const char *desc)
{
	for (unsigned i = 0; i < n_ents; i++)
		if (ents[i].fd == fd)
			return -EEXIST;
	if (n_ents >= FDREG_MAX)
		return -ENOSPC;
	struct snap_fd_ent *e = &ents[n_ents++];
	e->fd = fd;
	e->kind = kind;
	e->owner = owner;
	snprintf(e->desc, sizeof(e->desc), "%s", desc ? desc : "");
	return 0;
}

int snap_fdreg_del(int fd)
{
	for (unsigned i = 0; i < n_ents; i++) {
		if (ents[i].fd == fd) {
			ents[i] = ents[--n_ents];
			return 0;
		}
	}
	return -ENOENT;
}

const struct snap_fd_ent *snap_fdreg_at(unsigned i)
{
	return i < n_ents ? &ents[i] : NULL;
}

const char *snap_fd_kind_name(enum snap_fd_kind k)
{
	static const char *const names[] = {
		[SNAP_FD_CONTROL_LISTEN] = "control-listen", [SNAP_FD_APP_LISTEN] = "app-listen",
		[SNAP_FD_APP_CONN] = "app-conn",             [SNAP_FD_APP_MEMFD] = "app-memfd",
		[SNAP_FD_APP_EVENTFD] = "eventfd",           [SNAP_FD_TAKEOVER] = "takeover",
		[SNAP_FD_OTHER] = "other",
	};
	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

int snap_fd_link(int fd, char *buf, size_t len)
{
	char path[32];
	if (len == 0)
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}
