#include "mock_answer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prng.h"
#include "prompt.h"

#define WORD_MAX 12     /* longest word in the list */
#define MAX_DEPTH 16

static const char *const words[] = {
	"council", "member", "round", "answer", "evidence", "risk", "cost",
	"benefit", "latency", "throughput", "design", "review", "consensus",
	"trade-off", "option", "budget", "schedule", "quality", "user",
	"failure", "recovery", "scale", "simple", "robust", "measure", "test",
	"deploy", "rollback", "process", "signal", "supervisor", "restart",
	"isolation", "memory", "network", "storage", "security", "privacy",
	"clarity", "priority", "agree", "disagree", "because", "therefore",
	"however", "likely", "unlikely", "assume", "verify", "propose",
	"prefer", "avoid", "accept", "reject", "data", "model", "question",
	"context", "goal", "constraint", "plan", "step", "result", "insight",
};

#define N_WORDS (sizeof words / sizeof *words)

static const cJSON *get(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static int bound(const cJSON *schema, const char *key, int fallback)
{
	const cJSON *v = get(schema, key);
	return cJSON_IsNumber(v) ? v->valueint : fallback;
}

/* A number from lo to hi, inclusive. */
static long pick(uint64_t *state, long lo, long hi)
{
	return hi <= lo ? lo : lo + (long)(cx_prng_next(state) % (uint64_t)(hi - lo + 1));
}

/* n words after prefix, space-separated. */
static char *word_text(uint64_t *state, const char *prefix, int n)
{
	char *text = malloc(strlen(prefix) + 1 + (size_t)n * (WORD_MAX + 1));
	if (!text)
		return NULL;
	char *p = stpcpy(text, prefix);
	for (int i = 0; i < n; i++)
		p = stpcpy(stpcpy(p, i || *prefix ? " " : ""), words[cx_prng_next(state) % N_WORDS]);
	return text;
}

static cJSON *made_string(const cJSON *schema, uint64_t *state)
{
	int min = bound(schema, "minLength", 0), max = bound(schema, "maxLength", -1);
	char *text = word_text(state, "", (int)pick(state, 3, 8) + min / 4);
	if (!text)
		return NULL;
	if (max >= 0 && strlen(text) > (size_t)max)
		text[max] = '\0';
	cJSON *s = cJSON_CreateString(text);
	free(text);
	return s;
}

static cJSON *made(const cJSON *schema, uint64_t *state, int depth);

/* Distinct values of an enum, shuffled, when the items must differ. */
static cJSON *made_array(const cJSON *schema, uint64_t *state, int depth)
{
	const cJSON *items = get(schema, "items"), *choices = get(items, "enum");
	bool distinct = cJSON_IsTrue(get(schema, "uniqueItems")) && cJSON_IsArray(choices);
	int lo = bound(schema, "minItems", 1), hi = bound(schema, "maxItems", lo + 2);
	int n = (int)pick(state, lo, hi < lo ? lo : hi);
	cJSON *array = cJSON_CreateArray();

	if (distinct) {
		cJSON *pool = cJSON_Duplicate(choices, true);
		for (int left = cJSON_GetArraySize(pool); n-- > 0 && left > 0; left--)
			cJSON_AddItemToArray(array, cJSON_DetachItemFromArray(
				pool, (int)pick(state, 0, left - 1)));
		cJSON_Delete(pool);
		return array;
	}
	while (n-- > 0)
		cJSON_AddItemToArray(array, made(items, state, depth + 1));
	return array;
}

static cJSON *made_object(const cJSON *schema, uint64_t *state, int depth)
{
	cJSON *object = cJSON_CreateObject();
	const cJSON *property;
	cJSON_ArrayForEach(property, get(schema, "properties"))
		cJSON_AddItemToObject(object, property->string, made(property, state, depth + 1));
	return object;
}

static cJSON *made_number(const cJSON *schema, uint64_t *state, bool integer)
{
	double lo = cJSON_IsNumber(get(schema, "minimum")) ? get(schema, "minimum")->valuedouble : 0;
	double hi = cJSON_IsNumber(get(schema, "maximum")) ? get(schema, "maximum")->valuedouble
							   : integer ? lo + 100 : lo + 1;
	if (integer)
		return cJSON_CreateNumber((double)pick(state, (long)lo, (long)hi));
	return cJSON_CreateNumber(lo + (hi - lo) * (double)pick(state, 0, 100) / 100);
}

static cJSON *made(const cJSON *schema, uint64_t *state, int depth)
{
	const cJSON *choices = get(schema, "enum");
	const char *type = cJSON_GetStringValue(get(schema, "type"));

	if (cJSON_IsArray(choices) && cJSON_GetArraySize(choices))
		return cJSON_Duplicate(cJSON_GetArrayItem(choices, (int)pick(state, 0,
				       cJSON_GetArraySize(choices) - 1)), true);
	if (!type || depth > MAX_DEPTH)
		return made_string(schema, state);
	if (!strcmp(type, "object"))
		return made_object(schema, state, depth);
	if (!strcmp(type, "array"))
		return made_array(schema, state, depth);
	if (!strcmp(type, "number") || !strcmp(type, "integer"))
		return made_number(schema, state, !strcmp(type, "integer"));
	if (!strcmp(type, "boolean"))
		return cJSON_CreateBool(pick(state, 0, 1));
	if (!strcmp(type, "null"))
		return cJSON_CreateNull();
	return made_string(schema, state);
}

static char *scripted(const struct cx_call *call)
{
	const cJSON *profile = call->member->profile;
	const cJSON *reply = get(get(profile, "replies"), call->round);

	if (!reply)
		reply = get(profile, "reply");
	if (cJSON_IsString(reply))
		return strdup(reply->valuestring);
	return reply ? cJSON_PrintUnformatted(reply) : NULL;
}

char *cx_mock_answer(const struct cx_call *call)
{
	const cJSON *schema = get(call->request, "response_schema");
	char *text = scripted(call);
	uint64_t state = cx_prng_mix(CX_PRNG_SEED, call->member->id);

	if (text)
		return text;
	state = cx_prng_mix(state, call->round);
	state = cx_prng_mix(state, cx_prompt_user_text(call->request));
	if (schema) {
		cJSON *value = made(schema, &state, 0);
		text = value ? cJSON_PrintUnformatted(value) : NULL;
		cJSON_Delete(value);
		return text;
	}
	char prefix[CX_NAME_MAX + 2];
	snprintf(prefix, sizeof prefix, "%s:", call->member->id);
	return word_text(&state, prefix, bound(call->member->profile, "words", 24));
}
