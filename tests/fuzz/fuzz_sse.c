/* The server-sent events framing (src/sse.h) of an LLM server's streamed
 * answer, which arrives cut anywhere: by the server's writes, TCP, TLS
 * records, chunked encoding and curl's buffers. The input is a header,
 * then the stream:
 *
 *   byte 0   bits 0-2: how many cut lengths follow (0-7); bits 3-7: the
 *            parser's bounds: 0 its own (a line of CX_SSE_LINE_MAX, an
 *            event of CX_SSE_DATA_MAX), k > 0 a line of 8k bytes and an
 *            event of 32k, so that short inputs pass them
 *   byte 1   the event whose callback stops the feed (0: none)
 *   then     the cut lengths, one byte each: the stream is fed in pieces
 *            of these lengths in turn (0: an empty feed)
 *
 * Fed in pieces, the stream must give the events it gives fed whole, and
 * the same end (0, the callback's value, -EMSGSIZE); every event keeps the
 * format's rules and the parser's bounds; reset makes the parser, whatever
 * state it was left in, read a new stream from its start. */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "sse.h"

#define STOPPED 7             /* what the callback returns to stop the feed */

/* The events one feed delivered, each as type, NUL, id, NUL, data length,
 * data: two feeds delivered the same events if their logs are equal. */
struct log {
	struct cx_buf text;
	unsigned n, stop_at;
	size_t line_max, data_max;  /* the parser's bounds */
};

static bool one_line(const char *s, size_t n)
{
	return !memchr(s, '\r', n) && !memchr(s, '\n', n);
}

/* Appends one event to text, in the log's format. */
static void log_event(struct cx_buf *text, const char *type, const char *id, const char *data,
		      size_t data_len)
{
	FUZZ_ASSERT(cx_buf_append(text, type, strlen(type) + 1) == 0 &&
		    cx_buf_append(text, id, strlen(id) + 1) == 0 &&
		    cx_buf_append(text, &data_len, sizeof data_len) == 0 &&
		    cx_buf_append(text, data, data_len) == 0);
}

static bool same(const struct log *a, const struct log *b)
{
	return a->n == b->n && a->text.len == b->text.len &&
	       (!a->text.len || !memcmp(a->text.data, b->text.data, a->text.len));
}

static int take(void *arg, const struct cx_sse_event *ev)
{
	struct log *log = arg;
	size_t type_len = strlen(ev->type), id_len = strlen(ev->id);
	/* A line never reaches an event whole: no field holds a line's end,
	 * the data only the '\n' that joins its lines. */
	FUZZ_ASSERT(type_len > 0 && type_len <= log->line_max && one_line(ev->type, type_len));
	FUZZ_ASSERT(id_len <= log->line_max && one_line(ev->id, id_len));
	FUZZ_ASSERT(ev->data_len < log->data_max && ev->data[ev->data_len] == '\0' &&
		    !memchr(ev->data, '\r', ev->data_len));
	log_event(&log->text, ev->type, ev->id, ev->data, ev->data_len);
	return ++log->n == log->stop_at ? STOPPED : 0;
}

/* Whatever state p was left in, a reset parser reads a stream afresh: no
 * event, id or half line of the old one carries over. */
static void check_reset(struct cx_sse *p)
{
	static const char fresh[] = "data: ok\n\n";
	struct log got = { .line_max = SIZE_MAX, .data_max = SIZE_MAX }, want = { .n = 1 };
	cx_sse_reset(p);
	FUZZ_ASSERT(cx_sse_feed(p, fresh, sizeof fresh - 1, take, &got) == 0);
	log_event(&want.text, "message", "", "ok", 2);
	FUZZ_ASSERT(same(&got, &want));
	cx_buf_free(&got.text);
	cx_buf_free(&want.text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size < 2 + (data[0] & 7u))
		return 0;
	size_t n_cuts = data[0] & 7, bounds = data[0] >> 3;
	const uint8_t *cuts = data + 2;
	const char *stream = (const char *)cuts + n_cuts;
	size_t len = size - 2 - n_cuts;
	struct cx_sse p = { .line_max = 8 * bounds, .data_max = 32 * bounds };
	struct log whole = {
		.stop_at = data[1],
		.line_max = bounds ? p.line_max : CX_SSE_LINE_MAX,
		.data_max = bounds ? p.data_max : CX_SSE_DATA_MAX,
	};
	struct log pieces = whole;

	int whole_rc = cx_sse_feed(&p, stream, len, take, &whole);
	FUZZ_ASSERT(whole_rc == 0 || whole_rc == STOPPED || whole_rc == -EMSGSIZE);
	check_reset(&p);

	/* Cut lengths that are all 0 would never get through the stream. */
	bool moves = false;
	for (size_t i = 0; i < n_cuts; i++)
		moves |= cuts[i] != 0;
	cx_sse_reset(&p);
	int rc = 0;
	for (size_t off = 0, i = 0; rc == 0 && off < len; i++) {
		size_t piece = moves ? cuts[i % n_cuts] : len;
		if (piece > len - off)
			piece = len - off;
		rc = cx_sse_feed(&p, stream + off, piece, take, &pieces);
		off += piece;
	}
	FUZZ_ASSERT(rc == whole_rc);
	FUZZ_ASSERT(same(&pieces, &whole));
	check_reset(&p);

	cx_sse_free(&p);
	cx_buf_free(&whole.text);
	cx_buf_free(&pieces.text);
	return 0;
}
