/* Aggregators: a round's ballots reduced to one winner and the scores that
 * elected it (CouncilEx's Aggregator behaviour). Pure functions of their
 * arguments.
 *
 * ballots is {voter id: ballot}, in the order the voters sit. A vote
 * ballot is {"choice": c, "confidence": x} (plurality reads choice,
 * confidence_weighted both); a ranking ballot is {"ordering": [c, ...]},
 * best first (borda, condorcet). candidates is the array of the names
 * offered, in the order offered. A ballot that names no candidate, or is
 * not of its aggregator's form, is not counted; in an ordering, names
 * that are not candidates and repeats are skipped.
 *
 * Every result is
 *
 *   {"aggregator", "winner": <candidate> | null, "scores": {<candidate>: n},
 *    "ballots": <counted>, "tie": bool, "tied": [...]}
 *
 * with scores in the candidates' order and "tied" present only on a tie.
 * No ballot counted: winner null, tie false. Otherwise the highest score
 * wins; equal highest scores are a tie, listed in "tied" in byte order, and
 * the first of them wins. Condorcet elects only a candidate that beats every
 * other head to head (scores: head-to-head wins; "pairwise": {a: {b: how many
 * ballots put a above b}}); without one, winner is null and either "cycle"
 * is true (the majorities go round: a beats b beats c beats a) or "tie" is
 * true with the candidates no other beats listed in "tied". */
#ifndef CX_AGGREGATE_H
#define CX_AGGREGATE_H

#include <cjson/cJSON.h>

#include "council/spec.h"

#define CX_AGGREGATE_MAX_CANDIDATES 64   /* those past it are not counted */

/* NULL only when out of memory, or for CX_AGGREGATOR_NONE. */
cJSON *cx_aggregate(enum cx_aggregator aggregator, const cJSON *ballots,
		    const cJSON *candidates);

/* "plurality", "confidence_weighted", "borda", "condorcet"; "none". */
const char *cx_aggregator_name(enum cx_aggregator aggregator);

#endif
