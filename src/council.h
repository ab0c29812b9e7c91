/* A council run, as an object driven by the loop: its rounds in order, the
 * calls of a round concurrently, and the events of all of it. The worker's
 * runner drives one for the run (runner.h); a sub-council member drives
 * another, nested, as its provider attempt (provider_council.c).
 *
 * Loop callbacks only record what happened (a call finished, a cancel
 * came); the council's step is the only code that moves the run on: it
 * settles the pass in flight, then starts the next pass or round, or ends
 * the run. The run's own council is stepped by its runner between loop
 * turns (cx_council_step); a sub-council steps itself, from a zero-delay
 * timer armed whenever one of its calls finishes. */
#ifndef CX_COUNCIL_H
#define CX_COUNCIL_H

#include <stdbool.h>
#include <cjson/cJSON.h>

#include "council/spec.h"
#include "event.h"
#include "loop.h"
#include "proc.h"

struct cx_council;

/* Called once, from the council's step, when the run has ended. It must not
 * free the council: do that from a later loop callback. */
typedef void cx_council_end_fn(struct cx_council *c, void *arg);

struct cx_council_params {
	const struct cx_spec *spec;
	const cJSON *input;
	const char *run_id;        /* in the requests: the run's id ("<run>/<member>" below) */
	struct cx_loop *loop;
	struct cx_emitter *em;
	struct cx_council *parent; /* a sub-council's: its cancel reaches this one; NULL
				    * for the run's own council */
	enum cx_verbosity verbose; /* the run's own council's; a sub-council takes its
				    * parent's */
	cx_council_end_fn *on_end; /* may be NULL */
	void *arg;
};

/* Everything in params must outlive the council. NULL when out of memory. */
struct cx_council *cx_council_new(const struct cx_council_params *params);
/* Frees an ended council, or one never started; an unended one stops
 * without reporting (its calls are freed in flight). */
void cx_council_free(struct cx_council *c);

/* Emits run_started; the first round begins at the next step. */
void cx_council_start(struct cx_council *c);
/* Moves the run on as far as it goes without waiting; true once it has
 * ended. For the run's own council (params.parent NULL), which nothing else
 * steps. */
bool cx_council_step(struct cx_council *c);
/* Cooperative, as CouncilEx's cancel: the pass in flight drains, nothing
 * else starts, and the run fails with kind "cancelled". It reaches the
 * sub-councils running under this one the same way. */
void cx_council_cancel(struct cx_council *c);
/* Stops every call in flight; once they have, the run ends without a
 * terminal event (its supervisor is gone, or its member's attempt was
 * stopped). */
void cx_council_abort(struct cx_council *c, const char *why);

bool cx_council_ended(const struct cx_council *c);
/* Once ended: an enum cx_run_exit (runner.h). */
int cx_council_exit(const struct cx_council *c);
/* Once ended: the Result {council, final, rounds}, which the caller takes. */
cJSON *cx_council_take_result(struct cx_council *c);
/* Once ended: the errors of a failed run [{kind, message, member, round}]
 * (borrowed; empty otherwise). */
const cJSON *cx_council_errors(const struct cx_council *c);

/* True if child is the subprocess of a call in flight, sub-councils'
 * included (call.h, owns()). */
bool cx_council_owns(const struct cx_council *c, const struct cx_proc *child);

#endif
