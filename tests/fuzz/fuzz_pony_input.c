/* Fuzz target for the Pony transport's receive path: adversarial packets injected into an
 * established flow (optionally patched to carry the right flow ids, in-window seqs, valid
 * acks and sids, and a correct checksum, so they get past the early checks), followed by a
 * normal run. With bit 0x80 of the first chunk's flags both transports run authenticated and
 * "consistent" packets are sealed with the sender's real key (so fuzzed fields get past the
 * tag too). Invariants: no crash/UB, every mbuf returned to the pool at the end.
 * libFuzzer with -Dfuzz=true; otherwise main() replays seeded random inputs (unit suite). */
#include "../unit/pony_sim.h"
#include "pony/auth.h"
#include "pony/onesided.h"

#define SERVICE 7

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static bool ready;
static bool auth_mode;

/* One-sided ops on both sides, over a small region with a key the input can name, so
 * OS_REQ/OS_RESP packets reach the executor and the response buffer pool. */
#define OS_KEY 0x1122334455667788ull
static uint8_t os_region[4096];

static unsigned os_resolve(void *ctx, uint32_t rid, uint64_t key, struct pony_os_region *out)
{
	if (rid != 1)
		return PONY_OS_ST_NO_REGION;
	if (key != OS_KEY)
		return PONY_OS_ST_BAD_KEY;
	*out = (struct pony_os_region){.base = os_region, .len = sizeof(os_region),
				       .perms = PONY_OS_PERM_READ | PONY_OS_PERM_WRITE};
	return PONY_OS_ST_OK;
}

static void os_done(void *owner, uint64_t cookie, int status, uint32_t len)
{
}

static const struct pony_os_hooks os_hooks = {.resolve = os_resolve, .done = os_done};

static void fini(void)
{
	sim_eal_fini();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (sim_eal_init("pony_fz") < 0)
		abort();
	atexit(fini);
	ready = true;
	return 0;
}

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void inject(int to, uint8_t flags, const uint8_t *b, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(sim_pool);
	if (m == NULL)
		return;
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)len);
	if (p == NULL) {
		rte_pktmbuf_free(m);
		return;
	}
	memcpy(p, b, len);
	int from = 1 - to;
	struct pony_tp *tp = sim_ep[to].tp;
	struct pony_flow *f = pony_flow_lookup(tp, PONY_IP4(sim_ep[from].ip), sim_ep[from].port);
	if (len >= PONY_HDR_FIXED && f != NULL) {
		if (flags & 0x02) { /* the right flow ids */
			be32(p + 4, f->peer_id);
			be32(p + 8, f->local_id);
		}
		if (flags & 0x04) /* a seq inside the receive window */
			be32(p + 12, f->rx.rcv_nxt + rd32(p + 12) % tp->cfg.window);
		if (flags & 0x08) /* an ack within what we sent */
			be32(p + 16, f->snd_una + rd32(p + 16) % (f->snd_nxt - f->snd_una + 1));
		if ((flags & 0x10) && sim_ep[to].n_ts) /* a live sid */
			be32(p + 40, sim_ep[to].ts[rd32(p + 40) % sim_ep[to].n_ts].sid);
	}
	if ((flags & 0x01) && len >= PONY_HDR_FIXED) { /* consistent lengths + checksum/tag */
		p[0] = PONY_WIRE_VERSION;
		size_t ns = p[3] % (PONY_SACK_MAX + 1);
		size_t hl = PONY_HDR_FIXED + 8 * ns, tr = auth_mode ? PONY_AUTH_TRAILER : 0;
		if (len >= hl + tr) {
			size_t pl = len - hl - tr;
			p[3] = (uint8_t)ns;
			p[64] = (uint8_t)(pl >> 8);
			p[65] = (uint8_t)pl;
			p[66] = auth_mode ? 1 : 0;
			be32(p + 68, auth_mode ? 0 : pony_wire_csum(p, hl, pl));
		}
		if (auth_mode && len >= hl + tr) {
			struct pony_tp *ftp = sim_ep[from].tp;
			struct pony_hdr h = {.type = p[1], .src_flow = rd32(p + 4),
					     .dst_flow = rd32(p + 8), .key_id = 1};
			const struct pony_ip *to_ip = PONY_IP4(sim_ep[to].ip);
			pony_flow_auth_tx(ftp, pony_flow_lookup(ftp, to_ip, sim_ep[to].port),
					  to_ip, sim_ep[to].port, &h, p, len - tr);
		}
	}
	pony_tp_input(tp, sim_ep[from].ip, sim_ep[from].port, &m, 1, sim_now);
}

static bool is_open(void)
{
	return sim_ep[0].n_ts && sim_ep[0].ts[0].opened == 1 && sim_ep[1].n_ts;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ready)
		LLVMFuzzerInitialize(NULL, NULL);
	struct pony_tp_config ca, cb;
	memset(&sim_link, 0, sizeof(sim_link));
	sim_link.base_ns = 5000;
	sim_now = SIM_HZ;
	sim_rng_state = 88172645463325252ull;
	sim_cfg(&ca, 0);
	sim_cfg(&cb, 1);
	struct pony_auth_keyset ks = {.n = 1, .tx_id = 1, .id = {1}, .key = {{0x42}}};
	auth_mode = size > 0 && (data[0] & 0x80);
	if (auth_mode)
		ca.auth_keys = cb.auth_keys = &ks;
	ca.window = cb.window = 64;
	ca.max_streams = cb.max_streams = 16;
	ca.max_flows = cb.max_flows = 4;
	if (sim_ep_start(0, &ca) || sim_ep_start(1, &cb))
		abort();
	if (pony_tp_os_attach(sim_ep[0].tp, &os_hooks, NULL) ||
	    pony_tp_os_attach(sim_ep[1].tp, &os_hooks, NULL))
		abort();
	sim_ep[1].initial_credit = 8;
	pony_tp_listen(sim_ep[1].tp, SERVICE, &sim_ep[1]);
	pony_tp_listen(sim_ep[0].tp, SERVICE, &sim_ep[0]);
	struct sim_ts *a = sim_ts_new(&sim_ep[0]);
	pony_tp_open(sim_ep[0].tp, PONY_IP4(sim_ep[1].ip), SERVICE, a, &a->sid);
	pony_tp_grant(sim_ep[0].tp, a->sid, 8);
	for (unsigned i = 0; i < 2000 && !is_open(); i++)
		sim_step();
	if (!is_open())
		abort(); /* the harness itself is broken */
	a->peer = &sim_ep[1].ts[0];
	sim_ep[1].ts[0].peer = a;
	sim_ts_plan(a, 6, 5000);
	sim_ts_plan(&sim_ep[1].ts[0], 6, 5000);

	/* Chunks: [flags][len hi][len lo][bytes]; bit 5 of flags: inject into A instead of B;
	 * bit 7: toggle the link toward A, so B's packets (one-sided responses among them) go
	 * unacked and pin B's buffers while later requests arrive. */
	size_t off = 0;
	unsigned steps = 0;
	while (off + 3 <= size) {
		uint8_t flags = data[off];
		size_t len = (size_t)data[off + 1] << 8 | data[off + 2];
		off += 3;
		if (len > size - off)
			len = size - off;
		if (len > 1500)
			len = 1500;
		if (flags & 0x80)
			sim_link.down[0] = !sim_link.down[0];
		inject((flags & 0x20) ? 0 : 1, flags, data + off, len);
		off += len;
		if (flags & 0x40) { /* let time pass between injections */
			sim_step();
			steps++;
		}
	}
	sim_link.down[0] = false;
	for (unsigned i = 0; i < 300; i++)
		sim_step();
	sim_drop_pending();
	for (int e = 0; e < 2; e++) {
		struct pony_tp_stats st;
		pony_tp_get_stats(sim_ep[e].tp, &st);
		if (st.held_mbufs > (uint64_t)ca.window * ca.max_flows)
			abort();
		sim_ep_stop(e);
	}
	if (rte_mempool_in_use_count(sim_pool) != 0)
		abort(); /* an mbuf leaked (or was double-freed into a count mismatch) */
	return 0;
}

#ifndef SNAP_LIBFUZZER
/* Replay: seeded random chunk sequences biased toward well-formed, in-flow packets. */
int main(int argc, char **argv)
{
	unsigned iters = argc > 1 ? (unsigned)atoi(argv[1]) : 300;
	LLVMFuzzerInitialize(&argc, &argv);
	static uint8_t buf[8192];
	uint64_t r = 0x9e3779b97f4a7c15ull;
	for (unsigned it = 0; it < iters; it++) {
		size_t n = 0;
		unsigned chunks = 1 + (unsigned)(r % 12);
		for (unsigned c = 0; c < chunks && n + 3 + 200 < sizeof(buf); c++) {
			r ^= r << 13, r ^= r >> 7, r ^= r << 17;
			size_t len = PONY_HDR_FIXED + (r >> 8) % 120;
			buf[n] = (uint8_t)((r >> 16) | 0x01); /* mostly consistent */
			if (r % 5 == 0)
				buf[n] &= (uint8_t)~0x01;
			buf[n + 1] = (uint8_t)(len >> 8);
			buf[n + 2] = (uint8_t)len;
			n += 3;
			for (size_t k = 0; k < len; k++) {
				r ^= r << 13, r ^= r >> 7, r ^= r << 17;
				buf[n + k] = (uint8_t)r;
			}
			/* Plausible fields: a known type, small lengths/offsets. */
			static const uint8_t types[] = {1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21,
							32, 33};
			buf[n + 1] = types[(r >> 24) % sizeof(types)];
			buf[n + 2] &= 0x07;
			be32(buf + n + 52, 1 + (uint32_t)((r >> 32) % 6000));
			be32(buf + n + 56, (uint32_t)((r >> 40) % 6000));
			be32(buf + n + 48, (uint32_t)((r >> 20) % 8));
			be32(buf + n + 60, (uint32_t)((r >> 28) % 16));
			if (buf[n + 1] == PONY_T_OS_REQ && len >= PONY_HDR_FIXED + PONY_OS_REQ_HDR) {
				/* One well-formed record: a READ or WRITE, the right key mostly. */
				buf[n + 3] = 0; /* no SACK: the record starts right after */
				be32(buf + n + 60, 1);
				len = PONY_HDR_FIXED + PONY_OS_REQ_HDR;
				struct pony_os_rec rec = {
					.opcode = (r >> 5) % 3 ? PONY_OS_READ : PONY_OS_WRITE,
					.op_id = (uint32_t)r, .region = 1 + (r % 7 == 0),
					.len = 1 + (uint32_t)((r >> 12) % 1400),
					.key = r % 11 ? OS_KEY : r, .off = (r >> 40) % 5000};
				if (rec.opcode == PONY_OS_WRITE)
					rec.len = 0; /* no data carried: BAD_REQ by the rules */
				pony_os_put_req(buf + n + PONY_HDR_FIXED, &rec);
				buf[n - 2] = (uint8_t)(len >> 8);
				buf[n - 1] = (uint8_t)len;
			}
			if ((r >> 50) % 9 == 0)
				buf[n - 3] |= 0x80; /* cut or restore the link toward A */
			n += len;
		}
		LLVMFuzzerTestOneInput(buf, n);
	}
	printf("fuzz_pony_input: %u inputs, no failure\n", iters);
	return 0;
}
#endif
