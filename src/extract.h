/* Finding the JSON in a member's answer. Models asked for JSON often wrap
 * it in a sentence or a Markdown fence, so the answer's JSON is, in this
 * order:
 *
 *   1. the whole text, blanks around it allowed;
 *   2. the body of the first ``` fenced block (```json or any other tag)
 *      that is JSON;
 *   3. the first balanced {...} or [...] that is JSON. At most
 *      CX_EXTRACT_MAX_TRIES opening brackets are tried, so the work stays
 *      linear in the text whatever it holds.
 *
 * Pure: the text is only read. */
#ifndef CX_EXTRACT_H
#define CX_EXTRACT_H

#include <stddef.h>
#include <cjson/cJSON.h>

#define CX_EXTRACT_MAX_TRIES 16

/* The JSON value found in text[0..len) (no NUL needed), or NULL. */
cJSON *cx_extract_json(const char *text, size_t len);

#endif
