/* The rounds of a council spec: a table of fields shared by every round
 * type (each field names the types that take it), a table of what each
 * type works on and how it may aggregate, and the checks that span keys:
 * an aggregator that suits its round, an iterate round's inner round, a
 * pairwise_elimination's judge, and where a round may stand. */
#include "round_spec.h"

#include <stdio.h>
#include <string.h>

#include "aggregate.h"

#define ONLY(type) (1u << (type))
#define AGG(a) (1u << (a))
#define MAX_OPTION_BYTES 200
#define DEFAULT_ITERATIONS 3

static const char *const round_types[] = {
	[CX_ROUND_INDEPENDENT_ANALYSIS] = "independent_analysis",
	[CX_ROUND_PEER_REVIEW] = "peer_review",
	[CX_ROUND_SYNTHESIS] = "synthesis",
	[CX_ROUND_ANONYMIZED_PEER_REVIEW] = "anonymized_peer_review",
	[CX_ROUND_CRITIQUE] = "critique",
	[CX_ROUND_VOTE] = "vote",
	[CX_ROUND_RANKING] = "ranking",
	[CX_ROUND_ITERATE] = "iterate",
	[CX_ROUND_PAIRWISE_ELIMINATION] = "pairwise_elimination",
	NULL,
};

/* What a round works on: the question alone, or the answers of the round
 * before it (a vote or ranking with options of its own needs none). */
enum works_on { QUESTION, ANSWERS, ANSWERS_UNLESS_OPTIONS };

static const struct {
	enum works_on works_on;
	enum cx_aggregator aggregator;  /* its default, or NONE: it takes none */
	unsigned aggregators;           /* those it takes */
} kinds[] = {
	[CX_ROUND_INDEPENDENT_ANALYSIS] = { QUESTION, CX_AGGREGATOR_NONE, 0 },
	[CX_ROUND_PEER_REVIEW] = { ANSWERS, CX_AGGREGATOR_NONE, 0 },
	[CX_ROUND_SYNTHESIS] = { QUESTION, CX_AGGREGATOR_NONE, 0 },
	[CX_ROUND_ANONYMIZED_PEER_REVIEW] = { ANSWERS, CX_AGGREGATOR_BORDA,
		AGG(CX_AGGREGATOR_BORDA) | AGG(CX_AGGREGATOR_CONDORCET) },
	[CX_ROUND_CRITIQUE] = { ANSWERS, CX_AGGREGATOR_NONE, 0 },
	[CX_ROUND_VOTE] = { ANSWERS_UNLESS_OPTIONS, CX_AGGREGATOR_PLURALITY,
		AGG(CX_AGGREGATOR_PLURALITY) | AGG(CX_AGGREGATOR_CONFIDENCE_WEIGHTED) },
	[CX_ROUND_RANKING] = { ANSWERS_UNLESS_OPTIONS, CX_AGGREGATOR_BORDA,
		AGG(CX_AGGREGATOR_BORDA) | AGG(CX_AGGREGATOR_CONDORCET) },
	[CX_ROUND_ITERATE] = { QUESTION, CX_AGGREGATOR_NONE, 0 },
	[CX_ROUND_PAIRWISE_ELIMINATION] = { ANSWERS, CX_AGGREGATOR_NONE, 0 },
};

#define N_TYPES (sizeof kinds / sizeof kinds[0])

static const char *const failure_modes[] = {
	[CX_FAILURE_CONTINUE] = "continue",
	[CX_FAILURE_FAIL_FAST] = "fail_fast",
	NULL,
};

const char *cx_round_type_name(enum cx_round_type type)
{
	if (type == CX_ROUND_ROUTE)
		return "router";  /* no listed type: a spec cannot name it */
	return (size_t)type < N_TYPES ? round_types[type] : "unknown";
}

static void check_round_type(struct cx_check *c, const cJSON *item,
			     const char *path, void *dest)
{
	char shown[CX_SHOWN_MAX];

	if (!cx_expect_type(c, item, path, cJSON_IsString, "string"))
		return;
	int i = cx_word_index(round_types, item->valuestring);
	if (i >= 0)
		*(int *)dest = i;
	else
		cx_check_report(c, path, "unknown_round", "\"%s\" is not a round type",
				cx_shown(shown, item->valuestring));
}

static void check_options(struct cx_check *c, const cJSON *item, const char *path,
			  void *dest)
{
	static const struct cx_field option = {
		.kind = CX_FIELD_STRING, .min = 1, .max = MAX_OPTION_BYTES,
	};
	char at[CX_PATH_MAX], shown[CX_SHOWN_MAX];
	size_t i = 0;

	if (!cx_expect_type(c, item, path, cJSON_IsArray, "array"))
		return;
	size_t n = cx_check_count(c, item, path, 2, CX_SPEC_MAX_OPTIONS);
	for (const cJSON *o = item->child; i < n; o = o->next, i++) {
		cx_path_index(at, path, i);
		cx_check_value(c, &option, o, at, NULL);
		for (const cJSON *p = item->child; cJSON_IsString(o) && p != o; p = p->next)
			if (cJSON_IsString(p) && !strcmp(p->valuestring, o->valuestring)) {
				cx_check_report(c, at, "invalid_value", "\"%s\" is listed twice",
						cx_shown(shown, o->valuestring));
				break;
			}
	}
	*(const cJSON **)dest = item;
}

#define BALLOTS (ONLY(CX_ROUND_VOTE) | ONLY(CX_ROUND_RANKING))

static const struct cx_field round_fields[] = {
	{ .key = "type", .kind = CX_FIELD_CUSTOM, .required = true,
	  .check = check_round_type, CX_KEEP(struct cx_round_draft, type) },
	{ .key = "name", .kind = CX_FIELD_NAME, CX_KEEP(struct cx_round_draft, name) },
	{ .key = "failure_mode", .kind = CX_FIELD_WORD, .words = failure_modes,
	  CX_KEEP(struct cx_round_draft, failure_mode) },
	{ .key = "aggregator", .kind = CX_FIELD_STRING,
	  .only = BALLOTS | ONLY(CX_ROUND_ANONYMIZED_PEER_REVIEW) },
	{ .key = "options", .kind = CX_FIELD_CUSTOM, .check = check_options, .only = BALLOTS,
	  CX_KEEP(struct cx_round_draft, options) },
	{ .key = "max_iterations", .kind = CX_FIELD_INT, .min = 1, .max = CX_SPEC_MAX_ITERATIONS,
	  .only = ONLY(CX_ROUND_ITERATE), CX_KEEP(struct cx_round_draft, max_iterations) },
	{ .key = "round", .kind = CX_FIELD_OBJECT, .only = ONLY(CX_ROUND_ITERATE),
	  CX_KEEP(struct cx_round_draft, inner_json) },
	{ .key = "judge", .kind = CX_FIELD_NAME, .only = ONLY(CX_ROUND_PAIRWISE_ELIMINATION),
	  CX_KEEP(struct cx_round_draft, judge) },
};

/* The aggregator named (already checked to be a string) must be one the
 * round's type takes. */
static void check_aggregator(struct cx_check *c, const cJSON *round, const char *path,
			     struct cx_round_draft *d)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(round, "aggregator");
	char at[CX_PATH_MAX], shown[CX_SHOWN_MAX], list[128] = "";

	if (!cJSON_IsString(item) || d->type < 0 || !kinds[d->type].aggregators)
		return;   /* a type without aggregators: unknown_key already said so */
	for (int a = CX_AGGREGATOR_PLURALITY; a <= CX_AGGREGATOR_CONDORCET; a++) {
		if (!(kinds[d->type].aggregators & AGG(a)))
			continue;
		if (!strcmp(item->valuestring, cx_aggregator_name(a))) {
			d->aggregator = a;
			return;
		}
		strlcat(list, list[0] ? ", " : "", sizeof list);
		strlcat(list, cx_aggregator_name(a), sizeof list);
	}
	cx_path_key(at, path, "aggregator");
	cx_check_report(c, at, "invalid_value", "\"%s\" is not an aggregator of %s rounds: %s",
			cx_shown(shown, item->valuestring), round_types[d->type], list);
}

/* A pairwise_elimination's judge: the member named, else the chair. */
static void check_judge(struct cx_check *c, const char *path, const struct cx_round_place *p,
			const struct cx_round_draft *d)
{
	char at[CX_PATH_MAX], shown[CX_SHOWN_MAX];

	cx_path_key(at, path, "judge");
	if (!d->judge) {
		if (!p->has_chair)
			cx_check_report(c, at, "missing_key",
					"no judge named, and no chair to judge");
		return;
	}
	for (size_t i = 0; i < p->n_ids; i++)
		if (p->ids[i] && !strcmp(p->ids[i], d->judge))
			return;
	cx_check_report(c, at, "unknown_member", "\"%s\" is not a member or the chair",
			cx_shown(shown, d->judge));
}

/* The chair synthesizes, and synthesis ends a council. A round working on
 * answers needs a round before it to give them. */
static void check_place(struct cx_check *c, const char *path, const struct cx_round_place *p,
			const struct cx_round_draft *d)
{
	char at[CX_PATH_MAX];
	const char *type = round_types[d->type];

	cx_path_key(at, path, "type");
	if (d->type == CX_ROUND_SYNTHESIS) {
		if (!p->has_chair)
			cx_check_report(c, at, "chair_required", "a synthesis round needs a chair");
		if (p->idx + 1 != p->listed)
			cx_check_report(c, at, "misplaced_round", "synthesis must be the last round");
	}
	if (p->idx > 0)
		return;
	if (kinds[d->type].works_on == ANSWERS)
		cx_check_report(c, at, "misplaced_round",
				"a %s round works on the answers of an earlier round: "
				"it cannot come first", type);
	if (kinds[d->type].works_on == ANSWERS_UNLESS_OPTIONS && !d->options) {
		cx_path_key(at, path, "options");
		cx_check_report(c, at, "missing_key",
				"a %s round that comes first has no answers to choose from: "
				"list its options", type);
	}
}

/* An iterate round repeats one round of another type, whose name and
 * failure mode are the iterate round's. */
static void check_inner(struct cx_check *c, const char *path, const struct cx_round_draft *d)
{
	static const char *const outer_keys[] = { "name", "failure_mode" };
	char at[CX_PATH_MAX];

	cx_path_key(at, path, "type");
	if (d->type == CX_ROUND_ITERATE || d->type == CX_ROUND_SYNTHESIS)
		cx_check_report(c, at, "misplaced_round", "an iterate round cannot repeat a %s round",
				round_types[d->type]);
	for (size_t i = 0; i < sizeof outer_keys / sizeof outer_keys[0]; i++) {
		if (!cJSON_GetObjectItemCaseSensitive(d->inner_json, outer_keys[i]))
			continue;
		cx_path_key(at, path, outer_keys[i]);
		cx_check_report(c, at, "invalid_value",
				"the repeated round takes the iterate round's %s: set it there",
				outer_keys[i]);
	}
}

static void check_at(struct cx_check *c, const cJSON *item, const char *path,
		     const struct cx_round_place *place, struct cx_round_draft *d,
		     struct cx_round_draft *inner, bool is_inner)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(item, "type");
	int t = cJSON_IsString(type) ? cx_word_index(round_types, type->valuestring) : -1;
	char what[48] = "a round", at[CX_PATH_MAX];

	if (t >= 0)
		snprintf(what, sizeof what, "a %s round", round_types[t]);
	struct cx_shape shape = {
		round_fields, sizeof round_fields / sizeof round_fields[0],
		t < 0 ? 0 : ONLY(t), what,
	};
	*d = (struct cx_round_draft){ .type = -1, .aggregator = -1 };
	if (!cx_check_object(c, item, path, &shape, d) || d->type < 0)
		return;
	check_aggregator(c, item, path, d);
	if (is_inner) {
		d->inner_json = item;
		check_inner(c, path, d);
		d->inner_json = NULL;
	}
	if (d->type == CX_ROUND_PAIRWISE_ELIMINATION)
		check_judge(c, path, place, d);
	if (d->type != CX_ROUND_ITERATE) {
		if (!is_inner || d->type != CX_ROUND_SYNTHESIS)
			check_place(c, path, place, d);
		return;
	}
	cx_path_key(at, path, "round");
	if (!d->inner_json) {
		cx_check_report(c, at, "missing_key", "an iterate round needs the round it repeats");
		return;
	}
	d->inner = inner;
	check_at(c, d->inner_json, at, place, inner, NULL, true);
}

void cx_round_check(struct cx_check *c, const cJSON *item, const char *path,
		    const struct cx_round_place *place, struct cx_round_draft *d,
		    struct cx_round_draft *inner)
{
	check_at(c, item, path, place, d, inner, false);
}

static const struct cx_member *judge_of(const struct cx_round_draft *d,
					const struct cx_member *members, size_t n,
					const struct cx_member *chair)
{
	if (d->type != CX_ROUND_PAIRWISE_ELIMINATION)
		return NULL;
	for (size_t i = 0; d->judge && i < n; i++)
		if (!strcmp(members[i].id, d->judge))
			return &members[i];
	return chair;
}

void cx_round_build(const struct cx_round_draft *d, struct cx_round *out, struct cx_round *inner,
		    const struct cx_member *members, size_t n_members,
		    const struct cx_member *chair)
{
	*out = (struct cx_round){
		.type = d->type,
		.name = d->name ? d->name : round_types[d->type],
		.failure_mode = d->failure_mode,
		.aggregator = d->aggregator >= 0 ? (enum cx_aggregator)d->aggregator
						 : kinds[d->type].aggregator,
		.options = d->options,
		.max_iterations = d->max_iterations ? d->max_iterations : DEFAULT_ITERATIONS,
		.judge = judge_of(d, members, n_members, chair),
	};
	if (d->inner) {
		cx_round_build(d->inner, inner, NULL, members, n_members, chair);
		inner->name = out->name;
		inner->failure_mode = out->failure_mode;
		out->inner = inner;
	}
}
