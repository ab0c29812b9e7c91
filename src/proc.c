#include "proc.h"

#include <errno.h>
#include <linux/sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* The build machine's headers are older than its kernel. */
#ifndef PIDFD_SIGNAL_PROCESS_GROUP
#define PIDFD_SIGNAL_PROCESS_GROUP (1UL << 2)
#endif

static int sys_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int sys_pidfd_send_signal(int pidfd, int sig, unsigned int flags)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, flags);
}

static void identify(struct cx_proc *p)
{
	struct stat st;
	p->ino = fstat(p->pidfd, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

static long clone_with_pidfd(int *pidfd)
{
	struct clone_args args = {
		.flags = CLONE_PIDFD,
		.pidfd = (uint64_t)(uintptr_t)pidfd,
		.exit_signal = SIGCHLD,
	};
	long pid = syscall(SYS_clone3, &args, sizeof args);
	if (pid >= 0 || (errno != ENOSYS && errno != EINVAL && errno != EPERM))
		return pid < 0 ? -errno : pid;
	/* clone3 refused (old kernel, seccomp): fork, then pidfd_open. This is
	 * race-free because no code in this project reaps a pid it holds no
	 * pidfd for, so the child cannot be reaped and its pid reused first. */
	pid = fork();
	if (pid <= 0)
		return pid < 0 ? -errno : 0;
	*pidfd = sys_pidfd_open((pid_t)pid);
	if (*pidfd < 0) {
		int e = errno;
		kill((pid_t)pid, SIGKILL);
		waitpid((pid_t)pid, NULL, 0);
		return -e;
	}
	return pid;
}

/* Every signal is blocked across the fork: until cx_proc_child_init has
 * reset them, the child runs the parent's signal handlers, and a signal
 * meant for the child would run the parent's logic in it (a test runner's
 * SIGTERM handler killing its whole process group, say). The child keeps
 * them blocked, pending, until its handlers are the defaults. pidfds from
 * clone3 and pidfd_open are always close-on-exec. */
int cx_proc_fork(struct cx_proc *p)
{
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	int pidfd = -1;
	long pid = clone_with_pidfd(&pidfd);
	if (pid == 0)
		return 0;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0)
		return (int)pid;
	p->pid = (pid_t)pid;
	p->pidfd = pidfd;
	identify(p);
	return 1;
}

bool cx_proc_child_init(pid_t parent)
{
	/* PDEATHSIG fires when the parent dies from now on; the re-check
	 * catches a parent that died before prctl ran. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		return false;
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	return true;
}

int cx_proc_open(struct cx_proc *p, pid_t pid)
{
	int fd = sys_pidfd_open(pid);
	if (fd < 0)
		return -errno;
	p->pid = pid;
	p->pidfd = fd;
	identify(p);
	return 0;
}

int cx_proc_signal(const struct cx_proc *p, int sig)
{
	return sys_pidfd_send_signal(p->pidfd, sig, 0) < 0 ? -errno : 0;
}

int cx_proc_signal_group(const struct cx_proc *p, int sig)
{
	if (sys_pidfd_send_signal(p->pidfd, sig, PIDFD_SIGNAL_PROCESS_GROUP) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != EPERM)
		return -errno;
	/* Older kernel: killpg. Safe only while the leader is unreaped, which
	 * keeps its pid, and so the group id, from being reused. */
	return killpg(p->pid, sig) < 0 ? -errno : 0;
}

int cx_proc_reap(struct cx_proc *p, siginfo_t *info)
{
	memset(info, 0, sizeof *info);
	if (waitid(P_PIDFD, (id_t)p->pidfd, info, WEXITED | WNOHANG) < 0)
		return -errno;
	return info->si_pid != 0;
}

bool cx_proc_alive(const struct cx_proc *p)
{
	return p->pidfd >= 0 && sys_pidfd_send_signal(p->pidfd, 0, 0) == 0;
}

void cx_proc_release(struct cx_proc *p)
{
	if (p->pidfd >= 0)
		close(p->pidfd);
	*p = CX_PROC_NULL;
}

const char *cx_signal_name(int sig)
{
	static __thread char buf[16];
	const char *abbrev = sigabbrev_np(sig);
	if (abbrev)
		snprintf(buf, sizeof buf, "SIG%s", abbrev);
	else
		snprintf(buf, sizeof buf, "SIG%d", sig);
	return buf;
}

void cx_exit_describe(const siginfo_t *info, char *buf, size_t size)
{
	if (info->si_code == CLD_EXITED)
		snprintf(buf, size, "exited %d", info->si_status);
	else
		snprintf(buf, size, "killed %s", cx_signal_name(info->si_status));
}
