/* The relay: a run's events, already appended to its events file, fanned out
 * to subscriber pipes. Writes never block the supervisor: each subscriber has
 * a bounded backlog, and one that falls behind it loses events, which are
 * replaced by a single {"type":"lagged","dropped":N} line. The terminal
 * event is never lost: one that was is read back from the file at the end,
 * so every subscriber learns how the run ended before its EOF.
 *
 * A subscriber starts by replaying the events file from the seq it asked
 * for, and turns live when it has caught up with the file's end. The file
 * is written before anything is published, so the hand-over has no gap and
 * no duplicate. */
#ifndef CX_SUP_RELAY_H
#define CX_SUP_RELAY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "buf.h"
#include "council/ids.h"
#include "loop.h"

/* Bytes that may wait for a slow reader before it starts losing events:
 * in its pipe, then in its backlog. */
#define CX_SUBSCRIBER_PIPE (256 * 1024)
#define CX_SUBSCRIBER_BACKLOG (256 * 1024)

struct cx_relay;

struct cx_subscriber {
	struct cx_watch watch;   /* the pipe's write end */
	struct cx_relay *relay;
	struct cx_buf backlog;   /* whole lines not yet written */
	uint64_t dropped;        /* events lost since the last lagged line */
	uint64_t since;          /* skip events before this seq, replayed or live */
	uint64_t upto;           /* it has every event up to this seq, or lost some */
	off_t replay_off;        /* position in the events file; -1 once live */
	LIST_ENTRY(cx_subscriber) link;
};

struct cx_relay {
	LIST_HEAD(, cx_subscriber) subscribers;
	struct cx_loop *loop;
	int events_fd;           /* read for replays */
	const char *run_id;
	uint64_t seq;            /* of the last event published */
	off_t end;               /* the events file's length as published: replays stop there */
	bool finished;           /* the terminal event is out: close each subscriber once drained */
};

void cx_relay_init(struct cx_relay *relay, struct cx_loop *loop, int events_fd,
		   const char *run_id);
/* Closes every subscriber pipe (their readers see EOF). */
void cx_relay_fini(struct cx_relay *relay);

/* Returns the read end of a new subscriber pipe in *fd, or -errno. */
int cx_relay_subscribe(struct cx_relay *relay, uint64_t since, int *fd);
/* Hands whole event lines (n_events of them) to every live subscriber. */
void cx_relay_publish(struct cx_relay *relay, const char *data, size_t len,
		      unsigned n_events);
/* True when no subscriber is left. */
static inline bool cx_relay_idle(const struct cx_relay *relay)
{
	return LIST_EMPTY(&relay->subscribers);
}

/* The terminal event has been published. */
void cx_relay_finish(struct cx_relay *relay);

/* Where a subscriber is in its stream, for another relay to go on from
 * there: a tenant supervisor that stops hands the subscribers of its runs
 * (all over by then) to councild, so none loses the end of its run. */
struct cx_subscriber_state {
	const char *pending;     /* bytes not yet written to the pipe (may start mid-line) */
	size_t pending_len;
	uint64_t dropped;        /* events lost since the last lagged line */
	uint64_t since;
	uint64_t upto;           /* as in cx_subscriber */
	uint64_t seq;            /* the run's last event */
	int64_t replay_off;      /* in the events file, where the replay goes on; -1: live */
};

/* fd is the subscriber pipe's write end: fn takes it (and closes it). */
typedef void cx_hand_over_fn(void *data, const char *run_id, int fd,
			     const struct cx_subscriber_state *state);

/* Gives every subscriber to fn; the relay has none after. */
void cx_relay_hand_over(struct cx_relay *relay, cx_hand_over_fn *fn, void *data);
/* Goes on serving a subscriber another relay handed over: fd, its pipe's
 * write end, is the relay's now (closed on failure). Returns 0 or -errno. */
int cx_relay_adopt(struct cx_relay *relay, int fd, const struct cx_subscriber_state *state);

#endif
