/* Keyed hashing for Pony: SipHash-2-4, the transport's random source and handshake cookies.
 * SipHash is written out here (30 lines, checked against the reference vectors in
 * tests/unit/test_pony_cookie.c) rather than taken from OpenSSL's EVP_MAC: it runs per
 * packet on the handshake path, where we allocate and lock nothing, and EVP_MAC contexts do
 * both. */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "pony/cookie.h"
#include "pony/internal.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static inline void sipround(uint64_t v[4])
{
	v[0] += v[1]; v[1] = ROTL(v[1], 13); v[1] ^= v[0]; v[0] = ROTL(v[0], 32);
	v[2] += v[3]; v[3] = ROTL(v[3], 16); v[3] ^= v[2];
	v[0] += v[3]; v[3] = ROTL(v[3], 21); v[3] ^= v[0];
	v[2] += v[1]; v[1] = ROTL(v[1], 17); v[1] ^= v[2]; v[2] = ROTL(v[2], 32);
}

static inline uint64_t le64(const uint8_t *p)
{
	uint64_t x = 0;
	for (int i = 7; i >= 0; i--)
		x = (x << 8) | p[i];
	return x;
}

uint64_t pony_siphash(const uint64_t k[2], const void *p, size_t len)
{
	const uint8_t *in = p;
	uint64_t v[4] = {k[0] ^ 0x736f6d6570736575ull, k[1] ^ 0x646f72616e646f6dull,
			 k[0] ^ 0x6c7967656e657261ull, k[1] ^ 0x7465646279746573ull};
	size_t i;
	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t m = le64(in + i);
		v[3] ^= m;
		sipround(v);
		sipround(v);
		v[0] ^= m;
	}
	uint64_t b = (uint64_t)len << 56;
	for (size_t j = 0; i + j < len; j++)
		b |= (uint64_t)in[i + j] << (8 * j);
	v[3] ^= b;
	sipround(v);
	sipround(v);
	v[0] ^= b;
	v[2] ^= 0xff;
	for (int r = 0; r < 4; r++)
		sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

int pony_key_init(uint64_t k[2])
{
	uint8_t b[16];
	size_t got = 0;
	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	memcpy(k, b, sizeof(b));
	return 0;
}

uint32_t pony_tp_rand(struct pony_tp *tp)
{
	uint64_t in[2] = {0x72616e64 /* domain: "rand" */, ++tp->rand_ctr};
	return (uint32_t)pony_siphash(tp->key, in, sizeof(in));
}

/* Cookie time slots: 2^31 ns (about 2.1 s); a cookie is accepted in its slot and the next,
 * so a handshake has at least 2.1 s to complete and a cookie is dead after 4.3 s. */
#define SLOT_SHIFT 31

static uint64_t slot_now(const struct pony_tp *tp)
{
	return (uint64_t)((double)tp->now * tp->ns_per_tsc) >> SLOT_SHIFT;
}

/* IPv4 peers: the MAC input of releases before IPv6, unchanged; IPv6 ones: their own domain
 * and all 16 address bytes (pony/WIRE.md, "Handshake"). */
static void cookie_at(const struct pony_tp *tp, const struct pony_ip *ip, uint16_t port,
		      uint32_t peer_id, uint64_t slot, struct pony_cookie *c)
{
	uint64_t mac;
	if (pony_ip_is4(ip)) {
		uint64_t in[3] = {0x636f6f6b /* domain: "cook" */ ^ ((uint64_t)port << 32),
				  ((uint64_t)ip->w[3] << 32) | peer_id, slot};
		mac = pony_siphash(tp->key, in, sizeof(in));
	} else {
		uint64_t in[5] = {0x36636f6f6b /* domain: "cook6" */ ^ ((uint64_t)port << 40),
				  ip->q[0], ip->q[1], peer_id, slot};
		mac = pony_siphash(tp->key, in, sizeof(in));
	}
	c->local_id = (uint32_t)(slot & 3) << 30 | ((uint32_t)mac & 0x3fffffffu);
	if (c->local_id == 0)
		c->local_id = 1; /* 0 is "no flow" on the wire; the check recomputes the same */
	c->isn = (uint32_t)(mac >> 32);
}

void pony_cookie_make(const struct pony_tp *tp, const struct pony_ip *ip, uint16_t port,
		      uint32_t peer_id, struct pony_cookie *c)
{
	cookie_at(tp, ip, port, peer_id, slot_now(tp), c);
}

bool pony_cookie_check(const struct pony_tp *tp, const struct pony_ip *ip, uint16_t port,
		       uint32_t peer_id, uint32_t local_id, struct pony_cookie *c)
{
	uint64_t s = slot_now(tp);
	/* The slot's low 2 bits ride in the id: one MAC to recompute, not one per slot. */
	if ((s & 3) != local_id >> 30) {
		if (s == 0 || ((s - 1) & 3) != local_id >> 30)
			return false;
		s--;
	}
	cookie_at(tp, ip, port, peer_id, s, c);
	return c->local_id == local_id;
}
