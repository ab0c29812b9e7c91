/* The HTTP providers (docs/providers.md), end to end: councils of openai
 * and anthropic members run under the embedded supervisor against
 * tests/fixtures/fake_llm.py, a scripted local server speaking both APIs.
 * Every test runs once per provider, and ends by checking that the API key
 * appears in no file of the run's directory. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "council/council.h"
#include "harness.h"
#include "runner.h"

#define DEADLINE_MS 30000
#define KEY_VAR "FAKE_LLM_KEY"

/* What differs between the providers, as the fixture sees it. */
struct provider {
	const char *name;
	const char *path;           /* the endpoint */
	const char *key_header;     /* where the key goes, and how */
	const char *key_prefix;
};

static const struct provider providers[] = {
	{ "openai", "/v1/chat/completions", "authorization", "Bearer " },
	{ "anthropic", "/v1/messages", "x-api-key", "" },
};

static const struct provider *P;    /* this test's provider */
static char *scratch;               /* the runtime directory */
static char *work;                  /* the fixture's and the tools' files */
static char key[64];
static struct cx_sup *sup;

static struct {
	pid_t pid;
	int port;
} fixture = { -1, 0 };

/* One finished run. */
struct run {
	char id[CX_RUN_ID_MAX + 1];
	cJSON *events;              /* an array, in order */
	cJSON *requests;            /* what the fixture received, in order */
};

static char *work_path(const char *name)
{
	char *path;
	ck_assert_int_ge(asprintf(&path, "%s/%s", work, name), 0);
	return path;
}

/* ---- the fixture server ---- */

/* Starts fake_llm.py with script (JSON, single quotes allowed) and reads
 * the port it prints. */
static void fixture_start(const char *script)
{
	char *text = th_json_text("%s", script), *script_path = work_path("script.json");
	char *log_path = work_path("requests.jsonl");
	int out[2];
	th_write_file(script_path, text);
	free(text);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	fixture.pid = fork();
	ck_assert_int_ge(fixture.pid, 0);
	if (fixture.pid == 0) {
		dup2(out[1], 1);
		execlp("python3", "python3", th_source_path("tests/fixtures/fake_llm.py"),
		       "--script", script_path, "--log", log_path, (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	free(script_path);
	free(log_path);
	char line[32] = "";
	size_t len = 0;
	uint64_t deadline = cx_mono_ms() + DEADLINE_MS;
	while (!memchr(line, '\n', len)) {
		struct pollfd p = { out[0], POLLIN, 0 };
		ck_assert_msg(cx_mono_ms() < deadline && poll(&p, 1, 100) >= 0,
			      "awaited the fixture server's port");
		ssize_t n = p.revents ? read(out[0], line + len, sizeof line - 1 - len) : 0;
		ck_assert_msg(!p.revents || n > 0, "the fixture server exited before its port");
		len += (size_t)(n > 0 ? n : 0);
		line[len] = '\0';
	}
	close(out[0]);
	fixture.port = atoi(line);
	ck_assert_int_gt(fixture.port, 0);
}

static void fixture_stop(void)
{
	if (fixture.pid <= 0)
		return;
	kill(fixture.pid, SIGKILL);
	waitpid(fixture.pid, NULL, 0);
	fixture.pid = -1;
}

/* The JSON lines of a file, as an array. */
static cJSON *json_lines(const char *path)
{
	cJSON *all = cJSON_CreateArray();
	char *text = th_read_file(path, NULL);
	for (char *line = text, *nl; line && (nl = strchr(line, '\n')); line = nl + 1) {
		cJSON *item = cJSON_ParseWithLength(line, (size_t)(nl - line));
		ck_assert_msg(item, "%s: not a JSON line: %.*s", path, (int)(nl - line), line);
		cJSON_AddItemToArray(all, item);
	}
	free(text);
	return all;
}

/* ---- setup ---- */

static void setup(void)
{
	scratch = th_scratch_dir();
	char dir[] = "/tmp/council-fixture-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	work = strdup(dir);
	uint32_t r[2];
	arc4random_buf(r, sizeof r);
	snprintf(key, sizeof key, "sk-test-%08x%08x", r[0], r[1]);
	setenv(KEY_VAR, key, 1);
	struct cx_error err = { 0 };
	struct cx_sup_options opts = { .runtime_dir = scratch, .tenant = "t1", .shutdown_ms = 2000 };
	ck_assert_msg(cx_sup_new(&opts, &sup, &err) == CX_OK, "cx_sup_new: %s", err.message);
}

static void teardown(void)
{
	cx_sup_free(sup);
	sup = NULL;
	fixture_stop();
	unsetenv(KEY_VAR);
	ck_assert_msg(th_no_descendants(5000), "processes were left behind");
	th_rm_rf(scratch);
	th_rm_rf(work);
	free(scratch);
	free(work);
}

/* ---- running a council ---- */

/* A council of members (JSON, single quotes) in one independent_analysis
 * round; their default profile is this test's provider, at the fixture,
 * with the key in KEY_VAR. extra goes after the rounds (tools...). */
static char *council(const char *members, const char *extra)
{
	return th_json_text("{'id': 'p', 'default_profile': {'provider': '%s', 'model': 'm',"
			 " 'base_url': 'http://127.0.0.1:%d/v1', 'api_key_env': '" KEY_VAR "'},"
			 "'members': [%s], 'rounds': [{'type': 'independent_analysis'}]%s}",
			 P->name, fixture.port, members, extra);
}

static bool is_final(void *arg)
{
	struct cx_run_summary s;
	cx_sup_dispatch(sup, 10);
	return cx_sup_state(sup, arg, &s) == CX_OK && cx_run_status_final(s.status) &&
	       strcmp(s.exit, "-") != 0;
}

static char *run_file(const struct run *r, const char *name)
{
	char *path;
	ck_assert_int_ge(asprintf(&path, "%s/runs/%s/%s", scratch, r->id, name), 0);
	return path;
}

/* No file of the run's directory holds the key. */
static void assert_key_absent(const struct run *r)
{
	char *dir = run_file(r, "");
	DIR *d = opendir(dir);
	struct dirent *e;
	int files = 0;
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char *path = run_file(r, e->d_name);
		char *text = th_read_file(path, NULL);
		ck_assert_msg(text, "cannot read %s", path);
		ck_assert_msg(!strstr(text, key), "the API key is in %s", path);
		files++;
		free(text);
		free(path);
	}
	closedir(d);
	free(dir);
	ck_assert_int_ge(files, 6);   /* status, summary, spec, input, events, result */
}

/* Runs spec (from council()) to its end: its events, the requests the
 * fixture got, and the key nowhere in its directory. */
static void run_council(struct run *r, char *spec)
{
	struct cx_start req = { .spec_json = spec, .input_json = "{\"question\": \"Ship it?\"}" };
	struct cx_error err = { 0 };
	struct cx_diags diags = { 0 };
	*r = (struct run){ 0 };
	int rc = cx_sup_start(sup, &req, r->id, NULL, &diags, &err);
	ck_assert_msg(rc == CX_OK, "cx_sup_start: %s %s: %s", err.message,
		      diags.n ? diags.v[0].path : "", diags.n ? diags.v[0].message : "");
	cx_diags_free(&diags);
	free(spec);
	ck_assert_msg(th_wait_until(is_final, r->id, DEADLINE_MS),
		      "awaited the end of run %s", r->id);
	char *events = run_file(r, "events"), *requests = work_path("requests.jsonl");
	r->events = json_lines(events);
	r->requests = json_lines(requests);
	free(events);
	free(requests);
	assert_key_absent(r);
}

/* The fixture playing script, and the council of members (council())
 * run against it. */
static void run_against(struct run *r, const char *script, const char *members,
			const char *extra)
{
	fixture_start(script);
	run_council(r, council(members, extra));
}

static void run_free(struct run *r)
{
	cJSON_Delete(r->events);
	cJSON_Delete(r->requests);
}

/* ---- reading what happened ---- */

static const char *str(const cJSON *obj, const char *key_)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key_));
}

static int num(const cJSON *obj, const char *key_)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key_);
	ck_assert_msg(cJSON_IsNumber(v), "no number \"%s\"", key_);
	return v->valueint;
}

static const cJSON *at(const cJSON *obj, const char *key_)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key_);
}

static bool same(const char *a, const char *b)
{
	return !b || (a && !strcmp(a, b));
}

/* The index of the n-th (from 0) event of type for member (NULL: any), or
 * -1. */
static int nth_event(const struct run *r, const char *type, const char *member, int n)
{
	int i = 0;
	const cJSON *ev;
	cJSON_ArrayForEach(ev, r->events) {
		if (same(str(ev, "type"), type) && same(str(ev, "member"), member) && n-- == 0)
			return i;
		i++;
	}
	return -1;
}

static int count_events(const struct run *r, const char *type, const char *member)
{
	int n = 0;
	while (nth_event(r, type, member, n) >= 0)
		n++;
	return n;
}

static const cJSON *event(const struct run *r, const char *type, const char *member, int n)
{
	int i = nth_event(r, type, member, n);
	ck_assert_msg(i >= 0, "no %s event #%d for %s", type, n, member ? member : "anyone");
	return cJSON_GetArrayItem(r->events, i);
}

static const cJSON *result_of(const struct run *r, const char *member)
{
	return at(event(r, "member_completed", member, 0), "result");
}

static const char *error_kind(const cJSON *result)
{
	return str(at(result, "error"), "kind");
}

static const char *error_message(const cJSON *result)
{
	return str(at(result, "error"), "message");
}

/* The member's turn failed with kind and message after attempts attempts. */
static void assert_failed(const cJSON *result, const char *kind, const char *message,
			  int attempts)
{
	ck_assert_str_eq(error_kind(result), kind);
	ck_assert_str_eq(error_message(result), message);
	ck_assert_int_eq(num(result, "attempts"), attempts);
}

/* member's streamed chunks, joined. */
static char *tokens(const struct run *r, const char *member)
{
	char *all = NULL;
	size_t len;
	FILE *f = open_memstream(&all, &len);
	for (int n = 0, i; (i = nth_event(r, "member_token", member, n)) >= 0; n++)
		fputs(str(cJSON_GetArrayItem(r->events, i), "chunk"), f);
	fclose(f);
	return all;
}

/* The requests the fixture got for model, in order. */
static int count_requests(const struct run *r, const char *model)
{
	int n = 0;
	const cJSON *q;
	cJSON_ArrayForEach(q, r->requests)
		n += same(str(q, "model"), model);
	return n;
}

static const cJSON *request(const struct run *r, const char *model, int n)
{
	const cJSON *q;
	cJSON_ArrayForEach(q, r->requests)
		if (same(str(q, "model"), model) && n-- == 0)
			return q;
	ck_abort_msg("no request #%d for model %s", n, model);
	return NULL;
}

/* Where the n-th request for model came among all requests. */
static int arrival(const struct run *r, const char *model, int n)
{
	return num(request(r, model, n), "n");
}

static const cJSON *body_of(const cJSON *req)
{
	return at(req, "body");
}

static bool contains(const char *haystack, const char *needle)
{
	return haystack && strstr(haystack, needle);
}

/* ---- answers ---- */

START_TEST(test_streamed_answer_arrives_as_tokens_with_usage)
{
	struct run r;
	P = &providers[_i];
	run_against(&r, "{'a': [{'text': 'Ship it on Friday', 'usage': {'input': 12, 'output': 4}}]}",
		    "{'id': 'alice', 'system_prompt': 'Be brief.',"
		    " 'profile': {'model': 'a'}}", "");

	const cJSON *res = result_of(&r, "alice");
	ck_assert_str_eq(str(res, "status"), "ok");
	ck_assert_str_eq(str(res, "response"), "Ship it on Friday");
	ck_assert_int_eq(num(res, "attempts"), 1);
	ck_assert_int_eq(count_events(&r, "member_token", "alice"), 4);
	char *streamed = tokens(&r, "alice");
	ck_assert_str_eq(streamed, "Ship it on Friday");
	free(streamed);
	ck_assert_int_eq(num(at(res, "usage"), "input_tokens"), 12);
	ck_assert_int_eq(num(at(res, "usage"), "output_tokens"), 4);

	/* What the server was sent: the endpoint, the key where the API
	 * wants it, the model, the prompt. */
	const cJSON *q = request(&r, "a", 0);
	char want[128];
	snprintf(want, sizeof want, "%s%s", P->key_prefix, key);
	ck_assert_str_eq(str(q, "path"), P->path);
	ck_assert_str_eq(str(at(q, "headers"), P->key_header), want);
	ck_assert_str_eq(str(at(q, "headers"), "content-type"), "application/json");
	const cJSON *body = body_of(q);
	ck_assert(cJSON_IsTrue(at(body, "stream")));
	const cJSON *messages = at(body, "messages");
	const cJSON *last = cJSON_GetArrayItem(messages, cJSON_GetArraySize(messages) - 1);
	ck_assert_str_eq(str(last, "role"), "user");
	ck_assert_str_eq(str(last, "content"), "Ship it?");
	if (!strcmp(P->name, "anthropic")) {
		ck_assert_str_eq(str(at(q, "headers"), "anthropic-version"), "2023-06-01");
		ck_assert_str_eq(str(body, "system"), "Be brief.");
		ck_assert_int_eq(cJSON_GetArraySize(messages), 1);
		ck_assert_int_eq(num(body, "max_tokens"), 1024);
	} else {
		ck_assert_str_eq(str(cJSON_GetArrayItem(messages, 0), "role"), "system");
		ck_assert_str_eq(str(cJSON_GetArrayItem(messages, 0), "content"), "Be brief.");
		ck_assert(cJSON_IsTrue(at(at(body, "stream_options"), "include_usage")));
		ck_assert_ptr_null(at(body, "max_tokens"));
	}
	const cJSON *final = at(at(cJSON_GetArrayItem(r.events, cJSON_GetArraySize(r.events) - 1),
				   "result"), "rounds");
	ck_assert_int_eq(num(at(at(at(cJSON_GetArrayItem(final, 0), "members"), "alice"), "usage"),
			     "output_tokens"), 4);
	run_free(&r);
}
END_TEST

START_TEST(test_non_streaming_member_gets_one_body)
{
	struct run r;
	P = &providers[_i];
	run_against(&r, "{'b': [{'text': 'No, wait', 'usage': {'input': 7, 'output': 2}}]}",
		    "{'id': 'bob', 'stream': false, 'profile': {'model': 'b',"
		    " 'temperature': 0.5, 'max_tokens': 99, 'headers': {'X-Team': 'core'}}}",
		    "");
	const cJSON *res = result_of(&r, "bob");
	ck_assert_str_eq(str(res, "status"), "ok");
	ck_assert_str_eq(str(res, "response"), "No, wait");
	ck_assert_int_eq(count_events(&r, "member_token", "bob"), 0);
	ck_assert_int_eq(num(at(res, "usage"), "input_tokens"), 7);
	const cJSON *q = request(&r, "b", 0);
	ck_assert(cJSON_IsFalse(at(body_of(q), "stream")));
	ck_assert_int_eq(num(body_of(q), "max_tokens"), 99);
	ck_assert(at(body_of(q), "temperature")->valuedouble == 0.5);
	ck_assert_str_eq(str(at(q, "headers"), "x-team"), "core");
	run_free(&r);
}
END_TEST

/* Found by tests/fuzz/fuzz_chat.c: a count of 1e300 was cast to long past
 * its range (undefined behaviour), one below 0 made the totals negative. */
START_TEST(test_usage_out_of_range_is_not_counted)
{
	struct run r;
	P = &providers[_i];
	run_against(&r, "{'a': [{'text': 'Counted?', 'usage': {'input': 1e300, 'output': -5}}]}",
		    "{'id': 'alice', 'profile': {'model': 'a'}}", "");
	const cJSON *res = result_of(&r, "alice");
	ck_assert_str_eq(str(res, "status"), "ok");
	ck_assert_str_eq(str(res, "response"), "Counted?");
	ck_assert_ptr_null(at(res, "usage"));
	run_free(&r);
}
END_TEST

START_TEST(test_requests_of_several_members_are_in_flight_at_once)
{
	struct run r;
	P = &providers[_i];
	/* The fixture answers each only once all three wait at the barrier:
	 * requests made one after another would each time out there. */
	run_against(&r, "{'a': [{'barrier': {'name': 'all', 'count': 3}, 'text': 'A'}],"
		    " 'b': [{'barrier': {'name': 'all', 'count': 3}, 'text': 'B'}],"
		    " 'c': [{'barrier': {'name': 'all', 'count': 3}, 'text': 'C'}]}",
		    "{'id': 'a', 'retry': {'max': 1}, 'profile': {'model': 'a'}},"
		    "{'id': 'b', 'retry': {'max': 1}, 'profile': {'model': 'b'}},"
		    "{'id': 'c', 'retry': {'max': 1}, 'profile': {'model': 'c'}}", "");
	ck_assert_str_eq(str(result_of(&r, "a"), "response"), "A");
	ck_assert_str_eq(str(result_of(&r, "b"), "response"), "B");
	ck_assert_str_eq(str(result_of(&r, "c"), "response"), "C");
	run_free(&r);
}
END_TEST

/* ---- errors and retries ---- */

START_TEST(test_server_errors_use_up_every_attempt)
{
	struct run r;
	P = &providers[_i];
	run_against(&r, "{'a': [{'status': 500, 'error': 'upstream on fire'},"
		    " {'status': 503, 'error': 'upstream on fire'},"
		    " {'status': 502, 'error': 'upstream on fire'}]}",
		    "{'id': 'a', 'retry': {'max': 3, 'base_ms': 10},"
		    " 'profile': {'model': 'a'}}", "");
	const cJSON *res = result_of(&r, "a");
	ck_assert_str_eq(str(res, "status"), "error");
	assert_failed(res, "transient", "HTTP 502: upstream on fire", 3);
	ck_assert_int_eq(count_requests(&r, "a"), 3);
	run_free(&r);
}
END_TEST

START_TEST(test_client_error_is_permanent)
{
	struct run r;
	P = &providers[_i];
	run_against(&r, "{'a': [{'status': 404, 'error': 'The model a does not exist'}]}",
		    "{'id': 'a', 'retry': {'max': 3, 'base_ms': 10},"
		    " 'profile': {'model': 'a'}}", "");
	const cJSON *res = result_of(&r, "a");
	assert_failed(res, "permanent", "HTTP 404: The model a does not exist", 1);
	run_free(&r);
}
END_TEST

/* The wait Retry-After asks for is seen in the order of requests, not in
 * time: b fails twice with a 10 ms backoff while a, told to come back in
 * 3 s (after the same 10 ms base), waits; a's retry comes after all of
 * b's. */
START_TEST(test_429_is_retried_after_the_wait_retry_after_asks_for)
{
	struct run r;
	P = &providers[_i];
	run_against(&r, "{'a': [{'status': 429, 'error': 'slow down', 'headers': {'Retry-After': '3'}},"
		    "       {'text': 'A at last'}],"
		    " 'b': [{'status': 500}, {'status': 500}, {'text': 'B'}]}",
		    "{'id': 'a', 'retry': {'max': 2, 'base_ms': 10}, 'profile': {'model': 'a'}},"
		    "{'id': 'b', 'retry': {'max': 3, 'base_ms': 10}, 'profile': {'model': 'b'}}",
		    "");
	ck_assert_str_eq(str(result_of(&r, "a"), "response"), "A at last");
	ck_assert_int_eq(num(result_of(&r, "a"), "attempts"), 2);
	ck_assert_int_eq(num(result_of(&r, "b"), "attempts"), 3);
	ck_assert_msg(arrival(&r, "a", 1) > arrival(&r, "b", 2),
		      "a retried (request %d) before b's last attempt (request %d)",
		      arrival(&r, "a", 1), arrival(&r, "b", 2));
	run_free(&r);
}
END_TEST

START_TEST(test_retry_after_past_the_backoff_cap_ends_the_turn)
{
	struct run r;
	P = &providers[_i];
	run_against(&r, "{'a': [{'status': 429, 'error': 'quota', 'headers': {'Retry-After': '120'}},"
		    "       {'text': 'too late'}]}",
		    "{'id': 'a', 'retry': {'max': 3, 'base_ms': 10},"
		    " 'profile': {'model': 'a'}}", "");
	const cJSON *res = result_of(&r, "a");
	assert_failed(res, "transient", "HTTP 429: quota (retry after 120000 ms)", 1);
	ck_assert_int_eq(count_requests(&r, "a"), 1);
	run_free(&r);
}
END_TEST

START_TEST(test_malformed_json_is_invalid_output)
{
	struct run r;
	P = &providers[_i];
	run_against(&r, "{'a': [{'malformed': true}], 'b': [{'malformed': true}]}",
		    "{'id': 'a', 'retry': {'max': 3}, 'profile': {'model': 'a'}},"
		    "{'id': 'b', 'stream': false, 'retry': {'max': 3},"
		    " 'profile': {'model': 'b'}}", "");
	ck_assert_str_eq(str(result_of(&r, "a"), "status"), "invalid_output");
	ck_assert(contains(error_message(result_of(&r, "a")), "a streamed event is not JSON"));
	ck_assert_str_eq(str(result_of(&r, "b"), "status"), "invalid_output");
	ck_assert_str_eq(error_message(result_of(&r, "b")), "the response is not JSON");
	ck_assert_int_eq(num(result_of(&r, "a"), "attempts"), 1);
	ck_assert_int_eq(num(result_of(&r, "b"), "attempts"), 1);
	run_free(&r);
}
END_TEST

/* Cut mid-body, or ended without the API's end marker: both transient. */
START_TEST(test_stream_cut_short_is_retried)
{
	struct run r;
	P = &providers[_i];
	run_against(&r, "{'a': [{'text': 'one two three four', 'drop_after': 2}, {'text': 'whole'}],"
		    " 'b': [{'text': 'one two', 'truncate': true}, {'text': 'whole'}]}",
		    "{'id': 'a', 'retry': {'max': 2, 'base_ms': 10}, 'profile': {'model': 'a'}},"
		    "{'id': 'b', 'retry': {'max': 2, 'base_ms': 10}, 'profile': {'model': 'b'}}",
		    "");
	for (const char *m = "a"; m; m = strcmp(m, "a") ? NULL : "b") {
		ck_assert_str_eq(str(result_of(&r, m), "response"), "whole");
		ck_assert_int_eq(num(result_of(&r, m), "attempts"), 2);
	}
	ck_assert_int_eq(count_requests(&r, "a"), 2);
	run_free(&r);
}
END_TEST

START_TEST(test_stalled_stream_times_out_and_is_retried)
{
	struct run r;
	P = &providers[_i];
	run_against(&r, "{'a': [{'text': 'never mind', 'stall_ms': 4000}, {'text': 'fresh'}]}",
		    "{'id': 'a', 'retry': {'max': 2, 'base_ms': 10},"
		    " 'profile': {'model': 'a', 'idle_timeout_ms': 1000}}", "");
	const cJSON *res = result_of(&r, "a");
	ck_assert_str_eq(str(res, "response"), "fresh");
	ck_assert_int_eq(num(res, "attempts"), 2);
	run_free(&r);
}
END_TEST

START_TEST(test_error_event_in_the_stream_is_classified)
{
	struct run r;
	P = &providers[_i];
	run_against(&r, "{'a': [{'text': 'x', 'stream_error': {'type': 'overloaded_error',"
		    "                                         'message': 'Overloaded'}},"
		    "       {'text': 'recovered'}],"
		    " 'b': [{'text': 'x', 'stream_error': {'type': 'invalid_request_error',"
		    "                                         'message': 'prompt too long'}}]}",
		    "{'id': 'a', 'retry': {'max': 2, 'base_ms': 10}, 'profile': {'model': 'a'}},"
		    "{'id': 'b', 'retry': {'max': 2, 'base_ms': 10}, 'profile': {'model': 'b'}}",
		    "");
	ck_assert_str_eq(str(result_of(&r, "a"), "response"), "recovered");
	ck_assert_int_eq(num(result_of(&r, "a"), "attempts"), 2);
	ck_assert_str_eq(error_kind(result_of(&r, "b")), "permanent");
	ck_assert_str_eq(error_message(result_of(&r, "b")),
			 "the server sent an error: prompt too long");
	run_free(&r);
}
END_TEST

START_TEST(test_connection_refused_is_transient)
{
	struct run r;
	P = &providers[_i];
	fixture_start("{}");
	/* A port nothing listens on: bound, then closed. */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sa;
	ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(getsockname(s, (struct sockaddr *)&sa, &len), 0);
	close(s);
	char *members = th_json_text("{'id': 'a', 'retry': {'max': 2, 'base_ms': 10},"
				  " 'profile': {'base_url': 'http://127.0.0.1:%d/v1'}}",
				  ntohs(sa.sin_port));
	run_council(&r, council(members, ""));
	free(members);
	const cJSON *res = result_of(&r, "a");
	ck_assert_str_eq(error_kind(res), "transient");
	ck_assert_int_eq(num(res, "attempts"), 2);
	ck_assert_msg(contains(error_message(res), "POST http://127.0.0.1:"), "%s",
		      error_message(res));
	run_free(&r);
}
END_TEST

/* ---- the key ---- */

START_TEST(test_unset_key_variable_fails_without_a_request)
{
	struct run r;
	P = &providers[_i];
	run_against(&r, "{'a': [{'text': 'unreachable'}]}",
		    "{'id': 'a', 'retry': {'max': 3, 'base_ms': 10},"
		    " 'profile': {'model': 'a', 'api_key_env': 'NO_SUCH_KEY_VAR'}}", "");
	const cJSON *res = result_of(&r, "a");
	assert_failed(res, "permanent",
		      "the environment variable NO_SUCH_KEY_VAR (api_key_env) is not set", 1);
	ck_assert_int_eq(count_requests(&r, "a"), 0);
	run_free(&r);
}
END_TEST

START_TEST(test_key_quoted_by_the_server_is_redacted)
{
	struct run r;
	P = &providers[_i];
	run_against(&r, "{'a': [{'status': 401, 'error': 'Incorrect API key provided: {key}.'}]}",
		    "{'id': 'a', 'profile': {'model': 'a'}}", "");
	ck_assert_str_eq(error_message(result_of(&r, "a")),
			 "HTTP 401: Incorrect API key provided: [redacted].");
	run_free(&r);
}
END_TEST

/* ---- tools ---- */

/* A tool that answers only once its peer has started: two calls of it
 * succeed together only if they run at the same time. Its arguments are
 * {"me", "peer"}; it says whether it could see the member's key. */
static const char rendezvous_tool[] =
	"read -r args\n"
	"me=$(printf '%s' \"$args\" | sed 's/.*\"me\": *\"\\([a-z]*\\)\".*/\\1/')\n"
	"peer=$(printf '%s' \"$args\" | sed 's/.*\"peer\": *\"\\([a-z]*\\)\".*/\\1/')\n"
	"touch \"$DIR/$me\"\n"
	"i=0\n"
	"while [ ! -e \"$DIR/$peer\" ]; do\n"
	"  i=$((i + 1)); [ $i -lt 400 ] || { echo \"no $peer\" >&2; exit 3; }\n"
	"  sleep 0.05\n"
	"done\n"
	"echo \"$me met $peer, key ${" KEY_VAR ":-unseen}\"\n";

/* The spec's "tools": meet (rendezvous_tool) and nap (sleeps). */
static char *tools(int timeout_ms)
{
	char *script = work_path("meet.sh");
	th_write_file(script, rendezvous_tool);
	char *extra = th_json_text(
		", 'tool_timeout_ms': %d, 'tools': ["
		"{'name': 'meet', 'description': 'Meets a peer.', 'command': ['env', 'DIR=%s', 'sh', '%s'],"
		" 'parameters': {'type': 'object', 'properties': {'me': {'type': 'string'},"
		"                'peer': {'type': 'string'}}, 'required': ['me', 'peer']}},"
		"{'name': 'nap', 'command': ['sleep', '30']}]",
		timeout_ms, work, script);
	free(script);
	return extra;
}

/* run_against(), with tools() at tool_timeout_ms. */
static void run_with_tools(struct run *r, const char *script, const char *members,
			   int tool_timeout_ms)
{
	char *extra = tools(tool_timeout_ms);
	run_against(r, script, members, extra);
	free(extra);
}

/* The tool results the n-th request for model carried back, whatever the
 * API's shape: {call id: content}. */
static cJSON *tool_results(const struct run *r, const char *model, int n)
{
	cJSON *out = cJSON_CreateObject();
	const cJSON *m, *block;
	cJSON_ArrayForEach(m, at(body_of(request(r, model, n)), "messages")) {
		if (same(str(m, "role"), "tool"))
			cJSON_AddStringToObject(out, str(m, "tool_call_id"), str(m, "content"));
		cJSON_ArrayForEach(block, at(m, "content"))
			if (same(str(block, "type"), "tool_result"))
				cJSON_AddStringToObject(out, str(block, "tool_use_id"),
							str(block, "content"));
	}
	return out;
}

START_TEST(test_parallel_tool_calls_run_together_and_the_answer_follows)
{
	struct run r;
	P = &providers[_i];
	run_with_tools(&r, "{'a': [{'text': 'Let me check.', 'tool_calls': ["
		       "  {'id': 'call_1', 'name': 'meet', 'arguments': {'me': 'ann', 'peer': 'ben'}},"
		       "  {'id': 'call_2', 'name': 'meet', 'arguments': {'me': 'ben', 'peer': 'ann'}}],"
		       "  'usage': {'input': 20, 'output': 10}},"
		       " {'text': 'They met.', 'usage': {'input': 40, 'output': 3}}]}",
		       "{'id': 'a', 'profile': {'model': 'a', 'tools': ['meet']}}", 20000);

	const cJSON *res = result_of(&r, "a");
	ck_assert_str_eq(str(res, "status"), "ok");
	ck_assert_str_eq(str(res, "response"), "They met.");
	ck_assert_int_eq(num(res, "attempts"), 1);
	ck_assert_int_eq(num(at(res, "usage"), "input_tokens"), 60);
	ck_assert_int_eq(num(at(res, "usage"), "output_tokens"), 13);

	/* Each call: a request event, then its result, before the member ends. */
	const char *ids[] = { "call_1", "call_2" }, *said[] = { "ann met ben, key unseen",
							       "ben met ann, key unseen" };
	ck_assert_int_eq(count_events(&r, "tool_call_request", "a"), 2);
	ck_assert_int_eq(count_events(&r, "tool_call_result", "a"), 2);
	for (int k = 0; k < 2; k++) {
		const cJSON *ask = event(&r, "tool_call_request", "a", k);
		ck_assert_str_eq(str(ask, "id"), ids[k]);
		ck_assert_str_eq(str(ask, "name"), "meet");
		ck_assert_str_eq(str(ask, "round"), "independent_analysis");
		ck_assert_str_eq(str(at(ask, "arguments"), "me"), k ? "ben" : "ann");
		int j = 0;
		while (strcmp(str(event(&r, "tool_call_result", "a", j), "id"), ids[k]))
			j++;
		const cJSON *got = event(&r, "tool_call_result", "a", j);
		ck_assert_str_eq(str(got, "result"), said[k]);
		ck_assert(cJSON_IsNull(at(got, "error")));
		ck_assert_int_lt(nth_event(&r, "tool_call_request", "a", k),
				 nth_event(&r, "tool_call_result", "a", j));
		ck_assert_int_lt(nth_event(&r, "tool_call_result", "a", j),
				 nth_event(&r, "member_completed", "a", 0));
	}

	/* The first request offered the tool; the second carried the results. */
	const cJSON *offered = cJSON_GetArrayItem(at(body_of(request(&r, "a", 0)), "tools"), 0);
	const cJSON *fn = at(offered, "function") ? at(offered, "function") : offered;
	ck_assert_str_eq(str(fn, "name"), "meet");
	ck_assert_str_eq(str(fn, "description"), "Meets a peer.");
	ck_assert_ptr_nonnull(at(fn, "parameters") ? at(fn, "parameters") : at(fn, "input_schema"));
	cJSON *results = tool_results(&r, "a", 1);
	ck_assert_str_eq(str(results, "call_1"), said[0]);
	ck_assert_str_eq(str(results, "call_2"), said[1]);
	cJSON_Delete(results);
	run_free(&r);
}
END_TEST

/* Ollama streams each call whole, without "index": the calls are told
 * apart by their ids (openai only). */
START_TEST(test_tool_calls_streamed_without_index_are_told_apart)
{
	struct run r;
	P = &providers[_i];
	run_with_tools(&r, "{'a': [{'whole_calls': true, 'tool_calls': ["
		       "  {'id': 'call_1', 'name': 'meet', 'arguments': {'me': 'ann', 'peer': 'ann'}},"
		       "  {'id': 'call_2', 'name': 'meet', 'arguments': {'me': 'ben', 'peer': 'ben'}}]},"
		       " {'text': 'Both.'}]}",
		       "{'id': 'a', 'profile': {'model': 'a', 'tools': ['meet']}}", 20000);
	ck_assert_str_eq(str(result_of(&r, "a"), "response"), "Both.");
	cJSON *results = tool_results(&r, "a", 1);
	ck_assert_str_eq(str(results, "call_1"), "ann met ann, key unseen");
	ck_assert_str_eq(str(results, "call_2"), "ben met ben, key unseen");
	cJSON_Delete(results);
	run_free(&r);
}
END_TEST

START_TEST(test_tool_past_its_timeout_is_killed_and_the_model_told)
{
	struct run r;
	P = &providers[_i];
	run_with_tools(&r, "{'a': [{'tool_calls': [{'id': 't1', 'name': 'nap', 'arguments': {}}]},"
		       "       {'text': 'Gave up on it.'}]}",
		       "{'id': 'a', 'profile': {'model': 'a', 'tools': ['nap']}}", 300);
	ck_assert_str_eq(str(result_of(&r, "a"), "response"), "Gave up on it.");
	const cJSON *got = event(&r, "tool_call_result", "a", 0);
	ck_assert(cJSON_IsNull(at(got, "result")));
	ck_assert_str_eq(str(got, "error"), "timed out after 300 ms");
	cJSON *results = tool_results(&r, "a", 1);
	ck_assert(contains(str(results, "t1"), "timed out after 300 ms"));
	cJSON_Delete(results);
	run_free(&r);
}
END_TEST

START_TEST(test_call_of_a_tool_not_offered_gets_an_error_result)
{
	struct run r;
	P = &providers[_i];
	run_with_tools(&r, "{'a': [{'tool_calls': [{'id': 't1', 'name': 'nap', 'arguments': {}}]},"
		       "       {'text': 'Fine.'}]}",
		       "{'id': 'a', 'profile': {'model': 'a', 'tools': ['meet']}}", 300);
	ck_assert_str_eq(str(result_of(&r, "a"), "response"), "Fine.");
	ck_assert_str_eq(str(event(&r, "tool_call_result", "a", 0), "error"),
			 "no tool named \"nap\" is offered to this member");
	run_free(&r);
}
END_TEST

/* councilctl run's plain timeline names each tool call and counts them. */
START_TEST(test_councilctl_shows_the_tool_calls)
{
	P = &providers[_i];
	fixture_start("{'a': [{'tool_calls': [{'id': 't1', 'name': 'nap', 'arguments': {}}]},"
		      "       {'text': 'Fine.'}]}");
	char *extra = tools(300);
	char *spec = council("{'id': 'a', 'profile': {'model': 'a', 'tools': ['nap']}}", extra);
	char *spec_path = work_path("tools.json"), *err_path = work_path("stderr");
	free(extra);
	th_write_file(spec_path, spec);
	free(spec);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int null = open("/dev/null", O_WRONLY);
		if (fd < 0 || null < 0 || dup2(fd, 2) < 0 || dup2(null, 1) < 0)
			_exit(126);
		execl(getenv("COUNCILCTL"), "councilctl", "run", spec_path, "--runtime-dir", scratch,
		      (char *)NULL);
		_exit(127);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	char *shown = th_read_file(err_path, NULL);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "councilctl run: %#x:\n%s",
		      status, shown);
	ck_assert_msg(contains(shown, "a calls tool nap") && contains(shown, " 1 tool call "),
		      "the timeline does not show the tool call:\n%s", shown);
	free(shown);
	free(spec_path);
	free(err_path);
}
END_TEST

START_TEST(test_tool_loop_stops_at_max_tool_turns)
{
	struct run r;
	P = &providers[_i];
	run_with_tools(&r, "{'a': [{'tool_calls': [{'id': 't1', 'name': 'nope', 'arguments': {}}]},"
		       "       {'tool_calls': [{'id': 't2', 'name': 'nope', 'arguments': {}}]},"
		       "       {'text': 'never asked'}]}",
		       "{'id': 'a', 'retry': {'max': 1},"
		       " 'profile': {'model': 'a', 'tools': ['meet'], 'max_tool_turns': 1}}", 300);
	assert_failed(result_of(&r, "a"), "permanent",
		      "the model still asked for tools after 1 tool turns (max_tool_turns)", 1);
	ck_assert_int_eq(count_requests(&r, "a"), 2);
	run_free(&r);
}
END_TEST

START_TEST(test_member_timeout_kills_its_running_tools)
{
	struct run r;
	P = &providers[_i];
	run_with_tools(&r, "{'a': [{'tool_calls': [{'id': 't1', 'name': 'nap', 'arguments': {}}]}]}",
		       "{'id': 'a', 'timeout_ms': 500, 'retry': {'max': 1},"
		       " 'profile': {'model': 'a', 'tools': ['nap']}}", 30000);
	const cJSON *res = result_of(&r, "a");
	ck_assert_str_eq(str(res, "status"), "timeout");
	ck_assert_str_eq(str(event(&r, "tool_call_result", "a", 0), "error"), "aborted");
	run_free(&r);
}
END_TEST

/* ---- the worker's memory ---- */

/* A worker that streamed, called a tool and answered frees all it made,
 * libcurl's state included: run here in a child that exits with exit(),
 * so that under LeakSanitizer any leak fails its exit status (23). */
START_TEST(test_a_worker_that_used_http_and_tools_frees_it_all)
{
	P = &providers[_i];
	char *extra = tools(20000);
	fixture_start("{'a': [{'tool_calls': [{'id': 't1', 'name': 'meet',"
		      "                         'arguments': {'me': 'ann', 'peer': 'ann'}}]},"
		      "       {'text': 'done', 'usage': {'input': 1, 'output': 1}}]}");
	char *text = council("{'id': 'a', 'profile': {'model': 'a', 'tools': ['meet']}}", extra);
	struct cx_spec *spec = NULL;
	ck_assert_int_eq(cx_spec_parse(text, strlen(text), &spec, NULL), CX_OK);
	free(extra);
	free(text);
	int ev[2];
	ck_assert_int_eq(pipe2(ev, O_CLOEXEC), 0);
	fflush(NULL);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(ev[0]);
		struct cx_run_params params = {
			.spec = spec, .run_id = "leak-check", .event_fd = ev[1], .control_fd = -1,
		};
		int rc = cx_runner_main(&params);
		cx_spec_free(spec);
		close(ev[1]);
		exit(rc);
	}
	close(ev[1]);
	cx_spec_free(spec);
	char *events = NULL;
	size_t len;
	FILE *f = open_memstream(&events, &len);
	char chunk[4096];
	ssize_t n;
	while ((n = read(ev[0], chunk, sizeof chunk)) > 0)
		fwrite(chunk, 1, (size_t)n, f);
	fclose(f);
	close(ev[0]);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == CX_EXIT_COMPLETED,
		      "the worker ended with status 0x%x (under the sanitizers: a leak report)", status);
	ck_assert_msg(strstr(events, "\"type\":\"tool_call_result\"") &&
		      strstr(events, "\"type\":\"run_completed\""), "events: %s", events);
	free(events);
}
END_TEST

static Suite *providers_suite(void)
{
	Suite *s = suite_create("providers");
	TCase *answers = tcase_create("answers");
	TCase *errors = tcase_create("errors");
	TCase *tool = tcase_create("tools");
	TCase *all[] = { answers, errors, tool };
	int n = (int)(sizeof providers / sizeof providers[0]);

	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		tcase_add_checked_fixture(all[i], setup, teardown);
		tcase_set_timeout(all[i], 120);
		suite_add_tcase(s, all[i]);
	}
	tcase_add_loop_test(answers, test_streamed_answer_arrives_as_tokens_with_usage, 0, n);
	tcase_add_loop_test(answers, test_non_streaming_member_gets_one_body, 0, n);
	tcase_add_loop_test(answers, test_usage_out_of_range_is_not_counted, 0, n);
	tcase_add_loop_test(answers, test_requests_of_several_members_are_in_flight_at_once, 0, n);
	tcase_add_loop_test(errors, test_server_errors_use_up_every_attempt, 0, n);
	tcase_add_loop_test(errors, test_client_error_is_permanent, 0, n);
	tcase_add_loop_test(errors, test_429_is_retried_after_the_wait_retry_after_asks_for, 0, n);
	tcase_add_loop_test(errors, test_retry_after_past_the_backoff_cap_ends_the_turn, 0, n);
	tcase_add_loop_test(errors, test_malformed_json_is_invalid_output, 0, n);
	tcase_add_loop_test(errors, test_stream_cut_short_is_retried, 0, n);
	tcase_add_loop_test(errors, test_stalled_stream_times_out_and_is_retried, 0, n);
	tcase_add_loop_test(errors, test_error_event_in_the_stream_is_classified, 0, n);
	tcase_add_loop_test(errors, test_connection_refused_is_transient, 0, n);
	tcase_add_loop_test(errors, test_unset_key_variable_fails_without_a_request, 0, n);
	tcase_add_loop_test(errors, test_key_quoted_by_the_server_is_redacted, 0, n);
	tcase_add_loop_test(tool, test_parallel_tool_calls_run_together_and_the_answer_follows, 0, n);
	tcase_add_loop_test(tool, test_tool_calls_streamed_without_index_are_told_apart, 0, 1);
	tcase_add_loop_test(tool, test_tool_past_its_timeout_is_killed_and_the_model_told, 0, n);
	tcase_add_loop_test(tool, test_call_of_a_tool_not_offered_gets_an_error_result, 0, n);
	tcase_add_loop_test(tool, test_tool_loop_stops_at_max_tool_turns, 0, n);
	tcase_add_loop_test(tool, test_councilctl_shows_the_tool_calls, 0, n);
	tcase_add_loop_test(tool, test_member_timeout_kills_its_running_tools, 0, n);
	tcase_add_loop_test(tool, test_a_worker_that_used_http_and_tools_frees_it_all, 0, n);
	return s;
}

int main(void)
{
	return th_run_suite(providers_suite());
}
