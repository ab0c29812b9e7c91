/* A command run as a subprocess of the worker, on the worker's loop: the
 * process plumbing the exec provider and tools share.
 *
 * stdin is a JSON document and a newline, in a memfd, so a command that
 * never reads it cannot block us. stdout is handed to the owner as it
 * comes; stderr is kept for its last bytes, to explain a failure. The
 * process stays within the run's containment, so killing the run kills it
 * and all it started too. Killing the command alone (its timeout) reaches
 * what it started as its run's containment allows (docs/supervision.md):
 *   cgroup  each command gets a cgroup of its own below the run's, so the
 *           kill (cgroup.kill) reaches its whole tree, setsid() included;
 *   pidns   each command leads a process group of its own, so the kill
 *           reaches what stayed in it; what left it dies with the run;
 *   pgroup  the command stays in the worker's process group, which the
 *           run's kill needs: only the command itself is killed, what it
 *           started dies with the run.
 * Its end is seen through its pidfd: the owner hears of it once it is
 * reaped and its output drained (what a surviving grandchild may still
 * write is not waited for). Its environment is the clean one (cleanenv.h),
 * never the worker's. */
#ifndef CX_CHILD_H
#define CX_CHILD_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "containment.h"
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
	const cJSON *env;       /* an object of strings set in its environment, or NULL */
	const cJSON *pass;      /* names of variables it takes from the worker's, or NULL */
	const cJSON *input;     /* stdin */
	const cJSON *limits;    /* memory_max_mb, processes_max (an exec profile), or NULL */
};

struct cx_child {
	struct cx_loop *loop;
	struct cx_proc proc;
	struct cx_cgroup cg;    /* its own cgroup, or closed */
	bool own_group;         /* it leads a process group of its own */
	struct cx_watch out, err, pid;
	cx_child_out_fn *on_out;
	cx_child_exit_fn *on_exit;
	void *data;
	bool killed;            /* cx_child_kill was called */
	char tail[CX_CHILD_TAIL + 1];   /* the last bytes of stderr */
	size_t tail_len;
	bool tail_cut;          /* stderr had more before it */
};

/* Commands started from now on each get a cgroup below run (taken over):
 * what a worker contained by a cgroup calls before its council starts. */
void cx_child_contain(struct cx_cgroup *run);

/* Starts cmd. Returns 0, or -errno with nothing left running: on_exit is
 * then never called. */
int cx_child_start(struct cx_child *ch, struct cx_loop *loop, const struct cx_child_cmd *cmd,
		   cx_child_out_fn *on_out, cx_child_exit_fn *on_exit, void *data);

/* SIGKILLs the process, with what it started as far as the containment
 * reaches (above), and stops reading it; on_exit still comes, once it is
 * reaped. */
void cx_child_kill(struct cx_child *ch);

/* True while ch's process is unreaped and is child (the owns() of
 * call.h): an exited child keeps its pid until it is reaped, and ch's is
 * reaped only through ch. */
bool cx_child_owns(const struct cx_child *ch, const struct cx_proc *child);

/* "exited 2: <the end of stderr>", "killed SIGKILL". */
void cx_child_describe(struct cx_child *ch, const siginfo_t *info, char *out, size_t size);

#endif
