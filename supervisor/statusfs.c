#include "statusfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "fsutil.h"
#include "proc.h"
#include "rundir.h"

static const char *const status_names[] = {
	[CX_RUN_PENDING] = "pending",
	[CX_RUN_RUNNING] = "running",
	[CX_RUN_COMPLETED] = "completed",
	[CX_RUN_FAILED] = "failed",
	[CX_RUN_CANCELLED] = "cancelled",
};

const char *cx_run_status_name(enum cx_run_status status)
{
	return status_names[status];
}

/* A timestamp, or "-" for 0. */
static const char *ts_or_dash(int64_t ms, char buf[CX_TS_LEN + 1])
{
	if (!ms)
		return "-";
	cx_ts_format(ms, buf);
	return buf;
}

/* A pid, or "-" for none: never 0, which a script's kill $(...) would
 * send to its own process group. */
static const char *pid_or_dash(pid_t pid, char buf[16])
{
	if (pid <= 0)
		return "-";
	snprintf(buf, 16, "%d", (int)pid);
	return buf;
}

/* src as the body of a JSON string: quotes, backslashes and control
 * characters escaped. Names and ids have none; a summary read back from a
 * file might. */
static void json_escape(char *dst, size_t size, const char *src)
{
	size_t n = 0;
	for (; *src && n + 7 < size; src++) {
		unsigned char c = (unsigned char)*src;
		if (c == '"' || c == '\\') {
			dst[n++] = '\\';
			dst[n++] = (char)c;
		} else if (c < 0x20) {
			n += (size_t)snprintf(dst + n, size - n, "\\u%04x", c);
		} else {
			dst[n++] = (char)c;
		}
	}
	dst[n] = '\0';
}

/* summary.json's text: formatted directly, as it is written on every
 * status change. Returns its length, or -1 if it did not fit. */
static int summary_format(const struct cx_run_summary *s, char *buf, size_t size)
{
	enum { E = 2 * CX_NAME_MAX + 8 };
	char run_id[E], council[E], tenant[E], round[E + 32], exit[2 * sizeof s->exit + 8];
	char containment[2 * sizeof s->containment + 8], unwritten[2 * sizeof s->unwritten + 8];
	char started[CX_TS_LEN + 3] = "null", finished[CX_TS_LEN + 3] = "null", pid[16] = "null";
	char stamp[CX_TS_LEN + 1], owner[2 * sizeof s->owner.boot_id + 64] = "null";
	json_escape(run_id, sizeof run_id, s->run_id);
	json_escape(council, sizeof council, s->council);
	json_escape(tenant, sizeof tenant, s->tenant);
	json_escape(exit, sizeof exit, s->exit);
	json_escape(containment, sizeof containment, s->containment);
	if (s->unwritten[0]) {
		char text[2 * sizeof s->unwritten + 4];
		json_escape(text, sizeof text, s->unwritten);
		snprintf(unwritten, sizeof unwritten, "\"%s\"", text);
	} else {
		strcpy(unwritten, "null");
	}
	if (s->round_idx >= 0) {
		char name[E];
		json_escape(name, sizeof name, s->round);
		snprintf(round, sizeof round, "{\"name\":\"%s\",\"idx\":%d}", name, s->round_idx);
	} else {
		strcpy(round, "null");
	}
	snprintf(started, sizeof started, "\"%s\"", ts_or_dash(s->started_at_ms, stamp));
	if (s->finished_at_ms)
		snprintf(finished, sizeof finished, "\"%s\"", ts_or_dash(s->finished_at_ms, stamp));
	if (s->pid > 0)
		snprintf(pid, sizeof pid, "%d", (int)s->pid);
	if (s->owner.pid > 0) {
		char boot[2 * sizeof s->owner.boot_id + 8];
		json_escape(boot, sizeof boot, s->owner.boot_id);
		snprintf(owner, sizeof owner, "{\"pid\":%d,\"ino\":%llu,\"boot_id\":\"%s\"}",
			 (int)s->owner.pid, (unsigned long long)s->owner.ino, boot);
	}
	int n = snprintf(buf, size,
			 "{\"run_id\":\"%s\",\"council\":\"%s\",\"tenant\":\"%s\",\"status\":\"%s\","
			 "\"current_round\":%s,\"rounds_completed\":%d,\"started_at\":%s,"
			 "\"finished_at\":%s,\"pid\":%s,\"events\":%llu,\"exit\":\"%s\","
			 "\"containment\":\"%s\",\"owner\":%s,\"unwritten\":%s}",
			 run_id, council, tenant, cx_run_status_name(s->status), round,
			 s->rounds_completed, started, finished, pid,
			 (unsigned long long)s->events, exit, containment, owner, unwritten);
	return n < 0 || (size_t)n >= size ? -1 : n;
}

cJSON *cx_run_summary_json(const struct cx_run_summary *s)
{
	char buf[2048];
	return summary_format(s, buf, sizeof buf) < 0 ? NULL : cJSON_Parse(buf);
}

int cx_run_status_format(const struct cx_run_summary *s, char *buf, size_t size)
{
	char started[CX_TS_LEN + 1], finished[CX_TS_LEN + 1], round[CX_NAME_MAX + 16], pid[16];
	char owner[sizeof s->owner.boot_id + 48];
	cx_proc_id_format(&s->owner, owner, sizeof owner);
	if (s->round_idx >= 0)
		snprintf(round, sizeof round, "%s %d", s->round, s->round_idx);
	else
		strcpy(round, "-");
	int n = snprintf(buf, size,
			 "RunId:\t%s\nCouncil:\t%s\nTenant:\t%s\nStatus:\t%s\nPid:\t%s\n"
			 "Round:\t%s\nRoundsCompleted:\t%d\nStartedAt:\t%s\nFinishedAt:\t%s\n"
			 "Exit:\t%s\nEvents:\t%llu\nContainment:\t%s\nOwner:\t%s\nUnwritten:\t%s\n",
			 s->run_id, s->council, s->tenant, cx_run_status_name(s->status),
			 pid_or_dash(s->pid, pid), round, s->rounds_completed,
			 ts_or_dash(s->started_at_ms, started),
			 ts_or_dash(s->finished_at_ms, finished), s->exit,
			 (unsigned long long)s->events, *s->containment ? s->containment : "-", owner,
			 s->unwritten[0] ? s->unwritten : "-");
	return n < 0 || (size_t)n >= size ? -1 : n;
}

static int write_status(int runs_fd, const struct cx_run_summary *s)
{
	char buf[2048], path[CX_RUN_PATH_MAX];
	int n = cx_run_status_format(s, buf, sizeof buf);
	if (n < 0)
		return -ENAMETOOLONG;
	return cx_write_atomic(runs_fd, cx_run_file(s->run_id, CX_RUN_STATUS, path), buf, (size_t)n);
}

static int write_summary(int runs_fd, const struct cx_run_summary *s)
{
	char buf[2048], path[CX_RUN_PATH_MAX];
	int n = summary_format(s, buf, sizeof buf - 1);
	if (n < 0)
		return -ENAMETOOLONG;
	buf[n] = '\n';
	return cx_write_atomic(runs_fd, cx_run_file(s->run_id, CX_RUN_SUMMARY, path), buf, (size_t)n + 1);
}

int cx_statusfs_write_result(int runs_fd, const char *run_id, const char *result)
{
	char path[CX_RUN_PATH_MAX];
	return cx_write_atomic(runs_fd, cx_run_file(run_id, CX_RUN_RESULT, path), result, strlen(result));
}

/* summary.json first: it is the record finalizers read, and a writer that
 * dies between the two leaves status behind it, which they can tell
 * (cx_statusfs_run_agrees) and put right; the other way round, status
 * would hold what no finalizer reads. */
int cx_statusfs_write_run(int runs_fd, const struct cx_run_summary *s)
{
	int r = write_summary(runs_fd, s);
	int q = write_status(runs_fd, s);
	return r < 0 ? r : q;
}

bool cx_run_over(const struct cx_run_summary *s)
{
	return cx_run_status_final(s->status) && strcmp(s->exit, "-");
}

bool cx_statusfs_run_agrees(int runs_fd, const struct cx_run_summary *s)
{
	char want[2048], path[CX_RUN_PATH_MAX], *have;
	size_t len;
	int n = cx_run_status_format(s, want, sizeof want);
	if (n < 0 || cx_read_file(runs_fd, cx_run_file(s->run_id, CX_RUN_STATUS, path), sizeof want,
				  &have, &len) < 0)
		return false;
	bool same = len == (size_t)n && !memcmp(have, want, len);
	free(have);
	return same;
}

/* Writers of a tenant's status take its directory's lock: a supervisor
 * announcing itself and the guardian of one that died never cross. */
static int lock_tenant(int tenant_fd)
{
	int fd = openat(tenant_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			int e = errno;
			close(fd);
			return -e;
		}
	return fd;
}

static int write_tenant(int tenant_fd, const struct cx_tenant_summary *t)
{
	char pid[16], started[CX_TS_LEN + 1], owner[sizeof t->owner.boot_id + 48], text[512];
	cx_proc_id_format(&t->owner, owner, sizeof owner);
	int n = snprintf(text, sizeof text,
			 "Tenant:\t%s\nPid:\t%s\nStatus:\t%s\nRuns:\t%u\nStartedAt:\t%s\nOwner:\t%s\n",
			 t->tenant, pid_or_dash(t->pid, pid), t->status, t->runs,
			 ts_or_dash(t->started_at_ms, started), owner);
	if (n < 0 || (size_t)n >= sizeof text)
		return -ENAMETOOLONG;
	return cx_write_atomic(tenant_fd, "status", text, (size_t)n);
}

int cx_statusfs_write_tenant(const char *root, const struct cx_tenant_summary *t)
{
	char path[PATH_MAX], dir_path[CX_TENANT_PATH_MAX];
	if ((size_t)snprintf(path, sizeof path, "%s/%s", root, cx_tenant_dir(t->tenant, dir_path)) >=
	    sizeof path)
		return -ENAMETOOLONG;
	int dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return -errno;
	int lock = lock_tenant(dir);
	int r = lock < 0 ? lock : write_tenant(dir, t);
	if (lock >= 0)
		close(lock);
	close(dir);
	return r;
}

/* The value of "Key:\t" in a status file's text, up to its line's end. */
static const char *status_value(const char *text, const char *key, char *buf, size_t size)
{
	size_t k = strlen(key);
	for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
		if (!strncmp(line, key, k) && line[k] == ':' && line[k + 1] == '\t') {
			snprintf(buf, size, "%.*s", (int)strcspn(line + k + 2, "\n"), line + k + 2);
			return buf;
		}
	return NULL;
}

int cx_statusfs_tenant_orphaned(int tenant_fd, const struct cx_proc_id *owner)
{
	int lock = lock_tenant(tenant_fd);
	if (lock < 0)
		return lock;
	char *text = NULL, tenant[CX_NAME_MAX + 1], status[16], who[64], started[CX_TS_LEN + 1];
	struct cx_proc_id found;
	int r = cx_read_file(tenant_fd, "status", 4096, &text, NULL);
	if (r == 0 && status_value(text, "Tenant", tenant, sizeof tenant) &&
	    status_value(text, "Status", status, sizeof status) &&
	    (!strcmp(status, "running") || !strcmp(status, "stopping")) &&
	    cx_proc_id_parse(status_value(text, "Owner", who, sizeof who), &found) == 0 &&
	    (!owner || cx_proc_id_equal(owner, &found)) && !cx_proc_id_alive(&found)) {
		struct cx_tenant_summary t = {
			.tenant = tenant, .status = "failed", .owner = found,
			.started_at_ms = cx_ts_parse(status_value(text, "StartedAt", started,
								  sizeof started) ?: ""),
		};
		r = write_tenant(tenant_fd, &t) < 0 ? 0 : 1;
	} else {
		r = 0;
	}
	free(text);
	close(lock);
	return r;
}
