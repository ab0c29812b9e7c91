/* Member profiles (DESIGN §6): the providers, the keys each one takes, and
 * the merge of default_profile with a member's own profile. */
#include "profile.h"

#include "council/ids.h"

#include <string.h>

#define ONLY(kind) (1u << (kind))
#define HTTP (ONLY(CX_PROVIDER_OPENAI) | ONLY(CX_PROVIDER_ANTHROPIC))
#define MAX_COMMAND_ARG_BYTES 4096
#define MAX_ENV_VARS 64
#define MAX_HEADERS 64

struct provider {
	const char *name;
	enum cx_provider_kind kind;
	const char *what;      /* its profiles, in messages */
	const char *requires;  /* a key its profiles must have, or NULL */
};

static const struct provider providers[] = {
	{ "mock", CX_PROVIDER_MOCK, "a mock profile", NULL },
	{ "exec", CX_PROVIDER_EXEC, "an exec profile", "command" },
	{ "openai", CX_PROVIDER_OPENAI, "an openai profile", "model" },
	{ "anthropic", CX_PROVIDER_ANTHROPIC, "an anthropic profile", "model" },
};

/* Known to CouncilEx, refused here until they are written. */
static const char *const providers_not_built_yet[] = { "gemini", NULL };

static const char *const mock_failures[] = {
	"transient", "permanent", "timeout", "crash", "hang", NULL,
};

/* Keys that mean something only beside another one in the merged profile. */
static const struct {
	const char *key, *needs;
} pairs[] = {
	{ "fail_times", "fail" },
};

/* A member's profile as the merge will see it. */
struct merged_view {
	const cJSON *defaults, *own;
	const char *member;          /* "members[2]" */
	char path[CX_PATH_MAX];      /* "members[2].profile" */
};

const char *cx_provider_name(enum cx_provider_kind kind)
{
	for (size_t i = 0; i < sizeof providers / sizeof providers[0]; i++)
		if (providers[i].kind == kind)
			return providers[i].name;
	return "unknown";
}

static const struct provider *provider_named(const cJSON *item)
{
	if (!cJSON_IsString(item))
		return NULL;
	for (size_t i = 0; i < sizeof providers / sizeof providers[0]; i++)
		if (!strcmp(providers[i].name, item->valuestring))
			return &providers[i];
	return NULL;
}

static const struct provider *provider_of(const cJSON *profile)
{
	return provider_named(cJSON_GetObjectItemCaseSensitive(profile, "provider"));
}

static void check_provider(struct cx_check *c, const cJSON *item,
			   const char *path, void *dest)
{
	char shown[CX_SHOWN_MAX];

	(void)dest;
	if (!cx_expect_type(c, item, path, cJSON_IsString, "string") ||
	    provider_named(item))
		return;
	if (cx_word_index(providers_not_built_yet, item->valuestring) >= 0)
		cx_check_report(c, path, "unsupported_provider",
				"\"%s\" is not available in this build yet",
				item->valuestring);
	else
		cx_check_report(c, path, "unknown_provider",
				"\"%s\" is not a provider",
				cx_shown(shown, item->valuestring));
}

/* [A-Za-z_][A-Za-z0-9_]* */
static bool env_name_valid(const char *name)
{
#define LETTERS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_"
	return name[0] && strchr(LETTERS, name[0]) &&
	       strspn(name, LETTERS "0123456789") == strlen(name);
#undef LETTERS
}

/* An HTTP header name: a token of RFC 9110. */
static bool header_name_valid(const char *name)
{
#define TCHARS "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	return name[0] && strspn(name, TCHARS) == strlen(name);
#undef TCHARS
}

/* No control characters: a header value or a URL stays on its line. */
static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* An object of at most max strings, each named so that name_valid holds
 * (what: "an environment variable name") and valued so that value_valid
 * does (NULL: any string). */
static void check_string_map(struct cx_check *c, const cJSON *item, const char *path,
			     long max, bool (*name_valid)(const char *), const char *what,
			     bool (*value_valid)(const char *))
{
	static const struct cx_field value = { .kind = CX_FIELD_STRING };
	char at[CX_PATH_MAX], shown[CX_SHOWN_MAX];

	if (!cx_expect_type(c, item, path, cJSON_IsObject, "object"))
		return;
	size_t n = cx_check_count(c, item, path, 0, max);
	const cJSON *entry = item->child;
	for (size_t i = 0; i < n; i++, entry = entry->next) {
		cx_path_key(at, path, entry->string);
		if (!name_valid(entry->string))
			cx_check_report(c, at, "invalid_name", "\"%s\" is not %s",
					cx_shown(shown, entry->string), what);
		if (cJSON_IsString(entry) && value_valid && !value_valid(entry->valuestring))
			cx_check_report(c, at, "invalid_value",
					"the value may not hold control characters");
		cx_check_value(c, &value, entry, at, NULL);
	}
}

static void check_env(struct cx_check *c, const cJSON *item, const char *path,
		      void *dest)
{
	(void)dest;
	check_string_map(c, item, path, MAX_ENV_VARS, env_name_valid,
			 "an environment variable name", NULL);
}

static void check_headers(struct cx_check *c, const cJSON *item, const char *path,
			  void *dest)
{
	(void)dest;
	check_string_map(c, item, path, MAX_HEADERS, header_name_valid, "an HTTP header name",
			 printable);
}

static void check_env_name(struct cx_check *c, const cJSON *item, const char *path,
			   void *dest)
{
	char shown[CX_SHOWN_MAX];

	(void)dest;
	if (cx_expect_type(c, item, path, cJSON_IsString, "string") &&
	    !env_name_valid(item->valuestring))
		cx_check_report(c, path, "invalid_name",
				"\"%s\" is not an environment variable name",
				cx_shown(shown, item->valuestring));
}

static const struct cx_field env_name = { .kind = CX_FIELD_CUSTOM, .check = check_env_name };

static void check_base_url(struct cx_check *c, const cJSON *item, const char *path,
			   void *dest)
{
	char shown[CX_SHOWN_MAX];

	(void)dest;
	if (!cx_expect_type(c, item, path, cJSON_IsString, "string"))
		return;
	const char *url = item->valuestring;
	size_t scheme = !strncmp(url, "http://", 7) ? 7 : !strncmp(url, "https://", 8) ? 8 : 0;
	if (!scheme || !url[scheme] || url[scheme] == '/' || !printable(url) ||
	    strchr(url, ' '))
		cx_check_report(c, path, "invalid_value",
				"\"%s\" is not an http:// or https:// URL",
				cx_shown(shown, url));
}

static cJSON_bool is_reply(const cJSON *item)
{
	return cJSON_IsString(item) || cJSON_IsObject(item) || cJSON_IsArray(item);
}

/* {round name: answer}: a string, or JSON (answered as its JSON text). */
static void check_replies(struct cx_check *c, const cJSON *item, const char *path,
			  void *dest)
{
	char at[CX_PATH_MAX], shown[CX_SHOWN_MAX];
	const cJSON *reply;

	(void)dest;
	if (!cx_expect_type(c, item, path, cJSON_IsObject, "object"))
		return;
	cJSON_ArrayForEach(reply, item) {
		cx_path_key(at, path, reply->string);
		if (!cx_name_valid(reply->string))
			cx_check_report(c, at, "invalid_name", "\"%s\" is not a round name",
					cx_shown(shown, reply->string));
		else
			cx_expect_type(c, reply, at, is_reply, "string, object or array");
	}
}

const struct cx_field cx_command_arg = {
	.kind = CX_FIELD_STRING, .min = 1, .max = MAX_COMMAND_ARG_BYTES,
};

static const struct cx_field tool_name = { .kind = CX_FIELD_STRING, .min = 1, .max = 64 };

static const struct cx_field profile_fields[] = {
	{ .key = "provider", .kind = CX_FIELD_CUSTOM, .check = check_provider },
	{ .key = "model", .kind = CX_FIELD_STRING, .min = 1 },
	{ .key = "reply", .kind = CX_FIELD_STRING, .only = ONLY(CX_PROVIDER_MOCK) },
	{ .key = "replies", .kind = CX_FIELD_CUSTOM, .check = check_replies,
	  .only = ONLY(CX_PROVIDER_MOCK) },
	{ .key = "words", .kind = CX_FIELD_INT, .min = 1, .max = 4096,
	  .only = ONLY(CX_PROVIDER_MOCK) },
	{ .key = "chunk_delay_ms", .kind = CX_FIELD_INT, .min = 0, .max = 60000,
	  .only = ONLY(CX_PROVIDER_MOCK) },
	{ .key = "latency_ms", .kind = CX_FIELD_INT, .min = 0, .max = 600000,
	  .only = ONLY(CX_PROVIDER_MOCK) },
	{ .key = "fail", .kind = CX_FIELD_WORD, .words = mock_failures,
	  .only = ONLY(CX_PROVIDER_MOCK) },
	{ .key = "fail_times", .kind = CX_FIELD_INT, .min = 1, .max = 100,
	  .only = ONLY(CX_PROVIDER_MOCK) },
	{ .key = "command", .kind = CX_FIELD_ARRAY, .min = 1, .max = CX_COMMAND_MAX_ARGS,
	  .each = &cx_command_arg, .only = ONLY(CX_PROVIDER_EXEC) },
	{ .key = "env", .kind = CX_FIELD_CUSTOM, .check = check_env,
	  .only = ONLY(CX_PROVIDER_EXEC) },
	{ .key = "env_pass", .kind = CX_FIELD_ARRAY, .max = MAX_ENV_VARS, .each = &env_name,
	  .only = ONLY(CX_PROVIDER_EXEC) },
	{ .key = "memory_max_mb", .kind = CX_FIELD_INT, .min = 1, .max = 1 << 20,
	  .only = ONLY(CX_PROVIDER_EXEC) },
	{ .key = "processes_max", .kind = CX_FIELD_INT, .min = 1, .max = 1 << 20,
	  .only = ONLY(CX_PROVIDER_EXEC) },
	{ .key = "base_url", .kind = CX_FIELD_CUSTOM, .check = check_base_url, .only = HTTP },
	{ .key = "preset", .kind = CX_FIELD_WORD, .words = cx_openai_presets,
	  .only = ONLY(CX_PROVIDER_OPENAI) },
	{ .key = "api_key_env", .kind = CX_FIELD_CUSTOM, .check = check_env_name, .only = HTTP },
	{ .key = "headers", .kind = CX_FIELD_CUSTOM, .check = check_headers, .only = HTTP },
	{ .key = "temperature", .kind = CX_FIELD_NUMBER, .min = 0, .max = 2,
	  .only = ONLY(CX_PROVIDER_OPENAI) },
	{ .key = "temperature", .kind = CX_FIELD_NUMBER, .min = 0, .max = 1,
	  .only = ONLY(CX_PROVIDER_ANTHROPIC) },
	{ .key = "max_tokens", .kind = CX_FIELD_INT, .min = 1, .max = 1000000, .only = HTTP },
	{ .key = "tools", .kind = CX_FIELD_ARRAY, .max = CX_SPEC_MAX_TOOLS, .each = &tool_name,
	  .only = HTTP },
	{ .key = "max_tool_turns", .kind = CX_FIELD_INT, .min = 1, .max = 64, .only = HTTP },
	{ .key = "connect_timeout_ms", .kind = CX_FIELD_INT, .min = 1, .max = 600000,
	  .only = HTTP },
	{ .key = "idle_timeout_ms", .kind = CX_FIELD_INT, .min = 1000, .max = 3600000,
	  .only = HTTP },
};

/* The keys of p's profiles; without a provider, those of any provider. */
static struct cx_shape shape_for(const struct provider *p)
{
	return (struct cx_shape){
		.fields = profile_fields,
		.n = sizeof profile_fields / sizeof profile_fields[0],
		.variant = p ? ONLY(p->kind) : 0,
		.what = p ? p->what : "a profile",
	};
}

void cx_profile_check_defaults(struct cx_check *c, const cJSON *defaults)
{
	struct cx_shape shape = shape_for(provider_of(defaults));

	if (defaults)
		cx_check_object(c, defaults, "default_profile", &shape, NULL);
}

/* key in the merged profile (NULL when absent), and where it was written. */
static const cJSON *lookup(const struct merged_view *v, const char *key,
			   char at[CX_PATH_MAX])
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(v->own, key);

	if (item) {
		cx_path_key(at, v->path, key);
		return item;
	}
	cx_path_key(at, "default_profile", key);
	return cJSON_GetObjectItemCaseSensitive(v->defaults, key);
}

/* default_profile was checked against the provider it names; what a member
 * inherits from it must also be a key of the member's provider. */
static void check_inherited(struct cx_check *c, const struct merged_view *v,
			    const struct cx_shape *shape)
{
	const struct cx_shape given = shape_for(provider_of(v->defaults));
	char at[CX_PATH_MAX], shown[CX_SHOWN_MAX];
	const cJSON *item;

	cJSON_ArrayForEach(item, v->defaults) {
		if (cJSON_GetObjectItemCaseSensitive(v->own, item->string) ||
		    !cx_shape_find(&given, item->string) ||
		    cx_shape_find(shape, item->string))
			continue;
		cx_path_key(at, "default_profile", item->string);
		cx_check_report(c, at, "unknown_key",
				"\"%s\" is not a key of %s (%s inherits it)",
				cx_shown(shown, item->string), shape->what, v->member);
	}
}

static void check_requirements(struct cx_check *c, const struct merged_view *v,
			       const struct provider *p,
			       const struct cx_shape *shape)
{
	char at[CX_PATH_MAX], other[CX_PATH_MAX];

	if (p && p->requires && !lookup(v, p->requires, at)) {
		cx_path_key(at, v->path, p->requires);
		cx_check_report(c, at, "missing_key",
				"required by the %s provider", p->name);
	}
	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		if (!cx_shape_find(shape, pairs[i].key) ||
		    !lookup(v, pairs[i].key, at) || lookup(v, pairs[i].needs, other))
			continue;
		cx_check_report(c, at, "invalid_value",
				"\"%s\" needs \"%s\", which %s's profile lacks",
				pairs[i].key, pairs[i].needs, v->member);
	}
}

void cx_profile_check_member(struct cx_check *c, const cJSON *defaults,
			     const cJSON *own, const char *member_path,
			     enum cx_provider_kind *kind)
{
	struct merged_view v = { .defaults = defaults, .own = own, .member = member_path };
	char at[CX_PATH_MAX];

	cx_path_key(v.path, member_path, "profile");
	const cJSON *named = lookup(&v, "provider", at);
	const struct provider *p = provider_named(named);
	struct cx_shape shape = shape_for(p);
	if (!named) {
		cx_path_key(at, v.path, "provider");
		cx_check_report(c, at, "missing_provider",
				"no provider in %s's profile or in default_profile",
				member_path);
	}
	if (own)
		cx_check_object(c, own, v.path, &shape, NULL);
	check_inherited(c, &v, &shape);
	check_requirements(c, &v, p, &shape);
	if (p)
		*kind = p->kind;
}

/* A reference shares the item's value, so deleting it leaves the item. */
static bool add_reference(cJSON *merged, const cJSON *item)
{
	return cJSON_AddItemReferenceToObject(merged, item->string, (cJSON *)item);
}

cJSON *cx_profile_merge(const cJSON *defaults, const cJSON *own)
{
	cJSON *merged = cJSON_CreateObject();
	bool ok = merged;
	const cJSON *item;

	cJSON_ArrayForEach(item, defaults)
		if (ok && !cJSON_GetObjectItemCaseSensitive(own, item->string))
			ok = add_reference(merged, item);
	cJSON_ArrayForEach(item, own)
		if (ok)
			ok = add_reference(merged, item);
	if (!ok) {
		cJSON_Delete(merged);
		return NULL;
	}
	return merged;
}
