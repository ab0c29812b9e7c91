/* Running a council in a forked worker, as a supervisor would
 * (cx_runner_main on pipes), and reading its events: what the runner's and
 * the rounds' suites share. JSON in specs may use ' for ". */
#include "worker_run.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "council/ids.h"
#include "harness.h"
#include "runner.h"

struct cx_spec *parse_spec(const char *text)
{
	struct cx_diags diags = { 0 };
	struct cx_spec *spec = NULL;
	int rc = cx_spec_parse(text, strlen(text), &spec, &diags);
	ck_assert_msg(rc == CX_OK, "spec rejected: %s: %s: %s", diags.n ? diags.v[0].path : "",
		      diags.n ? diags.v[0].code : "", diags.n ? diags.v[0].message : "");
	cx_diags_free(&diags);
	return spec;
}

void run_start_parsed(struct run *r, struct cx_spec *spec, const char *input_json,
		      const char *pre_control)
{
	int ev[2], ctl[2];
	cJSON *input = cJSON_Parse(input_json);

	ck_assert_msg(input != NULL, "input is not JSON: %s", input_json);
	/* Orphaned grandchildren come back to us, so none can hide from
	 * th_no_descendants(). */
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	*r = (struct run){ .spec = spec, .control = -1 };
	ck_assert_int_eq(pipe2(ev, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(ctl, O_CLOEXEC), 0);
	if (pre_control)
		ck_assert_int_eq(write(ctl[1], pre_control, strlen(pre_control)),
				 (ssize_t)strlen(pre_control));
	pid_t parent = getpid();
	fflush(NULL);
	r->pid = fork();
	ck_assert_int_ge(r->pid, 0);
	if (r->pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(CX_EXIT_INTERNAL);
		close(ev[0]);
		close(ctl[1]);
		struct cx_run_params params = {
			.spec = r->spec,
			.input = input,
			.run_id = "test-run",
			.event_fd = ev[1],
			.control_fd = ctl[0],
		};
		/* exit, not _exit: a sanitizer build checks the worker for leaks. */
		exit(cx_runner_main(&params));
	}
	cJSON_Delete(input);
	close(ev[1]);
	close(ctl[0]);
	r->events = ev[0];
	r->control = ctl[1];
}

void run_start_with(struct run *r, const char *spec_json, const char *pre_control)
{
	char *text = th_json_text("%s", spec_json);
	run_start_parsed(r, parse_spec(text), "{\"question\": \"Should we rewrite it in C?\"}",
			 pre_control);
	free(text);
}

void run_start(struct run *r, const char *spec_json)
{
	run_start_with(r, spec_json, NULL);
}

void run_free(struct run *r)
{
	for (size_t i = 0; i < r->n; i++)
		cJSON_Delete(r->ev[i]);
	free(r->buf);
	close(r->events);
	if (r->control >= 0)
		close(r->control);
	cx_spec_free(r->spec);
}

static void take_lines(struct run *r)
{
	char *start = r->buf, *nl;
	while ((nl = memchr(start, '\n', r->len - (size_t)(start - r->buf)))) {
		ck_assert_uint_lt(r->n, MAX_EVENTS);
		r->ev[r->n] = cJSON_ParseWithLength(start, (size_t)(nl - start));
		ck_assert_msg(r->ev[r->n] != NULL, "event line is not JSON: %.*s",
			      (int)(nl - start), start);
		r->n++;
		start = nl + 1;
	}
	r->len -= (size_t)(start - r->buf);
	memmove(r->buf, start, r->len);
}

/* Reads what the worker wrote by the deadline; false once past it. */
static bool read_more(struct run *r, uint64_t deadline)
{
	uint64_t now = cx_mono_ms();
	if (now >= deadline)
		return false;
	struct pollfd p = { .fd = r->events, .events = POLLIN };
	int n = poll(&p, 1, (int)(deadline - now));
	if (n < 0 && errno == EINTR)
		return true;
	ck_assert_int_ge(n, 0);
	if (n == 0)
		return false;
	char chunk[65536];
	ssize_t got = read(r->events, chunk, sizeof chunk);
	ck_assert_int_ge(got, 0);
	if (got == 0) {
		r->eof = true;
		return true;
	}
	r->buf = realloc(r->buf, r->len + (size_t)got);
	ck_assert_ptr_nonnull(r->buf);
	memcpy(r->buf + r->len, chunk, (size_t)got);
	r->len += (size_t)got;
	take_lines(r);
	return true;
}

const char *str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

double num(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	ck_assert_msg(cJSON_IsNumber(v), "no number \"%s\"", key);
	return v->valuedouble;
}

static bool same(const char *a, const char *b)
{
	return !b || (a && !strcmp(a, b));
}

int find_sub(const struct run *r, size_t from, const char *sub, const char *type,
	     const char *member, const char *round)
{
	for (size_t i = from; i < r->n; i++) {
		const char *in = str(r->ev[i], "sub");
		if ((sub ? in && !strcmp(in, sub) : !in) && same(str(r->ev[i], "type"), type) &&
		    same(str(r->ev[i], "member"), member) && same(str(r->ev[i], "round"), round))
			return (int)i;
	}
	return -1;
}

int count_sub(const struct run *r, const char *sub, const char *type, const char *member,
	      const char *round)
{
	int n = 0;
	for (int i = find_sub(r, 0, sub, type, member, round); i >= 0;
	     i = find_sub(r, (size_t)i + 1, sub, type, member, round))
		n++;
	return n;
}

int find(const struct run *r, size_t from, const char *type, const char *member,
	 const char *round)
{
	return find_sub(r, from, NULL, type, member, round);
}

int count(const struct run *r, const char *type, const char *member, const char *round)
{
	return count_sub(r, NULL, type, member, round);
}

const cJSON *await_sub_event(struct run *r, const char *sub, const char *type,
			     const char *member, const char *round)
{
	uint64_t deadline = cx_mono_ms() + DEADLINE_MS;
	int i;
	while ((i = find_sub(r, 0, sub, type, member, round)) < 0)
		ck_assert_msg(!r->eof && read_more(r, deadline),
			      "no %s event (sub %s, member %s, round %s) within %d ms", type,
			      sub ? sub : "-", member ? member : "any", round ? round : "any",
			      DEADLINE_MS);
	return r->ev[i];
}

const cJSON *await_event(struct run *r, const char *type, const char *member,
			 const char *round)
{
	return await_sub_event(r, NULL, type, member, round);
}

void run_wait(struct run *r)
{
	uint64_t deadline = cx_mono_ms() + DEADLINE_MS;
	while (!r->eof)
		ck_assert_msg(read_more(r, deadline), "the worker's events did not end within %d ms",
			      DEADLINE_MS);
	pid_t got;
	while ((got = waitpid(r->pid, &r->status, WNOHANG)) == 0) {
		ck_assert_msg(cx_mono_ms() < deadline, "the worker did not exit within %d ms",
			      DEADLINE_MS);
		poll(NULL, 0, 10);
	}
	ck_assert_int_eq(got, r->pid);
}

int run_finish(struct run *r)
{
	run_wait(r);
	ck_assert_msg(WIFEXITED(r->status), "worker died: status 0x%x", r->status);
	ck_assert_uint_ge(r->n, 2);
	for (size_t i = 0; i < r->n; i++)
		ck_assert_msg(num(r->ev[i], "seq") == (double)(i + 1), "event %zu has seq %g", i,
			      num(r->ev[i], "seq"));
	ck_assert_str_eq(str(r->ev[0], "type"), "run_started");
	ck_assert_int_eq(count(r, "run_completed", NULL, NULL) + count(r, "run_failed", NULL, NULL), 1);
	const char *last = str(r->ev[r->n - 1], "type");
	ck_assert_msg(!strcmp(last, "run_completed") || !strcmp(last, "run_failed"),
		      "last event is %s", last);
	return WEXITSTATUS(r->status);
}

const cJSON *terminal(const struct run *r)
{
	return r->ev[r->n - 1];
}

/* The result of member in round, from its member_completed event. */
const cJSON *member_result(const struct run *r, const char *member, const char *round)
{
	int i = find(r, 0, "member_completed", member, round);
	ck_assert_msg(i >= 0, "no member_completed for %s in %s", member, round);
	return cJSON_GetObjectItemCaseSensitive(r->ev[i], "result");
}

const cJSON *round_result(const struct run *r, const char *round)
{
	int i = find(r, 0, "round_completed", NULL, round);
	ck_assert_msg(i >= 0, "no round_completed for %s", round);
	return cJSON_GetObjectItemCaseSensitive(r->ev[i], "result");
}

const char *error_kind(const cJSON *result)
{
	return str(cJSON_GetObjectItemCaseSensitive(result, "error"), "kind");
}

const char *error_message(const cJSON *result)
{
	return str(cJSON_GetObjectItemCaseSensitive(result, "error"), "message");
}

const cJSON *first_error(const struct run *r)
{
	const cJSON *errors = cJSON_GetObjectItemCaseSensitive(terminal(r), "errors");
	ck_assert_int_ge(cJSON_GetArraySize(errors), 1);
	return cJSON_GetArrayItem(errors, 0);
}

/* The chunks of member's tokens in round, joined. */
char *tokens(const struct run *r, const char *member, const char *round)
{
	char *all = NULL;
	size_t len;
	FILE *f = open_memstream(&all, &len);
	for (int i = find(r, 0, "member_token", member, round); i >= 0;
	     i = find(r, (size_t)i + 1, "member_token", member, round))
		fputs(str(r->ev[i], "chunk"), f);
	fclose(f);
	return all;
}

void assert_clean(void)
{
	ck_assert_msg(th_no_descendants(5000), "processes were left behind");
}

/* A fresh scratch directory holding member.sh. */
char *script_dir(const char *body)
{
	char *dir = th_scratch_dir(), *path;
	ck_assert_int_ge(asprintf(&path, "%s/member.sh", dir), 0);
	th_write_file(path, body);
	free(path);
	return dir;
}


/* The request each member got, parsed from its echoed answer. */
cJSON *echoed_request(const struct run *r, const char *member, const char *round)
{
	const char *echo = str(member_result(r, member, round), "response");
	ck_assert_ptr_nonnull(echo);
	cJSON *req = cJSON_Parse(echo);
	ck_assert_msg(req != NULL, "%s's answer in %s is not its request: %s", member, round, echo);
	return req;
}

const char *user_text(const cJSON *request)
{
	const cJSON *messages = cJSON_GetObjectItemCaseSensitive(request, "messages");
	return str(cJSON_GetArrayItem(messages, cJSON_GetArraySize(messages) - 1), "content");
}
