/* Server-sent events framing (sse.h). */
#include "sse.h"

#include <errno.h>
#include <string.h>

static const char bom[] = "\xEF\xBB\xBF";

static size_t line_max(const struct cx_sse *p)
{
	return p->line_max ? p->line_max : CX_SSE_LINE_MAX;
}

static size_t data_max(const struct cx_sse *p)
{
	return p->data_max ? p->data_max : CX_SSE_DATA_MAX;
}

/* Sets b to the n bytes at s. */
static int set(struct cx_buf *b, const char *s, size_t n)
{
	cx_buf_clear(b);
	return cx_buf_append(b, s, n);
}

static bool is(const char *name, size_t len, const char *field)
{
	return len == strlen(field) && !memcmp(name, field, len);
}

/* A blank line: the event so far, if it has data, goes to fn. */
static int dispatch(struct cx_sse *p, cx_sse_fn *fn, void *arg)
{
	int rc = 0;
	if (p->data.len) {
		p->data.data[--p->data.len] = '\0';   /* the last line's '\n' */
		struct cx_sse_event ev = {
			.type = p->type.len ? p->type.data : "message",
			.data = p->data.data,
			.data_len = p->data.len,
			.id = p->id.len ? p->id.data : "",
		};
		rc = fn(arg, &ev);
	}
	cx_buf_clear(&p->data);
	cx_buf_clear(&p->type);
	return rc;
}

static int field(struct cx_sse *p, const char *name, size_t name_len, const char *value,
		 size_t value_len)
{
	/* The format ignores an id holding a NUL; a type holding one would
	 * read as another (cut at the NUL, or "" for "message"). */
	bool has_nul = memchr(value, '\0', value_len) != NULL;
	if (is(name, name_len, "event") && !has_nul)
		return set(&p->type, value, value_len);
	if (is(name, name_len, "data")) {
		if (p->data.len + value_len + 1 > data_max(p))
			return -EMSGSIZE;
		int rc = cx_buf_append(&p->data, value, value_len);
		return rc < 0 ? rc : cx_buf_append(&p->data, "\n", 1);
	}
	if (is(name, name_len, "id") && !has_nul)
		return set(&p->id, value, value_len);
	return 0;   /* "retry", and fields the format does not know */
}

static int take_line(struct cx_sse *p, cx_sse_fn *fn, void *arg)
{
	const char *s = p->line.data ? p->line.data : "";
	size_t n = p->line.len;
	if (!p->past_first_line) {
		p->past_first_line = true;
		if (n >= sizeof bom - 1 && !memcmp(s, bom, sizeof bom - 1)) {
			s += sizeof bom - 1;
			n -= sizeof bom - 1;
		}
	}
	if (n == 0)
		return dispatch(p, fn, arg);
	if (s[0] == ':')
		return 0;
	const char *colon = memchr(s, ':', n);
	const char *value = colon ? colon + 1 : s + n;
	if (value < s + n && *value == ' ')
		value++;
	return field(p, s, colon ? (size_t)(colon - s) : n, value, (size_t)(s + n - value));
}

/* The first '\r' or '\n' in [s, end), or end. */
static const char *line_end(const char *s, const char *end)
{
	while (s < end && *s != '\r' && *s != '\n')
		s++;
	return s;
}

int cx_sse_feed(struct cx_sse *p, const char *buf, size_t n, cx_sse_fn *fn, void *arg)
{
	const char *s = buf, *end = buf + n;
	while (s < end) {
		if (p->after_cr) {
			p->after_cr = false;
			if (*s == '\n' && ++s == end)
				break;
		}
		const char *eol = line_end(s, end);
		if (p->line.len + (size_t)(eol - s) > line_max(p))
			return -EMSGSIZE;
		if (cx_buf_append(&p->line, s, (size_t)(eol - s)) < 0)
			return -ENOMEM;
		if (eol == end)
			break;
		p->after_cr = *eol == '\r';
		s = eol + 1;
		int rc = take_line(p, fn, arg);
		cx_buf_clear(&p->line);
		if (rc)
			return rc;
	}
	return 0;
}

void cx_sse_reset(struct cx_sse *p)
{
	cx_buf_clear(&p->line);
	cx_buf_clear(&p->data);
	cx_buf_clear(&p->type);
	cx_buf_clear(&p->id);
	p->after_cr = false;
	p->past_first_line = false;
}

void cx_sse_free(struct cx_sse *p)
{
	cx_buf_free(&p->line);
	cx_buf_free(&p->data);
	cx_buf_free(&p->type);
	cx_buf_free(&p->id);
	*p = CX_SSE_INIT;
}
