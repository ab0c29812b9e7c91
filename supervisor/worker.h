/* Forking a run's worker process: fork, no exec (DESIGN §1). */
#ifndef CX_SUP_WORKER_H
#define CX_SUP_WORKER_H

#include <cjson/cJSON.h>

#include "council/spec.h"
#include "proc.h"

struct cx_worker {
	struct cx_proc proc;
	int event_fd;    /* read end of the worker's event pipe (non-blocking) */
	int control_fd;  /* write end of its control pipe (non-blocking) */
};

/* Forks the worker into cgroup_fd (-1: none), which runs the council in
 * cwd (NULL: ours) and exits with its cx_run_exit code. *contained says
 * whether it is in that cgroup. Returns 0 or -errno. */
int cx_worker_spawn(struct cx_worker *w, const struct cx_spec *spec, const cJSON *input,
		    const char *run_id, const char *cwd, int cgroup_fd, bool *contained);

#endif
