/* PID-namespace containment: knowing whether we may create one
 * (containment.h; its init reaps orphans with cx_reap_orphans, proc.h). */
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
