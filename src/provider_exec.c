/* The exec provider: one subprocess per attempt, running the profile's
 * "command" (argv) with its "env" added to the worker's environment.
 *
 * stdin is the request JSON (see prompt.h) in a memfd, so a member that
 * never reads it cannot block us. stdout is read on the loop, a line at a
 * time: {"token": s} streams a chunk, {"final": s} is the answer, and any
 * other line is plain text, joined with '\n' (and streamed as a chunk).
 * stderr is kept for its last bytes, to explain a failure. The process
 * stays in the worker's process group, so killing the run's group kills
 * members too.
 *
 * Once the process has exited (its pidfd is readable) and been reaped:
 * exit 0 answers, exit 75 (EX_TEMPFAIL) is a transient failure, anything
 * else a permanent one. Output over the limits kills the process and is
 * invalid_output. */
#include "call.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "proc.h"

#define LINE_LIMIT (1u << 20)
#define OUTPUT_LIMIT (16u << 20)
#define TAIL_BYTES 2048
#define EXIT_TRANSIENT 75

struct exec {
	struct cx_call *call;
	struct cx_proc proc;
	struct cx_watch out, err, pid;
	struct cx_buf line;         /* stdout since its last newline */
	struct cx_buf text;         /* the plain-text lines, joined */
	size_t n_plain;
	char *final;
	size_t total;               /* stdout bytes read */
	char tail[TAIL_BYTES + 1];  /* the last bytes of stderr */
	size_t tail_len;
	bool tail_cut;              /* stderr had more before them */
	bool killed;                /* SIGKILLed by us, for this reason: */
	enum cx_fail_kind verdict;
	const char *why;
};

static void close_watch(struct exec *x, struct cx_watch *w)
{
	if (w->fd < 0)
		return;
	cx_watch_del(cx_call_loop(x->call), w);
	close(w->fd);
	w->fd = -1;
}

/* Stops reading and kills the process; its reaping reports why. */
static void kill_for(struct exec *x, enum cx_fail_kind verdict, const char *why)
{
	if (!x->killed) {
		x->killed = true;
		x->verdict = verdict;
		x->why = why;
		cx_proc_signal(&x->proc, SIGKILL);
	}
	close_watch(x, &x->out);
	close_watch(x, &x->err);
}

static void plain_line(struct exec *x, const char *s, size_t n)
{
	if ((x->n_plain++ && cx_buf_append(&x->text, "\n", 1) < 0) ||
	    cx_buf_append(&x->text, s, n) < 0)
		kill_for(x, CX_FAIL_PERMANENT, "exec: out of memory");
}

/* One stdout line, with its '\n' unless it ended the output. */
static void take_line(struct exec *x)
{
	char *s = x->line.data;
	size_t n = x->line.len - (s[x->line.len - 1] == '\n');
	cJSON *j = s[0] == '{' ? cJSON_ParseWithLength(s, n) : NULL;
	const cJSON *token = cJSON_GetObjectItemCaseSensitive(j, "token");
	const cJSON *final = cJSON_GetObjectItemCaseSensitive(j, "final");
	if (cJSON_IsString(token))
		cx_call_token(x->call, token->valuestring);
	if (cJSON_IsString(final)) {
		free(x->final);
		x->final = strdup(final->valuestring);
	}
	if (!cJSON_IsString(token) && !cJSON_IsString(final)) {
		plain_line(x, s, n);
		cx_call_token(x->call, s);
	}
	cJSON_Delete(j);
	cx_buf_clear(&x->line);
}

/* Reads once: returns > 0 for bytes read, 0 at the end, < 0 for nothing
 * now (or nothing more: the watch is gone). */
static ssize_t read_once(int fd, char *p, size_t n)
{
	ssize_t r;
	do
		r = read(fd, p, n);
	while (r < 0 && errno == EINTR);
	return r < 0 && errno != EAGAIN ? 0 : r;
}

static ssize_t pump_out(struct exec *x)
{
	char chunk[16384];
	ssize_t n = read_once(x->out.fd, chunk, sizeof chunk);
	if (n == 0) {
		if (x->line.len)
			take_line(x);
		close_watch(x, &x->out);
	}
	if (n <= 0)
		return n;
	if ((x->total += (size_t)n) > OUTPUT_LIMIT) {
		kill_for(x, CX_FAIL_INVALID_OUTPUT, "output over 16 MiB");
		return -1;
	}
	for (const char *p = chunk, *end = chunk + n; p < end && x->out.fd >= 0;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t seg = (size_t)((nl ? nl + 1 : end) - p);
		if (cx_buf_append(&x->line, p, seg) < 0)
			kill_for(x, CX_FAIL_PERMANENT, "exec: out of memory");
		else if (x->line.len - (nl != NULL) > LINE_LIMIT)
			kill_for(x, CX_FAIL_INVALID_OUTPUT, "output line over 1 MiB");
		else if (nl)
			take_line(x);
		p += seg;
	}
	return n;
}

static ssize_t pump_err(struct exec *x)
{
	char chunk[4096];
	ssize_t n = read_once(x->err.fd, chunk, sizeof chunk);
	if (n == 0)
		close_watch(x, &x->err);
	if (n <= 0)
		return n;
	size_t keep = (size_t)n < TAIL_BYTES ? (size_t)n : TAIL_BYTES;
	size_t drop = x->tail_len + keep > TAIL_BYTES ? x->tail_len + keep - TAIL_BYTES : 0;
	memmove(x->tail, x->tail + drop, x->tail_len - drop);
	memcpy(x->tail + x->tail_len - drop, chunk + n - keep, keep);
	x->tail_len += keep - drop;
	x->tail_cut |= drop > 0 || keep < (size_t)n;
	return n;
}

static void release(struct exec *x)
{
	close_watch(x, &x->out);
	close_watch(x, &x->err);
	cx_watch_del(cx_call_loop(x->call), &x->pid);
	cx_proc_release(&x->proc);
	cx_buf_free(&x->line);
	cx_buf_free(&x->text);
	free(x->final);
}

/* "exited 2: <stderr tail>" */
static void describe_exit(struct exec *x, const siginfo_t *info, char *out, size_t size)
{
	char how[64];
	cx_exit_describe(info, how, sizeof how);
	while (x->tail_len && strchr(" \t\r\n", x->tail[x->tail_len - 1]))
		x->tail_len--;
	x->tail[x->tail_len] = '\0';
	/* A cut tail most likely starts mid-line: from the next whole one. */
	const char *from = x->tail, *nl = memchr(x->tail, '\n', x->tail_len);
	if (x->tail_cut && nl)
		from = nl + 1;
	snprintf(out, size, "%s%s%s", how, *from ? ": " : "", from);
}

/* The process is gone: take the rest of its output (what a surviving
 * grandchild may still write is not waited for), release the attempt,
 * then report. */
static void conclude(struct exec *x, int reaped, const siginfo_t *info)
{
	struct cx_call *call = x->call;
	char why[TAIL_BYTES + 128];
	enum cx_fail_kind kind = CX_FAIL_PERMANENT;
	char *answer = NULL;
	bool ok = false;

	while (x->out.fd >= 0 && pump_out(x) > 0)
		;
	while (x->err.fd >= 0 && pump_err(x) > 0)
		;
	if (x->line.len && !x->killed)
		take_line(x);
	if (x->killed) {
		kind = x->verdict;
		snprintf(why, sizeof why, "%s", x->why);
	} else if (reaped < 0) {
		snprintf(why, sizeof why, "exec: waitid: %s", strerror(-reaped));
	} else if (info->si_code == CLD_EXITED && info->si_status == 0) {
		ok = true;
		if (x->final) {
			answer = x->final;
			x->final = NULL;
		} else {
			answer = x->text.data;
			x->text = (struct cx_buf){ 0 };
		}
	} else {
		if (info->si_code == CLD_EXITED && info->si_status == EXIT_TRANSIENT)
			kind = CX_FAIL_TRANSIENT;
		describe_exit(x, info, why, sizeof why);
	}
	release(x);
	if (ok)
		cx_call_succeed(call, answer ? answer : "");
	else
		cx_call_fail(call, kind, "%s", why);
	free(answer);
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

static void pid_ready(struct cx_loop *loop, struct cx_watch *w, uint32_t events)
{
	struct exec *x = w->data;
	siginfo_t info;
	(void)loop, (void)events;
	int reaped = cx_proc_reap(&x->proc, &info);
	if (reaped != 0)
		conclude(x, reaped, &info);
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

/* The request JSON and a newline, in a memfd read from its start. */
static int request_memfd(const cJSON *request)
{
	char *json = cJSON_PrintUnformatted(request);
	if (!json)
		return -ENOMEM;
	int fd = memfd_create("council-request", MFD_CLOEXEC);
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
 * processes_max: the attempt fails, saying so, rather than run unbounded.
 * Returns 0, or an error message for the child to report. */
static const char *apply_limits(const cJSON *profile)
{
	static const struct {
		const char *key;
		int resource;
		rlim_t unit;
	} limits[] = {
		{ "memory_max_mb", RLIMIT_AS, 1 << 20 },
		{ "processes_max", RLIMIT_NPROC, 1 },
	};
	for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(profile, limits[i].key);
		if (!cJSON_IsNumber(v))
			continue;
		if (limits[i].resource == RLIMIT_NPROC && geteuid() == 0)
			return "processes_max cannot hold a command that runs as root "
			       "(RLIMIT_NPROC does not bind root)";
		struct rlimit rl = { (rlim_t)v->valuedouble * limits[i].unit,
				     (rlim_t)v->valuedouble * limits[i].unit };
		if (setrlimit(limits[i].resource, &rl) < 0)
			return strerror(errno);
	}
	return NULL;
}

/* The child side: it only sets up and execs. The worker keeps fds 0-2 open
 * (the supervisor points them at /dev/null), so in, out and err are all
 * above 2 and the dup2()s cannot clobber one another. */
static void __attribute__((noreturn)) exec_child(const cJSON *profile, pid_t parent,
						 int in, int out, int err)
{
	const cJSON *command = cJSON_GetObjectItemCaseSensitive(profile, "command");
	const cJSON *env = cJSON_GetObjectItemCaseSensitive(profile, "env");
	const cJSON *item;
	int argc = 0;

	if (!cx_proc_child_init(parent) || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
	    dup2(err, 2) < 0)
		_exit(127);
	closefrom(3);
	const char *refused = apply_limits(profile);
	if (refused) {
		dprintf(2, "%s\n", refused);
		_exit(126);
	}
	cJSON_ArrayForEach(item, env)
		if (cJSON_IsString(item))
			setenv(item->string, item->valuestring, 1);
	char **argv = calloc((size_t)cJSON_GetArraySize(command) + 1, sizeof *argv);
	if (!argv)
		_exit(127);
	cJSON_ArrayForEach(item, command)
		argv[argc++] = item->valuestring;
	if (argc)
		execvp(argv[0], argv);
	dprintf(2, "exec %s: %s\n", argc ? argv[0] : "(no command)", strerror(errno));
	_exit(127);
}

/* Kills and reaps a process the loop could not be made to watch. */
static void destroy(struct exec *x)
{
	siginfo_t info;
	cx_proc_signal(&x->proc, SIGKILL);
	waitid(P_PIDFD, (id_t)x->proc.pidfd, &info, WEXITED);
	release(x);
}

static int exec_start(struct cx_call *call)
{
	struct exec *x = cx_call_priv(call);
	struct cx_loop *loop = cx_call_loop(call);
	int out[2] = { -1, -1 }, err[2] = { -1, -1 };
	pid_t parent = getpid();

	*x = (struct exec){
		.call = call,
		.proc = CX_PROC_NULL,
		.out = { -1, out_ready, x },
		.err = { -1, err_ready, x },
		.pid = { -1, pid_ready, x },
	};
	int in = request_memfd(call->request);
	int rc = in < 0 ? in : 0;
	if (rc == 0 && (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0))
		rc = -errno;
	if (rc == 0)
		rc = cx_proc_fork(&x->proc);
	if (rc == 0)
		exec_child(call->member->profile, parent, in, out[1], err[1]);
	/* In the parent, or after a failure: the child's ends are its alone. */
	int child_ends[] = { in, out[1], err[1] };
	for (size_t i = 0; i < sizeof child_ends / sizeof *child_ends; i++)
		if (child_ends[i] >= 0)
			close(child_ends[i]);
	x->out.fd = out[0];
	x->err.fd = err[0];
	if (rc < 0) {
		release(x);
		return rc;
	}
	x->pid.fd = x->proc.pidfd;
	if (fcntl(out[0], F_SETFL, O_NONBLOCK) < 0 || fcntl(err[0], F_SETFL, O_NONBLOCK) < 0)
		rc = -errno;
	else if ((rc = cx_watch_add(loop, &x->out, EPOLLIN)) == 0 &&
		 (rc = cx_watch_add(loop, &x->err, EPOLLIN)) == 0)
		rc = cx_watch_add(loop, &x->pid, EPOLLIN);
	if (rc < 0)
		destroy(x);
	return rc;
}

static void exec_abort(struct cx_call *call)
{
	kill_for(cx_call_priv(call), CX_FAIL_PERMANENT, "exec: aborted");
}

/* The pid is enough: an exited child keeps it until it is reaped, and ours
 * is reaped only through x->proc, which is released right after. */
static bool exec_owns(struct cx_call *call, const struct cx_proc *child)
{
	const struct exec *x = cx_call_priv(call);
	return x->proc.pidfd >= 0 && x->proc.pid == child->pid;
}

const struct cx_provider_ops cx_provider_exec = {
	.name = "exec",
	.priv_size = sizeof(struct exec),
	.start = exec_start,
	.abort = exec_abort,
	.owns = exec_owns,
};
