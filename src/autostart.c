#include "autostart.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "council/ids.h"
#include "proc.h"

#define STDERR_KEEP 4096   /* what of councild's stderr a failure reports */

const char *cx_councild_path(const char *path, char *found, size_t size)
{
	const char *env = getenv("COUNCILD");
	char self[PATH_MAX];
	if (path && *path)
		return path;
	if (env && *env)
		return env;
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	char *slash = n > 0 ? memrchr(self, '/', (size_t)n) : NULL;
	if (slash) {
		*slash = '\0';
		/* The build tree (tools/councilctl, councild at its root or in
		 * supervisor/), then an installed bin/. */
		static const char *const beside[] = {
			"../supervisor/councild", "../councild", "councild",
		};
		for (size_t i = 0; i < sizeof beside / sizeof *beside; i++) {
			if ((size_t)snprintf(found, size, "%s/%s", self, beside[i]) < size &&
			    access(found, X_OK) == 0)
				return found;
		}
	}
	return "councild";
}

/* The child: councild with stdin and stdout on /dev/null (a daemon holding
 * a caller's pipe would keep its reader waiting for EOF), stderr into
 * errfd, the signal state of a fresh process. Reports a failed exec's
 * errno on the close-on-exec pipe. */
static void __attribute__((noreturn)) child_exec(char *const argv[], int errfd, int report)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0 ||
	    dup2(errfd, STDERR_FILENO) < 0)
		goto fail;
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);  /* cx_proc_fork blocked everything */
	if (strchr(argv[0], '/'))
		execv(argv[0], argv);
	else
		execvp(argv[0], argv);
fail:;
	int e = errno;
	ssize_t ignored = write(report, &e, sizeof e);
	(void)ignored;
	_exit(127);
}

/* The last line councild wrote to stderr, into why. */
static bool last_words(int errfd, char *why, size_t why_size)
{
	char buf[STDERR_KEEP + 1];
	off_t end = lseek(errfd, 0, SEEK_END);
	off_t from = end > STDERR_KEEP ? end - STDERR_KEEP : 0;
	ssize_t n = pread(errfd, buf, STDERR_KEEP, from);
	if (n <= 0)
		return false;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	char *line = memrchr(buf, '\n', (size_t)n);
	line = line ? line + 1 : buf;
	if (!*line)
		return false;
	snprintf(why, why_size, "%s", line);
	return true;
}

/* Waits until the deadline for the starter to exit: 1 with *info, 0 timed out. */
static int wait_exit(struct cx_proc *p, uint64_t deadline, siginfo_t *info)
{
	for (;;) {
		int r = cx_proc_reap(p, info);
		if (r != 0)
			return r;
		uint64_t now = cx_mono_ms();
		if (now >= deadline)
			return 0;
		struct pollfd pfd = { .fd = p->pidfd, .events = POLLIN };
		if (poll(&pfd, 1, (int)(deadline - now)) < 0 && errno != EINTR)
			return -errno;
	}
}

int cx_councild_start(const char *path, const char *runtime_dir, uint64_t deadline,
		      char *why, size_t why_size)
{
	char found[PATH_MAX];
	const char *exe = cx_councild_path(path, found, sizeof found);
	char *const argv[] = { (char *)exe, "--runtime-dir", (char *)runtime_dir, NULL };
	int report[2] = { -1, -1 };
	int errfd = memfd_create("councild-stderr", MFD_CLOEXEC);
	if (errfd < 0 || pipe2(report, O_CLOEXEC) < 0) {
		snprintf(why, why_size, "%s: %s", errfd < 0 ? "memfd_create" : "pipe",
			 strerror(errno));
		if (errfd >= 0)
			close(errfd);
		return -1;
	}
	struct cx_proc p = CX_PROC_NULL;
	int r = cx_proc_fork(&p);
	if (r == 0)
		child_exec(argv, errfd, report[1]);
	close(report[1]);
	int child_errno = 0;
	siginfo_t info;
	if (r < 0) {
		snprintf(why, why_size, "fork: %s", strerror(-r));
	} else if (read(report[0], &child_errno, sizeof child_errno) == sizeof child_errno) {
		snprintf(why, why_size, "%s: %s", exe, strerror(child_errno));
		r = -1;
		wait_exit(&p, UINT64_MAX, &info);
	} else if ((r = wait_exit(&p, deadline, &info)) <= 0) {
		/* Still starting (it may yet answer; the caller keeps trying to
		 * connect) or not ours to wait for: left to run. */
		snprintf(why, why_size, "%s --runtime-dir %s had not come up", exe, runtime_dir);
		r = -1;
	} else if (info.si_code != CLD_EXITED || info.si_status != 0) {
		if (!last_words(errfd, why, why_size)) {
			char how[64];
			cx_exit_describe(&info, how, sizeof how);
			snprintf(why, why_size, "%s %s", exe, how);
		}
		r = -1;
	} else {
		r = 0;
	}
	if (p.pidfd >= 0)
		cx_proc_release(&p);
	close(report[0]);
	close(errfd);
	return r < 0 ? -1 : 0;
}
