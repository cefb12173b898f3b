/* port_rx / port_tx: the elements that own a port's rx and tx queue for their engine.
 * port_rx is a source (polls the queue; can arm rx interrupts where the driver has them);
 * port_tx keeps packets the NIC could not take yet in a small backlog and retries them on
 * its next poll, so a momentarily full tx ring does not become loss. Neither bursts while
 * the port is stopped (snap_port_started: a memif client being reconnected): rx finds
 * nothing, tx drops as port_stopped, backlog included, rather than hold packets for a link
 * that is down. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_ethdev.h>

#include "snap/element.h"
#include "snap/engine.h"
#include "snap/log.h"
#include "snap/port.h"

struct port_rx {
	struct snap_port *port;
	uint16_t queue;
	uint16_t burst;
	int intr_fd;     /* -1: no rx interrupts on this port */
	bool afp;        /* intr_fd is the af_packet queue's socket (snap_port_afp_rx_fd) */
	int link_fd;     /* the port's link events for this queue (snap_port_link_wake_fd) */
	uint32_t gen;    /* the port's generation intr_fd belongs to */
	bool armed;
	/* memif with rx_interrupts: the peer's kicks (core/portkick.c), taken at the first
	 * arm and again after a reconnect; kick_off once the port cannot offer them. */
	bool kick_off;
	int kick_fd;
	uint64_t empty_polls;
	uint64_t intr_arms;
	uint64_t link_wakes; /* disarms that found a link event (port_rx's link_fd) */
	uint64_t kick_wakes; /* disarms that found a kick */
	uint64_t kick_renews; /* kick fds given up for a reconnect's new one */
};

static int rx_init(struct snap_elem *el, const struct snap_elem_args *args)
{
	struct port_rx *s = snap_elem_priv(el);
	struct snap_engine *e = snap_elem_args_engine(args);
	const char *name = snap_elem_arg_str(args, "port", NULL);
	uint64_t q, burst;
	s->intr_fd = s->link_fd = s->kick_fd = -1; /* before any failure: rx_destroy runs */
	s->kick_off = true;
	if (name == NULL)
		return snap_elem_args_error(args, "missing 'port'");
	s->port = snap_port_find(name);
	if (s->port == NULL)
		return snap_elem_args_error(args, "unknown port '%s'", name);
	if (snap_elem_arg_u64(args, "queue", 0, 0, SNAP_PORT_QUEUES_MAX - 1, &q) ||
	    snap_elem_arg_u64(args, "burst", SNAP_BURST_MAX, 1, SNAP_BURST_MAX, &burst))
		return -EINVAL;
	s->queue = (uint16_t)q;
	s->burst = (uint16_t)burst;
	int r = snap_port_claim_rxq(s->port, s->queue, e);
	if (r == -EBUSY)
		return snap_elem_args_error(args, "rx queue %u of port %s is owned by engine %s",
					    s->queue, name, snap_engine_name(s->port->rxq_owner[s->queue]));
	if (r)
		return snap_elem_args_error(args, "port %s has no rx queue %u (its queues: 0-%u)",
					    name, s->queue, s->port->n_rxq - 1);
	s->kick_off = !(s->port->rx_intr && s->port->kind == SNAP_PORT_MEMIF);
	s->gen = s->port->generation;
	/* Sleeping on the interrupt alone could miss a peer that came (back) after arming:
	 * the link events wake this engine to arm again (core/portwake.c). Both or neither. */
	int lfd = snap_port_link_wake_fd(s->port, s->queue);
	if (s->port->rx_intr && s->port->kind == SNAP_PORT_AF_PACKET) {
		/* No link events to wait for beside it: the socket itself reports the ring and
		 * the interface's errors (ENETDOWN). */
		int fd = snap_port_afp_rx_fd(s->port, s->queue);
		if (fd >= 0 && snap_engine_add_wake_fd(e, fd) == 0) {
			s->intr_fd = fd;
			s->afp = true;
		} else {
			SNAP_LOG(NOTICE, "port %s queue %u: no socket to sleep on (%s); its engine "
				 "polls", s->port->name, s->queue, strerror(fd < 0 ? -fd : ENOSPC));
		}
	} else if (s->port->rx_intr && lfd >= 0) {
		int fd = rte_eth_dev_rx_intr_ctl_q_get_fd(s->port->port_id, s->queue);
		/* Non-blocking once here, not at every disarm (two syscalls per wake-up). */
		int fl = fd >= 0 ? fcntl(fd, F_GETFL) : -1;
		if (fl >= 0 && !(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
			fd = -1; /* a blocking drain could stall the engine: poll instead */
		if (fd >= 0 && snap_engine_add_wake_fd(e, fd) == 0) {
			if (snap_engine_add_wake_fd(e, lfd) == 0) {
				s->intr_fd = fd;
				s->link_fd = lfd;
			} else {
				snap_engine_del_wake_fd(e, fd);
			}
		}
	}
	return 0;
}

/* Read a wake fd (non-blocking: rx_init made it so) empty so the next sleep does not wake
 * at once: whether it had a count. */
static bool drain_fd(int fd)
{
	uint64_t v;
	return read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v);
}

static unsigned rx_poll(struct snap_elem *el, uint64_t now)
{
	struct port_rx *s = snap_elem_priv(el);
	struct rte_mbuf *pkts[SNAP_BURST_MAX];
	uint16_t n = likely(snap_port_started(s->port))
			     ? rte_eth_rx_burst(s->port->port_id, s->queue, pkts, s->burst)
			     : 0;
	if (n == 0) {
		s->empty_polls++;
		return 0;
	}
	if (n == s->burst)
		snap_engine_note_backlog(el->engine);
	snap_elem_emit(el, 0, pkts, n);
	return n;
}

static void kick_close(struct port_rx *s, struct snap_engine *e)
{
	if (s->kick_fd >= 0) {
		snap_engine_del_wake_fd(e, s->kick_fd);
		close(s->kick_fd);
		s->kick_fd = -1;
	}
}

/* memif: sleep on the peer's kicks. Not connected (or the fd just renewed, which the
 * thread must add to its epoll set first): -ENOTSUP, the group backs off polling. */
static int kick_arm(struct port_rx *s, struct snap_elem *el, bool arm)
{
	if (!arm) {
		if (s->armed) {
			snap_port_kick_arm(s->port, s->queue, s->kick_fd, false);
			s->armed = false;
			if (drain_fd(s->kick_fd))
				s->kick_wakes++;
		}
		return 0;
	}
	if (s->kick_fd < 0) {
		int fd = snap_port_kick_open(s->port, s->queue);
		if (fd == -ENOTSUP) {
			s->kick_off = true;
			SNAP_LOG(NOTICE, "port %s queue %u: the memif peer's kicks are out of reach "
				 "(see core/portkick.c); engine %s polls it with back-off",
				 s->port->name, s->queue, snap_engine_name(el->engine));
		}
		if (fd < 0)
			return -ENOTSUP;
		if (snap_engine_add_wake_fd(el->engine, fd) < 0) {
			close(fd);
			s->kick_off = true;
			SNAP_LOG(NOTICE, "port %s queue %u: engine %s has no room for another wake "
				 "fd; it polls the port with back-off", s->port->name, s->queue,
				 snap_engine_name(el->engine));
			return -ENOTSUP;
		}
		s->kick_fd = fd;
	}
	int r = snap_port_kick_arm(s->port, s->queue, s->kick_fd, true);
	if (r == -ESTALE) {
		kick_close(s, el->engine);
		s->kick_renews++;
	}
	if (r < 0)
		return -ENOTSUP;
	s->armed = true;
	s->intr_arms++;
	return SNAP_ARM_GUARDED;
}

static int rx_arm(struct snap_elem *el, bool arm)
{
	struct port_rx *s = snap_elem_priv(el);
	if (!s->kick_off)
		return kick_arm(s, el, arm);
	/* A device probed again (portlink.c) has new interrupt fds: this engine then polls
	 * (sleeping on the old fd would never wake). */
	if (s->intr_fd < 0 || s->gen != s->port->generation) {
		s->armed = false;
		return -ENOTSUP;
	}
	if (s->afp) {
		/* The socket is readable while the ring holds frames: nothing to arm. Woken, a
		 * pending error (the interface went down) is read, or it would wake the engine
		 * at once at every sleep until the interface came back. */
		if (arm && !s->armed) {
			s->armed = true;
			s->intr_arms++;
		} else if (!arm && s->armed) {
			s->armed = false;
			int err = 0;
			socklen_t l = sizeof(err);
			if (getsockopt(s->intr_fd, SOL_SOCKET, SO_ERROR, &err, &l) == 0 && err)
				s->link_wakes++;
		}
		return 0;
	}
	if (arm && !s->armed) {
		if (rte_eth_dev_rx_intr_enable(s->port->port_id, s->queue) < 0)
			return -ENOTSUP;
		s->armed = true;
		s->intr_arms++;
	} else if (!arm && s->armed) {
		rte_eth_dev_rx_intr_disable(s->port->port_id, s->queue);
		s->armed = false;
		drain_fd(s->intr_fd);
		if (drain_fd(s->link_fd))
			s->link_wakes++;
	}
	return 0;
}

static void rx_stats(const struct snap_elem *el, snap_stat_fn fn, void *ctx)
{
	const struct port_rx *s = snap_elem_priv(el);
	fn(ctx, "empty_polls", s->empty_polls);
	fn(ctx, "intr_arms", s->intr_arms);
	fn(ctx, "link_wakes", s->link_wakes);
	if (s->port->kind == SNAP_PORT_MEMIF) {
		fn(ctx, "kick_wakes", s->kick_wakes);
		fn(ctx, "kick_renews", s->kick_renews);
	}
}

/* An element that only forwards never sees packets in process(); required by the model. */
static void rx_process(struct snap_elem *el, struct rte_mbuf **pkts, uint16_t n)
{
	snap_elem_emit(el, 0, pkts, n);
}

static void rx_destroy(struct snap_elem *el)
{
	struct port_rx *s = snap_elem_priv(el);
	if (s->port)
		snap_port_release_rxq(s->port, s->queue, el->engine);
	if (s->intr_fd >= 0) {
		snap_engine_del_wake_fd(el->engine, s->intr_fd);
		if (s->link_fd >= 0)
			snap_engine_del_wake_fd(el->engine, s->link_fd);
	}
	kick_arm(s, el, false);
	kick_close(s, el->engine);
}

static const char *const rx_outputs[] = {"out"};
static const struct snap_elem_desc port_rx_desc = {
	.name = "port_rx",
	.help = "receive bursts from a port queue (args: port, queue=0, burst=32)",
	.priv_size = sizeof(struct port_rx),
	.n_outputs = 1,
	.outputs = rx_outputs,
	.init = rx_init,
	.process = rx_process,
	.poll = rx_poll,
	.arm = rx_arm,
	.stats = rx_stats,
	.destroy = rx_destroy,
};
SNAP_ELEM_REGISTER(port_rx_desc)

#define TX_BACKLOG 512

struct port_tx {
	struct snap_port *port;
	uint16_t queue;
	uint16_t head, count; /* backlog ring */
	/* The backlog's first `offered` packets were handed to the queue before (a capture
	 * recorded them then); the rest went straight to the backlog behind them. */
	uint16_t offered;
	uint64_t retries;
	struct rte_mbuf *backlog[TX_BACKLOG];
};

static int tx_init(struct snap_elem *el, const struct snap_elem_args *args)
{
	struct port_tx *s = snap_elem_priv(el);
	const char *name = snap_elem_arg_str(args, "port", NULL);
	uint64_t q;
	if (name == NULL)
		return snap_elem_args_error(args, "missing 'port'");
	s->port = snap_port_find(name);
	if (s->port == NULL)
		return snap_elem_args_error(args, "unknown port '%s'", name);
	if (snap_elem_arg_u64(args, "queue", 0, 0, SNAP_PORT_QUEUES_MAX - 1, &q))
		return -EINVAL;
	s->queue = (uint16_t)q;
	int r = snap_port_claim_txq(s->port, s->queue, snap_elem_args_engine(args));
	if (r == -EBUSY)
		return snap_elem_args_error(args, "tx queue %u of port %s is owned by engine %s",
					    s->queue, name, snap_engine_name(s->port->txq_owner[s->queue]));
	if (r)
		return snap_elem_args_error(args, "port %s has no tx queue %u (its queues: 0-%u)",
					    name, s->queue, s->port->n_txq - 1);
	return 0;
}

/* One burst to the queue: the PMD's, or an af_packet port's direct transmit. Returns how
 * many of pkts the queue took (sent or, direct, dropped for good and counted). */
static uint16_t tx_burst(struct port_tx *s, struct rte_mbuf **pkts, uint16_t n)
{
	if (!snap_port_tx_direct(s->port))
		return rte_eth_tx_burst(s->port->port_id, s->queue, pkts, n);
	return snap_port_afp_tx(s->port, s->queue, pkts, n);
}

/* Send what the backlog holds, oldest first. Returns packets sent. */
static unsigned tx_flush(struct port_tx *s)
{
	unsigned sent = 0;
	while (s->count) {
		uint16_t run = RTE_MIN(s->count, (uint16_t)(TX_BACKLOG - s->head));
		s->port->txq_skip[s->queue] = RTE_MIN(s->offered, run);
		uint16_t n = tx_burst(s, &s->backlog[s->head], run);
		s->offered = (uint16_t)(RTE_MAX(s->offered, run) - n);
		s->head = (uint16_t)((s->head + n) % TX_BACKLOG);
		s->count -= n;
		sent += n;
		if (n < run)
			break;
	}
	s->port->txq_skip[s->queue] = 0;
	return sent;
}

/* The port stopped: whatever waits for it goes. */
static void tx_drop_backlog(struct snap_elem *el, struct port_tx *s)
{
	while (s->count) {
		snap_elem_drop(el, s->backlog[s->head], SNAP_DROP_PORT_STOPPED);
		s->head = (uint16_t)((s->head + 1) % TX_BACKLOG);
		s->count--;
	}
	s->offered = 0;
}

static void tx_process(struct snap_elem *el, struct rte_mbuf **pkts, uint16_t n)
{
	struct port_tx *s = snap_elem_priv(el);
	uint16_t sent = 0;
	if (unlikely(!snap_port_started(s->port))) {
		tx_drop_backlog(el, s);
		snap_elem_drop_burst(el, pkts, n, SNAP_DROP_PORT_STOPPED);
		return;
	}
	bool offered = false;
	if (likely(s->count == 0 || (tx_flush(s), s->count == 0))) {
		sent = tx_burst(s, pkts, n);
		offered = true; /* the backlog was empty: what stays is its offered prefix */
	}
	for (uint16_t i = sent; i < n; i++) {
		if (s->count == TX_BACKLOG) {
			snap_elem_drop(el, pkts[i], SNAP_DROP_TX_FULL);
			continue;
		}
		s->backlog[(s->head + s->count) % TX_BACKLOG] = pkts[i];
		s->count++;
		s->offered += offered;
		s->retries++;
	}
}

static unsigned tx_poll(struct snap_elem *el, uint64_t now)
{
	struct port_tx *s = snap_elem_priv(el);
	if (likely(s->count == 0))
		return 0;
	if (unlikely(!snap_port_started(s->port))) {
		tx_drop_backlog(el, s);
		return 0;
	}
	return tx_flush(s);
}

static uint64_t tx_deadline(const struct snap_elem *el)
{
	const struct port_tx *s = snap_elem_priv(el);
	/* A backlog must be retried promptly: ask not to sleep. */
	return s->count ? 0 : UINT64_MAX;
}

static void tx_stats(const struct snap_elem *el, snap_stat_fn fn, void *ctx)
{
	const struct port_tx *s = snap_elem_priv(el);
	fn(ctx, "backlog", s->count);
	fn(ctx, "deferred", s->retries);
	if (s->port->n_afp_tx_fd) { /* the queue's share of the port's counts */
		const struct snap_port_direct_stats *d = &s->port->afp_tx_st[s->queue];
		fn(ctx, "direct_tx", __atomic_load_n(&d->pkts, __ATOMIC_RELAXED));
		fn(ctx, "direct_dropped", __atomic_load_n(&d->dropped, __ATOMIC_RELAXED));
	}
}

static void tx_destroy(struct snap_elem *el)
{
	struct port_tx *s = snap_elem_priv(el);
	while (s->count) {
		rte_pktmbuf_free(s->backlog[s->head]);
		s->head = (uint16_t)((s->head + 1) % TX_BACKLOG);
		s->count--;
	}
	if (s->port)
		snap_port_release_txq(s->port, s->queue, el->engine);
}

static const struct snap_elem_desc port_tx_desc = {
	.name = "port_tx",
	.help = "transmit to a port queue, retrying a full ring from a backlog (args: port, queue=0)",
	.priv_size = sizeof(struct port_tx),
	.n_outputs = 0,
	.init = tx_init,
	.process = tx_process,
	.poll = tx_poll,
	.next_deadline = tx_deadline,
	.stats = tx_stats,
	.destroy = tx_destroy,
};
SNAP_ELEM_REGISTER(port_tx_desc)
