/* The round library (docs/rounds.md), run by a worker as a supervisor
 * would: what each round type asks, how ballots are counted and reported,
 * anonymized labels, pairwise brackets, iteration and convergence, and
 * structured answers that are refused as invalid_output. Mock members
 * answer from scripts ("replies") or derive valid JSON; exec members
 * running cat echo their request, so the prompts can be read back. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "runner.h"
#include "worker_run.h"

/* ---- helpers ---- */

static const cJSON *get(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static const cJSON *aggregate(const struct run *r, const char *round)
{
	const cJSON *a = get(round_result(r, round), "aggregate");
	ck_assert_msg(a != NULL, "round %s has no aggregate", round);
	return a;
}

static const cJSON *round_member(const struct run *r, const char *round, const char *member)
{
	const cJSON *m = get(get(round_result(r, round), "members"), member);
	ck_assert_msg(m != NULL, "round %s has no result for %s", round, member);
	return m;
}

/* The strings of a JSON array, comma-joined. */
static void expect_strings(const cJSON *array, const char *want)
{
	char got[512] = "";
	const cJSON *s;
	cJSON_ArrayForEach(s, array) {
		strlcat(got, got[0] ? "," : "", sizeof got);
		strlcat(got, cJSON_IsString(s) ? s->valuestring : "?", sizeof got);
	}
	ck_assert_msg(!strcmp(got, want), "got [%s], wanted [%s]", got, want);
}

static double score(const cJSON *agg, const char *name)
{
	return num(get(agg, "scores"), name);
}

/* The final answer of the run. */
static const char *final_of(const struct run *r)
{
	return str(get(terminal(r), "result"), "final");
}

/* The request a member got in round, from its echoed answer (an exec member
 * running cat): the response when it was taken, the output when it was
 * refused as invalid. */
static cJSON *asked(const struct run *r, const char *member, const char *round)
{
	const cJSON *res = member_result(r, member, round);
	const char *echo = str(res, "response") ? str(res, "response") : str(res, "output");
	ck_assert_msg(echo != NULL, "%s has no echoed request in %s", member, round);
	cJSON *req = cJSON_Parse(echo);
	ck_assert_msg(req != NULL, "%s's answer in %s is not its request", member, round);
	return req;
}

#define THREE(a, b, c) \
	"'members': [{'id': 'a', 'profile': {" a "}}, {'id': 'b', 'profile': {" b "}}," \
	"  {'id': 'c', 'profile': {" c "}}],"
#define BALLOT(choice, confidence) \
	"{'choice': '" choice "', 'rationale': 'because', 'confidence': " confidence "}"
#define VOTE(round, choice, confidence) "'replies': {'" round "': " BALLOT(choice, confidence) "}"
#define ECHO "'default_profile': {'provider': 'exec', 'command': ['cat']},"

/* ---- vote ---- */

START_TEST(test_vote_elects_the_plurality_of_its_options)
{
	struct run r;
	run_start(&r, "{'id': 'v', 'default_profile': {'provider': 'mock'},"
		  THREE(VOTE("vote", "ship", "0.9"), VOTE("vote", "wait", "0.4"),
			VOTE("vote", "ship", "0.2"))
		  "'rounds': [{'type': 'vote', 'options': ['ship', 'wait', 'pilot']}]}");
	ck_assert_int_eq(run_finish(&r), CX_EXIT_COMPLETED);
	const cJSON *agg = aggregate(&r, "vote");
	ck_assert_str_eq(str(agg, "aggregator"), "plurality");
	ck_assert_str_eq(str(agg, "winner"), "ship");
	ck_assert(cJSON_IsFalse(get(agg, "tie")));
	ck_assert_double_eq(score(agg, "ship"), 2);
	ck_assert_double_eq(score(agg, "wait"), 1);
	ck_assert_double_eq(score(agg, "pilot"), 0);
	ck_assert_str_eq(str(get(member_result(&r, "b", "vote"), "parsed"), "choice"), "wait");
	/* The aggregate is in the final Result too, and the winner is its answer. */
	const cJSON *rounds = get(get(terminal(&r), "result"), "rounds");
	ck_assert_str_eq(str(get(cJSON_GetArrayItem(rounds, 0), "aggregate"), "winner"), "ship");
	ck_assert_str_eq(final_of(&r), "ship");
	run_free(&r);
	assert_clean();
}
END_TEST

START_TEST(test_confidence_weighted_vote_weighs_conviction)
{
	struct run r;
	run_start(&r, "{'id': 'v', 'default_profile': {'provider': 'mock'},"
		  THREE(VOTE("vote", "wait", "0.9"), VOTE("vote", "ship", "0.3"),
			VOTE("vote", "ship", "0.25"))
		  "'rounds': [{'type': 'vote', 'options': ['ship', 'wait'],"
		  " 'aggregator': 'confidence_weighted'}]}");
	ck_assert_int_eq(run_finish(&r), CX_EXIT_COMPLETED);
	const cJSON *agg = aggregate(&r, "vote");
	ck_assert_str_eq(str(agg, "aggregator"), "confidence_weighted");
	ck_assert_str_eq(str(agg, "winner"), "wait");
	ck_assert_double_eq(score(agg, "ship"), 0.55);
	ck_assert_double_eq(score(agg, "wait"), 0.9);
	run_free(&r);
	assert_clean();
}
END_TEST

START_TEST(test_vote_tie_goes_to_the_first_in_byte_order)
{
	struct run r;
	run_start(&r, "{'id': 'v', 'default_profile': {'provider': 'mock'},"
		  "'members': [{'id': 'a', 'profile': {" VOTE("vote", "wait", "1") "}},"
		  "  {'id': 'b', 'profile': {" VOTE("vote", "ship", "1") "}}],"
		  "'rounds': [{'type': 'vote', 'options': ['wait', 'ship']}]}");
	ck_assert_int_eq(run_finish(&r), CX_EXIT_COMPLETED);
	const cJSON *agg = aggregate(&r, "vote");
	ck_assert(cJSON_IsTrue(get(agg, "tie")));
	expect_strings(get(agg, "tied"), "ship,wait");
	ck_assert_str_eq(str(agg, "winner"), "ship");
	run_free(&r);
	assert_clean();
}
END_TEST

START_TEST(test_vote_without_options_chooses_among_the_answers)
{
	struct run r;
	run_start(&r, "{'id': 'v', 'default_profile': {'provider': 'mock'},"
		  THREE("'replies': {'independent_analysis': 'Rewrite it.', 'vote': " BALLOT("b", "1") "}",
			"'replies': {'independent_analysis': 'Keep it.', 'vote': " BALLOT("b", "1") "}",
			"'replies': {'independent_analysis': 'Wait.', 'vote': " BALLOT("a", "1") "}")
		  "'rounds': [{'type': 'independent_analysis'}, {'type': 'vote'}]}");
	ck_assert_int_eq(run_finish(&r), CX_EXIT_COMPLETED);
	const cJSON *agg = aggregate(&r, "vote");
	ck_assert_str_eq(str(agg, "winner"), "b");
	ck_assert_double_eq(score(agg, "c"), 0);
	ck_assert_str_eq(final_of(&r), "Keep it.");
	run_free(&r);
	assert_clean();
}
END_TEST

START_TEST(test_vote_prompt_lists_the_options_and_the_json_asked)
{
	struct run r;
	run_start(&r, "{'id': 'v'," ECHO "'members': [{'id': 'a'}],"
		  "'rounds': [{'type': 'vote', 'options': ['ship', 'wait']}]}");
	ck_assert_int_eq(run_finish(&r), CX_EXIT_FAILED);   /* an echo is no vote */
	cJSON *req = asked(&r, "a", "vote");
	const char *text = user_text(req);
	ck_assert_ptr_nonnull(strstr(text, "Should we rewrite it in C?"));
	ck_assert_ptr_nonnull(strstr(text, "The options:\n- ship\n- wait"));
	ck_assert_ptr_nonnull(strstr(text, "Vote for the best one."));
	ck_assert_ptr_nonnull(strstr(text, "\"choice\""));
	const cJSON *schema = get(req, "response_schema");
	expect_strings(get(get(get(schema, "properties"), "choice"), "enum"), "ship,wait");
	expect_strings(get(schema, "required"), "choice,rationale,confidence");
	cJSON_Delete(req);
	run_free(&r);
	assert_clean();
}
END_TEST

/* ---- structured answers refused ---- */

START_TEST(test_invalid_vote_is_invalid_output_with_its_reason_and_not_retried)
{
	struct run r;
	run_start(&r, "{'id': 'v', 'default_profile': {'provider': 'mock'},"
		  "'members': [{'id': 'a', 'retry': {'max': 3, 'base_ms': 10},"
		  "   'profile': {" VOTE("vote", "maybe", "0.5") "}},"
		  "  {'id': 'b', 'profile': {'reply': 'I would ship it.'}},"
		  "  {'id': 'c', 'profile': {'reply': 'Sure: ```json\\n{\\'choice\\': \\'ship\\',"
		  "   \\'rationale\\': \\'fast\\', \\'confidence\\': 1}\\n```'}}],"
		  "'rounds': [{'type': 'vote', 'options': ['ship', 'wait', 'pilot']}]}");
	ck_assert_int_eq(run_finish(&r), CX_EXIT_COMPLETED);
	const cJSON *a = member_result(&r, "a", "vote"), *b = member_result(&r, "b", "vote");
	ck_assert_str_eq(str(a, "status"), "invalid_output");
	ck_assert_str_eq(error_kind(a), "invalid_output");
	ck_assert_str_eq(error_message(a), "$.choice: enum: \"maybe\" is not one of the 3 allowed values");
	ck_assert_int_eq((int)num(a, "attempts"), 1);
	ck_assert_ptr_nonnull(strstr(str(a, "output"), "maybe"));
	ck_assert_str_eq(error_message(b), "$: json: the answer holds no JSON value");
	ck_assert_str_eq(str(b, "output"), "I would ship it.");
	/* The fenced JSON of c counts; the refused ones do not. */
	const cJSON *agg = aggregate(&r, "vote");
	ck_assert_int_eq((int)num(agg, "ballots"), 1);
	ck_assert_str_eq(str(agg, "winner"), "ship");
	run_free(&r);
	assert_clean();
}
END_TEST

START_TEST(test_round_of_invalid_answers_fails_the_run)
{
	struct run r;
	run_start(&r, "{'id': 'v', 'default_profile': {'provider': 'mock', 'reply': 'no idea'},"
		  "'members': [{'id': 'a'}, {'id': 'b'}],"
		  "'rounds': [{'type': 'vote', 'options': ['ship', 'wait']}]}");
	ck_assert_int_eq(run_finish(&r), CX_EXIT_FAILED);
	ck_assert_str_eq(str(first_error(&r), "kind"), "invalid_output");
	ck_assert_str_eq(str(first_error(&r), "round"), "vote");
	ck_assert_int_eq(count(&r, "round_completed", NULL, "vote"), 1);
	run_free(&r);
	assert_clean();
}
END_TEST

#define SCORE "'output_schema_inline': {'type': 'object', 'required': ['score']," \
	" 'properties': {'score': {'type': 'integer', 'minimum': 1, 'maximum': 10}}}"

START_TEST(test_member_schema_shapes_its_free_answers)
{
	struct run r;
	run_start(&r, "{'id': 's', 'default_profile': {'provider': 'mock'},"
		  "'members': [{'id': 'derived', " SCORE "},"
		  "  {'id': 'high', " SCORE ", 'profile': {'reply': '{\\'score\\': 11}'}},"
		  "  {'id': 'fenced', " SCORE ", 'profile':"
		  "   {'reply': 'Score:\\n```json\\n{\\'score\\': 7}\\n```'}},"
		  "  {'id': 'echo', " SCORE ", 'profile': {'provider': 'exec', 'command': ['cat']}},"
		  "  {'id': 'free'}],"
		  "'rounds': [{'type': 'independent_analysis'}]}");
	ck_assert_int_eq(run_finish(&r), CX_EXIT_COMPLETED);
	/* The mock derives an answer the schema takes. */
	const cJSON *derived = get(member_result(&r, "derived", NULL), "parsed");
	ck_assert_int_ge((int)num(derived, "score"), 1);
	ck_assert_int_le((int)num(derived, "score"), 10);
	const cJSON *high = member_result(&r, "high", NULL);
	ck_assert_str_eq(str(high, "status"), "invalid_output");
	ck_assert_str_eq(error_message(high), "$.score: maximum: 11 is above 10");
	const cJSON *fenced = member_result(&r, "fenced", NULL);
	ck_assert_str_eq(str(fenced, "status"), "ok");
	ck_assert_int_eq((int)num(get(fenced, "parsed"), "score"), 7);
	ck_assert_ptr_nonnull(strstr(str(fenced, "response"), "```json"));
	/* The member is told, and its request carries the schema. */
	cJSON *req = asked(&r, "echo", NULL);
	ck_assert_ptr_nonnull(strstr(user_text(req), "valid against this JSON Schema"));
	ck_assert_ptr_nonnull(get(get(get(req, "response_schema"), "properties"), "score"));
	cJSON_Delete(req);
	ck_assert_ptr_null(get(member_result(&r, "free", NULL), "parsed"));
	run_free(&r);
	assert_clean();
}
END_TEST

/* ---- ranking ---- */

#define ORDER(round, a, b, c) "'" round "': {'ordering': ['" a "', '" b "', '" c "'], 'rationale': 'r'}"
/* A Condorcet cycle: x beats y (a, c), y beats z (a, b), z beats x (b, c). */
#define CYCLE(round) \
	THREE("'replies': {" ORDER(round, "x", "y", "z") "}", \
	      "'replies': {" ORDER(round, "y", "z", "x") "}", \
	      "'replies': {" ORDER(round, "z", "x", "y") "}")

START_TEST(test_ranking_cycle_ties_borda_and_has_no_condorcet_winner)
{
	struct run r;
	run_start(&r, "{'id': 'rk', 'default_profile': {'provider': 'mock'},"
		  "'members': [{'id': 'a', 'profile': {'replies': {"
		  ORDER("borda", "x", "y", "z") "," ORDER("condorcet", "x", "y", "z") "}}},"
		  " {'id': 'b', 'profile': {'replies': {"
		  ORDER("borda", "y", "z", "x") "," ORDER("condorcet", "y", "z", "x") "}}},"
		  " {'id': 'c', 'profile': {'replies': {"
		  ORDER("borda", "z", "x", "y") "," ORDER("condorcet", "z", "x", "y") "}}}],"
		  "'rounds': [{'type': 'ranking', 'name': 'borda', 'options': ['x', 'y', 'z']},"
		  " {'type': 'ranking', 'name': 'condorcet', 'options': ['x', 'y', 'z'],"
		  "  'aggregator': 'condorcet'}]}");
	ck_assert_int_eq(run_finish(&r), CX_EXIT_COMPLETED);
	const cJSON *borda = aggregate(&r, "borda");
	ck_assert_str_eq(str(borda, "aggregator"), "borda");
	ck_assert_double_eq(score(borda, "x"), 3);
	ck_assert(cJSON_IsTrue(get(borda, "tie")));
	expect_strings(get(borda, "tied"), "x,y,z");
	ck_assert_str_eq(str(borda, "winner"), "x");
	const cJSON *condorcet = aggregate(&r, "condorcet");
	ck_assert(cJSON_IsNull(get(condorcet, "winner")));
	ck_assert(cJSON_IsTrue(get(condorcet, "cycle")));
	ck_assert_int_eq((int)num(get(get(condorcet, "pairwise"), "x"), "y"), 2);
	/* No winner to settle on: the final answer lists the ballots. */
	ck_assert_ptr_nonnull(strstr(final_of(&r), "a: "));
	run_free(&r);
	assert_clean();
}
END_TEST

START_TEST(test_ranking_of_answers_asks_every_answer_once)
{
	struct run r;
	run_start(&r, "{'id': 'rk'," ECHO "'members': [{'id': 'a'}, {'id': 'b'}],"
		  "'rounds': [{'type': 'independent_analysis'}, {'type': 'ranking'}]}");
	ck_assert_int_eq(run_finish(&r), CX_EXIT_FAILED);
	cJSON *req = asked(&r, "a", "ranking");
	const cJSON *ordering = get(get(get(req, "response_schema"), "properties"), "ordering");
	expect_strings(get(get(ordering, "items"), "enum"), "a,b");
	ck_assert_int_eq((int)num(ordering, "minItems"), 2);
	ck_assert_int_eq((int)num(ordering, "maxItems"), 2);
	ck_assert(cJSON_IsTrue(get(ordering, "uniqueItems")));
	ck_assert_ptr_nonnull(strstr(user_text(req), "Rank every one of them from best to worst."));
	ck_assert_ptr_nonnull(strstr(user_text(req), str(member_result(&r, "b", NULL), "response")));
	cJSON_Delete(req);
	run_free(&r);
	assert_clean();
}
END_TEST

/* ---- anonymized_peer_review ---- */

START_TEST(test_anonymized_review_labels_answers_and_leaves_out_ones_own)
{
	struct run r;
	const char *ids[] = { "a", "b", "c" };
	run_start(&r, "{'id': 'anon'," ECHO "'members': [{'id': 'a'}, {'id': 'b'}, {'id': 'c'}],"
		  "'rounds': [{'type': 'independent_analysis'}, {'type': 'anonymized_peer_review'}]}");
	ck_assert_int_eq(run_finish(&r), CX_EXIT_FAILED);   /* echoes are no rankings */
	const cJSON *label_to_id = get(round_result(&r, "anonymized_peer_review"), "label_to_id");
	ck_assert_int_eq(cJSON_GetArraySize(label_to_id), 3);
	for (int m = 0; m < 3; m++) {
		cJSON *req = asked(&r, ids[m], "anonymized_peer_review");
		const char *text = user_text(req);
		const cJSON *labels = get(get(get(get(req, "response_schema"), "properties"),
					      "ordering"), "items");
		const cJSON *label;
		ck_assert_int_eq(cJSON_GetArraySize(get(labels, "enum")), 2);
		cJSON_ArrayForEach(label, get(labels, "enum")) {
			const char *whose = str(label_to_id, label->valuestring);
			ck_assert_msg(whose && strcmp(whose, ids[m]), "%s is offered %s (%s)", ids[m],
				      label->valuestring, whose ? whose : "nobody's");
			char heading[64];
			snprintf(heading, sizeof heading, "[%s]\n", label->valuestring);
			ck_assert_ptr_nonnull(strstr(text, heading));
		}
		for (int o = 0; o < 3; o++) {
			const char *answer = str(member_result(&r, ids[o], "independent_analysis"),
						 "response");
			ck_assert_msg((strstr(text, answer) != NULL) == (o != m),
				      "%s's review %s %s's answer", ids[m], o == m ? "shows" : "lacks",
				      ids[o]);
		}
		cJSON_Delete(req);
	}
	run_free(&r);
	assert_clean();
}
END_TEST

START_TEST(test_anonymized_ballots_are_counted_under_member_ids)
{
	struct run r;
	run_start(&r, "{'id': 'anon', 'default_profile': {'provider': 'mock'},"
		  "'members': [{'id': 'a'}, {'id': 'b'}, {'id': 'c'}],"
		  "'rounds': [{'type': 'independent_analysis'}, {'type': 'anonymized_peer_review'}]}");
	ck_assert_int_eq(run_finish(&r), CX_EXIT_COMPLETED);
	const cJSON *result = round_result(&r, "anonymized_peer_review");
	const cJSON *agg = get(result, "aggregate");
	ck_assert_str_eq(str(agg, "aggregator"), "borda");
	ck_assert_int_eq((int)num(agg, "ballots"), 3);
	/* Each ballot ranks two labels; the scores are the members'. */
	ck_assert_int_eq(cJSON_GetArraySize(get(get(member_result(&r, "a", "anonymized_peer_review"),
						     "parsed"), "ordering")), 2);
	ck_assert_double_eq(score(agg, "a") + score(agg, "b") + score(agg, "c"), 3 * (2 + 1));
	const char *winner = str(agg, "winner");
	ck_assert(!strcmp(winner, "a") || !strcmp(winner, "b") || !strcmp(winner, "c"));
	ck_assert_str_eq(str(result, "final"),
			 str(member_result(&r, winner, "independent_analysis"), "response"));
	run_free(&r);
	assert_clean();
}
END_TEST

START_TEST(test_member_with_nothing_to_review_is_skipped)
{
	struct run r;
	run_start(&r, "{'id': 'anon', 'default_profile': {'provider': 'mock'},"
		  "'members': [{'id': 'a'}, {'id': 'b', 'profile': {'fail': 'permanent'}}],"
		  "'rounds': [{'type': 'independent_analysis'}, {'type': 'anonymized_peer_review'}]}");
	ck_assert_int_eq(run_finish(&r), CX_EXIT_FAILED);   /* b, the only reviewer, fails */
	const cJSON *a = round_member(&r, "anonymized_peer_review", "a");
	ck_assert_str_eq(str(a, "status"), "skipped");
	ck_assert_str_eq(str(a, "reason"), "there was no other answer to review");
	ck_assert_int_eq(count(&r, "member_started", "a", "anonymized_peer_review"), 0);
	ck_assert_int_eq(count(&r, "member_started", "b", "anonymized_peer_review"), 1);
	run_free(&r);
	assert_clean();
}
END_TEST

/* ---- critique ---- */

START_TEST(test_critique_shows_every_answer_with_ones_own_marked)
{
	struct run r;
	run_start(&r, "{'id': 'cr'," ECHO "'members': [{'id': 'a'}, {'id': 'b'}],"
		  "'rounds': [{'type': 'independent_analysis'}, {'type': 'critique'}]}");
	ck_assert_int_eq(run_finish(&r), CX_EXIT_COMPLETED);
	cJSON *req = asked(&r, "a", "critique");
	const char *text = user_text(req);
	ck_assert_ptr_nonnull(strstr(text, "[a (yours)]\n"));
	ck_assert_ptr_nonnull(strstr(text, "[b]\n"));
	ck_assert_ptr_nonnull(strstr(text, str(member_result(&r, "a", "independent_analysis"),
					       "response")));
	ck_assert_ptr_nonnull(strstr(text, "Critique every answer, yours included"));
	cJSON_Delete(req);
	run_free(&r);
	assert_clean();
}
END_TEST

/* ---- pairwise_elimination ---- */

#define FOUR_ANSWERS \
	"'members': [{'id': 'm1', 'profile': {'reply': 'answer 1'}}," \
	"  {'id': 'm2', 'profile': {'reply': 'answer 2'}}," \
	"  {'id': 'm3', 'profile': {'reply': 'answer 3'}}," \
	"  {'id': 'm4', 'profile': {'reply': 'answer 4'}}],"
#define JUDGE(round, verdict) \
	"'chair': {'id': 'judge', 'profile': {'replies': {'" round "':" \
	" {'winner': '" verdict "', 'rationale': 'clearer'}}}}"

START_TEST(test_pairwise_judge_eliminates_the_loser_of_each_pair)
{
	struct run r;
	run_start(&r, "{'id': 'pw', 'default_profile': {'provider': 'mock'}," FOUR_ANSWERS
		  "'rounds': [{'type': 'independent_analysis'}, {'type': 'pairwise_elimination'}],"
		  JUDGE("pairwise_elimination", "A") "}");
	ck_assert_int_eq(run_finish(&r), CX_EXIT_COMPLETED);
	/* The judge is called once per pair, each call's events naming it. */
	ck_assert_int_eq(count(&r, "member_started", "judge", "pairwise_elimination"), 2);
	const cJSON *first = r.ev[find(&r, 0, "member_started", "judge", "pairwise_elimination")];
	expect_strings(get(first, "pair"), "m1,m2");
	const cJSON *m2 = round_member(&r, "pairwise_elimination", "m2");
	ck_assert_str_eq(str(m2, "status"), "eliminated");
	ck_assert_str_eq(str(m2, "reason"), "tournament_loss");
	ck_assert_str_eq(str(m2, "eliminated_by"), "m1");
	ck_assert_str_eq(str(round_member(&r, "pairwise_elimination", "m4"), "eliminated_by"), "m3");
	ck_assert_str_eq(str(round_member(&r, "pairwise_elimination", "m3"), "status"), "ok");
	const cJSON *agg = aggregate(&r, "pairwise_elimination");
	expect_strings(get(agg, "remaining"), "m1,m3");
	expect_strings(get(agg, "eliminated"), "m2,m4");
	ck_assert(cJSON_IsNull(get(agg, "winner")));
	const cJSON *judgements = get(round_result(&r, "pairwise_elimination"), "judgements");
	ck_assert_int_eq(cJSON_GetArraySize(judgements), 2);
	ck_assert_str_eq(str(cJSON_GetArrayItem(judgements, 1), "winner"), "m3");
	run_free(&r);
	assert_clean();
}
END_TEST

START_TEST(test_judge_sees_the_pair_as_a_and_b_and_an_undecided_pair_stays)
{
	struct run r;
	run_start(&r, "{'id': 'pw', 'default_profile': {'provider': 'mock'},"
		  "'members': [{'id': 'm1', 'profile': {'reply': 'answer 1'}},"
		  "  {'id': 'm2', 'profile': {'reply': 'answer 2'}},"
		  "  {'id': 'j', 'profile': {'provider': 'exec', 'command': ['cat']}}],"
		  "'rounds': [{'type': 'independent_analysis'},"
		  "  {'type': 'pairwise_elimination', 'judge': 'j'}]}");
	/* The judge echoes its request: no verdict, so the only pass failed. */
	ck_assert_int_eq(run_finish(&r), CX_EXIT_FAILED);
	cJSON *req = asked(&r, "j", "pairwise_elimination");
	const char *text = user_text(req);
	ck_assert_ptr_nonnull(strstr(text, "Two answers compete:\n\n[A]\nanswer 1\n\n[B]\nanswer 2"));
	ck_assert_ptr_nonnull(strstr(text, "Which of the two answers the question better?"));
	expect_strings(get(get(get(get(req, "response_schema"), "properties"), "winner"), "enum"),
		       "A,B");
	cJSON_Delete(req);
	/* j answered the first round too: it sits out this one (a bye); the
	 * undecided pair both stay. */
	ck_assert_str_eq(str(round_member(&r, "pairwise_elimination", "m1"), "status"), "ok");
	ck_assert_str_eq(str(round_member(&r, "pairwise_elimination", "m2"), "status"), "ok");
	ck_assert_str_eq(str(round_member(&r, "pairwise_elimination", "j"), "status"), "ok");
	const cJSON *judgement = cJSON_GetArrayItem(get(round_result(&r, "pairwise_elimination"),
							"judgements"), 0);
	ck_assert(cJSON_IsNull(get(judgement, "winner")));
	ck_assert_str_eq(str(get(judgement, "result"), "status"), "invalid_output");
	expect_strings(get(aggregate(&r, "pairwise_elimination"), "remaining"), "m1,m2,j");
	run_free(&r);
	assert_clean();
}
END_TEST

/* ---- iterate ---- */

START_TEST(test_iterated_tournament_runs_until_one_is_left)
{
	struct run r;
	run_start(&r, "{'id': 'cup', 'default_profile': {'provider': 'mock'}," FOUR_ANSWERS
		  "'rounds': [{'type': 'independent_analysis'},"
		  "  {'type': 'iterate', 'name': 'cup', 'max_iterations': 5,"
		  "   'round': {'type': 'pairwise_elimination'}}],"
		  JUDGE("cup", "B") "}");
	ck_assert_int_eq(run_finish(&r), CX_EXIT_COMPLETED);
	const cJSON *cup = round_result(&r, "cup");
	ck_assert_str_eq(str(cup, "type"), "iterate");
	ck_assert_str_eq(str(cup, "repeats"), "pairwise_elimination");
	ck_assert(cJSON_IsTrue(get(cup, "converged")));
	ck_assert_int_eq(cJSON_GetArraySize(get(cup, "iterations")), 2);
	/* B wins every time: m2 and m4, then m4. */
	ck_assert_str_eq(str(get(cup, "aggregate"), "winner"), "m4");
	expect_strings(get(get(cup, "aggregate"), "eliminated"), "m1,m2,m3");
	ck_assert_str_eq(str(get(get(cup, "members"), "m2"), "eliminated_by"), "m4");
	ck_assert_str_eq(str(get(get(cup, "members"), "m1"), "eliminated_by"), "m2");
	ck_assert_str_eq(str(cup, "final"), "answer 4");
	/* The judge's calls say which iteration they belong to. */
	char seen[16] = "";
	for (int i = find(&r, 0, "member_started", "judge", "cup"); i >= 0;
	     i = find(&r, (size_t)i + 1, "member_started", "judge", "cup"))
		seen[strlen(seen)] = (char)('0' + (int)num(r.ev[i], "iteration"));
	ck_assert_str_eq(seen, "112");
	run_free(&r);
	assert_clean();
}
END_TEST

START_TEST(test_iterate_stops_at_max_iterations_without_convergence)
{
	struct run r;
	run_start(&r, "{'id': 'it', 'default_profile': {'provider': 'mock', 'words': 5},"
		  "'members': [{'id': 'a'}, {'id': 'b'}],"
		  "'rounds': [{'type': 'independent_analysis'},"
		  "  {'type': 'iterate', 'max_iterations': 3, 'round': {'type': 'critique'}}]}");
	ck_assert_int_eq(run_finish(&r), CX_EXIT_COMPLETED);
	const cJSON *it = round_result(&r, "iterate");
	ck_assert(cJSON_IsFalse(get(it, "converged")));
	ck_assert_int_eq(cJSON_GetArraySize(get(it, "iterations")), 3);
	ck_assert_int_eq(count(&r, "member_started", "a", "iterate"), 3);
	ck_assert_int_eq(count(&r, "round_started", NULL, "iterate"), 1);
	ck_assert_int_eq((int)num(cJSON_GetArrayItem(get(it, "iterations"), 2), "iteration"), 3);
	/* The round's members are its last iteration's. */
	ck_assert_str_eq(str(get(get(it, "members"), "a"), "response"),
			 str(get(get(cJSON_GetArrayItem(get(it, "iterations"), 2), "members"), "a"),
			     "response"));
	run_free(&r);
	assert_clean();
}
END_TEST

START_TEST(test_iterate_converges_once_answers_stop_changing)
{
	struct run r;
	run_start(&r, "{'id': 'it', 'default_profile': {'provider': 'mock', 'reply': 'settled',"
		  "  'replies': {'independent_analysis': 'first thoughts'}},"
		  "'members': [{'id': 'a'}, {'id': 'b'}],"
		  "'rounds': [{'type': 'independent_analysis'},"
		  "  {'type': 'iterate', 'max_iterations': 5, 'round': {'type': 'peer_review'}}]}");
	ck_assert_int_eq(run_finish(&r), CX_EXIT_COMPLETED);
	const cJSON *it = round_result(&r, "iterate");
	ck_assert(cJSON_IsTrue(get(it, "converged")));
	ck_assert_int_eq(cJSON_GetArraySize(get(it, "iterations")), 2);
	ck_assert_int_eq(count(&r, "member_started", "b", "iterate"), 2);
	run_free(&r);
	assert_clean();
}
END_TEST

START_TEST(test_iterated_vote_converges_when_its_winner_holds)
{
	struct run r;
	run_start(&r, "{'id': 'jury', 'default_profile': {'provider': 'mock'},"
		  THREE(VOTE("jury", "ship", "1"), VOTE("jury", "ship", "1"), VOTE("jury", "wait", "1"))
		  "'rounds': [{'type': 'iterate', 'name': 'jury', 'max_iterations': 4,"
		  "  'round': {'type': 'vote', 'options': ['ship', 'wait']}}]}");
	ck_assert_int_eq(run_finish(&r), CX_EXIT_COMPLETED);
	const cJSON *jury = round_result(&r, "jury");
	ck_assert(cJSON_IsTrue(get(jury, "converged")));
	ck_assert_int_eq(cJSON_GetArraySize(get(jury, "iterations")), 2);
	ck_assert_str_eq(str(get(jury, "aggregate"), "winner"), "ship");
	ck_assert_str_eq(final_of(&r), "ship");
	run_free(&r);
	assert_clean();
}
END_TEST

START_TEST(test_iterated_ballot_is_shown_the_previous_tally)
{
	struct run r;
	char *dir = script_dir("n=$(( $(cat \"$STATE\" 2>/dev/null || echo 0) + 1 ))\n"
			       "echo $n > \"$STATE\"\n"
			       "cat > \"$STATE.$n\"\n"
			       "echo '{\"choice\": \"ship\", \"rationale\": \"r\", \"confidence\": 1}'\n");
	char *spec = th_json_text("{'id': 'jury', 'members': [{'id': 'a', 'profile': {'provider': 'exec',"
			       "  'command': ['sh', '%s/member.sh'], 'env': {'STATE': '%s/state'}}}],"
			       "'rounds': [{'type': 'iterate', 'name': 'jury', 'max_iterations': 3,"
			       "  'round': {'type': 'vote', 'options': ['ship', 'wait']}}]}", dir, dir);
	run_start(&r, spec);
	free(spec);
	ck_assert_int_eq(run_finish(&r), CX_EXIT_COMPLETED);
	ck_assert_int_eq(cJSON_GetArraySize(get(round_result(&r, "jury"), "iterations")), 2);
	char path[512];
	snprintf(path, sizeof path, "%s/state.1", dir);
	char *first = th_read_file(path, NULL);
	snprintf(path, sizeof path, "%s/state.2", dir);
	char *second = th_read_file(path, NULL);
	ck_assert_ptr_nonnull(first);
	ck_assert_ptr_nonnull(second);
	ck_assert_ptr_null(strstr(first, "The previous ballot"));
	ck_assert_ptr_nonnull(strstr(second, "The previous ballot: winner ship; scores: ship 1, wait 0"));
	free(first);
	free(second);
	th_rm_rf(dir);
	free(dir);
	run_free(&r);
	assert_clean();
}
END_TEST

static Suite *rounds_suite(void)
{
	Suite *s = suite_create("rounds");
	TCase *tc = tcase_create("rounds");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_vote_elects_the_plurality_of_its_options);
	tcase_add_test(tc, test_confidence_weighted_vote_weighs_conviction);
	tcase_add_test(tc, test_vote_tie_goes_to_the_first_in_byte_order);
	tcase_add_test(tc, test_vote_without_options_chooses_among_the_answers);
	tcase_add_test(tc, test_vote_prompt_lists_the_options_and_the_json_asked);
	tcase_add_test(tc, test_invalid_vote_is_invalid_output_with_its_reason_and_not_retried);
	tcase_add_test(tc, test_round_of_invalid_answers_fails_the_run);
	tcase_add_test(tc, test_member_schema_shapes_its_free_answers);
	tcase_add_test(tc, test_ranking_cycle_ties_borda_and_has_no_condorcet_winner);
	tcase_add_test(tc, test_ranking_of_answers_asks_every_answer_once);
	tcase_add_test(tc, test_anonymized_review_labels_answers_and_leaves_out_ones_own);
	tcase_add_test(tc, test_anonymized_ballots_are_counted_under_member_ids);
	tcase_add_test(tc, test_member_with_nothing_to_review_is_skipped);
	tcase_add_test(tc, test_critique_shows_every_answer_with_ones_own_marked);
	tcase_add_test(tc, test_pairwise_judge_eliminates_the_loser_of_each_pair);
	tcase_add_test(tc, test_judge_sees_the_pair_as_a_and_b_and_an_undecided_pair_stays);
	tcase_add_test(tc, test_iterated_tournament_runs_until_one_is_left);
	tcase_add_test(tc, test_iterate_stops_at_max_iterations_without_convergence);
	tcase_add_test(tc, test_iterate_converges_once_answers_stop_changing);
	tcase_add_test(tc, test_iterated_vote_converges_when_its_winner_holds);
	tcase_add_test(tc, test_iterated_ballot_is_shown_the_previous_tally);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_run_suite(rounds_suite());
}
