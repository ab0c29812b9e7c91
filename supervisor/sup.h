/* What the supervision runtime shares beyond the public cx_sup API. */
#ifndef CX_SUP_SUP_H
#define CX_SUP_SUP_H

#include "council/supervisor.h"
#include "loop.h"
#include "relay.h"

/* The supervisor's loop: a tenant supervisor process adds its own watches
 * (its channel to councild, linked callers' pidfds) to it. */
struct cx_loop *cx_sup_loop(struct cx_sup *sup);

/* Who we are, as every run's status names its owner. */
const struct cx_proc_id *cx_sup_owner(const struct cx_sup *sup);

/* Gives fn the subscribers of every run that is over (relay.h), which
 * keep none after. */
void cx_sup_hand_over(struct cx_sup *sup, cx_hand_over_fn *fn, void *data);

#endif
