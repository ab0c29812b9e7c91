/* A router is rules, {"rules": [{"when": {"field", one of "equals", "in",
 * "contains"}, "members": [ids]}...], "default": [ids]}, checked against a
 * table of fields and run over the input; or a member, {"member": id}, who
 * answers in a round of its own (rounds.c) put first by the spec. */
#include "router.h"

#include <string.h>

/* What a rule's ids and the default are checked against. */
struct id_scope {
	const char *const *ids;
	size_t n;
};

/* Fields that pass the scope on: the target of each object checked is the
 * struct id_scope, kept at offset 0. */
#define SCOPED .keep = true, .at = 0

static bool in_scope(const struct id_scope *scope, const char *id)
{
	for (size_t k = 0; k < scope->n; k++)
		if (!strcmp(scope->ids[k], id))
			return true;
	return false;
}

static void check_ids(struct cx_check *c, const cJSON *item, const char *path, void *dest)
{
	const struct id_scope *scope = dest;
	char at[CX_PATH_MAX], shown[CX_SHOWN_MAX];
	size_t n = cx_check_count(c, item, path, 1, CX_SPEC_MAX_MEMBERS), i = 0;
	const cJSON *id, *before;

	cJSON_ArrayForEach(id, item) {
		if (i == n)
			break;
		cx_path_index(at, path, i++);
		if (!cx_expect_type(c, id, at, cJSON_IsString, "string"))
			continue;
		if (!in_scope(scope, id->valuestring)) {
			cx_check_report(c, at, "unknown_member",
					"\"%s\" is not a member (the chair is never routed)",
					cx_shown(shown, id->valuestring));
			continue;
		}
		for (before = item->child; before != id; before = before->next)
			if (cJSON_IsString(before) && !strcmp(before->valuestring, id->valuestring)) {
				cx_check_report(c, at, "invalid_value", "\"%s\" is listed twice",
						cx_shown(shown, id->valuestring));
				break;
			}
	}
}

static void check_any(struct cx_check *c, const cJSON *item, const char *path, void *dest)
{
}

static const struct cx_field when_fields[] = {
	{ .key = "field", .kind = CX_FIELD_STRING, .required = true, .min = 1, .max = 256 },
	{ .key = "equals", .kind = CX_FIELD_CUSTOM, .check = check_any },
	{ .key = "in", .kind = CX_FIELD_ARRAY, .min = 1, .max = 256 },
	{ .key = "contains", .kind = CX_FIELD_STRING, .min = 1 },
};

static const char *const tests[] = { "equals", "in", "contains" };

static void check_when(struct cx_check *c, const cJSON *item, const char *path, void *dest)
{
	static const struct cx_shape shape = { when_fields, 4, 0, "a rule's when" };
	int n = 0;

	if (!cx_check_object(c, item, path, &shape, NULL))
		return;
	for (size_t i = 0; i < 3; i++)
		n += cJSON_HasObjectItem(item, tests[i]);
	if (n != 1)
		cx_check_report(c, path, n ? "invalid_value" : "missing_key",
				"a rule tests the field one way: equals, in or contains");
}

static const struct cx_field rule_fields[] = {
	{ .key = "when", .kind = CX_FIELD_CUSTOM, .required = true, .check = check_when },
	{ .key = "members", .kind = CX_FIELD_CUSTOM, .required = true, .check = check_ids,
	  SCOPED },
};

static const struct cx_shape rule_shape = { rule_fields, 2, 0, "a routing rule" };

static void check_rules(struct cx_check *c, const cJSON *item, const char *path, void *dest)
{
	char at[CX_PATH_MAX];
	size_t n = cx_check_count(c, item, path, 1, CX_ROUTER_MAX_RULES), i = 0;
	const cJSON *rule;

	if (!cx_expect_type(c, item, path, cJSON_IsArray, "array"))
		return;
	cJSON_ArrayForEach(rule, item) {
		if (i == n)
			break;
		cx_path_index(at, path, i++);
		cx_check_object(c, rule, at, &rule_shape, dest);
	}
}

/* A router member: one of the members. */
static void check_member_id(struct cx_check *c, const cJSON *item, const char *path, void *dest)
{
	char shown[CX_SHOWN_MAX];

	if (cx_expect_type(c, item, path, cJSON_IsString, "string") &&
	    !in_scope(dest, item->valuestring))
		cx_check_report(c, path, "unknown_member",
				"\"%s\" is not a member (the chair is never routed)",
				cx_shown(shown, item->valuestring));
}

static const struct cx_field router_fields[] = {
	{ .key = "rules", .kind = CX_FIELD_CUSTOM, .check = check_rules, SCOPED },
	{ .key = "default", .kind = CX_FIELD_CUSTOM, .check = check_ids, SCOPED },
	{ .key = "member", .kind = CX_FIELD_CUSTOM, .check = check_member_id, SCOPED },
};

void cx_router_check(struct cx_check *c, const cJSON *router, const char *const *ids,
		     size_t n_ids)
{
	static const struct cx_shape shape = { router_fields, 3, 0, "the router" };
	struct id_scope scope = { ids, n_ids };

	if (!router || !cx_check_object(c, router, "router", &shape, &scope))
		return;
	bool rules = cJSON_HasObjectItem(router, "rules"), member = cJSON_HasObjectItem(router, "member");
	if (!rules && !member)
		cx_check_report(c, "router.rules", "missing_key",
				"a router has rules, or a member who chooses");
	else if (rules && member)
		cx_check_report(c, "router.member", "invalid_value",
				"a router has rules or a member, not both");
	else if (member && cJSON_HasObjectItem(router, "default"))
		cx_check_report(c, "router.default", "invalid_value",
				"a default goes with rules: the member always chooses");
}

/* The input's value at a dotted path ("ticket.topic"), or NULL. */
static const cJSON *field_of(const cJSON *input, const char *path)
{
	char key[257];
	const cJSON *v = input;

	while (v && *path) {
		size_t n = strcspn(path, ".");
		if (n >= sizeof key)
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		v = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, key) : NULL;
		path += n + (path[n] == '.');
	}
	return v;
}

static bool holds(const cJSON *when, const cJSON *input)
{
	const cJSON *v = field_of(input, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(when, "field")));
	const cJSON *equals = cJSON_GetObjectItemCaseSensitive(when, "equals");
	const cJSON *in = cJSON_GetObjectItemCaseSensitive(when, "in");
	const char *contains = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(when, "contains"));
	const cJSON *each;

	if (!v)
		return false;
	if (equals)
		return cJSON_Compare(v, equals, true);
	cJSON_ArrayForEach(each, in)
		if (cJSON_Compare(v, each, true))
			return true;
	return contains && cJSON_IsString(v) && strstr(v->valuestring, contains);
}

cJSON *cx_router_select(const struct cx_spec *spec, const cJSON *input)
{
	const cJSON *rule, *chosen = cJSON_GetObjectItemCaseSensitive(spec->router, "default");

	if (!spec->router || cx_router_member(spec))
		return NULL;  /* a member router's choice comes from its round (council.c) */
	cJSON_ArrayForEach(rule, cJSON_GetObjectItemCaseSensitive(spec->router, "rules"))
		if (holds(cJSON_GetObjectItemCaseSensitive(rule, "when"), input)) {
			chosen = cJSON_GetObjectItemCaseSensitive(rule, "members");
			break;
		}
	if (chosen)
		return cJSON_Duplicate(chosen, true);
	cJSON *all = cJSON_CreateArray();
	for (size_t i = 0; all && i < spec->n_members; i++)
		cJSON_AddItemToArray(all, cJSON_CreateString(spec->members[i].id));
	return all;
}

const struct cx_member *cx_router_member(const struct cx_spec *spec)
{
	const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(spec->router, "member"));

	for (size_t i = 0; id && i < spec->n_members; i++)
		if (!strcmp(spec->members[i].id, id))
			return &spec->members[i];
	return NULL;
}

bool cx_router_admits(const cJSON *selected, const struct cx_member *member)
{
	const cJSON *id;

	if (!selected)
		return true;
	cJSON_ArrayForEach(id, selected)
		if (!strcmp(id->valuestring, member->id))
			return true;
	return false;
}
