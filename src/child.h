/* A command run as a subprocess of the worker, on the worker's loop: the
 * process plumbing the exec provider and tools share.
 *
 * stdin is a JSON document and a newline, in a memfd, so a command that
 * never reads it cannot block us. stdout is handed to the owner as it
 * comes; stderr is kept for its last bytes, to explain a failure. The
 * process stays in the worker's process group (and cgroup), so killing
 * the run kills it too. Its end is seen through its pidfd: the owner
 * hears of it once it is reaped and its output drained (what a surviving
 * grandchild may still write is not waited for). */
#ifndef CX_CHILD_H
#define CX_CHILD_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "loop.h"
#include "proc.h"

#define CX_CHILD_TAIL 2048

struct cx_child;

/* n bytes of stdout. */
typedef void cx_child_out_fn(struct cx_child *ch, const char *p, size_t n);
/* The process is gone: reaped is cx_proc_reap's 1 with info filled, or
 * -errno. The child's fds and pidfd are released before the call. */
typedef void cx_child_exit_fn(struct cx_child *ch, int reaped, const siginfo_t *info);

struct cx_child_cmd {
	const cJSON *argv;      /* an array of strings, argv[0] looked up in PATH */
	const cJSON *env;       /* an object of strings added to the environment, or NULL */
	const char *unset;      /* a variable taken out of the environment, or NULL */
	const cJSON *input;     /* stdin */
	const cJSON *limits;    /* memory_max_mb, processes_max (an exec profile), or NULL */
};

struct cx_child {
	struct cx_loop *loop;
	struct cx_proc proc;
	struct cx_watch out, err, pid;
	cx_child_out_fn *on_out;
	cx_child_exit_fn *on_exit;
	void *data;
	bool killed;            /* cx_child_kill was called */
	char tail[CX_CHILD_TAIL + 1];   /* the last bytes of stderr */
	size_t tail_len;
	bool tail_cut;          /* stderr had more before it */
};

/* Starts cmd. Returns 0, or -errno with nothing left running: on_exit is
 * then never called. */
int cx_child_start(struct cx_child *ch, struct cx_loop *loop, const struct cx_child_cmd *cmd,
		   cx_child_out_fn *on_out, cx_child_exit_fn *on_exit, void *data);

/* SIGKILLs the process and stops reading it; on_exit still comes, once it
 * is reaped. */
void cx_child_kill(struct cx_child *ch);

/* True while ch's process is unreaped and is child (the owns() of
 * call.h): an exited child keeps its pid until it is reaped, and ch's is
 * reaped only through ch. */
bool cx_child_owns(const struct cx_child *ch, const struct cx_proc *child);

/* "exited 2: <the end of stderr>", "killed SIGKILL". */
void cx_child_describe(struct cx_child *ch, const siginfo_t *info, char *out, size_t size);

#endif
