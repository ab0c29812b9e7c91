/* Sub-councils (docs/rounds.md, docs/events.md): a member answered by a
 * nested run of a council, in the same worker, its events relayed on the
 * run's stream under "sub" with their own seq, its final answer the
 * member's response; and what a failure, a timeout or a cancel of the
 * member does to the nested run. Councils given as paths are read by
 * cx_spec_inline. */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "council/spec.h"
#include "harness.h"
#include "runner.h"
#include "worker_run.h"

static const cJSON *get(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

#define INNER(rounds, chair) \
	"{'id': 'inner', 'default_profile': {'provider': 'mock', 'words': 4}," \
	" 'members': [{'id': 'x'}, {'id': 'y'}], 'rounds': [" rounds "]" chair "}"
#define SUMS ", 'chair': {'id': 'sum', 'profile': {'reply': 'inner verdict'}}"
#define OUTER(panel_keys, inner) \
	"{'id': 'outer', 'default_profile': {'provider': 'mock', 'words': 4}," \
	" 'members': [{'id': 'a'}, {'id': 'panel', " panel_keys " 'council': " inner "}]," \
	" 'rounds': [{'type': 'independent_analysis'}]}"

/* Every event of the sub-council at path: its own seq runs 1, 2, 3...
 * and it lies between its member's member_started and member_completed. */
static int check_relayed(const struct run *r, const char *sub, const char *member)
{
	int started = find(r, 0, "member_started", member, NULL);
	int completed = find(r, 0, "member_completed", member, NULL);
	int n = 0;
	for (int i = find_sub(r, 0, sub, NULL, NULL, NULL); i >= 0;
	     i = find_sub(r, (size_t)i + 1, sub, NULL, NULL, NULL)) {
		ck_assert_msg((int)num(r->ev[i], "sub_seq") == ++n, "event %d of %s has sub_seq %g",
			      n, sub, num(r->ev[i], "sub_seq"));
		ck_assert_msg(i > started && i < completed, "event %d of %s outside its member's turn",
			      n, sub);
		ck_assert_str_eq(str(r->ev[i], "run_id"), "test-run");
	}
	return n;
}

START_TEST(test_sub_council_events_are_relayed_under_its_member)
{
	struct run r;
	run_start(&r, OUTER("", INNER("{'type': 'independent_analysis'}", SUMS)));
	ck_assert_int_eq(run_finish(&r), CX_EXIT_COMPLETED);   /* seq 1..N, one terminal */

	const cJSON *panel = member_result(&r, "panel", "independent_analysis");
	ck_assert_str_eq(str(panel, "status"), "ok");
	ck_assert_str_eq(str(panel, "response"), "inner verdict");
	const cJSON *sub_result = get(panel, "sub_result");
	ck_assert_str_eq(str(sub_result, "council"), "inner");
	ck_assert_str_eq(str(sub_result, "final"), "inner verdict");
	ck_assert_int_eq(cJSON_GetArraySize(get(sub_result, "rounds")), 2);

	/* run_started, its rounds and members, but no terminal event. */
	ck_assert_int_ge(check_relayed(&r, "panel", "panel"), 9);
	const cJSON *started = r.ev[find_sub(&r, 0, "panel", "run_started", NULL, NULL)];
	ck_assert_str_eq(str(started, "council"), "inner");
	ck_assert_str_eq(str(get(started, "input"), "question"), "Should we rewrite it in C?");
	ck_assert_str_eq(str(get(get(started, "input"), "parent_input"), "question"),
			 "Should we rewrite it in C?");
	ck_assert_int_eq(count_sub(&r, "panel", "member_completed", NULL, NULL), 3);
	ck_assert_int_eq(count_sub(&r, "panel", "round_completed", NULL, "synthesis"), 1);
	ck_assert_int_eq(count_sub(&r, "panel", "run_completed", NULL, NULL), 0);
	/* The run's own rounds are its own. */
	ck_assert_int_eq(count(&r, "round_started", NULL, NULL), 1);
	run_free(&r);
	assert_clean();
}
END_TEST

START_TEST(test_nested_sub_councils_relay_their_member_paths)
{
	struct run r;
	run_start(&r, OUTER("", "{'id': 'middle', 'default_profile': {'provider': 'mock'},"
			    " 'members': [{'id': 'deep', 'council': "
			    INNER("{'type': 'independent_analysis'}", SUMS) "}],"
			    " 'rounds': [{'type': 'independent_analysis'}]}"));
	ck_assert_int_eq(run_finish(&r), CX_EXIT_COMPLETED);
	ck_assert_str_eq(str(member_result(&r, "panel", NULL), "response"), "deep: inner verdict");
	int deep = find_sub(&r, 0, "panel/deep", "run_started", NULL, NULL);
	ck_assert_int_ge(deep, 0);
	ck_assert_int_eq((int)num(r.ev[deep], "sub_seq"), 1);
	ck_assert_int_eq(count_sub(&r, "panel", "member_completed", "deep", NULL), 1);
	ck_assert_int_eq(count_sub(&r, "panel/deep", "member_completed", NULL, NULL), 3);
	run_free(&r);
	assert_clean();
}
END_TEST

START_TEST(test_failing_sub_council_fails_its_member)
{
	struct run r;
	run_start(&r, OUTER("", "{'id': 'inner', 'default_profile': {'provider': 'mock'},"
			    " 'members': [{'id': 'x', 'profile': {'fail': 'permanent'}},"
			    "  {'id': 'y', 'profile': {'latency_ms': 5000}}],"
			    " 'rounds': [{'type': 'independent_analysis', 'failure_mode': 'fail_fast'}]}"));
	ck_assert_int_eq(run_finish(&r), CX_EXIT_COMPLETED);   /* a answered */
	const cJSON *panel = member_result(&r, "panel", NULL);
	ck_assert_str_eq(str(panel, "status"), "error");
	ck_assert_str_eq(error_kind(panel), "permanent");
	ck_assert_str_eq(error_message(panel), "sub-council inner failed: permanent: mock: scripted "
			 "permanent failure (member x, round independent_analysis)");
	ck_assert_int_eq((int)num(panel, "attempts"), 1);
	ck_assert_int_eq(cJSON_GetArraySize(get(get(panel, "sub_result"), "rounds")), 0);
	/* fail_fast stopped y inside the sub-council. */
	ck_assert_str_eq(str(get(r.ev[find_sub(&r, 0, "panel", "member_completed", "y", NULL)],
				 "result"), "status"), "error");
	run_free(&r);
	assert_clean();
}
END_TEST

START_TEST(test_member_timeout_aborts_its_sub_council)
{
	struct run r;
	run_start(&r, OUTER("'timeout_ms': 300,",
			    "{'id': 'inner', 'members': [{'id': 'sleeper', 'profile':"
			    "  {'provider': 'exec', 'command': ['sleep', '30']}}],"
			    " 'rounds': [{'type': 'independent_analysis'}]}"));
	ck_assert_int_eq(run_finish(&r), CX_EXIT_COMPLETED);
	const cJSON *panel = member_result(&r, "panel", NULL);
	ck_assert_str_eq(str(panel, "status"), "timeout");
	const cJSON *sleeper = get(r.ev[find_sub(&r, 0, "panel", "member_completed", "sleeper",
						 NULL)], "result");
	ck_assert_str_eq(error_kind(sleeper), "aborted");
	run_free(&r);
	assert_clean();     /* the nested member's process is gone */
}
END_TEST

START_TEST(test_cancel_reaches_the_sub_council)
{
	struct run r;
	run_start(&r, "{'id': 'outer', 'members': [{'id': 'panel', 'council': "
		  "{'id': 'inner', 'default_profile': {'provider': 'mock', 'chunk_delay_ms': 40,"
		  "  'words': 8}, 'members': [{'id': 'x'}, {'id': 'y'}],"
		  " 'rounds': [{'type': 'independent_analysis'}, {'type': 'peer_review'}]}}],"
		  "'rounds': [{'type': 'independent_analysis'}, {'type': 'peer_review'}]}");
	await_sub_event(&r, "panel", "member_started", "y", NULL);
	ck_assert_int_eq(write(r.control, "cancel\n", 7), 7);
	ck_assert_int_eq(run_finish(&r), CX_EXIT_CANCELLED);
	ck_assert_str_eq(str(first_error(&r), "kind"), "cancelled");
	/* The sub-council's round in flight drained; its next never began. */
	ck_assert_int_eq(count_sub(&r, "panel", "member_completed", NULL, "independent_analysis"), 2);
	ck_assert_int_eq(count_sub(&r, "panel", "round_started", NULL, "peer_review"), 0);
	const cJSON *panel = member_result(&r, "panel", NULL);
	ck_assert_str_eq(error_kind(panel), "aborted");
	ck_assert_int_eq(count(&r, "round_started", NULL, "peer_review"), 0);
	run_free(&r);
	assert_clean();
}
END_TEST

/* ---- councils given as paths ---- */

static char *inlined(const char *dir, const char *text, int expect, struct cx_diags *diags)
{
	char *quoted = th_json_text("%s", text), *out = NULL;
	size_t len;
	ck_assert_int_eq(cx_spec_inline(quoted, strlen(quoted), dir, &out, &len, diags), expect);
	free(quoted);
	return out;
}

static void write_quoted(const char *dir, const char *name, const char *text)
{
	char *path, *quoted = th_json_text("%s", text);
	ck_assert_int_ge(asprintf(&path, "%s/%s", dir, name), 0);
	th_write_file(path, quoted);
	free(quoted);
	free(path);
}

START_TEST(test_council_paths_are_read_relative_to_the_file_naming_them)
{
	char *dir = th_scratch_dir(), sub[PATH_MAX];
	struct cx_diags diags = { 0 };
	snprintf(sub, sizeof sub, "%s/parts", dir);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	write_quoted(sub, "middle.json", "{'id': 'middle', 'default_profile': {'provider': 'mock'},"
		     " 'members': [{'id': 'deep', 'council': 'inner.json'}],"
		     " 'rounds': [{'type': 'independent_analysis'}]}");
	write_quoted(sub, "inner.json", INNER("{'type': 'independent_analysis'}", SUMS));
	char *text = inlined(dir, OUTER("", "'parts/middle.json'"), CX_OK, &diags);

	struct cx_spec *spec = NULL;
	int rc = cx_spec_parse(text, strlen(text), &spec, &diags);
	ck_assert_msg(rc == CX_OK, "inlined spec refused: %s: %s: %s", diags.n ? diags.v[0].path : "",
		      diags.n ? diags.v[0].code : "", diags.n ? diags.v[0].message : text);
	const struct cx_spec *middle = spec->members[1].council;
	ck_assert_str_eq(middle->id, "middle");
	ck_assert_str_eq(middle->members[0].council->id, "inner");
	cx_spec_free(spec);
	free(text);

	/* Untouched without paths: the text as written. */
	text = inlined(dir, "{'id': 'c' ,'x': 1}", CX_OK, &diags);
	ck_assert_str_eq(text, "{\"id\": \"c\" ,\"x\": 1}");
	free(text);
	ck_assert_uint_eq(diags.n, 0);
	cx_diags_free(&diags);
	th_rm_rf(dir);
	free(dir);
}
END_TEST

static const struct unreadable {
	const char *file, *text;       /* written in the scratch dir first, when set */
	const char *council, *path, *code, *why;
} unreadable[] = {
	{ NULL, NULL, "'missing.json'", "members[1].council", "unreadable_council",
	  "No such file or directory" },
	{ "bad.json", "{not json", "'bad.json'", "members[1].council", "invalid_json", "not valid JSON" },
	{ "self.json", "{'id': 's', 'members': [{'id': 'm', 'council': 'self.json'}],"
	  " 'rounds': [{'type': 'independent_analysis'}]}", "'self.json'",
	  "members[1].council.members[0].council", "unreadable_council", "includes itself" },
	{ NULL, NULL, "'.'", "members[1].council", "unreadable_council", "not a regular file" },
	{ NULL, NULL, "'/dev/zero'", "members[1].council", "unreadable_council",
	  "not a regular file" },
};

START_TEST(test_council_path_that_cannot_be_read_is_a_finding)
{
	const struct unreadable *row = &unreadable[_i];
	char *dir = th_scratch_dir(), spec[1024];
	struct cx_diags diags = { 0 };
	if (row->file)
		write_quoted(dir, row->file, row->text);
	snprintf(spec, sizeof spec, OUTER("", "%s"), row->council);
	ck_assert_ptr_null(inlined(dir, spec, CX_EINVALID, &diags));
	ck_assert_uint_ge(diags.n, 1);
	ck_assert_str_eq(diags.v[0].path, row->path);
	ck_assert_str_eq(diags.v[0].code, row->code);
	ck_assert_msg(strstr(diags.v[0].message, row->why), "row %d: %s", _i, diags.v[0].message);
	cx_diags_free(&diags);
	th_rm_rf(dir);
	free(dir);
}
END_TEST

static Suite *subcouncil_suite(void)
{
	Suite *s = suite_create("subcouncil");
	TCase *tc = tcase_create("subcouncil");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_sub_council_events_are_relayed_under_its_member);
	tcase_add_test(tc, test_nested_sub_councils_relay_their_member_paths);
	tcase_add_test(tc, test_failing_sub_council_fails_its_member);
	tcase_add_test(tc, test_member_timeout_aborts_its_sub_council);
	tcase_add_test(tc, test_cancel_reaches_the_sub_council);
	tcase_add_test(tc, test_council_paths_are_read_relative_to_the_file_naming_them);
	tcase_add_loop_test(tc, test_council_path_that_cannot_be_read_is_a_finding, 0,
			    (int)(sizeof unreadable / sizeof unreadable[0]));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_run_suite(subcouncil_suite());
}
