/* libpony's key-value table layout (public, installed next to <pony.h>) and the RPC messages
 * of the KV example (tools/examples/kv_*.c). The table lives in a registered memory region so
 * that clients can GET without the server app: the one-sided scan-and-read op
 * (pony_scan_read, executed by the server's engine in pony/onesided_exec.c) searches exactly
 * this layout; PUT (and GET without -o) go through RPC messages.
 * This layout is a contract between server, clients and the Pony engine's scan op: bump
 * KV_VERSION on any change (the engine refuses other versions with -EILSEQ).
 *
 * Region = struct kv_table_hdr, then n_buckets (power of two) struct kv_bucket.
 * Lookup: h = kv_hash(key); probe buckets (h + i) & (n_buckets - 1) for i < KV_PROBE_MAX;
 * a bucket with key_len == 0 and seq even ends the probe (never used), a bucket whose
 * hash, key_len and key match is the entry. Deleted entries keep key_len == 0 and
 * KV_BUCKET_TOMBSTONE in flags, so probing continues past them.
 * Consistency (seqlock): the server makes seq odd, writes the bucket, makes seq even; a
 * one-sided reader copies the bucket and accepts it only if seq was even and equal in the
 * copies before and after reading the rest (retry otherwise).
 * All integers are little-endian (x86/arm64 hosts); the region holds no pointers. */
#pragma once

#include <stdint.h>
#include <string.h>

/* Usable from C11 and C++ (installed header). */
#ifdef __cplusplus
#define KV_STATIC_ASSERT static_assert
#else
#define KV_STATIC_ASSERT _Static_assert
#endif

#define KV_MAGIC 0x31564b594e4f50ull /* "PONYKV1" */
#define KV_VERSION 1u
#define KV_KEY_MAX 24u
#define KV_VAL_MAX 88u
#define KV_PROBE_MAX 8u
#define KV_BUCKET_TOMBSTONE 1u

struct kv_table_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t n_buckets;   /* power of two */
	uint32_t bucket_size; /* sizeof(struct kv_bucket) */
	uint32_t probe_max;   /* KV_PROBE_MAX */
	uint64_t bucket_off;  /* from the region start */
	uint8_t pad[32];
};

struct kv_bucket {
	uint32_t seq;     /* seqlock: odd while the server writes */
	uint8_t key_len;  /* 0: empty or deleted */
	uint8_t flags;    /* KV_BUCKET_* */
	uint16_t val_len;
	uint64_t hash;
	char key[KV_KEY_MAX];
	char val[KV_VAL_MAX];
};

KV_STATIC_ASSERT(sizeof(struct kv_table_hdr) == 64, "kv header: one cache line");
KV_STATIC_ASSERT(sizeof(struct kv_bucket) == 128, "kv bucket: two cache lines");

/* FNV-1a, 64 bit: simple, stable across builds and hosts (part of the contract). */
static inline uint64_t kv_hash(const void *key, unsigned len)
{
	const uint8_t *p = (const uint8_t *)key;
	uint64_t h = 0xcbf29ce484222325ull;
	for (unsigned i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static inline uint64_t kv_region_size(uint32_t n_buckets)
{
	return sizeof(struct kv_table_hdr) + (uint64_t)n_buckets * sizeof(struct kv_bucket);
}

static inline struct kv_bucket *kv_buckets(struct kv_table_hdr *t)
{
	return (struct kv_bucket *)((char *)t + t->bucket_off);
}

static inline void kv_init(struct kv_table_hdr *t, uint32_t n_buckets)
{
	memset(t, 0, kv_region_size(n_buckets));
	t->magic = KV_MAGIC;
	t->version = KV_VERSION;
	t->n_buckets = n_buckets;
	t->bucket_size = sizeof(struct kv_bucket);
	t->probe_max = KV_PROBE_MAX;
	t->bucket_off = sizeof(*t);
}

/* Find key: the bucket, or NULL. */
static inline struct kv_bucket *kv_find(struct kv_table_hdr *t, const char *key, unsigned klen)
{
	uint64_t h = kv_hash(key, klen);
	struct kv_bucket *b = kv_buckets(t);
	for (uint32_t i = 0; i < t->probe_max; i++) {
		struct kv_bucket *x = &b[(h + i) & (t->n_buckets - 1)];
		if (x->key_len == 0 && !(x->flags & KV_BUCKET_TOMBSTONE))
			return NULL;
		if (x->key_len == klen && x->hash == h && memcmp(x->key, key, klen) == 0)
			return x;
	}
	return NULL;
}

/* Insert or replace (server side; single writer). 0, -1 bad sizes, -2 no bucket free within
 * the probe window. */
static inline int kv_put(struct kv_table_hdr *t, const char *key, unsigned klen,
			 const void *val, unsigned vlen)
{
	if (klen == 0 || klen > KV_KEY_MAX || vlen > KV_VAL_MAX)
		return -1;
	uint64_t h = kv_hash(key, klen);
	struct kv_bucket *x = kv_find(t, key, klen);
	for (uint32_t i = 0; x == NULL && i < t->probe_max; i++) {
		struct kv_bucket *c = &kv_buckets(t)[(h + i) & (t->n_buckets - 1)];
		if (c->key_len == 0)
			x = c;
	}
	if (x == NULL)
		return -2;
	__atomic_store_n(&x->seq, x->seq + 1, __ATOMIC_RELAXED); /* odd: readers retry */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	x->hash = h;
	x->key_len = (uint8_t)klen;
	x->flags = 0;
	x->val_len = (uint16_t)vlen;
	memcpy(x->key, key, klen);
	memcpy(x->val, val, vlen);
	__atomic_store_n(&x->seq, x->seq + 1, __ATOMIC_RELEASE); /* even: consistent */
	return 0;
}

/* RPC messages (one Pony message each). */
enum kv_op { KV_GET = 1, KV_PUT = 2, KV_INFO = 3 };
enum kv_status { KV_OK = 0, KV_NOT_FOUND = 1, KV_FULL = 2, KV_BAD = 3 };

struct kv_req {
	uint8_t op;       /* enum kv_op */
	uint8_t key_len;
	uint16_t val_len;
	uint32_t id;      /* echoed in the response */
	char data[KV_KEY_MAX + KV_VAL_MAX]; /* key, then value (PUT) */
};

struct kv_resp {
	uint8_t status;   /* enum kv_status */
	uint8_t pad;
	uint16_t val_len;
	uint32_t id;
	char val[KV_VAL_MAX];
};

/* KV_INFO response value: where a one-sided reader finds the table. */
struct kv_info {
	uint32_t region;  /* region id from pony_region_register */
	uint32_t n_buckets;
	uint64_t key;     /* the region's access key */
};
KV_STATIC_ASSERT(sizeof(struct kv_info) <= KV_VAL_MAX, "info fits a value");
