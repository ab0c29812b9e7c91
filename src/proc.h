/* A process named by its pidfd (after systemd's PidRef): pid, pidfd and the
 * pidfs inode, so a reused pid can never be mistaken for the process. No bare
 * pid_t travels outside this type. */
#ifndef CX_PROC_H
#define CX_PROC_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "council/supervisor.h"

struct cx_proc {
	pid_t pid;
	int pidfd;
	uint64_t ino;   /* pidfs inode of pidfd: the identity */
};

#define CX_PROC_NULL ((struct cx_proc){ 0, -1, 0 })

/* Forks with the pidfd taken atomically (clone3 + CLONE_PIDFD; fallback
 * fork + pidfd_open, safe because nothing here reaps blindly). The child
 * starts with every signal blocked: it must call cx_proc_child_init first.
 * Returns 1 in the parent with *p filled, 0 in the child, -errno on failure. */
int cx_proc_fork(struct cx_proc *p);

/* Where and how to start a child (containment.h says why). */
struct cx_fork_opts {
	int cgroup_fd;      /* a cgroup2 directory to start the child in, or -1 */
	bool new_pidns;     /* the child is pid 1 of a new PID namespace */
	bool sibling;       /* CLONE_PARENT: the child is our parent's, which reaps
			     * it and whose death its PDEATHSIG follows; clone3
			     * only, never a plain fork (launcher.h says why) */
};

#define CX_FORK_OPTS_NONE ((struct cx_fork_opts){ .cgroup_fd = -1 })

/* How the child got into opts->cgroup_fd. */
enum cx_fork_cgroup {
	CX_FORK_CGROUP_NONE,    /* none was asked for */
	CX_FORK_CGROUP_CLONE,   /* born there: clone3 CLONE_INTO_CGROUP */
	CX_FORK_CGROUP_MOVED,   /* the kernel refused that; the child moved
				 * itself there before returning from the fork */
	CX_FORK_CGROUP_FAILED,  /* the move failed too: the child runs in the
				 * parent's cgroup (the caller may kill it) */
};

/* What cx_proc_fork_opts did, for the parent. */
struct cx_fork_outcome {
	enum cx_fork_cgroup cgroup;
	int cgroup_error;   /* -errno: why CLONE_INTO_CGROUP (MOVED), or the
			     * move as well (FAILED), was refused; else 0 */
	bool pidns;         /* the child is pid 1 of a new PID namespace */
	int pidns_error;    /* -errno if one was asked for and refused (EPERM
			     * without CAP_SYS_ADMIN, ENOSPC, ENOSYS...); else 0 */
};

/* The child is in the cgroup it was forked for. */
static inline bool cx_fork_in_cgroup(const struct cx_fork_outcome *how)
{
	return how->cgroup == CX_FORK_CGROUP_CLONE || how->cgroup == CX_FORK_CGROUP_MOVED;
}

/* cx_proc_fork, with the child started in a cgroup and/or a new PID
 * namespace where the kernel allows, and without them where it does not:
 * a refused CLONE_INTO_CGROUP falls back to a fork whose child moves
 * itself into the cgroup before anything of the caller's runs in it (the
 * parent waits for that on a pipe, so *out is true when this returns); a
 * refused CLONE_NEWPID falls back to no namespace. out may be NULL.
 * Returns 1 in the parent, 0 in the child, -errno on failure. */
int cx_proc_fork_opts(struct cx_proc *p, const struct cx_fork_opts *opts,
		      struct cx_fork_outcome *out);

/* Child side, right after cx_proc_fork: dies with the parent (PDEATHSIG
 * SIGKILL, then the getppid() re-check against parent), default signal
 * dispositions, then an empty mask (what arrived meanwhile is delivered
 * now, to the defaults). Returns false if the parent is already gone.
 * In a new PID namespace getppid() is 0 (the parent is outside it): the
 * re-check reads the parent from /proc/self/stat instead, and is skipped
 * if /proc cannot tell (PDEATHSIG alone stands then). */
bool cx_proc_child_init(pid_t parent);
/* The same, but the signals in keep stay blocked: a child that is to take
 * them on a signalfd loses none that came since the fork (a signal with no
 * handler that reaches a PID namespace's init unblocked is dropped). */
bool cx_proc_child_init_keep(pid_t parent, const sigset_t *keep);

/* Opens a handle on an existing pid (pidfd_open). Returns 0 or -errno.
 * Whatever has that pid now: a pid that came from anywhere but a fork of
 * ours is opened with cx_proc_open_verified. */
int cx_proc_open(struct cx_proc *p, pid_t pid);
/* Takes pidfd, received from the process that forked pid, as p's handle. */
void cx_proc_adopt(struct cx_proc *p, pid_t pid, int pidfd);
/* Takes a pidfd that came without its pid (SO_PEERPIDFD), reading the pid
 * from its fdinfo. Returns 0 or -errno (-ESRCH: it has exited); pidfd is
 * p's either way (released with it). */
int cx_proc_from_pidfd(struct cx_proc *p, int pidfd);

/* This boot's id (/proc/sys/kernel/random/boot_id, 36 characters), or ""
 * if it cannot be read. */
const char *cx_boot_id(void);

/* Still the process p was taken on, and not exited: 0, -ESRCH (exited,
 * reaped or not), -ESTALE (the pidfd names another process than p->ino),
 * -EBADF (no handle). */
int cx_proc_verify(const struct cx_proc *p);

/* The same process: the same pidfs inode where both are known, else the
 * same pid. Handles need not be open (an identity alone compares). */
bool cx_proc_equal(const struct cx_proc *a, const struct cx_proc *b);

int cx_proc_signal(const struct cx_proc *p, int sig);
/* Signals the process group led by p (PIDFD_SIGNAL_PROCESS_GROUP, fallback
 * killpg, which is safe while the leader is unreaped). */
int cx_proc_signal_group(const struct cx_proc *p, int sig);

/* Reaps p if it has exited: returns 1 with *info filled, 0 if it still runs,
 * -errno on error. Never blocks. */
int cx_proc_reap(struct cx_proc *p, siginfo_t *info);

/* True until the process has exited: a dead child not yet reaped is not
 * alive (its pidfd polls readable). */
bool cx_proc_alive(const struct cx_proc *p);

void cx_proc_release(struct cx_proc *p);

/* The identity files record (council/supervisor.h): of the calling
 * process, and of p. Return 0 or -errno. */
int cx_proc_id_self(struct cx_proc_id *id);
int cx_proc_id_of(const struct cx_proc *p, struct cx_proc_id *id);
/* Opens a handle on the process id names, proven to be it: a pidfd whose
 * pidfs inode is id's, in id's boot, on a process that has not exited (a
 * zombie has). Returns 0, or -ESRCH when that process is gone. */
int cx_proc_open_verified(struct cx_proc *p, const struct cx_proc_id *id);
/* Whether the process id names still runs; false once it has exited, even
 * unreaped, and for an id with no pid. */
bool cx_proc_id_alive(const struct cx_proc_id *id);
/* "pid ino boot_id" (status files' Owner), or "-" for none; and back. */
void cx_proc_id_format(const struct cx_proc_id *id, char *buf, size_t size);
int cx_proc_id_parse(const char *text, struct cx_proc_id *id);
bool cx_proc_id_equal(const struct cx_proc_id *a, const struct cx_proc_id *b);

/* Claims an exited child as the caller's own, to be reaped by its pidfd. */
typedef bool cx_tracked_fn(const struct cx_proc *child, void *arg);

/* Reaps, without blocking, every exited child that tracked (NULL: none)
 * does not claim: the orphans a subreaper or a PID namespace's init
 * adopted. Finds them with waitid(P_ALL, WNOWAIT) and reaps each by a
 * pidfd, so a tracked child is never reaped here (no blind waitpid); it
 * stops at the first exited child tracked claims, which its owner is about
 * to reap: call again once it has. Returns how many it reaped, or -errno. */
int cx_reap_orphans(cx_tracked_fn *tracked, void *arg);

/* "exited 3", "killed SIGKILL" from a reaped waitid() result. */
void cx_exit_describe(const siginfo_t *info, char *buf, size_t size);
const char *cx_signal_name(int sig);
/* "SIGUSR1" or "USR1" to its number; -1 when it names no signal. */
int cx_signal_number(const char *name);

#endif
