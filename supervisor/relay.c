#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h"

#define READ_CHUNK (64 * 1024)
#define LAGGED_MAX 160   /* a lagged line, run id and NUL included */

static void subscriber_drop(struct cx_subscriber *sub)
{
	cx_watch_del(sub->relay->loop, &sub->watch);
	close(sub->watch.fd);
	LIST_REMOVE(sub, link);
	cx_buf_free(&sub->backlog);
	free(sub);
}

/* The bound is on what waits behind unsent bytes: an empty backlog takes
 * any one batch, so no event is too large to deliver. */
static bool backlog_has_room(const struct cx_subscriber *sub, size_t len)
{
	size_t pending = cx_buf_unread(&sub->backlog);
	return !pending || pending + len <= CX_SUBSCRIBER_BACKLOG;
}

/* The line that stands for what the subscriber lost: its length, or 0. */
static size_t format_lagged(const struct cx_subscriber *sub, char line[LAGGED_MAX])
{
	if (!sub->dropped)
		return 0;
	return (size_t)snprintf(line, LAGGED_MAX, "{\"type\":\"lagged\",\"dropped\":%llu,\"run_id\":\"%s\"}\n",
				(unsigned long long)sub->dropped, sub->relay->run_id);
}

/* Appends whole lines, after the lagged line for what was lost before
 * them: both or neither, so a reader that stays behind gets one lagged
 * line for its whole gap, not one per event it missed. */
static bool backlog_append(struct cx_subscriber *sub, const char *data, size_t len)
{
	char lagged[LAGGED_MAX];
	size_t n = format_lagged(sub, lagged);
	if (!backlog_has_room(sub, n + len) || cx_buf_reserve(&sub->backlog, n + len) < 0)
		return false;
	cx_buf_append(&sub->backlog, lagged, n);
	cx_buf_append(&sub->backlog, data, len);
	sub->dropped = 0;
	return true;
}

/* Refills an empty backlog from the events file with whole lines from seq
 * `since` on, growing the read until it holds at least one whole line.
 * Turns the subscriber live when the file has no more. */
static int replay_more(struct cx_subscriber *sub)
{
	struct cx_buf *b = &sub->backlog;
	size_t want = READ_CHUNK;
	ssize_t got;
	const char *end;
	/* What is in the file past what was published comes live. */
	off_t avail = sub->relay->end - sub->replay_off;
	for (;;) {
		size_t ask = avail < (off_t)want ? (size_t)(avail > 0 ? avail : 0) : want;
		cx_buf_clear(b);
		if (cx_buf_reserve(b, want) < 0)
			return -ENOMEM;
		got = ask ? pread(sub->relay->events_fd, b->data, ask, sub->replay_off) : 0;
		if (got < 0)
			return -errno;
		end = got > 0 ? memrchr(b->data, '\n', (size_t)got) : NULL;
		if (end || (size_t)got < want)
			break;
		want *= 2;
	}
	if (!end) {
		sub->replay_off = -1;
		sub->upto = sub->relay->seq;
		return 0;
	}
	size_t whole = (size_t)(end - b->data) + 1, kept = 0;
	for (size_t pos = 0; pos < whole;) {
		const char *nl = memchr(b->data + pos, '\n', whole - pos);
		size_t n = (size_t)(nl - (b->data + pos)) + 1;
		struct cx_event_header h;
		if (cx_event_header_parse(b->data + pos, n - 1, &h) == 0 && h.seq >= sub->since) {
			memmove(b->data + kept, b->data + pos, n);
			kept += n;
		}
		pos += n;
	}
	sub->replay_off += (off_t)whole;
	b->len = kept;
	b->data[kept] = '\0';
	return 0;
}

/* Writes what the pipe takes of p: how much (0 when it is full), or -1
 * when the reader is gone (EPIPE), and the subscriber with it. */
static ssize_t pipe_take(struct cx_subscriber *sub, const char *p, size_t n)
{
	for (;;) {
		ssize_t w = write(sub->watch.fd, p, n);
		if (w >= 0)
			return w;
		if (errno == EAGAIN)
			return 0;
		if (errno != EINTR) {
			subscriber_drop(sub);
			return -1;
		}
	}
}

/* Writes as much as the pipe takes; refills from the file while replaying;
 * closes the subscriber once the run is over and all has been written. */
static void subscriber_pump(struct cx_subscriber *sub)
{
	struct cx_loop *loop = sub->relay->loop;
	struct cx_buf *b = &sub->backlog;
	for (;;) {
		if (cx_buf_unread(b)) {
			ssize_t w = pipe_take(sub, cx_buf_head(b), cx_buf_unread(b));
			if (w < 0)
				return;
			if (w == 0) {
				cx_watch_mod(loop, &sub->watch, EPOLLOUT);
				return;
			}
			cx_buf_consume(b, (size_t)w);
			continue;
		}
		if (sub->relay->finished && sub->upto < sub->relay->seq && sub->replay_off < 0) {
			/* It lost the end of the run: after a lagged line for what
			 * it lost before, the terminal event comes from the file. */
			sub->dropped--;
			sub->since = sub->upto = sub->relay->seq;
			sub->replay_off = 0;
		}
		/* While the run goes on, a lagged line waits to go with the next
		 * event the subscriber gets: the loss it counts may end with
		 * the terminal event, which the end above gives back. */
		if (sub->dropped && sub->relay->finished && backlog_append(sub, "", 0))
			continue;
		if (sub->replay_off >= 0) {
			if (replay_more(sub) < 0) {
				subscriber_drop(sub);
				return;
			}
			continue;
		}
		if (sub->relay->finished) {
			subscriber_drop(sub);
			return;
		}
		cx_watch_mod(loop, &sub->watch, 0);
		return;
	}
}

static void subscriber_ready(struct cx_loop *loop, struct cx_watch *w, uint32_t events)
{
	struct cx_subscriber *sub = w->data;
	if (events & EPOLLERR) {
		subscriber_drop(sub);
		return;
	}
	subscriber_pump(sub);
}

void cx_relay_init(struct cx_relay *relay, struct cx_loop *loop, int events_fd,
		   const char *run_id)
{
	LIST_INIT(&relay->subscribers);
	relay->loop = loop;
	relay->events_fd = events_fd;
	relay->run_id = run_id;
	relay->finished = false;
	relay->seq = 0;
	relay->end = 0;
}

void cx_relay_fini(struct cx_relay *relay)
{
	while (!LIST_EMPTY(&relay->subscribers))
		subscriber_drop(LIST_FIRST(&relay->subscribers));
}

/* A subscriber on fd, a pipe's write end, from seq since; replay_off -1:
 * live. Returns 0 with *out, or -errno (fd left to the caller). */
static int subscriber_add(struct cx_relay *relay, int fd, uint64_t since, off_t replay_off,
			  struct cx_subscriber **out)
{
	struct cx_subscriber *sub = calloc(1, sizeof *sub);
	if (!sub || fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		free(sub);
		return -ENOMEM;
	}
	sub->watch = (struct cx_watch){ fd, subscriber_ready, sub };
	sub->relay = relay;
	sub->since = since ? since : 1;
	sub->replay_off = replay_off;
	int r = cx_watch_add(relay->loop, &sub->watch, 0);
	if (r < 0) {
		free(sub);
		return r;
	}
	LIST_INSERT_HEAD(&relay->subscribers, sub, link);
	*out = sub;
	return 0;
}

int cx_relay_subscribe(struct cx_relay *relay, uint64_t since, int *fd)
{
	int p[2];
	struct cx_subscriber *sub;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	/* Room for a burst in the pipe itself, as the host allows (past the
	 * user's pipe-user-pages-soft it does not): a reader that falls behind
	 * for a moment loses nothing, and reads in larger chunks. */
	fcntl(p[1], F_SETPIPE_SZ, CX_SUBSCRIBER_PIPE);
	int r = subscriber_add(relay, p[1], since, 0, &sub);
	if (r < 0) {
		close(p[0]);
		close(p[1]);
		return r;
	}
	*fd = p[0];
	subscriber_pump(sub);
	return 0;
}

int cx_relay_adopt(struct cx_relay *relay, int fd, const struct cx_subscriber_state *state)
{
	struct cx_subscriber *sub;
	int r = subscriber_add(relay, fd, state->since, (off_t)state->replay_off, &sub);
	if (r < 0) {
		close(fd);
		return r;
	}
	sub->dropped = state->dropped;
	sub->upto = state->upto;
	if (relay->seq < state->seq)
		relay->seq = state->seq;
	if (state->pending_len && cx_buf_append(&sub->backlog, state->pending, state->pending_len) < 0) {
		subscriber_drop(sub);
		return -ENOMEM;
	}
	subscriber_pump(sub);
	return 0;
}

void cx_relay_hand_over(struct cx_relay *relay, cx_hand_over_fn *fn, void *data)
{
	while (!LIST_EMPTY(&relay->subscribers)) {
		struct cx_subscriber *sub = LIST_FIRST(&relay->subscribers);
		struct cx_subscriber_state state = {
			.pending = cx_buf_head(&sub->backlog),
			.pending_len = cx_buf_unread(&sub->backlog),
			.dropped = sub->dropped,
			.since = sub->since,
			.upto = sub->upto,
			.seq = relay->seq,
			.replay_off = sub->replay_off,
		};
		cx_watch_del(relay->loop, &sub->watch);
		fn(data, relay->run_id, sub->watch.fd, &state);
		LIST_REMOVE(sub, link);
		cx_buf_free(&sub->backlog);
		free(sub);
	}
}

/* The length of data's first n lines. */
static size_t lines_len(const char *data, size_t len, uint64_t n)
{
	size_t pos = 0;
	for (; n && pos < len; n--) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		pos = nl ? (size_t)(nl - data) + 1 : len;
	}
	return pos;
}

void cx_relay_publish(struct cx_relay *relay, const char *data, size_t len,
		      unsigned n_events)
{
	struct cx_subscriber *sub, *next;
	uint64_t first = relay->seq + 1;
	relay->seq += n_events;
	relay->end += (off_t)len;
	LIST_FOREACH_SAFE(sub, &relay->subscribers, link, next) {
		if (sub->replay_off >= 0)
			continue; /* it will read these from the file */
		/* Subscribed from a seq the run had not reached: it turned live
		 * before that seq, and skips what comes before it. */
		uint64_t skip = sub->since > first ? sub->since - first : 0;
		if (skip >= n_events) {
			sub->upto = relay->seq;
			continue;
		}
		size_t took = lines_len(data, len, skip);
		/* Nothing waits for the pipe (not even a lagged line): the lines
		 * go straight to it, and only what it does not take is kept. */
		if (!sub->dropped && !cx_buf_unread(&sub->backlog)) {
			ssize_t w = pipe_take(sub, data + took, len - took);
			if (w < 0)
				continue; /* the reader is gone, and so is sub */
			if ((size_t)w == len - took) {
				sub->upto = relay->seq;
				continue;
			}
			took += (size_t)w;
		}
		if (backlog_append(sub, data + took, len - took))
			sub->upto = relay->seq;
		else
			sub->dropped += n_events - (unsigned)skip;
		subscriber_pump(sub);
	}
}

void cx_relay_finish(struct cx_relay *relay)
{
	relay->finished = true;
	struct cx_subscriber *sub, *next;
	LIST_FOREACH_SAFE(sub, &relay->subscribers, link, next)
		subscriber_pump(sub);
}
