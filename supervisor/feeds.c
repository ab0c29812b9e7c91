#include "feeds.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "fsutil.h"
#include "request.h"
#include "rundir.h"

#define FEED_TICK_MS 100
#define FEED_CHUNK (64 * 1024)

static void feed_free(struct cx_feed *f)
{
	cx_relay_fini(&f->relay);
	close(f->events_fd);
	LIST_REMOVE(f, link);
	free(f);
}

/* Publishes the whole lines the file has gained since the last call,
 * finishing the relay at the terminal event. Those that were in it at the
 * feed's opening only set where the relay stands (no one subscribed yet).
 * A line not yet whole waits for the next call. */
static int feed_pull(struct cx_feeds *fs, struct cx_feed *f)
{
	struct cx_buf *b = &fs->chunk;
	size_t want = FEED_CHUNK;
	while (!f->relay.finished) {
		cx_buf_clear(b);
		if (cx_buf_reserve(b, want) < 0)
			return -ENOMEM;
		ssize_t got = pread(f->events_fd, b->data, want, f->tail);
		if (got < 0)
			return -errno;
		const char *end = got > 0 ? memrchr(b->data, '\n', (size_t)got) : NULL;
		if (!end) {
			if ((size_t)got < want)
				return 0;
			want *= 2; /* one line longer than the chunk */
			continue;
		}
		size_t whole = (size_t)(end - b->data) + 1;
		unsigned n = 0;
		bool terminal = false;
		for (size_t pos = 0; pos < whole;) {
			const char *nl = memchr(b->data + pos, '\n', whole - pos);
			struct cx_event_header h;
			terminal |= cx_event_header_parse(b->data + pos, (size_t)(nl - (b->data + pos)), &h) == 0 &&
				    cx_event_terminal(h.type) && !h.sub;
			pos = (size_t)(nl - b->data) + 1;
			n++;
		}
		cx_relay_publish(&f->relay, b->data, whole, n);
		f->tail += (off_t)whole;
		if (terminal)
			cx_relay_finish(&f->relay);
		want = FEED_CHUNK;
	}
	return 0;
}

static void on_tick(struct cx_loop *loop, struct cx_timer *timer)
{
	struct cx_feeds *fs = timer->data;
	struct cx_feed *f, *next;
	LIST_FOREACH_SAFE(f, &fs->list, link, next)
		if (cx_relay_idle(&f->relay) || feed_pull(fs, f) < 0)
			feed_free(f);
	if (!LIST_EMPTY(&fs->list))
		cx_timer_arm(loop, timer, FEED_TICK_MS);
}

void cx_feeds_init(struct cx_feeds *fs, struct cx_loop *loop, int root_fd)
{
	LIST_INIT(&fs->list);
	fs->loop = loop;
	fs->root_fd = root_fd;
	fs->tick = CX_TIMER_INIT(on_tick, fs);
	fs->chunk = (struct cx_buf){ 0 };
}

void cx_feeds_fini(struct cx_feeds *fs)
{
	while (!LIST_EMPTY(&fs->list))
		feed_free(LIST_FIRST(&fs->list));
	cx_timer_disarm(fs->loop, &fs->tick);
	cx_buf_free(&fs->chunk);
}

/* A relay over run_id's events file, at its end; NULL (errno set) when
 * the run has no events file. */
static struct cx_feed *feed_open(struct cx_feeds *fs, const char *run_id)
{
	char path[CX_RUN_PATH_MAX];
	struct cx_feed *f = calloc(1, sizeof *f);
	int fd = f ? cx_open_regular(fs->root_fd, cx_run_path(run_id, CX_RUN_EVENTS, path), O_RDONLY, NULL)
		   : -ENOMEM;
	if (fd < 0) {
		free(f);
		errno = -fd;
		return NULL;
	}
	f->events_fd = fd;
	strlcpy(f->run_id, run_id, sizeof f->run_id);
	cx_relay_init(&f->relay, fs->loop, fd, f->run_id);
	LIST_INSERT_HEAD(&fs->list, f, link);
	int r = feed_pull(fs, f);
	if (r < 0) {
		feed_free(f);
		errno = -r;
		return NULL;
	}
	if (!cx_timer_armed(&fs->tick))
		cx_timer_arm(fs->loop, &fs->tick, FEED_TICK_MS);
	return f;
}

int cx_feed_subscribe(struct cx_feeds *fs, const char *run_id, uint64_t since, int *fd)
{
	struct cx_feed *f = feed_open(fs, run_id);
	if (!f)
		return -errno;
	int r = cx_relay_subscribe(&f->relay, since, fd);
	if (r < 0)
		feed_free(f);
	return r;
}

void cx_feed_adopt(struct cx_feeds *fs, const cJSON *msg, int fd)
{
	const char *run_id = cx_req_string(msg, "run_id"), *pending = cx_req_string(msg, "pending");
	int64_t dropped, since, upto, seq, replay_off;
	struct cx_feed *f = NULL;
	if (fd >= 0 && run_id && cx_run_id_valid(run_id) && pending &&
	    cx_req_int(msg, "dropped", 0, INT64_MAX / 2, 0, &dropped) &&
	    cx_req_int(msg, "since", 1, INT64_MAX / 2, 1, &since) &&
	    cx_req_int(msg, "upto", 0, INT64_MAX / 2, 0, &upto) &&
	    cx_req_int(msg, "seq", 0, INT64_MAX / 2, 0, &seq) &&
	    cx_req_int(msg, "replay_off", -1, INT64_MAX / 2, -1, &replay_off))
		f = feed_open(fs, run_id);
	if (!f) {
		if (fd >= 0)
			close(fd);
		return;
	}
	struct cx_subscriber_state st = { pending, strlen(pending), (uint64_t)dropped,
					  (uint64_t)since, (uint64_t)upto, (uint64_t)seq, replay_off };
	if (cx_relay_adopt(&f->relay, fd, &st) < 0)
		feed_free(f);
}
