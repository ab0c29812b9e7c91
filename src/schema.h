/* Structured answers: a subset of JSON Schema, checked once when the spec is
 * parsed and then used to validate what members answer.
 *
 * The subset (docs/rounds.md): type (one of object, array, string, number,
 * integer, boolean, null), properties, required, additionalProperties
 * (boolean), enum, items, minimum, maximum, minLength, maxLength, minItems,
 * maxItems, uniqueItems, and the annotations title and description. Any
 * other keyword is refused, so a schema never means less than it says. */
#ifndef CX_SCHEMA_H
#define CX_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "shape.h"

#define CX_SCHEMA_MAX_DEPTH 16      /* schemas nested in properties and items */
#define CX_SCHEMA_MAX_ENUM 256
#define CX_SCHEMA_WHY_MAX 256

/* Reports every way schema (found at path) is not a schema of the subset. */
void cx_schema_check(struct cx_check *c, const cJSON *schema, const char *path);

/* True when value is valid against schema (one cx_schema_check accepted).
 * Otherwise why is "<where>: <keyword>: <what>", the first rule broken:
 * `$.confidence: maximum: 1.5 is above 1`. A number past a double's range
 * (1e999, which cJSON reads as infinity and prints as null) is never
 * valid: `$.confidence: json: the number is past the range of a double`. */
bool cx_schema_validate(const cJSON *schema, const cJSON *value, char why[CX_SCHEMA_WHY_MAX]);

/* The JSON of a member's answer (extract.h), valid against schema: the
 * value, or NULL with why set (no JSON found, or the first rule broken). */
cJSON *cx_schema_answer(const cJSON *schema, const char *text, size_t len,
			char why[CX_SCHEMA_WHY_MAX]);

/* The whole path from text, for fuzzers and tools: schema_text must be a
 * schema of the subset (else CX_EINVALID, why naming the first finding),
 * then answer is judged as cx_schema_answer does. Returns CX_OK when the
 * answer is valid, CX_EINVALID when not, CX_ENOMEM. Neither text needs a
 * terminating NUL. */
int cx_schema_judge(const char *schema_text, size_t schema_len, const char *answer,
		    size_t answer_len, char why[CX_SCHEMA_WHY_MAX]);

#endif
