/* The supervision tree (DESIGN §1-§2): councild, tenant supervisor groups,
 * links, monitors, shutdown, and no orphan ever. Each test starts its own
 * councild in a private runtime directory and leaves no process behind. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "containment.h"
#include "council/council.h"
#include "council/client.h"
#include "harness.h"

#define DEADLINE_MS 30000

static char *scratch;
static pid_t councild;
static struct cx_client *cl;

static void councild_start_with(const char *const *options)
{
	councild = th_councild_start(scratch, options);
	cl = th_councild_connect(scratch, DEADLINE_MS);
}

static void councild_start(void)
{
	councild_start_with(NULL);
}

/* SIGKILL, as a crash or the OOM killer would: councild stops nothing. */
static void councild_sigkill(void)
{
	cx_client_close(cl);
	cl = NULL;
	kill(councild, SIGKILL);
	waitpid(councild, NULL, 0);
	councild = 0;
}

/* SIGTERM, and councild exits 0 once every tenant has stopped. */
static void councild_stop(void)
{
	cx_client_close(cl);
	cl = NULL;
	if (councild <= 0)
		return;
	int status = th_councild_stop(councild, DEADLINE_MS);
	councild = 0;
	ck_assert_msg(status != -1, "councild did not stop on SIGTERM");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "councild ended with status %#x", status);
}

static void setup(void)
{
	struct rlimit no_core = { 0, 0 };
	setrlimit(RLIMIT_CORE, &no_core);
	/* Whatever escapes its group comes here, where the test can see it. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	scratch = th_scratch_dir();
	councild_start();
}

static void teardown(void)
{
	councild_stop();
	ck_assert_msg(th_no_descendants(5000), "processes were left behind");
	th_rm_rf(scratch);
	free(scratch);
}

/* A council of one mock member with `profile` spliced into its profile. */
static char *council(const char *profile)
{
	char *s;
	if (asprintf(&s, "{\"id\":\"c\",\"members\":[{\"id\":\"m\",\"retry\":{\"max\":1},"
		     "\"profile\":{\"provider\":\"mock\"%s%s}}],"
		     "\"rounds\":[{\"type\":\"independent_analysis\"}]}",
		     *profile ? "," : "", profile) < 0)
		abort();
	return s;
}

/* Members that leave their process group: one double-forks (its sleep is
 * orphaned to a subreaper), one calls setsid. Only the run's cgroup (or
 * PID namespace) holds them; their sleeps are recognisable in /proc. */
static const char escaping_council[] =
	"{\"id\":\"escape\",\"members\":["
	"{\"id\":\"forker\",\"profile\":{\"provider\":\"exec\","
	"\"env_pass\":[\"COUNCIL_RUNTIME_DIR\"],"
	"\"command\":[\"sh\",\"-c\",\"(sleep 3101 &) ; exec sleep 3100\"]}},"
	"{\"id\":\"escaper\",\"profile\":{\"provider\":\"exec\","
	"\"env_pass\":[\"COUNCIL_RUNTIME_DIR\"],"
	"\"command\":[\"sh\",\"-c\",\"setsid sleep 3102 & exec sleep 3100\"]}}],"
	"\"rounds\":[{\"type\":\"independent_analysis\"}]}";

/* Whether /proc/<pid> has our runtime directory in its environment: the
 * members of our runs do, by env_pass (escaped ones are not our descendants, so /proc
 * is searched whole), those of tests running beside this one do not. */
static bool has_our_runtime_dir(const char *pid, const char *arg)
{
	(void)arg;
	char path[300], want[4200];
	snprintf(path, sizeof path, "/proc/%s/environ", pid);
	snprintf(want, sizeof want, "COUNCIL_RUNTIME_DIR=%s", scratch);
	size_t len;
	char *env = th_read_file(path, &len);
	bool ours = false;
	for (size_t i = 0; env && i < len && !ours; i += strlen(env + i) + 1)
		ours = !strcmp(env + i, want);
	free(env);
	return ours;
}

/* Processes whose command line is "sleep 310N": what the escaping members
 * of our runs started. */
static int escaped_sleeps(void)
{
	return th_sleeps("310", has_our_runtime_dir);
}

static bool no_escaped_sleeps(void *arg)
{
	(void)arg;
	return escaped_sleeps() == 0;
}

/* Starts n escaping runs in tenant and waits until their members run. */
static void start_escaping(const char *tenant, int n, struct cx_started *st)
{
	struct cx_client_start req = { .spec_json = escaping_council, .tenant = tenant };
	struct cx_error err = { 0 };
	for (int i = 0; i < n; i++)
		ck_assert_msg(cx_start(cl, &req, &st[i], NULL, &err) == CX_OK, "start %d: %s", i, err.message);
	uint64_t deadline = cx_mono_ms() + 2 * DEADLINE_MS;
	while (escaped_sleeps() < 3 * n) { /* 3101 and 3102 of each, and a 3100 at least */
		ck_assert_msg(cx_mono_ms() < deadline, "awaited the members of %d runs, %d sleeps seen",
			      n, escaped_sleeps());
		usleep(50000);
	}
}

static void start_in(struct cx_client *c, const char *tenant, const char *profile, bool link,
		     int exit_signal, struct cx_started *out)
{
	char *spec = council(profile);
	struct cx_client_start req = { .spec_json = spec, .tenant = tenant, .exit_signal = exit_signal };
	struct cx_error err = { 0 };
	int r = link ? cx_start_link(c, &req, out, NULL, &err) : cx_start(c, &req, out, NULL, &err);
	ck_assert_msg(r == CX_OK, "start: %s", err.message);
	free(spec);
}

static enum cx_run_status await_result(const char *run_id)
{
	char *result = NULL;
	enum cx_run_status status;
	struct cx_error err = { 0 };
	int r = cx_fetch_result(cl, run_id, DEADLINE_MS, &result, &status, &err);
	ck_assert_msg(r == CX_OK, "awaited the result of %s: %s", run_id, err.message);
	free(result);
	return status;
}

static char *run_file(const char *run_id, const char *name)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/runs/%s/%s", scratch, run_id, name);
	return th_read_file(path, NULL);
}

/* The kind of the run's one terminal event (which must be its last line). */
static char *terminal_kind(const char *run_id)
{
	char *events = run_file(run_id, "events");
	ck_assert_msg(events && *events, "run %s has no events", run_id);
	size_t n = strlen(events);
	ck_assert_msg(events[n - 1] == '\n', "events of %s end in a torn line", run_id);
	events[n - 1] = '\0';
	char *last = strrchr(events, '\n');
	last = last ? last + 1 : events;
	ck_assert_msg(strstr(last, "\"type\":\"run_failed\"") || strstr(last, "\"type\":\"run_completed\""),
		      "the last event of %s is not terminal: %s", run_id, last);
	int terminals = 0;
	for (char *p = events; (p = strstr(p, "\"type\":\"run_")); p++)
		terminals += !strncmp(p, "\"type\":\"run_failed\"", 19) ||
			     !strncmp(p, "\"type\":\"run_completed\"", 22);
	ck_assert_msg(terminals == 1, "run %s has %d terminal events", run_id, terminals);
	cJSON *ev = cJSON_Parse(last);
	const cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(ev, "errors"), 0);
	char *kind = strdup(cJSON_GetStringValue(cJSON_GetObjectItem(e, "kind")) ?: "none");
	cJSON_Delete(ev);
	free(events);
	return kind;
}

static void assert_final_with_kind(const char *run_id, const char *kind)
{
	char *status = run_file(run_id, "status");
	ck_assert_msg(status && (strstr(status, "Status:\tfailed\n") || strstr(status, "Status:\tcancelled\n") ||
				 strstr(status, "Status:\tcompleted\n")) && !strstr(status, "Exit:\t-\n"),
		      "status of %s is not final: %s", run_id, status ? status : "(none)");
	char *got = terminal_kind(run_id);
	ck_assert_msg(!strcmp(got, kind), "run %s ended with kind %s, expected %s", run_id, got, kind);
	free(got);
	free(status);
}

static bool pid_gone(void *arg)
{
	return kill(*(pid_t *)arg, 0) < 0;
}

/* Dead and reaped: councild reaps what is orphaned to it within a turn. */
static void assert_gone(pid_t pid, const char *what)
{
	ck_assert_msg(th_wait_until(pid_gone, &pid, DEADLINE_MS), "%s %d is still there", what, (int)pid);
}

static cJSON *next_message(struct cx_client *c, const char *what)
{
	cJSON *msg = NULL;
	struct cx_error err = { 0 };
	ck_assert_msg(cx_client_next_message(c, DEADLINE_MS, &msg, &err) == CX_OK,
		      "awaited %s: %s", what, err.message);
	return msg;
}

/* A process that connects, starts a slow run (linked or not), reports its
 * run id on a pipe and waits to be killed. */
static pid_t caller_with_run(bool link, const char *profile, int exit_signal, char run_id[CX_RUN_ID_MAX + 1])
{
	int p[2];
	ck_assert(pipe(p) == 0);
	pid_t pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		struct cx_client *mine;
		struct cx_client_options opts = { .runtime_dir = scratch };
		struct cx_started st;
		if (cx_client_connect(&opts, &mine, NULL) != CX_OK)
			_exit(1);
		char *spec = council(profile);
		struct cx_client_start req = { .spec_json = spec, .exit_signal = exit_signal };
		if ((link ? cx_start_link(mine, &req, &st, NULL, NULL) : cx_start(mine, &req, &st, NULL, NULL)) != CX_OK)
			_exit(2);
		if (write(p[1], st.run_id, strlen(st.run_id) + 1) < 0)
			_exit(3);
		for (;;)
			pause();
	}
	close(p[1]);
	ssize_t n = read(p[0], run_id, CX_RUN_ID_MAX + 1);
	close(p[0]);
	ck_assert_msg(n > 1, "the caller could not start its run");
	return pid;
}

/* A caller starts a linked run, and is killed: so is its run. */
static void assert_a_linked_run_dies_with_its_caller(void)
{
	char run_id[CX_RUN_ID_MAX + 1];
	pid_t caller = caller_with_run(true, "\"latency_ms\":60000", 0, run_id);
	kill(caller, SIGKILL);
	waitpid(caller, NULL, 0);
	ck_assert_int_eq(await_result(run_id), CX_RUN_FAILED);
	assert_final_with_kind(run_id, "killed");
}

START_TEST(test_linked_run_dies_with_its_caller)
{
	assert_a_linked_run_dies_with_its_caller();
}
END_TEST

START_TEST(test_unlinked_run_survives_its_caller)
{
	char run_id[CX_RUN_ID_MAX + 1];
	pid_t caller = caller_with_run(false, "\"latency_ms\":1500", 0, run_id);
	kill(caller, SIGKILL);
	waitpid(caller, NULL, 0);
	pid_t pid;
	ck_assert_int_eq(cx_pid_for(cl, run_id, &pid, NULL), CX_OK);
	ck_assert_int_eq(await_result(run_id), CX_RUN_COMPLETED);
	ck_assert_int_eq(cx_pid_for(cl, run_id, &pid, NULL), CX_ERUNNER_DEAD);
}
END_TEST

START_TEST(test_exit_signal_reaches_a_linked_caller_when_its_run_crashes)
{
	char run_id[CX_RUN_ID_MAX + 1];
	pid_t caller = caller_with_run(true, "\"latency_ms\":300,\"fail\":\"crash\"", SIGUSR1, run_id);
	int status;
	ck_assert(waitpid(caller, &status, 0) == caller);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGUSR1,
		      "the caller should die of SIGUSR1, status %#x", status);
	assert_final_with_kind(run_id, "crashed");
}
END_TEST

/* A linked start whose spec is refused must leave nothing of its link
 * behind: its caller's pidfd, not taken, was taken by the next linked
 * start in the tenant, whose run was then linked to the wrong caller (and
 * lived on after its own caller died). */
START_TEST(test_a_refused_linked_start_leaves_no_link_behind)
{
	struct cx_client_start bad = { .spec_json = "{\"id\":\"c\"}" };
	struct cx_started st;
	ck_assert_int_eq(cx_start_link(cl, &bad, &st, NULL, NULL), CX_EINVALID);
	assert_a_linked_run_dies_with_its_caller();
}
END_TEST

START_TEST(test_linked_caller_gets_an_exit_message)
{
	struct cx_started st;
	start_in(cl, NULL, "\"latency_ms\":200,\"fail\":\"crash\"", true, 0, &st);
	cJSON *msg = next_message(cl, "EXIT");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(msg, "msg")), "EXIT");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(msg, "run_id")), st.run_id);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(msg, "reason")), "signal SIGSEGV");
	cJSON_Delete(msg);
}
END_TEST

START_TEST(test_monitor_gets_exactly_one_down_with_its_reason)
{
	struct cx_started a, b;
	uint64_t ra, rb, rb2;
	start_in(cl, NULL, "\"latency_ms\":300", false, 0, &a);
	start_in(cl, NULL, "\"latency_ms\":60000", false, 0, &b);
	ck_assert_int_eq(cx_monitor(cl, a.run_id, &ra, NULL), CX_OK);
	ck_assert_int_eq(cx_monitor(cl, b.run_id, &rb, NULL), CX_OK);
	ck_assert_int_eq(cx_monitor(cl, b.run_id, &rb2, NULL), CX_OK);
	ck_assert_msg(rb != rb2, "each monitor is its own reference");
	ck_assert_int_eq(cx_demonitor(cl, rb2, NULL), CX_OK);
	cJSON *msg = next_message(cl, "DOWN of the quick run");
	ck_assert_int_eq((uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(msg, "ref")), ra);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(msg, "reason")), "normal");
	cJSON_Delete(msg);
	ck_assert_int_eq(cx_terminate_run(cl, b.run_id, NULL), CX_OK);
	msg = next_message(cl, "DOWN of the terminated run");
	ck_assert_int_eq((uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(msg, "ref")), rb);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(msg, "reason")), "killed");
	cJSON_Delete(msg);
	/* Nothing more: the demonitored reference stays silent. */
	ck_assert_int_eq(cx_client_next_message(cl, 1000, &msg, NULL), CX_ETIMEOUT);
}
END_TEST

START_TEST(test_monitor_of_a_dead_run_is_noproc)
{
	struct cx_started st;
	uint64_t ref;
	start_in(cl, NULL, "", false, 0, &st);
	await_result(st.run_id);
	ck_assert_int_eq(cx_monitor(cl, st.run_id, &ref, NULL), CX_OK);
	cJSON *msg = next_message(cl, "DOWN noproc");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(msg, "reason")), "noproc");
	cJSON_Delete(msg);
}
END_TEST

static bool hangs(void *arg)
{
	return th_ignores_sigterm(*(pid_t *)arg);
}

START_TEST(test_shutdown_ms_is_honoured_for_a_worker_that_ignores_sigterm)
{
	char *spec = council("\"fail\":\"hang\"");
	struct cx_client_start req = { .spec_json = spec, .tenant = "slow", .shutdown_ms = 500 };
	struct cx_started st;
	ck_assert_int_eq(cx_start(cl, &req, &st, NULL, NULL), CX_OK);
	free(spec);
	struct cx_run_summary s;
	uint64_t deadline = cx_mono_ms() + DEADLINE_MS;
	do {
		ck_assert_msg(cx_mono_ms() < deadline, "awaited the run to be running");
		usleep(20000);
	} while (cx_state(cl, st.run_id, &s, NULL) != CX_OK || s.status != CX_RUN_RUNNING);
	ck_assert_msg(th_wait_until(hangs, &s.pid, DEADLINE_MS),
		      "awaited run %s's worker to hang (ignore SIGTERM)", st.run_id);
	ck_assert_int_eq(cx_terminate_run(cl, st.run_id, NULL), CX_OK);
	await_result(st.run_id);
	ck_assert_int_eq(cx_state(cl, st.run_id, &s, NULL), CX_OK);
	ck_assert_str_eq(s.exit, "killed SIGKILL");
	assert_final_with_kind(st.run_id, "killed");
}
END_TEST

static pid_t tenant_pid(const char *tenant)
{
	cJSON *req = cJSON_CreateObject(), *reply = NULL;
	cJSON_AddStringToObject(req, "op", "tenant_ls");
	ck_assert_int_eq(cx_client_call(cl, req, &reply, NULL, DEADLINE_MS, NULL), CX_OK);
	pid_t pid = 0;
	const cJSON *t;
	cJSON_ArrayForEach(t, cJSON_GetObjectItem(reply, "tenants"))
		if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(t, "tenant")), tenant) &&
		    !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(t, "status")), "running"))
			pid = (pid_t)cJSON_GetNumberValue(cJSON_GetObjectItem(t, "pid"));
	cJSON_Delete(reply);
	return pid;
}

static bool tenant_down(void *tenant)
{
	return tenant_pid(tenant) == 0;
}

START_TEST(test_tenant_supervisor_killed_takes_its_runs_and_restarts)
{
	struct cx_started st[5];
	uint64_t ref;
	start_escaping("acme", 5, st);
	ck_assert_int_eq(cx_monitor(cl, st[0].run_id, &ref, NULL), CX_OK);
	pid_t sup = tenant_pid("acme");
	ck_assert_msg(sup > 0, "tenant acme has no supervisor");
	kill(sup, SIGKILL);
	cJSON *msg = next_message(cl, "DOWN supervisor_down");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(msg, "reason")), "supervisor_down");
	cJSON_Delete(msg);
	for (int i = 0; i < 5; i++) {
		assert_final_with_kind(st[i].run_id, "supervisor_down");
		assert_gone(st[i].pid, "the worker outlived its supervisor:");
	}
	ck_assert_msg(th_wait_until(no_escaped_sleeps, NULL, DEADLINE_MS),
		      "%d member processes outlived their tenant supervisor", escaped_sleeps());
	pid_t again = tenant_pid("acme");
	ck_assert_msg(again > 0 && again != sup, "tenant acme was not restarted");
}
END_TEST

/* A worker that has died is no longer named by its pid, even before its
 * supervisor (stopped here) has reaped it or said it is down: the pid is
 * another process's once it is reaped, which councild tells by the pidfs
 * inode it recorded at start. */
START_TEST(test_run_id_of_a_dead_worker_is_unknown_run_before_its_tenant_says_so)
{
	struct cx_started st;
	char run_id[CX_RUN_ID_MAX + 1];
	start_in(cl, "ident", "\"latency_ms\":60000", false, 0, &st);
	ck_assert_int_eq(cx_run_id(cl, st.pid, run_id, NULL), CX_OK);
	ck_assert_str_eq(run_id, st.run_id);
	pid_t sup = tenant_pid("ident");
	ck_assert_msg(sup > 0, "tenant ident has no supervisor");
	kill(sup, SIGSTOP);
	kill(st.pid, SIGKILL);
	struct cx_error err = { 0 };
	int r = CX_OK;
	uint64_t deadline = cx_mono_ms() + DEADLINE_MS;
	while ((r = cx_run_id(cl, st.pid, run_id, &err)) == CX_OK && cx_mono_ms() < deadline)
		usleep(20000);
	kill(sup, SIGCONT);
	ck_assert_msg(r == CX_EUNKNOWN_RUN, "run_id of dead worker %d: %s: %s", (int)st.pid,
		      cx_code_word(r), err.message);
	await_result(st.run_id);
	assert_final_with_kind(st.run_id, "killed");
}
END_TEST

/* Found by the soak: a request about a run that was on its way to the
 * run's tenant supervisor when that one went down got
 * supervisor_unavailable, though the run, final by then, has its answer in
 * its files. */
START_TEST(test_a_request_its_tenant_took_down_is_answered_from_the_files)
{
	struct cx_started st;
	start_in(cl, "brief", "\"latency_ms\":60000", false, 0, &st);
	pid_t sup = tenant_pid("brief");
	pid_t killer = fork();
	ck_assert(killer >= 0);
	if (killer == 0) {
		usleep(500 * 1000); /* the fetch below waits at the tenant by then */
		kill(sup, SIGKILL);
		_exit(0);
	}
	char *result = NULL;
	enum cx_run_status status;
	struct cx_error err = { 0 };
	int r = cx_fetch_result(cl, st.run_id, DEADLINE_MS, &result, &status, &err);
	waitpid(killer, NULL, 0);
	ck_assert_msg(r == CX_OK, "fetch_result across its tenant's death: %s: %s", cx_code_word(r),
		      err.message);
	ck_assert_msg(result && status == CX_RUN_FAILED, "fetch_result gave %s, %s",
		      cx_run_status_name(status), result ? result : "no result");
	free(result);
	assert_final_with_kind(st.run_id, "supervisor_down");
}
END_TEST

START_TEST(test_tenant_crashing_four_times_in_five_seconds_stays_down)
{
	struct cx_started st;
	start_in(cl, "flaky", "", false, 0, &st);
	pid_t last = 0;
	for (int crash = 0; crash < 4; crash++) {
		pid_t pid;
		uint64_t deadline = cx_mono_ms() + DEADLINE_MS;
		while (!(pid = tenant_pid("flaky")) || pid == last) {
			ck_assert_msg(cx_mono_ms() < deadline, "awaited restart %d of tenant flaky", crash);
			usleep(10000);
		}
		kill(pid, SIGKILL);
		last = pid;
	}
	usleep(300000);
	ck_assert_int_eq(tenant_pid("flaky"), 0);
	char *spec = council("");
	struct cx_client_start req = { .spec_json = spec, .tenant = "flaky" };
	ck_assert_int_eq(cx_start(cl, &req, &st, NULL, NULL), CX_EUNAVAILABLE);
	ck_assert_int_eq(cx_tenant_start(cl, "flaky", NULL), CX_OK);
	ck_assert_int_eq(cx_start(cl, &req, &st, NULL, NULL), CX_OK);
	free(spec);
}
END_TEST

START_TEST(test_terminate_all_leaves_every_run_final)
{
	struct cx_started st[20];
	for (int i = 0; i < 20; i++)
		start_in(cl, "bulk", "\"latency_ms\":60000", false, 0, &st[i]);
	struct cx_child *children;
	size_t n;
	ck_assert_int_eq(cx_which_children(cl, "bulk", &children, &n, NULL), CX_OK);
	ck_assert_int_eq((int)n, 20);
	free(children);
	ck_assert_int_eq(cx_terminate_all(cl, "bulk", NULL), CX_OK);
	for (int i = 0; i < 20; i++) {
		assert_final_with_kind(st[i].run_id, "killed");
		assert_gone(st[i].pid, "the worker survived terminate_all:");
	}
	ck_assert_int_eq(cx_which_children(cl, "bulk", &children, &n, NULL), CX_OK);
	ck_assert_int_eq((int)n, 0);
	free(children);
}
END_TEST

START_TEST(test_terminate_all_reaches_members_that_left_their_process_group)
{
	static struct cx_started st[100];
	start_escaping("hundred", 100, st);
	ck_assert_int_eq(cx_terminate_all(cl, "hundred", NULL), CX_OK);
	ck_assert_msg(th_wait_until(no_escaped_sleeps, NULL, DEADLINE_MS),
		      "%d member processes survived terminate_all", escaped_sleeps());
	for (int i = 0; i < 100; i++) {
		assert_final_with_kind(st[i].run_id, "killed");
		assert_gone(st[i].pid, "the worker survived terminate_all:");
	}
}
END_TEST

/* Whether tenants/<tenant>/status says Status: <status>; arg is
 * "tenant\0status". */
static bool tenant_says(void *arg)
{
	const char *tenant = arg, *status = tenant + strlen(tenant) + 1;
	char path[4096], want[64];
	snprintf(path, sizeof path, "%s/tenants/%s/status", scratch, tenant);
	snprintf(want, sizeof want, "Status:\t%s\n", status);
	char *text = th_read_file(path, NULL);
	bool says = text && strstr(text, want);
	free(text);
	return says;
}

START_TEST(test_tenant_stop_with_200_runs_leaves_200_final_runs_and_no_process)
{
	static struct cx_started st[200];
	for (int i = 0; i < 200; i++)
		start_in(cl, "busy", "\"latency_ms\":60000", false, 0, &st[i]);
	ck_assert_int_eq(cx_tenant_stop(cl, "busy", NULL), CX_OK);
	for (int i = 0; i < 200; i++) {
		assert_final_with_kind(st[i].run_id, "killed");
		assert_gone(st[i].pid, "a worker survived tenant stop:");
	}
	ck_assert_int_eq(tenant_pid("busy"), 0);
	/* stop answers once the runs are final; councild says stopped once it
	 * has reaped the supervisor, which may still be freeing them. */
	ck_assert_msg(th_wait_until(tenant_says, "busy\0stopped", DEADLINE_MS),
		      "awaited Status: stopped in tenants/busy/status");
}
END_TEST

/* Found by the soak: tenant_stop was answered once the tenant's runs were
 * final, before its supervisor had exited, and a tenant_start right after
 * it was turned away: "tenant is stopping". */
START_TEST(test_tenant_stop_answers_once_the_tenant_is_stopped)
{
	struct cx_started st;
	for (int i = 0; i < 20; i++)
		start_in(cl, "brief", "\"latency_ms\":60000", false, 0, &st);
	ck_assert_int_eq(cx_tenant_stop(cl, "brief", NULL), CX_OK);
	char path[4096];
	snprintf(path, sizeof path, "%s/tenants/brief/status", scratch);
	char *status = th_read_file(path, NULL);
	ck_assert_msg(status && strstr(status, "Status:\tstopped\n"), "tenant status: %s", status);
	free(status);
	ck_assert_int_eq(cx_tenant_start(cl, "brief", NULL), CX_OK);
	start_in(cl, "brief", "", false, 0, &st);
	ck_assert_int_eq(await_result(st.run_id), CX_RUN_COMPLETED);
}
END_TEST

START_TEST(test_councild_sigkilled_leaves_nothing_and_the_next_one_finalizes)
{
	struct cx_started st[3];
	for (int i = 0; i < 3; i++)
		start_in(cl, "doomed", "\"latency_ms\":60000", false, 0, &st[i]);
	councild_sigkill();
	ck_assert_msg(th_no_descendants(10000), "processes outlived councild");
	councild_start();
	for (int i = 0; i < 3; i++)
		assert_final_with_kind(st[i].run_id, "supervisor_down");
}
END_TEST

START_TEST(test_councild_sigterm_finalizes_every_run)
{
	struct cx_started st[3];
	for (int i = 0; i < 3; i++)
		start_in(cl, i ? "t2" : "t1", "\"latency_ms\":60000", false, 0, &st[i]);
	councild_stop();
	for (int i = 0; i < 3; i++)
		assert_final_with_kind(st[i].run_id, "killed");
	ck_assert_msg(th_no_descendants(5000), "processes outlived councild's shutdown");
	councild_start(); /* teardown stops one */
}
END_TEST

static char *tenant_status(const char *tenant)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/tenants/%s/status", scratch, tenant);
	return th_read_file(path, NULL);
}

/* A script's kill $(awk '/^Pid:/ {print $2}' .../status) must not be
 * kill 0, which hits its own process group. */
START_TEST(test_a_stopped_tenant_says_no_pid)
{
	struct cx_started st;
	start_in(cl, "quiet", "", false, 0, &st);
	ck_assert_int_eq(cx_tenant_stop(cl, "quiet", NULL), CX_OK);
	char *status = tenant_status("quiet");
	ck_assert_msg(status && strstr(status, "Status:\tstopped\n") && strstr(status, "Pid:\t-\n"),
		      "tenants/quiet/status: %s", status);
	free(status);
}
END_TEST

/* A councild SIGKILLed left its tenant saying running, with a dead Pid:
 * the next one, which runs no supervisor for it, says what is so. */
START_TEST(test_a_tenant_status_is_truthful_after_councild_was_sigkilled)
{
	struct cx_started st;
	start_in(cl, "orphan", "\"latency_ms\":60000", false, 0, &st);
	char *status = tenant_status("orphan");
	ck_assert_msg(status && strstr(status, "Status:\trunning\n"), "tenants/orphan/status: %s", status);
	free(status);
	councild_sigkill();
	ck_assert_msg(th_no_descendants(10000), "processes outlived councild");
	councild_start();
	status = tenant_status("orphan");
	ck_assert_msg(status && strstr(status, "Status:\tstopped\n") && strstr(status, "Pid:\t-\n"),
		      "after a new councild started, tenants/orphan/status: %s", status);
	free(status);
}
END_TEST

/* The value of key in the run's status file, as a number; -1 without one. */
static long long status_number(const char *run_id, const char *key)
{
	char *status = run_file(run_id, "status"), *at = status ? strstr(status, key) : NULL;
	long long n = at ? atoll(at + strlen(key)) : -1;
	free(status);
	return n;
}

static long long lines_of(const char *run_id, const char *name)
{
	char *text = run_file(run_id, name);
	long long n = 0;
	for (char *p = text; p && (p = strchr(p, '\n')); p++)
		n++;
	free(text);
	return n;
}

/* docs/status-files.md: Events may trail the events file by at most
 * 250 ms, tokens included, not by a round. */
START_TEST(test_events_count_in_status_follows_within_the_lag)
{
	struct cx_started st;
	start_in(cl, NULL, "\"words\":4096,\"chunk_delay_ms\":20", false, 0, &st);
	long long written;
	uint64_t deadline = cx_mono_ms() + DEADLINE_MS;
	while ((written = lines_of(st.run_id, "events")) < 40) {
		ck_assert_msg(cx_mono_ms() < deadline, "awaited 40 events, %lld written", written);
		usleep(20000);
	}
	deadline = cx_mono_ms() + DEADLINE_MS;
	while (status_number(st.run_id, "\nEvents:\t") < written) {
		ck_assert_msg(cx_mono_ms() < deadline, "awaited Events: %lld in the status; it says %lld",
			      written, status_number(st.run_id, "\nEvents:\t"));
		usleep(20000);
	}
	char *status = run_file(st.run_id, "status");
	ck_assert_msg(strstr(status, "Round:\tindependent_analysis 0\n"),
		      "the round ended before the count caught up: %s", status);
	free(status);
	ck_assert_int_eq(cx_terminate_run(cl, st.run_id, NULL), CX_OK);
	await_result(st.run_id);
}
END_TEST

/* Processes whose command line is "sleep 340N.<our pid>": what the member
 * that times out started (one setsid()s away from us: /proc is searched
 * whole, and the suffix tells them from another test's). */
static bool timed_out_tree_gone(void *unused)
{
	(void)unused;
	return th_sleeps("340", th_sleep_of_ours) == 0;
}

/* A member past its timeout_ms is killed with everything it started, the
 * process that setsid() away included, while the rest of its run goes on. */
START_TEST(test_a_timed_out_member_tree_is_killed_at_its_timeout)
{
	char *spec;
	int me = (int)getpid();
	ck_assert(asprintf(&spec,
		"{\"id\":\"slowpoke\",\"members\":["
		"{\"id\":\"late\",\"timeout_ms\":500,\"retry\":{\"max\":1},\"profile\":{\"provider\":\"exec\","
		"\"command\":[\"sh\",\"-c\",\"setsid sleep 3401.%d & sleep 3402.%d & exec sleep 3400.%d\"]}},"
		"{\"id\":\"patient\",\"profile\":{\"provider\":\"mock\",\"latency_ms\":60000}}],"
		"\"rounds\":[{\"type\":\"independent_analysis\"}]}", me, me, me) > 0);
	struct cx_client_start req = { .spec_json = spec };
	struct cx_started st;
	struct cx_error err = { 0 };
	ck_assert_msg(cx_start(cl, &req, &st, NULL, &err) == CX_OK, "start: %s", err.message);
	free(spec);
	uint64_t deadline = cx_mono_ms() + DEADLINE_MS;
	for (;;) {
		char *events = run_file(st.run_id, "events");
		bool timed_out = events && strstr(events, "\"status\":\"timeout\"");
		free(events);
		if (timed_out)
			break;
		ck_assert_msg(cx_mono_ms() < deadline, "awaited the member's timeout");
		usleep(20000);
	}
	ck_assert_msg(th_wait_until(timed_out_tree_gone, NULL, DEADLINE_MS),
		      "what the timed-out member started outlived its timeout");
	struct cx_run_summary s;
	ck_assert_int_eq(cx_state(cl, st.run_id, &s, NULL), CX_OK);
	ck_assert_msg(s.status == CX_RUN_RUNNING, "the run ended (%s) before the check",
		      cx_run_status_name(s.status));
	ck_assert_int_eq(cx_terminate_run(cl, st.run_id, NULL), CX_OK);
	await_result(st.run_id);
}
END_TEST

/* Processes "sleep 3500.<our pid>": what a member moved out of its run's
 * cgroup. */
static bool escapee_gone(void *unused)
{
	(void)unused;
	return th_sleeps("3500.", th_sleep_of_ours) == 0;
}

/* The cgroup2 mount, as our own cgroup's directory (the mount and our
 * path in it) less our path (/proc/self/cgroup's "0::" line). */
static bool cgroup_mount(char *out, size_t size)
{
	char *text = th_read_file("/proc/self/cgroup", NULL);
	char *line = text ? strstr(text, "0::") : NULL;
	bool ok = line && cx_cgroup_self_path(out, size) == 0;
	if (ok) {
		line += 3;
		line[strcspn(line, "\n")] = '\0';
		size_t n = strlen(out), m = strcmp(line, "/") ? strlen(line) : 0;
		ok = n >= m && !strcmp(out + n - m, line + (m ? 0 : 1));
		out[n - m] = '\0';
	}
	free(text);
	return ok;
}

/* Starts run "escape", whose member moves a `sleep 3500.<our pid>` out of
 * its run's cgroup into its tenant's, which is delegated to the tenant's
 * owner, then runs then (shell). False: no writable cgroup2 here. */
static bool start_escape(const char *then)
{
	char mount[4096];
	if (!cx_cgroup_available() || !cgroup_mount(mount, sizeof mount))
		return false;
	char *spec;
	/* Its cgroup is .../<tenant>/escape/command-1: the tenant's is what
	 * comes before /escape. */
	ck_assert(asprintf(&spec,
		"{\"id\":\"escape\",\"members\":[{\"id\":\"m\",\"retry\":{\"max\":1},\"profile\":"
		"{\"provider\":\"exec\",\"command\":[\"sh\",\"-c\","
		"\"cg=$(sed -n 's/^0:://p' /proc/self/cgroup); "
		"sleep 3500.%d </dev/null >/dev/null 2>&1 & "
		"echo $! > '%s'\\\"${cg%%%%/escape/*}\\\"/cgroup.procs && %s\"]}}],"
		"\"rounds\":[{\"type\":\"independent_analysis\"}]}", (int)getpid(), mount, then) > 0);
	struct cx_client_start req = { .spec_json = spec, .run_id = "escape" };
	struct cx_started st;
	struct cx_error err = { 0 };
	ck_assert_msg(cx_start(cl, &req, &st, NULL, &err) == CX_OK, "start: %s", err.message);
	free(spec);
	return true;
}

/* A member can move what it started out of its run's cgroup into its
 * tenant's: it still dies when the run ends. */
START_TEST(test_a_member_that_left_its_runs_cgroup_dies_with_the_run)
{
	if (!start_escape("echo moved")) {
		printf("SKIP: no writable cgroup2 hierarchy here\n");
		return;
	}
	char *result = NULL;
	enum cx_run_status status;
	struct cx_error err = { 0 };
	ck_assert_msg(cx_fetch_result(cl, "escape", DEADLINE_MS, &result, &status, &err) == CX_OK,
		      "the run's result: %s", err.message);
	ck_assert_msg(status == CX_RUN_COMPLETED && strstr(result, "moved"),
		      "the member did not leave its cgroup: %s %s", cx_run_status_name(status), result);
	free(result);
	ck_assert_msg(th_wait_until(escapee_gone, NULL, DEADLINE_MS),
		      "what the member moved into its tenant's cgroup outlived the run");
}
END_TEST

static bool file_exists(void *path)
{
	return access(path, F_OK) == 0;
}

/* The guardian of a dead supervisor kills each run by its cgroup: what a
 * member moved into the tenant's cgroup dies as the tenant's next
 * supervisor starts. */
START_TEST(test_a_member_that_left_its_runs_cgroup_dies_when_its_supervisor_does)
{
	char moved[4096], then[4200];
	snprintf(moved, sizeof moved, "%s/moved", scratch);
	snprintf(then, sizeof then, "touch '%s' && exec sleep 3500.%d", moved, (int)getpid());
	if (!start_escape(then)) {
		printf("SKIP: no writable cgroup2 hierarchy here\n");
		return;
	}
	ck_assert_msg(th_wait_until(file_exists, moved, DEADLINE_MS),
		      "the member did not leave its cgroup (no %s)", moved);
	pid_t sup = tenant_pid("default");
	ck_assert_msg(sup > 0, "tenant default has no supervisor");
	kill(sup, SIGKILL);
	char *result = NULL;
	enum cx_run_status status;
	struct cx_error err = { 0 };
	ck_assert_msg(cx_fetch_result(cl, "escape", DEADLINE_MS, &result, &status, &err) == CX_OK,
		      "the run's result: %s", err.message);
	free(result);
	assert_final_with_kind("escape", "supervisor_down");
	ck_assert_msg(th_wait_until(escapee_gone, NULL, DEADLINE_MS),
		      "what the member moved into its tenant's cgroup outlived its supervisor");
}
END_TEST

/* Ownership and guardians (docs/supervision.md): a run is its owner's
 * alone, and when its owner dies, its guardian (else the next reader)
 * finishes it. */

/* `councilctl run SPEC --run-id ID`, an embedded supervisor on this test's
 * runtime directory, its output into files of the scratch directory. */
static pid_t run_command(const char *spec_json, const char *run_id)
{
	char spec[4096], out[4096];
	snprintf(spec, sizeof spec, "%s/%s.json", scratch, run_id);
	snprintf(out, sizeof out, "%s/%s.out", scratch, run_id);
	th_write_file(spec, spec_json);
	pid_t pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		execl(getenv("COUNCILCTL"), "councilctl", "run", spec, "--run-id", run_id, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static int exit_code(pid_t pid)
{
	int status;
	ck_assert(waitpid(pid, &status, 0) == pid);
	ck_assert_msg(WIFEXITED(status), "councilctl died of signal %d", WTERMSIG(status));
	return WEXITSTATUS(status);
}

static bool status_says(const char *run_id, const char *what)
{
	char *status = run_file(run_id, "status");
	bool yes = status && strstr(status, what);
	free(status);
	return yes;
}

static bool run_final(void *run_id)
{
	char *status = run_file(run_id, "status");
	bool final = status && !strstr(status, "Status:\trunning\n") &&
		     !strstr(status, "Status:\tpending\n") && !strstr(status, "Exit:\t-\n");
	free(status);
	return final;
}

static bool member_started(void *run_id)
{
	char *events = run_file(run_id, "events");
	bool yes = events && strstr(events, "\"type\":\"member_started\"");
	free(events);
	return yes;
}

/* A child of parent whose name (comm) is name, or 0. */
static pid_t child_named(pid_t parent, const char *name)
{
	pid_t found = 0;
	DIR *d = opendir("/proc");
	for (struct dirent *e; d && !found && (e = readdir(d));) {
		char path[300], comm[64], state;
		int ppid;
		snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
		FILE *f = atoi(e->d_name) > 0 ? fopen(path, "r") : NULL;
		if (f && fscanf(f, "%*d (%63[^)]) %c %d", comm, &state, &ppid) == 3 &&
		    ppid == parent && state != 'Z' && !strcmp(comm, name))
			found = atoi(e->d_name);
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return found;
}

START_TEST(test_an_embedded_run_is_left_to_its_owner_by_a_councild_started_beside_it)
{
	councild_stop();
	pid_t ctl = run_command("{\"id\":\"c\",\"members\":[{\"id\":\"m\",\"profile\":"
				"{\"provider\":\"mock\",\"latency_ms\":3000}}],"
				"\"rounds\":[{\"type\":\"independent_analysis\"}]}", "emb");
	ck_assert_msg(th_wait_until(member_started, "emb", DEADLINE_MS), "awaited the run's member");
	/* What `councilctl state emb` does on a directory with no councild. */
	councild_start();
	struct cx_run_summary s;
	ck_assert_int_eq(cx_state(cl, "emb", &s, NULL), CX_OK);
	ck_assert_int_eq(exit_code(ctl), 0);
	assert_final_with_kind("emb", "none");
	ck_assert_msg(status_says("emb", "Status:\tcompleted\n"), "the embedded run did not complete");
}
END_TEST

/* Found by the soak: a supervisor killed between a run's two status files
 * (summary.json, then status) left status saying the run lived on, for
 * good: the run was final by its summary, so no finalizer looked at it. */
START_TEST(test_a_status_its_dead_supervisor_left_behind_is_put_right)
{
	councild_stop();
	pid_t ctl = run_command("{\"id\":\"c\",\"members\":[{\"id\":\"m\",\"profile\":"
				"{\"provider\":\"mock\"}}],"
				"\"rounds\":[{\"type\":\"independent_analysis\"}]}", "torn");
	ck_assert_int_eq(exit_code(ctl), 0);
	char *status = run_file("torn", "status"), *at = strstr(status, "Status:\tcompleted\n");
	ck_assert_msg(at, "the run did not complete: %s", status);
	char path[4096], *behind;
	ck_assert(asprintf(&behind, "%.*sStatus:\trunning\n%s", (int)(at - status), status,
			   at + strlen("Status:\tcompleted\n")) > 0);
	snprintf(path, sizeof path, "%s/runs/torn/status", scratch);
	th_write_file(path, behind);
	councild_start();
	ck_assert_msg(th_wait_until(run_final, "torn", DEADLINE_MS),
		      "awaited the status of a run whose supervisor died to say it is over");
	ck_assert_msg(status_says("torn", "Status:\tcompleted\n"), "the status does not say completed");
	free(behind);
	free(status);
}
END_TEST

START_TEST(test_a_sigkilled_run_command_leaves_no_member_and_a_final_run)
{
	pid_t ctl = run_command(escaping_council, "emb");
	uint64_t deadline = cx_mono_ms() + DEADLINE_MS;
	while (escaped_sleeps() < 3) {
		ck_assert_msg(cx_mono_ms() < deadline, "awaited the members, %d sleeps seen", escaped_sleeps());
		usleep(50000);
	}
	kill(ctl, SIGKILL);
	waitpid(ctl, NULL, 0);
	/* No other command: its guardian alone. */
	ck_assert_msg(th_wait_until(no_escaped_sleeps, NULL, DEADLINE_MS),
		      "%d member processes outlived councilctl run", escaped_sleeps());
	ck_assert_msg(th_wait_until(run_final, "emb", DEADLINE_MS), "awaited the run to be final");
	assert_final_with_kind("emb", "supervisor_down");
}
END_TEST

static bool tenant_final(void *tenant)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/tenants/%s/status", scratch, (const char *)tenant);
	char *status = th_read_file(path, NULL);
	bool final = status && strstr(status, "Status:\tfailed\n") && strstr(status, "Pid:\t-\n");
	free(status);
	return final;
}

START_TEST(test_councild_sigkilled_leaves_no_member_and_every_run_and_tenant_final)
{
	struct cx_started st[2];
	start_escaping("t1", 1, &st[0]);
	start_escaping("t2", 1, &st[1]);
	councild_sigkill();
	/* No councild starts: the tenants' guardians do it all. */
	ck_assert_msg(th_wait_until(no_escaped_sleeps, NULL, DEADLINE_MS),
		      "%d member processes outlived councild", escaped_sleeps());
	for (int i = 0; i < 2; i++) {
		ck_assert_msg(th_wait_until(run_final, st[i].run_id, DEADLINE_MS),
			      "awaited run %d to be final", i);
		assert_final_with_kind(st[i].run_id, "supervisor_down");
	}
	ck_assert_msg(th_wait_until(tenant_final, "t1", DEADLINE_MS), "tenant t1 still says it runs");
	ck_assert_msg(th_wait_until(tenant_final, "t2", DEADLINE_MS), "tenant t2 still says it runs");
	councild_start(); /* teardown stops one */
}
END_TEST

START_TEST(test_a_run_whose_supervisor_and_guardian_died_is_finalized_once_by_its_next_reader)
{
	pid_t ctl = run_command(escaping_council, "emb"), guardian = 0;
	uint64_t deadline = cx_mono_ms() + DEADLINE_MS;
	while (escaped_sleeps() < 3 || !member_started("emb") || !(guardian = child_named(ctl, "council-launch"))) {
		ck_assert_msg(cx_mono_ms() < deadline, "awaited the members and the launcher, %d sleeps seen",
			      escaped_sleeps());
		usleep(50000);
	}
	kill(guardian, SIGKILL);
	kill(ctl, SIGKILL);
	waitpid(ctl, NULL, 0);
	struct cx_run_summary s;
	ck_assert_int_eq(cx_state(cl, "emb", &s, NULL), CX_OK);
	ck_assert_msg(s.status == CX_RUN_FAILED, "state says %s", cx_run_status_name(s.status));
	assert_final_with_kind("emb", "supervisor_down");
	ck_assert_msg(th_wait_until(no_escaped_sleeps, NULL, DEADLINE_MS),
		      "%d member processes outlived their run", escaped_sleeps());
	/* Readers after it find it final, and append nothing. */
	ck_assert_int_eq(cx_state(cl, "emb", &s, NULL), CX_OK);
	assert_final_with_kind("emb", "supervisor_down");
}
END_TEST

/* A supervisor dies between its run's terminal event and the result.json
 * and status that follow it: whoever finalizes writes them from the event. */
START_TEST(test_a_run_whose_supervisor_died_after_its_terminal_event_gets_its_result)
{
	char *spec = council("");
	pid_t ctl = run_command(spec, "late");
	free(spec);
	ck_assert_int_eq(exit_code(ctl), 0);
	/* Its files as the supervisor left them, had it died there: the
	 * terminal event out, result.json not yet, the status not final. */
	char path[4096];
	snprintf(path, sizeof path, "%s/runs/late/result.json", scratch);
	ck_assert_int_eq(unlink(path), 0);
	char *summary = run_file("late", "summary.json"), *at = strstr(summary, "\"completed\"");
	ck_assert_msg(at, "summary.json: %s", summary);
	memcpy(at, "\"running\"  ", 11);
	snprintf(path, sizeof path, "%s/runs/late/summary.json", scratch);
	th_write_file(path, summary);
	free(summary);
	struct cx_run_summary s;
	ck_assert_int_eq(cx_state(cl, "late", &s, NULL), CX_OK);
	ck_assert_msg(s.status == CX_RUN_COMPLETED, "state says %s", cx_run_status_name(s.status));
	assert_final_with_kind("late", "none");
	char *result = run_file("late", "result.json");
	ck_assert_msg(result && strstr(result, "\"final\""), "result.json: %s", result ? result : "(none)");
	free(result);
}
END_TEST

START_TEST(test_a_stopped_launcher_does_not_freeze_its_tenant)
{
	struct cx_started st;
	start_in(cl, "frozen", "", false, 0, &st);
	await_result(st.run_id);
	pid_t sup = tenant_pid("frozen"), launcher = sup > 0 ? child_named(sup, "council-launch") : 0;
	ck_assert_msg(launcher > 0, "tenant frozen has no launcher");
	kill(launcher, SIGSTOP);
	start_in(cl, "frozen", "", false, 0, &st);
	struct cx_child *children = NULL;
	size_t n;
	ck_assert_int_eq(cx_which_children(cl, "frozen", &children, &n, NULL), CX_OK);
	free(children);
	ck_assert_int_eq(await_result(st.run_id), CX_RUN_COMPLETED);
	kill(launcher, SIGCONT); /* replaced, and killed: nothing, if all went well */
}
END_TEST

START_TEST(test_a_launcher_started_anew_guards_the_runs_before_it)
{
	struct cx_started st, later;
	start_escaping("regard", 1, &st);
	pid_t sup = tenant_pid("regard"), launcher = sup > 0 ? child_named(sup, "council-launch") : 0;
	ck_assert_msg(launcher > 0, "tenant regard has no launcher");
	kill(launcher, SIGSTOP); /* the next start replaces it */
	start_in(cl, "regard", "", false, 0, &later);
	councild_sigkill();
	ck_assert_msg(th_wait_until(no_escaped_sleeps, NULL, DEADLINE_MS),
		      "%d members of a run started before its launcher outlived their tenant",
		      escaped_sleeps());
	ck_assert_msg(th_wait_until(run_final, st.run_id, DEADLINE_MS), "awaited the run to be final");
	assert_final_with_kind(st.run_id, "supervisor_down");
	councild_start(); /* teardown stops one */
}
END_TEST

static bool run_expired(void *arg)
{
	const char *run_id = arg;
	struct cx_run_summary s;
	char path[4096];
	snprintf(path, sizeof path, "%s/runs/%s", scratch, run_id);
	return cx_state(cl, run_id, &s, NULL) == CX_ENOT_FOUND && access(path, F_OK) < 0;
}

START_TEST(test_retention_removes_finished_runs_by_count_and_age)
{
	static const char *const retention[] = { "--retention-count", "2", "--retention-ms", "3000", NULL };
	councild_stop();
	councild_start_with(retention);
	struct cx_started st[4];
	for (int i = 0; i < 4; i++) {
		start_in(cl, "keep", "", false, 0, &st[i]);
		await_result(st[i].run_id);
	}
	for (int i = 0; i < 2; i++)
		ck_assert_msg(th_wait_until(run_expired, st[i].run_id, DEADLINE_MS),
			      "awaited run %d to expire by count", i);
	pid_t pid;
	ck_assert_int_eq(cx_pid_for(cl, st[0].run_id, &pid, NULL), CX_EUNKNOWN_RUN);
	char link[4096];
	snprintf(link, sizeof link, "%s/tenants/keep/runs/%s", scratch, st[0].run_id);
	ck_assert_msg(access(link, F_OK) < 0, "the tenant's link to an expired run is still there");
	for (int i = 2; i < 4; i++)
		ck_assert_msg(th_wait_until(run_expired, st[i].run_id, DEADLINE_MS),
			      "awaited run %d to expire by age", i);
}
END_TEST

static int open_fds(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	int n = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

struct fd_bound {
	pid_t pid;
	int most;
};

static bool fds_within(void *arg)
{
	struct fd_bound *b = arg;
	return open_fds(b->pid) <= b->most;
}

static char *read_to_eof(int fd)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	ssize_t n;
	while ((n = read(fd, buf + len, cap - len - 1)) > 0)
		if ((len += (size_t)n) + 1 >= cap)
			buf = realloc(buf, cap *= 2);
	buf[len] = '\0';
	close(fd);
	return buf;
}

START_TEST(test_unsubscribe_releases_the_subscription_at_once)
{
	ck_assert_int_eq(cx_tenant_start(cl, "subs", NULL), CX_OK);
	char *spec = council("\"latency_ms\":600000");
	struct cx_client_start req = { .spec_json = spec, .tenant = "subs" };
	struct cx_started st;
	ck_assert_int_eq(cx_start(cl, &req, &st, NULL, NULL), CX_OK);
	free(spec);
	int fds[8];
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(cx_subscribe(cl, st.run_id, 1, &fds[i], NULL), CX_OK);
	/* Each subscription holds its pipe's write end in the tenant. */
	struct fd_bound bound = { tenant_pid("subs"), 0 };
	int with = open_fds(bound.pid);
	bound.most = with - 8;
	for (int i = 0; i < 8; i++)
		cx_unsubscribe(fds[i]);
	/* The run emits nothing meanwhile: only the closes can release them. */
	ck_assert_msg(th_wait_until(fds_within, &bound, DEADLINE_MS),
		      "awaited the tenant supervisor to drop 8 subscriptions: it holds %d descriptors, "
		      "%d with them", open_fds(bound.pid), with);
	ck_assert_int_eq(cx_terminate_run(cl, st.run_id, NULL), CX_OK);
}
END_TEST

START_TEST(test_finished_runs_hold_nothing_in_their_tenant_and_replay_from_files)
{
	ck_assert_int_eq(cx_tenant_start(cl, "many", NULL), CX_OK);
	/* Its descriptors counted once it is up: its status file is the last
	 * thing it writes as it starts. */
	ck_assert_msg(th_wait_until(tenant_says, "many\0running", DEADLINE_MS),
		      "awaited Status: running in tenants/many/status");
	struct fd_bound bound = { tenant_pid("many"), 0 };
	bound.most = open_fds(bound.pid) + 8;
	char *spec = council("");
	struct cx_client_start req = { .spec_json = spec, .tenant = "many", .subscribe = true };
	struct cx_started first;
	ck_assert_int_eq(cx_start(cl, &req, &first, NULL, NULL), CX_OK);
	char *live = read_to_eof(first.subscriber_fd);
	req.subscribe = false;
	for (int i = 0; i < 40; i++) {
		struct cx_started st;
		ck_assert_int_eq(cx_start(cl, &req, &st, NULL, NULL), CX_OK);
		await_result(st.run_id);
	}
	free(spec);
	ck_assert_msg(th_wait_until(fds_within, &bound, DEADLINE_MS),
		      "the tenant supervisor holds %d descriptors after its runs ended, at most %d expected",
		      open_fds(bound.pid), bound.most);
	int fd;
	ck_assert_int_eq(cx_subscribe(cl, first.run_id, 1, &fd, NULL), CX_OK);
	char *replayed = read_to_eof(fd);
	char *events = run_file(first.run_id, "events");
	char *nl = strchr(live, '\n');
	ck_assert_msg(nl, "the live subscriber got no whole line");
	*nl = '\0';
	ck_assert_msg(!strncmp(live, "{\"seq\":1,", 9) && strstr(live, "\"type\":\"run_started\""),
		      "the live subscriber's first line is not run_started: %.120s", live);
	*nl = '\n';
	ck_assert_str_eq(live, events);
	ck_assert_str_eq(replayed, events);
	free(live);
	free(replayed);
	free(events);
}
END_TEST

/* The seq a subscriber's stream accounts for to its end: each line whole,
 * each event the seq after the last, each lagged line standing for as many
 * as it says. */
static uint64_t stream_accounts_to(const char *stream)
{
	uint64_t next = 1;
	for (const char *line = stream; *line;) {
		const char *nl = strchr(line, '\n');
		ck_assert_msg(nl, "the stream ends in a torn line after seq %llu: %.80s",
			      (unsigned long long)next - 1, line);
		cJSON *ev = cJSON_ParseWithLength(line, (size_t)(nl - line));
		const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "type"));
		double seq = cJSON_GetNumberValue(cJSON_GetObjectItem(ev, "seq"));
		ck_assert_msg(type, "not an event: %.80s", line);
		if (!strcmp(type, "lagged"))
			next += (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(ev, "dropped"));
		else
			ck_assert_msg(seq == (double)next++, "seq %.0f where %llu was due", seq,
				      (unsigned long long)next - 1);
		cJSON_Delete(ev);
		line = nl + 1;
	}
	return next - 1;
}

/* The seq of the last line of the run's events file. */
static uint64_t last_seq(const char *run_id)
{
	char *events = run_file(run_id, "events");
	ck_assert_msg(events && *events, "run %s has no events", run_id);
	events[strlen(events) - 1] = '\0';
	char *last = strrchr(events, '\n');
	cJSON *ev = cJSON_Parse(last ? last + 1 : events);
	uint64_t seq = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(ev, "seq"));
	cJSON_Delete(ev);
	free(events);
	return seq;
}

/* councild serves a subscription to a live run it does not supervise (an
 * embedded supervisor's) from the run's events file: it followed the file
 * to its end as it was at the request and closed the pipe there, so the
 * subscriber lost the rest of the run, its terminal event included. */
START_TEST(test_a_subscriber_of_an_embedded_run_gets_the_whole_run)
{
	pid_t ctl = run_command("{\"id\":\"c\",\"members\":[{\"id\":\"m\",\"profile\":"
				"{\"provider\":\"mock\",\"latency_ms\":1500}}],"
				"\"rounds\":[{\"type\":\"independent_analysis\"}]}", "emb");
	ck_assert_msg(th_wait_until(member_started, "emb", DEADLINE_MS), "awaited the run's member");
	int fd;
	ck_assert_int_eq(cx_subscribe(cl, "emb", 1, &fd, NULL), CX_OK);
	char *stream = read_to_eof(fd);
	ck_assert_int_eq(exit_code(ctl), 0);
	ck_assert_uint_eq(stream_accounts_to(stream), last_seq("emb"));
	ck_assert_msg(strstr(stream, "\"type\":\"run_completed\""), "the stream has no run_completed");
	free(stream);
}
END_TEST

/* Found by the soak: a tenant that stopped closed, mid-line, the pipes of
 * the subscribers that had not read all of their runs: they lost the end
 * of the run, its terminal event included. councild serves them now. */
START_TEST(test_a_subscriber_gets_the_whole_run_across_its_tenant_stop)
{
	char *spec = council("\"words\":3000");
	struct cx_client_start req = { .spec_json = spec, .tenant = "talky", .subscribe = true };
	struct cx_started st;
	ck_assert_int_eq(cx_start(cl, &req, &st, NULL, NULL), CX_OK);
	free(spec);
	ck_assert_int_eq(await_result(st.run_id), CX_RUN_COMPLETED);
	ck_assert_int_eq(cx_tenant_stop(cl, "talky", NULL), CX_OK);
	ck_assert_msg(th_wait_until(tenant_down, "talky", DEADLINE_MS), "awaited tenant talky to stop");
	char *seen = read_to_eof(st.subscriber_fd);
	ck_assert_msg(*seen, "the subscriber got nothing");
	uint64_t got = stream_accounts_to(seen), want = last_seq(st.run_id);
	ck_assert_msg(got == want, "the subscriber got to seq %llu, the run has %llu events",
		      (unsigned long long)got, (unsigned long long)want);
	free(seen);
}
END_TEST

/* The first line of a subscriber pipe, read byte by byte (blocking). */
static void first_line(int fd, char *line, size_t size)
{
	size_t n = 0;
	while (n + 1 < size && read(fd, &line[n], 1) == 1 && line[n] != '\n')
		n++;
	line[n] = '\0';
}

START_TEST(test_subscribe_at_start_never_misses_run_started)
{
	char *spec = council("");
	struct cx_client_start req = { .spec_json = spec, .tenant = "subs", .subscribe = true };
	for (int i = 0; i < 200; i++) {
		struct cx_started st;
		struct cx_error err = { 0 };
		ck_assert_msg(cx_start(cl, &req, &st, NULL, &err) == CX_OK, "start %d: %s", i, err.message);
		char line[512];
		first_line(st.subscriber_fd, line, sizeof line);
		close(st.subscriber_fd);
		ck_assert_msg(!strncmp(line, "{\"seq\":1,", 9) && strstr(line, "\"type\":\"run_started\""),
			      "run %d: the first event is not run_started: %.160s", i, line);
	}
	free(spec);
}
END_TEST

START_TEST(test_second_councild_on_one_directory_is_refused)
{
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, STDERR_FILENO);
		execl(getenv("COUNCILD"), "councild", "--foreground", "--runtime-dir", scratch, NULL);
		_exit(127);
	}
	int status;
	ck_assert(waitpid(pid, &status, 0) == pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1,
		      "a second councild should exit 1, status %#x", status);
}
END_TEST

/* A run's directory as if a supervisor of tenant default had left it
 * there, with this summary.json. */
static void plant_run(const char *run_id, const char *summary)
{
	char path[4096];
	const char *dirs[] = { "runs", "tenants", "tenants/default" };
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", scratch, dirs[i]);
		ck_assert_msg(mkdir(path, 0700) == 0 || errno == EEXIST, "mkdir %s: %s", path,
			      strerror(errno));
	}
	snprintf(path, sizeof path, "%s/runs/%s", scratch, run_id);
	ck_assert_msg(mkdir(path, 0755) == 0, "mkdir %s: %s", path, strerror(errno));
	snprintf(path, sizeof path, "%s/runs/%s/summary.json", scratch, run_id);
	th_write_file(path, summary);
}

/* What councild reads back from the runtime directory is checked like any
 * input (the fuzz corpus of tests/fuzz/corpus/status has more): numbers
 * missing or out of range read as their defaults, and a summary naming
 * another run is no record of the run it sits in. */
START_TEST(test_summaries_read_back_are_checked)
{
	plant_run("sparse", "{\"run_id\":\"sparse\",\"tenant\":\"default\",\"status\":\"completed\","
		  "\"exit\":\"exited 0\",\"current_round\":{\"name\":\"r\"},\"rounds_completed\":1e300,\"pid\":-1e19}");
	plant_run("planted", "{\"run_id\":\"../../elsewhere\",\"status\":\"completed\","
		  "\"exit\":\"exited 0\"}");
	struct cx_run_summary s;
	struct cx_error err = { 0 };
	char *result = NULL;
	ck_assert_msg(cx_state(cl, "sparse", &s, &err) == CX_OK, "state: %s", err.message);
	ck_assert_int_eq(s.status, CX_RUN_COMPLETED);
	ck_assert_int_eq(s.rounds_completed, 0);
	ck_assert_int_eq(s.pid, 0);
	ck_assert_int_eq(cx_state(cl, "planted", &s, &err), CX_ENOT_FOUND);
	ck_assert_int_eq(cx_fetch_result(cl, "planted", 0, &result, NULL, &err), CX_ENOT_FOUND);
	ck_assert_ptr_null(result);
}
END_TEST

/* The status fuzzer's find: retention took the run id to remove from the
 * summary, and a summary without one had it remove runs/ whole. */
START_TEST(test_retention_removes_only_the_runs_it_has_a_record_of)
{
	static const char *const retention[] = { "--retention-count", "1", "--retention-ms", "60000", NULL };
	councild_stop();
	councild_start_with(retention);
	struct cx_started st[2];
	start_in(cl, "keep", "", false, 0, &st[0]);
	await_result(st[0].run_id);
	plant_run("planted", "{\"tenant\":\"keep\",\"status\":\"completed\",\"exit\":\"exited 0\","
		  "\"finished_at\":\"2000-01-01T00:00:00.000Z\"}");
	char path[4096];
	snprintf(path, sizeof path, "%s/tenants/keep/runs/planted", scratch);
	ck_assert(symlink("../../../runs/planted", path) == 0);
	start_in(cl, "keep", "", false, 0, &st[1]);
	await_result(st[1].run_id);
	ck_assert_msg(th_wait_until(run_expired, st[0].run_id, DEADLINE_MS),
		      "awaited the first run to expire by count");
	struct cx_run_summary s;
	ck_assert_int_eq(cx_state(cl, st[1].run_id, &s, NULL), CX_OK);
	snprintf(path, sizeof path, "%s/runs/planted/summary.json", scratch);
	ck_assert_msg(access(path, F_OK) == 0, "retention removed a run it has no record of");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("councild");
	TCase *tc = tcase_create("tree");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_linked_run_dies_with_its_caller);
	tcase_add_test(tc, test_unlinked_run_survives_its_caller);
	tcase_add_test(tc, test_run_id_of_a_dead_worker_is_unknown_run_before_its_tenant_says_so);
	tcase_add_test(tc, test_exit_signal_reaches_a_linked_caller_when_its_run_crashes);
	tcase_add_test(tc, test_linked_caller_gets_an_exit_message);
	tcase_add_test(tc, test_a_refused_linked_start_leaves_no_link_behind);
	tcase_add_test(tc, test_monitor_gets_exactly_one_down_with_its_reason);
	tcase_add_test(tc, test_monitor_of_a_dead_run_is_noproc);
	tcase_add_test(tc, test_shutdown_ms_is_honoured_for_a_worker_that_ignores_sigterm);
	tcase_add_test(tc, test_tenant_supervisor_killed_takes_its_runs_and_restarts);
	tcase_add_test(tc, test_a_request_its_tenant_took_down_is_answered_from_the_files);
	tcase_add_test(tc, test_tenant_crashing_four_times_in_five_seconds_stays_down);
	tcase_add_test(tc, test_terminate_all_leaves_every_run_final);
	tcase_add_test(tc, test_terminate_all_reaches_members_that_left_their_process_group);
	tcase_add_test(tc, test_a_member_that_left_its_runs_cgroup_dies_with_the_run);
	tcase_add_test(tc, test_a_member_that_left_its_runs_cgroup_dies_when_its_supervisor_does);
	tcase_add_test(tc, test_tenant_stop_with_200_runs_leaves_200_final_runs_and_no_process);
	tcase_add_test(tc, test_tenant_stop_answers_once_the_tenant_is_stopped);
	tcase_add_test(tc, test_councild_sigkilled_leaves_nothing_and_the_next_one_finalizes);
	tcase_add_test(tc, test_an_embedded_run_is_left_to_its_owner_by_a_councild_started_beside_it);
	tcase_add_test(tc, test_a_subscriber_of_an_embedded_run_gets_the_whole_run);
	tcase_add_test(tc, test_a_sigkilled_run_command_leaves_no_member_and_a_final_run);
	tcase_add_test(tc, test_a_status_its_dead_supervisor_left_behind_is_put_right);
	tcase_add_test(tc, test_councild_sigkilled_leaves_no_member_and_every_run_and_tenant_final);
	tcase_add_test(tc, test_a_run_whose_supervisor_and_guardian_died_is_finalized_once_by_its_next_reader);
	tcase_add_test(tc, test_a_run_whose_supervisor_died_after_its_terminal_event_gets_its_result);
	tcase_add_test(tc, test_a_stopped_launcher_does_not_freeze_its_tenant);
	tcase_add_test(tc, test_a_launcher_started_anew_guards_the_runs_before_it);
	tcase_add_test(tc, test_councild_sigterm_finalizes_every_run);
	tcase_add_test(tc, test_a_stopped_tenant_says_no_pid);
	tcase_add_test(tc, test_a_tenant_status_is_truthful_after_councild_was_sigkilled);
	tcase_add_test(tc, test_events_count_in_status_follows_within_the_lag);
	tcase_add_test(tc, test_a_timed_out_member_tree_is_killed_at_its_timeout);
	tcase_add_test(tc, test_retention_removes_finished_runs_by_count_and_age);
	tcase_add_test(tc, test_unsubscribe_releases_the_subscription_at_once);
	tcase_add_test(tc, test_finished_runs_hold_nothing_in_their_tenant_and_replay_from_files);
	tcase_add_test(tc, test_subscribe_at_start_never_misses_run_started);
	tcase_add_test(tc, test_a_subscriber_gets_the_whole_run_across_its_tenant_stop);
	tcase_add_test(tc, test_second_councild_on_one_directory_is_refused);
	tcase_add_test(tc, test_summaries_read_back_are_checked);
	tcase_add_test(tc, test_retention_removes_only_the_runs_it_has_a_record_of);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
