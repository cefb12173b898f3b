/* af_packet ports above a 1,500-byte MTU (core/portafp.c): ring slots sized for the MTU,
 * blocks that hold whole slots with no gap (the PMD finds slot i at i x framesz), mbufs
 * that hold a slot, the EAL argument that asks for them, and the interface MTU's errors.
 * No EAL needed. */
#include <errno.h>
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
		int n = snap_portafp_eal_arg(&pc, arg, sizeof(arg));
		if (f == 2048) {
			assert_int_equal(n, 0);
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
	/* lo's MTU is left alone when it already is the one asked for (no privilege used). */
	snprintf(pc.iface, sizeof(pc.iface), "lo");
	FILE *f = fopen("/sys/class/net/lo/mtu", "r");
	unsigned lo_mtu = 0;
	if (f) {
		if (fscanf(f, "%u", &lo_mtu) != 1)
			lo_mtu = 0;
		fclose(f);
	}
	if (lo_mtu) {
		pc.mtu = lo_mtu;
		assert_int_equal(snap_portafp_set_mtu(&pc, err, sizeof(err)), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slots),
		cmocka_unit_test(test_set_mtu_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
