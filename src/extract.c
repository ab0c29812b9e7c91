#include "extract.h"

#include <stdbool.h>
#include <string.h>

#define BLANKS " \t\r\n"
#define FENCE "```"

static bool blank(char c)
{
	return c && strchr(BLANKS, c);
}

/* text[0..len) holding one JSON value and blanks only. */
static cJSON *whole(const char *text, size_t len)
{
	const char *end = NULL;
	cJSON *value = cJSON_ParseWithLengthOpts(text, len, &end, false);

	if (!value)
		return NULL;
	while (end < text + len && blank(*end))
		end++;
	if (end == text + len)
		return value;
	cJSON_Delete(value);
	return NULL;
}

static const char *find(const char *from, const char *end, const char *what)
{
	return memmem(from, (size_t)(end - from), what, strlen(what));
}

/* The bodies of ``` fences: the line after the opening fence (whatever its
 * tag) up to the closing one. */
static cJSON *fenced(const char *text, const char *end)
{
	const char *open = text;

	while ((open = find(open, end, FENCE))) {
		const char *body = memchr(open, '\n', (size_t)(end - open));
		const char *close = body ? find(body, end, FENCE) : NULL;
		if (!close)
			return NULL;
		cJSON *value = whole(body, (size_t)(close - body));
		if (value)
			return value;
		open = close + strlen(FENCE);
	}
	return NULL;
}

/* Length of the balanced span opening at text[0] ('{' or '['), or 0 when
 * it never closes. Brackets inside strings do not count. */
static size_t balanced(const char *text, const char *end)
{
	size_t depth = 0;
	bool in_string = false;

	for (const char *p = text; p < end; p++) {
		if (in_string) {
			if (*p == '\\')
				p++;
			else if (*p == '"')
				in_string = false;
		} else if (*p == '"') {
			in_string = true;
		} else if (*p == '{' || *p == '[') {
			depth++;
		} else if ((*p == '}' || *p == ']') && --depth == 0) {
			return (size_t)(p - text) + 1;
		}
	}
	return 0;
}

static cJSON *bracketed(const char *text, const char *end)
{
	const char *p = text;

	for (int tries = 0; tries < CX_EXTRACT_MAX_TRIES; tries++) {
		while (p < end && *p != '{' && *p != '[')
			p++;
		if (p == end)
			return NULL;
		size_t n = balanced(p, end);
		cJSON *value = n ? whole(p, n) : NULL;
		if (value)
			return value;
		p++;
	}
	return NULL;
}

cJSON *cx_extract_json(const char *text, size_t len)
{
	cJSON *value = whole(text, len);

	if (!value)
		value = fenced(text, text + len);
	if (!value)
		value = bracketed(text, text + len);
	return value;
}
