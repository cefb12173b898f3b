/* Checks of an eBPF program before DPDK's rte_bpf validator sees it (pony/bpf_check.h). Each
 * covers a hole in rte_bpf 22.11 that a fuzzer drove a hostile program through:
 *  - control flow: its edge check lets a successor equal the instruction count (`nidx >
 *    nb_ins`), and its walk then reads the state of a node past its array: a jump there made
 *    it read freed memory, and a last instruction other than EXIT read past the array;
 *  - pointer kinds: it lets arithmetic other than adding a constant keep a register a
 *    pointer (r1 *= 0 left r1 the argument block's pointer, at address 0: the interpreter
 *    then loaded from address 119). Here a pointer may only be moved, moved by a constant,
 *    loaded from and stored to; one that takes part in anything else (arithmetic, a
 *    comparison, a helper's argument, a store of its value, the return value) is refused,
 *    which also keeps addresses from leaking to the remote caller;
 *  - cost: it walks every path, so the paths reaching each instruction are summed here.
 * All three need only a forward pass: successors must lie after their instruction (a
 * back-edge is a loop, which rte_bpf refuses anyway). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <rte_bpf.h>

#include "pony/bpf.h"
#include "pony/bpf_check.h"

#define LDDW (BPF_LD | BPF_IMM | EBPF_DW)
#define JMP32 0x06 /* class of 32-bit jumps (not named in 22.11's bpf_def.h) */

/* Register kinds, as bits: after paths join a register may be both. */
enum { K_SCALAR = 1, K_PTR = 2 };

/* The successors of instruction i: next[0] the next one (-1 after EXIT, the target of a
 * JA), next[1] a conditional jump's target (else -1). */
static void successors(const struct ebpf_insn *x, uint32_t i, int64_t next[2])
{
	next[0] = (int64_t)i + (x->code == LDDW ? 2 : 1);
	next[1] = -1;
	uint8_t cls = BPF_CLASS(x->code), op = BPF_OP(x->code);
	if (cls != BPF_JMP && cls != JMP32)
		return;
	if (op == EBPF_EXIT)
		next[0] = -1;
	else if (op == BPF_JA)
		next[0] = (int64_t)i + 1 + x->off;
	else if (op != EBPF_CALL)
		next[1] = (int64_t)i + 1 + x->off;
}

/* Every successor an instruction of the program after its own, none in the second slot of a
 * 64-bit immediate (second[] marks those). */
static bool flow_ok(const struct ebpf_insn *ins, uint32_t n, bool *second)
{
	for (uint32_t i = 0; i < n; i++)
		if (ins[i].code == LDDW) {
			if (i + 1 >= n)
				return false;
			second[++i] = true;
		}
	for (uint32_t i = 0; i < n; i++) {
		if (second[i])
			continue;
		int64_t next[2];
		successors(&ins[i], i, next);
		for (int k = 0; k < 2; k++)
			if (next[k] != -1 &&
			    (next[k] <= (int64_t)i || next[k] >= (int64_t)n || second[next[k]]))
				return false;
	}
	return true;
}

/* Instruction x's effect on the register kinds k (x reached with them): false when it uses
 * a pointer in a way the file comment refuses. nargs: each helper's argument count. */
static bool kinds_step(const struct ebpf_insn *x, uint8_t *k, const uint8_t *nargs)
{
	uint8_t cls = BPF_CLASS(x->code), op = BPF_OP(x->code), d = x->dst_reg, s = x->src_reg;
	bool by_reg = BPF_SRC(x->code) == BPF_X;
	if (d >= EBPF_REG_NUM || s >= EBPF_REG_NUM)
		return false;
	switch (cls) {
	case EBPF_ALU64:
	case BPF_ALU:
		if (d == EBPF_REG_10)
			return false; /* the frame pointer is read-only */
		if (op == EBPF_MOV) {
			if (by_reg && (k[s] & K_PTR) && cls != EBPF_ALU64)
				return false; /* half a pointer */
			k[d] = by_reg ? k[s] : K_SCALAR;
			return true;
		}
		if (by_reg && (k[s] & K_PTR))
			return false;
		if (k[d] & K_PTR)
			return k[d] == K_PTR && cls == EBPF_ALU64 && !by_reg &&
			       (op == BPF_ADD || op == BPF_SUB);
		k[d] = K_SCALAR;
		return true;
	case BPF_LDX:
		if (k[s] != K_PTR || d == EBPF_REG_10)
			return false;
		k[d] = K_SCALAR;
		return true;
	case BPF_ST:
		return k[d] == K_PTR;
	case BPF_STX:
		return k[d] == K_PTR && !(k[s] & K_PTR);
	case BPF_LD:
		if (x->code != LDDW || s != 0 || d == EBPF_REG_10)
			return false; /* only a plain 64-bit immediate */
		k[d] = K_SCALAR;
		return true;
	case BPF_JMP:
	case JMP32:
		if (op == EBPF_EXIT)
			return !(k[EBPF_REG_0] & K_PTR);
		if (op == EBPF_CALL) {
			if (x->imm < 0 || x->imm >= PONY_BPF_HELPERS)
				return false;
			for (unsigned r = 1; r <= nargs[x->imm]; r++)
				if (k[r] & K_PTR)
					return false;
			for (unsigned r = EBPF_REG_0; r <= EBPF_REG_5; r++)
				k[r] = K_SCALAR; /* the result; r1-r5 clobbered */
			return true;
		}
		if (op == BPF_JA)
			return true;
		return !(k[d] & K_PTR) && !(by_reg && (k[s] & K_PTR));
	default:
		return false;
	}
}

/* The kinds of every register on every path, in one forward pass: in[i] joins the kinds
 * with which each predecessor reaches instruction i (0: not reached yet). */
static bool kinds_ok(const struct ebpf_insn *ins, uint32_t n, const bool *second,
		     const uint8_t *nargs, uint8_t (*in)[EBPF_REG_NUM])
{
	for (unsigned r = 0; r < EBPF_REG_NUM; r++)
		in[0][r] = K_SCALAR; /* rte_bpf refuses reading one not written */
	in[0][EBPF_REG_1] = K_PTR; /* the argument block */
	in[0][EBPF_REG_10] = K_PTR; /* the stack */
	for (uint32_t i = 0; i < n; i++) {
		if (second[i] || in[i][EBPF_REG_10] == 0)
			continue; /* the immediate's second half, or unreachable */
		uint8_t k[EBPF_REG_NUM];
		memcpy(k, in[i], sizeof(k));
		if (!kinds_step(&ins[i], k, nargs))
			return false;
		int64_t next[2];
		successors(&ins[i], i, next);
		for (int j = 0; j < 2; j++)
			if (next[j] != -1)
				for (unsigned r = 0; r < EBPF_REG_NUM; r++)
					in[next[j]][r] |= k[r];
	}
	return true;
}

/* What validating costs rte_bpf: it walks every path through the program (a DAG), so the
 * sum over instructions of the paths reaching each (saturating). */
static uint64_t validation_steps(const struct ebpf_insn *ins, uint32_t n, const bool *second,
				 uint64_t *paths)
{
	uint64_t steps = 0;
	paths[0] = 1;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t p = paths[i];
		if (p == 0 || second[i])
			continue;
		steps = steps > UINT64_MAX - p ? UINT64_MAX : steps + p;
		int64_t next[2];
		successors(&ins[i], i, next);
		for (int j = 0; j < 2; j++)
			if (next[j] != -1)
				paths[next[j]] = paths[next[j]] > UINT64_MAX - p ? UINT64_MAX
										 : paths[next[j]] + p;
	}
	return steps;
}

unsigned pony_bpf_precheck(const struct ebpf_insn *ins, uint32_t n, const uint8_t *nargs)
{
	bool *second = calloc(n, sizeof(*second));
	uint8_t(*in)[EBPF_REG_NUM] = calloc(n, sizeof(*in));
	uint64_t *paths = calloc(n, sizeof(*paths));
	unsigned why = PONY_BPF_R_NO_MEM;
	if (second != NULL && in != NULL && paths != NULL) {
		if (!flow_ok(ins, n, second) || !kinds_ok(ins, n, second, nargs, in))
			why = PONY_BPF_R_VERIFY;
		else if (validation_steps(ins, n, second, paths) > PONY_BPF_STEPS_MAX)
			why = PONY_BPF_R_COMPLEX;
		else
			why = PONY_BPF_R_OK;
	}
	free(second);
	free(in);
	free(paths);
	return why;
}
