/* Aggregators on fixed ballots (docs/rounds.md): plurality,
 * confidence_weighted, borda and condorcet, with their ties, a Condorcet
 * cycle, and ballots that do not count. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate.h"
#include "harness.h"
#include "worker_run.h"

/* JSON written with ' for ", to keep the rows readable. */
static cJSON *parse_quoted(const char *text)
{
	char *s = th_json_text("%s", text);
	cJSON *json = cJSON_Parse(s);
	ck_assert_msg(json != NULL, "not JSON: %s", text);
	free(s);
	return json;
}

static const struct tallied {
	const char *what;
	enum cx_aggregator aggregator;
	const char *candidates, *ballots;
	const char *expect;   /* every key given must be in the result, equal */
} tallied[] = {
	{ "plurality: most choices win", CX_AGGREGATOR_PLURALITY, "['ship','wait','pilot']",
	  "{'a':{'choice':'ship'},'b':{'choice':'ship'},'c':{'choice':'wait'}}",
	  "{'aggregator':'plurality','winner':'ship','tie':false,"
	  "'scores':{'ship':2,'wait':1,'pilot':0},'ballots':3}" },
	{ "plurality: a tie goes to the first in byte order", CX_AGGREGATOR_PLURALITY,
	  "['wait','ship']", "{'a':{'choice':'wait'},'b':{'choice':'ship'}}",
	  "{'winner':'ship','tie':true,'tied':['ship','wait'],'scores':{'wait':1,'ship':1}}" },
	{ "plurality: a choice that is no candidate does not count", CX_AGGREGATOR_PLURALITY,
	  "['ship','wait']", "{'a':{'choice':'maybe'},'b':{'choice':'wait'},'c':{'rationale':'x'}}",
	  "{'winner':'wait','ballots':1,'tie':false}" },
	{ "plurality: no ballots, no winner", CX_AGGREGATOR_PLURALITY, "['ship','wait']", "{}",
	  "{'winner':null,'tie':false,'ballots':0,'scores':{'ship':0,'wait':0}}" },
	{ "confidence_weighted: conviction beats numbers", CX_AGGREGATOR_CONFIDENCE_WEIGHTED,
	  "['ship','wait']",
	  "{'a':{'choice':'ship','confidence':0.9},'b':{'choice':'wait','confidence':0.5},"
	  "'c':{'choice':'wait','confidence':0.25}}",
	  "{'aggregator':'confidence_weighted','winner':'ship','tie':false,"
	  "'scores':{'ship':0.9,'wait':0.75},'ballots':3}" },
	{ "confidence_weighted: sums equal up to rounding tie", CX_AGGREGATOR_CONFIDENCE_WEIGHTED,
	  "['wait','ship']",
	  "{'a':{'choice':'ship','confidence':0.1},'b':{'choice':'ship','confidence':0.2},"
	  "'c':{'choice':'wait','confidence':0.3}}",
	  "{'winner':'ship','tie':true,'tied':['ship','wait'],'scores':{'wait':0.3,'ship':0.3}}" },
	{ "confidence_weighted: a vote without confidence does not count",
	  CX_AGGREGATOR_CONFIDENCE_WEIGHTED, "['ship','wait']",
	  "{'a':{'choice':'ship'},'b':{'choice':'wait','confidence':0.1},"
	  "'c':{'choice':'ship','confidence':'high'}}",
	  "{'winner':'wait','ballots':1}" },
	{ "borda: n-1-k points for place k", CX_AGGREGATOR_BORDA, "['a','b','c']",
	  "{'x':{'ordering':['a','b','c']},'y':{'ordering':['b','a','c']},"
	  "'z':{'ordering':['b','c','a']}}",
	  "{'aggregator':'borda','winner':'b','tie':false,'scores':{'a':3,'b':5,'c':1},"
	  "'ballots':3}" },
	{ "borda: repeats and strangers are skipped, unranked get nothing", CX_AGGREGATOR_BORDA,
	  "['a','b','c']", "{'x':{'ordering':['c','c','zz','a']},'y':{'ordering':['zz']}}",
	  "{'winner':'c','scores':{'a':1,'b':0,'c':2},'ballots':1}" },
	{ "borda: a tie", CX_AGGREGATOR_BORDA, "['b','a']",
	  "{'x':{'ordering':['a','b']},'y':{'ordering':['b','a']}}",
	  "{'winner':'a','tie':true,'tied':['a','b'],'scores':{'b':1,'a':1}}" },
	{ "condorcet: the candidate beating every other wins", CX_AGGREGATOR_CONDORCET,
	  "['a','b','c']",
	  "{'x':{'ordering':['a','b','c']},'y':{'ordering':['a','c','b']},"
	  "'z':{'ordering':['b','c','a']}}",
	  "{'aggregator':'condorcet','winner':'a','cycle':false,'tie':false,"
	  "'scores':{'a':2,'b':1,'c':0},'ballots':3,"
	  "'pairwise':{'a':{'b':2,'c':2},'b':{'a':1,'c':2},'c':{'a':1,'b':1}}}" },
	{ "condorcet: a cycle has no winner", CX_AGGREGATOR_CONDORCET, "['a','b','c']",
	  "{'x':{'ordering':['a','b','c']},'y':{'ordering':['b','c','a']},"
	  "'z':{'ordering':['c','a','b']}}",
	  "{'winner':null,'cycle':true,'tie':false,'scores':{'a':1,'b':1,'c':1}}" },
	{ "condorcet: even head to head is a tie", CX_AGGREGATOR_CONDORCET, "['b','a']",
	  "{'x':{'ordering':['a','b']},'y':{'ordering':['b','a']}}",
	  "{'winner':null,'cycle':false,'tie':true,'tied':['a','b']}" },
	{ "condorcet: ranked beats unranked", CX_AGGREGATOR_CONDORCET, "['a','b','c']",
	  "{'x':{'ordering':['c']},'y':{'ordering':['c','a']},'z':{'ordering':['a']}}",
	  "{'winner':'c','cycle':false,"
	  "'pairwise':{'a':{'b':2,'c':1},'b':{'a':0,'c':0},'c':{'a':2,'b':2}}}" },
	{ "condorcet: no ballots, no winner", CX_AGGREGATOR_CONDORCET, "['a','b']",
	  "{'x':{'choice':'a'}}", "{'winner':null,'cycle':false,'tie':false,'ballots':0}" },
	{ "a candidate offered twice is counted once", CX_AGGREGATOR_PLURALITY, "['a','a','b']",
	  "{'x':{'choice':'a'}}", "{'scores':{'a':1,'b':0}}" },
};

START_TEST(test_aggregator_elects_from_fixed_ballots)
{
	const struct tallied *row = &tallied[_i];
	cJSON *candidates = parse_quoted(row->candidates), *ballots = parse_quoted(row->ballots);
	cJSON *expect = parse_quoted(row->expect);
	cJSON *got = cx_aggregate(row->aggregator, ballots, candidates);
	const cJSON *want;

	ck_assert_ptr_nonnull(got);
	char *shown = cJSON_PrintUnformatted(got);
	cJSON_ArrayForEach(want, expect) {
		const cJSON *value = cJSON_GetObjectItemCaseSensitive(got, want->string);
		char *w = cJSON_PrintUnformatted(want);
		ck_assert_msg(value && cJSON_Compare(value, want, true), "%s: %s should be %s in %s",
			      row->what, want->string, w, shown);
		free(w);
	}
	ck_assert_msg(!cJSON_IsTrue(cJSON_GetObjectItem(got, "tie")) ==
		      !cJSON_GetObjectItem(got, "tied"), "%s: tied without a tie: %s", row->what,
		      shown);
	free(shown);
	cJSON_Delete(got);
	cJSON_Delete(expect);
	cJSON_Delete(ballots);
	cJSON_Delete(candidates);
}
END_TEST

START_TEST(test_aggregators_have_their_names)
{
	ck_assert_str_eq(cx_aggregator_name(CX_AGGREGATOR_PLURALITY), "plurality");
	ck_assert_str_eq(cx_aggregator_name(CX_AGGREGATOR_CONFIDENCE_WEIGHTED),
			 "confidence_weighted");
	ck_assert_str_eq(cx_aggregator_name(CX_AGGREGATOR_BORDA), "borda");
	ck_assert_str_eq(cx_aggregator_name(CX_AGGREGATOR_CONDORCET), "condorcet");
	ck_assert_ptr_null(cx_aggregate(CX_AGGREGATOR_NONE, NULL, NULL));
}
END_TEST

static Suite *aggregate_suite(void)
{
	Suite *s = suite_create("aggregate");
	TCase *tc = tcase_create("aggregate");
	tcase_add_loop_test(tc, test_aggregator_elects_from_fixed_ballots, 0,
			    (int)(sizeof tallied / sizeof tallied[0]));
	tcase_add_test(tc, test_aggregators_have_their_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_run_suite(aggregate_suite());
}
