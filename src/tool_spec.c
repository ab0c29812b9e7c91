/* The spec's tools (tool_spec.h). */
#include "tool_spec.h"

#include <stdlib.h>
#include <string.h>

#include "profile.h"

#define NAME_MAX_LEN 64
#define DESCRIPTION_MAX 4096

/* What the providers accept as a function name: [A-Za-z0-9_-]{1,64}. */
static void check_name(struct cx_check *c, const cJSON *item, const char *path, void *dest)
{
	static const char allowed[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				      "0123456789_-";
	char shown[CX_SHOWN_MAX];
	(void)dest;
	if (!cx_expect_type(c, item, path, cJSON_IsString, "string"))
		return;
	size_t len = strlen(item->valuestring);
	if (!len || len > NAME_MAX_LEN || strspn(item->valuestring, allowed) != len)
		cx_check_report(c, path, "invalid_name",
				"\"%s\" is not a tool name (1-%d characters of A-Za-z0-9_-)",
				cx_shown(shown, item->valuestring), NAME_MAX_LEN);
}

/* A JSON Schema for an arguments object: the providers take only
 * objects, so a "type" it states must be "object". */
static void check_parameters(struct cx_check *c, const cJSON *item, const char *path,
			     void *dest)
{
	char at[CX_PATH_MAX];
	(void)dest;
	if (!cx_expect_type(c, item, path, cJSON_IsObject, "object"))
		return;
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(item, "type");
	cx_path_key(at, path, "type");
	if (type && (!cJSON_IsString(type) || strcmp(type->valuestring, "object")))
		cx_check_report(c, at, "invalid_value",
				"a tool's arguments are an object: \"type\" must be \"object\"");
}

static const struct cx_field tool_fields[] = {
	{ .key = "name", .kind = CX_FIELD_CUSTOM, .check = check_name, .required = true },
	{ .key = "description", .kind = CX_FIELD_STRING, .max = DESCRIPTION_MAX },
	{ .key = "command", .kind = CX_FIELD_ARRAY, .required = true, .min = 1,
	  .max = CX_COMMAND_MAX_ARGS, .each = &cx_command_arg },
	{ .key = "parameters", .kind = CX_FIELD_CUSTOM, .check = check_parameters },
};

static const struct cx_shape tool_shape = {
	tool_fields, sizeof tool_fields / sizeof tool_fields[0], 0, "a tool",
};

static const char *name_of(const cJSON *tool)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(tool, "name");
	return cJSON_IsString(name) ? name->valuestring : NULL;
}

void cx_tool_spec_check(struct cx_check *c, const cJSON *item, const char *path, void *dest)
{
	char at[CX_PATH_MAX], name_at[CX_PATH_MAX], shown[CX_SHOWN_MAX];
	(void)dest;
	if (!cx_expect_type(c, item, path, cJSON_IsArray, "array"))
		return;
	size_t n = cx_check_count(c, item, path, 0, CX_SPEC_MAX_TOOLS), i = 0;
	for (const cJSON *tool = item->child; i < n; i++, tool = tool->next) {
		cx_path_index(at, path, i);
		if (!cx_check_object(c, tool, at, &tool_shape, NULL) || !name_of(tool))
			continue;
		size_t j = 0;
		for (const cJSON *other = item->child; other != tool; j++, other = other->next)
			if (name_of(other) && !strcmp(name_of(other), name_of(tool)))
				break;
		if (j == i)
			continue;
		cx_path_key(name_at, at, "name");
		cx_check_report(c, name_at, "duplicate_id", "\"%s\" is already the name of %s[%zu]",
				cx_shown(shown, name_of(tool)), path, j);
	}
}

static const cJSON *tool_named(const cJSON *tools, const char *name)
{
	const cJSON *tool;
	cJSON_ArrayForEach(tool, tools)
		if (name_of(tool) && !strcmp(name_of(tool), name))
			return tool;
	return NULL;
}

/* The names in one profile's "tools", at "<profile_path>.tools". */
static void check_profile_refs(struct cx_check *c, const cJSON *tools, const cJSON *profile,
			       const char *profile_path)
{
	const cJSON *names = cJSON_GetObjectItemCaseSensitive(profile, "tools");
	char list[CX_PATH_MAX], at[CX_PATH_MAX], shown[CX_SHOWN_MAX];
	size_t i = 0;

	if (!cJSON_IsArray(names))
		return;
	cx_path_key(list, profile_path, "tools");
	for (const cJSON *name = names->child; name; name = name->next, i++) {
		if (!cJSON_IsString(name))
			continue;
		cx_path_index(at, list, i);
		const cJSON *earlier = names->child;
		while (earlier != name && !(cJSON_IsString(earlier) &&
					    !strcmp(earlier->valuestring, name->valuestring)))
			earlier = earlier->next;
		if (!tool_named(tools, name->valuestring))
			cx_check_report(c, at, "unknown_tool",
					"\"%s\" is not a tool of this council (see \"tools\")",
					cx_shown(shown, name->valuestring));
		else if (earlier != name)
			cx_check_report(c, at, "invalid_value", "\"%s\" is given more than once",
					cx_shown(shown, name->valuestring));
	}
}

static const cJSON *own_profile(const cJSON *member)
{
	return cJSON_GetObjectItemCaseSensitive(member, "profile");
}

void cx_tool_spec_check_refs(struct cx_check *c, const cJSON *spec_json)
{
	const cJSON *tools = cJSON_GetObjectItemCaseSensitive(spec_json, "tools");
	const cJSON *members = cJSON_GetObjectItemCaseSensitive(spec_json, "members");
	const cJSON *member;
	char entry[CX_PATH_MAX], path[CX_PATH_MAX];
	size_t i = 0;

	check_profile_refs(c, tools, cJSON_GetObjectItemCaseSensitive(spec_json, "default_profile"),
			   "default_profile");
	cJSON_ArrayForEach(member, members) {
		cx_path_index(entry, "members", i++);
		cx_path_key(path, entry, "profile");
		check_profile_refs(c, tools, own_profile(member), path);
	}
	check_profile_refs(c, tools, own_profile(cJSON_GetObjectItemCaseSensitive(spec_json, "chair")),
			   "chair.profile");
}

/* member's tools: those its merged profile names. */
static int build_member(struct cx_spec *spec, struct cx_member *member)
{
	const cJSON *names = cJSON_GetObjectItemCaseSensitive(member->profile, "tools");
	const cJSON *name;
	size_t n = (size_t)cJSON_GetArraySize(names);

	member->tools = NULL;
	member->n_tools = 0;
	if (!n)
		return CX_OK;
	if (!(member->tools = calloc(n, sizeof *member->tools)))
		return CX_ENOMEM;
	cJSON_ArrayForEach(name, names)
		for (size_t t = 0; t < spec->n_tools; t++)
			if (!strcmp(spec->tools[t].name, name->valuestring))
				member->tools[member->n_tools++] = &spec->tools[t];
	return CX_OK;
}

int cx_tool_spec_build(struct cx_spec *spec, int timeout_ms)
{
	const cJSON *tools = cJSON_GetObjectItemCaseSensitive(spec->json, "tools");
	const cJSON *tool;
	size_t n = (size_t)cJSON_GetArraySize(tools);

	if (n && !(spec->tools = calloc(n, sizeof *spec->tools)))
		return CX_ENOMEM;
	cJSON_ArrayForEach(tool, tools) {
		const cJSON *description = cJSON_GetObjectItemCaseSensitive(tool, "description");
		spec->tools[spec->n_tools++] = (struct cx_tool){
			.name = name_of(tool),
			.description = cJSON_IsString(description) ? description->valuestring : "",
			.command = cJSON_GetObjectItemCaseSensitive(tool, "command"),
			.parameters = cJSON_GetObjectItemCaseSensitive(tool, "parameters"),
			.timeout_ms = timeout_ms,
		};
	}
	int rc = CX_OK;
	for (size_t i = 0; i < spec->n_members && rc == CX_OK; i++)
		rc = build_member(spec, &spec->members[i]);
	if (rc == CX_OK && spec->chair)
		rc = build_member(spec, spec->chair);
	return rc;
}

void cx_tool_spec_free(struct cx_spec *spec)
{
	for (size_t i = 0; i < spec->n_members; i++)
		free(spec->members[i].tools);
	if (spec->chair)
		free(spec->chair->tools);
	free(spec->tools);
}
