/* The daemon's command rules (pony/app_cmd.c op_rules), checked op byte by op byte against
 * the command reference: which ops are served, which flags and fields each takes. */
#include <errno.h>
#include <stdlib.h>

#include "pony_app_fix.h"

/* A refused command: the completion is read off the ring here, not by pony_poll: the
 * library takes a completion with PONY_CMDF_PIECE as a piece of one of its own large ops. */
static void expect_refused_raw(struct app_fix *x, unsigned i, struct pony_shm_cmd c,
			       enum pony_app_err why)
{
	uint64_t before = x->s[i]->cnt.errors[why];
	unsigned long calls = x->f->n_total;
	c.tag = 0xbad0 + why;
	fix_raw(x, i, &c);
	pony_app_session_poll(x->h, x->s[i], 1000);
	struct pony_app *a = x->app[i];
	assert_int_equal(pony_shm_tail(a->cpl_ring) - a->cpl_head, 1);
	struct pony_shm_cpl cpl;
	memcpy(&cpl, &a->cpls[a->cpl_head & (a->hdr.cpl_entries - 1)], sizeof(cpl));
	a->cpl_head++;
	pony_shm_release(a->cpl_ring, a->cpl_head);
	if (cpl.status != -EINVAL || x->s[i]->cnt.errors[why] != before + 1)
		fprintf(stderr, "op %u flags %#x: status %d, counter %s %lu\n", c.op, c.flags,
			cpl.status, pony_app_err_name(why),
			(unsigned long)x->s[i]->cnt.errors[why]);
	assert_int_equal(cpl.status, -EINVAL);
	assert_int_equal(cpl.tag, 0xbad0 + why);
	assert_int_equal(x->s[i]->cnt.errors[why], before + 1);
	assert_int_equal(x->f->n_total, calls);
}

/* Every op byte: one the daemon does not serve is BAD_OP; for one it serves, each flag it
 * does not take and each field it does not use, set alone, is BAD_FIELD. The expectations
 * are written out here from the command reference (pony/shm.h), not from app_cmd.c's table. */
static void test_op_rules(void **state)
{
	(void)state;
	struct app_fix x;
	fix_init(&x, "t_rules", 1, NULL);
	typedef struct pony_shm_cmd C;
	enum { SVC = 1, STR = 2, OFF = 4, LEN = 8, CNT = 16, IP = 32, REG = 64, PRM = 128,
	       RKEY = 256, ROFF = 512 };
	const unsigned os = SVC | OFF | LEN | IP | REG | RKEY | ROFF;
	struct { uint8_t op; unsigned fields; uint8_t flags; } rules[] = {
		{PONY_OP_OPEN, SVC | IP, PONY_CMDF_CLASS_MASK},
		{PONY_OP_LISTEN, SVC, 0},
		{PONY_OP_UNLISTEN, SVC, 0},
		{PONY_OP_SEND, STR | OFF | LEN,
		 PONY_CMDF_FREE_ON_DONE | PONY_CMDF_CLASS_MASK | PONY_CMDF_RPC},
		{PONY_OP_RECV, STR | OFF | LEN | CNT, 0},
		{PONY_OP_CLOSE, STR, 0},
		{PONY_OP_REGION_REG, OFF | LEN | PRM, 0},
		{PONY_OP_REGION_REVOKE, REG, 0},
		{PONY_OP_READ, os, PONY_CMDF_PIECE},
		{PONY_OP_WRITE, os, PONY_CMDF_PIECE},
		{PONY_OP_READ_INDIRECT, os, PONY_CMDF_IND_PTR},
		{PONY_OP_SCAN_READ, os | CNT, 0},
		{PONY_OP_FETCH_ADD, os, 0},
		{PONY_OP_CMP_SWAP, os, 0},
		{PONY_OP_BPF_CALL, os | CNT, 0},
		{PONY_OP_BPF_LOAD, REG | OFF | LEN | CNT, PONY_CMDF_FREE_ON_DONE},
	};
	const unsigned n_rules = sizeof(rules) / sizeof(rules[0]);
	unsigned refused = 0;
	for (unsigned op = 0; op < 256; op++) {
		unsigned k = 0;
		while (k < n_rules && rules[k].op != op)
			k++;
		if (k == n_rules) {
			expect_refused_raw(&x, 0, (C){.op = (uint8_t)op}, PONY_APP_ERR_BAD_OP);
			refused++;
			continue;
		}
		for (unsigned bit = 0; bit < 8; bit++) {
			uint8_t f = (uint8_t)(1u << bit);
			if (f == PONY_CMDF_ADDR6 || (rules[k].flags & f))
				continue;
			expect_refused_raw(&x, 0, (C){.op = (uint8_t)op, .flags = f},
					   PONY_APP_ERR_BAD_FIELD);
			refused++;
		}
		for (unsigned fl = 1; fl <= ROFF; fl <<= 1) {
			if (rules[k].fields & fl)
				continue;
			C c = {.op = (uint8_t)op};
			switch (fl) {
			case SVC: c.service = 1; break;
			case STR: c.stream = 1; break;
			case OFF: c.off = 1; break;
			case LEN: c.len = 1; break;
			case CNT: c.count = 1; break;
			case IP: c.ip = 1; break;
			case REG: c.region = 1; break;
			case PRM: c.perms = 1; break;
			case RKEY: c.rkey = 1; break;
			case ROFF: c.roff = 1; break;
			}
			expect_refused_raw(&x, 0, c, PONY_APP_ERR_BAD_FIELD);
			refused++;
		}
	}
	printf("%u commands refused by the op rules\n", refused);
	fix_fini(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_op_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
