/* Restore of a Pony engine's app sessions and transport in the new daemon (app_save.h):
 * every saved session checked, then rebuilt over the app's memfd received by the takeover,
 * and the transport's pointers rebound to the rebuilt sessions. The blob's formats are
 * parsed by pony/app_save.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pony/app_internal.h"
#include "pony/app_save.h"
#include "pony/app_save_int.h"
#include "pony/save.h"
#include "snap/log.h"
#include "snap/numa.h"
#include "core/takeover.h"

/* Sessions restored in this process, for the attach layer (pony_app_restored_adopt) and for
 * rebinding the transport's pointers. */
static struct restored {
	struct pony_app_session *s;
	struct pony_app_host *h;
	int sock;
	uint64_t old_streams, old_listens, old_buf, old_sess;
	bool adopted;
} rs[RESTORED_MAX];
static unsigned n_rs;

static bool rb_failed; /* a pointer no restored session explains */

static struct restored *find_range(uint64_t p, int which)
{
	for (unsigned i = 0; i < n_rs; i++) {
		const struct pony_app_session *s = rs[i].s;
		uint64_t b = which == 0 ? rs[i].old_streams : which == 1 ? rs[i].old_listens
									 : rs[i].old_buf;
		uint64_t n = which == 0 ? s->max_streams * sizeof(struct app_stream)
			   : which == 1 ? s->max_listens * sizeof(struct app_listen)
					: s->hdr.buf_size;
		if (p >= b && p < b + n)
			return &rs[i];
	}
	return NULL;
}

static void *fail_ptr(const void *old)
{
	rb_failed |= old != NULL;
	return NULL;
}

static void *rb_owner(void *ctx, uint32_t sid, void *old)
{
	struct restored *r = find_range((uintptr_t)old, 0);
	if (r == NULL)
		return fail_ptr(old);
	return (char *)r->s->streams + ((uintptr_t)old - r->old_streams);
}

static void *rb_listener(void *ctx, uint16_t service, void *old)
{
	struct restored *r = find_range((uintptr_t)old, 1);
	if (r == NULL)
		return fail_ptr(old);
	return (char *)r->s->listens + ((uintptr_t)old - r->old_listens);
}

static const void *rb_tx_buf(void *ctx, uint32_t sid, uint64_t cookie, const void *old)
{
	struct restored *r = find_range((uintptr_t)old, 2);
	if (r == NULL)
		return fail_ptr(old);
	return r->s->buf + ((uintptr_t)old - r->old_buf);
}

static uint8_t *rb_rx_dst(void *ctx, uint32_t sid, uint64_t cookie, uint8_t *old)
{
	return (uint8_t *)(uintptr_t)rb_tx_buf(ctx, sid, cookie, old);
}

/* A one-sided op's owner is its session (app_cmd.c cmd_onesided). */
static void *rb_os_owner(void *ctx, uint64_t cookie, void *old)
{
	for (unsigned i = 0; i < n_rs; i++)
		if (rs[i].old_sess == (uintptr_t)old)
			return rs[i].s;
	return fail_ptr(old);
}

static void *rb_os_buf(void *ctx, uint64_t cookie, void *old)
{
	return (void *)(uintptr_t)rb_tx_buf(ctx, 0, cookie, old);
}

static void close_fds(int a, int b, int c, int d)
{
	close(a);
	close(b);
	close(c);
	close(d);
}

static bool idx_ok(uint32_t i, uint32_t n)
{
	return i == APP_NONE || i < n;
}

static bool span_ok(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

/* Follow a list of op indexes through ops[].next from head: every link in range, at most
 * max_ops steps (no cycle). Returns the count, or UINT32_MAX if broken. */
static uint32_t op_chain(const struct app_op *ops, uint32_t max_ops, uint32_t head, bool free)
{
	uint32_t n = 0;
	for (uint32_t i = head; i != APP_NONE; i = ops[i].next) {
		if (i >= max_ops || n >= max_ops ||
		    (free && (ops[i].op != PONY_OP_NONE || ops[i].held)))
			return UINT32_MAX;
		n++;
	}
	return n;
}

/* The session's own bookkeeping, as the blob has it: the limits are ones a config could
 * give, the shm header is the layout those limits produce, ring positions are within a
 * ring of each other, and every index, list and payload span points inside its table. */
static int session_check(const struct save_session *v, const struct app_stream *st,
			 const struct app_op *ops, const struct app_region *rg,
			 const struct app_listen *ls)
{
	struct pony_app_config c;
	pony_app_config_defaults(&c);
	c.buf_size = v->hdr.buf_size;
	c.cmd_entries = v->hdr.cmd_entries;
	c.max_streams = v->max_streams;
	c.max_ops = v->max_ops;
	c.max_regions = v->max_regions;
	c.max_listens = v->max_listens;
	char err[128];
	if (pony_app_config_check(&c, err, sizeof(err)) != 0 ||
	    pony_shm_check(&v->hdr, v->map_size) != 0 || v->hdr.region_size != v->map_size ||
	    v->hdr.cpl_entries != pony_app_cpl_entries(&c))
		return -EINVAL;
	if (v->n_streams > v->max_streams || v->n_ops > v->max_ops ||
	    v->n_regions > v->max_regions || v->n_listens > v->max_listens ||
	    v->tp_refs > v->n_ops || v->owed > v->max_ops + v->max_streams ||
	    v->cmd_tail_seen - v->cmd_head > v->hdr.cmd_entries ||
	    v->cpl_tail - v->cpl_head_seen > v->hdr.cpl_entries)
		return -EINVAL;
	for (uint32_t i = 0; i < v->max_ops; i++)
		if (!pony_saved_bool_ok(&ops[i].held) || !idx_ok(ops[i].next, v->max_ops) ||
		    (ops[i].op != PONY_OP_NONE && !span_ok(ops[i].off, ops[i].len, v->hdr.buf_size)))
			return -EINVAL;
	for (uint32_t i = 0; i < v->max_listens; i++)
		if (!pony_saved_bool_ok(&ls[i].used))
			return -EINVAL;
	uint32_t nfree = op_chain(ops, v->max_ops, v->op_free, true);
	if (nfree == UINT32_MAX || nfree + v->n_ops != v->max_ops)
		return -EINVAL;
	for (uint32_t i = 0; i < v->max_streams; i++) {
		if (st[i].state > APP_STREAM_OPEN)
			return -EINVAL;
		if (st[i].state == APP_STREAM_FREE)
			continue;
		if (!idx_ok(st[i].open_op, v->max_ops) || !idx_ok(st[i].rx_tail, v->max_ops) ||
		    op_chain(ops, v->max_ops, st[i].rx_head, false) == UINT32_MAX)
			return -EINVAL;
	}
	for (uint32_t i = 0; i < v->max_regions; i++)
		if (rg[i].id != 0 && !span_ok(rg[i].off, rg[i].len, v->hdr.buf_size))
			return -EINVAL;
	return 0;
}

int pony_app_save_check(const void *data, size_t len, size_t *tp_off)
{
	const uint8_t *p = data, *end = p + len;
	uint32_t version, n;
	int r = app_save_begin(&p, end, &version, &n);
	for (uint32_t i = 0; r == 0 && i < n; i++) {
		struct sess_image si;
		r = app_sess_read(version, &p, end, &si);
		if (r == 0)
			r = session_check(&si.v, si.st, si.ops, si.rg, si.ls);
		app_sess_free(&si);
	}
	if (r == 0)
		*tp_off = (size_t)(p - (const uint8_t *)data);
	return r;
}

/* Map the received memfd and rebuild one session from its checked record. */
static int session_rebuild(struct pony_app_host *h, const struct sess_image *si)
{
	const struct save_session *v = &si->v;
	if (n_rs >= RESTORED_MAX)
		return -ENOSPC;
	int sock, memfd, cmd_efd, cpl_efd;
	int r = snap_takeover_app_fds(v->app_id, &sock, &memfd, &cmd_efd, &cpl_efd);
	if (r)
		return r;
	/* Mapping past the file's end would fault on first touch: the region must really be
	 * as large as the record says. */
	struct stat fst;
	if (fstat(memfd, &fst) != 0 || !S_ISREG(fst.st_mode) ||
	    (uint64_t)fst.st_size < v->map_size) {
		SNAP_LOG(ERR, "apps: app %u: its memfd is smaller than its saved region (%llu)",
			 v->app_id, (unsigned long long)v->map_size);
		close_fds(sock, memfd, cmd_efd, cpl_efd);
		return -EINVAL;
	}
	int so = pony_app_host_socket(h);
	struct pony_app_session *s = snap_numa_calloc("pony_app_session", 1, sizeof(*s), so);
	if (s == NULL)
		return -ENOMEM;
	s->streams = snap_numa_calloc("pony_app_streams", v->max_streams ? v->max_streams : 1,
				      sizeof(*s->streams), so);
	s->ops = snap_numa_calloc("pony_app_ops", v->max_ops ? v->max_ops : 1, sizeof(*s->ops),
				  so);
	s->regions = snap_numa_calloc("pony_app_regions", v->max_regions ? v->max_regions : 1,
				      sizeof(*s->regions), so);
	s->listens = snap_numa_calloc("pony_app_listens", v->max_listens ? v->max_listens : 1,
				      sizeof(*s->listens), so);
	void *base = mmap(NULL, v->map_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (!s->streams || !s->ops || !s->regions || !s->listens || base == MAP_FAILED) {
		if (base != MAP_FAILED)
			munmap(base, v->map_size);
		pony_app_session_free(s);
		close_fds(sock, memfd, cmd_efd, cpl_efd);
		return -ENOMEM;
	}
	s->app_id = v->app_id;
	s->sock_fd = sock;
	s->memfd = memfd;
	s->cmd_efd = cmd_efd;
	s->cpl_efd = cpl_efd;
	s->base = base;
	s->map_size = v->map_size;
	s->hdr = v->hdr;
	s->cmd_ring = pony_shm_cmd_ring(base, &s->hdr);
	s->cpl_ring = pony_shm_cpl_ring(base, &s->hdr);
	s->cmds = (struct pony_shm_cmd *)((char *)base + s->hdr.cmd_off);
	s->cpls = (struct pony_shm_cpl *)((char *)base + s->hdr.cpl_off);
	s->buf = (char *)base + s->hdr.buf_off;
	s->cmd_head = v->cmd_head;
	s->cmd_tail_seen = v->cmd_tail_seen;
	s->cpl_tail = v->cpl_tail;
	s->cpl_head_seen = v->cpl_head_seen;
	s->owed = v->owed;
	s->kick = true; /* completions the old daemon wrote may not have been rung yet */
	s->broken = v->broken;
	s->torn = v->torn;
	s->max_streams = v->max_streams;
	s->max_ops = v->max_ops;
	s->max_regions = v->max_regions;
	s->max_listens = v->max_listens;
	s->n_streams = v->n_streams;
	s->n_ops = v->n_ops;
	s->n_regions = v->n_regions;
	s->n_listens = v->n_listens;
	s->tp_refs = v->tp_refs;
	s->op_free = v->op_free;
	s->cnt = v->cnt;
	memcpy(s->streams, si->st, sizeof(*s->streams) * v->max_streams);
	memcpy(s->ops, si->ops, sizeof(*s->ops) * v->max_ops);
	memcpy(s->regions, si->rg, sizeof(*s->regions) * (v->max_regions ? v->max_regions : 1));
	memcpy(s->listens, si->ls, sizeof(*s->listens) * v->max_listens);
	for (uint32_t i = 0; i < v->max_streams; i++)
		s->streams[i].s = s;
	for (uint32_t i = 0; i < v->max_listens; i++)
		s->listens[i].s = s;
	r = pony_app_host_adopt(h, s);
	if (r) {
		pony_app_session_free(s);
		close_fds(sock, memfd, cmd_efd, cpl_efd);
		return r;
	}
	h->cnt.streams += s->n_streams;
	h->cnt.ops += s->n_ops;
	h->cnt.regions += s->n_regions;
	h->cnt.listens += s->n_listens;
	h->kick_pending = true;
	rs[n_rs++] = (struct restored){s, h, sock, v->old_streams, v->old_listens, v->old_buf,
				       v->old_sess, false};
	SNAP_LOG(NOTICE, "apps: app %u restored (%u streams, %u ops, cmd head %u, cpl tail %u)",
		 s->app_id, s->n_streams, s->n_ops, s->cmd_head, s->cpl_tail);
	return 0;
}

int pony_app_restore(struct pony_app_host *h, struct pony_tp *tp, const void *data,
		     size_t len)
{
	/* Every record is checked before any session is built or any fd taken. */
	size_t tp_off;
	int r = pony_app_save_check(data, len, &tp_off);
	if (r) {
		SNAP_LOG(ERR, "apps: saved sessions refused: %s", r == -EPROTO ? "other format or "
			 "truncated" : "inconsistent record");
		return r;
	}
	const uint8_t *p = data, *end = p + len;
	uint32_t version, n;
	r = app_save_begin(&p, end, &version, &n);
	if (r == 0 && n && h == NULL)
		r = -EINVAL;
	for (uint32_t i = 0; r == 0 && i < n; i++) {
		struct sess_image si;
		r = app_sess_read(version, &p, end, &si);
		if (r == 0)
			r = session_rebuild(h, &si);
		app_sess_free(&si);
	}
	if (r)
		return r;
	/* A pointer the transport holds that no session explains: refuse rather than run
	 * with a dangling one (the old daemon then resumes). */
	const struct pony_tp_rebind rb = {
		.ctx = NULL, .owner = rb_owner, .tx_buf = rb_tx_buf, .rx_dst = rb_rx_dst,
		.listener = rb_listener, .os_owner = rb_os_owner, .os_buf = rb_os_buf,
	};
	rb_failed = false;
	r = pony_tp_restore(tp, p, (size_t)(end - p), &rb);
	if (r == 0 && rb_failed) {
		SNAP_LOG(ERR, "apps: transport state points outside every restored session");
		r = -EINVAL;
	}
	return r;
}

unsigned pony_app_restored_adopt(struct pony_app_attach *a)
{
	unsigned n = 0;
	for (unsigned i = 0; i < n_rs; i++) {
		if (rs[i].adopted)
			continue;
		int memfd, cmd_efd, cpl_efd;
		pony_app_session_fds(rs[i].s, &memfd, &cmd_efd, &cpl_efd);
		struct ucred cr = {0};
		socklen_t cl = sizeof(cr);
		getsockopt(rs[i].sock, SOL_SOCKET, SO_PEERCRED, &cr, &cl);
		if (pony_app_attach_adopt(a, rs[i].h, rs[i].s, rs[i].s->app_id, rs[i].sock,
					  cr.uid) == 0) {
			rs[i].adopted = true;
			n++;
		}
	}
	return n;
}
