/* Pony key files: the permission checks that keep the master keys root's, and the parser of
 * `ID HEX [accept-only]` lines (format in pony/auth.h and WIRE.md "Authentication"). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pony/auth.h"

#define KEYFILE_MAX 4096

static int fail(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return r;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* One non-empty line (comment stripped): fills ks's next entry. */
static int parse_line(char *s, unsigned lineno, struct pony_auth_keyset *ks, bool *tx,
		      char *err, size_t errlen)
{
	char *save = NULL;
	char *sid = strtok_r(s, " \t", &save), *hex = strtok_r(NULL, " \t", &save);
	char *opt = strtok_r(NULL, " \t", &save), *extra = strtok_r(NULL, " \t", &save);
	char *end;

	if (hex == NULL || extra != NULL || (opt != NULL && strcmp(opt, "accept-only") != 0))
		return fail(err, errlen, -EINVAL,
			    "line %u: expected `ID HEX` or `ID HEX accept-only`", lineno);
	errno = 0;
	unsigned long id = strtoul(sid, &end, 10);
	if (errno || *end || id < 1 || id > 255)
		return fail(err, errlen, -EINVAL, "line %u: key id must be 1..255", lineno);
	if (strlen(hex) != 2 * PONY_AUTH_KEY_LEN)
		return fail(err, errlen, -EINVAL, "line %u: key must be %d hex digits", lineno,
			    2 * PONY_AUTH_KEY_LEN);
	if (ks->n == PONY_AUTH_KEYS_MAX)
		return fail(err, errlen, -EINVAL, "line %u: more than %d keys", lineno,
			    PONY_AUTH_KEYS_MAX);
	for (unsigned i = 0; i < ks->n; i++)
		if (ks->id[i] == id)
			return fail(err, errlen, -EINVAL, "line %u: key id %lu twice", lineno, id);
	for (unsigned i = 0; i < PONY_AUTH_KEY_LEN; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return fail(err, errlen, -EINVAL, "line %u: key is not hex", lineno);
		ks->key[ks->n][i] = (uint8_t)(hi << 4 | lo);
	}
	ks->id[ks->n++] = (uint8_t)id;
	if (opt == NULL) {
		ks->tx_id = (uint8_t)id;
		*tx = true;
	}
	return 0;
}

int pony_auth_keyset_parse(const char *text, struct pony_auth_keyset *ks, char *err,
			   size_t errlen)
{
	char line[256];
	unsigned lineno = 0;
	bool tx = false;
	int r = 0;

	memset(ks, 0, sizeof(*ks));
	while (*text && r == 0) {
		size_t n = strcspn(text, "\n");
		lineno++;
		if (n >= sizeof(line))
			return fail(err, errlen, -EINVAL, "line %u: too long", lineno);
		memcpy(line, text, n);
		line[n] = '\0';
		text += n + (text[n] == '\n');
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		if (line[strspn(line, " \t\r")] != '\0')
			r = parse_line(line, lineno, ks, &tx, err, errlen);
		explicit_bzero(line, sizeof(line));
	}
	if (r == 0 && !tx)
		r = fail(err, errlen, -EINVAL, "no sending key (every key is accept-only, or none)");
	if (r < 0)
		explicit_bzero(ks, sizeof(*ks));
	return r;
}

int pony_auth_keyset_load(const char *path, struct pony_auth_keyset *ks, char *err,
			  size_t errlen)
{
	char buf[KEYFILE_MAX + 1];
	struct stat st;

	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return fail(err, errlen, -errno, "key file %s: %s", path, strerror(errno));
	int r = 0;
	if (fstat(fd, &st) < 0)
		r = fail(err, errlen, -errno, "key file %s: %s", path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		r = fail(err, errlen, -EPERM, "key file %s: not a regular file", path);
	else if (st.st_uid != 0 && st.st_uid != geteuid())
		r = fail(err, errlen, -EPERM, "key file %s: owned by uid %u, must be root's%s", path,
			 (unsigned)st.st_uid, geteuid() ? " or the daemon's uid" : "");
	else if (st.st_mode & 077)
		r = fail(err, errlen, -EPERM, "key file %s: mode %03o, must be 0600 or 0400", path,
			 (unsigned)(st.st_mode & 0777));
	ssize_t n = 0;
	if (r == 0) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0)
			r = fail(err, errlen, -errno, "key file %s: %s", path, strerror(errno));
		else if (n > KEYFILE_MAX)
			r = fail(err, errlen, -EINVAL, "key file %s: larger than %d bytes", path,
				 KEYFILE_MAX);
	}
	close(fd);
	if (r == 0) {
		buf[n] = '\0';
		char why[128];
		r = pony_auth_keyset_parse(buf, ks, why, sizeof(why));
		if (r < 0)
			fail(err, errlen, r, "key file %s: %s", path, why);
	}
	explicit_bzero(buf, sizeof(buf));
	return r;
}
