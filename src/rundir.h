/* The runtime directory (DESIGN §4): where it is, and the run directories
 * in it. Only supervisors write here. */
#ifndef CX_RUNDIR_H
#define CX_RUNDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "council/ids.h"

struct cx_rundir {
	int root_fd;
	int runs_fd;          /* runs/ */
	int tenant_fd;        /* tenants/<tenant>/ */
	int tenant_runs_fd;   /* tenants/<tenant>/runs/ */
	mode_t run_mode;      /* the tenant directory's: 0700, or 0750 shared with its group */
	gid_t run_gid;        /* that group, else (gid_t)-1 */
};

/* Room kept for the end of a run: the space a full file system leaves is
 * not enough to record how a run ended, so each live run keeps this much
 * allocated in runs/<id>/reserve, and gives it up piece by piece, each
 * piece just before the write that needs it, keeping the rest until every
 * final write is done. */
#define CX_RUNDIR_RESERVE (64 * 1024)

/* The runtime directory's own names. */
#define CX_RUNS_DIR "runs"                 /* runs/<id>/: every run's directory */
#define CX_TENANTS_DIR "tenants"           /* tenants/<t>/: status, and runs/<id> links */
#define CX_SOCKET_NAME "councild.sock"
#define CX_PIDFILE_NAME "councild.pid"

#define CX_TENANT_PATH_MAX (CX_NAME_MAX + CX_RUN_ID_MAX + 32)

/* "tenants/<tenant>", relative to the runtime directory, in path. */
const char *cx_tenant_dir(const char *tenant, char path[CX_TENANT_PATH_MAX]);
/* "tenants/<tenant>/runs", or with a run id "tenants/<tenant>/runs/<run_id>"
 * (the tenant's link to the run's directory). */
const char *cx_tenant_runs(const char *tenant, const char *run_id, char path[CX_TENANT_PATH_MAX]);

/* The files of a run directory, runs/<id>/ (DESIGN §4, docs/status-files.md).
 * Their names are said here only. */
enum cx_run_file {
	CX_RUN_SPEC,      /* spec.json: the spec as validated */
	CX_RUN_INPUT,     /* input.json */
	CX_RUN_OPTIONS,   /* options.json: the run options as validated ({} when none) */
	CX_RUN_EVENTS,    /* events: one JSON line per event, seq from 1 */
	CX_RUN_STATUS,    /* status: /proc style */
	CX_RUN_SUMMARY,   /* summary.json: the status as JSON */
	CX_RUN_RESULT,    /* result.json: the terminal event's result */
	CX_RUN_RESERVE,   /* reserve: room kept for the run's end */
	CX_RUN_FILE_N
};

#define CX_RUN_PATH_MAX (CX_RUN_ID_MAX + 32)

/* The longest line of an events file a supervisor reads (it reads them a
 * line at a time, to finalize a run whose owner died). */
#define CX_RUN_EVENT_LINE_MAX (64 << 20)

const char *cx_run_file_name(enum cx_run_file f);
/* The most of f a supervisor reads (cx_read_file's max; for events, the
 * longest line, cx_read_lines's). */
size_t cx_run_file_max(enum cx_run_file f);
/* "<run_id>/<file>": a run's file relative to runs/, in path. */
const char *cx_run_file(const char *run_id, enum cx_run_file f, char path[CX_RUN_PATH_MAX]);
/* "runs/<run_id>/<file>": the same relative to the runtime directory. */
const char *cx_run_path(const char *run_id, enum cx_run_file f, char path[CX_RUN_PATH_MAX]);

/* The runtime directory to use, in buf: given, else the default
 * (cx_runtime_dir_default). A default council picks (not one
 * COUNCIL_RUNTIME_DIR names) is made with create when missing (0700; 0755
 * for root's, which every user's clients search), and verified: a
 * directory, not a symlink, of this user, writable by no one else.
 * Returns 0 (a missing one too, without create), or -errno with what is
 * wrong, naming the directory, in why (-EPERM: not ours to trust). */
int cx_runtime_dir_ready(const char *given, bool create, char *buf, size_t size, char *why,
			 size_t why_size);

/* Opens (creating as needed) root, runs/ and tenants/<tenant>/runs/. A
 * tenant directory made here is its creator's alone (0700); councild makes
 * and owns them for its tenants (supervisor/access.h). */
int cx_rundir_open(struct cx_rundir *rd, const char *root, const char *tenant);
void cx_rundir_close(struct cx_rundir *rd);

/* Creates runs/<id>/ (with the tenant directory's mode: 0700, or 0750)
 * and the tenant's symlink to it. Returns the
 * directory's fd, -EEXIST when the id is taken, or -errno. */
int cx_rundir_create_run(struct cx_rundir *rd, const char *run_id);
/* Removes what cx_rundir_create_run made, for a start that failed. */
void cx_rundir_remove_run(struct cx_rundir *rd, const char *run_id);

/* Allocates the reserve in the run directory dir_fd: 0, or -errno
 * (-ENOSPC: the file system has no room for it, and so none for a run). */
int cx_rundir_reserve(int dir_fd);
/* Gives room for a write of bytes back to the file system from run_id's
 * reserve (runs_fd: runs/), for the write that follows at once to take,
 * keeping at least keep bytes of it. */
void cx_rundir_reserve_give(int runs_fd, const char *run_id, size_t bytes, size_t keep);
/* Gives run_id's reserve (runs_fd: runs/) back to the file system. */
void cx_rundir_release(int runs_fd, const char *run_id);

#endif
