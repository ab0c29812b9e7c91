#include "prompt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How a member's own answer appears among the answers it is shown. */
enum own { OWN_SHOWN, OWN_LEFT_OUT, OWN_MARKED };

typedef void shown_fn(FILE *f, const struct cx_prompt *p, const struct cx_member *member);

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

/* The answers of p->answers, each under its member id, leaving out members
 * that did not answer (or were eliminated). */
static void put_answers(FILE *f, const struct cx_prompt *p, const char *me, enum own own)
{
	const cJSON *result;
	int n = 0;
	cJSON_ArrayForEach(result, cJSON_GetObjectItemCaseSensitive(p->answers, "members")) {
		const cJSON *status = cJSON_GetObjectItemCaseSensitive(result, "status");
		const cJSON *response = cJSON_GetObjectItemCaseSensitive(result, "response");
		bool mine = !strcmp(result->string, me);
		if (!cJSON_IsString(response) || !cJSON_IsString(status) ||
		    strcmp(status->valuestring, "ok") || (mine && own == OWN_LEFT_OUT))
			continue;
		fprintf(f, "\n\n[%s%s]\n%s", result->string,
			mine && own == OWN_MARKED ? " (yours)" : "", response->valuestring);
		n++;
	}
	if (!n)
		fputs("\n\n(no answers)", f);
}

/* "winner ship; scores: ship 2, wait 1" */
static void put_aggregate(FILE *f, const char *heading, const cJSON *aggregate)
{
	const cJSON *winner = cJSON_GetObjectItemCaseSensitive(aggregate, "winner");
	const cJSON *score;
	const char *sep = "; scores: ";

	if (!aggregate)
		return;
	fprintf(f, "\n\n%s: winner %s", heading,
		cJSON_IsString(winner) ? winner->valuestring : "none");
	cJSON_ArrayForEach(score, cJSON_GetObjectItemCaseSensitive(aggregate, "scores")) {
		fprintf(f, "%s%s %.15g", sep, score->string, score->valuedouble);
		sep = ", ";
	}
}

/* Options as a list; answers each under its label. */
static void put_candidates(FILE *f, const cJSON *candidates)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, candidates) {
		const cJSON *label = cJSON_GetObjectItemCaseSensitive(c, "label");
		const cJSON *text = cJSON_GetObjectItemCaseSensitive(c, "text");
		if (cJSON_IsString(text))
			fprintf(f, "\n\n[%s]\n%s", label->valuestring, text->valuestring);
		else
			fprintf(f, "\n- %s", label->valuestring);
	}
}

static void shown_nothing(FILE *f, const struct cx_prompt *p, const struct cx_member *member)
{
	(void)f, (void)p, (void)member;
}

static void shown_others(FILE *f, const struct cx_prompt *p, const struct cx_member *member)
{
	fputs("\n\nThe other members of the council answered:", f);
	put_answers(f, p, member->id, OWN_LEFT_OUT);
}

static void shown_all_yours_marked(FILE *f, const struct cx_prompt *p,
				   const struct cx_member *member)
{
	fputs("\n\nThe members of the council answered:", f);
	put_answers(f, p, member->id, OWN_MARKED);
}

/* The chair sees the answers of the round before it only: that round (a
 * peer review, when the council has one) already reflects the earlier ones,
 * and the prompt stays bounded by the number of members. */
static void shown_all(FILE *f, const struct cx_prompt *p, const struct cx_member *member)
{
	fputs("\n\nThe members of the council answered:", f);
	put_answers(f, p, member->id, OWN_SHOWN);
	put_aggregate(f, "The council's ballot",
		      cJSON_GetObjectItemCaseSensitive(p->answers, "aggregate"));
}

static void shown_anonymized(FILE *f, const struct cx_prompt *p, const struct cx_member *member)
{
	(void)member;
	fputs("\n\nThe other members of the council answered (anonymized):", f);
	put_candidates(f, p->candidates);
}

static void shown_choices(FILE *f, const struct cx_prompt *p, const struct cx_member *member)
{
	const cJSON *first = cJSON_GetArrayItem(p->candidates, 0);
	(void)member;
	fputs(p->round->type == CX_ROUND_ROUTE ? "\n\nThe members, each under its id:"
	      : cJSON_GetObjectItemCaseSensitive(first, "text") ? "\n\nThe members answered:"
	      : "\n\nThe options:", f);
	put_candidates(f, p->candidates);
	put_aggregate(f, "The previous ballot", p->tally);
}

static void shown_pair(FILE *f, const struct cx_prompt *p, const struct cx_member *member)
{
	(void)member;
	fputs("\n\nTwo answers compete:", f);
	put_candidates(f, p->candidates);
}

#define BRIEF "\"rationale\": \"<why, in a sentence or two>\""

/* What each round type shows, asks, and the form of the answer when it must
 * be JSON (response_schema has the exact rules). An iterate round asks what
 * the round it repeats asks. */
static const struct {
	shown_fn *shown;
	const char *task;
	const char *form;
} asks[] = {
	[CX_ROUND_INDEPENDENT_ANALYSIS] = { shown_nothing, NULL, NULL },
	[CX_ROUND_PEER_REVIEW] = { shown_others,
		"Review their answers: where are they right, where are they wrong or "
		"incomplete? Then give your own revised answer.", NULL },
	[CX_ROUND_CRITIQUE] = { shown_all_yours_marked,
		"Critique every answer, yours included: name its errors, unsupported claims "
		"and omissions, the most serious first. Then give your improved answer.", NULL },
	[CX_ROUND_ANONYMIZED_PEER_REVIEW] = { shown_anonymized,
		"Rank these responses from best to worst on accuracy and insight.",
		"{\"ordering\": [<every response label, as written, best first>], " BRIEF "}" },
	[CX_ROUND_VOTE] = { shown_choices, "Vote for the best one.",
		"{\"choice\": \"<your choice, exactly as listed>\", " BRIEF ", "
		"\"confidence\": <a number from 0 to 1>}" },
	[CX_ROUND_RANKING] = { shown_choices, "Rank every one of them from best to worst.",
		"{\"ordering\": [<every one, exactly as listed, best first>], " BRIEF "}" },
	[CX_ROUND_PAIRWISE_ELIMINATION] = { shown_pair,
		"Which of the two answers the question better?",
		"{\"winner\": \"A\" or \"B\", " BRIEF "}" },
	[CX_ROUND_SYNTHESIS] = { shown_all, "Synthesize their answers into one final answer.",
		NULL },
	[CX_ROUND_ROUTE] = { shown_choices,
		"Choose the members of the council who should answer the question: those "
		"whose part it is.",
		"[<the id of each member who should answer, exactly as listed>]" },
};

static void user_text(FILE *f, const struct cx_prompt *p, const struct cx_member *member)
{
	enum cx_round_type t = p->round->type;

	put_question(f, p->input);
	asks[t].shown(f, p, member);
	if (asks[t].task)
		fprintf(f, "\n\n%s", asks[t].task);
	if (asks[t].form) {
		fprintf(f, "\n\nAnswer with JSON only, in this form:\n%s", asks[t].form);
	} else if (p->schema) {
		char *schema = cJSON_PrintUnformatted(p->schema);
		fprintf(f, "\n\nAnswer with JSON only, valid against this JSON Schema:\n%s",
			schema ? schema : "{}");
		free(schema);
	}
}

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
	user_text(f, p, member);
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
							  : cJSON_CreateNull()) &&
	     (!p->schema || cJSON_AddItemToObject(req, "response_schema",
						  cJSON_Duplicate(p->schema, true)));
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
