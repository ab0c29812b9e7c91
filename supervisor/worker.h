/* Forking a run's worker process: fork, no exec (DESIGN §1). */
#ifndef CX_SUP_WORKER_H
#define CX_SUP_WORKER_H

#include <limits.h>
#include <sys/types.h>

#include "containment.h"
#include "council/ids.h"
#include "proc.h"

struct cx_launcher;

struct cx_worker {
	struct cx_proc proc;
	int event_fd;    /* read end of the worker's event pipe (non-blocking) */
	int control_fd;  /* write end of its control pipe (non-blocking) */
};

/* What a worker starts from: its run's directory (runs_fd/<run_id>/ holds
 * the spec.json and input.json it runs), where it runs, and its pipes. */
struct cx_worker_args {
	char run_id[CX_RUN_ID_MAX + 1];
	char cwd[PATH_MAX];      /* "": the forking process's */
	pid_t parent;            /* the supervisor, which reaps it */
	int runs_fd;             /* runs/ */
	int event_fd;            /* write end of the event pipe */
	int control_fd;          /* read end of the control pipe */
};

/* The child side: loads the run's spec and input, sets up, runs the council
 * and exits with its cx_run_exit code. It must not touch the state of the
 * process it was forked from. */
void cx_worker_main(const struct cx_worker_args *args) __attribute__((noreturn));

/* Forks the worker of run_id (whose directory under runs_fd has its spec
 * and input) where opts says (a cgroup, a new PID namespace): through the
 * launcher when there is one (NULL: none), else here. It runs in cwd (NULL:
 * our working directory) and exits with its cx_run_exit code. *got says what
 * contains it: cgroup if it is in opts' cgroup, else pidns if it is the init
 * of a new PID namespace, else pgroup (its own process group, always).
 * Returns 0 or -errno. */
int cx_worker_spawn(struct cx_worker *w, struct cx_launcher *launcher, int runs_fd,
		    const char *run_id, const char *cwd, const struct cx_fork_opts *opts,
		    enum cx_containment *got);

/* How a reaped worker ended, for its status's Exit: "exited N", "killed
 * SIGNAME". A worker that is its namespace's init and got SIGTERM exits
 * with CX_EXIT_SIGTERM instead of dying of it (src/init.h): that is
 * "killed SIGTERM" too, so every containment reports a SIGTERM alike. */
void cx_worker_exit_describe(const siginfo_t *info, char *buf, size_t size);

#endif
