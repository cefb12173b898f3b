/* Pony Express transport, as seen by its users inside the same engine (the app layer in
 * pony/app*.c and one-sided ops). Everything here runs on the engine's thread: no locks.
 *
 * Model: one reliable *flow* per peer engine (seq/ack/SACK, RTO, delay-based CC, pacing);
 * many *streams* multiplexed over it; a stream carries *messages* (1 B .. PONY_MSG_MAX) that
 * arrive exactly once and in order. Receiver-driven flow control: a stream's receiver grants
 * credit as receive buffers (one message each) with pony_tp_grant(); the sender transmits
 * message i only once i < credit, so a slow receiver bounds the memory both sides spend.
 * Payload is copied from the sender's buffer into mbufs at (re)transmission and from mbufs
 * into the receiver's buffer at in-order delivery; nothing else copies it.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#define PONY_MSG_MAX (8u << 20) /* largest message: 8 MiB */

struct pony_tp;
struct rte_mbuf;

/* Upcalls from the transport into its user. `owner` is the pointer the user gave when it
 * opened or accepted the stream. Upcalls never re-enter the transport for the same stream
 * except through the functions documented as safe from upcalls (grant, send, close). */
struct pony_tp_upcalls {
	/* A peer opened a stream to `service` on which the user listens. Return 0 and set
	 * *owner to accept, or -errno to refuse (the opener's opened() sees -ECONNREFUSED). */
	int (*accept)(void *listener, uint32_t sid, uint32_t peer_ip, uint16_t service,
		      void **owner);
	/* Result of pony_tp_open: 0 established, or -ECONNREFUSED/-ETIMEDOUT/-EHOSTUNREACH. */
	void (*opened)(void *owner, uint32_t sid, int status);
	/* The next message (in stream order) of `len` bytes begins. The user returns where to
	 * put it: a writable destination of at least `len` bytes, and a cookie. Returning NULL
	 * means the receive buffer is too small: the transport discards the message's bytes and
	 * reports it through rx_done with -EMSGSIZE (it still consumes that buffer's credit). */
	void *(*rx_begin)(void *owner, uint32_t sid, uint32_t len, uint64_t *cookie);
	/* The message is complete (status 0) or was discarded (-EMSGSIZE). */
	void (*rx_done)(void *owner, uint32_t sid, uint64_t cookie, uint32_t len, int status);
	/* A message sent with pony_tp_send is acknowledged by the peer's transport (0) or has
	 * failed (-ECONNRESET peer closed, -ETIMEDOUT peer dead, -ECANCELED local close). */
	void (*tx_done)(void *owner, uint32_t sid, uint64_t cookie, int status);
	/* The stream ended: the peer closed it (0) or the flow failed (-ETIMEDOUT). After this
	 * the sid is invalid; pending tx/rx were already completed with errors. */
	void (*closed)(void *owner, uint32_t sid, int status);
};

/* Create/destroy a transport inside an engine (the pony element does this). */
struct pony_tp *pony_tp_create(struct pony_tp_config_internal *cfg);

/* Listen on service (a 16-bit service number, per engine). 0, -EADDRINUSE. */
int pony_tp_listen(struct pony_tp *tp, uint16_t service, void *listener);
int pony_tp_unlisten(struct pony_tp *tp, uint16_t service);

/* Open a stream to (peer_ip, service). Sets *sid at once; opened() reports the result.
 * 0, -EHOSTUNREACH (no flow can be made to that peer), -ENOSPC (stream limit). */
int pony_tp_open(struct pony_tp *tp, uint32_t peer_ip, uint16_t service, void *owner,
		 uint32_t *sid);

/* Queue a message of len bytes from buf. buf must stay valid and unchanged until tx_done
 * (the transport reads it at every (re)transmission). 0, -EINVAL (len 0 or > PONY_MSG_MAX),
 * -ENOTCONN, -ENOBUFS (the stream's send queue limit). Safe from upcalls. */
int pony_tp_send(struct pony_tp *tp, uint32_t sid, const void *buf, uint32_t len,
		 uint64_t cookie);

/* Grant n more receive buffers (credits) on the stream. Safe from upcalls. */
int pony_tp_grant(struct pony_tp *tp, uint32_t sid, uint32_t n);

/* Close a stream: pending sends complete with -ECANCELED, the peer sees closed(0). */
int pony_tp_close(struct pony_tp *tp, uint32_t sid);
