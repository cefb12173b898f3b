/* Pony authenticated flows (pony/WIRE.md, "Authentication"): master keys read from a
 * root-only key file, per-direction keys derived from them with HKDF-SHA256, and an AES-256-GCM
 * tag on every packet (GMAC: the whole packet is additional data, nothing is encrypted).
 * OpenSSL's libcrypto does the cryptography; this file keeps its contexts keyed once per flow
 * so a packet costs one IV set and one GHASH pass, with no allocation. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pony/transport.h"
#include "pony/wire.h"

#define PONY_AUTH_KEYS_MAX 8 /* keys in one key file (rotation needs 2 or 3) */
#define PONY_AUTH_KEY_LEN 32 /* master and derived keys: AES-256 */

/* The keys of one key file. Every key is accepted on receive; tx_id names the one we send
 * with. Key ids are 1..255 (0 on the wire means "not authenticated"). */
struct pony_auth_keyset {
	unsigned n;
	uint8_t tx_id;
	uint8_t id[PONY_AUTH_KEYS_MAX];
	uint8_t key[PONY_AUTH_KEYS_MAX][PONY_AUTH_KEY_LEN];
};

/* Parse key file text: one key a line, `ID HEX [accept-only]`, ID 1..255, HEX 64 hex digits
 * (32 bytes); `#` starts a comment, blank lines are skipped. The sending key is the last
 * line without `accept-only` (so a new key can be installed everywhere before anyone sends
 * with it). 0, or -EINVAL with a message in err (line number and reason). */
int pony_auth_keyset_parse(const char *text, struct pony_auth_keyset *ks, char *err,
			   size_t errlen);

/* Read and parse a key file. It must be a regular file (no symlink) owned by root or by our
 * effective uid, with no group or other permission bits (0600 or 0400), at most 4 KiB.
 * 0, or -errno with a message in err: -ENOENT/-EACCES (cannot open), -EPERM (owner or mode),
 * -EINVAL (content, too big). */
int pony_auth_keyset_load(const char *path, struct pony_auth_keyset *ks, char *err,
			  size_t errlen);

/* Which key of a flow slot: handshake keys (SYN, SYN_ACK, RST) are derived from both ends'
 * addresses and ports only; flow keys add both flow ids. One of each per direction. */
enum pony_auth_kind {
	PONY_AUTH_FLOW_TX = 0,
	PONY_AUTH_FLOW_RX,
	PONY_AUTH_HS_TX,
	PONY_AUTH_HS_RX,
	PONY_AUTH_KINDS,
};

/* What a key is derived from, always as seen by the packet: sender first. Addresses as the
 * transport keys them (v4-mapped for IPv4: such identities derive exactly as before IPv6),
 * ports host order; flow ids 0 for handshake keys. */
struct pony_auth_ident {
	struct pony_ip src_ip, dst_ip;
	uint16_t src_port, dst_port;
	uint32_t src_flow, dst_flow;
	uint32_t zero;      /* explicit padding, 0: identities are compared with memcmp */
};

struct pony_auth;

/* Runtime state for n_slots flow slots plus one scratch slot (index n_slots: packets of no
 * flow), on NUMA node socket_id (the transport's). NULL with errno EINVAL (empty keyset) or
 * ENOMEM. */
struct pony_auth *pony_auth_create(uint32_t n_slots, const struct pony_auth_keyset *ks,
				   int socket_id);
/* NULL is a no-op. Wipes the keys. */
void pony_auth_destroy(struct pony_auth *a);
/* Replace the keys (rotation): derived keys are re-derived lazily, flows stay up. 0 or
 * -EINVAL (empty keyset). */
int pony_auth_set_keys(struct pony_auth *a, const struct pony_auth_keyset *ks);
/* The key id packets are sent with. */
uint8_t pony_auth_tx_id(const struct pony_auth *a);

/* Append the trailer (nonce, tag over pkt[0..len)) at pkt + len, which must have
 * PONY_AUTH_TRAILER more bytes. slot: flow slot index (or n_slots: scratch); kind a _TX one.
 * 0 or -EIO (libcrypto failed: drop the packet). */
int pony_auth_seal(struct pony_auth *a, uint32_t slot, enum pony_auth_kind kind,
		   const struct pony_auth_ident *id, uint8_t key_id, uint8_t *pkt, size_t len);
/* Check the trailer at pkt + len (len = packet without trailer) with key key_id; kind an _RX
 * one. 0 authentic, -ENOKEY (key id not in the set), -EBADMSG (wrong tag). */
int pony_auth_open(struct pony_auth *a, uint32_t slot, enum pony_auth_kind kind,
		   const struct pony_auth_ident *id, uint8_t key_id, const uint8_t *pkt,
		   size_t len);
/* Keys derived so far (slow path; a test sees rotation and lazy re-derivation with it). */
uint64_t pony_auth_derivations(const struct pony_auth *a);
