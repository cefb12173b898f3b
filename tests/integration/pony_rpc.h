/* Shared by pony_rpc's two files: options, the clock, the payload pattern, attach and
 * completion waits (pony_rpc.c: main and the checking client; pony_rpc_peer.c: the
 * server, sink, hold, drain and push modes). */
#pragma once

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pony.h>

#define MAX_STREAMS 8
#define MAX_WINDOW 64

struct opts {
	const char *sock, *ip;
	unsigned service, n, streams, window, big, idle_s, timeout_s;
	uint32_t max_len, min_len, big_max;
	uint64_t seed;
	unsigned pause_after, pause_s, duration_s;
};

extern const char *engine_name; /* -e: the daemon engine to attach to (NULL: its default) */

double now_s(void);
uint64_t splitmix(uint64_t *x);
/* Attach to the daemon's app socket; exits 3 when refused, 1 on other errors. */
struct pony_app *attach(const char *sock);
/* Next completion, waiting at most until deadline (seconds, now_s clock). 1, 0 timeout, <0. */
int next_cpl(struct pony_app *a, struct pony_completion *c, double deadline);
/* The status of op's completion (others are skipped), -ETIMEDOUT, or <0. */
int wait_op(struct pony_app *a, unsigned op, struct pony_completion *c, double deadline);
/* The payload of rpc/message id: a pattern seeded by id, the id in its first 8 bytes. */
void fill(uint8_t *p, uint32_t len, uint64_t id);

int run_server(const struct opts *o);
int run_sink(const struct opts *o);
int run_hold(const struct opts *o);
int run_drain(const struct opts *o);
int run_push(const struct opts *o);
