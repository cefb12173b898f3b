/* Tables and JSON for snapctl's output (see snapctl_out.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tools/snapctl_out.h"

struct snapctl_table {
	unsigned ncols;
	char **cells; /* row-major, ncols per row; short rows padded with NULL */
	size_t n, cap;
	unsigned col;  /* next column in the current row */
	bool oom;
};

static void table_push(struct snapctl_table *t, char *s)
{
	if (t->n == t->cap) {
		size_t ncap = t->cap ? 2 * t->cap : 64;
		char **p = realloc(t->cells, ncap * sizeof(*p));
		if (p == NULL) {
			free(s);
			t->oom = true;
			return;
		}
		t->cells = p;
		t->cap = ncap;
	}
	t->cells[t->n++] = s;
}

struct snapctl_table *snapctl_table_new(unsigned ncols, const char *const *headers)
{
	struct snapctl_table *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->ncols = ncols;
	for (unsigned i = 0; i < ncols; i++)
		snapctl_table_cell(t, "%s", headers[i]);
	snapctl_table_end_row(t);
	return t;
}

void snapctl_table_free(struct snapctl_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

void snapctl_table_cell(struct snapctl_table *t, const char *fmt, ...)
{
	if (t->col == t->ncols)
		return; /* extra cells are a caller bug; never overflow the row */
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0) {
		s = NULL;
		t->oom = true;
	}
	va_end(ap);
	table_push(t, s);
	t->col++;
}

void snapctl_table_end_row(struct snapctl_table *t)
{
	while (t->col && t->col < t->ncols) {
		table_push(t, NULL);
		t->col++;
	}
	t->col = 0;
}

static bool numeric(const char *s)
{
	if (s == NULL || !*s)
		return true; /* empty cells do not make a column textual */
	if (*s == '-')
		s++;
	for (; *s; s++)
		if ((*s < '0' || *s > '9') && *s != '.' && *s != '%')
			return false;
	return true;
}

int snapctl_table_print(const struct snapctl_table *t, FILE *f)
{
	if (t->oom)
		return -ENOMEM;
	size_t rows = t->n / t->ncols;
	size_t *w = calloc(t->ncols, sizeof(*w));
	bool *right = calloc(t->ncols, sizeof(*right));
	if (w == NULL || right == NULL) {
		free(w);
		free(right);
		return -ENOMEM;
	}
	for (unsigned c = 0; c < t->ncols; c++) {
		right[c] = rows > 1;
		for (size_t r = 0; r < rows; r++) {
			const char *s = t->cells[r * t->ncols + c];
			size_t len = s ? strlen(s) : 0;
			if (len > w[c])
				w[c] = len;
			if (r > 0 && !numeric(s))
				right[c] = false;
		}
	}
	for (size_t r = 0; r < rows; r++) {
		for (unsigned c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			bool last = c + 1 == t->ncols;
			if (right[c])
				fprintf(f, "%*s", (int)w[c], s ? s : "");
			else if (last)
				fputs(s ? s : "", f);
			else
				fprintf(f, "%-*s", (int)w[c], s ? s : "");
			if (!last)
				fputs("  ", f);
		}
		fputc('\n', f);
	}
	free(w);
	free(right);
	return 0;
}

/* ---- JSON -------------------------------------------------------------------------------- */

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\t': fputs("\\t", f); break;
		case '\r': fputs("\\r", f); break;
		default:
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

static void json_msg(FILE *f, const ProtobufCMessage *m);

/* One value of field fd stored at p. */
static void json_value(FILE *f, const ProtobufCFieldDescriptor *fd, const void *p)
{
	switch (fd->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		fprintf(f, "%" PRId32, *(const int32_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		fprintf(f, "%" PRIu32, *(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		fprintf(f, "%" PRId64, *(const int64_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		fprintf(f, "%" PRIu64, *(const uint64_t *)p);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		fprintf(f, "%.9g", (double)*(const float *)p);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		fprintf(f, "%.17g", *(const double *)p);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		fputs(*(const protobuf_c_boolean *)p ? "true" : "false", f);
		break;
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumValue *ev =
			protobuf_c_enum_descriptor_get_value(fd->descriptor, *(const int *)p);
		if (ev)
			json_str(f, ev->name);
		else
			fprintf(f, "%d", *(const int *)p);
		break;
	}
	case PROTOBUF_C_TYPE_STRING:
		json_str(f, *(char *const *)p);
		break;
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = p;
		fputc('"', f);
		for (size_t i = 0; i < b->len; i++)
			fprintf(f, "%02x", b->data[i]);
		fputc('"', f);
		break;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
		if (sub)
			json_msg(f, sub);
		else
			fputs("null", f);
		break;
	}
	}
}

static size_t value_size(const ProtobufCFieldDescriptor *fd)
{
	switch (fd->type) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return 8;
	case PROTOBUF_C_TYPE_DOUBLE:
		return sizeof(double);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_ENUM:
		return sizeof(int);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	default:
		return 4;
	}
}

static void json_msg(FILE *f, const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const char *base = (const char *)m;
	bool first = true;
	fputc('{', f);
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *fd = &d->fields[i];
		const void *p = base + fd->offset;
		if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + fd->quantifier_offset);
			const char *arr = *(char *const *)p;
			fprintf(f, "%s", first ? "" : ",");
			json_str(f, fd->name);
			fputs(":[", f);
			for (size_t k = 0; k < n; k++) {
				if (k)
					fputc(',', f);
				json_value(f, fd, arr + k * value_size(fd));
			}
			fputc(']', f);
			first = false;
			continue;
		}
		if (fd->label == PROTOBUF_C_LABEL_OPTIONAL) {
			bool present;
			if (fd->type == PROTOBUF_C_TYPE_STRING || fd->type == PROTOBUF_C_TYPE_MESSAGE)
				present = *(void *const *)p != NULL;
			else
				present = *(const protobuf_c_boolean *)(base + fd->quantifier_offset);
			if (!present)
				continue;
		}
		fprintf(f, "%s", first ? "" : ",");
		json_str(f, fd->name);
		fputc(':', f);
		json_value(f, fd, p);
		first = false;
	}
	fputc('}', f);
}

void snapctl_json_print(FILE *f, const ProtobufCMessage *msg)
{
	json_msg(f, msg);
	fputc('\n', f);
}
