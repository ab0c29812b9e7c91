#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "council/ids.h"

struct cx_loop {
	int epfd;
	struct cx_watch **by_fd;  /* dispatch looks watches up here, by fd */
	size_t n_fds;
	struct cx_timer **heap;   /* min-heap on due_ms */
	size_t n_timers, cap_timers;
	/* A timerfd set to the earliest timer, so the epoll fd turns readable
	 * when a timer is due: a program that embeds the loop by polling
	 * cx_loop_fd() alone still has its timers run. */
	struct cx_watch tick;
	uint64_t tick_due;        /* what tick is set to, never after the earliest
				   * timer; 0: nothing (or it fired) */
};

static void tick_fired(struct cx_loop *loop, struct cx_watch *w, uint32_t events)
{
	uint64_t expirations;
	ssize_t n = read(w->fd, &expirations, sizeof expirations);
	(void)n; /* EAGAIN after a re-arm: nothing to clear */
	loop->tick_due = 0;
}

/* Points the timerfd at the earliest timer when that is earlier than where
 * it points, or it points nowhere. Never later: a tick that comes for a
 * timer since disarmed or moved on costs one idle turn, where keeping the
 * timerfd exact costs a system call at nearly every arm and disarm. */
static void tick_sync(struct cx_loop *loop)
{
	uint64_t due = loop->n_timers ? loop->heap[0]->due_ms : 0;
	if (!due || (loop->tick_due && loop->tick_due <= due))
		return;
	struct itimerspec its = { 0 };
	its.it_value.tv_sec = (time_t)(due / 1000);
	its.it_value.tv_nsec = (long)(due % 1000) * 1000000;
	if (due && !its.it_value.tv_sec && !its.it_value.tv_nsec)
		its.it_value.tv_nsec = 1;
	timerfd_settime(loop->tick.fd, TFD_TIMER_ABSTIME, &its, NULL);
	loop->tick_due = due;
}

int cx_loop_new(struct cx_loop **out)
{
	struct cx_loop *loop = calloc(1, sizeof *loop);
	if (!loop)
		return -ENOMEM;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	loop->tick = (struct cx_watch){
		timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC), tick_fired, loop
	};
	int r = loop->epfd < 0 || loop->tick.fd < 0 ? -errno : cx_watch_add(loop, &loop->tick, EPOLLIN);
	if (r < 0) {
		cx_loop_free(loop);
		return r;
	}
	*out = loop;
	return 0;
}

void cx_loop_free(struct cx_loop *loop)
{
	if (!loop)
		return;
	if (loop->tick.fd >= 0)
		close(loop->tick.fd);
	if (loop->epfd >= 0)
		close(loop->epfd);
	free(loop->by_fd);
	free(loop->heap);
	free(loop);
}

int cx_loop_fd(const struct cx_loop *loop)
{
	return loop->epfd;
}

static int watch_ctl(struct cx_loop *loop, int op, struct cx_watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = w->fd };
	return epoll_ctl(loop->epfd, op, w->fd, &ev) < 0 ? -errno : 0;
}

int cx_watch_add(struct cx_loop *loop, struct cx_watch *w, uint32_t events)
{
	if (w->fd < 0)
		return -EBADF;
	if ((size_t)w->fd >= loop->n_fds) {
		size_t n = (size_t)w->fd * 2 + 16;
		struct cx_watch **v = reallocarray(loop->by_fd, n, sizeof *v);
		if (!v)
			return -ENOMEM;
		for (size_t i = loop->n_fds; i < n; i++)
			v[i] = NULL;
		loop->by_fd = v;
		loop->n_fds = n;
	}
	int r = watch_ctl(loop, EPOLL_CTL_ADD, w, events);
	if (r == 0)
		loop->by_fd[w->fd] = w;
	return r;
}

int cx_watch_mod(struct cx_loop *loop, struct cx_watch *w, uint32_t events)
{
	return watch_ctl(loop, EPOLL_CTL_MOD, w, events);
}

void cx_watch_del(struct cx_loop *loop, struct cx_watch *w)
{
	if (w->fd < 0 || (size_t)w->fd >= loop->n_fds || loop->by_fd[w->fd] != w)
		return;
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	loop->by_fd[w->fd] = NULL;
}

/* Timer heap. */

static void heap_set(struct cx_loop *loop, size_t i, struct cx_timer *t)
{
	loop->heap[i] = t;
	t->slot = i;
}

static void heap_up(struct cx_loop *loop, size_t i)
{
	struct cx_timer *t = loop->heap[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (loop->heap[parent]->due_ms <= t->due_ms)
			break;
		heap_set(loop, i, loop->heap[parent]);
		i = parent;
	}
	heap_set(loop, i, t);
}

static void heap_down(struct cx_loop *loop, size_t i)
{
	struct cx_timer *t = loop->heap[i];
	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= loop->n_timers)
			break;
		if (child + 1 < loop->n_timers &&
		    loop->heap[child + 1]->due_ms < loop->heap[child]->due_ms)
			child++;
		if (t->due_ms <= loop->heap[child]->due_ms)
			break;
		heap_set(loop, i, loop->heap[child]);
		i = child;
	}
	heap_set(loop, i, t);
}

void cx_timer_disarm(struct cx_loop *loop, struct cx_timer *t)
{
	if (!cx_timer_armed(t))
		return;
	size_t i = t->slot;
	struct cx_timer *last = loop->heap[--loop->n_timers];
	t->slot = CX_TIMER_IDLE;
	if (last == t)
		return;
	heap_set(loop, i, last);
	heap_up(loop, i);
	heap_down(loop, last->slot);
}

void cx_timer_arm(struct cx_loop *loop, struct cx_timer *t, uint64_t delay_ms)
{
	cx_timer_disarm(loop, t);
	if (loop->n_timers == loop->cap_timers) {
		size_t cap = loop->cap_timers ? loop->cap_timers * 2 : 16;
		struct cx_timer **v = reallocarray(loop->heap, cap, sizeof *v);
		if (!v)
			abort(); /* a timer that silently never fires is worse */
		loop->heap = v;
		loop->cap_timers = cap;
	}
	t->due_ms = cx_mono_ms() + delay_ms;
	heap_set(loop, loop->n_timers++, t);
	heap_up(loop, t->slot);
	tick_sync(loop);
}

static int run_timers(struct cx_loop *loop)
{
	int ran = 0;
	uint64_t now = cx_mono_ms();
	while (loop->n_timers && loop->heap[0]->due_ms <= now) {
		struct cx_timer *t = loop->heap[0];
		cx_timer_disarm(loop, t);
		t->fn(loop, t);
		ran++;
	}
	return ran;
}

int cx_loop_turn(struct cx_loop *loop, int timeout_ms)
{
	if (loop->n_timers) {
		uint64_t now = cx_mono_ms(), due = loop->heap[0]->due_ms;
		int until = due <= now ? 0 : (int)(due - now > 86400000 ? 86400000 : due - now);
		if (timeout_ms < 0 || until < timeout_ms)
			timeout_ms = until;
	}
	struct epoll_event evs[64];
	int n = epoll_wait(loop->epfd, evs, 64, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	int ran = 0;
	for (int i = 0; i < n; i++) {
		int fd = evs[i].data.fd;
		struct cx_watch *w = (size_t)fd < loop->n_fds ? loop->by_fd[fd] : NULL;
		if (w) {
			w->fn(loop, w, evs[i].events);
			ran++;
		}
	}
	ran += run_timers(loop);
	tick_sync(loop);
	return ran;
}
