/* Fuzz target for eBPF program loading and running (pony/bpf.h): the input is a hostile
 * app's program. Byte 0: the name's length (the name is taken from the following bytes,
 * hostile characters included), byte 1: the region's permissions, bytes 2..9: the argument
 * block's first word; then the instructions (any count, over the cap too). Checks: a load
 * either succeeds or is refused with a known reason and its errno; a loaded program runs to
 * OK or FAULT, its result within the room; nothing outside the region changes, nor inside it
 * when the region is not writable. Built for libFuzzer with -Dfuzz=true;
 * tests/fuzz/pony_replay_main.c replays it as a unit test. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_log.h>

#include "pony/bpf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void pony_fuzz_report(void);

#define GUARD 4096u
#define RLEN 4096u

static uint8_t mem[GUARD + RLEN + GUARD];
static uint8_t ref[sizeof(mem)];
static unsigned long n_inputs, n_loaded, n_ok, n_fault, by_reason[PONY_BPF_R_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet;
	if (!quiet) { /* the validator logs every refusal: keep the fuzzer's output readable */
		rte_log_set_level_pattern("lib.bpf", RTE_LOG_EMERG);
		quiet = true;
	}
	n_inputs++;
	if (size < 10)
		return 0;
	size_t nl = data[0] % 40;
	uint8_t perms = data[1] & 3;
	uint64_t arg0;
	memcpy(&arg0, data + 2, 8);
	data += 10;
	size -= 10;
	if (nl > size)
		nl = size;
	const char *name = (const char *)data;
	data += nl;
	size -= nl;
	uint32_t n = (uint32_t)(size / 8);
	struct pony_bpf_table *t = NULL;
	unsigned why = PONY_BPF_R_MAX;
	int r = pony_bpf_table_load(&t, 1, name, nl, n ? data : NULL, n, &why);
	if (why >= PONY_BPF_R_MAX || (r == 0) != (why == PONY_BPF_R_OK) || r > 0)
		abort();
	by_reason[why]++;
	if (r == 0) {
		n_loaded++;
		for (unsigned i = 0; i < sizeof(mem); i++)
			mem[i] = (uint8_t)(i * 13);
		/* Offsets into the region for pointer-chasing programs. */
		for (unsigned i = 0; i < RLEN; i += 8) {
			uint64_t v = (i * 40503u) % (RLEN + 64);
			memcpy(mem + GUARD + i, &v, 8);
		}
		memcpy(ref, mem, sizeof(mem));
		struct pony_os_region rg = {.base = mem + GUARD, .len = RLEN, .perms = perms, .id = 1};
		static uint8_t out[PONY_OS_BPF_OUT_MAX];
		size_t room = 8 + (data[0] % (PONY_BPF_RESULT_MAX + 1)), len = 0;
		unsigned st = pony_bpf_prog_run(&t->p[0], &rg, (const uint8_t *)&arg0, sizeof(arg0),
						out, room, &len);
		if (st == PONY_OS_ST_OK)
			n_ok++;
		else if (st == PONY_OS_ST_FAULT)
			n_fault++;
		else
			abort();
		if (len > room || (st != PONY_OS_ST_OK && len != 0))
			abort();
		if (memcmp(mem, ref, GUARD) != 0 || memcmp(mem + GUARD + RLEN, ref + GUARD + RLEN,
							   GUARD) != 0)
			abort(); /* written outside the region */
		if (!(perms & PONY_OS_PERM_WRITE) && memcmp(mem, ref, sizeof(mem)) != 0)
			abort(); /* written to a read-only region */
	}
	pony_bpf_table_free(t);
	return 0;
}

void pony_fuzz_report(void)
{
	printf("fuzz_pony_bpf: %lu inputs, %lu loaded (%lu ran ok, %lu faulted); refused by reason:",
	       n_inputs, n_loaded, n_ok, n_fault);
	for (unsigned s = 1; s < PONY_BPF_R_MAX; s++)
		printf(" %lu", by_reason[s]);
	printf("\n");
}
