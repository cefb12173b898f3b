/* af_packet direct transmit (port setting tx_direct): each tx queue sends on a packet
 * socket of its own, with no ring, straight from the mbufs (sendmmsg, one system call a
 * burst, the kernel copying each frame once into its skb), instead of through the PMD.
 *
 * Why: the PMD copies every frame into its socket's transmit ring, and the kernel sends
 * ring frames as skbs whose pages are the ring's, which a veth cannot hand on: it copies
 * them again into fresh pages (skb_copy_ubufs). Measured, Pony over af_packet on a veth
 * pair at MTU 64000, alternating runs of one build: 64 KiB streams 1.82x the ops per
 * core-second (28,269 -> 51,440 and 28,155 -> 50,252), 64 KiB ping-pong 1.52x.
 *
 * The socket is bound to the interface with protocol 0, so it receives nothing (the PMD's
 * socket still receives), and bypasses the qdisc as the PMD's does. The ethdev tx counters
 * do not see these sends: the port counts them (afp_tx_st, added to what `snapctl ports`
 * shows), and neither do DPDK's tx callbacks: a capture
 * of the port's transmit side turns direct transmit off while it runs
 * (snap_port_tx_capture). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/if_ether.h>
#include <linux/if_packet.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "core/portsetup.h"
#include "snap/log.h"
#include "snap/port.h"

int snap_portafp_tx_open(struct snap_port *p)
{
	struct rte_eth_dev_info info;
	if (p->kind != SNAP_PORT_AF_PACKET || rte_eth_dev_info_get(p->port_id, &info) != 0 ||
	    info.if_index == 0)
		return -ENOTSUP;
	for (uint16_t q = 0; q < p->n_txq; q++) {
		int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
		struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = 0,
					  .sll_ifindex = (int)info.if_index};
		int one = 1, r = 0;
		if (fd < 0 || bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0 ||
		    setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) < 0)
			r = -errno;
		if (r) {
			if (fd >= 0)
				close(fd);
			SNAP_LOG(WARNING, "port %s: no socket for direct transmit (%s); the PMD "
				 "sends", p->name, strerror(-r));
			snap_portafp_tx_close(p);
			return r;
		}
		p->afp_tx_fd[q] = fd;
		p->n_afp_tx_fd = (uint16_t)(q + 1);
	}
	return 0;
}

void snap_portafp_tx_close(struct snap_port *p)
{
	for (uint16_t q = 0; q < p->n_afp_tx_fd; q++)
		close(p->afp_tx_fd[q]);
	p->n_afp_tx_fd = 0;
}

#define AFP_TX_SEGS 16  /* iovecs a frame; a longer chain is dropped (counted) */
#define AFP_TX_BURST 32 /* frames a sendmmsg */

/* Single writer (the queue's owner), any reader: a relaxed add without a locked op. */
static inline void stat_add(uint64_t *c, uint64_t v)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

uint16_t snap_port_afp_tx(struct snap_port *p, uint16_t q, struct rte_mbuf **pkts,
			  uint16_t n)
{
	struct mmsghdr m[AFP_TX_BURST];
	struct iovec iov[AFP_TX_BURST][AFP_TX_SEGS];
	struct snap_port_direct_stats *st = &p->afp_tx_st[q];
	uint64_t sent = 0, bytes = 0, dropped = 0;
	uint16_t done = 0; /* sent or dropped: the caller keeps pkts[done..] */
	while (done < n) {
		uint16_t k = (uint16_t)RTE_MIN(n - done, AFP_TX_BURST);
		for (uint16_t i = 0; i < k; i++) {
			const struct rte_mbuf *x = pkts[done + i];
			unsigned j = 0;
			for (; x != NULL && j < AFP_TX_SEGS; x = x->next, j++) {
				iov[i][j].iov_base = rte_pktmbuf_mtod(x, void *);
				iov[i][j].iov_len = x->data_len;
			}
			memset(&m[i], 0, sizeof(m[i]));
			m[i].msg_hdr.msg_iov = iov[i];
			/* A chain over AFP_TX_SEGS: an empty message, refused below. */
			m[i].msg_hdr.msg_iovlen = x == NULL ? j : 0;
		}
		int r = sendmmsg(p->afp_tx_fd[q], m, k, MSG_DONTWAIT);
		if (r > 0) {
			for (int i = 0; i < r; i++)
				bytes += m[i].msg_len;
			rte_pktmbuf_free_bulk(&pkts[done], (unsigned)r);
			sent += (unsigned)r;
			done = (uint16_t)(done + r);
			continue;
		}
		/* The first frame was not sent. Full (the device's queue, or memory for the
		 * skb): the caller keeps the rest and retries. Anything else is that frame's
		 * own fault or the interface's (too long, down): dropped, so one bad frame
		 * cannot stall the queue. */
		if (r < 0 && (errno == EAGAIN || errno == ENOBUFS || errno == EINTR))
			break;
		rte_pktmbuf_free(pkts[done]);
		dropped++;
		done++;
	}
	if (sent) {
		stat_add(&st->pkts, sent);
		stat_add(&st->bytes, bytes);
	}
	if (dropped)
		stat_add(&st->dropped, dropped);
	return done;
}

void snap_port_direct_stats(const struct snap_port *p, struct snap_port_direct_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (uint16_t q = 0; q < SNAP_PORT_QUEUES_MAX; q++) {
		out->pkts += __atomic_load_n(&p->afp_tx_st[q].pkts, __ATOMIC_RELAXED);
		out->bytes += __atomic_load_n(&p->afp_tx_st[q].bytes, __ATOMIC_RELAXED);
		out->dropped += __atomic_load_n(&p->afp_tx_st[q].dropped, __ATOMIC_RELAXED);
	}
}
