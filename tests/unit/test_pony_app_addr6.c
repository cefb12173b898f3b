/* IPv6 peers through the app layer (issue 17): libpony's family-neutral opens reach the
 * transport with the 16-byte address (IPv4-mapped text stays IPv4), OPEN completions carry
 * the peer's address, one-sided remotes set to an IPv6 address travel as PONY_CMDF_ADDR6
 * pairs, and the daemon refuses every malformed pair with its counter and no transport
 * call. Fixture: pony_app_fix.h on the fake transport. */
#include <arpa/inet.h>
#include <errno.h>

#include "pony_app_fix.h"

static void expect_bad(struct app_fix *x, const struct pony_shm_cmd *c, unsigned n)
{
	uint64_t before = x->s[0]->cnt.errors[PONY_APP_ERR_BAD_FIELD];
	unsigned long calls = x->f->n_total;
	for (unsigned i = 0; i < n; i++)
		fix_raw(x, 0, &c[i]);
	struct pony_completion cpl = fix_one(x, 0);
	assert_int_equal(cpl.status, -EINVAL);
	assert_int_equal(x->s[0]->cnt.errors[PONY_APP_ERR_BAD_FIELD], before + 1);
	assert_int_equal(x->f->n_total, calls);
}

static void test_open_addr(void **state)
{
	struct app_fix x;
	fix_init(&x, "t_a6", 1, NULL);
	struct pony_addr a;
	assert_int_equal(pony_addr_parse("fd00:91::1", &a), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(pony_addr_parse("10.0.0.7", &a), 0);
	assert_int_equal(a.family, AF_INET);
	assert_int_equal(pony_addr_parse("fd00::1::2", &a), -EINVAL);
	assert_int_equal(pony_stream_open_str(x.app[0], "nonsense", 7, 1), -EINVAL);

	/* IPv6 text: the transport gets the 16 bytes; the completion reports them. */
	assert_int_equal(pony_stream_open_str(x.app[0], "fd00:91::1", 7, 5), 0);
	assert_int_equal(fix_run(&x, 0, NULL, 0), 0);
	const struct fake_tp_call *o = fake_tp_last(x.f, FAKE_OPEN);
	assert_non_null(o);
	struct pony_ip want;
	assert_int_equal(inet_pton(AF_INET6, "fd00:91::1", want.b), 1);
	assert_true(pony_ip_eq(&o->peer, &want));
	assert_int_equal(o->ip, 0);
	pony_app_upcalls.opened(o->owner, o->sid, 0);
	struct pony_completion c;
	struct pony_addr peer;
	assert_int_equal(pony_poll_peers(x.app[0], &c, &peer, 1), 1);
	assert_int_equal(c.op, PONY_OP_OPEN);
	assert_int_equal(c.status, 0);
	assert_int_equal(c.peer_ip, 0);
	assert_int_equal(peer.family, AF_INET6);
	assert_memory_equal(peer.addr, want.b, 16);

	/* v4-mapped text is an IPv4 peer: peer_ip as before. */
	assert_int_equal(pony_stream_open_str(x.app[0], "::ffff:10.0.0.9", 7, 6), 0);
	assert_int_equal(fix_run(&x, 0, NULL, 0), 0);
	o = fake_tp_last(x.f, FAKE_OPEN);
	assert_int_equal(o->ip, htonl(0x0a000009));
	assert_true(pony_ip_is4(&o->peer));
	pony_app_upcalls.opened(o->owner, o->sid, 0);
	assert_int_equal(pony_poll_peers(x.app[0], &c, &peer, 1), 1);
	assert_int_equal(c.peer_ip, 0x0a000009);
	assert_int_equal(peer.family, AF_INET);
	fix_fini(&x);
}

/* One-sided remotes: an IPv6 address becomes a handle in 0.0.0.0/8, the same one again. */
static void test_remote_handles(void **state)
{
	struct app_fix x;
	fix_init(&x, "t_h6", 1, NULL);
	struct pony_remote rm = {0}, rm2 = {0};
	struct pony_addr a, b;
	assert_int_equal(pony_addr_parse("fd00::5", &a), 0);
	assert_int_equal(pony_addr_parse("10.1.2.3", &b), 0);
	assert_int_equal(pony_remote_set_addr(x.app[0], &rm, &a), 0);
	assert_true(rm.ip != 0 && rm.ip < (1u << 24));
	assert_int_equal(pony_remote_set_addr(x.app[0], &rm2, &a), 0);
	assert_int_equal(rm2.ip, rm.ip);
	assert_int_equal(pony_remote_set_addr(x.app[0], &rm2, &b), 0);
	assert_int_equal(rm2.ip, 0x0a010203);
	a.family = 99;
	assert_int_equal(pony_remote_set_addr(x.app[0], &rm2, &a), -EINVAL);
	/* An op to the handle goes as a pair: the fake refuses one-sided ops (TRANSPORT), so
	 * its completion shows the daemon took the pair as one valid command. */
	uint8_t *buf = pony_buf_alloc(x.app[0], 64);
	uint64_t refused = x.s[0]->cnt.errors[PONY_APP_ERR_TRANSPORT];
	rm.region = 1;
	rm.key = 2;
	assert_int_equal(pony_read(x.app[0], &rm, 0, buf, 64, 9), 0);
	struct pony_completion c = fix_one(&x, 0);
	assert_int_equal(c.op, PONY_OP_READ);
	assert_int_equal(x.s[0]->cnt.errors[PONY_APP_ERR_TRANSPORT], refused + 1);
	rm.ip = 77; /* in 0.0.0.0/8 but no handle of ours */
	assert_int_equal(pony_read(x.app[0], &rm, 0, buf, 64, 9), -EINVAL);
	fix_fini(&x);
}

/* Malformed pairs: the flag on an op without a peer, with an IPv4 address too, without its
 * address entry, and with a v4-mapped address (it would alias an IPv4 peer). */
static void test_bad_pairs(void **state)
{
	struct app_fix x;
	fix_init(&x, "t_b6", 1, NULL);
	struct pony_shm_cmd p[2] = {{.op = PONY_OP_OPEN, .flags = PONY_CMDF_ADDR6, .service = 7}};
	struct pony_shm_cmd_addr e = {.addr = {0xfd, [15] = 1}};
	memcpy(&p[1], &e, sizeof(e));
	struct pony_shm_cmd l = {.op = PONY_OP_LISTEN, .flags = PONY_CMDF_ADDR6, .service = 7};
	expect_bad(&x, &l, 1);
	p[0].ip = 0x0a000001;
	expect_bad(&x, p, 2);
	/* The refused command took its entry along: the ring is in step again. */
	p[0].ip = 0;
	expect_bad(&x, p, 1);
	static const struct pony_shm_cmd_addr mapped = {.addr = {[10] = 0xff, [11] = 0xff, 10}};
	memcpy(&p[1], &mapped, sizeof(mapped));
	expect_bad(&x, p, 2);
	/* A good pair still works after all that. */
	memcpy(&p[1], &e, sizeof(e));
	fix_raw(&x, 0, &p[0]);
	fix_raw(&x, 0, &p[1]);
	assert_int_equal(fix_run(&x, 0, NULL, 0), 0);
	const struct fake_tp_call *o = fake_tp_last(x.f, FAKE_OPEN);
	assert_non_null(o);
	assert_memory_equal(o->peer.b, e.addr, 16);
	fix_fini(&x);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_addr),
		cmocka_unit_test(test_remote_handles),
		cmocka_unit_test(test_bad_pairs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
