/* Following a run: its subscriber pipe into the timeline (or onto stdout),
 * in one poll loop with the signals that stop it and, for `run`, the
 * embedded supervisor. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "ctl.h"

#define READ_CHUNK 65536

/* SIGINT, SIGTERM and SIGHUP (a closed terminal is a stop like any
 * other), as a descriptor the loop polls. Called after the worker is
 * forked: it must not inherit a mask that blocks SIGTERM. */
static int open_signal_fd(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* With the embedded supervisor: the first signal cancels, cooperatively;
 * any after it terminate. Without: the first ends the following. */
static void on_signal(struct follow *f)
{
	struct signalfd_siginfo si;
	struct cx_error err;
	while (!f->stopped_by && read(f->signal_fd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (!f->sup) {
			f->stopped_by = (int)si.ssi_signo;
			return;
		}
		bool forced = f->signals++ > 0;
		/* Neither fails for a run this supervisor registered; for a
		 * run already final they do nothing. */
		if (forced)
			cx_sup_terminate(f->sup, f->run_id, &err);
		else
			cx_sup_cancel(f->sup, f->run_id, &err);
		if (f->tl)
			timeline_stopping(f->tl, forced);
	}
}

static void handle_line(struct follow *f, const char *line, size_t len)
{
	if (f->tl) {
		timeline_feed(f->tl, line, len);
	} else {
		fwrite(line, 1, len, stdout);
		putchar('\n');
	}
}

/* Reads what the subscriber pipe has and hands on each whole line.
 * Returns 0, or an exit code. */
static int read_events(struct follow *f)
{
	char *buf = realloc(f->buf, f->len + READ_CHUNK);
	if (!buf)
		return fail(CX_ENOMEM, "reading events");
	f->buf = buf;
	ssize_t n = read(f->events_fd, buf + f->len, READ_CHUNK);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 :
		       fail(CX_ESYS, "reading events: %s", strerror(errno));
	if (n == 0) {
		if (f->len)
			handle_line(f, buf, f->len);
		close(f->events_fd);
		f->events_fd = -1;
		return 0;
	}
	f->len += (size_t)n;
	char *line = buf, *nl;
	while ((nl = memchr(line, '\n', f->len - (size_t)(line - buf)))) {
		handle_line(f, line, (size_t)(nl - line));
		line = nl + 1;
	}
	f->len -= (size_t)(line - buf);
	memmove(buf, line, f->len);
	if (!f->tl && fflush(stdout) == EOF)
		return fail(CX_ESYS, "writing events: %s", strerror(errno));
	return 0;
}

int follow_run(struct follow *f, bool json)
{
	enum timeline_mode mode = isatty(STDERR_FILENO) ? TIMELINE_LIVE : TIMELINE_PLAIN;
	if (!json && !(f->tl = timeline_new(mode, stderr, f->run_id)))
		return fail(CX_ENOMEM, "timeline");
	f->signal_fd = open_signal_fd();
	if (f->signal_fd < 0)
		return fail(CX_ESYS, "signalfd: %s", strerror(errno));
	int rc = 0;
	while (!rc && f->events_fd >= 0 && !f->stopped_by) {
		struct pollfd fds[] = {
			{ .fd = f->sup ? cx_sup_fd(f->sup) : -1, .events = POLLIN },
			{ .fd = f->events_fd, .events = POLLIN },
			{ .fd = f->signal_fd, .events = POLLIN },
		};
		int r = poll(fds, 3, f->tl ? timeline_wait_ms(f->tl) : -1);
		if (r < 0 && errno != EINTR)
			rc = fail(CX_ESYS, "poll: %s", strerror(errno));
		else if (fds[0].revents && (r = cx_sup_dispatch(f->sup, 0)) < 0)
			rc = fail(r, "the supervisor stopped");
		if (fds[2].revents)
			on_signal(f);
		if (!rc && fds[1].revents)
			rc = read_events(f);
		if (f->tl)
			timeline_tick(f->tl);
	}
	if (f->tl)
		timeline_finish(f->tl);
	return rc;
}

void follow_finish(struct follow *f)
{
	if (f->events_fd >= 0)
		close(f->events_fd);
	if (f->signal_fd >= 0)
		close(f->signal_fd);
	free(f->buf);
	timeline_free(f->tl);
	int sig = f->stopped_by;
	*f = (struct follow)FOLLOW_INIT;
	if (sig) {
		/* Die of it, as without a handler: the caller's shell sees why. */
		sigset_t set;
		fflush(NULL);
		signal(sig, SIG_DFL);
		sigemptyset(&set);
		sigaddset(&set, sig);
		raise(sig);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
	}
}
