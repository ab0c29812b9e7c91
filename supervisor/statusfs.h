/* /proc-style status files (DESIGN §4): runs/<id>/status and summary.json,
 * rewritten atomically on every change that matters. */
#ifndef CX_SUP_STATUSFS_H
#define CX_SUP_STATUSFS_H

#include <stdint.h>
#include <sys/types.h>
#include <cjson/cJSON.h>

#include "council/supervisor.h"

/* The run_summary of DESIGN §3 as JSON. */
cJSON *cx_run_summary_json(const struct cx_run_summary *s);
/* Rewrites status and summary.json in runs_fd/<run_id>/ (runs_fd: runs/).
 * Returns 0 or -errno. */
int cx_statusfs_write_run(int runs_fd, const struct cx_run_summary *s);

/* What tenants/<tenant>/status says (docs/supervision.md). */
struct cx_tenant_report {
	const char *tenant;
	pid_t pid;               /* its supervisor; 0: none ("Pid:\t-") */
	const char *status;      /* running, stopping, stopped, failed */
	unsigned runs;           /* live runs */
	int64_t started_at_ms;   /* 0: "-" */
};

/* Rewrites root/tenants/<tenant>/status. One writer at a time: the
 * tenant's supervisor while it lives, councild when it does not (two
 * processes renaming the same temporary could tear it). Returns 0 or
 * -errno. */
int cx_statusfs_write_tenant(const char *root, const struct cx_tenant_report *r);

#endif
