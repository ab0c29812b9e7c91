/* One tool call, run (tool_run.h). */
#include "tool_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

void cx_tool_run_kill(struct cx_tool_run *run, const char *why)
{
	if (!run->child.killed)
		strlcpy(run->killed_for, why, sizeof run->killed_for);
	cx_timer_disarm(run->child.loop, &run->timer);
	cx_child_kill(&run->child);
}

static void timed_out(struct cx_loop *loop, struct cx_timer *t)
{
	struct cx_tool_run *run = t->data;
	char why[sizeof run->killed_for];
	(void)loop;
	snprintf(why, sizeof why, "timed out after %d ms", run->tool->timeout_ms);
	cx_tool_run_kill(run, why);
}

static void take_output(struct cx_child *ch, const char *p, size_t n)
{
	struct cx_tool_run *run = ch->data;
	if (run->out.len + n > CX_TOOL_OUTPUT_MAX)
		cx_tool_run_kill(run, "output over 1 MiB");
	else if (cx_buf_append(&run->out, p, n) < 0)
		cx_tool_run_kill(run, "out of memory");
}

static void conclude(struct cx_child *ch, int reaped, const siginfo_t *info)
{
	struct cx_tool_run *run = ch->data;
	char why[CX_CHILD_TAIL + 128];

	cx_timer_disarm(ch->loop, &run->timer);
	run->ok = !ch->killed && reaped > 0 && info->si_code == CLD_EXITED &&
		  info->si_status == 0;
	if (run->ok) {
		while (run->out.len && run->out.data[run->out.len - 1] == '\n')
			run->out.data[--run->out.len] = '\0';
		run->text = strdup(run->out.len ? run->out.data : "");
	} else {
		if (ch->killed)
			snprintf(why, sizeof why, "%s", run->killed_for);
		else if (reaped < 0)
			snprintf(why, sizeof why, "waitid: %s", strerror(-reaped));
		else
			cx_child_describe(ch, info, why, sizeof why);
		run->text = strdup(why);
	}
	cx_buf_free(&run->out);
	run->done(run);
}

int cx_tool_run_start(struct cx_tool_run *run, struct cx_loop *loop, const struct cx_tool *tool,
		      const cJSON *args, cx_tool_done_fn *done, void *data)
{
	struct cx_child_cmd cmd = { .argv = tool->command, .input = args };

	*run = (struct cx_tool_run){
		.tool = tool,
		.timer = CX_TIMER_INIT(timed_out, run),
		.done = done,
		.data = data,
	};
	int rc = cx_child_start(&run->child, loop, &cmd, take_output, conclude, run);
	if (rc == 0)
		cx_timer_arm(loop, &run->timer, (uint64_t)tool->timeout_ms);
	return rc;
}

void cx_tool_run_free(struct cx_tool_run *run)
{
	free(run->text);
	run->text = NULL;
}
