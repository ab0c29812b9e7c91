/* councilctl as a user runs it: a real process, its exit codes (DESIGN §7),
 * its output, and what it leaves in the runtime directory. */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "council/ids.h"
#include "council/spec.h"
#include "harness.h"

#define DEADLINE_MS 30000

static char *scratch;

static void setup(void)
{
	scratch = th_scratch_dir();
}

static void teardown(void)
{
	ck_assert_msg(th_no_descendants(5000), "processes were left behind");
	th_rm_rf(scratch);
	free(scratch);
}

struct ctl {
	pid_t pid;
	int out;          /* its stdout */
	char err[4096];   /* its stderr's file */
};

/* Starts councilctl with argv (NULL-terminated, without argv[0]) from the
 * source root, stdout on a pipe, stderr into a file. */
static struct ctl ctl_start(const char *const *args)
{
	struct ctl c;
	int p[2];
	ck_assert(pipe2(p, O_CLOEXEC) == 0);
	snprintf(c.err, sizeof c.err, "%s/stderr-%d", scratch, rand());
	const char *argv[32] = { getenv("COUNCILCTL") };
	for (int i = 0; args[i] && i < 30; i++)
		argv[i + 1] = args[i];
	c.pid = fork();
	ck_assert(c.pid >= 0);
	if (c.pid == 0) {
		int err = open(c.err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(p[1], STDOUT_FILENO);
		dup2(err, STDERR_FILENO);
		if (chdir(th_source_path("")) < 0)
			_exit(126);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	c.out = p[0];
	return c;
}

/* Reads one line of its stdout (with a deadline); NULL at EOF. */
static char *ctl_line(struct ctl *c)
{
	static char line[1 << 16];
	size_t n = 0;
	uint64_t deadline = cx_mono_ms() + DEADLINE_MS;
	while (n < sizeof line - 1) {
		struct pollfd p = { c->out, POLLIN, 0 };
		ck_assert_msg(poll(&p, 1, 200) >= 0 && cx_mono_ms() < deadline,
			      "awaited a line from councilctl");
		if (!p.revents)
			continue;
		if (read(c->out, line + n, 1) != 1)
			return n ? line : NULL;
		if (line[n++] == '\n')
			break;
	}
	line[n] = '\0';
	return line;
}

/* Drains stdout to EOF and reaps; returns the exit code, *out its stdout. */
static int ctl_wait(struct ctl *c, char **out)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	char *line;
	while ((line = ctl_line(c))) {
		size_t n = strlen(line);
		if (len + n + 1 > cap)
			buf = realloc(buf, cap = 2 * (len + n + 1));
		memcpy(buf + len, line, n);
		len += n;
	}
	buf[len] = '\0';
	close(c->out);
	int status;
	ck_assert(waitpid(c->pid, &status, 0) == c->pid);
	if (out)
		*out = buf;
	else
		free(buf);
	ck_assert_msg(WIFEXITED(status), "councilctl died of signal %d", WTERMSIG(status));
	return WEXITSTATUS(status);
}

/* councilctl run ... --json started, once a member has started. */
static struct ctl ctl_start_in_a_member(const char *const *args)
{
	struct ctl c = ctl_start(args);
	char *line;
	while ((line = ctl_line(&c)) && !strstr(line, "\"member_started\""))
		;
	ck_assert_msg(line, "awaited member_started");
	return c;
}

/* Waits for its exit code, code, and a run_failed of this kind on stdout. */
static void ctl_expect_end(struct ctl *c, int code, const char *kind)
{
	char *out, want[64];
	snprintf(want, sizeof want, "\"kind\":\"%s\"", kind);
	ck_assert_int_eq(ctl_wait(c, &out), code);
	ck_assert_msg(strstr(out, want), "no %s on stdout: %s", want, out);
	free(out);
}

static int ctl_run(const char *const *args, char **out, char **err)
{
	struct ctl c = ctl_start(args);
	int code = ctl_wait(&c, out);
	if (err)
		*err = th_read_file(c.err, NULL);
	return code;
}

static int runs_in_runtime_dir(void)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/runs", scratch);
	DIR *d = opendir(path);
	int n = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/* A one-member council written into the scratch dir. */
static const char *council_file(const char *profile)
{
	static char path[4096];
	char spec[1024];
	snprintf(path, sizeof path, "%s/council-%d.json", scratch, rand());
	snprintf(spec, sizeof spec, "{\"id\":\"one\",\"members\":[{\"id\":\"m\",\"retry\":{\"max\":1},"
		 "\"profile\":{\"provider\":\"mock\"%s}}],\"rounds\":[{\"type\":\"independent_analysis\"}]}",
		 profile);
	th_write_file(path, spec);
	return path;
}

START_TEST(test_validate_accepts_the_examples)
{
	const char *args[] = { "validate", "examples/councils/review.json", NULL };
	char *out;
	ck_assert_int_eq(ctl_run(args, &out, NULL), 0);
	ck_assert_msg(strstr(out, "ok (review: 3 members"), "validate said: %s", out);
	free(out);
}
END_TEST

START_TEST(test_validate_reports_every_problem_and_exits_2)
{
	char spec[4096];
	snprintf(spec, sizeof spec, "%s/bad-council.json", scratch);
	th_write_file(spec,
		      "{\"id\":\"x\",\"members\":[{\"id\":\"a\",\"profile\":{\"provider\":\"nope\"}}],"
		      "\"rounds\":[{\"type\":\"voet\"}],\"colour\":1}\n");
	const char *args[] = { "validate", spec, NULL };
	char *err;
	ck_assert_int_eq(ctl_run(args, NULL, &err), 2);
	ck_assert_msg(strstr(err, "rounds[0].type: unknown_round: \"voet\" is not a round type"), "%s", err);
	ck_assert_msg(strstr(err, "members[0].profile.provider: unknown_provider"), "%s", err);
	ck_assert_msg(strstr(err, "colour: unknown_key"), "%s", err);
	free(err);
}
END_TEST

START_TEST(test_run_prints_the_result_and_exits_0)
{
	const char *args[] = { "run", "examples/councils/review.json", "--input",
			       "examples/inputs/question.json", NULL };
	char *out, *err;
	ck_assert_int_eq(ctl_run(args, &out, &err), 0);
	cJSON *result = cJSON_Parse(out);
	ck_assert_msg(cJSON_IsString(cJSON_GetObjectItem(result, "final")), "stdout: %s", out);
	ck_assert_msg(strstr(err, " completed"), "stderr: %s", err);
	ck_assert_msg(!strchr(err, '\033'), "escape codes on a stderr that is not a terminal");
	ck_assert_int_eq(runs_in_runtime_dir(), 1);
	cJSON_Delete(result);
	free(out);
	free(err);
}
END_TEST

START_TEST(test_run_json_streams_every_event_once_in_order)
{
	const char *args[] = { "run", "examples/councils/exec.json", "--input-json",
			       "{\"question\":\"is it safe to restart the database?\"}",
			       "--json", "--run-id", "json-1", NULL };
	char *out;
	ck_assert_int_eq(ctl_run(args, &out, NULL), 0);
	int seq = 0;
	const char *last = NULL;
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		cJSON *ev = cJSON_Parse(line);
		ck_assert_msg(ev, "not an event: %s", line);
		ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(ev, "seq")), ++seq);
		ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(ev, "run_id")), "json-1");
		last = strstr(line, "\"type\":\"run_completed\"") ? "run_completed" : NULL;
		cJSON_Delete(ev);
	}
	ck_assert_msg(last, "the last event is not run_completed");
	char path[4096];
	snprintf(path, sizeof path, "%s/runs/json-1/status", scratch);
	char *status = th_read_file(path, NULL);
	ck_assert_msg(status && strstr(status, "Status:\tcompleted\n"), "status: %s", status);
	free(status);
	free(out);
}
END_TEST

/* councilctl reads research.json beside the spec; the supervisor takes the
 * sub-councils' relayed events in the run's seq order, and the status file
 * counts the run's own rounds only. */
START_TEST(test_sub_councils_run_with_their_events_relayed)
{
	const char *args[] = { "run", "examples/councils/subcouncil.json", "--input",
			       "examples/inputs/question.json", "--json", "--run-id", "sub-1", NULL };
	char *out, path[4096];
	int seq = 0, relayed = 0;
	ck_assert_int_eq(ctl_run(args, &out, NULL), 0);
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		cJSON *ev = cJSON_Parse(line);
		ck_assert_msg(ev, "not an event: %s", line);
		ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(ev, "seq")), ++seq);
		relayed += strstr(line, "\"sub\":\"research\",\"sub_seq\":") != NULL;
		cJSON_Delete(ev);
	}
	ck_assert_int_gt(relayed, 0);
	snprintf(path, sizeof path, "%s/runs/sub-1/status", scratch);
	char *status = th_read_file(path, NULL);
	ck_assert_msg(status && strstr(status, "RoundsCompleted:\t3\n"), "status: %s", status);
	snprintf(path, sizeof path, "%s/runs/sub-1/spec.json", scratch);
	char *spec = th_read_file(path, NULL);
	ck_assert_msg(spec && !strstr(spec, "\"council\":\"research.json\"") &&
		      strstr(spec, "\"council\":{\"id\":\"research\""),
		      "the spec sent does not hold research.json's council: %s", spec);
	free(spec);
	free(status);
	free(out);
}
END_TEST

START_TEST(test_failed_run_exits_1)
{
	const char *args[] = { "run", council_file(",\"fail\":\"permanent\""), NULL };
	char *err;
	ck_assert_int_eq(ctl_run(args, NULL, &err), 1);
	ck_assert_msg(strstr(err, "scripted permanent failure"), "stderr: %s", err);
	free(err);
}
END_TEST

START_TEST(test_sigint_cancels_and_exits_3)
{
	const char *args[] = { "run", council_file(",\"latency_ms\":1000"), "--json", NULL };
	struct ctl c = ctl_start_in_a_member(args);
	kill(c.pid, SIGINT);
	ctl_expect_end(&c, 3, "cancelled");
}
END_TEST

START_TEST(test_sighup_stops_a_run_like_sigterm)
{
	const char *args[] = { "run", council_file(",\"latency_ms\":1000"), "--json", NULL };
	struct ctl c = ctl_start_in_a_member(args);
	kill(c.pid, SIGHUP); /* its terminal closed */
	ctl_expect_end(&c, 3, "cancelled");
}
END_TEST

START_TEST(test_invalid_council_exits_2_and_starts_nothing)
{
	const char *args[] = { "run", council_file(",\"fail\":\"sometimes\""), NULL };
	char *err;
	ck_assert_int_eq(ctl_run(args, NULL, &err), 2);
	ck_assert_msg(strstr(err, "invalid_value"), "stderr: %s", err);
	ck_assert_int_eq(runs_in_runtime_dir(), 0);
	free(err);
	const char *bad_input[] = { "run", "examples/councils/review.json", "--input-json", "{nope", NULL };
	ck_assert_int_eq(ctl_run(bad_input, NULL, &err), 2);
	ck_assert_msg(strstr(err, "invalid_json"), "stderr: %s", err);
	ck_assert_int_eq(runs_in_runtime_dir(), 0);
	free(err);
}
END_TEST

/* council_file's council, padded with spaces to size bytes. */
static const char *padded_council_file(off_t size)
{
	const char *path = council_file("");
	int fd = open(path, O_WRONLY | O_APPEND);
	ck_assert(fd >= 0);
	struct stat st;
	ck_assert(fstat(fd, &st) == 0);
	static char spaces[65536];
	memset(spaces, ' ', sizeof spaces);
	for (off_t left = size - st.st_size; left > 0;) {
		ssize_t n = write(fd, spaces, left < (off_t)sizeof spaces ? (size_t)left : sizeof spaces);
		ck_assert(n > 0);
		left -= n;
	}
	close(fd);
	return path;
}

/* start sent the spec without its blanks, under the limit, and ran what
 * validate refused. */
START_TEST(test_validate_and_start_refuse_a_spec_over_1_mib_alike)
{
	const char *path = padded_council_file(CX_SPEC_MAX_BYTES + 1);
	const char *validate[] = { "validate", path, NULL }, *start[] = { "start", path, NULL };
	char *err;
	ck_assert_int_eq(ctl_run(validate, NULL, &err), 2);
	ck_assert_msg(strstr(err, "too_large"), "validate: %s", err);
	free(err);
	ck_assert_int_eq(ctl_run(start, NULL, &err), 2);
	ck_assert_msg(strstr(err, "too_large"), "start: %s", err);
	free(err);
	ck_assert_int_eq(runs_in_runtime_dir(), 0);
}
END_TEST

/* A 100 MB spec made councilctl peak at 315 MB before it said too_large. */
START_TEST(test_a_100_mb_spec_is_refused_before_it_is_read)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/huge.json", scratch);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	static char x[65536];
	memset(x, 'x', sizeof x);
	ck_assert(fd >= 0 && write(fd, "{\"id\":\"", 7) == 7);
	for (int i = 0; i < 1600; i++) /* a string of 100 MiB */
		ck_assert(write(fd, x, sizeof x) == sizeof x);
	ck_assert(write(fd, "\"}", 2) == 2);
	close(fd);
	const char *validate[] = { "validate", path, NULL };
	char *err;
	ck_assert_int_eq(ctl_run(validate, NULL, &err), 2);
	ck_assert_msg(strstr(err, "too_large"), "validate: %s", err);
	free(err);
	unlink(path);
	struct rusage ru;
	ck_assert(getrusage(RUSAGE_CHILDREN, &ru) == 0);
	ck_assert_msg(ru.ru_maxrss < 32 * 1024, "councilctl peaked at %ld KiB", ru.ru_maxrss);
}
END_TEST

START_TEST(test_an_input_with_a_nul_byte_is_refused)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/input.json", scratch);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert(fd >= 0 && write(fd, "{\"q\":1}\0garbage", 16) == 16);
	close(fd);
	const char *args[] = { "run", council_file(""), "--input", path, NULL };
	char *err;
	ck_assert_int_eq(ctl_run(args, NULL, &err), 2);
	ck_assert_msg(strstr(err, "a NUL byte at byte 7"), "stderr: %s", err);
	free(err);
	ck_assert_int_eq(runs_in_runtime_dir(), 0);
}
END_TEST

/* A spec's text written into the scratch dir. */
static const char *spec_file(const char *text)
{
	static char path[4096];
	snprintf(path, sizeof path, "%s/spec-%d.json", scratch, rand());
	th_write_file(path, text);
	return path;
}

/* The first event line of out of type `type` holding `has` (NULL: any),
 * parsed; NULL when there is none. */
static cJSON *event_with(const char *out, const char *type, const char *has)
{
	char *copy = strdup(out), *save;
	cJSON *found = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line && !found;
	     line = strtok_r(NULL, "\n", &save)) {
		cJSON *ev = cJSON_Parse(line);
		const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "type"));
		if (t && !strcmp(t, type) && (!has || strstr(line, has)))
			found = ev;
		else
			cJSON_Delete(ev);
	}
	free(copy);
	return found;
}

/* UTF-8 characters in s. */
static size_t chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

#define SECRET "sk-test-4f8a2c19"

START_TEST(test_verbose_debug_records_prompts_and_answers_cut_and_without_secrets)
{
	/* The answer: the secret the member was passed, then 900 "é". */
	const char *spec = spec_file(
		"{\"id\":\"dbg\",\"members\":[{\"id\":\"m\",\"system_prompt\":\"Be brief.\","
		"\"retry\":{\"max\":1},\"profile\":{\"provider\":\"exec\",\"env_pass\":[\"CX_TEST_KEY\"],"
		"\"command\":[\"sh\",\"-c\",\"printf '%s ' \\\"$CX_TEST_KEY\\\"; i=0; "
		"while [ $i -lt 900 ]; do printf '\xc3\xa9'; i=$((i+1)); done\"]}}],"
		"\"rounds\":[{\"type\":\"independent_analysis\"}]}");
	const char *args[] = { "run", spec, "--verbose", "debug", "--json", NULL };
	char *out;
	setenv("CX_TEST_KEY", SECRET, 1);
	ck_assert_int_eq(ctl_run(args, &out, NULL), 0);
	unsetenv("CX_TEST_KEY");
	cJSON *system = event_with(out, "member_debug", "\"role\":\"system\"");
	cJSON *user = event_with(out, "member_debug", "\"role\":\"user\"");
	cJSON *answer = event_with(out, "member_debug", "\"what\":\"response\"");
	ck_assert_msg(system && user && answer, "no member_debug prompt and answer in: %.2000s", out);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(system, "text")), "Be brief.");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(system, "member")), "m");
	const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(answer, "text"));
	ck_assert_msg(!strncmp(text, "[redacted] \xc3\xa9", 13), "answer shown: %.60s", text);
	ck_assert_uint_eq(chars(text), 800);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(answer, "truncated")));
	ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(answer, "attempt")), 1);
	cJSON *leak = event_with(out, "member_debug", SECRET);
	ck_assert_msg(!leak, "a member_debug event holds the secret");
	cJSON_Delete(system);
	cJSON_Delete(user);
	cJSON_Delete(answer);
	free(out);
}
END_TEST

START_TEST(test_timeline_shows_member_debug_text_under_its_member)
{
	const char *spec = spec_file(
		"{\"id\":\"dbg\",\"members\":[{\"id\":\"m\",\"system_prompt\":\"Be brief.\","
		"\"profile\":{\"provider\":\"mock\",\"reply\":\"first line\\nsecond line\"}}],"
		"\"rounds\":[{\"type\":\"independent_analysis\"}]}");
	const char *args[] = { "run", spec, "--verbose", "debug", NULL };
	char *err;
	ck_assert_int_eq(ctl_run(args, NULL, &err), 0);
	ck_assert_msg(strstr(err, "  \xc2\xb7 m prompt (system), round independent_analysis\n"
				  "    | Be brief.\n") &&
		      strstr(err, "  \xc2\xb7 m response, round independent_analysis\n"
				  "    | first line\n    | second line\n"),
		      "stderr: %s", err);
	free(err);
}
END_TEST

START_TEST(test_timeline_shows_why_a_router_left_a_member_out)
{
	const char *args[] = { "run", "examples/councils/routed.json", "--input",
			       "examples/inputs/code-question.json", NULL };
	char *err;
	ck_assert_int_eq(ctl_run(args, NULL, &err), 0);
	ck_assert_msg(strstr(err, "generalist") &&
		      strstr(strstr(err, "generalist"), "skipped: router_excluded\n"), "stderr: %s", err);
	free(err);
}
END_TEST

START_TEST(test_run_retry_gives_members_without_their_own_that_many_attempts)
{
	const char *spec = spec_file(
		"{\"id\":\"r\",\"retry\":{\"base_ms\":0},\"members\":[{\"id\":\"m\",\"profile\":"
		"{\"provider\":\"mock\",\"fail\":\"transient\",\"fail_times\":2}}],"
		"\"rounds\":[{\"type\":\"independent_analysis\"}]}");
	const char *args[] = { "run", spec, "--retry", "3", "--json", "--run-id", "retry-1", NULL };
	char *out, path[4096];
	ck_assert_int_eq(ctl_run(args, &out, NULL), 0);
	cJSON *done = event_with(out, "member_completed", NULL);
	ck_assert_ptr_nonnull(done);
	const cJSON *result = cJSON_GetObjectItem(done, "result");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(result, "status")), "ok");
	ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(result, "attempts")), 3);
	snprintf(path, sizeof path, "%s/runs/retry-1/options.json", scratch);
	char *options = th_read_file(path, NULL);
	ck_assert_msg(options && strstr(options, "\"retry\":{\"max\":3}"), "options.json: %s", options);
	free(options);
	cJSON_Delete(done);
	free(out);
}
END_TEST

/* A hung worker ignores SIGTERM: the second signal terminates it, and
 * --shutdown-ms is how long it has before the SIGKILL. */
START_TEST(test_run_shutdown_ms_is_the_grace_before_a_hung_worker_is_killed)
{
	const char *args[] = { "run", council_file(",\"fail\":\"hang\""), "--shutdown-ms", "100",
			       "--json", NULL };
	struct ctl c = ctl_start_in_a_member(args);
	kill(c.pid, SIGINT);
	kill(c.pid, SIGTERM);  /* two SIGINTs at once could be one */
	ctl_expect_end(&c, 1, "killed");
}
END_TEST

START_TEST(test_verbose_takes_normal_or_debug)
{
	const char *args[] = { "run", council_file(""), "--verbose", "loud", NULL };
	char *err;
	ck_assert_int_eq(ctl_run(args, NULL, &err), 2);
	ck_assert_msg(strstr(err, "--verbose takes normal or debug"), "stderr: %s", err);
	free(err);
}
END_TEST

/* Checks a Mermaid flowchart's structure: "flowchart TD" first, every
 * subgraph ended, every edge between nodes (or subgraphs) defined before
 * it. Returns how many subgraphs it has. */
static int check_flowchart(char *out)
{
	char defined[512][16];
	int n_defined = 0, open = 0, subgraphs = 0;
	char *save, *line = strtok_r(out, "\n", &save);
	ck_assert_msg(line && !strcmp(line, "flowchart TD"), "first line: %s", line);
	while ((line = strtok_r(NULL, "\n", &save))) {
		char a[16], b[16];
		while (*line == ' ')
			line++;
		if (!strncmp(line, "subgraph ", 9)) {
			ck_assert_int_eq(sscanf(line + 9, "%15[a-z0-9_]", defined[n_defined]), 1);
			n_defined++, open++, subgraphs++;
		} else if (!strcmp(line, "end")) {
			ck_assert_msg(open-- > 0, "an end without its subgraph");
		} else if (sscanf(line, "%15[a-z0-9_] -%*[-.]>%*[^ ] %15[a-z0-9_]", a, b) == 2 ||
			   sscanf(line, "%15[a-z0-9_] --> %15[a-z0-9_]", a, b) == 2) {
			int found = 0;
			for (int i = 0; i < n_defined; i++)
				found += !strcmp(defined[i], a) + !strcmp(defined[i], b);
			ck_assert_msg(found == 2, "an edge to a node not defined before: %s", line);
		} else if (strncmp(line, "direction ", 10)) {
			ck_assert_msg(sscanf(line, "%15[a-z0-9_]", defined[n_defined]) == 1 &&
				      strchr("[({", line[strlen(defined[n_defined])]),
				      "not a node, edge or subgraph: %s", line);
			ck_assert_int_lt(++n_defined, 512);
		}
	}
	ck_assert_int_eq(open, 0);
	return subgraphs;
}

START_TEST(test_diagram_draws_input_router_rounds_members_chair_output)
{
	const char *args[] = { "diagram", "examples/councils/routed.json", NULL };
	char *out;
	ck_assert_int_eq(ctl_run(args, &out, NULL), 0);
	const char *expect[] = { "[/\"input\"/]", "{\"router: 1 rule\"}", "[\"1. independent_analysis\"]",
				 "[\"2. peer_review\"]", "[\"3. synthesis\"]", "([\"chair: chair \xc2\xb7 mock\"])",
				 "[\"generalist \xc2\xb7 mock\"]", "[/\"output\"/]", "|routes_to|" };
	for (size_t i = 0; i < sizeof expect / sizeof *expect; i++)
		ck_assert_msg(strstr(out, expect[i]), "no %s in:\n%s", expect[i], out);
	ck_assert_int_eq(check_flowchart(out), 3);
	free(out);
}
END_TEST

START_TEST(test_diagram_draws_sub_councils_inside_their_members)
{
	const char *args[] = { "diagram", "examples/councils/subcouncil.json", NULL };
	char *out;
	ck_assert_int_eq(ctl_run(args, &out, NULL), 0);
	ck_assert_msg(strstr(out, "    subgraph n4_sub[\"sub-council research\"]") &&
		      strstr(out, "[\"sub-council operations\"]") && strstr(out, "|answers|"),
		      "sub-councils not drawn inside their members' rounds:\n%s", out);
	/* 3 rounds; in the 2 that are not the chair's synthesis, 2 sub-councils
	 * of 2 rounds each */
	ck_assert_int_eq(check_flowchart(out), 3 + 2 * 2 * (1 + 2));
	free(out);
}
END_TEST

START_TEST(test_usage_errors_exit_2)
{
	const char *args[] = { "frobnicate", NULL };
	char *err;
	ck_assert_int_eq(ctl_run(args, NULL, &err), 2);
	ck_assert_msg(strstr(err, "councilctl: usage:"), "stderr: %s", err);
	free(err);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("councilctl");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_validate_accepts_the_examples);
	tcase_add_test(tc, test_validate_reports_every_problem_and_exits_2);
	tcase_add_test(tc, test_run_prints_the_result_and_exits_0);
	tcase_add_test(tc, test_run_json_streams_every_event_once_in_order);
	tcase_add_test(tc, test_sub_councils_run_with_their_events_relayed);
	tcase_add_test(tc, test_failed_run_exits_1);
	tcase_add_test(tc, test_sigint_cancels_and_exits_3);
	tcase_add_test(tc, test_sighup_stops_a_run_like_sigterm);
	tcase_add_test(tc, test_invalid_council_exits_2_and_starts_nothing);
	tcase_add_test(tc, test_usage_errors_exit_2);
	tcase_add_test(tc, test_validate_and_start_refuse_a_spec_over_1_mib_alike);
	tcase_add_test(tc, test_a_100_mb_spec_is_refused_before_it_is_read);
	tcase_add_test(tc, test_an_input_with_a_nul_byte_is_refused);
	tcase_add_test(tc, test_verbose_debug_records_prompts_and_answers_cut_and_without_secrets);
	tcase_add_test(tc, test_run_retry_gives_members_without_their_own_that_many_attempts);
	tcase_add_test(tc, test_run_shutdown_ms_is_the_grace_before_a_hung_worker_is_killed);
	tcase_add_test(tc, test_verbose_takes_normal_or_debug);
	tcase_add_test(tc, test_timeline_shows_member_debug_text_under_its_member);
	tcase_add_test(tc, test_timeline_shows_why_a_router_left_a_member_out);
	tcase_add_test(tc, test_diagram_draws_input_router_rounds_members_chair_output);
	tcase_add_test(tc, test_diagram_draws_sub_councils_inside_their_members);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
