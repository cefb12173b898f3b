/* Unit test of the KV example's region table (include/pony_kv.h): put/find,
 * replace, the probe window limit, and the seqlock parity a one-sided reader relies on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "pony_kv.h"

static void test_kv(void **state)
{
	const uint32_t nb = 16;
	struct kv_table_hdr *t = aligned_alloc(64, kv_region_size(nb));
	assert_non_null(t);
	kv_init(t, nb);
	assert_int_equal(t->magic, KV_MAGIC);
	assert_int_equal(t->bucket_off, 64);
	assert_int_equal(kv_put(t, "a", 1, "1", 1), 0);
	assert_int_equal(kv_put(t, "b", 1, "22", 2), 0);
	struct kv_bucket *b = kv_find(t, "b", 1);
	assert_non_null(b);
	assert_int_equal(b->val_len, 2);
	assert_memory_equal(b->val, "22", 2);
	assert_int_equal(b->seq % 2, 0); /* consistent */
	assert_int_equal(b->seq, 2);
	assert_int_equal(kv_put(t, "b", 1, "333", 3), 0); /* replace in place */
	assert_ptr_equal(kv_find(t, "b", 1), b);
	assert_int_equal(b->seq, 4);
	assert_null(kv_find(t, "c", 1));
	assert_int_equal(kv_put(t, "", 0, "x", 1), -1);
	char big[KV_VAL_MAX + 1] = {0};
	assert_int_equal(kv_put(t, "k", 1, big, sizeof(big)), -1);
	/* Fill: every key lands within KV_PROBE_MAX of its hash or is refused with -2. */
	unsigned stored = 0, full = 0;
	char k[8];
	for (int i = 0; i < 64; i++) {
		int n = snprintf(k, sizeof(k), "k%d", i);
		int r = kv_put(t, k, (unsigned)n, "v", 1);
		assert_true(r == 0 || r == -2);
		stored += r == 0;
		full += r == -2;
		if (r == 0)
			assert_non_null(kv_find(t, k, (unsigned)n));
	}
	assert_true(stored > 0 && stored <= nb);
	assert_true(full > 0);
	free(t);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_kv)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
