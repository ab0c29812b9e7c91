/* Checking a JSON object against a table of fields: the machinery the spec
 * and its profiles are validated with. Every finding is reported; none stops
 * the check. */
#include "shape.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "council/ids.h"

void cx_check_report(struct cx_check *c, const char *path, const char *code,
		     const char *fmt, ...)
{
	char message[sizeof ((struct cx_diag *)0)->message];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	c->errors++;
	cx_diags_add(c->diags, path[0] ? path : "$", code, "%s", message);
}

/* Keys come from the spec: keep a path on one printable line. */
static void printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

void cx_path_key(char out[CX_PATH_MAX], const char *parent, const char *key)
{
	snprintf(out, CX_PATH_MAX, "%s%s%s", parent, parent[0] ? "." : "", key);
	printable(out);
}

void cx_path_index(char out[CX_PATH_MAX], const char *parent, size_t i)
{
	snprintf(out, CX_PATH_MAX, "%s[%zu]", parent, i);
}

const char *cx_shown(char buf[CX_SHOWN_MAX], const char *s)
{
	static const char cut[] = "...";

	if (strlcpy(buf, s, CX_SHOWN_MAX) >= CX_SHOWN_MAX)
		memcpy(buf + CX_SHOWN_MAX - sizeof cut, cut, sizeof cut);
	printable(buf);
	return buf;
}

int cx_word_index(const char *const *words, const char *word)
{
	for (int i = 0; words[i]; i++)
		if (!strcmp(words[i], word))
			return i;
	return -1;
}

/* ---- values ---- */

static const char *json_type_name(const cJSON *item)
{
	if (cJSON_IsBool(item))
		return "boolean";
	if (cJSON_IsNull(item))
		return "null";
	if (cJSON_IsNumber(item))
		return "number";
	if (cJSON_IsString(item))
		return "string";
	if (cJSON_IsArray(item))
		return "array";
	return "object";
}

bool cx_expect_type(struct cx_check *c, const cJSON *item, const char *path,
		    cJSON_bool (*is)(const cJSON *), const char *want)
{
	if (is(item))
		return true;
	cx_check_report(c, path, "wrong_type", "expected %s, got %s", want,
			json_type_name(item));
	return false;
}

static void keep(void *dest, const void *value, size_t size)
{
	if (dest)
		memcpy(dest, value, size);
}

static void check_name(struct cx_check *c, const struct cx_field *f,
		       const cJSON *item, const char *path, void *dest)
{
	char shown[CX_SHOWN_MAX];

	(void)f;
	if (!cx_expect_type(c, item, path, cJSON_IsString, "string"))
		return;
	if (!cx_name_valid(item->valuestring)) {
		cx_check_report(c, path, "invalid_name",
				"\"%s\" is not a name (1-%d characters of A-Za-z0-9._-)",
				cx_shown(shown, item->valuestring), CX_NAME_MAX);
		return;
	}
	keep(dest, &item->valuestring, sizeof item->valuestring);
}

static void check_string(struct cx_check *c, const struct cx_field *f,
			 const cJSON *item, const char *path, void *dest)
{
	if (!cx_expect_type(c, item, path, cJSON_IsString, "string"))
		return;
	size_t len = strlen(item->valuestring);
	if (len < (size_t)f->min)
		cx_check_report(c, path, "invalid_value",
				"%zu bytes, at least %ld needed", len, f->min);
	else if (f->max && len > (size_t)f->max)
		cx_check_report(c, path, "too_large",
				"%zu bytes, at most %ld allowed", len, f->max);
	else
		keep(dest, &item->valuestring, sizeof item->valuestring);
}

/* A number (want: "integer" or "number") in f's range. */
static bool in_range(struct cx_check *c, const struct cx_field *f,
		     const cJSON *item, const char *path, const char *want)
{
	if (!cx_expect_type(c, item, path, cJSON_IsNumber, want))
		return false;
	double v = item->valuedouble;
	if (v >= f->min && v <= f->max)
		return true;
	cx_check_report(c, path, "out_of_range", "must be %ld to %ld, got %.15g",
			f->min, f->max, v);
	return false;
}

static void check_int(struct cx_check *c, const struct cx_field *f,
		      const cJSON *item, const char *path, void *dest)
{
	if (!in_range(c, f, item, path, "integer"))
		return;
	double v = item->valuedouble;
	int n = (int)v;
	if (n != v) {
		cx_check_report(c, path, "wrong_type",
				"expected integer, got %.15g", v);
		return;
	}
	keep(dest, &n, sizeof n);
}

static void check_number(struct cx_check *c, const struct cx_field *f,
			 const cJSON *item, const char *path, void *dest)
{
	if (in_range(c, f, item, path, "number"))
		keep(dest, &item->valuedouble, sizeof item->valuedouble);
}

static void check_bool(struct cx_check *c, const struct cx_field *f,
		       const cJSON *item, const char *path, void *dest)
{
	(void)f;
	if (!cx_expect_type(c, item, path, cJSON_IsBool, "boolean"))
		return;
	bool b = cJSON_IsTrue(item);
	keep(dest, &b, sizeof b);
}

static void check_word(struct cx_check *c, const struct cx_field *f,
		       const cJSON *item, const char *path, void *dest)
{
	char shown[CX_SHOWN_MAX], list[256] = "";

	if (!cx_expect_type(c, item, path, cJSON_IsString, "string"))
		return;
	int i = cx_word_index(f->words, item->valuestring);
	if (i >= 0) {
		keep(dest, &i, sizeof i);
		return;
	}
	for (const char *const *w = f->words; *w; w++) {
		strlcat(list, w == f->words ? "" : ", ", sizeof list);
		strlcat(list, *w, sizeof list);
	}
	cx_check_report(c, path, "invalid_value", "\"%s\" is not one of %s",
			cx_shown(shown, item->valuestring), list);
}

static void check_object(struct cx_check *c, const struct cx_field *f,
			 const cJSON *item, const char *path, void *dest)
{
	(void)f;
	if (cx_expect_type(c, item, path, cJSON_IsObject, "object"))
		keep(dest, &item, sizeof item);
}

size_t cx_check_count(struct cx_check *c, const cJSON *item, const char *path,
		      long min, long max)
{
	size_t n = (size_t)cJSON_GetArraySize(item);

	if (n < (size_t)min)
		cx_check_report(c, path, "too_few",
				"%zu entries, at least %ld needed", n, min);
	if (max && n > (size_t)max) {
		cx_check_report(c, path, "too_many",
				"%zu entries, at most %ld allowed (only the first %ld are checked)",
				n, max, max);
		return (size_t)max;
	}
	return n;
}

static void check_array(struct cx_check *c, const struct cx_field *f,
			const cJSON *item, const char *path, void *dest)
{
	char at[CX_PATH_MAX];

	if (!cx_expect_type(c, item, path, cJSON_IsArray, "array"))
		return;
	size_t n = cx_check_count(c, item, path, f->min, f->max), i = 0;
	const cJSON *el = item->child;
	for (; f->each && i < n; i++, el = el->next) {
		cx_path_index(at, path, i);
		cx_check_value(c, f->each, el, at, NULL);
	}
	keep(dest, &item, sizeof item);
}

static void check_custom(struct cx_check *c, const struct cx_field *f,
			 const cJSON *item, const char *path, void *dest)
{
	f->check(c, item, path, dest);
}

void cx_check_value(struct cx_check *c, const struct cx_field *f,
		    const cJSON *item, const char *path, void *target)
{
	typedef void kind_fn(struct cx_check *, const struct cx_field *,
			     const cJSON *, const char *, void *);
	static kind_fn *const by_kind[] = {
		[CX_FIELD_NAME] = check_name,
		[CX_FIELD_STRING] = check_string,
		[CX_FIELD_INT] = check_int,
		[CX_FIELD_NUMBER] = check_number,
		[CX_FIELD_BOOL] = check_bool,
		[CX_FIELD_WORD] = check_word,
		[CX_FIELD_OBJECT] = check_object,
		[CX_FIELD_ARRAY] = check_array,
		[CX_FIELD_CUSTOM] = check_custom,
	};

	by_kind[f->kind](c, f, item, path, f->keep ? (char *)target + f->at : NULL);
}

/* ---- objects ---- */

const struct cx_field *cx_shape_find(const struct cx_shape *shape,
				     const char *key)
{
	for (size_t i = 0; i < shape->n; i++) {
		const struct cx_field *f = &shape->fields[i];
		if (!strcmp(f->key, key) &&
		    (!f->only || !shape->variant || (f->only & shape->variant)))
			return f;
	}
	return NULL;
}

bool cx_check_object(struct cx_check *c, const cJSON *obj, const char *path,
		     const struct cx_shape *shape, void *target)
{
	char at[CX_PATH_MAX], shown[CX_SHOWN_MAX];
	uint64_t seen = 0;
	const cJSON *item;

	if (!cx_expect_type(c, obj, path, cJSON_IsObject, "object"))
		return false;
	cJSON_ArrayForEach(item, obj) {
		const struct cx_field *f = cx_shape_find(shape, item->string);
		uint64_t bit = f ? UINT64_C(1) << (f - shape->fields) : 0;
		cx_path_key(at, path, item->string);
		if (!f)
			cx_check_report(c, at, "unknown_key", "\"%s\" is not a key of %s",
					cx_shown(shown, item->string), shape->what);
		else if (seen & bit)
			cx_check_report(c, at, "invalid_value", "\"%s\" is given more than once",
					cx_shown(shown, item->string));
		else
			cx_check_value(c, f, item, at, target);
		seen |= bit;
	}
	for (size_t i = 0; i < shape->n; i++) {
		if (!shape->fields[i].required || (seen & UINT64_C(1) << i))
			continue;
		cx_path_key(at, path, shape->fields[i].key);
		cx_check_report(c, at, "missing_key", "\"%s\" is required in %s",
				shape->fields[i].key, shape->what);
	}
	return true;
}
