/* Validation and execution of one app command. The command is the daemon's private copy
 * (taken off the ring once, see pony_app_session_poll); every field is checked against the
 * session's own records before use, and a refused command gets an error completion and a
 * counter. Nothing here reads the shared region except payload bytes handed to the
 * transport. */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <sys/random.h>

#include <string.h>
#include <time.h>

#include "pony/app_internal.h"
#include "pony/bpf.h"
#include "pony/onesided.h"

/* Off the SEND/RECV path: refusals and the rarer commands stay out of line, so the hot ones
 * don't pay their registers and their 64-byte-aligned completion on the stack (app_cmd_exec
 * realigned its frame and saved six registers for every command). */
#define CMD_COLD __attribute__((noinline, cold))
#define CMD_RARE __attribute__((noinline))

/* Refuse c: count the reason, complete with status. */
CMD_COLD
static void refuse(struct pony_app_session *s, const struct pony_shm_cmd *c, enum pony_app_err why,
		   int status)
{
	s->cnt.errors[why]++;
	struct pony_shm_cpl cpl = {
		.tag = c->tag, .status = status, .op = c->op, .flags = c->flags,
		.service = c->service, .stream = c->stream, .region = c->region,
	};
	if (c->op == PONY_OP_BPF_LOAD) {
		cpl.off = c->off; /* the library frees its copy of the program */
	} else if (c->op == PONY_OP_SEND || c->op == PONY_OP_RECV ||
		   pony_shm_op_onesided(c->op)) {
		cpl.off = c->off;
		/* echo len only when it is one a completion can carry */
		cpl.len = c->len <= PONY_MSG_MAX ? (uint32_t)c->len : 0;
	}
	app_cpl_push(s, &cpl);
}

static void done(struct pony_app_session *s, const struct pony_shm_cmd *c,
		 struct pony_shm_cpl *cpl)
{
	cpl->tag = c->tag;
	cpl->op = c->op;
	cpl->flags = c->flags;
	app_cpl_push(s, cpl);
}

/* [off, off + len * count) inside the payload area, without overflow. */
static bool buf_ok(const struct pony_app_session *s, uint64_t off, uint64_t len, uint64_t count)
{
	uint64_t size = s->hdr.buf_size;
	if (off > size || count == 0 || len > size)
		return false;
	/* len * count <= size - off, dividing instead of multiplying to avoid overflow */
	return count <= (size - off) / (len ? len : 1);
}

/* What each op may carry: the fields it uses (everything else must be 0) and the flags it
 * takes, as a mask over the command's eight words of the bits that must be clear. Checking a
 * command is then eight ANDs and ORs: the per-flag and per-field tests it replaces cost ~70
 * instructions a command, and an RPC is two commands. */
enum { F_SERVICE = 1, F_STREAM = 2, F_OFF = 4, F_LEN = 8, F_COUNT = 16, F_IP = 32,
       F_REGION = 64, F_PERMS = 128, F_REMOTE = 256 /* rkey, roff */ };
#define F_ONESIDED (F_SERVICE | F_OFF | F_LEN | F_IP | F_REGION | F_REMOTE)

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "masks are little-endian words");
_Static_assert(offsetof(struct pony_shm_cmd, flags) == 1 &&
		       offsetof(struct pony_shm_cmd, service) == 2 &&
		       offsetof(struct pony_shm_cmd, stream) == 4 &&
		       offsetof(struct pony_shm_cmd, tag) == 8 &&
		       offsetof(struct pony_shm_cmd, off) == 16 &&
		       offsetof(struct pony_shm_cmd, len) == 24 &&
		       offsetof(struct pony_shm_cmd, count) == 32 &&
		       offsetof(struct pony_shm_cmd, ip) == 36 &&
		       offsetof(struct pony_shm_cmd, region) == 40 &&
		       offsetof(struct pony_shm_cmd, perms) == 44 &&
		       offsetof(struct pony_shm_cmd, rkey) == 48 &&
		       offsetof(struct pony_shm_cmd, roff) == 56,
	       "the masks below follow struct pony_shm_cmd's layout");

#define ZERO_UNLESS(fl, bit, m) (((fl) & (bit)) ? 0 : (uint64_t)(m))
/* The row of an op using fields fl and taking flags fg. ADDR6 is never taken here (the
 * command pairs take it off before the check), so every row has a bit set in word 0 and a
 * row of zeros is an op this daemon does not serve. */
#define RULE(fl, fg)                                                                       \
	{{(uint64_t)(uint8_t)~(fg) << 8 | ZERO_UNLESS(fl, F_SERVICE, 0xffffull << 16) |     \
		  ZERO_UNLESS(fl, F_STREAM, 0xffffffffull << 32),                           \
	  0, ZERO_UNLESS(fl, F_OFF, ~0ull), ZERO_UNLESS(fl, F_LEN, ~0ull),                  \
	  ZERO_UNLESS(fl, F_COUNT, 0xffffffffull) | ZERO_UNLESS(fl, F_IP, 0xffffffffull << 32), \
	  ZERO_UNLESS(fl, F_REGION, 0xffffffffull) |                                        \
		  ZERO_UNLESS(fl, F_PERMS, 0xffffffffull << 32),                            \
	  ZERO_UNLESS(fl, F_REMOTE, ~0ull), ZERO_UNLESS(fl, F_REMOTE, ~0ull)}}

struct op_rule {
	uint64_t zero[8]; /* bits of the command that must be 0 */
};

static const struct op_rule op_rules[PONY_OP_MAX] __attribute__((aligned(64))) = {
	[PONY_OP_OPEN] = RULE(F_SERVICE | F_IP, PONY_CMDF_CLASS_MASK),
	[PONY_OP_LISTEN] = RULE(F_SERVICE, 0),
	[PONY_OP_UNLISTEN] = RULE(F_SERVICE, 0),
	/* FREE_ON_DONE only makes sense for sends (the library's copy-in buffers). */
	[PONY_OP_SEND] = RULE(F_STREAM | F_OFF | F_LEN,
			      PONY_CMDF_FREE_ON_DONE | PONY_CMDF_CLASS_MASK | PONY_CMDF_RPC),
	[PONY_OP_RECV] = RULE(F_STREAM | F_OFF | F_LEN | F_COUNT, 0),
	[PONY_OP_CLOSE] = RULE(F_STREAM, 0),
	[PONY_OP_REGION_REG] = RULE(F_OFF | F_LEN | F_PERMS, 0),
	[PONY_OP_REGION_REVOKE] = RULE(F_REGION, 0),
	[PONY_OP_READ] = RULE(F_ONESIDED, PONY_CMDF_PIECE),
	[PONY_OP_WRITE] = RULE(F_ONESIDED, PONY_CMDF_PIECE),
	[PONY_OP_READ_INDIRECT] = RULE(F_ONESIDED, PONY_CMDF_IND_PTR),
	[PONY_OP_SCAN_READ] = RULE(F_ONESIDED | F_COUNT, 0),
	[PONY_OP_FETCH_ADD] = RULE(F_ONESIDED, 0),
	[PONY_OP_CMP_SWAP] = RULE(F_ONESIDED, 0),
	[PONY_OP_BPF_CALL] = RULE(F_ONESIDED | F_COUNT, 0),
	[PONY_OP_BPF_LOAD] = RULE(F_REGION | F_OFF | F_LEN | F_COUNT, PONY_CMDF_FREE_ON_DONE),
};

/* c's op is one this daemon serves. */
static inline bool op_valid(const struct pony_shm_cmd *c)
{
	return c->op < PONY_OP_MAX && op_rules[c->op].zero[0] != 0;
}

/* Word i of c, loaded straight from it (a local array of all eight went through the stack). */
static inline uint64_t cmd_word(const struct pony_shm_cmd *c, unsigned i)
{
	uint64_t w;
	memcpy(&w, (const uint8_t *)c + 8 * i, sizeof(w));
	return w;
}

/* c (op valid) carries only fields and flags its op takes. c is the daemon's own copy. */
static inline __attribute__((always_inline)) bool fields_ok(const struct pony_shm_cmd *c)
{
	_Static_assert(sizeof(*c) == 64, "a command is eight words");
	const uint64_t *m = op_rules[c->op].zero;
	/* Written out: -O2 keeps the loop (a counter and a branch a word). */
	return ((cmd_word(c, 0) & m[0]) | (cmd_word(c, 1) & m[1]) | (cmd_word(c, 2) & m[2]) |
		(cmd_word(c, 3) & m[3]) | (cmd_word(c, 4) & m[4]) | (cmd_word(c, 5) & m[5]) |
		(cmd_word(c, 6) & m[6]) | (cmd_word(c, 7) & m[7])) == 0;
}

/* The priority class a command's flags ask for (PONY_CMDF_CLASS_MASK), else dflt. */
static unsigned cmd_class(const struct pony_shm_cmd *c, unsigned dflt)
{
	unsigned v = (c->flags & PONY_CMDF_CLASS_MASK) >> PONY_CMDF_CLASS_SHIFT;
	return v ? v - 1 : dflt;
}

/* The peer c names: peer6 (its address entry), else its IPv4 ip. */
static struct pony_ip cmd_peer(const struct pony_shm_cmd *c, const struct pony_ip *peer6)
{
	if (peer6 != NULL)
		return *peer6;
	return pony_ip_from4(htonl(c->ip)); /* apps: host order; the transport: network */
}

CMD_RARE
static void cmd_open(struct pony_app_session *s, const struct pony_shm_cmd *c,
		     const struct pony_ip *peer6)
{
	if (s->n_ops >= s->max_ops)
		return refuse(s, c, PONY_APP_ERR_LIMIT_OPS, -ENOBUFS);
	struct app_stream *st = app_stream_alloc(s);
	if (st == NULL)
		return refuse(s, c, PONY_APP_ERR_LIMIT_STREAMS, -ENOSPC);
	uint32_t op = app_op_alloc(s);
	s->ops[op].op = PONY_OP_OPEN;
	s->ops[op].tag = c->tag;
	s->ops[op].stream = st->id;
	s->ops[op].off = 0;
	s->ops[op].len = 0;
	s->ops[op].flags = 0;
	st->state = APP_STREAM_OPENING;
	st->open_op = op;
	st->tag = c->tag;
	st->service = c->service;
	st->peer_ip = c->ip;
	st->qos = pony_qos_code(cmd_class(c, PONY_QOS_NORMAL));
	struct pony_ip peer = cmd_peer(c, peer6);
	int r = pony_tp_open(s->host->tp, &peer, c->service, st, &st->sid);
	if (r) {
		st->open_op = APP_NONE;
		app_op_free(s, op);
		app_stream_free(s, st);
		return refuse(s, c, PONY_APP_ERR_TRANSPORT, r);
	}
}

static struct app_listen *listen_find(struct pony_app_session *s, uint16_t service)
{
	for (uint32_t i = 0; i < s->max_listens; i++)
		if (s->listens[i].used && s->listens[i].service == service)
			return &s->listens[i];
	return NULL;
}

/* A service covered by service_owners entries only for the users one of them names. */
static bool may_listen(const struct pony_app_session *s, uint16_t service)
{
	bool covered = false;
	for (unsigned i = 0; i < s->n_own; i++) {
		if (service < s->own_lo[i] || service > s->own_hi[i])
			continue;
		if (s->own_ok & (1u << i))
			return true;
		covered = true;
	}
	return !covered;
}

CMD_RARE
static void cmd_listen(struct pony_app_session *s, const struct pony_shm_cmd *c)
{
	if (!may_listen(s, c->service)) {
		s->host->cnt.listen_not_owner++;
		return refuse(s, c, PONY_APP_ERR_NOT_OWNER, -EACCES);
	}
	struct app_listen *l = NULL;
	for (uint32_t i = 0; i < s->max_listens && l == NULL; i++)
		if (!s->listens[i].used)
			l = &s->listens[i];
	if (l == NULL)
		return refuse(s, c, PONY_APP_ERR_LIMIT_LISTENS, -ENOSPC);
	l->service = c->service;
	l->tag = c->tag;
	int r = pony_tp_listen(s->host->tp, c->service, l);
	if (r)
		return refuse(s, c, PONY_APP_ERR_TRANSPORT, r);
	l->used = true;
	s->n_listens++;
	s->host->cnt.listens++;
	struct pony_shm_cpl cpl = {.service = c->service};
	done(s, c, &cpl);
}

CMD_RARE
static void cmd_unlisten(struct pony_app_session *s, const struct pony_shm_cmd *c)
{
	struct app_listen *l = listen_find(s, c->service);
	if (l == NULL)
		return refuse(s, c, PONY_APP_ERR_BAD_SERVICE, -ENOENT);
	pony_tp_unlisten(s->host->tp, c->service);
	l->used = false;
	s->n_listens--;
	s->host->cnt.listens--;
	struct pony_shm_cpl cpl = {.service = c->service};
	done(s, c, &cpl);
}

static void cmd_send(struct pony_app_session *s, const struct pony_shm_cmd *c)
{
	if (c->len == 0 || c->len > PONY_MSG_MAX)
		return refuse(s, c, PONY_APP_ERR_BAD_LEN, -EINVAL);
	if (!buf_ok(s, c->off, c->len, 1))
		return refuse(s, c, PONY_APP_ERR_BAD_BUFFER, -EFAULT);
	struct app_stream *st = app_stream_get(s, c->stream);
	if (st == NULL)
		return refuse(s, c, PONY_APP_ERR_BAD_STREAM, -EBADF);
	if (st->state != APP_STREAM_OPEN)
		return refuse(s, c, PONY_APP_ERR_NOT_CONNECTED, -ENOTCONN);
	if (s->n_ops >= s->max_ops)
		return refuse(s, c, PONY_APP_ERR_LIMIT_OPS, -ENOBUFS);
	uint32_t i = app_op_alloc(s);
	struct app_op *op = &s->ops[i];
	op->op = PONY_OP_SEND;
	op->tag = c->tag;
	op->off = c->off;
	op->len = (uint32_t)c->len;
	op->stream = st->id;
	op->flags = c->flags;
	app_op_hold(s, i);
	unsigned ran = PONY_QOS_NORMAL, cls = cmd_class(c, pony_qos_class(st->qos));
	s->qos = pony_qos_code(cls); /* how urgently this app's commands are served */
	s->host->classes_asked |= (uint8_t)(1u << cls);
	unsigned rpc = c->flags & PONY_CMDF_RPC ? PONY_QOS_RPC : 0;
	int r = pony_tp_send_qos(s->host->tp, st->sid, s->buf + c->off, op->len, cls | rpc, &ran,
				 (uint64_t)op->gen << 32 | i);
	op->qos = pony_qos_code(ran);
	if (r) {
		app_op_free(s, i);
		return refuse(s, c, PONY_APP_ERR_TRANSPORT, r);
	}
}

static void cmd_recv(struct pony_app_session *s, const struct pony_shm_cmd *c)
{
	if (c->count == 0 || c->count > PONY_RECV_BATCH_MAX)
		return refuse(s, c, PONY_APP_ERR_BAD_COUNT, -EINVAL);
	if (c->len == 0 || c->len > PONY_MSG_MAX)
		return refuse(s, c, PONY_APP_ERR_BAD_LEN, -EINVAL);
	if (!buf_ok(s, c->off, c->len, c->count))
		return refuse(s, c, PONY_APP_ERR_BAD_BUFFER, -EFAULT);
	struct app_stream *st = app_stream_get(s, c->stream);
	if (st == NULL)
		return refuse(s, c, PONY_APP_ERR_BAD_STREAM, -EBADF);
	if (s->max_ops - s->n_ops < c->count)
		return refuse(s, c, PONY_APP_ERR_LIMIT_OPS, -ENOBUFS);
	for (uint32_t k = 0; k < c->count; k++) {
		uint32_t i = app_op_alloc(s);
		struct app_op *op = &s->ops[i];
		op->op = PONY_OP_RECV;
		op->qos = 0; /* normal until a message fills it (up_rx_done) */
		op->tag = c->tag;
		op->off = c->off + (uint64_t)k * c->len;
		op->len = (uint32_t)c->len;
		op->stream = st->id;
		op->flags = 0;
		op->held = false;
		op->next = APP_NONE;
		if (st->rx_tail == APP_NONE)
			st->rx_head = i;
		else
			s->ops[st->rx_tail].next = i;
		st->rx_tail = i;
	}
	if (st->state != APP_STREAM_OPEN) {
		st->rx_deferred += c->count; /* granted when the open completes */
		return;
	}
	int r = pony_tp_grant(s->host->tp, st->sid, c->count);
	if (r) {
		/* The transport refused the credit: these buffers will never fill. Only the
		 * ones just queued fail (they are the FIFO's tail). */
		s->cnt.errors[PONY_APP_ERR_TRANSPORT]++;
		uint32_t keep = APP_NONE, i = st->rx_head, n_old = 0;
		for (; i != APP_NONE; i = s->ops[i].next)
			n_old++;
		n_old -= c->count;
		i = st->rx_head;
		for (uint32_t k = 0; k < n_old; k++) {
			keep = i;
			i = s->ops[i].next;
		}
		if (keep == APP_NONE)
			st->rx_head = APP_NONE;
		else
			s->ops[keep].next = APP_NONE;
		st->rx_tail = keep;
		while (i != APP_NONE) {
			uint32_t nx = s->ops[i].next;
			app_op_complete(s, i, r, 0);
			i = nx;
		}
	}
}

CMD_RARE
static void cmd_close(struct pony_app_session *s, const struct pony_shm_cmd *c)
{
	struct app_stream *st = app_stream_get(s, c->stream);
	if (st == NULL)
		return refuse(s, c, PONY_APP_ERR_BAD_STREAM, -EBADF);
	pony_tp_close(s->host->tp, st->sid);
	if (st->open_op != APP_NONE) {
		uint32_t op = st->open_op;
		st->open_op = APP_NONE;
		app_op_complete(s, op, -ECANCELED, 0);
	}
	app_stream_fail_rx(s, st, -ECANCELED);
	uint32_t id = st->id;
	app_stream_free(s, st); /* the CLOSE completion uses the slot the stream owed */
	struct pony_shm_cpl cpl = {.stream = id};
	done(s, c, &cpl);
}

CMD_RARE
static void cmd_region_reg(struct pony_app_session *s, const struct pony_shm_cmd *c)
{
	if (c->perms == 0 || (c->perms & ~(uint32_t)(PONY_REGION_READ | PONY_REGION_WRITE)))
		return refuse(s, c, PONY_APP_ERR_BAD_PERMS, -EINVAL);
	if (c->len == 0 || !buf_ok(s, c->off, c->len, 1))
		return refuse(s, c, PONY_APP_ERR_BAD_BUFFER, -EFAULT);
	struct app_region *r = NULL;
	uint32_t idx = 0;
	for (; idx < s->max_regions; idx++)
		if (s->regions[idx].id == 0) {
			r = &s->regions[idx];
			break;
		}
	if (r == NULL)
		return refuse(s, c, PONY_APP_ERR_LIMIT_REGIONS, -ENOSPC);
	uint64_t key;
	/* Keys must be unguessable by other hosts: kernel CSPRNG (never blocks once seeded). */
	if (getrandom(&key, sizeof(key), GRND_NONBLOCK) != sizeof(key))
		return refuse(s, c, PONY_APP_ERR_NO_RANDOM, -EAGAIN);
	if (++r->gen == 0)
		r->gen = 1;
	r->id = (uint32_t)r->gen << APP_STREAM_IDX_BITS | idx;
	r->off = c->off;
	r->len = c->len;
	r->perms = c->perms;
	r->key = key;
	s->n_regions++;
	s->host->cnt.regions++;
	struct pony_shm_cpl cpl = {.region = r->id, .key = key, .off = c->off};
	done(s, c, &cpl);
}

CMD_RARE
static void cmd_region_revoke(struct pony_app_session *s, const struct pony_shm_cmd *c)
{
	uint32_t idx = c->region & ((1u << APP_STREAM_IDX_BITS) - 1);
	if (idx >= s->max_regions || s->regions[idx].id == 0 || s->regions[idx].id != c->region)
		return refuse(s, c, PONY_APP_ERR_BAD_REGION, -ENOENT);
	pony_bpf_table_unload(s->bpf, c->region); /* no op runs them from now on */
	s->regions[idx].id = 0;
	s->regions[idx].key = 0;
	s->n_regions--;
	s->host->cnt.regions--;
	struct pony_shm_cpl cpl = {.region = c->region};
	done(s, c, &cpl);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* May the engine validate a program now? Credit (ns) accrues at PONY_BPF_LOAD_DUTY_PCT of
 * the time passed, up to PONY_BPF_LOAD_BURST_MS; each validation spends what it took. */
static bool load_budget(struct pony_app_host *h, uint64_t now)
{
	const int64_t cap = (int64_t)PONY_BPF_LOAD_BURST_MS * 1000000;
	if (h->bpf_credit_ns == 0)
		h->bpf_credit = cap;
	else
		h->bpf_credit += (int64_t)((now - h->bpf_credit_ns) / 100u * PONY_BPF_LOAD_DUTY_PCT);
	if (h->bpf_credit > cap)
		h->bpf_credit = cap;
	h->bpf_credit_ns = now;
	return h->bpf_credit > 0;
}

/* Load a program for one of this app's regions (pony/bpf.h). The buffer holds the name (32
 * bytes, NUL-padded) then count instructions; both are copied before they are checked. The
 * completion's len carries the refusal reason. */
CMD_RARE
static void cmd_bpf_load(struct pony_app_session *s, const struct pony_shm_cmd *c)
{
	if (c->count == 0 || c->count > PONY_BPF_INSNS_MAX ||
	    c->len != PONY_BPF_LOAD_HDR + (uint64_t)c->count * sizeof(struct pony_bpf_insn))
		return refuse(s, c, PONY_APP_ERR_BAD_LEN, -EINVAL);
	if (!buf_ok(s, c->off, c->len, 1))
		return refuse(s, c, PONY_APP_ERR_BAD_BUFFER, -EFAULT);
	uint32_t idx = c->region & ((1u << APP_STREAM_IDX_BITS) - 1);
	if (idx >= s->max_regions || s->regions[idx].id == 0 || s->regions[idx].id != c->region)
		return refuse(s, c, PONY_APP_ERR_BAD_REGION, -ENOENT);
	char name[PONY_BPF_LOAD_HDR];
	memcpy(name, s->buf + c->off, sizeof(name));
	unsigned reason = PONY_BPF_R_LOADS;
	int r = -EDQUOT;
	uint64_t t0 = mono_ns();
	if (!s->host->bpf_ops) {
		reason = PONY_BPF_R_DISABLED;
		r = -EPERM;
	} else if (!load_budget(s->host, t0)) {
		reason = PONY_BPF_R_BUSY;
		r = -EAGAIN;
	} else if (s->bpf_attempts < PONY_BPF_LOADS_MAX) {
		s->bpf_attempts++;
		r = pony_bpf_table_load(&s->bpf, c->region, name, strnlen(name, sizeof(name)),
					s->buf + c->off + PONY_BPF_LOAD_HDR, c->count, &reason);
		s->host->bpf_credit -= (int64_t)(mono_ns() - t0);
	}
	if (r)
		s->host->cnt.bpf_refused++;
	else
		s->host->cnt.bpf_loads++;
	struct pony_shm_cpl cpl = {.status = r, .region = c->region, .off = c->off,
				   .len = r ? reason : 0};
	done(s, c, &cpl);
}

/* One-sided op: checked here, handed to the transport (pony/onesided.h), completed by
 * os_done. The op holds the session's mapping (tp_refs) until then: the transport writes
 * read results into the buffer when the response arrives. */
CMD_RARE
static void cmd_onesided(struct pony_app_session *s, const struct pony_shm_cmd *c,
			 const struct pony_ip *peer6)
{
	if (c->len == 0 || c->len > PONY_ONESIDED_MAX)
		return refuse(s, c, PONY_APP_ERR_BAD_LEN, -EINVAL);
	if (!buf_ok(s, c->off, c->len, 1))
		return refuse(s, c, PONY_APP_ERR_BAD_BUFFER, -EFAULT);
	if (c->op == PONY_OP_SCAN_READ && (c->count == 0 || c->count > PONY_SCAN_KEY_MAX ||
					   c->count > c->len))
		return refuse(s, c, PONY_APP_ERR_BAD_COUNT, -EINVAL);
	/* BPF: count request bytes ({name_len, name, args}) at the buffer's start, which
	 * then takes the result; no remote offset. */
	bool bpf = c->op == PONY_OP_BPF_CALL;
	if (bpf && (c->count < 2 || c->count > PONY_OS_BPF_IN_MAX || c->count > c->len))
		return refuse(s, c, PONY_APP_ERR_BAD_COUNT, -EINVAL);
	if (bpf && (c->len < 8 || c->roff))
		return refuse(s, c, PONY_APP_ERR_BAD_LEN, -EINVAL);
	/* Atomics: the buffer holds the operands (add; compare, swap), 8 or 16 bytes. */
	bool atomic = c->op == PONY_OP_FETCH_ADD || c->op == PONY_OP_CMP_SWAP;
	if (atomic && c->len != (c->op == PONY_OP_FETCH_ADD ? 8u : 16u))
		return refuse(s, c, PONY_APP_ERR_BAD_LEN, -EINVAL);
	if (s->n_ops >= s->max_ops)
		return refuse(s, c, PONY_APP_ERR_LIMIT_OPS, -ENOBUFS);
	static const uint8_t opcode[PONY_OP_MAX] = {
		[PONY_OP_READ] = PONY_OS_READ, [PONY_OP_WRITE] = PONY_OS_WRITE,
		[PONY_OP_READ_INDIRECT] = PONY_OS_READ_INDIRECT,
		[PONY_OP_SCAN_READ] = PONY_OS_SCAN_READ,
		[PONY_OP_FETCH_ADD] = PONY_OS_FETCH_ADD, [PONY_OP_CMP_SWAP] = PONY_OS_CMP_SWAP,
		[PONY_OP_BPF_CALL] = PONY_OS_BPF,
	};
	uint8_t key[PONY_SCAN_KEY_MAX];
	struct pony_os_op o = {
		.opcode = opcode[c->op], .region = c->region, .len = (uint32_t)c->len,
		.rkey = c->rkey, .off = c->roff, .buf = s->buf + c->off,
		.flags = (c->flags & PONY_CMDF_IND_PTR) ? PONY_OS_F_PTR : 0,
	};
	if (c->op == PONY_OP_SCAN_READ) {
		memcpy(key, s->buf + c->off, c->count); /* copied once: the app may scribble */
		o.key_len = (uint8_t)c->count;
		o.key_data = key;
	} else if (atomic) {
		memcpy(key, s->buf + c->off, c->len); /* the operands, copied once too */
		o.key_len = (uint8_t)c->len;
		o.key_data = key;
		o.len = PONY_OS_ATOMIC_LEN;
	} else if (bpf) { /* the transport copies the request from buf when it sends it */
		o.off = c->count;
		o.len = c->len < PONY_OS_BPF_OUT_MAX ? (uint32_t)c->len : PONY_OS_BPF_OUT_MAX;
	}
	uint32_t i = app_op_alloc(s);
	struct app_op *op = &s->ops[i];
	op->op = c->op;
	op->tag = c->tag;
	op->off = c->off;
	op->len = o.len;
	op->stream = 0;
	op->flags = c->flags;
	app_op_hold(s, i);
	struct pony_ip peer = cmd_peer(c, peer6);
	int r = pony_tp_os_submit(s->host->tp, &peer, c->service, &o, s,
				  (uint64_t)op->gen << 32 | i);
	if (r) {
		app_op_free(s, i);
		return refuse(s, c, PONY_APP_ERR_TRANSPORT, r);
	}
}

static void os_done(void *owner, uint64_t cookie, int status, uint32_t len)
{
	struct pony_app_session *s = owner;
	uint32_t i = (uint32_t)cookie;
	if (i >= s->max_ops || s->ops[i].gen != (uint32_t)(cookie >> 32) || !s->ops[i].held ||
	    !pony_shm_op_onesided(s->ops[i].op)) {
		s->cnt.stray_upcalls++;
		return;
	}
	if (status == 0) {
		if (s->ops[i].op == PONY_OP_WRITE)
			s->cnt.tx_bytes += len;
		else
			s->cnt.rx_bytes += len;
	}
	app_op_complete(s, i, status, len);
	if (s->tp_refs == 0)
		app_session_tp_drained(s); /* may free s */
}

/* Find a region for a remote op among the host's live sessions. Region ids are per app, so
 * several apps may have the same id: the 64-bit random key picks the one meant. Statuses:
 * OK; BAD_KEY (the id exists, no key matches); REVOKED (no live region with the id, but a
 * slot that once had it: its generation reached the id's); NO_REGION otherwise. */
static unsigned os_resolve(void *ctx, uint32_t region, uint64_t key, struct pony_os_region *out)
{
	struct pony_app_host *h = ctx;
	uint32_t idx = region & ((1u << APP_STREAM_IDX_BITS) - 1);
	uint16_t gen = (uint16_t)(region >> APP_STREAM_IDX_BITS);
	unsigned st = PONY_OS_ST_NO_REGION;
	for (struct pony_app_session *s = h->live; s != NULL; s = s->next) {
		if (s->torn || idx >= s->max_regions)
			continue;
		const struct app_region *r = &s->regions[idx];
		if (r->id == region) {
			if (r->key == key) {
				out->base = (uint8_t *)s->buf + r->off;
				out->len = r->len;
				out->perms = r->perms;
				out->id = region;
				out->bpf = s->bpf;
				return PONY_OS_ST_OK;
			}
			st = PONY_OS_ST_BAD_KEY;
		} else if (gen != 0 && r->gen != 0 && st == PONY_OS_ST_NO_REGION &&
			   (int16_t)(r->gen - gen) >= 0) {
			st = PONY_OS_ST_REVOKED;
		}
	}
	return st;
}

const struct pony_os_hooks pony_app_os_hooks = {.resolve = os_resolve, .done = os_done};

void app_cmd_exec(struct pony_app_session *s, const struct pony_shm_cmd *c)
{
	if (!op_valid(c))
		return refuse(s, c, PONY_APP_ERR_BAD_OP, -EINVAL);
	if (!fields_ok(c))
		return refuse(s, c, PONY_APP_ERR_BAD_FIELD, -EINVAL);
	switch (c->op) {
	case PONY_OP_OPEN:
		return cmd_open(s, c, NULL);
	case PONY_OP_LISTEN:
		return cmd_listen(s, c);
	case PONY_OP_UNLISTEN:
		return cmd_unlisten(s, c);
	case PONY_OP_SEND:
		return cmd_send(s, c);
	case PONY_OP_RECV:
		return cmd_recv(s, c);
	case PONY_OP_CLOSE:
		return cmd_close(s, c);
	case PONY_OP_REGION_REG:
		return cmd_region_reg(s, c);
	case PONY_OP_REGION_REVOKE:
		return cmd_region_revoke(s, c);
	case PONY_OP_READ:
	case PONY_OP_WRITE:
	case PONY_OP_READ_INDIRECT:
	case PONY_OP_SCAN_READ:
	case PONY_OP_FETCH_ADD:
	case PONY_OP_CMP_SWAP:
	case PONY_OP_BPF_CALL:
		return cmd_onesided(s, c, NULL);
	case PONY_OP_BPF_LOAD:
		return cmd_bpf_load(s, c);
	}
}

void app_cmd_exec6(struct pony_app_session *s, const struct pony_shm_cmd *c,
		   const uint8_t *addr6)
{
	struct pony_ip p = {0};
	if (addr6 != NULL)
		memcpy(p.b, addr6, 16);
	/* Its entry must be there, the op one that names a peer, which must not alias an IPv4
	 * one (v4-mapped) nor come with an IPv4 address too. */
	if (addr6 == NULL || c->ip != 0 || pony_ip_is4(&p) ||
	    (c->op != PONY_OP_OPEN && !pony_shm_op_onesided(c->op)))
		return refuse(s, c, PONY_APP_ERR_BAD_FIELD, -EINVAL);
	/* The rest as app_cmd_exec checks it (kept apart: the per-op path stays as it was). */
	struct pony_shm_cmd d = *c;
	d.flags &= (uint8_t)~PONY_CMDF_ADDR6;
	if (!fields_ok(&d))
		return refuse(s, c, PONY_APP_ERR_BAD_FIELD, -EINVAL);
	if (d.op == PONY_OP_OPEN)
		cmd_open(s, &d, &p);
	else
		cmd_onesided(s, &d, &p);
}
