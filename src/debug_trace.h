/* The debug level of a run's verbosity, as CouncilEx's verbose tracer at
 * :debug: each member's rendered prompt and each answer it gives, recorded
 * as member_debug events (docs/events.md#member_debug), each text cut to
 * CX_DEBUG_TEXT_MAX characters. Nothing else of the request is shown: a
 * profile's headers and API keys are never part of it, and the values of
 * the environment variables a profile names (api_key_env, env_pass) are
 * replaced where a prompt or an answer holds them. */
#ifndef CX_DEBUG_TRACE_H
#define CX_DEBUG_TRACE_H

#include "call.h"

#define CX_DEBUG_TEXT_MAX 800   /* characters, as CouncilEx's 800 per field */

/* One member_debug event per message of the call's request (system, user),
 * when the run is at the debug level. */
void cx_debug_prompt(struct cx_call *call);
/* A member_debug event with the answer of the attempt in flight (valid
 * UTF-8), when the run is at the debug level. */
void cx_debug_answer(struct cx_call *call, const char *text);

#endif
