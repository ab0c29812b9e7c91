/* What an LLM server answers a chat (src/chat.h), read as the openai and
 * anthropic providers read it: a 2xx response's body, an event stream
 * (chat.completion.chunk objects ended by [DONE], or Anthropic's
 * message_start ... message_stop and error events) or one JSON body (a
 * chat.completion, a message, an error), through cx_chat_read and
 * cx_chat_read_end and the dialect's event and response callbacks into the
 * turn: its text, tool calls and usage, or a failure and its kind. Then
 * the turn as the next request carries it back (the dialect's add_turn).
 * Byte 0 of the input says how the rest, the body, is read:
 *
 *   bit 0     the dialect: openai, anthropic
 *   bit 1     the body is an event stream (Content-Type text/event-stream)
 *   bit 2     the member streams: its text goes out as member_token events,
 *             written to a memory file and read back
 *   bits 3-7  the size of the pieces the body arrives in (0: whole)
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "chat.h"
#include "fuzz.h"
#include "utf8.h"

static int events_fd = -1;

static bool valid_utf8(const char *s)
{
	size_t n = strlen(s);
	for (size_t len; n; s += len, n -= len)
		if (!(len = cx_utf8_seq_len((const unsigned char *)s, n)))
			return false;
	return true;
}

/* The events the call wrote: only member_token, one JSON line each, the
 * chunk UTF-8 whatever the server sent. Returns how many. */
static size_t check_events(void)
{
	off_t size = lseek(events_fd, 0, SEEK_END);
	FUZZ_ASSERT(size >= 0);
	char *text = malloc((size_t)size + 1);
	FUZZ_ASSERT(text && pread(events_fd, text, (size_t)size, 0) == size);
	text[size] = '\0';
	FUZZ_ASSERT(!size || text[size - 1] == '\n');
	size_t n = 0;
	for (char *line = text, *nl; (nl = strchr(line, '\n')); line = nl + 1, n++) {
		struct cx_event_header h;
		FUZZ_ASSERT(cx_event_header_parse(line, (size_t)(nl - line), &h) == 0 &&
			    h.type == CX_EV_MEMBER_TOKEN);
		cJSON *event = cJSON_ParseWithLength(line, (size_t)(nl - line));
		const char *chunk = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(event, "chunk"));
		FUZZ_ASSERT(chunk && *chunk && valid_utf8(chunk));
		cJSON_Delete(event);
	}
	free(text);
	return n;
}

/* What a failure says: one of the kinds a response can have, and a
 * message on one line (it ends up in member_completed's error). */
static void check_failure(const struct cx_chat *chat)
{
	FUZZ_ASSERT(chat->fail_kind == CX_FAIL_TRANSIENT || chat->fail_kind == CX_FAIL_PERMANENT ||
		    chat->fail_kind == CX_FAIL_INVALID_OUTPUT);
	FUZZ_ASSERT(chat->fail_message && *chat->fail_message && !strchr(chat->fail_message, '\n'));
}

static void check_turn(const struct cx_chat *chat)
{
	const struct cx_chat_turn *t = &chat->turn;
	const struct cx_call *call = chat->call;
	FUZZ_ASSERT(t->n_calls <= CX_CHAT_TOOL_CALLS_MAX);
	FUZZ_ASSERT(!t->text.len || strlen(t->text.data) == t->text.len);
	for (size_t i = 0; i < t->n_calls; i++) {
		const struct cx_chat_tool_call *tc = &t->calls[i];
		for (size_t j = 0; j < i; j++)
			FUZZ_ASSERT(t->calls[j].key != tc->key);
		cJSON *args = cx_chat_args_parse(tc);
		FUZZ_ASSERT(!args || cJSON_IsObject(args));
		cJSON_Delete(args);
	}
	FUZZ_ASSERT(!call->has_usage || (call->input_tokens >= 0 && call->output_tokens >= 0));
}

/* The turn's tool calls given outcomes (every other one failed), then the
 * turn added to a request's messages as the next request sends it: it
 * must print as JSON that reads back the same. */
static void check_next_request(struct cx_chat *chat)
{
	struct cx_chat_turn *t = &chat->turn;
	for (size_t i = 0; i < t->n_calls; i++) {
		t->calls[i].run.ok = i % 2 == 0;
		t->calls[i].run.text = strdup(i % 2 ? "exited 1: no such city" : "{\"celsius\": 21}");
		FUZZ_ASSERT(t->calls[i].run.text);
	}
	cJSON *body = cJSON_CreateObject();
	FUZZ_ASSERT(body && cJSON_AddArrayToObject(body, "messages"));
	FUZZ_ASSERT(chat->dialect->add_turn(body, t));
	int messages = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(body, "messages"));
	/* openai: the assistant's message and one per call; anthropic: the
	 * assistant's and the user's with the results. */
	FUZZ_ASSERT(messages == (chat->dialect == &cx_dialect_openai ? 1 + (int)t->n_calls : 2));
	char *text = cJSON_PrintUnformatted(body);
	cJSON *again = text ? cJSON_Parse(text) : NULL;
	FUZZ_ASSERT(again && cJSON_Compare(body, again, true));
	cJSON_Delete(again);
	free(text);
	cJSON_Delete(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (events_fd < 0)
		events_fd = memfd_create("fuzz-chat-events", MFD_CLOEXEC);
	FUZZ_ASSERT(events_fd >= 0 && ftruncate(events_fd, 0) == 0 && lseek(events_fd, 0, SEEK_SET) == 0);
	const struct cx_dialect *dialect = data[0] & 1 ? &cx_dialect_anthropic : &cx_dialect_openai;
	struct cx_member member = {
		.id = "fuzz",
		.provider = data[0] & 1 ? CX_PROVIDER_ANTHROPIC : CX_PROVIDER_OPENAI,
		.stream = data[0] & 4,
	};
	struct cx_emitter em = { .fd = events_fd, .run_id = "01FUZZ" };
	struct cx_call_env env = { .em = &em };
	struct cx_call *call = cx_call_new(&env, &member, "fuzz", cJSON_CreateObject());
	FUZZ_ASSERT(call);
	struct cx_chat *chat = cx_call_priv(call);
	*chat = (struct cx_chat){ .call = call, .dialect = dialect, .streamed = data[0] & 2 };

	const char *body = (const char *)data + 1;
	size_t len = size - 1, piece = data[0] >> 3;
	int rc = 0;
	for (size_t off = 0; rc == 0 && off < len; off += piece) {
		if (!piece || piece > len - off)
			piece = len - off;
		rc = cx_chat_read(chat, body + off, piece);
		FUZZ_ASSERT(rc == chat->failed);
	}
	/* A read that stopped ends the request; else the body ended. */
	if (!rc)
		cx_chat_read_end(chat);
	FUZZ_ASSERT(chat->failed || chat->turn.done);
	if (chat->failed)
		check_failure(chat);
	check_turn(chat);
	cx_emitter_fini(&em); /* tokens wait in the emitter until it flushes */
	size_t tokens = check_events();
	FUZZ_ASSERT(member.stream ? (tokens > 0) == (chat->turn.text.len > 0) : tokens == 0);
	check_next_request(chat);

	cx_chat_read_free(chat);
	cx_call_free(call);
	return 0;
}
