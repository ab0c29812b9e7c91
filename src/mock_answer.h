/* What the mock provider answers (provider_mock.c), offline and the same
 * every time for the same member, round and prompt:
 *
 *   - the profile's "replies" entry for the round's name, when it has one
 *     (a string as it is, any other JSON value as its JSON text);
 *   - else its "reply";
 *   - else, when the request asks for JSON (response_schema), a value made
 *     to satisfy that schema: an enum's value, numbers within their bounds,
 *     arrays of an allowed length (of distinct enum values when
 *     uniqueItems), objects with every property, strings of words;
 *   - else "<member id>:" and `words` words (default 24).
 *
 * Every choice comes from a sequence seeded with the member id, the round
 * and the prompt (prng.h). */
#ifndef CX_MOCK_ANSWER_H
#define CX_MOCK_ANSWER_H

#include "call.h"

/* The answer for the call's attempt, malloc'd; NULL when out of memory. */
char *cx_mock_answer(const struct cx_call *call);

#endif
