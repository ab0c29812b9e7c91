/* Run events (DESIGN §5): the type table, the emitter the worker writes with,
 * and the cheap header parse the supervisor and clients read with. */
#ifndef CX_EVENT_H
#define CX_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "council/ids.h"

enum cx_event_type {
	CX_EV_RUN_STARTED,
	CX_EV_ROUND_STARTED,
	CX_EV_MEMBER_STARTED,
	CX_EV_MEMBER_TOKEN,
	CX_EV_TOOL_CALL_REQUEST,
	CX_EV_TOOL_CALL_RESULT,
	CX_EV_MEMBER_COMPLETED,
	CX_EV_ROUND_COMPLETED,
	CX_EV_RUN_COMPLETED,
	CX_EV_RUN_FAILED,
	CX_EV_MEMBER_DEBUG,   /* at the debug level: a prompt or an answer (debug_trace.h) */
	CX_EV_N
};

const char *cx_event_name(enum cx_event_type type);
int cx_event_lookup(const char *name, size_t len);   /* enum value or -1 */
static inline bool cx_event_terminal(enum cx_event_type t)
{
	return t == CX_EV_RUN_COMPLETED || t == CX_EV_RUN_FAILED;
}

/* Every event line starts {"seq":N,"ts":"...","run_id":"...","type":"...".
 * A sub-council's event, relayed on its parent's stream, goes on with
 * "sub":"<member>": it is about the nested run, not the run itself. */
struct cx_event_header {
	uint64_t seq;
	enum cx_event_type type;
	bool sub;
};

/* Parses the fixed prefix of one line (without its '\n'). Returns 0 or -1
 * when the line does not start like an event. */
int cx_event_header_parse(const char *line, size_t len, struct cx_event_header *h);

/* Formats one event line, '\n'-terminated, into a malloc'd string; consumes
 * fields (which may be NULL). Returns NULL when out of memory. */
char *cx_event_format(const char *run_id, uint64_t seq, enum cx_event_type type,
		      cJSON *fields, size_t *len);

/* Worker side: numbers events from 1 and writes each as one line, whole,
 * to fd (a blocking pipe: backpressure, never loss). member_token lines
 * wait in out, so that a stream of tokens costs one write per pipe-full,
 * until another event, a pipe-full, or cx_emit_flush, which the worker
 * calls before it waits for anything.
 *
 * A sub-council's emitter writes nothing itself: it numbers its own events
 * and relays them through `up`, its parent's emitter, as
 * {"seq" (the run's), ..., "type", "sub": "<member>", "sub_seq": <its own>,
 * ...fields}. Relayed again by a sub-council's parent, "sub" grows to the
 * path of members from the run down: "panel/experts". */
struct cx_emitter {
	int fd;
	uint64_t seq;           /* of the last event emitted, or numbered when relayed */
	char run_id[CX_RUN_ID_MAX + 1];
	struct cx_buf out;      /* lines not yet written */
	struct cx_emitter *up;  /* a sub-council's: its parent's emitter; else NULL */
	char sub[CX_NAME_MAX + 1];  /* with up: the member the sub-council answers for */
};

/* Emits {"seq","ts","run_id","type", ...fields} and consumes fields (which
 * may be NULL). Returns 0 or -errno. */
int cx_emit(struct cx_emitter *em, enum cx_event_type type, cJSON *fields);
/* Writes what waits. Returns 0 or -errno. */
int cx_emit_flush(struct cx_emitter *em);
/* Writes what waits and frees the buffer. */
void cx_emitter_fini(struct cx_emitter *em);

#endif
