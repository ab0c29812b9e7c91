#include "catalog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "council/client.h"
#include "containment.h"
#include "event.h"
#include "finalize.h"
#include "fsutil.h"
#include "json.h"
#include "proc.h"
#include "rundir.h"
#include "statusfs.h"

#define SUMMARY_MAX (64 * 1024)
#define LEFTOVER_WAIT_MS 5000 /* for an abandoned run's cgroup to empty after cgroup.kill */

static int settle(int runs_fd, const char *root, const char *run_id);

/* runs/<run_id>/summary.json (runs_fd: runs/), or NULL. A summary that
 * names another run than its directory's is no record of this one:
 * callers take its run_id into paths (retention removes runs/<run_id>)
 * and events. */
static cJSON *read_summary_json(int runs_fd, const char *run_id)
{
	char path[CX_RUN_PATH_MAX], *text;
	if (!cx_run_id_valid(run_id) ||
	    cx_read_file(runs_fd, cx_run_file(run_id, CX_RUN_SUMMARY, path), SUMMARY_MAX, &text, NULL) < 0)
		return NULL;
	cJSON *o = cJSON_Parse(text);
	free(text);
	if (strcmp(cx_json_str(o, "run_id"), run_id)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static int read_summary(int runs_fd, const char *run_id, struct cx_run_summary *out)
{
	cJSON *o = read_summary_json(runs_fd, run_id);
	if (!o)
		return -ENOENT;
	int r = cx_run_summary_from_json(o, out) == CX_OK ? 0 : -EINVAL;
	cJSON_Delete(o);
	return r;
}

static int open_runs(int root_fd)
{
	return openat(root_fd, CX_RUNS_DIR, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

int cx_catalog_read(int root_fd, const char *run_id, struct cx_run_summary *out)
{
	int runs_fd = open_runs(root_fd);
	int r = runs_fd < 0 ? -errno : read_summary(runs_fd, run_id, out);
	if (runs_fd >= 0)
		close(runs_fd);
	return r;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The run ids under runs/ (or tenants/<t>/runs/), sorted. */
static char **run_ids(int root_fd, const char *tenant, size_t *n)
{
	char path[CX_TENANT_PATH_MAX];
	int fd = cx_open_beneath(root_fd, tenant ? cx_tenant_runs(tenant, NULL, path) : CX_RUNS_DIR,
				 O_RDONLY | O_DIRECTORY, 0);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	char **ids = NULL;
	*n = 0;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	size_t cap = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.' || !cx_run_id_valid(e->d_name))
			continue;
		if (*n == cap) {
			char **v = reallocarray(ids, cap = cap ? cap * 2 : 64, sizeof *v);
			if (!v)
				break;
			ids = v;
		}
		ids[(*n)++] = strdup(e->d_name);
	}
	closedir(d);
	if (ids)
		qsort(ids, *n, sizeof *ids, by_name);
	return ids;
}

static void free_ids(char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

static bool is_final(const cJSON *summary)
{
	const char *status = cx_json_str(summary, "status");
	return !strcmp(status, "completed") || !strcmp(status, "failed") ||
	       !strcmp(status, "cancelled");
}

cJSON *cx_catalog_list(int root_fd, const char *root, const char *tenant, bool live_only)
{
	size_t n;
	int runs_fd = open_runs(root_fd);
	char **ids = runs_fd < 0 ? NULL : run_ids(root_fd, tenant, &n);
	cJSON *list = cJSON_CreateArray();
	for (size_t i = 0; ids && i < n; i++) {
		cJSON *o = read_summary_json(runs_fd, ids[i]);
		/* Whoever reads a run its dead owner left unfinished finishes it. */
		if (o && !is_final(o) && settle(runs_fd, root, ids[i]) > 0) {
			cJSON_Delete(o);
			o = read_summary_json(runs_fd, ids[i]);
		}
		if (o && !(live_only && is_final(o)))
			cJSON_AddItemToArray(list, o);
		else
			cJSON_Delete(o);
	}
	if (ids)
		free_ids(ids, n);
	if (runs_fd >= 0)
		close(runs_fd);
	return list;
}

/* What the events file of a run whose supervisor died says: the seq of
 * its last whole event, the rounds it completed, and its terminal event if
 * it has one (the status may not say so yet: it is written when the worker
 * is reaped). A torn last line (its writer died mid-write) is cut off, so
 * the file stays whole lines. */
struct events_end {
	uint64_t seq;
	int rounds;
	cJSON *terminal;         /* parsed, or NULL */
	enum cx_event_type type; /* of terminal */
};

static void read_events_end(int runs_fd, const char *run_id, struct events_end *e)
{
	char *text, path[CX_RUN_ID_MAX + 32];
	size_t len;
	*e = (struct events_end){ 0 };
	if (cx_read_file(runs_fd, cx_run_file(run_id, CX_RUN_EVENTS, path), SIZE_MAX, &text, &len) < 0)
		return;
	size_t end = len;
	while (end && text[end - 1] != '\n')
		end--;
	if (end < len) {
		int fd = cx_open_beneath(runs_fd, path, O_WRONLY, 0);
		if (fd >= 0) {
			if (ftruncate(fd, (off_t)end) < 0)
				end = len; /* leave it: the line stays refused by readers */
			close(fd);
		}
	}
	for (size_t start = 0; start < end;) {
		char *nl = memchr(text + start, '\n', end - start);
		size_t n = (size_t)(nl - text) - start;
		struct cx_event_header h;
		if (cx_event_header_parse(text + start, n, &h) == 0) {
			e->seq = h.seq;
			e->rounds += h.type == CX_EV_ROUND_COMPLETED;
			if (cx_event_terminal(h.type) && !e->terminal) {
				e->terminal = cJSON_ParseWithLength(text + start, n);
				e->type = h.type;
			}
		}
		start = (size_t)(nl - text) + 1;
	}
	free(text);
}

/* Appends a synthesized run_failed and writes its result: true once the
 * line is in the events file. */
/* result.json: the "result" of the terminal event ev, as the run's
 * supervisor writes it. */
static void write_result(int runs_fd, const char *run_id, const cJSON *ev)
{
	char *result = cJSON_PrintUnformatted(cJSON_GetObjectItem(ev, "result"));
	if (result)
		cx_statusfs_write_result(runs_fd, run_id, result);
	free(result);
}

static bool append_failure(int runs_fd, const struct cx_run_summary *s, const char *kind,
			   const char *message)
{
	size_t len;
	char path[CX_RUN_PATH_MAX];
	cx_rundir_release(runs_fd, s->run_id); /* its room, for its end */
	char *line = cx_failure_event(s, runs_fd, kind, message, &len);
	int events = line ? cx_open_beneath(runs_fd, cx_run_file(s->run_id, CX_RUN_EVENTS, path),
					    O_WRONLY | O_APPEND, 0) : -1;
	bool written = events >= 0 && cx_write_all(events, line, len) == 0;
	if (written) {
		cJSON *ev = cJSON_ParseWithLength(line, len);
		write_result(runs_fd, s->run_id, ev);
		cJSON_Delete(ev);
	}
	if (events >= 0)
		close(events);
	free(line);
	return written;
}

/* Ends the run s from its files: its terminal event if the events file has
 * one, else a synthesized run_failed; then its result.json and final
 * status. */
static void finish_from_files(int runs_fd, struct cx_run_summary *s, const char *kind,
			      const char *message)
{
	struct events_end e;
	read_events_end(runs_fd, s->run_id, &e);
	s->events = e.seq;
	s->rounds_completed = e.rounds;
	/* A run whose terminal event is out ended; its supervisor may have
	 * died before its result.json and status said so (they come after
	 * it), so both are written from that event. */
	bool ended = e.terminal;
	if (ended) {
		cx_rundir_release(runs_fd, s->run_id);
		write_result(runs_fd, s->run_id, e.terminal);
		s->status = cx_terminal_status(e.type, e.terminal);
		s->finished_at_ms = cx_ts_parse(cx_json_str(e.terminal, "ts"));
	} else if ((ended = append_failure(runs_fd, s, kind, message))) {
		s->status = CX_RUN_FAILED;
		s->finished_at_ms = cx_wall_ms();
		s->events++;
	}
	cJSON_Delete(e.terminal);
	if (ended) {
		s->round[0] = '\0';
		s->round_idx = -1;
		if (!strcmp(s->exit, "-"))
			strcpy(s->exit, "killed SIGKILL");
		cx_statusfs_write_run(runs_fd, s);
	}
}

/* A run its owner left with its end not all written (its owner proven
 * dead): not over, or its status behind its summary (written second). */
static bool abandoned(int runs_fd, const struct cx_run_summary *s)
{
	return (!cx_run_over(s) || !cx_statusfs_run_agrees(runs_fd, s)) && !cx_proc_id_alive(&s->owner);
}

int cx_catalog_finalize(int runs_fd, const char *run_id, const char *kind, const char *message)
{
	char path[CX_RUN_PATH_MAX];
	/* Finalizers (guardians, councild, readers) take turns on the events
	 * file's lock, and each decides under it: of two that found the run
	 * unfinished, the second finds it final. The owner takes no lock: it
	 * is dead before anyone else writes. */
	int lock = cx_open_beneath(runs_fd, cx_run_file(run_id, CX_RUN_EVENTS, path), O_RDONLY, 0);
	if (lock < 0)
		return lock;
	int r;
	while ((r = flock(lock, LOCK_EX)) < 0 && errno == EINTR)
		;
	struct cx_run_summary s;
	if (r < 0)
		r = -errno;
	else if (read_summary(runs_fd, run_id, &s) < 0 || !abandoned(runs_fd, &s))
		r = 0;
	else if (cx_run_over(&s))
		r = cx_statusfs_write_run(runs_fd, &s) < 0 ? 0 : 1;
	else {
		finish_from_files(runs_fd, &s, kind, message);
		r = 1;
	}
	close(lock);
	return r;
}

/* What is left of a run its owner left: its cgroup, where our tenant
 * cgroup of root has it, killed and waited for. Processes that left a
 * process group without a cgroup are its guardian's (guardian.h): a pid
 * read from a file is never signalled. */
static void kill_abandoned(const char *root, const struct cx_run_summary *s)
{
	struct cx_cgroup tenant, run = CX_CGROUP_NULL;
	/* The summary is its writer's word: a tenant that is no name could
	 * lead the path anywhere. */
	if (!root || !cx_name_valid(s->tenant) || cx_cgroup_tenant(root, s->tenant, false, &tenant) < 0)
		return;
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof path, "%s/%s", tenant.path, s->run_id) < sizeof path &&
	    cx_cgroup_open(&run, path) == 0) {
		cx_cgroup_kill(&run);
		cx_cgroup_wait_empty(&run, LEFTOVER_WAIT_MS);
		cx_cgroup_remove(&run);
	}
	cx_cgroup_close(&run);
	cx_cgroup_close(&tenant);
}

/* Kills and finalizes run_id if its owner left it: 1 if it did. */
static int settle(int runs_fd, const char *root, const char *run_id)
{
	struct cx_run_summary s;
	if (read_summary(runs_fd, run_id, &s) < 0 || !abandoned(runs_fd, &s))
		return 0;
	if (!cx_run_over(&s))
		kill_abandoned(root, &s);
	return cx_catalog_finalize(runs_fd, run_id, "supervisor_down", "its supervisor died");
}

int cx_catalog_settle(int root_fd, const char *root, const char *run_id)
{
	int runs_fd = open_runs(root_fd);
	int r = runs_fd < 0 ? -errno : settle(runs_fd, root, run_id);
	if (runs_fd >= 0)
		close(runs_fd);
	return r;
}

int cx_catalog_recover(int root_fd, const char *root, const char *tenant)
{
	size_t n;
	int runs_fd = open_runs(root_fd);
	char **ids = runs_fd < 0 ? NULL : run_ids(root_fd, tenant, &n);
	int done = 0;
	for (size_t i = 0; ids && i < n; i++)
		done += settle(runs_fd, root, ids[i]) > 0;
	if (ids)
		free_ids(ids, n);
	if (runs_fd >= 0)
		close(runs_fd);
	return done;
}

/* Removes runs/<id> and tenants/<tenant>/runs/<id>. */
static void remove_run(int root_fd, const char *tenant, const char *run_id)
{
	char link[CX_TENANT_PATH_MAX];
	unlinkat(root_fd, cx_tenant_runs(tenant, run_id, link), 0);
	int runs = cx_open_beneath(root_fd, CX_RUNS_DIR, O_RDONLY | O_DIRECTORY, 0);
	if (runs >= 0) {
		cx_remove_tree(runs, run_id);
		close(runs);
	}
}

struct finished {
	int64_t at;
	const cJSON *summary;
};

static int by_finish(const void *a, const void *b)
{
	const struct finished *x = a, *y = b;
	return (x->at > y->at) - (x->at < y->at);
}

int cx_catalog_expire(int root_fd, const char *root, const char *tenant, int64_t keep_ms,
		      unsigned keep_count)
{
	cJSON *runs = cx_catalog_list(root_fd, root, tenant, false);
	struct finished *v = calloc((size_t)cJSON_GetArraySize(runs) + 1, sizeof *v);
	size_t n = 0;
	const cJSON *r;
	cJSON_ArrayForEach(r, runs)
		if (v && is_final(r))
			v[n++] = (struct finished){ cx_ts_parse(cx_json_str(r, "finished_at")), r };
	if (v)
		qsort(v, n, sizeof *v, by_finish);
	int64_t now = cx_wall_ms();
	int removed = 0;
	/* Oldest first: past keep_ms, or beyond the newest keep_count. */
	for (size_t i = 0; i < n; i++) {
		if (now - v[i].at <= keep_ms && n - i <= keep_count)
			break;
		remove_run(root_fd, tenant, cx_json_str(v[i].summary, "run_id"));
		removed++;
	}
	free(v);
	cJSON_Delete(runs);
	return removed;
}
