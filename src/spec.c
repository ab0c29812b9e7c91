/* The council spec (DESIGN §6): parse, check every key against a table of
 * fields, report every finding, and build the typed spec only when there is
 * none. Profiles are profile.c's business. */
#include "council/spec.h"
#include "council/ids.h"
#include "profile.h"
#include "shape.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the spec ---- */

static const char *const round_types[] = {
	[CX_ROUND_INDEPENDENT_ANALYSIS] = "independent_analysis",
	[CX_ROUND_PEER_REVIEW] = "peer_review",
	[CX_ROUND_SYNTHESIS] = "synthesis",
	NULL,
};

/* CouncilEx's other built-in rounds. */
static const char *const rounds_not_built_yet[] = {
	"anonymized_peer_review", "critique", "vote", "ranking", "iterate",
	"pairwise_elimination", NULL,
};

static const char *const failure_modes[] = {
	[CX_FAILURE_CONTINUE] = "continue",
	[CX_FAILURE_FAIL_FAST] = "fail_fast",
	NULL,
};

struct member_draft {
	struct cx_member m;
	const cJSON *profile;  /* the member's own */
	char path[CX_PATH_MAX];
};

struct round_draft {
	int type;              /* an enum cx_round_type, or -1 */
	const char *name;      /* NULL: the type's name */
	int failure_mode;
};

struct spec_draft {
	const char *id, *name;
	const cJSON *default_profile, *members, *rounds, *chair;
	struct member_draft member[CX_SPEC_MAX_MEMBERS], chair_member;
	size_t n_members;
	struct round_draft round[CX_SPEC_MAX_ROUNDS];
	size_t n_rounds;
};

/* What cx_spec_free frees besides the struct cx_spec it begins with. */
struct spec_box {
	struct cx_spec spec;
	struct cx_member chair;
	cJSON *profiles;       /* an array owning the merged profiles */
};

static void check_retry(struct cx_check *c, const cJSON *item, const char *path,
			void *dest)
{
	static const struct cx_field fields[] = {
		{ .key = "max", .kind = CX_FIELD_INT, .min = 1, .max = 10,
		  CX_KEEP(struct cx_retry, max_attempts) },
		{ .key = "base_ms", .kind = CX_FIELD_INT, .min = 0, .max = 60000,
		  CX_KEEP(struct cx_retry, base_ms) },
	};
	static const struct cx_shape shape = { fields, 2, 0, "retry" };

	cx_check_object(c, item, path, &shape, dest);
}

static void check_round_type(struct cx_check *c, const cJSON *item,
			     const char *path, void *dest)
{
	char shown[CX_SHOWN_MAX];

	if (!cx_expect_type(c, item, path, cJSON_IsString, "string"))
		return;
	const char *type = item->valuestring;
	int i = cx_word_index(round_types, type);
	if (i >= 0)
		*(int *)dest = i;
	else if (cx_word_index(rounds_not_built_yet, type) >= 0)
		cx_check_report(c, path, "unsupported_round",
				"\"%s\" is not available in this build yet", type);
	else
		cx_check_report(c, path, "unknown_round",
				"\"%s\" is not a round type", cx_shown(shown, type));
}

static const struct cx_field spec_fields[] = {
	{ .key = "id", .kind = CX_FIELD_NAME, .required = true,
	  CX_KEEP(struct spec_draft, id) },
	{ .key = "name", .kind = CX_FIELD_STRING, CX_KEEP(struct spec_draft, name) },
	{ .key = "description", .kind = CX_FIELD_STRING },
	{ .key = "default_profile", .kind = CX_FIELD_OBJECT,
	  CX_KEEP(struct spec_draft, default_profile) },
	{ .key = "members", .kind = CX_FIELD_ARRAY, .required = true, .min = 1,
	  .max = CX_SPEC_MAX_MEMBERS, CX_KEEP(struct spec_draft, members) },
	{ .key = "rounds", .kind = CX_FIELD_ARRAY, .required = true, .min = 1,
	  .max = CX_SPEC_MAX_ROUNDS, CX_KEEP(struct spec_draft, rounds) },
	{ .key = "chair", .kind = CX_FIELD_OBJECT, CX_KEEP(struct spec_draft, chair) },
	{ .key = "metadata", .kind = CX_FIELD_OBJECT },
};

static const struct cx_field member_fields[] = {
	{ .key = "id", .kind = CX_FIELD_NAME, .required = true,
	  CX_KEEP(struct member_draft, m.id) },
	{ .key = "role", .kind = CX_FIELD_STRING, CX_KEEP(struct member_draft, m.role) },
	{ .key = "system_prompt", .kind = CX_FIELD_STRING, .max = CX_SPEC_MAX_PROMPT,
	  CX_KEEP(struct member_draft, m.system_prompt) },
	{ .key = "profile", .kind = CX_FIELD_OBJECT,
	  CX_KEEP(struct member_draft, profile) },
	{ .key = "retry", .kind = CX_FIELD_CUSTOM, .check = check_retry,
	  CX_KEEP(struct member_draft, m.retry) },
	{ .key = "timeout_ms", .kind = CX_FIELD_INT, .min = 1, .max = 3600000,
	  CX_KEEP(struct member_draft, m.timeout_ms) },
	{ .key = "stream", .kind = CX_FIELD_BOOL, CX_KEEP(struct member_draft, m.stream) },
	{ .key = "metadata", .kind = CX_FIELD_OBJECT },
};

static const struct cx_field round_fields[] = {
	{ .key = "type", .kind = CX_FIELD_CUSTOM, .required = true,
	  .check = check_round_type, CX_KEEP(struct round_draft, type) },
	{ .key = "name", .kind = CX_FIELD_NAME, CX_KEEP(struct round_draft, name) },
	{ .key = "failure_mode", .kind = CX_FIELD_WORD, .words = failure_modes,
	  CX_KEEP(struct round_draft, failure_mode) },
};

#define SHAPE(fields, what) { fields, sizeof fields / sizeof fields[0], 0, what }

static const struct cx_shape spec_shape = SHAPE(spec_fields, "the spec");
static const struct cx_shape member_shape = SHAPE(member_fields, "a member");
static const struct cx_shape chair_shape = SHAPE(member_fields, "the chair");
static const struct cx_shape round_shape = SHAPE(round_fields, "a round");

/* A member or the chair; path is "members[i]" or "chair". */
static void check_member(struct cx_check *c, const struct cx_shape *shape,
			 const cJSON *item, const char *path,
			 const cJSON *defaults, struct member_draft *d)
{
	*d = (struct member_draft){
		.m = { .role = "", .system_prompt = "",
		       .retry = { .max_attempts = 2, .base_ms = 1000 },
		       .timeout_ms = 60000, .stream = true },
	};
	strlcpy(d->path, path, sizeof d->path);
	if (cx_check_object(c, item, path, shape, d))
		cx_profile_check_member(c, defaults, d->profile, path, &d->m.provider);
}

/* The members, then the chair: same keys, same checks. */
static void check_members(struct cx_check *c, struct spec_draft *d)
{
	char path[CX_PATH_MAX];
	const cJSON *item;

	cJSON_ArrayForEach(item, d->members) {
		if (d->n_members == CX_SPEC_MAX_MEMBERS)
			break;
		cx_path_index(path, "members", d->n_members);
		check_member(c, &member_shape, item, path, d->default_profile,
			     &d->member[d->n_members++]);
	}
	if (d->chair)
		check_member(c, &chair_shape, d->chair, "chair",
			     d->default_profile, &d->chair_member);
}

/* Member ids, the chair's included, name members in events: one each. */
static void check_unique_ids(struct cx_check *c, const struct spec_draft *d)
{
	const struct member_draft *all[CX_SPEC_MAX_MEMBERS + 1];
	size_t n = 0;
	char at[CX_PATH_MAX], shown[CX_SHOWN_MAX];

	for (size_t i = 0; i < d->n_members; i++)
		all[n++] = &d->member[i];
	if (d->chair)
		all[n++] = &d->chair_member;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; all[i]->m.id && j < i; j++) {
			if (!all[j]->m.id || strcmp(all[i]->m.id, all[j]->m.id))
				continue;
			cx_path_key(at, all[i]->path, "id");
			cx_check_report(c, at, "duplicate_id",
					"\"%s\" is already the id of %s",
					cx_shown(shown, all[i]->m.id), all[j]->path);
			break;
		}
	}
}

/* The chair synthesizes, and synthesis ends a council. */
static void check_synthesis(struct cx_check *c, const char *path,
			    bool has_chair, bool last)
{
	char at[CX_PATH_MAX];

	cx_path_key(at, path, "type");
	if (!has_chair)
		cx_check_report(c, at, "chair_required",
				"a synthesis round needs a chair");
	if (!last)
		cx_check_report(c, at, "misplaced_round",
				"synthesis must be the last round");
}

static void check_rounds(struct cx_check *c, const cJSON *json,
			 struct spec_draft *d)
{
	bool has_chair = cJSON_GetObjectItemCaseSensitive(json, "chair");
	size_t listed = (size_t)cJSON_GetArraySize(d->rounds);
	char path[CX_PATH_MAX];
	const cJSON *item;

	cJSON_ArrayForEach(item, d->rounds) {
		if (d->n_rounds == CX_SPEC_MAX_ROUNDS)
			break;
		struct round_draft *r = &d->round[d->n_rounds];
		*r = (struct round_draft){ .type = -1 };
		cx_path_index(path, "rounds", d->n_rounds++);
		if (cx_check_object(c, item, path, &round_shape, r) &&
		    r->type == CX_ROUND_SYNTHESIS)
			check_synthesis(c, path, has_chair, d->n_rounds == listed);
	}
}

static void check_spec(struct cx_check *c, const cJSON *json, struct spec_draft *d)
{
	*d = (struct spec_draft){ .name = "" };
	if (!cx_check_object(c, json, "", &spec_shape, d))
		return;
	cx_profile_check_defaults(c, d->default_profile);
	check_members(c, d);
	check_unique_ids(c, d);
	check_rounds(c, json, d);
}

/* ---- building ---- */

static bool build_member(struct spec_box *box, const struct member_draft *d,
			 const cJSON *defaults, struct cx_member *out)
{
	cJSON *merged = cx_profile_merge(defaults, d->profile);

	if (!merged)
		return false;
	cJSON_AddItemToArray(box->profiles, merged);
	*out = d->m;
	out->profile = merged;
	return true;
}

static void build_rounds(struct cx_spec *s, const struct spec_draft *d)
{
	for (size_t i = 0; i < d->n_rounds; i++) {
		const struct round_draft *r = &d->round[i];
		s->rounds[i] = (struct cx_round){
			.type = r->type,
			.name = r->name ? r->name : cx_round_type_name(r->type),
			.failure_mode = r->failure_mode,
		};
	}
	s->n_rounds = d->n_rounds;
	if (s->chair && s->rounds[s->n_rounds - 1].type != CX_ROUND_SYNTHESIS)
		s->rounds[s->n_rounds++] = (struct cx_round){
			.type = CX_ROUND_SYNTHESIS,
			.name = cx_round_type_name(CX_ROUND_SYNTHESIS),
			.failure_mode = CX_FAILURE_FAIL_FAST,
		};
}

/* Takes json: on failure it is freed. */
static int build_spec(const struct spec_draft *d, cJSON *json, struct cx_spec **out)
{
	struct spec_box *box = calloc(1, sizeof *box);

	if (!box) {
		cJSON_Delete(json);
		return CX_ENOMEM;
	}
	struct cx_spec *s = &box->spec;
	*s = (struct cx_spec){ .json = json, .id = d->id, .name = d->name };
	box->profiles = cJSON_CreateArray();
	s->members = reallocarray(NULL, d->n_members, sizeof *s->members);
	s->rounds = reallocarray(NULL, d->n_rounds + 1, sizeof *s->rounds);
	if (!box->profiles || !s->members || !s->rounds)
		goto nomem;
	for (; s->n_members < d->n_members; s->n_members++)
		if (!build_member(box, &d->member[s->n_members], d->default_profile,
				  &s->members[s->n_members]))
			goto nomem;
	if (d->chair) {
		if (!build_member(box, &d->chair_member, d->default_profile, &box->chair))
			goto nomem;
		s->chair = &box->chair;
	}
	build_rounds(s, d);
	*out = s;
	return CX_OK;
nomem:
	cx_spec_free(s);
	return CX_ENOMEM;
}

/* cJSON stops after the value; anything but whitespace after it is an error. */
static const char *after_space(const char *p, const char *end)
{
	while (p < end && *p && (unsigned char)*p <= ' ')
		p++;
	return p;
}

static cJSON *parse_json(struct cx_check *c, const char *text, size_t len)
{
	const char *stop = NULL;
	cJSON *json = cJSON_ParseWithLengthOpts(text, len, &stop, false);

	if (json) {
		stop = after_space(stop, text + len);
		if (stop == text + len || !*stop)
			return json;
		cJSON_Delete(json);
	}
	cx_check_report(c, "", "invalid_json", "not valid JSON (at byte %td)",
			stop ? stop - text : 0);
	return NULL;
}

int cx_spec_parse(const char *text, size_t len, struct cx_spec **out,
		  struct cx_diags *diags)
{
	struct cx_check c = { .diags = diags };
	struct spec_draft d;

	if (!out || (!text && len))
		return CX_EUSAGE;
	*out = NULL;
	if (len > CX_SPEC_MAX_BYTES) {
		cx_check_report(&c, "", "too_large", "%zu bytes, at most %d allowed",
				len, CX_SPEC_MAX_BYTES);
		return CX_EINVALID;
	}
	cJSON *json = parse_json(&c, text, len);
	if (!json)
		return CX_EINVALID;
	check_spec(&c, json, &d);
	if (c.errors) {
		cJSON_Delete(json);
		return CX_EINVALID;
	}
	return build_spec(&d, json, out);
}

void cx_spec_free(struct cx_spec *spec)
{
	struct spec_box *box = (struct spec_box *)spec;

	if (!spec)
		return;
	free(spec->members);
	free(spec->rounds);
	cJSON_Delete(box->profiles);
	cJSON_Delete(spec->json);
	free(box);
}

int cx_input_parse(const char *text, cJSON **out, struct cx_diags *diags)
{
	*out = NULL;
	if (!text)
		text = "{}";
	if (strlen(text) > CX_INPUT_MAX_BYTES) {
		cx_diags_add(diags, "input", "too_large", "input is over %d bytes", CX_INPUT_MAX_BYTES);
		return CX_EINVALID;
	}
	const char *end = NULL;
	*out = cJSON_ParseWithOpts(text, &end, 1);
	if (!*out) {
		cx_diags_add(diags, "input", "invalid_json", "input is not JSON (at byte %zu)",
			     end ? (size_t)(end - text) : 0);
		return CX_EINVALID;
	}
	return CX_OK;
}

const char *cx_round_type_name(enum cx_round_type type)
{
	if ((size_t)type >= sizeof round_types / sizeof round_types[0] - 1)
		return "unknown";
	return round_types[type];
}
