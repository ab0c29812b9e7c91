/* The embedded supervisor: fork-per-run, registry, relay, status files, and
 * one terminal event per run whatever happens to its worker. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "council/council.h"
#include "harness.h"

#define DEADLINE_MS 20000

static char *scratch;
static struct cx_sup *sup;

static void open_sup(void)
{
	struct cx_error err = { 0 };
	struct cx_sup_options opts = { .runtime_dir = scratch, .tenant = "t1", .shutdown_ms = 2000 };
	ck_assert_msg(cx_sup_new(&opts, &sup, &err) == CX_OK, "cx_sup_new: %s", err.message);
}

static void setup(void)
{
	struct rlimit no_core = { 0, 0 };
	setrlimit(RLIMIT_CORE, &no_core); /* the crash tests dump no core */
	scratch = th_scratch_dir();
	open_sup();
}

static void teardown(void)
{
	cx_sup_free(sup);
	sup = NULL;
	ck_assert_msg(th_no_descendants(5000), "processes were left behind");
	th_rm_rf(scratch);
	free(scratch);
}

/* One mock member; `profile` is spliced into its profile object. */
static char *council(const char *profile, int timeout_ms)
{
	char *s;
	if (asprintf(&s, "{\"id\":\"c1\",\"members\":[{\"id\":\"m1\",\"timeout_ms\":%d,"
		     "\"profile\":{\"provider\":\"mock\"%s%s}},{\"id\":\"m2\",\"profile\":"
		     "{\"provider\":\"mock\"}}],\"rounds\":[{\"type\":\"independent_analysis\"},"
		     "{\"type\":\"peer_review\"}]}", timeout_ms, *profile ? "," : "", profile) < 0)
		abort();
	return s;
}

static int start(const char *profile, char id[CX_RUN_ID_MAX + 1], int *sub)
{
	char *spec = council(profile, 60000);
	struct cx_start req = { .spec_json = spec, .input_json = "{\"question\":\"why?\"}",
				.subscribe = sub != NULL };
	struct cx_error err = { 0 };
	struct cx_diags diags = { 0 };
	int r = cx_sup_start(sup, &req, id, sub, &diags, &err);
	ck_assert_msg(r == CX_OK, "cx_sup_start: %s (%s)", err.message,
		      diags.n ? diags.v[0].message : "");
	cx_diags_free(&diags);
	free(spec);
	return r;
}

/* Reads a subscriber pipe to EOF while driving the supervisor. */
static char *follow(int fd)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	uint64_t deadline = cx_mono_ms() + DEADLINE_MS;
	for (;;) {
		ck_assert_msg(cx_mono_ms() < deadline, "awaited EOF on the subscriber pipe");
		struct pollfd p[2] = { { cx_sup_fd(sup), POLLIN, 0 }, { fd, POLLIN, 0 } };
		poll(p, 2, 100);
		if (p[0].revents)
			cx_sup_dispatch(sup, 0);
		if (!p[1].revents)
			continue;
		if (cap - len < 4096)
			buf = realloc(buf, cap *= 2);
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

struct final_wait { const char *id; };

static bool is_final(void *arg)
{
	struct cx_run_summary s;
	cx_sup_dispatch(sup, 10);
	return cx_sup_state(sup, arg, &s) == CX_OK && cx_run_status_final(s.status) &&
	       strcmp(s.exit, "-") != 0;
}

static void await_final(const char *id)
{
	ck_assert_msg(th_wait_until(is_final, (void *)id, DEADLINE_MS),
		      "awaited a final status with an exit for run %s", id);
}

static char *run_file(const char *id, const char *name)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/runs/%s/%s", scratch, id, name);
	return th_read_file(path, NULL);
}

/* Drives the supervisor until the run reaches status (by dispatching, or by
 * polling cx_sup_fd() alone when poll_only). */
static void await_status(const char *id, enum cx_run_status status, bool poll_only,
			 struct cx_run_summary *s)
{
	uint64_t deadline = cx_mono_ms() + DEADLINE_MS;
	for (;;) {
		ck_assert_int_eq(cx_sup_state(sup, id, s), CX_OK);
		if (s->status == status)
			return;
		ck_assert_msg(cx_mono_ms() < deadline, "awaited run %s to be %s", id,
			      cx_run_status_name(status));
		struct pollfd p = { cx_sup_fd(sup), POLLIN, 0 };
		if (poll_only)
			ck_assert_msg(poll(&p, 1, DEADLINE_MS) == 1, "awaited the supervisor's fd");
		cx_sup_dispatch(sup, poll_only ? 0 : 50);
	}
}

/* Checks seq 1..N without gaps, exactly one terminal event, last. Returns it. */
static cJSON *check_events(const char *text, const char *what)
{
	cJSON *terminal = NULL;
	uint64_t seq = 0;
	for (const char *line = text; *line;) {
		const char *nl = strchr(line, '\n');
		ck_assert_msg(nl, "%s: a line without newline", what);
		cJSON *ev = cJSON_ParseWithLength(line, (size_t)(nl - line));
		ck_assert_msg(ev, "%s: line is not JSON: %.*s", what, (int)(nl - line), line);
		const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "type"));
		ck_assert_msg(!terminal, "%s: event %s after the terminal event", what, type);
		ck_assert_msg((uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(ev, "seq")) == ++seq,
			      "%s: expected seq %llu in %.*s", what, (unsigned long long)seq,
			      (int)(nl - line), line);
		if (!strcmp(type, "run_completed") || !strcmp(type, "run_failed"))
			terminal = ev;
		else
			cJSON_Delete(ev);
		line = nl + 1;
	}
	ck_assert_msg(terminal, "%s: no terminal event in %llu events", what, (unsigned long long)seq);
	return terminal;
}

static const char *error_kind(const cJSON *terminal)
{
	const cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(terminal, "errors"), 0);
	return cJSON_GetStringValue(cJSON_GetObjectItem(e, "kind"));
}

static bool has_line(const char *text, const char *key, const char *value)
{
	char want[256];
	snprintf(want, sizeof want, "%s:\t%s\n", key, value);
	return strstr(text, want) != NULL;
}

START_TEST(test_completed_run_leaves_final_status_events_and_result)
{
	char id[CX_RUN_ID_MAX + 1];
	int sub;
	start("", id, &sub);
	char *seen = follow(sub);
	await_final(id);
	char *events = run_file(id, "events"), *status = run_file(id, "status");
	char *summary = run_file(id, "summary.json"), *result = run_file(id, "result.json");
	ck_assert_msg(events && status && summary && result, "run directory files missing");
	ck_assert_str_eq(seen, events);
	cJSON *terminal = check_events(events, "events file");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(terminal, "type")), "run_completed");
	ck_assert_msg(has_line(status, "Status", "completed"), "status: %s", status);
	ck_assert_msg(has_line(status, "Exit", "exited 0"), "status: %s", status);
	ck_assert_msg(has_line(status, "RoundsCompleted", "2"), "status: %s", status);
	ck_assert_msg(has_line(status, "Tenant", "t1") && has_line(status, "Council", "c1"),
		      "status: %s", status);
	ck_assert_msg(strstr(status, "RunId:\t") == status, "status must begin with RunId: %s", status);
	cJSON *s = cJSON_Parse(summary);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(s, "status")), "completed");
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(s, "current_round")));
	ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(s, "rounds_completed")), 2);
	cJSON *r = cJSON_Parse(result);
	ck_assert_msg(cJSON_IsObject(r), "result.json is not an object: %s", result);
	cJSON_Delete(r);
	cJSON_Delete(s);
	cJSON_Delete(terminal);
	free(seen); free(events); free(status); free(summary); free(result);
}
END_TEST

START_TEST(test_status_shows_the_round_in_flight)
{
	char id[CX_RUN_ID_MAX + 1];
	start("\"latency_ms\":60000", id, NULL);
	struct cx_run_summary s;
	uint64_t deadline = cx_mono_ms() + DEADLINE_MS;
	do {
		cx_sup_dispatch(sup, 50);
		ck_assert_int_eq(cx_sup_state(sup, id, &s), CX_OK);
		ck_assert_msg(cx_mono_ms() < deadline, "awaited round 0 in flight");
	} while (s.round_idx != 0);
	char *status = run_file(id, "status");
	ck_assert_msg(has_line(status, "Status", "running"), "status: %s", status);
	ck_assert_msg(has_line(status, "Round", "independent_analysis 0"), "status: %s", status);
	ck_assert_msg(has_line(status, "FinishedAt", "-") && has_line(status, "Exit", "-"),
		      "status: %s", status);
	char pid[32];
	snprintf(pid, sizeof pid, "%d", (int)s.pid);
	ck_assert_msg(has_line(status, "Pid", pid), "status: %s", status);
	free(status);
	pid_t got;
	ck_assert_int_eq(cx_sup_pid_for(sup, id, &got), CX_OK);
	ck_assert_int_eq(got, s.pid);
	char back[CX_RUN_ID_MAX + 1];
	ck_assert_int_eq(cx_sup_run_id(sup, got, back), CX_OK);
	ck_assert_str_eq(back, id);
	char title[256];
	snprintf(title, sizeof title, "/proc/%d/cmdline", (int)got);
	char *cmdline = th_read_file(title, NULL);
	ck_assert_msg(cmdline && strstr(cmdline, "council-run") && strstr(cmdline, id),
		      "process title should name the run: %s", cmdline ? cmdline : "(none)");
	free(cmdline);
}
END_TEST

static void check_death(const char *profile, int sig, const char *kind, const char *exit)
{
	char id[CX_RUN_ID_MAX + 1];
	int sub;
	start(profile, id, &sub);
	if (sig) {
		struct cx_run_summary s;
		await_status(id, CX_RUN_RUNNING, false, &s);
		kill(s.pid, sig);
	}
	char *seen = follow(sub);
	await_final(id);
	char *events = run_file(id, "events"), *status = run_file(id, "status");
	cJSON *terminal = check_events(events, "events file");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(terminal, "type")), "run_failed");
	ck_assert_str_eq(error_kind(terminal), kind);
	ck_assert_msg(has_line(status, "Status", "failed"), "status: %s", status);
	ck_assert_msg(has_line(status, "Exit", exit), "status: %s", status);
	ck_assert_msg(!has_line(status, "FinishedAt", "-"), "status: %s", status);
	ck_assert_str_eq(seen, events);
	pid_t pid;
	ck_assert_int_eq(cx_sup_pid_for(sup, id, &pid), CX_ERUNNER_DEAD);
	cJSON_Delete(terminal);
	free(seen); free(events); free(status);
}

START_TEST(test_worker_sigkilled_ends_failed_killed)
{
	check_death("\"latency_ms\":60000", SIGKILL, "killed", "killed SIGKILL");
}
END_TEST

START_TEST(test_worker_segfault_ends_failed_crashed)
{
	check_death("\"latency_ms\":60000", SIGSEGV, "crashed", "killed SIGSEGV");
}
END_TEST

START_TEST(test_scripted_crash_ends_failed_crashed)
{
	check_death("\"fail\":\"crash\"", 0, "crashed", "killed SIGSEGV");
}
END_TEST

START_TEST(test_pid_for_unknown_run)
{
	pid_t pid;
	ck_assert_int_eq(cx_sup_pid_for(sup, "nope", &pid), CX_EUNKNOWN_RUN);
	struct cx_run_summary s;
	ck_assert_int_eq(cx_sup_state(sup, "nope", &s), CX_ENOT_FOUND);
	char *result = NULL;
	ck_assert_int_eq(cx_sup_fetch_result(sup, "nope", 10, &result, NULL), CX_ENOT_FOUND);
}
END_TEST

START_TEST(test_fetch_result_times_out_then_returns_the_result)
{
	char id[CX_RUN_ID_MAX + 1];
	start("\"latency_ms\":1500", id, NULL);
	char *result = NULL;
	struct cx_error err;
	ck_assert_int_eq(cx_sup_fetch_result(sup, id, 1, &result, &err), CX_ETIMEOUT);
	ck_assert_int_eq(cx_sup_fetch_result(sup, id, DEADLINE_MS, &result, &err), CX_OK);
	cJSON *r = cJSON_Parse(result);
	ck_assert_msg(r && cJSON_GetObjectItem(r, "rounds"), "result: %s", result);
	cJSON_Delete(r);
	free(result);
}
END_TEST

START_TEST(test_invalid_spec_forks_nothing)
{
	const char *bad = "{\"id\":\"c1\",\"members\":[],\"rounds\":[{\"type\":\"voet\"}]}";
	struct cx_start req = { .spec_json = bad };
	struct cx_diags diags = { 0 };
	char id[CX_RUN_ID_MAX + 1];
	ck_assert_int_eq(cx_sup_start(sup, &req, id, NULL, &diags, NULL), CX_EINVALID);
	ck_assert_msg(diags.n >= 2, "expected every problem reported, got %zu", diags.n);
	ck_assert_int_eq(cx_sup_live(sup), 0);
	pid_t pids[4];
	ck_assert_int_eq(th_descendants(pids, 4), 0);
	cx_diags_free(&diags);
}
END_TEST

START_TEST(test_run_id_is_unique_per_runtime_dir)
{
	char *spec = council("", 60000);
	struct cx_start req = { .spec_json = spec, .run_id = "mine-1" };
	char id[CX_RUN_ID_MAX + 1];
	ck_assert_int_eq(cx_sup_start(sup, &req, id, NULL, NULL, NULL), CX_OK);
	ck_assert_str_eq(id, "mine-1");
	ck_assert_int_eq(cx_sup_start(sup, &req, id, NULL, NULL, NULL), CX_EALREADY_STARTED);
	req.run_id = "../evil";
	ck_assert_int_eq(cx_sup_start(sup, &req, id, NULL, NULL, NULL), CX_EUSAGE);
	await_final("mine-1");
	free(spec);
}
END_TEST

START_TEST(test_generated_run_ids_sort_by_start)
{
	char a[CX_RUN_ID_GEN + 1], b[CX_RUN_ID_GEN + 1];
	cx_run_id_generate(a);
	usleep(2000);
	cx_run_id_generate(b);
	ck_assert_int_eq((int)strlen(a), CX_RUN_ID_GEN);
	ck_assert_msg(strcmp(a, b) < 0, "%s should sort before %s", a, b);
	ck_assert(cx_run_id_valid(a));
}
END_TEST

START_TEST(test_cancel_ends_the_run_cancelled)
{
	char id[CX_RUN_ID_MAX + 1];
	int sub;
	start("\"latency_ms\":300", id, &sub);
	ck_assert_int_eq(cx_sup_cancel(sup, id, NULL), CX_OK);
	char *seen = follow(sub);
	await_final(id);
	cJSON *terminal = check_events(seen, "subscriber");
	ck_assert_str_eq(error_kind(terminal), "cancelled");
	struct cx_run_summary s;
	cx_sup_state(sup, id, &s);
	ck_assert_str_eq(cx_run_status_name(s.status), "cancelled");
	ck_assert_str_eq(s.exit, "exited 3");
	cJSON_Delete(terminal);
	free(seen);
}
END_TEST

START_TEST(test_terminate_kills_a_hung_worker)
{
	char id[CX_RUN_ID_MAX + 1];
	int sub;
	start("\"fail\":\"hang\"", id, &sub);
	struct cx_run_summary s;
	await_status(id, CX_RUN_RUNNING, false, &s);
	ck_assert_int_eq(cx_sup_cancel(sup, id, NULL), CX_OK); /* ignored by a hung worker */
	ck_assert_int_eq(cx_sup_terminate(sup, id, NULL), CX_OK);
	char *seen = follow(sub);
	await_final(id);
	cJSON *terminal = check_events(seen, "subscriber");
	ck_assert_str_eq(error_kind(terminal), "killed");
	cJSON_Delete(terminal);
	free(seen);
}
END_TEST

/* A caller that only polls cx_sup_fd() still gets the supervisor's timers
 * run: here the SIGKILL due shutdown_ms after a SIGTERM the worker ignores. */
START_TEST(test_shutdown_ms_escalates_to_sigkill_for_a_poll_only_caller)
{
	char id[CX_RUN_ID_MAX + 1];
	int sub;
	start("\"fail\":\"hang\"", id, &sub);
	close(sub);
	struct cx_run_summary s;
	await_status(id, CX_RUN_RUNNING, true, &s);
	ck_assert_int_eq(cx_sup_terminate(sup, id, NULL), CX_OK);
	/* No terminal event of its own: the supervisor writes one when it reaps. */
	await_status(id, CX_RUN_FAILED, true, &s);
	ck_assert_str_eq(s.exit, "killed SIGKILL");
	ck_assert_str_eq(cx_run_status_name(s.status), "failed");
}
END_TEST

START_TEST(test_slow_subscriber_gets_lagged_and_the_file_stays_complete)
{
	char id[CX_RUN_ID_MAX + 1];
	int sub;
	/* Enough token events to overflow a pipe and the backlog several times. */
	start("\"words\":4096", id, &sub);
	await_final(id); /* nobody reads sub meanwhile */
	char *seen = follow(sub);
	char *events = run_file(id, "events");
	cJSON *terminal = check_events(events, "events file");
	ck_assert_msg(strstr(seen, "\"type\":\"lagged\""), "the slow subscriber got no lagged line");
	ck_assert_msg(strlen(seen) < strlen(events), "the slow subscriber lost nothing?");
	/* Replaying from the file gives everything. */
	int again;
	ck_assert_int_eq(cx_sup_subscribe(sup, id, 1, &again, NULL), CX_OK);
	char *replayed = follow(again);
	ck_assert_str_eq(replayed, events);
	cJSON_Delete(terminal);
	free(seen); free(events); free(replayed);
}
END_TEST

START_TEST(test_subscribe_since_replays_from_that_seq)
{
	char id[CX_RUN_ID_MAX + 1];
	start("", id, NULL);
	await_final(id);
	int sub;
	ck_assert_int_eq(cx_sup_subscribe(sup, id, 3, &sub, NULL), CX_OK);
	char *seen = follow(sub);
	cJSON *first = cJSON_ParseWithLength(seen, (size_t)(strchr(seen, '\n') - seen));
	ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(first, "seq")), 3);
	char *events = run_file(id, "events");
	const char *third = events;
	for (int i = 0; i < 2; i++)
		third = strchr(third, '\n') + 1;
	ck_assert_str_eq(seen, third);
	cJSON_Delete(first);
	free(seen); free(events);
}
END_TEST

START_TEST(test_tenant_link_points_at_the_run)
{
	char id[CX_RUN_ID_MAX + 1];
	start("", id, NULL);
	await_final(id);
	char path[4096];
	snprintf(path, sizeof path, "%s/tenants/t1/runs/%s/status", scratch, id);
	char *status = th_read_file(path, NULL);
	ck_assert_msg(status && has_line(status, "RunId", id), "tenant link broken: %s", path);
	free(status);
}
END_TEST

START_TEST(test_free_terminates_live_runs_and_finalizes_them)
{
	char id[CX_RUN_ID_MAX + 1];
	start("\"latency_ms\":60000", id, NULL);
	cx_sup_free(sup);
	sup = NULL;
	char *status = run_file(id, "status"), *events = run_file(id, "events");
	ck_assert_msg(has_line(status, "Status", "failed"), "status: %s", status);
	cJSON *terminal = check_events(events, "events file");
	ck_assert_str_eq(error_kind(terminal), "killed");
	cJSON_Delete(terminal);
	free(status); free(events);
	open_sup(); /* teardown frees a supervisor */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("supervisor");
	TCase *tc = tcase_create("embedded");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_completed_run_leaves_final_status_events_and_result);
	tcase_add_test(tc, test_status_shows_the_round_in_flight);
	tcase_add_test(tc, test_worker_sigkilled_ends_failed_killed);
	tcase_add_test(tc, test_worker_segfault_ends_failed_crashed);
	tcase_add_test(tc, test_scripted_crash_ends_failed_crashed);
	tcase_add_test(tc, test_pid_for_unknown_run);
	tcase_add_test(tc, test_fetch_result_times_out_then_returns_the_result);
	tcase_add_test(tc, test_invalid_spec_forks_nothing);
	tcase_add_test(tc, test_run_id_is_unique_per_runtime_dir);
	tcase_add_test(tc, test_generated_run_ids_sort_by_start);
	tcase_add_test(tc, test_cancel_ends_the_run_cancelled);
	tcase_add_test(tc, test_terminate_kills_a_hung_worker);
	tcase_add_test(tc, test_shutdown_ms_escalates_to_sigkill_for_a_poll_only_caller);
	tcase_add_test(tc, test_slow_subscriber_gets_lagged_and_the_file_stays_complete);
	tcase_add_test(tc, test_subscribe_since_replays_from_that_seq);
	tcase_add_test(tc, test_tenant_link_points_at_the_run);
	tcase_add_test(tc, test_free_terminates_live_runs_and_finalizes_them);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
