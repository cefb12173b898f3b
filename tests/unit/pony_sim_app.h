/* For tests that run the app layer and libpony over the simulated transports (pony_sim.h):
 * a CHECK that aborts with its location (these programs are plain mains, not cmocka), an app
 * session adopted by a host with the libpony handle that maps it, and a whole pair: EAL, two
 * endpoints A and B over the simulated link, a host and one app on each. */
#pragma once

#include <stdio.h>
#include <stdlib.h>

#include "pony/app_internal.h"
#include "pony/client/internal.h"
#include "pony_sim.h"

#define CHECK(c)                                                                          \
	do {                                                                              \
		if (!(c)) {                                                               \
			fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c);          \
			abort();                                                          \
		}                                                                         \
	} while (0)

/* Session `id` of cfg, adopted by h; *app is the libpony side of it (in this process). */
static inline struct pony_app_session *sim_app_session(struct pony_app_config *cfg,
						       struct pony_app_host *h, uint32_t id,
						       struct pony_app **app)
{
	struct pony_app_session *s = pony_app_session_create(cfg, id, -1, SOCKET_ID_ANY);
	CHECK(s);
	CHECK(pony_app_host_adopt(h, s) == 0);
	int m, ce, pe;
	pony_app_session_fds(s, &m, &ce, &pe);
	*app = pony_app_wrap(pony_app_session_base(s), s->map_size, ce, pe);
	CHECK(*app);
	return s;
}

struct sim_apps {
	struct pony_tp *tp[2];
	struct pony_app_host *h[2];
	struct pony_app *app[2];
	struct pony_app_session *s[2];
};

/* EAL under `name`, endpoints 0 (A) and 1 (B) with the app layer's upcalls over a link of
 * 5 us base delay, and on each a host with one app of buf_size payload bytes. */
static inline void sim_apps_start(struct sim_apps *p, const char *name, size_t buf_size)
{
	CHECK(sim_eal_init(name) == 0);
	struct pony_tp_config c;
	for (int i = 0; i < 2; i++) {
		sim_cfg(&c, i);
		c.up = &pony_app_upcalls;
		CHECK(sim_ep_start(i, &c) == 0);
		p->tp[i] = sim_ep[i].tp;
	}
	sim_link.base_ns = 5000;
	struct pony_app_config cfg;
	pony_app_config_defaults(&cfg);
	cfg.buf_size = buf_size;
	static const char *const names[2] = {"A", "B"};
	for (int i = 0; i < 2; i++) {
		p->h[i] = pony_app_host_create(NULL, names[i], p->tp[i]);
		CHECK(p->h[i]);
		p->s[i] = sim_app_session(&cfg, p->h[i], (uint32_t)i + 1, &p->app[i]);
	}
}

/* One round: the link, then both hosts take their apps' commands. */
static inline void sim_apps_step(struct sim_apps *p)
{
	sim_step();
	pony_app_host_poll(p->h[0], 256);
	pony_app_host_poll(p->h[1], 256);
}

/* Run rounds until n completions of app x arrived (bounded); returns how many did. */
static inline unsigned sim_apps_collect(struct sim_apps *p, struct pony_app *x,
					struct pony_completion *out, unsigned n)
{
	unsigned got = 0;
	for (unsigned k = 0; k < 2000000 && got < n; k++) {
		sim_apps_step(p);
		int r = pony_poll(x, out + got, n - got);
		CHECK(r >= 0);
		got += (unsigned)r;
	}
	return got;
}

/* Check that no completion overflowed and no upcall went astray, detach both apps (their
 * hosts must be back to no sessions, streams or listeners) and tear everything down. */
static inline void sim_apps_stop(struct sim_apps *p)
{
	for (int i = 0; i < 2; i++) {
		CHECK(p->s[i]->cnt.cpl_overflow == 0 && p->s[i]->cnt.stray_upcalls == 0);
		pony_app_unwrap(p->app[i]);
		CHECK(pony_app_host_detach(p->h[i], p->s[i]) == 0);
		const struct pony_app_host_counters *hc = pony_app_host_counters(p->h[i]);
		CHECK(hc->sessions == 0 && hc->streams == 0 && hc->listens == 0);
	}
	for (int i = 0; i < 2; i++)
		pony_app_host_destroy(p->h[i]);
	sim_drop_pending();
	sim_ep_stop(0);
	sim_ep_stop(1);
	sim_eal_fini();
}
