/* Transparent upgrade with one-sided ops in flight: the save/restore pattern of
 * test_pony_sim_conn (save mid-transfer under loss, destroy, restore) with READs and WRITEs
 * outstanding, on the requester and then on the executor (cached responses): every op
 * completes exactly once. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>

#include <cmocka.h>

#include "pony/onesided.h"
#include "pony/save.h"
#include "pony_sim.h"

#define N_OPS 600u
#define REG_SIZE (256u * 1024u)
#define RD_MAX 900u
#define WR_LEN 200u
#define WR_BASE (128u * 1024u) /* writes land above the read area */

static uint8_t region[REG_SIZE];            /* B's registered memory */
static uint8_t rbuf[N_OPS][RD_MAX];         /* A's read destinations */
static uint8_t wsrc[N_OPS][WR_LEN];         /* A's write sources */
static unsigned done_cnt[N_OPS];
static int done_st[N_OPS];
static uint32_t done_len[N_OPS];
static unsigned n_done, wrong_owner;
static int owners[2];      /* the requester's "user" before and after its restore */
static void *cur_owner;

static unsigned resolve(void *ctx, uint32_t rid, uint64_t key, struct pony_os_region *out)
{
	if (rid != 7 || key != 0x1234)
		return PONY_OS_ST_NO_REGION;
	out->base = ctx;
	out->len = REG_SIZE;
	out->perms = PONY_OS_PERM_READ | PONY_OS_PERM_WRITE;
	return PONY_OS_ST_OK;
}

static void done(void *owner, uint64_t cookie, int status, uint32_t len)
{
	wrong_owner += owner != cur_owner;
	if (cookie >= N_OPS)
		return;
	done_cnt[cookie]++;
	done_st[cookie] = status;
	done_len[cookie] = len;
	n_done++;
}

static const struct pony_os_hooks hooks = {.resolve = resolve, .done = done};

static void *rb_owner(void *ctx, uint64_t cookie, void *old)
{
	return old == &owners[0] ? &owners[1] : NULL;
}

static uint32_t rd_len(uint32_t i)
{
	return 64 + (i * 37) % (RD_MAX - 64);
}

static uint32_t rd_off(uint32_t i)
{
	return (i * 211) % (WR_BASE - RD_MAX);
}

static bool some_done(void)
{
	return n_done >= N_OPS / 4;
}

static bool half_done(void)
{
	return n_done >= N_OPS / 2;
}

static bool all_done(void)
{
	return n_done >= N_OPS;
}

/* Step until ep has one-sided work on some flow (ops in flight or responses held). */
static bool busy_moment(int ep)
{
	for (unsigned k = 0; k < 200000; k++) {
		struct pony_tp *tp = sim_ep[ep].tp;
		for (uint32_t i = 0; i < tp->cfg.max_flows; i++)
			if (tp->flows[i].state != PONY_F_FREE && pony_os_busy(tp, &tp->flows[i]))
				return true;
		sim_step();
	}
	return false;
}

static void upgrade(int ep, const struct pony_tp_config *c, const void *ctx,
		    const struct pony_tp_rebind *rb)
{
	/* Upgrades alternate the blob's versions: tables (4), and release 0.1.0's raw
	 * structs (3) that a roll-back to it carries. */
	static unsigned n_upgrades;
	uint32_t version = n_upgrades++ % 2 ? 3 : 4;
	struct snap_sbuf sb;
	snap_sbuf_init(&sb);
	assert_int_equal(pony_tp_save_v(sim_ep[ep].tp, &sb, version), 0);
	struct pony_os_stats before, after;
	pony_tp_os_stats(sim_ep[ep].tp, &before);
	pony_tp_destroy(sim_ep[ep].tp);
	sim_ep[ep].tp = pony_tp_create(c);
	assert_non_null(sim_ep[ep].tp);
	/* As the new daemon does: the app layer attaches before the engine state arrives. */
	assert_int_equal(pony_tp_os_attach(sim_ep[ep].tp, &hooks, (void *)ctx), 0);
	assert_int_equal(pony_tp_restore(sim_ep[ep].tp, sb.data, sb.len - 1, rb), -EINVAL);
	((uint32_t *)sb.data)[2] = 99; /* version */
	assert_int_equal(pony_tp_restore(sim_ep[ep].tp, sb.data, sb.len, rb), -EPROTO);
	((uint32_t *)sb.data)[2] = version;
	assert_int_equal(pony_tp_restore(sim_ep[ep].tp, sb.data, sb.len, rb), 0);
	pony_tp_os_stats(sim_ep[ep].tp, &after);
	assert_int_equal(after.submitted, before.submitted);
	assert_int_equal(after.executed, before.executed);
	print_message("ep%d restored from version %u: blob %zu B, %lu ops submitted, %lu completed, %lu executed\n",
		      ep, version, sb.len, after.submitted, after.completed, after.executed);
	snap_sbuf_fini(&sb);
}

static void test_os_save_restore(void **state)
{
	struct pony_tp_config ca, cb;
	sim_cfg(&ca, 0);
	sim_cfg(&cb, 1);
	memset(&sim_link, 0, sizeof(sim_link));
	sim_link.base_ns = 5000;
	sim_link.reorder_ns = 40000;
	sim_now = SIM_HZ;
	assert_int_equal(sim_ep_start(0, &ca), 0);
	assert_int_equal(sim_ep_start(1, &cb), 0);
	assert_int_equal(pony_tp_os_attach(sim_ep[0].tp, &hooks, NULL), 0);
	assert_int_equal(pony_tp_os_attach(sim_ep[1].tp, &hooks, region), 0);
	sim_link.loss = 0.05;
	sim_link.reorder = 0.05;
	sim_link.dup = 0.01;
	for (uint32_t j = 0; j < REG_SIZE; j++)
		region[j] = (uint8_t)(j * 7 + 3);
	cur_owner = &owners[0];
	for (uint32_t i = 0; i < N_OPS; i++) {
		struct pony_os_op o = {.region = 7, .rkey = 0x1234};
		if (i % 3 == 2) { /* a third are writes, each to its own slot */
			for (uint32_t k = 0; k < WR_LEN; k++)
				wsrc[i][k] = (uint8_t)(i ^ k);
			o.opcode = PONY_OS_WRITE;
			o.len = WR_LEN;
			o.off = WR_BASE + (uint64_t)i * WR_LEN;
			o.buf = wsrc[i];
		} else {
			o.opcode = PONY_OS_READ;
			o.len = rd_len(i);
			o.off = rd_off(i);
			o.buf = rbuf[i];
		}
		assert_int_equal(pony_tp_os_submit(sim_ep[0].tp, PONY_IP4(sim_ep[1].ip), 0, &o, cur_owner, i),
				 0);
	}
	/* Requester upgraded with ops queued and awaiting responses; its user moved. */
	assert_true(sim_run_until(some_done, 100ull * SIM_HZ, 2000000));
	assert_true(busy_moment(0));
	const struct pony_tp_rebind rb = {.os_owner = rb_owner};
	cur_owner = &owners[1];
	upgrade(0, &ca, NULL, &rb);
	/* Executor upgraded while it holds responses (READ results cached until acked). */
	assert_true(sim_run_until(half_done, 100ull * SIM_HZ, 2000000));
	assert_true(busy_moment(1));
	upgrade(1, &cb, region, NULL);
	assert_true(sim_run_until(all_done, 100ull * SIM_HZ, 5000000));
	for (unsigned k = 0; k < 20000; k++)
		sim_step(); /* late duplicates must not complete anything twice */
	struct pony_os_stats sa, sbs;
	pony_tp_os_stats(sim_ep[0].tp, &sa);
	pony_tp_os_stats(sim_ep[1].tp, &sbs);
	print_message("A: submitted %lu completed %lu failed %lu req_tx %lu stray %lu; B: executed "
		      "%lu written %lu read %lu resp_tx %lu\n", sa.submitted, sa.completed, sa.failed,
		      sa.req_pkts_tx, sa.stray_resp, sbs.executed, sbs.bytes_written, sbs.bytes_read,
		      sbs.resp_pkts_tx);
	assert_int_equal(wrong_owner, 0);
	uint32_t n_wr = 0;
	for (uint32_t i = 0; i < N_OPS; i++) {
		assert_int_equal(done_cnt[i], 1);
		assert_int_equal(done_st[i], 0);
		if (i % 3 == 2) {
			n_wr++;
			assert_int_equal(done_len[i], WR_LEN);
			assert_memory_equal(region + WR_BASE + i * WR_LEN, wsrc[i], WR_LEN);
		} else {
			assert_int_equal(done_len[i], rd_len(i));
			assert_memory_equal(rbuf[i], region + rd_off(i), rd_len(i));
		}
	}
	assert_int_equal(sa.completed, N_OPS);
	assert_int_equal(sa.failed, 0);
	/* Executed exactly once each: no request ran again after either restore. */
	assert_int_equal(sbs.executed, N_OPS);
	assert_int_equal(sbs.bytes_written, (uint64_t)n_wr * WR_LEN);
	sim_drop_pending();
	sim_ep_stop(0);
	sim_ep_stop(1);
	assert_int_equal(rte_mempool_in_use_count(sim_pool), 0);
}

static int grp_setup(void **state)
{
	return sim_eal_init("pony_os_save"); /* honours PONY_SIM_SEED */
}

static int grp_teardown(void **state)
{
	sim_eal_fini();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_os_save_restore),
	};
	return cmocka_run_group_tests(tests, grp_setup, grp_teardown);
}
