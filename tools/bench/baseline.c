/* The baselines: what the operating system does for each figure with
 * nothing of council in the way, measured from this same process (so a fork
 * here costs what a fork of this process costs). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

static pid_t fork_or_die(void)
{
	pid_t pid = fork();
	if (pid < 0)
		bench_die("fork: %s", strerror(errno));
	return pid;
}

static void reap_one(void)
{
	siginfo_t info;
	while (waitid(P_ALL, 0, &info, WEXITED) < 0)
		if (errno != EINTR)
			bench_die("waitid: %s", strerror(errno));
}

double baseline_fork_rate(unsigned n, unsigned concurrency)
{
	uint64_t t0 = bench_ns();
	unsigned started = 0, live = 0;
	while (started < n || live) {
		while (started < n && live < concurrency) {
			if (fork_or_die() == 0)
				_exit(0);
			started++;
			live++;
		}
		reap_one();
		live--;
	}
	return n / ((double)(bench_ns() - t0) / 1e9);
}

/* Forks a child that writes a byte on a pipe as soon as it runs: 0 in the
 * child (which goes on as the caller says), its pid in the parent, with
 * *ready the pipe's read end, where the byte comes. */
static pid_t fork_saying_ready(int *ready)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		bench_die("pipe: %s", strerror(errno));
	pid_t pid = fork_or_die();
	if (pid == 0) {
		(void)!write(p[1], "s", 1);
		return 0;
	}
	close(p[1]);
	*ready = p[0];
	return pid;
}

/* Reads the ready byte, then closes the pipe. */
static void await_ready(int ready)
{
	char c;
	while (read(ready, &c, 1) < 0 && errno == EINTR)
		;
	close(ready);
}

double baseline_fork_pipe_latency(void)
{
	int ready;
	uint64_t t0 = bench_ns();
	if (fork_saying_ready(&ready) == 0)
		_exit(0);
	await_ready(ready);
	uint64_t t = bench_ns() - t0;
	reap_one();
	return (double)t;
}

double baseline_pipe_rate(unsigned messages, size_t size)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		bench_die("pipe: %s", strerror(errno));
	if (fork_or_die() == 0) {
		char *msg = malloc(size);
		if (!msg)
			_exit(1);
		memset(msg, 'x', size);
		msg[size - 1] = '\n';
		close(p[0]);
		for (unsigned i = 0; i < messages; i++)
			if (write(p[1], msg, size) != (ssize_t)size)
				_exit(1);
		_exit(0);
	}
	close(p[1]);
	static char buf[1 << 18];
	uint64_t t0 = 0;
	unsigned lines = 0;
	ssize_t got;
	while ((got = read(p[0], buf, sizeof buf)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			bench_die("read: %s", strerror(errno));
		if (!t0)
			t0 = bench_ns();
		for (char *q = buf, *end = buf + got; (q = memchr(q, '\n', (size_t)(end - q))); q++)
			lines++;
	}
	uint64_t t = bench_ns() - t0;
	close(p[0]);
	reap_one();
	if (lines != messages)
		bench_die("raw pipe: %u of %u messages arrived", lines, messages);
	return (messages - 1) / ((double)t / 1e9); /* the clock started at the first */
}

double baseline_kill_reap(unsigned n)
{
	pid_t *pids = calloc(n, sizeof *pids);
	int ready[2];
	if (!pids || pipe2(ready, O_CLOEXEC) < 0)
		bench_die("out of memory");
	for (unsigned i = 0; i < n; i++) {
		pids[i] = fork_or_die();
		if (pids[i] == 0) {
			(void)!write(ready[1], "s", 1);
			for (;;)
				pause();
		}
	}
	/* Every sleeper is up before the clock starts. */
	char buf[256];
	for (unsigned up = 0; up < n;) {
		ssize_t got = read(ready[0], buf, n - up < sizeof buf ? n - up : sizeof buf);
		if (got < 0 && errno != EINTR)
			bench_die("read: %s", strerror(errno));
		up += got > 0 ? (unsigned)got : 0;
	}
	uint64_t t0 = bench_ns();
	for (unsigned i = 0; i < n; i++)
		kill(pids[i], SIGTERM);
	for (unsigned i = 0; i < n; i++)
		reap_one();
	uint64_t t = bench_ns() - t0;
	close(ready[0]);
	close(ready[1]);
	free(pids);
	return (double)t;
}

int64_t baseline_fork_private(void)
{
	int ready;
	pid_t pid = fork_saying_ready(&ready);
	if (pid == 0)
		for (;;)
			pause();
	await_ready(ready);
	int64_t bytes = bench_private(pid);
	kill(pid, SIGKILL);
	reap_one();
	return bytes;
}
