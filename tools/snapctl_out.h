/* snapctl output: aligned tables for people and a generic protobuf -> JSON printer for tools
 * (driven by the message descriptors, so every method gets --json for free). */
#pragma once

#include <stdio.h>

#include <protobuf-c/protobuf-c.h>

struct snapctl_table;

/* NULL on ENOMEM. Column headers are given once; rows are filled cell by cell. */
struct snapctl_table *snapctl_table_new(unsigned ncols, const char *const *headers);
void snapctl_table_free(struct snapctl_table *t);
/* Append a cell to the current row (printf-style); rows are ended by snapctl_table_end_row.
 * Allocation failures are remembered and reported by snapctl_table_print (-ENOMEM). */
void snapctl_table_cell(struct snapctl_table *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void snapctl_table_end_row(struct snapctl_table *t);
/* Print with columns padded to their widest cell; numeric columns right-aligned. 0 or
 * -ENOMEM. */
int snapctl_table_print(const struct snapctl_table *t, FILE *f);

/* Print msg as one JSON object (field names from the schema; absent optional fields are
 * omitted; bytes as base16 strings) followed by a newline. */
void snapctl_json_print(FILE *f, const ProtobufCMessage *msg);
