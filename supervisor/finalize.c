#include "finalize.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "fsutil.h"
#include "rundir.h"

/* The round results the worker reported before it died, from its events. */
static cJSON *partial_result(const struct cx_run_summary *s, int runs_fd)
{
	cJSON *result = cJSON_CreateObject();
	cJSON_AddStringToObject(result, "council", s->council);
	cJSON_AddNullToObject(result, "final");
	cJSON *rounds = cJSON_AddArrayToObject(result, "rounds");
	char *text, path[CX_RUN_PATH_MAX];
	size_t len;
	if (!s->rounds_completed ||
	    cx_read_file(runs_fd, cx_run_file(s->run_id, CX_RUN_EVENTS, path), SIZE_MAX, &text, &len) < 0)
		return result;
	for (char *line = text, *nl; (nl = memchr(line, '\n', len - (size_t)(line - text)));
	     line = nl + 1) {
		struct cx_event_header h;
		if (cx_event_header_parse(line, (size_t)(nl - line), &h) < 0 ||
		    h.type != CX_EV_ROUND_COMPLETED || h.sub)
			continue;
		cJSON *ev = cJSON_ParseWithLength(line, (size_t)(nl - line));
		cJSON *r = cJSON_DetachItemFromObject(ev, "result");
		if (r)
			cJSON_AddItemToArray(rounds, r);
		cJSON_Delete(ev);
	}
	free(text);
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
