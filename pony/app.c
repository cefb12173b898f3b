/* Daemon-side app sessions: the shared region of one app, its streams/ops/regions tables,
 * the completion ring writer with its credit accounting, and the host (per-engine) loop that
 * drains command rings. Engine thread, except create/free of a session (control thread).
 *
 * Completion credit: the daemon never blocks and never drops a completion. Every pending op
 * and every live stream "owes" exactly one future completion; `owed` counts them. A command
 * is taken off the ring only while free slots - owed >= APP_CMD_CREDIT, so the immediate
 * completion it may produce and the completions it promises always fit; an incoming stream
 * is refused when no slot is left for its ACCEPT and CLOSED. An app that stops polling
 * completions therefore just stops having its commands consumed (backpressure).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pony/app_internal.h"
#include "pony/bpf.h"
#include "snap/engine.h"
#include "snap/log.h"
#include "snap/numa.h"

#define HOSTS_MAX 64

static struct pony_app_host *hosts[HOSTS_MAX];

/* ---- completions ---- */

/* Re-read the app's consumer index and check it: it may only move forward, up to our tail. */
int app_cpl_refresh(struct pony_app_session *s)
{
	uint32_t h = pony_shm_head(s->cpl_ring);
	if (h - s->cpl_head_seen > s->cpl_tail - s->cpl_head_seen)
		return -EPROTO;
	s->cpl_head_seen = h;
	return 0;
}

int64_t app_cpl_credit(struct pony_app_session *s)
{
	return (int64_t)s->hdr.cpl_entries - (int64_t)(s->cpl_tail - s->cpl_head_seen) -
	       (int64_t)s->owed;
}

struct pony_shm_cpl *app_cpl_slot(struct pony_app_session *s)
{
	if (s->torn)
		return NULL; /* the app is gone or cut off: nobody reads completions any more */
	if (s->cpl_tail - s->cpl_head_seen >= s->hdr.cpl_entries &&
	    (app_cpl_refresh(s) != 0 || s->cpl_tail - s->cpl_head_seen >= s->hdr.cpl_entries)) {
		/* Cannot happen while the credit rule holds; counted so a test can prove it. */
		s->cnt.cpl_overflow++;
		return NULL;
	}
	return &s->cpls[s->cpl_tail & (s->hdr.cpl_entries - 1)];
}

void app_cpl_commit(struct pony_app_session *s)
{
	s->cpl_tail++;
	pony_shm_publish(s->cpl_ring, s->cpl_tail);
	s->cnt.cpls++;
	s->kick = true;
	s->host->kick_pending = true;
}

void app_cpl_push(struct pony_app_session *s, const struct pony_shm_cpl *c)
{
	struct pony_shm_cpl *slot = app_cpl_slot(s);
	if (slot == NULL)
		return;
	memcpy(slot, c, sizeof(*c));
	app_cpl_commit(s);
}

/* Ring the app's eventfd if it said it sleeps (see the doorbell protocol in shm.h). */
static void session_kick(struct pony_app_session *s)
{
	if (!s->kick)
		return;
	s->kick = false;
	if (pony_shm_consumer_sleeps(s->cpl_ring)) {
		uint64_t one = 1;
		if (write(s->cpl_efd, &one, sizeof(one)) == sizeof(one))
			s->cnt.kicks++;
	}
}

/* ---- tables ---- */

void app_op_complete(struct pony_app_session *s, uint32_t i, int status, uint32_t len)
{
	const struct app_op *op = &s->ops[i];
	/* Written in place: built on the stack, the 64-byte-aligned entry cost a realigned frame
	 * and a copy on every completion. */
	struct pony_shm_cpl *c = app_cpl_slot(s);
	if (c != NULL) {
		memset(c, 0, sizeof(*c));
		c->tag = op->tag;
		c->status = status;
		c->op = op->op;
		c->flags = op->flags;
		c->stream = op->stream;
		c->len = len;
		c->off = op->off;
		if (op->op == PONY_OP_SEND || op->op == PONY_OP_RECV)
			c->service = (uint16_t)(pony_qos_class(op->qos) + 1);
	}
	app_op_free(s, i); /* before the commit: the completion uses the slot this op owed */
	if (c != NULL)
		app_cpl_commit(s);
}

struct app_stream *app_stream_alloc(struct pony_app_session *s)
{
	if (s->n_streams >= s->max_streams)
		return NULL;
	for (uint32_t i = 0; i < s->max_streams; i++) {
		struct app_stream *st = &s->streams[i];
		if (st->state != APP_STREAM_FREE)
			continue;
		if (++st->gen == 0)
			st->gen = 1;
		st->id = (uint32_t)st->gen << APP_STREAM_IDX_BITS | i;
		st->rx_head = st->rx_tail = st->open_op = APP_NONE;
		st->rx_deferred = 0;
		st->s = s;
		s->n_streams++;
		s->owed++; /* its final CLOSE/CLOSED (or failed OPEN) completion */
		s->host->cnt.streams++;
		return st;
	}
	return NULL;
}

void app_stream_free(struct pony_app_session *s, struct app_stream *st)
{
	st->state = APP_STREAM_FREE;
	st->id = 0;
	s->n_streams--;
	s->owed--;
	s->host->cnt.streams--;
}

void app_stream_fail_rx(struct pony_app_session *s, struct app_stream *st, int status)
{
	while (st->rx_head != APP_NONE) {
		uint32_t i = st->rx_head;
		st->rx_head = s->ops[i].next;
		app_op_complete(s, i, status, 0);
	}
	st->rx_tail = APP_NONE;
	st->rx_deferred = 0;
}

/* ---- session lifecycle ---- */

static void session_unmap(struct pony_app_session *s)
{
	if (s->base) {
		munmap(s->base, s->map_size);
		if (s->host)
			s->host->cnt.mapped_bytes -= s->map_size;
		s->base = NULL;
	}
}

void pony_app_session_free(struct pony_app_session *s)
{
	if (s == NULL)
		return;
	session_unmap(s);
	snap_numa_free(s->streams);
	snap_numa_free(s->ops);
	snap_numa_free(s->regions);
	snap_numa_free(s->listens);
	pony_bpf_table_free(s->bpf);
	snap_numa_free(s);
}

static int session_map(struct pony_app_session *s, const struct pony_app_config *c)
{
	if (pony_shm_layout(&s->hdr, c->cmd_entries, pony_app_cpl_entries(c), c->buf_size) != 0)
		return -EINVAL;
	s->memfd = memfd_create("pony-app", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (s->memfd < 0)
		return -errno;
	/* Seal the size: an app that could shrink the file would make our accesses SIGBUS. */
	if (ftruncate(s->memfd, (off_t)s->hdr.region_size) != 0 ||
	    fcntl(s->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
		return -errno;
	void *p = mmap(NULL, s->hdr.region_size, PROT_READ | PROT_WRITE, MAP_SHARED, s->memfd, 0);
	if (p == MAP_FAILED)
		return -errno;
	s->base = p;
	s->map_size = s->hdr.region_size;
	memcpy(p, &s->hdr, sizeof(s->hdr));
	s->cmd_ring = pony_shm_cmd_ring(p, &s->hdr);
	s->cpl_ring = pony_shm_cpl_ring(p, &s->hdr);
	s->cmds = (struct pony_shm_cmd *)((char *)p + s->hdr.cmd_off);
	s->cpls = (struct pony_shm_cpl *)((char *)p + s->hdr.cpl_off);
	s->buf = (char *)p + s->hdr.buf_off;
	s->cmd_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->cpl_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->cmd_efd < 0 || s->cpl_efd < 0)
		return -errno;
	return 0;
}

void pony_app_session_set_owner(struct pony_app_session *s, const struct pony_app_config *c,
				uint32_t mask)
{
	s->n_own = (uint8_t)c->n_owners;
	s->own_ok = mask;
	for (unsigned i = 0; i < c->n_owners; i++) {
		s->own_lo[i] = c->owners[i].lo;
		s->own_hi[i] = c->owners[i].hi;
	}
}

struct pony_app_session *pony_app_session_create(const struct pony_app_config *c,
						 uint32_t app_id, int sock_fd, int socket_id)
{
	int so = socket_id;
	struct pony_app_session *s = snap_numa_calloc("pony_app_session", 1, sizeof(*s), so);
	if (s == NULL)
		return NULL;
	s->app_id = app_id;
	s->sock_fd = sock_fd;
	s->memfd = s->cmd_efd = s->cpl_efd = -1;
	s->max_streams = c->max_streams;
	s->max_ops = c->max_ops;
	s->max_regions = c->max_regions;
	s->max_listens = c->max_listens;
	s->streams = snap_numa_calloc("pony_app_streams", c->max_streams, sizeof(*s->streams), so);
	s->ops = snap_numa_calloc("pony_app_ops", c->max_ops, sizeof(*s->ops), so);
	s->regions = snap_numa_calloc("pony_app_regions", c->max_regions ? c->max_regions : 1,
				      sizeof(*s->regions), so);
	s->listens = snap_numa_calloc("pony_app_listens", c->max_listens, sizeof(*s->listens), so);
	int r = -ENOMEM;
	if (s->streams && s->ops && s->regions && s->listens)
		r = session_map(s, c);
	if (r != 0) {
		int fds[3] = {s->memfd, s->cmd_efd, s->cpl_efd};
		for (int i = 0; i < 3; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		pony_app_session_free(s);
		errno = -r;
		return NULL;
	}
	for (uint32_t i = 0; i < c->max_ops; i++)
		s->ops[i].next = i + 1 < c->max_ops ? i + 1 : APP_NONE;
	s->op_free = c->max_ops ? 0 : APP_NONE;
	for (uint32_t i = 0; i < c->max_listens; i++)
		s->listens[i].s = s;
	return s;
}

void pony_app_session_fds(const struct pony_app_session *s, int *memfd, int *cmd_efd,
			  int *cpl_efd)
{
	*memfd = s->memfd;
	*cmd_efd = s->cmd_efd;
	*cpl_efd = s->cpl_efd;
}

void pony_app_session_set_version(struct pony_app_session *s, uint32_t version)
{
	s->hdr.version = version;
	memcpy(s->base, &s->hdr, sizeof(s->hdr));
}

void *pony_app_session_base(const struct pony_app_session *s)
{
	return s->base;
}

bool pony_app_session_broken(const struct pony_app_session *s)
{
	return s->broken;
}

/* Release everything the session holds in the transport and its tables, without writing
 * completions (nobody reads them). Idempotent. Buffers the transport still holds (queued
 * sends, receives it began) stay counted in tp_refs: they live in our mapping, which must
 * outlive them, and their late upcalls must find the session. */
static void session_teardown(struct pony_app_session *s)
{
	if (s->torn)
		return;
	s->torn = true;
	struct pony_app_host *h = s->host;
	for (uint32_t i = 0; i < s->max_listens; i++) {
		if (s->listens[i].used) {
			pony_tp_unlisten(h->tp, s->listens[i].service);
			s->listens[i].used = false;
			s->n_listens--;
			h->cnt.listens--;
		}
	}
	for (uint32_t i = 0; i < s->max_streams; i++) {
		struct app_stream *st = &s->streams[i];
		if (st->state == APP_STREAM_FREE)
			continue;
		pony_tp_close(h->tp, st->sid); /* peers see the stream close */
		if (st->open_op != APP_NONE)
			app_op_free(s, st->open_op);
		app_stream_fail_rx(s, st, -ECANCELED);
		app_stream_free(s, st);
	}
	for (uint32_t i = 0; i < s->max_regions; i++) {
		if (s->regions[i].id) {
			s->regions[i].id = 0;
			s->n_regions--;
			h->cnt.regions--;
		}
	}
}

static void list_del(struct pony_app_session **head, struct pony_app_session *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		*head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
}

static void list_add(struct pony_app_session **head, struct pony_app_session *s)
{
	s->prev = NULL;
	s->next = *head;
	if (*head)
		(*head)->prev = s;
	*head = s;
}

/* Free a detached session once the transport holds none of its buffers. */
static void session_reap(struct pony_app_session *s)
{
	struct pony_app_host *h = s->host;
	if (!s->detached || s->tp_refs)
		return;
	list_del(&h->zombies, s);
	/* Drop the ops the transport never completed back to the free state (gauges). */
	for (uint32_t i = 0; i < s->max_ops; i++)
		if (s->ops[i].op != PONY_OP_NONE)
			app_op_free(s, i);
	h->cnt.sessions--;
	pony_app_session_free(s);
}

void app_session_tp_drained(struct pony_app_session *s)
{
	if (s->detached)
		session_reap(s);
}

void app_violation(struct pony_app_session *s)
{
	if (s->broken)
		return;
	s->broken = true;
	s->host->cnt.protocol_violations++;
	SNAP_LOG(WARNING, "app %u broke the ring protocol: disconnected", s->app_id);
	session_teardown(s);
	/* The control thread sees EOF/HUP on the socket and detaches us through the normal
	 * close path; shutdown is safe from any thread and the fd stays open until then. */
	if (s->sock_fd >= 0)
		shutdown(s->sock_fd, SHUT_RDWR);
}

static int adopt_fn(struct snap_engine *e, void *arg)
{
	struct pony_app_session *s = arg;
	struct pony_app_host *h = s->host;
	if (e) {
		int r = snap_engine_add_wake_fd(e, s->cmd_efd);
		if (r)
			return r;
	}
	list_add(&h->live, s);
	h->cnt.attached++;
	h->cnt.sessions++;
	h->cnt.mapped_bytes += s->map_size;
	return 0;
}

int pony_app_host_adopt(struct pony_app_host *h, struct pony_app_session *s)
{
	s->host = h;
	int r = h->engine ? snap_engine_call(h->engine, adopt_fn, s, 1000) : adopt_fn(NULL, s);
	if (r)
		s->host = NULL;
	return r;
}

static int detach_fn(struct snap_engine *e, void *arg)
{
	struct pony_app_session *s = arg;
	struct pony_app_host *h = s->host;
	if (e)
		snap_engine_del_wake_fd(e, s->cmd_efd);
	session_teardown(s);
	if (h->rr == s)
		h->rr = s->next;
	list_del(&h->live, s);
	list_add(&h->zombies, s);
	s->detached = true;
	h->cnt.detached++;
	session_reap(s);
	return 0;
}

int pony_app_host_detach(struct pony_app_host *h, struct pony_app_session *s)
{
	return h->engine ? snap_engine_call(h->engine, detach_fn, s, 1000) : detach_fn(NULL, s);
}

/* ---- draining the command ring ---- */

/* c with PONY_CMDF_ADDR6: its IPv6 peer rides in the next entry, published with it (a
 * missing one is the app's error: the command is refused). Copied once, like c. */
static void cmd_pair(struct pony_app_session *s, const struct pony_shm_cmd *c, uint32_t tail)
{
	struct pony_shm_cmd_addr a6;
	if (s->cmd_head == tail) {
		pony_shm_release(s->cmd_ring, s->cmd_head);
		return app_cmd_exec6(s, c, NULL);
	}
	memcpy(&a6, &s->cmds[s->cmd_head & (s->hdr.cmd_entries - 1)], sizeof(a6));
	atomic_signal_fence(memory_order_seq_cst);
	s->cmd_head++;
	pony_shm_release(s->cmd_ring, s->cmd_head);
	app_cmd_exec6(s, c, a6.addr);
}

unsigned pony_app_session_poll(struct pony_app_host *h, struct pony_app_session *s,
			       unsigned budget)
{
	(void)h;
	if (s->broken)
		return 0;
	uint32_t tail = pony_shm_tail(s->cmd_ring);
	/* The tail may only move forward from what we saw and at most a ring ahead of us. */
	if (tail - s->cmd_head > s->hdr.cmd_entries ||
	    tail - s->cmd_tail_seen > tail - s->cmd_head ||
	    app_cpl_refresh(s) != 0) {
		app_violation(s);
		return 0;
	}
	s->cmd_tail_seen = tail;
	unsigned n = 0;
	const uint32_t mask = s->hdr.cmd_entries - 1;
	while (n < budget && s->cmd_head != tail && app_cpl_credit(s) >= APP_CMD_CREDIT) {
		struct pony_shm_cmd c;
		memcpy(&c, &s->cmds[s->cmd_head & mask], sizeof(c));
		/* The compiler may not re-read the shared entry in place of the copy: everything
		 * below looks only at c, whatever the app writes into the slot meanwhile. */
		atomic_signal_fence(memory_order_seq_cst);
		s->cmd_head++;
		s->cnt.cmds++;
		/* The slot goes back to the app before the command runs, so before any completion
		 * of it is published: an app that has every completion sees an empty ring. Released
		 * once per batch instead, an app that pushed into a full ring (-EAGAIN) with its
		 * last completions already in slept on them, and so did we: a stall until either
		 * timed out. */
		if (__builtin_expect(c.flags & PONY_CMDF_ADDR6, 0)) {
			cmd_pair(s, &c, tail);
		} else {
			pony_shm_release(s->cmd_ring, s->cmd_head);
			app_cmd_exec(s, &c);
		}
		n++;
		if (s->broken)
			return n;
	}
	return n;
}

void pony_app_host_flush(struct pony_app_host *h)
{
	if (!h->kick_pending)
		return;
	h->kick_pending = false;
	for (struct pony_app_session *s = h->live; s; s = s->next)
		session_kick(s);
}

int pony_app_host_arm(struct pony_app_host *h, bool arm)
{
	for (struct pony_app_session *s = h->live; s; s = s->next) {
		if (s->broken)
			continue;
		uint64_t v;
		if (!arm) {
			pony_shm_disarm(s->cmd_ring);
			if (read(s->cmd_efd, &v, sizeof(v)) < 0) {
				/* EAGAIN: nobody rang; nothing to reset. */
			}
			continue;
		}
		if (pony_shm_arm(s->cmd_ring, s->cmd_head)) {
			v = 1; /* work raced in: make our own wake fd readable */
			if (write(s->cmd_efd, &v, sizeof(v)) < 0) {
				/* cannot fail short of a full counter, which is readable anyway */
			}
		}
	}
	return 0;
}

/* ---- host ---- */

struct pony_app_host *pony_app_host_create(struct snap_engine *engine, const char *name,
					   struct pony_tp *tp)
{
	if (engine)
		name = snap_engine_name(engine);
	if (name == NULL || name[0] == '\0' || strlen(name) >= sizeof(hosts[0]->name)) {
		errno = EINVAL;
		return NULL;
	}
	if (pony_app_host_find(name)) {
		errno = EEXIST;
		return NULL;
	}
	unsigned slot = 0;
	while (slot < HOSTS_MAX && hosts[slot])
		slot++;
	if (slot == HOSTS_MAX) {
		errno = ENOSPC;
		return NULL;
	}
	struct pony_app_host *h = snap_numa_calloc(
		"pony_app_host", 1, sizeof(*h), engine ? snap_engine_socket(engine) : SOCKET_ID_ANY);
	if (h == NULL)
		return NULL;
	h->engine = engine;
	h->tp = tp;
	h->bpf_ops = true; /* the pony element turns it off unless configured */
	if (tp != NULL && pony_tp_os_attach(tp, &pony_app_os_hooks, h) != 0) {
		snap_numa_free(h);
		errno = ENOMEM;
		return NULL;
	}
	strcpy(h->name, name);
	hosts[slot] = h;
	return h;
}

static struct {
	pony_app_host_gone_fn fn;
	void *ctx;
} watchers[PONY_APP_HOST_WATCHERS_MAX];

int pony_app_host_watch(pony_app_host_gone_fn fn, void *ctx)
{
	for (unsigned i = 0; i < PONY_APP_HOST_WATCHERS_MAX; i++)
		if (watchers[i].fn == NULL) {
			watchers[i].fn = fn;
			watchers[i].ctx = ctx;
			return 0;
		}
	return -ENOSPC;
}

void pony_app_host_unwatch(pony_app_host_gone_fn fn, void *ctx)
{
	for (unsigned i = 0; i < PONY_APP_HOST_WATCHERS_MAX; i++)
		if (watchers[i].fn == fn && watchers[i].ctx == ctx)
			watchers[i].fn = NULL;
}

void pony_app_host_destroy(struct pony_app_host *h)
{
	if (h == NULL)
		return;
	while (h->live)
		detach_fn(h->engine, h->live);
	while (h->zombies) {
		struct pony_app_session *s = h->zombies;
		s->tp_refs = 0; /* the transport is going away with us */
		for (uint32_t i = 0; i < s->max_ops; i++)
			s->ops[i].held = false;
		session_reap(s);
	}
	for (unsigned i = 0; i < HOSTS_MAX; i++)
		if (hosts[i] == h)
			hosts[i] = NULL;
	if (h->tp != NULL)
		pony_tp_os_attach(h->tp, NULL, NULL); /* later op completions find no session */
	for (unsigned i = 0; i < PONY_APP_HOST_WATCHERS_MAX; i++)
		if (watchers[i].fn)
			watchers[i].fn(watchers[i].ctx, h);
	snap_numa_free(h);
}

int pony_app_host_socket(const struct pony_app_host *h)
{
	return h->engine ? snap_engine_socket(h->engine) : SOCKET_ID_ANY;
}

struct pony_app_host *pony_app_host_find(const char *name)
{
	for (unsigned i = 0; i < HOSTS_MAX; i++)
		if (hosts[i] && strcmp(hosts[i]->name, name) == 0)
			return hosts[i];
	return NULL;
}

struct pony_app_host *pony_app_host_least(unsigned (*load)(const struct pony_app_host *h,
							   void *ctx),
					  void *ctx)
{
	struct pony_app_host *best = NULL;
	unsigned best_load = 0;
	for (unsigned i = 0; i < HOSTS_MAX; i++) {
		if (hosts[i] == NULL)
			continue;
		unsigned l = load(hosts[i], ctx);
		if (best == NULL || l < best_load) {
			best = hosts[i];
			best_load = l;
		}
	}
	return best;
}

const char *pony_app_host_name(const struct pony_app_host *h)
{
	return h->name;
}

void *pony_app_region_lookup(struct pony_app_session *s, uint32_t id, uint64_t key,
			     uint64_t off, uint64_t len, uint32_t perms)
{
	uint32_t idx = id & ((1u << APP_STREAM_IDX_BITS) - 1);
	if (s->torn || idx >= s->max_regions)
		return NULL;
	const struct app_region *r = &s->regions[idx];
	if (r->id == 0 || r->id != id || r->key != key || (r->perms & perms) != perms ||
	    off > r->len || len > r->len - off)
		return NULL;
	return s->buf + r->off + off;
}

void pony_app_host_set_bpf(struct pony_app_host *h, bool on)
{
	h->bpf_ops = on;
}
