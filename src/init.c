/* The worker's duties as pid 1 of its run's PID namespace (init.h). */
#include "init.h"

#include <errno.h>
#include <sys/signalfd.h>
#include <unistd.h>

bool cx_init_is_init(void)
{
	return getpid() == 1;
}

void cx_init_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGCHLD);
}

static bool claims(const struct cx_proc *child, void *arg)
{
	struct cx_init *init = arg;
	init->swept_short = init->tracked && init->tracked(child, init->tracked_arg);
	return init->swept_short;
}

static void sweep(struct cx_init *init)
{
	init->swept_short = false;
	cx_reap_orphans(claims, init);
}

/* Reads what the signalfd holds: SIGTERM is noted for the caller, SIGCHLD
 * sweeps once everything is read. */
static void take_signals(struct cx_init *init)
{
	struct signalfd_siginfo si;
	bool chld = init->swept_short;
	ssize_t n;
	while ((n = read(init->signals.fd, &si, sizeof si)) == (ssize_t)sizeof si ||
	       (n < 0 && errno == EINTR)) {
		if (n < 0)
			continue;
		init->sigterm |= si.ssi_signo == SIGTERM;
		chld |= si.ssi_signo == SIGCHLD;
	}
	if (chld)
		sweep(init);
}

static void signals_ready(struct cx_loop *loop, struct cx_watch *w, uint32_t events)
{
	take_signals(w->data);
}

int cx_init_start(struct cx_init *init, struct cx_loop *loop, cx_tracked_fn *tracked,
		  void *arg)
{
	*init = CX_INIT_NONE;
	if (!cx_init_is_init())
		return 0;
	sigset_t set;
	cx_init_signals(&set);
	sigprocmask(SIG_BLOCK, &set, NULL);
	int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	*init = (struct cx_init){
		.loop = loop,
		.signals = { fd, signals_ready, init },
		.tracked = tracked,
		.tracked_arg = arg,
	};
	int r = cx_watch_add(loop, &init->signals, EPOLLIN);
	if (r < 0) {
		close(fd);
		*init = CX_INIT_NONE;
		return r;
	}
	return 0;
}

bool cx_init_service(struct cx_init *init)
{
	if (init->signals.fd >= 0)
		take_signals(init);
	return init->sigterm;
}

void cx_init_stop(struct cx_init *init)
{
	if (init->signals.fd < 0)
		return;
	cx_watch_del(init->loop, &init->signals);
	close(init->signals.fd);
	*init = CX_INIT_NONE;
}
