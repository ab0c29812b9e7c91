#include "event.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"

static const char *const names[CX_EV_N] = {
	[CX_EV_RUN_STARTED] = "run_started",
	[CX_EV_ROUND_STARTED] = "round_started",
	[CX_EV_MEMBER_STARTED] = "member_started",
	[CX_EV_MEMBER_TOKEN] = "member_token",
	[CX_EV_TOOL_CALL_REQUEST] = "tool_call_request",
	[CX_EV_TOOL_CALL_RESULT] = "tool_call_result",
	[CX_EV_MEMBER_COMPLETED] = "member_completed",
	[CX_EV_ROUND_COMPLETED] = "round_completed",
	[CX_EV_RUN_COMPLETED] = "run_completed",
	[CX_EV_RUN_FAILED] = "run_failed",
	[CX_EV_MEMBER_DEBUG] = "member_debug",
};

const char *cx_event_name(enum cx_event_type type)
{
	return (unsigned)type < CX_EV_N ? names[type] : "unknown";
}

int cx_event_lookup(const char *name, size_t len)
{
	for (int t = 0; t < CX_EV_N; t++)
		if (strlen(names[t]) == len && !memcmp(names[t], name, len))
			return t;
	return -1;
}

/* Skips `"key":` at p; returns the position after it or NULL. */
static const char *expect_key(const char *p, const char *end, const char *key)
{
	size_t n = strlen(key);
	if ((size_t)(end - p) < n + 3 || p[0] != '"' || memcmp(p + 1, key, n) ||
	    p[n + 1] != '"' || p[n + 2] != ':')
		return NULL;
	return p + n + 3;
}

/* Skips a JSON string without escapes at p (ids and timestamps have none);
 * returns the position after its closing quote and its body in *s, *n. */
static const char *plain_string(const char *p, const char *end, const char **s, size_t *n)
{
	if (p >= end || *p != '"')
		return NULL;
	const char *q = memchr(p + 1, '"', (size_t)(end - p - 1));
	if (!q || memchr(p + 1, '\\', (size_t)(q - p - 1)))
		return NULL;
	*s = p + 1;
	*n = (size_t)(q - p - 1);
	return q + 1;
}

int cx_event_header_parse(const char *line, size_t len, struct cx_event_header *h)
{
	const char *p = line, *end = line + len, *s;
	size_t n;
	if (len < 2 || *p++ != '{' || !(p = expect_key(p, end, "seq")))
		return -1;
	uint64_t seq = 0;
	const char *digits = p;
	while (p < end && *p >= '0' && *p <= '9' && p - digits < 19)
		seq = seq * 10 + (uint64_t)(*p++ - '0');
	if (p == digits || p >= end || *p++ != ',')
		return -1;
	if (!(p = expect_key(p, end, "ts")) || !(p = plain_string(p, end, &s, &n)) ||
	    p >= end || *p++ != ',')
		return -1;
	if (!(p = expect_key(p, end, "run_id")) || !(p = plain_string(p, end, &s, &n)) ||
	    p >= end || *p++ != ',')
		return -1;
	if (!(p = expect_key(p, end, "type")) || !(p = plain_string(p, end, &s, &n)))
		return -1;
	int type = cx_event_lookup(s, n);
	if (type < 0 || seq == 0 || line[len - 1] != '}')
		return -1;
	h->seq = seq;
	h->type = (enum cx_event_type)type;
	h->sub = p < end && *p == ',' && expect_key(p + 1, end, "sub");
	return 0;
}

/* Moves from's items to the end of `to`, in order, and frees from. */
static void move_items(cJSON *to, cJSON *from)
{
	while (from && from->child) {
		cJSON *item = cJSON_DetachItemViaPointer(from, from->child);
		cJSON_AddItemToObject(to, item->string, item);
	}
	cJSON_Delete(from);
}

#define EMIT_BATCH (64 * 1024)   /* a pipe-full: tokens are written in batches of this */
#define FIELDS_ROOM 4096         /* tried first for the fields' text */

/* Appends the event's line to out: the header written directly (ids and
 * timestamps need no escaping), then the fields' members as cJSON prints
 * them, in out's own memory when they fit. Consumes fields. */
static int format_into(struct cx_buf *out, const char *run_id, uint64_t seq,
		       enum cx_event_type type, cJSON *fields)
{
	char ts[CX_TS_LEN + 1], head[CX_RUN_ID_MAX + CX_TS_LEN + 96];
	cx_ts_format(cx_wall_ms(), ts);
	int n = snprintf(head, sizeof head, "{\"seq\":%llu,\"ts\":\"%s\",\"run_id\":\"%s\",\"type\":\"%s\"",
			 (unsigned long long)seq, ts, run_id, names[type]);
	size_t start = out->len;
	int r = cx_buf_append(out, head, (size_t)n);
	if (r == 0 && fields && fields->child) {
		/* {"a":1,...} becomes ,"a":1,...} after the header. */
		if (cx_buf_reserve(out, FIELDS_ROOM) == 0 &&
		    cJSON_PrintPreallocated(fields, out->data + out->len, FIELDS_ROOM, 0)) {
			out->data[out->len] = ',';
			out->len += strlen(out->data + out->len);
		} else {
			char *text = cJSON_PrintUnformatted(fields);
			r = text ? cx_buf_append(out, ",", 1) : -ENOMEM;
			if (r == 0)
				r = cx_buf_append(out, text + 1, strlen(text + 1));
			free(text);
		}
	} else if (r == 0) {
		r = cx_buf_append(out, "}", 1);
	}
	if (r == 0)
		r = cx_buf_append(out, "\n", 1);
	cJSON_Delete(fields);
	if (r < 0)
		out->len = start;
	return r;
}

char *cx_event_format(const char *run_id, uint64_t seq, enum cx_event_type type,
		      cJSON *fields, size_t *len)
{
	struct cx_buf b = { 0 };
	if (format_into(&b, run_id, seq, type, fields) < 0) {
		cx_buf_free(&b);
		return NULL;
	}
	*len = b.len;
	return b.data;
}

int cx_emit_flush(struct cx_emitter *em)
{
	int r = cx_write_all(em->fd, cx_buf_head(&em->out), cx_buf_unread(&em->out));
	cx_buf_clear(&em->out);
	return r;
}

static int write_event(struct cx_emitter *em, enum cx_event_type type, cJSON *fields);

/* fields starts with "sub": each emitter above the sub-council's, but the
 * run's own, puts its member in front. */
static int relay(struct cx_emitter *em, enum cx_event_type type, cJSON *fields)
{
	cJSON *sub = cJSON_GetObjectItemCaseSensitive(fields, "sub");
	for (; em->up; em = em->up) {
		char *path;
		if (asprintf(&path, "%s/%s", em->sub, sub->valuestring) < 0) {
			cJSON_Delete(fields);
			return -ENOMEM;
		}
		cJSON_SetValuestring(sub, path);
		free(path);
	}
	return write_event(em, type, fields);
}

int cx_emit(struct cx_emitter *em, enum cx_event_type type, cJSON *fields)
{
	if (!em->up)
		return write_event(em, type, fields);
	cJSON *f = cJSON_CreateObject();
	if (!f || !cJSON_AddStringToObject(f, "sub", em->sub) ||
	    !cJSON_AddNumberToObject(f, "sub_seq", (double)++em->seq)) {
		cJSON_Delete(f);
		cJSON_Delete(fields);
		return -ENOMEM;
	}
	move_items(f, fields);
	return relay(em->up, type, f);
}

/* The run's own emitter: the line goes to out, and out to the pipe unless
 * it is a token with room left behind it. */
static int write_event(struct cx_emitter *em, enum cx_event_type type, cJSON *fields)
{
	int r = format_into(&em->out, em->run_id, em->seq + 1, type, fields);
	if (r < 0)
		return r;
	em->seq++;
	if (type == CX_EV_MEMBER_TOKEN && cx_buf_unread(&em->out) < EMIT_BATCH)
		return 0;
	return cx_emit_flush(em);
}

void cx_emitter_fini(struct cx_emitter *em)
{
	cx_emit_flush(em);
	cx_buf_free(&em->out);
}
