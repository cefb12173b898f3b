/* Unix socket files of port devices that listen (memif and vhost-user servers): telling a
 * live listener from a stale file a killed daemon left, whose bind() would then fail. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/config.h"
#include "snap/log.h"
#include "snap/port.h"
#include "core/portsetup.h"

int snap_unix_probe(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		return -errno;
	int r = connect(s, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	if (r == 0) {
		/* A memif server greets every connection at once; closing only after the greeting
		 * came means it next reads our EOF instead of writing into a closed socket (a
		 * SIGPIPE for a server that does not ignore it). */
		struct pollfd pf = {.fd = s, .events = POLLIN};
		poll(&pf, 1, 200);
	}
	close(s);
	return r;
}

static bool listens_on_file(const struct snap_port_cfg *pc)
{
	return pc->server && pc->socket[0] &&
	       (pc->kind == SNAP_PORT_MEMIF || pc->kind == SNAP_PORT_VHOST);
}

int snap_port_clear_stale_socket(const struct snap_port_cfg *pc)
{
	struct stat st;
	if (!listens_on_file(pc) || lstat(pc->socket, &st) != 0 || !S_ISSOCK(st.st_mode))
		return 0;
	int r = snap_unix_probe(pc->socket);
	if (r == 0 || r == -EAGAIN) {
		SNAP_LOG(WARNING, "port %s: another process listens on %s", pc->name, pc->socket);
		return -EADDRINUSE;
	}
	if (r != -ECONNREFUSED)
		return r;
	if (unlink(pc->socket) != 0) {
		r = -errno;
		SNAP_LOG(WARNING, "port %s: cannot remove stale %s socket %s: %s", pc->name,
			 snap_port_kind_name(pc->kind), pc->socket, strerror(-r));
		return r;
	}
	SNAP_LOG(NOTICE, "port %s: removed stale %s socket %s (its server is gone)", pc->name,
		 snap_port_kind_name(pc->kind), pc->socket);
	return 1;
}

void snap_ports_clear_stale_sockets(const struct snap_config *cfg)
{
	for (unsigned i = 0; i < cfg->n_ports; i++)
		snap_port_clear_stale_socket(&cfg->ports[i]);
}
