#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "wire.h"

enum { LAUNCHER_SOCK = 3, LAUNCHER_RUNS = 4 };

/* A request carries event_fd, control_fd and, with has_cgroup, the cgroup. */
struct request {
	struct cx_worker_args args;   /* its fds and runs_fd mean nothing here */
	bool new_pidns;
	bool has_cgroup;
};

/* A reply carries the worker's pidfd when r is 0. */
struct reply {
	int r;                        /* 0 or -errno */
	pid_t pid;
	struct cx_fork_outcome how;
};

static void close_all(const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

/* Forks one worker for rq, whose descriptors came in fds: the worker
 * becomes the supervisor's child (CLONE_PARENT), we answer with its pidfd. */
static void serve(const struct request *rq, const int *fds, size_t n_fds)
{
	struct reply rp = { 0 };
	struct cx_proc worker = CX_PROC_NULL;
	if (n_fds != 2u + rq->has_cgroup) {
		rp.r = -EINVAL;
	} else {
		struct cx_worker_args args = rq->args;
		args.runs_fd = LAUNCHER_RUNS;
		args.event_fd = fds[0];
		args.control_fd = fds[1];
		struct cx_fork_opts opts = {
			.cgroup_fd = rq->has_cgroup ? fds[2] : -1,
			.new_pidns = rq->new_pidns,
			.sibling = true,
		};
		int r = cx_proc_fork_opts(&worker, &opts, &rp.how);
		if (r == 0)
			cx_worker_main(&args);
		rp.r = r < 0 ? r : 0;
		rp.pid = worker.pid;
	}
	close_all(fds, n_fds);
	cx_fds_send(LAUNCHER_SOCK, &rp, sizeof rp, &worker.pidfd, rp.r == 0, 0);
	cx_proc_release(&worker);
}

/* The launcher: its socket and runs/ at fixed numbers, nothing else open;
 * it serves until the supervisor closes the socket (or dies: PDEATHSIG). */
static void __attribute__((noreturn)) launcher_main(pid_t parent, int sock, int runs_fd)
{
	if (!cx_proc_child_init(parent))
		_exit(1);
	/* The time zone is read here, once, not at every worker's first
	 * timestamp (gmtime_r reads it on its first call in a process). */
	tzset();
	setproctitle("-council-launch");
	prctl(PR_SET_NAME, "council-launch");
	int s = fcntl(sock, F_DUPFD_CLOEXEC, 10), r = fcntl(runs_fd, F_DUPFD_CLOEXEC, 10);
	if (s < 0 || r < 0 || dup3(s, LAUNCHER_SOCK, O_CLOEXEC) < 0 ||
	    dup3(r, LAUNCHER_RUNS, O_CLOEXEC) < 0)
		_exit(1);
	closefrom(LAUNCHER_RUNS + 1);
	for (;;) {
		struct request rq;
		int fds[CX_WIRE_FDS_MAX];
		size_t n;
		ssize_t got = cx_fds_recv(LAUNCHER_SOCK, &rq, sizeof rq, fds, &n, 0);
		if (got <= 0)
			_exit(0);
		if (got != (ssize_t)sizeof rq) {
			close_all(fds, n);
			continue;
		}
		serve(&rq, fds, n);
	}
}

int cx_launcher_start(struct cx_launcher *l, int runs_fd)
{
	int sv[2];
	*l = CX_LAUNCHER_NONE;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid_t parent = getpid();
	struct cx_proc proc;
	int r = cx_proc_fork(&proc);
	if (r == 0)
		launcher_main(parent, sv[1], runs_fd);
	close(sv[1]);
	if (r < 0) {
		close(sv[0]);
		return r;
	}
	*l = (struct cx_launcher){ proc, sv[0], runs_fd };
	return 0;
}

void cx_launcher_stop(struct cx_launcher *l)
{
	if (l->sock >= 0) {
		close(l->sock);
		/* It holds nothing to finish: whoever else may hold a copy of its
		 * socket (a child the embedding program forked), it ends now. */
		cx_proc_signal(&l->proc, SIGKILL);
		siginfo_t info;
		while (waitid(P_PIDFD, (id_t)l->proc.pidfd, &info, WEXITED) < 0 && errno == EINTR)
			;
		cx_proc_release(&l->proc);
	}
	*l = CX_LAUNCHER_NONE;
}

/* One request and its answer: 0, -errno from the fork, or -EPIPE when the
 * launcher is gone. */
static int exchange(struct cx_launcher *l, const struct cx_worker_args *args,
		    const struct cx_fork_opts *opts, struct cx_proc *proc,
		    struct cx_fork_outcome *how)
{
	struct request rq = {
		.args = *args, .new_pidns = opts->new_pidns, .has_cgroup = opts->cgroup_fd >= 0,
	};
	int fds[3] = { args->event_fd, args->control_fd, opts->cgroup_fd };
	ssize_t n = cx_fds_send(l->sock, &rq, sizeof rq, fds, 2u + rq.has_cgroup, 0);
	if (n < 0)
		return n == -ECONNRESET ? -EPIPE : (int)n;
	struct reply rp;
	int pidfd[CX_WIRE_FDS_MAX];
	size_t n_fds;
	n = cx_fds_recv(l->sock, &rp, sizeof rp, pidfd, &n_fds, 0);
	if (n <= 0 || n != (ssize_t)sizeof rp) {
		close_all(pidfd, n_fds);
		return n < 0 && n != -ECONNRESET ? (int)n : -EPIPE;
	}
	if (rp.r < 0 || n_fds != 1) {
		close_all(pidfd, n_fds);
		return rp.r < 0 ? rp.r : -EPROTO;
	}
	cx_proc_adopt(proc, rp.pid, pidfd[0]);
	*how = rp.how;
	return 0;
}

int cx_launcher_spawn(struct cx_launcher *l, const struct cx_worker_args *args,
		      const struct cx_fork_opts *opts, struct cx_proc *proc,
		      struct cx_fork_outcome *how)
{
	for (int attempt = 0; l->sock >= 0 && attempt < 2; attempt++) {
		int r = exchange(l, args, opts, proc, how);
		if (r == 0 || r == -EAGAIN || r == -ENOMEM)
			return r;
		/* Gone: a new one, once. Anything else is the kernel refusing
		 * what a launcher needs (clone3, CLONE_PARENT): no launcher. */
		int runs_fd = l->runs_fd;
		cx_launcher_stop(l);
		if (r != -EPIPE || cx_launcher_start(l, runs_fd) < 0)
			break;
	}
	return -ENOSYS;
}
