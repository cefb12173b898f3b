/* Fixture for the saved-state tests (security suite, takeover fuzzer): the EAL and one small
 * simulated transport (pony_sim endpoint 0) with an app host holding one real session (its
 * own memfd), small enough that a saved blob is a few KB. */
#pragma once

#include "pony/app.h"

/* 0, or -1 if anything failed. *host and *sess are the fixture's (freed by fini). */
int save_fix_init(const char *name, struct pony_app_host **host, struct pony_app_session **sess);
void save_fix_fini(struct pony_app_host *host);
