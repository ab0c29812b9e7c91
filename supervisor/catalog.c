#include "catalog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "council/client.h"
#include "event.h"
#include "finalize.h"
#include "fsutil.h"
#include "json.h"
#include "rundir.h"
#include "statusfs.h"

#define SUMMARY_MAX (64 * 1024)

/* runs/<run_id>/summary.json, or NULL. A summary that names another run
 * than its directory's is no record of this one: callers take its run_id
 * into paths (retention removes runs/<run_id>) and events. */
static cJSON *read_summary_json(int root_fd, const char *run_id)
{
	char path[CX_RUN_ID_MAX + 32], *text;
	snprintf(path, sizeof path, "runs/%s/summary.json", run_id);
	if (!cx_run_id_valid(run_id) || cx_read_file(root_fd, path, SUMMARY_MAX, &text, NULL) < 0)
		return NULL;
	cJSON *o = cJSON_Parse(text);
	free(text);
	if (strcmp(cx_json_str(o, "run_id"), run_id)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int cx_catalog_read(int root_fd, const char *run_id, struct cx_run_summary *out)
{
	cJSON *o = read_summary_json(root_fd, run_id);
	if (!o)
		return -ENOENT;
	int r = cx_run_summary_from_json(o, out) == CX_OK ? 0 : -EINVAL;
	cJSON_Delete(o);
	return r;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The run ids under runs/ (or tenants/<t>/runs/), sorted. */
static char **run_ids(int root_fd, const char *tenant, size_t *n)
{
	char path[CX_NAME_MAX + 32];
	if (tenant)
		snprintf(path, sizeof path, "tenants/%s/runs", tenant);
	else
		strcpy(path, "runs");
	int fd = cx_open_beneath(root_fd, path, O_RDONLY | O_DIRECTORY, 0);
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

cJSON *cx_catalog_list(int root_fd, const char *tenant, bool live_only)
{
	size_t n;
	char **ids = run_ids(root_fd, tenant, &n);
	cJSON *list = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++) {
		cJSON *o = read_summary_json(root_fd, ids[i]);
		if (o && !(live_only && is_final(o)))
			cJSON_AddItemToArray(list, o);
		else
			cJSON_Delete(o);
	}
	free_ids(ids, n);
	return list;
}

/* The seq of the last whole event in the file; a torn last line (its writer
 * died mid-write) is cut off, so the file stays whole lines. */
static uint64_t last_seq(int dir_fd)
{
	char *text;
	size_t len;
	if (cx_read_file(dir_fd, "events", SIZE_MAX, &text, &len) < 0)
		return 0;
	size_t end = len;
	while (end && text[end - 1] != '\n')
		end--;
	if (end < len) {
		int fd = cx_open_beneath(dir_fd, "events", O_WRONLY, 0);
		if (fd >= 0) {
			if (ftruncate(fd, (off_t)end) < 0)
				end = len; /* leave it: the line stays refused by readers */
			close(fd);
		}
	}
	uint64_t seq = 0;
	for (size_t start = 0; start < end;) {
		char *nl = memchr(text + start, '\n', end - start);
		struct cx_event_header h;
		if (cx_event_header_parse(text + start, (size_t)(nl - text) - start, &h) == 0)
			seq = h.seq;
		start = (size_t)(nl - text) + 1;
	}
	free(text);
	return seq;
}

static int recover_run(int root_fd, const char *run_id, const char *kind, const char *message)
{
	struct cx_run_summary s;
	char path[CX_RUN_ID_MAX + 8];
	snprintf(path, sizeof path, "runs/%s", run_id);
	int dir_fd = cx_open_beneath(root_fd, path, O_RDONLY | O_DIRECTORY, 0);
	if (dir_fd < 0 || cx_catalog_read(root_fd, run_id, &s) < 0 || cx_run_status_final(s.status)) {
		if (dir_fd >= 0)
			close(dir_fd);
		return 0;
	}
	s.events = last_seq(dir_fd);
	cx_rundir_release(dir_fd); /* its room, for its end */
	size_t len;
	char *line = cx_failure_event(&s, dir_fd, kind, message, &len);
	int events = line ? cx_open_beneath(dir_fd, "events", O_WRONLY | O_APPEND, 0) : -1;
	if (events >= 0 && cx_write_all(events, line, len) == 0) {
		cJSON *ev = cJSON_ParseWithLength(line, len);
		char *result = cJSON_PrintUnformatted(cJSON_GetObjectItem(ev, "result"));
		if (result)
			cx_write_atomic(dir_fd, "result.json", result, strlen(result));
		free(result);
		cJSON_Delete(ev);
		s.events++;
		s.status = CX_RUN_FAILED;
		s.finished_at_ms = cx_wall_ms();
		s.round[0] = '\0';
		s.round_idx = -1;
		if (!strcmp(s.exit, "-"))
			strcpy(s.exit, "killed SIGKILL");
		cx_statusfs_write_run(dir_fd, &s);
	}
	if (events >= 0)
		close(events);
	free(line);
	close(dir_fd);
	return 1;
}

int cx_catalog_recover(int root_fd, const char *tenant, const char *kind, const char *message)
{
	size_t n;
	char **ids = run_ids(root_fd, tenant, &n);
	int done = 0;
	for (size_t i = 0; i < n; i++)
		done += recover_run(root_fd, ids[i], kind, message);
	free_ids(ids, n);
	return done;
}

/* Removes runs/<id> and tenants/<tenant>/runs/<id>. */
static void remove_run(int root_fd, const char *tenant, const char *run_id)
{
	char link[CX_NAME_MAX + CX_RUN_ID_MAX + 32];
	snprintf(link, sizeof link, "tenants/%s/runs/%s", tenant, run_id);
	unlinkat(root_fd, link, 0);
	int runs = cx_open_beneath(root_fd, "runs", O_RDONLY | O_DIRECTORY, 0);
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

int cx_catalog_expire(int root_fd, const char *tenant, int64_t keep_ms, unsigned keep_count)
{
	cJSON *runs = cx_catalog_list(root_fd, tenant, false);
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
