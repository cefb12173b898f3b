/* snapnetd's optional HTTP endpoint for Prometheus: GET /metrics on a loopback address
 * (config daemon.metrics_listen), the same OpenMetrics text as `snapctl metrics`. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

/* Parse "ADDRESS:PORT" (IPv4 or "localhost") into sa. 0, -EINVAL (syntax, port 0), or
 * -EADDRNOTAVAIL (not in 127.0.0.0/8: the endpoint has no authentication). */
int ctl_metrics_http_parse(const char *spec, struct sockaddr_in *sa);
/* Listen on spec and serve from the control thread's event loop. spec NULL or "": off, 0.
 * upgrading: this daemon is the new one of a transparent upgrade, so the address may still
 * be the old daemon's: then it is bound (retried every second) once that one exits, rather
 * than failing. 0, -EINVAL (bad or non-loopback spec), or the socket/bind -errno
 * (-EADDRINUSE: another process serves that address); message in err. */
int ctl_metrics_http_start(const char *spec, bool upgrading, char *err, size_t errlen);
/* Close the listener and every connection. No-op when not started. */
void ctl_metrics_http_stop(void);
