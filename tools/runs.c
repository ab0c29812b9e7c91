/* councilctl's commands about one run that councild supervises: start,
 * state, pid, runid, follow, result, cancel, kill. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define RESULT_TIMEOUT_MS 5000   /* result without --timeout: the protocol's default */

int cmd_start(struct ctl *c)
{
	struct cx_client_start req = {
		.tenant = c->tenant, .run_id = c->run_id, .options_json = run_options(c),
		.shutdown_ms = c->shutdown_ms,
	};
	struct cx_started started;
	struct cx_diags diags = { 0 };
	struct cx_error err = { 0 };
	char *spec, *input;
	int rc = read_spec_and_input(c, &spec, &input);
	if (!rc) {
		req.spec_json = spec;
		req.input_json = input;
		/* --link ties the run to this process, which exits now: only a
		 * caller that stays (a script's exec, a wrapper) gains from it. */
		int r = (c->link ? cx_start_link : cx_start)(c->cl, &req, &started, &diags, &err);
		if (r == CX_EINVALID) {
			print_diags(c->args[0], input_name(c), &diags);
			rc = diags.n ? fail(r, "%s: %zu problem%s", c->args[0], diags.n,
					    diags.n == 1 ? "" : "s")
				     : fail(r, "%s: %s", c->args[0], err.message);
		} else if (r < 0) {
			rc = fail(r, "%s", err.message);
		} else {
			puts(started.run_id);
		}
	}
	cx_diags_free(&diags);
	free(spec);
	free(input);
	return rc;
}

/* The summary as the run's status file has it, every key
 * (docs/status-files.md). */
static void print_summary(const struct cx_run_summary *s)
{
	char text[1024];
	if (cx_run_status_format(s, text, sizeof text) > 0)
		fputs(text, stdout);
}

int cmd_state(struct ctl *c)
{
	cJSON *reply;
	int rc = ctl_request(c, ctl_op("state", "run_id", c->args[0]), &reply);
	if (rc)
		return rc;
	const cJSON *summary = cJSON_GetObjectItemCaseSensitive(reply, "summary");
	struct cx_run_summary s;
	if (c->json)
		print_json(summary);
	else if (cx_run_summary_from_json(summary, &s) == CX_OK)
		print_summary(&s);
	else
		rc = fail(CX_ESYS, "councild's state of %s has no run summary", c->args[0]);
	cJSON_Delete(reply);
	return rc;
}

int cmd_pid(struct ctl *c)
{
	struct cx_error err = { 0 };
	pid_t pid;
	int r = cx_pid_for(c->cl, c->args[0], &pid, &err);
	if (r < 0)
		return fail(r, "%s", err.message);
	printf("%d\n", (int)pid);
	return 0;
}

int cmd_runid(struct ctl *c)
{
	struct cx_error err = { 0 };
	char run_id[CX_RUN_ID_MAX + 1], *end;
	errno = 0;
	long pid = strtol(c->args[0], &end, 10);
	if (errno || end == c->args[0] || *end || pid <= 0 || pid > INT32_MAX)
		return usage_error("runid takes a PID, not %s", c->args[0]);
	int r = cx_run_id(c->cl, (pid_t)pid, run_id, &err);
	if (r < 0)
		return fail(r, "%s", err.message);
	puts(run_id);
	return 0;
}

int cmd_follow(struct ctl *c)
{
	struct follow f = FOLLOW_INIT;
	struct cx_error err = { 0 };
	struct cx_run_summary s;
	strlcpy(f.run_id, c->args[0], sizeof f.run_id);
	int r = cx_subscribe(c->cl, c->args[0], c->since, &f.events_fd, &err);
	if (r < 0)
		return fail(r, "%s", err.message);
	int rc = follow_run(&f, c->json);
	if (!rc && !f.stopped_by) {
		/* The events ended: the run is final, and its status the exit code. */
		r = cx_state(c->cl, c->args[0], &s, &err);
		rc = r < 0 ? fail(r, "%s", err.message) : status_exit_code(s.status);
		if (!r && !c->json)
			fprintf(stderr, "run %s %s — %s/runs/%s\n", s.run_id,
				cx_run_status_name(s.status), cx_client_runtime_dir(c->cl), s.run_id);
	}
	follow_finish(&f);
	return rc;
}

int cmd_result(struct ctl *c)
{
	struct cx_error err = { 0 };
	enum cx_run_status status;
	char *result;
	int timeout_ms = c->timeout_ms >= 0 ? c->timeout_ms : RESULT_TIMEOUT_MS;
	int r = cx_fetch_result(c->cl, c->args[0], timeout_ms, &result, &status, &err);
	if (r < 0)
		return fail(r, "%s", err.message);
	cJSON *json = cJSON_Parse(result);
	print_json(json);
	cJSON_Delete(json);
	free(result);
	return status_exit_code(status);
}

int cmd_cancel(struct ctl *c)
{
	struct cx_error err = { 0 };
	int r = cx_cancel(c->cl, c->args[0], &err);
	return r < 0 ? fail(r, "%s", err.message) : 0;
}

int cmd_kill(struct ctl *c)
{
	struct cx_error err = { 0 };
	int r = cx_terminate_run(c->cl, c->args[0], &err);
	return r < 0 ? fail(r, "%s", err.message) : 0;
}
