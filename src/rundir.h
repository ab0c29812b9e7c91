/* The runtime directory (DESIGN §4): where it is, and the run directories
 * in it. Only supervisors write here. */
#ifndef CX_RUNDIR_H
#define CX_RUNDIR_H

#include <stddef.h>
#include <sys/types.h>

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
