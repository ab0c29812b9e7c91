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

/* summary.json objects of the runs of tenant (NULL: every tenant), in run id
 * order (start order for generated ids); live_only: not final. */
cJSON *cx_catalog_list(int root_fd, const char *tenant, bool live_only);

/* Finalizes every run of tenant (NULL: all) whose status is not final: its
 * events end with a synthesized run_failed of kind `kind`, its result.json
 * and status are written. For runs whose supervisor died with them. Returns
 * how many it finalized. */
int cx_catalog_recover(int root_fd, const char *tenant, const char *kind, const char *message);

/* Retention: removes the directories (and tenant links) of tenant's final
 * runs that finished more than keep_ms ago, and of the oldest beyond
 * keep_count. Returns how many it removed. */
int cx_catalog_expire(int root_fd, const char *tenant, int64_t keep_ms, unsigned keep_count);

#endif
