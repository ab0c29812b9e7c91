/* The worker's duties as a namespace init: when its run is contained by a
 * PID namespace (containment.h), the worker is pid 1 there, and two things
 * that the kernel does for every other process fall to it.
 *
 *  - SIGTERM. The kernel drops any signal an init has no handler for,
 *    SIGKILL from outside aside, so the SIGTERM that terminate_run sends
 *    first would do nothing. The init takes SIGTERM on a signalfd, and
 *    its owner then exits at once, reporting nothing more, with
 *    CX_EXIT_SIGTERM (runner.h): it cannot die of the signal itself, and
 *    the supervisor reports that exit as "killed SIGTERM", as it would any
 *    other worker's (supervisor/worker.h). The kernel then SIGKILLs
 *    everything left in the namespace.
 *  - Orphans. Whatever in the namespace loses its parent (a double-forked,
 *    setsid'd grandchild of a member) becomes the init's child, and would
 *    stay a zombie. On SIGCHLD it reaps them with cx_reap_orphans (proc.h),
 *    leaving alone the children its owner reaps by pidfd (tracked); a sweep
 *    that stops at one of those is tried again after the next turn, by
 *    when its owner has reaped it.
 *
 * A process that is not pid 1 of its namespace has neither duty: there,
 * every function here does nothing. */
#ifndef CX_INIT_H
#define CX_INIT_H

#include <signal.h>
#include <stdbool.h>

#include "loop.h"
#include "proc.h"

struct cx_init {
	struct cx_loop *loop;
	struct cx_watch signals;  /* signalfd for cx_init_signals(); fd -1: not an init */
	cx_tracked_fn *tracked;
	void *tracked_arg;
	bool swept_short;         /* the last sweep stopped at a tracked child */
	bool sigterm;             /* SIGTERM arrived */
};

#define CX_INIT_NONE ((struct cx_init){ .signals = { .fd = -1 } })

/* True if this process is pid 1 of its PID namespace. */
bool cx_init_is_init(void);

/* The signals an init takes on its signalfd (SIGTERM, SIGCHLD). A child
 * that will be one keeps them blocked from its fork on
 * (cx_proc_child_init_keep), so none is lost before cx_init_start. */
void cx_init_signals(sigset_t *set);

/* Takes on the duties on loop if this process is an init (else leaves
 * *init idle). tracked (may be NULL) claims the children the caller reaps
 * by pidfd. Returns 0 or -errno. */
int cx_init_start(struct cx_init *init, struct cx_loop *loop, cx_tracked_fn *tracked,
		  void *arg);

/* Call after every turn of the loop, before acting on what the turn did:
 * takes what the signalfd holds even when this turn's events came first,
 * and sweeps again for orphans while a sweep stopped short. True once
 * SIGTERM has arrived: end the process now, as the signal would, without
 * acting on the turn (a SIGTERM sent to the run's process group is queued
 * before any member it kills can be seen dead, so no outcome of that kill
 * is reported). */
bool cx_init_service(struct cx_init *init);

void cx_init_stop(struct cx_init *init);

#endif
