/* Server-sent events framing (the WHATWG "text/event-stream" format), as a
 * pure parser: bytes in, events out, no I/O. A stream may arrive cut
 * anywhere (inside a line, between "\r" and "\n"); the parser keeps what
 * it needs across feeds.
 *
 * Per the format: lines end in "\r\n", "\n" or "\r"; a line starting with
 * ':' is a comment; "field: value" loses one space after the colon; "data"
 * lines are joined with '\n'; "event" names the type (default "message");
 * "id" sets the last event id (kept across events); "retry" and unknown
 * fields are ignored, and so is an "event" or "id" whose value holds a
 * NUL (the type and the id are C strings); a blank line dispatches the
 * event, unless it has no data. A UTF-8 byte order mark at the very start
 * is skipped. What is left undispatched at the end of the stream is
 * dropped, as the format says. */
#ifndef CX_SSE_H
#define CX_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Bounds on what one event may hold, unless the parser sets its own:
 * beyond them a feed fails with -EMSGSIZE rather than buffering without
 * limit. */
#define CX_SSE_LINE_MAX (1u << 20)
#define CX_SSE_DATA_MAX (4u << 20)

struct cx_sse_event {
	const char *type;   /* "message" unless an event field named it */
	const char *data;   /* NUL-terminated; may hold NULs of its own */
	size_t data_len;
	const char *id;     /* the last event id, "" when none */
};

/* Called once per event; what it points to is valid during the call
 * only. A non-zero return stops the feed, which returns that value. */
typedef int cx_sse_fn(void *arg, const struct cx_sse_event *ev);

struct cx_sse {
	struct cx_buf line;     /* the line being read */
	struct cx_buf data;     /* the event's data lines, each with its '\n' */
	struct cx_buf type;     /* the event field, empty when none */
	struct cx_buf id;       /* the last event id */
	bool after_cr;          /* the last line ended in '\r': skip a '\n' */
	bool past_first_line;   /* a BOM can only start the first line */
	/* The bounds on a line and on an event's data; 0: CX_SSE_LINE_MAX and
	 * CX_SSE_DATA_MAX. Small ones let the fuzzer (tests/fuzz/fuzz_sse.c)
	 * reach them with short inputs. */
	size_t line_max, data_max;
};

/* A parser at the start of a stream. */
#define CX_SSE_INIT ((struct cx_sse){ .after_cr = false })

/* Parses n bytes, calling fn for each event they complete. Returns 0, the
 * callback's non-zero value, -EMSGSIZE (a line or an event over its bound)
 * or -ENOMEM; after an error the parser must be reset before reuse. */
int cx_sse_feed(struct cx_sse *p, const char *buf, size_t n, cx_sse_fn *fn, void *arg);

/* Back to the start of a stream, keeping the buffers' memory and the
 * bounds. */
void cx_sse_reset(struct cx_sse *p);
void cx_sse_free(struct cx_sse *p);

#endif
