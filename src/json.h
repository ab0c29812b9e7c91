/* Reading fields of JSON that came from elsewhere (status files, events,
 * requests, replies): a value of the wrong type or out of range reads as
 * the caller's default. A JSON number is a double, and a double beyond the
 * range of the integer it is cast to (or NaN, which cJSON returns for what
 * is not a number) is undefined behaviour: every such read goes here. */
#ifndef CX_JSON_H
#define CX_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#define CX_JSON_DEPTH_MAX 128  /* arrays and objects in one another */
#define CX_JSON_DEPTH_MAX_TEXT "128"

/* The one way JSON text from elsewhere (requests, replies, specs, inputs)
 * is parsed: text[0..len) must be one JSON value, whitespace around it,
 * valid UTF-8, with no NUL (raw or \u0000) and no unpaired surrogate, and
 * nested at most CX_JSON_DEPTH_MAX deep. Returns the value, or NULL with
 * why saying what is wrong and at which byte. */
cJSON *cx_json_parse(const char *text, size_t len, char *why, size_t why_size);

/* The string at key, or "" when absent or not a string. */
const char *cx_json_str(const cJSON *obj, const char *key);
/* True when item is a whole number in [min, max], then stored in *out. */
bool cx_json_int_value(const cJSON *item, int64_t min, int64_t max, int64_t *out);
/* The whole number at key when it is one in [min, max], else dflt. */
int64_t cx_json_int(const cJSON *obj, const char *key, int64_t min, int64_t max, int64_t dflt);

#endif
