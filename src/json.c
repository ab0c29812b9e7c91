#include "json.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "utf8.h"

#define HEX "0123456789abcdef"

const char *cx_json_str(const cJSON *obj, const char *key)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));
	return s ? s : "";
}

bool cx_json_int_value(const cJSON *item, int64_t min, int64_t max, int64_t *out)
{
	if (!cJSON_IsNumber(item))
		return false;
	double d = item->valuedouble;
	/* In int64_t's range before the cast (NaN fails both tests); whole
	 * after it. */
	if (!(d >= -0x1p63 && d < 0x1p63) || d != (double)(int64_t)d)
		return false;
	int64_t n = (int64_t)d;
	if (n < min || n > max)
		return false;
	*out = n;
	return true;
}

int64_t cx_json_int(const cJSON *obj, const char *key, int64_t min, int64_t max, int64_t dflt)
{
	int64_t n;
	return cx_json_int_value(cJSON_GetObjectItemCaseSensitive(obj, key), min, max, &n) ? n : dflt;
}

/* The 4 hex digits at s (n bytes there) as a number, or -1. */
static long hex4(const unsigned char *s, size_t n)
{
	long v = 0;
	for (size_t i = 0; i < 4; i++) {
		const char *d = i < n && s[i] ? strchr(HEX, tolower(s[i])) : NULL;
		if (!d)
			return -1;
		v = v * 16 + (d - HEX);
	}
	return v;
}

/* The first thing in text[0..len) that cJSON would misread or that no
 * reader should meet, or NULL; *at is its byte offset. cJSON keeps strings
 * as C strings, so a NUL (raw or \u0000) would silently cut an id or a
 * tenant name short ("t\u0000x" read as "t"); it takes any byte, valid
 * UTF-8 or not; and its own nesting limit (1000) only says "not valid".
 * This pass is where each is refused, for every reader at once. */
static const char *misread(const char *text, size_t len, size_t *at)
{
	const unsigned char *s = (const unsigned char *)text;
	bool in_string = false;
	unsigned depth = 0;
	for (size_t i = 0, k; i < len; i += k) {
		*at = i;
		k = 1;
		if (s[i] == 0)
			return "a NUL byte";
		if (s[i] >= 0x80 && !(k = cx_utf8_seq_len(s + i, len - i)))
			return "invalid UTF-8";
		if (!in_string) {
			in_string = s[i] == '"';
			if ((s[i] == '[' || s[i] == '{') && ++depth > CX_JSON_DEPTH_MAX)
				return "nested deeper than " CX_JSON_DEPTH_MAX_TEXT " levels";
			if ((s[i] == ']' || s[i] == '}') && depth)
				depth--;
			continue;
		}
		if (s[i] == '"') {
			in_string = false;
		} else if (s[i] == '\\' && i + 1 < len && s[i + 1] < 0x80) {
			long u = s[i + 1] == 'u' ? hex4(s + i + 2, len - i - 2) : -1;
			long lo = u >= 0xd800 && u <= 0xdbff && i + 7 < len && s[i + 6] == '\\' &&
				  s[i + 7] == 'u' ? hex4(s + i + 8, len - i - 8) : -1;
			k = u < 0 ? 2 : lo >= 0xdc00 && lo <= 0xdfff ? 12 : 6;
			if (u == 0)
				return "NUL (\\u0000) in a string";
			if (k == 6 && u >= 0xd800 && u <= 0xdfff)
				return "an unpaired UTF-16 surrogate";
		}
	}
	return NULL;
}

cJSON *cx_json_parse(const char *text, size_t len, char *why, size_t why_size)
{
	size_t at = 0;
	const char *problem = misread(text, len, &at);
	if (problem) {
		snprintf(why, why_size, "%s at byte %zu", problem, at);
		return NULL;
	}
	const char *end = NULL;
	cJSON *json = cJSON_ParseWithLengthOpts(text, len, &end, false);
	at = end ? (size_t)(end - text) : 0;
	while (json && at < len && strchr(" \t\r\n", text[at]))
		at++;
	if (json && at < len) {
		cJSON_Delete(json);
		snprintf(why, why_size, "text after the JSON value (at byte %zu)", at);
		return NULL;
	}
	if (!json)
		snprintf(why, why_size, "not valid JSON (at byte %zu)", at);
	return json;
}
