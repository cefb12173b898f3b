/* What a program must pass before DPDK's rte_bpf validator sees it (pony/bpf.c loads through
 * both): the checks rte_bpf 22.11 gets wrong or does not make, each found by fuzzing or
 * review, and the cost of its walk. */
#pragma once

#include <stdint.h>

struct ebpf_insn;

/* PONY_BPF_R_OK when the n instructions at ins (n >= 1, at most PONY_BPF_INSNS_MAX; the
 * caller's private copy) may go to rte_bpf; PONY_BPF_R_VERIFY when their control flow leaves
 * the program, goes backwards, or lands in the second slot of a 64-bit immediate, or when a
 * pointer (the argument block's, the stack's) is used other than as a base to load from or
 * store to, moved, or moved by a constant; PONY_BPF_R_COMPLEX when walking its paths would
 * cost rte_bpf more than PONY_BPF_STEPS_MAX steps; PONY_BPF_R_NO_MEM. nargs[h]: how many
 * arguments helper h takes (a pointer in any of them is refused), for h below
 * PONY_BPF_HELPERS. */
unsigned pony_bpf_precheck(const struct ebpf_insn *ins, uint32_t n, const uint8_t *nargs);
