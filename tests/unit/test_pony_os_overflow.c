/* Regression test for the remote heap overflow of issue 14 (security): a peer holding a
 * region key pins its flow's one-sided response buffers (B's responses are never acked), then sends
 * one OS_REQ whose first records exactly fill a response packet (READ 1024 + READ 320 at MTU
 * 1500) followed by 40 one-byte READs. The old executor appended a 12-byte status record for
 * each record that did not fit, past the end of the last response buffer (ASan:
 * heap-buffer-overflow; gcc: silent corruption). Now every record is answered inside the
 * packet, the ones whose data cannot fit by BAD_REQ, and B keeps serving. Run under the
 * ASan build in the unit suite. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "pony/onesided.h"
#include "pony/wire.h"
#include "pony_sim.h"

#define REG_SIZE 4096u
#define KEY 0x5eedull
/* All but one of the flow's 32 response buffers: a flow may hold no more (OS_RESP_PER_FLOW in
 * pony/onesided.c, issue 14 item 2); the attack's packet takes the last one. */
#define PINS 31u
#define SMALL 40u   /* one-byte READs after the two that fill the packet */

static uint8_t region[REG_SIZE];
static uint8_t rbuf[64];
static unsigned n_done;
static int last_status;

static unsigned resolve(void *ctx, uint32_t rid, uint64_t key, struct pony_os_region *out)
{
	if (rid != 1 || key != KEY)
		return PONY_OS_ST_BAD_KEY;
	*out = (struct pony_os_region){.base = ctx, .len = REG_SIZE,
				       .perms = PONY_OS_PERM_READ | PONY_OS_PERM_WRITE};
	return PONY_OS_ST_OK;
}

static void done(void *owner, uint64_t cookie, int status, uint32_t len)
{
	n_done++;
	last_status = status;
}

static const struct pony_os_hooks hooks = {.resolve = resolve, .done = done};

static bool one_done(void)
{
	return n_done > 0;
}

static struct pony_flow *b_flow(void);

/* A has acked all B sent (A's ack may wait for a packet to ride on: ack_delay_us). */
static bool b_all_acked(void)
{
	struct pony_flow *f = b_flow();
	return f != NULL && f->snd_una == f->snd_nxt;
}

/* B's flow with A: the attacker speaks as A on it (same addresses, ids, next seq). */
static struct pony_flow *b_flow(void)
{
	return pony_flow_lookup(sim_ep[1].tp, PONY_IP4(sim_ep[0].ip), sim_ep[0].port);
}

/* Inject one OS_REQ of n records (lens[k] bytes READ each, from offset 0) into B as A. */
static void inject_req(const uint32_t *lens, unsigned n)
{
	static uint8_t pkt[PONY_HDR_MAX + 4096];
	struct pony_flow *f = b_flow();
	assert_non_null(f);
	size_t pay = 0;
	for (unsigned k = 0; k < n; k++) {
		struct pony_os_rec r = {.opcode = PONY_OS_READ, .op_id = 0x10000u + k, .region = 1,
					.len = lens[k], .key = KEY, .off = 0};
		pay += pony_os_put_req(pkt + PONY_HDR_FIXED + pay, &r);
	}
	assert_true(pay <= 4096);
	struct pony_hdr h = {.type = PONY_T_OS_REQ, .src_flow = f->peer_id,
			     .dst_flow = f->local_id, .seq = f->rx.rcv_nxt, .ts = sim_now,
			     .aux = n, .payload_len = (uint16_t)pay};
	size_t hl = pony_wire_build(pkt, &h);
	assert_int_equal(hl, PONY_HDR_FIXED);
	struct rte_mbuf *m = rte_pktmbuf_alloc(sim_pool);
	assert_non_null(m);
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(hl + pay));
	assert_non_null(p);
	memcpy(p, pkt, hl + pay);
	uint32_t before = f->rx.rcv_nxt;
	pony_tp_input(sim_ep[1].tp, sim_ep[0].ip, sim_ep[0].port, &m, 1, sim_now);
	assert_int_equal(f->rx.rcv_nxt, before + 1); /* taken (not deferred for a buffer) */
}

static uint64_t a_stray(void)
{
	struct pony_os_stats s;
	pony_tp_os_stats(sim_ep[0].tp, &s);
	return s.stray_resp;
}

static uint64_t need_stray;

static bool all_answered(void)
{
	return a_stray() >= need_stray;
}

static void test_fill_then_overflow(void **state)
{
	struct pony_tp_config ca, cb;
	sim_cfg(&ca, 0);
	sim_cfg(&cb, 1);
	ca.mtu = cb.mtu = 1500;
	assert_int_equal(sim_ep_start(0, &ca), 0);
	assert_int_equal(sim_ep_start(1, &cb), 0);
	assert_int_equal(pony_tp_os_attach(sim_ep[0].tp, &hooks, NULL), 0);
	assert_int_equal(pony_tp_os_attach(sim_ep[1].tp, &hooks, region), 0);
	for (unsigned i = 0; i < REG_SIZE; i++)
		region[i] = (uint8_t)i;

	/* A legitimate READ sets the flow up. */
	struct pony_os_op op = {.opcode = PONY_OS_READ, .region = 1, .len = 16, .rkey = KEY,
				.buf = rbuf};
	assert_int_equal(pony_tp_os_submit(sim_ep[0].tp, PONY_IP4(sim_ep[1].ip), 0, &op, NULL, 1), 0);
	assert_true(sim_run_until(one_done, SIM_HZ, 100000));
	assert_int_equal(last_status, 0);
	assert_memory_equal(rbuf, region, 16);
	assert_true(sim_run_until(b_all_acked, SIM_HZ, 100000)); /* its response buffer is free */

	/* Pin: B's responses are never acked (nothing from B reaches A). */
	sim_link.down[0] = true;
	static const uint32_t one = 1;
	for (unsigned i = 0; i < PINS; i++)
		inject_req(&one, 1);
	struct pony_os_stats sb0;
	pony_tp_os_stats(sim_ep[1].tp, &sb0);

	/* The attack: 1024 + 320 fill a 1,368-byte response exactly, then 40 more records. */
	uint32_t lens[2 + SMALL] = {1024, 320};
	for (unsigned k = 2; k < 2 + SMALL; k++)
		lens[k] = 1;
	inject_req(lens, 2 + SMALL);
	struct pony_os_stats sb;
	pony_tp_os_stats(sim_ep[1].tp, &sb);
	assert_int_equal(sb.executed - sb0.executed, 2 + SMALL);
	/* The records that fit ran; the others were answered BAD_REQ, inside the packet. */
	uint64_t ok = sb.status[PONY_OS_ST_OK] - sb0.status[PONY_OS_ST_OK];
	uint64_t bad = sb.status[PONY_OS_ST_BAD_REQ] - sb0.status[PONY_OS_ST_BAD_REQ];
	assert_int_equal(ok + bad, 2 + SMALL);
	assert_true(bad >= 1 && ok >= SMALL);
	print_message("overflow request: %lu records ok, %lu answered bad_req\n",
		      (unsigned long)ok, (unsigned long)bad);

	/* One more request finds no buffer: deferred (the peer retransmits), not executed. */
	assert_int_equal(sb.no_buf, 0);

	/* Let B's answers through: A gets every record's response (none matches an op of its
	 * own: stray), so each pinned packet and the attack's 42 records were answered. */
	sim_link.down[0] = false;
	need_stray = a_stray() + PINS + 2 + SMALL;
	assert_true(sim_run_until(all_answered, 30 * SIM_HZ, 2000000));

	/* B still serves A's own ops. */
	n_done = 0;
	op.off = 100;
	assert_int_equal(pony_tp_os_submit(sim_ep[0].tp, PONY_IP4(sim_ep[1].ip), 0, &op, NULL, 2), 0);
	assert_true(sim_run_until(one_done, 10 * SIM_HZ, 200000));
	assert_int_equal(last_status, 0);
	assert_memory_equal(rbuf, region + 100, 16);

	sim_ep_stop(0);
	sim_ep_stop(1);
	sim_drop_pending();
	assert_int_equal(rte_mempool_in_use_count(sim_pool), 0);
}

/* The executor alone: a request of only status records larger than the packet is refused
 * whole; one that fits is answered record by record, never past room. */
static void test_answer_room(void **state)
{
	struct pony_os_rec rec[PONY_OS_BATCH_MAX];
	for (unsigned k = 0; k < PONY_OS_BATCH_MAX; k++)
		rec[k] = (struct pony_os_rec){.opcode = PONY_OS_READ, .op_id = k, .region = 1,
					      .len = 1, .key = KEY};
	for (size_t room = 0; room <= 1400; room += 7) {
		uint8_t *out = malloc(room ? room : 1); /* exact size: ASan sees any overflow */
		assert_non_null(out);
		struct pony_os_stats st = {0};
		int used = pony_os_answer(rec, PONY_OS_BATCH_MAX, resolve, region, out, room, &st);
		if (room < PONY_OS_BATCH_MAX * PONY_OS_RESP_HDR) {
			assert_int_equal(used, -EMSGSIZE);
			assert_int_equal(st.executed, 0);
		} else {
			assert_true(used > 0 && (size_t)used <= room);
			struct pony_os_resp rs[PONY_OS_BATCH_MAX];
			assert_int_equal(pony_os_parse_resp(out, (size_t)used, PONY_OS_BATCH_MAX, rs,
							    PONY_OS_BATCH_MAX),
					 PONY_OS_BATCH_MAX);
			for (unsigned k = 0; k < PONY_OS_BATCH_MAX; k++)
				assert_int_equal(rs[k].op_id, k);
		}
		free(out);
	}
}

static int setup(void **state)
{
	return sim_eal_init("pony_osovf") < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	sim_eal_fini();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answer_room),
		cmocka_unit_test(test_fill_then_overflow),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
