/* snapbench's run options, results and the two roles (echo server, load-generating client)
 * shared by snapbench.c (command line, JSON) and client.c / server.c (the workloads). */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "bench.h"
#include "hist.h"

enum bench_workload {
	BENCH_WL_PINGPONG, /* 1 conn, 1 RPC in flight */
	BENCH_WL_CLOSED,   /* closed loop: `inflight` RPCs in flight over `conns` conns */
	BENCH_WL_STREAM,   /* one direction, large messages, as fast as the transport takes them */
	BENCH_WL_CONNS,    /* many conns (default 1000), 1 RPC in flight on each */
	BENCH_WL_READ,     /* one-sided reads (transports with ops->read only) */
};

struct bench_opts {
	const struct bench_tp_ops *tp;
	enum bench_workload wl;
	const char *addr;
	uint16_t port;
	uint32_t size;       /* message (or read) size in bytes */
	uint32_t conns;
	uint32_t inflight;   /* total over all conns */
	uint64_t ops;        /* stop after this many completed ops ... */
	double duration;     /* ... or after this many seconds, whichever comes first */
	uint32_t max_msg;
	uint32_t max_conns;  /* server */
	const char *label;   /* free text copied into the JSON line */
	const char *cdf_path;/* client: latency CDF written here */
	double hold;         /* client: seconds to sit idle with every conn open before the
			      * first op (prints HOLDING / STARTING on stderr; for profiling
			      * the idle cost with the same conns open) */
};

struct bench_result {
	uint64_t ops;       /* completed RPCs / streamed messages / reads */
	uint64_t bytes;     /* payload bytes those ops moved, counted in both directions for RPCs */
	uint64_t errors;    /* bad echoes, refused sends, closed conns */
	double secs;        /* from the first op to the last completion */
	double cpu_s;       /* this process's CPU time over the same interval (schedstat) */
	double cpu_stat_s;  /* the same from utime+stime in /proc/self/stat (tick-sampled) */
	struct bench_hist lat;
};

extern volatile sig_atomic_t bench_stop;

/* Monotonic time in ns. */
uint64_t bench_now_ns(void);

/* CPU time of process pid (0: this process) in seconds; <0 when it cannot be read.
 * precise: the scheduler's runtime from /proc/<pid>/schedstat (ns; like utime+stime it
 * includes softirq work run in the task's context when the kernel has no IRQ time
 * accounting), falling back to stat; otherwise utime+stime from /proc/<pid>/stat, which the
 * kernel samples at the tick (1/CLK_TCK s resolution). */
double bench_proc_cpu_s(int pid, bool precise);

/* Runs the client workload o->wl against o->addr:o->port and fills *res.
 * 0, or -errno (connect failure, unsupported workload for the transport). */
int bench_client_run(const struct bench_opts *o, struct bench_result *res);

/* Echo server until bench_stop or o->duration seconds. Prints "LISTENING <port>" on stderr
 * once it accepts, then a JSON summary line on stdout at exit. 0 or -errno. */
int bench_server_run(const struct bench_opts *o);

const char *bench_workload_name(enum bench_workload wl);
