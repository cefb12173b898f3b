/* For tests that run the app layer and libpony over the simulated transports (pony_sim.h):
 * a CHECK that aborts with its location (these programs are plain mains, not cmocka), and
 * an app session adopted by a host with the libpony handle that maps it. */
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
	struct pony_app_session *s = pony_app_session_create(cfg, id, -1);
	CHECK(s);
	CHECK(pony_app_host_adopt(h, s) == 0);
	int m, ce, pe;
	pony_app_session_fds(s, &m, &ce, &pe);
	*app = pony_app_wrap(pony_app_session_base(s), s->map_size, ce, pe);
	CHECK(*app);
	return s;
}
