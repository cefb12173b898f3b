/* The transport's saved tables, field by field (include/snap/saverec.h): what a release
 * after this one needs to read a blob this one wrote. Every member of each struct is listed
 * (tests/unit/test_saverec.c checks that no member is left out: only padding may be).
 * Adding a member: list it here, with SNAP_REC_SINCE if zero is right for a flow saved by
 * a release without it. Removing one: move its name to the table's retired list. Changing
 * one's meaning: give it a new name. */
#include "pony/internal.h"
#include "pony/save_int.h"

#define FL(kind, m) SNAP_REC_F(struct pony_flow, kind, m)
static const struct snap_rec_field flow_fields[] = {
	FL(UINT, state), FL(UINT, ack_pending), FL(UINT, fin_sent), FL(UINT, peer_ip),
	FL(UINT, peer_port), FL(UINT, local_id), FL(UINT, peer_id), FL(UINT, isn),
	FL(UINT, peer_window), FL(UINT, seg_max), FL(UINT, snd_una), FL(UINT, snd_nxt),
	FL(UINT, pipe), FL(UINT, n_lost), FL(UINT, high_sacked), FL(UINT, rack_tsc),
	FL(UINT, rto_start), FL(UINT, backoff), FL(UINT, consec_timeouts),
	FL(UINT, rto_fired_tsc), FL(UINT, srtt), FL(UINT, rttvar), FL(UINT, rto),
	FL(UINT, last_echo), FL(UINT, next_send_tsc),
	FL(FLOAT, cc.cwnd), FL(UINT, cc.last_decrease_tsc), FL(UINT, cc.last_delay_tsc),
	FL(UINT, cc.min_delay_tsc), FL(UINT, cc.decreases), FL(UINT, cc.samples),
	FL(FLOAT, cc.cwnd_undo), FL(UINT, cc.undos),
	FL(UINT, rx.rcv_nxt), FL(UINT, rx.rcv_max), FL(UINT, rx.last), FL(UINT, rx.size),
	FL(PTR, rx.map),
	FL(UINT, echo_ts), FL(UINT, echo_rx_tsc), FL(UINT, ack_due_tsc), FL(UINT, rx_unacked),
	FL(UINT, last_rx_tsc), FL(UINT, last_tx_tsc), FL(UINT, created_tsc), FL(UINT, una_tsc),
	FL(UINT, refuse_head), FL(UINT, refuse_n), FL(BYTES, refuse_err), FL(BYTES, refuse_sid),
	FL(UINT, streams), FL(UINT, n_streams), FL(BYTES, txq_head), FL(BYTES, txq_tail),
	FL(UINT, n_passive), FL(UINT, n_ready), FL(UINT, n_ctrl), FL(UINT, n_close_pending),
	FL(UINT, n_held), FL(UINT, tx_bytes), FL(UINT, rx_bytes), FL(UINT, tx_pkts),
	FL(UINT, rx_pkts), FL(UINT, retransmits), FL(UINT, timeouts), FL(UINT, fast_retransmits),
	/* Flow steering (issue 17): zero, the engine's port, for flows saved before it. */
	SNAP_REC_FX(struct pony_flow, UINT, local_port, SNAP_REC_SINCE),
};

#define DE(kind, m) SNAP_REC_F(struct pony_txdesc, kind, m)
static const struct snap_rec_field desc_fields[] = {
	DE(UINT, state), DE(UINT, type), DE(UINT, retx), DE(UINT, pad), DE(UINT, len),
	DE(UINT, stream), DE(UINT, sid), DE(UINT, src_sid), DE(UINT, msg_id), DE(UINT, msg_len),
	DE(UINT, offset), DE(UINT, aux), DE(UINT, sent_tsc),
};

#define ST(kind, m) SNAP_REC_F(struct pony_stream, kind, m)
static const struct snap_rec_field stream_fields[] = {
	ST(UINT, sid), ST(UINT, state), ST(UINT, ctrl), ST(UINT, ready), ST(UINT, close_after_open),
	ST(UINT, close_pending), ST(UINT, rx_active), ST(UINT, rx_discard), ST(UINT, passive),
	ST(UINT, service), ST(UINT, flow), ST(UINT, peer_sid), ST(UINT, prev), ST(UINT, next),
	ST(BYTES, txq_prev), ST(BYTES, txq_next), ST(BYTES, in_txq), ST(PTR, owner),
	ST(UINT, tx_head), ST(UINT, tx_seg), ST(UINT, tx_tail), ST(UINT, peer_credit),
	ST(UINT, rx_next), ST(UINT, rx_granted), ST(UINT, rx_advertised), ST(UINT, rx_len),
	ST(UINT, rx_got), ST(PTR, rx_dst), ST(UINT, rx_cookie), ST(UINT, held),
	ST(UINT, close_seq),
};

#define TM(kind, m) SNAP_REC_F(struct pony_txmsg, kind, m)
static const struct snap_rec_field txmsg_fields[] = {
	TM(PTR, buf), TM(UINT, cookie), TM(UINT, len), TM(UINT, msg_id), TM(UINT, seg_off),
	TM(UINT, acked),
};

#define SS(m) SNAP_REC_F(struct pony_tp_stats, UINT, m)
static const struct snap_rec_field stats_fields[] = {
	SS(tx_pkts), SS(rx_pkts), SS(tx_bytes), SS(rx_bytes), SS(data_tx), SS(data_rx),
	SS(retransmits), SS(fast_retransmits), SS(timeouts), SS(acks_tx), SS(acks_rx),
	SS(probes_tx), SS(dup_rx), SS(ooo_rx), SS(out_of_window), SS(malformed),
	SS(bad_version), SS(bad_csum), SS(no_flow), SS(rst_tx), SS(rst_rx), SS(no_mbuf),
	SS(xmit_full), SS(flows_failed), SS(flows_created), SS(msgs_tx), SS(msgs_rx),
	SS(held_mbufs), SS(credit_stalls), SS(rst_limited), SS(auth_fail), SS(cookie_tx),
	SS(cookie_ok), SS(cookie_bad), SS(refused_flow_budget), SS(refused_stream_budget),
	SS(refused_no_listener), SS(refuse_deferred), SS(challenge_ack_tx), SS(rst_bad_seq),
	SS(ack_invalid), SS(ack_timeouts), SS(spurious_timeouts), SS(credit_tx),
};

#define LI(kind, m) SNAP_REC_F(struct pony_listener, kind, m)
static const struct snap_rec_field listener_fields[] = {
	LI(UINT, used), LI(UINT, service), LI(PTR, listener),
};

#define HE(m) SNAP_REC_F(struct pony_save_held, UINT, m)
static const struct snap_rec_field held_fields[] = {
	HE(idx), HE(msg_id), HE(msg_len), HE(offset), HE(next), HE(len),
};

#define TP(kind, m) SNAP_REC_F(struct pony_save_tp, kind, m)
static const struct snap_rec_field tp_fields[] = {
	TP(UINT, max_flows), TP(UINT, max_streams), TP(UINT, window), TP(UINT, sendq_max),
	TP(UINT, stream_free), TP(UINT, n_held), TP(BYTES, key), TP(UINT, rand_ctr),
};

#define RX(m) SNAP_REC_F(struct pony_save_rxword, BYTES, m)
static const struct snap_rec_field rxword_fields[] = {RX(bits)};

SNAP_REC_SCHEMA(pony_schema_flow, "pony.flow", struct pony_flow, flow_fields);
SNAP_REC_SCHEMA(pony_schema_desc, "pony.desc", struct pony_txdesc, desc_fields);
SNAP_REC_SCHEMA(pony_schema_stream, "pony.stream", struct pony_stream, stream_fields);
SNAP_REC_SCHEMA(pony_schema_txmsg, "pony.txmsg", struct pony_txmsg, txmsg_fields);
SNAP_REC_SCHEMA(pony_schema_stats, "pony.stats", struct pony_tp_stats, stats_fields);
SNAP_REC_SCHEMA(pony_schema_listener, "pony.listener", struct pony_listener, listener_fields);
SNAP_REC_SCHEMA(pony_schema_held, "pony.held", struct pony_save_held, held_fields);
SNAP_REC_SCHEMA(pony_schema_tp, "pony.tp", struct pony_save_tp, tp_fields);
SNAP_REC_SCHEMA(pony_schema_rxword, "pony.rxmap", struct pony_save_rxword, rxword_fields);
static const struct snap_rec_field peer_fields[] = {
	SNAP_REC_F(struct pony_save_peer, BYTES, addr),
};
SNAP_REC_SCHEMA(pony_schema_peer, "pony.peer", struct pony_save_peer, peer_fields);

const struct snap_rec_schema *const pony_save_schemas[] = {
	&pony_schema_tp, &pony_schema_stats, &pony_schema_listener, &pony_schema_flow,
	&pony_schema_desc, &pony_schema_rxword, &pony_schema_stream, &pony_schema_txmsg,
	&pony_schema_held, &pony_schema_peer,
	&pony_schema_os, &pony_schema_os_op, &pony_schema_os_flow,
	&pony_schema_os_buf, &pony_schema_os_stats, &pony_schema_app_count,
	&pony_schema_app_session, &pony_schema_app_stream, &pony_schema_app_op,
	&pony_schema_app_region, &pony_schema_app_listen, NULL,
};
