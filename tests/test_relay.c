/* The relay alone (supervisor/relay.c): an events file and its subscriber
 * pipes, driven by one loop, no process started. So it runs under valgrind
 * too (./tools/dev test, the memcheck suite). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "harness.h"
#include "loop.h"
#include "relay.h"

#define DEADLINE_MS 20000
#define RUN_ID "01RELAY"

static char *scratch;
static struct cx_loop *loop;
static struct cx_relay relay;
static int events_fd;
static uint64_t published;

static void setup(void)
{
	signal(SIGPIPE, SIG_IGN); /* a gone reader is an EPIPE, as in a supervisor */
	scratch = th_scratch_dir();
	char path[4096];
	snprintf(path, sizeof path, "%s/events", scratch);
	events_fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	ck_assert(events_fd >= 0);
	ck_assert(cx_loop_new(&loop) == 0);
	cx_relay_init(&relay, loop, events_fd, RUN_ID);
	published = 0;
}

static void teardown(void)
{
	cx_relay_fini(&relay);
	cx_loop_free(loop);
	close(events_fd);
	th_rm_rf(scratch);
	free(scratch);
}

/* n more events, each with `pad` bytes of token, appended to the file and
 * then published, as the supervisor does. */
static void publish(unsigned n, size_t pad)
{
	char *chunk = malloc(pad + 1);
	memset(chunk, 'x', pad);
	chunk[pad] = '\0';
	for (unsigned i = 0; i < n; i++) {
		cJSON *fields = cJSON_CreateObject();
		cJSON_AddStringToObject(fields, "chunk", chunk);
		size_t len;
		char *line = cx_event_format(RUN_ID, ++published, CX_EV_MEMBER_TOKEN, fields, &len);
		ck_assert(line && write(events_fd, line, len) == (ssize_t)len);
		cx_relay_publish(&relay, line, len, 1);
		free(line);
	}
	free(chunk);
}

struct received {
	uint64_t first, last, lines, dropped, lagged;
	bool in_order;
};

/* Reads fd to EOF, turning the loop meanwhile, after what buf holds of it
 * already (which it frees). */
static struct received drain_after(int fd, struct cx_buf buf)
{
	struct received r = { .in_order = true };
	ck_assert(fcntl(fd, F_SETFL, O_NONBLOCK) == 0);
	uint64_t deadline = cx_mono_ms() + DEADLINE_MS;
	for (ssize_t n = -EAGAIN; n != 0;) {
		ck_assert_msg(cx_mono_ms() < deadline, "awaited the subscriber pipe's EOF");
		cx_loop_turn(loop, 10);
		n = cx_buf_read(&buf, fd, 65536);
		ck_assert_msg(n >= 0 || n == -EAGAIN, "read: %s", strerror((int)-n));
		char *nl;
		while ((nl = memchr(cx_buf_head(&buf), '\n', cx_buf_unread(&buf)))) {
			size_t len = (size_t)(nl - cx_buf_head(&buf));
			struct cx_event_header h;
			cJSON *line = cJSON_ParseWithLength(cx_buf_head(&buf), len);
			const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(line, "type"));
			if (cx_event_header_parse(cx_buf_head(&buf), len, &h) == 0) {
				r.in_order &= h.seq > r.last;
				r.first = r.first ? r.first : h.seq;
				r.last = h.seq;
				r.lines++;
			} else {
				ck_assert_msg(type && !strcmp(type, "lagged"), "not an event: %.*s",
					      (int)len, cx_buf_head(&buf));
				r.lagged++;
				r.dropped += (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(line, "dropped"));
			}
			cJSON_Delete(line);
			cx_buf_consume(&buf, len + 1);
		}
	}
	ck_assert_msg(cx_buf_unread(&buf) == 0, "a torn last line: %s", cx_buf_head(&buf));
	cx_buf_free(&buf);
	close(fd);
	return r;
}

static struct received drain(int fd)
{
	return drain_after(fd, (struct cx_buf){ 0 });
}

START_TEST(test_subscriber_gets_the_file_then_live_events_once_in_order)
{
	publish(3, 10);
	int fd;
	ck_assert_int_eq(cx_relay_subscribe(&relay, 1, &fd), 0);
	publish(3, 10);
	cx_relay_finish(&relay);
	struct received r = drain(fd);
	ck_assert_msg(r.first == 1 && r.last == 6 && r.lines == 6 && r.in_order && !r.lagged,
		      "got seq %" PRIu64 "..%" PRIu64 ", %" PRIu64 " lines, %" PRIu64 " lagged",
		      r.first, r.last, r.lines, r.lagged);
	ck_assert(cx_relay_idle(&relay));
}
END_TEST

START_TEST(test_subscribe_since_replays_from_that_seq)
{
	publish(5, 10);
	int fd;
	ck_assert_int_eq(cx_relay_subscribe(&relay, 4, &fd), 0);
	publish(2, 10);
	cx_relay_finish(&relay);
	struct received r = drain(fd);
	ck_assert_msg(r.first == 4 && r.last == 7 && r.lines == 4 && r.in_order,
		      "got seq %" PRIu64 "..%" PRIu64 ", %" PRIu64 " lines", r.first, r.last, r.lines);
}
END_TEST

/* Nothing is read while 2 MiB of events go by: the backlog holds what it
 * may, the rest is one lagged line that counts it, and the file has all. */
START_TEST(test_reader_that_falls_behind_gets_one_lagged_line_counting_what_it_lost)
{
	int fd;
	ck_assert_int_eq(cx_relay_subscribe(&relay, 1, &fd), 0);
	publish(2048, 1000);
	cx_relay_finish(&relay);
	struct received r = drain(fd);
	ck_assert_msg(r.lagged == 1 && r.dropped > 0, "%" PRIu64 " lagged lines, %" PRIu64 " dropped",
		      r.lagged, r.dropped);
	ck_assert_msg(r.lines + r.dropped == published && r.in_order,
		      "%" PRIu64 " received + %" PRIu64 " dropped != %" PRIu64 " published",
		      r.lines, r.dropped, published);
	int again;
	ck_assert_int_eq(cx_relay_subscribe(&relay, 1, &again), 0);
	r = drain(again);
	ck_assert_msg(r.lines == published && !r.lagged, "the file replayed %" PRIu64 " of %" PRIu64,
		      r.lines, published);
}
END_TEST

/* Found by the soak: a reader that had just emptied its pipe when the last
 * event was lost for want of backlog room got, at once, a lagged line that
 * counted it; then at the end the event came back from the file all the
 * same, after a second lagged line counting 2^64 - 1. */
START_TEST(test_a_reader_that_catches_up_as_the_last_event_is_lost_gets_it_once)
{
	int fd;
	ck_assert_int_eq(cx_relay_subscribe(&relay, 1, &fd), 0);
	int room = fcntl(fd, F_GETPIPE_SZ);
	ck_assert(room > 0);
	/* One event larger than the pipe: it fills the pipe, and the rest of
	 * it waits in the backlog. */
	publish(1, (size_t)room);
	struct cx_buf seen = { 0 };
	ck_assert(fcntl(fd, F_SETFL, O_NONBLOCK) == 0);
	while (cx_buf_read(&seen, fd, 65536) > 0)
		; /* the reader empties the pipe; the loop has not turned */
	/* The last event does not fit behind what waits: lost. The backlog
	 * then goes into the emptied pipe at once. */
	publish(1, CX_SUBSCRIBER_BACKLOG);
	cx_relay_finish(&relay);
	struct received r = drain_after(fd, seen);
	ck_assert_msg(r.last == published && r.in_order && r.lines + r.dropped == published &&
		      r.dropped < published,
		      "got seq %" PRIu64 "..%" PRIu64 ", %" PRIu64 " lines, %" PRIu64 " lagged lines "
		      "counting %" PRIu64 ", of %" PRIu64 " published", r.first, r.last, r.lines,
		      r.lagged, r.dropped, published);
}
END_TEST

START_TEST(test_reader_gone_is_dropped)
{
	int fd;
	ck_assert_int_eq(cx_relay_subscribe(&relay, 1, &fd), 0);
	close(fd);
	publish(1, 10);
	ck_assert_msg(cx_relay_idle(&relay), "a subscriber whose reader is gone is still there");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("relay");
	TCase *tc = tcase_create("relay");
	tcase_set_tags(tc, "memcheck");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_subscriber_gets_the_file_then_live_events_once_in_order);
	tcase_add_test(tc, test_subscribe_since_replays_from_that_seq);
	tcase_add_test(tc, test_reader_that_falls_behind_gets_one_lagged_line_counting_what_it_lost);
	tcase_add_test(tc, test_a_reader_that_catches_up_as_the_last_event_is_lost_gets_it_once);
	tcase_add_test(tc, test_reader_gone_is_dropped);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
