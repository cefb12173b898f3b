/* Helpers shared by the libpony examples: option parsing of the common flags and a
 * one-completion-at-a-time event loop over pony_poll/pony_wait. Header-only so each example
 * stays a single file plus this. */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pony.h>

struct ex_loop {
	struct pony_app *app;
	struct pony_completion c[32];
	int n, i;
};

/* Next completion into *out: 1, 0 on timeout (timeout_ms, -1 forever), or -errno. */
static inline int ex_next(struct ex_loop *l, struct pony_completion *out, int timeout_ms)
{
	for (;;) {
		if (l->i < l->n) {
			*out = l->c[l->i++];
			return 1;
		}
		l->n = pony_poll(l->app, l->c, 32);
		l->i = 0;
		if (l->n < 0)
			return l->n;
		if (l->n > 0)
			continue;
		int r = pony_wait(l->app, timeout_ms);
		if (r <= 0 && r != -EINTR)
			return r;
	}
}

/* Connect or exit with the library's reason. */
static inline struct pony_app *ex_connect(const char *sock, const char *engine)
{
	struct pony_opts o = {.engine = engine};
	struct pony_app *a = pony_connect(sock, &o);
	if (a == NULL) {
		fprintf(stderr, "pony_connect: %s\n", pony_connect_error());
		exit(1);
	}
	return a;
}

static inline void ex_check(int r, const char *what)
{
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", what, pony_strerror(r));
		exit(1);
	}
}

static inline double ex_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}
