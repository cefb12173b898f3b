/* Private to the transport's save/restore (pony/save*.c): the saved-state versions, the
 * records that exist only in saved state, and the tables' schemas (pony/save_schema.c). */
#pragma once

#include <stdint.h>

#include "snap/saverec.h"

/* Transport blob versions. 3: release 0.1.0, the structs dumped as they lay in memory
 * (read and written only while this build's layouts equal that release's: the record sizes
 * are in the blob and checked); 4: self-describing tables (include/snap/saverec.h). */
#define PONY_TP_SAVE_V_RAW 3
#define PONY_TP_SAVE_V_TABLES 4

/* A held (out-of-order) segment: its pool slot and message position; its bytes follow. */
struct pony_save_held {
	uint32_t idx, msg_id, msg_len, offset, next, len;
};
/* The transport's scalars (one record). */
struct pony_save_tp {
	uint32_t max_flows, max_streams, window, sendq_max;
	uint32_t stream_free, n_held;
	uint64_t key[2], rand_ctr; /* cookies made before the upgrade stay valid after it */
};
/* A flow's peer address (tp->peers[i]: beside the flows, which keep release 0.1.0's layout).
 * Version 4 blobs carry this table after the held segments' bytes since IPv6; older ones
 * do not (their flows are IPv4: peer_ip says the address). */
struct pony_save_peer {
	uint8_t addr[16];
};
/* One word of a flow's receive bitmap. */
struct pony_save_rxword {
	uint64_t bits;
};

extern const struct snap_rec_schema pony_schema_flow, pony_schema_desc, pony_schema_stream,
	pony_schema_txmsg, pony_schema_stats, pony_schema_listener, pony_schema_held,
	pony_schema_tp, pony_schema_rxword, pony_schema_peer;
/* The app sessions' (pony/app_save.c). */
extern const struct snap_rec_schema pony_schema_app_count, pony_schema_app_session,
	pony_schema_app_stream, pony_schema_app_op, pony_schema_app_region,
	pony_schema_app_listen;
/* The one-sided section's (pony/onesided_save.c). */
extern const struct snap_rec_schema pony_schema_os, pony_schema_os_op, pony_schema_os_flow,
	pony_schema_os_buf, pony_schema_os_stats;
/* Every schema above, NULL-terminated (tests check each). */
extern const struct snap_rec_schema *const pony_save_schemas[];
