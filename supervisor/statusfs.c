#include "statusfs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"

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

cJSON *cx_run_summary_json(const struct cx_run_summary *s)
{
	char started[CX_TS_LEN + 1], finished[CX_TS_LEN + 1];
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "run_id", s->run_id);
	cJSON_AddStringToObject(o, "council", s->council);
	cJSON_AddStringToObject(o, "tenant", s->tenant);
	cJSON_AddStringToObject(o, "status", cx_run_status_name(s->status));
	if (s->round_idx >= 0) {
		cJSON *round = cJSON_AddObjectToObject(o, "current_round");
		cJSON_AddStringToObject(round, "name", s->round);
		cJSON_AddNumberToObject(round, "idx", s->round_idx);
	} else {
		cJSON_AddNullToObject(o, "current_round");
	}
	cJSON_AddNumberToObject(o, "rounds_completed", s->rounds_completed);
	cJSON_AddStringToObject(o, "started_at", ts_or_dash(s->started_at_ms, started));
	if (s->finished_at_ms)
		cJSON_AddStringToObject(o, "finished_at", ts_or_dash(s->finished_at_ms, finished));
	else
		cJSON_AddNullToObject(o, "finished_at");
	cJSON_AddNumberToObject(o, "pid", s->pid);
	cJSON_AddNumberToObject(o, "events", (double)s->events);
	cJSON_AddStringToObject(o, "exit", s->exit);
	cJSON_AddStringToObject(o, "containment", s->containment);
	return o;
}

static int write_status(int dir_fd, const struct cx_run_summary *s)
{
	char started[CX_TS_LEN + 1], finished[CX_TS_LEN + 1], round[CX_NAME_MAX + 16];
	if (s->round_idx >= 0)
		snprintf(round, sizeof round, "%s %d", s->round, s->round_idx);
	else
		strcpy(round, "-");
	char buf[1024];
	int n = snprintf(buf, sizeof buf,
			 "RunId:\t%s\nCouncil:\t%s\nTenant:\t%s\nStatus:\t%s\nPid:\t%d\n"
			 "Round:\t%s\nRoundsCompleted:\t%d\nStartedAt:\t%s\nFinishedAt:\t%s\n"
			 "Exit:\t%s\nEvents:\t%llu\nContainment:\t%s\n",
			 s->run_id, s->council, s->tenant, cx_run_status_name(s->status),
			 (int)s->pid, round, s->rounds_completed,
			 ts_or_dash(s->started_at_ms, started),
			 ts_or_dash(s->finished_at_ms, finished), s->exit,
			 (unsigned long long)s->events, s->containment);
	return cx_write_atomic(dir_fd, "status", buf, (size_t)n);
}

static int write_summary(int dir_fd, const struct cx_run_summary *s)
{
	cJSON *o = cx_run_summary_json(s);
	char *text = o ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	if (!text)
		return -ENOMEM;
	size_t n = strlen(text);
	text[n] = '\n'; /* replaces the NUL: write n + 1 bytes, no terminator needed */
	int r = cx_write_atomic(dir_fd, "summary.json", text, n + 1);
	free(text);
	return r;
}

int cx_statusfs_write_run(int dir_fd, const struct cx_run_summary *s)
{
	int r = write_status(dir_fd, s);
	int q = write_summary(dir_fd, s);
	return r < 0 ? r : q;
}
