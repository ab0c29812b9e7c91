/* A supervisor's guardian: the part of its launcher (launcher.h) that
 * outlives it. The launcher knows every live run of its supervisor (those
 * whose worker it forked, and those the supervisor forked itself and told
 * it of) and holds a pidfd on the supervisor. When the supervisor dies, by
 * any signal, SIGKILL included, the guardian kills what is left of each
 * run (its cgroup; for a run without one, its process group through the
 * worker's pidfd, which reaches the group even once the worker is reaped),
 * waits until nothing of it is alive, and finalizes it (catalog.h:
 * `run_failed` kind `supervisor_down`, its result.json and final status),
 * then the tenant's status if the supervisor owned it. Then it exits.
 *
 * A run in a cgroup of its own is named by that cgroup alone: its
 * worker's pidfd is not kept. Every descriptor the launcher holds is
 * copied into each worker it forks, and closed there, so a pidfd per live
 * run would make every start cost in proportion to the runs alive. What
 * left its run's cgroup for the tenant's is not the guardian's (a new
 * supervisor may be there by then): the tenant's next supervisor kills it
 * as it starts (sup.c).
 *
 * Nothing here is exclusive by itself: finalizing goes through
 * cx_catalog_finalize, which proves the owner dead and takes the run's
 * lock, so a guardian and councild (or a reader) finalize a run once. */
#ifndef CX_SUP_GUARDIAN_H
#define CX_SUP_GUARDIAN_H

#include <stdbool.h>
#include <sys/tree.h>

#include "council/ids.h"
#include "proc.h"

struct cx_guarded {
	char run_id[CX_RUN_ID_MAX + 1];
	struct cx_proc worker;   /* a run without a cgroup of its own: its worker */
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
/* Guards run_id, whose worker is in the run's own cgroup if in_cgroup,
 * taking worker's pidfd (closed, for a run in its cgroup or one guarded
 * already). */
void cx_guardian_watch(struct cx_guardian *g, const char *run_id, struct cx_proc *worker,
		       bool in_cgroup);
/* The run is final: it is let go. */
void cx_guardian_forget(struct cx_guardian *g, const char *run_id);
/* The supervisor sup is dead: does the above, then returns. */
void cx_guardian_take_over(struct cx_guardian *g, const struct cx_proc_id *sup);

#endif
