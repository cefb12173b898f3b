/* Shared fixture for app-layer tests: a host on the fake transport with N sessions, each
 * driven by the real libpony code through pony_app_wrap (same process, no socket). */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_tp.h"
#include "pony/app_internal.h"
#include "pony/client/internal.h"

#define FIX_MAX 4

struct app_fix {
	struct fake_tp *f;
	struct pony_tp *tp;
	struct pony_app_host *h;
	struct pony_app_config cfg;
	unsigned n;
	struct pony_app_session *s[FIX_MAX];
	struct pony_app *app[FIX_MAX];
};

static inline void fix_add(struct app_fix *x, unsigned i)
{
	x->s[i] = pony_app_session_create(&x->cfg, 100 + i, -1, SOCKET_ID_ANY);
	assert_non_null(x->s[i]);
	assert_int_equal(pony_app_host_adopt(x->h, x->s[i]), 0);
	int memfd, cmd, cpl;
	pony_app_session_fds(x->s[i], &memfd, &cmd, &cpl);
	x->app[i] = pony_app_wrap(pony_app_session_base(x->s[i]), x->s[i]->map_size, cmd, cpl);
	assert_non_null(x->app[i]);
}

/* The defaults with small limits that tests can reach. */
static inline void fix_cfg_small(struct pony_app_config *c)
{
	pony_app_config_defaults(c);
	c->buf_size = 64 * 1024;
	c->cmd_entries = 16;
	c->max_streams = 4;
	c->max_ops = 64;
	c->max_regions = 2;
	c->max_listens = 2;
}

/* cfg may be NULL (fix_cfg_small). */
static inline void fix_init(struct app_fix *x, const char *name, unsigned n,
			    const struct pony_app_config *cfg)
{
	memset(x, 0, sizeof(*x));
	if (cfg)
		x->cfg = *cfg;
	else
		fix_cfg_small(&x->cfg);
	char err[128];
	assert_int_equal(pony_app_config_check(&x->cfg, err, sizeof(err)), 0);
	x->tp = fake_tp_new(&x->f);
	x->h = pony_app_host_create(NULL, name, x->tp);
	assert_non_null(x->h);
	x->n = n;
	for (unsigned i = 0; i < n; i++)
		fix_add(x, i);
}

static inline void fix_detach(struct app_fix *x, unsigned i)
{
	if (x->s[i] == NULL)
		return;
	int memfd, cmd, cpl;
	pony_app_session_fds(x->s[i], &memfd, &cmd, &cpl);
	pony_app_unwrap(x->app[i]);
	assert_int_equal(pony_app_host_detach(x->h, x->s[i]), 0);
	close(memfd);
	close(cmd);
	close(cpl);
	x->s[i] = NULL;
	x->app[i] = NULL;
}

static inline void fix_fini(struct app_fix *x)
{
	for (unsigned i = 0; i < x->n; i++)
		fix_detach(x, i);
	pony_app_host_destroy(x->h);
	fake_tp_free(x->tp);
}

/* Put a command on app i's ring exactly as given (no library-side checks). */
static inline void fix_raw(struct app_fix *x, unsigned i, const struct pony_shm_cmd *c)
{
	struct pony_app *a = x->app[i];
	assert_true(a->cmd_tail - atomic_load(&a->cmd_ring->cons.head) < a->hdr.cmd_entries);
	memcpy(&a->cmds[a->cmd_tail & (a->hdr.cmd_entries - 1)], c, sizeof(*c));
	a->cmd_tail++;
	atomic_store_explicit(&a->cmd_ring->prod.tail, a->cmd_tail, memory_order_release);
}

/* Let the daemon drain app i, then take up to max completions. Returns how many. */
static inline int fix_run(struct app_fix *x, unsigned i, struct pony_completion *out,
			  unsigned max)
{
	pony_app_session_poll(x->h, x->s[i], 1000);
	int n = pony_poll(x->app[i], out, max);
	assert_true(n >= 0);
	return n;
}

/* Exactly one completion expected. */
static inline struct pony_completion fix_one(struct app_fix *x, unsigned i)
{
	struct pony_completion c[4];
	int n = fix_run(x, i, c, 4);
	if (n != 1)
		fprintf(stderr, "expected 1 completion, got %d\n", n);
	assert_int_equal(n, 1);
	return c[0];
}
