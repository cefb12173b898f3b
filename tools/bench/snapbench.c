/* snapbench: echo server and load generator over pluggable transports (bench.h), so the
 * kernel TCP stack and Pony Express run the same workloads on the same topology. One JSON
 * line per run on stdout; see tools/bench/README.md for the fields. */
#include "snapbench.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t bench_stop;

uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void proc_path(char *buf, size_t n, int pid, const char *file)
{
	if (pid)
		snprintf(buf, n, "/proc/%d/%s", pid, file);
	else
		snprintf(buf, n, "/proc/self/%s", file);
}

double bench_proc_cpu_s(int pid, bool precise)
{
	char path[64], buf[1024];
	FILE *f;
	if (precise) {
		proc_path(path, sizeof(path), pid, "schedstat");
		unsigned long long ns;
		f = fopen(path, "r");
		if (f) {
			int k = fscanf(f, "%llu", &ns);
			fclose(f);
			if (k == 1)
				return (double)ns / 1e9;
		}
	}
	proc_path(path, sizeof(path), pid, "stat");
	f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* comm (field 2) may hold spaces and parentheses: fields restart after the last ')'. */
	char *p = strrchr(buf, ')');
	unsigned long long ut, st;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			 &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static const char *const wl_names[] = {
	[BENCH_WL_PINGPONG] = "pingpong", [BENCH_WL_CLOSED] = "closed",
	[BENCH_WL_STREAM] = "stream",     [BENCH_WL_CONNS] = "conns",
	[BENCH_WL_READ] = "read",
};

const char *bench_workload_name(enum bench_workload wl)
{
	return wl_names[wl];
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: snapbench server [--transport T] [--addr A] [--port P] [--duration S]\n"
		"                        [--max-msg B] [--max-conns N]\n"
		"       snapbench client --workload W [--transport T] --addr A --port P\n"
		"                        [--size B] [--conns N] [--inflight N] [--ops N]\n"
		"                        [--duration S] [--max-msg B] [--label L] [--cdf FILE]\n"
		"                        [--hold S]\n"
		"  W: pingpong | closed | stream | conns | read (one-sided, Pony only)\n"
		"  sizes take K/M suffixes (KiB/MiB); a run ends at --ops or --duration, first hit\n"
		"  transports:");
	for (unsigned i = 0; bench_transports[i]; i++)
		fprintf(f, " %s", bench_transports[i]->name);
	fprintf(f, "\n");
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -EINVAL;
	if (*end == 'K' || *end == 'k')
		v <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		v <<= 20, end++;
	if (*end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static bool label_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("_.:-/", *s)))
			return false;
	return true;
}

static void on_signal(int sig)
{
	(void)sig;
	bench_stop = 1;
}

static void print_result(const struct bench_opts *o, const struct bench_result *r)
{
	const struct bench_hist *h = &r->lat;
	double secs = r->secs > 0 ? r->secs : 1e-9;
	printf("{\"tool\":\"snapbench\",\"role\":\"client\",\"transport\":\"%s\","
	       "\"workload\":\"%s\",\"label\":\"%s\",\"msg_size\":%u,\"conns\":%u,"
	       "\"inflight\":%u,\"bound_ops\":%llu,\"bound_duration_s\":%.3f,"
	       "\"ops\":%llu,\"bytes\":%llu,\"errors\":%llu,\"duration_s\":%.6f,"
	       "\"ops_per_s\":%.1f,\"gbit_per_s\":%.4f,\"cpu_s\":%.6f,\"cpu_stat_s\":%.3f,",
	       o->tp->name, bench_workload_name(o->wl), o->label ? o->label : "", o->size,
	       o->conns, o->inflight, (unsigned long long)o->ops, o->duration,
	       (unsigned long long)r->ops, (unsigned long long)r->bytes,
	       (unsigned long long)r->errors, r->secs, (double)r->ops / secs,
	       (double)r->bytes * 8 / secs / 1e9, r->cpu_s, r->cpu_stat_s);
	if (h->count)
		printf("\"lat_ns\":{\"count\":%llu,\"min\":%llu,\"mean\":%.0f,\"p50\":%llu,"
		       "\"p99\":%llu,\"p999\":%llu,\"max\":%llu}}\n",
		       (unsigned long long)h->count, (unsigned long long)h->min,
		       (double)h->sum / (double)h->count,
		       (unsigned long long)bench_hist_quantile(h, 0.5),
		       (unsigned long long)bench_hist_quantile(h, 0.99),
		       (unsigned long long)bench_hist_quantile(h, 0.999),
		       (unsigned long long)h->max);
	else
		printf("\"lat_ns\":null}\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	if (argc < 2 || (strcmp(argv[1], "server") && strcmp(argv[1], "client"))) {
		usage(argc >= 2 && !strcmp(argv[1], "--help") ? stdout : stderr);
		return argc >= 2 && !strcmp(argv[1], "--help") ? 0 : 2;
	}
	bool server = !strcmp(argv[1], "server");
	struct bench_opts o = {
		.tp = bench_tp_find("tcp"), .wl = BENCH_WL_PINGPONG, .addr = "127.0.0.1",
		.size = 64, .conns = 0, .inflight = 0, .ops = UINT64_MAX / 2,
		.duration = server ? 600 : 5, .max_msg = 1u << 20, .max_conns = 4096,
	};
	static const struct option lo[] = {
		{ "transport", 1, NULL, 't' }, { "addr", 1, NULL, 'a' },
		{ "port", 1, NULL, 'p' },      { "workload", 1, NULL, 'w' },
		{ "size", 1, NULL, 's' },      { "conns", 1, NULL, 'c' },
		{ "inflight", 1, NULL, 'i' },  { "ops", 1, NULL, 'n' },
		{ "duration", 1, NULL, 'd' },  { "max-msg", 1, NULL, 'm' },
		{ "max-conns", 1, NULL, 'M' }, { "label", 1, NULL, 'l' },
		{ "cdf", 1, NULL, 'C' },       { "hold", 1, NULL, 'H' },
		{ "help", 0, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, idx = 0;
	uint64_t v;
	optind = 2;
	while ((ch = getopt_long(argc, argv, "", lo, &idx)) != -1) {
		int bad = 0;
		switch (ch) {
		case 't':
			o.tp = bench_tp_find(optarg);
			bad = !o.tp;
			break;
		case 'a': o.addr = optarg; break;
		case 'p': bad = parse_u64(optarg, 65535, &v); o.port = (uint16_t)v; break;
		case 'w':
			bad = 1;
			for (unsigned w = 0; w < sizeof(wl_names) / sizeof(wl_names[0]); w++)
				if (!strcmp(optarg, wl_names[w])) {
					o.wl = (enum bench_workload)w;
					bad = 0;
				}
			break;
		case 's': bad = parse_u64(optarg, 1u << 30, &v); o.size = (uint32_t)v; break;
		case 'c': bad = parse_u64(optarg, 65536, &v) || !v; o.conns = (uint32_t)v; break;
		case 'i': bad = parse_u64(optarg, 1u << 20, &v) || !v; o.inflight = (uint32_t)v; break;
		case 'n': bad = parse_u64(optarg, UINT64_MAX / 2, &v) || !v; o.ops = v; break;
		case 'd':
			o.duration = strtod(optarg, NULL);
			bad = !(o.duration > 0 && o.duration <= 86400);
			break;
		case 'm': bad = parse_u64(optarg, 1u << 30, &v); o.max_msg = (uint32_t)v; break;
		case 'M': bad = parse_u64(optarg, 1u << 20, &v) || !v; o.max_conns = (uint32_t)v; break;
		case 'l': o.label = optarg; bad = !label_ok(optarg); break;
		case 'C': o.cdf_path = optarg; break;
		case 'H':
			o.hold = strtod(optarg, NULL);
			bad = !(o.hold >= 0 && o.hold <= 3600);
			break;
		case 'h': usage(stdout); return 0;
		default: bad = 1;
		}
		if (bad || !o.tp) {
			if (ch != '?')
				fprintf(stderr, "snapbench: bad value for --%s: %s\n",
					lo[idx].name, optarg ? optarg : "");
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	/* Defaults that depend on the workload. */
	if (!o.conns)
		o.conns = o.wl == BENCH_WL_CONNS ? 1000 : 1;
	if (!o.inflight)
		o.inflight = o.wl == BENCH_WL_CLOSED ? 16 : o.conns;
	if (o.wl == BENCH_WL_PINGPONG)
		o.inflight = o.conns;
	if (o.size > o.max_msg)
		o.max_msg = o.size;

	struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART: waits end early */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (server)
		return bench_server_run(&o) < 0 ? 1 : 0;
	if (!o.port) {
		fprintf(stderr, "snapbench: client needs --port\n");
		return 2;
	}
	static struct bench_result res; /* ~10 KiB histogram: not on the stack */
	int r = bench_client_run(&o, &res);
	if (r < 0)
		return 1;
	print_result(&o, &res);
	if (o.cdf_path) {
		FILE *f = fopen(o.cdf_path, "w");
		if (!f || bench_hist_write_cdf(&res.lat, f) < 0 || fclose(f) != 0) {
			fprintf(stderr, "snapbench: cannot write %s: %s\n", o.cdf_path,
				strerror(errno));
			return 1;
		}
	}
	return (res.ops > 0 && res.errors == 0) ? 0 : 1;
}
