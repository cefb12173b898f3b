/* af_packet ports above a 1,500-byte MTU (core/portafp.c): ring slots sized for the MTU,
 * blocks that hold whole slots with no gap (the PMD finds slot i at i x framesz), mbufs
 * that hold a slot, the EAL argument that asks for them, and the interface MTU's errors.
 * And every port's EAL argument (core/portargs.c): what it says, and that a buffer too
 * small is refused without a byte written past it. No EAL needed. */
#include <errno.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/config.h"
#include "core/portsetup.h"

static bool page_is_4k(void)
{
	return sysconf(_SC_PAGESIZE) == 4096;
}

static void test_slots(void **state)
{
	(void)state;
	/* Up to 1,500 the PMD's default slot, and no EAL argument. */
	assert_int_equal(snap_portafp_slot(576), 2048);
	assert_int_equal(snap_portafp_slot(1500), 2048);
	assert_int_equal(snap_portafp_data_room(1500), 2016);
	long page = sysconf(_SC_PAGESIZE);
	struct snap_port_cfg pc;
	for (uint32_t mtu = 1500; mtu <= 9600; mtu += 7) {
		memset(&pc, 0, sizeof(pc));
		pc.mtu = mtu;
		uint32_t f = snap_portafp_slot(mtu);
		/* The kernel writes a frame (a VLAN tag's room too) 66 bytes into its slot. */
		assert_true(f >= mtu + 14 + 4 + 66);
		assert_int_equal(f % 1024, 0);
		/* What follows the slot's 32-byte header fits one mbuf of the data room. */
		assert_int_equal(snap_portafp_data_room(mtu), f - 32);
		assert_true(snap_portafp_data_room(mtu) >= mtu + 18);
		char arg[64];
		memset(arg, 'x', sizeof(arg));
		int n = snap_portafp_eal_arg(&pc, arg, sizeof(arg));
		if (f == 2048) {
			assert_int_equal(n, 0);
			assert_string_equal(arg, "");
			continue;
		}
		unsigned fs = 0, bs = 0;
		assert_int_equal(sscanf(arg, ",framesz=%u,blocksz=%u", &fs, &bs), 2);
		assert_int_equal(n, (int)strlen(arg));
		assert_int_equal(fs, f);
		assert_int_equal(bs % (unsigned)page, 0); /* whole pages */
		assert_int_equal(bs % fs, 0);             /* whole slots, no gap */
		assert_true(bs / fs <= 4);
	}
	/* Over jumbo, to the af_packet bound: one slot (63 KiB at the top) and the mbuf's 16-bit
	 * data room, headroom included, still hold the frame. */
	for (uint32_t mtu = 9000; mtu <= SNAP_PORT_MTU_MAX_AFP; mtu += 997) {
		uint32_t f = snap_portafp_slot(mtu);
		assert_true(f >= mtu + 14 + 4 + 66);
		assert_true(snap_portafp_data_room(mtu) + 128 <= UINT16_MAX);
	}
	assert_int_equal(snap_portafp_slot(SNAP_PORT_MTU_MAX_AFP), 63 * 1024);
	assert_true(snap_portafp_data_room(SNAP_PORT_MTU_MAX_AFP) + 128 <= UINT16_MAX);
	pc.mtu = SNAP_PORT_MTU_MAX_AFP;
	char big[64];
	snap_portafp_eal_arg(&pc, big, sizeof(big));
	assert_string_equal(big, page == 4096 ? ",framesz=64512,blocksz=258048" : big);
	pc.mtu = 9000;
	char arg[64];
	snap_portafp_eal_arg(&pc, arg, sizeof(arg));
	assert_string_equal(arg, page == 4096 ? ",framesz=9216,blocksz=36864" : arg);
	/* A short buffer: snprintf's count, so the caller sees the truncation. */
	char small[8];
	assert_true(snap_portafp_eal_arg(&pc, small, sizeof(small)) >= (int)sizeof(small));
}

static void test_set_mtu_errors(void **state)
{
	(void)state;
	struct snap_port_cfg pc;
	char err[256];
	memset(&pc, 0, sizeof(pc));
	snprintf(pc.name, sizeof(pc.name), "p0");
	pc.mtu = 9000;
	snprintf(pc.iface, sizeof(pc.iface), "nosuchif%d", (int)getpid() % 100000);
	assert_int_equal(snap_portafp_set_mtu(&pc, err, sizeof(err)), -ENODEV);
	assert_non_null(strstr(err, "p0"));
	assert_non_null(strstr(err, pc.iface));
	/* The name fills the field with no room for the NUL: refused, not cut. */
	memset(pc.iface, 'x', sizeof(pc.iface) - 1);
	pc.iface[sizeof(pc.iface) - 1] = '\0';
	assert_int_equal(snap_portafp_set_mtu(&pc, err, sizeof(err)), -ENAMETOOLONG);
	/* An MTU the config would refuse is refused here too, before any interface is touched
	 * (a unit test must never change the host's interfaces: this one once set lo's MTU to
	 * 65,536 cut to 16 bits, i.e. 0, which took 127.0.0.1 off the host). */
	snprintf(pc.iface, sizeof(pc.iface), "nosuchif%d", (int)getpid() % 100000);
	pc.mtu = 67;
	assert_int_equal(snap_portafp_set_mtu(&pc, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "67"));
	pc.mtu = SNAP_PORT_MTU_MAX_AFP + 1;
	assert_int_equal(snap_portafp_set_mtu(&pc, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "64001"));
}

static void test_eal_arg(void **state)
{
	(void)state;
	struct snap_port_cfg pc;
	char buf[600];
	memset(&pc, 0, sizeof(pc));
	snprintf(pc.name, sizeof(pc.name), "p0");
	pc.kind = SNAP_PORT_AF_PACKET;
	pc.queues = 1;
	pc.mtu = 9000;
	snprintf(pc.iface, sizeof(pc.iface), "veth0");
	assert_int_equal(snap_port_eal_arg(&pc, buf, sizeof(buf)), 0);
	assert_string_equal(buf, page_is_4k() ? "net_af_packet_p0,iface=veth0,qpairs=1,"
						"framesz=9216,blocksz=36864" : buf);
	pc.mtu = 1500;
	snprintf(pc.devargs, sizeof(pc.devargs), "qdisc_bypass=1");
	assert_int_equal(snap_port_eal_arg(&pc, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "net_af_packet_p0,iface=veth0,qpairs=1,qdisc_bypass=1");
	/* A memif port with the longest socket path: every length of buffer too short for it
	 * is refused, and nothing is written past the buffer. */
	memset(&pc, 0, sizeof(pc));
	snprintf(pc.name, sizeof(pc.name), "m0");
	pc.kind = SNAP_PORT_MEMIF;
	pc.mtu = 1500;
	pc.mac_set = true;
	memset(pc.socket, 's', sizeof(pc.socket) - 1);
	pc.socket[0] = '/';
	char full[600];
	assert_int_equal(snap_port_eal_arg(&pc, full, sizeof(full)), 0);
	size_t need = strlen(full) + 1;
	for (size_t len = 1; len < need; len++) {
		memset(buf, 0x5a, sizeof(buf));
		assert_int_equal(snap_port_eal_arg(&pc, buf, len), -ENAMETOOLONG);
		for (size_t i = len; i < sizeof(buf); i++)
			assert_int_equal((unsigned char)buf[i], 0x5a);
	}
	assert_int_equal(snap_port_eal_arg(&pc, buf, need), 0);
	assert_string_equal(buf, full);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eal_arg),
		cmocka_unit_test(test_slots),
		cmocka_unit_test(test_set_mtu_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
