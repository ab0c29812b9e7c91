/* PID-namespace containment: knowing whether we may create one, and the
 * init's duty of reaping the orphans it adopts (containment.h). */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "containment.h"

bool cx_pidns_available(void)
{
	struct cx_proc probe;
	struct cx_fork_opts opts = CX_FORK_OPTS_NONE;
	struct cx_fork_outcome how;
	opts.new_pidns = true;
	int r = cx_proc_fork_opts(&probe, &opts, &how);
	if (r == 0)
		_exit(0);
	if (r < 0)
		return false;
	siginfo_t info;
	while (waitid(P_PIDFD, (id_t)probe.pidfd, &info, WEXITED) < 0 && errno == EINTR)
		;
	cx_proc_release(&probe);
	return how.pidns;
}

/* waitid(WNOWAIT) names an exited child without reaping it, so its pid
 * cannot be reused before the pidfd is opened on it; the reap then goes
 * through that pidfd. */
int cx_pidns_reap_orphans(cx_tracked_fn *tracked, void *arg)
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
