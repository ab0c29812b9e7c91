/* A chat over HTTP, shared by the openai and anthropic providers (chat.h).
 *
 * An attempt is always in one of three places: a failure found by start()
 * waiting for the next loop turn (`later`), a request in flight, or tool
 * runs in flight. Every path out of it releases the whole attempt first,
 * then reports once. */
#include "chat.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "shape.h"

#define RESPONSE_MAX (16u << 20)
#define SERVER_MESSAGE_MAX 300
#define DEFAULT_TOOL_TURNS 8
#define DEFAULT_CONNECT_TIMEOUT_MS 10000

static const char redacted[] = "[redacted]";

static const cJSON *profile_item(const struct cx_chat *c, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(c->call->member->profile, key);
}

static const char *profile_string(const struct cx_chat *c, const char *key)
{
	const cJSON *v = profile_item(c, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int profile_int(const struct cx_chat *c, const char *key, int fallback)
{
	const cJSON *v = profile_item(c, key);
	return cJSON_IsNumber(v) ? v->valueint : fallback;
}

/* ---- the attempt's end ---- */

static void turn_free(struct cx_chat_turn *t)
{
	for (size_t i = 0; i < t->n_calls; i++) {
		free(t->calls[i].id);
		free(t->calls[i].name);
		cx_buf_free(&t->calls[i].args);
		cx_tool_run_free(&t->calls[i].run);
	}
	free(t->calls);
	cx_buf_free(&t->text);
	*t = (struct cx_chat_turn){ 0 };
}

void cx_chat_read_free(struct cx_chat *chat)
{
	cx_sse_free(&chat->sse);
	cx_buf_free(&chat->response);
	turn_free(&chat->turn);
	free(chat->fail_message);
	chat->fail_message = NULL;
}

static void release(struct cx_chat *c)
{
	cx_timer_disarm(cx_call_loop(c->call), &c->later);
	cx_http_req_release(&c->req);
	cx_chat_read_free(c);
	cJSON_Delete(c->body);
	c->body = NULL;
	free(c->url);
	c->url = NULL;
	if (c->key) {
		explicit_bzero(c->key, strlen(c->key));
		free(c->key);
		c->key = NULL;
	}
}

/* message with every occurrence of the key replaced: a server may quote
 * what it was sent. A new string, NULL when out of memory. */
static char *scrubbed(const char *message, const char *key)
{
	char *out = NULL;
	size_t len;
	FILE *f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	size_t n = key ? strlen(key) : 0;
	for (const char *p = message, *hit; *p; p = hit + n) {
		hit = n ? strstr(p, key) : NULL;
		if (!hit) {
			fputs(p, f);
			break;
		}
		fprintf(f, "%.*s%s", (int)(hit - p), p, redacted);
	}
	fclose(f);
	return out;
}

static void attempt_fail(struct cx_chat *c, enum cx_fail_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void attempt_fail(struct cx_chat *c, enum cx_fail_kind kind, const char *fmt, ...)
{
	struct cx_call *call = c->call;
	char *raw = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&raw, fmt, ap) < 0)
		raw = NULL;
	va_end(ap);
	char *message = raw ? scrubbed(raw, c->key) : NULL;
	free(raw);
	release(c);
	cx_call_fail(call, kind, "%s", message ? message : "out of memory");
	free(message);
}

static void attempt_succeed(struct cx_chat *c)
{
	struct cx_call *call = c->call;
	char *text = c->turn.text.data;
	c->turn.text = (struct cx_buf){ 0 };
	release(c);
	cx_call_succeed(call, text ? text : "");
	free(text);
}

static void report_later(struct cx_loop *loop, struct cx_timer *t)
{
	struct cx_chat *c = t->data;
	(void)loop;
	attempt_fail(c, c->fail_kind, "%s", c->fail_message ? c->fail_message : "out of memory");
}

/* Records a failure, to be reported by whoever ends the attempt. */
static void note_failure(struct cx_chat *c, enum cx_fail_kind kind, const char *fmt, va_list ap)
{
	if (c->failed)
		return;
	c->failed = true;
	c->fail_kind = kind;
	if (vasprintf(&c->fail_message, fmt, ap) < 0)
		c->fail_message = NULL;
}

static void fail_later(struct cx_chat *c, enum cx_fail_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail_later(struct cx_chat *c, enum cx_fail_kind kind, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	note_failure(c, kind, fmt, ap);
	va_end(ap);
	cx_timer_arm(cx_call_loop(c->call), &c->later, 0);
}

int cx_chat_stop(struct cx_chat *chat, enum cx_fail_kind kind, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	note_failure(chat, kind, fmt, ap);
	va_end(ap);
	return 1;
}

static const struct cx_chat_preset *preset(const struct cx_chat *c)
{
	const char *name = profile_string(c, "preset");
	const char *const *names = c->dialect->preset_names;
	int i = name && names ? cx_word_index(names, name) : -1;
	return i >= 0 ? &c->dialect->presets[i] : NULL;
}

/* base_url, else the preset's, else the dialect's; and the path. */
static char *request_url(const struct cx_chat *c)
{
	const struct cx_chat_preset *p = preset(c);
	const char *base = profile_string(c, "base_url");
	if (!base)
		base = p ? p->base_url : c->dialect->base_url;
	size_t n = strlen(base);
	while (n && base[n - 1] == '/')
		n--;
	char *url;
	return asprintf(&url, "%.*s%s", (int)n, base, c->dialect->path) < 0 ? NULL : url;
}

static const char *key_variable(const struct cx_chat *c)
{
	const struct cx_chat_preset *p = preset(c);
	const char *name = profile_string(c, "api_key_env");
	return name ? name : p ? p->api_key_env : NULL;
}

/* ---- what servers say ---- */

/* The n bytes at s trimmed, cut to SERVER_MESSAGE_MAX and on one line,
 * into out. */
static const char *one_line(char out[SERVER_MESSAGE_MAX + 4], const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s))
		s++, n--;
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	size_t keep = n < SERVER_MESSAGE_MAX ? n : SERVER_MESSAGE_MAX;
	for (size_t i = 0; i < keep; i++)
		out[i] = (unsigned char)s[i] < 0x20 ? ' ' : s[i];
	strcpy(out + keep, keep < n ? "..." : "");
	return out;
}

/* The message of an error a server sent: {"error": {"message": ...}},
 * {"error": "..."}, or {"message": ...} (also the inner error object
 * itself); NULL when there is none. */
static const char *error_message(const cJSON *error_or_body)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(error_or_body, "error");
	if (cJSON_IsString(e))
		return e->valuestring;
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(e ? e : error_or_body, "message");
	return cJSON_IsString(m) ? m->valuestring : NULL;
}

/* Error kinds that say "try again later" (OpenAI's and Anthropic's). */
static bool transient_error(const cJSON *error)
{
	static const char *const kinds[] = {
		"overloaded_error", "api_error", "rate_limit_error", "server_error",
		"rate_limit_exceeded", "timeout", NULL,
	};
	const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(error, "type"));
	const char *code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(error, "code"));
	return (type && cx_word_index(kinds, type) >= 0) || (code && cx_word_index(kinds, code) >= 0);
}

int cx_chat_stop_error(struct cx_chat *chat, const cJSON *error)
{
	char line[SERVER_MESSAGE_MAX + 4];
	const cJSON *inner = cJSON_GetObjectItemCaseSensitive(error, "error");
	if (cJSON_IsObject(inner))
		error = inner;
	const char *m = cJSON_IsString(error) ? error->valuestring : error_message(error);
	m = m ? one_line(line, m, strlen(m)) : "no message";
	return cx_chat_stop(chat, transient_error(error) ? CX_FAIL_TRANSIENT : CX_FAIL_PERMANENT,
			    "the server sent an error: %s", m);
}

/* HTTP 408, 429 and 5xx are worth retrying. */
static bool transient_status(long status)
{
	return status == 408 || status == 429 || status >= 500;
}

/* A response that is not 2xx: "HTTP 429: <the server's message>". */
static void http_failure(struct cx_chat *c)
{
	const struct cx_http_req *req = &c->req;
	char line[SERVER_MESSAGE_MAX + 4], after[64] = "";
	bool transient = transient_status(req->status);
	cJSON *body = cJSON_ParseWithLength(req->error_body.data ? req->error_body.data : "",
					    req->error_body.len);
	const char *m = body ? error_message(body) : NULL;
	if (m)
		m = one_line(line, m, strlen(m));
	else if (req->error_body.len)
		m = one_line(line, req->error_body.data, strcspn(req->error_body.data, "\n"));
	if (transient && req->retry_after_ms >= 0) {
		cx_call_retry_after(c->call, (uint64_t)req->retry_after_ms);
		snprintf(after, sizeof after, " (retry after %lld ms)",
			 (long long)req->retry_after_ms);
	}
	attempt_fail(c, transient ? CX_FAIL_TRANSIENT : CX_FAIL_PERMANENT, "HTTP %ld%s%s%s",
		     req->status, m && *m ? ": " : "", m ? m : "", after);
	cJSON_Delete(body);
}

/* ---- turns ---- */

void cx_chat_text(struct cx_chat *chat, const char *text)
{
	if (!*text)
		return;
	if (cx_buf_append(&chat->turn.text, text, strlen(text)) < 0)
		cx_chat_stop(chat, CX_FAIL_PERMANENT, "out of memory");
	cx_call_token(chat->call, text);
}

struct cx_chat_tool_call *cx_chat_tool_call(struct cx_chat *chat, long key, const char *id,
					    const char *name)
{
	struct cx_chat_turn *t = &chat->turn;
	struct cx_chat_tool_call *tc = NULL;
	for (size_t i = 0; i < t->n_calls && !tc; i++)
		if (t->calls[i].key == key)
			tc = &t->calls[i];
	if (!tc) {
		/* The array grows only while a response is read: no tool runs
		 * (whose watches point into it) until it is complete. */
		if (t->n_calls == CX_CHAT_TOOL_CALLS_MAX) {
			cx_chat_stop(chat, CX_FAIL_INVALID_OUTPUT, "more than %d tool calls in one answer",
				     CX_CHAT_TOOL_CALLS_MAX);
			return NULL;
		}
		if (t->n_calls == t->cap_calls) {
			size_t cap = t->cap_calls ? t->cap_calls * 2 : 4;
			struct cx_chat_tool_call *v = reallocarray(t->calls, cap, sizeof *v);
			if (!v) {
				cx_chat_stop(chat, CX_FAIL_PERMANENT, "out of memory");
				return NULL;
			}
			t->calls = v;
			t->cap_calls = cap;
		}
		tc = &t->calls[t->n_calls++];
		*tc = (struct cx_chat_tool_call){ .key = key };
	}
	if (id && !tc->id)
		tc->id = strdup(id);
	if (name && !tc->name)
		tc->name = strdup(name);
	return tc;
}

void cx_chat_usage(struct cx_chat *chat, const cJSON *usage, const char *in_key,
		   const char *out_key)
{
	/* A count is a whole number up to INT32_MAX, or is not one: the
	 * call adds them up over a stream's events, its requests and its
	 * attempts, and the sum must not overflow. */
	int64_t in = cx_json_int(usage, in_key, 0, INT32_MAX, -1);
	int64_t out = cx_json_int(usage, out_key, 0, INT32_MAX, -1);
	if (in >= 0 || out >= 0)
		cx_call_usage(chat->call, in > 0 ? in : 0, out > 0 ? out : 0);
}

cJSON *cx_chat_append_object(cJSON *array)
{
	cJSON *obj = cJSON_CreateObject();
	if (!cJSON_AddItemToArray(array, obj)) {
		cJSON_Delete(obj);
		return NULL;
	}
	return obj;
}

bool cx_chat_add_schema(cJSON *obj, const char *key, const struct cx_tool *tool)
{
	cJSON *schema = tool->parameters ? cJSON_Duplicate(tool->parameters, true)
					 : cJSON_CreateObject();
	if (!tool->parameters && schema &&
	    (!cJSON_AddStringToObject(schema, "type", "object") ||
	     !cJSON_AddObjectToObject(schema, "properties"))) {
		cJSON_Delete(schema);
		return false;
	}
	if (!cJSON_AddItemToObject(obj, key, schema)) {
		cJSON_Delete(schema);
		return false;
	}
	return true;
}

void cx_chat_args_append(struct cx_chat *chat, struct cx_chat_tool_call *tc, const char *text)
{
	if (tc && cx_buf_append(&tc->args, text, strlen(text)) < 0)
		cx_chat_stop(chat, CX_FAIL_PERMANENT, "out of memory");
}

cJSON *cx_chat_args_parse(const struct cx_chat_tool_call *tc)
{
	if (!tc->args.len)
		return cJSON_CreateObject();    /* a call without arguments */
	cJSON *args = cJSON_ParseWithLength(tc->args.data, tc->args.len);
	if (!cJSON_IsObject(args)) {
		cJSON_Delete(args);
		return NULL;
	}
	return args;
}

/* ---- requests ---- */

static int send_request(struct cx_chat *c);

static bool has_header(const cJSON *headers, const char *name)
{
	const cJSON *h;
	cJSON_ArrayForEach(h, headers)
		if (!strcasecmp(h->string, name))
			return true;
	return false;
}

/* The dialect's headers, unless the profile sets them; the profile's; the
 * key. */
static int add_headers(struct cx_chat *c)
{
	const struct cx_dialect *d = c->dialect;
	const cJSON *own = profile_item(c, "headers"), *h;
	int rc = cx_http_req_header(&c->req, "Content-Type", "application/json");
	for (const char *const *p = d->headers; rc == 0 && *p; p += 2)
		if (!has_header(own, p[0]))
			rc = cx_http_req_header(&c->req, p[0], p[1]);
	cJSON_ArrayForEach(h, own)
		if (rc == 0)
			rc = cx_http_req_header(&c->req, h->string, h->valuestring);
	if (rc == 0 && c->key) {
		char *value;
		if (asprintf(&value, "%s%s", d->key_prefix, c->key) < 0)
			return -ENOMEM;
		rc = cx_http_req_header(&c->req, d->key_header, value);
		explicit_bzero(value, strlen(value));
		free(value);
	}
	return rc;
}

static int on_event(void *arg, const struct cx_sse_event *ev)
{
	struct cx_chat *c = arg;
	char line[SERVER_MESSAGE_MAX + 4];
	if (!strcmp(ev->data, "[DONE]")) {   /* OpenAI's end of stream */
		c->turn.done = true;
		return 0;
	}
	cJSON *data = cJSON_ParseWithLength(ev->data, ev->data_len);
	if (data)
		c->dialect->event(c, ev->type, data);
	else
		cx_chat_stop(c, CX_FAIL_INVALID_OUTPUT, "a streamed event is not JSON: %s",
			     one_line(line, ev->data, ev->data_len));
	cJSON_Delete(data);
	return c->failed;
}

static bool event_stream(const struct cx_http_req *req)
{
	return !strncasecmp(cx_http_content_type(req), "text/event-stream", 17);
}

int cx_chat_read(struct cx_chat *c, const char *p, size_t n)
{
	if ((c->received += n) > RESPONSE_MAX)
		return cx_chat_stop(c, CX_FAIL_INVALID_OUTPUT, "response over 16 MiB");
	if (!c->streamed)
		return cx_buf_append(&c->response, p, n) < 0
			       ? cx_chat_stop(c, CX_FAIL_PERMANENT, "out of memory") : 0;
	int rc = cx_sse_feed(&c->sse, p, n, on_event, c);
	if (rc == -EMSGSIZE)
		return cx_chat_stop(c, CX_FAIL_INVALID_OUTPUT,
				    "a streamed event over %u bytes, or a line of one over %u",
				    CX_SSE_DATA_MAX, CX_SSE_LINE_MAX);
	return rc < 0 ? cx_chat_stop(c, CX_FAIL_PERMANENT, "out of memory") : rc;
}

static int on_body(struct cx_http_req *req, const char *p, size_t n)
{
	struct cx_chat *c = req->data;
	c->streamed = event_stream(req);
	return cx_chat_read(c, p, n);
}

static void emit_tool_event(struct cx_chat *c, struct cx_chat_tool_call *tc,
			    enum cx_event_type type)
{
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "id", tc->id ? tc->id : "");
	cJSON_AddStringToObject(f, "name", tc->name ? tc->name : "");
	if (type == CX_EV_TOOL_CALL_REQUEST) {
		cJSON *args = cx_chat_args_parse(tc);
		cJSON_AddItemToObject(f, "arguments", args ? args
				      : cJSON_CreateString(tc->args.data ? tc->args.data : ""));
	} else {
		bool ok = tc->run.ok;
		cJSON_AddItemToObject(f, "result", ok ? cJSON_CreateString(tc->run.text)
						      : cJSON_CreateNull());
		cJSON_AddItemToObject(f, "error", ok ? cJSON_CreateNull()
						     : cJSON_CreateString(tc->run.text));
	}
	cx_call_emit(c->call, type, f);
}

/* Every tool run of the turn is over: the conversation goes on, unless
 * the attempt is being stopped. */
static void tools_over(struct cx_chat *c)
{
	if (c->aborting) {
		attempt_fail(c, CX_FAIL_PERMANENT, "%s: aborted", c->dialect->name);
		return;
	}
	if (!c->dialect->add_turn(c->body, &c->turn)) {
		attempt_fail(c, CX_FAIL_PERMANENT, "out of memory");
		return;
	}
	turn_free(&c->turn);
	int rc = send_request(c);
	if (rc < 0)
		attempt_fail(c, CX_FAIL_PERMANENT, "%s: %s", c->dialect->name, strerror(-rc));
}

static void tool_done(struct cx_tool_run *run)
{
	struct cx_chat *c = run->data;
	struct cx_chat_tool_call *tc =
		(struct cx_chat_tool_call *)((char *)run - offsetof(struct cx_chat_tool_call, run));
	tc->running = false;
	c->tools_running--;
	emit_tool_event(c, tc, CX_EV_TOOL_CALL_RESULT);
	if (!c->tools_running)
		tools_over(c);
}

static const struct cx_tool *offered(const struct cx_member *m, const char *name)
{
	for (size_t i = 0; name && i < m->n_tools; i++)
		if (!strcmp(m->tools[i]->name, name))
			return m->tools[i];
	return NULL;
}

/* A tool call that does not run: its outcome is this failure. */
static void refuse(struct cx_chat *c, struct cx_chat_tool_call *tc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void refuse(struct cx_chat *c, struct cx_chat_tool_call *tc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tc->run.ok = false;
	if (vasprintf(&tc->run.text, fmt, ap) < 0)
		tc->run.text = NULL;
	va_end(ap);
	if (!tc->run.text)
		tc->run.text = strdup("out of memory");
	emit_tool_event(c, tc, CX_EV_TOOL_CALL_RESULT);
}

/* The model asked for tools: each call is announced, then run, all at
 * once; a call of a tool the member was not offered, or with arguments
 * that are not an object, gets its failure as its result. The tools run
 * in the clean environment, without the member's key (cleanenv.h). */
static void run_tools(struct cx_chat *c)
{
	const struct cx_member *m = c->call->member;
	for (size_t i = 0; i < c->turn.n_calls; i++) {
		struct cx_chat_tool_call *tc = &c->turn.calls[i];
		const struct cx_tool *tool = offered(m, tc->name);
		emit_tool_event(c, tc, CX_EV_TOOL_CALL_REQUEST);
		cJSON *args = tool ? cx_chat_args_parse(tc) : NULL;
		int rc = args ? cx_tool_run_start(&tc->run, cx_call_loop(c->call), tool, args,
						  tool_done, c)
			      : 0;
		cJSON_Delete(args);
		if (!tool)
			refuse(c, tc, "no tool named \"%s\" is offered to this member",
			       tc->name ? tc->name : "");
		else if (!args)
			refuse(c, tc, "the arguments are not a JSON object");
		else if (rc < 0)
			refuse(c, tc, "could not start: %s", strerror(-rc));
		else
			tc->running = true, c->tools_running++;
	}
	if (!c->tools_running)
		tools_over(c);
}

/* A whole turn was read: the answer, or the tools it asks for. */
static void turn_over(struct cx_chat *c)
{
	if (!c->turn.n_calls)
		attempt_succeed(c);
	else if (c->turns > c->max_tool_turns)
		attempt_fail(c, CX_FAIL_PERMANENT,
			     "the model still asked for tools after %d tool turns (max_tool_turns)",
			     c->max_tool_turns);
	else
		run_tools(c);
}

void cx_chat_read_end(struct cx_chat *c)
{
	if (!c->streamed) {
		cJSON *body = cJSON_ParseWithLength(c->response.data ? c->response.data : "",
						    c->response.len);
		if (!body)
			cx_chat_stop(c, CX_FAIL_INVALID_OUTPUT, "the response is not JSON");
		else if (cJSON_GetObjectItemCaseSensitive(body, "error"))
			cx_chat_stop_error(c, body);
		else
			c->dialect->response(c, body);
		cJSON_Delete(body);
	} else if (!c->turn.done) {
		cx_chat_stop(c, CX_FAIL_TRANSIENT, "the stream ended before the answer was complete");
	}
}

/* A 2xx response ended: the answer, the tools it asks for, or what is
 * wrong with it. */
static void response_over(struct cx_chat *c)
{
	cx_chat_read_end(c);
	if (c->failed)
		attempt_fail(c, c->fail_kind, "%s", c->fail_message ? c->fail_message : "out of memory");
	else
		turn_over(c);
}

static void on_done(struct cx_http_req *req)
{
	struct cx_chat *c = req->data;
	switch (req->end) {
	case CX_HTTP_RESPONSE:
		if (req->status / 100 == 2)
			response_over(c);
		else
			http_failure(c);
		break;
	case CX_HTTP_STOPPED:
		attempt_fail(c, c->fail_kind, "%s", c->fail_message ? c->fail_message : "out of memory");
		break;
	case CX_HTTP_TRANSIENT:
	case CX_HTTP_FAILED:
		attempt_fail(c, req->end == CX_HTTP_TRANSIENT ? CX_FAIL_TRANSIENT : CX_FAIL_PERMANENT,
			     "POST %s: %s", c->url, req->message);
		break;
	}
}

static int send_request(struct cx_chat *c)
{
	char *json = cJSON_PrintUnformatted(c->body);
	if (!json)
		return -ENOMEM;
	c->turns++;
	c->received = 0;
	c->streamed = false;
	cx_buf_clear(&c->response);
	cx_sse_reset(&c->sse);
	cx_http_req_init(&c->req, on_body, on_done, c);
	int rc = add_headers(c);
	if (rc == 0)
		rc = cx_http_post(c->call->env->http, &c->req, c->url, json, strlen(json), &c->opts);
	free(json);
	if (rc < 0)
		cx_http_req_release(&c->req);
	return rc;
}

/* ---- the attempt's start ---- */

/* model, max_tokens, temperature, stream, and the dialect's conversation. */
static cJSON *request_body(const struct cx_chat *c)
{
	const struct cx_call *call = c->call;
	const cJSON *temperature = profile_item(c, "temperature");
	int max_tokens = profile_int(c, "max_tokens", c->dialect->max_tokens);
	cJSON *body = cJSON_CreateObject();
	bool ok = body && cJSON_AddStringToObject(body, "model", profile_string(c, "model")) &&
		  (!max_tokens || cJSON_AddNumberToObject(body, "max_tokens", max_tokens)) &&
		  (!temperature || cJSON_AddNumberToObject(body, "temperature",
							  temperature->valuedouble)) &&
		  cJSON_AddBoolToObject(body, "stream", call->member->stream) &&
		  (!call->member->stream || !c->dialect->stream_options ||
		   c->dialect->stream_options(body)) &&
		  c->dialect->begin(body, call->request, call->member);
	if (!ok) {
		cJSON_Delete(body);
		return NULL;
	}
	return body;
}

int cx_chat_start(struct cx_call *call, const struct cx_dialect *dialect)
{
	struct cx_chat *c = cx_call_priv(call);
	struct cx_call_env *env = call->env;
	int rc = -ENOMEM;

	*c = (struct cx_chat){
		.call = call,
		.dialect = dialect,
		.later = CX_TIMER_INIT(report_later, c),
	};
	c->max_tool_turns = profile_int(c, "max_tool_turns", DEFAULT_TOOL_TURNS);
	c->opts = (struct cx_http_opts){
		.connect_timeout_ms = profile_int(c, "connect_timeout_ms", DEFAULT_CONNECT_TIMEOUT_MS),
		.idle_timeout_ms = profile_int(c, "idle_timeout_ms", 0),
	};
	if (!env->http && (rc = cx_http_new(cx_call_loop(call), &env->http)) < 0)
		return rc;
	const char *var = key_variable(c);
	const char *key = var ? getenv(var) : NULL;
	if (var && (!key || !*key)) {
		fail_later(c, CX_FAIL_PERMANENT, "the environment variable %s (api_key_env) is not set",
			   var);
		return 0;
	}
	if ((key && !(c->key = strdup(key))) || !(c->url = request_url(c)) ||
	    !(c->body = request_body(c)) || (rc = send_request(c)) < 0) {
		release(c);
		return rc;
	}
	return 0;
}

void cx_chat_abort(struct cx_call *call)
{
	struct cx_chat *c = cx_call_priv(call);
	if (c->tools_running) {
		c->aborting = true;
		for (size_t i = 0; i < c->turn.n_calls; i++)
			if (c->turn.calls[i].running)
				cx_tool_run_kill(&c->turn.calls[i].run, "aborted");
		return;
	}
	cx_http_cancel(&c->req);
	attempt_fail(c, CX_FAIL_PERMANENT, "%s: aborted", c->dialect->name);
}

bool cx_chat_owns(struct cx_call *call, const struct cx_proc *child)
{
	const struct cx_chat *c = cx_call_priv(call);
	for (size_t i = 0; i < c->turn.n_calls; i++)
		if (c->turn.calls[i].running && cx_tool_run_owns(&c->turn.calls[i].run, child))
			return true;
	return false;
}
