/* A process named by its pidfd (after systemd's PidRef): pid, pidfd and the
 * pidfs inode, so a reused pid can never be mistaken for the process. No bare
 * pid_t travels outside this type. */
#ifndef CX_PROC_H
#define CX_PROC_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

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

/* Child side, right after cx_proc_fork: dies with the parent (PDEATHSIG
 * SIGKILL, then the getppid() re-check against parent), default signal
 * dispositions, then an empty mask (what arrived meanwhile is delivered
 * now, to the defaults). Returns false if the parent is already gone. */
bool cx_proc_child_init(pid_t parent);

/* Opens a handle on an existing pid (pidfd_open). Returns 0 or -errno. */
int cx_proc_open(struct cx_proc *p, pid_t pid);

int cx_proc_signal(const struct cx_proc *p, int sig);
/* Signals the process group led by p (PIDFD_SIGNAL_PROCESS_GROUP, fallback
 * killpg, which is safe while the leader is unreaped). */
int cx_proc_signal_group(const struct cx_proc *p, int sig);

/* Reaps p if it has exited: returns 1 with *info filled, 0 if it still runs,
 * -errno on error. Never blocks. */
int cx_proc_reap(struct cx_proc *p, siginfo_t *info);

/* True while the identity still names a live (or unreaped) process. */
bool cx_proc_alive(const struct cx_proc *p);

void cx_proc_release(struct cx_proc *p);

/* "exited 3", "killed SIGKILL" from a reaped waitid() result. */
void cx_exit_describe(const siginfo_t *info, char *buf, size_t size);
const char *cx_signal_name(int sig);

#endif
