#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guardian.h"
#include "wire.h"

enum { LAUNCHER_SOCK = 3, LAUNCHER_RUNS, LAUNCHER_TENANT, LAUNCHER_CGROUP };

/* The bound on a launcher's answer: one that is stopped (SIGSTOP) or stuck
 * must not hold up its supervisor, whose loop waits for it. */
#define LAUNCHER_REPLY_MS 2000
#define LAUNCHER_NOTE_MS 200

enum launcher_op { OP_SPAWN, OP_GUARD, OP_FORGET };

/* What the supervisor tells its guardian of a run: GUARD carries the
 * worker's pidfd (a worker the supervisor forked itself), FORGET nothing
 * (the run is final). */
struct note {
	enum launcher_op op;
	pid_t pid;                    /* OP_GUARD: the worker's */
	bool in_cgroup;               /* OP_GUARD: it is in the run's cgroup */
	char run_id[CX_RUN_ID_MAX + 1];
};

/* A request carries event_fd, control_fd and, with has_cgroup, the cgroup. */
struct request {
	enum launcher_op op;          /* OP_SPAWN */
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
static void serve(struct cx_guardian *g, const struct request *rq, const int *fds, size_t n_fds)
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
	if (rp.r == 0)
		cx_guardian_watch(g, rq->args.run_id, &worker, cx_fork_in_cgroup(&rp.how));
}

static void take_note(struct cx_guardian *g, const struct note *n, const int *fds, size_t n_fds)
{
	if (n->op == OP_GUARD && n_fds == 1) {
		struct cx_proc worker;
		cx_proc_adopt(&worker, n->pid, fds[0]);
		cx_guardian_watch(g, n->run_id, &worker, n->in_cgroup);
		return;
	}
	close_all(fds, n_fds);
	if (n->op == OP_FORGET)
		cx_guardian_forget(g, n->run_id);
}

/* The supervisor is gone: what it left is the guardian's (guardian.h). */
static void __attribute__((noreturn)) guard(struct cx_guardian *g, const struct cx_proc_id *sup)
{
	setproctitle("-council-guardian");
	cx_guardian_take_over(g, sup);
	_exit(0);
}

/* Puts fds[i] at number LAUNCHER_SOCK + i, close-on-exec (-1: that number
 * is closed), and closes everything else. Through copies above them all
 * first, so that no move overwrites a descriptor yet to be moved. */
static bool place(const int *fds, int n)
{
	int copy[8];
	for (int i = 0; i < n; i++)
		if ((copy[i] = fds[i] < 0 ? -1 : fcntl(fds[i], F_DUPFD_CLOEXEC, 64)) < 0 && fds[i] >= 0)
			return false;
	for (int i = 0; i < n; i++)
		if (copy[i] < 0 ? close(LAUNCHER_SOCK + i) < 0 && errno != EBADF
				: dup3(copy[i], LAUNCHER_SOCK + i, O_CLOEXEC) < 0)
			return false;
	closefrom(LAUNCHER_SOCK + n);
	return true;
}

/* The launcher: its socket, runs/, the tenant's directory and cgroup at
 * fixed numbers, nothing else open. It serves until its supervisor dies,
 * which it does not die with: it is the supervisor's guardian. */
static void __attribute__((noreturn)) launcher_main(pid_t parent, int sock, int runs_fd,
						    int tenant_fd, int cgroup_fd)
{
	if (!cx_proc_child_init(parent))
		_exit(1);
	/* The time zone is read here, once, not at every worker's first
	 * timestamp (gmtime_r reads it on its first call in a process). */
	tzset();
	/* No fastbins here: a worker inherits our heap, and its first large
	 * malloc would consolidate every small chunk we freed (a guardian's
	 * records of runs gone), writing, and so copying, each page they lie
	 * on. Freed chunks coalesce at once instead. */
	mallopt(M_MXFAST, 0);
	setproctitle("-council-launch");
	prctl(PR_SET_NAME, "council-launch");
	const int given[] = { sock, runs_fd, tenant_fd, cgroup_fd };
	if (!place(given, 4))
		_exit(1);
	/* A pidfd on the supervisor, proven its own: opened while it is still
	 * our parent. From then on its death is watched, not inherited. */
	struct cx_proc sup;
	struct cx_proc_id sup_id;
	if (cx_proc_open(&sup, parent) < 0 || getppid() != parent ||
	    cx_proc_id_of(&sup, &sup_id) < 0 || prctl(PR_SET_PDEATHSIG, 0) < 0)
		_exit(1);
	struct cx_guardian g;
	cx_guardian_init(&g, LAUNCHER_RUNS, LAUNCHER_TENANT, cgroup_fd < 0 ? -1 : LAUNCHER_CGROUP);
	for (;;) {
		struct pollfd p[2] = { { LAUNCHER_SOCK, POLLIN, 0 }, { sup.pidfd, POLLIN, 0 } };
		if (poll(p, 2, -1) < 0)
			continue;
		if (p[1].revents)
			guard(&g, &sup_id);
		union { enum launcher_op op; struct request rq; struct note n; } m;
		int fds[CX_WIRE_FDS_MAX];
		size_t n;
		ssize_t got = cx_fds_recv(LAUNCHER_SOCK, &m, sizeof m, fds, &n, 0);
		if (got <= 0) {
			/* Closed: the supervisor stops us (a SIGKILL follows), or
			 * died, and its pidfd is about to say so. */
			poll(&p[1], 1, -1);
			guard(&g, &sup_id);
		}
		if (got == (ssize_t)sizeof m.rq && m.op == OP_SPAWN)
			serve(&g, &m.rq, fds, n);
		else if (got == (ssize_t)sizeof m.n && m.op != OP_SPAWN)
			take_note(&g, &m.n, fds, n);
		else
			close_all(fds, n);
	}
}

int cx_launcher_start(struct cx_launcher *l, int runs_fd, int tenant_fd, int cgroup_fd)
{
	unsigned generation = l->generation;
	int sv[2];
	*l = CX_LAUNCHER_NONE;
	l->generation = generation;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid_t parent = getpid();
	struct cx_proc proc;
	int r = cx_proc_fork(&proc);
	if (r == 0)
		launcher_main(parent, sv[1], runs_fd, tenant_fd, cgroup_fd);
	close(sv[1]);
	if (r < 0) {
		close(sv[0]);
		return r;
	}
	*l = (struct cx_launcher){ proc, sv[0], runs_fd, tenant_fd, cgroup_fd, generation + 1, false };
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
	unsigned generation = l->generation;
	*l = CX_LAUNCHER_NONE;
	l->generation = generation;
}

/* Waits up to ms for the launcher's socket to be ready for events: 0, or
 * -ETIMEDOUT. */
static int await_sock(const struct cx_launcher *l, short events, int ms)
{
	struct pollfd p = { l->sock, events, 0 };
	int r;
	while ((r = poll(&p, 1, ms)) < 0 && errno == EINTR)
		;
	return r > 0 ? 0 : -ETIMEDOUT;
}

/* Sends without blocking for longer than ms: a launcher that takes nothing
 * in that time is stuck (or stopped). */
static ssize_t send_bounded(struct cx_launcher *l, const void *msg, size_t len, const int *fds,
			    size_t n_fds, int ms)
{
	ssize_t n = cx_fds_send(l->sock, msg, len, fds, n_fds, MSG_DONTWAIT);
	if (n == -EAGAIN && await_sock(l, POLLOUT, ms) == 0)
		n = cx_fds_send(l->sock, msg, len, fds, n_fds, MSG_DONTWAIT);
	return n;
}

/* One request and its answer: 0, -errno from the fork, or -EPIPE when the
 * launcher is gone. */
static int exchange(struct cx_launcher *l, const struct cx_worker_args *args,
		    const struct cx_fork_opts *opts, struct cx_proc *proc,
		    struct cx_fork_outcome *how)
{
	struct request rq = {
		.op = OP_SPAWN, .args = *args, .new_pidns = opts->new_pidns, .has_cgroup = opts->cgroup_fd >= 0,
	};
	int fds[3] = { args->event_fd, args->control_fd, opts->cgroup_fd };
	ssize_t n = send_bounded(l, &rq, sizeof rq, fds, 2u + rq.has_cgroup, LAUNCHER_REPLY_MS);
	if (n < 0)
		return n == -ECONNRESET || n == -EAGAIN ? -EPIPE : (int)n;
	if (await_sock(l, POLLIN, LAUNCHER_REPLY_MS) < 0)
		return -EPIPE; /* stopped or stuck: as good as gone */
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
	if (l->sock < 0)
		return -ENOSYS;
	int r = l->stale ? -EPIPE : exchange(l, args, opts, proc, how);
	if (r == 0 || r == -EAGAIN || r == -ENOMEM)
		return r;
	/* Gone (or not answering): a new one for the caller's next try.
	 * Anything else is the kernel refusing what a launcher needs
	 * (clone3, CLONE_PARENT): no launcher. */
	struct cx_launcher old = *l;
	cx_launcher_stop(l);
	return r == -EPIPE && cx_launcher_start(l, old.runs_fd, old.tenant_fd, old.cgroup_fd) == 0
	       ? -EPIPE : -ENOSYS;
}

/* A note waits a little for room (a burst of runs ending fills the
 * socket), never long: a launcher that takes none in that time is stale,
 * told nothing more, and replaced at the next start by one that is told
 * of every live run, so no note it missed matters. */
static void send_note(struct cx_launcher *l, enum launcher_op op, const char *run_id,
		      const struct cx_proc *worker, bool in_cgroup)
{
	struct note n = { .op = op, .pid = worker ? worker->pid : 0, .in_cgroup = in_cgroup };
	strlcpy(n.run_id, run_id, sizeof n.run_id);
	if (l->sock >= 0 && !l->stale &&
	    send_bounded(l, &n, sizeof n, worker ? &worker->pidfd : NULL, worker != NULL,
			 LAUNCHER_NOTE_MS) < 0)
		l->stale = true;
}

void cx_launcher_guard(struct cx_launcher *l, const char *run_id, const struct cx_proc *worker,
		       bool in_cgroup)
{
	send_note(l, OP_GUARD, run_id, worker, in_cgroup);
}

void cx_launcher_forget(struct cx_launcher *l, const char *run_id)
{
	send_note(l, OP_FORGET, run_id, NULL, false);
}
