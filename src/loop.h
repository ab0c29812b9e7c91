/* One epoll loop per process: file events and timers (after Redis's ae.c).
 *
 * Watches and timers are embedded in their owners; the loop allocates nothing
 * per registration except to grow its fd table. Events are looked up by fd at
 * dispatch time, so a callback may remove any other watch safely. */
#ifndef CX_LOOP_H
#define CX_LOOP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

struct cx_loop;
struct cx_watch;
struct cx_timer;

typedef void cx_watch_fn(struct cx_loop *loop, struct cx_watch *w, uint32_t events);
typedef void cx_timer_fn(struct cx_loop *loop, struct cx_timer *t);

struct cx_watch {
	int fd;
	cx_watch_fn *fn;
	void *data;
};

struct cx_timer {
	uint64_t due_ms;    /* monotonic */
	size_t slot;        /* position in the heap, CX_TIMER_IDLE when not armed */
	cx_timer_fn *fn;
	void *data;
};

#define CX_TIMER_IDLE ((size_t)-1)
#define CX_TIMER_INIT(f, d) ((struct cx_timer){ 0, CX_TIMER_IDLE, (f), (d) })

int cx_loop_new(struct cx_loop **out);
void cx_loop_free(struct cx_loop *loop);
/* The epoll descriptor: poll it for readability to embed this loop in another. */
int cx_loop_fd(const struct cx_loop *loop);

/* events: EPOLLIN, EPOLLOUT, ... (level-triggered). Returns 0 or -errno. */
int cx_watch_add(struct cx_loop *loop, struct cx_watch *w, uint32_t events);
int cx_watch_mod(struct cx_loop *loop, struct cx_watch *w, uint32_t events);
void cx_watch_del(struct cx_loop *loop, struct cx_watch *w);

void cx_timer_arm(struct cx_loop *loop, struct cx_timer *t, uint64_t delay_ms);
void cx_timer_disarm(struct cx_loop *loop, struct cx_timer *t);
static inline int cx_timer_armed(const struct cx_timer *t) { return t->slot != CX_TIMER_IDLE; }

/* Waits up to timeout_ms (-1: until something happens; capped by the next
 * timer), then runs the callbacks of what is ready and of expired timers.
 * Returns the number of callbacks run, or -errno. */
int cx_loop_turn(struct cx_loop *loop, int timeout_ms);

#endif
