/* What a member is asked in a round. Every provider receives the same
 * request document:
 *
 *   {run_id, council, round, member, role, system_prompt,
 *    messages: [{role: "system"|"user", content}...], input,
 *    response_schema (only when the answer must be JSON)}
 *
 * Only the user message differs between round types (docs/rounds.md has
 * each one). */
#ifndef CX_PROMPT_H
#define CX_PROMPT_H

#include <cjson/cJSON.h>

#include "council/spec.h"

struct cx_prompt {
	const char *run_id;
	const struct cx_spec *spec;
	const cJSON *input;
	const struct cx_round *round;   /* the round asked: an iterate round's inner round */
	const cJSON *answers;   /* the result of the round whose answers this one works on
				 * ({members: {id: result}, aggregate...}), or NULL */
	const cJSON *candidates; /* what a ballot or a judgement chooses among:
				  * [{"label"} (an option) or {"label", "text"} (an answer)] */
	const cJSON *tally;     /* the aggregate of this round's previous iteration, or NULL */
	const cJSON *schema;    /* the JSON the answer must hold, or NULL */
};

/* The request for member in p->round; NULL when out of memory. */
cJSON *cx_prompt_request(const struct cx_prompt *p, const struct cx_member *member);

/* The request's last user message (what the member is asked), or "". */
const char *cx_prompt_user_text(const cJSON *request);

#endif
