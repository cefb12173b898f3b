/* libpony's memory regions and one-sided operations (pony.h "One-sided operations"): each
 * call checks its arguments, places its operands in the app's payload buffer where the op
 * needs them, and queues one command; the daemon checks everything again. */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "internal.h"

int pony_region_register(struct pony_app *a, void *buf, uint64_t len, uint32_t perms,
			 uint64_t tag)
{
	uint64_t off;
	if (perms == 0 || (perms & ~(uint32_t)(PONY_REGION_READ | PONY_REGION_WRITE)) || len == 0)
		return -EINVAL;
	if (pony_buf_off(a, buf, len, &off))
		return -EFAULT;
	struct pony_shm_cmd c = {.op = PONY_OP_REGION_REG, .off = off, .len = len,
				 .perms = perms, .tag = tag};
	return pony_cmd_push(a, &c);
}

/* One-sided ops: the command names the remote (ip, port, region, key, offset) and a local
 * buffer; the daemon checks everything again. */
static int onesided(struct pony_app *a, uint8_t op, uint8_t flags, const struct pony_remote *rm,
		    uint64_t roff, const void *buf, uint32_t len, uint32_t key_len, uint64_t tag)
{
	uint64_t off;
	if (rm == NULL || buf == NULL || len == 0 || len > PONY_ONESIDED_MAX)
		return -EINVAL;
	if (pony_buf_off(a, buf, len, &off))
		return -EFAULT;
	struct pony_shm_cmd c = {.op = op, .flags = flags, .service = rm->port, .ip = rm->ip,
				 .region = rm->region, .rkey = rm->key, .roff = roff, .off = off,
				 .len = len, .count = key_len, .tag = tag};
	return pony_cmd_push_peer(a, &c);
}

/* A READ or WRITE over PONY_ONESIDED_MAX: all its pieces are queued or none (so the ring
 * must have room for every one), each with PONY_CMDF_PIECE and the large op's slot as tag. */
static int large(struct pony_app *a, uint8_t op, const struct pony_remote *rm, uint64_t roff,
		 const void *buf, uint32_t len, uint64_t tag)
{
	uint64_t off;
	if (rm == NULL || buf == NULL || len > PONY_ONESIDED_LARGE_MAX)
		return -EINVAL;
	if (pony_buf_off(a, buf, len, &off))
		return -EFAULT;
	if (a->dead)
		return -EPIPE;
	unsigned slot = PONY_LARGE_OPS_MAX;
	for (unsigned i = 0; i < PONY_LARGE_OPS_MAX && slot == PONY_LARGE_OPS_MAX; i++)
		if (a->large[i].left == 0)
			slot = i;
	if (slot == PONY_LARGE_OPS_MAX)
		return -EBUSY;
	uint32_t pieces = (len + PONY_ONESIDED_MAX - 1) / PONY_ONESIDED_MAX;
	struct pony_shm_cmd probe = {.ip = rm->ip};
	a->cmd_head_cache = pony_shm_head(a->cmd_ring);
	if (a->cmd_tail - a->cmd_head_cache + pieces * pony_cmd_slots(&probe) > a->hdr.cmd_entries)
		return -EAGAIN;
	a->large[slot] = (struct pony_large_op){.tag = tag, .off = off, .len = len,
						.left = pieces, .op = op};
	for (uint32_t k = 0; k < pieces; k++) {
		uint32_t at = k * PONY_ONESIDED_MAX;
		uint32_t n = len - at < PONY_ONESIDED_MAX ? len - at : PONY_ONESIDED_MAX;
		struct pony_shm_cmd c = {.op = op, .flags = PONY_CMDF_PIECE, .service = rm->port,
					 .ip = rm->ip, .region = rm->region, .rkey = rm->key,
					 .roff = roff + at, .off = off + at, .len = n, .tag = slot};
		int r = pony_cmd_push_peer(a, &c);
		if (r) {
			/* Only the daemon going away now: the pieces queued complete with
			 * errors, the rest are counted as failed here. */
			a->large[slot].left -= pieces - k;
			a->large[slot].status = r;
			return k == 0 ? r : 0;
		}
	}
	return 0;
}

int pony_large_piece_done(struct pony_app *a, const struct pony_shm_cpl *c,
			  struct pony_completion *out)
{
	if (c->tag >= PONY_LARGE_OPS_MAX || a->large[c->tag].left == 0)
		return -EPROTO;
	struct pony_large_op *l = &a->large[c->tag];
	if (c->status && l->status == 0)
		l->status = c->status;
	if (--l->left)
		return 0;
	*out = (struct pony_completion){.tag = l->tag, .status = l->status, .op = l->op,
					.len = l->status ? 0 : l->len, .buf = a->buf + l->off};
	return 1;
}

int pony_read(struct pony_app *a, const struct pony_remote *rm, uint64_t off, void *buf,
	      uint32_t len, uint64_t tag)
{
	if (len > PONY_ONESIDED_MAX)
		return large(a, PONY_OP_READ, rm, off, buf, len, tag);
	return onesided(a, PONY_OP_READ, 0, rm, off, buf, len, 0, tag);
}

int pony_write(struct pony_app *a, const struct pony_remote *rm, uint64_t off, const void *buf,
	       uint32_t len, uint64_t tag)
{
	if (len > PONY_ONESIDED_MAX)
		return large(a, PONY_OP_WRITE, rm, off, buf, len, tag);
	return onesided(a, PONY_OP_WRITE, 0, rm, off, buf, len, 0, tag);
}

int pony_read_indirect(struct pony_app *a, const struct pony_remote *rm, uint64_t off, void *buf,
		       uint32_t len, unsigned flags, uint64_t tag)
{
	if (flags & ~PONY_INDIRECT_PTR)
		return -EINVAL;
	return onesided(a, PONY_OP_READ_INDIRECT, (flags & PONY_INDIRECT_PTR) ? PONY_CMDF_IND_PTR : 0,
			rm, off, buf, len, 0, tag);
}

int pony_scan_read(struct pony_app *a, const struct pony_remote *rm, uint64_t off,
		   const void *key, uint32_t key_len, void *buf, uint32_t len, uint64_t tag)
{
	if (key == NULL || key_len == 0 || key_len > PONY_SCAN_KEY_MAX || key_len > len)
		return -EINVAL;
	uint64_t boff;
	if (buf == NULL || pony_buf_off(a, buf, len, &boff))
		return buf == NULL ? -EINVAL : -EFAULT;
	/* The key travels at the start of the buffer (the daemon copies it at once). */
	memmove(buf, key, key_len);
	return onesided(a, PONY_OP_SCAN_READ, 0, rm, off, buf, len, key_len, tag);
}

int pony_fetch_add(struct pony_app *a, const struct pony_remote *rm, uint64_t off, uint64_t add,
		   uint64_t *res, uint64_t tag)
{
	if (res == NULL)
		return -EINVAL;
	uint64_t le = htole64(add);
	uint64_t boff;
	if (pony_buf_off(a, res, 8, &boff))
		return -EFAULT;
	memcpy(res, &le, 8); /* the operand travels in the buffer (copied by the daemon) */
	return onesided(a, PONY_OP_FETCH_ADD, 0, rm, off, res, 8, 0, tag);
}

int pony_cmp_swap(struct pony_app *a, const struct pony_remote *rm, uint64_t off, uint64_t expect,
		  uint64_t swap, uint64_t *res, uint64_t tag)
{
	if (res == NULL)
		return -EINVAL;
	uint64_t le[2] = {htole64(expect), htole64(swap)};
	uint64_t boff;
	if (pony_buf_off(a, res, 16, &boff))
		return -EFAULT;
	memcpy(res, le, 16);
	return onesided(a, PONY_OP_CMP_SWAP, 0, rm, off, res, 16, 0, tag);
}

int pony_region_revoke(struct pony_app *a, uint32_t region, uint64_t tag)
{
	struct pony_shm_cmd c = {.op = PONY_OP_REGION_REVOKE, .region = region, .tag = tag};
	return pony_cmd_push(a, &c);
}


const char *pony_bpf_reason_name(unsigned reason)
{
	static const char *const names[] = {
#define PONY_BPF_X_NAME(e, s, errno_) s,
		PONY_BPF_REASONS(PONY_BPF_X_NAME)
#undef PONY_BPF_X_NAME
	};
	return reason < sizeof(names) / sizeof(names[0]) ? names[reason] : "?";
}

int pony_bpf_load(struct pony_app *a, uint32_t region, const char *name,
		  const struct pony_bpf_insn *ins, uint32_t n, uint64_t tag)
{
	if (name == NULL || ins == NULL || n == 0 || n > PONY_BPF_INSNS_MAX ||
	    strnlen(name, PONY_BPF_LOAD_HDR) > PONY_BPF_NAME_MAX || name[0] == 0)
		return -EINVAL;
	size_t len = PONY_BPF_LOAD_HDR + (size_t)n * sizeof(*ins);
	uint8_t *b = pony_buf_alloc(a, len);
	if (b == NULL)
		return -ENOMEM;
	memset(b, 0, PONY_BPF_LOAD_HDR);
	memcpy(b, name, strlen(name));
	memcpy(b + PONY_BPF_LOAD_HDR, ins, (size_t)n * sizeof(*ins));
	uint64_t off;
	pony_buf_off(a, b, len, &off);
	/* The daemon copies the program at once; the library frees b at the completion. */
	struct pony_shm_cmd c = {.op = PONY_OP_BPF_LOAD, .flags = PONY_CMDF_FREE_ON_DONE,
				 .region = region, .off = off, .len = len, .count = n, .tag = tag};
	int r = pony_cmd_push(a, &c);
	if (r)
		pony_buf_free(a, b);
	return r;
}

int pony_bpf_call(struct pony_app *a, const struct pony_remote *rm, const char *name,
		  const void *arg, uint32_t arg_len, void *buf, uint32_t len, uint64_t tag)
{
	size_t nl = name ? strnlen(name, PONY_BPF_NAME_MAX + 1) : 0;
	uint32_t req = 1 + (uint32_t)nl + arg_len;
	if (nl == 0 || nl > PONY_BPF_NAME_MAX || arg_len > PONY_BPF_ARG_MAX ||
	    (arg_len && arg == NULL) || buf == NULL || len < 8 || len < req)
		return -EINVAL;
	uint64_t boff;
	if (pony_buf_off(a, buf, len, &boff))
		return -EFAULT;
	/* The request travels at the start of the buffer (arg may overlap it). */
	uint8_t *p = buf;
	if (arg_len)
		memmove(p + 1 + nl, arg, arg_len);
	p[0] = (uint8_t)nl;
	memcpy(p + 1, name, nl);
	return onesided(a, PONY_OP_BPF_CALL, 0, rm, 0, buf, len, req, tag);
}
