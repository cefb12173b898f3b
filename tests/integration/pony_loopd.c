/* A minimal stand-in daemon for example end-to-end tests: the real app layer (attach socket,
 * sessions, validation, doorbells) over the loopback transport double (loop_tp.c), driven
 * by a poll loop that sleeps on the app doorbells like an engine would. On SIGTERM it
 * prints the app-layer gauges (so a test can check everything went back to zero).
 * Usage: pony_loopd SOCKET_PATH */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "loop_tp.h"
#include "pony/app.h"

#define FDS_MAX 256

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s SOCKET_PATH\n", argv[0]);
		return 2;
	}
	struct pony_app_config cfg;
	pony_app_config_defaults(&cfg);
	snprintf(cfg.socket_path, sizeof(cfg.socket_path), "%s", argv[1]);
	cfg.buf_size = 8u << 20;
	struct pony_tp *tp = loop_tp_new(&pony_app_upcalls);
	struct pony_app_host *h = pony_app_host_create(NULL, cfg.engine, tp);
	struct pony_app_attach *at = pony_app_attach_create(&cfg);
	if (tp == NULL || h == NULL || at == NULL) {
		fprintf(stderr, "pony_loopd: setup failed: %s\n", strerror(errno));
		return 1;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	printf("pony_loopd: listening on %s\n", cfg.socket_path);
	fflush(stdout);
	while (!stop) {
		unsigned work = pony_app_host_poll(h, 256) + loop_tp_run(tp);
		pony_app_host_flush(h);
		if (work)
			continue;
		struct pollfd p[FDS_MAX];
		unsigned n = pony_app_attach_pollfds(at, p, FDS_MAX / 2);
		unsigned n_attach = n;
		struct pony_app_fd fds[FDS_MAX];
		unsigned nf = pony_app_attach_fds(at, fds, FDS_MAX);
		for (unsigned i = 0; i < nf && i < FDS_MAX && n < FDS_MAX; i++)
			if (fds[i].kind == PONY_APP_FD_CMD_EFD)
				p[n++] = (struct pollfd){.fd = fds[i].fd, .events = POLLIN};
		pony_app_host_arm(h, true);
		poll(p, n, 200);
		pony_app_host_arm(h, false);
		for (unsigned i = 0; i < n_attach; i++)
			if (p[i].revents)
				pony_app_attach_handle(at, p[i].fd, p[i].revents);
		pony_app_attach_tick(at);
	}
	const struct pony_app_host_counters *c = pony_app_host_counters(h);
	printf("pony_loopd: attached=%lu detached=%lu violations=%lu sessions=%lu streams=%lu "
	       "ops=%lu regions=%lu listens=%lu mapped=%lu delivered=%lu\n",
	       (unsigned long)c->attached, (unsigned long)c->detached,
	       (unsigned long)c->protocol_violations, (unsigned long)c->sessions,
	       (unsigned long)c->streams, (unsigned long)c->ops, (unsigned long)c->regions,
	       (unsigned long)c->listens, (unsigned long)c->mapped_bytes,
	       (unsigned long)loop_tp_delivered(tp));
	fflush(stdout);
	pony_app_attach_destroy(at);
	pony_app_host_destroy(h);
	loop_tp_free(tp);
	return 0;
}
