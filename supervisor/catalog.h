/* Runs as the runtime directory records them: what councild reads to answer
 * for runs whose supervisor is not there to ask (ps, tree, a dead tenant's
 * runs), and the recovery that makes every such run final. */
#ifndef CX_SUP_CATALOG_H
#define CX_SUP_CATALOG_H

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "council/supervisor.h"

/* The summary.json of runs/<run_id>, parsed. Returns 0 or -errno. */
int cx_catalog_read(int root_fd, const char *run_id, struct cx_run_summary *out);
/* Whether runs/<run_id> under the runtime directory root_fd is tenant's by
 * the kernel's word: a directory owned by the tenant's owner. */
bool cx_catalog_owns(int root_fd, const char *run_id, const char *tenant);

/* summary.json objects of the runs of tenant (NULL: every tenant), in run id
 * order (start order for generated ids); live_only: not final. A run found
 * abandoned on the way is settled first (cx_catalog_settle). */
cJSON *cx_catalog_list(int root_fd, const char *root, const char *tenant, bool live_only);

/* Finalizing a run whose owner (its summary's, council/supervisor.h) died
 * before it: only once the owner is proven dead (cx_proc_id_alive), and
 * exclusively (under the lock of its events file, so that of any number of
 * finalizers exactly one appends). Its events end with its own terminal
 * event if they have one, else a synthesized run_failed of kind `kind`; its
 * result.json and final status follow. runs_fd: runs/. Returns 1 if it
 * finalized the run, 0 if there was nothing to do (final, or its owner
 * lives), or -errno. The caller has killed what was left of it. */
int cx_catalog_finalize(int runs_fd, const char *run_id, const char *kind, const char *message);

/* For a reader of root (its path, for the cgroups): if run_id is abandoned
 * (not final, owner proven dead), kills its cgroup and finalizes it
 * `supervisor_down`. Returns 1 if it did, 0 if not, or -errno. */
int cx_catalog_settle(int root_fd, const char *root, const char *run_id);

/* cx_catalog_settle for every run of tenant (NULL: all). Returns how many
 * it finalized. */
int cx_catalog_recover(int root_fd, const char *root, const char *tenant);

/* Retention: removes the directories (and tenant links) of tenant's final
 * runs that finished more than keep_ms ago, and of the oldest beyond
 * keep_count. Returns how many it removed. */
int cx_catalog_expire(int root_fd, const char *root, const char *tenant, int64_t keep_ms,
		      unsigned keep_count);

#endif
