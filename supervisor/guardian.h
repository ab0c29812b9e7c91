/* A supervisor's guardian: the part of its launcher (launcher.h) that
 * outlives it. The launcher holds a pidfd on every live worker of its
 * supervisor (those it forked, and those the supervisor forked itself and
 * handed it) and a pidfd on the supervisor. When the supervisor dies, by
 * any signal, SIGKILL included, the guardian kills what is left of each
 * run (its process group through the worker's pidfd, which reaches the
 * group even once the worker is reaped; its cgroup), waits until nothing
 * of it is alive, and finalizes it (catalog.h: `run_failed` kind
 * `supervisor_down`, its result.json and final status), then the tenant's
 * status if the supervisor owned it. Then it exits.
 *
 * Nothing here is exclusive by itself: finalizing goes through
 * cx_catalog_finalize, which proves the owner dead and takes the run's
 * lock, so a guardian and councild (or a reader) finalize a run once. */
#ifndef CX_SUP_GUARDIAN_H
#define CX_SUP_GUARDIAN_H

#include <sys/tree.h>

#include "council/ids.h"
#include "proc.h"

struct cx_guarded {
	char run_id[CX_RUN_ID_MAX + 1];
	struct cx_proc worker;
	RB_ENTRY(cx_guarded) node;
};

RB_HEAD(cx_guarded_tree, cx_guarded);

struct cx_guardian {
	struct cx_guarded_tree runs;
	int runs_fd;      /* runs/ */
	int tenant_fd;    /* tenants/<tenant>/ */
	int cgroup_fd;    /* the tenant's cgroup, holding a cgroup per run; -1: none */
};

void cx_guardian_init(struct cx_guardian *g, int runs_fd, int tenant_fd, int cgroup_fd);
/* Guards run_id's worker, taking worker's pidfd (a run guarded already
 * keeps the one it has). */
void cx_guardian_watch(struct cx_guardian *g, const char *run_id, struct cx_proc *worker);
/* The run is final: its pidfd is let go. */
void cx_guardian_forget(struct cx_guardian *g, const char *run_id);
/* The supervisor sup is dead: does the above, then returns. */
void cx_guardian_take_over(struct cx_guardian *g, const struct cx_proc_id *sup);

#endif
