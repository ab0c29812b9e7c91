/* The round library (docs/rounds.md): for one round in flight, who is
 * called with what request, and what the round reports once they have
 * answered. A round runs in passes, a pass being a set of calls made at
 * once: one pass for most rounds, one per iteration for an iterate round.
 * Calls are made and started by the council (council.h), which hands each
 * pass back here once every call of it has finished.
 *
 * The round result is {round, type, members: {id: member result}, ...}
 * with, by type: "aggregate" (vote, ranking, anonymized_peer_review,
 * pairwise_elimination), "label_to_id" (anonymized_peer_review),
 * "judgements" (pairwise_elimination), "iterations" and "converged"
 * (iterate), and "final": the answer the round settled on, when it settled
 * on one (synthesis, and rounds that elect a winner). */
#ifndef CX_ROUNDS_H
#define CX_ROUNDS_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "call.h"
#include "council/spec.h"

/* What a round sees of its council. */
struct cx_round_scene {
	const char *run_id;
	const struct cx_spec *spec;
	const cJSON *input;
	const cJSON *routed;        /* the ids of the members the router chose
				     * (router.h), or NULL: every member */
	struct cx_call_env *env;
};

struct cx_round_run;

/* Round `round` of the scene's council, after the round whose result is
 * `before` (NULL for the first); both must outlive it. NULL when out of
 * memory. */
struct cx_round_run *cx_round_run_new(const struct cx_round_scene *scene,
				      const struct cx_round *round, const cJSON *before);
void cx_round_run_free(struct cx_round_run *r);

/* Plans the next pass: returns how many calls it makes (at least 1; a pass
 * that needs none is settled at once and the next planned), 0 once the
 * round is over, or -ENOMEM. */
int cx_round_run_next(struct cx_round_run *r);
/* The calls of the pass planned: not started, owned by the round. */
struct cx_call **cx_round_run_calls(const struct cx_round_run *r);

/* Settles the pass whose calls have all finished. With stop, no pass
 * follows (a failure or a cancel ended the round). */
void cx_round_run_settle(struct cx_round_run *r, bool stop);

/* The round result, once cx_round_run_next() returned 0 (the caller owns
 * it). */
cJSON *cx_round_run_result(struct cx_round_run *r);

#endif
