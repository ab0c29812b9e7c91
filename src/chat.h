/* A chat over HTTP: what the openai and anthropic providers share. One
 * attempt of a call is a conversation: a POST of the messages (and the
 * tools the member may call), the model's answer streamed as server-sent
 * events (sse.h) or in one body, and, while the model asks for tools,
 * their runs (tool_run.h), several at once, and another POST with their
 * results, up to max_tool_turns times. The attempt answers with the text
 * of the model's last turn.
 *
 * A dialect says what differs between the two APIs: the endpoint and its
 * headers, the request body, and how a response or a streamed event reads
 * into a turn (struct cx_chat_turn). Everything else is here: the key,
 * the URL, limits and timeouts, failures and their kinds (HTTP 408, 429
 * and 5xx, connection failures and timeouts are transient; other 4xx are
 * permanent; a body that does not parse is invalid_output), Retry-After,
 * token usage, and the tool loop. */
#ifndef CX_CHAT_H
#define CX_CHAT_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "call.h"
#include "http.h"
#include "sse.h"
#include "tool_run.h"

/* A tool call the model asked for. */
struct cx_chat_tool_call {
	long key;                   /* the dialect's index of it in the response */
	char *id, *name;
	struct cx_buf args;         /* the arguments' JSON text */
	struct cx_tool_run run;
	bool running;
};

/* More tool calls in one answer fail the attempt as invalid_output. */
#define CX_CHAT_TOOL_CALLS_MAX 64

/* The model's answer to one request. */
struct cx_chat_turn {
	struct cx_buf text;
	struct cx_chat_tool_call *calls;
	size_t n_calls, cap_calls;
	bool done;                  /* the response said it was complete */
};

struct cx_chat;

/* A named set of defaults for a profile ("preset": "ollama"). */
struct cx_chat_preset {
	const char *base_url;
	const char *api_key_env;    /* NULL: no key */
};

struct cx_dialect {
	const char *name;           /* "openai": in messages */
	const char *base_url;       /* when the profile has none */
	const char *path;           /* after the base URL: "/chat/completions" */
	/* The key goes in key_header, after key_prefix: "Authorization",
	 * "Bearer ". */
	const char *key_header, *key_prefix;
	const char *const *headers; /* always sent: "name", "value", ..., NULL */
	int max_tokens;             /* sent when the profile has none; 0: not sent */
	/* "preset" names one of preset_names (NULL: the dialect has none);
	 * presets[i] is what names[i] sets. */
	const char *const *preset_names;
	const struct cx_chat_preset *presets;
	/* The request body's conversation (messages, system, tools), from
	 * the request document (prompt.h) and the member's tools. */
	bool (*begin)(cJSON *body, const cJSON *request, const struct cx_member *member);
	/* Stream options beyond "stream": true, or NULL. */
	bool (*stream_options)(cJSON *body);
	/* A streamed event (type, data parsed), or a whole response, read
	 * into the chat's turn; what is wrong with it goes to cx_chat_stop. */
	void (*event)(struct cx_chat *chat, const char *type, const cJSON *data);
	void (*response)(struct cx_chat *chat, const cJSON *body);
	/* The turn (with its tool calls' outcomes) appended to the body's
	 * messages, for the next request. */
	bool (*add_turn)(cJSON *body, const struct cx_chat_turn *turn);
};

struct cx_chat {
	struct cx_call *call;
	const struct cx_dialect *dialect;
	char *url;
	char *key;                  /* from api_key_env, read at the attempt's start */
	cJSON *body;                /* the request body, grown turn by turn */
	struct cx_http_req req;
	struct cx_http_opts opts;
	struct cx_sse sse;
	struct cx_buf response;     /* a body that is not streamed */
	size_t received;            /* bytes of the response so far */
	bool streamed;              /* the response is an event stream */
	struct cx_chat_turn turn;
	int turns;                  /* requests made in this attempt */
	int max_tool_turns;
	size_t tools_running;
	bool aborting;
	struct cx_timer later;      /* reports a failure found by start() */
	/* A failure found while reading a response, reported once the
	 * request has stopped. */
	bool failed;
	enum cx_fail_kind fail_kind;
	char *fail_message;
};

/* The dialects of the openai and anthropic providers. */
extern const struct cx_dialect cx_dialect_openai, cx_dialect_anthropic;

/* The provider ops for a dialect. */
int cx_chat_start(struct cx_call *call, const struct cx_dialect *dialect);
void cx_chat_abort(struct cx_call *call);
bool cx_chat_owns(struct cx_call *call, const struct cx_proc *child);

/* Defines `const struct cx_provider_ops ops` answering with the dialect
 * cx_dialect_<dialect>. */
#define CX_CHAT_PROVIDER(ops, dialect)                                  \
	static int dialect##_start(struct cx_call *call)                \
	{                                                               \
		return cx_chat_start(call, &cx_dialect_##dialect);      \
	}                                                               \
	const struct cx_provider_ops ops = {                            \
		.name = #dialect,                                       \
		.priv_size = sizeof(struct cx_chat),                    \
		.start = dialect##_start,                               \
		.abort = cx_chat_abort,                                 \
		.owns = cx_chat_owns,                                   \
	}

/* Reading a 2xx response into chat->turn, as the attempt does with what
 * the server sends; apart from the request, so that the fuzzer
 * (tests/fuzz/fuzz_chat.c) reads what a server may send without one.
 * Needs chat->call (for tokens and usage), chat->dialect and
 * chat->streamed (the body is an event stream), the rest zeroed. */

/* n more bytes of the body. Non-zero once the chat has stopped (failed:
 * kind and message in fail_kind and fail_message). */
int cx_chat_read(struct cx_chat *chat, const char *p, size_t n);
/* The body ended: a body not streamed is read now, a stream must have
 * said it was complete. Then the turn is the answer, or chat->failed. */
void cx_chat_read_end(struct cx_chat *chat);
/* Frees what reading made (the turn, the parser, the failure's message). */
void cx_chat_read_free(struct cx_chat *chat);

/* For the dialects. */

/* Text of the answer: appended to the turn, streamed as a token. */
void cx_chat_text(struct cx_chat *chat, const char *text);
/* The tool call with the dialect's key, added if new (NULL, and the chat
 * stopped, when there can be no more). id and name are set when given
 * (not NULL) and not set yet. */
struct cx_chat_tool_call *cx_chat_tool_call(struct cx_chat *chat, long key, const char *id,
					    const char *name);
/* usage->in_key and usage->out_key, as reported. */
void cx_chat_usage(struct cx_chat *chat, const cJSON *usage, const char *in_key,
		   const char *out_key);
/* Stops reading the response: the attempt fails with kind and message
 * once the request has ended (the first failure noted wins). Returns 1. */
int cx_chat_stop(struct cx_chat *chat, enum cx_fail_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* An "error" object (or string) a server sent in place of an answer:
 * stops with its message, transient for the kinds of error that are
 * (overload, rate limits, server errors). */
int cx_chat_stop_error(struct cx_chat *chat, const cJSON *error);

/* A new object appended to array; NULL when out of memory. */
cJSON *cx_chat_append_object(cJSON *array);
/* obj[key] = the JSON Schema of tool's arguments: its parameters, or an
 * object without properties. False when out of memory. */
bool cx_chat_add_schema(cJSON *obj, const char *key, const struct cx_tool *tool);
/* More of a tool call's arguments' JSON text (tc may be NULL: nothing). */
void cx_chat_args_append(struct cx_chat *chat, struct cx_chat_tool_call *tc, const char *text);
/* A tool call's arguments, parsed: an object ({} for none), or NULL when
 * they are not one. */
cJSON *cx_chat_args_parse(const struct cx_chat_tool_call *tc);

#endif
