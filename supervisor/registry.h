/* The registry: runs hashed by run_id and by worker pid, and in start order. */
#ifndef CX_SUP_REGISTRY_H
#define CX_SUP_REGISTRY_H

#include <stddef.h>
#include <sys/queue.h>
#include <sys/types.h>

struct cx_run;
TAILQ_HEAD(cx_run_list, cx_run);

struct cx_registry {
	struct cx_run **by_id;
	struct cx_run **by_pid;
	size_t n_buckets;
	size_t n;
	struct cx_run_list runs;
};

void cx_registry_init(struct cx_registry *reg);
void cx_registry_fini(struct cx_registry *reg);
/* Returns 0 or -ENOMEM; the id must not be registered yet. */
int cx_registry_add(struct cx_registry *reg, struct cx_run *run);
/* Hashes the run by its worker's pid, once that is known (summary.pid). */
void cx_registry_add_pid(struct cx_registry *reg, struct cx_run *run);
void cx_registry_remove(struct cx_registry *reg, struct cx_run *run);
struct cx_run *cx_registry_find(const struct cx_registry *reg, const char *run_id);
/* The run whose worker is pid and has not exited. */
struct cx_run *cx_registry_find_pid(const struct cx_registry *reg, pid_t pid);

#endif
