/* council: the client of councild (docs/protocol.md), the C counterpart of
 * CouncilEx's RunServer and Supervisor API.
 *
 * A cx_client is one connection to councild's control socket. Calls are
 * synchronous: each sends one request and waits for its reply. Messages the
 * server sends on its own (DOWN for monitors, EXIT for links) that arrive
 * meanwhile are queued for cx_client_next_message(). Every call returns
 * CX_OK or a negative CX_E* code (the server's error word mapped back, see
 * cx_client_call) with a message in err; the library never prints.
 *
 * Single-threaded, like the rest of the library: one caller at a time. */
#ifndef COUNCIL_CLIENT_H
#define COUNCIL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <cjson/cJSON.h>

#include "council/error.h"
#include "council/ids.h"
#include "council/supervisor.h"

#define CX_PROTOCOL_VERSION 1
#define CX_CLIENT_CALL_MS 60000     /* default wait for a reply */
#define CX_CLIENT_AUTOSTART_MS 5000 /* how long a started councild may take to answer */

struct cx_client;

struct cx_client_options {
	const char *runtime_dir;    /* NULL: cx_runtime_dir_default() */
	bool autostart;             /* start councild when nothing answers on its socket */
	const char *councild_path;  /* NULL: $COUNCILD, else ../supervisor/councild,
				     * ../councild or councild beside this program (the
				     * build tree, an installed bin/), else councild from PATH */
	int call_timeout_ms;        /* wait for a reply in the typed calls; 0: CX_CLIENT_CALL_MS */
};

/* Connects to <runtime dir>/councild.sock (starting councild first with
 * autostart), says hello and checks the protocol version. Nothing
 * listening: CX_EUNAVAILABLE; a socket we may not use: CX_EPERM. */
int cx_client_connect(const struct cx_client_options *opts, struct cx_client **out,
		      struct cx_error *err);
/* Closes the connection: its monitors end, and runs linked through it see
 * their caller gone only when the calling process exits. */
void cx_client_close(struct cx_client *cl);

/* The socket, for poll(): readable when something arrives. Messages may
 * already be queued without it being readable: drain
 * cx_client_next_message(cl, 0, ...) until CX_ETIMEOUT before polling.
 *
 * In a program with its own event loop (poll, epoll, libuv...), the loop
 * watches two kinds of descriptor; the calls themselves stay synchronous
 * (each waits for its reply, up to call_timeout_ms), made from its handlers:
 *
 *  - cx_client_fd(cl), for input: DOWN and EXIT messages. When it is
 *    readable, and after every call (a call reads whatever came with its
 *    reply, so messages can be queued while the socket is not readable),
 *    take cx_client_next_message(cl, 0, &msg, err) until it returns
 *    CX_ETIMEOUT. CX_EUNAVAILABLE: councild closed the connection.
 *  - a subscriber fd (cx_started.subscriber_fd, cx_subscribe): a plain
 *    pipe of JSON lines, one event per line (docs/events.md), EOF after the
 *    run's terminal event. It is blocking until you set O_NONBLOCK; a line
 *    may arrive in several reads. Close it when done. A reader that falls
 *    behind gets one {"type":"lagged","dropped":N} line in place of what it
 *    lost; the run's events file has everything.
 *
 * cx_run() below does all of this for one run, blocking; see
 * examples/c/monitor_council.c for the event-loop style. */
int cx_client_fd(const struct cx_client *cl);
/* councild's pid and the runtime directory, as hello found them. */
pid_t cx_client_server_pid(const struct cx_client *cl);
const char *cx_client_runtime_dir(const struct cx_client *cl);

/* Sends request (consumed; an "id" is added) and waits up to timeout_ms
 * (-1: forever) for its reply. *reply (when reply is not NULL) receives the
 * reply, ok or not, for the caller to free; NULL when none came. An ok:false
 * reply returns its error word's code: unknown_run CX_EUNKNOWN_RUN,
 * runner_dead CX_ERUNNER_DEAD, not_found CX_ENOT_FOUND, timeout CX_ETIMEOUT,
 * already_started CX_EALREADY_STARTED, permission_denied CX_EPERM,
 * invalid_council CX_EINVALID, supervisor_unavailable CX_EUNAVAILABLE,
 * tenant_stopped CX_ETENANT_STOPPED, unknown_tenant CX_ENOT_FOUND,
 * usage/bad_request/unknown_op/too_large CX_EUSAGE, anything
 * else CX_ESYS. With fd not NULL, *fd receives the descriptor a reply with
 * "fds":1 carries (the caller owns it), else -1. No reply in time:
 * CX_ETIMEOUT; the connection lost: CX_EUNAVAILABLE. */
int cx_client_call(struct cx_client *cl, cJSON *request, cJSON **reply, int *fd,
		   int timeout_ms, struct cx_error *err);

/* The next message the server sent on its own ({"msg":"DOWN",...} or
 * {"msg":"EXIT",...}), waiting up to timeout_ms (0: only what has come,
 * -1: forever). The caller frees *msg. CX_ETIMEOUT when none came. */
int cx_client_next_message(struct cx_client *cl, int timeout_ms, cJSON **msg,
			   struct cx_error *err);

/* Runs (DESIGN §2, §3) */

struct cx_client_start {
	const char *spec_json;      /* the council spec, JSON text */
	const char *input_json;     /* the run input, JSON text; NULL: {} */
	const char *options_json;   /* the run options (docs/spec.md), JSON text; NULL: none */
	const char *tenant;         /* NULL: "default" */
	const char *run_id;         /* NULL: the server generates one */
	bool subscribe;             /* a pipe of the run's events, from run_started */
	int exit_signal;            /* cx_start_link: sent to the caller when the run
				     * exits abnormally; 0: none */
	int shutdown_ms;            /* terminate: SIGTERM, then SIGKILL after this; 0: default */
	const char *cwd;            /* where the run works (exec members' directory,
				     * relative paths in the spec); NULL: the caller's */
};

struct cx_started {
	char run_id[CX_RUN_ID_MAX + 1];
	char tenant[CX_NAME_MAX + 1];
	pid_t pid;                  /* the worker */
	int subscriber_fd;          /* with subscribe: its events, JSON lines; else -1 */
};

/* Starts a run that outlives the caller. An invalid spec or input is
 * CX_EINVALID with every finding appended to diags (which may be NULL). */
int cx_start(struct cx_client *cl, const struct cx_client_start *req, struct cx_started *out,
	     struct cx_diags *diags, struct cx_error *err);
/* Starts a run linked to the calling process: when it exits the run is
 * terminated; when the run exits abnormally an EXIT message comes on this
 * connection (and exit_signal, if set). */
int cx_start_link(struct cx_client *cl, const struct cx_client_start *req,
		  struct cx_started *out, struct cx_diags *diags, struct cx_error *err);

/* CouncilEx's Supervisor.start_link(sup, ...): a run started as a child
 * of the tenant supervisor group `tenant` (created on first use), linked to
 * that group rather than to the caller: it outlives the caller and dies
 * with the group (cx_tenant_stop, cx_terminate_all). This is cx_start with
 * req->tenant replaced by tenant, which must be named (else CX_EUSAGE). */
int cx_sup_start_child(struct cx_client *cl, const char *tenant,
		       const struct cx_client_start *req, struct cx_started *out,
		       struct cx_diags *diags, struct cx_error *err);

/* What cx_run() tells its caller while the run goes on. */
struct cx_run_options {
	/* Called with each event line of the run, in order (docs/events.md:
	 * run_started ... run_completed or run_failed, and lagged): line is
	 * NUL-terminated, len excludes the NUL and there is no newline; both
	 * are valid only during the call. NULL: none. */
	void (*on_event)(void *data, const char *line, size_t len);
	void *data;
};

/* Start, follow, await in one blocking call: cx_start_link with subscribe
 * set (whatever req->subscribe says), the run's events read until their
 * EOF and handed to opts->on_event (opts may be NULL), then the result as
 * cx_fetch_result gives it: *result_json (malloc'd, the caller frees it)
 * and *status (when not NULL) its final status. Returns CX_OK when the run
 * ended, whatever its status: completed, failed or cancelled.
 *
 * timeout_ms bounds the whole call, start included (-1: no bound). When
 * the events have not ended by then, the run is terminated
 * (cx_terminate_run), and cx_run waits for it to be final and returns
 * CX_ETIMEOUT, with *result_json and *status as it ended (usually failed,
 * with a partial result); if that could not be fetched, *result_json is
 * NULL and *status is not set.
 *
 * *out is the start's (run_id, tenant, pid); the subscriber pipe is closed
 * on return (out->subscriber_fd is -1). The run is linked to the calling
 * process, so it is terminated should the caller die before it ends; an
 * EXIT message for an abnormal end (a timeout's terminate included) waits
 * in the message queue, and req->exit_signal, when set, is sent as for
 * cx_start_link. Errors of the start are cx_start_link's (CX_EINVALID with
 * diags, ...). */
int cx_run(struct cx_client *cl, const struct cx_client_start *req, int timeout_ms,
	   const struct cx_run_options *opts, char **result_json, enum cx_run_status *status,
	   struct cx_started *out, struct cx_diags *diags, struct cx_error *err);

/* CX_OK with *pid, CX_EUNKNOWN_RUN, or CX_ERUNNER_DEAD. */
int cx_pid_for(struct cx_client *cl, const char *run_id, pid_t *pid, struct cx_error *err);
/* The run a live worker pid serves: CX_OK or CX_EUNKNOWN_RUN. */
int cx_run_id(struct cx_client *cl, pid_t pid, char run_id[CX_RUN_ID_MAX + 1],
	      struct cx_error *err);
/* The run_summary: CX_OK or CX_ENOT_FOUND. */
int cx_state(struct cx_client *cl, const char *run_id, struct cx_run_summary *out,
	     struct cx_error *err);
/* Waits up to timeout_ms for the run to be final; *result_json (malloc'd)
 * is its result, *status (when not NULL) its final status.
 * CX_ETIMEOUT, CX_ENOT_FOUND. */
int cx_fetch_result(struct cx_client *cl, const char *run_id, int timeout_ms,
		    char **result_json, enum cx_run_status *status, struct cx_error *err);
/* Cooperative: the round in flight drains, the run ends cancelled. */
int cx_cancel(struct cx_client *cl, const char *run_id, struct cx_error *err);
/* Forced: SIGTERM to the run's process group, SIGKILL after shutdown_ms. */
int cx_terminate_run(struct cx_client *cl, const char *run_id, struct cx_error *err);
/* A pipe of the run's events from seq `since` (0 or 1: all), EOF after the
 * terminal event. */
int cx_subscribe(struct cx_client *cl, const char *run_id, uint64_t since, int *fd,
		 struct cx_error *err);
/* Ends a subscription: closes its pipe, and the supervisor drops it at
 * once (the write end it holds reports the close), with nothing to ask. */
void cx_unsubscribe(int fd);
/* A DOWN message for this ref follows once, when the run ends (reason
 * noproc at once when it is not alive). Monitors end with the connection. */
int cx_monitor(struct cx_client *cl, const char *run_id, uint64_t *ref, struct cx_error *err);
/* No DOWN follows for ref. */
int cx_demonitor(struct cx_client *cl, uint64_t ref, struct cx_error *err);
/* Runs of a tenant (NULL: all tenants); with all, finished runs too.
 * *runs is malloc'd (NULL when there are none). */
int cx_ps(struct cx_client *cl, const char *tenant, bool all, struct cx_run_summary **runs,
	  size_t *n, struct cx_error *err);

/* Tenants (supervisor groups) */

struct cx_child {
	char run_id[CX_RUN_ID_MAX + 1];
	pid_t pid;
	enum cx_run_status status;
};

/* The tenant's live runs; *children is malloc'd (NULL when there are none). */
int cx_which_children(struct cx_client *cl, const char *tenant, struct cx_child **children,
		      size_t *n, struct cx_error *err);
/* Terminates every run of the tenant; returns once all are reaped and final. */
int cx_terminate_all(struct cx_client *cl, const char *tenant, struct cx_error *err);
/* Stops the tenant's supervisor after its runs are all reaped and final. */
int cx_tenant_stop(struct cx_client *cl, const char *tenant, struct cx_error *err);
/* Starts the tenant's supervisor, if it is not running. */
int cx_tenant_start(struct cx_client *cl, const char *tenant, struct cx_error *err);

/* A run_summary as the protocol carries it (state, ps). Returns CX_OK, or
 * CX_EUSAGE when json is not one. */
int cx_run_summary_from_json(const cJSON *json, struct cx_run_summary *out);
/* "pending", ... as cx_run_status_name() gives them: CX_OK or CX_EUSAGE. */
int cx_run_status_parse(const char *name, enum cx_run_status *out);

#endif
