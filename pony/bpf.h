/* Custom one-sided ops in eBPF (issue 21): programs a region's owner app loads by name, run by
 * the remote engine on PONY_OS_BPF requests against that region. Programs are validated by
 * DPDK's rte_bpf at load (no loops: rte_bpf refuses back-edges, so a run executes at most
 * PONY_BPF_INSNS_MAX instructions) and reach the region only through the bounds-checked
 * helpers below (helper ids: enum pony_bpf_helper in pony.h); a helper call outside the
 * region or over the budget faults the run: every later helper call does nothing and the op
 * is answered FAULT. Loading is a control operation (it allocates); running allocates
 * nothing. Engine thread only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pony.h"
#include "pony/onesided.h"

struct ebpf_insn;

/* The budget a run gets: PONY_BPF_INSNS_MAX instructions (loop-free programs) and
 * PONY_BPF_CALLS_MAX helper calls (the counter in the helpers; each can copy at most
 * PONY_BPF_OUT_MAX bytes). Limits: pony.h (PONY_BPF_*). */

/* Why a load was refused (the completion's len carries it; libpony's pony_bpf_reason_name
 * names it). */
#define PONY_BPF_REASON_ENUM(e, s, errno_) PONY_BPF_R_##e,
enum pony_bpf_reason { PONY_BPF_REASONS(PONY_BPF_REASON_ENUM) PONY_BPF_R_MAX };
#undef PONY_BPF_REASON_ENUM

/* One loaded program. */
struct pony_bpf_prog {
	uint32_t region;                 /* 0: free slot */
	uint8_t name_len;
	char name[PONY_BPF_NAME_MAX + 1];
	struct rte_bpf *bpf;
	uint64_t runs, faults;           /* runs, and runs stopped by a fault */
};

/* An app's programs (at most PONY_BPF_PROGS_PER_APP, PONY_BPF_PROGS_PER_REGION a region). */
struct pony_bpf_table {
	uint32_t n;
	uint64_t no_prog;      /* calls naming no loaded program of the region */
	uint64_t runs, faults; /* of every program, unloaded ones too */
	struct pony_bpf_prog p[PONY_BPF_PROGS_PER_APP];
};

/* Validate and load n instructions as program name (name_len bytes: 1..PONY_BPF_NAME_MAX
 * printable ASCII, no NUL) of region (nonzero) into *t (allocated on first use).
 * The instructions are copied (ins may be shared memory the app can change: rte_bpf reads
 * the copy). Returns 0, or -errno with *reason set: -EINVAL (NAME, SIZE, VERIFY: rte_bpf
 * refused it, its log says which instruction), -E2BIG (SIZE: over PONY_BPF_INSNS_MAX),
 * -EEXIST (EXISTS), -ENOSPC (LIMIT_REGION, LIMIT_APP), -ENOMEM (NO_MEM). */
int pony_bpf_table_load(struct pony_bpf_table **t, uint32_t region, const char *name,
		  size_t name_len, const void *ins, uint32_t n, unsigned *reason);
/* Unload every program of region (its revocation). t NULL: no-op. */
void pony_bpf_table_unload(struct pony_bpf_table *t, uint32_t region);
/* Unload everything and free t. NULL: no-op. */
void pony_bpf_table_free(struct pony_bpf_table *t);
/* Program name of region in t, or NULL. */
struct pony_bpf_prog *pony_bpf_table_find(struct pony_bpf_table *t, uint32_t region,
				    const uint8_t *name, size_t name_len);

/* Run p against region rg with the argument bytes arg[0..arg_len) (<= PONY_BPF_ARG_MAX; the
 * program sees them at R1, zero-padded to PONY_BPF_ARG_MAX). The result goes to out: the
 * return value as a little-endian u64, then the bytes the program appended (at most
 * out_room - 8). Returns a PONY_OS_ST_*: OK (*out_len set), FAULT (a helper call was out of
 * the region, of its permissions, of out_room or of the call budget; *out_len 0). */
unsigned pony_bpf_prog_run(struct pony_bpf_prog *p, const struct pony_os_region *rg,
		      const uint8_t *arg, size_t arg_len, uint8_t *out, size_t out_room,
		      size_t *out_len);
