/* Private to the config parser (config.c, config_daemon.c): the parse context and the
 * small typed getters every section uses, so each error names file and line the same way. */
#pragma once

#include <errno.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/config.h"

struct pctx {
	const char *file;
	char *err;
	size_t errlen;
	int failed;
};

static inline int fail(struct pctx *p, const config_setting_t *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline int fail(struct pctx *p, const config_setting_t *s, const char *fmt, ...)
{
	if (p->failed)
		return -EINVAL;
	p->failed = 1;
	int n = snprintf(p->err, p->errlen, "%s:%d: ", p->file,
			 s ? config_setting_source_line(s) : 0);
	if (n < 0 || (size_t)n >= p->errlen)
		return -EINVAL;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static inline int copy_str(struct pctx *p, const config_setting_t *s, char *dst, size_t len)
{
	const char *v = config_setting_get_string(s);
	if (v == NULL)
		return fail(p, s, "'%s' must be a string", config_setting_name(s));
	if (strlen(v) >= len)
		return fail(p, s, "'%s' is too long (max %zu characters)", config_setting_name(s),
			    len - 1);
	strcpy(dst, v);
	return 0;
}

/* Optional string member. */
static inline int opt_str(struct pctx *p, const config_setting_t *grp, const char *key, char *dst,
		   size_t len)
{
	const config_setting_t *s = config_setting_get_member(grp, key);
	return s ? copy_str(p, s, dst, len) : 0;
}

static inline int opt_int(struct pctx *p, const config_setting_t *grp, const char *key, long long min,
		   long long max, long long *out)
{
	const config_setting_t *s = config_setting_get_member(grp, key);
	if (s == NULL)
		return 0;
	int t = config_setting_type(s);
	if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
		return fail(p, s, "'%s' must be an integer", key);
	long long v = config_setting_get_int64(s);
	if (v < min || v > max)
		return fail(p, s, "'%s' = %lld is out of range [%lld, %lld]", key, v, min, max);
	*out = v;
	return 0;
}

/* opt_int into an unsigned field (left as is when the key is absent). */
static inline int opt_uint(struct pctx *p, const config_setting_t *grp, const char *key,
			   long long min, long long max, unsigned *out)
{
	long long v = *out;
	int r = opt_int(p, grp, key, min, max, &v);
	if (r == 0)
		*out = (unsigned)v;
	return r;
}

static inline int opt_bool(struct pctx *p, const config_setting_t *grp, const char *key, bool *out)
{
	const config_setting_t *s = config_setting_get_member(grp, key);
	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return fail(p, s, "'%s' must be true or false", key);
	*out = config_setting_get_bool(s);
	return 0;
}

static inline int name_ok(struct pctx *p, const config_setting_t *s, const char *name)
{
	if (!name[0])
		return fail(p, s, "name must not be empty");
	for (const char *c = name; *c; c++)
		if (!(*c == '_' || *c == '-' || (*c >= '0' && *c <= '9') ||
		      (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')))
			return fail(p, s, "name '%s' may only contain letters, digits, '_' and '-'",
				    name);
	return 0;
}

/* The daemon { } section (config_daemon.c). 0 or -EINVAL with the message in p. */
int snap_cfg_parse_daemon(struct pctx *p, const config_setting_t *d, struct snap_config *cfg);
