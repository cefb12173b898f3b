/* Client links that come back by themselves. DPDK 22.11's memif PMD connects a client only
 * inside rte_eth_dev_start (a refused connect fails the start) and, when its server goes
 * away, marks the link down and never tries again; its virtio-user PMD connects a client
 * only when probed. So the control loop watches every memif and virtio-user client port
 * and, while its link is down, stops and restarts (memif) or probes again (virtio-user) the
 * device with back-off: the peer's daemon restarted, or was upgraded. Stopping goes through
 * snap_port_stop: queue owners are closed out of the port and synchronised first, because
 * DPDK forbids bursts concurrent with dev_stop/start. A server coming back creates its
 * socket file: an inotify watch on the file's directory turns that into an attempt at once
 * (with the quick tries after it), so the back-off only paces attempts while nothing
 * changes, never makes a returning server wait. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <rte_ethdev.h>
#include <rte_log.h>

#include "core/config.h"
#include "snap/log.h"
#include "core/loop.h"
#include "snap/port.h"
#include "core/portsetup.h"

#define LINK_TICK_MS 20       /* how often link state is read: the delay to notice a drop */
/* A client started this long ago without a link is restarted: the first wait of an outage
 * (or after a kick), doubled by each hand-shake that did not finish, up to the last. A
 * server whose socket exists before its device is set up refuses the first hand-shakes
 * (the PMD then waits for nothing); a slow host still gets the full second. */
#define HANDSHAKE_MIN_MS 100u
#define HANDSHAKE_MAX_MS 1000u
#define SYNC_TIMEOUT_MS 1000  /* per queue owner, to pass a quiescent point */

struct link {
	struct snap_port *p;
	bool up;                 /* link seen up at the last check */
	uint64_t due_ns;         /* next step while down: stop a started device, or attempt */
	unsigned backoff_ms;     /* wait after the next failed attempt */
	unsigned tries;          /* attempts since the link was last up */
	bool failed_once;        /* a connect failed in this outage (the PMD logged it) */
	uint64_t down_ns;        /* when the outage began */
	unsigned quick;          /* attempts left one tick apart before the back-off applies */
	unsigned handshake_ms;   /* how long the next start may take to bring the link up */
	/* The server's socket file: its directory's watch (-1: none) and its name there. A
	 * kick (the file appeared) is taken at most once a kick_gap_ms, which starts at the
	 * back-off minimum and doubles up to its maximum while kicks bring no link: whoever
	 * may touch files there cannot make us try more often than the back-off would. */
	int wd;
	const char *sock_name;
	uint64_t kick_ns;
	unsigned kick_gap_ms;    /* before the next kick: doubles while kicks bring no link */
	bool kicked;             /* this outage's attempts were hurried by a kick (logged once) */
};

static struct link links[SNAP_CFG_PORTS_MAX];
static unsigned n_links;
static int memif_logtype = -1;
static int ino_fd = -1;

static bool link_up(const struct snap_port *p)
{
	struct rte_eth_link l;
	return snap_port_started(p) && rte_eth_link_get_nowait(p->port_id, &l) == 0 &&
	       l.link_status == RTE_ETH_LINK_UP;
}

/* One connection attempt. The PMD logs an error for every refused connect; the first of an
 * outage is worth seeing, the rest (one a second while the peer is away) are muted by
 * raising the PMD's log threshold for the duration of the call on this thread. */
static int attempt(struct link *l)
{
	int saved = -1;
	if (l->failed_once && memif_logtype >= 0) {
		saved = rte_log_get_level((uint32_t)memif_logtype);
		if (saved > (int)RTE_LOG_CRIT)
			rte_log_set_level((uint32_t)memif_logtype, RTE_LOG_CRIT);
	}
	l->p->reconnect_attempts++;
	l->tries++;
	int r = l->p->virtio_client ? snap_port_reprobe(l->p) : snap_port_start(l->p);
	if (saved > (int)RTE_LOG_CRIT)
		rte_log_set_level((uint32_t)memif_logtype, (uint32_t)saved);
	if (r)
		l->failed_once = true;
	return r;
}

static void check(struct link *l, uint64_t now)
{
	struct snap_port *p = l->p;
	if (link_up(p)) {
		if (!l->up && l->tries) {
			p->reconnects++;
			SNAP_LOG(NOTICE, "port %s: %s link up after %u attempt(s), %.1f s down",
				 p->name, snap_port_kind_name(p->kind), l->tries, (double)(now - l->down_ns) / 1e9);
		}
		*l = (struct link){.p = p, .up = true, .backoff_ms = SNAP_PORTLINK_BACKOFF_MIN_MS,
				   .wd = l->wd, .sock_name = l->sock_name, .kick_ns = l->kick_ns,
				   .kick_gap_ms = SNAP_PORTLINK_BACKOFF_MIN_MS};
		return;
	}
	if (l->up) {
		SNAP_LOG(WARNING, "port %s: %s link down; reconnecting every %u-%u ms", p->name,
			 snap_port_kind_name(p->kind),
			 SNAP_PORTLINK_BACKOFF_MIN_MS, SNAP_PORTLINK_BACKOFF_MAX_MS);
		l->up = false;
		l->down_ns = now;
		l->quick = SNAP_PORTLINK_QUICK_TRIES;
		l->handshake_ms = HANDSHAKE_MIN_MS;
		l->due_ns = now; /* stop at once: owners drop instead of queueing for a dead link */
	}
	if (now < l->due_ns)
		return;
	if (snap_port_started(p)) {
		/* Whoever started it (an attempt, the start-up, a takeover's roll-back), the PMD
		 * needs a moment for the hand-shake; past that, the peer left or never answered. */
		if (!p->virtio_client && now < p->start_ns + l->handshake_ms * 1000000ull)
			return; /* (virtio-user shakes hands inside the probe) */
		l->handshake_ms = RTE_MIN(l->handshake_ms * 2, HANDSHAKE_MAX_MS);
		if (snap_port_stop(p, SYNC_TIMEOUT_MS))
			SNAP_LOG(WARNING, "port %s: cannot stop for a reconnect now; trying again",
				 p->name);
		l->due_ns = now + (l->quick ? 0 : (uint64_t)l->backoff_ms * 1000000u);
		return;
	}
	attempt(l);
	if (l->quick) {
		l->quick--;
		/* A peer's server back within ms (an upgrade of the peer daemon) costs only
		 * what these ticks take, not a 100 ms back-off. */
		l->due_ns = now;
		return;
	}
	l->due_ns = now + (uint64_t)l->backoff_ms * 1000000u;
	l->backoff_ms = RTE_MIN(l->backoff_ms * 2, SNAP_PORTLINK_BACKOFF_MAX_MS);
}

static void tick(uint64_t now_ns, void *arg)
{
	for (unsigned i = 0; i < n_links; i++)
		check(&links[i], now_ns);
}

/* l's server socket (re)appeared: while the link is down, the quick tries from now. */
static void kick(struct link *l, uint64_t now)
{
	if (l->up || now - l->kick_ns < l->kick_gap_ms * 1000000ull)
		return;
	l->kick_ns = now;
	l->kick_gap_ms = RTE_MIN(l->kick_gap_ms * 2, SNAP_PORTLINK_BACKOFF_MAX_MS);
	l->quick = SNAP_PORTLINK_QUICK_TRIES;
	l->backoff_ms = SNAP_PORTLINK_BACKOFF_MIN_MS;
	l->handshake_ms = HANDSHAKE_MIN_MS;
	l->due_ns = now;
	if (!l->kicked)
		SNAP_LOG(NOTICE, "port %s: the server's socket %s appeared: connecting now",
			 l->p->name, l->sock_name);
	l->kicked = true;
	check(l, now);
}

static void on_watch(int fd, void *arg)
{
	(void)arg;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	uint64_t now = snap_loop_now_ns();
	ssize_t n;
	/* Bounded: whoever fills the directory with events cannot hold the control thread (the
	 * rest is read at the next turn of the loop; an overflow kicks every link). */
	for (unsigned reads = 0; reads < 16 && (n = read(fd, buf, sizeof(buf))) > 0; reads++) {
		for (char *c = buf; c + sizeof(struct inotify_event) <= buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)c;
			c += sizeof(*ev) + ev->len;
			for (unsigned i = 0; i < n_links; i++) {
				struct link *l = &links[i];
				/* An overflow lost events: any server may be back. */
				if ((ev->mask & IN_Q_OVERFLOW) ||
				    (l->wd == ev->wd && ev->len && c <= buf + n &&
				     strncmp(ev->name, l->sock_name, ev->len) == 0))
					kick(l, now);
			}
		}
	}
}

/* Watch the directory of l's server socket for the file's (re)appearance; without a watch
 * (no such directory yet, inotify limits) the back-off alone paces the attempts. */
static void watch(struct link *l)
{
	const struct snap_port_cfg *pc = snap_port_cfg_of(l->p);
	l->wd = -1;
	if (pc == NULL || pc->socket[0] == '\0')
		return;
	if (ino_fd < 0) {
		ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (ino_fd >= 0 && snap_loop_add_fd(ino_fd, on_watch, NULL) != 0) {
			close(ino_fd);
			ino_fd = -1;
		}
		if (ino_fd < 0) {
			SNAP_LOG(INFO, "port %s: no watch on its server's socket: reconnecting with "
				 "back-off only", l->p->name);
			return;
		}
	}
	char dir[sizeof(pc->socket)];
	snprintf(dir, sizeof(dir), "%s", pc->socket);
	char *slash = strrchr(dir, '/');
	l->sock_name = slash ? pc->socket + (slash - dir) + 1 : pc->socket;
	if (slash == dir)
		dir[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	l->wd = inotify_add_watch(ino_fd, dir, IN_CREATE | IN_MOVED_TO | IN_ATTRIB | IN_ONLYDIR);
	if (l->wd < 0)
		SNAP_LOG(INFO, "port %s: cannot watch %s (%s): reconnecting with back-off only",
			 l->p->name, dir, strerror(errno));
}

int snap_portlink_start(void)
{
	uint64_t now = snap_loop_now_ns();
	n_links = 0;
	for (unsigned i = 0; i < snap_port_count() && n_links < RTE_DIM(links); i++) {
		struct snap_port *p = snap_port_at(i);
		if (!p->memif_client && !p->virtio_client)
			continue;
		/* Started: its first hand-shake is under way. Not started: its server did not
		 * answer (port_start logged it), so the next attempt is muted already. */
		bool started = snap_port_started(p);
		links[n_links++] = (struct link){
			.p = p, .due_ns = now + SNAP_PORTLINK_BACKOFF_MIN_MS * 1000000ull,
			.backoff_ms = SNAP_PORTLINK_BACKOFF_MIN_MS, .failed_once = !started,
			.down_ns = now, .quick = SNAP_PORTLINK_QUICK_TRIES,
			.kick_gap_ms = SNAP_PORTLINK_BACKOFF_MIN_MS,
			.handshake_ms = HANDSHAKE_MIN_MS};
		watch(&links[n_links - 1]);
	}
	if (n_links == 0)
		return 0;
	/* Registered by the driver when its library was loaded; this only looks it up. */
	memif_logtype = rte_log_register("pmd.net.memif");
	return snap_loop_add_timer(LINK_TICK_MS, tick, NULL);
}
