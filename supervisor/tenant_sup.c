/* The tenant supervisor process. councild forwards it every request about
 * its runs (docs/protocol.md) and it answers on the same channel; requests
 * that wait (fetch_result, terminate_all, stop) are answered when their run,
 * or the whole group, is over. It tells councild of every run that ends
 * ({"msg":"down"}), so councild can deliver monitors' DOWN and links' EXIT. */
#include "tenant_sup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "fsutil.h"
#include "loop.h"
#include "proc.h"
#include "request.h"
#include "statusfs.h"
#include "sup.h"
#include "wire.h"

#define FETCH_TIMEOUT_MAX_MS (24 * 3600 * 1000)

struct tenant;

/* A request answered later: fetch_result (for one run), terminate_all and
 * stop (for the group). */
struct waiter {
	struct tenant *t;
	cJSON *req;
	enum cx_op op;
	char run_id[CX_RUN_ID_MAX + 1];  /* "" for the group */
	struct cx_timer timer;           /* fetch_result's timeout */
	LIST_ENTRY(waiter) link;
};

/* A run started with link: the caller's pidfd, watched for its exit. */
struct link {
	struct tenant *t;
	char run_id[CX_RUN_ID_MAX + 1];
	struct cx_proc caller;
	struct cx_watch watch;
	int exit_signal;
	LIST_ENTRY(link) next;
};

/* A run that is over, to drop from memory once its subscribers are done:
 * councild answers for finished runs from their files. */
struct finished {
	char run_id[CX_RUN_ID_MAX + 1];
	LIST_ENTRY(finished) link;
};

#define FORGET_DELAY_MS 250
/* Coalescing, so that neither costs per run: the tenant's status file
 * (its count of live runs), and the sweep for orphans, whose waitid looks
 * at every child, each live run's worker included. */
#define ANNOUNCE_DELAY_MS 250
#define SWEEP_DELAY_MS 100
#define HAND_OVER_MAX (CX_WIRE_LINE_MAX / 4) /* a backlog, escaped as JSON, fits one line */

struct tenant {
	struct cx_sup *sup;
	struct cx_loop *loop;
	const struct cx_sup_options *opts;
	struct cx_wire wire;
	struct cx_watch channel;
	struct cx_watch sigchld;      /* a subreaper: orphans of its runs come here */
	LIST_HEAD(, waiter) waiters;
	LIST_HEAD(, link) links;
	LIST_HEAD(, finished) finished;
	struct cx_timer forget;
	struct cx_timer announce;
	struct cx_timer sweep;
	int64_t started_at_ms;
	bool stopping;
	bool done;
	bool orphaned;                /* councild is gone: leave at once */
};

/* councild is gone. Its socket closes before the kernel sends us our
 * PDEATHSIG, so we may see this first: leave now, as if the SIGKILL had
 * come first. Our workers die by their own PDEATHSIG, and our guardian
 * finalizes their runs supervisor_down (ending them here would call them
 * killed, and race the SIGKILL on its way). */
static void channel_lost(struct tenant *t)
{
	cx_watch_del(t->loop, &t->channel);
	cx_wire_close(&t->wire);
	t->orphaned = true;
}

static void send_msg(struct tenant *t, cJSON *msg, int fd)
{
	int r = t->wire.fd < 0 ? 0 : cx_wire_post(&t->wire, t->loop, &t->channel, msg,
						  fd >= 0 ? &fd : NULL, fd >= 0);
	cJSON_Delete(msg);
	if (r < 0)
		channel_lost(t);
}

/* tenants/<t>/status: Pid, Status, Runs (live), StartedAt, Owner (us).
 * Ours while we live; councild writes it once we are gone (tenants.c). */
static void announce(struct tenant *t)
{
	cx_timer_disarm(t->loop, &t->announce);
	struct cx_tenant_summary ts = {
		.tenant = t->opts->tenant, .status = t->stopping ? "stopping" : "running",
		.pid = getpid(), .runs = cx_sup_live(t->sup), .started_at_ms = t->started_at_ms,
		.owner = *cx_sup_owner(t->sup),
	};
	cx_statusfs_write_tenant(cx_sup_runtime_dir(t->sup), &ts);
}

static void on_announce_due(struct cx_loop *loop, struct cx_timer *timer)
{
	announce(timer->data);
}

/* The count of live runs changed. */
static void announce_soon(struct tenant *t)
{
	if (!cx_timer_armed(&t->announce))
		cx_timer_arm(t->loop, &t->announce, ANNOUNCE_DELAY_MS);
}

/* Waiters. */

static void waiter_free(struct waiter *w)
{
	cx_timer_disarm(w->t->loop, &w->timer);
	LIST_REMOVE(w, link);
	cJSON_Delete(w->req);
	free(w);
}

/* Answers a fetch_result if its run is over; false while it is not. */
static bool answer_fetch(struct tenant *t, struct waiter *w)
{
	char *result = NULL;
	struct cx_error err = { 0 };
	cJSON *reply;
	int r = cx_sup_fetch_result(t->sup, w->run_id, 0, &result, &err);
	if (r == CX_ETIMEOUT)
		return false;
	if (r == CX_OK) {
		struct cx_run_summary s;
		cx_sup_state(t->sup, w->run_id, &s);
		reply = cx_reply_ok(w->req);
		cJSON_AddItemToObject(reply, "result", cJSON_Parse(result));
		cJSON_AddStringToObject(reply, "status", cx_run_status_name(s.status));
	} else {
		reply = cx_reply_fail(w->req, &err);
	}
	free(result);
	send_msg(t, reply, -1);
	waiter_free(w);
	return true;
}

static void on_fetch_timeout(struct cx_loop *loop, struct cx_timer *timer)
{
	struct waiter *w = timer->data;
	send_msg(w->t, cx_reply_error(w->req, "timeout", "run %s not finished in time", w->run_id), -1);
	waiter_free(w);
}

static struct waiter *waiter_new(struct tenant *t, const cJSON *req, enum cx_op op,
				 const char *run_id)
{
	struct waiter *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	w->t = t;
	w->req = cJSON_Duplicate(req, true);
	w->op = op;
	strlcpy(w->run_id, run_id ? run_id : "", sizeof w->run_id);
	w->timer = CX_TIMER_INIT(on_fetch_timeout, w);
	LIST_INSERT_HEAD(&t->waiters, w, link);
	return w;
}

/* Answers what waited for this run, or for the whole group once nothing
 * is live. */
static void wake_waiters(struct tenant *t, const char *run_id)
{
	struct waiter *w, *next;
	LIST_FOREACH_SAFE(w, &t->waiters, link, next) {
		if (run_id && w->run_id[0] && !strcmp(w->run_id, run_id)) {
			answer_fetch(t, w);
		} else if (!w->run_id[0] && cx_sup_live(t->sup) == 0) {
			t->done |= w->op == CX_OP_STOP;
			send_msg(t, cx_reply_ok(w->req), -1);
			waiter_free(w);
		}
	}
}

/* Links. */

static void link_free(struct link *l)
{
	cx_watch_del(l->t->loop, &l->watch);
	cx_proc_release(&l->caller);
	LIST_REMOVE(l, next);
	free(l);
}

/* The linked caller exited: its run is terminated (DESIGN §2). */
static void on_caller_exit(struct cx_loop *loop, struct cx_watch *w, uint32_t events)
{
	struct link *l = w->data;
	cx_sup_terminate(l->t->sup, l->run_id, NULL);
	cx_watch_del(loop, w);
}

static void link_add(struct tenant *t, const char *run_id, int pidfd, int exit_signal)
{
	struct link *l = calloc(1, sizeof *l);
	if (!l) {
		close(pidfd);
		return;
	}
	l->t = t;
	strlcpy(l->run_id, run_id, sizeof l->run_id);
	cx_proc_from_pidfd(&l->caller, pidfd); /* exited already: its watch fires at once */
	l->exit_signal = exit_signal;
	l->watch = (struct cx_watch){ pidfd, on_caller_exit, l };
	LIST_INSERT_HEAD(&t->links, l, next);
	cx_watch_add(t->loop, &l->watch, EPOLLIN);
}

/* Orphans (members whose worker died, what a member double-forked) are
 * reaped here; a live run's worker is left to its pidfd. */
static bool is_worker(const struct cx_proc *child, void *arg)
{
	struct tenant *t = arg;
	return cx_sup_is_worker(t->sup, child);
}

static void on_sweep_due(struct cx_loop *loop, struct cx_timer *timer)
{
	cx_reap_orphans(is_worker, timer->data);
}

static void sweep_soon(struct tenant *t)
{
	if (!cx_timer_armed(&t->sweep))
		cx_timer_arm(t->loop, &t->sweep, SWEEP_DELAY_MS);
}

static void on_sigchld(struct cx_loop *loop, struct cx_watch *w, uint32_t events)
{
	struct signalfd_siginfo si;
	while (read(w->fd, &si, sizeof si) == sizeof si)
		;
	sweep_soon(w->data);
}

static void on_forget_due(struct cx_loop *loop, struct cx_timer *timer)
{
	struct tenant *t = timer->data;
	struct finished *f, *next;
	LIST_FOREACH_SAFE(f, &t->finished, link, next) {
		if (cx_sup_forget(t->sup, f->run_id) == CX_ENOT_FINISHED)
			continue;
		LIST_REMOVE(f, link);
		free(f);
	}
	if (!LIST_EMPTY(&t->finished))
		cx_timer_arm(loop, timer, FORGET_DELAY_MS);
}

static void forget_later(struct tenant *t, const char *run_id)
{
	struct finished *f = calloc(1, sizeof *f);
	if (!f)
		return; /* it stays in memory: harmless */
	strlcpy(f->run_id, run_id, sizeof f->run_id);
	LIST_INSERT_HEAD(&t->finished, f, link);
	if (!cx_timer_armed(&t->forget))
		cx_timer_arm(t->loop, &t->forget, FORGET_DELAY_MS);
}

/* A run is over: its link signals the caller if the run ended abnormally
 * and asked for it; councild hears of it; whoever waited is answered. */
static void on_run_down(void *data, const struct cx_run_summary *s, const char *reason)
{
	struct tenant *t = data;
	struct link *l, *next;
	LIST_FOREACH_SAFE(l, &t->links, next, next) {
		if (strcmp(l->run_id, s->run_id))
			continue;
		if (l->exit_signal && strcmp(reason, "normal"))
			cx_proc_signal(&l->caller, l->exit_signal);
		link_free(l);
	}
	cJSON *msg = cJSON_CreateObject();
	cJSON_AddStringToObject(msg, "msg", "down");
	cJSON_AddStringToObject(msg, "run_id", s->run_id);
	cJSON_AddStringToObject(msg, "reason", reason);
	send_msg(t, msg, -1);
	announce_soon(t);
	wake_waiters(t, s->run_id);
	sweep_soon(t); /* what waited behind this worker's zombie */
	forget_later(t, s->run_id);
}

/* A subscriber that had not got all of its run when the group stopped:
 * councild goes on serving it from the run's files. What cannot travel
 * (a backlog too large for one message, or holding a NUL a JSON string
 * would cut) is closed as before: the reader sees EOF early and may
 * resubscribe from the events file. */
static void hand_over(void *data, const char *run_id, int fd, const struct cx_subscriber_state *st)
{
	struct tenant *t = data;
	char *pending = st->pending_len <= HAND_OVER_MAX && !memchr(st->pending ?: "", '\0', st->pending_len)
			? strndup(st->pending ?: "", st->pending_len) : NULL;
	if (pending) {
		cJSON *msg = cJSON_CreateObject();
		cJSON_AddStringToObject(msg, "msg", "subscriber");
		cJSON_AddStringToObject(msg, "run_id", run_id);
		cJSON_AddStringToObject(msg, "pending", pending);
		cJSON_AddNumberToObject(msg, "dropped", (double)st->dropped);
		cJSON_AddNumberToObject(msg, "since", (double)st->since);
		cJSON_AddNumberToObject(msg, "upto", (double)st->upto);
		cJSON_AddNumberToObject(msg, "seq", (double)st->seq);
		cJSON_AddNumberToObject(msg, "replay_off", (double)st->replay_off);
		cJSON_AddNumberToObject(msg, "fds", 1);
		send_msg(t, msg, fd);
	}
	free(pending);
	close(fd);
}

/* Requests. */

/* Starts the run; a linked one's link takes *caller (then -1). */
static cJSON *start_run(struct tenant *t, const cJSON *req, int *caller, int *fd)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(req, "spec");
	const cJSON *input = cJSON_GetObjectItemCaseSensitive(req, "input");
	const cJSON *options = cJSON_GetObjectItemCaseSensitive(req, "options");
	const cJSON *sig = cJSON_GetObjectItemCaseSensitive(req, "exit_signal");
	int64_t signo = -1;
	int exit_signal = !sig ? 0 : cJSON_IsString(sig) ? cx_signal_number(sig->valuestring)
			: cx_req_int(req, "exit_signal", 1, NSIG - 1, 0, &signo) ? (int)signo : -1;
	int64_t shutdown_ms;
	if (!cJSON_IsObject(spec))
		return cx_reply_error(req, "usage", "start needs \"spec\", an object");
	if (!cx_req_int(req, "shutdown_ms", 1, 3600000, 0, &shutdown_ms))
		return cx_reply_error(req, "usage", "\"shutdown_ms\" out of range");
	if (exit_signal < 0)
		return cx_reply_error(req, "usage", "\"exit_signal\" must be a signal: \"SIGUSR1\" or its number");
	char *spec_text = cJSON_PrintUnformatted(spec);
	char *input_text = input ? cJSON_PrintUnformatted(input) : NULL;
	char *options_text = options ? cJSON_PrintUnformatted(options) : NULL;
	struct cx_start start = {
		.spec_json = spec_text,
		.input_json = input_text,
		.options_json = options_text,
		.run_id = cx_req_string(req, "run_id"),
		.subscribe = cx_req_bool(req, "subscribe"),
		.shutdown_ms = (int)shutdown_ms,
		.cwd = cx_req_string(req, "cwd"),
	};
	char run_id[CX_RUN_ID_MAX + 1];
	struct cx_diags diags = { 0 };
	struct cx_error err = { 0 };
	int r = cx_sup_start(t->sup, &start, run_id, fd, &diags, &err);
	free(spec_text);
	free(input_text);
	free(options_text);
	cJSON *reply;
	if (r == CX_OK) {
		struct cx_run_summary s;
		struct cx_proc worker = CX_PROC_NULL;
		cx_sup_state(t->sup, run_id, &s);
		cx_sup_worker(t->sup, run_id, &worker);
		reply = cx_reply_ok(req);
		cJSON_AddStringToObject(reply, "run_id", run_id);
		cJSON_AddNumberToObject(reply, "pid", s.pid);
		/* councild names the worker by both (daemon.c, run_id). */
		cJSON_AddNumberToObject(reply, "ino", (double)worker.ino);
		cJSON_AddStringToObject(reply, "tenant", s.tenant);
		if (start.subscribe)
			cJSON_AddNumberToObject(reply, "fds", 1);
		if (cx_req_bool(req, "link") && *caller >= 0) {
			link_add(t, run_id, *caller, exit_signal);
			*caller = -1;
		}
		announce_soon(t);
	} else {
		reply = cx_reply_fail(req, &err);
		if (r == CX_EINVALID) {
			cJSON *list = cJSON_AddArrayToObject(reply, "diagnostics");
			for (size_t i = 0; i < diags.n; i++) {
				cJSON *d = cJSON_CreateObject();
				cJSON_AddStringToObject(d, "path", diags.v[i].path);
				cJSON_AddStringToObject(d, "code", diags.v[i].code);
				cJSON_AddStringToObject(d, "message", diags.v[i].message);
				cJSON_AddItemToArray(list, d);
			}
		}
	}
	cx_diags_free(&diags);
	return reply;
}

/* The caller's pidfd that comes with a linked start is taken before
 * anything may refuse the start: left queued, it would be taken for the
 * next request's, and that run linked to this caller. */
static cJSON *do_start(struct tenant *t, const cJSON *req, enum cx_op op, int *fd)
{
	int caller = cJSON_GetNumberValue(cJSON_GetObjectItem(req, "fds")) == 1
		     ? cx_wire_take_fd(&t->wire) : -1;
	cJSON *reply = start_run(t, req, &caller, fd);
	if (caller >= 0)
		close(caller);
	return reply;
}

static cJSON *do_state(struct tenant *t, const cJSON *req, enum cx_op op, int *fd)
{
	const char *run_id = cx_req_string(req, "run_id");
	struct cx_run_summary s;
	if (cx_sup_state(t->sup, run_id, &s) != CX_OK)
		return cx_reply_error(req, "not_found", "no run %s", run_id);
	cJSON *reply = cx_reply_ok(req);
	cJSON_AddItemToObject(reply, "summary", cx_run_summary_json(&s));
	return reply;
}

/* A run whose worker is dead but whose end is not yet written is alive
 * here: its down message, with how it ended, follows this reply on the
 * channel. */
static cJSON *do_alive(struct tenant *t, const cJSON *req, enum cx_op op, int *fd)
{
	cJSON *reply = cx_reply_ok(req);
	cJSON_AddBoolToObject(reply, "alive", cx_sup_run_live(t->sup, cx_req_string(req, "run_id")));
	return reply;
}

static cJSON *do_pid_for(struct tenant *t, const cJSON *req, enum cx_op op, int *fd)
{
	const char *run_id = cx_req_string(req, "run_id");
	pid_t pid = 0;
	int r = cx_sup_pid_for(t->sup, run_id, &pid);
	if (r != CX_OK)
		return cx_reply_error(req, cx_code_word(r), "run %s: %s", run_id, cx_code_word(r));
	cJSON *reply = cx_reply_ok(req);
	cJSON_AddNumberToObject(reply, "pid", pid);
	return reply;
}

static cJSON *do_fetch_result(struct tenant *t, const cJSON *req, enum cx_op op, int *fd)
{
	const char *run_id = cx_req_string(req, "run_id");
	struct cx_run_summary s;
	int64_t timeout;
	if (!cx_req_int(req, "timeout_ms", 0, FETCH_TIMEOUT_MAX_MS, 5000, &timeout))
		return cx_reply_error(req, "usage", "\"timeout_ms\" out of range");
	if (cx_sup_state(t->sup, run_id, &s) != CX_OK)
		return cx_reply_error(req, "not_found", "no run %s", run_id);
	struct waiter *w = waiter_new(t, req, CX_OP_FETCH_RESULT, run_id);
	if (!w)
		return cx_reply_error(req, "system_error", "out of memory");
	if (!answer_fetch(t, w))
		cx_timer_arm(t->loop, &w->timer, (uint64_t)timeout);
	return NULL;
}

static cJSON *do_subscribe(struct tenant *t, const cJSON *req, enum cx_op op, int *fd)
{
	struct cx_error err = { 0 };
	int64_t since;
	if (!cx_req_int(req, "since", 1, INT64_MAX / 2, 1, &since))
		return cx_reply_error(req, "usage", "\"since\" must be a seq");
	if (cx_sup_subscribe(t->sup, cx_req_string(req, "run_id"), (uint64_t)since, fd, &err) != CX_OK)
		return cx_reply_fail(req, &err);
	cJSON *reply = cx_reply_ok(req);
	cJSON_AddNumberToObject(reply, "fds", 1);
	return reply;
}

static cJSON *do_cancel(struct tenant *t, const cJSON *req, enum cx_op op, int *fd)
{
	struct cx_error err = { 0 };
	return cx_sup_cancel(t->sup, cx_req_string(req, "run_id"), &err) == CX_OK
	       ? cx_reply_ok(req) : cx_reply_fail(req, &err);
}

static cJSON *do_terminate(struct tenant *t, const cJSON *req, enum cx_op op, int *fd)
{
	struct cx_error err = { 0 };
	return cx_sup_terminate(t->sup, cx_req_string(req, "run_id"), &err) == CX_OK
	       ? cx_reply_ok(req) : cx_reply_fail(req, &err);
}

static cJSON *do_which_children(struct tenant *t, const cJSON *req, enum cx_op op, int *fd)
{
	struct cx_run_summary *v;
	size_t n = cx_sup_runs(t->sup, true, &v);
	cJSON *reply = cx_reply_ok(req);
	cJSON *list = cJSON_AddArrayToObject(reply, "runs");
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(list, cx_run_summary_json(&v[i]));
	free(v);
	return reply;
}

/* terminate_all and stop: answered once no run is live; stop then ends
 * the tenant. */
static cJSON *do_terminate_all(struct tenant *t, const cJSON *req, enum cx_op op, int *fd)
{
	t->stopping |= op == CX_OP_STOP;
	if (!waiter_new(t, req, op, NULL))
		return cx_reply_error(req, "system_error", "out of memory");
	cx_sup_terminate_all(t->sup);
	announce(t);
	wake_waiters(t, NULL);
	return NULL;
}

/* Handles one request; returns its reply, or NULL when it will come later
 * (then, with *fd, the descriptor that goes with it). */
typedef cJSON *op_fn(struct tenant *t, const cJSON *req, enum cx_op op, int *fd);

static op_fn *const handlers[CX_OP_N] = {
	[CX_OP_START] = do_start,
	[CX_OP_STATE] = do_state,
	[CX_OP_PID_FOR] = do_pid_for,
	[CX_OP_FETCH_RESULT] = do_fetch_result,
	[CX_OP_SUBSCRIBE] = do_subscribe,
	[CX_OP_CANCEL] = do_cancel,
	[CX_OP_TERMINATE] = do_terminate,
	[CX_OP_TERMINATE_ALL] = do_terminate_all,
	[CX_OP_WHICH_CHILDREN] = do_which_children,
	[CX_OP_ALIVE] = do_alive,
	[CX_OP_STOP] = do_terminate_all,
};

static cJSON *handle(struct tenant *t, const cJSON *req, int *fd)
{
	cJSON *error;
	int op = cx_request_decode(req, CX_FROM_COUNCILD, &error);
	return op < 0 ? error : handlers[op](t, req, (enum cx_op)op, fd);
}

static void on_channel(struct cx_loop *loop, struct cx_watch *w, uint32_t events)
{
	struct tenant *t = w->data;
	int r = cx_wire_service(&t->wire, loop, w, events);
	if (r < 0) {
		channel_lost(t); /* PDEATHSIG is on its way too */
		return;
	}
	if (r == 0)
		return;
	cJSON *req;
	char why[128];
	while ((r = cx_wire_next(&t->wire, &req, why, sizeof why)) != 0) {
		if (r < 0)
			continue; /* councild only sends whole objects */
		int fd = -1;
		cJSON *reply = handle(t, req, &fd);
		if (reply)
			send_msg(t, reply, fd);
		if (fd >= 0)
			close(fd);
		cJSON_Delete(req);
	}
}

int cx_tenant_sup_main(int channel, const struct cx_sup_options *opts)
{
	struct tenant t = { .opts = opts, .started_at_ms = cx_wall_ms() };
	struct cx_error err = { 0 };
	LIST_INIT(&t.waiters);
	LIST_INIT(&t.links);
	LIST_INIT(&t.finished);
	t.forget = CX_TIMER_INIT(on_forget_due, &t);
	t.announce = CX_TIMER_INIT(on_announce_due, &t);
	t.sweep = CX_TIMER_INIT(on_sweep_due, &t);
	if (cx_sup_new(opts, &t.sup, &err) != CX_OK)
		return 1;
	t.loop = cx_sup_loop(t.sup);
	cx_sup_on_down(t.sup, on_run_down, &t);
	cx_wire_init(&t.wire, channel);
	t.channel = (struct cx_watch){ channel, on_channel, &t };
	cx_watch_add(t.loop, &t.channel, EPOLLIN);
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	t.sigchld = (struct cx_watch){ signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC), on_sigchld, &t };
	cx_watch_add(t.loop, &t.sigchld, EPOLLIN);
	announce(&t);
	while (!t.orphaned && (!t.done || cx_sup_live(t.sup) || cx_wire_pending(&t.wire)))
		if (cx_sup_dispatch(t.sup, -1) < 0)
			break;
	if (t.orphaned)
		return 1; /* the process exits now: nothing is finalized, nothing needs freeing */
	/* Handed over until the channel is flushed: a subscribe councild sent
	 * meanwhile is answered, and its subscriber handed over too. */
	do
		cx_sup_hand_over(t.sup, hand_over, &t);
	while (!t.orphaned && cx_wire_pending(&t.wire) && cx_sup_dispatch(t.sup, -1) == CX_OK);
	while (!LIST_EMPTY(&t.links))
		link_free(LIST_FIRST(&t.links));
	while (!LIST_EMPTY(&t.waiters))
		waiter_free(LIST_FIRST(&t.waiters));
	cx_timer_disarm(t.loop, &t.forget);
	cx_timer_disarm(t.loop, &t.announce);
	cx_timer_disarm(t.loop, &t.sweep);
	while (!LIST_EMPTY(&t.finished)) {
		struct finished *f = LIST_FIRST(&t.finished);
		LIST_REMOVE(f, link);
		free(f);
	}
	cx_watch_del(t.loop, &t.channel);
	cx_watch_del(t.loop, &t.sigchld);
	if (t.sigchld.fd >= 0)
		close(t.sigchld.fd);
	cx_wire_close(&t.wire);
	cx_sup_free(t.sup);
	return 0;
}
