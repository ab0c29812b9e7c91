/* A tenant supervisor process (`council-sup <tenant>`): one supervisor group.
 * It owns its runs (temporary children, never restarted), their registry,
 * relay and status files, the pidfds of linked callers, and answers
 * councild's requests on its channel. */
#ifndef CX_SUP_TENANT_SUP_H
#define CX_SUP_TENANT_SUP_H

#include "council/supervisor.h"

/* Runs the tenant supervisor on channel (a socket to councild) until it is
 * told to stop or councild goes away. Returns the process exit code. */
int cx_tenant_sup_main(int channel, const struct cx_sup_options *opts);

#endif
