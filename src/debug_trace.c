#include "debug_trace.h"

#include <stdlib.h>
#include <string.h>

#include "utf8.h"

#define REDACTED "[redacted]"
#define SECRET_MIN 4      /* shorter values would blank out ordinary words */
#define SECRETS_MAX 65    /* api_key_env and env_pass's 64 */

/* The values of the environment variables the member's profile names: what
 * the worker holds of its secrets. */
static size_t member_secrets(const struct cx_member *m, const char *out[SECRETS_MAX])
{
	const cJSON *key = cJSON_GetObjectItemCaseSensitive(m->profile, "api_key_env");
	const cJSON *pass = cJSON_GetObjectItemCaseSensitive(m->profile, "env_pass");
	const cJSON *name;
	size_t n = 0;
	const char *v;

	if (cJSON_IsString(key) && (v = getenv(key->valuestring)) && strlen(v) >= SECRET_MIN)
		out[n++] = v;
	cJSON_ArrayForEach(name, pass)
		if (n < SECRETS_MAX && cJSON_IsString(name) &&
		    (v = getenv(name->valuestring)) && strlen(v) >= SECRET_MIN)
			out[n++] = v;
	return n;
}

/* text with every secret replaced, then cut to CX_DEBUG_TEXT_MAX characters
 * on a character's boundary; NULL when out of memory. */
static char *shown_text(const struct cx_member *m, const char *text, bool *truncated)
{
	const char *secrets[SECRETS_MAX];
	size_t n = member_secrets(m, secrets), len = strlen(text);
	/* Each secret is at least SECRET_MIN bytes, so the text can grow at
	 * most by this factor. */
	char *out = malloc(len * (sizeof REDACTED / SECRET_MIN + 1) + 1);
	size_t o = 0, chars = 0;

	if (!out)
		return NULL;
	*truncated = false;
	for (size_t i = 0; i < len;) {
		size_t k = 0;
		while (k < n && strncmp(text + i, secrets[k], strlen(secrets[k])))
			k++;
		if (k < n) {
			memcpy(out + o, REDACTED, sizeof REDACTED - 1);
			o += sizeof REDACTED - 1;
			i += strlen(secrets[k]);
			continue;
		}
		out[o++] = text[i++];
	}
	out[o] = '\0';
	for (size_t i = 0; i < o; chars++) {
		if (chars == CX_DEBUG_TEXT_MAX) {
			out[i] = '\0';
			*truncated = true;
			break;
		}
		size_t seq = cx_utf8_seq_len((const unsigned char *)out + i, o - i);
		i += seq ? seq : 1;
	}
	return out;
}

static void emit(struct cx_call *call, const char *what, const char *role, int attempt,
		 const char *text)
{
	bool truncated;
	char *shown = shown_text(call->member, text, &truncated);
	cJSON *f = cJSON_CreateObject();

	if (!shown || !f) {
		free(shown);
		cJSON_Delete(f);
		return;
	}
	cJSON_AddStringToObject(f, "what", what);
	if (role)
		cJSON_AddStringToObject(f, "role", role);
	if (attempt)
		cJSON_AddNumberToObject(f, "attempt", attempt);
	cJSON_AddStringToObject(f, "text", shown);
	cJSON_AddBoolToObject(f, "truncated", truncated);
	free(shown);
	cx_call_emit(call, CX_EV_MEMBER_DEBUG, f);
}

void cx_debug_prompt(struct cx_call *call)
{
	const cJSON *msg;

	if (call->env->verbose < CX_VERBOSE_DEBUG)
		return;
	cJSON_ArrayForEach(msg, cJSON_GetObjectItemCaseSensitive(call->request, "messages")) {
		const char *role = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "role"));
		const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "content"));
		if (role && text)
			emit(call, "prompt", role, 0, text);
	}
}

void cx_debug_answer(struct cx_call *call, const char *text)
{
	if (call->env->verbose >= CX_VERBOSE_DEBUG)
		emit(call, "response", NULL, call->attempt, text);
}
