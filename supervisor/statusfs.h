/* /proc-style status files (DESIGN §4): runs/<id>/status and summary.json,
 * rewritten atomically on every change that matters. */
#ifndef CX_SUP_STATUSFS_H
#define CX_SUP_STATUSFS_H

#include <cjson/cJSON.h>

#include "council/supervisor.h"

/* The run_summary of DESIGN §3 as JSON. */
cJSON *cx_run_summary_json(const struct cx_run_summary *s);
/* Rewrites status and summary.json in runs_fd/<run_id>/ (runs_fd: runs/).
 * Returns 0 or -errno. */
int cx_statusfs_write_run(int runs_fd, const struct cx_run_summary *s);

#endif
