/* The runner's promises (DESIGN §5, §6): event order, prompts per round
 * type, retries, timeouts, failure modes, cancel, and the mock and exec
 * providers. Each test runs cx_runner_main in a forked child, as a worker,
 * and reads its event lines here. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "council/ids.h"
#include "council/spec.h"
#include "harness.h"
#include "runner.h"
#include "worker_run.h"

/* ---- event order ---- */

#define THREE_MOCKS \
	"'members': [" \
	"  {'id': 'optimist', 'profile': {'chunk_delay_ms': 2, 'words': 6}}," \
	"  {'id': 'skeptic', 'profile': {'chunk_delay_ms': 3, 'words': 6}}," \
	"  {'id': 'pragmatist', 'profile': {'words': 6}, 'stream': false}],"

static const char *const three[] = { "optimist", "skeptic", "pragmatist" };

/* Walks round idx from events[*pos]: round_started, each member's
 * member_started, tokens and member_completed (interleaved between members,
 * in order for each), then round_completed. */
static void check_round(const struct run *r, size_t *pos, const char *round, int idx,
			const char *const *members, int n_members)
{
	ck_assert_str_eq(str(r->ev[*pos], "type"), "round_started");
	ck_assert_str_eq(str(r->ev[*pos], "round"), round);
	ck_assert_int_eq((int)num(r->ev[*pos], "idx"), idx);
	int started[8] = { 0 }, completed[8] = { 0 };
	for ((*pos)++; *pos < r->n; (*pos)++) {
		const cJSON *e = r->ev[*pos];
		const char *type = str(e, "type");
		if (!strcmp(type, "round_completed"))
			break;
		ck_assert_str_eq(str(e, "round"), round);
		int m = 0;
		while (m < n_members && strcmp(members[m], str(e, "member")))
			m++;
		ck_assert_msg(m < n_members, "%s from %s in %s", type, str(e, "member"), round);
		if (!strcmp(type, "member_started")) {
			ck_assert_int_eq(started[m]++, 0);
		} else {
			ck_assert_msg(started[m] && !completed[m], "%s of %s out of order", type,
				      members[m]);
			completed[m] += !strcmp(type, "member_completed");
		}
	}
	ck_assert_uint_lt(*pos, r->n);
	for (int m = 0; m < n_members; m++)
		ck_assert_msg(completed[m] == 1, "%s completed %d times in %s", members[m],
			      completed[m], round);
	ck_assert_str_eq(str(r->ev[*pos], "round"), round);
	ck_assert_int_eq((int)num(r->ev[*pos], "idx"), idx);
	const cJSON *result = cJSON_GetObjectItemCaseSensitive(r->ev[*pos], "result");
	ck_assert_str_eq(str(result, "round"), round);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(result, "members")),
			 n_members);
	(*pos)++;
}

START_TEST(test_events_follow_rounds_then_one_terminal_event)
{
	struct run r;
	run_start(&r, "{'id': 'order', 'default_profile': {'provider': 'mock'}," THREE_MOCKS
		      "'rounds': [{'type': 'independent_analysis'}, {'type': 'peer_review'}],"
		      "'chair': {'id': 'chair', 'profile': {'reply': 'We agree: rewrite it.'}}}");
	ck_assert_int_eq(run_finish(&r), CX_EXIT_COMPLETED);

	const cJSON *started = r.ev[0];
	ck_assert_str_eq(str(started, "council"), "order");
	ck_assert_str_eq(str(cJSON_GetObjectItemCaseSensitive(started, "input"), "question"),
			 "Should we rewrite it in C?");
	size_t pos = 1;
	const char *chair[] = { "chair" };
	check_round(&r, &pos, "independent_analysis", 0, three, 3);
	check_round(&r, &pos, "peer_review", 1, three, 3);
	check_round(&r, &pos, "synthesis", 2, chair, 1);
	ck_assert_uint_eq(pos, r.n - 1);
	ck_assert_str_eq(str(terminal(&r), "type"), "run_completed");

	/* Streamed tokens add up to the answer; a non-streaming member has none. */
	const cJSON *optimist = member_result(&r, "optimist", "peer_review");
	ck_assert_str_eq(str(optimist, "status"), "ok");
	char *streamed = tokens(&r, "optimist", "peer_review");
	ck_assert_str_eq(streamed, str(optimist, "response"));
	free(streamed);
	ck_assert_int_eq(count(&r, "member_token", "pragmatist", NULL), 0);
	ck_assert_ptr_nonnull(strstr(str(member_result(&r, "pragmatist", NULL), "response"),
				     "pragmatist:"));

	const cJSON *result = cJSON_GetObjectItemCaseSensitive(terminal(&r), "result");
	ck_assert_str_eq(str(result, "council"), "order");
	ck_assert_str_eq(str(result, "final"), "We agree: rewrite it.");
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(result, "rounds")), 3);
	run_free(&r);
	assert_clean();
}
END_TEST

/* ---- routing ---- */

#define ROUTED_SPEC \
	"{'id': 'routed', 'default_profile': {'provider': 'mock', 'reply': 'the same'}," \
	"'members': [{'id': 'a'}, {'id': 'b'}, {'id': 'c'}]," \
	"'router': {'rules': [{'when': {'field': 'ticket.topic', 'in': ['code', 'infra']}," \
	"                      'members': ['a', 'b']}], 'default': ['c']}," \
	"'rounds': [{'type': 'independent_analysis'}, {'type': 'peer_review'}," \
	"           {'type': 'iterate', 'round': {'type': 'critique'}}]," \
	"'chair': {'id': 'chair'}}"

/* Runs ROUTED_SPEC on input_json. */
static void run_routed(struct run *r, const char *input_json)
{
	char *text = th_json_text("%s", ROUTED_SPEC);
	run_start_parsed(r, parse_spec(text), input_json, NULL);
	free(text);
}

static void expect_routed_out(const struct run *r, const char *member, const char *round)
{
	const cJSON *result = member_result(r, member, round);
	ck_assert_msg(result, "no member_completed for %s in %s", member, round);
	ck_assert_str_eq(str(result, "status"), "skipped");
	ck_assert_str_eq(str(result, "reason"), "router_excluded");
	ck_assert_int_eq((int)num(result, "attempts"), 0);
	ck_assert_int_eq(count(r, "member_started", member, round), 0);
	const cJSON *seat = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(round_result(r, round), "members"), member);
	ck_assert_str_eq(str(seat, "reason"), "router_excluded");
}

START_TEST(test_members_a_rule_leaves_out_sit_every_round_skipped_router_excluded)
{
	struct run r;
	run_routed(&r, "{\"question\": \"q\", \"ticket\": {\"topic\": \"infra\"}}");
	ck_assert_int_eq(run_finish(&r), CX_EXIT_COMPLETED);
	expect_routed_out(&r, "c", "independent_analysis");
	expect_routed_out(&r, "c", "peer_review");
	ck_assert_str_eq(str(member_result(&r, "a", "peer_review"), "status"), "ok");
	ck_assert_str_eq(str(member_result(&r, "b", "peer_review"), "status"), "ok");
	/* a and b answer the same each time: the critique converges at once
	 * though c never answers. */
	const cJSON *iterate = round_result(&r, "iterate");
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(iterate, "converged")));
	ck_assert_str_eq(str(member_result(&r, "chair", "synthesis"), "status"), "ok");
	run_free(&r);
	assert_clean();
}
END_TEST

#define MEMBER_ROUTED_SPEC(choice) \
	"{'id': 'mrouted', 'default_profile': {'provider': 'mock', 'reply': 'yes'}," \
	"'members': [{'id': 'triage', 'profile': {'replies': {'router': " choice "}}}," \
	"            {'id': 'a'}, {'id': 'b'}]," \
	"'router': {'member': 'triage'}, 'rounds': [{'type': 'independent_analysis'}]}"

START_TEST(test_router_member_chooses_who_takes_part_with_a_json_array_of_ids)
{
	struct run r;
	run_start(&r, MEMBER_ROUTED_SPEC("'```json\\n[\\\"b\\\"]\\n```'"));
	ck_assert_int_eq(run_finish(&r), CX_EXIT_COMPLETED);
	const cJSON *router = round_result(&r, "router");
	ck_assert_str_eq(str(member_result(&r, "triage", "router"), "status"), "ok");
	ck_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(router, "selected"), 0)
			 ->valuestring, "b");
	expect_routed_out(&r, "triage", "independent_analysis");
	expect_routed_out(&r, "a", "independent_analysis");
	ck_assert_str_eq(str(member_result(&r, "b", "independent_analysis"), "status"), "ok");
	run_free(&r);
	assert_clean();
}
END_TEST

START_TEST(test_router_member_naming_no_member_fails_the_run)
{
	struct run r;
	run_start(&r, MEMBER_ROUTED_SPEC("['a', 'zed']"));
	ck_assert_int_eq(run_finish(&r), CX_EXIT_FAILED);
	ck_assert_str_eq(str(member_result(&r, "triage", "router"), "status"), "invalid_output");
	ck_assert_int_eq(find(&r, 0, "round_started", NULL, "independent_analysis"), -1);
	run_free(&r);
	assert_clean();
}
END_TEST

START_TEST(test_router_default_chooses_when_no_rule_holds)
{
	struct run r;
	run_routed(&r, "{\"question\": \"q\", \"ticket\": {\"topic\": \"billing\"}}");
	ck_assert_int_eq(run_finish(&r), CX_EXIT_COMPLETED);
	expect_routed_out(&r, "a", "independent_analysis");
	expect_routed_out(&r, "b", "independent_analysis");
	ck_assert_str_eq(str(member_result(&r, "c", "independent_analysis"), "status"), "ok");
	run_free(&r);
	assert_clean();
}
END_TEST

/* ---- prompts ---- */


START_TEST(test_peer_review_shows_the_other_answers_not_ones_own)
{
	struct run r;
	run_start(&r, "{'id': 'echo', 'default_profile': {'provider': 'exec', 'command': ['cat']},"
		      "'members': [{'id': 'a', 'system_prompt': 'You are A.'}, {'id': 'b'}, {'id': 'c'}],"
		      "'rounds': [{'type': 'independent_analysis'}, {'type': 'peer_review'}]}");
	ck_assert_int_eq(run_finish(&r), CX_EXIT_COMPLETED);

	cJSON *first = echoed_request(&r, "a", "independent_analysis");
	ck_assert_str_eq(str(first, "run_id"), "test-run");
	ck_assert_str_eq(str(first, "council"), "echo");
	ck_assert_str_eq(str(first, "member"), "a");
	ck_assert_str_eq(str(first, "round"), "independent_analysis");
	const cJSON *messages = cJSON_GetObjectItemCaseSensitive(first, "messages");
	ck_assert_str_eq(str(cJSON_GetArrayItem(messages, 0), "role"), "system");
	ck_assert_str_eq(str(cJSON_GetArrayItem(messages, 0), "content"), "You are A.");
	ck_assert_str_eq(user_text(first), "Should we rewrite it in C?");
	cJSON_Delete(first);

	const char *ids[] = { "a", "b", "c" };
	for (int m = 0; m < 3; m++) {
		cJSON *review = echoed_request(&r, ids[m], "peer_review");
		const char *asked = user_text(review);
		ck_assert_ptr_nonnull(strstr(asked, "Should we rewrite it in C?"));
		for (int o = 0; o < 3; o++) {
			const char *answer = str(member_result(&r, ids[o], "independent_analysis"),
						 "response");
			ck_assert_msg((strstr(asked, answer) != NULL) == (o != m),
				      "%s's peer review %s %s's first answer", ids[m],
				      o == m ? "shows" : "lacks", ids[o]);
		}
		cJSON_Delete(review);
	}
	run_free(&r);
	assert_clean();
}
END_TEST

/* ---- retries and timeouts ---- */

/* One mock member, profile and member keys given, one round: its result. */
static const cJSON *solo(struct run *r, const char *profile, const char *member_keys,
			 int expect_exit)
{
	char *spec = th_json_text("{'id': 'solo', 'members': [{'id': 'only', 'profile': "
			       "{'provider': 'mock', %s}, %s}],"
			       "'rounds': [{'type': 'independent_analysis'}]}",
			       profile, member_keys);
	run_start(r, spec);
	free(spec);
	ck_assert_int_eq(run_finish(r), expect_exit);
	return member_result(r, "only", NULL);
}

START_TEST(test_transient_failures_are_retried_until_success)
{
	struct run r;
	const cJSON *res = solo(&r, "'fail': 'transient', 'fail_times': 2",
				"'retry': {'max': 3, 'base_ms': 5}", CX_EXIT_COMPLETED);
	ck_assert_str_eq(str(res, "status"), "ok");
	ck_assert_int_eq((int)num(res, "attempts"), 3);
	ck_assert_int_eq(count(&r, "member_started", "only", NULL), 1);
	run_free(&r);
	assert_clean();
}
END_TEST

START_TEST(test_transient_failure_uses_up_every_attempt)
{
	struct run r;
	const cJSON *res = solo(&r, "'fail': 'transient'", "'retry': {'max': 3, 'base_ms': 5}",
				CX_EXIT_FAILED);
	ck_assert_str_eq(str(res, "status"), "error");
	ck_assert_str_eq(error_kind(res), "transient");
	ck_assert_str_eq(error_message(res), "mock: scripted transient failure");
	ck_assert_int_eq((int)num(res, "attempts"), 3);
	/* Nobody answered: the round completes, then the run fails. */
	ck_assert_int_eq(count(&r, "round_completed", NULL, NULL), 1);
	ck_assert_str_eq(str(first_error(&r), "kind"), "transient");
	ck_assert_str_eq(str(first_error(&r), "member"), "only");
	ck_assert_str_eq(str(first_error(&r), "round"), "independent_analysis");
	run_free(&r);
	assert_clean();
}
END_TEST

START_TEST(test_permanent_failure_is_not_retried)
{
	struct run r;
	const cJSON *res = solo(&r, "'fail': 'permanent'", "'retry': {'max': 3, 'base_ms': 5}",
				CX_EXIT_FAILED);
	ck_assert_str_eq(str(res, "status"), "error");
	ck_assert_str_eq(error_kind(res), "permanent");
	ck_assert_int_eq((int)num(res, "attempts"), 1);
	run_free(&r);
	assert_clean();
}
END_TEST

START_TEST(test_timed_out_attempt_ends_the_member_as_timeout)
{
	struct run r;
	const cJSON *res = solo(&r, "'fail': 'timeout'",
				"'timeout_ms': 200, 'retry': {'max': 3, 'base_ms': 5}",
				CX_EXIT_FAILED);
	ck_assert_str_eq(str(res, "status"), "timeout");
	ck_assert_str_eq(error_kind(res), "timeout");
	ck_assert_int_eq((int)num(res, "attempts"), 1);
	ck_assert_str_eq(str(first_error(&r), "kind"), "timeout");
	run_free(&r);
	assert_clean();
}
END_TEST

/* ---- failure modes ---- */

START_TEST(test_continue_completes_the_round_with_those_who_answered)
{
	struct run r;
	run_start(&r, "{'id': 'cont', 'default_profile': {'provider': 'mock'},"
		      "'members': [{'id': 'ok1'}, {'id': 'broken', 'profile': {'fail': 'permanent'}},"
		      "  {'id': 'ok2', 'profile': {'reply': 'second'}}],"
		      "'rounds': [{'type': 'independent_analysis', 'failure_mode': 'continue'},"
		      "  {'type': 'peer_review', 'failure_mode': 'continue'}]}");
	ck_assert_int_eq(run_finish(&r), CX_EXIT_COMPLETED);
	ck_assert_int_eq(count(&r, "round_completed", NULL, NULL), 2);
	ck_assert_str_eq(str(member_result(&r, "broken", "independent_analysis"), "status"), "error");
	ck_assert_str_eq(str(member_result(&r, "ok1", "independent_analysis"), "status"), "ok");
	const cJSON *result = cJSON_GetObjectItemCaseSensitive(terminal(&r), "result");
	const char *final = str(result, "final");
	ck_assert_ptr_nonnull(final);
	ck_assert_ptr_nonnull(strstr(final, "ok2: second"));
	ck_assert_ptr_null(strstr(final, "broken"));
	run_free(&r);
	assert_clean();
}
END_TEST

START_TEST(test_fail_fast_fails_the_run_at_the_first_failure)
{
	struct run r;
	run_start(&r, "{'id': 'ff', 'default_profile': {'provider': 'mock'},"
		      "'members': [{'id': 'slow', 'profile': {'latency_ms': 10000}},"
		      "  {'id': 'broken', 'profile': {'fail': 'permanent', 'latency_ms': 50}},"
		      "  {'id': 'sleeper', 'profile': {'provider': 'exec', 'command': ['sleep', '30']}}],"
		      "'rounds': [{'type': 'independent_analysis', 'failure_mode': 'fail_fast'},"
		      "  {'type': 'peer_review'}]}");
	ck_assert_int_eq(run_finish(&r), CX_EXIT_FAILED);
	ck_assert_str_eq(str(terminal(&r), "type"), "run_failed");
	ck_assert_int_eq(count(&r, "round_completed", NULL, NULL), 0);
	ck_assert_int_eq(count(&r, "round_started", NULL, NULL), 1);
	ck_assert_int_eq(count(&r, "member_completed", NULL, NULL), 3);
	ck_assert_str_eq(error_kind(member_result(&r, "slow", NULL)), "aborted");
	ck_assert_str_eq(error_kind(member_result(&r, "sleeper", NULL)), "aborted");
	const cJSON *errors = cJSON_GetObjectItemCaseSensitive(terminal(&r), "errors");
	ck_assert_int_eq(cJSON_GetArraySize(errors), 1);
	ck_assert_str_eq(str(first_error(&r), "kind"), "permanent");
	ck_assert_str_eq(str(first_error(&r), "member"), "broken");
	ck_assert_str_eq(str(first_error(&r), "round"), "independent_analysis");
	run_free(&r);
	assert_clean();
}
END_TEST

START_TEST(test_fail_fast_aborts_members_that_stop_at_once)
{
	struct run r;
	run_start(&r, "{'id': 'ff2', 'default_profile': {'provider': 'mock'},"
		      "'members': [{'id': 'slow', 'profile': {'latency_ms': 10000}},"
		      "  {'id': 'broken', 'profile': {'fail': 'permanent'}}],"
		      "'rounds': [{'type': 'independent_analysis', 'failure_mode': 'fail_fast'}]}");
	ck_assert_int_eq(run_finish(&r), CX_EXIT_FAILED);
	ck_assert_str_eq(error_kind(member_result(&r, "slow", NULL)), "aborted");
	ck_assert_str_eq(str(first_error(&r), "member"), "broken");
	run_free(&r);
	assert_clean();
}
END_TEST

/* ---- cancel ---- */

START_TEST(test_cancel_drains_the_round_in_flight_and_starts_no_other)
{
	struct run r;
	run_start(&r, "{'id': 'cancel', 'default_profile': {'provider': 'mock',"
		      "  'chunk_delay_ms': 40, 'words': 8},"
		      "'members': [{'id': 'a'}, {'id': 'b'}],"
		      "'rounds': [{'type': 'independent_analysis'}, {'type': 'peer_review'}]}");
	await_event(&r, "member_started", "b", "independent_analysis");
	ck_assert_int_eq(write(r.control, "cancel\n", 7), 7);
	ck_assert_int_eq(run_finish(&r), CX_EXIT_CANCELLED);
	ck_assert_str_eq(str(member_result(&r, "a", NULL), "status"), "ok");
	ck_assert_str_eq(str(member_result(&r, "b", NULL), "status"), "ok");
	ck_assert_int_eq(count(&r, "round_completed", NULL, "independent_analysis"), 1);
	ck_assert_int_eq(count(&r, "round_started", NULL, "peer_review"), 0);
	const cJSON *err = first_error(&r);
	ck_assert_str_eq(str(err, "kind"), "cancelled");
	ck_assert_str_eq(str(err, "message"), "cancelled by request");
	ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(err, "member")));
	ck_assert_str_eq(str(err, "round"), "peer_review");
	const cJSON *result = cJSON_GetObjectItemCaseSensitive(terminal(&r), "result");
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(result, "rounds")), 1);
	run_free(&r);
	assert_clean();
}
END_TEST

START_TEST(test_cancel_before_the_first_round_ends_the_run_at_once)
{
	struct run r;
	run_start_with(&r, "{'id': 'early', 'default_profile': {'provider': 'mock'},"
			   "'members': [{'id': 'a'}], 'rounds': [{'type': 'independent_analysis'}]}",
		       "cancel\n");
	ck_assert_int_eq(run_finish(&r), CX_EXIT_CANCELLED);
	ck_assert_uint_eq(r.n, 2);
	ck_assert_str_eq(str(first_error(&r), "kind"), "cancelled");
	ck_assert_str_eq(str(first_error(&r), "round"), "independent_analysis");
	run_free(&r);
	assert_clean();
}
END_TEST

START_TEST(test_worker_stops_when_the_supervisor_is_gone)
{
	struct run r;
	run_start(&r, "{'id': 'orphan', 'members': [{'id': 'sleeper', 'profile':"
		      "  {'provider': 'exec', 'command': ['sleep', '30']}}],"
		      "'rounds': [{'type': 'independent_analysis'}]}");
	await_event(&r, "member_started", "sleeper", NULL);
	close(r.control);
	r.control = -1;
	run_wait(&r);
	ck_assert(WIFEXITED(r.status));
	ck_assert_int_eq(WEXITSTATUS(r.status), CX_EXIT_INTERNAL);
	ck_assert_int_eq(count(&r, "run_completed", NULL, NULL) + count(&r, "run_failed", NULL, NULL), 0);
	ck_assert_str_eq(error_kind(member_result(&r, "sleeper", NULL)), "aborted");
	run_free(&r);
	assert_clean();
}
END_TEST

START_TEST(test_mock_crash_takes_the_worker_down)
{
	struct run r;
	run_start(&r, "{'id': 'crash', 'members': [{'id': 'a', 'profile':"
		      "  {'provider': 'mock', 'fail': 'crash'}}],"
		      "'rounds': [{'type': 'independent_analysis'}]}");
	run_wait(&r);
	ck_assert(WIFSIGNALED(r.status));
	ck_assert_int_eq(WTERMSIG(r.status), SIGSEGV);
	run_free(&r);
	assert_clean();
}
END_TEST

/* ---- the exec provider ---- */

/* One exec member running `sh member.sh` (body), with $STATE a file it may
 * keep across attempts, in one round: its result. */
static const cJSON *solo_exec(struct run *r, const char *body, const char *member_keys,
			      int expect_exit)
{
	char *dir = script_dir(body);
	char *spec = th_json_text("{'id': 'exec', 'members': [{'id': 'only', 'profile': "
			       "{'provider': 'exec', 'command': ['sh', '%s/member.sh'], "
			       "'env': {'STATE': '%s/state'}}, %s}],"
			       "'rounds': [{'type': 'independent_analysis'}]}",
			       dir, dir, member_keys);
	run_start(r, spec);
	free(spec);
	ck_assert_int_eq(run_finish(r), expect_exit);
	th_rm_rf(dir);
	free(dir);
	return member_result(r, "only", NULL);
}

START_TEST(test_exec_streams_json_tokens_then_final)
{
	struct run r;
	const cJSON *res = solo_exec(&r,
		"cat >/dev/null\n"
		"echo '{\"token\": \"Hel\"}'\n"
		"echo '{\"token\": \"lo\"}'\n"
		"echo '{\"final\": \"Hello, council\"}'\n", "'stream': true", CX_EXIT_COMPLETED);
	ck_assert_str_eq(str(res, "status"), "ok");
	ck_assert_str_eq(str(res, "response"), "Hello, council");
	ck_assert_int_eq(count(&r, "member_token", "only", NULL), 2);
	char *streamed = tokens(&r, "only", NULL);
	ck_assert_str_eq(streamed, "Hello");
	free(streamed);
	run_free(&r);
	assert_clean();
}
END_TEST

START_TEST(test_exec_plain_text_lines_are_the_answer)
{
	struct run r;
	const cJSON *res = solo_exec(&r, "echo 'first line'\necho \"$STATE\" | grep -q /state && "
				     "echo 'env seen'\nprintf 'no newline'\n",
				     "'stream': true", CX_EXIT_COMPLETED);
	ck_assert_str_eq(str(res, "response"), "first line\nenv seen\nno newline");
	char *streamed = tokens(&r, "only", NULL);
	ck_assert_str_eq(streamed, "first line\nenv seen\nno newline");
	free(streamed);
	run_free(&r);
	assert_clean();
}
END_TEST

START_TEST(test_exec_exit_75_is_retried_in_order)
{
	struct run r;
	const cJSON *res = solo_exec(&r,
		"n=$(( $(cat \"$STATE\" 2>/dev/null || echo 0) + 1 ))\n"
		"echo $n > \"$STATE\"\n"
		"echo \"{\\\"token\\\": \\\"try $n \\\"}\"\n"
		"[ $n -ge 3 ] || exit 75\n"
		"echo '{\"final\": \"third time lucky\"}'\n",
		"'retry': {'max': 3, 'base_ms': 10}", CX_EXIT_COMPLETED);
	ck_assert_str_eq(str(res, "status"), "ok");
	ck_assert_str_eq(str(res, "response"), "third time lucky");
	ck_assert_int_eq((int)num(res, "attempts"), 3);
	char *streamed = tokens(&r, "only", NULL);
	ck_assert_str_eq(streamed, "try 1 try 2 try 3 ");
	free(streamed);
	run_free(&r);
	assert_clean();
}
END_TEST

START_TEST(test_exec_failure_carries_its_stderr)
{
	struct run r;
	const cJSON *res = solo_exec(&r, "echo 'disk on fire' >&2\nexit 2\n",
				     "'retry': {'max': 3, 'base_ms': 10}", CX_EXIT_FAILED);
	ck_assert_str_eq(str(res, "status"), "error");
	ck_assert_str_eq(error_kind(res), "permanent");
	ck_assert_str_eq(error_message(res), "exited 2: disk on fire");
	ck_assert_int_eq((int)num(res, "attempts"), 1);
	run_free(&r);
	assert_clean();
}
END_TEST

START_TEST(test_exec_member_past_its_timeout_is_killed)
{
	struct run r;
	char *spec = th_json_text("{'id': 'slow', 'members': [{'id': 'only', 'timeout_ms': 300,"
			       "  'profile': {'provider': 'exec', 'command': ['sleep', '30']}}],"
			       "'rounds': [{'type': 'independent_analysis'}]}");
	run_start(&r, spec);
	free(spec);
	ck_assert_int_eq(run_finish(&r), CX_EXIT_FAILED);
	const cJSON *res = member_result(&r, "only", NULL);
	ck_assert_str_eq(str(res, "status"), "timeout");
	ck_assert_int_eq((int)num(res, "attempts"), 1);
	run_free(&r);
	assert_clean();
}
END_TEST

START_TEST(test_exec_overlong_line_is_invalid_output)
{
	struct run r;
	const cJSON *res = solo_exec(&r, "exec head -c 1100000 /dev/zero\n",
				     "'stream': false", CX_EXIT_FAILED);
	ck_assert_str_eq(str(res, "status"), "invalid_output");
	ck_assert_str_eq(error_message(res), "output line over 1 MiB");
	run_free(&r);
	assert_clean();
}
END_TEST

START_TEST(test_exec_missing_command_fails_permanently)
{
	struct run r;
	char *spec = th_json_text("{'id': 'nocmd', 'members': [{'id': 'only', 'profile':"
			       "  {'provider': 'exec', 'command': ['/nonexistent/member']}}],"
			       "'rounds': [{'type': 'independent_analysis'}]}");
	run_start(&r, spec);
	free(spec);
	ck_assert_int_eq(run_finish(&r), CX_EXIT_FAILED);
	const cJSON *res = member_result(&r, "only", NULL);
	ck_assert_str_eq(error_kind(res), "permanent");
	ck_assert_ptr_nonnull(strstr(error_message(res), "exited 127"));
	ck_assert_ptr_nonnull(strstr(error_message(res), "/nonexistent/member"));
	run_free(&r);
	assert_clean();
}
END_TEST

static Suite *runner_suite(void)
{
	Suite *s = suite_create("runner");
	TCase *tc = tcase_create("runner");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_events_follow_rounds_then_one_terminal_event);
	tcase_add_test(tc, test_peer_review_shows_the_other_answers_not_ones_own);
	tcase_add_test(tc, test_members_a_rule_leaves_out_sit_every_round_skipped_router_excluded);
	tcase_add_test(tc, test_router_default_chooses_when_no_rule_holds);
	tcase_add_test(tc, test_router_member_chooses_who_takes_part_with_a_json_array_of_ids);
	tcase_add_test(tc, test_router_member_naming_no_member_fails_the_run);
	tcase_add_test(tc, test_transient_failures_are_retried_until_success);
	tcase_add_test(tc, test_transient_failure_uses_up_every_attempt);
	tcase_add_test(tc, test_permanent_failure_is_not_retried);
	tcase_add_test(tc, test_timed_out_attempt_ends_the_member_as_timeout);
	tcase_add_test(tc, test_continue_completes_the_round_with_those_who_answered);
	tcase_add_test(tc, test_fail_fast_fails_the_run_at_the_first_failure);
	tcase_add_test(tc, test_fail_fast_aborts_members_that_stop_at_once);
	tcase_add_test(tc, test_cancel_drains_the_round_in_flight_and_starts_no_other);
	tcase_add_test(tc, test_cancel_before_the_first_round_ends_the_run_at_once);
	tcase_add_test(tc, test_worker_stops_when_the_supervisor_is_gone);
	tcase_add_test(tc, test_mock_crash_takes_the_worker_down);
	tcase_add_test(tc, test_exec_streams_json_tokens_then_final);
	tcase_add_test(tc, test_exec_plain_text_lines_are_the_answer);
	tcase_add_test(tc, test_exec_exit_75_is_retried_in_order);
	tcase_add_test(tc, test_exec_failure_carries_its_stderr);
	tcase_add_test(tc, test_exec_member_past_its_timeout_is_killed);
	tcase_add_test(tc, test_exec_overlong_line_is_invalid_output);
	tcase_add_test(tc, test_exec_missing_command_fails_permanently);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_run_suite(runner_suite());
}
