#include "rundir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "council/supervisor.h"
#include "fsutil.h"
#include "wire.h"

/* The default, and whether it is council's own choice (not
 * COUNCIL_RUNTIME_DIR's): a place council picks is verified before use. */
static int default_dir(char *buf, size_t size, bool *picked)
{
	const char *env = getenv("COUNCIL_RUNTIME_DIR");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;
	*picked = !(env && *env);
	if (env && *env)
		n = snprintf(buf, size, "%s", env);
	else if (xdg && *xdg)
		n = snprintf(buf, size, "%s/council", xdg);
	else if (geteuid() == 0)
		n = snprintf(buf, size, "/run/council");
	else
		n = snprintf(buf, size, "/tmp/council-%u", (unsigned)geteuid());
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int cx_runtime_dir_default(char *buf, size_t size)
{
	bool picked;
	return default_dir(buf, size, &picked);
}

/* /tmp/council-<uid> is a name anyone may take first: another user who
 * made it could read, rename or replace what we put there (our socket), or
 * answer in councild's place. So, as ssh-agent and tmux do, the directory
 * must be ours, a directory itself (not a link to one) and writable by
 * nobody else; else we say what is wrong and use nothing in it. */
static int verify(const char *dir, char *why, size_t size)
{
	struct stat st;
	const char *wrong = NULL;
	if (lstat(dir, &st) < 0)
		return -errno;
	if (S_ISLNK(st.st_mode))
		wrong = "is a symbolic link";
	else if (!S_ISDIR(st.st_mode))
		wrong = "is not a directory";
	else if (st.st_uid != geteuid())
		snprintf(why, size, "runtime directory %s belongs to uid %u, not to you (uid %u)", dir,
			 (unsigned)st.st_uid, (unsigned)geteuid());
	else if (st.st_mode & 022)
		snprintf(why, size, "runtime directory %s is writable by others (mode %04o)", dir,
			 (unsigned)(st.st_mode & 07777));
	else
		return 0;
	if (wrong)
		snprintf(why, size, "runtime directory %s %s", dir, wrong);
	strlcat(why, ": remove it, or name another with COUNCIL_RUNTIME_DIR", size);
	return -EPERM;
}

int cx_runtime_dir_ready(const char *given, bool create, char *buf, size_t size, char *why,
			 size_t why_size)
{
	bool picked = false;
	int r = given ? (strlcpy(buf, given, size) < size ? 0 : -ENAMETOOLONG)
		      : default_dir(buf, size, &picked);
	if (r < 0) {
		snprintf(why, why_size, "runtime directory: %s", strerror(-r));
		return r;
	}
	if (!picked)
		return 0;
	/* Root's (/run/council) is searched by the clients of every user. */
	if (create && mkdir(buf, geteuid() == 0 ? 0755 : 0700) < 0 && errno != EEXIST) {
		r = -errno;
		snprintf(why, why_size, "runtime directory %s: %s", buf, strerror(-r));
		return r;
	}
	r = verify(buf, why, why_size);
	if (r == -ENOENT && !create)
		return 0;
	if (r < 0 && r != -EPERM)
		snprintf(why, why_size, "runtime directory %s: %s", buf, strerror(-r));
	return r;
}

static int open_dir(int at, const char *name, mode_t mode)
{
	if (mkdirat(at, name, mode) < 0 && errno != EEXIST)
		return -errno;
	/* O_PATH: runs/ of a councild serving several users may be
	 * searched and written, but not read (access.h). */
	int fd = openat(at, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int cx_rundir_open(struct cx_rundir *rd, const char *root, const char *tenant)
{
	*rd = (struct cx_rundir){ -1, -1, -1, -1, 0700, (gid_t)-1 };
	int tenants_fd = -1;
	int r = cx_mkdir_p(root, 0755);
	if (r < 0)
		return r;
	if ((rd->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		r = -errno;
	else if ((r = rd->runs_fd = open_dir(rd->root_fd, CX_RUNS_DIR, 0755)) >= 0 &&
		 (r = tenants_fd = open_dir(rd->root_fd, CX_TENANTS_DIR, 0755)) >= 0 &&
		 (r = rd->tenant_fd = open_dir(tenants_fd, tenant, 0700)) >= 0) {
		struct stat st;
		r = fstat(rd->tenant_fd, &st) < 0 ? -errno : 0;
		rd->run_mode = st.st_mode & 0750;
		rd->run_gid = rd->run_mode & 0050 ? st.st_gid : (gid_t)-1;
		if (r == 0)
			r = rd->tenant_runs_fd = open_dir(rd->tenant_fd, CX_RUNS_DIR, rd->run_mode);
	}
	if (tenants_fd >= 0)
		close(tenants_fd);
	if (r < 0) {
		cx_rundir_close(rd);
		return r;
	}
	return 0;
}

void cx_rundir_close(struct cx_rundir *rd)
{
	int *fds[] = { &rd->root_fd, &rd->runs_fd, &rd->tenant_fd, &rd->tenant_runs_fd };
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

int cx_rundir_create_run(struct cx_rundir *rd, const char *run_id)
{
	if (mkdirat(rd->runs_fd, run_id, rd->run_mode) < 0)
		return -errno;
	/* A group tenant's runs are its group's to read: past the umask, and
	 * whoever made them. */
	int fd = -1;
	char target[PATH_MAX];
	if (rd->run_gid != (gid_t)-1 && (fchownat(rd->runs_fd, run_id, (uid_t)-1, rd->run_gid, 0) < 0 ||
					 fchmodat(rd->runs_fd, run_id, rd->run_mode, 0) < 0))
		fd = -errno;
	else if (snprintf(target, sizeof target, "../../../runs/%s", run_id) >= (int)sizeof target)
		fd = -ENAMETOOLONG;
	else if (symlinkat(target, rd->tenant_runs_fd, run_id) < 0 && errno != EEXIST)
		fd = -errno;
	else if ((fd = openat(rd->runs_fd, run_id, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		fd = -errno;
	/* The directory is ours (mkdir made it): a start that fails here
	 * leaves none of it. */
	if (fd < 0)
		cx_rundir_remove_run(rd, run_id);
	return fd;
}

/* Each file's name, and the most of it a supervisor reads: run
 * directories belong to their tenants' owners, who can put a file of any
 * size there. What a request carries is at most a wire line (spec, input),
 * and a result is answered in one. */
static const struct {
	const char *name;
	size_t max;
} files[CX_RUN_FILE_N] = {
	[CX_RUN_SPEC] = { "spec.json", CX_WIRE_LINE_MAX },
	[CX_RUN_INPUT] = { "input.json", CX_WIRE_LINE_MAX },
	[CX_RUN_OPTIONS] = { "options.json", CX_WIRE_LINE_MAX },
	[CX_RUN_EVENTS] = { "events", CX_RUN_EVENT_LINE_MAX },
	[CX_RUN_STATUS] = { "status", 64 * 1024 },
	[CX_RUN_SUMMARY] = { "summary.json", 64 * 1024 },
	[CX_RUN_RESULT] = { "result.json", CX_WIRE_LINE_MAX },
	[CX_RUN_RESERVE] = { "reserve", 0 },
};

const char *cx_run_file_name(enum cx_run_file f)
{
	return files[f].name;
}

size_t cx_run_file_max(enum cx_run_file f)
{
	return files[f].max;
}

const char *cx_run_file(const char *run_id, enum cx_run_file f, char path[CX_RUN_PATH_MAX])
{
	snprintf(path, CX_RUN_PATH_MAX, "%s/%s", run_id, files[f].name);
	return path;
}

const char *cx_run_path(const char *run_id, enum cx_run_file f, char path[CX_RUN_PATH_MAX])
{
	snprintf(path, CX_RUN_PATH_MAX, CX_RUNS_DIR "/%s/%s", run_id, files[f].name);
	return path;
}

const char *cx_tenant_dir(const char *tenant, char path[CX_TENANT_PATH_MAX])
{
	snprintf(path, CX_TENANT_PATH_MAX, CX_TENANTS_DIR "/%s", tenant);
	return path;
}

const char *cx_tenant_runs(const char *tenant, const char *run_id, char path[CX_TENANT_PATH_MAX])
{
	snprintf(path, CX_TENANT_PATH_MAX, CX_TENANTS_DIR "/%s/" CX_RUNS_DIR "%s%s", tenant,
		 run_id ? "/" : "", run_id ? run_id : "");
	return path;
}

/* Every file a run directory may hold, then the directory. */
void cx_rundir_remove_run(struct cx_rundir *rd, const char *run_id)
{
	int dfd = openat(rd->runs_fd, run_id, O_PATH | O_DIRECTORY | O_CLOEXEC);
	for (int f = 0; dfd >= 0 && f < CX_RUN_FILE_N; f++)
		unlinkat(dfd, files[f].name, 0);
	if (dfd >= 0)
		close(dfd);
	unlinkat(rd->runs_fd, run_id, AT_REMOVEDIR);
	unlinkat(rd->tenant_runs_fd, run_id, 0);
}

int cx_rundir_reserve(int dir_fd)
{
	int fd = openat(dir_fd, files[CX_RUN_RESERVE].name, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int r = posix_fallocate(fd, 0, CX_RUNDIR_RESERVE);
	close(fd);
	if (r)
		unlinkat(dir_fd, files[CX_RUN_RESERVE].name, 0);
	return -r;
}

/* A write takes whole blocks, and one more for what the file already
 * has in part. */
#define BLOCK 4096

void cx_rundir_reserve_give(int runs_fd, const char *run_id, size_t bytes, size_t keep)
{
	char path[CX_RUN_PATH_MAX];
	int fd = openat(runs_fd, cx_run_file(run_id, CX_RUN_RESERVE, path), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && (size_t)st.st_size > keep) {
		size_t have = (size_t)st.st_size, give = (bytes + BLOCK - 1) / BLOCK * BLOCK + BLOCK;
		/* Should it fail, nothing is given: the write that follows
		 * says whether it needed it. */
		(void)!ftruncate(fd, (off_t)(have > keep + give ? have - give : keep));
	}
	close(fd);
}

void cx_rundir_release(int runs_fd, const char *run_id)
{
	char path[CX_RUN_PATH_MAX];
	unlinkat(runs_fd, cx_run_file(run_id, CX_RUN_RESERVE, path), 0);
}
