/* Port capture to pcapng (see capture.h for the design and the end-of-capture grace period).
 * The callbacks run on engine threads: they only copy into a pre-sized pool and enqueue on a
 * multi-producer ring; everything else happens on the control thread. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_pcapng.h>
#include <rte_ring.h>

#include "control/capture.h"
#include "control/ctl.pb-c.h"
#include "control/ctl.h"
#include "control/internal.h"
#include "control/rpc.h"
#include "core/config.h"
#include "core/daemon.h"
#include "snap/log.h"
#include "core/paths.h"
#include "snap/port.h"

#define CAPTURES_MAX 16
#define CAP_RING_SIZE 1024
#define CAP_POOL_SIZE 2047
#define CAP_TICK_MS 10
#define CAP_DRAIN_BURST 64

struct ctl_capture {
	struct ctl_rpc_server *srv;
	struct snap_port *port;
	char path[256];
	int tfd;
	rte_pcapng_t *pcap;
	struct rte_ring *ring;
	struct rte_mempool *pool;
	uint32_t snaplen;
	uint64_t limit;               /* packets; UINT64_MAX: none */
	uint64_t start_ns, deadline_ns; /* CLOCK_MONOTONIC */
	uint64_t start_real_ns;         /* wall clock, for the file's statistics block */
	const struct rte_eth_rxtx_callback *rx_cb[SNAP_PORT_QUEUES_MAX];
	const struct rte_eth_rxtx_callback *tx_cb[SNAP_PORT_QUEUES_MAX];
	/* Written by engine threads (callbacks). */
	_Atomic uint64_t reserved;    /* copies claimed against limit */
	_Atomic uint64_t dropped;
	/* Control thread only. */
	uint64_t written, bytes;
	bool cancelled, io_error;
	ctl_capture_done_fn done;
	void *done_arg;
};

static struct ctl_capture *active[CAPTURES_MAX];
static unsigned seq;

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

/* ---- engine-thread side ------------------------------------------------------------------ */

/* Copy up to the remaining budget of packets into the ring. Packets are never modified or
 * kept: the burst goes on unchanged. */
static void copy_burst(struct ctl_capture *c, uint16_t port, uint16_t queue,
		       struct rte_mbuf **pkts, uint16_t n, enum rte_pcapng_direction dir)
{
	if (atomic_load_explicit(&c->reserved, memory_order_relaxed) >= c->limit)
		return;
	uint64_t ts = rte_get_tsc_cycles();
	for (uint16_t i = 0; i < n; i++) {
		if (atomic_fetch_add_explicit(&c->reserved, 1, memory_order_relaxed) >= c->limit)
			return;
		struct rte_mbuf *cp = rte_pcapng_copy(port, queue, pkts[i], c->pool, c->snaplen, ts,
						      dir);
		if (cp == NULL || rte_ring_mp_enqueue(c->ring, cp) != 0) {
			rte_pktmbuf_free(cp);
			/* Give the slot back so a count-limited capture still reaches its count. */
			atomic_fetch_sub_explicit(&c->reserved, 1, memory_order_relaxed);
			atomic_fetch_add_explicit(&c->dropped, 1, memory_order_relaxed);
		}
	}
}

static uint16_t rx_cb(uint16_t port, uint16_t queue, struct rte_mbuf *pkts[], uint16_t n,
		      uint16_t max, void *arg)
{
	copy_burst(arg, port, queue, pkts, n, RTE_PCAPNG_DIRECTION_IN);
	return n;
}

static uint16_t tx_cb(uint16_t port, uint16_t queue, struct rte_mbuf *pkts[], uint16_t n,
		      void *arg)
{
	struct ctl_capture *c = arg;
	/* Packets the queue refused earlier come again: they were recorded when first offered. */
	uint16_t skip = c->port->txq_skip[queue];
	if (skip < n)
		copy_burst(c, port, queue, pkts + skip, (uint16_t)(n - skip),
			   RTE_PCAPNG_DIRECTION_OUT);
	return n;
}

/* ---- control-thread side ----------------------------------------------------------------- */

static void drain(struct ctl_capture *c)
{
	struct rte_mbuf *pkts[CAP_DRAIN_BURST];
	unsigned n;
	while ((n = rte_ring_sc_dequeue_burst(c->ring, (void **)pkts, CAP_DRAIN_BURST, NULL)) > 0) {
		if (c->io_error) {
			rte_pktmbuf_free_bulk(pkts, n);
			atomic_fetch_add(&c->dropped, n);
			continue;
		}
		ssize_t w = rte_pcapng_write_packets(c->pcap, pkts, (uint16_t)n); /* frees them */
		if (w < 0) {
			SNAP_LOG(ERR, "capture %s: writing %s failed", c->port->name, c->path);
			c->io_error = true;
			atomic_fetch_add(&c->dropped, n);
			continue;
		}
		c->written += n;
		c->bytes += (uint64_t)w;
	}
}

/* Unlink the callbacks and wait out the grace period (see capture.h). true if no callback
 * can still be running. */
static bool remove_callbacks(struct ctl_capture *c)
{
	struct snap_port *p = c->port;
	bool tx = false;
	for (uint16_t q = 0; q < SNAP_PORT_QUEUES_MAX; q++) {
		if (c->rx_cb[q])
			rte_eth_remove_rx_callback(p->port_id, q, c->rx_cb[q]);
		if (c->tx_cb[q]) {
			rte_eth_remove_tx_callback(p->port_id, q, c->tx_cb[q]);
			tx = true;
		}
	}
	if (tx) /* one capture a port at a time: direct transmit (if any) again */
		atomic_store_explicit(&p->tx_capture, false, memory_order_relaxed);
	if (snap_port_sync_owners(p, 2000) == 0)
		return true;
	SNAP_LOG(ERR, "capture %s: leaking the capture's callbacks and buffers", p->name);
	return false;
}

static void capture_free(struct ctl_capture *c, bool callbacks_quiet)
{
	if (c->tfd >= 0) {
		ctl_rpc_unwatch_fd(c->srv, c->tfd);
		close(c->tfd);
	}
	if (c->pcap)
		rte_pcapng_close(c->pcap); /* closes the file's fd */
	if (!callbacks_quiet)
		return; /* a callback may still touch c, the ring and the pool */
	for (uint16_t q = 0; q < SNAP_PORT_QUEUES_MAX; q++) {
		rte_free((void *)(uintptr_t)c->rx_cb[q]);
		rte_free((void *)(uintptr_t)c->tx_cb[q]);
	}
	if (c->ring) {
		struct rte_mbuf *m;
		while (rte_ring_sc_dequeue(c->ring, (void **)&m) == 0)
			rte_pktmbuf_free(m);
	}
	rte_ring_free(c->ring);
	rte_mempool_free(c->pool);
	free(c);
}

static void capture_finish(struct ctl_capture *c)
{
	for (unsigned i = 0; i < CAPTURES_MAX; i++)
		if (active[i] == c)
			active[i] = NULL;
	bool quiet = remove_callbacks(c);
	if (quiet)
		drain(c); /* what the last callbacks enqueued */
	uint64_t now = mono_ns();
	struct ctl_capture_result res = {
		.packets = c->written,
		.bytes = c->bytes,
		.dropped = atomic_load(&c->dropped),
		.elapsed_ms = (now - c->start_ns) / 1000000ull,
	};
	if (!c->io_error)
		rte_pcapng_write_stats(c->pcap, c->port->port_id, "snapnetd capture",
				       c->start_real_ns, clock_ns(CLOCK_REALTIME),
				       c->written + res.dropped, res.dropped);
	int err = c->io_error ? -EIO : c->cancelled ? -ECANCELED : 0;
	SNAP_LOG(INFO, "capture %s: %" PRIu64 " packets (%" PRIu64 " dropped) to %s%s",
		 c->port->name, res.packets, res.dropped, c->path,
		 err == -ECANCELED ? " (cancelled)" : "");
	ctl_capture_done_fn done = c->done;
	void *arg = c->done_arg;
	capture_free(c, quiet);
	done(arg, err, &res);
}

static void tick(void *arg)
{
	struct ctl_capture *c = arg;
	uint64_t exp;
	if (read(c->tfd, &exp, sizeof(exp)) < 0 && errno == EAGAIN)
		return;
	drain(c);
	bool full = c->limit != UINT64_MAX && c->written >= c->limit;
	if (full || c->cancelled || c->io_error || mono_ns() >= c->deadline_ns)
		capture_finish(c);
}

unsigned ctl_capture_active(char *port, size_t len)
{
	unsigned n = 0;
	if (len)
		port[0] = '\0';
	for (unsigned i = 0; i < CAPTURES_MAX; i++)
		if (active[i] && n++ == 0 && len)
			snprintf(port, len, "%s", active[i]->port->name);
	return n;
}

void ctl_capture_cancel(struct ctl_capture *c)
{
	c->cancelled = true;
}

void ctl_capture_stop_all(void)
{
	for (unsigned i = 0; i < CAPTURES_MAX; i++) {
		if (active[i]) {
			active[i]->cancelled = true;
			capture_finish(active[i]);
		}
	}
}

int ctl_capture_start(struct ctl_rpc_server *srv, const struct ctl_capture_req *req,
		      ctl_capture_done_fn done, void *arg, struct ctl_capture **out, char *err,
		      size_t errlen)
{
	struct snap_port *p = req->port ? snap_port_find(req->port) : NULL;
	if (p == NULL) {
		snprintf(err, errlen, "no port named '%s'", req->port ? req->port : "");
		return -ENOENT;
	}
	if (req->count == 0 && req->duration_ms == 0) {
		snprintf(err, errlen, "a capture needs a packet count or a duration");
		return -EINVAL;
	}
	if (req->dir == NULL || !req->dir[0]) {
		snprintf(err, errlen, "captures are disabled: the daemon has no capture_dir "
			 "(config daemon.capture_dir)");
		return -EPERM;
	}
	const char *fname = req->path ? snap_paths_name_in(req->dir, req->path, err, errlen) : NULL;
	if (req->path == NULL || strlen(req->path) >= 256) {
		snprintf(err, errlen, "the capture file must be a name (< 256 bytes)");
		return -EINVAL;
	}
	if (fname == NULL)
		return -EPERM;
	unsigned slot = CAPTURES_MAX;
	for (unsigned i = 0; i < CAPTURES_MAX; i++) {
		if (active[i] && active[i]->port == p) {
			snprintf(err, errlen, "port %s is already being captured to %s", p->name,
				 active[i]->path);
			return -EBUSY;
		}
		if (active[i] == NULL && slot == CAPTURES_MAX)
			slot = i;
	}
	if (slot == CAPTURES_MAX) {
		snprintf(err, errlen, "too many captures at once (%d)", CAPTURES_MAX);
		return -EBUSY;
	}
	struct ctl_capture *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	int r = 0;
	c->srv = srv;
	c->port = p;
	c->tfd = -1;
	c->done = done;
	c->done_arg = arg;
	snprintf(c->path, sizeof(c->path), "%s", req->path);
	c->limit = req->count ? req->count : UINT64_MAX;
	/* Beyond the MTU only multi-segment/offloaded packets exist; the copy buffers are sized
	 * for the snap length, so keep it small by default. */
	uint32_t dflt = (uint32_t)p->mtu + RTE_ETHER_HDR_LEN + 8;
	c->snaplen = req->snaplen ? req->snaplen : dflt;
	if (c->snaplen > CTL_CAPTURE_SNAPLEN_MAX)
		c->snaplen = CTL_CAPTURE_SNAPLEN_MAX;
	unsigned dirs = req->dirs ? req->dirs : CTL_CAPTURE_RX | CTL_CAPTURE_TX;

	char name[RTE_MEMPOOL_NAMESIZE];
	snprintf(name, sizeof(name), "cap%u_%.16s", seq, p->name);
	c->pool = rte_pktmbuf_pool_create(name, CAP_POOL_SIZE, 0, 0,
					  (uint16_t)rte_pcapng_mbuf_size(c->snaplen), p->socket_id);
	snprintf(name, sizeof(name), "capr%u_%.16s", seq++, p->name);
	c->ring = rte_ring_create(name, CAP_RING_SIZE, p->socket_id, RING_F_SC_DEQ);
	if (c->pool == NULL || c->ring == NULL) {
		snprintf(err, errlen, "cannot allocate capture buffers: %s", rte_strerror(rte_errno));
		r = -ENOMEM;
		goto fail;
	}
	/* Only in the trusted capture dir, by name from its fd, never through a symlink, and
	 * into a new file: an old one (maybe a hard link to something else) is unlinked. */
	int dfd = snap_paths_open_trusted_dir(req->dir, "capture_dir", err, errlen);
	if (dfd < 0) {
		r = dfd;
		goto fail;
	}
	if (unlinkat(dfd, fname, 0) != 0 && errno != ENOENT) {
		r = -errno;
		snprintf(err, errlen, "cannot replace %s in %s: %s", fname, req->dir, strerror(-r));
		close(dfd);
		goto fail;
	}
	int fd = openat(dfd, fname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
	r = fd < 0 ? -errno : 0;
	close(dfd);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s in %s: %s", fname, req->dir, strerror(-r));
		goto fail;
	}
	c->pcap = rte_pcapng_fdopen(fd, NULL, NULL, "snapnetd " SNAP_VERSION, NULL);
	if (c->pcap == NULL) {
		close(fd);
		r = -EIO;
		snprintf(err, errlen, "cannot write a pcapng header to %s", c->path);
		goto fail;
	}
	c->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	struct itimerspec its = {.it_interval = {0, CAP_TICK_MS * 1000000l},
				 .it_value = {0, CAP_TICK_MS * 1000000l}};
	if (c->tfd < 0 || timerfd_settime(c->tfd, 0, &its, NULL) < 0) {
		r = -errno;
		snprintf(err, errlen, "timerfd: %s", strerror(errno));
		goto fail;
	}
	r = ctl_rpc_watch_fd(srv, c->tfd, tick, c);
	if (r < 0) {
		close(c->tfd);
		c->tfd = -1;
		snprintf(err, errlen, "cannot watch the capture timer: %s", strerror(-r));
		goto fail;
	}
	c->start_ns = mono_ns();
	c->start_real_ns = clock_ns(CLOCK_REALTIME);
	c->deadline_ns = c->start_ns + (uint64_t)(req->duration_ms ? req->duration_ms
								    : CTL_CAPTURE_MAX_MS) * 1000000ull;
	for (uint16_t q = 0; q < p->n_rxq && (dirs & CTL_CAPTURE_RX); q++) {
		c->rx_cb[q] = rte_eth_add_rx_callback(p->port_id, q, rx_cb, c);
		if (c->rx_cb[q] == NULL) {
			r = -rte_errno;
			break;
		}
	}
	for (uint16_t q = 0; r == 0 && q < p->n_txq && (dirs & CTL_CAPTURE_TX); q++) {
		c->tx_cb[q] = rte_eth_add_tx_callback(p->port_id, q, tx_cb, c);
		if (c->tx_cb[q] == NULL)
			r = -rte_errno;
	}
	/* Direct transmit (af_packet tx_direct) bypasses the callbacks: the queues send
	 * through the PMD while the capture runs (from their next burst on). */
	if (r == 0 && (dirs & CTL_CAPTURE_TX))
		atomic_store_explicit(&p->tx_capture, true, memory_order_relaxed);
	if (r < 0) {
		snprintf(err, errlen, "cannot add a capture callback on port %s: %s", p->name,
			 rte_strerror(-r));
		if (!remove_callbacks(c)) {
			c->pcap = NULL; /* closed below */
			capture_free(c, false);
			return r;
		}
		goto fail;
	}
	active[slot] = c;
	SNAP_LOG(INFO, "capture %s: started to %s (count %" PRIu64 ", duration %u ms, snaplen %u)",
		 p->name, c->path, req->count, req->duration_ms, c->snaplen);
	*out = c;
	return 0;
fail:
	capture_free(c, true);
	return r;
}

/* ---- the RPC method ---------------------------------------------------------------------- */

struct capture_call {
	struct ctl_rpc_call *call;
	struct ctl_capture *cap;
	char path[256];
};

static void capture_done(void *arg, int err, const struct ctl_capture_result *res)
{
	struct capture_call *cc = arg;
	if (err == -EIO) {
		ctl_rpc_error(cc->call, err, "writing %s failed after %" PRIu64 " packets", cc->path,
			      res->packets);
	} else {
		/* Cancelled means the client left: the reply only releases the call. */
		Ctl__CaptureReply rep = CTL__CAPTURE_REPLY__INIT;
		rep.packets = res->packets;
		rep.bytes = res->bytes;
		rep.dropped = res->dropped;
		rep.elapsed_ms = res->elapsed_ms;
		rep.path = cc->path;
		ctl_rpc_reply(cc->call, &rep.base);
	}
	free(cc);
}

static void capture_client_gone(void *arg)
{
	struct capture_call *cc = arg;
	ctl_capture_cancel(cc->cap);
}

static int h_capture(struct ctl_rpc_call *call, const uint8_t *req, size_t len)
{
	Ctl__CaptureRequest *q = (Ctl__CaptureRequest *)ctl_rpc_unpack(
		call, &ctl__capture_request__descriptor, req, len);
	if (q == NULL)
		return -EBADMSG;
	int r = 0;
	unsigned dirs = 0;
	if (ctl_upgrade_active())
		r = ctl_rpc_error(call, -EBUSY, "an upgrade is in progress: a capture would not "
				  "survive it; capture once it is done");
	else if (q->direction == NULL || strcmp(q->direction, "both") == 0)
		dirs = CTL_CAPTURE_RX | CTL_CAPTURE_TX;
	else if (strcmp(q->direction, "rx") == 0)
		dirs = CTL_CAPTURE_RX;
	else if (strcmp(q->direction, "tx") == 0)
		dirs = CTL_CAPTURE_TX;
	else
		r = ctl_rpc_error(call, -EINVAL, "direction must be rx, tx or both");
	struct capture_call *cc = r ? NULL : calloc(1, sizeof(*cc));
	if (r == 0 && cc == NULL)
		r = ctl_rpc_error(call, -ENOMEM, "out of memory");
	if (r == 0) {
		/* No daemon config (a bare RPC server, as in tests and the fuzzer): no capture
		 * dir, so captures are refused like an unset daemon.capture_dir. */
		const struct snap_config *dc = snap_daemon()->cfg;
		struct ctl_capture_req cr = {
			.port = q->port,
			.dir = dc ? dc->capture_dir : "",
			.path = q->path,
			.count = q->has_count ? q->count : 0,
			.duration_ms = q->has_duration_ms ? q->duration_ms : 0,
			.snaplen = q->has_snaplen ? q->snaplen : 0,
			.dirs = dirs,
		};
		char err[256];
		cc->call = call;
		snprintf(cc->path, sizeof(cc->path), "%s", q->path);
		r = ctl_capture_start(ctl_rpc_call_server(call), &cr, capture_done, cc, &cc->cap,
				      err, sizeof(err));
		if (r < 0) {
			free(cc);
			r = ctl_rpc_error(call, r, "%s", err);
		} else {
			ctl_rpc_on_cancel(call, capture_client_gone, cc);
			r = CTL_RPC_DEFERRED;
		}
	}
	protobuf_c_message_free_unpacked(&q->base, NULL);
	return r;
}

CTL_RPC_REGISTER(capture, CTL_M_CAPTURE, h_capture, CTL_RPC_MUTATING)
