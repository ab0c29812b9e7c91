/* One tool call, run: the tool's command as a subprocess of the worker
 * (child.h) with the call's arguments JSON on stdin, its stdout the
 * result. It is killed at the tool's timeout_ms, or when its stdout passes
 * CX_TOOL_OUTPUT_MAX; a run that fails says why instead of giving a
 * result. */
#ifndef CX_TOOL_RUN_H
#define CX_TOOL_RUN_H

#include <stdbool.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "child.h"
#include "council/spec.h"
#include "loop.h"

#define CX_TOOL_OUTPUT_MAX (1u << 20)

struct cx_tool_run;

/* The run is over and released: ok and text are its outcome. */
typedef void cx_tool_done_fn(struct cx_tool_run *run);

struct cx_tool_run {
	const struct cx_tool *tool;
	struct cx_child child;
	struct cx_timer timer;      /* timeout_ms */
	struct cx_buf out;
	char killed_for[64];        /* why we killed it, when we did */
	cx_tool_done_fn *done;
	void *data;
	/* The outcome: ok and text its stdout (trailing newlines dropped), or
	 * !ok and text why it failed ("timed out after 300 ms", "exited 2:
	 * <the end of stderr>"). Owned by the run until cx_tool_run_free. */
	bool ok;
	char *text;
};

/* Runs tool with args (an object) on its stdin, in the clean environment
 * (cleanenv.h): the member's key is not in it. Returns 0, or
 * -errno with nothing running (done is never called then). */
int cx_tool_run_start(struct cx_tool_run *run, struct cx_loop *loop, const struct cx_tool *tool,
		      const cJSON *args, cx_tool_done_fn *done, void *data);

/* Kills a run in flight; done still comes, once the process is reaped. */
void cx_tool_run_kill(struct cx_tool_run *run, const char *why);

static inline bool cx_tool_run_owns(const struct cx_tool_run *run, const struct cx_proc *child)
{
	return cx_child_owns(&run->child, child);
}

/* Frees the outcome of a finished run. */
void cx_tool_run_free(struct cx_tool_run *run);

#endif
