/* The openai provider: OpenAI's chat completions API (POST
 * {base_url}/chat/completions), which Ollama, vLLM and llama.cpp's server
 * speak too. The conversation is the request's messages as they are; tools
 * are "function" tools; a streamed answer is a series of chat.completion
 * chunks (their choices[0].delta: content, tool_calls by index) ended by
 * "[DONE]", with the usage in a last chunk when asked for. chat.h does the
 * rest. */
#include "chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "profile.h"

enum preset { PRESET_OPENAI, PRESET_OLLAMA, PRESET_VLLM, PRESET_LLAMACPP, PRESET_OPENROUTER };

const char *const cx_openai_presets[] = {
	[PRESET_OPENAI] = "openai",
	[PRESET_OLLAMA] = "ollama",
	[PRESET_VLLM] = "vllm",
	[PRESET_LLAMACPP] = "llamacpp",
	[PRESET_OPENROUTER] = "openrouter",
	NULL,
};

static const struct cx_chat_preset presets[] = {
	[PRESET_OPENAI] = { "https://api.openai.com/v1", "OPENAI_API_KEY" },
	[PRESET_OLLAMA] = { "http://localhost:11434/v1", NULL },
	[PRESET_VLLM] = { "http://localhost:8000/v1", NULL },
	[PRESET_LLAMACPP] = { "http://localhost:8080/v1", NULL },
	[PRESET_OPENROUTER] = { "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY" },
};

static cJSON *get(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static const char *string(const cJSON *obj, const char *key)
{
	const cJSON *v = get(obj, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* {"type": "function", "function": {name, description, parameters}} */
static bool add_tool(cJSON *tools, const struct cx_tool *tool)
{
	cJSON *def = cx_chat_append_object(tools), *fn;
	return def && cJSON_AddStringToObject(def, "type", "function") &&
	       (fn = cJSON_AddObjectToObject(def, "function")) &&
	       cJSON_AddStringToObject(fn, "name", tool->name) &&
	       cJSON_AddStringToObject(fn, "description", tool->description) &&
	       cx_chat_add_schema(fn, "parameters", tool);
}

static bool begin(cJSON *body, const cJSON *request, const struct cx_member *member)
{
	cJSON *messages = cJSON_Duplicate(get(request, "messages"), true);
	if (!cJSON_AddItemToObject(body, "messages", messages)) {
		cJSON_Delete(messages);
		return false;
	}
	cJSON *tools = member->n_tools ? cJSON_AddArrayToObject(body, "tools") : NULL;
	bool ok = !member->n_tools || tools;
	for (size_t i = 0; ok && i < member->n_tools; i++)
		ok = add_tool(tools, member->tools[i]);
	return ok;
}

static bool stream_options(cJSON *body)
{
	cJSON *options = cJSON_AddObjectToObject(body, "stream_options");
	return options && cJSON_AddBoolToObject(options, "include_usage", true);
}

/* Which call of the turn a tool call (or a piece of one) is: its "index"
 * in a stream; without one (some servers, and whole messages), or with one
 * that is not a whole number from 0, the call with its id, else a new one. */
static long call_key(const struct cx_chat *chat, const cJSON *call)
{
	int64_t index;
	const char *id = string(call, "id");
	if (cx_json_int_value(get(call, "index"), 0, INT32_MAX, &index))
		return (long)index;
	for (size_t i = 0; id && i < chat->turn.n_calls; i++)
		if (chat->turn.calls[i].id && !strcmp(chat->turn.calls[i].id, id))
			return chat->turn.calls[i].key;
	return -1 - (long)chat->turn.n_calls;    /* apart from any index */
}

/* One tool call of a message or of a delta: its arguments come whole in a
 * message, in pieces in deltas. */
static void read_tool_call(struct cx_chat *chat, const cJSON *call)
{
	const cJSON *fn = get(call, "function");
	const cJSON *args = get(fn, "arguments");
	struct cx_chat_tool_call *tc = cx_chat_tool_call(chat, call_key(chat, call),
							 string(call, "id"), string(fn, "name"));
	if (cJSON_IsString(args)) {
		cx_chat_args_append(chat, tc, args->valuestring);
	} else if (cJSON_IsObject(args)) {   /* some servers send an object */
		char *text = cJSON_PrintUnformatted(args);
		cx_chat_args_append(chat, tc, text ? text : "");
		cJSON_free(text);
	}
}

/* A chunk's delta or a response's message. */
static void read_message(struct cx_chat *chat, const cJSON *message)
{
	const cJSON *call;
	const char *content = string(message, "content");
	if (content)
		cx_chat_text(chat, content);
	cJSON_ArrayForEach(call, get(message, "tool_calls"))
		read_tool_call(chat, call);
}

static void read_usage(struct cx_chat *chat, const cJSON *obj)
{
	const cJSON *usage = get(obj, "usage");
	if (cJSON_IsObject(usage))
		cx_chat_usage(chat, usage, "prompt_tokens", "completion_tokens");
}

static void event(struct cx_chat *chat, const char *type, const cJSON *data)
{
	(void)type;
	if (get(data, "error")) {
		cx_chat_stop_error(chat, data);
		return;
	}
	read_usage(chat, data);
	const cJSON *choice = cJSON_GetArrayItem(get(data, "choices"), 0);
	read_message(chat, get(choice, "delta"));
	if (string(choice, "finish_reason"))
		chat->turn.done = true;
}

static void response(struct cx_chat *chat, const cJSON *body)
{
	const cJSON *choice = cJSON_GetArrayItem(get(body, "choices"), 0);
	if (!cJSON_IsObject(get(choice, "message"))) {
		cx_chat_stop(chat, CX_FAIL_INVALID_OUTPUT, "the response has no choices[0].message");
		return;
	}
	read_usage(chat, body);
	read_message(chat, get(choice, "message"));
	chat->turn.done = true;
}

/* What a tool message says of a call's outcome. */
static bool add_outcome(cJSON *message, const struct cx_chat_tool_call *tc)
{
	char *text = NULL;
	if (tc->run.ok)
		return cJSON_AddStringToObject(message, "content", tc->run.text);
	bool ok = asprintf(&text, "error: %s", tc->run.text) >= 0 &&
		  cJSON_AddStringToObject(message, "content", text);
	free(text);
	return ok;
}

/* The assistant's message with its tool calls, then one "tool" message
 * per call with its outcome. */
static bool add_turn(cJSON *body, const struct cx_chat_turn *turn)
{
	cJSON *messages = get(body, "messages");
	cJSON *assistant = cx_chat_append_object(messages), *calls = NULL;
	bool ok = assistant && cJSON_AddStringToObject(assistant, "role", "assistant") &&
		  cJSON_AddItemToObject(assistant, "content",
					turn->text.len ? cJSON_CreateString(turn->text.data)
						       : cJSON_CreateNull()) &&
		  (calls = cJSON_AddArrayToObject(assistant, "tool_calls"));
	for (size_t i = 0; ok && i < turn->n_calls; i++) {
		const struct cx_chat_tool_call *tc = &turn->calls[i];
		cJSON *call = cx_chat_append_object(calls), *fn;
		cJSON *result = call ? cx_chat_append_object(messages) : NULL;
		ok = result && cJSON_AddStringToObject(call, "id", tc->id ? tc->id : "") &&
		     cJSON_AddStringToObject(call, "type", "function") &&
		     (fn = cJSON_AddObjectToObject(call, "function")) &&
		     cJSON_AddStringToObject(fn, "name", tc->name ? tc->name : "") &&
		     cJSON_AddStringToObject(fn, "arguments", tc->args.len ? tc->args.data : "{}") &&
		     cJSON_AddStringToObject(result, "role", "tool") &&
		     cJSON_AddStringToObject(result, "tool_call_id", tc->id ? tc->id : "") &&
		     add_outcome(result, tc);
	}
	return ok;
}

const struct cx_dialect cx_dialect_openai = {
	.name = "openai",
	.base_url = "https://api.openai.com/v1",
	.path = "/chat/completions",
	.key_header = "Authorization",
	.key_prefix = "Bearer ",
	.headers = (const char *const[]){ NULL },
	.preset_names = cx_openai_presets,
	.presets = presets,
	.begin = begin,
	.stream_options = stream_options,
	.event = event,
	.response = response,
	.add_turn = add_turn,
};

CX_CHAT_PROVIDER(cx_provider_openai, openai);
