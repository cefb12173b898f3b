/* Pony authenticated mode on the packet path: which derived key a packet is sealed and
 * checked with (WIRE.md "Authentication"). SYN, SYN_ACK and RST use the handshake key of
 * the two endpoints (addresses, ports), everything else the key of the flow incarnation (plus
 * both flow ids), so without the master key nobody can open, reset or inject into a flow. */
#include <errno.h>

#include "pony/auth.h"
#include "pony/internal.h"

static bool hs_type(uint8_t t)
{
	return t == PONY_T_SYN || t == PONY_T_SYN_ACK || t == PONY_T_RST;
}

/* Budget of checks in the scratch slot (packets of no known flow incarnation). */
static bool scratch_allowed(struct pony_tp *tp)
{
	uint64_t ms = (uint64_t)(1e6 / tp->ns_per_tsc);
	if (tp->now - tp->auth_window_tsc >= ms) {
		tp->auth_window_tsc = tp->now;
		tp->auth_in_window = 0;
	}
	return tp->auth_in_window++ < PONY_AUTH_SCRATCH_PER_MS;
}

int pony_flow_auth_tx(struct pony_tp *tp, const struct pony_flow *f, const struct pony_ip *ip,
		      uint16_t port, const struct pony_hdr *h, uint8_t *pkt, size_t len)
{
	if (tp->auth == NULL)
		return 0;
	bool hs = hs_type(h->type);
	struct pony_auth_ident id = {.src_port = pony_flow_local_port(tp, f), .dst_ip = *ip,
				     .dst_port = port};
	pony_tp_local_addr(tp, ip, &id.src_ip);
	if (!hs) {
		id.src_flow = h->src_flow;
		id.dst_flow = h->dst_flow;
	}
	uint32_t slot = f ? (uint32_t)(f - tp->flows) : tp->cfg.max_flows;
	return pony_auth_seal(tp->auth, slot, hs ? PONY_AUTH_HS_TX : PONY_AUTH_FLOW_TX, &id,
			      h->key_id, pkt, len);
}

int pony_flow_auth_rx(struct pony_tp *tp, const struct pony_flow *f, const struct pony_ip *ip,
		      uint16_t port, const struct pony_hdr *h, struct rte_mbuf *m, uint32_t hl)
{
	if (tp->auth == NULL && h->key_id == 0)
		return 0;
	if (tp->auth == NULL || h->key_id == 0) {
		/* A tag we cannot check, or an unauthenticated packet in authenticated mode. */
		tp->st.auth_fail++;
		return -EBADMSG;
	}
	bool hs = hs_type(h->type);
	struct pony_auth_ident id = {.src_ip = *ip, .src_port = port,
				     .dst_port = pony_flow_local_port(tp, f)};
	pony_tp_local_addr(tp, ip, &id.dst_ip);
	if (!hs) {
		id.src_flow = h->src_flow;
		id.dst_flow = h->dst_flow;
	}
	/* A packet naming another incarnation than f's is checked in the scratch slot, so
	 * forgeries cannot make f's cached key be derived again and again. */
	uint32_t slot = tp->cfg.max_flows;
	if (f != NULL && (hs || (h->dst_flow == f->local_id && h->src_flow == f->peer_id)))
		slot = (uint32_t)(f - tp->flows);
	else if (!scratch_allowed(tp)) {
		tp->st.auth_fail++;
		return -EBADMSG;
	}
	if (pony_auth_open(tp->auth, slot, hs ? PONY_AUTH_HS_RX : PONY_AUTH_FLOW_RX, &id,
			   h->key_id, rte_pktmbuf_mtod(m, const uint8_t *),
			   hl + h->payload_len) < 0) {
		tp->st.auth_fail++;
		return -EBADMSG;
	}
	rte_pktmbuf_trim(m, PONY_AUTH_TRAILER);
	return 0;
}
