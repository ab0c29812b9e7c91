#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "containment.h"

/* The build machine's headers are older than its kernel. */
#ifndef PIDFD_SIGNAL_PROCESS_GROUP
#define PIDFD_SIGNAL_PROCESS_GROUP (1UL << 2)
#endif
#ifndef PIDFS_MAGIC
#define PIDFS_MAGIC 0x50494446
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000ULL
#endif
#ifndef CLONE_PARENT
#define CLONE_PARENT 0x00008000ULL
#endif
#ifndef CLONE_NEWPID
#define CLONE_NEWPID 0x20000000ULL
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

/* clone3's arguments up to the cgroup field (Linux 5.7), spelled out here
 * because older headers lack that field. A kernel older than the struct
 * accepts it as long as the fields it does not know are zero. */
struct cx_clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal;
	uint64_t stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

static int sys_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int sys_pidfd_send_signal(int pidfd, int sig, unsigned int flags)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, flags);
}

/* The pidfs inode (Linux 6.9) is one per process for as long as the boot
 * lasts. Before pidfs every pidfd had the one anonymous inode, which names
 * nothing: 0 then, the identity unknown. */
static uint64_t pidfd_ino(int pidfd)
{
	struct stat st;
	struct statfs fs;
	if (fstatfs(pidfd, &fs) < 0 || fs.f_type != PIDFS_MAGIC || fstat(pidfd, &st) < 0)
		return 0;
	return (uint64_t)st.st_ino;
}

static void identify(struct cx_proc *p)
{
	p->ino = pidfd_ino(p->pidfd);
}

/* The errors by which the kernel refuses an option of clone3 (or clone3
 * itself: ENOSYS, or EPERM from a seccomp filter), as opposed to failing
 * the fork (EAGAIN, ENOMEM). E2BIG is a kernel older than the cgroup field
 * (5.3-5.6) seeing it set. */
static bool refused(int e)
{
	return e == ENOSYS || e == EINVAL || e == E2BIG || e == EPERM || e == EACCES ||
	       e == EBUSY || e == EOPNOTSUPP || e == ENOSPC || e == EUSERS;
}

static long sys_clone3_pidfd(int *pidfd, uint64_t flags, int cgroup_fd)
{
	struct cx_clone_args args = {
		.flags = CLONE_PIDFD | flags,
		.pidfd = (uint64_t)(uintptr_t)pidfd,
		/* A sibling signals our parent as we do: clone3 takes no
		 * exit_signal of its own with CLONE_PARENT. */
		.exit_signal = flags & CLONE_PARENT ? 0 : SIGCHLD,
		.cgroup = flags & CLONE_INTO_CGROUP ? (uint64_t)cgroup_fd : 0,
	};
	long pid = syscall(SYS_clone3, &args, sizeof args);
	return pid < 0 ? -errno : pid;
}

/* Forks with the pidfd taken atomically, asking for what *flags holds
 * (CLONE_INTO_CGROUP, CLONE_NEWPID) and, as the kernel refuses, for less:
 * both, then the namespace alone (the child can still move itself into the
 * cgroup), then the cgroup alone, then neither, then fork without clone3.
 * A refusal of both at once is not blamed on either until one alone is
 * refused too. *flags is left with what the child got; out gets the errno
 * that kept it from the rest. CLONE_PARENT in *flags is asked for every
 * time, and there is no fork without it: its refusal is returned. */
static long clone_with_pidfd(int *pidfd, int cgroup_fd, uint64_t *flags,
			     struct cx_fork_outcome *out)
{
	static const uint64_t ladder[] = {
		CLONE_INTO_CGROUP | CLONE_NEWPID, CLONE_NEWPID, CLONE_INTO_CGROUP, 0,
	};
	uint64_t want = *flags, proven = 0, always = *flags & CLONE_PARENT;
	int cgroup_err = 0, pidns_err = 0, last_err = ENOSYS;
	for (size_t i = 0; i < sizeof ladder / sizeof ladder[0]; i++) {
		uint64_t ask = ladder[i];
		if ((ask & want) != ask || (ask & proven))
			continue;
		long pid = sys_clone3_pidfd(pidfd, ask | always, cgroup_fd);
		if (pid >= 0) {
			if (pid > 0) {
				out->cgroup_error = want & ~ask & CLONE_INTO_CGROUP ? cgroup_err : 0;
				out->pidns_error = want & ~ask & CLONE_NEWPID ? pidns_err : 0;
			}
			*flags = ask;
			return pid;
		}
		int e = (int)-pid;
		if (!refused(e))
			return pid;
		last_err = e;
		if (ask & CLONE_INTO_CGROUP)
			cgroup_err = -e;
		if (ask & CLONE_NEWPID)
			pidns_err = -e;
		if (ask == CLONE_INTO_CGROUP || ask == CLONE_NEWPID)
			proven |= ask;
		if (e == ENOSYS)
			break;
	}
	out->cgroup_error = want & CLONE_INTO_CGROUP ? cgroup_err : 0;
	out->pidns_error = want & CLONE_NEWPID ? pidns_err : 0;
	*flags = 0;
	if (always)
		return -last_err;
	/* clone3 refused (old kernel, seccomp): fork, then pidfd_open. This is
	 * race-free because no code in this project reaps a pid it holds no
	 * pidfd for, so the child cannot be reaped and its pid reused first. */
	long pid = fork();
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

/* The parent's side of a child's move into its cgroup: 0 or the child's
 * -errno, -ESRCH if it died first. */
static int read_move_result(int fd)
{
	int r;
	ssize_t n;
	do
		n = read(fd, &r, sizeof r);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof r ? r : -ESRCH;
}

/* Every signal is blocked across the fork: until cx_proc_child_init has
 * reset them, the child runs the parent's signal handlers, and a signal
 * meant for the child would run the parent's logic in it (a test runner's
 * SIGTERM handler killing its whole process group, say). The child keeps
 * them blocked, pending, until its handlers are the defaults. pidfds from
 * clone3 and pidfd_open are always close-on-exec. */
int cx_proc_fork_opts(struct cx_proc *p, const struct cx_fork_opts *opts,
		      struct cx_fork_outcome *out)
{
	struct cx_fork_outcome ignored;
	if (!out)
		out = &ignored;
	*out = (struct cx_fork_outcome){ .cgroup = CX_FORK_CGROUP_NONE };
	int cgroup_fd = opts ? opts->cgroup_fd : -1;
	uint64_t flags = (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0) |
			 (opts && opts->new_pidns ? CLONE_NEWPID : 0) |
			 (opts && opts->sibling ? CLONE_PARENT : 0);
	/* A child that has to move itself into the cgroup says how that went
	 * on this pipe, before it returns to run anything of the caller's. */
	int moved[2] = { -1, -1 };
	if (cgroup_fd >= 0 && pipe2(moved, O_CLOEXEC) < 0)
		return -errno;

	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	int pidfd = -1;
	long pid = clone_with_pidfd(&pidfd, cgroup_fd, &flags, out);
	if (pid == 0) {
		if (cgroup_fd >= 0) {
			if (!(flags & CLONE_INTO_CGROUP)) {
				int r = cx_cgroup_move_self(cgroup_fd);
				(void)!write(moved[1], &r, sizeof r);
			}
			close(moved[0]);
			close(moved[1]);
		}
		return 0;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (moved[1] >= 0)
		close(moved[1]);
	if (pid < 0) {
		if (moved[0] >= 0)
			close(moved[0]);
		return (int)pid;
	}
	p->pid = (pid_t)pid;
	p->pidfd = pidfd;
	identify(p);
	out->pidns = flags & CLONE_NEWPID;
	if (cgroup_fd >= 0) {
		int r = flags & CLONE_INTO_CGROUP ? 0 : read_move_result(moved[0]);
		close(moved[0]);
		out->cgroup = flags & CLONE_INTO_CGROUP ? CX_FORK_CGROUP_CLONE
			    : r == 0 ? CX_FORK_CGROUP_MOVED : CX_FORK_CGROUP_FAILED;
		if (r < 0)
			out->cgroup_error = r;
	}
	return 1;
}

int cx_proc_fork(struct cx_proc *p)
{
	return cx_proc_fork_opts(p, NULL, NULL);
}

/* Our parent's pid, as the parent's namespace numbers it. In a new PID
 * namespace the parent is outside and getppid() says 0; /proc, mounted by
 * an ancestor namespace, still names it there. 0 if nothing can tell. */
static pid_t parent_pid(void)
{
	pid_t ppid = getppid();
	if (ppid != 0)
		return ppid;
	char buf[512];
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *end = strrchr(buf, ')');
	int parsed;
	if (!end || sscanf(end + 1, " %*c %d", &parsed) != 1)
		return 0;
	return (pid_t)parsed;
}

bool cx_proc_child_init(pid_t parent)
{
	return cx_proc_child_init_keep(parent, NULL);
}

bool cx_proc_child_init_keep(pid_t parent, const sigset_t *keep)
{
	/* PDEATHSIG fires when the parent dies from now on; the re-check
	 * catches a parent that died before prctl ran. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return false;
	pid_t ppid = parent_pid();
	if (ppid != 0 && ppid != parent)
		return false;
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL);
	sigset_t mask;
	if (keep)
		mask = *keep;
	else
		sigemptyset(&mask);
	sigprocmask(SIG_SETMASK, &mask, NULL);
	return true;
}

void cx_proc_adopt(struct cx_proc *p, pid_t pid, int pidfd)
{
	p->pid = pid;
	p->pidfd = pidfd;
	identify(p);
}

int cx_proc_open(struct cx_proc *p, pid_t pid)
{
	int fd = sys_pidfd_open(pid);
	if (fd < 0)
		return -errno;
	cx_proc_adopt(p, pid, fd);
	return 0;
}

/* The pid a pidfd names, from its fdinfo: -1 once it has been reaped
 * (kernels that say so), 0 if fdinfo cannot tell. */
static pid_t pidfd_pid(int pidfd)
{
	char path[64], line[128];
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", pidfd);
	FILE *f = fopen(path, "re");
	int pid = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "Pid:\t%d", &pid) == 1)
			break;
	fclose(f);
	return (pid_t)pid;
}

int cx_proc_from_pidfd(struct cx_proc *p, int pidfd)
{
	pid_t pid = pidfd_pid(pidfd);
	cx_proc_adopt(p, pid > 0 ? pid : 0, pidfd);
	return pid > 0 ? 0 : pid < 0 ? -ESRCH : -ENOSYS;
}

const char *cx_boot_id(void)
{
	static char id[37];
	if (!id[0]) {
		int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, id, sizeof id - 1) : -1;
		if (fd >= 0)
			close(fd);
		id[n == (ssize_t)sizeof id - 1 ? n : 0] = '\0';
	}
	return id;
}

int cx_proc_verify(const struct cx_proc *p)
{
	if (p->pidfd < 0)
		return -EBADF;
	if (p->ino && pidfd_ino(p->pidfd) != p->ino)
		return -ESTALE;
	return cx_proc_alive(p) ? 0 : -ESRCH;
}

bool cx_proc_equal(const struct cx_proc *a, const struct cx_proc *b)
{
	if (a->ino && b->ino)
		return a->ino == b->ino;
	return a->pid > 0 && a->pid == b->pid;
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

/* A pidfd polls readable once its process has exited, reaped or not; a
 * signal 0 would still reach a zombie. */
bool cx_proc_alive(const struct cx_proc *p)
{
	if (p->pidfd < 0)
		return false;
	struct pollfd pfd = { .fd = p->pidfd, .events = POLLIN };
	int n;
	do
		n = poll(&pfd, 1, 0);
	while (n < 0 && errno == EINTR);
	return n == 0;
}

void cx_proc_release(struct cx_proc *p)
{
	if (p->pidfd >= 0)
		close(p->pidfd);
	*p = CX_PROC_NULL;
}

int cx_proc_id_of(const struct cx_proc *p, struct cx_proc_id *id)
{
	*id = (struct cx_proc_id){ .pid = p->pid, .ino = p->ino };
	strlcpy(id->boot_id, cx_boot_id(), sizeof id->boot_id);
	return p->ino ? 0 : -EINVAL;
}

int cx_proc_id_self(struct cx_proc_id *id)
{
	struct cx_proc self;
	int r = cx_proc_open(&self, getpid());
	if (r == -ENOSYS) {
		/* No pidfds (an old kernel, valgrind): a pid and a boot, the
		 * most that can be told (cx_proc_id_alive). */
		self = (struct cx_proc){ .pid = getpid(), .pidfd = -1 };
		cx_proc_id_of(&self, id);
		return 0;
	}
	if (r < 0)
		return r;
	r = cx_proc_id_of(&self, id);
	cx_proc_release(&self);
	return r;
}

int cx_proc_open_verified(struct cx_proc *p, const struct cx_proc_id *id)
{
	*p = CX_PROC_NULL;
	if (id->pid <= 0 || strcmp(id->boot_id, cx_boot_id()))
		return -ESRCH;
	int r = cx_proc_open(p, id->pid);
	if (r < 0)
		return r == -EINVAL ? -ESRCH : r;
	/* The pid may name another process by now: the inode says. And a
	 * pidfd polls readable once its process has exited, reaped or not. */
	struct pollfd exited = { p->pidfd, POLLIN, 0 };
	if (p->ino != id->ino || poll(&exited, 1, 0) != 0) {
		cx_proc_release(p);
		return -ESRCH;
	}
	return 0;
}

bool cx_proc_id_alive(const struct cx_proc_id *id)
{
	/* An identity taken without pidfds has no inode to prove: its pid
	 * alone says, and a pid reused since reads as alive (never the other
	 * way round). */
	if (id->pid > 0 && !id->ino && !strcmp(id->boot_id, cx_boot_id()))
		return kill(id->pid, 0) == 0 || errno != ESRCH;
	struct cx_proc p;
	int r = cx_proc_open_verified(&p, id);
	cx_proc_release(&p);
	/* Only proof of death counts: a pidfd refused for any other reason
	 * (no descriptors left) says nothing, and the process is let be. */
	return r != -ESRCH;
}

void cx_proc_id_format(const struct cx_proc_id *id, char *buf, size_t size)
{
	if (id->pid > 0)
		snprintf(buf, size, "%d %llu %s", (int)id->pid, (unsigned long long)id->ino,
			 id->boot_id);
	else
		snprintf(buf, size, "-");
}

int cx_proc_id_parse(const char *text, struct cx_proc_id *id)
{
	int pid;
	unsigned long long ino;
	char boot[sizeof id->boot_id];
	*id = (struct cx_proc_id){ 0 };
	if (!text || sscanf(text, "%d %llu %39s", &pid, &ino, boot) != 3 || pid <= 0)
		return -EINVAL;
	*id = (struct cx_proc_id){ .pid = pid, .ino = ino };
	strlcpy(id->boot_id, boot, sizeof id->boot_id);
	return 0;
}

bool cx_proc_id_equal(const struct cx_proc_id *a, const struct cx_proc_id *b)
{
	return a->pid == b->pid && a->ino == b->ino && !strcmp(a->boot_id, b->boot_id);
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

int cx_signal_number(const char *name)
{
	if (!name)
		return -1;
	if (!strncmp(name, "SIG", 3))
		name += 3;
	for (int sig = 1; sig < NSIG; sig++) {
		const char *abbrev = sigabbrev_np(sig);
		if (abbrev && !strcmp(abbrev, name))
			return sig;
	}
	return -1;
}

void cx_exit_describe(const siginfo_t *info, char *buf, size_t size)
{
	if (info->si_code == CLD_EXITED)
		snprintf(buf, size, "exited %d", info->si_status);
	else
		snprintf(buf, size, "killed %s", cx_signal_name(info->si_status));
}

/* waitid(WNOWAIT) names an exited child without reaping it, so its pid
 * cannot be reused before the pidfd is opened on it; the reap then goes
 * through that pidfd. */
int cx_reap_orphans(cx_tracked_fn *tracked, void *arg)
{
	int reaped = 0;
	for (;;) {
		siginfo_t info;
		memset(&info, 0, sizeof info);
		if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) < 0)
			return errno == ECHILD ? reaped : -errno;
		if (info.si_pid == 0)
			return reaped;
		struct cx_proc child;
		int r = cx_proc_open(&child, info.si_pid);
		if (r < 0)
			return r;
		if (tracked && tracked(&child, arg)) {
			cx_proc_release(&child);
			return reaped;
		}
		r = cx_proc_reap(&child, &info);
		cx_proc_release(&child);
		if (r <= 0)
			return r < 0 ? r : reaped;
		reaped++;
	}
}
