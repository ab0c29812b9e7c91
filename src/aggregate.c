/* The aggregators: each counts one ballot into a tally; electing from the
 * tally is shared, except for Condorcet, which elects head to head. */
#include "aggregate.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MAX CX_AGGREGATE_MAX_CANDIDATES

struct tally {
	const char *name[MAX];
	double score[MAX];
	size_t n;
	int counted;                /* ballots that counted */
	unsigned wins[MAX][MAX];    /* condorcet: ballots putting i above j */
};

/* Counts one ballot; false when it does not count. */
typedef bool count_fn(struct tally *t, const cJSON *ballot);

static int candidate(const struct tally *t, const cJSON *name)
{
	if (!cJSON_IsString(name))
		return -1;
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->name[i], name->valuestring))
			return (int)i;
	return -1;
}

static bool count_choice(struct tally *t, const cJSON *ballot)
{
	int c = candidate(t, cJSON_GetObjectItemCaseSensitive(ballot, "choice"));
	if (c < 0)
		return false;
	t->score[c] += 1;
	return true;
}

static bool count_confidence(struct tally *t, const cJSON *ballot)
{
	int c = candidate(t, cJSON_GetObjectItemCaseSensitive(ballot, "choice"));
	const cJSON *confidence = cJSON_GetObjectItemCaseSensitive(ballot, "confidence");
	if (c < 0 || !cJSON_IsNumber(confidence) || !(confidence->valuedouble >= 0))
		return false;
	t->score[c] += confidence->valuedouble;
	return true;
}

/* The ballot's ordering as candidate indexes, repeats and strangers
 * skipped: rank[c] is c's place (0 best), or -1 when c is unranked.
 * Returns how many candidates it ranks. */
static size_t ranks(const struct tally *t, const cJSON *ballot, int rank[MAX])
{
	const cJSON *name;
	size_t n = 0;

	for (size_t i = 0; i < t->n; i++)
		rank[i] = -1;
	cJSON_ArrayForEach(name, cJSON_GetObjectItemCaseSensitive(ballot, "ordering")) {
		int c = candidate(t, name);
		if (c >= 0 && rank[c] < 0)
			rank[c] = (int)n++;
	}
	return n;
}

/* Borda: the k-th ranked of n candidates gets n-1-k points, an unranked
 * one none. */
static bool count_borda(struct tally *t, const cJSON *ballot)
{
	int rank[MAX];
	if (!ranks(t, ballot, rank))
		return false;
	for (size_t i = 0; i < t->n; i++)
		if (rank[i] >= 0)
			t->score[i] += (double)(t->n - 1 - (size_t)rank[i]);
	return true;
}

/* A ranked candidate is above every unranked one; two unranked ones are
 * not compared. */
static bool count_pairs(struct tally *t, const cJSON *ballot)
{
	int rank[MAX];
	if (!ranks(t, ballot, rank))
		return false;
	for (size_t i = 0; i < t->n; i++)
		for (size_t j = 0; j < t->n; j++)
			if (rank[i] >= 0 && (rank[j] < 0 || rank[i] < rank[j]))
				t->wins[i][j]++;
	return true;
}

static bool beats(const struct tally *t, size_t i, size_t j)
{
	return t->wins[i][j] > t->wins[j][i];
}

/* ---- electing ---- */

static int by_bytes(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sets winner, tie and tied from the candidates marked in `best`: one is
 * the winner; several are a tie, won by the first in byte order. */
static void elect(cJSON *r, const struct tally *t, const bool best[MAX], bool has_winner)
{
	const char *tied[MAX];
	size_t n = 0;

	for (size_t i = 0; i < t->n; i++)
		if (best[i])
			tied[n++] = t->name[i];
	qsort(tied, n, sizeof *tied, by_bytes);
	cJSON_AddItemToObject(r, "winner", has_winner && n ? cJSON_CreateString(tied[0])
							   : cJSON_CreateNull());
	cJSON_AddBoolToObject(r, "tie", n > 1);
	if (n > 1)
		cJSON_AddItemToObject(r, "tied", cJSON_CreateStringArray(tied, (int)n));
}

/* The highest scores win. Scores are rounded to 1e-9 first, so sums of
 * confidences that differ only by floating-point noise tie. */
static void elect_highest(cJSON *r, struct tally *t)
{
	bool best[MAX] = { false };
	double top = -1;

	for (size_t i = 0; i < t->n; i++) {
		t->score[i] = round(t->score[i] * 1e9) / 1e9;
		top = t->score[i] > top ? t->score[i] : top;
	}
	for (size_t i = 0; i < t->n; i++)
		best[i] = t->counted && t->score[i] == top;
	elect(r, t, best, t->counted);
}

/* Depth-first search for a cycle through the "beats" edges. */
static bool cycle_from(const struct tally *t, size_t i, char state[MAX])
{
	state[i] = 1;   /* on the path */
	for (size_t j = 0; j < t->n; j++) {
		if (!beats(t, i, j))
			continue;
		if (state[j] == 1 || (state[j] == 0 && cycle_from(t, j, state)))
			return true;
	}
	state[i] = 2;   /* done: no cycle through it */
	return false;
}

static bool has_cycle(const struct tally *t)
{
	char state[MAX] = { 0 };
	for (size_t i = 0; i < t->n; i++)
		if (state[i] == 0 && cycle_from(t, i, state))
			return true;
	return false;
}

static void elect_head_to_head(cJSON *r, struct tally *t)
{
	bool winner[MAX] = { false }, undefeated[MAX] = { false }, none[MAX] = { false };
	bool any = false;
	cJSON *pairwise = cJSON_CreateObject();

	for (size_t i = 0; i < t->n; i++) {
		cJSON *row = cJSON_AddObjectToObject(pairwise, t->name[i]);
		size_t won = 0, lost = 0;
		for (size_t j = 0; j < t->n; j++) {
			if (j == i)
				continue;
			cJSON_AddNumberToObject(row, t->name[j], t->wins[i][j]);
			won += beats(t, i, j);
			lost += beats(t, j, i);
		}
		t->score[i] = (double)won;
		winner[i] = t->counted && won == t->n - 1;
		undefeated[i] = t->counted && !lost;
		any |= winner[i];
	}
	bool cycle = t->counted && !any && has_cycle(t);
	elect(r, t, any ? winner : cycle ? none : undefeated, any);
	cJSON_AddBoolToObject(r, "cycle", cycle);
	cJSON_AddItemToObject(r, "pairwise", pairwise);
}

static const struct {
	const char *name;
	count_fn *count;
	void (*elect)(cJSON *r, struct tally *t);
} aggregators[] = {
	[CX_AGGREGATOR_NONE] = { "none", NULL, NULL },
	[CX_AGGREGATOR_PLURALITY] = { "plurality", count_choice, elect_highest },
	[CX_AGGREGATOR_CONFIDENCE_WEIGHTED] = { "confidence_weighted", count_confidence,
						elect_highest },
	[CX_AGGREGATOR_BORDA] = { "borda", count_borda, elect_highest },
	[CX_AGGREGATOR_CONDORCET] = { "condorcet", count_pairs, elect_head_to_head },
};

const char *cx_aggregator_name(enum cx_aggregator aggregator)
{
	return aggregators[aggregator].name;
}

cJSON *cx_aggregate(enum cx_aggregator aggregator, const cJSON *ballots,
		    const cJSON *candidates)
{
	const cJSON *item;

	if (!aggregators[aggregator].count)
		return NULL;
	struct tally *t = calloc(1, sizeof *t);
	cJSON *r = t ? cJSON_CreateObject() : NULL;
	if (!r) {
		free(t);
		return NULL;
	}
	cJSON_ArrayForEach(item, candidates)
		if (cJSON_IsString(item) && t->n < MAX && candidate(t, item) < 0)
			t->name[t->n++] = item->valuestring;
	cJSON_ArrayForEach(item, ballots)
		t->counted += aggregators[aggregator].count(t, item);

	cJSON_AddStringToObject(r, "aggregator", aggregators[aggregator].name);
	aggregators[aggregator].elect(r, t);
	cJSON *scores = cJSON_CreateObject();
	for (size_t i = 0; i < t->n; i++)
		cJSON_AddNumberToObject(scores, t->name[i], t->score[i]);
	cJSON_AddItemToObject(r, "scores", scores);
	cJSON_AddNumberToObject(r, "ballots", t->counted);
	free(t);
	return r;
}
