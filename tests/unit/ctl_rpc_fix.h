/* Shared fixture of the in-process control RPC tests (test_ctl_rpc, test_ctl_defer): EAL, a
 * temp dir with the server's socket, a parked engine of test elements, and a server thread
 * driving ctl_rpc_process; plus the client-side helpers every such test calls through. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "control/ctl.h"
#include "control/rpc.h"
#include "snap/engine.h"
#include "tools/snapctl_client.h"

/* How long a test waits for any one reply. */
#define CTL_FIX_TIMEOUT_MS 5000

/* A test method the program registers before the server starts serving. */
struct ctl_fix_method {
	const char *name;
	ctl_rpc_handler_fn handler;
	unsigned flags; /* CTL_RPC_READONLY or CTL_RPC_MUTATING */
};

struct ctl_fix_cfg {
	/* EAL file prefix stem and temp dir stem; unique per test program. */
	const char *name;
	const struct ctl_fix_method *methods;
	size_t n_methods;
	/* If not NULL, the server thread calls it once per loop iteration after
	 * ctl_rpc_process (outside any handler, as an upgrade's takeover steps run). */
	void (*loop_hook)(void);
};

/* The temp dir (mode 0755, removed at teardown), the server's socket inside it, and the
 * parked engine "e1" (elements src:ctl_test_src -> snk:ctl_test_sink, polled exactly 5
 * times before serving starts). Valid between ctl_fix_setup and ctl_fix_teardown. */
extern char ctl_fix_dir[64];
extern char ctl_fix_sock[128];
extern struct snap_engine *ctl_fix_eng;

/* cmocka group setup body: start EAL, make the temp dir and the engine, register
 * cfg->methods, then start a server (mode 0666, readonly_open, max_msg 64 KiB) on
 * ctl_fix_sock served by a thread for at most 120 s. 0, or -1 with the reason on stderr
 * (what was set up is left for ctl_fix_teardown). */
int ctl_fix_setup(const struct ctl_fix_cfg *cfg);
/* cmocka group teardown body: stop and destroy the server, destroy the engine, remove the
 * temp dir, clean up EAL. Always 0. */
int ctl_fix_teardown(void);

/* Connect to ctl_fix_sock; fails the test if it cannot. */
struct snapctl_conn *ctl_fix_conn_open(void);
/* Call method with req (NULL: no payload) and return the final Response, which the caller
 * frees with ctl__response__free_unpacked. Fails the test if the transport fails or the
 * reply carries another protocol version. */
Ctl__Response *ctl_fix_call(struct snapctl_conn *c, const char *method,
			    const ProtobufCMessage *req);
/* The Response's error code (positive errno), 0 if none. */
int ctl_fix_rsp_error(const Ctl__Response *rsp);
/* Call status on c and fail the test unless it succeeds. */
void ctl_fix_expect_status_ok(struct snapctl_conn *c);
