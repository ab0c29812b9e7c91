/* A finished run's directory, checked against the contracts of
 * docs/events.md and docs/status-files.md. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "event.h"
#include "fsutil.h"
#include "soak.h"

#define FILE_MAX (1u << 30)  /* an events file may be large; nothing the soak writes is this large */

/* What the events file says. */
struct events_seen {
	uint64_t last_seq;
	int terminal;           /* CX_EV_RUN_COMPLETED, CX_EV_RUN_FAILED, or -1 */
	char kind[32];
};

static const char *str(const cJSON *obj, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));
}

/* One line of the events file: JSON, this run's, the next seq, a known
 * type, nothing after a terminal event. */
static void check_event(const char *id, const char *line, size_t len, struct events_seen *e,
			struct soak_violations *v)
{
	uint64_t want = e->last_seq + 1;
	cJSON *ev = cJSON_ParseWithLength(line, len);
	const cJSON *seq = cJSON_GetObjectItemCaseSensitive(ev, "seq");
	const char *run_id = str(ev, "run_id"), *type = str(ev, "type");
	int t = type ? cx_event_lookup(type, strlen(type)) : -1;
	/* After a gap, count on from the seq found: one finding per gap. */
	e->last_seq = cJSON_IsNumber(seq) && seq->valuedouble >= 1 ? (uint64_t)seq->valuedouble : want;
	if (!cJSON_IsObject(ev))
		soak_violation(v, "run %s: events line after seq %llu is not a JSON object: %.80s", id,
			       (unsigned long long)want - 1, line);
	else if (!cJSON_IsNumber(seq) || seq->valuedouble != (double)want)
		soak_violation(v, "run %s: seq %.0f where %llu was due", id,
			       cJSON_GetNumberValue(seq), (unsigned long long)want);
	else if (!run_id || strcmp(run_id, id))
		soak_violation(v, "run %s: event %llu names run %s", id, (unsigned long long)want,
			       run_id ? run_id : "(none)");
	else if (t < 0)
		soak_violation(v, "run %s: event %llu has type %s", id, (unsigned long long)want,
			       type ? type : "(none)");
	else if (e->terminal >= 0)
		soak_violation(v, "run %s: event %llu (%s) after the terminal event", id,
			       (unsigned long long)want, type);
	else if (cx_event_terminal((enum cx_event_type)t)) {
		const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItem(ev, "errors"), 0);
		e->terminal = t;
		snprintf(e->kind, sizeof e->kind, "%s", t == CX_EV_RUN_FAILED && str(first, "kind")
			 ? str(first, "kind") : "");
	}
	cJSON_Delete(ev);
}

static void check_events(int dir, const char *id, struct events_seen *e, struct soak_violations *v)
{
	char *text;
	size_t len;
	*e = (struct events_seen){ .terminal = -1 };
	int r = cx_read_file(dir, "events", FILE_MAX, &text, &len);
	if (r < 0) {
		soak_violation(v, "run %s: events: %s", id, strerror(-r));
		return;
	}
	for (size_t pos = 0; pos < len;) {
		char *nl = memchr(text + pos, '\n', len - pos);
		if (!nl) {
			soak_violation(v, "run %s: events ends in a torn line: %.80s", id, text + pos);
			break;
		}
		check_event(id, text + pos, (size_t)(nl - text) - pos, e, v);
		pos = (size_t)(nl - text) + 1;
	}
	free(text);
	if (e->terminal < 0)
		soak_violation(v, "run %s: no terminal event in %llu events", id,
			       (unsigned long long)e->last_seq);
}

/* The value of "Key:\tvalue" in a status file, into out ("" when absent). */
static void status_value(const char *text, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key);
	out[0] = '\0';
	for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (strncmp(line, key, klen) || line[klen] != ':' || line[klen + 1] != '\t')
			continue;
		const char *value = line + klen + 2;
		size_t n = strcspn(value, "\n");
		snprintf(out, size, "%.*s", (int)(n < size ? n : size - 1), value);
		return;
	}
}

static enum soak_outcome outcome_of(const struct events_seen *e)
{
	if (e->terminal == CX_EV_RUN_COMPLETED)
		return OUTCOME_COMPLETED;
	if (!strcmp(e->kind, "cancelled"))
		return OUTCOME_CANCELLED;
	if (!strcmp(e->kind, "killed"))
		return OUTCOME_KILLED;
	if (!strcmp(e->kind, "crashed"))
		return OUTCOME_CRASHED;
	return OUTCOME_FAILED;
}

/* The status a run with this outcome must show. */
static const char *status_for(enum soak_outcome o)
{
	return o == OUTCOME_COMPLETED ? "completed" : o == OUTCOME_CANCELLED ? "cancelled" : "failed";
}

/* status and summary.json: final, this run's, agreeing with the events. */
static void check_status(int dir, const struct soak_run *run, const char *tenant,
			 const struct events_seen *e, struct soak_violations *v)
{
	const char *id = run->run_id;
	const char *want = status_for(outcome_of(e));
	char *text, value[64], exit[32];
	int r = cx_read_file(dir, "status", 1 << 20, &text, NULL);
	if (r < 0) {
		soak_violation(v, "run %s: status: %s", id, strerror(-r));
		return;
	}
	status_value(text, "RunId", value, sizeof value);
	if (strcmp(value, id))
		soak_violation(v, "run %s: status says RunId %s", id, value);
	status_value(text, "Tenant", value, sizeof value);
	if (strcmp(value, tenant))
		soak_violation(v, "run %s: status says Tenant %s, not %s", id, value, tenant);
	status_value(text, "Status", value, sizeof value);
	if (e->terminal >= 0 && strcmp(value, want))
		soak_violation(v, "run %s: status says %s, its events %s", id, value, want);
	status_value(text, "Events", value, sizeof value);
	if (strtoull(value, NULL, 10) != e->last_seq)
		soak_violation(v, "run %s: status says Events %s, its events file has %llu", id,
			       value, (unsigned long long)e->last_seq);
	status_value(text, "FinishedAt", value, sizeof value);
	if (!value[0] || !strcmp(value, "-"))
		soak_violation(v, "run %s: status has no FinishedAt", id);
	status_value(text, "Exit", exit, sizeof exit);
	if (!exit[0] || !strcmp(exit, "-"))
		soak_violation(v, "run %s: status has no Exit: its worker was not reaped", id);
	free(text);

	struct cx_run_summary s;
	cJSON *json = NULL;
	r = cx_read_file(dir, "summary.json", 1 << 20, &text, NULL);
	if (r == 0) {
		json = cJSON_Parse(text);
		free(text);
	}
	if (r < 0 || cx_run_summary_from_json(json, &s) < 0)
		soak_violation(v, "run %s: summary.json: %s", id, r < 0 ? strerror(-r) : "not a run summary");
	else if (strcmp(s.run_id, id) || strcmp(s.tenant, tenant) ||
		 strcmp(cx_run_status_name(s.status), e->terminal >= 0 ? want : "?") ||
		 s.events != e->last_seq || strcmp(s.exit, exit) || !s.finished_at_ms)
		soak_violation(v, "run %s: summary.json says run %s, tenant %s, %s, %llu events, "
			       "exit %s, %s; its events and status say %s, %llu events, exit %s", id,
			       s.run_id, s.tenant, cx_run_status_name(s.status),
			       (unsigned long long)s.events, s.exit,
			       s.finished_at_ms ? "finished" : "not finished", want,
			       (unsigned long long)e->last_seq, exit);
	cJSON_Delete(json);

	r = cx_read_file(dir, "result.json", FILE_MAX, &text, NULL);
	json = r == 0 ? cJSON_Parse(text) : NULL;
	if (!json)
		soak_violation(v, "run %s: result.json: %s", id, r < 0 ? strerror(-r) : "not JSON");
	cJSON_Delete(json);
	if (r == 0)
		free(text);
}

/* tenants/<tenant>/runs/<id> leads to the run's directory. */
static void check_link(int root_fd, int dir, const char *id, const char *tenant,
		       struct soak_violations *v)
{
	char path[CX_NAME_MAX + CX_RUN_ID_MAX + 16];
	struct stat link, real;
	snprintf(path, sizeof path, "tenants/%s/runs/%s", tenant, id);
	if (fstatat(root_fd, path, &link, 0) < 0 || fstat(dir, &real) < 0)
		soak_violation(v, "run %s: %s: %s", id, path, strerror(errno));
	else if (link.st_ino != real.st_ino || link.st_dev != real.st_dev)
		soak_violation(v, "run %s: %s leads elsewhere", id, path);
}

unsigned soak_allowed(const struct soak_run *run)
{
	static const unsigned done[FAULT_GROUP] = {
		[FAULT_KILL] = OUTCOME_BIT(OUTCOME_COMPLETED) | OUTCOME_BIT(OUTCOME_KILLED),
		[FAULT_TERMINATE] = OUTCOME_BIT(OUTCOME_COMPLETED) | OUTCOME_BIT(OUTCOME_KILLED),
		[FAULT_CANCEL] = OUTCOME_BIT(OUTCOME_COMPLETED) | OUTCOME_BIT(OUTCOME_CANCELLED),
		[FAULT_CRASH] = OUTCOME_BIT(OUTCOME_CRASHED),
		[FAULT_HANG] = OUTCOME_BIT(OUTCOME_KILLED),
		/* supervisor_down, from its guardian */
		[FAULT_EMBEDDED_KILL] = OUTCOME_BIT(OUTCOME_COMPLETED) | OUTCOME_BIT(OUTCOME_FAILED),
	};
	unsigned allowed = run->injected && done[run->fault] ? done[run->fault]
			   : OUTCOME_BIT(OUTCOME_COMPLETED);
	return allowed | (run->exposed ? OUTCOME_BIT(OUTCOME_KILLED) : 0) |
	       (run->cut_off ? OUTCOME_BIT(OUTCOME_FAILED) : 0); /* supervisor_down */
}

/* What the run's fault allows, and what its subscriber saw. */
static void check_outcome(const struct soak_run *run, enum soak_outcome o, uint64_t last_seq,
			  struct soak_violations *v)
{
	unsigned expect = soak_allowed(run);
	if (!(expect & OUTCOME_BIT(o))) {
		char allowed[96] = "";
		for (int i = 0; i < OUTCOME_N; i++)
			if (expect & OUTCOME_BIT(i))
				snprintf(allowed + strlen(allowed), sizeof allowed - strlen(allowed), "%s%s",
					 allowed[0] ? "|" : "", soak_outcome_name(i));
		soak_violation(v, "run %s (fault %s%s%s): ended %s, expected %s", run->run_id,
			       soak_fault_name(run->fault), run->injected ? "" : ", not done",
			       run->exposed ? ", its tenant stopped or terminated" : "",
			       soak_outcome_name(o), allowed);
	}
	if (!run->sub_eof)
		return;
	/* A subscription from past the last event sees nothing; any other
	 * sees, or is told it lost, every event up to the last. */
	bool beyond = run->sub_last == 0 && run->sub_since > last_seq;
	if (!beyond && run->sub_last != last_seq)
		soak_violation(v, "run %s: its subscriber (from seq %llu) got to seq %llu before EOF; "
			       "the events file ends at %llu", run->run_id,
			       (unsigned long long)run->sub_since, (unsigned long long)run->sub_last,
			       (unsigned long long)last_seq);
}

bool soak_check_run(int root_fd, const struct soak_run *run, const char *tenant,
		    struct soak_record *rec, struct soak_violations *v)
{
	unsigned before = v->n;
	char path[CX_RUN_ID_MAX + 8];
	snprintf(path, sizeof path, "runs/%s", run->run_id);
	int dir = openat(root_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	*rec = (struct soak_record){ .outcome = OUTCOME_N };
	if (dir < 0) {
		soak_violation(v, "run %s: %s: %s (start returned it)", run->run_id, path, strerror(errno));
		return false;
	}
	struct events_seen e;
	check_events(dir, run->run_id, &e, v);
	check_status(dir, run, tenant, &e, v);
	check_link(root_fd, dir, run->run_id, tenant, v);
	close(dir);
	rec->outcome = e.terminal >= 0 ? outcome_of(&e) : OUTCOME_N;
	snprintf(rec->kind, sizeof rec->kind, "%s", e.kind);
	rec->last_seq = e.last_seq;
	if (rec->outcome < OUTCOME_N)
		check_outcome(run, rec->outcome, e.last_seq, v);
	return v->n == before;
}

void soak_check_tenants_stopped(int root_fd, unsigned tenants, struct soak_violations *v)
{
	for (unsigned t = 0; t < tenants; t++) {
		char name[CX_NAME_MAX + 1], path[CX_NAME_MAX + 16], *text, status[32];
		soak_tenant_name(t, name);
		snprintf(path, sizeof path, "tenants/%s/status", name);
		int r = cx_read_file(root_fd, path, 1 << 16, &text, NULL);
		if (r < 0) {
			soak_violation(v, "%s: %s", path, strerror(-r));
			continue;
		}
		status_value(text, "Status", status, sizeof status);
		if (strcmp(status, "stopped"))
			soak_violation(v, "%s says %s to the councild that just started", path, status);
		free(text);
	}
}

static int by_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

unsigned soak_check_unaccounted(int root_fd, char (*ids)[CX_RUN_ID_MAX + 1], size_t n,
				struct soak_violations *v)
{
	qsort(ids, n, sizeof *ids, by_id);
	int fd = openat(root_fd, "runs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	unsigned unknown = 0;
	if (!d) {
		soak_violation(v, "runs/: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return 0;
	}
	for (struct dirent *e; (e = readdir(d));) {
		if (!cx_run_id_valid(e->d_name) || bsearch(e->d_name, ids, n, sizeof *ids, by_id))
			continue;
		soak_violation(v, "runs/%s: a run no start returned", e->d_name);
		unknown++;
	}
	closedir(d);
	return unknown;
}
