#include "finalize.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "fsutil.h"
#include "rundir.h"

static int on_event_line(const char *line, size_t len, void *rounds)
{
	struct cx_event_header h;
	if (cx_event_header_parse(line, len, &h) < 0 || h.type != CX_EV_ROUND_COMPLETED || h.sub)
		return 0;
	cJSON *ev = cJSON_ParseWithLength(line, len);
	cJSON *r = cJSON_DetachItemFromObject(ev, "result");
	if (r)
		cJSON_AddItemToArray(rounds, r);
	cJSON_Delete(ev);
	return 0;
}

/* The round results the worker reported before it died, from its events. */
static cJSON *partial_result(const struct cx_run_summary *s, int runs_fd)
{
	cJSON *result = cJSON_CreateObject();
	cJSON_AddStringToObject(result, "council", s->council);
	cJSON_AddNullToObject(result, "final");
	cJSON *rounds = cJSON_AddArrayToObject(result, "rounds");
	char path[CX_RUN_PATH_MAX];
	if (s->rounds_completed)
		cx_read_lines(runs_fd, cx_run_file(s->run_id, CX_RUN_EVENTS, path),
			      cx_run_file_max(CX_RUN_EVENTS), on_event_line, rounds, NULL);
	return result;
}

char *cx_failure_event(const struct cx_run_summary *s, int runs_fd, const char *kind,
		       const char *message, size_t *len)
{
	cJSON *fields = cJSON_CreateObject();
	cJSON *err = cJSON_CreateObject();
	cJSON_AddStringToObject(err, "kind", kind);
	cJSON_AddStringToObject(err, "message", message);
	cJSON_AddNullToObject(err, "member");
	if (s->round_idx >= 0)
		cJSON_AddStringToObject(err, "round", s->round);
	else
		cJSON_AddNullToObject(err, "round");
	cJSON_AddItemToArray(cJSON_AddArrayToObject(fields, "errors"), err);
	cJSON_AddItemToObject(fields, "result", partial_result(s, runs_fd));
	return cx_event_format(s->run_id, s->events + 1, CX_EV_RUN_FAILED, fields, len);
}

enum cx_run_status cx_terminal_status(enum cx_event_type type, const cJSON *ev)
{
	if (type == CX_EV_RUN_COMPLETED)
		return CX_RUN_COMPLETED;
	const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItem(ev, "errors"), 0);
	const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(first, "kind"));
	return kind && !strcmp(kind, "cancelled") ? CX_RUN_CANCELLED : CX_RUN_FAILED;
}

void cx_down_reason(const struct cx_run_summary *s, bool terminated, char *buf, size_t size)
{
	int code;
	char sig[16];
	if (sscanf(s->exit, "exited %d", &code) == 1)
		snprintf(buf, size, code ? "exit %d" : "normal", code);
	else if (terminated || (sscanf(s->exit, "killed %15s", sig) == 1 && !strcmp(sig, "SIGKILL")))
		snprintf(buf, size, "killed");
	else if (sscanf(s->exit, "killed %15s", sig) == 1)
		snprintf(buf, size, "signal %s", sig);
	else
		snprintf(buf, size, "%s", s->exit);
}
