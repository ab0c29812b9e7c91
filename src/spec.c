/* The council spec (DESIGN §6): parse, check every key against a table of
 * fields, report every finding, and build the typed spec only when there is
 * none. Profiles are profile.c's business, rounds round_spec.c's, schemas
 * schema.c's. A sub-council is a spec of its own, checked and built the
 * same way, its findings reported under its member's path. */
#include "council/spec.h"
#include "council/ids.h"
#include "json.h"
#include "profile.h"
#include "round_spec.h"
#include "router.h"
#include "start_opts.h"
#include "schema.h"
#include "shape.h"
#include "tool_spec.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the spec ---- */

struct member_draft {
	struct cx_member m;
	const cJSON *profile;  /* the member's own */
	const cJSON *council;  /* the sub-council's spec */
	struct cx_spec *sub;   /* built from it, owned until the member is built */
	char path[CX_PATH_MAX];
};

struct spec_draft {
	int depth;             /* 0 for a run's own council, 1.. for sub-councils */
	const struct cx_start_opts *opts;  /* the run's */
	/* What members start from before their own retry and timeout_ms: the
	 * council's top-level keys over those of the council it is nested in
	 * (or the built-in defaults), the run's retry over both. */
	struct cx_retry retry;
	int timeout_ms;
	const char *id, *name;
	const cJSON *default_profile, *members, *rounds, *chair, *router;
	struct member_draft member[CX_SPEC_MAX_MEMBERS], chair_member;
	size_t n_members;
	struct cx_round_draft round[CX_SPEC_MAX_ROUNDS], inner[CX_SPEC_MAX_ROUNDS];
	size_t n_rounds;
	int tool_timeout_ms;
};

/* What cx_spec_free frees besides the struct cx_spec it begins with. */
struct spec_box {
	struct cx_spec spec;
	struct cx_member chair;
	struct cx_round *inner;  /* iterate rounds' inner rounds */
	cJSON *profiles;       /* an array owning the merged profiles */
	bool owns_json;        /* a sub-council's json belongs to its parent's */
};

static struct cx_spec *spec_from(struct cx_check *c, cJSON *json, bool owns_json,
				 const struct spec_draft *parent,
				 const struct cx_start_opts *opts, int *rc);

static void check_output_schema(struct cx_check *c, const cJSON *item, const char *path,
				void *dest)
{
	cx_schema_check(c, item, path);
	*(const cJSON **)dest = item;
}

/* A path is read by the client that sends the spec (cx_spec_inline), with its
 * user's rights; the supervisor never opens a file a spec names. */
static void check_council_ref(struct cx_check *c, const cJSON *item, const char *path,
			      void *dest)
{
	if (cJSON_IsString(item))
		cx_check_report(c, path, "unresolved_council",
				"\"%s\" is a path: the spec must be sent with the file's council "
				"in its place (councilctl and cx_spec_inline do this)",
				item->valuestring);
	else if (cx_expect_type(c, item, path, cJSON_IsObject, "object or string"))
		*(const cJSON **)dest = item;
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
	{ .key = "tools", .kind = CX_FIELD_CUSTOM, .check = cx_tool_spec_check },
	{ .key = "tool_timeout_ms", .kind = CX_FIELD_INT, .min = 1, .max = 3600000,
	  CX_KEEP(struct spec_draft, tool_timeout_ms) },
	{ .key = "retry", .kind = CX_FIELD_CUSTOM, .check = cx_retry_check,
	  CX_KEEP(struct spec_draft, retry) },
	{ .key = "timeout_ms", .kind = CX_FIELD_INT, .min = 1, .max = 3600000,
	  CX_KEEP(struct spec_draft, timeout_ms) },
	{ .key = "router", .kind = CX_FIELD_OBJECT, CX_KEEP(struct spec_draft, router) },
};

static const struct cx_field member_fields[] = {
	{ .key = "id", .kind = CX_FIELD_NAME, .required = true,
	  CX_KEEP(struct member_draft, m.id) },
	{ .key = "role", .kind = CX_FIELD_STRING, CX_KEEP(struct member_draft, m.role) },
	{ .key = "system_prompt", .kind = CX_FIELD_STRING, .max = CX_SPEC_MAX_PROMPT,
	  CX_KEEP(struct member_draft, m.system_prompt) },
	{ .key = "profile", .kind = CX_FIELD_OBJECT,
	  CX_KEEP(struct member_draft, profile) },
	{ .key = "retry", .kind = CX_FIELD_CUSTOM, .check = cx_retry_check,
	  CX_KEEP(struct member_draft, m.retry) },
	{ .key = "timeout_ms", .kind = CX_FIELD_INT, .min = 1, .max = 3600000,
	  CX_KEEP(struct member_draft, m.timeout_ms) },
	{ .key = "stream", .kind = CX_FIELD_BOOL, CX_KEEP(struct member_draft, m.stream) },
	{ .key = "output_schema_inline", .kind = CX_FIELD_CUSTOM, .check = check_output_schema,
	  CX_KEEP(struct member_draft, m.output_schema) },
	{ .key = "council", .kind = CX_FIELD_CUSTOM, .check = check_council_ref,
	  CX_KEEP(struct member_draft, council) },
	{ .key = "metadata", .kind = CX_FIELD_OBJECT },
};

#define SHAPE(fields, what) { fields, sizeof fields / sizeof fields[0], 0, what }

static const struct cx_shape spec_shape = SHAPE(spec_fields, "the spec");
static const struct cx_shape member_shape = SHAPE(member_fields, "a member");
static const struct cx_shape chair_shape = SHAPE(member_fields, "the chair");

/* A sub-council's findings, under the member's path:
 * "members[1].council.rounds[0].type". */
static void check_sub_council(struct cx_check *c, struct member_draft *d,
			      const struct spec_draft *spec)
{
	int depth = spec->depth + 1;
	struct cx_diags diags = { 0 };
	struct cx_check sub = { .diags = &diags };
	char at[CX_PATH_MAX], path[CX_PATH_MAX];
	int rc;

	cx_path_key(at, d->path, "council");
	if (depth > CX_SPEC_MAX_DEPTH) {
		cx_check_report(c, at, "too_deep", "sub-councils nest at most %d deep",
				CX_SPEC_MAX_DEPTH);
		return;
	}
	d->sub = spec_from(&sub, (cJSON *)d->council, false, spec, spec->opts, &rc);
	for (size_t i = 0; i < diags.n; i++) {
		if (strcmp(diags.v[i].path, "$"))
			cx_path_key(path, at, diags.v[i].path);
		else
			strlcpy(path, at, sizeof path);
		cx_check_report(c, path, diags.v[i].code, "%s", diags.v[i].message);
	}
	c->errors += sub.errors - diags.n;  /* those that could not be stored */
	if (rc == CX_ENOMEM)
		cx_check_report(c, at, "internal", "out of memory");
	cx_diags_free(&diags);
}

/* A member or the chair; path is "members[i]" or "chair". A sub-council
 * member answers with its council, so it has no profile. */
static void check_member(struct cx_check *c, const struct cx_shape *shape,
			 const cJSON *item, const char *path,
			 const struct spec_draft *spec, struct member_draft *d)
{
	char at[CX_PATH_MAX];

	*d = (struct member_draft){
		.m = { .role = "", .system_prompt = "", .retry = spec->retry,
		       .timeout_ms = spec->timeout_ms, .stream = true },
	};
	strlcpy(d->path, path, sizeof d->path);
	if (!cx_check_object(c, item, path, shape, d))
		return;
	if (!d->council) {
		cx_profile_check_member(c, spec->default_profile, d->profile, path,
					&d->m.provider);
		return;
	}
	if (d->profile) {
		cx_path_key(at, path, "profile");
		cx_check_report(c, at, "invalid_value",
				"a sub-council member has no profile: its council's members do");
	}
	check_sub_council(c, d, spec);
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
		check_member(c, &member_shape, item, path, d, &d->member[d->n_members++]);
	}
	if (d->chair)
		check_member(c, &chair_shape, d->chair, "chair", d, &d->chair_member);
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

static void check_rounds(struct cx_check *c, struct spec_draft *d)
{
	const char *ids[CX_SPEC_MAX_MEMBERS + 1];
	struct cx_round_place place = {
		.listed = (size_t)cJSON_GetArraySize(d->rounds),
		.has_chair = d->chair,
		.ids = ids,
	};
	char path[CX_PATH_MAX];
	const cJSON *item;

	for (size_t i = 0; i < d->n_members; i++)
		ids[place.n_ids++] = d->member[i].m.id;
	if (d->chair)
		ids[place.n_ids++] = d->chair_member.m.id;
	cJSON_ArrayForEach(item, d->rounds) {
		if (d->n_rounds == CX_SPEC_MAX_ROUNDS)
			break;
		place.idx = d->n_rounds;
		cx_path_index(path, "rounds", d->n_rounds);
		cx_round_check(c, item, path, &place, &d->round[d->n_rounds],
			       &d->inner[d->n_rounds]);
		d->n_rounds++;
	}
}

static void check_router(struct cx_check *c, const struct spec_draft *d)
{
	const char *ids[CX_SPEC_MAX_MEMBERS];
	size_t n = 0;

	for (size_t i = 0; i < d->n_members; i++)
		if (d->member[i].m.id)
			ids[n++] = d->member[i].m.id;
	cx_router_check(c, d->router, ids, n);
}

static void check_spec(struct cx_check *c, const cJSON *json, struct spec_draft *d)
{
	if (!cx_check_object(c, json, "", &spec_shape, d))
		return;
	if (d->opts && d->opts->retry.max_attempts > 0)
		d->retry.max_attempts = d->opts->retry.max_attempts;
	if (d->opts && d->opts->retry.base_ms >= 0)
		d->retry.base_ms = d->opts->retry.base_ms;
	cx_profile_check_defaults(c, d->default_profile);
	check_members(c, d);
	cx_tool_spec_check_refs(c, json);
	check_unique_ids(c, d);
	check_rounds(c, d);
	check_router(c, d);
}

/* ---- building ---- */

static bool build_member(struct spec_box *box, struct member_draft *d,
			 const cJSON *defaults, struct cx_member *out)
{
	cJSON *merged = NULL;

	if (!d->sub && !(merged = cx_profile_merge(defaults, d->profile)))
		return false;
	if (merged)
		cJSON_AddItemToArray(box->profiles, merged);
	*out = d->m;
	out->profile = merged;
	out->council = d->sub;
	d->sub = NULL;         /* the spec owns it now */
	return true;
}

/* The listed rounds; before them, when a member routes, the round it
 * answers in; after them, with a chair, its synthesis. */
static void build_rounds(struct spec_box *box, const struct spec_draft *d)
{
	struct cx_spec *s = &box->spec;
	const struct cx_member *router = cx_router_member(s);

	if (router)
		s->rounds[s->n_rounds++] = (struct cx_round){
			.type = CX_ROUND_ROUTE,
			.name = cx_round_type_name(CX_ROUND_ROUTE),
			.failure_mode = CX_FAILURE_FAIL_FAST,
			.judge = router,
		};
	for (size_t i = 0; i < d->n_rounds; i++)
		cx_round_build(&d->round[i], &s->rounds[s->n_rounds++], &box->inner[i], s->members,
			       s->n_members, s->chair);
	if (s->chair && s->rounds[s->n_rounds - 1].type != CX_ROUND_SYNTHESIS)
		s->rounds[s->n_rounds++] = (struct cx_round){
			.type = CX_ROUND_SYNTHESIS,
			.name = cx_round_type_name(CX_ROUND_SYNTHESIS),
			.failure_mode = CX_FAILURE_FAIL_FAST,
		};
}

/* Takes json when owns_json (on failure it is freed). */
static int build_spec(struct spec_draft *d, cJSON *json, bool owns_json,
		      struct cx_spec **out)
{
	struct spec_box *box = calloc(1, sizeof *box);

	if (!box) {
		if (owns_json)
			cJSON_Delete(json);
		return CX_ENOMEM;
	}
	struct cx_spec *s = &box->spec;
	*s = (struct cx_spec){ .json = json, .id = d->id, .name = d->name, .router = d->router };
	box->owns_json = owns_json;
	box->profiles = cJSON_CreateArray();
	s->members = reallocarray(NULL, d->n_members, sizeof *s->members);
	s->rounds = reallocarray(NULL, d->n_rounds + 2, sizeof *s->rounds);
	box->inner = reallocarray(NULL, d->n_rounds, sizeof *box->inner);
	if (!box->profiles || !s->members || !s->rounds || !box->inner)
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
	if (cx_tool_spec_build(s, d->tool_timeout_ms) != CX_OK)
		goto nomem;
	build_rounds(box, d);
	*out = s;
	return CX_OK;
nomem:
	cx_spec_free(s);
	return CX_ENOMEM;
}

/* The sub-councils built for members the spec did not take over. */
static void drop_subs(struct spec_draft *d)
{
	for (size_t i = 0; i < d->n_members; i++)
		cx_spec_free(d->member[i].sub);
	cx_spec_free(d->chair_member.sub);
}

/* Checks json (a run's council, or one nested in parent's) and builds it
 * when nothing is wrong; *rc says CX_OK, CX_EINVALID or CX_ENOMEM. */
static struct cx_spec *spec_from(struct cx_check *c, cJSON *json, bool owns_json,
				 const struct spec_draft *parent,
				 const struct cx_start_opts *opts, int *rc)
{
	struct spec_draft *d = calloc(1, sizeof *d);
	struct cx_spec *spec = NULL;
	size_t before = c->errors;

	*rc = CX_ENOMEM;
	if (d) {
		*d = (struct spec_draft){
			.depth = parent ? parent->depth + 1 : 0, .opts = opts,
			.retry = parent ? parent->retry
				 : (struct cx_retry){ .max_attempts = 2, .base_ms = 1000 },
			.timeout_ms = parent ? parent->timeout_ms : 60000,
			.name = "", .tool_timeout_ms = CX_TOOL_TIMEOUT_MS,
		};
		check_spec(c, json, d);
		*rc = c->errors > before ? CX_EINVALID : build_spec(d, json, owns_json, &spec);
		owns_json = owns_json && *rc == CX_EINVALID;
		drop_subs(d);
	}
	if (owns_json && !spec)
		cJSON_Delete(json);
	free(d);
	return spec;
}

cJSON *cx_spec_json(struct cx_check *c, const char *text, size_t len)
{
	char why[128];
	cJSON *json = NULL;

	if (len > CX_SPEC_MAX_BYTES)
		cx_check_report(c, "", "too_large", "%zu bytes, at most %d allowed", len,
				CX_SPEC_MAX_BYTES);
	else if (!(json = cx_json_parse(text, len, why, sizeof why)))
		cx_check_report(c, "", "invalid_json", "%s", why);
	return json;
}

int cx_spec_parse(const char *text, size_t len, struct cx_spec **out,
		  struct cx_diags *diags)
{
	return cx_spec_parse_run(text, len, NULL, out, diags);
}

int cx_spec_parse_run(const char *text, size_t len, const struct cx_start_opts *opts,
		      struct cx_spec **out, struct cx_diags *diags)
{
	struct cx_check c = { .diags = diags };
	int rc;

	if (!out || (!text && len))
		return CX_EUSAGE;
	*out = NULL;
	cJSON *json = cx_spec_json(&c, text, len);
	if (!json)
		return CX_EINVALID;
	*out = spec_from(&c, json, true, NULL, opts, &rc);
	return rc;
}

static void free_member(const struct cx_member *m)
{
	cx_spec_free((struct cx_spec *)m->council);
}

void cx_spec_free(struct cx_spec *spec)
{
	struct spec_box *box = (struct spec_box *)spec;

	if (!spec)
		return;
	cx_tool_spec_free(spec);
	for (size_t i = 0; i < spec->n_members; i++)
		free_member(&spec->members[i]);
	if (spec->chair)
		free_member(spec->chair);
	free(spec->members);
	free(spec->rounds);
	free(box->inner);
	cJSON_Delete(box->profiles);
	if (box->owns_json)
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
	char why[128];
	*out = cx_json_parse(text, strlen(text), why, sizeof why);
	if (!*out) {
		cx_diags_add(diags, "input", "invalid_json", "input: %s", why);
		return CX_EINVALID;
	}
	return CX_OK;
}
