/* A command run as a subprocess of the worker (child.h). */
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanenv.h"
#include "init.h"

/* The run's cgroup, below which each command gets its own (closed: none),
 * and how many were made, to name them. */
static struct cx_cgroup run_cgroup = { .dir_fd = -1 };
static unsigned commands;

void cx_child_contain(struct cx_cgroup *run)
{
	cx_cgroup_close(&run_cgroup);
	run_cgroup = *run;
	*run = CX_CGROUP_NULL;
}

static void close_watch(struct cx_child *ch, struct cx_watch *w)
{
	if (w->fd < 0)
		return;
	cx_watch_del(ch->loop, w);
	close(w->fd);
	w->fd = -1;
}

void cx_child_kill(struct cx_child *ch)
{
	if (!ch->killed && ch->proc.pidfd >= 0) {
		ch->killed = true;
		/* The process is unreaped: its group id cannot have been reused. */
		if (ch->own_group)
			cx_proc_signal_group(&ch->proc, SIGKILL);
		else
			cx_proc_signal(&ch->proc, SIGKILL);
		if (ch->cg.dir_fd >= 0)
			cx_cgroup_kill(&ch->cg);
	}
	close_watch(ch, &ch->out);
	close_watch(ch, &ch->err);
}

/* Reads once: returns > 0 for bytes read, 0 at the end, < 0 for nothing
 * now. */
static ssize_t read_once(int fd, char *p, size_t n)
{
	ssize_t r;
	do
		r = read(fd, p, n);
	while (r < 0 && errno == EINTR);
	return r < 0 && errno != EAGAIN ? 0 : r;
}

static ssize_t pump_out(struct cx_child *ch)
{
	char chunk[16384];
	ssize_t n = read_once(ch->out.fd, chunk, sizeof chunk);
	if (n == 0)
		close_watch(ch, &ch->out);
	if (n > 0)
		ch->on_out(ch, chunk, (size_t)n);
	return n;
}

static ssize_t pump_err(struct cx_child *ch)
{
	char chunk[4096];
	ssize_t n = read_once(ch->err.fd, chunk, sizeof chunk);
	if (n == 0)
		close_watch(ch, &ch->err);
	if (n <= 0)
		return n;
	size_t keep = (size_t)n < CX_CHILD_TAIL ? (size_t)n : CX_CHILD_TAIL;
	size_t drop = ch->tail_len + keep > CX_CHILD_TAIL ? ch->tail_len + keep - CX_CHILD_TAIL : 0;
	memmove(ch->tail, ch->tail + drop, ch->tail_len - drop);
	memcpy(ch->tail + ch->tail_len - drop, chunk + n - keep, keep);
	ch->tail_len += keep - drop;
	ch->tail_cut |= drop > 0 || keep < (size_t)n;
	return n;
}

static void release(struct cx_child *ch)
{
	close_watch(ch, &ch->out);
	close_watch(ch, &ch->err);
	cx_watch_del(ch->loop, &ch->pid);
	ch->pid.fd = -1;
	cx_proc_release(&ch->proc);
	/* Not empty yet (what it started lingers, or is still dying): its
	 * supervisor removes it with the run's cgroup. */
	if (ch->cg.dir_fd >= 0 && cx_cgroup_remove(&ch->cg) < 0)
		cx_cgroup_close(&ch->cg);
}

void cx_child_describe(struct cx_child *ch, const siginfo_t *info, char *out, size_t size)
{
	char how[64];
	cx_exit_describe(info, how, sizeof how);
	while (ch->tail_len && strchr(" \t\r\n", ch->tail[ch->tail_len - 1]))
		ch->tail_len--;
	ch->tail[ch->tail_len] = '\0';
	/* A cut tail most likely starts mid-line: from the next whole one. */
	const char *from = ch->tail, *nl = memchr(ch->tail, '\n', ch->tail_len);
	if (ch->tail_cut && nl)
		from = nl + 1;
	snprintf(out, size, "%s%s%s", how, *from ? ": " : "", from);
}

static void out_ready(struct cx_loop *loop, struct cx_watch *w, uint32_t events)
{
	(void)loop, (void)events;
	pump_out(w->data);
}

static void err_ready(struct cx_loop *loop, struct cx_watch *w, uint32_t events)
{
	(void)loop, (void)events;
	pump_err(w->data);
}

/* The process is gone: take the rest of its output, release it, report. */
static void pid_ready(struct cx_loop *loop, struct cx_watch *w, uint32_t events)
{
	struct cx_child *ch = w->data;
	siginfo_t info;
	(void)loop, (void)events;
	int reaped = cx_proc_reap(&ch->proc, &info);
	if (reaped == 0)
		return;
	while (ch->out.fd >= 0 && pump_out(ch) > 0)
		;
	while (ch->err.fd >= 0 && pump_err(ch) > 0)
		;
	release(ch);
	ch->on_exit(ch, reaped, &info);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno != EINTR)
			return -errno;
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		}
	}
	return 0;
}

/* The input JSON and a newline, in a memfd read from its start. */
static int input_memfd(const cJSON *input)
{
	char *json = cJSON_PrintUnformatted(input);
	if (!json)
		return -ENOMEM;
	int fd = memfd_create("council-input", MFD_CLOEXEC);
	int rc = fd < 0 ? -errno : write_all(fd, json, strlen(json));
	if (rc == 0)
		rc = write_all(fd, "\n", 1);
	if (rc == 0 && lseek(fd, 0, SEEK_SET) < 0)
		rc = -errno;
	free(json);
	if (rc < 0 && fd >= 0)
		close(fd);
	return rc < 0 ? rc : fd;
}

/* memory_max_mb and processes_max: RLIMIT_AS and RLIMIT_NPROC of the
 * command. RLIMIT_NPROC counts every process of the command's user and
 * does not bind root, so a command that runs as root cannot be held to
 * processes_max: it fails, saying so, rather than run unbounded. Returns
 * NULL, or why the limits could not be set. */
static const char *apply_limits(const cJSON *limits)
{
	static const struct {
		const char *key;
		int resource;
		rlim_t unit;
	} table[] = {
		{ "memory_max_mb", RLIMIT_AS, 1 << 20 },
		{ "processes_max", RLIMIT_NPROC, 1 },
	};
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(limits, table[i].key);
		if (!cJSON_IsNumber(v))
			continue;
		if (table[i].resource == RLIMIT_NPROC && geteuid() == 0)
			return "processes_max cannot hold a command that runs as root "
			       "(RLIMIT_NPROC does not bind root)";
		rlim_t n = (rlim_t)v->valuedouble * table[i].unit;
		struct rlimit rl = { n, n };
		if (setrlimit(table[i].resource, &rl) < 0)
			return strerror(errno);
	}
	return NULL;
}

/* The child side: it only sets up and execs. The worker keeps fds 0-2 open
 * (the supervisor points them at /dev/null), so in, out and err are all
 * above 2 and the dup2()s cannot clobber one another. */
static void __attribute__((noreturn)) exec_child(const struct cx_child_cmd *cmd, char **envp,
						 pid_t parent, bool own_group, int in, int out,
						 int err)
{
	const cJSON *item;
	int argc = 0;

	if (!cx_proc_child_init(parent) || (own_group && setpgid(0, 0) < 0) || dup2(in, 0) < 0 ||
	    dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(127);
	closefrom(3);
	const char *refused = apply_limits(cmd->limits);
	if (refused) {
		dprintf(2, "%s\n", refused);
		_exit(126);
	}
	char **argv = calloc((size_t)cJSON_GetArraySize(cmd->argv) + 1, sizeof *argv);
	if (!argv)
		_exit(127);
	cJSON_ArrayForEach(item, cmd->argv)
		argv[argc++] = item->valuestring;
	if (argc)
		execvpe(argv[0], argv, envp);
	dprintf(2, "exec %s: %s\n", argc ? argv[0] : "(no command)", strerror(errno));
	_exit(127);
}

/* Kills and reaps a process the loop could not be made to watch. */
static void destroy(struct cx_child *ch)
{
	siginfo_t info;
	cx_proc_signal(&ch->proc, SIGKILL);
	waitid(P_PIDFD, (id_t)ch->proc.pidfd, &info, WEXITED);
	release(ch);
}

int cx_child_start(struct cx_child *ch, struct cx_loop *loop, const struct cx_child_cmd *cmd,
		   cx_child_out_fn *on_out, cx_child_exit_fn *on_exit, void *data)
{
	int out[2] = { -1, -1 }, err[2] = { -1, -1 };
	pid_t parent = getpid();

	*ch = (struct cx_child){
		.loop = loop,
		.proc = CX_PROC_NULL,
		.cg = CX_CGROUP_NULL,
		/* Under pidns the run's kill is its namespace's end, not its
		 * group's: a command may lead a group of its own. */
		.own_group = run_cgroup.dir_fd < 0 && cx_init_is_init(),
		.out = { -1, out_ready, ch },
		.err = { -1, err_ready, ch },
		.pid = { -1, pid_ready, ch },
		.on_out = on_out,
		.on_exit = on_exit,
		.data = data,
	};
	/* Built before the fork: the child of a worker whose libcurl may run
	 * threads must not allocate. */
	char **envp = cx_cleanenv_build(cmd->env, cmd->pass);
	int in = envp ? input_memfd(cmd->input) : -ENOMEM;
	int rc = in < 0 ? in : 0;
	if (rc == 0 && (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0))
		rc = -errno;
	char name[32];
	snprintf(name, sizeof name, "command-%u", ++commands);
	if (rc == 0 && run_cgroup.dir_fd >= 0 && cx_cgroup_create(&run_cgroup, name, &ch->cg) < 0)
		ch->cg = CX_CGROUP_NULL; /* in the run's cgroup, then */
	struct cx_fork_opts where = { .cgroup_fd = ch->cg.dir_fd };
	struct cx_fork_outcome how;
	if (rc == 0)
		rc = cx_proc_fork_opts(&ch->proc, &where, &how);
	if (rc == 0)
		exec_child(cmd, envp, parent, ch->own_group, in, out[1], err[1]);
	cx_cleanenv_free(envp);
	if (rc == 0 && ch->own_group)
		setpgid(ch->proc.pid, ch->proc.pid); /* whichever runs first wins the race */
	/* In the parent, or after a failure: the child's ends are its alone. */
	int child_ends[] = { in, out[1], err[1] };
	for (size_t i = 0; i < sizeof child_ends / sizeof *child_ends; i++)
		if (child_ends[i] >= 0)
			close(child_ends[i]);
	ch->out.fd = out[0];
	ch->err.fd = err[0];
	if (rc < 0) {
		release(ch);
		return rc;
	}
	ch->pid.fd = ch->proc.pidfd;
	if (fcntl(out[0], F_SETFL, O_NONBLOCK) < 0 || fcntl(err[0], F_SETFL, O_NONBLOCK) < 0)
		rc = -errno;
	else if ((rc = cx_watch_add(loop, &ch->out, EPOLLIN)) == 0 &&
		 (rc = cx_watch_add(loop, &ch->err, EPOLLIN)) == 0)
		rc = cx_watch_add(loop, &ch->pid, EPOLLIN);
	if (rc < 0)
		destroy(ch);
	return rc < 0 ? rc : 0;
}

bool cx_child_owns(const struct cx_child *ch, const struct cx_proc *child)
{
	return ch->proc.pidfd >= 0 && ch->proc.pid == child->pid;
}
