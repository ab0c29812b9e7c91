#include "prompt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void user_text_fn(FILE *f, const struct cx_prompt *p, const struct cx_member *member);

/* input.question when the input is an object with a string "question",
 * else the input's JSON text. */
static void put_question(FILE *f, const cJSON *input)
{
	const cJSON *q = cJSON_GetObjectItemCaseSensitive(input, "question");
	if (cJSON_IsObject(input) && cJSON_IsString(q)) {
		fputs(q->valuestring, f);
		return;
	}
	char *json = input ? cJSON_PrintUnformatted(input) : NULL;
	fputs(json ? json : "null", f);
	free(json);
}

/* The answers of the previous round, each under its member id, leaving out
 * skip's own and members that did not answer. */
static void put_answers(FILE *f, const cJSON *prev, const char *skip)
{
	const cJSON *result;
	int n = 0;
	cJSON_ArrayForEach(result, prev) {
		const cJSON *response = cJSON_GetObjectItemCaseSensitive(result, "response");
		if (!cJSON_IsString(response) || (skip && !strcmp(result->string, skip)))
			continue;
		fprintf(f, "\n\n[%s]\n%s", result->string, response->valuestring);
		n++;
	}
	if (!n)
		fputs("\n\n(no answers)", f);
}

static void independent_analysis(FILE *f, const struct cx_prompt *p,
				 const struct cx_member *member)
{
	(void)member;
	put_question(f, p->input);
}

static void peer_review(FILE *f, const struct cx_prompt *p, const struct cx_member *member)
{
	put_question(f, p->input);
	fputs("\n\nThe other members of the council answered:", f);
	put_answers(f, p->prev, member->id);
	fputs("\n\nReview their answers: where are they right, where are they wrong "
	      "or incomplete? Then give your own revised answer.", f);
}

/* The chair sees the answers of the round before it only: that round (a
 * peer review, when the council has one) already reflects the earlier ones,
 * and the prompt stays bounded by the number of members. */
static void synthesis(FILE *f, const struct cx_prompt *p, const struct cx_member *member)
{
	(void)member;
	put_question(f, p->input);
	fputs("\n\nThe members of the council answered:", f);
	put_answers(f, p->prev, NULL);
	fputs("\n\nSynthesize their answers into one final answer.", f);
}

static user_text_fn *const user_text[] = {
	[CX_ROUND_INDEPENDENT_ANALYSIS] = independent_analysis,
	[CX_ROUND_PEER_REVIEW] = peer_review,
	[CX_ROUND_SYNTHESIS] = synthesis,
};

static bool add_message(cJSON *messages, const char *role, const char *content)
{
	cJSON *m = cJSON_CreateObject();
	if (!cJSON_AddItemToArray(messages, m)) {
		cJSON_Delete(m);
		return false;
	}
	return cJSON_AddStringToObject(m, "role", role) &&
	       cJSON_AddStringToObject(m, "content", content);
}

cJSON *cx_prompt_request(const struct cx_prompt *p, const struct cx_member *member)
{
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return NULL;
	user_text[p->round->type](f, p, member);
	bool ok = !ferror(f);
	if (fclose(f) != 0)
		ok = false;

	cJSON *req = ok ? cJSON_CreateObject() : NULL;
	cJSON *messages = NULL;
	ok = req && cJSON_AddStringToObject(req, "run_id", p->run_id) &&
	     cJSON_AddStringToObject(req, "council", p->spec->id) &&
	     cJSON_AddStringToObject(req, "round", p->round->name) &&
	     cJSON_AddStringToObject(req, "member", member->id) &&
	     cJSON_AddStringToObject(req, "role", member->role) &&
	     cJSON_AddStringToObject(req, "system_prompt", member->system_prompt) &&
	     (messages = cJSON_AddArrayToObject(req, "messages")) &&
	     (!*member->system_prompt || add_message(messages, "system", member->system_prompt)) &&
	     add_message(messages, "user", text) &&
	     cJSON_AddItemToObject(req, "input", p->input ? cJSON_Duplicate(p->input, true)
							  : cJSON_CreateNull());
	free(text);
	if (!ok) {
		cJSON_Delete(req);
		return NULL;
	}
	return req;
}

const char *cx_prompt_user_text(const cJSON *request)
{
	const cJSON *messages = cJSON_GetObjectItemCaseSensitive(request, "messages");
	const cJSON *last = cJSON_GetArrayItem(messages, cJSON_GetArraySize(messages) - 1);
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(last, "content");
	return cJSON_IsString(content) ? content->valuestring : "";
}
