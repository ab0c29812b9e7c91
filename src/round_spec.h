/* The rounds of a council spec (docs/spec.md, docs/rounds.md): which keys
 * each round type takes, where a round may stand, and the typed struct
 * cx_round built from it. spec.c calls this for each listed round. */
#ifndef CX_ROUND_SPEC_H
#define CX_ROUND_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "council/spec.h"
#include "shape.h"

/* What one round object holds, once checked. */
struct cx_round_draft {
	int type;                   /* an enum cx_round_type, or -1 */
	const char *name;           /* NULL: the type's name */
	int failure_mode;
	int aggregator;             /* an enum cx_aggregator, or -1: the type's default */
	const cJSON *options;
	int max_iterations;
	const cJSON *inner_json;    /* iterate: the round it repeats */
	struct cx_round_draft *inner;
	const char *judge;
};

/* Where the round stands, and who could judge in it. */
struct cx_round_place {
	size_t idx, listed;         /* its index among the listed rounds, and their number */
	bool has_chair;
	const char *const *ids;     /* the ids of the members and the chair */
	size_t n_ids;
};

/* Checks the round `item` at path into d; an iterate round's inner round
 * goes into *inner (which must not be NULL for a listed round). */
void cx_round_check(struct cx_check *c, const cJSON *item, const char *path,
		    const struct cx_round_place *place, struct cx_round_draft *d,
		    struct cx_round_draft *inner);

/* The typed round of a draft that checked clean; an iterate round's inner
 * round is built into *inner. The judge is looked up among members and
 * chair. */
void cx_round_build(const struct cx_round_draft *d, struct cx_round *out, struct cx_round *inner,
		    const struct cx_member *members, size_t n_members,
		    const struct cx_member *chair);

#endif
