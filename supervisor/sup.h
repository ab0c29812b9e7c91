/* What the supervision runtime shares beyond the public cx_sup API. */
#ifndef CX_SUP_SUP_H
#define CX_SUP_SUP_H

#include "council/supervisor.h"
#include "loop.h"

/* The supervisor's loop: a tenant supervisor process adds its own watches
 * (its channel to councild, linked callers' pidfds) to it. */
struct cx_loop *cx_sup_loop(struct cx_sup *sup);

#endif
