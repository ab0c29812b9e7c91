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

#include "access.h"
#include "council/client.h"
#include "containment.h"
#include "event.h"
#include "finalize.h"
#include "fsutil.h"
#include "json.h"
#include "proc.h"
#include "rundir.h"
#include "statusfs.h"

#define LEFTOVER_WAIT_MS 5000 /* for an abandoned run's cgroup to empty after cgroup.kill */

/* What a catalog read goes through: the runtime directory, its runs/, and
 * its path (for the cgroups; NULL: none). */
struct catalog {
	int root_fd, runs_fd;
	const char *root;
};

static int settle(const struct catalog *c, const char *run_id, const char *tenant);

/* runs/<run_id>/summary.json (runs_fd: runs/), or NULL. A summary that
 * names another run than its directory's is no record of this one:
 * callers take its run_id into paths (retention removes runs/<run_id>)
 * and events. */
static cJSON *read_summary_json(int runs_fd, const char *run_id)
{
	char path[CX_RUN_PATH_MAX], *text;
	if (!cx_run_id_valid(run_id) || cx_read_file(runs_fd, cx_run_file(run_id, CX_RUN_SUMMARY, path),
						     cx_run_file_max(CX_RUN_SUMMARY), &text, NULL) < 0)
		return NULL;
	cJSON *o = cJSON_Parse(text);
	free(text);
	if (strcmp(cx_json_str(o, "run_id"), run_id)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* Whether runs/<run_id> is tenant's. Under a root councild a tenant's
 * owner writes in its run directories and in tenants/<tenant>/runs/: a
 * summary's "tenant", or a name there, is that user's word, and would
 * have councild list, finalize or remove another's run, or serve a
 * forgery as another's. The kernel's word is the directory's owner: the
 * tenant's supervisor made it, as the tenant's owner, and no user can
 * make a directory another's. */
static bool tenants_run(const struct catalog *c, const char *run_id, const char *tenant)
{
	struct cx_owner o;
	struct stat st;
	return cx_name_valid(tenant) && cx_owner_read(c->root_fd, tenant, &o) == 0 &&
	       fstatat(c->runs_fd, run_id, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
	       st.st_uid == o.uid;
}

/* run_id's summary if the run is tenant's (NULL: the tenant it names),
 * else NULL. */
static cJSON *read_record_json(const struct catalog *c, const char *run_id, const char *tenant)
{
	cJSON *o = read_summary_json(c->runs_fd, run_id);
	const char *named = cx_json_str(o, "tenant");
	if (o && ((tenant && strcmp(named, tenant)) || !tenants_run(c, run_id, named))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* A summary read (NULL: none), parsed into out and freed. */
static int summary_of(cJSON *o, struct cx_run_summary *out)
{
	int r = !o ? -ENOENT : cx_run_summary_from_json(o, out) == CX_OK ? 0 : -EINVAL;
	cJSON_Delete(o);
	return r;
}

static int catalog_open(struct catalog *c, int root_fd, const char *root)
{
	int runs_fd = openat(root_fd, CX_RUNS_DIR, O_PATH | O_DIRECTORY | O_CLOEXEC);
	*c = (struct catalog){ root_fd, runs_fd, root };
	return c->runs_fd < 0 ? -errno : 0;
}

static void catalog_close(struct catalog *c)
{
	if (c->runs_fd >= 0)
		close(c->runs_fd);
}

bool cx_catalog_owns(int root_fd, const char *run_id, const char *tenant)
{
	struct catalog c;
	bool owns = catalog_open(&c, root_fd, NULL) == 0 && tenants_run(&c, run_id, tenant);
	catalog_close(&c);
	return owns;
}

int cx_catalog_read(int root_fd, const char *run_id, struct cx_run_summary *out)
{
	struct catalog c;
	int r = catalog_open(&c, root_fd, NULL) ?: summary_of(read_record_json(&c, run_id, NULL), out);
	catalog_close(&c);
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
	struct catalog c;
	char **ids = catalog_open(&c, root_fd, root) < 0 ? NULL : run_ids(root_fd, tenant, &n);
	cJSON *list = cJSON_CreateArray();
	for (size_t i = 0; ids && i < n; i++) {
		cJSON *o = read_record_json(&c, ids[i], tenant);
		/* Whoever reads a run its dead owner left unfinished finishes it. */
		if (o && !is_final(o) && settle(&c, ids[i], tenant) > 0) {
			cJSON_Delete(o);
			o = read_record_json(&c, ids[i], tenant);
		}
		if (o && !(live_only && is_final(o)))
			cJSON_AddItemToArray(list, o);
		else
			cJSON_Delete(o);
	}
	if (ids)
		free_ids(ids, n);
	catalog_close(&c);
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

static int on_event_line(const char *line, size_t len, void *arg)
{
	struct events_end *e = arg;
	struct cx_event_header h;
	if (cx_event_header_parse(line, len, &h) == 0) {
		e->seq = h.seq;
		e->rounds += h.type == CX_EV_ROUND_COMPLETED;
		if (cx_event_terminal(h.type) && !e->terminal) {
			e->terminal = cJSON_ParseWithLength(line, len);
			e->type = h.type;
		}
	}
	return 0;
}

static int read_events_end(int runs_fd, const char *run_id, struct events_end *e)
{
	char path[CX_RUN_PATH_MAX];
	off_t whole;
	struct stat st;
	*e = (struct events_end){ 0 };
	int r = cx_read_lines(runs_fd, cx_run_file(run_id, CX_RUN_EVENTS, path),
			      cx_run_file_max(CX_RUN_EVENTS), on_event_line, e, &whole);
	if (r < 0) {
		cJSON_Delete(e->terminal);
		return r;
	}
	int fd = cx_open_regular(runs_fd, path, O_WRONLY, &st);
	/* Should it fail, the line stays, refused by readers. */
	if (fd >= 0 && st.st_size > whole)
		(void)!ftruncate(fd, whole);
	if (fd >= 0)
		close(fd);
	return 0;
}

/* result.json: the "result" of the terminal event ev, as the run's
 * supervisor writes it. */
static void write_result(int runs_fd, const char *run_id, const cJSON *ev)
{
	char *result = cJSON_PrintUnformatted(cJSON_GetObjectItem(ev, "result"));
	if (result)
		cx_statusfs_write_result(runs_fd, run_id, result);
	free(result);
}

/* Appends a synthesized run_failed and writes its result: true once the
 * line is in the events file. */
static bool append_failure(int runs_fd, const struct cx_run_summary *s, const char *kind,
			   const char *message)
{
	size_t len;
	char path[CX_RUN_PATH_MAX];
	cx_rundir_release(runs_fd, s->run_id); /* its room, for its end */
	char *line = cx_failure_event(s, runs_fd, kind, message, &len);
	int events = line ? cx_open_regular(runs_fd, cx_run_file(s->run_id, CX_RUN_EVENTS, path),
					    O_WRONLY | O_APPEND, NULL) : -1;
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
 * status. False when it could not: an events file that cannot be read
 * (no regular file, or a line over CX_RUN_EVENT_LINE_MAX) gives no seq to
 * append at, and the run is left as it is. */
static bool finish_from_files(int runs_fd, struct cx_run_summary *s, const char *kind,
			      const char *message)
{
	struct events_end e;
	if (read_events_end(runs_fd, s->run_id, &e) < 0)
		return false;
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
	return ended;
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
	int lock = cx_open_regular(runs_fd, cx_run_file(run_id, CX_RUN_EVENTS, path), O_RDONLY, NULL);
	if (lock < 0)
		return lock;
	int r;
	while ((r = flock(lock, LOCK_EX)) < 0 && errno == EINTR)
		;
	struct cx_run_summary s;
	if (r < 0)
		r = -errno;
	else if (summary_of(read_summary_json(runs_fd, run_id), &s) < 0 || !abandoned(runs_fd, &s))
		r = 0;
	else if (cx_run_over(&s))
		r = cx_statusfs_write_run(runs_fd, &s) < 0 ? 0 : 1;
	else
		r = finish_from_files(runs_fd, &s, kind, message);
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

/* Kills and finalizes run_id, if it is tenant's (NULL: the tenant its
 * summary names) and its owner left it: 1 if it did. The owner is proven
 * dead by the identity (pid, pidfs inode, boot id) its supervisor wrote in
 * a directory of the tenant's owner: a forgery there ends that user's own
 * run, never another's. */
static int settle(const struct catalog *c, const char *run_id, const char *tenant)
{
	struct cx_run_summary s;
	if (summary_of(read_record_json(c, run_id, tenant), &s) < 0 || !abandoned(c->runs_fd, &s))
		return 0;
	if (!cx_run_over(&s))
		kill_abandoned(c->root, &s);
	return cx_catalog_finalize(c->runs_fd, run_id, "supervisor_down", "its supervisor died");
}

int cx_catalog_settle(int root_fd, const char *root, const char *run_id)
{
	struct catalog c;
	int r = catalog_open(&c, root_fd, root) ?: settle(&c, run_id, NULL);
	catalog_close(&c);
	return r;
}

int cx_catalog_recover(int root_fd, const char *root, const char *tenant)
{
	size_t n;
	struct catalog c;
	char **ids = catalog_open(&c, root_fd, root) < 0 ? NULL : run_ids(root_fd, tenant, &n);
	int done = 0;
	for (size_t i = 0; ids && i < n; i++)
		done += settle(&c, ids[i], tenant) > 0;
	if (ids)
		free_ids(ids, n);
	catalog_close(&c);
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
