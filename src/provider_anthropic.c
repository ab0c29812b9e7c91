/* The anthropic provider: Anthropic's Messages API (POST
 * {base_url}/messages, headers x-api-key and anthropic-version). The
 * system messages of the request go in "system"; tools are {name,
 * description, input_schema}; an answer is a list of content blocks (text,
 * tool_use), streamed as message_start, content_block_start/delta/stop,
 * message_delta (the stop reason, the output tokens) and message_stop
 * events; tool results go back in a user message of tool_result blocks.
 * chat.h does the rest. */
#include "chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define API_VERSION "2023-06-01"
#define DEFAULT_MAX_TOKENS 1024    /* the API requires max_tokens */

static cJSON *get(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static const char *string(const cJSON *obj, const char *key)
{
	const cJSON *v = get(obj, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A content block's "index"; 0 when it is not a whole number from 0. */
static long index_of(const cJSON *obj)
{
	return (long)cx_json_int(obj, "index", 0, INT32_MAX, 0);
}

static bool add_tool(cJSON *tools, const struct cx_tool *tool)
{
	cJSON *def = cx_chat_append_object(tools);
	return def && cJSON_AddStringToObject(def, "name", tool->name) &&
	       cJSON_AddStringToObject(def, "description", tool->description) &&
	       cx_chat_add_schema(def, "input_schema", tool);
}

/* The request's system messages, joined, become "system"; the others are
 * the messages. */
static bool begin(cJSON *body, const cJSON *request, const struct cx_member *member)
{
	cJSON *messages = cJSON_AddArrayToObject(body, "messages");
	const cJSON *m;
	char *system = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&system, &len);
	bool ok = messages && f;
	cJSON_ArrayForEach(m, get(request, "messages")) {
		const char *role = string(m, "role"), *content = string(m, "content");
		if (!ok || !role || !content)
			continue;
		if (!strcmp(role, "system")) {
			fprintf(f, "%s%s", len ? "\n\n" : "", content);
			fflush(f);
			continue;
		}
		cJSON *copy = cJSON_Duplicate(m, true);
		ok = cJSON_AddItemToArray(messages, copy);
		if (!ok)
			cJSON_Delete(copy);
	}
	if (f)
		fclose(f);
	ok = ok && system && (!*system || cJSON_AddStringToObject(body, "system", system));
	free(system);
	cJSON *tools = ok && member->n_tools ? cJSON_AddArrayToObject(body, "tools") : NULL;
	ok = ok && (!member->n_tools || tools);
	for (size_t i = 0; ok && i < member->n_tools; i++)
		ok = add_tool(tools, member->tools[i]);
	return ok;
}

/* A content block: text, or a tool_use with its input whole (a response)
 * or to come in input_json_delta events (a stream). */
static void read_block(struct cx_chat *chat, const cJSON *block, long index)
{
	const char *type = string(block, "type");
	if (!type)
		return;
	if (!strcmp(type, "text") && string(block, "text")) {
		cx_chat_text(chat, string(block, "text"));
	} else if (!strcmp(type, "tool_use")) {
		struct cx_chat_tool_call *tc = cx_chat_tool_call(chat, index, string(block, "id"),
								 string(block, "name"));
		const cJSON *input = get(block, "input");
		if (cJSON_IsObject(input) && input->child) {
			char *text = cJSON_PrintUnformatted(input);
			cx_chat_args_append(chat, tc, text ? text : "");
			cJSON_free(text);
		}
	}
}

static void event(struct cx_chat *chat, const char *type, const cJSON *data)
{
	const char *kind = string(data, "type");
	const cJSON *delta = get(data, "delta");
	if (kind)
		type = kind;
	if (!strcmp(type, "message_start")) {
		cx_chat_usage(chat, get(get(data, "message"), "usage"), "input_tokens", NULL);
	} else if (!strcmp(type, "content_block_start")) {
		read_block(chat, get(data, "content_block"), index_of(data));
	} else if (!strcmp(type, "content_block_delta")) {
		const char *text = string(delta, "text");
		const char *json = string(delta, "partial_json");
		if (text)
			cx_chat_text(chat, text);
		if (json)
			cx_chat_args_append(chat, cx_chat_tool_call(chat, index_of(data), NULL, NULL),
					    json);
	} else if (!strcmp(type, "message_delta")) {
		cx_chat_usage(chat, get(data, "usage"), NULL, "output_tokens");
	} else if (!strcmp(type, "message_stop")) {
		chat->turn.done = true;
	} else if (!strcmp(type, "error")) {
		cx_chat_stop_error(chat, data);
	}
}

static void response(struct cx_chat *chat, const cJSON *body)
{
	const cJSON *block;
	long i = 0;
	if (!cJSON_IsArray(get(body, "content"))) {
		cx_chat_stop(chat, CX_FAIL_INVALID_OUTPUT, "the response has no content");
		return;
	}
	cx_chat_usage(chat, get(body, "usage"), "input_tokens", "output_tokens");
	cJSON_ArrayForEach(block, get(body, "content"))
		read_block(chat, block, i++);
	chat->turn.done = true;
}

/* The assistant's content blocks (its text, its tool_use blocks), then a
 * user message of tool_result blocks. */
static bool add_turn(cJSON *body, const struct cx_chat_turn *turn)
{
	cJSON *messages = get(body, "messages");
	cJSON *assistant = cx_chat_append_object(messages), *said = NULL;
	cJSON *user = assistant ? cx_chat_append_object(messages) : NULL, *results = NULL;
	bool ok = user && cJSON_AddStringToObject(assistant, "role", "assistant") &&
		  (said = cJSON_AddArrayToObject(assistant, "content")) &&
		  cJSON_AddStringToObject(user, "role", "user") &&
		  (results = cJSON_AddArrayToObject(user, "content"));
	cJSON *text = ok && turn->text.len ? cx_chat_append_object(said) : NULL;
	if (ok && turn->text.len)
		ok = text && cJSON_AddStringToObject(text, "type", "text") &&
		     cJSON_AddStringToObject(text, "text", turn->text.data);
	for (size_t i = 0; ok && i < turn->n_calls; i++) {
		const struct cx_chat_tool_call *tc = &turn->calls[i];
		cJSON *use = cx_chat_append_object(said);
		cJSON *result = use ? cx_chat_append_object(results) : NULL;
		cJSON *input = cx_chat_args_parse(tc);
		if (!input)
			input = cJSON_CreateObject();
		ok = result && cJSON_AddStringToObject(use, "type", "tool_use") &&
		     cJSON_AddStringToObject(use, "id", tc->id ? tc->id : "") &&
		     cJSON_AddStringToObject(use, "name", tc->name ? tc->name : "") &&
		     cJSON_AddItemToObject(use, "input", input) &&
		     cJSON_AddStringToObject(result, "type", "tool_result") &&
		     cJSON_AddStringToObject(result, "tool_use_id", tc->id ? tc->id : "") &&
		     cJSON_AddStringToObject(result, "content", tc->run.text) &&
		     (tc->run.ok || cJSON_AddBoolToObject(result, "is_error", true));
		if (!cJSON_IsObject(get(use, "input")))
			cJSON_Delete(input);
	}
	return ok;
}

const struct cx_dialect cx_dialect_anthropic = {
	.name = "anthropic",
	.base_url = "https://api.anthropic.com/v1",
	.path = "/messages",
	.key_header = "x-api-key",
	.key_prefix = "",
	.headers = (const char *const[]){ "anthropic-version", API_VERSION, NULL },
	.max_tokens = DEFAULT_MAX_TOKENS,
	.begin = begin,
	.event = event,
	.response = response,
	.add_turn = add_turn,
};

CX_CHAT_PROVIDER(cx_provider_anthropic, anthropic);
