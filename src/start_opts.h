/* Run options (docs/spec.md#run-options): what a start asks of one run
 * beside its spec and input, checked like a spec (shape.h). */
#ifndef CX_START_OPTS_H
#define CX_START_OPTS_H

#include "shape.h"

/* A "retry" object ({"max", "base_ms"}) into the struct cx_retry at dest:
 * only the keys given are kept, so retry objects lay over each other key
 * by key (the spec's top level, the run's options, the member's own). */
void cx_retry_check(struct cx_check *c, const cJSON *item, const char *path, void *dest);

#endif
