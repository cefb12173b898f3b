/* Test double of the Pony transport (pony/transport.h) for app-layer tests: records every
 * call, returns configurable results, and lets a test play the transport's upcalls. Used
 * only in tests; the daemon links the real transport. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct pony_tp_config_internal;
#include "pony/transport.h"

enum fake_tp_fn { FAKE_LISTEN, FAKE_UNLISTEN, FAKE_OPEN, FAKE_SEND, FAKE_GRANT, FAKE_CLOSE };

struct fake_tp_call {
	enum fake_tp_fn fn;
	uint32_t sid, ip, len, n; /* ip as the transport gets it: network order */
	struct pony_ip peer;      /* OPEN: the peer, either family */
	uint16_t service;
	uint8_t cls;  /* SEND: the priority class asked for (PONY_QOS_*) */
	bool rpc;     /* SEND: marked an RPC (PONY_QOS_RPC) */
	const void *buf;
	uint64_t cookie;
	void *owner; /* owner or listener pointer passed */
};

#define FAKE_TP_CALLS_MAX 4096

struct fake_tp {
	struct fake_tp_call calls[FAKE_TP_CALLS_MAX];
	unsigned n_calls;      /* recorded (saturates at the max; total in n_total) */
	unsigned long n_total;
	uint32_t next_sid;
	int ret[6];            /* result to return per fn (0 by default) */
	bool downgrade;        /* sends run one class lower than asked (admission refused) */
	/* Optional hook run inside pony_tp_open/send (e.g. to scribble on the ring). */
	void (*hook)(enum fake_tp_fn fn, void *ctx);
	void *hook_ctx;
};

/* The transport pointer to give pony_app_host_create. */
struct pony_tp *fake_tp_new(struct fake_tp **out);
void fake_tp_free(struct pony_tp *tp);
/* Last call of kind fn, or NULL. */
const struct fake_tp_call *fake_tp_last(const struct fake_tp *f, enum fake_tp_fn fn);
unsigned fake_tp_count(const struct fake_tp *f, enum fake_tp_fn fn);
