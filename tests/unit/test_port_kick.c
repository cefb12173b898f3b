/* memif kicks (core/portkick.c) on a real memif pair in one process, each direction: while
 * a receiver's queue is disarmed (as the PMD leaves it) the peer's transmit writes nothing;
 * armed, the transmit itself makes the kick fd readable; disarmed again, quiet again. An fd
 * that is not the queue's eventfd is stale, and a port that is not memif has no kicks.
 * A hostile peer writes the shared ring's header (its cookie, its flags) and a hostile
 * server names where the ring is: each turns kicks off or costs only its own kicks, never
 * a write outside the region. Nothing here waits on time: the kick is written inside the
 * peer's tx burst. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>
#include <rte_ethdev.h>
#include <rte_version.h>

#include "core/portkick_int.h"
#include "core/portsetup.h"
#include "tests/unit/elemtest.h"

#ifdef KICK_LAYOUT
#define KICKS 1
#endif

static uint8_t frame[128];
static size_t frame_len;

static bool up(const struct snap_port *p)
{
	struct rte_eth_link l;
	return snap_port_started(p) && rte_eth_link_get_nowait(p->port_id, &l) == 0 &&
	       l.link_status;
}

static void send_one(const struct snap_port *from)
{
	struct rte_mbuf *m = et_mbuf(frame, frame_len);
	assert_non_null(m);
	assert_int_equal(rte_eth_tx_burst(from->port_id, 0, &m, 1), 1);
}

static unsigned drain_rx(const struct snap_port *p)
{
	struct rte_mbuf *m[8];
	unsigned n = 0;
	uint16_t k;
	while ((k = rte_eth_rx_burst(p->port_id, 0, m, 8)) > 0) {
		rte_pktmbuf_free_bulk(m, k);
		n += k;
	}
	return n;
}

static bool readable(int fd)
{
	struct pollfd pf = {.fd = fd, .events = POLLIN};
	return poll(&pf, 1, 0) == 1;
}

/* One frame from tx to rx: whether it kicked rx's fd (consumed), and rx got it. */
static bool kicked(const struct snap_port *rx, const struct snap_port *tx, int fd)
{
	send_one(tx);
	bool k = readable(fd);
	uint64_t v;
	if (k)
		assert_int_equal(read(fd, &v, sizeof(v)), (ssize_t)sizeof(v));
	assert_int_equal(drain_rx(rx), 1);
	return k;
}

static void kicks_towards(const struct snap_port *rx, const struct snap_port *tx)
{
	int fd = snap_port_kick_open(rx, 0);
#ifndef KICKS
	assert_int_equal(fd, -ENOTSUP);
	skip();
#endif
	assert_true(fd >= 0);
	/* A memif client hands its receive slots to the server in its rx burst: one first. */
	assert_int_equal(drain_rx(rx), 0);
	assert_false(kicked(rx, tx, fd));
	assert_int_equal(snap_port_kick_arm(rx, 0, fd, true), 0);
	assert_true(kicked(rx, tx, fd));
	assert_int_equal(snap_port_kick_arm(rx, 0, fd, false), 0);
	assert_false(kicked(rx, tx, fd));

	int other = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(other >= 0);
	assert_int_equal(snap_port_kick_arm(rx, 0, other, true), -ESTALE);
	close(other);
	close(fd);
}

static void test_server_rx(void **state)
{
	(void)state;
	kicks_towards(snap_port_find("p0"), snap_port_find("peer"));
}

static void test_client_rx(void **state)
{
	(void)state;
	kicks_towards(snap_port_find("peer"), snap_port_find("p0"));
}

/* The peer shares the ring: what it may write there, and what a hostile server's ring
 * offset (the PMD keeps what the server's message said) does to an arm. */
static void test_hostile_peer(void **state)
{
	(void)state;
#ifndef KICKS
	skip();
#else
	const struct snap_port *rx = snap_port_find("p0"), *tx = snap_port_find("peer");
	int fd = snap_port_kick_open(rx, 0);
	assert_true(fd >= 0);
	struct m_ring *ring;
	int pfd;
	assert_int_equal(snap_portkick_find(rx, 0, &ring, &pfd), 0);
	drain_rx(rx);

	/* A cookie that is not memif's: no arm, no disarm (no write at all); back after. */
	uint32_t cookie = ring->cookie;
	ring->cookie = ~cookie;
	assert_int_equal(snap_port_kick_arm(rx, 0, fd, true), -ENOTSUP);
	assert_int_equal(snap_port_kick_arm(rx, 0, fd, false), -ENOTSUP);
	assert_int_equal(ring->cookie, ~cookie);
	ring->cookie = cookie;

	/* Armed, then masked again by the peer: it simply does not kick (the engine's sleep is
	 * bounded for this, test_sched_idle's guard); the next arm clears the mask again. */
	assert_int_equal(snap_port_kick_arm(rx, 0, fd, true), 0);
	__atomic_or_fetch(&ring->flags, M_MASK_INT, __ATOMIC_SEQ_CST);
	assert_false(kicked(rx, tx, fd));
	assert_int_equal(snap_port_kick_arm(rx, 0, fd, true), 0);
	assert_true(kicked(rx, tx, fd));

	/* A ring said to lie at the end of its region, or beyond: refused before any access. */
	struct m_queue *mq = rte_eth_fp_ops[rx->port_id].rxq.data[0];
	uint32_t off = mq->ring_offset;
	mq->ring_offset = UINT32_MAX - 2;
	assert_int_equal(snap_port_kick_arm(rx, 0, fd, true), -ENOTSUP);
	assert_int_equal(snap_port_kick_arm(rx, 0, fd, false), -ENOTSUP);
	mq->ring_offset = off;
	assert_int_equal(snap_port_kick_arm(rx, 0, fd, false), 0);
	close(fd);
#endif
}

int main(int argc, char **argv)
{
	(void)argc;
	et_port_kind = SNAP_PORT_MEMIF;
	if (et_eal_init(argv[0]) != 0)
		return 1;
	frame_len = et_build_udp(frame, &et_mac_us, et_ip("10.0.0.2"), et_ip("10.0.0.1"), 9, 9, 18);
	/* The client connects from the EAL interrupt thread: up within 10 s or a failure. */
	struct snap_port *p0 = snap_port_find("p0"), *peer = snap_port_find("peer");
	for (int i = 0; i < 1000 && !(up(p0) && up(peer)); i++)
		usleep(10000);
	int r = 1;
	if (!up(p0) || !up(peer)) {
		fprintf(stderr, "the memif link did not come up within 10 s\n");
	} else {
		assert_int_equal(p0->rx_intr, true);
		const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_server_rx),
			cmocka_unit_test(test_client_rx),
			cmocka_unit_test(test_hostile_peer),
		};
		r = cmocka_run_group_tests(tests, NULL, NULL);
	}
	et_eal_fini();
	return r;
}
