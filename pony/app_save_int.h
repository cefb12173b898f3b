/* Private to the app sessions' save/restore (pony/app_save.c writes and parses the formats,
 * pony/app_restore.c rebuilds sessions): the saved session record and one session as read
 * back in this build's layout, whichever version it came in. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "pony/app_internal.h"

/* Versions of the app sessions' blob: 2 (release 0.1.0; with the transport's blob version
 * 3): the structs as they lie in memory, with their sizes; 3 (with the transport's 4):
 * self-describing tables (snap/saverec.h). */
#define APP_SAVE_V_RAW 2u
#define APP_SAVE_V_TABLES 3u
#define RESTORED_MAX 256

/* One session's scalars (its arrays follow it in the blob: streams, ops, regions, listens). */
struct save_session {
	uint32_t app_id;
	uint32_t max_streams, max_ops, max_regions, max_listens;
	uint32_t n_streams, n_ops, n_regions, n_listens;
	uint32_t cmd_head, cmd_tail_seen, cpl_tail, cpl_head_seen, owed, tp_refs, op_free;
	uint8_t kick, broken, torn, pad;
	uint64_t map_size;
	uint64_t old_streams, old_listens, old_buf; /* old addresses, for rebinding */
	uint64_t old_sess;                          /* one-sided ops' owner */
	struct pony_shm_hdr hdr;
	struct pony_app_counters cnt;
};

/* A session read back: its record and its arrays (malloc'd, this build's layout). */
struct sess_image {
	struct save_session v;
	struct app_stream *st;
	struct app_op *ops;
	struct app_region *rg; /* max(1, max_regions) */
	struct app_listen *ls;
};

/* The blob's header at *pp: its version and session count; *pp advances. 0, -EPROTO (not an
 * app blob, another version, other struct sizes), -EINVAL (too many sessions). */
int app_save_begin(const uint8_t **pp, const uint8_t *end, uint32_t *version, uint32_t *n);
/* One session at *pp in blob version `version` into si (free it with app_sess_free, also on
 * error); *pp advances past it. Its limits are checked before they size anything. 0,
 * -EPROTO (truncated, or a table this build cannot map), -EINVAL, -ENOMEM. */
int app_sess_read(uint32_t version, const uint8_t **pp, const uint8_t *end,
		  struct sess_image *si);
void app_sess_free(struct sess_image *si);
