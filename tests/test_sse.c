/* The server-sent events parser (src/sse.h): the format's framing rules,
 * and the same events however the bytes are cut. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "sse.h"

/* The events seen, one "type|id|data" line each. */
struct seen {
	char text[4096];
	int n;
	int stop_at;        /* stop the feed at this event (1-based); 0: never */
};

static int take(void *arg, const struct cx_sse_event *ev)
{
	struct seen *s = arg;
	char line[1024];
	snprintf(line, sizeof line, "%s|%s|%.*s\n", ev->type, ev->id, (int)ev->data_len, ev->data);
	strlcat(s->text, line, sizeof s->text);
	return ++s->n == s->stop_at ? 7 : 0;
}

/* Feeds text in pieces of `step` bytes (0: all at once). */
static int feed(struct seen *s, const char *text, size_t len, size_t step)
{
	struct cx_sse p = CX_SSE_INIT;
	int rc = 0;
	memset(s->text, 0, sizeof s->text);
	s->n = 0;
	for (size_t off = 0; off < len && rc == 0; off += step ? step : len) {
		size_t n = step && len - off > step ? step : len - off;
		rc = cx_sse_feed(&p, text + off, n, take, s);
	}
	cx_sse_free(&p);
	return rc;
}

static const struct framing {
	const char *in, *out;
} framings[] = {
	{ "data: hello\n\n", "message||hello\n" },
	{ "data:hello\n\n", "message||hello\n" },            /* the space is optional */
	{ "data:  two spaces\n\n", "message|| two spaces\n" }, /* only one is dropped */
	{ "data: a\ndata: b\n\n", "message||a\nb\n" },       /* lines joined with \n */
	{ "data\n\n", "message||\n" },                       /* a field without a colon */
	{ "event: delta\ndata: {}\n\n", "delta||{}\n" },
	{ "event: x\n\ndata: y\n\n", "message||y\n" },       /* no data: type reset */
	{ ": comment\ndata: z\n\n", "message||z\n" },
	{ "id: 7\ndata: a\n\ndata: b\n\n", "message|7|a\nmessage|7|b\n" },
	{ "retry: 100\nfoo: bar\ndata: c\n\n", "message||c\n" },
	{ "data: crlf\r\n\r\n", "message||crlf\n" },
	{ "data: cr\r\rdata: lf\n\n", "message||cr\nmessage||lf\n" },
	{ "\xEF\xBB\xBF" "data: bom\n\n", "message||bom\n" },
	{ "data: a\n\ndata: unterminated", "message||a\n" }, /* dropped at the end */
	{ "data: x\n", "" },                                 /* no blank line yet */
	{ "\n\n\n", "" },
};

START_TEST(test_events_are_framed_as_the_format_says)
{
	const struct framing *f = &framings[_i];
	size_t len = strlen(f->in);
	struct seen s = { 0 };
	for (size_t step = 0; step <= len; step++) {
		ck_assert_int_eq(feed(&s, f->in, len, step), 0);
		ck_assert_msg(!strcmp(s.text, f->out), "%s in pieces of %zu: got %s, want %s",
			      f->in, step, s.text, f->out);
	}
}
END_TEST

START_TEST(test_callback_value_stops_the_feed)
{
	struct seen s = { .stop_at = 2 };
	const char *in = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
	ck_assert_int_eq(feed(&s, in, strlen(in), 0), 7);
	ck_assert_int_eq(s.n, 2);
}
END_TEST

static int take_binary(void *arg, const struct cx_sse_event *ev)
{
	int *matched = arg;
	*matched += ev->data_len == 3 && !memcmp(ev->data, "a\0b", 3) && !ev->data[3];
	return 0;
}

START_TEST(test_data_holding_nul_bytes_keeps_its_length)
{
	static const char in[] = "data: a\0b\n\n";
	struct cx_sse p = CX_SSE_INIT;
	int matched = 0;
	ck_assert_int_eq(cx_sse_feed(&p, in, sizeof in - 1, take_binary, &matched), 0);
	ck_assert_int_eq(matched, 1);
	cx_sse_free(&p);
}
END_TEST

/* Found by tests/fuzz/fuzz_sse.c: "event:\0" made the type "", where
 * every event has one ("message" unless named). */
START_TEST(test_type_or_id_holding_nul_is_ignored)
{
	static const char in[] = "event: a\0b\nid: 1\0\ndata: x\n\n"
				 "event: named\nid: 2\nevent:\0\nid:\0\ndata: y\n\n";
	struct cx_sse p = CX_SSE_INIT;
	struct seen s = { 0 };
	ck_assert_int_eq(cx_sse_feed(&p, in, sizeof in - 1, take, &s), 0);
	ck_assert_str_eq(s.text, "message||x\nnamed|2|y\n");
	cx_sse_free(&p);
}
END_TEST

START_TEST(test_overlong_line_is_refused)
{
	size_t n = CX_SSE_LINE_MAX + 16;
	char *big = malloc(n);
	struct cx_sse p = CX_SSE_INIT;
	struct seen s = { 0 };
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', n);
	memcpy(big, "data: ", 6);
	ck_assert_int_eq(cx_sse_feed(&p, big, n, take, &s), -EMSGSIZE);
	cx_sse_free(&p);
	free(big);
}
END_TEST

/* An event's data at its bound ("a\nb\n": 4 bytes) passes; one byte more
 * does not; nor does a line over its bound. */
START_TEST(test_bounds_set_on_the_parser_are_kept)
{
	static const char *const in[] = { "data:a\ndata:b\n\n", "data:ab\ndata:c\n", "data: abc" };
	struct cx_sse p = { .line_max = 8, .data_max = 4 };
	struct seen s = { 0 };
	ck_assert_int_eq(cx_sse_feed(&p, in[0], strlen(in[0]), take, &s), 0);
	ck_assert_str_eq(s.text, "message||a\nb\n");
	ck_assert_int_eq(cx_sse_feed(&p, in[1], strlen(in[1]), take, &s), -EMSGSIZE);
	cx_sse_reset(&p);
	ck_assert_int_eq(cx_sse_feed(&p, in[2], strlen(in[2]), take, &s), -EMSGSIZE);
	cx_sse_free(&p);
}
END_TEST

START_TEST(test_reset_starts_a_new_stream)
{
	struct cx_sse p = CX_SSE_INIT;
	struct seen s = { 0 };
	ck_assert_int_eq(cx_sse_feed(&p, "id: 1\ndata: half", 16, take, &s), 0);
	cx_sse_reset(&p);
	ck_assert_int_eq(cx_sse_feed(&p, "data: new\n\n", 11, take, &s), 0);
	ck_assert_str_eq(s.text, "message||new\n");
	cx_sse_free(&p);
}
END_TEST

static Suite *sse_suite(void)
{
	Suite *s = suite_create("sse");
	TCase *tc = tcase_create("sse");
	tcase_add_loop_test(tc, test_events_are_framed_as_the_format_says, 0,
			    (int)(sizeof framings / sizeof framings[0]));
	tcase_add_test(tc, test_callback_value_stops_the_feed);
	tcase_add_test(tc, test_data_holding_nul_bytes_keeps_its_length);
	tcase_add_test(tc, test_type_or_id_holding_nul_is_ignored);
	tcase_add_test(tc, test_overlong_line_is_refused);
	tcase_add_test(tc, test_bounds_set_on_the_parser_are_kept);
	tcase_add_test(tc, test_reset_starts_a_new_stream);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_run_suite(sse_suite());
}
