/* council: the supervisor, embedded in the calling process.
 *
 * A cx_sup forks one worker process per run, tracks it in a registry keyed
 * by run_id, relays its events to the run's events file and to subscriber
 * pipes, and keeps the run's status files. Workers are forked by a small
 * child process cx_sup_new makes (council-launch, docs/supervision.md):
 * they are the caller's children, and see its environment as it was then. It is single-threaded: the caller
 * drives it with cx_sup_dispatch(), or polls cx_sup_fd() in its own loop and
 * calls cx_sup_dispatch(sup, 0) when that fd is readable. */
#ifndef COUNCIL_SUPERVISOR_H
#define COUNCIL_SUPERVISOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "council/error.h"
#include "council/ids.h"

struct cx_sup;

/* Each run is contained by a cgroup, else a PID namespace, else its process
 * group, as the host allows; $COUNCIL_CONTAINMENT=cgroup|pidns|pgroup, read
 * by cx_sup_new, caps that at the level it names. */
struct cx_sup_options {
	const char *runtime_dir;  /* NULL: $COUNCIL_RUNTIME_DIR, $XDG_RUNTIME_DIR/council, ... */
	const char *tenant;       /* NULL: "default" */
	int shutdown_ms;          /* terminate: SIGTERM, then SIGKILL after this; 0: 5000 */
};

int cx_sup_new(const struct cx_sup_options *opts, struct cx_sup **out, struct cx_error *err);
/* Terminates every live run (the shutdown protocol), finalizes them, frees. */
void cx_sup_free(struct cx_sup *sup);

int cx_sup_fd(const struct cx_sup *sup);
/* Waits up to timeout_ms (-1: forever) for something to happen and handles
 * it. Returns CX_OK or a negative code. */
int cx_sup_dispatch(struct cx_sup *sup, int timeout_ms);
/* Runs that have not yet reached a final status. */
unsigned cx_sup_live(const struct cx_sup *sup);
const char *cx_sup_runtime_dir(const struct cx_sup *sup);

struct cx_start {
	const char *spec_json;    /* the council spec, JSON text */
	const char *input_json;   /* the run input, JSON text; NULL: {} */
	const char *options_json; /* the run options (docs/spec.md), JSON text; NULL: none */
	const char *run_id;       /* NULL: generate one */
	bool subscribe;           /* subscribe before the worker exists */
	int shutdown_ms;          /* terminate's SIGTERM-to-SIGKILL grace; 0: the supervisor's */
	const char *cwd;          /* the worker's working directory (absolute); NULL: ours */
};

/* Validates, registers and forks the run. On an invalid spec returns
 * CX_EINVALID with every finding in diags (nothing is forked). With
 * subscribe, *subscriber_fd receives the read end of the run's event pipe. */
int cx_sup_start(struct cx_sup *sup, const struct cx_start *req,
		 char run_id[CX_RUN_ID_MAX + 1], int *subscriber_fd,
		 struct cx_diags *diags, struct cx_error *err);

enum cx_run_status {
	CX_RUN_PENDING,
	CX_RUN_RUNNING,
	CX_RUN_COMPLETED,
	CX_RUN_FAILED,
	CX_RUN_CANCELLED,
};
const char *cx_run_status_name(enum cx_run_status status);
static inline bool cx_run_status_final(enum cx_run_status s)
{
	return s >= CX_RUN_COMPLETED;
}

/* A process as files record it, so that a later reader can prove it alive
 * or dead even after its pid was reused: its pid, the pidfs inode of a
 * pidfd on it, and the boot it ran in (/proc/sys/kernel/random/boot_id).
 * A run's and a tenant's owner (docs/supervision.md, Ownership). pid 0:
 * none recorded. */
struct cx_proc_id {
	pid_t pid;
	uint64_t ino;
	char boot_id[40];
};

struct cx_run_summary {
	char run_id[CX_RUN_ID_MAX + 1];
	char council[CX_NAME_MAX + 1];
	char tenant[CX_NAME_MAX + 1];
	enum cx_run_status status;
	char round[CX_NAME_MAX + 1];  /* current round, "" when none */
	int round_idx;                /* -1 when none */
	int rounds_completed;
	int64_t started_at_ms;        /* wall clock */
	int64_t finished_at_ms;       /* 0 while not final */
	pid_t pid;
	uint64_t events;
	char exit[32];                /* "-", "exited N", "killed SIGNAME" */
	char containment[8];          /* "cgroup", "pidns" or "pgroup": what a kill reaches */
	char unwritten[80];           /* a final write that failed, and why
				       * ("result.json: No space left on
				       * device"), while it is retried; "" */
	struct cx_proc_id owner;      /* the supervisor that writes its events */
};

/* The run's status file (docs/status-files.md): every key, in its order,
 * "Pid:\t-" when it has no worker. Returns the length, or -1 when it did
 * not fit in size. */
int cx_run_status_format(const struct cx_run_summary *s, char *buf, size_t size);

/* CX_OK with *pid, CX_EUNKNOWN_RUN, or CX_ERUNNER_DEAD (registered, exited). */
int cx_sup_pid_for(struct cx_sup *sup, const char *run_id, pid_t *pid);
/* The run a live worker pid serves: CX_OK or CX_EUNKNOWN_RUN. */
int cx_sup_run_id(struct cx_sup *sup, pid_t pid, char run_id[CX_RUN_ID_MAX + 1]);
/* CX_OK or CX_ENOT_FOUND. */
int cx_sup_state(struct cx_sup *sup, const char *run_id, struct cx_run_summary *out);
/* Waits up to timeout_ms for the run to be final, dispatching meanwhile;
 * *result_json (malloc'd) is its result.json. CX_ETIMEOUT, CX_ENOT_FOUND. */
int cx_sup_fetch_result(struct cx_sup *sup, const char *run_id, int timeout_ms,
			char **result_json, struct cx_error *err);

/* A pipe carrying the run's events from seq `since` (1: all): replayed from
 * the events file, then live, without gap or duplicate; EOF after the
 * terminal event. A reader that falls behind gets one {"type":"lagged",...}
 * line in place of what it lost. */
int cx_sup_subscribe(struct cx_sup *sup, const char *run_id, uint64_t since,
		     int *fd, struct cx_error *err);

/* Cooperative: the round in flight drains, the run ends failed/cancelled. */
int cx_sup_cancel(struct cx_sup *sup, const char *run_id, struct cx_error *err);
/* Forced: SIGTERM to the run's process group, SIGKILL after shutdown_ms. */
int cx_sup_terminate(struct cx_sup *sup, const char *run_id, struct cx_error *err);

/* Every run of this supervisor, in start order (live_only: those not yet
 * final): a malloc'd array in *out. Returns how many. */
size_t cx_sup_runs(struct cx_sup *sup, bool live_only, struct cx_run_summary **out);
/* Starts terminating every live run; they are all final when cx_sup_live()
 * is 0. */
void cx_sup_terminate_all(struct cx_sup *sup);

/* Drops a final run from memory (its directory stays): CX_OK, CX_ENOT_FINISHED
 * while it is not final or a subscriber still reads it (try again later),
 * CX_EUNKNOWN_RUN. A long-lived supervisor forgets its runs, so that it
 * holds nothing of them once they are over. */
int cx_sup_forget(struct cx_sup *sup, const char *run_id);

/* Called once per run when it is over for good (terminal event relayed,
 * worker reaped), with the reason a monitor's DOWN carries: "normal",
 * "exit N", "killed", "signal SIGNAME" (docs/protocol.md). */
typedef void cx_run_down_fn(void *data, const struct cx_run_summary *run, const char *reason);
void cx_sup_on_down(struct cx_sup *sup, cx_run_down_fn *fn, void *data);

/* The runtime directory councild and councilctl use by default. */
int cx_runtime_dir_default(char *buf, size_t size);

#endif
