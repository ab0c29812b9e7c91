/* The launcher (after OTP's erl_child_setup): a small process a supervisor
 * forks as it starts, before it grows, that forks the supervisor's workers.
 *
 * A fork costs in proportion to the forking process: its page tables are
 * copied, the pages either side then writes are copied, and the worker
 * closes every descriptor it inherited. A tenant supervisor with thousands
 * of live runs holds five descriptors and a few KiB for each; the launcher
 * holds its socket and runs/. Its forks are clone3 with CLONE_PARENT: each
 * worker is the supervisor's child, not the launcher's, so the supervisor
 * reaps it by the pidfd that comes back over the socket, and the worker's
 * PDEATHSIG follows the supervisor, as if the supervisor had forked it.
 *
 * The worker starts from what the launcher was when it was forked (its
 * environment, say), plus what each request carries: the run, the working
 * directory and the pipes. Requests are answered one at a time and the
 * supervisor waits for each answer, so a worker is registered before
 * anything of its exit can be seen, and each is answered within a bound
 * (a stopped or stuck launcher is replaced, not waited for).
 *
 * The launcher is also its supervisor's guardian (guardian.h): it does not
 * die with the supervisor but watches it through a pidfd, and finishes
 * what the supervisor leaves. */
#ifndef CX_SUP_LAUNCHER_H
#define CX_SUP_LAUNCHER_H

#include <stdbool.h>

#include "proc.h"
#include "worker.h"

struct cx_launcher {
	struct cx_proc proc;
	int sock;       /* SOCK_SEQPACKET to it; -1: none, the supervisor forks */
	int runs_fd;    /* the supervisor's runs/, handed to each launcher */
	int tenant_fd;  /* its tenants/<tenant>/ */
	int cgroup_fd;  /* its tenant's cgroup, or -1 */
	unsigned generation; /* launchers started so far: a new one guards nothing yet */
	bool stale;     /* it missed a note: replaced at the next start */
};

#define CX_LAUNCHER_NONE ((struct cx_launcher){ CX_PROC_NULL, -1, -1, -1, -1, 0, false })

/* Forks a launcher serving runs_fd, guarding the runs of the tenant whose
 * directory is tenant_fd and whose cgroup is cgroup_fd (-1: none). The
 * descriptors stay the caller's. Returns 0 or -errno (l stays none). */
int cx_launcher_start(struct cx_launcher *l, int runs_fd, int tenant_fd, int cgroup_fd);

/* Has the launcher fork a worker with args (its fds are sent, not kept;
 * args->runs_fd is the launcher's own) where opts says (opts->sibling is
 * implied): 0 with *proc and *how; -EAGAIN, -ENOMEM: the fork failed;
 * -EPIPE: the launcher died or stopped answering, and a new one took its
 * place: try again, with new pipes (one that got stuck after its fork left
 * a worker holding these); -ENOSYS when the launcher cannot, and the
 * caller should fork the worker itself (the kernel refuses CLONE_PARENT;
 * no new launcher could be started): from then on the launcher is none. */
int cx_launcher_spawn(struct cx_launcher *l, const struct cx_worker_args *args,
		      const struct cx_fork_opts *opts, struct cx_proc *proc,
		      struct cx_fork_outcome *how);

/* Ends and reaps the launcher; l becomes none. Its runs are unguarded. */
void cx_launcher_stop(struct cx_launcher *l);

/* Tells the guardian of a worker the supervisor forked itself (in its
 * run's cgroup if in_cgroup), and of a run that is final. Never waits. */
void cx_launcher_guard(struct cx_launcher *l, const char *run_id, const struct cx_proc *worker,
		       bool in_cgroup);
void cx_launcher_forget(struct cx_launcher *l, const char *run_id);

#endif
