#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "child.h"
#include "fsutil.h"
#include "init.h"
#include "launcher.h"
#include "rundir.h"
#include "runner.h"

enum { WORKER_EVENT_FD = 3, WORKER_CONTROL_FD = 4 };

/* runs_fd/<run_id>/<name>, whole. */
static char *read_run_file(const struct cx_worker_args *a, enum cx_run_file name, size_t *len)
{
	char path[CX_RUN_PATH_MAX];
	char *text;
	return cx_read_file(a->runs_fd, cx_run_file(a->run_id, name, path), cx_run_file_max(name), &text, len) == 0
	       ? text : NULL;
}

/* The spec, input and options the supervisor validated and wrote before
 * the fork. */
static int load(const struct cx_worker_args *a, struct cx_spec **spec, cJSON **input,
		struct cx_start_opts *opts)
{
	size_t len;
	char *text = read_run_file(a, CX_RUN_OPTIONS, &len);
	int r = text ? cx_start_opts_parse(text, opts, NULL) : CX_ENOT_FOUND;
	free(text);
	if (r < 0)
		return r;
	text = read_run_file(a, CX_RUN_SPEC, &len);
	r = text ? cx_spec_parse_run(text, len, opts, spec, NULL) : CX_ENOT_FOUND;
	free(text);
	if (r < 0)
		return r;
	text = read_run_file(a, CX_RUN_INPUT, &len);
	*input = text ? cJSON_ParseWithLength(text, len) : NULL;
	free(text);
	return *input ? 0 : CX_ENOT_FOUND;
}

void cx_worker_main(const struct cx_worker_args *a)
{
	/* As a PID namespace's init it takes SIGTERM and SIGCHLD on a
	 * signalfd: they stay blocked, so one sent already is not lost. */
	sigset_t keep;
	struct cx_spec *spec;
	cJSON *input;
	struct cx_start_opts opts;
	if (cx_init_is_init())
		cx_init_signals(&keep);
	else
		sigemptyset(&keep);
	if (!cx_proc_child_init_keep(a->parent, &keep) || load(a, &spec, &input, &opts) < 0 ||
	    (a->cwd[0] && chdir(a->cwd) < 0))
		_exit(CX_EXIT_INTERNAL);
	/* Its own process group, so a terminate reaches its members too. The
	 * supervisor calls setpgid as well: whichever runs first wins the race. */
	setpgid(0, 0);
	setproctitle("-council-run %s %s", a->run_id, spec->id);
	prctl(PR_SET_NAME, "council-run");

	/* Move the pipe ends above the range they are going to, then into
	 * place, close-on-exec so member commands never inherit them. */
	int ev = fcntl(a->event_fd, F_DUPFD, 10), ctl = fcntl(a->control_fd, F_DUPFD, 10);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (ev < 0 || ctl < 0 || null < 0 ||
	    dup3(ev, WORKER_EVENT_FD, O_CLOEXEC) < 0 ||
	    dup3(ctl, WORKER_CONTROL_FD, O_CLOEXEC) < 0 ||
	    dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0)
		_exit(CX_EXIT_INTERNAL);
	closefrom(WORKER_CONTROL_FD + 1);
	/* In a cgroup of its own, each member command gets one below it, so a
	 * member killed at its timeout takes all it started along. */
	struct cx_cgroup run_cg;
	if (cx_cgroup_open_run_self(a->run_id, &run_cg) == 0)
		cx_child_contain(&run_cg);

	struct cx_run_params params = {
		.spec = spec,
		.input = input,
		.run_id = a->run_id,
		.verbose = opts.verbose,
		.event_fd = WORKER_EVENT_FD,
		.control_fd = WORKER_CONTROL_FD,
	};
	_exit(cx_runner_main(&params));
}

/* Forks the worker here: without a launcher, or when it cannot. */
static int fork_here(struct cx_worker *w, const struct cx_worker_args *args,
		     const struct cx_fork_opts *opts, struct cx_fork_outcome *how)
{
	int r = cx_proc_fork_opts(&w->proc, opts, how);
	if (r == 0)
		cx_worker_main(args);
	return r < 0 ? r : 0;
}

/* One try at forking the worker, with pipes of its own: by the launcher,
 * else (it cannot, or on the last try it failed too) here. */
static int try_spawn(struct cx_worker *w, struct cx_launcher *launcher,
		     struct cx_worker_args *args, const struct cx_fork_opts *opts, bool last,
		     struct cx_fork_outcome *how)
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
	args->event_fd = events[1];
	args->control_fd = control[0];
	int r = launcher ? cx_launcher_spawn(launcher, args, opts, &w->proc, how) : -ENOSYS;
	if (r == -ENOSYS || (r == -EPIPE && last))
		r = fork_here(w, args, opts, how);
	close(events[1]);
	close(control[0]);
	if (r < 0) {
		/* A worker a stuck launcher forked holds the other ends: at
		 * the control pipe's EOF it aborts, as when its supervisor is
		 * gone, and its events go nowhere. */
		close(events[0]);
		close(control[1]);
		return r;
	}
	fcntl(events[0], F_SETFL, O_NONBLOCK);
	fcntl(control[1], F_SETFL, O_NONBLOCK);
	w->event_fd = events[0];
	w->control_fd = control[1];
	return 0;
}

int cx_worker_spawn(struct cx_worker *w, struct cx_launcher *launcher, int runs_fd,
		    const char *run_id, const char *cwd, const struct cx_fork_opts *opts,
		    enum cx_containment *got)
{
	struct cx_worker_args args = { .parent = getpid(), .runs_fd = runs_fd };
	strlcpy(args.run_id, run_id, sizeof args.run_id);
	/* The worker runs where we are now, not where a launcher made long
	 * ago happens to be. */
	if (cwd)
		strlcpy(args.cwd, cwd, sizeof args.cwd);
	else if (!getcwd(args.cwd, sizeof args.cwd))
		args.cwd[0] = '\0';
	struct cx_fork_outcome how;
	int r = try_spawn(w, launcher, &args, opts, false, &how);
	if (r == -EPIPE)
		r = try_spawn(w, launcher, &args, opts, true, &how);
	if (r < 0)
		return r;
	*got = cx_fork_in_cgroup(&how) ? CX_CONTAIN_CGROUP
	       : how.pidns ? CX_CONTAIN_PIDNS : CX_CONTAIN_PGROUP;
	setpgid(w->proc.pid, w->proc.pid);
	return 0;
}

void cx_worker_exit_describe(const siginfo_t *info, char *buf, size_t size)
{
	if (info->si_code == CLD_EXITED && info->si_status == CX_EXIT_SIGTERM)
		snprintf(buf, size, "killed %s", cx_signal_name(SIGTERM));
	else
		cx_exit_describe(info, buf, size);
}
