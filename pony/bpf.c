/* eBPF custom one-sided ops (pony/bpf.h): loading through DPDK's rte_bpf (its validator, and
 * its interpreter for the runs) and runs whose every region access goes through a
 * bounds-checked helper. The helpers find the run's state in a thread-local pointer set
 * around the program call (a program cannot name
 * it, so it cannot forge it). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_bpf.h>
#include <rte_byteorder.h>
#include <rte_errno.h>

#include "pony/bpf.h"
#include "pony/bpf_check.h"

_Static_assert(sizeof(struct pony_bpf_insn) == sizeof(struct ebpf_insn), "pony.h's insn layout");
_Static_assert(PONY_OS_BPF_IN_MAX == 1 + PONY_BPF_NAME_MAX + PONY_BPF_ARG_MAX, "wire: BPF in");
_Static_assert(PONY_OS_BPF_OUT_MAX == 8 + PONY_BPF_RESULT_MAX, "wire: BPF out");

/* State of the run in progress (engine thread; NULL outside a run). */
struct bpf_run {
	const struct pony_os_region *rg;
	uint8_t *out;     /* result bytes (after the return value) */
	size_t room, len; /* out's room, bytes appended */
	uint32_t calls;
	bool fault;
};
static __thread struct bpf_run *cur;

static inline bool in_bounds(uint64_t rlen, uint64_t off, uint64_t len)
{
	return off <= rlen && len <= rlen - off;
}

/* Every helper starts here: false (and the run faulted) when the budget is spent or the
 * run already faulted, so a faulted program can do nothing more. */
static bool call_ok(struct bpf_run *r)
{
	if (r == NULL || r->fault)
		return false;
	if (++r->calls > PONY_BPF_CALLS_MAX) {
		r->fault = true;
		return false;
	}
	return true;
}

static bool region_ok(struct bpf_run *r, uint64_t off, uint64_t len, uint32_t perm)
{
	if ((r->rg->perms & perm) != perm || !in_bounds(r->rg->len, off, len)) {
		r->fault = true;
		return false;
	}
	return true;
}

static uint64_t h_load64(uint64_t off, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5)
{
	(void)a2, (void)a3, (void)a4, (void)a5;
	struct bpf_run *r = cur;
	uint64_t v = 0;
	if (call_ok(r) && region_ok(r, off, 8, PONY_OS_PERM_READ))
		memcpy(&v, r->rg->base + off, 8);
	return v;
}

static uint64_t h_store64(uint64_t off, uint64_t val, uint64_t a3, uint64_t a4, uint64_t a5)
{
	(void)a3, (void)a4, (void)a5;
	struct bpf_run *r = cur;
	if (call_ok(r) && region_ok(r, off, 8, PONY_OS_PERM_WRITE))
		memcpy(r->rg->base + off, &val, 8);
	return 0;
}

static uint64_t h_emit(uint64_t off, uint64_t len, uint64_t a3, uint64_t a4, uint64_t a5)
{
	(void)a3, (void)a4, (void)a5;
	struct bpf_run *r = cur;
	if (!call_ok(r) || !region_ok(r, off, len, PONY_OS_PERM_READ))
		return 0;
	if (len > r->room - r->len) {
		r->fault = true;
		return 0;
	}
	memcpy(r->out + r->len, r->rg->base + off, len);
	r->len += len;
	return len;
}

static uint64_t h_emit64(uint64_t val, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5)
{
	(void)a2, (void)a3, (void)a4, (void)a5;
	struct bpf_run *r = cur;
	if (!call_ok(r))
		return 0;
	if (r->room - r->len < 8) {
		r->fault = true;
		return 0;
	}
	uint64_t le = rte_cpu_to_le_64(val);
	memcpy(r->out + r->len, &le, 8);
	r->len += 8;
	return 8;
}

static uint64_t h_region_len(uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5)
{
	(void)a1, (void)a2, (void)a3, (void)a4, (void)a5;
	struct bpf_run *r = cur;
	return call_ok(r) ? r->rg->len : 0;
}

#define RAW {.type = RTE_BPF_ARG_RAW, .size = sizeof(uint64_t)}
#define FUNC(name_, fn, n, ...)                                                            \
	{.name = name_, .type = RTE_BPF_XTYPE_FUNC,                                        \
	 .func = {.val = fn, .nb_args = n, .args = {__VA_ARGS__}, .ret = RAW}}
/* Indexed by enum pony_bpf_helper (the EBPF_CALL imm). */
static const struct rte_bpf_xsym helpers[PONY_BPF_HELPERS] = {
	[PONY_BPF_LOAD64] = FUNC("snap_load64", h_load64, 1, RAW),
	[PONY_BPF_STORE64] = FUNC("snap_store64", h_store64, 2, RAW, RAW),
	[PONY_BPF_EMIT] = FUNC("snap_emit", h_emit, 2, RAW, RAW),
	[PONY_BPF_EMIT64] = FUNC("snap_emit64", h_emit64, 1, RAW),
	[PONY_BPF_REGION_LEN] = FUNC("snap_region_len", h_region_len, 0),
};

static const int reason_errno[] = {
#define PONY_BPF_X_ERRNO(e, s, errno_) errno_,
	PONY_BPF_REASONS(PONY_BPF_X_ERRNO)
#undef PONY_BPF_X_ERRNO
};

static int refuse(unsigned *reason, unsigned why)
{
	*reason = why;
	return reason_errno[why];
}

static bool name_ok(const char *name, size_t len)
{
	if (len == 0 || len > PONY_BPF_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (name[i] <= ' ' || name[i] > '~')
			return false;
	return true;
}

struct pony_bpf_prog *pony_bpf_table_find(struct pony_bpf_table *t, uint32_t region,
				    const uint8_t *name, size_t name_len)
{
	if (t == NULL || region == 0)
		return NULL;
	for (unsigned i = 0; i < PONY_BPF_PROGS_PER_APP; i++) {
		struct pony_bpf_prog *p = &t->p[i];
		if (p->region == region && p->name_len == name_len &&
		    memcmp(p->name, name, name_len) == 0)
			return p;
	}
	return NULL;
}

int pony_bpf_table_load(struct pony_bpf_table **tp, uint32_t region, const char *name,
		  size_t name_len, const void *ins, uint32_t n, unsigned *reason)
{
	if (region == 0)
		return refuse(reason, PONY_BPF_R_NO_REGION);
	if (!name_ok(name, name_len))
		return refuse(reason, PONY_BPF_R_NAME);
	if (n == 0 || n > PONY_BPF_INSNS_MAX || ins == NULL)
		return refuse(reason, PONY_BPF_R_SIZE);
	struct pony_bpf_table *t = *tp;
	if (pony_bpf_table_find(t, region, (const uint8_t *)name, name_len))
		return refuse(reason, PONY_BPF_R_EXISTS);
	unsigned in_region = 0;
	struct pony_bpf_prog *slot = NULL;
	for (unsigned i = 0; t && i < PONY_BPF_PROGS_PER_APP; i++) {
		if (t->p[i].region == region)
			in_region++;
		else if (t->p[i].region == 0 && slot == NULL)
			slot = &t->p[i];
	}
	if (in_region >= PONY_BPF_PROGS_PER_REGION)
		return refuse(reason, PONY_BPF_R_LIMIT_REGION);
	if (t && slot == NULL)
		return refuse(reason, PONY_BPF_R_LIMIT_APP);
	/* rte_bpf validates and runs its own copy of the code; ours is taken first so the
	 * validator never reads memory the app may change under it. */
	struct ebpf_insn *copy = malloc((size_t)n * sizeof(*copy));
	if (copy == NULL)
		return refuse(reason, PONY_BPF_R_NO_MEM);
	memcpy(copy, ins, (size_t)n * sizeof(*copy));
	/* What rte_bpf 22.11 gets wrong or does not check (pony/bpf_check.h), on the copy
	 * it will see. */
	uint8_t nargs[PONY_BPF_HELPERS];
	for (unsigned h = 0; h < PONY_BPF_HELPERS; h++)
		nargs[h] = (uint8_t)helpers[h].func.nb_args;
	unsigned why = pony_bpf_precheck(copy, n, nargs);
	if (why != PONY_BPF_R_OK) {
		free(copy);
		return refuse(reason, why);
	}
	struct rte_bpf_prm prm = {
		.ins = copy, .nb_ins = n, .xsym = helpers, .nb_xsym = PONY_BPF_HELPERS,
		.prog_arg = {.type = RTE_BPF_ARG_PTR, .size = PONY_BPF_ARG_MAX},
	};
	struct rte_bpf *bpf = rte_bpf_load(&prm);
	int err = rte_errno;
	free(copy);
	if (bpf == NULL)
		return refuse(reason, err == ENOMEM ? PONY_BPF_R_NO_MEM : PONY_BPF_R_VERIFY);
	if (t == NULL) {
		t = calloc(1, sizeof(*t));
		if (t == NULL) {
			rte_bpf_destroy(bpf);
			return refuse(reason, PONY_BPF_R_NO_MEM);
		}
		*tp = t;
		slot = &t->p[0];
	}
	/* Run by rte_bpf's interpreter, not its x86 JIT: fuzzing found hostile programs the
	 * validator passes whose JIT code crashes (22.11), and the interpreter survived 3.6
	 * million of the fuzzer's programs where the JIT fell within seconds. */
	*slot = (struct pony_bpf_prog){.region = region, .name_len = (uint8_t)name_len,
				       .bpf = bpf};
	memcpy(slot->name, name, name_len);
	t->n++;
	*reason = PONY_BPF_R_OK;
	return 0;
}

static void unload(struct pony_bpf_table *t, struct pony_bpf_prog *p)
{
	rte_bpf_destroy(p->bpf);
	memset(p, 0, sizeof(*p));
	t->n--;
}

void pony_bpf_table_unload(struct pony_bpf_table *t, uint32_t region)
{
	for (unsigned i = 0; t && i < PONY_BPF_PROGS_PER_APP; i++)
		if (t->p[i].region == region && region != 0)
			unload(t, &t->p[i]);
}

void pony_bpf_table_free(struct pony_bpf_table *t)
{
	if (t == NULL)
		return;
	for (unsigned i = 0; i < PONY_BPF_PROGS_PER_APP; i++)
		if (t->p[i].region)
			unload(t, &t->p[i]);
	free(t);
}

unsigned pony_bpf_prog_run(struct pony_bpf_prog *p, const struct pony_os_region *rg,
		      const uint8_t *arg, size_t arg_len, uint8_t *out, size_t out_room,
		      size_t *out_len)
{
	*out_len = 0;
	if (out_room < 8 || arg_len > PONY_BPF_ARG_MAX)
		return PONY_OS_ST_BAD_REQ;
	/* The program may read all PONY_BPF_ARG_MAX bytes at R1 (the validator holds it to
	 * that): what the caller did not send reads as zero. */
	uint64_t argbuf[PONY_BPF_ARG_MAX / 8];
	memset(argbuf, 0, sizeof(argbuf));
	if (arg_len)
		memcpy(argbuf, arg, arg_len);
	size_t room = out_room - 8;
	struct bpf_run run = {.rg = rg, .out = out + 8,
			      .room = room < PONY_BPF_RESULT_MAX ? room : PONY_BPF_RESULT_MAX};
	cur = &run;
	uint64_t ret = rte_bpf_exec(p->bpf, argbuf);
	cur = NULL;
	p->runs++;
	if (run.fault) {
		p->faults++;
		return PONY_OS_ST_FAULT;
	}
	ret = rte_cpu_to_le_64(ret);
	memcpy(out, &ret, 8);
	*out_len = 8 + run.len;
	return PONY_OS_ST_OK;
}
