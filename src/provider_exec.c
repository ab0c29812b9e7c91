/* The exec provider: one subprocess per attempt (child.h), running the
 * profile's "command" (argv) in the clean environment (cleanenv.h) with
 * its "env_pass" and "env", and the request JSON (see prompt.h) on stdin.
 *
 * stdout is read a line at a time: {"token": s} streams a chunk,
 * {"final": s} is the answer, and any other line is plain text, joined
 * with '\n' (and streamed as a chunk).
 *
 * Once the process has exited and been reaped: exit 0 answers, exit 75
 * (EX_TEMPFAIL) is a transient failure, anything else a permanent one,
 * explained by the end of its stderr. Output over the limits kills the
 * process and is invalid_output. */
#include "call.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "buf.h"
#include "child.h"

#define LINE_LIMIT (1u << 20)
#define OUTPUT_LIMIT (16u << 20)
#define EXIT_TRANSIENT 75

struct exec {
	struct cx_call *call;
	struct cx_child child;
	struct cx_buf line;         /* stdout since its last newline */
	struct cx_buf text;         /* the plain-text lines, joined */
	size_t n_plain;
	char *final;
	size_t total;               /* stdout bytes read */
	enum cx_fail_kind verdict;  /* why we killed it, when we did */
	const char *why;
};

/* Kills the process; its reaping reports why. */
static void kill_for(struct exec *x, enum cx_fail_kind verdict, const char *why)
{
	if (!x->child.killed) {
		x->verdict = verdict;
		x->why = why;
	}
	cx_child_kill(&x->child);
}

static void plain_line(struct exec *x, const char *s, size_t n)
{
	if ((x->n_plain++ && cx_buf_append(&x->text, "\n", 1) < 0) ||
	    cx_buf_append(&x->text, s, n) < 0)
		kill_for(x, CX_FAIL_PERMANENT, "exec: out of memory");
}

/* One stdout line, with its '\n' unless it ended the output. */
static void take_line(struct exec *x)
{
	char *s = x->line.data;
	size_t n = x->line.len - (s[x->line.len - 1] == '\n');
	cJSON *j = s[0] == '{' ? cJSON_ParseWithLength(s, n) : NULL;
	const cJSON *token = cJSON_GetObjectItemCaseSensitive(j, "token");
	const cJSON *final = cJSON_GetObjectItemCaseSensitive(j, "final");
	if (cJSON_IsString(token))
		cx_call_token(x->call, token->valuestring);
	if (cJSON_IsString(final)) {
		free(x->final);
		x->final = strdup(final->valuestring);
	}
	if (!cJSON_IsString(token) && !cJSON_IsString(final)) {
		plain_line(x, s, n);
		cx_call_token(x->call, s);
	}
	cJSON_Delete(j);
	cx_buf_clear(&x->line);
}

static void take_output(struct cx_child *ch, const char *p, size_t n)
{
	struct exec *x = ch->data;
	if ((x->total += n) > OUTPUT_LIMIT) {
		kill_for(x, CX_FAIL_INVALID_OUTPUT, "output over 16 MiB");
		return;
	}
	for (const char *end = p + n; p < end && !ch->killed;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t seg = (size_t)((nl ? nl + 1 : end) - p);
		if (cx_buf_append(&x->line, p, seg) < 0)
			kill_for(x, CX_FAIL_PERMANENT, "exec: out of memory");
		else if (x->line.len - (nl != NULL) > LINE_LIMIT)
			kill_for(x, CX_FAIL_INVALID_OUTPUT, "output line over 1 MiB");
		else if (nl)
			take_line(x);
		p += seg;
	}
}

static void release(struct exec *x)
{
	cx_buf_free(&x->line);
	cx_buf_free(&x->text);
	free(x->final);
}

/* The process is gone: release the attempt, then report. */
static void conclude(struct cx_child *ch, int reaped, const siginfo_t *info)
{
	struct exec *x = ch->data;
	struct cx_call *call = x->call;
	char why[CX_CHILD_TAIL + 128];
	enum cx_fail_kind kind = CX_FAIL_PERMANENT;
	char *answer = NULL;
	bool ok = false;

	if (x->line.len && !ch->killed)
		take_line(x);
	if (ch->killed) {
		kind = x->verdict;
		snprintf(why, sizeof why, "%s", x->why);
	} else if (reaped < 0) {
		snprintf(why, sizeof why, "exec: waitid: %s", strerror(-reaped));
	} else if (info->si_code == CLD_EXITED && info->si_status == 0) {
		ok = true;
		if (x->final) {
			answer = x->final;
			x->final = NULL;
		} else {
			answer = x->text.data;
			x->text = (struct cx_buf){ 0 };
		}
	} else {
		if (info->si_code == CLD_EXITED && info->si_status == EXIT_TRANSIENT)
			kind = CX_FAIL_TRANSIENT;
		cx_child_describe(ch, info, why, sizeof why);
	}
	release(x);
	if (ok)
		cx_call_succeed(call, answer ? answer : "");
	else
		cx_call_fail(call, kind, "%s", why);
	free(answer);
}

static int exec_start(struct cx_call *call)
{
	struct exec *x = cx_call_priv(call);
	const cJSON *profile = call->member->profile;
	struct cx_child_cmd cmd = {
		.argv = cJSON_GetObjectItemCaseSensitive(profile, "command"),
		.env = cJSON_GetObjectItemCaseSensitive(profile, "env"),
		.pass = cJSON_GetObjectItemCaseSensitive(profile, "env_pass"),
		.input = call->request,
		.limits = profile,
	};

	*x = (struct exec){ .call = call };
	return cx_child_start(&x->child, cx_call_loop(call), &cmd, take_output, conclude, x);
}

static void exec_abort(struct cx_call *call)
{
	kill_for(cx_call_priv(call), CX_FAIL_PERMANENT, "exec: aborted");
}

static bool exec_owns(struct cx_call *call, const struct cx_proc *child)
{
	const struct exec *x = cx_call_priv(call);
	return cx_child_owns(&x->child, child);
}

const struct cx_provider_ops cx_provider_exec = {
	.name = "exec",
	.priv_size = sizeof(struct exec),
	.start = exec_start,
	.abort = exec_abort,
	.owns = exec_owns,
};
