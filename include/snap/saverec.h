/* Self-describing tables of saved records (transparent upgrade between releases).
 *
 * An element's saved state is mostly arrays of its own structs (a transport's flows,
 * streams, descriptors). Dumping them as they are ties the blob to one binary's layout: the
 * next release that adds a field cannot read it. Here each table carries its schema (the
 * record's size and, per field, its name, kind, offset and size), then the records as they
 * lie in memory. A reader maps the writer's fields to its own by name:
 *   - same layout: one memcpy of the whole table (a same-release upgrade costs nothing extra);
 *   - a field both know: copied, integers widened or narrowed (a value that does not fit is
 *     refused), other kinds only at the same size;
 *   - a field only the reader has: zero, if the reader marks it SNAP_REC_SINCE (added in a
 *     later release, zero is its "not known" value), else the blob is refused;
 *   - a field only the writer has: dropped if the writer marked it SNAP_REC_DROPPABLE or the
 *     reader lists it as retired (removed on purpose), else refused (a newer writer whose
 *     field an older reader cannot honour).
 * Refusals name the table and the field. The same mapping writes a table in another
 * layout (a frozen one of an older release, for a roll-back to it).
 *
 * Wire layout of one table (little-endian, as the host; for the same host only):
 *   u32 magic 'SREC', u16 name_len, u16 n_fields, u32 rec_size, u32 count, u32 kept,
 *   name bytes, n_fields x { u8 kind, u8 flags, u16 name_len, u32 offset, u32 size, name },
 *   then kept == count: count x rec_size record bytes; else (sparse: the records not kept
 *   are all zero) kept x u32 ascending record indices, then kept x rec_size bytes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "snap/element.h"

enum snap_rec_kind {
	SNAP_REC_UINT = 1, /* unsigned integer or bool, 1/2/4/8 bytes */
	SNAP_REC_SINT,     /* signed integer, 1/2/4/8 bytes */
	SNAP_REC_FLOAT,    /* double (8) or float (4); same size only */
	SNAP_REC_BYTES,    /* opaque bytes (arrays, keys, bitmaps); same size only */
	SNAP_REC_PTR,      /* a pointer of the writer's process: the reader rebinds it */
};

#define SNAP_REC_SINCE 0x01     /* reader: older writers may lack it (zero-filled) */
#define SNAP_REC_DROPPABLE 0x02 /* writer: older readers may ignore it */

#define SNAP_REC_NAME_MAX 48    /* field and table names */
#define SNAP_REC_FIELDS_MAX 128

struct snap_rec_field {
	const char *name;
	uint32_t off, size;
	uint8_t kind, flags;
};

struct snap_rec_schema {
	const char *name;                   /* table, e.g. "pony.flow" */
	uint32_t size;                      /* record size (sizeof the struct) */
	uint16_t n_fields;
	const struct snap_rec_field *fields;
	const char *const *retired;         /* NULL-terminated names to drop, or NULL */
};

#define SNAP_REC_MEMBER_SIZE(type, m) sizeof(((type *)0)->m)
/* Field table entries: SNAP_REC_F(struct pony_flow, UINT, snd_nxt) or, for a field added
 * in a later release, SNAP_REC_FX(struct pony_flow, UINT, new_field, SNAP_REC_SINCE).
 * Nested members work ("cc.cwnd"): the member path is the field's name. */
#define SNAP_REC_FX(type, kind, m, fl)                                                      \
	{#m, (uint32_t)offsetof(type, m), (uint32_t)SNAP_REC_MEMBER_SIZE(type, m),          \
	 SNAP_REC_##kind, (fl)}
#define SNAP_REC_F(type, kind, m) SNAP_REC_FX(type, kind, m, 0)
/* A schema named tname for records of type, over the field table tab (an array). */
#define SNAP_REC_SCHEMA(var, tname, type, tab)                                             \
	const struct snap_rec_schema var = {.name = tname, .size = sizeof(type),             \
					    .n_fields = sizeof(tab) / sizeof((tab)[0]),      \
					    .fields = tab}

/* Check a schema as a program declares it: names unique and bounded, fields inside the
 * record, sizes valid for their kinds. 0 or -EINVAL (a build error: tests run it). */
int snap_rec_schema_check(const struct snap_rec_schema *s, char *err, size_t errlen);

/* Append a table of count records (stride bytes apart, each laid out per s) to out. With
 * dst == NULL the records are written as s describes them; else in layout dst (an older
 * release's, frozen in the program), mapped as a reader would. 0, -ENOMEM, or (dst) a
 * mapping refusal (-EPROTO) with a message in err. */
int snap_rec_put(struct snap_sbuf *out, const struct snap_rec_schema *s, const void *recs,
		 size_t count, size_t stride, const struct snap_rec_schema *dst, char *err,
		 size_t errlen);

/* The same, writing only the records keep() accepts; the others read back as zero records.
 * keep(g) decides for the group of records [g * group, (g + 1) * group) (group divides
 * count; 1: record by record). For tables mostly unused (a transport's send queues of free
 * streams, one group a stream): the blackout of an upgrade moves what is in use, not the
 * limits, and asks once per group. */
int snap_rec_put_sparse(struct snap_sbuf *out, const struct snap_rec_schema *s,
			const void *recs, size_t count, size_t stride, size_t group,
			bool (*keep)(size_t g, void *ctx), void *ctx);

/* Read one table from *p (at most *left bytes; both advance past it) into recs: exactly
 * count records of the reader's schema s, stride bytes apart (zero-initialise them first:
 * fields the writer lacks keep their zero). 0; -EINVAL (not a table, truncated, another
 * table name or count, a malformed schema); -EPROTO (a field the mapping refuses, named in
 * err); -ERANGE (an integer that does not fit the reader's field). */
int snap_rec_get(const uint8_t **p, size_t *left, const struct snap_rec_schema *s, void *recs,
		 size_t count, size_t stride, char *err, size_t errlen);

/* A table as it was written: n records in the reader's layout (recs, n x s->size bytes),
 * with idx[k] the index of recs' k-th record (ascending) when the table is sparse, or
 * idx NULL when every record is there (record i is the i-th). */
struct snap_rec_kept {
	void *recs;
	uint32_t *idx;
	size_t n;
};

/* Read one table as snap_rec_get does, but only the records the writer kept, into memory
 * sized by them (a reader of a sparse table with large limits then touches what is in use,
 * not the limits: an upgrade's blackout). Same returns, and -ENOMEM; on success free out
 * with snap_rec_kept_free. */
int snap_rec_get_kept(const uint8_t **p, size_t *left, const struct snap_rec_schema *s,
		      size_t count, struct snap_rec_kept *out, char *err, size_t errlen);
void snap_rec_kept_free(struct snap_rec_kept *k);
