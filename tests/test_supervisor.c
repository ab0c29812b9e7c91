/* The embedded supervisor: fork-per-run, registry, relay, status files, and
 * one terminal event per run whatever happens to its worker. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "containment.h"
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

/* The worker is a zombie: exited, not yet reaped by its supervisor (which
 * is not dispatched meanwhile). */
static bool is_zombie(void *arg)
{
	siginfo_t info = { 0 };
	return waitid(P_PID, (id_t)(intptr_t)arg, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
	       info.si_pid != 0;
}

START_TEST(test_pid_for_a_dead_worker_not_yet_reaped_is_runner_dead)
{
	char id[CX_RUN_ID_MAX + 1];
	struct cx_run_summary s;
	pid_t pid;
	start("\"latency_ms\":60000", id, NULL);
	await_status(id, CX_RUN_RUNNING, false, &s);
	ck_assert_int_eq(cx_sup_pid_for(sup, id, &pid), CX_OK);
	ck_assert_int_eq(pid, s.pid);
	kill(s.pid, SIGKILL);
	/* The worker is our child (its launcher forked it with CLONE_PARENT). */
	ck_assert_msg(th_wait_until(is_zombie, (void *)(intptr_t)s.pid, DEADLINE_MS),
		      "awaited worker %d's exit", (int)s.pid);
	ck_assert_int_eq(cx_sup_pid_for(sup, id, &pid), CX_ERUNNER_DEAD);
	await_final(id);
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
	pid_t pids[4];
	int before = th_descendants(pids, 4); /* the launcher, made with the supervisor */
	ck_assert_int_eq(cx_sup_start(sup, &req, id, NULL, &diags, NULL), CX_EINVALID);
	ck_assert_msg(diags.n >= 2, "expected every problem reported, got %zu", diags.n);
	ck_assert_int_eq(cx_sup_live(sup), 0);
	ck_assert_int_eq(th_descendants(pids, 4), before);
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

static bool worker_hangs(void *arg)
{
	cx_sup_dispatch(sup, 10);
	return th_ignores_sigterm(*(pid_t *)arg);
}

/* A "hang" member's worker answers a cancel and dies of SIGTERM until it
 * reaches its hang: a test of what a hung worker does waits for that. */
static void await_hang(const char *id)
{
	struct cx_run_summary s;
	await_status(id, CX_RUN_RUNNING, false, &s);
	ck_assert_msg(th_wait_until(worker_hangs, &s.pid, DEADLINE_MS),
		      "awaited run %s's worker to hang (ignore SIGTERM)", id);
}

START_TEST(test_terminate_kills_a_hung_worker)
{
	char id[CX_RUN_ID_MAX + 1];
	int sub;
	start("\"fail\":\"hang\"", id, &sub);
	await_hang(id);
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
	await_hang(id);
	ck_assert_int_eq(cx_sup_terminate(sup, id, NULL), CX_OK);
	struct cx_run_summary s;
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

/* What a subscription from seq `since` gets: the run's events file from
 * its since-th line, and nothing before. */
static void assert_follows_from(const char *id, int sub, int since)
{
	char *seen = follow(sub);
	cJSON *first = cJSON_ParseWithLength(seen, (size_t)(strchr(seen, '\n') - seen));
	ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(first, "seq")), since);
	char *events = run_file(id, "events");
	const char *from = events;
	for (int i = 1; i < since; i++)
		from = strchr(from, '\n') + 1;
	ck_assert_str_eq(seen, from);
	cJSON_Delete(first);
	free(seen); free(events);
}

START_TEST(test_subscribe_since_replays_from_that_seq)
{
	char id[CX_RUN_ID_MAX + 1];
	start("", id, NULL);
	await_final(id);
	int sub;
	ck_assert_int_eq(cx_sup_subscribe(sup, id, 3, &sub, NULL), CX_OK);
	assert_follows_from(id, sub, 3);
}
END_TEST

/* Found by the soak: a subscription from a seq the run had not reached
 * went live at once and got every event before that seq too. */
START_TEST(test_subscribe_since_a_seq_not_yet_reached_starts_there)
{
	char id[CX_RUN_ID_MAX + 1];
	start("", id, NULL);
	int sub;
	/* Nothing dispatched yet: the events file is empty. */
	ck_assert_int_eq(cx_sup_subscribe(sup, id, 10, &sub, NULL), CX_OK);
	assert_follows_from(id, sub, 10);
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

/* The launcher: workers are forked by a small process made with the
 * supervisor, yet are the supervisor's children. */

/* A line "key\tvalue" of /proc/pid/status, as a number; -1 when none. */
static long proc_status_number(pid_t pid, const char *key)
{
	char path[64], *text;
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if (!(text = th_read_file(path, NULL)))
		return -1;
	const char *at = strstr(text, key);
	long v = at ? strtol(at + strlen(key), NULL, 10) : -1;
	free(text);
	return v;
}

/* Whether a descendant other than *(pid_t *)arg is named council-launch
 * (a launcher takes the name a moment after its fork); its pid there. */
static bool find_launcher(void *arg)
{
	pid_t *other = arg, pids[64];
	int n = th_descendants(pids, 64);
	for (int i = 0; i < n && i < 64; i++) {
		char path[64], *comm = NULL;
		snprintf(path, sizeof path, "/proc/%d/comm", (int)pids[i]);
		bool found = pids[i] != *other && (comm = th_read_file(path, NULL)) &&
			     !strcmp(comm, "council-launch\n");
		free(comm);
		if (found) {
			*other = pids[i];
			return true;
		}
	}
	return false;
}

/* Our council-launch other than not (0: any); fails the test after a while. */
static pid_t await_launcher(pid_t not)
{
	pid_t pid = not;
	ck_assert_msg(th_wait_until(find_launcher, &pid, DEADLINE_MS),
		      "awaited a council-launch among the supervisor's children");
	return pid;
}

START_TEST(test_workers_are_the_supervisors_children_forked_by_its_launcher)
{
	pid_t launcher = await_launcher(0);
	ck_assert_int_eq(proc_status_number(launcher, "PPid:"), getpid());
	char id[CX_RUN_ID_MAX + 1];
	struct cx_run_summary s;
	start("\"latency_ms\":60000", id, NULL);
	await_status(id, CX_RUN_RUNNING, false, &s);
	ck_assert_msg(proc_status_number(s.pid, "PPid:") == getpid(),
		      "worker %d is not the supervisor's child", (int)s.pid);
	ck_assert_int_eq(cx_sup_terminate(sup, id, NULL), CX_OK);
	await_final(id);
}
END_TEST

START_TEST(test_a_dead_launcher_is_replaced)
{
	pid_t launcher = await_launcher(0);
	kill(launcher, SIGKILL);
	char id[CX_RUN_ID_MAX + 1];
	int sub;
	start("", id, &sub);
	free(follow(sub));
	await_final(id);
	struct cx_run_summary s;
	ck_assert_int_eq(cx_sup_state(sup, id, &s), CX_OK);
	ck_assert_int_eq(s.status, CX_RUN_COMPLETED);
	await_launcher(launcher);
}
END_TEST

/* Containment levels, forced with COUNCIL_CONTAINMENT. */

/* Replaces the fixture's supervisor with one opened under
 * COUNCIL_CONTAINMENT=level (the variable is read by cx_sup_new only). */
static void reopen_sup_with(const char *level)
{
	cx_sup_free(sup);
	sup = NULL;
	setenv("COUNCIL_CONTAINMENT", level, 1);
	open_sup();
	unsetenv("COUNCIL_CONTAINMENT");
}

/* A PID namespace per run, or why not: false (printed) if this host
 * refuses us one. */
static bool reopen_sup_pidns(const char *test)
{
	if (!cx_pidns_available()) {
		printf("%s: skipped: this process may not create PID namespaces\n", test);
		return false;
	}
	reopen_sup_with("pidns");
	return true;
}

/* One exec member that leaves its process group both ways: a double-forked
 * sleep (orphaned to the worker) and a setsid'd one, then the member itself
 * as a third sleep. The sleeps end in .<our pid>, so /proc tells them from
 * any other test's. */
static char *escaping_council(void)
{
	char *s;
	int me = (int)getpid();
	if (asprintf(&s, "{\"id\":\"c1\",\"members\":[{\"id\":\"m1\",\"profile\":{\"provider\":"
		     "\"exec\",\"command\":[\"sh\",\"-c\",\"(sleep 3201.%d &) ; "
		     "setsid sleep 3202.%d & exec sleep 3200.%d\"]}}],"
		     "\"rounds\":[{\"type\":\"independent_analysis\"}]}", me, me, me) < 0)
		abort();
	return s;
}

/* Processes anywhere on the host whose command line is "sleep 320N.<our
 * pid>": what an escaping council started (escaped ones are not our
 * descendants, so /proc is searched whole). */
static int escaped_sleeps(void)
{
	return th_sleeps("320", th_sleep_of_ours);
}

/* await_final, and the status file rewritten for the last time (a run is
 * final in its summary once reaped, in its files once also drained):
 * fetch_result waits for that. */
static char *final_status(const char *id)
{
	await_final(id);
	char *result = NULL;
	struct cx_error err = { 0 };
	ck_assert_msg(cx_sup_fetch_result(sup, id, DEADLINE_MS, &result, &err) == CX_OK,
		      "fetch_result: %s", err.message);
	free(result);
	return run_file(id, "status");
}

static bool no_escaped_sleeps(void *arg)
{
	(void)arg;
	return escaped_sleeps() == 0;
}

/* Starts the escaping council and waits until all three sleeps run. */
static void start_escaping(char id[CX_RUN_ID_MAX + 1], int *sub)
{
	char *spec = escaping_council();
	struct cx_start req = { .spec_json = spec, .subscribe = true };
	struct cx_error err = { 0 };
	ck_assert_msg(cx_sup_start(sup, &req, id, sub, NULL, &err) == CX_OK, "cx_sup_start: %s",
		      err.message);
	free(spec);
	uint64_t deadline = cx_mono_ms() + DEADLINE_MS;
	while (escaped_sleeps() < 3) {
		ck_assert_msg(cx_mono_ms() < deadline, "awaited the member's 3 sleeps, %d seen",
			      escaped_sleeps());
		cx_sup_dispatch(sup, 50);
	}
}

static void record_down(void *data, const struct cx_run_summary *run, const char *reason)
{
	strlcpy(data, reason, 48);
}

/* The run ends failed with kind killed and exit, its DOWN reason is
 * killed, and nothing it started is left anywhere. */
static void check_killed_and_gone(const char *id, int sub, const char *exit)
{
	char down[48] = "";
	cx_sup_on_down(sup, record_down, down);
	char *seen = follow(sub);
	char *status = final_status(id);
	cJSON *terminal = check_events(seen, "subscriber");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(terminal, "type")), "run_failed");
	ck_assert_str_eq(error_kind(terminal), "killed");
	ck_assert_msg(has_line(status, "Containment", "pidns"), "status: %s", status);
	ck_assert_msg(has_line(status, "Exit", exit), "status: %s", status);
	ck_assert_str_eq(down, "killed");
	cx_sup_on_down(sup, NULL, NULL);
	ck_assert_msg(th_wait_until(no_escaped_sleeps, NULL, DEADLINE_MS),
		      "%d of the run's sleeps outlived its PID namespace", escaped_sleeps());
	cJSON_Delete(terminal);
	free(seen); free(status);
}

START_TEST(test_pidns_run_says_so_in_its_status)
{
	if (!reopen_sup_pidns(__func__))
		return;
	char id[CX_RUN_ID_MAX + 1];
	start("\"latency_ms\":60000", id, NULL);
	struct cx_run_summary s;
	await_status(id, CX_RUN_RUNNING, false, &s);
	ck_assert_str_eq(s.containment, "pidns");
	char *status = run_file(id, "status");
	ck_assert_msg(has_line(status, "Containment", "pidns"), "status: %s", status);
	free(status);
}
END_TEST

/* terminate's SIGTERM reaches a worker that is its namespace's init (which
 * the kernel would drop without a handler): the worker exits at once,
 * reported as any worker's SIGTERM, and the kernel kills what escaped. */
START_TEST(test_pidns_terminate_kills_everything_the_run_started)
{
	if (!reopen_sup_pidns(__func__))
		return;
	char id[CX_RUN_ID_MAX + 1];
	int sub;
	start_escaping(id, &sub);
	ck_assert_int_eq(cx_sup_terminate(sup, id, NULL), CX_OK);
	check_killed_and_gone(id, sub, "killed SIGTERM");
}
END_TEST

/* A SIGTERM that comes before the worker has its signalfd stays pending for
 * it: not dropped, as it would be to an init without a handler. */
START_TEST(test_pidns_terminate_right_after_start_is_not_lost)
{
	if (!reopen_sup_pidns(__func__))
		return;
	char id[CX_RUN_ID_MAX + 1];
	int sub;
	start("\"latency_ms\":60000", id, &sub);
	ck_assert_int_eq(cx_sup_terminate(sup, id, NULL), CX_OK);
	char *seen = follow(sub);
	char *status = final_status(id);
	cJSON *terminal = check_events(seen, "subscriber");
	ck_assert_str_eq(error_kind(terminal), "killed");
	ck_assert_msg(has_line(status, "Exit", "killed SIGTERM"), "status: %s", status);
	cJSON_Delete(terminal);
	free(seen); free(status);
}
END_TEST

START_TEST(test_pidns_sigkilled_worker_takes_everything_with_it)
{
	if (!reopen_sup_pidns(__func__))
		return;
	char id[CX_RUN_ID_MAX + 1];
	int sub;
	start_escaping(id, &sub);
	struct cx_run_summary s;
	ck_assert_int_eq(cx_sup_state(sup, id, &s), CX_OK);
	ck_assert_int_eq(kill(s.pid, SIGKILL), 0);
	check_killed_and_gone(id, sub, "killed SIGKILL");
}
END_TEST

/* Children of the worker, as /proc names them: living ones count in
 * *alive, zombies in *zombies. */
static void worker_children(pid_t worker, int *alive, int *zombies)
{
	*alive = *zombies = 0;
	DIR *d = opendir("/proc");
	for (struct dirent *e; d && (e = readdir(d));) {
		char path[300];
		if (atoi(e->d_name) <= 0)
			continue;
		snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
		char *stat = th_read_file(path, NULL);
		char *end = stat ? strrchr(stat, ')') : NULL;
		char state;
		int ppid;
		if (end && sscanf(end + 1, " %c %d", &state, &ppid) == 2 && ppid == (int)worker)
			(state == 'Z' ? zombies : alive)[0]++;
		free(stat);
	}
	if (d)
		closedir(d);
}

struct orphan_wait { pid_t worker; };

/* Only the member is left: the orphan exited and was reaped. */
static bool orphan_reaped(void *arg)
{
	const struct orphan_wait *w = arg;
	int alive, zombies;
	cx_sup_dispatch(sup, 0);
	worker_children(w->worker, &alive, &zombies);
	return alive == 1 && zombies == 0;
}

/* An orphan adopted by the worker (a member's double-forked child) that
 * exits is reaped by it, not left a zombie for the run's lifetime. */
START_TEST(test_pidns_worker_reaps_the_orphans_it_adopts)
{
	if (!reopen_sup_pidns(__func__))
		return;
	char *spec;
	ck_assert_int_ge(asprintf(&spec, "{\"id\":\"c1\",\"members\":[{\"id\":\"m1\",\"profile\":"
				  "{\"provider\":\"exec\",\"command\":[\"sh\",\"-c\","
				  "\"(sleep 1 &) ; exec sleep 3200.%d\"]}}],"
				  "\"rounds\":[{\"type\":\"independent_analysis\"}]}",
				  (int)getpid()), 0);
	struct cx_start req = { .spec_json = spec };
	char id[CX_RUN_ID_MAX + 1];
	ck_assert_int_eq(cx_sup_start(sup, &req, id, NULL, NULL, NULL), CX_OK);
	free(spec);
	struct cx_run_summary s;
	await_status(id, CX_RUN_RUNNING, false, &s);
	/* The orphan is adopted, then exits: the worker has two children,
	 * then only its member, and never a zombie for long. */
	uint64_t deadline = cx_mono_ms() + DEADLINE_MS;
	int alive = 0, zombies = 0;
	while (alive < 2 && cx_mono_ms() < deadline) {
		cx_sup_dispatch(sup, 10);
		worker_children(s.pid, &alive, &zombies);
	}
	ck_assert_msg(alive == 2, "awaited the member and its orphan as the worker's children");
	struct orphan_wait w = { s.pid };
	ck_assert_msg(th_wait_until(orphan_reaped, &w, DEADLINE_MS),
		      "the worker left its adopted orphan unreaped");
	ck_assert_int_eq(escaped_sleeps(), 1); /* the member runs on */
	ck_assert_int_eq(cx_sup_terminate(sup, id, NULL), CX_OK);
	await_final(id);
}
END_TEST

/* Whether the run's events file has a member that timed out. */
static bool member_timed_out(void *arg)
{
	cx_sup_dispatch(sup, 0);
	char *events = run_file(arg, "events");
	bool timed_out = events && strstr(events, "\"status\":\"timeout\"");
	free(events);
	return timed_out;
}

/* Under pidns a member leads a process group of its own: past its
 * timeout_ms, what it started in it is killed with it, while its run goes
 * on (what setsid()s away dies with the run's namespace). */
START_TEST(test_pidns_a_timed_out_member_group_is_killed_at_its_timeout)
{
	if (!reopen_sup_pidns(__func__))
		return;
	char *spec;
	int me = (int)getpid();
	ck_assert_int_ge(asprintf(&spec, "{\"id\":\"c1\",\"members\":["
				  "{\"id\":\"late\",\"timeout_ms\":500,\"retry\":{\"max\":1},\"profile\":"
				  "{\"provider\":\"exec\",\"command\":[\"sh\",\"-c\","
				  "\"sleep 3201.%d & exec sleep 3200.%d\"]}},"
				  "{\"id\":\"patient\",\"profile\":{\"provider\":\"mock\",\"latency_ms\":60000}}],"
				  "\"rounds\":[{\"type\":\"independent_analysis\"}]}", me, me), 0);
	struct cx_start req = { .spec_json = spec };
	char id[CX_RUN_ID_MAX + 1];
	ck_assert_int_eq(cx_sup_start(sup, &req, id, NULL, NULL, NULL), CX_OK);
	free(spec);
	ck_assert_msg(th_wait_until(member_timed_out, id, DEADLINE_MS), "awaited the member's timeout");
	ck_assert_msg(th_wait_until(no_escaped_sleeps, NULL, DEADLINE_MS),
		      "%d processes the timed-out member started outlived its timeout", escaped_sleeps());
	struct cx_run_summary s;
	ck_assert_int_eq(cx_sup_state(sup, id, &s), CX_OK);
	ck_assert_msg(!cx_run_status_final(s.status), "the run ended before the check");
	ck_assert_int_eq(cx_sup_terminate(sup, id, NULL), CX_OK);
	await_final(id);
}
END_TEST

START_TEST(test_pidns_run_completes)
{
	if (!reopen_sup_pidns(__func__))
		return;
	char id[CX_RUN_ID_MAX + 1];
	start("", id, NULL);
	char *status = final_status(id);
	ck_assert_msg(has_line(status, "Containment", "pidns"), "status: %s", status);
	ck_assert_msg(has_line(status, "Status", "completed"), "status: %s", status);
	ck_assert_msg(has_line(status, "Exit", "exited 0"), "status: %s", status);
	free(status);
}
END_TEST

START_TEST(test_pgroup_run_says_so_and_completes)
{
	reopen_sup_with("pgroup");
	char id[CX_RUN_ID_MAX + 1];
	start("", id, NULL);
	char *status = final_status(id);
	ck_assert_msg(has_line(status, "Containment", "pgroup"), "status: %s", status);
	ck_assert_msg(has_line(status, "Status", "completed"), "status: %s", status);
	ck_assert_msg(has_line(status, "Exit", "exited 0"), "status: %s", status);
	free(status);
}
END_TEST

START_TEST(test_unknown_containment_level_is_refused)
{
	cx_sup_free(sup);
	sup = NULL;
	setenv("COUNCIL_CONTAINMENT", "chroot", 1);
	struct cx_error err = { 0 };
	struct cx_sup_options opts = { .runtime_dir = scratch, .tenant = "t1" };
	int r = cx_sup_new(&opts, &sup, &err);
	unsetenv("COUNCIL_CONTAINMENT");
	ck_assert_int_eq(r, CX_EUSAGE);
	ck_assert_msg(strstr(err.message, "COUNCIL_CONTAINMENT"), "error: %s", err.message);
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
	tcase_add_test(tc, test_pid_for_a_dead_worker_not_yet_reaped_is_runner_dead);
	tcase_add_test(tc, test_fetch_result_times_out_then_returns_the_result);
	tcase_add_test(tc, test_run_id_is_unique_per_runtime_dir);
	tcase_add_test(tc, test_generated_run_ids_sort_by_start);
	tcase_add_test(tc, test_cancel_ends_the_run_cancelled);
	tcase_add_test(tc, test_terminate_kills_a_hung_worker);
	tcase_add_test(tc, test_shutdown_ms_escalates_to_sigkill_for_a_poll_only_caller);
	tcase_add_test(tc, test_slow_subscriber_gets_lagged_and_the_file_stays_complete);
	tcase_add_test(tc, test_subscribe_since_replays_from_that_seq);
	tcase_add_test(tc, test_subscribe_since_a_seq_not_yet_reached_starts_there);
	tcase_add_test(tc, test_tenant_link_points_at_the_run);
	tcase_add_test(tc, test_free_terminates_live_runs_and_finalizes_them);
	tcase_add_test(tc, test_workers_are_the_supervisors_children_forked_by_its_launcher);
	tcase_add_test(tc, test_a_dead_launcher_is_replaced);
	tcase_add_test(tc, test_pidns_run_says_so_in_its_status);
	tcase_add_test(tc, test_pidns_terminate_kills_everything_the_run_started);
	tcase_add_test(tc, test_pidns_terminate_right_after_start_is_not_lost);
	tcase_add_test(tc, test_pidns_sigkilled_worker_takes_everything_with_it);
	tcase_add_test(tc, test_pidns_a_timed_out_member_group_is_killed_at_its_timeout);
	tcase_add_test(tc, test_pidns_worker_reaps_the_orphans_it_adopts);
	tcase_add_test(tc, test_pidns_run_completes);
	tcase_add_test(tc, test_pgroup_run_says_so_and_completes);
	tcase_add_test(tc, test_unknown_containment_level_is_refused);
	suite_add_tcase(s, tc);
	/* What runs under valgrind (./tools/dev test), which has no pidfd_open
	 * and so cannot start a worker. */
	TCase *bare = tcase_create("without_workers");
	tcase_set_tags(bare, "memcheck");
	tcase_add_checked_fixture(bare, setup, teardown);
	tcase_add_test(bare, test_pid_for_unknown_run);
	tcase_add_test(bare, test_invalid_spec_forks_nothing);
	suite_add_tcase(s, bare);
	return th_run_suite(s);
}
