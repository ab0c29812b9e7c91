/* councild's control protocol against bad input (docs/protocol.md): every
 * malformed or hostile request gets a clear error, and councild goes on
 * serving, on that connection when it can and on a new one always. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "council/ids.h"
#include "harness.h"
#include "wire.h"

#define DEADLINE_MS 20000

static char *scratch;
static pid_t councild;

static int dial(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	snprintf(addr.sun_path, sizeof addr.sun_path, "%s/councild.sock", scratch);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert(fd >= 0);
	if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void setup(void)
{
	scratch = th_scratch_dir();
	static const char *const options[] = { "--max-connections", "8", NULL };
	councild = th_councild_start(scratch, options);
	uint64_t deadline = cx_mono_ms() + DEADLINE_MS;
	int fd;
	while ((fd = dial()) < 0) {
		ck_assert_msg(cx_mono_ms() < deadline, "awaited councild's socket");
		usleep(20000);
	}
	close(fd);
}

static void teardown(void)
{
	int status = th_councild_stop(councild, DEADLINE_MS);
	ck_assert_msg(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "councild did not exit 0 after the hostile requests: %#x", status);
	ck_assert_msg(th_no_descendants(5000), "processes were left behind");
	th_rm_rf(scratch);
	free(scratch);
}

static void send_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
		if (n <= 0)
			return; /* the server may close on us: that is for the caller to check */
		data += n;
		len -= (size_t)n;
	}
}

/* The next line from fd (malloc'd), or NULL at EOF. */
static char *read_line(int fd)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	uint64_t deadline = cx_mono_ms() + DEADLINE_MS;
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		ck_assert_msg(cx_mono_ms() < deadline, "awaited a reply line");
		if (poll(&p, 1, 200) <= 0)
			continue;
		char c;
		ssize_t n = recv(fd, &c, 1, 0);
		if (n <= 0) {
			free(buf);
			return NULL;
		}
		if (c == '\n')
			break;
		if (len + 2 > cap)
			buf = realloc(buf, cap *= 2);
		buf[len++] = c;
	}
	buf[len] = '\0';
	return buf;
}

/* The error code of the reply to one request line ("ok" for a success). */
static char *exchange(int fd, const char *line)
{
	send_all(fd, line, strlen(line));
	send_all(fd, "\n", 1);
	char *reply = read_line(fd);
	ck_assert_msg(reply, "no reply to: %.200s", line);
	cJSON *j = cJSON_Parse(reply);
	ck_assert_msg(cJSON_IsObject(j), "the reply is not a JSON object: %s", reply);
	char *code;
	if (cJSON_IsTrue(cJSON_GetObjectItem(j, "ok")))
		code = strdup("ok");
	else {
		const cJSON *e = cJSON_GetObjectItem(j, "error");
		const char *c = cJSON_GetStringValue(cJSON_GetObjectItem(e, "code"));
		const char *m = cJSON_GetStringValue(cJSON_GetObjectItem(e, "message"));
		ck_assert_msg(c && m && *m, "an error reply needs a code and a message: %s", reply);
		code = strdup(c);
	}
	cJSON_Delete(j);
	free(reply);
	return code;
}

static void assert_serving(int fd)
{
	char *code = exchange(fd, "{\"id\":99,\"op\":\"hello\",\"version\":1}");
	ck_assert_msg(!strcmp(code, "ok"), "hello after a bad request: %s", code);
	free(code);
}

#define VALID_SPEC "{\"id\":\"c\",\"members\":[{\"id\":\"m\",\"profile\":{\"provider\":\"mock\"}}]," \
		   "\"rounds\":[{\"type\":\"independent_analysis\"}]}"

static const struct row {
	const char *line;
	const char *code;
} rows[] = {
	{ "this is not json", "bad_request" },
	{ "[1,2,3]", "bad_request" },
	{ "\"a string\"", "bad_request" },
	{ "42", "bad_request" },
	{ "{}", "bad_request" },
	{ "{\"op\":\"hello\"}", "bad_request" },
	{ "{\"id\":{\"nested\":1},\"op\":\"hello\"}", "bad_request" },
	{ "{\"id\":1}", "bad_request" },
	{ "{\"id\":1,\"op\":42}", "bad_request" },
	{ "{\"id\":1,\"op\":\"frobnicate\"}", "unknown_op" },
	{ "{\"id\":1,\"op\":\"hello\",\"version\":99}", "unsupported_version" },
	{ "{\"id\":1,\"op\":\"hello\",\"version\":\"one\"}", "unsupported_version" },
	{ "{\"id\":1,\"op\":\"state\"}", "bad_request" },
	{ "{\"id\":1,\"op\":\"state\",\"run_id\":5}", "bad_request" },
	{ "{\"id\":1,\"op\":\"state\",\"run_id\":\"../../etc/passwd\"}", "bad_request" },
	{ "{\"id\":1,\"op\":\"state\",\"run_id\":\"\"}", "bad_request" },
	{ "{\"id\":1,\"op\":\"state\",\"run_id\":\"no-such-run\"}", "not_found" },
	{ "{\"id\":1,\"op\":\"fetch_result\",\"run_id\":\"no-such-run\"}", "not_found" },
	{ "{\"id\":1,\"op\":\"pid_for\",\"run_id\":\"no-such-run\"}", "unknown_run" },
	{ "{\"id\":1,\"op\":\"cancel\",\"run_id\":\"no-such-run\"}", "unknown_run" },
	{ "{\"id\":1,\"op\":\"subscribe\",\"run_id\":\"no-such-run\"}", "unknown_run" },
	{ "{\"id\":1,\"op\":\"monitor\",\"run_id\":[1]}", "bad_request" },
	{ "{\"id\":1,\"op\":\"demonitor\",\"ref\":\"x\"}", "usage" },
	{ "{\"id\":1,\"op\":\"run_id\",\"pid\":\"abc\"}", "usage" },
	{ "{\"id\":1,\"op\":\"run_id\",\"pid\":1}", "unknown_run" },
	{ "{\"id\":1,\"op\":\"start\"}", "usage" },
	{ "{\"id\":1,\"op\":\"start\",\"spec\":\"not an object\"}", "usage" },
	{ "{\"id\":1,\"op\":\"start\",\"spec\":{}}", "invalid_council" },
	{ "{\"id\":1,\"op\":\"start\",\"spec\":" VALID_SPEC ",\"tenant\":\"../x\"}", "bad_request" },
	{ "{\"id\":1,\"op\":\"start\",\"spec\":" VALID_SPEC ",\"tenant\":7}", "bad_request" },
	{ "{\"id\":1,\"op\":\"start\",\"spec\":" VALID_SPEC ",\"run_id\":\"bad id!\"}", "usage" },
	{ "{\"id\":1,\"op\":\"start\",\"spec\":" VALID_SPEC ",\"shutdown_ms\":-5}", "usage" },
	{ "{\"id\":1,\"op\":\"start\",\"spec\":" VALID_SPEC ",\"link\":true,\"exit_signal\":\"SIGNOPE\"}", "usage" },
	{ "{\"id\":1,\"op\":\"start\",\"spec\":" VALID_SPEC ",\"input\":{\"q\":1},\"cwd\":\"relative/dir\"}", "usage" },
	{ "{\"id\":1,\"op\":\"tenant_stop\"}", "bad_request" },
	{ "{\"id\":1,\"op\":\"tenant_stop\",\"tenant\":\"ghost\"}", "unknown_tenant" },
	{ "{\"id\":1,\"op\":\"which_children\",\"tenant\":\"ghost\"}", "unknown_tenant" },
	{ "{\"id\":1,\"op\":\"terminate_all\",\"tenant\":\"\"}", "bad_request" },
	{ "{\"id\":1,\"op\":\"ps\",\"tenant\":5}", "bad_request" },
	{ "{\"id\":1,\"op\":\"hello\"} trailing", "bad_request" },
	{ "{\"id\":1,\"op\":\"hel\\u0000lo\"}", "unknown_op" },
};

START_TEST(test_bad_request_gets_its_error_and_the_connection_stays_usable)
{
	int fd = dial();
	ck_assert(fd >= 0);
	const struct row *r = &rows[_i];
	char *code = exchange(fd, r->line);
	ck_assert_msg(!strcmp(code, r->code), "row %d: expected %s, got %s for: %.200s", _i,
		      r->code, code, r->line);
	free(code);
	assert_serving(fd);
	close(fd);
}
END_TEST

START_TEST(test_a_huge_line_is_refused_and_councild_serves_on)
{
	int fd = dial();
	size_t len = 5 << 20;
	char *line = malloc(len);
	memset(line, 'x', len);
	line[0] = '{';
	send_all(fd, line, len);
	char *reply = read_line(fd);
	ck_assert_msg(reply && strstr(reply, "\"too_large\""), "reply: %.200s", reply ? reply : "(none)");
	free(reply);
	free(line);
	close(fd);
	fd = dial();
	assert_serving(fd);
	close(fd);
}
END_TEST

START_TEST(test_a_client_that_leaves_mid_request_harms_nothing)
{
	for (int i = 0; i < 20; i++) {
		int fd = dial();
		send_all(fd, "{\"id\":1,\"op\":\"sta", 17);
		close(fd);
	}
	int fd = dial();
	assert_serving(fd);
	close(fd);
}
END_TEST

START_TEST(test_descriptors_where_none_are_expected_are_dropped)
{
	int fd = dial();
	int p[2];
	ck_assert(pipe(p) == 0);
	const char line[] = "{\"id\":5,\"op\":\"hello\"}\n";
	struct iovec iov = { (void *)line, sizeof line - 1 };
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} control;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			     .msg_controllen = sizeof control.buf };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(2 * sizeof(int));
	memcpy(CMSG_DATA(c), p, 2 * sizeof(int));
	ck_assert(sendmsg(fd, &mh, 0) > 0);
	close(p[0]);
	close(p[1]);
	char *reply = read_line(fd);
	ck_assert_msg(reply && strstr(reply, "\"ok\":true"), "reply: %s", reply ? reply : "(none)");
	free(reply);
	assert_serving(fd);
	close(fd);
}
END_TEST

START_TEST(test_connections_per_uid_are_limited)
{
	int fds[8];
	for (int i = 0; i < 8; i++) {
		fds[i] = dial();
		assert_serving(fds[i]);
	}
	int extra = dial();
	char *reply = read_line(extra);
	ck_assert_msg(reply && strstr(reply, "\"too_many_connections\""), "reply: %s",
		      reply ? reply : "(none)");
	free(reply);
	close(extra);
	close(fds[0]);
	usleep(100000);
	int again = dial();
	assert_serving(again);
	close(again);
	for (int i = 1; i < 8; i++)
		close(fds[i]);
}
END_TEST

/* Found by the soak: when lines carrying descriptors waited in the queue
 * together, one sendmsg took a line's descriptors and the start of the
 * next line too, whose descriptors then never went. */
START_TEST(test_each_line_keeps_its_descriptors_when_lines_queue_up)
{
	int sv[2], p[3][2];
	ck_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
	struct cx_wire out, in;
	cx_wire_init(&out, sv[0]);
	cx_wire_init(&in, sv[1]);
	/* A line the peer has not read fills the socket: what follows waits. */
	size_t size = 1 << 20;
	char *filler = malloc(size);
	memset(filler, 'x', size - 1);
	filler[size - 1] = '\0';
	cJSON *big = cJSON_CreateObject();
	cJSON_AddStringToObject(big, "filler", filler);
	ck_assert_int_eq(cx_wire_send(&out, big, NULL, 0), 1);
	cJSON_Delete(big);
	free(filler);
	for (int i = 0; i < 3; i++) {
		ck_assert(pipe2(p[i], O_CLOEXEC) == 0);
		cJSON *msg = cJSON_CreateObject();
		cJSON_AddNumberToObject(msg, "line", i);
		cJSON_AddNumberToObject(msg, "fds", 1);
		ck_assert_int_eq(cx_wire_send(&out, msg, &p[i][1], 1), 1);
		cJSON_Delete(msg);
		close(p[i][1]);
	}
	int lines = 0;
	uint64_t deadline = cx_mono_ms() + DEADLINE_MS;
	while (lines < 3) {
		ck_assert_msg(cx_mono_ms() < deadline, "awaited 3 lines, %d came", lines);
		ck_assert_int_ge(cx_wire_flush(&out), 0);
		ssize_t n = cx_wire_fill(&in);
		ck_assert_msg(n > 0 || n == -EAGAIN, "reading: %zd", n);
		cJSON *msg;
		char why[128];
		while (cx_wire_next(&in, &msg, why, sizeof why) == 1) {
			const cJSON *line = cJSON_GetObjectItem(msg, "line");
			if (line) {
				/* The descriptor is the line's own pipe: what goes in comes out there. */
				int fd = cx_wire_take_fd(&in), i = (int)cJSON_GetNumberValue(line);
				char c = 0;
				ck_assert_msg(fd >= 0, "line %d came without its descriptor", i);
				ck_assert(write(fd, "k", 1) == 1 && read(p[i][0], &c, 1) == 1 && c == 'k');
				close(fd);
				lines++;
			}
			cJSON_Delete(msg);
		}
	}
	for (int i = 0; i < 3; i++)
		close(p[i][0]);
	cx_wire_close(&out);
	cx_wire_close(&in);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("protocol");
	TCase *tc = tcase_create("hostile");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_bad_request_gets_its_error_and_the_connection_stays_usable, 0,
			    (int)(sizeof rows / sizeof rows[0]));
	tcase_add_test(tc, test_a_huge_line_is_refused_and_councild_serves_on);
	tcase_add_test(tc, test_a_client_that_leaves_mid_request_harms_nothing);
	tcase_add_test(tc, test_descriptors_where_none_are_expected_are_dropped);
	tcase_add_test(tc, test_connections_per_uid_are_limited);
	suite_add_tcase(s, tc);
	TCase *framing = tcase_create("framing");
	tcase_add_test(framing, test_each_line_keeps_its_descriptors_when_lines_queue_up);
	suite_add_tcase(s, framing);
	return th_run_suite(s);
}
