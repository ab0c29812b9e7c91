/* What the supervision runtime shares beyond the public cx_sup API. */
#ifndef CX_SUP_SUP_H
#define CX_SUP_SUP_H

#include "council/supervisor.h"
#include "loop.h"
#include "proc.h"
#include "relay.h"

/* The supervisor's loop: a tenant supervisor process adds its own watches
 * (its channel to councild, linked callers' pidfds) to it. */
struct cx_loop *cx_sup_loop(struct cx_sup *sup);

/* The identity (pid and pidfs inode; no handle: pidfd -1) of run_id's
 * live worker: CX_OK, CX_EUNKNOWN_RUN, or CX_ERUNNER_DEAD. */
int cx_sup_worker(struct cx_sup *sup, const char *run_id, struct cx_proc *identity);
/* Whether run_id is known and not yet final: its end (the DOWN that
 * cx_sup_on_down's function gives) is still to come. */
bool cx_sup_run_live(struct cx_sup *sup, const char *run_id);
/* True if child is the worker of one of the supervisor's runs, left to
 * be reaped by its run. */
bool cx_sup_is_worker(struct cx_sup *sup, const struct cx_proc *child);
/* Who we are, as every run's status names its owner. */
const struct cx_proc_id *cx_sup_owner(const struct cx_sup *sup);

/* Gives fn the subscribers of every run that is over (relay.h), which
 * keep none after. */
void cx_sup_hand_over(struct cx_sup *sup, cx_hand_over_fn *fn, void *data);

#endif
