/* A council's router (docs/spec.md#router), as CouncilEx.Router: which of
 * the members take part in a run, chosen once from its input. A member it
 * leaves out sits every round as "skipped" with reason "router_excluded"
 * (docs/rounds.md#routing). */
#ifndef CX_ROUTER_H
#define CX_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "council/spec.h"
#include "shape.h"

#define CX_ROUTER_MAX_RULES 32

/* Checks the spec's "router" (NULL: none) at "router"; ids are the
 * members' (the chair is never routed). */
void cx_router_check(struct cx_check *c, const cJSON *router, const char *const *ids,
		     size_t n_ids);

/* The member a router names to choose the others (its "member"), or NULL. */
const struct cx_member *cx_router_member(const struct cx_spec *spec);

/* The ids of the members a router of rules lets take part on input: those
 * of its first rule that holds, else its default, else every member. A new
 * array (NULL when out of memory, or when the spec has no router of rules:
 * everyone, until a router member has chosen). */
cJSON *cx_router_select(const struct cx_spec *spec, const cJSON *input);

/* Whether member takes part, given what cx_router_select chose. */
bool cx_router_admits(const cJSON *selected, const struct cx_member *member);

#endif
