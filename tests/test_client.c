/* The client library and councilctl's daemon commands against a real
 * councild (docs/protocol.md), each test with its own councild in a
 * private runtime directory, leaving no process behind. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "council/council.h"
#include "council/spec.h"
#include "harness.h"

#define DEADLINE_MS 30000
#define QUIET_MS 1000     /* how long "nothing more comes" is watched for */

static char *scratch;
static pid_t councild;
static struct cx_client *cl;

static void setup(void)
{
	scratch = th_scratch_dir();
	councild = th_councild_start(scratch, NULL);
	cl = th_councild_connect(scratch, DEADLINE_MS);
}

/* SIGTERM: councild stops every tenant, then exits. */
static void teardown(void)
{
	cx_client_close(cl);
	cl = NULL;
	ck_assert_msg(th_councild_stop(councild, DEADLINE_MS) != -1,
		      "awaited councild's exit after SIGTERM");
	ck_assert_msg(th_no_descendants(5000), "processes were left behind");
	th_rm_rf(scratch);
	free(scratch);
}

/* A one-member mock council; profile adds to the member's profile. */
static const char *council(const char *profile)
{
	static char spec[1024];
	snprintf(spec, sizeof spec, "{\"id\":\"one\",\"members\":[{\"id\":\"m\",\"retry\":{\"max\":1},"
		 "\"profile\":{\"provider\":\"mock\"%s}}],\"rounds\":[{\"type\":\"independent_analysis\"}]}",
		 profile);
	return spec;
}

static struct cx_started start_run(const char *tenant, const char *profile, bool subscribe)
{
	struct cx_client_start req = {
		.spec_json = council(profile), .tenant = tenant, .subscribe = subscribe,
	};
	struct cx_started st;
	struct cx_error err = { 0 };
	int r = cx_start(cl, &req, &st, NULL, &err);
	ck_assert_msg(r == CX_OK, "start: %s: %s", cx_code_word(r), err.message);
	ck_assert_msg(cx_run_id_valid(st.run_id), "start gave run_id \"%s\"", st.run_id);
	return st;
}

/* Waits for the run's result; returns its final status. */
static enum cx_run_status await_result(const char *run_id, char **result)
{
	struct cx_error err = { 0 };
	enum cx_run_status status;
	char *text;
	int r = cx_fetch_result(cl, run_id, DEADLINE_MS, &text, &status, &err);
	ck_assert_msg(r == CX_OK, "awaited the result of %s: %s: %s", run_id, cx_code_word(r),
		      err.message);
	if (result)
		*result = text;
	else
		free(text);
	return status;
}

static const char *str(const cJSON *obj, const char *key)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));
	return s ? s : "";
}

static double num(const cJSON *obj, const char *key)
{
	return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(obj, key));
}

/* The next line of fd, with a deadline; NULL at EOF. */
static char *read_line(int fd, const char *what)
{
	static char line[1 << 16];
	size_t n = 0;
	uint64_t deadline = cx_mono_ms() + DEADLINE_MS;
	while (n < sizeof line - 1) {
		struct pollfd p = { fd, POLLIN, 0 };
		ck_assert_msg(poll(&p, 1, 100) >= 0 && cx_mono_ms() < deadline, "awaited %s", what);
		if (!p.revents)
			continue;
		ssize_t got = read(fd, line + n, 1);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got != 1)
			return n ? line : NULL;
		if (line[n++] == '\n')
			break;
	}
	line[n] = '\0';
	return line;
}

/* The next DOWN or EXIT, which must come. */
static cJSON *next_message(const char *what)
{
	struct cx_error err = { 0 };
	cJSON *msg = NULL;
	int r = cx_client_next_message(cl, DEADLINE_MS, &msg, &err);
	ck_assert_msg(r == CX_OK, "awaited %s: %s: %s", what, cx_code_word(r), err.message);
	return msg;
}

static void assert_no_message(const char *why)
{
	cJSON *msg = NULL;
	int r = cx_client_next_message(cl, QUIET_MS, &msg, NULL);
	char *text = msg ? cJSON_PrintUnformatted(msg) : NULL;
	ck_assert_msg(r == CX_ETIMEOUT, "%s, yet came: %s", why, text ? text : "(an error)");
	free(text);
	cJSON_Delete(msg);
}

START_TEST(test_hello_answers_with_the_protocol_version)
{
	ck_assert_int_eq(cx_client_server_pid(cl), councild);
	ck_assert_str_eq(cx_client_runtime_dir(cl), scratch);
	cJSON *req = cJSON_CreateObject(), *reply;
	cJSON_AddStringToObject(req, "op", "hello");
	cJSON_AddNumberToObject(req, "version", CX_PROTOCOL_VERSION);
	ck_assert_int_eq(cx_client_call(cl, req, &reply, NULL, DEADLINE_MS, NULL), CX_OK);
	ck_assert_int_eq((int)num(reply, "version"), CX_PROTOCOL_VERSION);
	ck_assert_msg(*str(reply, "server"), "hello's reply names no server");
	ck_assert_int_eq((int)num(reply, "pid"), councild);
	cJSON_Delete(reply);
}
END_TEST

START_TEST(test_started_run_has_state_and_result)
{
	struct cx_started st = start_run(NULL, "", false);
	ck_assert_str_eq(st.tenant, "default");
	ck_assert_msg(st.pid > 0, "start gave pid %d", (int)st.pid);
	struct cx_run_summary s;
	struct cx_error err = { 0 };
	ck_assert_int_eq(cx_state(cl, st.run_id, &s, &err), CX_OK);
	ck_assert_str_eq(s.run_id, st.run_id);
	ck_assert_str_eq(s.council, "one");
	ck_assert_str_eq(s.tenant, "default");
	ck_assert_msg(s.started_at_ms > 0, "state has no started_at");
	char *result;
	ck_assert_int_eq(await_result(st.run_id, &result), CX_RUN_COMPLETED);
	cJSON *json = cJSON_Parse(result);
	ck_assert_msg(cJSON_IsObject(json) && cJSON_GetObjectItem(json, "final"),
		      "the result has no final answer: %s", result);
	cJSON_Delete(json);
	free(result);
	ck_assert_int_eq(cx_state(cl, st.run_id, &s, &err), CX_OK);
	ck_assert_str_eq(cx_run_status_name(s.status), "completed");
	ck_assert_int_eq(s.rounds_completed, 1);
	ck_assert_msg(s.finished_at_ms >= s.started_at_ms, "finished_at before started_at");
}
END_TEST

START_TEST(test_subscribed_start_sees_run_started_first)
{
	struct cx_started st = start_run(NULL, "", true);
	ck_assert_msg(st.subscriber_fd >= 0, "start with subscribe gave no pipe");
	char *line = read_line(st.subscriber_fd, "the first event");
	ck_assert_msg(line, "the event pipe ended before any event");
	cJSON *ev = cJSON_Parse(line);
	ck_assert_msg(ev, "not an event: %s", line);
	ck_assert_str_eq(str(ev, "type"), "run_started");
	ck_assert_int_eq((int)num(ev, "seq"), 1);
	ck_assert_str_eq(str(ev, "run_id"), st.run_id);
	cJSON_Delete(ev);
	char last[64] = "";
	while ((line = read_line(st.subscriber_fd, "the events up to EOF"))) {
		ev = cJSON_Parse(line);
		snprintf(last, sizeof last, "%s", str(ev, "type"));
		cJSON_Delete(ev);
	}
	ck_assert_str_eq(last, "run_completed");
	close(st.subscriber_fd);
}
END_TEST

START_TEST(test_unknown_ids_are_unknown)
{
	pid_t pid;
	char run_id[CX_RUN_ID_MAX + 1];
	struct cx_run_summary s;
	char *result;
	ck_assert_int_eq(cx_pid_for(cl, "no-such-run", &pid, NULL), CX_EUNKNOWN_RUN);
	ck_assert_int_eq(cx_state(cl, "no-such-run", &s, NULL), CX_ENOT_FOUND);
	ck_assert_int_eq(cx_fetch_result(cl, "no-such-run", 100, &result, NULL, NULL),
			 CX_ENOT_FOUND);
	ck_assert_int_eq(cx_run_id(cl, getpid(), run_id, NULL), CX_EUNKNOWN_RUN);
}
END_TEST

START_TEST(test_pid_for_and_run_id_name_the_worker)
{
	struct cx_started st = start_run(NULL, ",\"latency_ms\":60000", false);
	pid_t pid;
	char run_id[CX_RUN_ID_MAX + 1];
	ck_assert_int_eq(cx_pid_for(cl, st.run_id, &pid, NULL), CX_OK);
	ck_assert_int_eq(pid, st.pid);
	ck_assert_int_eq(cx_run_id(cl, pid, run_id, NULL), CX_OK);
	ck_assert_str_eq(run_id, st.run_id);
	ck_assert_int_eq(cx_terminate_run(cl, st.run_id, NULL), CX_OK);
	ck_assert_int_eq(await_result(st.run_id, NULL), CX_RUN_FAILED);
}
END_TEST

START_TEST(test_monitor_gets_exactly_one_down_with_reason_normal)
{
	struct cx_started st = start_run(NULL, ",\"latency_ms\":500", true);
	ck_assert_msg(read_line(st.subscriber_fd, "run_started"), "no run_started");
	uint64_t ref;
	struct cx_error err = { 0 };
	ck_assert_msg(cx_monitor(cl, st.run_id, &ref, &err) == CX_OK, "monitor: %s", err.message);
	cJSON *msg = next_message("the DOWN of a completing run");
	ck_assert_str_eq(str(msg, "msg"), "DOWN");
	ck_assert_msg((uint64_t)num(msg, "ref") == ref, "DOWN for ref %.0f, monitor gave %llu",
		      num(msg, "ref"), (unsigned long long)ref);
	ck_assert_str_eq(str(msg, "run_id"), st.run_id);
	ck_assert_str_eq(str(msg, "reason"), "normal");
	cJSON_Delete(msg);
	assert_no_message("one DOWN per monitor");
	close(st.subscriber_fd);
}
END_TEST

START_TEST(test_monitor_of_a_finished_run_gets_noproc)
{
	struct cx_started st = start_run(NULL, "", false);
	ck_assert_int_eq(await_result(st.run_id, NULL), CX_RUN_COMPLETED);
	uint64_t ref;
	ck_assert_int_eq(cx_monitor(cl, st.run_id, &ref, NULL), CX_OK);
	cJSON *msg = next_message("the DOWN of a finished run");
	ck_assert_str_eq(str(msg, "msg"), "DOWN");
	ck_assert_str_eq(str(msg, "reason"), "noproc");
	ck_assert_msg((uint64_t)num(msg, "ref") == ref, "DOWN for another ref");
	cJSON_Delete(msg);
}
END_TEST

START_TEST(test_demonitor_means_no_down)
{
	struct cx_started st = start_run(NULL, ",\"latency_ms\":500", false);
	uint64_t ref;
	ck_assert_int_eq(cx_monitor(cl, st.run_id, &ref, NULL), CX_OK);
	ck_assert_int_eq(cx_demonitor(cl, ref, NULL), CX_OK);
	ck_assert_int_eq(await_result(st.run_id, NULL), CX_RUN_COMPLETED);
	assert_no_message("the monitor was removed");
}
END_TEST

START_TEST(test_invalid_council_is_refused_with_every_diagnostic)
{
	struct cx_client_start req = {
		.spec_json = "{\"id\":\"x\",\"members\":[{\"id\":\"a\",\"profile\":{\"provider\":\"nope\"}}],"
			     "\"rounds\":[{\"type\":\"voet\"}]}",
	};
	struct cx_started st;
	struct cx_diags diags = { 0 };
	struct cx_error err = { 0 };
	ck_assert_int_eq(cx_start(cl, &req, &st, &diags, &err), CX_EINVALID);
	bool round = false, provider = false;
	for (size_t i = 0; i < diags.n; i++) {
		round |= !strcmp(diags.v[i].path, "rounds[0].type") &&
			 !strcmp(diags.v[i].code, "unknown_round");
		provider |= !strcmp(diags.v[i].path, "members[0].profile.provider");
	}
	ck_assert_msg(round && provider, "%zu diagnostics, without the round's or the provider's",
		      diags.n);
	cx_diags_free(&diags);
	req.spec_json = "{nope";
	ck_assert_int_eq(cx_start(cl, &req, &st, &diags, &err), CX_EINVALID);
	ck_assert_msg(diags.n == 1 && !strcmp(diags.v[0].code, "invalid_json"),
		      "a spec that is not JSON: %s", err.message);
	cx_diags_free(&diags);
}
END_TEST

/* The client checks what it would send by the supervisor's own limits:
 * a spec over 1 MiB with blanks was sent without them, under the limit. */
START_TEST(test_a_spec_over_its_limit_is_refused_before_it_is_sent)
{
	const char *valid = council("");
	size_t size = CX_SPEC_MAX_BYTES + 1, n = strlen(valid);
	char *text = malloc(size + 1);
	memset(text, ' ', size);
	memcpy(text, valid, n);
	text[size] = '\0';
	struct cx_client_start req = { .spec_json = text };
	struct cx_started st;
	struct cx_diags diags = { 0 };
	struct cx_error err = { 0 };
	ck_assert_int_eq(cx_start(cl, &req, &st, &diags, &err), CX_EINVALID);
	ck_assert_msg(diags.n == 1 && !strcmp(diags.v[0].code, "too_large"), "%s", err.message);
	cx_diags_free(&diags);
	free(text);
}
END_TEST

START_TEST(test_a_run_id_is_used_once)
{
	struct cx_client_start req = { .spec_json = council(""), .run_id = "once" };
	struct cx_started st;
	struct cx_error err = { 0 };
	ck_assert_int_eq(cx_start(cl, &req, &st, NULL, &err), CX_OK);
	ck_assert_str_eq(st.run_id, "once");
	ck_assert_int_eq(cx_start(cl, &req, &st, NULL, &err), CX_EALREADY_STARTED);
	ck_assert_int_eq(await_result("once", NULL), CX_RUN_COMPLETED);
}
END_TEST

/* A raw connection, to send what the library never would. */
static int raw_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s/councild.sock", scratch);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert(fd >= 0);
	ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0, "connect: %s",
		      strerror(errno));
	return fd;
}

static cJSON *raw_exchange(int fd, const char *line, const char *what)
{
	ck_assert(write(fd, line, strlen(line)) == (ssize_t)strlen(line));
	char *reply = read_line(fd, what);
	ck_assert_msg(reply, "the connection closed: awaited %s", what);
	cJSON *json = cJSON_Parse(reply);
	ck_assert_msg(json, "not JSON: %s", reply);
	return json;
}

START_TEST(test_malformed_line_gets_bad_request_and_the_connection_stays_usable)
{
	int fd = raw_connect();
	cJSON *reply = raw_exchange(fd, "{nope\n", "the reply to a malformed line");
	ck_assert_msg(cJSON_IsFalse(cJSON_GetObjectItem(reply, "ok")), "a malformed line was ok");
	ck_assert_str_eq(str(cJSON_GetObjectItem(reply, "error"), "code"), "bad_request");
	ck_assert_msg(cJSON_IsNull(cJSON_GetObjectItem(reply, "id")), "bad_request has an id");
	cJSON_Delete(reply);
	reply = raw_exchange(fd, "{\"id\":5,\"op\":\"hello\",\"version\":1}\n", "hello's reply");
	ck_assert_int_eq((int)num(reply, "id"), 5);
	ck_assert_msg(cJSON_IsTrue(cJSON_GetObjectItem(reply, "ok")), "hello after a bad line failed");
	cJSON_Delete(reply);
	close(fd);
	/* The library drops the id-less reply and goes on. */
	ck_assert(write(cx_client_fd(cl), "[1]\n", 4) == 4);
	pid_t pid;
	ck_assert_int_eq(cx_pid_for(cl, "no-such-run", &pid, NULL), CX_EUNKNOWN_RUN);
}
END_TEST

START_TEST(test_unknown_op_is_unknown_op)
{
	cJSON *req = cJSON_CreateObject(), *reply;
	cJSON_AddStringToObject(req, "op", "frobnicate");
	struct cx_error err = { 0 };
	ck_assert_int_eq(cx_client_call(cl, req, &reply, NULL, DEADLINE_MS, &err), CX_EUSAGE);
	ck_assert_str_eq(str(cJSON_GetObjectItem(reply, "error"), "code"), "unknown_op");
	cJSON_Delete(reply);
}
END_TEST

START_TEST(test_terminate_all_leaves_every_run_final)
{
	struct cx_started st[3];
	for (int i = 0; i < 3; i++)
		st[i] = start_run("slow", ",\"latency_ms\":60000", false);
	struct cx_child *children;
	size_t n;
	struct cx_error err = { 0 };
	ck_assert_int_eq(cx_which_children(cl, "slow", &children, &n, &err), CX_OK);
	ck_assert_int_eq(n, 3);
	for (size_t i = 0; i < n; i++) {
		bool ours = false;
		for (int j = 0; j < 3; j++)
			ours |= !strcmp(children[i].run_id, st[j].run_id) && children[i].pid == st[j].pid;
		ck_assert_msg(ours, "which_children lists %s (pid %d), which was not started",
			      children[i].run_id, (int)children[i].pid);
		ck_assert_msg(!cx_run_status_final(children[i].status), "a child is already final");
	}
	free(children);
	ck_assert_msg(cx_terminate_all(cl, "slow", &err) == CX_OK, "terminate_all: %s", err.message);
	for (int i = 0; i < 3; i++) {
		struct cx_run_summary s;
		ck_assert_int_eq(cx_state(cl, st[i].run_id, &s, NULL), CX_OK);
		ck_assert_msg(cx_run_status_final(s.status), "%s is %s after terminate_all",
			      st[i].run_id, cx_run_status_name(s.status));
		ck_assert_msg(kill(st[i].pid, 0) < 0 && errno == ESRCH,
			      "worker %d lives on after terminate_all", (int)st[i].pid);
	}
	ck_assert_int_eq(cx_which_children(cl, "slow", &children, &n, NULL), CX_OK);
	ck_assert_int_eq(n, 0);
	free(children);
}
END_TEST

/* What cx_run's callback saw. */
struct seen {
	int lines;
	char first[32], last[32];
};

static void on_event(void *data, const char *line, size_t len)
{
	struct seen *seen = data;
	ck_assert_msg(strlen(line) == len && !memchr(line, '\n', len),
		      "an event line of %zu bytes: %s", len, line);
	cJSON *ev = cJSON_Parse(line);
	ck_assert_msg(ev, "not an event: %s", line);
	seen->lines++;
	snprintf(seen->lines == 1 ? seen->first : seen->last, sizeof seen->first, "%s",
		 str(ev, "type"));
	ck_assert_int_eq((int)num(ev, "seq"), seen->lines);
	cJSON_Delete(ev);
}

START_TEST(test_run_follows_a_council_to_its_result)
{
	struct cx_client_start req = { .spec_json = council(""), .input_json = "{\"q\":1}" };
	struct seen seen = { 0 };
	struct cx_run_options opts = { .on_event = on_event, .data = &seen };
	struct cx_started st;
	enum cx_run_status status;
	struct cx_error err = { 0 };
	char *result;
	int r = cx_run(cl, &req, DEADLINE_MS, &opts, &result, &status, &st, NULL, &err);
	ck_assert_msg(r == CX_OK, "cx_run: %s: %s", cx_code_word(r), err.message);
	ck_assert_int_eq(status, CX_RUN_COMPLETED);
	ck_assert_msg(cx_run_id_valid(st.run_id), "cx_run gave run_id \"%s\"", st.run_id);
	ck_assert_int_eq(st.subscriber_fd, -1);
	ck_assert_str_eq(seen.first, "run_started");
	ck_assert_str_eq(seen.last, "run_completed");
	cJSON *json = cJSON_Parse(result);
	ck_assert_msg(cJSON_GetStringValue(cJSON_GetObjectItem(json, "final")),
		      "the result has no final answer: %s", result);
	cJSON_Delete(json);
	free(result);
	struct cx_run_summary s;
	ck_assert_int_eq(cx_state(cl, st.run_id, &s, NULL), CX_OK);
	ck_assert_int_eq(s.status, CX_RUN_COMPLETED);
	ck_assert_int_eq((int)s.events, seen.lines);
	assert_no_message("a run that completed sends no EXIT");
}
END_TEST

START_TEST(test_run_past_its_timeout_is_terminated_and_ends_killed)
{
	struct cx_client_start req = { .spec_json = council(",\"latency_ms\":60000") };
	struct seen seen = { 0 };
	struct cx_run_options opts = { .on_event = on_event, .data = &seen };
	struct cx_started st;
	enum cx_run_status status;
	struct cx_error err = { 0 };
	char *result;
	/* The council takes 60 s: CX_ETIMEOUT itself shows the call did not wait. */
	int r = cx_run(cl, &req, 500, &opts, &result, &status, &st, NULL, &err);
	ck_assert_msg(r == CX_ETIMEOUT, "cx_run of a slow run: %s: %s", cx_code_word(r),
		      err.message);
	ck_assert_int_eq(status, CX_RUN_FAILED);
	ck_assert_msg(result, "no partial result after the timeout");
	free(result);
	ck_assert_str_eq(seen.first, "run_started");
	struct cx_run_summary s;
	ck_assert_int_eq(cx_state(cl, st.run_id, &s, NULL), CX_OK);
	ck_assert_int_eq(s.status, CX_RUN_FAILED);
	ck_assert_msg(kill(st.pid, 0) < 0 && errno == ESRCH, "worker %d lives on", (int)st.pid);
	/* It was linked: its abnormal end is an EXIT, and the run_failed says killed. */
	cJSON *msg = next_message("the EXIT of the terminated run");
	ck_assert_str_eq(str(msg, "msg"), "EXIT");
	ck_assert_str_eq(str(msg, "run_id"), st.run_id);
	ck_assert_str_eq(str(msg, "reason"), "killed");
	cJSON_Delete(msg);
	char path[4096];
	snprintf(path, sizeof path, "%s/runs/%s/events", scratch, st.run_id);
	char *events = th_read_file(path, NULL);
	ck_assert_msg(events, "no %s", path);
	size_t len = strlen(events);
	while (len && events[len - 1] == '\n')
		events[--len] = '\0';
	char *last = strrchr(events, '\n');
	cJSON *ev = cJSON_Parse(last ? last + 1 : events);
	ck_assert_str_eq(str(ev, "type"), "run_failed");
	const cJSON *error = cJSON_GetArrayItem(cJSON_GetObjectItem(ev, "errors"), 0);
	ck_assert_str_eq(str(error, "kind"), "killed");
	cJSON_Delete(ev);
	free(events);
}
END_TEST

START_TEST(test_start_child_runs_in_the_named_tenant)
{
	struct cx_client_start req = { .spec_json = council(",\"latency_ms\":500"),
				       .tenant = "not-this-one" };
	struct cx_started st;
	struct cx_error err = { 0 };
	int r = cx_sup_start_child(cl, "team-a", &req, &st, NULL, &err);
	ck_assert_msg(r == CX_OK, "start_child: %s: %s", cx_code_word(r), err.message);
	ck_assert_str_eq(st.tenant, "team-a");
	struct cx_run_summary s;
	ck_assert_int_eq(cx_state(cl, st.run_id, &s, NULL), CX_OK);
	ck_assert_str_eq(s.tenant, "team-a");
	struct cx_child *children;
	size_t n;
	ck_assert_int_eq(cx_which_children(cl, "team-a", &children, &n, NULL), CX_OK);
	ck_assert_msg(n == 1 && !strcmp(children[0].run_id, st.run_id),
		      "team-a has %zu children, not the run started in it", n);
	free(children);
	ck_assert_int_eq(await_result(st.run_id, NULL), CX_RUN_COMPLETED);
	ck_assert_int_eq(cx_sup_start_child(cl, NULL, &req, &st, NULL, &err), CX_EUSAGE);
	ck_assert_int_eq(st.subscriber_fd, -1);
}
END_TEST

/* A child started by a process that exits at once, without waiting for it. */
START_TEST(test_start_child_outlives_its_caller)
{
	int p[2];
	ck_assert(pipe(p) == 0);
	pid_t caller = fork();
	ck_assert(caller >= 0);
	if (caller == 0) {
		struct cx_client_options opts = { .runtime_dir = scratch };
		struct cx_client_start req = { .spec_json = council(",\"latency_ms\":500") };
		struct cx_client *own;
		struct cx_started st;
		if (cx_client_connect(&opts, &own, NULL) != CX_OK ||
		    cx_sup_start_child(own, "team-b", &req, &st, NULL, NULL) != CX_OK ||
		    write(p[1], st.run_id, strlen(st.run_id)) < 0)
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	char run_id[CX_RUN_ID_MAX + 1] = "";
	ck_assert(read(p[0], run_id, CX_RUN_ID_MAX) > 0);
	close(p[0]);
	int status;
	ck_assert_int_eq(waitpid(caller, &status, 0), caller);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the caller failed");
	ck_assert_int_eq(await_result(run_id, NULL), CX_RUN_COMPLETED);
}
END_TEST

/* The program exe with args (NULL-terminated, without argv[0]), run in the
 * source tree; returns its exit code, its stdout and stderr in out and err
 * (malloc'd). */
static int run_program(const char *exe, const char *const *args, char **out, char **err)
{
	ck_assert_msg(exe && *exe, "the environment names no program to run");
	char out_path[4096], err_path[4096];
	const char *name = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
	snprintf(out_path, sizeof out_path, "%s/%s.out", scratch, name);
	snprintf(err_path, sizeof err_path, "%s/%s.err", scratch, name);
	const char *argv[32] = { exe };
	for (int i = 0; args[i] && i < 30; i++)
		argv[i + 1] = args[i];
	pid_t pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (o < 0 || e < 0 || dup2(o, STDOUT_FILENO) < 0 || dup2(e, STDERR_FILENO) < 0 ||
		    chdir(th_source_path("")) < 0)
			_exit(126);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	int status;
	uint64_t deadline = cx_mono_ms() + DEADLINE_MS;
	pid_t got;
	while ((got = waitpid(pid, &status, WNOHANG)) == 0 && cx_mono_ms() < deadline)
		usleep(10000);
	if (got != pid)
		kill(pid, SIGKILL);
	ck_assert_msg(got == pid, "awaited %s %s", name, args[0] ? args[0] : "");
	ck_assert_msg(WIFEXITED(status), "%s %s died of signal %d", name, args[0] ? args[0] : "",
		      WTERMSIG(status));
	*out = th_read_file(out_path, NULL);
	*err = th_read_file(err_path, NULL);
	return WEXITSTATUS(status);
}

/* councilctl with args, as run_program runs it. */
static int ctl(const char *const *args, char **out, char **err)
{
	return run_program(getenv("COUNCILCTL"), args, out, err);
}

START_TEST(test_cli_state_and_pid_of_an_unknown_run_exit_4)
{
	const char *state[] = { "state", "no-such-run", NULL };
	const char *pid[] = { "pid", "no-such-run", NULL };
	char *out, *err;
	ck_assert_int_eq(ctl(state, &out, &err), 4);
	ck_assert_msg(!strncmp(err, "councilctl: not_found: ", 23), "state said: %s", err);
	free(out);
	free(err);
	ck_assert_int_eq(ctl(pid, &out, &err), 4);
	ck_assert_msg(!strncmp(err, "councilctl: unknown_run: ", 25), "pid said: %s", err);
	free(out);
	free(err);
}
END_TEST

START_TEST(test_cli_start_prints_the_run_id_and_result_waits_for_it)
{
	char spec[4096];
	snprintf(spec, sizeof spec, "%s/one.json", scratch);
	th_write_file(spec, council(""));
	const char *start[] = { "start", spec, "--run-id", "cli-1", "--tenant", "t1", NULL };
	const char *result[] = { "result", "cli-1", "--timeout", "20000", NULL };
	const char *state[] = { "state", "cli-1", "--json", NULL };
	const char *ps[] = { "ps", "--all", "--tenant", "t1", NULL };
	char *out, *err;
	ck_assert_int_eq(ctl(start, &out, &err), 0);
	ck_assert_msg(!strcmp(out, "cli-1\n"), "start printed: %s (stderr: %s)", out, err);
	free(out);
	free(err);
	ck_assert_int_eq(ctl(result, &out, &err), 0);
	cJSON *json = cJSON_Parse(out);
	ck_assert_msg(cJSON_GetObjectItem(json, "final"), "result printed: %s", out);
	cJSON_Delete(json);
	free(out);
	free(err);
	ck_assert_int_eq(ctl(state, &out, &err), 0);
	json = cJSON_Parse(out);
	ck_assert_str_eq(str(json, "status"), "completed");
	ck_assert_str_eq(str(json, "tenant"), "t1");
	cJSON_Delete(json);
	free(out);
	free(err);
	ck_assert_int_eq(ctl(ps, &out, &err), 0);
	ck_assert_msg(!strncmp(out, "RUN_ID", 6) && strstr(out, "\ncli-1 "), "ps printed: %s", out);
	free(out);
	free(err);
}
END_TEST

START_TEST(test_cli_follow_replays_a_finished_run)
{
	struct cx_started st = start_run(NULL, "", false);
	ck_assert_int_eq(await_result(st.run_id, NULL), CX_RUN_COMPLETED);
	const char *follow[] = { "follow", st.run_id, "--json", NULL };
	char *out, *err;
	ck_assert_int_eq(ctl(follow, &out, &err), 0);
	ck_assert_msg(!strncmp(out, "{\"seq\":1,", 9) && strstr(out, "\"type\":\"run_completed\""),
		      "follow printed: %s (stderr: %s)", out, err);
	free(out);
	free(err);
}
END_TEST

/* The README: `state` prints the status file's summary. Every key of the
 * status file, Exit and Containment included. */
START_TEST(test_state_prints_every_status_key)
{
	struct cx_started st = start_run(NULL, "", false);
	ck_assert_int_eq(await_result(st.run_id, NULL), CX_RUN_COMPLETED);
	char path[4096];
	snprintf(path, sizeof path, "%s/runs/%s/status", scratch, st.run_id);
	const char *state[] = { "state", st.run_id, NULL };
	char *out, *err;
	ck_assert_int_eq(ctl(state, &out, &err), 0);
	char *status = th_read_file(path, NULL), *printed;
	ck_assert_msg(status, "no %s", path);
	ck_assert(asprintf(&printed, "\n%s", out) > 0);
	for (char *line = strtok(status, "\n"); line; line = strtok(NULL, "\n")) {
		char key[80];
		snprintf(key, sizeof key, "\n%.*s\t", (int)strcspn(line, "\t"), line);
		ck_assert_msg(strstr(printed, key), "state printed no %s line: %s", key + 1, out);
	}
	free(printed);
	free(status);
	free(out);
	free(err);
}
END_TEST

/* DESIGN §7: an unknown tenant is not_found (4), not a usage error (2). */
START_TEST(test_unknown_tenant_exits_4)
{
	static const char *const commands[][4] = {
		{ "tenant", "stop", "nosuch", NULL },
		{ "tenant", "children", "nosuch", NULL },
		{ "tenant", "terminate-all", "nosuch", NULL },
	};
	for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
		char *out, *err;
		int code = ctl(commands[i], &out, &err);
		ck_assert_msg(code == 4 && strstr(err, "no tenant nosuch"),
			      "councilctl tenant %s nosuch exited %d: %s", commands[i][1], code, err);
		free(out);
		free(err);
	}
}
END_TEST

/* OTP: a stopped supervisor takes no children until it is started again;
 * a tenant never started starts on first use. */
START_TEST(test_a_stopped_tenant_refuses_starts_until_started)
{
	char spec[4096];
	snprintf(spec, sizeof spec, "%s/one.json", scratch);
	th_write_file(spec, council(""));
	const char *start[] = { "start", spec, "--tenant", "paused", NULL };
	const char *stop[] = { "tenant", "stop", "paused", NULL };
	const char *again[] = { "tenant", "start", "paused", NULL };
	char *out, *err;
	ck_assert_msg(ctl(start, &out, &err) == 0, "the first start: %s", err);
	free(out);
	free(err);
	ck_assert_msg(ctl(stop, &out, &err) == 0, "tenant stop: %s", err);
	free(out);
	free(err);
	int code = ctl(start, &out, &err);
	ck_assert_msg(code == 8 && !strncmp(err, "councilctl: tenant_stopped: ", 28),
		      "a start in a stopped tenant exited %d: %s", code, err);
	free(out);
	free(err);
	struct cx_client_start req = { .spec_json = council(""), .tenant = "paused" };
	struct cx_started st;
	ck_assert_int_eq(cx_start(cl, &req, &st, NULL, NULL), CX_ETENANT_STOPPED);
	ck_assert_msg(ctl(again, &out, &err) == 0, "tenant start: %s", err);
	free(out);
	free(err);
	ck_assert_msg(ctl(start, &out, &err) == 0, "a start after tenant start: %s", err);
	free(out);
	free(err);
}
END_TEST

/* OTP: monitoring a process that never existed gives DOWN noproc. */
START_TEST(test_monitor_of_an_unknown_run_is_down_noproc)
{
	uint64_t ref;
	struct cx_error err = { 0 };
	ck_assert_msg(cx_monitor(cl, "never-was", &ref, &err) == CX_OK, "monitor: %s", err.message);
	cJSON *msg = NULL;
	ck_assert_int_eq(cx_client_next_message(cl, DEADLINE_MS, &msg, &err), CX_OK);
	ck_assert_str_eq(str(msg, "msg"), "DOWN");
	ck_assert_str_eq(str(msg, "reason"), "noproc");
	ck_assert_str_eq(str(msg, "run_id"), "never-was");
	ck_assert_msg((uint64_t)num(msg, "ref") == ref, "DOWN for ref %.0f, monitor gave %llu",
		      num(msg, "ref"), (unsigned long long)ref);
	cJSON_Delete(msg);
	assert_no_message("one DOWN per monitor");
}
END_TEST

/* councilctl in a runtime dir where no councild answers starts one. */
START_TEST(test_cli_starts_councild_on_first_use)
{
	char dir[4096], pidfile[4200];
	snprintf(dir, sizeof dir, "%s/other", scratch);
	snprintf(pidfile, sizeof pidfile, "%s/councild.pid", dir);
	const char *ps[] = { "ps", "--runtime-dir", dir, NULL };
	char *out, *err;
	ck_assert_int_eq(ctl(ps, &out, &err), 0);
	free(out);
	free(err);
	char *text = th_read_file(pidfile, NULL);
	ck_assert_msg(text, "no %s after councilctl ps", pidfile);
	pid_t pid = (pid_t)atoi(text);
	free(text);
	ck_assert_msg(pid > 0 && pid != councild, "councild.pid says %d", (int)pid);
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	ck_assert_msg(pidfd >= 0, "the started councild (pid %d) is not running", (int)pid);
	kill(pid, SIGTERM);
	struct pollfd p = { pidfd, POLLIN, 0 };
	ck_assert_msg(poll(&p, 1, DEADLINE_MS) == 1, "awaited the started councild's exit");
	close(pidfd);
}
END_TEST

/* examples/c/follow_council, with its default council and input. */
START_TEST(test_follow_council_example_prints_the_final_answer)
{
	const char *none[] = { NULL };
	char *out, *err;
	int code = run_program(getenv("FOLLOW_COUNCIL"), none, &out, &err);
	ck_assert_msg(code == 0, "follow_council exited %d: %s%s", code, out, err);
	char run_id[CX_RUN_ID_MAX + 1];
	ck_assert_msg(sscanf(out, "run %64[^:]:", run_id) == 1, "follow_council printed: %s", out);
	char *result;
	ck_assert_int_eq(await_result(run_id, &result), CX_RUN_COMPLETED);
	cJSON *json = cJSON_Parse(result);
	const char *final = cJSON_GetStringValue(cJSON_GetObjectItem(json, "final"));
	static const char heading[] = "completed. Final answer:\n";
	char *answer = strstr(out, heading);
	ck_assert_msg(final && answer && !strncmp(answer + strlen(heading), final, strlen(final)),
		      "follow_council printed: %s; the result: %s", out, result);
	ck_assert_msg(strstr(out, "round 2 peer_review: 3 of 3 members ok\n"),
		      "follow_council printed no line for peer_review: %s", out);
	cJSON_Delete(json);
	free(result);
	free(out);
	free(err);
}
END_TEST

/* examples/c/monitor_council, beside follow_council, on a short council. */
START_TEST(test_monitor_council_example_sees_the_down)
{
	const char *follow = getenv("FOLLOW_COUNCIL");
	ck_assert_msg(follow && strrchr(follow, '/'), "FOLLOW_COUNCIL is not a path");
	char exe[4096], spec[4096];
	snprintf(exe, sizeof exe, "%.*s/monitor_council", (int)(strrchr(follow, '/') - follow),
		 follow);
	snprintf(spec, sizeof spec, "%s/one.json", scratch);
	th_write_file(spec, council(",\"latency_ms\":500"));  /* alive when monitored */
	const char *args[] = { spec, NULL };
	char *out, *err;
	int code = run_program(exe, args, &out, &err);
	ck_assert_msg(code == 0, "monitor_council exited %d: %s%s", code, out, err);
	ck_assert_msg(strstr(out, "run_completed\n") && strstr(out, ": normal\n") &&
		      strstr(out, " completed\n"), "monitor_council printed: %s", out);
	free(out);
	free(err);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("client");
	TCase *tc = tcase_create("councild");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_hello_answers_with_the_protocol_version);
	tcase_add_test(tc, test_started_run_has_state_and_result);
	tcase_add_test(tc, test_subscribed_start_sees_run_started_first);
	tcase_add_test(tc, test_unknown_ids_are_unknown);
	tcase_add_test(tc, test_pid_for_and_run_id_name_the_worker);
	tcase_add_test(tc, test_monitor_gets_exactly_one_down_with_reason_normal);
	tcase_add_test(tc, test_monitor_of_a_finished_run_gets_noproc);
	tcase_add_test(tc, test_demonitor_means_no_down);
	tcase_add_test(tc, test_invalid_council_is_refused_with_every_diagnostic);
	tcase_add_test(tc, test_a_spec_over_its_limit_is_refused_before_it_is_sent);
	tcase_add_test(tc, test_a_run_id_is_used_once);
	tcase_add_test(tc, test_malformed_line_gets_bad_request_and_the_connection_stays_usable);
	tcase_add_test(tc, test_unknown_op_is_unknown_op);
	tcase_add_test(tc, test_terminate_all_leaves_every_run_final);
	tcase_add_test(tc, test_run_follows_a_council_to_its_result);
	tcase_add_test(tc, test_run_past_its_timeout_is_terminated_and_ends_killed);
	tcase_add_test(tc, test_start_child_runs_in_the_named_tenant);
	tcase_add_test(tc, test_start_child_outlives_its_caller);
	tcase_add_test(tc, test_cli_state_and_pid_of_an_unknown_run_exit_4);
	tcase_add_test(tc, test_cli_start_prints_the_run_id_and_result_waits_for_it);
	tcase_add_test(tc, test_cli_follow_replays_a_finished_run);
	tcase_add_test(tc, test_cli_starts_councild_on_first_use);
	tcase_add_test(tc, test_state_prints_every_status_key);
	tcase_add_test(tc, test_unknown_tenant_exits_4);
	tcase_add_test(tc, test_a_stopped_tenant_refuses_starts_until_started);
	tcase_add_test(tc, test_monitor_of_an_unknown_run_is_down_noproc);
	tcase_add_test(tc, test_follow_council_example_prints_the_final_answer);
	tcase_add_test(tc, test_monitor_council_example_sees_the_down);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
