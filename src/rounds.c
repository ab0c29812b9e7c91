/* The round library: a table of round kinds, each planning the calls of a
 * pass and settling the pass into a result once they have answered, and
 * the iteration that repeats a kind for an iterate round. */
#include "rounds.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate.h"
#include "prng.h"
#include "prompt.h"
#include "router.h"

/* One pass: the calls made at once, and what settling them needs. */
struct pass {
	const cJSON *answers;       /* the result whose answers it works on, or NULL */
	const cJSON *last;          /* the round's previous pass, or NULL */
	int iteration;              /* 1.. in an iterate round, else 0 */
	struct cx_call **calls;
	size_t n_calls;
	cJSON *members;             /* {id: result} in seat order; null where a call answers */
	cJSON *names;               /* what ballots may name: options or member ids */
	cJSON *texts;               /* {name: the answer it stands for} when names are members */
	cJSON *label_to_id;         /* anonymized_peer_review */
	cJSON *pairs;               /* pairwise_elimination: [a, b] per call */
};

struct kind {
	int (*plan)(struct cx_round_run *r);
	void (*settle)(struct cx_round_run *r, cJSON *result);
	bool (*converged)(const struct pass *p, const cJSON *now);
	/* Iterated, it works on the answers of the round before the iterate
	 * round every time, not on its own previous pass's. */
	bool same_answers;
};

struct cx_round_run {
	struct cx_round_scene scene;
	const struct cx_round *round;   /* as listed */
	const struct cx_round *asked;   /* the round whose kind runs: an iterate's inner one */
	const struct kind *kind;
	const cJSON *before;
	struct pass pass;
	int passes;
	bool over, converged;
	cJSON *last;                    /* the last pass settled */
	cJSON *iterations;              /* iterate: every pass settled */
	cJSON *result;
};

/* ---- helpers ---- */

static const cJSON *get(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static const char *text_of(const cJSON *obj, const char *key)
{
	return cJSON_GetStringValue(get(obj, key));
}

/* The answer in a member result: its response when its status is ok. */
static const char *answer_of(const cJSON *result)
{
	const char *status = text_of(result, "status");
	return status && !strcmp(status, "ok") ? text_of(result, "response") : NULL;
}

static cJSON *winner_of(const cJSON *result)
{
	return cJSON_GetObjectItemCaseSensitive(get(result, "aggregate"), "winner");
}

/* A member result for someone not called in this pass. */
static cJSON *uncalled(const char *status, const char *response)
{
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "status", status);
	cJSON_AddItemToObject(r, "response", response ? cJSON_CreateString(response)
						      : cJSON_CreateNull());
	cJSON_AddNullToObject(r, "error");
	cJSON_AddNumberToObject(r, "attempts", 0);
	cJSON_AddNumberToObject(r, "duration_ms", 0);
	return r;
}

static cJSON *skipped(const char *reason)
{
	cJSON *r = uncalled("skipped", NULL);
	cJSON_AddStringToObject(r, "reason", reason);
	return r;
}

/* A member the router left out: its seat says so, and, as CouncilEx shows
 * it, a member_completed reports it skipped, in every round (and pass) it
 * would have sat in. */
static void route_out(struct cx_round_run *r, const struct cx_member *member)
{
	struct pass *p = &r->pass;
	cJSON *f = cJSON_CreateObject();

	if (!get(p->members, member->id))
		cJSON_AddItemToObject(p->members, member->id, skipped("router_excluded"));
	cJSON_AddStringToObject(f, "round", r->round->name);
	cJSON_AddStringToObject(f, "member", member->id);
	if (p->iteration)
		cJSON_AddNumberToObject(f, "iteration", p->iteration);
	cJSON_AddItemToObject(f, "result", skipped("router_excluded"));
	cx_emit(r->scene.env->em, CX_EV_MEMBER_COMPLETED, f);
}

/* A call for member, asking r->asked with these candidates and schema;
 * tags (taken) go on its events. Its seat in members is taken by its
 * result at settling. The chair, and a judge the round names, are never
 * routed out. */
static int add_call(struct cx_round_run *r, const struct cx_member *member,
		    const cJSON *candidates, const cJSON *schema, cJSON *tags)
{
	struct pass *p = &r->pass;
	if (member != r->scene.spec->chair && member != r->asked->judge &&
	    !cx_router_admits(r->scene.routed, member)) {
		cJSON_Delete(tags);
		route_out(r, member);
		return 0;
	}
	struct cx_prompt prompt = {
		.run_id = r->scene.run_id,
		.spec = r->scene.spec,
		.input = r->scene.input,
		.round = r->asked,
		.answers = p->answers,
		.candidates = candidates,
		.tally = get(p->last, "aggregate"),
		.schema = schema,
	};
	struct cx_call **calls = reallocarray(p->calls, p->n_calls + 1, sizeof *calls);
	struct cx_call *call = NULL;

	if (calls) {
		p->calls = calls;
		call = cx_call_new(r->scene.env, member, r->round->name,
				   cx_prompt_request(&prompt, member));
	}
	if (!call) {
		cJSON_Delete(tags);
		return -ENOMEM;
	}
	if (p->iteration) {
		if (!tags)
			tags = cJSON_CreateObject();
		cJSON_AddNumberToObject(tags, "iteration", p->iteration);
	}
	call->tags = tags;
	p->calls[p->n_calls++] = call;
	if (!get(p->members, member->id))
		cJSON_AddNullToObject(p->members, member->id);
	return 0;
}

/* The members' seats filled with their calls' results. */
static cJSON *take_members(struct pass *p)
{
	for (size_t i = 0; i < p->n_calls; i++)
		cJSON_ReplaceItemInObjectCaseSensitive(p->members, p->calls[i]->member->id,
						       cx_call_result(p->calls[i]));
	cJSON *members = p->members;
	p->members = NULL;
	return members;
}

static const cJSON *parsed_of(const struct cx_call *call)
{
	return call->ok ? get(call->details, "parsed") : NULL;
}

/* ---- members answering freely: independent_analysis, peer_review,
 * critique, synthesis ---- */

static int plan_answers(struct cx_round_run *r)
{
	const struct cx_spec *spec = r->scene.spec;
	/* The chair alone sits in the synthesis; every member in other rounds. */
	bool chair = r->asked->type == CX_ROUND_SYNTHESIS;
	size_t n = chair ? spec->chair != NULL : spec->n_members;
	const struct cx_member *members = chair ? spec->chair : spec->members;

	for (size_t i = 0; i < n; i++)
		if (add_call(r, &members[i], NULL, members[i].output_schema, NULL) < 0)
			return -ENOMEM;
	return 0;
}

static void settle_answers(struct cx_round_run *r, cJSON *result)
{
	cJSON *members = take_members(&r->pass);
	const cJSON *chair = r->scene.spec->chair ? get(members, r->scene.spec->chair->id) : NULL;

	cJSON_AddItemToObject(result, "members", members);
	if (r->asked->type == CX_ROUND_SYNTHESIS && answer_of(chair))
		cJSON_AddStringToObject(result, "final", answer_of(chair));
}

/* Every member answered as it did in the answers the pass worked on. */
static bool answers_unchanged(const struct pass *p, const cJSON *now)
{
	const cJSON *before = get(p->answers, "members"), *result;

	if (!before)
		return false;
	cJSON_ArrayForEach(result, get(now, "members")) {
		const char *reason = text_of(result, "reason");
		if (reason && !strcmp(reason, "router_excluded"))
			continue;  /* never asked, so never changes */
		const char *a = answer_of(result), *b = answer_of(get(before, result->string));
		if (!a || !b || strcmp(a, b))
			return false;
	}
	return true;
}

/* ---- ballots: vote, ranking, anonymized_peer_review ---- */

static cJSON *parse_schema(const char *json, const char *property, const cJSON *names)
{
	cJSON *schema = cJSON_Parse(json);
	cJSON *p = cJSON_GetObjectItemCaseSensitive(get(schema, "properties"), property);
	cJSON *target = cJSON_IsArray(get(p, "enum")) ? p : (cJSON *)get(p, "items");

	if (names && target)
		cJSON_ReplaceItemInObjectCaseSensitive(target, "enum", cJSON_Duplicate(names, true));
	return schema;
}

/* {choice, rationale, confidence}: the choice one of the names. */
static cJSON *vote_schema(const cJSON *names)
{
	return parse_schema("{\"type\":\"object\",\"required\":[\"choice\",\"rationale\","
			    "\"confidence\"],\"properties\":{\"choice\":{\"type\":\"string\","
			    "\"enum\":[]},\"rationale\":{\"type\":\"string\"},\"confidence\":"
			    "{\"type\":\"number\",\"minimum\":0,\"maximum\":1}}}", "choice", names);
}

/* {ordering, rationale}: the ordering every name once. */
static cJSON *ranking_schema(const cJSON *names)
{
	cJSON *schema = parse_schema("{\"type\":\"object\",\"required\":[\"ordering\","
				     "\"rationale\"],\"properties\":{\"ordering\":{\"type\":"
				     "\"array\",\"items\":{\"type\":\"string\",\"enum\":[]},"
				     "\"uniqueItems\":true},\"rationale\":{\"type\":\"string\"}}}",
				     "ordering", names);
	cJSON *ordering = (cJSON *)get(get(schema, "properties"), "ordering");
	cJSON_AddNumberToObject(ordering, "minItems", cJSON_GetArraySize(names));
	cJSON_AddNumberToObject(ordering, "maxItems", cJSON_GetArraySize(names));
	return schema;
}

static cJSON *ballot_schema(const struct cx_round_run *r, const cJSON *names)
{
	return r->asked->type == CX_ROUND_VOTE ? vote_schema(names) : ranking_schema(names);
}

static void add_candidate(cJSON *candidates, const char *label, const char *text)
{
	cJSON *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "label", label);
	if (text)
		cJSON_AddStringToObject(c, "text", text);
	cJSON_AddItemToArray(candidates, c);
}

/* The answering members of the answers worked on, in seat order, into
 * p->names and p->texts. */
static void gather_answers(struct pass *p)
{
	const cJSON *result;

	cJSON_ArrayForEach(result, get(p->answers, "members")) {
		if (!answer_of(result))
			continue;
		cJSON_AddItemToArray(p->names, cJSON_CreateString(result->string));
		cJSON_AddStringToObject(p->texts, result->string, answer_of(result));
	}
}

/* Every member votes or ranks the same candidates: the round's options,
 * else the answers worked on, under their members' ids. */
static int plan_choices(struct cx_round_run *r)
{
	struct pass *p = &r->pass;
	const struct cx_spec *spec = r->scene.spec;
	cJSON *candidates = cJSON_CreateArray();
	const cJSON *name;
	int rc = 0;

	if (r->asked->options)
		cJSON_ArrayForEach(name, r->asked->options)
			cJSON_AddItemToArray(p->names, cJSON_CreateString(name->valuestring));
	else
		gather_answers(p);
	cJSON_ArrayForEach(name, p->names)
		add_candidate(candidates, name->valuestring, text_of(p->texts, name->valuestring));
	cJSON *schema = ballot_schema(r, p->names);
	for (size_t i = 0; i < spec->n_members && rc == 0; i++) {
		if (cJSON_GetArraySize(p->names))
			rc = add_call(r, &spec->members[i], candidates, schema, NULL);
		else
			cJSON_AddItemToObject(p->members, spec->members[i].id,
					      skipped("there was nothing to choose from"));
	}
	cJSON_Delete(schema);
	cJSON_Delete(candidates);
	return rc;
}

/* "Response A".."Response Z", then "Response AA"... */
static void response_label(char *buf, size_t size, int i)
{
	if (i < 26)
		snprintf(buf, size, "Response %c", 'A' + i);
	else
		snprintf(buf, size, "Response %c%c", 'A' + i / 26 - 1, 'A' + i % 26);
}

/* The answers get one label each, the same for every member: labels are
 * dealt in an order shuffled from the run id and round name, so no label
 * says whose answer it is, and a rerun of the run deals them again alike.
 * Each member ranks the others' answers, never its own. */
static int plan_anonymized(struct cx_round_run *r)
{
	struct pass *p = &r->pass;
	const struct cx_spec *spec = r->scene.spec;
	uint64_t state = cx_prng_mix(cx_prng_mix(CX_PRNG_SEED, r->scene.run_id), r->round->name);
	const char *order[CX_SPEC_MAX_MEMBERS];
	int n = 0, rc = 0;
	char label[16];
	const cJSON *name;

	gather_answers(p);
	cJSON_ArrayForEach(name, p->names)
		order[n++] = name->valuestring;
	for (int i = n - 1; i > 0; i--) {
		int j = (int)(cx_prng_next(&state) % (uint64_t)(i + 1));
		const char *t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (int i = 0; i < n; i++) {
		response_label(label, sizeof label, i);
		cJSON_AddStringToObject(p->label_to_id, label, order[i]);
	}
	for (size_t m = 0; m < spec->n_members && rc == 0; m++) {
		const struct cx_member *member = &spec->members[m];
		cJSON *labels = cJSON_CreateArray(), *candidates = cJSON_CreateArray();
		const cJSON *entry;
		cJSON_ArrayForEach(entry, p->label_to_id) {
			if (!strcmp(entry->valuestring, member->id))
				continue;
			cJSON_AddItemToArray(labels, cJSON_CreateString(entry->string));
			add_candidate(candidates, entry->string,
				      text_of(p->texts, entry->valuestring));
		}
		if (cJSON_GetArraySize(labels)) {
			cJSON *schema = ranking_schema(labels);
			rc = add_call(r, member, candidates, schema, NULL);
			cJSON_Delete(schema);
		} else {
			cJSON_AddItemToObject(p->members, member->id,
					      skipped("there was no other answer to review"));
		}
		cJSON_Delete(labels);
		cJSON_Delete(candidates);
	}
	return rc;
}

/* An anonymized ballot's labels turned back into member ids. */
static cJSON *deanonymized(const cJSON *ballot, const cJSON *label_to_id)
{
	cJSON *copy = cJSON_Duplicate(ballot, true);
	cJSON *ordering = (cJSON *)get(copy, "ordering"), *label;

	cJSON_ArrayForEach(label, ordering) {
		const char *id = text_of(label_to_id, label->valuestring);
		if (id)
			cJSON_SetValuestring(label, id);
	}
	return copy;
}

static void settle_ballots(struct cx_round_run *r, cJSON *result)
{
	struct pass *p = &r->pass;
	cJSON *ballots = cJSON_CreateObject();

	for (size_t i = 0; i < p->n_calls; i++) {
		const cJSON *ballot = parsed_of(p->calls[i]);
		if (ballot)
			cJSON_AddItemToObject(ballots, p->calls[i]->member->id,
					      p->label_to_id ? deanonymized(ballot, p->label_to_id)
							     : cJSON_Duplicate(ballot, true));
	}
	cJSON *aggregate = cx_aggregate(r->asked->aggregator, ballots, p->names);
	const char *winner = cJSON_GetStringValue(get(aggregate, "winner"));
	const char *final = winner && text_of(p->texts, winner) ? text_of(p->texts, winner) : winner;

	cJSON_AddItemToObject(result, "members", take_members(p));
	cJSON_AddItemToObject(result, "aggregate", aggregate);
	if (p->label_to_id)
		cJSON_AddItemToObject(result, "label_to_id", cJSON_Duplicate(p->label_to_id, true));
	if (final)
		cJSON_AddStringToObject(result, "final", final);
	cJSON_Delete(ballots);
}

/* The same winner as the ballot before. */
static bool winner_stable(const struct pass *p, const cJSON *now)
{
	const cJSON *a = winner_of(now), *b = winner_of(p->last);
	return cJSON_IsString(a) && cJSON_IsString(b) && !strcmp(a->valuestring, b->valuestring);
}

/* ---- route: a router member chooses who takes part ---- */

/* The router member alone is asked, shown every member with its role, and
 * answers a JSON array of their ids: each once, at least one. */
static int plan_route(struct cx_round_run *r)
{
	const struct cx_spec *spec = r->scene.spec;
	cJSON *candidates = cJSON_CreateArray(), *ids = cJSON_CreateArray();
	cJSON *schema = cJSON_Parse("{\"type\":\"array\",\"minItems\":1,\"uniqueItems\":true,"
				    "\"items\":{\"type\":\"string\",\"enum\":[]}}");
	int rc = -ENOMEM;

	for (size_t i = 0; i < spec->n_members; i++) {
		const struct cx_member *m = &spec->members[i];
		add_candidate(candidates, m->id, *m->role ? m->role : "(no role given)");
		cJSON_AddItemToArray(ids, cJSON_CreateString(m->id));
	}
	cJSON *items = (cJSON *)get(schema, "items");
	if (items && cJSON_ReplaceItemInObjectCaseSensitive(items, "enum", ids)) {
		ids = NULL;
		rc = add_call(r, r->asked->judge, candidates, schema, NULL);
	}
	cJSON_Delete(ids);
	cJSON_Delete(schema);
	cJSON_Delete(candidates);
	return rc;
}

/* The round result's "selected": the ids the router member answered. */
static void settle_route(struct cx_round_run *r, cJSON *result)
{
	const cJSON *chosen = r->pass.n_calls ? parsed_of(r->pass.calls[0]) : NULL;

	cJSON_AddItemToObject(result, "members", take_members(&r->pass));
	if (chosen)
		cJSON_AddItemToObject(result, "selected", cJSON_Duplicate(chosen, true));
}

/* ---- pairwise_elimination ---- */

/* The contenders (members whose answer stands, in seat order) meet in
 * pairs, first with second, third with fourth...; an odd one out advances
 * unjudged. The judge sees the two answers as A and B. */
static int plan_pairs(struct cx_round_run *r)
{
	static const char judge_schema[] =
		"{\"type\":\"object\",\"required\":[\"winner\",\"rationale\"],\"properties\":"
		"{\"winner\":{\"type\":\"string\",\"enum\":[\"A\",\"B\"]},"
		"\"rationale\":{\"type\":\"string\"}}}";
	struct pass *p = &r->pass;
	cJSON *schema = cJSON_Parse(judge_schema);
	const cJSON *a, *b;
	int rc = 0;

	gather_answers(p);
	for (a = p->names->child; a && a->next && rc == 0; a = b->next) {
		b = a->next;
		cJSON *candidates = cJSON_CreateArray();
		add_candidate(candidates, "A", text_of(p->texts, a->valuestring));
		add_candidate(candidates, "B", text_of(p->texts, b->valuestring));
		const char *pair[] = { a->valuestring, b->valuestring };
		cJSON *tags = cJSON_CreateObject();
		cJSON_AddItemToObject(tags, "pair", cJSON_CreateStringArray(pair, 2));
		cJSON_AddItemToArray(p->pairs, cJSON_CreateStringArray(pair, 2));
		rc = add_call(r, r->asked->judge, candidates, schema, tags);
		cJSON_Delete(candidates);
	}
	cJSON_Delete(schema);
	return rc;
}

/* Where each contender stands after the judgements: the loser of a decided
 * pair is eliminated by its winner; everyone else advances. Members
 * eliminated in an earlier iteration stay so. */
static void settle_pairs(struct cx_round_run *r, cJSON *result)
{
	struct pass *p = &r->pass;
	cJSON *members = cJSON_CreateObject(), *judgements = cJSON_CreateArray();
	cJSON *eliminated_by = cJSON_CreateObject();
	cJSON *remaining = cJSON_CreateArray(), *eliminated = cJSON_CreateArray();
	const cJSON *seat;

	for (size_t i = 0; i < p->n_calls; i++) {
		const cJSON *pair = cJSON_GetArrayItem(p->pairs, (int)i);
		const char *verdict = text_of(parsed_of(p->calls[i]), "winner");
		const char *a = cJSON_GetArrayItem(pair, 0)->valuestring;
		const char *b = cJSON_GetArrayItem(pair, 1)->valuestring;
		const char *winner = !verdict ? NULL : !strcmp(verdict, "A") ? a : b;
		cJSON *j = cJSON_CreateObject();
		cJSON_AddItemToObject(j, "pair", cJSON_Duplicate(pair, true));
		cJSON_AddStringToObject(j, "judge", p->calls[i]->member->id);
		cJSON_AddItemToObject(j, "winner", winner ? cJSON_CreateString(winner)
							  : cJSON_CreateNull());
		cJSON_AddItemToObject(j, "result", cx_call_result(p->calls[i]));
		cJSON_AddItemToArray(judgements, j);
		if (winner)
			cJSON_AddStringToObject(eliminated_by, winner == a ? b : a, winner);
	}
	cJSON_ArrayForEach(seat, get(p->answers, "members")) {
		const char *status = text_of(seat, "status"), *by = text_of(eliminated_by, seat->string);
		cJSON *result_of_seat;
		if (answer_of(seat) && !by) {
			result_of_seat = uncalled("ok", answer_of(seat));
			cJSON_AddItemToArray(remaining, cJSON_CreateString(seat->string));
		} else if (by) {
			result_of_seat = uncalled("eliminated", answer_of(seat));
			cJSON_AddStringToObject(result_of_seat, "reason", "tournament_loss");
			cJSON_AddStringToObject(result_of_seat, "eliminated_by", by);
		} else if (status && !strcmp(status, "eliminated")) {
			result_of_seat = cJSON_Duplicate(seat, true);
		} else {
			continue;   /* it gave no answer to stand on */
		}
		if (!strcmp(text_of(result_of_seat, "status"), "eliminated"))
			cJSON_AddItemToArray(eliminated, cJSON_CreateString(seat->string));
		cJSON_AddItemToObject(members, seat->string, result_of_seat);
	}
	cJSON *aggregate = cJSON_CreateObject();
	const cJSON *only = cJSON_GetArraySize(remaining) == 1 ? remaining->child : NULL;
	cJSON_AddItemToObject(aggregate, "winner", only ? cJSON_CreateString(only->valuestring)
							: cJSON_CreateNull());
	cJSON_AddItemToObject(aggregate, "remaining", remaining);
	cJSON_AddItemToObject(aggregate, "eliminated", eliminated);
	cJSON_AddItemToObject(result, "members", members);
	cJSON_AddItemToObject(result, "aggregate", aggregate);
	cJSON_AddItemToObject(result, "judgements", judgements);
	if (only)
		cJSON_AddStringToObject(result, "final", text_of(p->texts, only->valuestring));
	cJSON_Delete(eliminated_by);
}

/* One contender left. */
static bool one_left(const struct pass *p, const cJSON *now)
{
	(void)p;
	return cJSON_IsString(winner_of(now));
}

static const struct kind kinds[] = {
	[CX_ROUND_INDEPENDENT_ANALYSIS] = { plan_answers, settle_answers, answers_unchanged, false },
	[CX_ROUND_PEER_REVIEW] = { plan_answers, settle_answers, answers_unchanged, false },
	[CX_ROUND_CRITIQUE] = { plan_answers, settle_answers, answers_unchanged, false },
	[CX_ROUND_SYNTHESIS] = { plan_answers, settle_answers, answers_unchanged, false },
	[CX_ROUND_ANONYMIZED_PEER_REVIEW] = { plan_anonymized, settle_ballots, winner_stable, true },
	[CX_ROUND_VOTE] = { plan_choices, settle_ballots, winner_stable, true },
	[CX_ROUND_RANKING] = { plan_choices, settle_ballots, winner_stable, true },
	[CX_ROUND_PAIRWISE_ELIMINATION] = { plan_pairs, settle_pairs, one_left, false },
	[CX_ROUND_ROUTE] = { plan_route, settle_route, answers_unchanged, false },
};

/* ---- the round ---- */

static void pass_clear(struct pass *p)
{
	for (size_t i = 0; i < p->n_calls; i++)
		cx_call_free(p->calls[i]);
	free(p->calls);
	cJSON_Delete(p->members);
	cJSON_Delete(p->names);
	cJSON_Delete(p->texts);
	cJSON_Delete(p->label_to_id);
	cJSON_Delete(p->pairs);
	*p = (struct pass){ 0 };
}

struct cx_round_run *cx_round_run_new(const struct cx_round_scene *scene,
				      const struct cx_round *round, const cJSON *before)
{
	struct cx_round_run *r = calloc(1, sizeof *r);

	if (!r)
		return NULL;
	r->scene = *scene;
	r->round = round;
	r->asked = round->type == CX_ROUND_ITERATE ? round->inner : round;
	r->kind = &kinds[r->asked->type];
	r->before = before;
	if (round->type == CX_ROUND_ITERATE && !(r->iterations = cJSON_CreateArray())) {
		free(r);
		return NULL;
	}
	return r;
}

void cx_round_run_free(struct cx_round_run *r)
{
	if (!r)
		return;
	pass_clear(&r->pass);
	cJSON_Delete(r->last);
	cJSON_Delete(r->iterations);
	cJSON_Delete(r->result);
	free(r);
}

static int plan(struct cx_round_run *r)
{
	struct pass *p = &r->pass;

	pass_clear(p);
	r->passes++;
	p->iteration = r->iterations ? r->passes : 0;
	p->last = r->last;
	p->answers = r->kind->same_answers || !r->last ? r->before : r->last;
	p->members = cJSON_CreateObject();
	p->names = cJSON_CreateArray();
	p->texts = cJSON_CreateObject();
	p->pairs = cJSON_CreateArray();
	if (r->asked->type == CX_ROUND_ANONYMIZED_PEER_REVIEW)
		p->label_to_id = cJSON_CreateObject();
	if (!p->members || !p->names || !p->texts || !p->pairs ||
	    (r->asked->type == CX_ROUND_ANONYMIZED_PEER_REVIEW && !p->label_to_id))
		return -ENOMEM;
	return r->kind->plan(r);
}

/* {round, type, ...}: the last pass, and for an iterate round what it
 * repeated, every pass and whether they converged. */
static void conclude(struct cx_round_run *r)
{
	cJSON *result = cJSON_CreateObject();

	cJSON_AddStringToObject(result, "round", r->round->name);
	cJSON_AddStringToObject(result, "type", cx_round_type_name(r->round->type));
	if (r->iterations) {
		cJSON_AddStringToObject(result, "repeats", cx_round_type_name(r->asked->type));
		cJSON_AddBoolToObject(result, "converged", r->converged);
		cJSON_AddItemToObject(result, "iterations", r->iterations);
		r->iterations = NULL;
	}
	while (r->last && r->last->child) {
		cJSON *item = cJSON_DetachItemViaPointer(r->last, r->last->child);
		if (!strcmp(item->string, "iteration"))
			cJSON_Delete(item);
		else
			cJSON_AddItemToObject(result, item->string, item);
	}
	r->result = result;
	r->over = true;
}

void cx_round_run_settle(struct cx_round_run *r, bool stop)
{
	struct pass *p = &r->pass;
	cJSON *now = cJSON_CreateObject();

	if (p->iteration)
		cJSON_AddNumberToObject(now, "iteration", p->iteration);
	r->kind->settle(r, now);
	r->converged = r->iterations && r->kind->converged(p, now);
	if (r->iterations)
		cJSON_AddItemToArray(r->iterations, cJSON_Duplicate(now, true));
	cJSON_Delete(r->last);
	r->last = now;
	pass_clear(p);
	if (stop || !r->iterations || r->converged || r->passes == r->round->max_iterations)
		conclude(r);
}

int cx_round_run_next(struct cx_round_run *r)
{
	while (!r->over) {
		int rc = plan(r);
		if (rc < 0)
			return rc;
		if (r->pass.n_calls)
			return (int)r->pass.n_calls;
		cx_round_run_settle(r, false);
	}
	return 0;
}

struct cx_call **cx_round_run_calls(const struct cx_round_run *r)
{
	return r->pass.calls;
}

cJSON *cx_round_run_result(struct cx_round_run *r)
{
	cJSON *result = r->result;
	r->result = NULL;
	return result;
}
