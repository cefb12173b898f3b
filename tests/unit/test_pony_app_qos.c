/* Priority classes through the app layer (fake transport): the class a send or a stream
 * asks for reaches the transport, the class the message ran in (downgraded by admission
 * control) comes back in the SEND completion, old calls stay normal, and class bits on
 * other commands are refused. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>

#include "pony_app_fix.h"

/* Open a stream on app i with flags and complete it. Returns (id, its fake_tp owner). */
static uint32_t open_on(struct app_fix *x, unsigned i, unsigned flags, void **owner,
			uint32_t *tsid)
{
	assert_int_equal(pony_stream_open_flags(x->app[i], 0x7f000001, 7, flags, 1), 0);
	assert_int_equal(fix_run(x, i, NULL, 0), 0);
	const struct fake_tp_call *o = fake_tp_last(x->f, FAKE_OPEN);
	*owner = o->owner;
	*tsid = o->sid;
	pony_app_upcalls.opened(o->owner, o->sid, 0);
	struct pony_completion c = fix_one(x, i);
	assert_int_equal(c.op, PONY_OP_OPEN);
	assert_int_equal(c.status, 0);
	return c.stream;
}

static uint32_t open_flags(struct app_fix *x, unsigned flags, void **owner, uint32_t *tsid)
{
	return open_on(x, 0, flags, owner, tsid);
}

/* Send with flags; the transport call's class; complete it; the completion's class. */
static unsigned send_cls(struct app_fix *x, uint32_t sid, void *owner, uint32_t tsid, char *buf,
			 int flags, unsigned *asked)
{
	if (flags < 0)
		assert_int_equal(pony_send(x->app[0], sid, buf, 8, 5), 0);
	else
		assert_int_equal(pony_send_flags(x->app[0], sid, buf, 8, (unsigned)flags, 5), 0);
	assert_int_equal(fix_run(x, 0, NULL, 0), 0);
	const struct fake_tp_call *snd = fake_tp_last(x->f, FAKE_SEND);
	*asked = snd->cls;
	pony_app_upcalls.tx_done(owner, tsid, snd->cookie, 0);
	struct pony_completion c = fix_one(x, 0);
	assert_int_equal(c.op, PONY_OP_SEND);
	assert_int_equal(c.status, 0);
	return c.qos_class;
}

static void test_classes(void **state)
{
	(void)state;
	struct app_fix x;
	fix_init(&x, "t_qos", 1, NULL);
	char *buf = pony_buf_alloc(x.app[0], 64);
	void *owner;
	uint32_t tsid, asked;
	/* A stream opened the old way: normal, unless a send names a class. */
	uint32_t s0 = open_flags(&x, 0, &owner, &tsid);
	assert_int_equal(send_cls(&x, s0, owner, tsid, buf, -1, &asked), PONY_CLASS_NORMAL);
	assert_int_equal(asked, PONY_CLASS_NORMAL);
	assert_int_equal(send_cls(&x, s0, owner, tsid, buf, PONY_SEND_CLASS(PONY_CLASS_CRITICAL),
				  &asked), PONY_CLASS_CRITICAL);
	assert_int_equal(asked, PONY_CLASS_CRITICAL);
	/* A scavenger stream: its sends default to scavenger, a message may still ask more. */
	uint32_t s1 = open_flags(&x, PONY_SEND_CLASS(PONY_CLASS_SCAVENGER), &owner, &tsid);
	assert_int_equal(send_cls(&x, s1, owner, tsid, buf, 0, &asked), PONY_CLASS_SCAVENGER);
	assert_int_equal(asked, PONY_CLASS_SCAVENGER);
	/* Admission refused (the fake runs every send one class lower): the completion says
	 * where the message actually ran. */
	x.f->downgrade = true;
	assert_int_equal(send_cls(&x, s1, owner, tsid, buf, PONY_SEND_CLASS(PONY_CLASS_CRITICAL),
				  &asked), PONY_CLASS_NORMAL);
	assert_int_equal(asked, PONY_CLASS_CRITICAL);
	assert_int_equal(send_cls(&x, s1, owner, tsid, buf, PONY_SEND_CLASS(PONY_CLASS_NORMAL),
				  &asked), PONY_CLASS_SCAVENGER);
	x.f->downgrade = false;
	/* An RPC mark reaches the transport; plain sends carry none. */
	send_cls(&x, s1, owner, tsid, buf, PONY_SEND_RPC, &asked);
	assert_true(fake_tp_last(x.f, FAKE_SEND)->rpc);
	send_cls(&x, s1, owner, tsid, buf, 0, &asked);
	assert_false(fake_tp_last(x.f, FAKE_SEND)->rpc);
	/* Bad flags: refused in the library, and by the daemon on other commands. */
	assert_int_equal(pony_send_flags(x.app[0], s1, buf, 8, 0x80, 1), -EINVAL);
	assert_int_equal(pony_stream_open_flags(x.app[0], 1, 7, 0x1, 1), -EINVAL);
	struct pony_shm_cmd c = {.op = PONY_OP_LISTEN, .service = 9,
				 .flags = PONY_SEND_CLASS(PONY_CLASS_CRITICAL), .tag = 3};
	uint64_t before = x.s[0]->cnt.errors[PONY_APP_ERR_BAD_FIELD];
	fix_raw(&x, 0, &c);
	struct pony_completion cpl = fix_one(&x, 0);
	assert_int_equal(cpl.status, -EINVAL);
	assert_int_equal(x.s[0]->cnt.errors[PONY_APP_ERR_BAD_FIELD], before + 1);
	c = (struct pony_shm_cmd){.op = PONY_OP_RECV, .stream = s1, .len = 8, .count = 1,
				  .flags = PONY_SEND_RPC, .tag = 4};
	fix_raw(&x, 0, &c);
	cpl = fix_one(&x, 0);
	assert_int_equal(cpl.status, -EINVAL);
	assert_int_equal(x.s[0]->cnt.errors[PONY_APP_ERR_BAD_FIELD], before + 2);
	fix_fini(&x);
}

/* Command service by class: with both apps' rings full of sends, the app whose sends are
 * critical is served first in a host round and with a burst 8 times the scavenger's
 * (weights 8:4:1), whatever the round-robin position. */
static void test_command_service(void **state)
{
	(void)state;
	struct app_fix x;
	struct pony_app_config cfg;
	fix_cfg_small(&cfg);
	cfg.cmd_entries = 128; /* 100 sends queued per app */
	cfg.max_ops = 256;
	fix_init(&x, "t_qos_cmd", 2, &cfg);
	void *owner[2];
	uint32_t tsid[2], sid[2];
	char *buf[2];
	/* app 0 critical, app 1 scavenger; app 1 first in the round-robin */
	for (unsigned i = 0; i < 2; i++) {
		unsigned cls = i == 0 ? PONY_CLASS_CRITICAL : PONY_CLASS_SCAVENGER;
		sid[i] = open_on(&x, i, PONY_SEND_CLASS(cls), &owner[i], &tsid[i]);
		buf[i] = pony_buf_alloc(x.app[i], 64);
		assert_int_equal(pony_send(x.app[i], sid[i], buf[i], 8, 0), 0);
		assert_int_equal(fix_run(&x, i, NULL, 0), 0); /* the session learns its class */
	}
	x.h->rr = x.s[1];
	for (unsigned k = 1; k <= 100; k++)
		for (unsigned i = 0; i < 2; i++)
			assert_int_equal(pony_send(x.app[i], sid[i], buf[i], 8, k), 0);
	unsigned before = x.f->n_calls;
	assert_int_equal(pony_app_host_poll(x.h, 1000), 64 + 8);
	unsigned n0 = 0, n1 = 0;
	for (unsigned k = before; k < x.f->n_calls; k++) {
		const struct fake_tp_call *c = &x.f->calls[k];
		assert_int_equal(c->fn, FAKE_SEND);
		unsigned i = c->sid == tsid[0] ? 0 : 1;
		if (k < before + 64)
			assert_int_equal(i, 0); /* the critical app's burst first */
		n0 += i == 0;
		n1 += i == 1;
	}
	assert_int_equal(n0, 64);
	assert_int_equal(n1, 8);
	/* A budget smaller than the critical app's backlog: the scavenger still gets its share
	 * of the round (26 * 1/13 = 2), served before what is left goes to the critical app. */
	before = x.f->n_calls;
	assert_int_equal(pony_app_host_poll(x.h, 26), 26);
	n0 = n1 = 0;
	for (unsigned k = before; k < x.f->n_calls; k++)
		if (x.f->calls[k].sid == tsid[0])
			n0++;
		else
			n1++;
	assert_int_equal(n1, 2);
	assert_int_equal(n0, 24);
	fix_fini(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_classes),
					   cmocka_unit_test(test_command_service)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
