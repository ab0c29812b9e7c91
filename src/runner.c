/* The worker: its run's council (council.h) on one loop, with the control
 * pipe it gets "cancel" on and the duties of a PID namespace's init
 * (init.h).
 *
 * Loop callbacks only record what happened (a call finished, "cancel"
 * arrived, the supervisor went away); the council is stepped between loop
 * turns, after the init's duties, and that step is the only code that
 * moves the run on. */
#include "runner.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "council.h"
#include "event.h"
#include "init.h"
#include "loop.h"

struct worker {
	struct cx_council *council;
	struct cx_init init;        /* as pid 1 of a PID namespace */
	struct cx_watch control;
	char line[16];              /* the control line being read */
	size_t line_len;
};

static void control_ready(struct cx_loop *loop, struct cx_watch *w, uint32_t events)
{
	struct worker *wk = w->data;
	char buf[256];
	(void)events;
	ssize_t n = read(w->fd, buf, sizeof buf);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		/* Do not spin on EOF: PDEATHSIG is on its way anyway. */
		cx_watch_del(loop, w);
		cx_council_abort(wk->council, "aborted: the supervisor is gone");
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] != '\n') {
			if (wk->line_len < sizeof wk->line)
				wk->line[wk->line_len++] = buf[i];
			continue;
		}
		if (wk->line_len == 6 && !memcmp(wk->line, "cancel", 6))
			cx_council_cancel(wk->council);
		wk->line_len = 0;
	}
}

/* The children the run's calls reap by their pidfds: what an init's orphan
 * sweep must leave to them. */
static bool run_owns(const struct cx_proc *child, void *arg)
{
	struct worker *wk = arg;
	return cx_council_owns(wk->council, child);
}

int cx_runner_main(const struct cx_run_params *params)
{
	struct cx_emitter em = { .fd = params->event_fd };
	struct worker wk = { .init = CX_INIT_NONE };
	struct cx_loop *loop;

	strlcpy(em.run_id, params->run_id, sizeof em.run_id);
	if (cx_loop_new(&loop) < 0)
		return CX_EXIT_INTERNAL;
	wk.control = (struct cx_watch){ params->control_fd, control_ready, &wk };
	wk.council = cx_council_new(&(struct cx_council_params){
		.spec = params->spec,
		.input = params->input,
		.run_id = params->run_id,
		.verbose = params->verbose,
		.loop = loop,
		.em = &em,
	});
	if (!wk.council ||
	    (params->control_fd >= 0 && cx_watch_add(loop, &wk.control, EPOLLIN) < 0) ||
	    cx_init_start(&wk.init, loop, run_owns, &wk) < 0) {
		cx_council_free(wk.council);
		cx_loop_free(loop);
		return CX_EXIT_INTERNAL;
	}

	cx_council_start(wk.council);
	/* A turn that does not wait first: a cancel already in the pipe ends
	 * the run before its first round. */
	int rc = cx_loop_turn(loop, 0), exit_code;
	bool sigterm;
	while (!(sigterm = cx_init_service(&wk.init)) && rc >= 0 &&
	       !cx_council_step(wk.council)) {
		cx_emit_flush(&em); /* tokens wait for nothing */
		rc = cx_loop_turn(loop, -1);
	}
	if (sigterm) {
		/* As pid 1 of a PID namespace: end now, reporting nothing more, as
		 * SIGTERM ends any other worker. What is in flight is left to the
		 * kernel, which kills the whole namespace when this process exits. */
		exit_code = CX_EXIT_SIGTERM;
	} else if (rc < 0) {
		/* epoll itself failed: stop what runs; nothing can be waited for. */
		cx_council_abort(wk.council, "aborted: the worker's loop failed");
		cx_council_step(wk.council);
		exit_code = CX_EXIT_INTERNAL;
	} else {
		exit_code = cx_council_exit(wk.council);
	}
	cx_council_free(wk.council);
	cx_init_stop(&wk.init);
	if (params->control_fd >= 0)
		cx_watch_del(loop, &wk.control);
	cx_loop_free(loop);
	cx_emitter_fini(&em);
	return exit_code;
}
