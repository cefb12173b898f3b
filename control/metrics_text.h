/* OpenMetrics text rendering of the control plane's counter replies, shared by `snapctl
 * metrics` and the daemon's optional HTTP endpoint (control/metrics_http.c), so both print
 * exactly what `snapctl stats|ports|flows|apps` show. Plain C over the protobuf-c messages:
 * no DPDK, snapctl links it. */
#pragma once

#include <stdio.h>

#include "control/ctl.pb-c.h"

/* The replies of the methods feeding the metrics; any may be NULL (its families are left
 * out, e.g. an older daemon without that method). */
struct ctl_metrics_src {
	const Ctl__StatsReply *stats; /* snap_element_total{engine,element,counter} */
	const Ctl__PortsReply *ports; /* snap_port_total{port,counter} */
	const Ctl__FlowsReply *flows; /* snap_flow_total{engine,peer,counter} */
	const Ctl__AppsReply *apps;   /* snap_app_total{app,pid,engine,counter} */
};

/* Write the OpenMetrics text exposition (families, samples, "# EOF") to out. Every counter of
 * the replies appears once; label values are escaped. 0, or -EIO when out reports an error. */
int ctl_metrics_render(FILE *out, const struct ctl_metrics_src *src);

/* Content-Type of that text (for HTTP). */
#define CTL_METRICS_CONTENT_TYPE "application/openmetrics-text; version=1.0.0; charset=utf-8"
