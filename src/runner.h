/* The runner: the code a worker process runs. It executes a council's rounds
 * in order, the members of a round concurrently, on one epoll loop, and
 * reports everything it does as events on event_fd. */
#ifndef CX_RUNNER_H
#define CX_RUNNER_H

#include <signal.h>
#include <cjson/cJSON.h>

#include "council/spec.h"

struct cx_run_params {
	const struct cx_spec *spec;
	const cJSON *input;
	const char *run_id;
	enum cx_verbosity verbose;
	int event_fd;      /* blocking write end: one event line per write */
	int control_fd;    /* read end: "cancel\n" lines from the supervisor; EOF = supervisor gone */
};

/* Worker exit codes: how the run ended, as its terminal event says. */
enum cx_run_exit {
	CX_EXIT_COMPLETED = 0,
	CX_EXIT_FAILED = 1,
	CX_EXIT_CANCELLED = 3,
	CX_EXIT_INTERNAL = 70,  /* the runner could not run at all (no terminal event) */
	CX_EXIT_SIGTERM = 128 + SIGTERM, /* pid 1 of its PID namespace got SIGTERM,
					  * which cannot kill it (init.h) */
};

/* Runs the council to its terminal event. Returns an enum cx_run_exit. */
int cx_runner_main(const struct cx_run_params *params);

#endif
