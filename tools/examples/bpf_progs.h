/* The example eBPF custom ops (pony.h "Custom one-sided operations in eBPF"), built as
 * instruction arrays with nothing but <pony.h>: a linked-list walk (pointer chasing inside
 * the remote region, one round trip for up to BPF_WALK_MAX hops) and a filtered scan that
 * returns the matching records. Shared by the example program, the tests and the benchmark.
 * Programs are loop-free (rte_bpf refuses loops), so both are unrolled to their maximum and
 * stop early by a forward jump. */
#pragma once

#include <stdint.h>

#include <pony.h>

/* eBPF opcodes used here (Linux/DPDK encoding). */
enum {
	BPF_I_LDXDW = 0x79,   /* dst = *(u64 *)(src + off) */
	BPF_I_STXDW = 0x7b,   /* *(u64 *)(dst + off) = src */
	BPF_I_MOV64_K = 0xb7, /* dst = imm */
	BPF_I_MOV64_X = 0xbf, /* dst = src */
	BPF_I_ADD64_K = 0x07, /* dst += imm */
	BPF_I_ADD64_X = 0x0f, /* dst += src */
	BPF_I_AND64_X = 0x5f, /* dst &= src */
	BPF_I_OR64_X = 0x4f,  /* dst |= src */
	BPF_I_XOR64_X = 0xaf, /* dst ^= src */
	BPF_I_XOR64_K = 0xa7, /* dst ^= imm */
	BPF_I_SUB64_X = 0x1f, /* dst -= src */
	BPF_I_NEG64 = 0x87,   /* dst = -dst */
	BPF_I_LSH64_K = 0x67, /* dst <<= imm */
	BPF_I_RSH64_K = 0x77, /* dst >>= imm (logical) */
	BPF_I_JEQ_K = 0x15,   /* if dst == imm: pc += off */
	BPF_I_JNE_X = 0x5d,   /* if dst != src: pc += off */
	BPF_I_JA = 0x05,      /* pc += off */
	BPF_I_CALL = 0x85,    /* helper imm */
	BPF_I_EXIT = 0x95,
};
#define BPF_I(c, d, s, o, i)                                                               \
	((struct pony_bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})

/* Linked list node in the region: the next node's offset, then the value. */
struct bpf_walk_node {
	uint64_t next; /* region offset of the next node */
	uint64_t value;
};
/* Argument block of "walk": start node offset, hops (at most BPF_WALK_MAX). Result: return
 * value = the value of the node reached; appended: that node's offset (u64). */
struct bpf_walk_args {
	uint64_t start, hops;
};
#define BPF_WALK_MAX 32u
/* Where the examples place node i of a list: 1 KiB slots after base, scattered (59 slots, 59
 * prime: distinct for i < 59). */
static inline uint64_t bpf_walk_node_off(uint64_t base, unsigned i)
{
	return base + (uint64_t)(i * 35u % 59u) * 1024u;
}
#define BPF_WALK_HOP_INSNS 5u

/* Instructions of the walk program; bpf_walk_prog fills out (room for that many) and
 * returns how many it wrote. */
static inline uint32_t bpf_walk_len(void)
{
	return 2 + BPF_WALK_MAX * BPF_WALK_HOP_INSNS + 8;
}
static inline uint32_t bpf_walk_prog(struct pony_bpf_insn *out)
{
	uint32_t n = 0;
	out[n++] = BPF_I(BPF_I_LDXDW, 6, 1, 0, 0); /* r6 = start */
	out[n++] = BPF_I(BPF_I_LDXDW, 7, 1, 8, 0); /* r7 = hops */
	for (uint32_t h = 0; h < BPF_WALK_MAX; h++) {
		/* if (r7 == 0) goto done: the hops left after this one, times their length */
		int16_t skip = (int16_t)((BPF_WALK_MAX - h) * BPF_WALK_HOP_INSNS - 1);
		out[n++] = BPF_I(BPF_I_JEQ_K, 7, 0, skip, 0);
		out[n++] = BPF_I(BPF_I_MOV64_X, 1, 6, 0, 0);
		out[n++] = BPF_I(BPF_I_CALL, 0, 0, 0, PONY_BPF_LOAD64); /* r0 = node->next */
		out[n++] = BPF_I(BPF_I_MOV64_X, 6, 0, 0, 0);
		out[n++] = BPF_I(BPF_I_ADD64_K, 7, 0, 0, -1);
	}
	/* done: r8 = node->value; append the node's offset; return the value */
	out[n++] = BPF_I(BPF_I_MOV64_X, 1, 6, 0, 0);
	out[n++] = BPF_I(BPF_I_ADD64_K, 1, 0, 0, 8);
	out[n++] = BPF_I(BPF_I_CALL, 0, 0, 0, PONY_BPF_LOAD64);
	out[n++] = BPF_I(BPF_I_MOV64_X, 8, 0, 0, 0);
	out[n++] = BPF_I(BPF_I_MOV64_X, 1, 6, 0, 0);
	out[n++] = BPF_I(BPF_I_CALL, 0, 0, 0, PONY_BPF_EMIT64);
	out[n++] = BPF_I(BPF_I_MOV64_X, 0, 8, 0, 0);
	out[n++] = BPF_I(BPF_I_EXIT, 0, 0, 0, 0);
	return n;
}

/* A table of records {u64 key, u64 value} in the region. Argument block of "scan": table
 * offset, records (at most BPF_SCAN_MAX), want, mask. Result: return value = the number of
 * records with (key & mask) == want; appended: those records (16 bytes each, in order; at
 * most PONY_BPF_RESULT_MAX / 16 fit, more fault the run). */
struct bpf_scan_rec {
	uint64_t key, value;
};
struct bpf_scan_args {
	uint64_t table, n, want, mask;
};
#define BPF_SCAN_MAX 16u
#define BPF_SCAN_REC_INSNS 25u

/* As for the walk. Branch-free: a record that does not match (or lies past the records
 * asked for) is "emitted" with length 0, so the program has a single path and its
 * validation costs its length (PONY_BPF_STEPS_MAX; with a branch per record it would
 * double per record). */
static inline uint32_t bpf_scan_len(void)
{
	return 6 + BPF_SCAN_MAX * BPF_SCAN_REC_INSNS + 2;
}
/* dst = (dst != 0), through tmp, without a branch: the sign bit of dst | -dst. */
static inline uint32_t bpf_nonzero(struct pony_bpf_insn *out, uint32_t n, uint8_t dst,
				   uint8_t tmp)
{
	out[n++] = BPF_I(BPF_I_MOV64_X, tmp, dst, 0, 0);
	out[n++] = BPF_I(BPF_I_NEG64, tmp, 0, 0, 0);
	out[n++] = BPF_I(BPF_I_OR64_X, dst, tmp, 0, 0);
	out[n++] = BPF_I(BPF_I_RSH64_K, dst, 0, 0, 63);
	return n;
}
static inline uint32_t bpf_scan_prog(struct pony_bpf_insn *out)
{
	uint32_t n = 0;
	out[n++] = BPF_I(BPF_I_LDXDW, 6, 1, 0, 0);   /* r6 = record offset */
	out[n++] = BPF_I(BPF_I_LDXDW, 7, 1, 8, 0);   /* r7 = records left */
	out[n++] = BPF_I(BPF_I_LDXDW, 8, 1, 16, 0);  /* r8 = want */
	out[n++] = BPF_I(BPF_I_LDXDW, 2, 1, 24, 0);
	out[n++] = BPF_I(BPF_I_STXDW, 10, 2, -8, 0); /* mask on the stack */
	out[n++] = BPF_I(BPF_I_MOV64_K, 9, 0, 0, 0); /* r9 = matches */
	for (uint32_t k = 0; k < BPF_SCAN_MAX; k++) {
		out[n++] = BPF_I(BPF_I_MOV64_X, 1, 6, 0, 0);
		out[n++] = BPF_I(BPF_I_CALL, 0, 0, 0, PONY_BPF_LOAD64);  /* r0 = key */
		out[n++] = BPF_I(BPF_I_LDXDW, 2, 10, -8, 0);
		out[n++] = BPF_I(BPF_I_AND64_X, 0, 2, 0, 0);
		out[n++] = BPF_I(BPF_I_XOR64_X, 0, 8, 0, 0);             /* 0 iff it matches */
		n = bpf_nonzero(out, n, 0, 2);
		out[n++] = BPF_I(BPF_I_XOR64_K, 0, 0, 0, 1);             /* r0 = matches */
		out[n++] = BPF_I(BPF_I_MOV64_X, 3, 7, 0, 0);
		n = bpf_nonzero(out, n, 3, 4);                           /* r3 = records left */
		out[n++] = BPF_I(BPF_I_AND64_X, 0, 3, 0, 0);
		out[n++] = BPF_I(BPF_I_STXDW, 10, 3, -16, 0);            /* (calls clobber r3) */
		out[n++] = BPF_I(BPF_I_ADD64_X, 9, 0, 0, 0);
		out[n++] = BPF_I(BPF_I_MOV64_X, 2, 0, 0, 0);
		out[n++] = BPF_I(BPF_I_LSH64_K, 2, 0, 0, 4);             /* 16 bytes or 0 */
		out[n++] = BPF_I(BPF_I_MOV64_X, 1, 6, 0, 0);
		out[n++] = BPF_I(BPF_I_CALL, 0, 0, 0, PONY_BPF_EMIT);
		out[n++] = BPF_I(BPF_I_LDXDW, 3, 10, -16, 0);
		out[n++] = BPF_I(BPF_I_SUB64_X, 7, 3, 0, 0);
		out[n++] = BPF_I(BPF_I_ADD64_K, 6, 0, 0, (int32_t)sizeof(struct bpf_scan_rec));
	}
	out[n++] = BPF_I(BPF_I_MOV64_X, 0, 9, 0, 0);
	out[n++] = BPF_I(BPF_I_EXIT, 0, 0, 0, 0);
	return n;
}
