/* councild's control protocol against bad input (docs/protocol.md): every
 * malformed or hostile request gets a clear error, and councild goes on
 * serving, on that connection when it can and on a new one always. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
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
	chmod(scratch, 0755); /* an attacker of another user reaches the socket */
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

#define LONG_ID_16 "0123456789abcdef"
#define LONG_ID LONG_ID_16 LONG_ID_16 LONG_ID_16 LONG_ID_16 LONG_ID_16 LONG_ID_16 LONG_ID_16 \
	LONG_ID_16 "x"  /* 129 bytes */

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
	/* cJSON reads strings as C strings: a NUL would cut an op, an id or
	 * a name short ("t\u0000x" was tenant t). */
	{ "{\"id\":1,\"op\":\"hel\\u0000lo\"}", "bad_request" },
	{ "{\"id\":1,\"op\":\"tenant_stop\",\"tenant\":\"t\\u0000x\"}", "bad_request" },
	{ "{\"id\":1,\"op\":\"state\",\"run_id\":\"ab\\u0000cd\"}", "bad_request" },
	/* An id that cannot come back as sent: 1e999 is infinity, printed null. */
	{ "{\"id\":1e999,\"op\":\"hello\"}", "bad_request" },
	{ "{\"id\":-1e999,\"op\":\"hello\"}", "bad_request" },
	{ "{\"id\":\"" LONG_ID "\",\"op\":\"hello\"}", "bad_request" },
	/* Not UTF-8: a stray 0xFF, an overlong '/', a surrogate (raw and unpaired). */
	{ "{\"id\":1,\"op\":\"hello\",\"x\":\"\xff\"}", "bad_request" },
	{ "{\"id\":1,\"op\":\"hello\",\"x\":\"\xc0\xaf\"}", "bad_request" },
	{ "{\"id\":1,\"op\":\"hello\",\"x\":\"\xed\xa0\x80\"}", "bad_request" },
	{ "{\"id\":1,\"op\":\"hello\",\"x\":\"\\udc00\"}", "bad_request" },
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

/* Attacks by another user. */

#define NOBODY 65534

/* A process of nobody that runs attack (its return: the findings, each
 * printed to stderr) and then holds whatever it opened until
 * attacker_release: what councild does meanwhile is the test's. */
struct attacker {
	pid_t pid;
	int hold;     /* closed to release it */
};

static int attacker_start(struct attacker *a, int (*attack)(void))
{
	int ready[2], hold[2];
	ck_assert(pipe(ready) == 0 && pipe(hold) == 0);
	a->pid = fork();
	ck_assert(a->pid >= 0);
	if (a->pid == 0) {
		gid_t g = NOBODY;
		close(ready[0]);
		close(hold[1]);
		if (setgroups(1, &g) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
			_exit(99);
		char findings = (char)attack();
		if (write(ready[1], &findings, 1) != 1 || read(hold[0], &findings, 1) < 0)
			_exit(98);
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	a->hold = hold[1];
	struct pollfd p = { ready[0], POLLIN, 0 };
	char findings = 1;
	ck_assert_msg(poll(&p, 1, 3 * DEADLINE_MS) == 1 && read(ready[0], &findings, 1) == 1,
		      "awaited the attacker's attack");
	close(ready[0]);
	return findings;
}

static void attacker_release(struct attacker *a)
{
	int status;
	close(a->hold);
	ck_assert(waitpid(a->pid, &status, 0) == a->pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "attacker: %#x", status);
}

/* How many descriptors councild has open; with limit, the RLIMIT_NOFILE
 * (a bound on descriptor numbers) that leaves it room for `room` more. */
static int councild_fds(int room, rlim_t *limit)
{
	char path[64];
	bool open_fd[4096] = { false };
	snprintf(path, sizeof path, "/proc/%d/fd", (int)councild);
	DIR *dir = opendir(path);
	ck_assert(dir);
	int n = 0;
	for (struct dirent *e; (e = readdir(dir));) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] == '.')
			continue;
		n++;
		if (fd >= 0 && fd < 4096)
			open_fd[fd] = true;
	}
	closedir(dir);
	for (rlim_t l = 0, free_below = 0; limit && l < 4096; l++) {
		if (free_below == (rlim_t)room) {
			*limit = l;
			break;
		}
		free_below += !open_fd[l];
	}
	return n;
}

/* The error code of the next line on fd ("" at EOF, "ok" for a success). */
static char *next_code(int fd)
{
	char *line = read_line(fd);
	cJSON *j = line ? cJSON_Parse(line) : NULL;
	const char *code = cJSON_IsTrue(cJSON_GetObjectItem(j, "ok")) ? "ok"
		: cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"), "code"));
	char *copy = strdup(code ? code : "");
	cJSON_Delete(j);
	free(line);
	return copy;
}

/* An unfinished line, then 200 messages of 8 descriptors each: councild
 * held them all until a newline that never came (1024 of 1024). */
static int send_descriptors(void)
{
	int fd = dial(), devnull[CX_WIRE_FDS_MAX];
	for (int i = 0; i < CX_WIRE_FDS_MAX; i++)
		devnull[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	send_all(fd, "{", 1);
	int sent = 0;
	for (int i = 0; i < 200 && cx_fds_send(fd, " ", 1, devnull, CX_WIRE_FDS_MAX, 0) == 1; i++)
		sent++;
	char *code = next_code(fd);
	int findings = strcmp(code, "bad_request") != 0;
	if (findings)
		fprintf(stderr, "after %d messages with descriptors: \"%s\", not bad_request\n", sent, code);
	free(code);
	return findings;
}

START_TEST(test_descriptors_a_client_sends_are_closed_and_capped)
{
	int before = councild_fds(0, NULL);
	struct attacker a;
	ck_assert_msg(attacker_start(&a, send_descriptors) == 0, "the attacker was not dropped");
	int fd = dial();
	assert_serving(fd);
	int during = councild_fds(0, NULL);
	ck_assert_msg(during <= before + 4, "councild holds %d descriptors, %d before the attack",
		      during, before);
	close(fd);
	attacker_release(&a);
}
END_TEST

START_TEST(test_a_connection_councild_has_no_descriptor_for_is_told_so)
{
	/* Room for two more connections. */
	struct rlimit old, low;
	councild_fds(2, &low.rlim_cur);
	ck_assert(prlimit(councild, RLIMIT_NOFILE, NULL, &old) == 0);
	low.rlim_max = old.rlim_max;
	ck_assert(prlimit(councild, RLIMIT_NOFILE, &low, NULL) == 0);
	int fds[8], n = 0;
	char *code = NULL;
	while (n < 8) {
		fds[n] = dial();
		const char hello[] = "{\"id\":1,\"op\":\"hello\"}\n";
		send_all(fds[n], hello, sizeof hello - 1);
		code = next_code(fds[n++]);
		if (strcmp(code, "ok"))
			break;
		free(code);
		code = NULL;
	}
	ck_assert_msg(code && !strcmp(code, "too_many_connections"),
		      "a connection beyond councild's descriptors got \"%s\"", code ? code : "(all served)");
	free(code);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	ck_assert(prlimit(councild, RLIMIT_NOFILE, &old, NULL) == 0);
	int fd = dial();
	assert_serving(fd);
	close(fd);
}
END_TEST

#define HALF_LINE ((4 << 20) - 64)

/* 8 connections, each with a line of almost 4 MiB and no newline: 270 MB
 * for 64 of them. Counts the connections councild dropped. */
static int hold_half_lines(void)
{
	int fds[8], dropped = 0;
	char *line = malloc(HALF_LINE);
	memset(line, ' ', HALF_LINE);
	line[0] = '{';
	for (int i = 0; i < 8; i++) {
		fds[i] = dial();
		send_all(fds[i], line, HALF_LINE);
	}
	free(line);
	uint64_t deadline = cx_mono_ms() + DEADLINE_MS;
	while (dropped < 4 && cx_mono_ms() < deadline) {
		dropped = 0;
		for (int i = 0; i < 8; i++) {
			char c;
			dropped += recv(fds[i], &c, 1, MSG_PEEK | MSG_DONTWAIT) == 1;
		}
		usleep(50000);
	}
	if (dropped < 4)
		fprintf(stderr, "%d of 8 connections holding 4 MiB half lines were dropped\n", dropped);
	return dropped < 4;
}

START_TEST(test_half_lines_are_capped_across_connections)
{
	struct attacker a;
	ck_assert_msg(attacker_start(&a, hold_half_lines) == 0,
		      "councild kept every connection's half line");
	int fd = dial();
	ck_assert_msg(fd >= 0, "root could not connect while the attacker held its lines");
	char *code = exchange(fd, "{\"id\":1,\"op\":\"ps\"}");
	ck_assert_msg(!strcmp(code, "ok"), "root's ps beside the attacker's half lines: %s", code);
	free(code);
	close(fd);
	attacker_release(&a);
}
END_TEST

START_TEST(test_a_half_line_left_idle_is_dropped)
{
	int fd = dial();
	send_all(fd, "{\"id\":1,", 8);
	char *code = next_code(fd);
	ck_assert_msg(!strcmp(code, "timeout"), "a half line left idle got \"%s\"", code);
	free(code);
	close(fd);
	fd = dial();
	assert_serving(fd);
	close(fd);
}
END_TEST

START_TEST(test_nesting_too_deep_is_reported_as_such)
{
	int fd = dial();
	char line[1024] = "{\"id\":1,\"op\":\"hello\",\"x\":";
	size_t len = strlen(line);
	for (int i = 0; i < 200; i++) /* the 129th '[' is at byte 25 + 127 */
		line[len++] = '[';
	line[len] = '\0';
	send_all(fd, line, len);
	send_all(fd, "\n", 1);
	char *reply = read_line(fd);
	ck_assert_msg(reply && strstr(reply, "nested deeper than 128 levels at byte 152"), "reply: %s",
		      reply ? reply : "(none)");
	free(reply);
	assert_serving(fd);
	close(fd);
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
	tcase_add_test(tc, test_nesting_too_deep_is_reported_as_such);
	tcase_add_test(tc, test_a_half_line_left_idle_is_dropped);
	tcase_add_test(tc, test_descriptors_a_client_sends_are_closed_and_capped);
	tcase_add_test(tc, test_a_connection_councild_has_no_descriptor_for_is_told_so);
	tcase_add_test(tc, test_half_lines_are_capped_across_connections);
	suite_add_tcase(s, tc);
	TCase *framing = tcase_create("framing");
	tcase_add_test(framing, test_each_line_keeps_its_descriptors_when_lines_queue_up);
	suite_add_tcase(s, framing);
	return th_run_suite(s);
}
