/* relay_1, relay_16: member_token events per second delivered to each of 1
 * and 16 subscribers (pipes from cx_start and cx_subscribe through
 * councild), while the run's events file is written too; against one writer
 * and one reader on a raw pipe, one write() per message of the same size. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define MAX_SUBSCRIBERS 16
#define HEAD 192   /* an event's header (seq, ts, run_id, type) fits in this */

/* One subscriber pipe, read line by line as a subscriber would: each
 * line's type found where it lies in the read buffer, only the head of a
 * line that a read cut in two kept for the next. */
struct reader {
	int fd;
	char head[HEAD];
	size_t head_n, line_len;
	unsigned tokens, lagged;
	size_t token_bytes;
	uint64_t last_token_ns;
};

/* A line ends: head holds its first bytes, NUL-terminated. */
static void line_end(struct reader *r, const char *head, uint64_t now)
{
	if (strstr(head, "\"type\":\"member_token\"")) {
		r->tokens++;
		r->token_bytes += r->line_len + 1;
		r->last_token_ns = now;
	} else if (strstr(head, "\"type\":\"lagged\"")) {
		r->lagged++;
	}
	r->head_n = r->line_len = 0;
}

/* Takes a chunk read from r's pipe (its newlines become NULs). */
static void reader_take(struct reader *r, char *p, size_t n, uint64_t now)
{
	char *end = p + n;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		if (nl && !r->line_len) { /* a whole line here: looked at in place */
			*nl = '\0';
			r->line_len = len;
			line_end(r, p, now);
		} else {
			size_t room = HEAD - 1 - r->head_n, take = len < room ? len : room;
			memcpy(r->head + r->head_n, p, take);
			r->head_n += take;
			r->head[r->head_n] = '\0';
			r->line_len += len;
			if (!nl)
				break;
			line_end(r, r->head, now);
		}
		p = nl + 1;
	}
}

/* Reads every pipe to its EOF; returns the first token's arrival. */
static uint64_t read_all(struct reader *rd, unsigned n)
{
	static char buf[1 << 18];
	uint64_t first = 0;
	unsigned open = n;
	while (open) {
		struct pollfd pfd[MAX_SUBSCRIBERS];
		for (unsigned i = 0; i < n; i++)
			pfd[i] = (struct pollfd){ .fd = rd[i].fd, .events = POLLIN };
		if (poll(pfd, n, -1) < 0 && errno != EINTR)
			bench_die("poll: %s", strerror(errno));
		for (unsigned i = 0; i < n; i++) {
			if (!pfd[i].revents)
				continue;
			ssize_t got = read(rd[i].fd, buf, sizeof buf);
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0) {
				close(rd[i].fd);
				rd[i].fd = -1;
				open--;
				continue;
			}
			uint64_t now = bench_ns();
			unsigned had = rd[i].tokens;
			reader_take(&rd[i], buf, (size_t)got, now);
			if (!first && rd[i].tokens > had)
				first = now;
		}
	}
	return first;
}

/* One run streaming members * (words + 1) tokens to subscribers pipes:
 * the tokens each received per second, on average over the subscribers,
 * from the first token's arrival to the last's. *line_size gets their mean
 * size; *lost counts the tokens subscribers lost by lagging. */
static double relay_rate(struct bench *b, unsigned subscribers, unsigned members, unsigned words,
			 size_t *line_size, unsigned *lost)
{
	struct cx_client *cl = bench_client(b);
	struct cx_client_start req = {
		.spec_json = bench_stream_spec(members, words, 200), .tenant = "relay", .subscribe = true,
	};
	struct reader rd[MAX_SUBSCRIBERS] = { 0 };
	struct cx_started st;
	struct cx_error err = { 0 };
	if (cx_start(cl, &req, &st, NULL, &err) != CX_OK)
		bench_die("start: %s", err.message);
	rd[0].fd = st.subscriber_fd;
	for (unsigned i = 1; i < subscribers; i++)
		if (cx_subscribe(cl, st.run_id, 1, &rd[i].fd, &err) != CX_OK)
			bench_die("subscribe: %s", err.message);
	uint64_t first = read_all(rd, subscribers), last = 0;
	unsigned tokens = members * (words + 1); /* "<member id>:", then the words */
	size_t delivered = 0, bytes = 0;
	for (unsigned i = 0; i < subscribers; i++) {
		if (rd[i].tokens > tokens || (rd[i].tokens < tokens && !rd[i].lagged))
			bench_die("subscriber %u got %u of %u tokens", i, rd[i].tokens, tokens);
		if (rd[i].last_token_ns > last)
			last = rd[i].last_token_ns;
		delivered += rd[i].tokens;
		bytes += rd[i].token_bytes;
		*lost += tokens - rd[i].tokens;
	}
	*line_size = bytes / (delivered ? delivered : 1);
	/* The clock starts at the first token: count the others. */
	return (double)(delivered - subscribers) / subscribers / ((double)(last - first) / 1e9);
}

void bench_relay(struct bench *b)
{
	unsigned members = b->quick ? 1 : 8, words = b->quick ? 2000 : 4096;
	static const unsigned counts[] = { 1, MAX_SUBSCRIBERS };
	static const char *const names[] = { "relay_1", "relay_16" };
	static const double targets[] = { 0.5, 0.3 };
	struct samples ours[2] = { 0 }, base[2] = { 0 };
	unsigned lost[2] = { 0 };
	size_t line_size;
	relay_rate(b, 1, members, words / 4, &line_size, &lost[0]); /* warm-up */
	lost[0] = 0;
	for (unsigned rep = 0; rep < b->reps; rep++) {
		for (unsigned k = 0; k < 2; k++) {
			samples_add(&ours[k], relay_rate(b, counts[k], members, words, &line_size, &lost[k]));
			samples_add(&base[k], baseline_pipe_rate(members * (words + 1), line_size));
		}
	}
	for (unsigned k = 0; k < 2; k++) {
		struct figure *f = bench_figure(b, names[k], "events/s", &ours[k], &base[k],
						RATIO_AT_LEAST, targets[k]);
		unsigned sent = b->reps * counts[k] * members * (words + 1);
		snprintf(f->note, sizeof f->note, "%zu-byte events", line_size);
		if (lost[k])
			snprintf(f->note + strlen(f->note), sizeof f->note - strlen(f->note),
				 "; %.2f%% lost to lag", 100.0 * lost[k] / sent);
		bench_progress(f);
		samples_free(&ours[k]);
		samples_free(&base[k]);
	}
}
