/* cgroup2 containment: finding our own cgroup, making run cgroups, killing
 * one and knowing when it is empty (containment.h has the contract). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "containment.h"

#define KILL_SWEEPS_MAX 64      /* cx_cgroup_kill_each gives up after these */
#define PROCS_MAX 4096          /* pids one sweep handles per cgroup */

static bool is_component(const char *name)
{
	return *name && strcmp(name, ".") && strcmp(name, "..") && !strchr(name, '/') &&
	       !strchr(name, '\n') && strlen(name) < NAME_MAX;
}

/* Undoes mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *out = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* Our cgroup2 path, relative to our cgroup namespace: the "0::" line. */
static int own_cgroup(char *path, size_t size)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return -errno;
	char *line = NULL;
	size_t cap = 0;
	int r = -ENOENT;
	while (getline(&line, &cap, f) > 0) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		r = strlcpy(path, line + 3, size) < size ? 0 : -ENAMETOOLONG;
		break;
	}
	free(line);
	fclose(f);
	return r;
}

int cx_cgroup_self_path(char *dir, size_t size)
{
	char own[PATH_MAX];
	int r = own_cgroup(own, sizeof own);
	if (r < 0)
		return r;
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	/* id parent major:minor root mountpoint options [optional...] - fstype
	 * source superoptions. A cgroup2 mount whose root is a prefix of our
	 * cgroup shows it at mountpoint + the rest (root is "/" unless a
	 * subtree was bind-mounted). */
	char *line = NULL;
	size_t cap = 0;
	bool found = false;
	r = -ENOENT;
	while (!found && getline(&line, &cap, f) > 0) {
		char *field[6], *save = NULL, *tok = strtok_r(line, " \n", &save);
		int n = 0;
		for (; tok && n < 6; tok = strtok_r(NULL, " \n", &save))
			field[n++] = tok;
		while (tok && strcmp(tok, "-"))
			tok = strtok_r(NULL, " \n", &save);
		char *fstype = tok ? strtok_r(NULL, " \n", &save) : NULL;
		if (n < 6 || !fstype || strcmp(fstype, "cgroup2"))
			continue;
		char *root = field[3], *mount = field[4];
		unescape(root);
		unescape(mount);
		size_t rlen = strcmp(root, "/") ? strlen(root) : 0;
		if (strncmp(own, root, rlen) || (own[rlen] != '/' && own[rlen] != '\0')) {
			r = -EXDEV;
			continue;
		}
		const char *rest = own + rlen;
		if (!strcmp(rest, "/"))
			rest = "";
		r = (size_t)snprintf(dir, size, "%s%s", mount, rest) < size ? 0 : -ENAMETOOLONG;
		found = true;
	}
	free(line);
	fclose(f);
	return r;
}

bool cx_cgroup_available(void)
{
	struct cx_cgroup self, probe;
	if (cx_cgroup_open_self(&self) < 0)
		return false;
	char name[64];
	snprintf(name, sizeof name, "council-probe-%d", (int)getpid());
	bool ok = cx_cgroup_create(&self, name, &probe) == 0 &&
		  faccessat(probe.dir_fd, "cgroup.procs", W_OK, 0) == 0;
	cx_cgroup_close(&probe);
	unlinkat(self.dir_fd, name, AT_REMOVEDIR);
	cx_cgroup_close(&self);
	return ok;
}

int cx_cgroup_open(struct cx_cgroup *out, const char *path)
{
	*out = CX_CGROUP_NULL;
	if (strlcpy(out->path, path, sizeof out->path) >= sizeof out->path)
		return -ENAMETOOLONG;
	out->dir_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return out->dir_fd < 0 ? -errno : 0;
}

int cx_cgroup_open_self(struct cx_cgroup *out)
{
	char dir[PATH_MAX];
	*out = CX_CGROUP_NULL;
	int r = cx_cgroup_self_path(dir, sizeof dir);
	return r < 0 ? r : cx_cgroup_open(out, dir);
}

int cx_cgroup_create(const struct cx_cgroup *parent, const char *name, struct cx_cgroup *out)
{
	*out = CX_CGROUP_NULL;
	if (!is_component(name))
		return -EINVAL;
	if (mkdirat(parent->dir_fd, name, 0755) < 0 && errno != EEXIST)
		return -errno;
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof path, "%s/%s", parent->path, name) >= sizeof path)
		return -ENAMETOOLONG;
	return cx_cgroup_open(out, path);
}

/* A small cgroup file, NUL-terminated; its length or -errno. */
static ssize_t read_small(int dir_fd, const char *name, char *buf, size_t size)
{
	int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, size - 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return -e;
	buf[n] = '\0';
	return n;
}

/* Writes a short value to a cgroup file: one write(), as cgroupfs wants. */
static int write_small(int dir_fd, const char *name, const char *value)
{
	int fd = openat(dir_fd, name, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t len = strlen(value);
	ssize_t n = write(fd, value, len);
	int e = errno;
	close(fd);
	return n == (ssize_t)len ? 0 : n < 0 ? -e : -EIO;
}

int cx_cgroup_open_root(struct cx_cgroup *out, const char *name)
{
	struct cx_cgroup self;
	*out = CX_CGROUP_NULL;
	int r = cx_cgroup_open_self(&self);
	if (r < 0)
		return r;
	/* A cgroup other than the hierarchy's root (the only one without
	 * cgroup.type) that distributes controllers holds no processes, so we
	 * cannot really be in it: a threaded or foreign setup. */
	char controllers[256];
	if (faccessat(self.dir_fd, "cgroup.type", F_OK, 0) == 0 &&
	    read_small(self.dir_fd, "cgroup.subtree_control", controllers, sizeof controllers) > 0 &&
	    controllers[strspn(controllers, " \n")] != '\0')
		r = -EBUSY;
	else
		r = cx_cgroup_create(&self, name, out);
	cx_cgroup_close(&self);
	return r;
}

int cx_cgroup_move_self(int dir_fd)
{
	return write_small(dir_fd, "cgroup.procs", "0");
}

/* The pids in dir_fd's cgroup.procs; how many, or -errno. */
static int read_procs(int dir_fd, pid_t *pids, int max)
{
	int fd = openat(dir_fd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	FILE *f = fdopen(fd, "r");
	if (!f) {
		int e = errno;
		close(fd);
		return -e;
	}
	int n = 0, pid;
	while (n < max && fscanf(f, "%d", &pid) == 1)
		pids[n++] = (pid_t)pid;
	fclose(f);
	return n;
}

bool cx_cgroup_contains(const struct cx_cgroup *cg, const struct cx_proc *p)
{
	pid_t pids[PROCS_MAX];
	int n = read_procs(cg->dir_fd, pids, PROCS_MAX);
	for (int i = 0; i < n; i++)
		if (pids[i] == p->pid)
			return cx_proc_alive(p);
	return false;
}

static bool listed(const pid_t *pids, int n, pid_t pid)
{
	for (int i = 0; i < n; i++)
		if (pids[i] == pid)
			return true;
	return false;
}

/* One sweep over one cgroup: opens a pidfd on each listed pid, re-reads
 * the list, and SIGKILLs through the pidfds whose pid is still listed and
 * not one of the n_keep of keep. A pid that died and was reused by an
 * outsider between the two reads is not listed the second time; one reused
 * inside the cgroup is ours anyway. Counts in *fresh the processes not
 * signalled by an earlier sweep. */
static int sweep_one(int dir_fd, const pid_t *keep, int n_keep, pid_t *done, int *ndone,
		     int *fresh)
{
	static pid_t before[PROCS_MAX], after[PROCS_MAX];
	static struct cx_proc handle[PROCS_MAX];
	int n = read_procs(dir_fd, before, PROCS_MAX);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++)
		if (cx_proc_open(&handle[i], before[i]) < 0)
			handle[i] = CX_PROC_NULL;
	int m = read_procs(dir_fd, after, PROCS_MAX);
	for (int i = 0; i < n; i++) {
		if (handle[i].pidfd < 0)
			continue;
		if (listed(keep, n_keep, before[i])) {
			cx_proc_release(&handle[i]);
			continue;
		}
		if (m > 0 && listed(after, m, before[i]) && cx_proc_signal(&handle[i], SIGKILL) == 0 &&
		    !listed(done, *ndone, before[i])) {
			if (*ndone < PROCS_MAX)
				done[(*ndone)++] = before[i];
			(*fresh)++;
		}
		cx_proc_release(&handle[i]);
	}
	return m < 0 ? m : 0;
}

/* Sweeps dir_fd's cgroup and its child cgroups, depth first. */
static int sweep_tree(int dir_fd, pid_t *done, int *ndone, int *fresh)
{
	int r = sweep_one(dir_fd, NULL, 0, done, ndone, fresh);
	int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return r;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_type != DT_DIR || !strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		int child = openat(dir_fd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (child >= 0) {
			sweep_tree(child, done, ndone, fresh);
			close(child);
		}
	}
	closedir(d);
	return r;
}

int cx_cgroup_kill_each(const struct cx_cgroup *cg)
{
	/* Frozen, nobody forks between sweeps; a fatal signal still reaches
	 * a frozen process. The cgroup stays frozen: it is being removed. */
	write_small(cg->dir_fd, "cgroup.freeze", "1");
	static pid_t done[PROCS_MAX];
	int ndone = 0;
	for (int sweeps = 0; sweeps < KILL_SWEEPS_MAX; sweeps++) {
		int fresh = 0;
		int r = sweep_tree(cg->dir_fd, done, &ndone, &fresh);
		if (r < 0)
			return r;
		if (fresh == 0)
			return 0;
	}
	return -EAGAIN;
}

int cx_cgroup_kill_strays(const struct cx_cgroup *cg, const pid_t *keep, int n_keep)
{
	static pid_t done[PROCS_MAX];
	int ndone = 0;
	for (int sweeps = 0; sweeps < KILL_SWEEPS_MAX; sweeps++) {
		int fresh = 0;
		int r = sweep_one(cg->dir_fd, keep, n_keep, done, &ndone, &fresh);
		if (r < 0)
			return r;
		if (fresh == 0)
			return ndone;
	}
	return -EAGAIN;
}

int cx_cgroup_kill(const struct cx_cgroup *cg)
{
	int r = write_small(cg->dir_fd, "cgroup.kill", "1");
	if (r == -ENOENT || r == -EINVAL || r == -EOPNOTSUPP)
		return cx_cgroup_kill_each(cg);
	return r;
}

/* "populated N" from the text of cgroup.events. */
static int parse_populated(const char *events)
{
	const char *at = strstr(events, "populated ");
	if (!at)
		return -EINVAL;
	return at[10] != '0';
}

int cx_cgroup_populated(const struct cx_cgroup *cg)
{
	char buf[256];
	ssize_t n = read_small(cg->dir_fd, "cgroup.events", buf, sizeof buf);
	return n < 0 ? (int)n : parse_populated(buf);
}

int cx_cgroup_events_fd(const struct cx_cgroup *cg)
{
	int fd = openat(cg->dir_fd, "cgroup.events", O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int cx_cgroup_events_populated(int events_fd)
{
	char buf[256];
	ssize_t n = pread(events_fd, buf, sizeof buf - 1, 0);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return parse_populated(buf);
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* cgroup.events polls POLLPRI on each change once it has been read; it is
 * re-read from the start each time. The poll is capped at 100 ms too, so a
 * missed notification costs that much, not the whole timeout. */
int cx_cgroup_wait_empty(const struct cx_cgroup *cg, int timeout_ms)
{
	int fd = cx_cgroup_events_fd(cg);
	if (fd < 0)
		return fd;
	int64_t deadline = mono_ms() + timeout_ms;
	int r;
	for (;;) {
		r = cx_cgroup_events_populated(fd);
		if (r <= 0)
			break;
		int64_t left = deadline - mono_ms();
		if (left <= 0) {
			r = -ETIMEDOUT;
			break;
		}
		struct pollfd pfd = { .fd = fd, .events = POLLPRI };
		poll(&pfd, 1, left < 100 ? (int)left : 100);
	}
	close(fd);
	return r;
}

/* rmdir of dir_fd/name, its child cgroups first. */
static int remove_tree(int parent_fd, const char *name)
{
	int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		int e = errno;
		close(fd);
		return -e;
	}
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_type == DT_DIR && strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			remove_tree(dirfd(d), e->d_name);
	closedir(d);
	return unlinkat(parent_fd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

int cx_cgroup_remove(struct cx_cgroup *cg)
{
	/* Most often nothing made cgroups below it: one rmdir. */
	if (rmdir(cg->path) == 0 || errno == ENOENT) {
		cx_cgroup_close(cg);
		return 0;
	}
	char parent[PATH_MAX];
	strlcpy(parent, cg->path, sizeof parent);
	char *slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return -EINVAL;
	*slash = '\0';
	int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	int r = remove_tree(pfd, slash + 1);
	close(pfd);
	if (r == 0 || r == -ENOENT) {
		cx_cgroup_close(cg);
		return 0;
	}
	return r;
}

void cx_cgroup_close(struct cx_cgroup *cg)
{
	if (cg->dir_fd >= 0)
		close(cg->dir_fd);
	cg->dir_fd = -1;
}

int cx_cgroup_tenant(const char *root, const char *tenant, bool create, struct cx_cgroup *out)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const char *c = root; *c; c++)
		h = (h ^ (uint8_t)*c) * 16777619u;
	char name[32], path[PATH_MAX];
	snprintf(name, sizeof name, "council-%08x", h);
	*out = CX_CGROUP_NULL;
	/* A tenant supervisor that councild started in its tenant's cgroup,
	 * delegated to it (cx_cgroup_delegate), is home already. */
	int r = cx_cgroup_self_path(path, sizeof path);
	const char *leaf = r < 0 ? NULL : strrchr(path, '/');
	if (leaf && !strcmp(leaf + 1, tenant)) {
		size_t n = (size_t)(leaf - path), len = strlen(name);
		if (n > len && path[n - len - 1] == '/' && !strncmp(path + n - len, name, len))
			return cx_cgroup_open(out, path);
	}
	if (create) {
		struct cx_cgroup instance;
		r = cx_cgroup_open_root(&instance, name);
		if (r == 0)
			r = cx_cgroup_create(&instance, tenant, out);
		cx_cgroup_close(&instance);
		return r;
	}
	if (r < 0)
		return r;
	size_t n = strlen(path);
	if ((size_t)snprintf(path + n, sizeof path - n, "/%s/%s", name, tenant) >= sizeof path - n)
		return -ENAMETOOLONG;
	return cx_cgroup_open(out, path);
}

int cx_cgroup_open_run_self(const char *run_id, struct cx_cgroup *out)
{
	char path[PATH_MAX];
	*out = CX_CGROUP_NULL;
	int r = cx_cgroup_self_path(path, sizeof path);
	if (r < 0)
		return r;
	/* .../council-<hash>/<tenant>/<run_id>: a tenant's cgroup of the same
	 * name as the run (a worker without a cgroup of its own) is one level
	 * up, its grandparent not council-<hash>. */
	char *leaf = strrchr(path, '/');
	if (!leaf || strcmp(leaf + 1, run_id))
		return -ENOENT;
	*leaf = '\0';
	char *tenant = strrchr(path, '/');
	if (!tenant)
		return -ENOENT;
	*tenant = '\0';
	char *instance = strrchr(path, '/');
	if (!instance || strncmp(instance + 1, "council-", 8))
		return -ENOENT;
	*tenant = '/';
	*leaf = '/';
	return cx_cgroup_open(out, path);
}

int cx_cgroup_delegate(const struct cx_cgroup *cg, uid_t uid, gid_t gid)
{
	static const char *const files[] = { ".", "cgroup.procs", "cgroup.threads",
					     "cgroup.subtree_control" };
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
		if (fchownat(cg->dir_fd, files[i], uid, gid, 0) < 0 && errno != ENOENT)
			return -errno;
	return 0;
}

void cx_cgroup_tenant_release(struct cx_cgroup *cg)
{
	char instance[PATH_MAX];
	strlcpy(instance, cg->path, sizeof instance);
	char *slash = strrchr(instance, '/');
	/* rmdir alone, never the tree: a run's cgroup below it, even an empty
	 * one, may be another supervisor's of this directory (a `councilctl
	 * run` beside councild), made a moment ago for a worker yet to come. */
	bool gone = rmdir(cg->path) == 0;
	cx_cgroup_close(cg);
	if (gone && slash) {
		*slash = '\0';
		rmdir(instance); /* fails while another tenant of it lives: fine */
	}
}
