/* Forking a run's worker process: fork, no exec (DESIGN §1). */
#ifndef CX_SUP_WORKER_H
#define CX_SUP_WORKER_H

#include <cjson/cJSON.h>

#include "containment.h"
#include "council/spec.h"
#include "proc.h"

struct cx_worker {
	struct cx_proc proc;
	int event_fd;    /* read end of the worker's event pipe (non-blocking) */
	int control_fd;  /* write end of its control pipe (non-blocking) */
};

/* Forks the worker where opts says (a cgroup, a new PID namespace), which
 * runs the council in cwd (NULL: ours) and exits with its cx_run_exit
 * code. *got says what contains it: cgroup if it is in opts' cgroup, else
 * pidns if it is the init of a new PID namespace, else pgroup (its own
 * process group, always). Returns 0 or -errno. */
int cx_worker_spawn(struct cx_worker *w, const struct cx_spec *spec, const cJSON *input,
		    const char *run_id, const char *cwd, const struct cx_fork_opts *opts,
		    enum cx_containment *got);

/* How a reaped worker ended, for its status's Exit: "exited N", "killed
 * SIGNAME". A worker that is its namespace's init and got SIGTERM exits
 * with CX_EXIT_SIGTERM instead of dying of it (src/init.h): that is
 * "killed SIGTERM" too, so every containment reports a SIGTERM alike. */
void cx_worker_exit_describe(const siginfo_t *info, char *buf, size_t size);

#endif
