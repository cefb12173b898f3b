/* snapctl's internals shared by its command files: the invocation context, exit codes, the
 * RPC call with error reporting, and argument/output helpers. Not a library API. */
#pragma once

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "tools/snapctl_client.h"
#include "tools/snapctl_out.h"

/* Exit codes (stable, for scripts; documented in snapctl --help). */
enum {
	EXIT_OK = 0,
	EXIT_REPLY = 1,       /* the daemon answered with an error */
	EXIT_USAGE = 2,       /* bad command line */
	EXIT_UNREACHABLE = 3, /* daemon not running, not answering, or connection lost */
	EXIT_PERM = 4,        /* permission denied (socket or method) */
};

struct snapctl_ctx {
	const char *socket;
	bool json;
	unsigned timeout_ms;
	struct snapctl_conn *conn; /* connected on first use */
};

/* snapctl_rpc's timeout for calls that may take as long as they take (count-only capture). */
#define SNAPCTL_WAIT_FOREVER 0xffffffffu

#define HELP_OPT {"help", no_argument, NULL, 'h'}

/* Connect if not yet connected. EXIT_OK, or the exit code after printing why not. */
int snapctl_connect_daemon(struct snapctl_ctx *x);
/* Call method with req, decode the reply as rdesc into *out (caller frees with
 * protobuf_c_message_free_unpacked). timeout_ms: 0 = --timeout, SNAPCTL_WAIT_FOREVER = none.
 * Prints the reason of any failure; returns the exit code. */
int snapctl_rpc(struct snapctl_ctx *x, const char *method, const ProtobufCMessage *req,
		const ProtobufCMessageDescriptor *rdesc, ProtobufCMessage **out,
		unsigned timeout_ms);
/* snapctl_rpc for a request that asked for progress: on_progress(rsp, arg) runs for each
 * intermediate frame as it arrives (see snapctl_call_progress). */
int snapctl_rpc_progress(struct snapctl_ctx *x, const char *method, const ProtobufCMessage *req,
			 const ProtobufCMessageDescriptor *rdesc, ProtobufCMessage **out,
			 unsigned timeout_ms, snapctl_progress_fn on_progress, void *arg);
/* Print a command's usage to f; returns code. sub selects one sub-command (NULL: all). */
int snapctl_usage_of(const char *name, const char *sub, FILE *f, int code);
/* Strict decimal parsers (whole string, no sign; double >= 0). */
bool snapctl_parse_u64(const char *s, uint64_t *v);
bool snapctl_parse_double(const char *s, double *v);
/* With --json print m and set *done; else *done = false (the caller renders a table). */
void snapctl_json_or(struct snapctl_ctx *x, const ProtobufCMessage *m, bool *done);
/* Print and free t; EXIT_OK or EXIT_REPLY (out of memory). */
int snapctl_print_table(struct snapctl_table *t);
/* Value of the counter `name` in cs[0..n) (0 if absent). */
uint64_t snapctl_counter(Ctl__Counter **cs, size_t n, const char *name);
/* For commands with only --help and at most maxpos positionals: -1 and *pos (first
 * positional) to go on, or the exit code to return now. */
int snapctl_simple_args(int argc, char **argv, int maxpos, const char *name, const char *sub,
			int *pos);

/* Commands: argv[0] is the command (or sub-command) word. Return the exit code. */
int snapctl_cmd_status(struct snapctl_ctx *x, int argc, char **argv);
int snapctl_cmd_engines(struct snapctl_ctx *x, int argc, char **argv);
int snapctl_cmd_groups(struct snapctl_ctx *x, int argc, char **argv);
int snapctl_cmd_ports(struct snapctl_ctx *x, int argc, char **argv);
int snapctl_cmd_flows(struct snapctl_ctx *x, int argc, char **argv);
int snapctl_cmd_apps(struct snapctl_ctx *x, int argc, char **argv);
int snapctl_cmd_stats(struct snapctl_ctx *x, int argc, char **argv);
int snapctl_cmd_metrics(struct snapctl_ctx *x, int argc, char **argv);
int snapctl_cmd_engine_create(struct snapctl_ctx *x, int argc, char **argv);
int snapctl_cmd_engine_destroy(struct snapctl_ctx *x, int argc, char **argv);
int snapctl_cmd_engine_move(struct snapctl_ctx *x, int argc, char **argv);
int snapctl_cmd_group_create(struct snapctl_ctx *x, int argc, char **argv);
int snapctl_cmd_group_set_mode(struct snapctl_ctx *x, int argc, char **argv);
int snapctl_cmd_log_level(struct snapctl_ctx *x, int argc, char **argv);
int snapctl_cmd_capture(struct snapctl_ctx *x, int argc, char **argv);
int snapctl_cmd_upgrade(struct snapctl_ctx *x, int argc, char **argv);
