/* What a member is asked in a round. Every provider receives the same
 * request document:
 *
 *   {run_id, council, round, member, role, system_prompt,
 *    messages: [{role: "system"|"user", content}...], input}
 *
 * Only the user message differs between round types. */
#ifndef CX_PROMPT_H
#define CX_PROMPT_H

#include <cjson/cJSON.h>

#include "council/spec.h"

struct cx_prompt {
	const char *run_id;
	const struct cx_spec *spec;
	const cJSON *input;
	const struct cx_round *round;
	const cJSON *prev;      /* member results of the previous round {id: result}, or NULL */
};

/* The request for member in p->round; NULL when out of memory. */
cJSON *cx_prompt_request(const struct cx_prompt *p, const struct cx_member *member);

/* The request's last user message (what the member is asked), or "". */
const char *cx_prompt_user_text(const cJSON *request);

#endif
