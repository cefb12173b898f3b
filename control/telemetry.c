/* DPDK telemetry commands (/snap/...): thin wrappers that run the control RPC methods behind
 * `snapctl engines|stats|ports|flows|apps` (ctl_rpc_invoke) and convert their replies. DPDK
 * calls us on its telemetry thread, which must not touch engines, so each command is handed
 * to the control thread through a queue and an eventfd on the event loop, and waits. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <rte_telemetry.h>

#include "control/ctl.pb-c.h"
#include "control/rpc.h"
#include "control/rpc_wire.h"
#include "control/telemetry.h"
#include "snap/log.h"
#include "core/loop.h"

/* One command waiting for the control thread; lives on the telemetry thread's stack. */
struct tel_job {
	const char *method;
	uint8_t req[256]; /* packed *Request: one optional name */
	size_t req_len;
	uint8_t *rep; /* packed *Reply (malloc'd by ctl_rpc_invoke) */
	size_t rep_len;
	int rc;
	sem_t done;
	struct tel_job *next;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct tel_job *queue; /* under mu */
static bool serving;          /* under mu: the control thread will run queued jobs */
static int efd = -1;
static bool registered;       /* DPDK cannot unregister commands: once per process */

/* ---- control thread ---------------------------------------------------------------------- */

static struct tel_job *take_all(bool stop)
{
	pthread_mutex_lock(&mu);
	struct tel_job *j = queue;
	queue = NULL;
	if (stop)
		serving = false;
	pthread_mutex_unlock(&mu);
	return j;
}

static void on_event(int fd, void *arg)
{
	(void)arg;
	uint64_t v;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		SNAP_LOG(WARNING, "telemetry: eventfd: %s", strerror(errno));
	for (struct tel_job *j = take_all(false), *next; j; j = next) {
		next = j->next; /* j belongs to its waiter again once posted */
		char err[128];
		j->rc = ctl_rpc_invoke(j->method, j->req, j->req_len, &j->rep, &j->rep_len, err,
				       sizeof(err));
		sem_post(&j->done);
	}
}

/* ---- telemetry thread -------------------------------------------------------------------- */

/* Run method with request msg (may be NULL) on the control thread; the unpacked reply or
 * NULL (-errno in *rc). */
static ProtobufCMessage *call(const char *method, const ProtobufCMessage *msg,
			      const ProtobufCMessageDescriptor *desc, int *rc)
{
	struct tel_job j = {.method = method};
	if (msg) {
		if (protobuf_c_message_get_packed_size(msg) > sizeof(j.req)) {
			*rc = -ENAMETOOLONG;
			return NULL;
		}
		j.req_len = protobuf_c_message_pack(msg, j.req);
	}
	sem_init(&j.done, 0, 0);
	/* Queue and kick under mu: ctl_telemetry_stop closes efd only after clearing serving. */
	pthread_mutex_lock(&mu);
	bool ok = serving;
	if (ok) {
		j.next = queue;
		queue = &j;
		uint64_t one = 1;
		if (write(efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			SNAP_LOG(WARNING, "telemetry: eventfd: %s", strerror(errno));
	}
	pthread_mutex_unlock(&mu);
	if (!ok) {
		*rc = -ENODEV;
		return NULL;
	}
	/* Every queued job is posted: by on_event, or by ctl_telemetry_stop with -ENODEV. */
	while (sem_wait(&j.done) != 0 && errno == EINTR)
		;
	sem_destroy(&j.done);
	*rc = j.rc;
	if (j.rc < 0)
		return NULL;
	ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, j.rep_len, j.rep);
	free(j.rep);
	if (m == NULL)
		*rc = -EBADMSG;
	return m;
}

/* DPDK 22.11 refuses dict names outside [A-Za-z0-9_/]: '.' (as in "app1.cmds") becomes '/',
 * anything else '_'. */
static const char *tel_name(char *out, const char *in)
{
	size_t i = 0;
	for (; in[i] && i < RTE_TEL_MAX_STRING_LEN - 1; i++) {
		char ch = in[i];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || ch == '_' || ch == '/';
		out[i] = ok ? ch : ch == '.' ? '/' : '_';
	}
	out[i] = '\0';
	return out;
}

/* A dict of counters (name -> value) added to d under key; DPDK frees it with d. */
static void add_counters(struct rte_tel_data *d, const char *key, Ctl__Counter **c, size_t n)
{
	char name[RTE_TEL_MAX_STRING_LEN];
	struct rte_tel_data *cd = rte_tel_data_alloc();
	if (cd == NULL)
		return;
	rte_tel_data_start_dict(cd);
	for (size_t i = 0; i < n && i < RTE_TEL_MAX_DICT_ENTRIES; i++)
		rte_tel_data_add_dict_u64(cd, tel_name(name, c[i]->name), c[i]->value);
	if (rte_tel_data_add_dict_container(d, tel_name(name, key), cd, 0) != 0)
		rte_tel_data_free(cd);
}

/* Fillers: one reply -> d (a started dict). */
static void f_engines(const ProtobufCMessage *m, struct rte_tel_data *d)
{
	const Ctl__EnginesReply *r = (const Ctl__EnginesReply *)m;
	char name[RTE_TEL_MAX_STRING_LEN];
	for (size_t i = 0; i < r->n_engines && i < RTE_TEL_MAX_DICT_ENTRIES; i++)
		rte_tel_data_add_dict_string(d, tel_name(name, r->engines[i]->name),
					     r->engines[i]->state);
}

/* element -> counter -> value ("engine" for the engine's own counters). */
static void f_engine(const ProtobufCMessage *m, struct rte_tel_data *d)
{
	const Ctl__StatsReply *r = (const Ctl__StatsReply *)m;
	for (size_t i = 0; i < r->n_engines; i++) {
		const Ctl__EngineStats *es = r->engines[i];
		if (es->has_error)
			rte_tel_data_add_dict_string(d, "error", strerror(es->error));
		for (size_t k = 0; k < es->n_elements && k < RTE_TEL_MAX_DICT_ENTRIES; k++) {
			const Ctl__ElementStats *el = es->elements[k];
			add_counters(d, el->element[0] ? el->element : "engine", el->counters,
				     el->n_counters);
		}
	}
}

static void f_ports(const ProtobufCMessage *m, struct rte_tel_data *d)
{
	const Ctl__PortsReply *r = (const Ctl__PortsReply *)m;
	for (size_t i = 0; i < r->n_ports && i < RTE_TEL_MAX_DICT_ENTRIES; i++)
		add_counters(d, r->ports[i]->name, r->ports[i]->counters, r->ports[i]->n_counters);
}

/* "engine/peer" -> the flow's counters. */
static void f_flows(const ProtobufCMessage *m, struct rte_tel_data *d)
{
	const Ctl__FlowsReply *r = (const Ctl__FlowsReply *)m;
	char key[RTE_TEL_MAX_STRING_LEN];
	for (size_t i = 0; i < r->n_flows && i < RTE_TEL_MAX_DICT_ENTRIES; i++) {
		snprintf(key, sizeof(key), "%s/%s", r->flows[i]->engine, r->flows[i]->peer);
		add_counters(d, key, r->flows[i]->counters, r->flows[i]->n_counters);
	}
}

/* "app/pid" -> its counters. */
static void f_apps(const ProtobufCMessage *m, struct rte_tel_data *d)
{
	const Ctl__AppsReply *r = (const Ctl__AppsReply *)m;
	char key[RTE_TEL_MAX_STRING_LEN];
	for (size_t i = 0; i < r->n_apps && i < RTE_TEL_MAX_DICT_ENTRIES; i++) {
		snprintf(key, sizeof(key), "%s/%d", r->apps[i]->name, (int)r->apps[i]->pid);
		add_counters(d, key, r->apps[i]->counters, r->apps[i]->n_counters);
	}
}

/* The commands: each the control method behind a snapctl command and a filler. */
static const struct tel_cmd {
	const char *cmd, *method, *help;
	const ProtobufCMessageDescriptor *reply;
	void (*fill)(const ProtobufCMessage *m, struct rte_tel_data *d);
	bool engine_param; /* requires ",NAME": StatsRequest.engine */
} cmds[] = {
	{"/snap/engines", CTL_M_ENGINES, "Engines and their states. No parameters",
	 &ctl__engines_reply__descriptor, f_engines, false},
	{"/snap/engine", CTL_M_STATS,
	 "One engine's counters by element (as snapctl stats). Parameters: engine name",
	 &ctl__stats_reply__descriptor, f_engine, true},
	{"/snap/ports", CTL_M_PORTS, "Ports and their ethdev counters. No parameters",
	 &ctl__ports_reply__descriptor, f_ports, false},
	{"/snap/pony/flows", CTL_M_FLOWS, "Pony flows and their counters. No parameters",
	 &ctl__flows_reply__descriptor, f_flows, false},
	{"/snap/pony/apps", CTL_M_APPS, "Pony apps and their counters. No parameters",
	 &ctl__apps_reply__descriptor, f_apps, false},
};

/* The one DPDK callback: find cmd, run its method on the control thread, fill d. */
static int t_cmd(const char *cmd, const char *params, struct rte_tel_data *d)
{
	const struct tel_cmd *c = NULL;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]) && c == NULL; i++)
		if (!strcmp(cmds[i].cmd, cmd))
			c = &cmds[i];
	if (c == NULL)
		return -ENOENT;
	Ctl__StatsRequest q = CTL__STATS_REQUEST__INIT;
	if (c->engine_param) {
		if (params == NULL || !params[0])
			return -EINVAL;
		q.engine = (char *)(uintptr_t)params;
	}
	int rc;
	ProtobufCMessage *m = call(c->method, c->engine_param ? &q.base : NULL, c->reply, &rc);
	if (m == NULL)
		return rc;
	rte_tel_data_start_dict(d);
	c->fill(m, d);
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}

/* ---- start / stop ------------------------------------------------------------------------ */

int ctl_telemetry_start(void)
{
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (efd < 0)
		return -errno;
	int r = snap_loop_add_fd(efd, on_event, NULL);
	if (r < 0) {
		close(efd);
		efd = -1;
		return r;
	}
	pthread_mutex_lock(&mu);
	serving = true;
	pthread_mutex_unlock(&mu);
	if (!registered) {
		for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
			if ((r = rte_telemetry_register_cmd(cmds[i].cmd, t_cmd, cmds[i].help)) != 0)
				SNAP_LOG(WARNING, "telemetry: cannot register %s: %s", cmds[i].cmd,
					 strerror(-r));
		registered = true;
	}
	return 0;
}

void ctl_telemetry_stop(void)
{
	if (efd < 0)
		return;
	for (struct tel_job *j = take_all(true), *next; j; j = next) {
		next = j->next;
		j->rc = -ENODEV;
		sem_post(&j->done);
	}
	snap_loop_del_fd(efd);
	close(efd);
	efd = -1;
}
