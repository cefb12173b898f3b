/* The control RPC method table and the API handlers use to answer (reply, error, unpack,
 * deferral), on top of the connection machinery in rpc.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/rpc_internal.h"

/* ---- method table ------------------------------------------------------------------------ */

/* Filled by constructors before main and by tests; read by the control thread only. */
static struct ctl_rpc_method methods[METHODS_MAX];
static unsigned n_methods;

const struct ctl_rpc_method *ctl_rpc_method_find(const char *name)
{
	for (unsigned i = 0; i < n_methods; i++)
		if (strcmp(methods[i].name, name) == 0)
			return &methods[i];
	return NULL;
}

int ctl_rpc_register(const char *method, ctl_rpc_handler_fn fn, unsigned flags)
{
	if (method == NULL || !method[0] || strlen(method) >= METHOD_NAME_MAX || fn == NULL ||
	    (flags != CTL_RPC_READONLY && flags != CTL_RPC_MUTATING))
		return -EINVAL;
	if (ctl_rpc_method_find(method))
		return -EEXIST;
	if (n_methods == METHODS_MAX)
		return -ENOSPC;
	struct ctl_rpc_method *m = &methods[n_methods++];
	snprintf(m->name, sizeof(m->name), "%s", method);
	m->fn = fn;
	m->flags = flags;
	return 0;
}

/* Queue msg as the payload of a Response to call (a final one, or progress). 0, -ENOMEM,
 * -EMSGSIZE; nothing is queued on failure. */
static int queue_msg(struct ctl_rpc_call *call, const ProtobufCMessage *msg, bool progress)
{
	size_t n = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = n ? malloc(n) : NULL;
	if (n && buf == NULL)
		return -ENOMEM;
	protobuf_c_message_pack(msg, buf);
	Ctl__Response rsp = CTL__RESPONSE__INIT;
	rsp.version = CTL_PROTO_VERSION;
	rsp.id = call->id;
	rsp.method = call->method;
	rsp.has_payload = true;
	rsp.payload.data = buf;
	rsp.payload.len = n;
	rsp.has_progress = progress;
	rsp.progress = progress;
	int r = ctl_rpc_conn_send(call->c, &rsp);
	free(buf);
	return r;
}

/* ctl_rpc_invoke's reply: the packed message, kept for the caller. */
static int local_store(struct ctl_rpc_call *call, const ProtobufCMessage *msg)
{
	size_t n = protobuf_c_message_get_packed_size(msg);
	call->local_buf = malloc(n ? n : 1);
	if (call->local_buf == NULL)
		return -ENOMEM;
	call->local_len = protobuf_c_message_pack(msg, call->local_buf);
	return 0;
}

int ctl_rpc_invoke(const char *method, const uint8_t *req, size_t len, uint8_t **reply,
		   size_t *reply_len, char *err, size_t errlen)
{
	*reply = NULL;
	*reply_len = 0;
	const struct ctl_rpc_method *m = ctl_rpc_method_find(method);
	if (m == NULL || m->flags != CTL_RPC_READONLY) {
		snprintf(err, errlen, "no read-only method '%s'", method);
		return -ENOSYS;
	}
	struct ctl_rpc_call *call = calloc(1, sizeof(*call));
	if (call == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	call->local = true;
	snprintf(call->method, sizeof(call->method), "%s", m->name);
	int r = m->fn(call, req, len);
	if (r == CTL_RPC_DEFERRED && !call->replied) {
		/* The handler owns the call now and finishes it later; nobody hears that. */
		call->local = false;
		call->deferred = true;
		snprintf(err, errlen, "method '%s' answers asynchronously", method);
		return -EINPROGRESS;
	}
	if (call->replied && call->local_buf) {
		*reply = call->local_buf;
		*reply_len = call->local_len;
		r = 0;
	} else {
		snprintf(err, errlen, "%s", call->errmsg[0] ? call->errmsg : strerror(r < 0 ? -r : EIO));
		r = r < 0 ? r : -EIO;
	}
	free(call);
	return r;
}

int ctl_rpc_reply(struct ctl_rpc_call *call, const ProtobufCMessage *msg)
{
	if (call->replied)
		return -EALREADY; /* one Response per request, whatever the handler does */
	int r = call->local ? local_store(call, msg) : call->c ? queue_msg(call, msg, false) : 0;
	if (r < 0 && call->c)
		ctl_rpc_send_error(call->c, call->id, call->method, -r,
				   r == -EMSGSIZE ? "reply too large" : "out of memory");
	call->replied = true; /* a reply or its error is queued: dispatch sends nothing more */
	if (call->deferred)
		ctl_rpc_call_finish_deferred(call);
	return r;
}

int ctl_rpc_progress(struct ctl_rpc_call *call, const ProtobufCMessage *msg)
{
	if (call->replied)
		return -EALREADY;
	if (call->c == NULL)
		return -ENOTCONN;
	int r = queue_msg(call, msg, true);
	/* Inside the handler, dispatch flushes when it returns (and must not see the connection
	 * closed under it); a deferred call has nobody else to flush for it. */
	if (r == 0 && call->deferred)
		ctl_rpc_conn_push(call->c);
	return r < 0 ? r : call->c ? 0 : -ENOTCONN;
}

int ctl_rpc_error(struct ctl_rpc_call *call, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(call->errmsg, sizeof(call->errmsg), fmt, ap);
	va_end(ap);
	if (call->deferred) {
		if (call->c)
			ctl_rpc_send_error(call->c, call->id, call->method, err, call->errmsg);
		ctl_rpc_call_finish_deferred(call);
	}
	return err;
}

ProtobufCMessage *ctl_rpc_unpack(struct ctl_rpc_call *call,
				 const ProtobufCMessageDescriptor *desc, const uint8_t *req,
				 size_t len)
{
	ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, len, req);
	if (m == NULL)
		ctl_rpc_error(call, -EBADMSG, "malformed %s payload for method '%s'", desc->name,
			      call->method);
	return m;
}

void ctl_rpc_on_cancel(struct ctl_rpc_call *call, void (*fn)(void *arg), void *arg)
{
	call->cancel = fn;
	call->cancel_arg = arg;
}

struct ctl_rpc_server *ctl_rpc_call_server(const struct ctl_rpc_call *call)
{
	return call->s;
}

