#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "init.h"
#include "runner.h"

enum { WORKER_EVENT_FD = 3, WORKER_CONTROL_FD = 4 };

/* The child side: set up, run, exit. It never returns, and it must not touch
 * the supervisor's state beyond reading the spec it inherited. */
static void __attribute__((noreturn))
worker_main(pid_t parent, const struct cx_spec *spec, const cJSON *input,
	    const char *run_id, const char *cwd, int event_wr, int control_rd)
{
	/* As a PID namespace's init it takes SIGTERM and SIGCHLD on a
	 * signalfd: they stay blocked, so one sent already is not lost. */
	sigset_t keep;
	if (cx_init_is_init())
		cx_init_signals(&keep);
	else
		sigemptyset(&keep);
	if (!cx_proc_child_init_keep(parent, &keep) || (cwd && chdir(cwd) < 0))
		_exit(CX_EXIT_INTERNAL);
	/* Its own process group, so a terminate reaches its members too. The
	 * parent calls setpgid as well: whichever runs first wins the race. */
	setpgid(0, 0);
	setproctitle("-council-run %s %s", run_id, spec->id);
	prctl(PR_SET_NAME, "council-run");

	/* Move the pipe ends above the range they are going to, then into
	 * place, close-on-exec so member commands never inherit them. */
	int ev = fcntl(event_wr, F_DUPFD, 10), ctl = fcntl(control_rd, F_DUPFD, 10);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (ev < 0 || ctl < 0 || null < 0 ||
	    dup3(ev, WORKER_EVENT_FD, O_CLOEXEC) < 0 ||
	    dup3(ctl, WORKER_CONTROL_FD, O_CLOEXEC) < 0 ||
	    dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0)
		_exit(CX_EXIT_INTERNAL);
	closefrom(WORKER_CONTROL_FD + 1);

	struct cx_run_params params = {
		.spec = spec,
		.input = input,
		.run_id = run_id,
		.event_fd = WORKER_EVENT_FD,
		.control_fd = WORKER_CONTROL_FD,
	};
	_exit(cx_runner_main(&params));
}

int cx_worker_spawn(struct cx_worker *w, const struct cx_spec *spec, const cJSON *input,
		    const char *run_id, const char *cwd, const struct cx_fork_opts *opts,
		    enum cx_containment *got)
{
	int events[2], control[2];
	if (pipe2(events, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(control, O_CLOEXEC) < 0) {
		int e = errno;
		close(events[0]);
		close(events[1]);
		return -e;
	}
	pid_t parent = getpid();
	struct cx_fork_outcome how;
	int r = cx_proc_fork_opts(&w->proc, opts, &how);
	if (r == 0)
		worker_main(parent, spec, input, run_id, cwd, events[1], control[0]);
	close(events[1]);
	close(control[0]);
	if (r < 0) {
		close(events[0]);
		close(control[1]);
		return r;
	}
	*got = how.cgroup == CX_FORK_CGROUP_CLONE || how.cgroup == CX_FORK_CGROUP_MOVED
	       ? CX_CONTAIN_CGROUP : how.pidns ? CX_CONTAIN_PIDNS : CX_CONTAIN_PGROUP;
	setpgid(w->proc.pid, w->proc.pid);
	fcntl(events[0], F_SETFL, O_NONBLOCK);
	fcntl(control[1], F_SETFL, O_NONBLOCK);
	w->event_fd = events[0];
	w->control_fd = control[1];
	return 0;
}

void cx_worker_exit_describe(const siginfo_t *info, char *buf, size_t size)
{
	if (info->si_code == CLD_EXITED && info->si_status == CX_EXIT_SIGTERM)
		snprintf(buf, size, "killed %s", cx_signal_name(SIGTERM));
	else
		cx_exit_describe(info, buf, size);
}
