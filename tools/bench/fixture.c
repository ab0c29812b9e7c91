/* What the figures run on: the councils, councild and its client, an
 * embedded supervisor, the runs in flight, and memory read from /proc. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define CONNECT_MS 10000

const char bench_trivial_spec[] =
	"{\"id\":\"trivial\",\"members\":[{\"id\":\"m\",\"profile\":{\"provider\":\"mock\",\"words\":1}}],"
	"\"rounds\":[{\"type\":\"independent_analysis\"}]}";

const char bench_idle_spec[] =
	"{\"id\":\"idle\",\"members\":[{\"id\":\"m\",\"timeout_ms\":3600000,"
	"\"profile\":{\"provider\":\"mock\",\"words\":1,\"latency_ms\":600000}}],"
	"\"rounds\":[{\"type\":\"independent_analysis\"}]}";

const char *bench_stream_spec(unsigned members, unsigned words, unsigned latency_ms)
{
	static char spec[16384];
	size_t n = (size_t)snprintf(spec, sizeof spec, "{\"id\":\"stream\",\"members\":[");
	for (unsigned i = 0; i < members && n < sizeof spec - 256; i++)
		n += (size_t)snprintf(spec + n, sizeof spec - n,
				      "%s{\"id\":\"m%u\",\"profile\":{\"provider\":\"mock\",\"words\":%u,"
				      "\"latency_ms\":%u}}", i ? "," : "", i, words, latency_ms);
	snprintf(spec + n, sizeof spec - n, "],\"rounds\":[{\"type\":\"independent_analysis\"}]}");
	return spec;
}

/* councild --foreground, dying with us, its log in the runtime directory. */
static void councild_start(struct bench *b)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		bench_die("fork: %s", strerror(errno));
	if (pid == 0) {
		char log[4200];
		snprintf(log, sizeof log, "%s/councild.log", b->root);
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd < 0 || dup2(fd, STDERR_FILENO) < 0 || prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 ||
		    getppid() != parent)
			_exit(126);
		execl(b->councild, "councild", "--foreground", "--runtime-dir", b->root, (char *)NULL);
		_exit(127);
	}
	b->councild_pid = pid;
	struct cx_client_options opts = { .runtime_dir = b->root, .call_timeout_ms = 120000 };
	struct cx_error err = { 0 };
	uint64_t deadline = bench_ns() + (uint64_t)CONNECT_MS * 1000000;
	while (cx_client_connect(&opts, &b->client, &err) != CX_OK) {
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			b->councild_pid = 0;
			bench_die("%s exited (status %d) before it answered; see %s/councild.log",
				  b->councild, status, b->root);
		}
		if (err.code != CX_EUNAVAILABLE || bench_ns() > deadline)
			bench_die("connecting to councild: %s", err.message);
		usleep(10000);
	}
}

struct cx_client *bench_client(struct bench *b)
{
	if (!b->client)
		councild_start(b);
	return b->client;
}

void bench_councild_stop(struct bench *b)
{
	if (b->client)
		cx_client_close(b->client);
	b->client = NULL;
	if (!b->councild_pid)
		return;
	kill(b->councild_pid, SIGTERM);
	int status;
	while (waitpid(b->councild_pid, &status, 0) < 0 && errno == EINTR)
		;
	b->councild_pid = 0;
}

pid_t bench_tenant_pid(struct bench *b, const char *tenant)
{
	char path[4400], line[256];
	snprintf(path, sizeof path, "%s/tenants/%s/status", b->root, tenant);
	FILE *f = fopen(path, "re");
	int pid = 0;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "Pid:\t%d", &pid) == 1)
			break;
	if (f)
		fclose(f);
	return (pid_t)pid;
}

struct cx_sup *bench_sup(struct bench *b, const char *tenant)
{
	char root[4200];
	snprintf(root, sizeof root, "%s/embedded", b->root);
	struct cx_sup_options opts = { .runtime_dir = root, .tenant = tenant };
	struct cx_sup *sup;
	struct cx_error err = { 0 };
	if (cx_sup_new(&opts, &sup, &err) != CX_OK)
		bench_die("cx_sup_new: %s", err.message);
	return sup;
}

/* A "Key: N kB" line of a /proc file, summed over every line that has it. */
static int64_t proc_kb(pid_t pid, const char *file, const char *const keys[])
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	int64_t total = 0;
	while (fgets(line, sizeof line, f)) {
		for (size_t i = 0; keys[i]; i++) {
			size_t n = strlen(keys[i]);
			long long kb;
			if (!strncmp(line, keys[i], n) && sscanf(line + n, " %lld kB", &kb) == 1)
				total += kb;
		}
	}
	fclose(f);
	return total * 1024;
}

int64_t bench_rss(pid_t pid)
{
	static const char *const keys[] = { "VmRSS:", NULL };
	return proc_kb(pid, "status", keys);
}

int64_t bench_private(pid_t pid)
{
	static const char *const keys[] = { "Private_Clean:", "Private_Dirty:", NULL };
	return proc_kb(pid, "smaps_rollup", keys);
}

long bench_open_fds(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	long n = 0;
	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

long bench_nofile(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/limits", (int)pid);
	FILE *f = fopen(path, "re");
	long soft = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "Max open files %ld", &soft) == 1)
			break;
	if (f)
		fclose(f);
	return soft;
}

int64_t bench_mem_available(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[256];
	long long kb = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "MemAvailable: %lld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

void inflight_start(struct bench *b, struct inflight *in, const char *tenant, const char *spec)
{
	struct cx_client_start req = { .spec_json = spec, .tenant = tenant, .subscribe = true };
	struct cx_started st;
	struct cx_error err = { 0 };
	int r = cx_start(bench_client(b), &req, &st, NULL, &err);
	if (r != CX_OK)
		bench_die("start in tenant %s: %s: %s", tenant, cx_code_word(r), err.message);
	bench_grow(&in->fds, &in->cap, in->n, sizeof *in->fds);
	in->fds[in->n++] = st.subscriber_fd;
}

unsigned inflight_reap(struct inflight *in)
{
	struct pollfd pfd[256];
	size_t n = in->n < 256 ? in->n : 256;
	for (size_t i = 0; i < n; i++)
		pfd[i] = (struct pollfd){ .fd = in->fds[i], .events = POLLIN };
	int ready;
	while ((ready = poll(pfd, n, -1)) < 0 && errno == EINTR)
		;
	if (ready < 0)
		bench_die("poll: %s", strerror(errno));
	unsigned ended = 0;
	char buf[65536];
	for (size_t i = n; i-- > 0;) {
		if (!pfd[i].revents)
			continue;
		ssize_t got = read(pfd[i].fd, buf, sizeof buf);
		if (got > 0 || (got < 0 && errno == EINTR))
			continue;
		close(pfd[i].fd);
		in->fds[i] = in->fds[--in->n];
		ended++;
	}
	return ended;
}

void inflight_free(struct inflight *in)
{
	for (size_t i = 0; i < in->n; i++)
		close(in->fds[i]);
	free(in->fds);
	*in = (struct inflight){ 0 };
}
