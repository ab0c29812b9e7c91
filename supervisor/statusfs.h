/* The files that say how a run or a tenant stands, and no other module
 * writes: /proc-style status files (DESIGN §4), runs/<id>/status and
 * summary.json, rewritten atomically on every change that matters, a
 * run's result.json, and tenants/<t>/status. */
#ifndef CX_SUP_STATUSFS_H
#define CX_SUP_STATUSFS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <cjson/cJSON.h>

#include "council/supervisor.h"
#include "proc.h"

/* The run_summary of DESIGN §3 as JSON. */
cJSON *cx_run_summary_json(const struct cx_run_summary *s);
/* Rewrites status and summary.json in runs_fd/<run_id>/ (runs_fd: runs/).
 * Returns 0 or -errno. */
int cx_statusfs_write_run(int runs_fd, const struct cx_run_summary *s);
/* Whether the run is over as s says: its status final, its exit known. */
bool cx_run_over(const struct cx_run_summary *s);
/* Whether runs_fd/<run_id>/status says what s (read from summary.json)
 * says: false when its writer died between the two. */
bool cx_statusfs_run_agrees(int runs_fd, const struct cx_run_summary *s);
/* Writes runs_fd/<run_id>/result.json: result, the terminal event's
 * "result" as JSON text. Returns 0 or -errno. */
int cx_statusfs_write_result(int runs_fd, const char *run_id, const char *result);

/* tenants/<tenant>/status (docs/supervision.md, Tenant status). */
struct cx_tenant_summary {
	const char *tenant;
	const char *status;          /* running, stopping, stopped, failed */
	pid_t pid;                   /* its supervisor; 0: none ("-") */
	unsigned runs;               /* live runs */
	int64_t started_at_ms;       /* 0: "-" */
	struct cx_proc_id owner;     /* who wrote it: its supervisor, else councild */
};

/* Rewrites root/tenants/<tenant>/status under the directory's lock (below).
 * One writer at a time: the tenant's supervisor while it lives, councild
 * when it does not. Returns 0 or -errno. */
int cx_statusfs_write_tenant(const char *root, const struct cx_tenant_summary *t);
/* If the status in tenant_fd says running or stopping for an owner that is
 * dead (and is `owner`, when given), rewrites it failed, with no Pid: the
 * owner's guardian, or a councild starting, for a supervisor that died
 * unannounced. Decided and written under the lock writers take, so a
 * supervisor started since is never overwritten. Returns 1 if it did. */
int cx_statusfs_tenant_orphaned(int tenant_fd, const struct cx_proc_id *owner);

#endif
