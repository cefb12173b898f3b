/* One-sided op records (WIRE.md "One-sided payloads") and their execution against a region.
 * Pure functions over bytes: the remote engine runs them on requests from the network and the
 * fuzzer runs them on anything. Every offset is checked against the region before use, with
 * subtraction instead of addition so no sum can overflow; region contents (descriptors,
 * table headers) are copied once and then checked, so a concurrent app write cannot move an
 * access outside after the check. */
#include <errno.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_byteorder.h>

#include "pony/bpf.h"
#include "pony/bytes.h"
#include "pony/onesided.h"
#include "pony_kv.h"

static const char *const st_names[] = {
#define PONY_OS_X_NAME(e, s, errno_) s,
	PONY_OS_STATUSES(PONY_OS_X_NAME)
#undef PONY_OS_X_NAME
};

static const int st_errno[] = {
#define PONY_OS_X_ERRNO(e, s, errno_) errno_,
	PONY_OS_STATUSES(PONY_OS_X_ERRNO)
#undef PONY_OS_X_ERRNO
};

const char *pony_os_status_name(unsigned st)
{
	return st < PONY_OS_ST_MAX ? st_names[st] : "?";
}

int pony_os_status_errno(unsigned st)
{
	return st < PONY_OS_ST_MAX ? st_errno[st] : -EPROTO;
}

size_t pony_os_put_req(uint8_t *out, const struct pony_os_rec *r)
{
	out[PONY_OSQ_OPCODE] = r->opcode;
	out[PONY_OSQ_FLAGS] = r->flags;
	pony_wr16(out + PONY_OSQ_DATA_LEN, r->data_len);
	pony_wr32(out + PONY_OSQ_OP_ID, r->op_id);
	pony_wr32(out + PONY_OSQ_REGION, r->region);
	pony_wr32(out + PONY_OSQ_LEN, r->len);
	pony_wr64(out + PONY_OSQ_KEY, r->key);
	pony_wr64(out + PONY_OSQ_OFF, r->off);
	if (r->data_len)
		memcpy(out + PONY_OS_REQ_HDR, r->data, r->data_len);
	return PONY_OS_REQ_HDR + r->data_len;
}

int pony_os_parse_req(const uint8_t *p, size_t len, unsigned expected, struct pony_os_rec *out,
		      unsigned max)
{
	unsigned n = 0;
	size_t at = 0;
	while (at < len) {
		if (n >= max || len - at < PONY_OS_REQ_HDR)
			return -EBADMSG;
		struct pony_os_rec *r = &out[n];
		const uint8_t *q = p + at;
		r->opcode = q[PONY_OSQ_OPCODE];
		r->flags = q[PONY_OSQ_FLAGS];
		r->data_len = pony_rd16(q + PONY_OSQ_DATA_LEN);
		r->op_id = pony_rd32(q + PONY_OSQ_OP_ID);
		r->region = pony_rd32(q + PONY_OSQ_REGION);
		r->len = pony_rd32(q + PONY_OSQ_LEN);
		r->key = pony_rd64(q + PONY_OSQ_KEY);
		r->off = pony_rd64(q + PONY_OSQ_OFF);
		at += PONY_OS_REQ_HDR;
		if (len - at < r->data_len)
			return -EBADMSG;
		r->data = p + at;
		at += r->data_len;
		n++;
	}
	return n == expected && n > 0 ? (int)n : -EBADMSG;
}

int pony_os_parse_resp(const uint8_t *p, size_t len, unsigned expected, struct pony_os_resp *out,
		       unsigned max)
{
	unsigned n = 0;
	size_t at = 0;
	while (at < len) {
		if (n >= max || len - at < PONY_OS_RESP_HDR)
			return -EBADMSG;
		struct pony_os_resp *r = &out[n];
		const uint8_t *q = p + at;
		r->op_id = pony_rd32(q + PONY_OSR_OP_ID);
		r->status = q[PONY_OSR_STATUS];
		if (q[PONY_OSR_RESERVED] != 0)
			return -EBADMSG;
		r->data_len = pony_rd16(q + PONY_OSR_DATA_LEN);
		r->len = pony_rd32(q + PONY_OSR_LEN);
		at += PONY_OS_RESP_HDR;
		if (len - at < r->data_len)
			return -EBADMSG;
		r->data = p + at;
		at += r->data_len;
		n++;
	}
	return n == expected && n > 0 ? (int)n : -EBADMSG;
}

/* [off, off + len) inside a region of rlen bytes, overflow-free. */
static inline bool in_bounds(uint64_t rlen, uint64_t off, uint64_t len)
{
	return off <= rlen && len <= rlen - off;
}

/* The one place a response record is written: never more than room bytes. Data that does
 * not fit is not written; the record then says BAD_REQ (the requester packed more than one
 * response packet can answer). room < PONY_OS_RESP_HDR writes nothing and returns 0. */
static size_t resp(uint8_t *out, size_t room, const struct pony_os_rec *r, unsigned st,
		   uint32_t len, const uint8_t *data, uint16_t data_len, unsigned *status)
{
	*status = PONY_OS_ST_BAD_REQ;
	if (unlikely(room < PONY_OS_RESP_HDR))
		return 0;
	if (unlikely(data_len > room - PONY_OS_RESP_HDR)) {
		st = PONY_OS_ST_BAD_REQ;
		len = 0;
		data_len = 0;
	}
	pony_wr32(out + PONY_OSR_OP_ID, r->op_id);
	out[PONY_OSR_STATUS] = (uint8_t)st;
	out[PONY_OSR_RESERVED] = 0;
	pony_wr16(out + PONY_OSR_DATA_LEN, data_len);
	pony_wr32(out + PONY_OSR_LEN, len);
	if (data_len)
		memcpy(out + PONY_OS_RESP_HDR, data, data_len);
	*status = st;
	return PONY_OS_RESP_HDR + data_len;
}

#define FAIL(st_) resp(out, room, r, (st_), 0, NULL, 0, status)

/* Scan the pony_kv.h table at [toff, ...) of the region for the key in r->data. The table
 * header and each probed bucket are copied out before use; the bucket copy is accepted only
 * under an even, unchanged seqlock. */
static size_t exec_scan(const struct pony_os_rec *r, const struct pony_os_region *rg,
			uint8_t *out, size_t room, unsigned *status)
{
	struct kv_table_hdr t;
	if (r->data_len == 0 || r->data_len > PONY_OS_KEY_MAX || r->data_len > KV_KEY_MAX)
		return FAIL(PONY_OS_ST_BAD_REQ);
	if (!in_bounds(rg->len, r->off, sizeof(t)))
		return FAIL(PONY_OS_ST_RANGE);
	const uint8_t *tb = rg->base + r->off;
	uint64_t tlen = rg->len - r->off;
	memcpy(&t, tb, sizeof(t));
	if (t.magic != KV_MAGIC || t.version != KV_VERSION || t.bucket_size != sizeof(struct kv_bucket) ||
	    t.n_buckets == 0 || (t.n_buckets & (t.n_buckets - 1)) || t.probe_max == 0 ||
	    t.probe_max > 64 || t.bucket_off < sizeof(t) || t.bucket_off > tlen ||
	    (tlen - t.bucket_off) / sizeof(struct kv_bucket) < t.n_buckets)
		return FAIL(PONY_OS_ST_BAD_TABLE);
	uint64_t h = kv_hash(r->data, r->data_len);
	const struct kv_bucket *b = (const struct kv_bucket *)(tb + t.bucket_off);
	for (uint32_t i = 0; i < t.probe_max; i++) {
		const struct kv_bucket *x = &b[(h + i) & (t.n_buckets - 1)];
		struct kv_bucket c;
		unsigned tries = 0;
		for (;;) {
			uint32_t s1 = __atomic_load_n(&x->seq, __ATOMIC_ACQUIRE);
			memcpy(&c, x, sizeof(c));
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			uint32_t s2 = __atomic_load_n(&x->seq, __ATOMIC_RELAXED);
			if (!(s1 & 1) && s1 == s2)
				break;
			if (++tries >= PONY_OS_SCAN_RETRIES)
				return FAIL(PONY_OS_ST_BUSY);
		}
		if (c.key_len == 0 && !(c.flags & KV_BUCKET_TOMBSTONE))
			break;
		if (c.key_len == r->data_len && c.hash == h && memcmp(c.key, r->data, c.key_len) == 0) {
			if (c.val_len > KV_VAL_MAX)
				return FAIL(PONY_OS_ST_BAD_TABLE);
			if (c.val_len > r->len)
				return resp(out, room, r, PONY_OS_ST_TOO_BIG, c.val_len, NULL, 0, status);
			return resp(out, room, r, PONY_OS_ST_OK, c.val_len, (const uint8_t *)c.val,
				    c.val_len, status);
		}
	}
	return FAIL(PONY_OS_ST_NOT_FOUND);
}

/* An atomic on the aligned word at off: the app owning the region may update it with its
 * own atomics at the same time, so the engine's access is one atomic instruction too. */
static size_t exec_atomic(const struct pony_os_rec *r, const struct pony_os_region *rg,
			  uint8_t *out, size_t room, unsigned *status)
{
	if (!in_bounds(rg->len, r->off, PONY_OS_ATOMIC_LEN))
		return FAIL(PONY_OS_ST_RANGE);
	uint8_t *w = rg->base + r->off;
	if ((uintptr_t)w % PONY_OS_ATOMIC_LEN)
		return FAIL(PONY_OS_ST_BAD_REQ); /* misaligned: no single-copy atomicity */
	uint64_t a, b, old;
	memcpy(&a, r->data, 8);
	a = rte_le_to_cpu_64(a);
	if (r->opcode == PONY_OS_FETCH_ADD) {
		old = __atomic_fetch_add((uint64_t *)w, a, __ATOMIC_SEQ_CST);
	} else {
		memcpy(&b, r->data + 8, 8);
		b = rte_le_to_cpu_64(b);
		old = a;
		__atomic_compare_exchange_n((uint64_t *)w, &old, b, false, __ATOMIC_SEQ_CST,
					    __ATOMIC_SEQ_CST);
	}
	old = rte_cpu_to_le_64(old);
	return resp(out, room, r, PONY_OS_ST_OK, PONY_OS_ATOMIC_LEN, (const uint8_t *)&old,
		    PONY_OS_ATOMIC_LEN, status);
}

/* Request data of a BPF op: {u8 name_len, name, args} with the name 1..PONY_BPF_NAME_MAX. */
static bool bpf_req_ok(const struct pony_os_rec *r)
{
	return r->flags == 0 && r->off == 0 && r->len >= 8 && r->len <= PONY_OS_BPF_OUT_MAX &&
	       r->data_len >= 2 && r->data_len <= PONY_OS_BPF_IN_MAX && r->data[0] >= 1 &&
	       r->data[0] <= PONY_BPF_NAME_MAX && r->data[0] < r->data_len &&
	       r->data_len - 1u - r->data[0] <= PONY_BPF_ARG_MAX;
}

/* Run the region's program named in the request (pony/bpf.h): its result (return value,
 * appended bytes) is the response data. */
static size_t exec_bpf(const struct pony_os_rec *r, const struct pony_os_region *rg,
		       uint8_t *out, size_t room, unsigned *status)
{
	uint8_t nl = r->data[0];
	struct pony_bpf_prog *p = pony_bpf_table_find(rg->bpf, rg->id, r->data + 1, nl);
	if (p == NULL) {
		if (rg->bpf)
			rg->bpf->no_prog++;
		return FAIL(PONY_OS_ST_NO_PROG);
	}
	uint8_t res[PONY_OS_BPF_OUT_MAX];
	size_t n;
	unsigned st = pony_bpf_prog_run(p, rg, r->data + 1 + nl, r->data_len - 1u - nl, res, r->len, &n);
	rg->bpf->runs++;
	rg->bpf->faults += st == PONY_OS_ST_FAULT;
	if (st != PONY_OS_ST_OK)
		return FAIL(st);
	return resp(out, room, r, PONY_OS_ST_OK, (uint32_t)n, res, (uint16_t)n, status);
}

size_t pony_os_exec(const struct pony_os_rec *r, const struct pony_os_region *rg, unsigned st,
		    uint8_t *out, size_t room, unsigned *status)
{
	if (unlikely(room < PONY_OS_RESP_HDR)) { /* nothing runs that could not be answered */
		*status = PONY_OS_ST_BAD_REQ;
		return 0;
	}
	uint16_t args = pony_os_atomic_args(r->opcode);
	if (r->opcode == 0 || r->opcode >= PONY_OS_OPCODE_MAX || r->len == 0 ||
	    r->len > PONY_OS_DATA_MAX ||
	    (r->flags & ~(r->opcode == PONY_OS_READ_INDIRECT ? PONY_OS_F_PTR : 0u)) ||
	    (args ? r->data_len != args || r->len != PONY_OS_ATOMIC_LEN
	     : r->opcode == PONY_OS_WRITE ? r->data_len != r->len
	     : r->opcode == PONY_OS_BPF   ? !bpf_req_ok(r)
					  : r->opcode != PONY_OS_SCAN_READ && r->data_len != 0))
		return FAIL(PONY_OS_ST_BAD_REQ);
	if (st != PONY_OS_ST_OK || rg == NULL)
		return FAIL(st != PONY_OS_ST_OK && st < PONY_OS_ST_MAX ? st : PONY_OS_ST_NO_TARGET);
	/* BPF: each helper checks the permission its access needs. */
	uint32_t need = args ? PONY_OS_PERM_READ | PONY_OS_PERM_WRITE
		      : r->opcode == PONY_OS_WRITE ? PONY_OS_PERM_WRITE
		      : r->opcode == PONY_OS_BPF   ? 0
						   : PONY_OS_PERM_READ;
	if ((rg->perms & need) != need)
		return FAIL(PONY_OS_ST_PERM);
	switch (r->opcode) {
	case PONY_OS_READ:
		if (!in_bounds(rg->len, r->off, r->len))
			return FAIL(PONY_OS_ST_RANGE);
		return resp(out, room, r, PONY_OS_ST_OK, r->len, rg->base + r->off, (uint16_t)r->len,
			    status);
	case PONY_OS_WRITE:
		if (!in_bounds(rg->len, r->off, r->len))
			return FAIL(PONY_OS_ST_RANGE);
		memcpy(rg->base + r->off, r->data, r->len);
		return resp(out, room, r, PONY_OS_ST_OK, r->len, NULL, 0, status);
	case PONY_OS_READ_INDIRECT: {
		if (!in_bounds(rg->len, r->off, 8))
			return FAIL(PONY_OS_ST_RANGE);
		uint8_t d[8];
		memcpy(d, rg->base + r->off, 8); /* one copy: checked and used from here */
		uint64_t doff;
		uint32_t dlen;
		if (r->flags & PONY_OS_F_PTR) {
			memcpy(&doff, d, 8);
			doff = rte_le_to_cpu_64(doff);
			dlen = r->len;
		} else {
			uint32_t o, l;
			memcpy(&o, d, 4);
			memcpy(&l, d + 4, 4);
			doff = rte_le_to_cpu_32(o);
			dlen = rte_le_to_cpu_32(l);
			if (dlen > r->len)
				return resp(out, room, r, PONY_OS_ST_TOO_BIG, dlen, NULL, 0, status);
		}
		if (!in_bounds(rg->len, doff, dlen))
			return FAIL(PONY_OS_ST_BAD_DESC);
		return resp(out, room, r, PONY_OS_ST_OK, dlen, rg->base + doff, (uint16_t)dlen, status);
	}
	case PONY_OS_SCAN_READ:
		return exec_scan(r, rg, out, room, status);
	case PONY_OS_FETCH_ADD:
	case PONY_OS_CMP_SWAP:
		return exec_atomic(r, rg, out, room, status);
	case PONY_OS_BPF:
		return exec_bpf(r, rg, out, room, status);
	}
	return FAIL(PONY_OS_ST_BAD_REQ);
}

int pony_os_answer(const struct pony_os_rec *rec, unsigned n, pony_os_resolve_fn resolve,
		   void *ctx, uint8_t *out, size_t room, struct pony_os_stats *st)
{
	/* Every record is answered, so a status record for each must fit before any data:
	 * the room kept for the records after k is reserved when record k is sized. */
	if (n == 0 || n > PONY_OS_BATCH_MAX || (size_t)n * PONY_OS_RESP_HDR > room)
		return -EMSGSIZE;
	size_t used = 0;
	for (unsigned k = 0; k < n; k++) {
		struct pony_os_rec r = rec[k];
		size_t avail = room - used - (size_t)(n - 1 - k) * PONY_OS_RESP_HDR;
		if (r.len > PONY_OS_DATA_MAX || pony_os_resp_worst(r.opcode, r.len) > avail)
			r.opcode = 0; /* does not fit the response packet: answered BAD_REQ */
		struct pony_os_region rg;
		unsigned rst = PONY_OS_ST_NO_TARGET, status;
		if (resolve && r.opcode)
			rst = resolve(ctx, r.region, r.key, &rg);
		used += pony_os_exec(&r, rst == PONY_OS_ST_OK ? &rg : NULL, rst, out + used, avail,
				     &status);
		st->executed++;
		if (status < PONY_OS_ST_COUNTED) /* later ones: pony/bpf.h counts them */
			st->status[status]++;
		if (status == PONY_OS_ST_OK) {
			if (r.opcode == PONY_OS_WRITE)
				st->bytes_written += r.len;
			else
				st->bytes_read += r.len;
		}
	}
	return (int)used;
}
