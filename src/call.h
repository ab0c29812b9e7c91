/* One member's turn in a round: its attempts, the backoff between them, the
 * per-attempt timeout, and the provider that answers each attempt. A call
 * emits the member's own events (member_started, member_token, tool calls,
 * member_completed), in order, on the run's loop. */
#ifndef CX_CALL_H
#define CX_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "council/spec.h"
#include "event.h"
#include "loop.h"
#include "proc.h"

enum cx_fail_kind {
	CX_FAIL_TRANSIENT,       /* retried while attempts remain */
	CX_FAIL_PERMANENT,
	CX_FAIL_INVALID_OUTPUT,
	CX_FAIL_TIMEOUT,         /* an attempt ran out of timeout_ms (set by the call) */
	CX_FAIL_ABORTED,         /* stopped by cx_call_abort (set by the call) */
};

/* "transient", "permanent", "invalid_output", "timeout", "aborted" */
const char *cx_fail_kind_name(enum cx_fail_kind kind);

struct cx_call;

/* A provider answers one attempt at a time.
 *
 * start() begins attempt number call->attempt. It returns 0, or -errno when
 * the attempt could not begin (a permanent failure); it never reports from
 * inside start(). Once started, the attempt may stream cx_call_token() and
 * cx_call_emit() and then reports exactly once, cx_call_succeed() or
 * cx_call_fail(), after releasing everything the attempt held (fds,
 * processes, timers, buffers): the next attempt starts from a clean state.
 *
 * abort() stops the attempt in flight (timeout, fail_fast, shutdown). The
 * provider releases the attempt and reports, right away or from a later
 * loop callback (a killed subprocess reports once it is reaped); the call
 * keeps its own outcome and ignores what is reported.
 *
 * owns() (NULL for a provider that starts no process) says whether an
 * exited child of the worker is the attempt's own subprocess, which the
 * provider reaps by its pidfd: a worker that is its PID namespace's init
 * reaps every other child as an orphan (init.h).
 *
 * State that lives across loop callbacks goes in cx_call_priv(), priv_size
 * bytes zeroed once per call: a curl easy handle, SSE parser and tool-call
 * transcript fit there as well as a pid and pipes do. */
struct cx_provider_ops {
	const char *name;
	size_t priv_size;
	int (*start)(struct cx_call *call);
	void (*abort)(struct cx_call *call);
	bool (*owns)(struct cx_call *call, const struct cx_proc *child);
};

extern const struct cx_provider_ops cx_provider_mock;
extern const struct cx_provider_ops cx_provider_exec;
extern const struct cx_provider_ops cx_provider_openai;
extern const struct cx_provider_ops cx_provider_anthropic;
/* A member with a sub-council (member->council), whatever its profile. */
extern const struct cx_provider_ops cx_provider_council;

struct cx_http;

struct cx_council;

/* What every call of a council shares. */
struct cx_call_env {
	struct cx_loop *loop;
	struct cx_emitter *em;
	/* The run's HTTP client (http.h), made by the first HTTP attempt, so
	 * a run without HTTP members never loads libcurl's state; its
	 * connections are reused across members, attempts and rounds. */
	struct cx_http *http;
	struct cx_timer *wake;       /* armed (0 ms) when a call finishes: its council moves on */
	struct cx_council *council;  /* the council the calls belong to */
	enum cx_verbosity verbose;   /* debug: member_debug events (debug_trace.h) */
};

/* Frees what the calls of a run made in env (its HTTP client), once they
 * are all freed. */
void cx_call_env_release(struct cx_call_env *env);

enum cx_call_state {
	CX_CALL_IDLE,       /* not started */
	CX_CALL_RUNNING,    /* an attempt is in flight */
	CX_CALL_ABORTING,   /* an attempt is being stopped; the outcome is set */
	CX_CALL_BACKOFF,    /* waiting before the next attempt */
	CX_CALL_DONE,       /* member_completed emitted */
};

struct cx_call {
	struct cx_call_env *env;
	const struct cx_member *member;
	const char *round;          /* the round's name */
	cJSON *request;             /* owned: see prompt.h. With a "response_schema", the
				     * answer must hold JSON valid against it, or the
				     * attempt fails as invalid_output (not retried) */
	cJSON *tags;                /* owned, or NULL: fields added to every event of
				     * the call ({"iteration": 2}, {"pair": [a, b]}) */
	cJSON *details;             /* owned, or NULL: keys the attempt adds to the member
				     * result ("parsed", "sub_result", "output") */
	const struct cx_provider_ops *ops;
	enum cx_call_state state;
	int attempt;                /* attempts begun so far */
	struct cx_timer timer;      /* the attempt's timeout, or the backoff */
	uint64_t started_ms;
	uint64_t duration_ms;
	uint64_t retry_after_ms;    /* the attempt's floor on the next backoff */
	bool has_usage;             /* a provider reported token usage: */
	long input_tokens, output_tokens;
	/* The outcome, final once DONE: ok and text the response, or fail and
	 * text the error message. */
	bool ok;
	enum cx_fail_kind fail;
	char *text;
	max_align_t priv[];
};

/* A call for member in round, asking request (which it takes, also when it
 * returns NULL: out of memory). */
struct cx_call *cx_call_new(struct cx_call_env *env, const struct cx_member *member,
			    const char *round, cJSON *request);
/* Frees an idle or finished call. */
void cx_call_free(struct cx_call *call);

/* Emits member_started and begins attempt 1. */
void cx_call_start(struct cx_call *call);
/* Ends an unfinished call as an error of kind "aborted"; an attempt in
 * flight is stopped first, so the call may finish on a later loop turn. */
void cx_call_abort(struct cx_call *call, const char *why);

static inline bool cx_call_done(const struct cx_call *call)
{
	return call->state == CX_CALL_DONE;
}

/* True if child is the subprocess of the attempt in flight (see owns()). */
bool cx_call_owns(struct cx_call *call, const struct cx_proc *child);

/* The member result: {status, response, error, attempts, duration_ms},
 * usage {input_tokens, output_tokens} when the provider reported it, then
 * the details. */
cJSON *cx_call_result(const struct cx_call *call);

/* Provider side. */
static inline void *cx_call_priv(struct cx_call *call)
{
	return call->priv;
}

static inline struct cx_loop *cx_call_loop(const struct cx_call *call)
{
	return call->env->loop;
}

/* A chunk of the answer (NUL-terminated): a member_token when the member
 * streams. */
void cx_call_token(struct cx_call *call, const char *chunk);
/* Any other event of this member (tool_call_request, tool_call_result):
 * adds round and member to fields, which it consumes. */
void cx_call_emit(struct cx_call *call, enum cx_event_type type, cJSON *fields);
/* Tokens the provider's answer cost, added up over the call's attempts
 * (and an attempt's requests, when it makes several). */
void cx_call_usage(struct cx_call *call, long input_tokens, long output_tokens);
/* The failure about to be reported asks for the next attempt to start no
 * sooner than ms from now (HTTP Retry-After): the backoff is at least
 * that. A wait past the backoff cap (60 s) is not made: the call ends. */
void cx_call_retry_after(struct cx_call *call, uint64_t ms);
/* Adds key to the member result (consumes item); each attempt starts
 * without. */
void cx_call_detail(struct cx_call *call, const char *key, cJSON *item);
void cx_call_succeed(struct cx_call *call, const char *text);
void cx_call_fail(struct cx_call *call, enum cx_fail_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
