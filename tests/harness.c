#include "harness.h"

#include <check.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "council/client.h"

char *th_scratch_dir(void)
{
	char *dir = strdup("/tmp/council-test-XXXXXX");
	if (!dir || !mkdtemp(dir))
		abort();
	setenv("COUNCIL_RUNTIME_DIR", dir, 1);
	return dir;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	remove(path);
	return 0;
}

void th_rm_rf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *th_source_path(const char *relative)
{
	static char buf[4][4096];
	static int next;
	const char *root = getenv("COUNCIL_SOURCE_ROOT");
	char *out = buf[next++ % 4];
	snprintf(out, sizeof buf[0], "%s/%s", root ? root : ".", relative);
	return out;
}

char *th_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *data = malloc(cap);
	size_t got;
	while (data && (got = fread(data + n, 1, cap - n - 1, f)) > 0) {
		n += got;
		if (cap - n < 2) {
			char *bigger = realloc(data, cap *= 2);
			if (!bigger) {
				free(data);
				data = NULL;
			}
			data = bigger;
		}
	}
	fclose(f);
	if (data)
		data[n] = '\0';
	if (len)
		*len = n;
	return data;
}

void th_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
}

char *th_json_text(const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	for (char *p = s; *p; p++)
		if (*p == '\'')
			*p = '"';
	return s;
}

/* ppid of pid from /proc/pid/stat, or -1. */
static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	char *end = strrchr(buf, ')');
	int ppid;
	if (!end || sscanf(end + 1, " %*c %d", &ppid) != 1)
		return -1;
	return ppid;
}

int th_descendants(pid_t *pids, int max)
{
	/* Fixed point over /proc: a process is ours if its parent is ours. */
	pid_t ours[4096];
	int n = 0;
	ours[n++] = getpid();
	bool grew = true;
	while (grew) {
		grew = false;
		DIR *d = opendir("/proc");
		if (!d)
			return 0;
		struct dirent *e;
		while ((e = readdir(d))) {
			pid_t pid = (pid_t)atoi(e->d_name);
			if (pid <= 0)
				continue;
			bool known = false;
			for (int i = 0; i < n && !known; i++)
				known = ours[i] == pid;
			if (known)
				continue;
			pid_t ppid = parent_of(pid);
			for (int i = 0; i < n; i++) {
				if (ours[i] == ppid && n < 4096) {
					ours[n++] = pid;
					grew = true;
					break;
				}
			}
		}
		closedir(d);
	}
	int count = n - 1;
	for (int i = 1; i < n && i - 1 < max; i++)
		pids[i - 1] = ours[i];
	return count;
}

bool th_no_descendants(int timeout_ms)
{
	pid_t pids[64];
	for (int waited = 0;; waited += 20) {
		/* A test that is a subreaper adopts what its supervisors leave:
		 * reap those zombies, so only living leftovers count. */
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		int n = th_descendants(pids, 64);
		if (n == 0)
			return true;
		if (waited >= timeout_ms) {
			for (int i = 0; i < n && i < 64; i++) {
				fprintf(stderr, "leftover process %d\n", (int)pids[i]);
				kill(pids[i], SIGKILL);
			}
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
			return false;
		}
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

bool th_ignores_sigterm(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	unsigned long long ignored = 0;
	while (fgets(line, sizeof line, f) && sscanf(line, "SigIgn: %llx", &ignored) != 1)
		;
	fclose(f);
	return ignored & (1ULL << (SIGTERM - 1));
}

int th_sleeps(const char *prefix, bool (*ours)(const char *pid, const char *arg))
{
	int n = 0;
	DIR *d = opendir("/proc");
	for (struct dirent *e; d && (e = readdir(d));) {
		char path[300];
		if (atoi(e->d_name) <= 0)
			continue;
		snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
		size_t len;
		char *cmd = th_read_file(path, &len);
		const char *arg = cmd && len > 6 && !strcmp(cmd, "sleep") ? cmd + 6 : NULL;
		n += arg && !strncmp(arg, prefix, strlen(prefix)) && (!ours || ours(e->d_name, arg));
		free(cmd);
	}
	if (d)
		closedir(d);
	return n;
}

bool th_sleep_of_ours(const char *pid, const char *arg)
{
	(void)pid;
	char suffix[32];
	size_t n = (size_t)snprintf(suffix, sizeof suffix, ".%d", (int)getpid()), len = strlen(arg);
	return len > n && !strcmp(arg + len - n, suffix);
}

bool th_wait_until(bool (*pred)(void *arg), void *arg, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 10) {
		if (pred(arg))
			return true;
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return pred(arg);
}

int th_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

pid_t th_councild_start(const char *dir, const char *const *options)
{
	const char *exe = getenv("COUNCILD");
	ck_assert_msg(exe && *exe, "COUNCILD names no councild to test against");
	pid_t parent = getpid();
	pid_t pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid > 0)
		return pid;
	char log[4096];
	snprintf(log, sizeof log, "%s/councild.log", dir);
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0 || dup2(fd, STDERR_FILENO) < 0 || prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 ||
	    getppid() != parent)
		_exit(126);
	const char *argv[16] = { "councild", "--foreground", "--runtime-dir", dir };
	for (int i = 0; options && options[i] && i < 11; i++)
		argv[4 + i] = options[i];
	execv(exe, (char *const *)argv);
	_exit(127);
}

int th_councild_stop(pid_t pid, int timeout_ms)
{
	int status = 0;
	kill(pid, SIGTERM);
	uint64_t deadline = cx_mono_ms() + (uint64_t)timeout_ms;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (cx_mono_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return -1;
		}
		usleep(20000);
	}
	return status;
}

struct cx_client *th_councild_connect(const char *dir, int timeout_ms)
{
	struct cx_client_options opts = { .runtime_dir = dir };
	struct cx_client *c = NULL;
	struct cx_error err = { 0 };
	uint64_t deadline = cx_mono_ms() + (uint64_t)timeout_ms;
	while (cx_client_connect(&opts, &c, &err) != CX_OK) {
		ck_assert_msg(err.code == CX_EUNAVAILABLE, "connecting: %s: %s",
			      cx_code_word(err.code), err.message);
		ck_assert_msg(cx_mono_ms() < deadline, "awaited councild's socket: %s", err.message);
		usleep(20000);
	}
	return c;
}

void th_expect(struct th_report *r, bool ok, const char *fmt, ...)
{
	if (ok)
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(r->out, fmt, ap);
	va_end(ap);
	fputc('\n', r->out);
	r->findings++;
}

void th_as_user(const struct th_user *u, th_as_user_fn *fn, void *arg)
{
	int p[2];
	ck_assert(pipe(p) == 0);
	pid_t pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		struct th_report r = { fdopen(p[1], "w"), 0 };
		if (chdir("/") < 0 || setgroups((size_t)u->n_groups, u->groups) < 0 ||
		    setgid(u->gid) < 0 || setuid(u->uid) < 0) {
			fprintf(r.out, "cannot become uid %u: %s\n", (unsigned)u->uid, strerror(errno));
			_exit(1);
		}
		fn(&r, arg);
		fclose(r.out);
		_exit(r.findings ? 1 : 0);
	}
	close(p[1]);
	char *text = NULL;
	size_t len = 0;
	FILE *in = fdopen(p[0], "r");
	char line[1024];
	while (fgets(line, sizeof line, in)) {
		text = realloc(text, len + strlen(line) + 1);
		strcpy(text + len, line);
		len += strlen(line);
	}
	fclose(in);
	int status;
	ck_assert(waitpid(pid, &status, 0) == pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0 && !text,
		      "as uid %u: %s", (unsigned)u->uid, text ? text : "(it died)");
	free(text);
}
