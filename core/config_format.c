/* Engine descriptions back to config text: what an engine was built from, in the syntax
 * `snapctl engine create` and the config file take, so a transparent upgrade rebuilds it in
 * the new daemon through the same parser (and its checks) and the same builder. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "snap/element.h"

static void put_fmt(struct snap_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put_fmt(struct snap_sbuf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	/* Callers print names and keys (< 64 bytes each): never truncated. */
	if (n > 0)
		snap_sbuf_put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* A libconfig string literal: quotes and backslashes escaped, other bytes below 0x20 as \xNN. */
static void put_str(struct snap_sbuf *b, const char *s)
{
	snap_sbuf_put(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			char esc[2] = {'\\', (char)c};
			snap_sbuf_put(b, esc, 2);
		} else if (c < 0x20) {
			put_fmt(b, "\\x%02x", c);
		} else {
			snap_sbuf_put(b, s, 1);
		}
	}
	snap_sbuf_put(b, "\"", 1);
}

int snap_config_format_engine(const struct snap_engine_cfg *ec, char **out)
{
	struct snap_sbuf b;
	snap_sbuf_init(&b);
	put_fmt(&b, "elements = (");
	for (unsigned i = 0; i < ec->n_elems; i++) {
		const struct snap_elem_cfg *x = &ec->elems[i];
		put_fmt(&b, "%s\n  { name = ", i ? "," : "");
		put_str(&b, x->name);
		put_fmt(&b, "; type = ");
		put_str(&b, x->type);
		put_fmt(&b, ";");
		for (unsigned k = 0; k < x->n_kv; k++) {
			put_fmt(&b, " %s = ", x->kv[k].key);
			put_str(&b, x->kv[k].val);
			put_fmt(&b, ";");
		}
		put_fmt(&b, " }");
	}
	put_fmt(&b, "\n);\n");
	if (ec->n_links) {
		put_fmt(&b, "links = (");
		for (unsigned i = 0; i < ec->n_links; i++) {
			const struct snap_link_cfg *l = &ec->links[i];
			char txt[128];
			snprintf(txt, sizeof(txt), "%s%s%s -> %s", l->from, l->out[0] ? "." : "",
				 l->out, l->to);
			put_fmt(&b, "%s\n  ", i ? "," : "");
			put_str(&b, txt);
		}
		put_fmt(&b, "\n);\n");
	}
	snap_sbuf_put(&b, "", 1);
	if (b.err) {
		snap_sbuf_fini(&b);
		return -ENOMEM;
	}
	*out = (char *)b.data; /* the sbuf's buffer is malloc'd: ours now */
	return 0;
}
