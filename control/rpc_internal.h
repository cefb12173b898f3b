/* Internals of the control RPC server shared by rpc.c (connections, framing, dispatch) and
 * rpc_call.c (the method table and the handler-side API). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>

#include "control/ctl.pb-c.h"
#include "control/rpc.h"

#define METHODS_MAX 64
#define METHOD_NAME_MAX 48
#define ERRMSG_MAX 256

struct ctl_rpc_method {
	char name[METHOD_NAME_MAX];
	ctl_rpc_handler_fn fn;
	unsigned flags;
};

/* NULL if no such method. */
const struct ctl_rpc_method *ctl_rpc_method_find(const char *name);

enum item_kind { ITEM_LISTEN, ITEM_CONN, ITEM_WATCH, ITEM_KICK };

/* Everything registered in the epoll set starts with this, so events can be dispatched and
 * items closed during a batch are freed only after it (later events may still name them). */
struct ctl_rpc_item {
	enum item_kind kind;
	bool dead;
	struct ctl_rpc_item *next;     /* live list or graveyard */
};

struct ctl_rpc_conn {
	struct ctl_rpc_item it;        /* first */
	struct ctl_rpc_server *s;
	int fd;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	bool operator;         /* may call MUTATING methods */
	bool closing;          /* flush out, then close; read nothing more */
	bool eof;              /* the client shut down its side: answer what is buffered */
	bool spoke;            /* has sent a complete request (silent ones are evicted first) */
	bool paused;           /* reading stopped: unsent output at max_out */
	bool ready;            /* on the server's ready list */
	struct ctl_rpc_conn *rprev, *rnext; /* ready list */
	uint64_t served_pass;  /* the server's pass in which it was last served */
	uint32_t ev;           /* current epoll interest */
	uint8_t *in;
	size_t in_len, in_cap;
	uint8_t *out;
	size_t out_off, out_len, out_cap;
	struct ctl_rpc_call *pending; /* deferred call in progress */
	uint64_t last_active_ns;      /* last byte read (CLOCK_MONOTONIC): reaping idle peers */
	uint64_t since_ns;            /* accepted (CLOCK_MONOTONIC): the hello timeout */
};

struct ctl_rpc_watch {
	struct ctl_rpc_item it;        /* first */
	int fd;
	void (*cb)(void *arg);
	void *arg;
};

struct ctl_rpc_server {
	struct ctl_rpc_item listen_it;
	int lfd, epfd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	bool have_group;
	gid_t op_gid;
	bool readonly_open;
	uint32_t max_msg, max_out;
	unsigned budget;
	uint64_t idle_evict_ns, hello_timeout_ns;
	unsigned max_clients, n_clients;
	uint64_t cnt[CTL_RPC_C_MAX];
	/* Connections with complete requests buffered that they may serve (budget ran out, or
	 * output drained): no epoll event would bring them back, so while the list is not
	 * empty kick_fd (an eventfd in epfd) stays readable and the loop calls us again. */
	struct ctl_rpc_item kick_it;
	int kick_fd;
	bool kick_armed;
	struct ctl_rpc_conn *ready_head, *ready_tail;
	uint64_t pass;          /* ctl_rpc_process calls: one budget per connection per pass */
	struct ctl_rpc_item *items;     /* live conns and watches */
	struct ctl_rpc_item *graveyard; /* closed, freed at the end of ctl_rpc_process */
	unsigned depth;         /* ctl_rpc_process nesting (graveyard safety) */
};

struct ctl_rpc_call {
	struct ctl_rpc_server *s;
	struct ctl_rpc_conn *c;        /* NULL once the client went away */
	uint64_t id;
	char method[METHOD_NAME_MAX];
	bool deferred;
	bool replied;          /* a Response for this call is queued (or its client is gone) */
	char errmsg[ERRMSG_MAX];
	void (*cancel)(void *arg);
	void *cancel_arg;
	bool local;            /* ctl_rpc_invoke: the reply goes to local_buf, not a client */
	uint8_t *local_buf;
	size_t local_len;
};

/* rpc.c: connections closed during a batch are freed after it (graveyard). */
void ctl_rpc_bury(struct ctl_rpc_server *s, struct ctl_rpc_item *it);
void ctl_rpc_free_graveyard(struct ctl_rpc_server *s);
/* rpc.c: one complete frame: decode the envelope, authorize, dispatch. */
void ctl_rpc_dispatch(struct ctl_rpc_conn *c, const uint8_t *frame, size_t len);
uint64_t ctl_rpc_mono_ns(void);

/* rpc_conn.c: the connection's I/O. */
void ctl_rpc_conn_close(struct ctl_rpc_conn *c);
/* Serve c once: answer up to budget buffered/readable requests, while its unsent output
 * stays under max_out; flush; put it on the ready list if it has more it may serve. */
void ctl_rpc_conn_serve(struct ctl_rpc_conn *c);
/* Write what we can (EPOLLOUT); resumes a connection paused on max_out once it drains. */
void ctl_rpc_conn_flush(struct ctl_rpc_conn *c);
/* Serve the connections on the ready list once each (fairness: one budget per pass). */
void ctl_rpc_serve_ready(struct ctl_rpc_server *s);
/* Keep kick_fd readable exactly while the ready list is not empty. */
void ctl_rpc_kick_update(struct ctl_rpc_server *s);

/* Queue one Response frame on c. 0, -EMSGSIZE (over CTL_CLIENT_MAX_MSG), -ENOMEM. */
int ctl_rpc_conn_send(struct ctl_rpc_conn *c, const Ctl__Response *rsp);
/* Queue an error Response (err: errno, either sign; msg NULL/"": strerror). */
void ctl_rpc_send_error(struct ctl_rpc_conn *c, uint64_t id, const char *method, int err,
			const char *msg);
/* Write out what c has queued now (from outside a handler): a deferred call's progress. */
void ctl_rpc_conn_push(struct ctl_rpc_conn *c);
/* A deferred call was answered (or its client is gone): free it, flush, resume reading. */
void ctl_rpc_call_finish_deferred(struct ctl_rpc_call *call);
