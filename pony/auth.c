/* Pony packet authentication at run time: derived keys cached per flow slot in keyed
 * EVP_CIPHER_CTXs, the transport-wide nonce, and the seal/open calls of the packet path.
 * Key files are read in auth_keys.c; the format is WIRE.md's "Authentication". */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "pony/auth.h"
#include "pony/bytes.h"
#include "snap/numa.h"

_Static_assert(PONY_AUTH_TRAILER == 12 + 16, "trailer = 96-bit nonce + 128-bit GCM tag");

/* One derived key, keyed into its own context; ident/key_id/gen say what it was derived for,
 * so a slot reused by another flow incarnation, another key id or a reloaded key file is
 * re-derived on first use instead of being invalidated eagerly. */
struct auth_slot {
	EVP_CIPHER_CTX *ctx;
	uint64_t gen; /* a->gen when keyed; 0: never */
	struct pony_auth_ident id;
	uint8_t key_id;
};

struct pony_auth {
	struct pony_auth_keyset ks;
	uint64_t gen;         /* bumped by every set_keys */
	uint32_t n_slots;
	uint8_t salt[4];      /* random per transport: nonces of two processes never meet */
	uint64_t ctr;         /* next nonce counter; random start, +1 per sealed packet */
	uint64_t derivations;
	EVP_CIPHER *cipher;   /* fetched once: an implicit fetch per re-key would search providers */
	EVP_KDF_CTX *kdf;
	struct auth_slot *slots; /* (n_slots + 1) * PONY_AUTH_KINDS */
};

_Static_assert(sizeof(struct pony_auth_ident) == 48, "ident is compared with memcmp: no padding");

struct pony_auth *pony_auth_create(uint32_t n_slots, const struct pony_auth_keyset *ks,
				    int socket_id)
{
	if (ks == NULL || ks->n == 0) {
		errno = EINVAL;
		return NULL;
	}
	struct pony_auth *a = snap_numa_calloc("pony_auth", 1, sizeof(*a), socket_id);
	if (a == NULL)
		return NULL;
	a->n_slots = n_slots;
	a->slots = snap_numa_calloc("pony_auth_slots", (size_t)(n_slots + 1) * PONY_AUTH_KINDS,
				    sizeof(*a->slots), socket_id);
	a->cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	a->kdf = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	EVP_KDF_free(kdf);
	bool ok = a->slots && a->cipher && a->kdf;
	for (size_t i = 0; ok && i < (size_t)(n_slots + 1) * PONY_AUTH_KINDS; i++)
		ok = (a->slots[i].ctx = EVP_CIPHER_CTX_new()) != NULL;
	if (ok && (getrandom(a->salt, sizeof(a->salt), 0) != sizeof(a->salt) ||
		   getrandom(&a->ctr, sizeof(a->ctr), 0) != sizeof(a->ctr)))
		ok = false;
	if (!ok) {
		pony_auth_destroy(a);
		errno = ENOMEM;
		return NULL;
	}
	a->ks = *ks;
	a->gen = 1;
	return a;
}

void pony_auth_destroy(struct pony_auth *a)
{
	if (a == NULL)
		return;
	if (a->slots)
		for (size_t i = 0; i < (size_t)(a->n_slots + 1) * PONY_AUTH_KINDS; i++)
			EVP_CIPHER_CTX_free(a->slots[i].ctx); /* wipes the key schedule */
	snap_numa_free(a->slots);
	EVP_KDF_CTX_free(a->kdf);
	EVP_CIPHER_free(a->cipher);
	explicit_bzero(&a->ks, sizeof(a->ks));
	snap_numa_free(a);
}

int pony_auth_set_keys(struct pony_auth *a, const struct pony_auth_keyset *ks)
{
	if (ks == NULL || ks->n == 0)
		return -EINVAL;
	a->ks = *ks;
	a->gen++;
	return 0;
}

uint8_t pony_auth_tx_id(const struct pony_auth *a)
{
	return a->ks.tx_id;
}

uint64_t pony_auth_derivations(const struct pony_auth *a)
{
	return a->derivations;
}

/* HKDF-SHA256(master, info = label | key id | sender ip,port | receiver ip,port | flow ids).
 * Two IPv4 ends: labels pony3-*, 4-byte addresses (as before IPv6); otherwise labels pony6-*
 * and 16-byte addresses (pony/WIRE.md, "Authentication"). */
static int derive(struct pony_auth *a, const uint8_t *master, enum pony_auth_kind kind,
		  const struct pony_auth_ident *id, uint8_t key_id, uint8_t *out)
{
	uint8_t info[8 + 1 + 2 * (16 + 2) + 8];
	bool hs = kind == PONY_AUTH_HS_TX || kind == PONY_AUTH_HS_RX;
	bool v4 = pony_ip_is4(&id->src_ip) && pony_ip_is4(&id->dst_ip);
	size_t al = v4 ? 4 : 16, o = 9;
	if (v4)
		memcpy(info, hs ? "pony3-hs" : "pony3-fl", 8);
	else
		memcpy(info, hs ? "pony6-hs" : "pony6-fl", 8);
	info[8] = key_id;
	memcpy(info + o, id->src_ip.b + 16 - al, al); /* network order already */
	pony_wr16(info + o + al, id->src_port);
	o += al + 2;
	memcpy(info + o, id->dst_ip.b + 16 - al, al);
	pony_wr16(info + o + al, id->dst_port);
	o += al + 2;
	pony_wr32(info + o, id->src_flow);
	pony_wr32(info + o + 4, id->dst_flow);
	size_t info_len = o + 8;
	OSSL_PARAM p[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)master,
						  PONY_AUTH_KEY_LEN),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, info_len),
		OSSL_PARAM_construct_end(),
	};
	a->derivations++;
	return EVP_KDF_derive(a->kdf, out, PONY_AUTH_KEY_LEN, p) == 1 ? 0 : -EIO;
}

/* The slot's context keyed for (id, key_id), deriving on a miss. */
static int slot_ctx(struct pony_auth *a, uint32_t slot, enum pony_auth_kind kind,
		    const struct pony_auth_ident *id, uint8_t key_id, EVP_CIPHER_CTX **ctx)
{
	if (slot > a->n_slots)
		slot = a->n_slots;
	struct auth_slot *s = &a->slots[(size_t)slot * PONY_AUTH_KINDS + kind];
	*ctx = s->ctx;
	if (__builtin_expect(s->gen == a->gen && s->key_id == key_id &&
			     memcmp(&s->id, id, sizeof(*id)) == 0, 1))
		return 0;
	const uint8_t *master = NULL;
	for (unsigned i = 0; i < a->ks.n; i++)
		if (a->ks.id[i] == key_id)
			master = a->ks.key[i];
	if (master == NULL || key_id == 0)
		return -ENOKEY;
	uint8_t key[PONY_AUTH_KEY_LEN];
	s->gen = 0; /* half-keyed on failure: never matches */
	int r = derive(a, master, kind, id, key_id, key);
	if (r == 0) {
		bool enc = kind == PONY_AUTH_FLOW_TX || kind == PONY_AUTH_HS_TX;
		r = EVP_CipherInit_ex2(s->ctx, a->cipher, key, NULL, enc, NULL) == 1 ? 0 : -EIO;
	}
	explicit_bzero(key, sizeof(key));
	if (r < 0)
		return r;
	s->id = *id;
	s->key_id = key_id;
	s->gen = a->gen;
	return 0;
}

int pony_auth_seal(struct pony_auth *a, uint32_t slot, enum pony_auth_kind kind,
		   const struct pony_auth_ident *id, uint8_t key_id, uint8_t *pkt, size_t len)
{
	EVP_CIPHER_CTX *c;
	uint8_t *tr = pkt + len, none[16];
	int outl;

	if (slot_ctx(a, slot, kind, id, key_id, &c) < 0)
		return -EIO;
	/* One counter for every key of this transport: a nonce is never used twice by this
	 * process, whatever key or flow, retransmissions included (each is a new packet). */
	memcpy(tr, a->salt, 4);
	pony_wr64(tr + 4, a->ctr++);
	if (EVP_EncryptInit_ex(c, NULL, NULL, NULL, tr) != 1 ||
	    EVP_EncryptUpdate(c, NULL, &outl, pkt, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(c, none, &outl) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tr + 12) != 1)
		return -EIO;
	return 0;
}

int pony_auth_open(struct pony_auth *a, uint32_t slot, enum pony_auth_kind kind,
		   const struct pony_auth_ident *id, uint8_t key_id, const uint8_t *pkt,
		   size_t len)
{
	EVP_CIPHER_CTX *c;
	uint8_t nonce[12], tag[16], none[16];
	int outl;

	int r = slot_ctx(a, slot, kind, id, key_id, &c);
	if (r == -ENOKEY)
		return r;
	if (r < 0)
		return -EBADMSG;
	memcpy(nonce, pkt + len, sizeof(nonce));
	memcpy(tag, pkt + len + 12, sizeof(tag));
	if (EVP_DecryptInit_ex(c, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_DecryptUpdate(c, NULL, &outl, pkt, (int)len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag) != 1 ||
	    EVP_DecryptFinal_ex(c, none, &outl) != 1)
		return -EBADMSG;
	return 0;
}
