/* Link events wake the owners of a port's rx queues.
 *
 * A queue owner with nothing to do arms its rx interrupt and sleeps on the interrupt fd.
 * DPDK 22.11's vhost PMD (22.11.4 and later) gives each rx queue a proxy epoll fd that holds
 * the peer's kick fd, and arming asks the peer to kick (guest notifications on). But it can
 * only ask a peer it has: an owner that armed before the virtio peer connected asked
 * nobody, and a peer that connects or reconnects (new_device) starts with notifications
 * off. The owner then slept on an fd no kick would ever reach: a server daemon whose
 * engine went idle before its client came up never saw a packet (port_vhost_pair failed
 * so once in CI: the engine armed twice, then slept through 500 pings). The PMD reports
 * every such change as a link event (after it turned notifications off) and vring changes
 * as queue-state events: each writes one eventfd per rx queue, which the queue's owner
 * sleeps on beside its interrupt fd. Woken, the owner disarms, polls and arms again, now
 * towards the peer that is there.
 *
 * The callbacks run on the PMD's thread (vhost's event thread); writing an eventfd is all
 * they do. One eventfd per queue, not per port: the owner reads its own empty when it
 * disarms, which with a shared one could eat another owner's wake-up before it slept. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <rte_ethdev.h>

#include "core/portsetup.h"
#include "snap/log.h"
#include "snap/port.h"

static const enum rte_eth_event_type wake_events[] = {RTE_ETH_EVENT_INTR_LSC,
						      RTE_ETH_EVENT_QUEUE_STATE};

static int link_event(uint16_t port_id, enum rte_eth_event_type type, void *arg, void *ret)
{
	(void)port_id, (void)type, (void)ret;
	const struct snap_port *p = arg;
	uint64_t one = 1;
	for (uint16_t q = 0; q < p->n_link_efd; q++) {
		/* EAGAIN only once 2^64-2 wake-ups are unread: the owner wakes anyway. */
		ssize_t r = write(p->link_efd[q], &one, sizeof(one));
		(void)r;
	}
	return 0;
}

int snap_portwake_attach(struct snap_port *p)
{
	for (uint16_t q = p->n_link_efd; q < p->n_rxq; q++) {
		int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (fd < 0) {
			int r = -errno;
			SNAP_LOG(WARNING, "port %s: no eventfd for link events (%s); engines will "
				 "poll", p->name, strerror(errno));
			p->rx_intr = false;
			return r;
		}
		p->link_efd[q] = fd;
		p->n_link_efd = q + 1;
	}
	for (size_t i = 0; i < RTE_DIM(wake_events); i++) {
		int r = rte_eth_dev_callback_register(p->port_id, wake_events[i], link_event, p);
		if (r < 0) {
			SNAP_LOG(WARNING, "port %s: cannot follow link events (%s); engines will poll",
				 p->name, strerror(-r));
			snap_portwake_detach(p);
			p->rx_intr = false;
			return r;
		}
	}
	return 0;
}

void snap_portwake_detach(const struct snap_port *p)
{
	/* -ENOENT for events never subscribed to (no rx interrupts) is fine. */
	for (size_t i = 0; i < RTE_DIM(wake_events); i++)
		rte_eth_dev_callback_unregister(p->port_id, wake_events[i], link_event,
						(void *)(uintptr_t)p);
}

void snap_portwake_close(struct snap_port *p)
{
	for (uint16_t q = 0; q < p->n_link_efd; q++)
		close(p->link_efd[q]);
	p->n_link_efd = 0;
}
