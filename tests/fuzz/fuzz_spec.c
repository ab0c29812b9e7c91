/* The council spec and the run input, as a start request brings them
 * (docs/spec.md): cx_spec_parse reports every finding or builds a spec that
 * keeps the documented limits, and a spec it builds yields every member's
 * request in every round, as the worker asks it. The same bytes, as a run's
 * input, go through cx_input_parse. */
#include <string.h>

#include "council/ids.h"
#include "council/spec.h"
#include "fuzz.h"
#include "prompt.h"

static void check_diags(const struct cx_diags *diags)
{
	for (size_t i = 0; i < diags->n; i++) {
		const struct cx_diag *d = &diags->v[i];
		FUZZ_ASSERT(*d->path && *d->code && *d->message);
	}
}

static void check_member(const struct cx_member *m)
{
	FUZZ_ASSERT(m->id && cx_name_valid(m->id));
	FUZZ_ASSERT(m->role && m->system_prompt && m->profile);
	FUZZ_ASSERT(m->retry.max_attempts >= 1 && m->retry.base_ms >= 0 && m->timeout_ms >= 1);
	FUZZ_ASSERT(strcmp(cx_provider_name(m->provider), "unknown"));
}

/* What the worker asks each member: every round, with every member's
 * answer in the round before (the round result's "members"). */
static void ask_everyone(const struct cx_spec *spec, const cJSON *input)
{
	cJSON *prev = cJSON_CreateObject(), *answers = cJSON_AddObjectToObject(prev, "members");
	for (size_t i = 0; i < spec->n_members; i++)
		cJSON_AddItemToObject(cJSON_AddObjectToObject(answers, spec->members[i].id), "response",
				      cJSON_CreateString("an answer"));
	for (size_t r = 0; r < spec->n_rounds; r++) {
		const struct cx_round *round = &spec->rounds[r];
		struct cx_prompt p = { .run_id = "01FUZZ", .spec = spec, .input = input,
				       .round = round, .answers = r ? prev : NULL };
		bool chair = round->type == CX_ROUND_SYNTHESIS;
		const struct cx_member *who = chair ? spec->chair : spec->members;
		size_t n = chair ? 1 : spec->n_members;
		FUZZ_ASSERT(who);
		for (size_t i = 0; i < n; i++) {
			cJSON *req = cx_prompt_request(&p, &who[i]);
			FUZZ_ASSERT(req);
			char *text = cJSON_PrintUnformatted(req);
			FUZZ_ASSERT(text && *cx_prompt_user_text(req));
			free(text);
			cJSON_Delete(req);
		}
	}
	cJSON_Delete(prev);
}

static void check_spec(const struct cx_spec *spec, const cJSON *input)
{
	FUZZ_ASSERT(spec->id && cx_name_valid(spec->id) && spec->name);
	FUZZ_ASSERT(spec->n_members >= 1 && spec->n_members <= CX_SPEC_MAX_MEMBERS);
	FUZZ_ASSERT(spec->n_rounds >= 1 && spec->n_rounds <= CX_SPEC_MAX_ROUNDS + 1);
	for (size_t i = 0; i < spec->n_members; i++)
		check_member(&spec->members[i]);
	if (spec->chair)
		check_member(spec->chair);
	for (size_t r = 0; r < spec->n_rounds; r++) {
		const struct cx_round *round = &spec->rounds[r];
		FUZZ_ASSERT(round->name && *round->name);
		/* Synthesis is the chair's, and only ever last. */
		FUZZ_ASSERT(round->type != CX_ROUND_SYNTHESIS || (spec->chair && r == spec->n_rounds - 1));
	}
	ask_everyone(spec, input);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cx_diags diags = { 0 };
	struct cx_spec *spec = NULL;
	int r = cx_spec_parse((const char *)data, size, &spec, &diags);
	FUZZ_ASSERT(r == CX_OK || r == CX_EINVALID);
	FUZZ_ASSERT((r == CX_OK) == (spec != NULL) && (r == CX_OK) == (diags.n == 0));
	check_diags(&diags);
	cx_diags_free(&diags);

	/* The input arrives as text without NULs (the request's "input",
	 * printed again): up to the first NUL, as a C string. */
	char *text = strndup((const char *)data, size);
	cJSON *input = NULL;
	int q = cx_input_parse(text, &input, &diags);
	FUZZ_ASSERT((q == CX_OK) == (input != NULL) && (q == CX_OK) == (diags.n == 0));
	check_diags(&diags);
	cx_diags_free(&diags);
	free(text);

	if (spec)
		check_spec(spec, input);
	cx_spec_free(spec);
	cJSON_Delete(input);
	return 0;
}
