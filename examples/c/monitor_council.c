/* monitor_council: the client library in a program's own event loop.
 * Starts a council unlinked (it would outlive this program), monitors it,
 * and watches two descriptors in one poll(): the run's subscriber pipe, a
 * plain pipe of JSON event lines, and the client's socket, where the
 * monitor's DOWN message says the run is over and why.
 *
 *   monitor_council [SPEC [INPUT]]     (defaults as follow_council's)
 *
 * Exits 0 completed, 1 failed, 3 cancelled, 2 or 8 as follow_council. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <council/council.h>

struct events {
	int fd;                 /* the subscriber pipe; -1 after its EOF */
	size_t have;
	char buf[1 << 16];
};

static const char *str(const cJSON *obj, const char *key)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));
	return s ? s : "";
}

static void show_event(const char *line)
{
	cJSON *ev = cJSON_Parse(line);
	/* A sub-council's events ("sub") are about its nested run. */
	const char *type = cJSON_GetObjectItem(ev, "sub") ? "" : str(ev, "type");
	if (!strcmp(type, "round_started"))
		printf("round %s started\n", str(ev, "round"));
	else if (!strcmp(type, "run_completed") || !strcmp(type, "run_failed"))
		printf("%s\n", type);
	cJSON_Delete(ev);
}

/* Reads what the pipe has and shows each whole line; closes it at EOF. */
static void read_events(struct events *e)
{
	ssize_t n = read(e->fd, e->buf + e->have, sizeof e->buf - 1 - e->have);
	if (n < 0 && errno == EINTR)
		return;
	if (n <= 0) {
		close(e->fd);
		e->fd = -1;
		return;
	}
	e->have += (size_t)n;
	e->buf[e->have] = '\0';
	char *line = e->buf, *nl;
	for (; (nl = strchr(line, '\n')); line = nl + 1) {
		*nl = '\0';
		show_event(line);
	}
	e->have -= (size_t)(line - e->buf);
	memmove(e->buf, line, e->have);
	if (e->have == sizeof e->buf - 1)
		e->have = 0;  /* a line longer than buf: not shown */
}

/* Takes every queued message: true when the DOWN of ref was among them.
 * *r: CX_OK, or the error that lost the connection. */
static bool take_messages(struct cx_client *cl, uint64_t ref, int *r, struct cx_error *err)
{
	cJSON *msg;
	bool down = false;
	while ((*r = cx_client_next_message(cl, 0, &msg, err)) == CX_OK) {
		const cJSON *msg_ref = cJSON_GetObjectItem(msg, "ref");
		if (!strcmp(str(msg, "msg"), "DOWN") && cJSON_GetNumberValue(msg_ref) == (double)ref) {
			printf("DOWN %s: %s\n", str(msg, "run_id"), str(msg, "reason"));
			down = true;
		}
		cJSON_Delete(msg);
	}
	if (*r == CX_ETIMEOUT)
		*r = CX_OK;  /* none left */
	return down;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t size = 0;
	if (f && getdelim(&text, &size, '\0', f) < 0) {
		free(text);
		text = NULL;
	}
	if (f)
		fclose(f);
	return text;
}

int main(int argc, char **argv)
{
	const char *spec_path = argc > 1 ? argv[1] : "examples/councils/review.json";
	const char *input_path = argc > 2 ? argv[2] : "examples/inputs/question.json";
	struct cx_client_start req = { .spec_json = read_file(spec_path),
				       .input_json = read_file(input_path), .subscribe = true };
	if (argc > 3 || !req.spec_json || !req.input_json) {
		fprintf(stderr, "usage: monitor_council [SPEC [INPUT]] (files that can be read)\n");
		return 2;
	}
	struct cx_client_options opts = { .autostart = true };
	struct cx_client *cl = NULL;
	struct cx_error err = { 0 };
	struct cx_started st;
	static struct events events = { .fd = -1 };
	struct cx_run_summary s = { .status = CX_RUN_FAILED };
	uint64_t ref = 0;
	bool down = false;
	int r = cx_client_connect(&opts, &cl, &err);
	if (r == CX_OK && (r = cx_start(cl, &req, &st, NULL, &err)) == CX_OK) {
		events.fd = st.subscriber_fd;
		r = cx_monitor(cl, st.run_id, &ref, &err);
	}
	for (;;) {
		/* The DOWN may be queued already (it came with a reply): take
		 * the messages before polling, as client.h says. */
		if (r == CX_OK && !down)
			down = take_messages(cl, ref, &r, &err);
		if (r < 0 || (down && events.fd < 0))
			break;
		struct pollfd fds[] = {
			{ .fd = events.fd, .events = POLLIN },  /* poll skips fd -1 */
			{ .fd = down ? -1 : cx_client_fd(cl), .events = POLLIN },
		};
		if (poll(fds, 2, -1) < 0 && errno != EINTR)
			r = cx_fail(&err, CX_ESYS, "poll: %s", strerror(errno));
		else if (fds[0].revents)
			read_events(&events);
		fflush(stdout);
	}
	if (r == CX_OK)
		r = cx_state(cl, st.run_id, &s, &err);
	if (r == CX_OK)
		printf("run %s %s\n", s.run_id, cx_run_status_name(s.status));
	else
		fprintf(stderr, "monitor_council: %s: %s\n", cx_code_word(r), err.message);
	if (events.fd >= 0)
		close(events.fd);
	cx_client_close(cl);
	free((char *)req.spec_json);
	free((char *)req.input_json);
	return r == CX_EINVALID ? 2 : r == CX_EUNAVAILABLE ? 8 : r < 0 ? 1
	       : s.status == CX_RUN_COMPLETED ? 0 : s.status == CX_RUN_CANCELLED ? 3 : 1;
}
