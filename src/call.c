#include "call.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "council/ids.h"
#include "debug_trace.h"
#include "http.h"
#include "schema.h"
#include "utf8.h"

#define BACKOFF_CAP_MS 60000

static const struct cx_provider_ops *const providers[] = {
	[CX_PROVIDER_MOCK] = &cx_provider_mock,
	[CX_PROVIDER_EXEC] = &cx_provider_exec,
	[CX_PROVIDER_OPENAI] = &cx_provider_openai,
	[CX_PROVIDER_ANTHROPIC] = &cx_provider_anthropic,
};

static const char *const fail_names[] = {
	[CX_FAIL_TRANSIENT] = "transient",
	[CX_FAIL_PERMANENT] = "permanent",
	[CX_FAIL_INVALID_OUTPUT] = "invalid_output",
	[CX_FAIL_TIMEOUT] = "timeout",
	[CX_FAIL_ABORTED] = "aborted",
};

const char *cx_fail_kind_name(enum cx_fail_kind kind)
{
	return fail_names[kind];
}

static void timer_fired(struct cx_loop *loop, struct cx_timer *t);

void cx_call_env_release(struct cx_call_env *env)
{
	cx_http_free(env->http);
	env->http = NULL;
}

struct cx_call *cx_call_new(struct cx_call_env *env, const struct cx_member *member,
			    const char *round, cJSON *request)
{
	const struct cx_provider_ops *ops = member->council ? &cx_provider_council
							   : providers[member->provider];
	struct cx_call *call = request ? calloc(1, sizeof *call + ops->priv_size) : NULL;
	if (!call) {
		cJSON_Delete(request);
		return NULL;
	}
	call->env = env;
	call->member = member;
	call->round = round;
	call->request = request;
	call->ops = ops;
	call->timer = CX_TIMER_INIT(timer_fired, call);
	return call;
}

void cx_call_free(struct cx_call *call)
{
	if (!call)
		return;
	cJSON_Delete(call->request);
	cJSON_Delete(call->tags);
	cJSON_Delete(call->details);
	free(call->text);
	free(call);
}

/* Copies of from's items, added to `to`. */
static void add_copies(cJSON *to, const cJSON *from)
{
	const cJSON *item;
	cJSON_ArrayForEach(item, from)
		cJSON_AddItemToObject(to, item->string, cJSON_Duplicate(item, true));
}

static cJSON *member_fields(const struct cx_call *call)
{
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "round", call->round);
	cJSON_AddStringToObject(f, "member", call->member->id);
	add_copies(f, call->tags);
	return f;
}

/* A broken event pipe means the supervisor is gone, and PDEATHSIG ends this
 * worker with it: there is nobody left to report an emit failure to. */
void cx_call_emit(struct cx_call *call, enum cx_event_type type, cJSON *fields)
{
	cJSON *f = member_fields(call);
	while (fields && fields->child) {
		cJSON *item = cJSON_DetachItemViaPointer(fields, fields->child);
		cJSON_AddItemToObject(f, item->string, item);
	}
	cJSON_Delete(fields);
	cx_emit(call->env->em, type, f);
}

void cx_call_token(struct cx_call *call, const char *chunk)
{
	if (!call->member->stream)
		return;
	char *clean = cx_utf8_dup(chunk);
	cJSON *f = member_fields(call);
	cJSON_AddStringToObject(f, "chunk", clean ? clean : "");
	free(clean);
	cx_emit(call->env->em, CX_EV_MEMBER_TOKEN, f);
}

bool cx_call_owns(struct cx_call *call, const struct cx_proc *child)
{
	bool in_flight = call->state == CX_CALL_RUNNING || call->state == CX_CALL_ABORTING;
	return in_flight && call->ops->owns && call->ops->owns(call, child);
}

static const char *status_name(const struct cx_call *call)
{
	if (call->ok)
		return "ok";
	if (call->fail == CX_FAIL_TIMEOUT)
		return "timeout";
	if (call->fail == CX_FAIL_INVALID_OUTPUT)
		return "invalid_output";
	return "error";
}

cJSON *cx_call_result(const struct cx_call *call)
{
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "status", status_name(call));
	if (call->ok) {
		cJSON_AddStringToObject(r, "response", call->text ? call->text : "");
		cJSON_AddNullToObject(r, "error");
	} else {
		cJSON_AddNullToObject(r, "response");
		cJSON *e = cJSON_AddObjectToObject(r, "error");
		cJSON_AddStringToObject(e, "kind", cx_fail_kind_name(call->fail));
		cJSON_AddStringToObject(e, "message", call->text ? call->text : "");
	}
	cJSON_AddNumberToObject(r, "attempts", call->attempt);
	cJSON_AddNumberToObject(r, "duration_ms", (double)call->duration_ms);
	if (call->has_usage) {
		cJSON *u = cJSON_AddObjectToObject(r, "usage");
		cJSON_AddNumberToObject(u, "input_tokens", (double)call->input_tokens);
		cJSON_AddNumberToObject(u, "output_tokens", (double)call->output_tokens);
	}
	add_copies(r, call->details);
	return r;
}

void cx_call_detail(struct cx_call *call, const char *key, cJSON *item)
{
	if (!call->details)
		call->details = cJSON_CreateObject();
	cJSON_DeleteItemFromObjectCaseSensitive(call->details, key);
	if (!call->details || !cJSON_AddItemToObject(call->details, key, item))
		cJSON_Delete(item);
}

/* Records the outcome of the attempt (text: the response or the error
 * message, owned from now on). */
static void set_outcome(struct cx_call *call, bool ok, enum cx_fail_kind kind, char *text)
{
	free(call->text);
	call->ok = ok;
	call->fail = kind;
	call->text = text;
}

static void finish(struct cx_call *call)
{
	cx_timer_disarm(call->env->loop, &call->timer);
	call->state = CX_CALL_DONE;
	call->duration_ms = cx_mono_ms() - call->started_ms;
	cJSON *f = member_fields(call);
	cJSON_AddItemToObject(f, "result", cx_call_result(call));
	cx_emit(call->env->em, CX_EV_MEMBER_COMPLETED, f);
	if (call->env->wake)
		cx_timer_arm(call->env->loop, call->env->wake, 0);
}

static void attempt_begin(struct cx_call *call)
{
	cJSON_Delete(call->details);
	call->details = NULL;
	call->attempt++;
	call->retry_after_ms = 0;
	call->state = CX_CALL_RUNNING;
	if (call->member->timeout_ms > 0)
		cx_timer_arm(call->env->loop, &call->timer, (uint64_t)call->member->timeout_ms);
	int rc = call->ops->start(call);
	if (rc < 0)
		cx_call_fail(call, CX_FAIL_PERMANENT, "%s: %s", call->ops->name, strerror(-rc));
}

/* Backoff before attempt k >= 2: base_ms * 2^(k-2), capped, or what the
 * failed attempt asked for (cx_call_retry_after) when that is longer. */
static uint64_t backoff_ms(const struct cx_call *call)
{
	uint64_t ms = call->member->retry.base_ms > 0 ? (uint64_t)call->member->retry.base_ms : 0;
	for (int k = 2; k <= call->attempt && ms < BACKOFF_CAP_MS; k++)
		ms *= 2;
	if (ms > BACKOFF_CAP_MS)
		ms = BACKOFF_CAP_MS;
	return ms > call->retry_after_ms ? ms : call->retry_after_ms;
}

/* The attempt in flight is over, with an outcome already set: retry it,
 * or finish the call. */
static void attempt_over(struct cx_call *call)
{
	cx_timer_disarm(call->env->loop, &call->timer);
	if (call->state == CX_CALL_RUNNING && !call->ok && call->fail == CX_FAIL_TRANSIENT &&
	    call->attempt < call->member->retry.max_attempts &&
	    call->retry_after_ms <= BACKOFF_CAP_MS) {
		call->state = CX_CALL_BACKOFF;
		cx_timer_arm(call->env->loop, &call->timer, backoff_ms(call));
		return;
	}
	finish(call);
}

/* Stops the attempt in flight with the given outcome; the provider's
 * report (now or later) ends it. */
static void attempt_stop(struct cx_call *call, enum cx_fail_kind kind, char *message)
{
	set_outcome(call, false, kind, message);
	call->state = CX_CALL_ABORTING;
	cx_timer_disarm(call->env->loop, &call->timer);
	call->ops->abort(call);
}

static void timer_fired(struct cx_loop *loop, struct cx_timer *t)
{
	struct cx_call *call = t->data;
	char *message;
	(void)loop;
	if (call->state == CX_CALL_BACKOFF) {
		attempt_begin(call);
		return;
	}
	if (asprintf(&message, "attempt %d timed out after %d ms", call->attempt,
		     call->member->timeout_ms) < 0)
		message = NULL;
	attempt_stop(call, CX_FAIL_TIMEOUT, message);
}

void cx_call_start(struct cx_call *call)
{
	call->started_ms = cx_mono_ms();
	cx_emit(call->env->em, CX_EV_MEMBER_STARTED, member_fields(call));
	cx_debug_prompt(call);
	attempt_begin(call);
}

void cx_call_abort(struct cx_call *call, const char *why)
{
	char *message = strdup(why);
	switch (call->state) {
	case CX_CALL_RUNNING:
		attempt_stop(call, CX_FAIL_ABORTED, message);
		break;
	case CX_CALL_BACKOFF:
		set_outcome(call, false, CX_FAIL_ABORTED, message);
		finish(call);
		break;
	default:
		free(message);
		break;
	}
}

void cx_call_usage(struct cx_call *call, long input_tokens, long output_tokens)
{
	call->has_usage = true;
	call->input_tokens += input_tokens;
	call->output_tokens += output_tokens;
}

void cx_call_retry_after(struct cx_call *call, uint64_t ms)
{
	if (call->state == CX_CALL_RUNNING)
		call->retry_after_ms = ms;
}

/* The answer, as the request asked for it: when it asked for JSON (its
 * "response_schema"), the JSON found in the answer (extract.h) is kept as
 * "parsed", and an answer without valid JSON fails as invalid_output with
 * the rule it broke, the answer kept as "output". Like CouncilEx's
 * validation errors, invalid output is not retried: the same prompt tends
 * to get the same answer, and every attempt costs tokens. */
static void take_answer(struct cx_call *call, const char *text)
{
	const cJSON *schema = cJSON_GetObjectItemCaseSensitive(call->request, "response_schema");
	char why[CX_SCHEMA_WHY_MAX];
	cJSON *parsed = NULL;

	if (schema && !(parsed = cx_schema_answer(schema, text, strlen(text), why))) {
		cx_call_detail(call, "output", cJSON_CreateString(text));
		set_outcome(call, false, CX_FAIL_INVALID_OUTPUT, strdup(why));
		return;
	}
	if (parsed)
		cx_call_detail(call, "parsed", parsed);
	set_outcome(call, true, CX_FAIL_PERMANENT, strdup(text));
}

void cx_call_succeed(struct cx_call *call, const char *text)
{
	if (call->state == CX_CALL_RUNNING) {
		char *clean = cx_utf8_dup(text);
		cx_debug_answer(call, clean ? clean : "");
		take_answer(call, clean ? clean : "");
		free(clean);
	}
	attempt_over(call);
}

void cx_call_fail(struct cx_call *call, enum cx_fail_kind kind, const char *fmt, ...)
{
	if (call->state == CX_CALL_RUNNING) {
		char *message, *clean = NULL;
		va_list ap;
		va_start(ap, fmt);
		if (vasprintf(&message, fmt, ap) >= 0) {
			clean = cx_utf8_dup(message); /* it may quote what a member wrote */
			free(message);
		}
		va_end(ap);
		set_outcome(call, false, kind, clean);
	}
	attempt_over(call);
}
