/* Flow steering (snap/steer.h): the software RSS hash and the flow mapper that picks a
 * local UDP port whose return traffic lands on a given queue. No EAL needed. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "snap/steer.h"

static uint32_t ip4(const char *s)
{
	struct in_addr a;
	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

/* The software hash is the NIC's: Microsoft's RSS verification vectors (IPv4 with ports,
 * under the key of their specification). */
static void test_vectors(void **state)
{
	static const uint8_t ms_key[40] = {
		0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
		0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
		0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
	};
	assert_int_equal(snap_steer_toeplitz4(ms_key, ip4("66.9.149.187"), ip4("161.142.100.80"),
					      2794, 1766), 0x51ccc178);
	assert_int_equal(snap_steer_toeplitz4(ms_key, ip4("199.92.111.2"), ip4("65.69.140.83"),
					      14230, 4739), 0xc626b0ea);
}

/* The key is symmetric: both directions of a flow hash alike, so two hosts with the same
 * queue count agree on a flow's queue index. */
static void test_symmetric(void **state)
{
	uint32_t a = ip4("10.0.0.1"), b = ip4("10.0.0.2");
	for (uint16_t p = 1000; p < 1200; p++)
		assert_int_equal(snap_steer_hash4(a, b, p, 4793), snap_steer_hash4(b, a, 4793, p));
}

/* Local ports spread over the queues (what RSS does for us, and what the mapper relies on
 * to find a port for every queue in a small range). */
static void test_spread(void **state)
{
	uint32_t a = ip4("10.0.0.1"), b = ip4("10.0.0.2");
	unsigned cnt[4] = {0};
	for (uint32_t p = 49152; p < 49152 + 4096; p++)
		cnt[snap_steer_queue4(b, a, 4793, (uint16_t)p, 4)]++;
	for (unsigned q = 0; q < 4; q++)
		assert_true(cnt[q] > 4096 / 4 / 2 && cnt[q] < 4096 / 4 * 2);
	assert_int_equal(snap_steer_queue4(b, a, 4793, 5000, 1), 0);
	assert_int_equal(snap_steer_queue4(b, a, 4793, 5000, 0), 0);
}

static void test_pick(void **state)
{
	uint32_t a = ip4("10.0.0.1"), b = ip4("10.0.0.2");
	for (uint16_t q = 0; q < 8; q++) {
		int p = snap_steer_pick_port4(a, b, 4793, 8, q, 50000, 50255, 50100);
		assert_true(p >= 50000 && p <= 50255);
		/* The peer's packet back to that port lands on q. */
		assert_int_equal(snap_steer_queue4(b, a, 4793, (uint16_t)p, 8), q);
	}
	assert_int_equal(snap_steer_pick_port4(a, b, 4793, 4, 4, 1, 100, 1), -EINVAL);
	assert_int_equal(snap_steer_pick_port4(a, b, 4793, 0, 0, 1, 100, 1), -EINVAL);
	assert_int_equal(snap_steer_pick_port4(a, b, 4793, 4, 0, 100, 1, 50), -EINVAL);
	assert_int_equal(snap_steer_pick_port4(a, b, 4793, 4, 0, 10, 100, 5), -EINVAL);
	/* A one-port range maps to one queue only: the others have no port there. */
	uint16_t q1 = snap_steer_queue4(b, a, 4793, 7000, 4);
	assert_int_equal(snap_steer_pick_port4(a, b, 4793, 4, q1, 7000, 7000, 7000), 7000);
	assert_int_equal(snap_steer_pick_port4(a, b, 4793, 4, (uint16_t)((q1 + 1) % 4), 7000, 7000,
					       7000), -ENOENT);
	/* The top of the port space wraps without overflowing. */
	int p = snap_steer_pick_port4(a, b, 4793, 2, 1, 65500, 65535, 65535);
	assert_true(p >= 65500 && p <= 65535);
}

/* The flow mapper over the queue blocks: for every queue count and queue, the port it picks
 * lies in that queue's block and the peer's packets back to it hash to that queue. */
static void test_pick_block(void **state)
{
	(void)state;
	uint32_t a = ip4("10.0.0.1");
	uint16_t base = SNAP_STEER_UDP_BASE_DEFAULT, block = SNAP_STEER_UDP_BLOCK_DEFAULT;
	for (uint16_t n = 2; n <= 16; n++) {
		for (uint16_t q = 0; q < n; q++) {
			for (uint32_t k = 0; k < 64; k++) {
				uint32_t peer = htonl(0x0a000002 + k * 7919);
				uint16_t pport = (uint16_t)(4793 + k % 3);
				int p = snap_steer_pick_block4(a, peer, pport, n, q, base, block);
				assert_true(p > 0);
				assert_int_equal(snap_steer_port_queue(base, block, n, (uint16_t)p), q);
				assert_int_equal(snap_steer_queue4(peer, a, pport, (uint16_t)p, n), q);
			}
		}
	}
	assert_int_equal(snap_steer_pick_block4(a, a, 1, 4, 4, base, block), -EINVAL);
	assert_int_equal(snap_steer_pick_block4(a, a, 1, 4, 0, base, 0), -EINVAL);
	assert_int_equal(snap_steer_pick_block4(a, a, 1, 4, 3, 65024, 256), -EINVAL);
	assert_int_equal(snap_steer_port_queue(base, block, 4, (uint16_t)(base - 1)), -ENOENT);
	assert_int_equal(snap_steer_port_queue(base, block, 4, (uint16_t)(base + 4 * block)),
			 -ENOENT);
	assert_int_equal(snap_steer_port_queue(base, block, 4, (uint16_t)(base + 3 * block + 5)), 3);
	assert_string_equal(snap_steer_mode_name(SNAP_STEER_FLOW), "flow");
	assert_string_equal(snap_steer_mode_name(SNAP_STEER_QUEUE_PAIRING), "queue-pairing");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_symmetric),
		cmocka_unit_test(test_spread),
		cmocka_unit_test(test_pick),
		cmocka_unit_test(test_pick_block),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
