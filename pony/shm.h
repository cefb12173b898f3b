/* Shared-memory contract between snapnetd and one app (libpony): the layout of the memfd
 * region, the SPSC rings in it, the doorbells, and the attach handshake messages.
 * This file IS the contract: any change to a struct here bumps PONY_SHM_VERSION.
 *
 * Region (all positions are byte offsets from the region start, never pointers; each part
 * starts on a cache line, the payload area on a page):
 *
 *   0                 struct pony_shm_hdr       written once by the daemon before the app
 *                                               maps it; read-only afterwards
 *   hdr.cmd_ring_off  struct pony_shm_ring      command ring indexes (prod: app, cons: daemon)
 *   hdr.cpl_ring_off  struct pony_shm_ring      completion ring indexes (prod: daemon, cons: app)
 *   hdr.cmd_off       struct pony_shm_cmd[cmd_entries]
 *   hdr.cpl_off       struct pony_shm_cpl[cpl_entries]
 *   hdr.buf_off       payload area, buf_size bytes (app's message buffers and regions)
 *
 * One writer per cache line: the producer line of a ring is written only by its producer,
 * the consumer line only by its consumer, entries only by the producer (before publishing).
 *
 * Ring protocol (in the style of Caladan's lrpc). Indexes are free-running uint32 counters;
 * entry i lives at i & (entries - 1); entries is a power of two.
 *   Producer: write entry[tail & mask]; then store-RELEASE prod.tail = tail + 1
 *             (publishes the entry bytes before the index).
 *   Consumer: load-ACQUIRE prod.tail (then entry bytes up to it are visible); copy entries
 *             out; then store-RELEASE cons.head = head + n (the producer may reuse the slots
 *             only after our reads of them are done).
 *   Producer free space: load-ACQUIRE cons.head; used = tail - head.
 * The daemon never trusts app-written indexes: cmd prod.tail must satisfy
 * 0 <= tail - head <= entries and never move backwards; cpl cons.head likewise. A violation
 * disconnects the app (see pony/app.h).
 *
 * Doorbells (eventfds passed at attach). Each consumer owns a `sleeping` flag in its
 * consumer line. Wakeups are only sent to a consumer that said it is sleeping:
 *   Consumer before sleeping: store sleeping = 1; FENCE(seq_cst); re-check prod.tail; if
 *             there is work, store sleeping = 0 and do not sleep; else block on its eventfd.
 *             After waking: store sleeping = 0, read the eventfd (resets it).
 *   Producer after publishing: FENCE(seq_cst); load sleeping; if 1, write its eventfd.
 * Lost wakeups cannot happen: the two fences order each side's store before its load, so
 * at least one side sees the other's store (Dekker): either the consumer's re-check sees the
 * new tail, or the producer sees sleeping == 1 and rings. A spurious ring only costs a read.
 * The app rings the daemon's cmd eventfd; the daemon rings the app's cpl eventfd.
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pony.h"

#define PONY_SHM_MAGIC 0x31594e4f50414e53ull /* "SNAPONY1" little-endian */
#define PONY_SHM_VERSION 3u /* 2: one-sided ops (cmd rkey/roff); 3: IPv6 peers
			     * (PONY_CMDF_ADDR6 and its address entry, cpl peer_addr) */
/* The oldest version a daemon serves. 3 only adds to 2 (a command flag, a completion field
 * in bytes 2 reserved): the layout is the same. The version agreed at attach is the app's
 * (the daemon's reply and the region header carry it); a library refused with -EPROTO by an
 * older daemon says hello again with the version of the daemon's reply, if it speaks it. */
#define PONY_SHM_VERSION_MIN 2u
#define PONY_SHM_CACHELINE 64u
#define PONY_SHM_PAGE 4096u

#define PONY_SHM_ALIGNED __attribute__((aligned(PONY_SHM_CACHELINE)))

/* Region header. Daemon-written before the app maps the region; constant afterwards. */
struct pony_shm_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t hdr_size;     /* sizeof(struct pony_shm_hdr) */
	uint64_t region_size;  /* whole region, bytes */
	uint32_t cmd_ring_off; /* struct pony_shm_ring of the command ring */
	uint32_t cpl_ring_off; /* struct pony_shm_ring of the completion ring */
	uint32_t cmd_off;      /* command entries */
	uint32_t cmd_entries;  /* power of two */
	uint32_t cpl_off;      /* completion entries */
	uint32_t cpl_entries;  /* power of two */
	uint64_t buf_off;      /* payload area */
	uint64_t buf_size;
} PONY_SHM_ALIGNED;

/* Producer cache line: only the producer writes it. */
struct pony_shm_prod {
	_Atomic uint32_t tail; /* entries [0, tail) were published */
} PONY_SHM_ALIGNED;

/* Consumer cache line: only the consumer writes it. */
struct pony_shm_cons {
	_Atomic uint32_t head;     /* entries [0, head) were consumed */
	_Atomic uint32_t sleeping; /* 1: consumer blocks on its eventfd; ring it */
} PONY_SHM_ALIGNED;

struct pony_shm_ring {
	struct pony_shm_prod prod;
	struct pony_shm_cons cons;
};

/* Command flags. */
#define PONY_CMDF_FREE_ON_DONE 0x01u /* library-internal: echoed in the completion; the
				      * library frees the buffer when it polls it */
#define PONY_CMDF_IND_PTR 0x02u     /* READ_INDIRECT: pointer-as-offset (PONY_INDIRECT_PTR) */
#define PONY_CMDF_PIECE 0x04u       /* library-internal: one piece of a large READ/WRITE, echoed
				      * in its completion; the library completes the whole op once */
/* OPEN (the stream's default class) and SEND (this message's): priority class + 1 in these
 * two bits, 0 = none given (SEND: the stream's class; OPEN: normal). The values are
 * include/pony.h's PONY_SEND_CLASS(). Added in version 2 without a bump: older libraries
 * never set them (an older daemon refuses them as a stray field, -EINVAL). */
#define PONY_CMDF_CLASS_SHIFT 4
#define PONY_CMDF_CLASS_MASK 0x30u
_Static_assert(PONY_SEND_CLASS_MASK == PONY_CMDF_CLASS_MASK &&
	       PONY_SEND_CLASS(PONY_CLASS_SCAVENGER) == 3u << PONY_CMDF_CLASS_SHIFT,
	       "pony.h's send flags are the command's class bits");
#define PONY_CMDF_RPC 0x40u  /* SEND: an RPC request (PONY_SEND_RPC), same version rule */
#define PONY_CMDF_ADDR6 0x08u      /* OPEN, one-sided: the peer is IPv6 (ip is 0); its address
				      * is the next ring entry, a struct pony_shm_cmd_addr
				      * published together with this command */
#define PONY_CMDF_ALL (PONY_CMDF_FREE_ON_DONE | PONY_CMDF_IND_PTR | PONY_CMDF_PIECE | \
		       PONY_CMDF_ADDR6 | PONY_CMDF_CLASS_MASK | PONY_CMDF_RPC)
_Static_assert(PONY_SEND_RPC == PONY_CMDF_RPC, "pony.h's RPC flag is the command's");

/* A command (app -> daemon). Fields not used by an op must be 0 (the daemon rejects
 * commands with stray fields, so they stay free for later versions). */
struct pony_shm_cmd {
	uint8_t op;       /* enum pony_op: OPEN LISTEN UNLISTEN SEND RECV CLOSE REGION_* and the
			   * one-sided READ WRITE READ_INDIRECT SCAN_READ */
	uint8_t flags;    /* PONY_CMDF_* */
	uint16_t service; /* OPEN, LISTEN, UNLISTEN; one-sided: peer's UDP port (0 default) */
	uint32_t stream;  /* SEND, RECV, CLOSE */
	uint64_t tag;     /* any value; echoed */
	uint64_t off;     /* SEND, RECV, REGION_REG, one-sided: offset in the payload area */
	uint64_t len;     /* SEND, RECV: bytes per buffer; REGION_REG: region bytes;
			   * one-sided: bytes to read/write (buffer size) */
	uint32_t count;   /* RECV: buffers back to back (1..PONY_RECV_BATCH_MAX);
			   * SCAN_READ: key length (the key is at the buffer's start);
			   * BPF_CALL: request bytes at the buffer's start (u8 name_len, name,
			   * args); BPF_LOAD: instructions, after PONY_BPF_LOAD_HDR name bytes */
	uint32_t ip;      /* OPEN, one-sided: peer IPv4, host order */
	uint32_t region;  /* REGION_REVOKE; one-sided: the remote region id */
	uint32_t perms;   /* REGION_REG: PONY_REGION_* */
	uint64_t rkey;    /* one-sided: the remote region's key */
	uint64_t roff;    /* one-sided: offset in the remote region */
} PONY_SHM_ALIGNED;

/* The ring entry after a command with PONY_CMDF_ADDR6: the command's IPv6 peer. The daemon
 * consumes the two entries as one command (the pair counts once against its budget). */
struct pony_shm_cmd_addr {
	uint8_t addr[16]; /* network order; not v4-mapped (IPv4 peers travel in cmd.ip) */
	uint8_t zero[48];
} PONY_SHM_ALIGNED;

/* A completion (daemon -> app); fields as in struct pony_completion, buf as an offset. */
struct pony_shm_cpl {
	uint64_t tag;
	int32_t status;
	uint8_t op;
	uint8_t flags;    /* the command's flags, echoed */
	uint16_t service; /* ACCEPT: the service; SEND: the priority class the message ran in
			   * + 1 (admission control may have downgraded it), 0 not reported
			   * (an older daemon: SEND left it 0) */
	uint32_t stream;
	uint32_t len;
	uint64_t off;     /* payload-area offset of the buffer (SEND, RECV) */
	uint32_t peer_ip;
	uint32_t region;
	uint64_t key;
	uint8_t peer_addr[16]; /* OPEN, ACCEPT: the peer, IPv6 or v4-mapped IPv4 (then peer_ip
				* holds it too, host order) */
} PONY_SHM_ALIGNED;

_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "ring indexes must be lock-free (address-free)");
_Static_assert(sizeof(struct pony_shm_hdr) == 64, "header is one cache line");
_Static_assert(sizeof(struct pony_shm_prod) == 64, "producer line");
_Static_assert(sizeof(struct pony_shm_cons) == 64, "consumer line");
_Static_assert(sizeof(struct pony_shm_ring) == 128, "ring: two lines");
_Static_assert(offsetof(struct pony_shm_ring, cons) == 64, "cons on its own line");
_Static_assert(sizeof(struct pony_shm_cmd) == 64, "command is one cache line");
_Static_assert(sizeof(struct pony_shm_cmd_addr) == sizeof(struct pony_shm_cmd),
	       "an address entry takes one command slot");
_Static_assert(sizeof(struct pony_shm_cpl) == 64, "completion is one cache line");
_Static_assert(offsetof(struct pony_shm_cmd, rkey) == 48, "command layout");
_Static_assert(offsetof(struct pony_shm_cpl, key) == 40, "completion layout");
_Static_assert(offsetof(struct pony_shm_cpl, peer_addr) == 48, "completion layout");

#define PONY_SHM_RING_MIN 16u
#define PONY_SHM_RING_MAX 65536u

/* Whether op is a one-sided op (its command and completion carry a payload-area buffer). */
static inline bool pony_shm_version_ok(uint32_t v)
{
	return v >= PONY_SHM_VERSION_MIN && v <= PONY_SHM_VERSION;
}

static inline bool pony_shm_op_onesided(unsigned op)
{
	return op >= PONY_OP_READ && op <= PONY_OP_BPF_CALL;
}

static inline int pony_shm_is_pow2(uint32_t v)
{
	return v && (v & (v - 1)) == 0;
}

static inline uint64_t pony_shm_align(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* Compute the layout for the given ring sizes and payload bytes into *h (magic and version
 * set). 0, or -EINVAL (entries not a power of two in [RING_MIN, RING_MAX], buf_size 0). */
static inline int pony_shm_layout(struct pony_shm_hdr *h, uint32_t cmd_entries,
				  uint32_t cpl_entries, uint64_t buf_size)
{
	if (!pony_shm_is_pow2(cmd_entries) || cmd_entries < PONY_SHM_RING_MIN ||
	    cmd_entries > PONY_SHM_RING_MAX || !pony_shm_is_pow2(cpl_entries) ||
	    cpl_entries < PONY_SHM_RING_MIN || cpl_entries > PONY_SHM_RING_MAX || buf_size == 0)
		return -22; /* -EINVAL, without pulling errno.h into users */
	memset(h, 0, sizeof(*h));
	h->magic = PONY_SHM_MAGIC;
	h->version = PONY_SHM_VERSION;
	h->hdr_size = sizeof(*h);
	h->cmd_ring_off = sizeof(*h);
	h->cpl_ring_off = h->cmd_ring_off + sizeof(struct pony_shm_ring);
	h->cmd_off = h->cpl_ring_off + sizeof(struct pony_shm_ring);
	h->cmd_entries = cmd_entries;
	h->cpl_off = h->cmd_off + cmd_entries * (uint32_t)sizeof(struct pony_shm_cmd);
	h->cpl_entries = cpl_entries;
	h->buf_off = pony_shm_align(h->cpl_off + (uint64_t)cpl_entries * sizeof(struct pony_shm_cpl),
				    PONY_SHM_PAGE);
	h->buf_size = pony_shm_align(buf_size, PONY_SHM_PAGE);
	h->region_size = h->buf_off + h->buf_size;
	return 0;
}

/* Check a header read from a mapped region of map_size bytes (the app side, or tests):
 * 0 if it equals what pony_shm_layout computes for its own sizes (at a version in
 * PONY_SHM_VERSION_MIN..PONY_SHM_VERSION) and fits, else -EPROTO. */
static inline int pony_shm_check(const struct pony_shm_hdr *h, uint64_t map_size)
{
	struct pony_shm_hdr want;
	if (h->magic != PONY_SHM_MAGIC || !pony_shm_version_ok(h->version))
		return -71;
	int r = pony_shm_layout(&want, h->cmd_entries, h->cpl_entries, h->buf_size);
	want.version = h->version; /* the agreed one: same layout */
	if (r != 0 || memcmp(&want, h, sizeof(want)) != 0 || want.region_size > map_size)
		return -71; /* -EPROTO */
	return 0;
}

static inline struct pony_shm_ring *pony_shm_cmd_ring(void *base, const struct pony_shm_hdr *h)
{
	return (struct pony_shm_ring *)((char *)base + h->cmd_ring_off);
}

static inline struct pony_shm_ring *pony_shm_cpl_ring(void *base, const struct pony_shm_hdr *h)
{
	return (struct pony_shm_ring *)((char *)base + h->cpl_ring_off);
}

/* ---- The ring protocol above, the one implementation the daemon, libpony and the tests
 * use. Indexes read from the other side are as the other side wrote them: a side that
 * does not trust its peer checks them (the daemon does, pony/app.c). ---- */

/* Producer: publish the entries written up to tail (RELEASE: their bytes before the index). */
static inline void pony_shm_publish(struct pony_shm_ring *r, uint32_t tail)
{
	atomic_store_explicit(&r->prod.tail, tail, memory_order_release);
}

/* Producer, after publishing: does the consumer sleep, so its doorbell must be rung? The
 * fence orders our tail store before the flag load (the Dekker pairing with pony_shm_arm). */
static inline bool pony_shm_consumer_sleeps(struct pony_shm_ring *r)
{
	atomic_thread_fence(memory_order_seq_cst);
	return atomic_load_explicit(&r->cons.sleeping, memory_order_relaxed) != 0;
}

/* Producer: the consumer's head (ACQUIRE: its reads of the slots before it are done). */
static inline uint32_t pony_shm_head(struct pony_shm_ring *r)
{
	return atomic_load_explicit(&r->cons.head, memory_order_acquire);
}

/* Consumer: the producer's tail (ACQUIRE: entries before it are visible). */
static inline uint32_t pony_shm_tail(struct pony_shm_ring *r)
{
	return atomic_load_explicit(&r->prod.tail, memory_order_acquire);
}

/* Consumer: slots before head may be reused (RELEASE: our reads of them are done). The
 * daemon releases a command's slot before it publishes any completion of that command, so
 * an app that has all its completions finds its command ring empty: there is no doorbell
 * for ring space, and an app waiting for it on completions that had all come would sleep. */
static inline void pony_shm_release(struct pony_shm_ring *r, uint32_t head)
{
	atomic_store_explicit(&r->cons.head, head, memory_order_release);
}

/* Consumer about to sleep, having consumed up to head: raise the flag, then look again.
 * Returns true when work raced in (the flag is up: pony_shm_disarm before not sleeping). */
static inline bool pony_shm_arm(struct pony_shm_ring *r, uint32_t head)
{
	atomic_store_explicit(&r->cons.sleeping, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst); /* flag store before the tail load */
	return pony_shm_tail(r) != head;
}

/* Consumer awake: producers stop ringing. */
static inline void pony_shm_disarm(struct pony_shm_ring *r)
{
	atomic_store_explicit(&r->cons.sleeping, 0, memory_order_relaxed);
}

/* ---- Attach handshake (SOCK_SEQPACKET on the daemon's app socket) ---- */

#define PONY_ATTACH_MAGIC 0x48594e4f50ull /* "PONYH" */
#define PONY_ATTACH_MSG_MAX 160

/* App -> daemon, first message after connect. */
struct pony_attach_req {
	uint64_t magic;
	uint32_t version;  /* PONY_SHM_VERSION the library speaks (or an older one it also
			    * speaks, after a refusal) */
	uint32_t rsvd;
	char engine[32];   /* NUL-terminated; "" = daemon default */
};

/* Daemon -> app. status 0: the message carries SCM_RIGHTS [memfd, cmd eventfd (app rings
 * the daemon), cpl eventfd (daemon rings the app)] and the sizes; otherwise msg says why. */
struct pony_attach_rep {
	uint64_t magic;
	uint32_t version;
	int32_t status;        /* 0 or -errno (-EACCES refused, -EPROTO, -ENODEV, -ENOSPC...) */
	uint64_t region_size;  /* == hdr.region_size */
	uint32_t app_id;       /* daemon's id for this app (logs, snapctl) */
	uint32_t rsvd;
	char msg[PONY_ATTACH_MSG_MAX]; /* NUL-terminated, human-readable */
};

_Static_assert(sizeof(struct pony_attach_req) == 48, "attach request layout");
_Static_assert(sizeof(struct pony_attach_rep) == 192, "attach reply layout");
