/* Fuzz target for the one-sided op records (pony/onesided_exec.c): request and response
 * parsers and the executor, against a region (holding a pony_kv.h table and descriptors
 * taken from the input) between guard zones. Checks: no crash, accepted requests re-encode to
 * the same bytes, every response fits the documented size, status is known, and not one byte
 * outside the region changes (nor inside it without a successful WRITE).
 * Input: byte 0 picks raw mode (the rest is a payload as received) or structured mode (the
 * rest is turned into well-formed records, so random bytes reach the executor). Built for
 * libFuzzer with -Dfuzz=true; tests/fuzz/pony_replay_main.c replays it as a unit test. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_log.h>

#include "pony/bpf.h"
#include "pony/onesided.h"
#include "pony_kv.h"
#include "../../tools/examples/bpf_progs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void pony_fuzz_report(void);

#define GUARD 4096u
#define RLEN 16384u
#define NB 32u

static uint8_t mem[GUARD + RLEN + GUARD];
static uint8_t ref[sizeof(mem)];
static unsigned long n_inputs, n_exec, n_ok, by_status[PONY_OS_ST_MAX];

/* The region's read-only eBPF programs (PONY_OS_BPF records name them, or not). */
static struct pony_bpf_table *progs;
static const char *const prog_names[4] = {"walk", "scan", "zz", "w"};

static void progs_init(void)
{
	static struct pony_bpf_insn p[PONY_BPF_INSNS_MAX];
	unsigned why;
	rte_log_set_level_pattern("lib.bpf", RTE_LOG_EMERG);
	if (pony_bpf_table_load(&progs, 1, "walk", 4, p, bpf_walk_prog(p), &why) ||
	    pony_bpf_table_load(&progs, 1, "scan", 4, p, bpf_scan_prog(p), &why))
		abort();
}

static void region_init(const uint8_t *data, size_t size)
{
	memset(mem, 0xcc, sizeof(mem));
	uint8_t *r = mem + GUARD;
	for (unsigned i = 0; i < RLEN; i++)
		r[i] = (uint8_t)(i * 7);
	struct kv_table_hdr *t = (struct kv_table_hdr *)(r + 1024);
	kv_init(t, NB);
	for (unsigned i = 0; i < 8; i++) {
		char k[8] = {'k', (char)('0' + i)};
		kv_put(t, k, 2, "value-value", 1 + i);
	}
	/* Descriptors and pointers the input controls, at fixed offsets the records can name. */
	size_t n = size < 64 ? size : 64;
	memcpy(r, data, n);
	memcpy(r + RLEN - n, data, n);
	memcpy(ref, mem, sizeof(mem));
}

static void exec_all(const struct pony_os_rec *rec, int n, uint8_t perms, unsigned rst)
{
	struct pony_os_region rg = {.base = mem + GUARD, .len = RLEN, .perms = perms & 3, .id = 1,
				    .bpf = progs};
	static uint8_t out[PONY_OS_RESP_HDR + PONY_OS_DATA_MAX];
	for (int k = 0; k < n; k++) {
		unsigned st;
		size_t len = pony_os_exec(&rec[k], rst == PONY_OS_ST_OK ? &rg : NULL, rst, out,
					  sizeof(out), &st);
		n_exec++;
		if (st >= PONY_OS_ST_MAX || len < PONY_OS_RESP_HDR || len > sizeof(out))
			abort();
		by_status[st]++;
		struct pony_os_resp rs;
		if (pony_os_parse_resp(out, len, 1, &rs, 1) != 1 || rs.status != st)
			abort(); /* our own responses always parse */
		if (st == PONY_OS_ST_OK) {
			n_ok++;
			if (rec[k].opcode == PONY_OS_WRITE) {
				/* The only allowed change: exactly these bytes. */
				if (rec[k].off + rec[k].len > RLEN)
					abort();
				memcpy(ref + GUARD + rec[k].off, rec[k].data, rec[k].len);
			}
		}
	}
	if (memcmp(mem, ref, sizeof(mem)) != 0)
		abort();
}

struct fz_resolve {
	unsigned st;
	uint8_t perms;
};

static unsigned fz_resolve(void *ctx, uint32_t region, uint64_t key, struct pony_os_region *out)
{
	const struct fz_resolve *z = ctx;
	*out = (struct pony_os_region){.base = mem + GUARD, .len = RLEN, .perms = z->perms & 3,
				       .id = 1, .bpf = progs};
	return z->st;
}

/* A whole request answered into a response packet of room bytes (pony_os_answer, what the
 * engine runs per OS_REQ): never a byte past room (the buffer is malloc'd to exactly room,
 * so ASan sees any overflow), every record answered once and in order, or the request
 * refused whole when n status records cannot fit. */
static void answer_all(const struct pony_os_rec *rec, int n, uint8_t perms, unsigned rst,
		       size_t room)
{
	struct fz_resolve z = {.st = rst, .perms = perms};
	struct pony_os_stats st = {0};
	uint8_t *out = malloc(room ? room : 1);
	if (out == NULL)
		abort();
	int used = pony_os_answer(rec, (unsigned)n, fz_resolve, &z, out, room, &st);
	if (used < 0) {
		if ((size_t)n * PONY_OS_RESP_HDR <= room || st.executed != 0)
			abort(); /* refused although answerable, or ran something first */
		free(out);
		return;
	}
	struct pony_os_resp rs[PONY_OS_BATCH_MAX];
	if ((size_t)used > room || st.executed != (uint64_t)n ||
	    pony_os_parse_resp(out, (size_t)used, (unsigned)n, rs, PONY_OS_BATCH_MAX) != n)
		abort();
	for (int k = 0; k < n; k++) {
		if (rs[k].op_id != rec[k].op_id)
			abort();
		if (rs[k].status == PONY_OS_ST_OK && rec[k].opcode == PONY_OS_WRITE)
			memcpy(ref + GUARD + rec[k].off, rec[k].data, rec[k].len);
	}
	free(out);
	if (memcmp(mem, ref, sizeof(mem)) != 0)
		abort();
}

/* Structured mode: records built from the input bytes, with every field drawn from a range
 * that mixes valid values and edges. */
static size_t structure(const uint8_t *in, size_t size, uint8_t *pay, size_t room, unsigned *n)
{
	size_t used = 0, at = 0;
	*n = 0;
	static const uint64_t offs[] = {0, 1, 8, 1024, RLEN - 8, RLEN - 1, RLEN, RLEN + 1,
					UINT64_MAX, UINT64_MAX - 7, 1ull << 32, RLEN - 64};
	while (at + 8 <= size && *n < PONY_OS_BATCH_MAX) {
		const uint8_t *b = in + at;
		at += 8;
		struct pony_os_rec r = {0};
		r.opcode = (uint8_t)(b[0] % 8);
		r.flags = (uint8_t)(r.opcode == PONY_OS_READ_INDIRECT || b[1] == 0xff ? b[1] & 0x81 : 0);
		r.len = b[2] & 0x80 ? (uint32_t)b[3] << 4 : b[3];
		if (b[2] & 0x40)
			r.len = PONY_OS_DATA_MAX + (b[3] & 3);
		if (r.opcode == PONY_OS_WRITE && !(b[2] & 0x20))
			r.len = (uint32_t)b[3] % 64 + 1; /* mostly writes whose data fits the input */
		r.off = b[4] < 128 ? offs[b[4] % 12] : (uint64_t)b[4] * 61 + b[5];
		r.op_id = b[6];
		uint16_t dl = r.opcode == PONY_OS_WRITE ? (uint16_t)r.len
			    : r.opcode == PONY_OS_SCAN_READ ? (uint16_t)(b[7] % 30)
			    : r.opcode == PONY_OS_BPF ? (uint16_t)(b[7] >> 2)
						       : (uint16_t)(b[7] == 0xff);
		if (dl > size - at)
			dl = (uint16_t)(size - at);
		r.data_len = dl;
		r.data = in + at;
		at += dl;
		if (r.opcode == PONY_OS_SCAN_READ && b[5] & 1) {
			r.off = 1024; /* the table */
			static const uint8_t key[2] = {'k', '3'};
			r.data = b[5] & 2 ? in + at - dl : key;
			r.data_len = b[5] & 2 ? dl : 2;
		}
		uint8_t bd[PONY_OS_BPF_IN_MAX + 1];
		if (r.opcode == PONY_OS_BPF && !(b[5] & 0x80)) {
			/* mostly well-formed: a name (known or not), arguments from the input */
			const char *nm = prog_names[b[7] & 3];
			size_t nl = strlen(nm), al = dl < 64 ? dl : 64;
			bd[0] = (uint8_t)nl;
			memcpy(bd + 1, nm, nl);
			memcpy(bd + 1 + nl, r.data, al);
			r.data = bd;
			r.data_len = (uint16_t)(1 + nl + al);
			r.off = b[5] & 0x40 ? r.off : 0;
			r.flags = 0;
			r.len = b[5] & 0x20 ? r.len : 8 + (b[3] % (PONY_BPF_RESULT_MAX + 1));
		}
		if (used + PONY_OS_REQ_HDR + r.data_len > room)
			break;
		used += pony_os_put_req(pay + used, &r);
		(*n)++;
	}
	return used;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t pay[65536];
	static struct pony_os_rec rec[PONY_OS_BATCH_MAX];
	if (progs == NULL)
		progs_init();
	n_inputs++;
	if (size < 3)
		return 0;
	uint8_t mode = data[0], perms = data[1];
	unsigned rst = data[2] % 8 == 0 ? data[2] / 8 % (PONY_OS_ST_MAX + 1) : PONY_OS_ST_OK;
	data += 3;
	size -= 3;
	region_init(data, size);
	if (mode & 1) {
		unsigned n;
		size_t len = structure(data, size, pay, sizeof(pay), &n);
		int got = pony_os_parse_req(pay, len, n, rec, PONY_OS_BATCH_MAX);
		if (n > 0 && got != (int)n)
			abort(); /* well-formed framing must parse */
		if (got > 0) {
			exec_all(rec, got, perms, rst);
			/* Again as one request into a response packet of any size up to
			 * 1.5 KiB: the records that do not fit are answered by status. */
			region_init(data, size);
			answer_all(rec, got, perms, rst, (size_t)(mode >> 1) * 13 % 1600);
		}
		return 0;
	}
	if (size > sizeof(pay))
		return 0;
	unsigned expected = mode >> 1;
	int got = pony_os_parse_req(data, size, expected, rec, PONY_OS_BATCH_MAX);
	if (got > 0) {
		/* Accepted bytes are exactly what the encoder writes for those records. */
		size_t used = 0;
		for (int k = 0; k < got; k++)
			used += pony_os_put_req(pay + used, &rec[k]);
		if (used != size || memcmp(pay, data, size) != 0)
			abort();
		exec_all(rec, got, perms, rst);
	}
	struct pony_os_resp rs[PONY_OS_BATCH_MAX];
	int nr = pony_os_parse_resp(data, size, expected, rs, PONY_OS_BATCH_MAX);
	for (int k = 0; k < nr; k++)
		if (rs[k].data + rs[k].data_len > data + size)
			abort();
	return 0;
}

void pony_fuzz_report(void)
{
	printf("fuzz_pony_onesided: %lu inputs, %lu ops executed, %lu ok; by status:", n_inputs,
	       n_exec, n_ok);
	for (unsigned s = 0; s < PONY_OS_ST_MAX; s++)
		printf(" %s=%lu", pony_os_status_name(s), by_status[s]);
	printf("\n");
}
