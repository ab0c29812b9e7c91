#include "event.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

char *cx_event_format(const char *run_id, uint64_t seq, enum cx_event_type type,
		      cJSON *fields, size_t *len)
{
	char ts[CX_TS_LEN + 1];
	cx_ts_format(cx_wall_ms(), ts);
	cJSON *ev = cJSON_CreateObject();
	char *line = NULL;
	if (ev && cJSON_AddNumberToObject(ev, "seq", (double)seq) &&
	    cJSON_AddStringToObject(ev, "ts", ts) &&
	    cJSON_AddStringToObject(ev, "run_id", run_id) &&
	    cJSON_AddStringToObject(ev, "type", names[type])) {
		/* Move the fields' members over, keeping the header first. */
		move_items(ev, fields);
		fields = NULL;
		line = cJSON_PrintUnformatted(ev);
	}
	cJSON_Delete(ev);
	cJSON_Delete(fields);
	if (!line)
		return NULL;
	size_t n = strlen(line);
	char *out = realloc(line, n + 2);
	if (!out) {
		free(line);
		return NULL;
	}
	out[n] = '\n';
	out[n + 1] = '\0';
	*len = n + 1;
	return out;
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

static int write_event(struct cx_emitter *em, enum cx_event_type type, cJSON *fields)
{
	size_t len;
	char *line = cx_event_format(em->run_id, em->seq + 1, type, fields, &len);
	if (!line)
		return -ENOMEM;
	int r = 0;
	for (size_t off = 0; off < len;) {
		ssize_t w = write(em->fd, line + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			r = -errno;
			break;
		}
		off += (size_t)w;
	}
	free(line);
	if (r == 0)
		em->seq++;
	return r;
}
