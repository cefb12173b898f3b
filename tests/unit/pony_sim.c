/* The Pony test harness (contracts in pony_sim.h): the simulated link, the checking upcalls,
 * set-up of EAL and endpoints, and the stepping loop. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_hash_crc.h>
#include <rte_mbuf.h>

#include "pony/auth.h"
#include "pony_sim.h"

uint64_t sim_rng_state = 88172645463325252ull;
struct sim_link sim_link;
struct sim_ep sim_ep[SIM_EP_MAX];
uint8_t *sim_pattern;
struct rte_mempool *sim_pool;
uint64_t sim_now;
static char sim_prefix[64];

static uint16_t sim_xmit(void *ctx, const struct pony_ip *peer, uint16_t peer_port,
			 uint16_t local_port, struct rte_mbuf **pkts, uint16_t n)
{
	(void)local_port;
	struct sim_ep *from = ctx;
	struct sim_link *l = &sim_link;
	int dst = -1;
	for (int i = 0; i < SIM_EP_MAX; i++)
		if (sim_ep[i].tp && sim_ep[i].port == peer_port &&
		    (pony_ip_eq(&sim_ep[i].addr, peer) || pony_ip_eq(&sim_ep[i].addr6, peer)))
			dst = i;
	if (l->log_calls && l->n_calls++ < SIM_CALLS_MAX) {
		struct sim_call *c = &l->calls[l->n_calls - 1];
		*c = (struct sim_call){.src = (uint8_t)from->idx, .pkts = n};
		for (uint16_t i = 0; i < n; i++)
			c->big += rte_pktmbuf_pkt_len(pkts[i]) > 1024;
	}
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		l->sent++;
		if (dst < 0 || l->down[dst] || (!l->capture && sim_unif() < l->loss) ||
		    l->n + 2 > SIM_PENDING_MAX) {
			l->lost++;
			rte_pktmbuf_free(m);
			continue;
		}
		/* + IP and UDP headers: 28 bytes over IPv4, 48 over IPv6 */
		if (l->mtu && rte_pktmbuf_pkt_len(m) + (pony_ip_is4(peer) ? 28 : 48) > l->mtu) {
			l->too_big++;
			rte_pktmbuf_free(m);
			continue;
		}
		struct pony_hdr ph;
		if (l->old_receiver &&
		    pony_wire_parse(rte_pktmbuf_mtod(m, const void *), rte_pktmbuf_data_len(m),
				    &ph) >= 0 && ph.type == PONY_T_NOP && ph.payload_len != 0) {
			l->old_nops++;
			rte_pktmbuf_free(m);
			continue;
		}
		int copies = (!l->capture && sim_unif() < l->dup) ? 2 : 1;
		for (int c = 0; c < copies; c++) {
			struct rte_mbuf *x = m;
			if (c == 1) {
				x = rte_pktmbuf_copy(m, sim_pool, 0, UINT32_MAX);
				if (x == NULL)
					break;
				l->dups++;
			}
			if (!l->capture && sim_unif() < l->corrupt) {
				uint8_t *d = rte_pktmbuf_mtod(x, uint8_t *);
				d[sim_rand() % rte_pktmbuf_data_len(x)] ^= (uint8_t)(1u << (sim_rand() % 8));
				l->corrupted++;
			}
			uint64_t at = sim_now + l->base_ns;
			if (l->rate_bps > 0) {
				uint64_t *busy = &l->busy_until[from->idx];
				uint64_t start = *busy > sim_now ? *busy : sim_now;
				if (start - sim_now > l->qmax_ns) {
					l->q_drops++;
					rte_pktmbuf_free(x);
					continue;
				}
				uint32_t wire = rte_pktmbuf_pkt_len(x) + 42 + 24; /* + preamble/IFG/FCS */
				uint64_t ser = (uint64_t)(wire * 8 * 1e9 / l->rate_bps);
				*busy = start + ser;
				l->q_sum_ns += start - sim_now;
				l->q_samples++;
				if (start - sim_now > l->q_max_ns)
					l->q_max_ns = start - sim_now;
				l->bytes += rte_pktmbuf_pkt_len(x);
				at = *busy + l->base_ns;
			}
			if (!l->capture && sim_unif() < l->reorder) {
				at += 1 + sim_rand() % l->reorder_ns;
				l->reordered++;
			}
			l->p[l->n++] = (struct sim_pkt){.m = x, .at = at, .dst = dst,
							.src = from->idx, .v6 = !pony_ip_is4(peer)};
		}
	}
	return n;
}

/* The address a packet from endpoint src came from: its own of the family it was sent to. */
static const struct pony_ip *src_addr(int src, bool v6)
{
	const struct sim_ep *e = &sim_ep[src];
	return v6 && (e->addr6.q[0] | e->addr6.q[1]) != 0 ? &e->addr6 : &e->addr;
}

unsigned sim_deliver(void)
{
	struct sim_link *l = &sim_link;
	unsigned done = 0;
	if (l->capture)
		return 0;
	for (int d = 0; d < SIM_EP_MAX; d++) {
		struct rte_mbuf *burst[32];
		uint16_t nb = 0;
		int src = -1;
		bool v6 = false;
		for (unsigned i = 0; i < l->n;) {
			struct sim_pkt *p = &l->p[i];
			if (p->dst != d || p->at > sim_now) {
				i++;
				continue;
			}
			if (nb == 32 || (nb && (src != p->src || v6 != p->v6))) {
				pony_tp_input_at(sim_ep[d].tp, src_addr(src, v6), sim_ep[src].port,
						 burst, nb, sim_now + l->input_ahead_ns,
						 sim_now + l->input_ahead_ns);
				nb = 0;
			}
			src = p->src;
			v6 = p->v6;
			burst[nb++] = p->m;
			*p = l->p[--l->n];
			done++;
		}
		if (nb)
			pony_tp_input_at(sim_ep[d].tp, src_addr(src, v6), sim_ep[src].port, burst,
					 nb, sim_now + l->input_ahead_ns,
					 sim_now + l->input_ahead_ns);
	}
	return done;
}

uint64_t sim_next_due(void)
{
	uint64_t t = UINT64_MAX;
	if (sim_link.capture)
		return t;
	for (unsigned i = 0; i < sim_link.n; i++)
		if (sim_link.p[i].at < t)
			t = sim_link.p[i].at;
	return t;
}

void sim_drop_pending(void)
{
	for (unsigned i = 0; i < sim_link.n; i++)
		rte_pktmbuf_free(sim_link.p[i].m);
	sim_link.n = 0;
}

/* ---- Upcalls. ---- */

struct sim_ts *sim_ts_new(struct sim_ep *ep)
{
	if (ep->n_ts >= SIM_TS_MAX)
		return NULL;
	struct sim_ts *t = &ep->ts[ep->n_ts++];
	memset(t, 0, sizeof(*t));
	t->ep = ep;
	return t;
}

static int up_accept(void *listener, uint32_t sid, const struct pony_ip *peer, uint16_t service,
		     void **owner)
{
	struct sim_ep *ep = listener;
	struct sim_ts *t = sim_ts_new(ep);
	if (t == NULL)
		return -ENOSPC;
	t->sid = sid;
	t->opened = 1;
	t->credit_step = 1;
	*owner = t;
	if (ep->initial_credit)
		pony_tp_grant(ep->tp, sid, ep->initial_credit);
	return 0;
}

static void up_opened(void *owner, uint32_t sid, int status)
{
	struct sim_ts *t = owner;
	t->opened = status == 0 ? 1 : status;
}

static uint32_t sim_crc(const void *p, uint32_t len)
{
	return rte_hash_crc(p, len, 0);
}

static void *up_rx_begin(void *owner, uint32_t sid, uint32_t len, uint64_t *cookie)
{
	struct sim_ts *t = owner;
	if (t->peer == NULL || t->rx_next >= t->peer->total || t->peer->len[t->rx_next] != len ||
	    t->rx_buf != NULL) {
		t->rx_bad++;
		return NULL;
	}
	if (t->peek_buf != NULL && t->peek_len == len) {
		t->rx_buf = t->peek_buf; /* where rx_peek said */
		t->peek_buf = NULL;
	} else {
		t->rx_buf = malloc(len);
	}
	t->rx_len = len;
	*cookie = t->rx_next;
	return t->rx_buf;
}

/* The buffer the next rx_begin of len bytes returns (the expected length only, as
 * rx_begin checks). */
static void *up_rx_peek(void *owner, uint32_t sid, uint32_t len)
{
	struct sim_ts *t = owner;
	if (t->peer == NULL || t->rx_next >= t->peer->total || t->peer->len[t->rx_next] != len ||
	    t->rx_buf != NULL)
		return NULL;
	if (t->peek_buf == NULL || t->peek_len != len) {
		free(t->peek_buf);
		t->peek_buf = malloc(len);
		t->peek_len = len;
	}
	return t->peek_buf;
}

static void up_rx_done(void *owner, uint32_t sid, uint64_t cookie, uint32_t len, int status)
{
	struct sim_ts *t = owner;
	if (status != 0) {
		t->rx_err++;
		t->last_rx_err = status;
	} else if (cookie != t->rx_next || t->rx_buf == NULL || len != t->rx_len ||
		   sim_crc(t->rx_buf, len) !=
			   sim_crc(sim_pattern + t->peer->off[t->rx_next], t->peer->len[t->rx_next])) {
		t->rx_bad++;
	}
	free(t->rx_buf);
	t->rx_buf = NULL;
	t->rx_next++;
	if (t->credit_step && status == 0)
		pony_tp_grant(t->ep->tp, sid, t->credit_step);
}

static void up_tx_done(void *owner, uint32_t sid, uint64_t cookie, int status)
{
	struct sim_ts *t = owner;
	if (status != 0) {
		t->tx_err++;
		t->last_tx_err = status;
		return;
	}
	if (cookie != t->acked)
		t->rx_bad++; /* completions out of order */
	t->acked++;
}

static void up_closed(void *owner, uint32_t sid, int status)
{
	struct sim_ts *t = owner;
	t->closed_called = true;
	t->closed = status == 0 ? 1 : status;
}

static const struct pony_tp_upcalls sim_up = {
	.accept = up_accept, .opened = up_opened, .rx_begin = up_rx_begin,
	.rx_done = up_rx_done, .tx_done = up_tx_done, .closed = up_closed,
	.rx_peek = up_rx_peek,
};

/* ---- Setup. ---- */

int sim_eal_init(const char *name)
{
	if (getenv("PONY_SIM_SEED")) /* replay another seeded run of every scenario */
		sim_rng_state = strtoull(getenv("PONY_SIM_SEED"), NULL, 0) | 1;
	snprintf(sim_prefix, sizeof(sim_prefix), "%s_%d", name, (int)getpid());
	/* 384 MB (touched as used, --no-huge): the shared pool, a jumbo one and pony_pmtu's
	 * 63 KiB mbufs. */
	char *argv[] = {(char *)"test", (char *)"--no-huge", (char *)"--no-pci", (char *)"-m",
			(char *)"384", (char *)"--file-prefix", sim_prefix,
			(char *)"--log-level=lib.*:error", NULL};
	if (rte_eal_init(8, argv) < 0)
		return -1;
	sim_pool = rte_pktmbuf_pool_create("sim_pool", 32767, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					   SOCKET_ID_ANY);
	sim_pattern = malloc(SIM_PATTERN);
	if (sim_pool == NULL || sim_pattern == NULL)
		return -1;
	for (uint32_t i = 0; i < SIM_PATTERN; i++)
		sim_pattern[i] = (uint8_t)sim_rand();
	return 0;
}

void sim_eal_fini(void)
{
	rte_mempool_free(sim_pool);
	free(sim_pattern);
	rte_eal_cleanup();
	/* Remove the runtime dir of our prefix (non-root: under XDG_RUNTIME_DIR or /tmp). */
	char cmd[512];
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	snprintf(cmd, sizeof(cmd), "rm -rf /var/run/dpdk/%s %s/dpdk/%s /tmp/dpdk/%s 2>/dev/null",
		 sim_prefix, xdg ? xdg : "/tmp", sim_prefix, sim_prefix);
	if (system(cmd) != 0) {
		/* best effort */
	}
}

void sim_cfg(struct pony_tp_config *c, int idx)
{
	memset(c, 0, sizeof(*c));
	c->local_ip = 0x0100007f + ((uint32_t)idx << 24); /* 127.0.0.1, 127.0.0.2 (net order) */
	c->local_port = PONY_UDP_PORT_DEFAULT;
	c->tsc_hz = SIM_HZ;
	c->pool = sim_pool;
	c->xmit = sim_xmit;
	c->xmit_ctx = &sim_ep[idx];
	c->up = &sim_up;
	c->seed = 1000 + (uint32_t)idx;
	c->rto_min_us = 100;
	c->rto_init_us = 200;
	c->rto_max_us = 20000;
	c->keepalive_us = 5000;
	c->dead_timeout_us = 50000;
	/* PONY_SIM_AUTH=1: every scenario in authenticated mode (pony/auth.h), one shared key. */
	static const struct pony_auth_keyset ks = {.n = 1, .tx_id = 7, .id = {7}, .key = {{1, 2, 3}}};
	if (getenv("PONY_SIM_AUTH") && atoi(getenv("PONY_SIM_AUTH")))
		c->auth_keys = &ks;
}

int sim_ep_start(int idx, struct pony_tp_config *c)
{
	struct sim_ep *ep = &sim_ep[idx];
	memset(ep, 0, sizeof(*ep));
	ep->idx = idx;
	ep->ip = c->local_ip;
	if (c->local_ip)
		ep->addr = pony_ip_from4(c->local_ip);
	else
		memcpy(ep->addr.b, c->local_ip6, 16);
	if (c->local_ip)
		memcpy(ep->addr6.b, c->local_ip6, 16); /* all zero (matches nothing) if none */
	ep->port = c->local_port;
	ep->tp = pony_tp_create(c);
	return ep->tp ? 0 : -errno;
}

void sim_ep_stop(int idx)
{
	struct sim_ep *ep = &sim_ep[idx];
	pony_tp_destroy(ep->tp);
	ep->tp = NULL;
	for (unsigned i = 0; i < ep->n_ts; i++) {
		free(ep->ts[i].rx_buf);
		free(ep->ts[i].peek_buf);
		free(ep->ts[i].len);
		free(ep->ts[i].off);
	}
	ep->n_ts = 0;
}

int sim_ts_plan(struct sim_ts *t, uint32_t total, uint32_t max_len)
{
	t->total = total;
	t->len = calloc(total + 1, sizeof(uint32_t));
	t->off = calloc(total + 1, sizeof(uint32_t));
	if (t->len == NULL || t->off == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < total; i++) {
		double lg = sim_unif() * __builtin_log2((double)max_len);
		uint32_t len = (uint32_t)__builtin_exp2(lg);
		if (len < 1)
			len = 1;
		if (len > max_len)
			len = max_len;
		if (i % 97 == 0)
			len = max_len; /* always include the extremes */
		if (i % 89 == 0)
			len = 1;
		t->len[i] = len;
		t->off[i] = (uint32_t)(sim_rand() % (SIM_PATTERN - len + 1));
	}
	return 0;
}

void sim_ts_pump(struct sim_ts *t)
{
	while (t->sent < t->total && t->closed == 0) {
		int r = pony_tp_send(t->ep->tp, t->sid, sim_pattern + t->off[t->sent],
				     t->len[t->sent], t->sent);
		if (r != 0)
			break;
		t->sent++;
	}
}

unsigned sim_step(void)
{
	unsigned w = 0;
	for (int e = 0; e < SIM_EP_MAX; e++)
		for (unsigned i = 0; sim_ep[e].tp && i < sim_ep[e].n_ts; i++)
			sim_ts_pump(&sim_ep[e].ts[i]);
	w += sim_deliver();
	for (int e = 0; e < SIM_EP_MAX; e++)
		if (sim_ep[e].tp && !sim_link.down[e])
			w += pony_tp_poll(sim_ep[e].tp, sim_now);
	uint64_t t = sim_next_due();
	for (int e = 0; e < SIM_EP_MAX; e++) {
		if (sim_ep[e].tp && !sim_link.down[e]) {
			uint64_t d = pony_tp_next_deadline(sim_ep[e].tp);
			if (d < t)
				t = d;
		}
	}
	if (t > sim_now && t != UINT64_MAX)
		sim_now = t;
	else if (w == 0)
		sim_now += 1000;
	return w;
}

bool sim_run_until(bool (*cond)(void), uint64_t max_sim_ns, unsigned max_steps)
{
	uint64_t end = sim_now + max_sim_ns;
	for (unsigned i = 0; i < max_steps && sim_now < end; i++) {
		if (cond())
			return true;
		sim_step();
	}
	return cond();
}
