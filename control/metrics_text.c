/* OpenMetrics text for the counter replies (see metrics_text.h). Every value is exposed as a
 * counter sample of one family per source, labelled by where it comes from and the counter's
 * own name, so a new counter in `snapctl stats` appears here without a change. */
#include <errno.h>
#include <inttypes.h>

#include "control/metrics_text.h"

/* A label value with \, " and newline escaped (OpenMetrics ABNF). */
static void label(FILE *out, const char *name, const char *v, const char *sep)
{
	fprintf(out, "%s=\"", name);
	for (const char *p = v ? v : ""; *p; p++) {
		if (*p == '\\' || *p == '"')
			fputc('\\', out), fputc(*p, out);
		else if (*p == '\n')
			fputs("\\n", out);
		else
			fputc(*p, out);
	}
	fprintf(out, "\"%s", sep);
}

static void family(FILE *out, const char *name, const char *help)
{
	fprintf(out, "# TYPE %s counter\n# HELP %s %s\n", name, name, help);
}

/* One sample per counter: NAME_total{<labels written by the caller>counter="c"} value. */
static void samples(FILE *out, const char *name, Ctl__Counter **c, size_t n,
		    void (*labels)(FILE *, const void *), const void *arg)
{
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "%s_total{", name);
		labels(out, arg);
		label(out, "counter", c[i]->name, "");
		fprintf(out, "} %" PRIu64 "\n", c[i]->value);
	}
}

struct elem_lbl {
	const char *engine, *element;
};

static void elem_labels(FILE *out, const void *arg)
{
	const struct elem_lbl *l = arg;
	label(out, "engine", l->engine, ",");
	label(out, "element", l->element, ",");
}

static void port_labels(FILE *out, const void *arg)
{
	label(out, "port", ((const Ctl__PortInfo *)arg)->name, ",");
}

static void flow_labels(FILE *out, const void *arg)
{
	const Ctl__FlowInfo *f = arg;
	label(out, "engine", f->engine, ",");
	label(out, "peer", f->peer, ",");
}

static void app_labels(FILE *out, const void *arg)
{
	const Ctl__AppInfo *a = arg;
	char pid[16];
	snprintf(pid, sizeof(pid), "%d", (int)a->pid);
	label(out, "app", a->name, ",");
	label(out, "pid", pid, ",");
	label(out, "engine", a->engine, ",");
}

int ctl_metrics_render(FILE *out, const struct ctl_metrics_src *src)
{
	if (src->stats) {
		family(out, "snap_element", "Engine (element=\"\") and element counters, as snapctl stats.");
		for (size_t i = 0; i < src->stats->n_engines; i++) {
			const Ctl__EngineStats *es = src->stats->engines[i];
			for (size_t k = 0; k < es->n_elements; k++) {
				struct elem_lbl l = {es->engine, es->elements[k]->element};
				samples(out, "snap_element", es->elements[k]->counters,
					es->elements[k]->n_counters, elem_labels, &l);
			}
		}
	}
	if (src->ports) {
		family(out, "snap_port", "Port (ethdev) counters, as snapctl ports.");
		for (size_t i = 0; i < src->ports->n_ports; i++)
			samples(out, "snap_port", src->ports->ports[i]->counters,
				src->ports->ports[i]->n_counters, port_labels, src->ports->ports[i]);
	}
	if (src->flows) {
		family(out, "snap_flow", "Pony flow counters, as snapctl flows.");
		for (size_t i = 0; i < src->flows->n_flows; i++)
			samples(out, "snap_flow", src->flows->flows[i]->counters,
				src->flows->flows[i]->n_counters, flow_labels, src->flows->flows[i]);
	}
	if (src->apps) {
		family(out, "snap_app", "Pony app counters, as snapctl apps.");
		for (size_t i = 0; i < src->apps->n_apps; i++)
			samples(out, "snap_app", src->apps->apps[i]->counters,
				src->apps->apps[i]->n_counters, app_labels, src->apps->apps[i]);
	}
	fputs("# EOF\n", out);
	return ferror(out) ? -EIO : 0;
}
