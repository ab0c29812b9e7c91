/* A JSON Schema subset: checking a schema (with the spec's table machinery,
 * shape.h) and validating a value against it (a table of rules, one per
 * keyword). Pure: no I/O, no state. */
#include "schema.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "council/error.h"
#include "extract.h"

enum json_type { T_OBJECT, T_ARRAY, T_STRING, T_NUMBER, T_INTEGER, T_BOOLEAN, T_NULL };

static const char *const type_names[] = {
	[T_OBJECT] = "object", [T_ARRAY] = "array", [T_STRING] = "string",
	[T_NUMBER] = "number", [T_INTEGER] = "integer", [T_BOOLEAN] = "boolean",
	[T_NULL] = "null", NULL,
};

static cJSON_bool is_integer(const cJSON *v)
{
	return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) &&
	       fabs(v->valuedouble) < 9007199254740992.0;
}

static cJSON_bool (*const type_tests[])(const cJSON *) = {
	[T_OBJECT] = cJSON_IsObject, [T_ARRAY] = cJSON_IsArray, [T_STRING] = cJSON_IsString,
	[T_NUMBER] = cJSON_IsNumber, [T_INTEGER] = is_integer, [T_BOOLEAN] = cJSON_IsBool,
	[T_NULL] = cJSON_IsNull,
};

/* ---- checking a schema ---- */

/* What one schema object holds, for the checks across its keys. */
struct draft {
	const cJSON *properties, *items, *minimum, *maximum;
	int min_length, max_length, min_items, max_items;
};

static void check_number(struct cx_check *c, const cJSON *item, const char *path, void *dest)
{
	if (cx_expect_type(c, item, path, cJSON_IsNumber, "number") && dest)
		*(const cJSON **)dest = item;
}

static void check_enum(struct cx_check *c, const cJSON *item, const char *path, void *dest)
{
	char at[CX_PATH_MAX];

	(void)dest;
	if (!cx_expect_type(c, item, path, cJSON_IsArray, "array"))
		return;
	size_t n = cx_check_count(c, item, path, 1, CX_SCHEMA_MAX_ENUM), i = 0;
	for (const cJSON *a = item->child; i < n; a = a->next, i++) {
		const cJSON *b = item->child;
		while (b != a && !cJSON_Compare(a, b, true))
			b = b->next;
		if (b == a)
			continue;
		cx_path_index(at, path, i);
		cx_check_report(c, at, "invalid_value", "the same value is listed twice");
	}
}

static const struct cx_field required_name = { .kind = CX_FIELD_STRING };

static const struct cx_field schema_fields[] = {
	{ .key = "type", .kind = CX_FIELD_WORD, .words = type_names },
	{ .key = "properties", .kind = CX_FIELD_OBJECT, CX_KEEP(struct draft, properties) },
	{ .key = "required", .kind = CX_FIELD_ARRAY, .each = &required_name },
	{ .key = "additionalProperties", .kind = CX_FIELD_BOOL },
	{ .key = "enum", .kind = CX_FIELD_CUSTOM, .check = check_enum },
	{ .key = "items", .kind = CX_FIELD_OBJECT, CX_KEEP(struct draft, items) },
	{ .key = "minimum", .kind = CX_FIELD_CUSTOM, .check = check_number,
	  CX_KEEP(struct draft, minimum) },
	{ .key = "maximum", .kind = CX_FIELD_CUSTOM, .check = check_number,
	  CX_KEEP(struct draft, maximum) },
	{ .key = "minLength", .kind = CX_FIELD_INT, .max = INT_MAX,
	  CX_KEEP(struct draft, min_length) },
	{ .key = "maxLength", .kind = CX_FIELD_INT, .max = INT_MAX,
	  CX_KEEP(struct draft, max_length) },
	{ .key = "minItems", .kind = CX_FIELD_INT, .max = INT_MAX,
	  CX_KEEP(struct draft, min_items) },
	{ .key = "maxItems", .kind = CX_FIELD_INT, .max = INT_MAX,
	  CX_KEEP(struct draft, max_items) },
	{ .key = "uniqueItems", .kind = CX_FIELD_BOOL },
	{ .key = "title", .kind = CX_FIELD_STRING },
	{ .key = "description", .kind = CX_FIELD_STRING },
};

static const struct cx_shape schema_shape = {
	schema_fields, sizeof schema_fields / sizeof schema_fields[0], 0, "a schema",
};

/* A lower bound above its upper bound admits nothing: a mistake. */
static void check_bounds(struct cx_check *c, const char *path, const struct draft *d)
{
	static const struct {
		const char *low, *high;
		size_t lo, hi;
	} pairs[] = {
		{ "minLength", "maxLength", offsetof(struct draft, min_length),
		  offsetof(struct draft, max_length) },
		{ "minItems", "maxItems", offsetof(struct draft, min_items),
		  offsetof(struct draft, max_items) },
	};
	char at[CX_PATH_MAX];

	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		int lo = *(const int *)((const char *)d + pairs[i].lo);
		int hi = *(const int *)((const char *)d + pairs[i].hi);
		if (lo < 0 || hi < 0 || lo <= hi)
			continue;
		cx_path_key(at, path, pairs[i].low);
		cx_check_report(c, at, "invalid_value", "%d is above %s %d", lo, pairs[i].high, hi);
	}
	if (d->minimum && d->maximum && d->minimum->valuedouble > d->maximum->valuedouble) {
		cx_path_key(at, path, "minimum");
		cx_check_report(c, at, "invalid_value", "%.15g is above maximum %.15g",
				d->minimum->valuedouble, d->maximum->valuedouble);
	}
}

static void check_at(struct cx_check *c, const cJSON *schema, const char *path, int depth)
{
	struct draft d = { .min_length = -1, .max_length = -1, .min_items = -1, .max_items = -1 };
	char at[CX_PATH_MAX], sub[CX_PATH_MAX];
	const cJSON *p;

	if (depth > CX_SCHEMA_MAX_DEPTH) {
		cx_check_report(c, path, "too_deep", "schemas nest at most %d deep",
				CX_SCHEMA_MAX_DEPTH);
		return;
	}
	if (!cx_check_object(c, schema, path, &schema_shape, &d))
		return;
	check_bounds(c, path, &d);
	cx_path_key(at, path, "properties");
	cJSON_ArrayForEach(p, d.properties) {
		cx_path_key(sub, at, p->string);
		check_at(c, p, sub, depth + 1);
	}
	if (d.items) {
		cx_path_key(at, path, "items");
		check_at(c, d.items, at, depth + 1);
	}
}

void cx_schema_check(struct cx_check *c, const cJSON *schema, const char *path)
{
	check_at(c, schema, path, 1);
}

/* ---- validating a value ---- */

struct verdict {
	char where[CX_PATH_MAX];   /* "$.ordering[2]" */
	char *why;
};

static bool broken(struct verdict *v, const char *keyword, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool broken(struct verdict *v, const char *keyword, const char *fmt, ...)
{
	char what[CX_SCHEMA_WHY_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	/* A long path or value is cut: the reason stays one bounded line. */
	if (snprintf(v->why, CX_SCHEMA_WHY_MAX, "%s: %s: %s", v->where, keyword, what) < 0)
		v->why[0] = '\0';
	return false;
}

/* A check of a value against a schema (validate, in_range). */
typedef bool check_fn(const cJSON *schema, const cJSON *value, struct verdict *v);

static check_fn validate;

/* Checks child (named by the suffix appended to where) and restores
 * where. */
static bool check_child(check_fn *check, const cJSON *schema, const cJSON *child,
			struct verdict *v, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static bool check_child(check_fn *check, const cJSON *schema, const cJSON *child,
			struct verdict *v, const char *fmt, ...)
{
	size_t len = strlen(v->where);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v->where + len, sizeof v->where - len, fmt, ap);
	va_end(ap);
	bool ok = check(schema, child, v);
	v->where[len] = '\0';
	return ok;
}

/* JSON Schema counts characters, not bytes: UTF-8 continuation bytes are
 * not counted. */
static long characters(const char *s)
{
	long n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static const char *shown_type(const cJSON *value)
{
	return is_integer(value) ? "integer" : cJSON_IsNumber(value) ? "number" :
	       cJSON_IsString(value) ? "string" : cJSON_IsBool(value) ? "boolean" :
	       cJSON_IsNull(value) ? "null" : cJSON_IsArray(value) ? "array" : "object";
}

/* A rule: the keyword's argument against the value; false (with the
 * verdict's why set) when it does not hold. Rules ignore values of types
 * they do not apply to, as JSON Schema does. */
typedef bool rule_fn(const cJSON *arg, const cJSON *schema, const cJSON *value,
		     struct verdict *v);

static bool rule_type(const cJSON *arg, const cJSON *schema, const cJSON *value,
		      struct verdict *v)
{
	(void)schema;
	int t = cJSON_IsString(arg) ? cx_word_index(type_names, arg->valuestring) : -1;
	if (t < 0 || type_tests[t](value))
		return true;
	return broken(v, "type", "expected %s, got %s", arg->valuestring, shown_type(value));
}

static bool rule_enum(const cJSON *arg, const cJSON *schema, const cJSON *value,
		      struct verdict *v)
{
	const cJSON *option;

	(void)schema;
	cJSON_ArrayForEach(option, arg)
		if (cJSON_Compare(option, value, true))
			return true;
	char *text = cJSON_PrintUnformatted(value);
	char shown[CX_SHOWN_MAX];
	broken(v, "enum", "%s is not one of the %d allowed values",
	       cx_shown(shown, text ? text : "the value"), cJSON_GetArraySize(arg));
	free(text);
	return false;
}

static bool rule_minimum(const cJSON *arg, const cJSON *schema, const cJSON *value,
			 struct verdict *v)
{
	(void)schema;
	if (!cJSON_IsNumber(value) || value->valuedouble >= arg->valuedouble)
		return true;
	return broken(v, "minimum", "%.15g is below %.15g", value->valuedouble, arg->valuedouble);
}

static bool rule_maximum(const cJSON *arg, const cJSON *schema, const cJSON *value,
			 struct verdict *v)
{
	(void)schema;
	if (!cJSON_IsNumber(value) || value->valuedouble <= arg->valuedouble)
		return true;
	return broken(v, "maximum", "%.15g is above %.15g", value->valuedouble, arg->valuedouble);
}

static bool rule_min_length(const cJSON *arg, const cJSON *schema, const cJSON *value,
			    struct verdict *v)
{
	(void)schema;
	if (!cJSON_IsString(value) || characters(value->valuestring) >= arg->valueint)
		return true;
	return broken(v, "minLength", "%ld characters, at least %d needed",
		      characters(value->valuestring), arg->valueint);
}

static bool rule_max_length(const cJSON *arg, const cJSON *schema, const cJSON *value,
			    struct verdict *v)
{
	(void)schema;
	if (!cJSON_IsString(value) || characters(value->valuestring) <= arg->valueint)
		return true;
	return broken(v, "maxLength", "%ld characters, at most %d allowed",
		      characters(value->valuestring), arg->valueint);
}

static bool rule_min_items(const cJSON *arg, const cJSON *schema, const cJSON *value,
			   struct verdict *v)
{
	(void)schema;
	if (!cJSON_IsArray(value) || cJSON_GetArraySize(value) >= arg->valueint)
		return true;
	return broken(v, "minItems", "%d items, at least %d needed",
		      cJSON_GetArraySize(value), arg->valueint);
}

static bool rule_max_items(const cJSON *arg, const cJSON *schema, const cJSON *value,
			   struct verdict *v)
{
	(void)schema;
	if (!cJSON_IsArray(value) || cJSON_GetArraySize(value) <= arg->valueint)
		return true;
	return broken(v, "maxItems", "%d items, at most %d allowed",
		      cJSON_GetArraySize(value), arg->valueint);
}

static bool rule_unique_items(const cJSON *arg, const cJSON *schema, const cJSON *value,
			      struct verdict *v)
{
	int i = 0;

	(void)schema;
	if (!cJSON_IsTrue(arg) || !cJSON_IsArray(value))
		return true;
	for (const cJSON *a = value->child; a; a = a->next, i++) {
		int j = 0;
		for (const cJSON *b = value->child; b != a; b = b->next, j++)
			if (cJSON_Compare(a, b, true))
				return broken(v, "uniqueItems", "items %d and %d are equal", j, i);
	}
	return true;
}

static bool rule_required(const cJSON *arg, const cJSON *schema, const cJSON *value,
			  struct verdict *v)
{
	const cJSON *name;
	char shown[CX_SHOWN_MAX];

	(void)schema;
	if (!cJSON_IsObject(value))
		return true;
	cJSON_ArrayForEach(name, arg)
		if (!cJSON_GetObjectItemCaseSensitive(value, name->valuestring))
			return broken(v, "required", "\"%s\" is missing",
				      cx_shown(shown, name->valuestring));
	return true;
}

static bool rule_additional(const cJSON *arg, const cJSON *schema, const cJSON *value,
			    struct verdict *v)
{
	const cJSON *properties = cJSON_GetObjectItemCaseSensitive(schema, "properties");
	const cJSON *item;
	char shown[CX_SHOWN_MAX];

	if (cJSON_IsTrue(arg) || !cJSON_IsObject(value))
		return true;
	cJSON_ArrayForEach(item, value)
		if (!cJSON_GetObjectItemCaseSensitive(properties, item->string))
			return broken(v, "additionalProperties", "\"%s\" is not a known property",
				      cx_shown(shown, item->string));
	return true;
}

static bool rule_properties(const cJSON *arg, const cJSON *schema, const cJSON *value,
			    struct verdict *v)
{
	const cJSON *item;

	(void)schema;
	if (!cJSON_IsObject(value))
		return true;
	cJSON_ArrayForEach(item, value) {
		const cJSON *sub = cJSON_GetObjectItemCaseSensitive(arg, item->string);
		if (sub && !check_child(validate, sub, item, v, ".%s", item->string))
			return false;
	}
	return true;
}

static bool rule_items(const cJSON *arg, const cJSON *schema, const cJSON *value,
		       struct verdict *v)
{
	const cJSON *item;
	int i = 0;

	(void)schema;
	if (!cJSON_IsArray(value))
		return true;
	cJSON_ArrayForEach(item, value)
		if (!check_child(validate, arg, item, v, "[%d]", i++))
			return false;
	return true;
}

/* In the order they are tried: the value's own shape, then what is in it. */
static const struct {
	const char *keyword;
	rule_fn *holds;
} rules[] = {
	{ "type", rule_type },
	{ "enum", rule_enum },
	{ "minimum", rule_minimum },
	{ "maximum", rule_maximum },
	{ "minLength", rule_min_length },
	{ "maxLength", rule_max_length },
	{ "minItems", rule_min_items },
	{ "maxItems", rule_max_items },
	{ "uniqueItems", rule_unique_items },
	{ "required", rule_required },
	{ "additionalProperties", rule_additional },
	{ "properties", rule_properties },
	{ "items", rule_items },
};

static bool validate(const cJSON *schema, const cJSON *value, struct verdict *v)
{
	for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
		const cJSON *arg = cJSON_GetObjectItemCaseSensitive(schema, rules[i].keyword);
		if (arg && !rules[i].holds(arg, schema, value, v))
			return false;
	}
	return true;
}

/* Every number in value within a double's range: cJSON reads 1e999 as
 * infinity, and prints it as null, so a value holding one would not be
 * kept as it was judged. */
static bool in_range(const cJSON *schema, const cJSON *value, struct verdict *v)
{
	const cJSON *item;
	int i = 0;

	if (cJSON_IsNumber(value) && !isfinite(value->valuedouble))
		return broken(v, "json", "the number is past the range of a double");
	cJSON_ArrayForEach(item, value) {
		bool ok = cJSON_IsArray(value) ? check_child(in_range, schema, item, v, "[%d]", i++)
					       : check_child(in_range, schema, item, v, ".%s", item->string);
		if (!ok)
			return false;
	}
	return true;
}

bool cx_schema_validate(const cJSON *schema, const cJSON *value, char why[CX_SCHEMA_WHY_MAX])
{
	struct verdict v = { .where = "$", .why = why };

	why[0] = '\0';
	return in_range(schema, value, &v) && validate(schema, value, &v);
}

cJSON *cx_schema_answer(const cJSON *schema, const char *text, size_t len,
			char why[CX_SCHEMA_WHY_MAX])
{
	cJSON *value = cx_extract_json(text, len);

	if (!value) {
		snprintf(why, CX_SCHEMA_WHY_MAX, "$: json: the answer holds no JSON value");
		return NULL;
	}
	if (cx_schema_validate(schema, value, why))
		return value;
	cJSON_Delete(value);
	return NULL;
}

int cx_schema_judge(const char *schema_text, size_t schema_len, const char *answer,
		    size_t answer_len, char why[CX_SCHEMA_WHY_MAX])
{
	struct cx_diags diags = { 0 };
	struct cx_check c = { .diags = &diags };
	cJSON *schema = cJSON_ParseWithLength(schema_text, schema_len);
	int rc = CX_EINVALID;

	if (!schema) {
		snprintf(why, CX_SCHEMA_WHY_MAX, "the schema is not JSON");
		return CX_EINVALID;
	}
	cx_schema_check(&c, schema, "");
	if (c.errors) {
		const struct cx_diag *d = &diags.v[0];
		if (snprintf(why, CX_SCHEMA_WHY_MAX, "%s: %s: %s", d->path, d->code, d->message) < 0)
			why[0] = '\0';
	} else {
		cJSON *value = cx_schema_answer(schema, answer, answer_len, why);
		rc = value ? CX_OK : CX_EINVALID;
		cJSON_Delete(value);
	}
	cx_diags_free(&diags);
	cJSON_Delete(schema);
	return rc;
}
