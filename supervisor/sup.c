/* The supervisor: forks a worker per run, relays its events, and keeps its
 * status files, until every run has exactly one terminal event and a final
 * status, whatever happens to its worker.
 *
 * A run's lifecycle is the table `actions[phase][event]` below (after s6's
 * s6-supervise): nothing else changes a run's phase. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "council/supervisor.h"
#include "council/spec.h"
#include "event.h"
#include "finalize.h"
#include "fsutil.h"
#include "json.h"
#include "launcher.h"
#include "registry.h"
#include "run.h"
#include "sup.h"
#include "rundir.h"
#include "statusfs.h"
#include "worker.h"

#define ANNOUNCE_DELAY_MS 250      /* the most a status rewrite waits (apply) */
#define RETRY_MIN_MS 100           /* a final write that failed is tried again, */
#define RETRY_MAX_MS 5000          /* backing off to this */
#define STATUS_ROOM (16 * 1024)    /* the reserve kept for the final status
				    * files: two rewrites, each file made new
				    * beside the old */
#define EVENT_LINE_MAX (64 << 20)  /* a worker line longer than this is refused */
#define READ_CHUNK (64 * 1024)

struct cx_sup {
	struct cx_loop *loop;
	struct cx_registry registry;
	struct cx_buf scratch;       /* what was just read from a worker */
	struct cx_rundir dir;
	char root[PATH_MAX];
	char tenant[CX_NAME_MAX + 1];
	int shutdown_ms;
	unsigned live;
	cx_run_down_fn *on_down;
	void *on_down_data;
	struct cx_launcher launcher; /* forks the workers, guards their runs; none: we fork */
	unsigned guarded;            /* the launcher generation that guards every live run */
	struct cx_proc_id owner;     /* ours, in every run's status (docs/supervision.md) */
	struct cx_cgroup tenant_cg;  /* where each run gets a cgroup; closed: none */
	bool at_home;                /* we live in tenant_cg itself, with our launcher */
	unsigned outside;            /* live runs whose cgroup was refused: in tenant_cg */
	bool pidns;                  /* without one, each run gets a PID namespace */
};

/* The lifecycle table. */

enum run_event {
	RUN_CANCEL, RUN_TERMINATE, RUN_KILL_DUE, RUN_EXIT, RUN_DRAINED, RUN_EMPTIED, RUN_EVENT_N
};

typedef void run_action(struct cx_run *run);

static void run_finalize(struct cx_run *run);
static void run_handle(struct cx_run *run, enum run_event ev);
static struct cx_run *find(struct cx_sup *sup, const char *run_id);

static int announce(struct cx_run *run)
{
	cx_timer_disarm(run->sup->loop, &run->announce_timer);
	return cx_statusfs_write_run(run->sup->dir.runs_fd, &run->summary);
}

/* The run's cgroup, opened when it is needed rather than held: a closed
 * one (dir_fd -1) when it has none or it cannot be opened. */
static struct cx_cgroup run_cgroup(const struct cx_run *run)
{
	struct cx_cgroup cg = CX_CGROUP_NULL;
	char path[PATH_MAX];
	if (run->in_cgroup && (size_t)snprintf(path, sizeof path, "%s/%s", run->sup->tenant_cg.path,
					       run->summary.run_id) < sizeof path)
		cx_cgroup_open(&cg, path);
	return cg;
}

static void act_ignore(struct cx_run *run)
{
	(void)run;
}

static void act_cancel(struct cx_run *run)
{
	static const char line[] = "cancel\n";
	/* Non-blocking, into a pipe that holds nothing but earlier cancels. It
	 * fails only when the worker is already gone, and then its exit path
	 * finalizes the run. */
	ssize_t w = write(run->control_fd, line, sizeof line - 1);
	(void)w;
}

static void act_terminate(struct cx_run *run)
{
	run->terminated = true;
	run->phase = CX_PHASE_STOPPING;
	cx_proc_signal_group(&run->proc, SIGTERM);
	/* A stopped process takes SIGTERM only once it runs again (as
	 * systemd does, SIGCONT follows). */
	cx_proc_signal_group(&run->proc, SIGCONT);
	cx_timer_arm(run->sup->loop, &run->kill_timer, (uint64_t)run->shutdown_ms);
}

/* SIGKILL to the process group, and to the cgroup (cg, opened): what
 * setsid()'d or double-forked out of the group is still in it. */
static void kill_all(struct cx_run *run, const struct cx_cgroup *cg)
{
	cx_proc_signal_group(&run->proc, SIGKILL);
	if (cg->dir_fd >= 0)
		cx_cgroup_kill(cg);
}

static void act_kill(struct cx_run *run)
{
	struct cx_cgroup cg = run_cgroup(run);
	kill_all(run, &cg);
	cx_cgroup_close(&cg);
}

static void maybe_finalize(struct cx_run *run)
{
	if (run->drained && run->emptied)
		run_finalize(run);
}

static void on_cgroup_event(struct cx_loop *loop, struct cx_watch *w, uint32_t events)
{
	if (cx_cgroup_events_populated(w->fd) == 0)
		run_handle(w->data, RUN_EMPTIED);
}

/* After the worker is gone, nothing of the run may live on: the cgroup
 * (cg, opened) has been killed and the run waits (cgroup.events) until it
 * is empty. */
static void await_empty(struct cx_run *run, const struct cx_cgroup *cg)
{
	run->emptied = cg->dir_fd < 0 || cx_cgroup_populated(cg) <= 0;
	if (run->emptied)
		return;
	run->cg_watch = (struct cx_watch){ cx_cgroup_events_fd(cg), on_cgroup_event, run };
	if (run->cg_watch.fd < 0 || cx_watch_add(run->sup->loop, &run->cg_watch, EPOLLPRI) < 0)
		run->emptied = true; /* cannot watch it: the kill was sent, go on */
}

static void act_reap(struct cx_run *run)
{
	/* Kill what is left of it first (its process group: the leader is
	 * unreaped, so the group id cannot have been reused). A cgroup that
	 * is empty already has nothing left to kill or to wait for. */
	struct cx_cgroup cg = run_cgroup(run);
	bool empty = cg.dir_fd >= 0 && cx_cgroup_populated(&cg) == 0;
	if (!empty)
		kill_all(run, &cg);
	siginfo_t info;
	if (cx_proc_reap(&run->proc, &info) > 0) {
		cx_worker_exit_describe(&info, run->summary.exit, sizeof run->summary.exit);
		cx_watch_del(run->sup->loop, &run->exit_watch);
		cx_timer_disarm(run->sup->loop, &run->kill_timer);
		cx_proc_release(&run->proc);
		run->phase = CX_PHASE_EXITED;
		if (!empty)
			await_empty(run, &cg);
	} /* else a readable pidfd means it exited; if not, the watch fires again */
	cx_cgroup_close(&cg);
	if (run->phase == CX_PHASE_EXITED)
		maybe_finalize(run);
}

static void act_note_drained(struct cx_run *run)
{
	run->drained = true;
}

static void act_drained(struct cx_run *run)
{
	run->drained = true;
	maybe_finalize(run);
}

static void act_emptied(struct cx_run *run)
{
	cx_watch_del(run->sup->loop, &run->cg_watch);
	close(run->cg_watch.fd);
	run->cg_watch.fd = -1;
	run->emptied = true;
	maybe_finalize(run);
}

static run_action *const actions[CX_PHASE_N][RUN_EVENT_N] = {
	[CX_PHASE_LIVE] = {
		[RUN_CANCEL] = act_cancel, [RUN_TERMINATE] = act_terminate,
		[RUN_KILL_DUE] = act_ignore, [RUN_EXIT] = act_reap,
		[RUN_DRAINED] = act_note_drained, [RUN_EMPTIED] = act_ignore,
	},
	[CX_PHASE_STOPPING] = {
		[RUN_CANCEL] = act_ignore, [RUN_TERMINATE] = act_ignore,
		[RUN_KILL_DUE] = act_kill, [RUN_EXIT] = act_reap,
		[RUN_DRAINED] = act_note_drained, [RUN_EMPTIED] = act_ignore,
	},
	[CX_PHASE_EXITED] = {
		[RUN_CANCEL] = act_ignore, [RUN_TERMINATE] = act_ignore,
		[RUN_KILL_DUE] = act_ignore, [RUN_EXIT] = act_ignore,
		[RUN_DRAINED] = act_drained, [RUN_EMPTIED] = act_emptied,
	},
	[CX_PHASE_FINAL] = {
		[RUN_CANCEL] = act_ignore, [RUN_TERMINATE] = act_ignore,
		[RUN_KILL_DUE] = act_ignore, [RUN_EXIT] = act_ignore,
		[RUN_DRAINED] = act_ignore, [RUN_EMPTIED] = act_ignore,
	},
};

static void run_handle(struct cx_run *run, enum run_event ev)
{
	actions[run->phase][ev](run);
}

/* Relaying the worker's lines. */

/* Writes result.json if it is still to be written: 0 or -errno. */
static int write_result(struct cx_run *run)
{
	int r = run->result ? cx_statusfs_write_result(run->sup->dir.runs_fd, run->summary.run_id,
						       run->result) : 0;
	if (r == 0) {
		free(run->result);
		run->result = NULL;
	}
	return r;
}

static void announce_later(struct cx_run *run)
{
	if (!cx_timer_armed(&run->announce_timer))
		cx_timer_arm(run->sup->loop, &run->announce_timer, ANNOUNCE_DELAY_MS);
}

/* What an event changes in the run's summary, and when that is written:
 * a change of status or round once the lines read with it are relayed
 * (relay_lines); the terminal event's with the final status, once the
 * worker is reaped (or lazily, should the worker linger); member, token
 * and tool events, and every event of a sub-council (its rounds are not
 * the run's), change only the count, written lazily (record). Only
 * recorded events apply. */
static void apply(struct cx_run *run, const struct cx_event_header *h, const char *line,
		  size_t len)
{
	struct cx_run_summary *s = &run->summary;
	enum cx_event_type type = h->sub ? CX_EV_MEMBER_TOKEN : h->type;
	cJSON *ev = NULL;
	switch (type) {
	case CX_EV_RUN_STARTED:
		s->status = CX_RUN_RUNNING;
		run->announce_due = true;
		break;
	case CX_EV_ROUND_STARTED: {
		ev = cJSON_ParseWithLength(line, len);
		const char *round = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "round"));
		strlcpy(s->round, round ? round : "?", sizeof s->round);
		s->round_idx = (int)cx_json_int(ev, "idx", 0, INT_MAX, 0);
		run->announce_due = true;
		break;
	}
	case CX_EV_ROUND_COMPLETED:
		s->rounds_completed++;
		s->round[0] = '\0';
		s->round_idx = -1;
		run->announce_due = true;
		break;
	case CX_EV_RUN_COMPLETED:
	case CX_EV_RUN_FAILED:
		ev = cJSON_ParseWithLength(line, len);
		s->status = cx_terminal_status(type, ev);
		s->finished_at_ms = cx_wall_ms();
		s->round[0] = '\0';
		s->round_idx = -1;
		run->result = cJSON_PrintUnformatted(cJSON_GetObjectItem(ev, "result"));
		write_result(run); /* else the run's end writes it (write_final) */
		run->terminal = true;
		break;
	default:
		break;
	}
	cJSON_Delete(ev);
}

/* The runtime directory cannot take the run's events (full, or failing):
 * the run cannot go on unrecorded, so it is stopped; its reserve
 * (rundir.h) leaves room to record its end. */
static void storage_lost(struct cx_run *run, int error)
{
	run->storage_error = error;
	act_kill(run);
}

/* Appends n events to the events file, then to the subscribers, then
 * applies what they change. A write that fails leaves the file as it was
 * (no torn line), the events unrecorded and unapplied, and the run
 * stopped. Returns false then. */
static bool record(struct cx_run *run, const char *data, size_t len, unsigned n)
{
	if (!len)
		return true;
	int r = cx_write_all(run->events_fd, data, len);
	if (r < 0) {
		if (ftruncate(run->events_fd, run->events_size) < 0)
			r = -errno;
		run->summary.events -= n;
		storage_lost(run, -r);
		return false;
	}
	run->events_size += (off_t)len;
	cx_relay_publish(&run->relay, data, len, n);
	for (size_t pos = 0; pos < len;) {
		const char *line = data + pos, *nl = memchr(line, '\n', len - pos);
		size_t k = (size_t)(nl - line);
		struct cx_event_header h;
		if (cx_event_header_parse(line, k, &h) == 0 && h.type != CX_EV_MEMBER_TOKEN)
			apply(run, &h, line, k);
		pos += k + 1;
	}
	/* Every recorded event changes the count: one rewrite at most every
	 * ANNOUNCE_DELAY_MS, however many tokens stream meanwhile. */
	announce_later(run);
	return true;
}

/* Takes the whole lines at the start of data; returns how many bytes they
 * make. A line is accepted only if it is an event with the next seq and no
 * terminal event came before it; anything else is refused and counted, and
 * the run goes on. What one read brought is recorded at once. */
static size_t relay_lines(struct cx_run *run, char *data, size_t len)
{
	size_t pos = 0, batch = 0;
	unsigned n_batch = 0;
	bool ended = run->terminal;
	char *nl;
	while ((nl = memchr(data + pos, '\n', len - pos))) {
		char *line = data + pos;
		size_t n = (size_t)(nl - line) + 1;
		struct cx_event_header h;
		pos += n;
		if (ended || cx_event_header_parse(line, n - 1, &h) < 0 ||
		    h.seq != run->summary.events + 1) {
			record(run, data + batch, (size_t)(line - data) - batch, n_batch);
			batch = pos;
			n_batch = 0;
			run->rejected++;
			continue;
		}
		run->summary.events = h.seq;
		n_batch++;
		ended = cx_event_terminal(h.type) && !h.sub;
	}
	record(run, data + batch, pos - batch, n_batch);
	/* The events file and the subscribers have the lines: now the status
	 * may say what they did, and the relay may end. */
	if (run->terminal)
		cx_relay_finish(&run->relay);
	else if (run->announce_due)
		announce(run);
	run->announce_due = false;
	return pos;
}

/* Reads go to the supervisor's one buffer and are relayed from there; only
 * a line the read cut in two waits in the run's own buffer, so an idle run
 * holds no buffer at all. */
static void on_worker_events(struct cx_loop *loop, struct cx_watch *w, uint32_t events)
{
	struct cx_run *run = w->data;
	struct cx_buf *in = &run->sup->scratch;
	cx_buf_clear(in);
	ssize_t got = cx_buf_read(in, w->fd, READ_CHUNK);
	if (got == -EAGAIN)
		return;
	if (got > 0 && run->storage_error) {
		cx_buf_free(&run->in); /* being killed: nothing more is recorded */
		return;
	}
	if (got > 0) {
		if (cx_buf_unread(&run->in)) {
			if (cx_buf_append(&run->in, cx_buf_head(in), cx_buf_unread(in)) < 0) {
				cx_buf_clear(&run->in); /* out of memory: the line is lost */
				run->rejected++;
			}
			in = &run->in;
		}
		cx_buf_consume(in, relay_lines(run, cx_buf_head(in), cx_buf_unread(in)));
		if (in != &run->in && cx_buf_unread(in) &&
		    cx_buf_append(&run->in, cx_buf_head(in), cx_buf_unread(in)) < 0)
			run->rejected++;
		if (cx_buf_unread(&run->in) > EVENT_LINE_MAX) {
			run->rejected++;
			cx_buf_clear(&run->in);
		}
		if (!cx_buf_unread(&run->in))
			cx_buf_free(&run->in);
		return;
	}
	/* EOF (or a broken pipe): a trailing partial line is refused. */
	if (cx_buf_unread(&run->in))
		run->rejected++;
	cx_buf_free(&run->in);
	cx_watch_del(loop, w);
	close(w->fd);
	w->fd = -1;
	run_handle(run, RUN_DRAINED);
}

static void on_worker_exit(struct cx_loop *loop, struct cx_watch *w, uint32_t events)
{
	run_handle(w->data, RUN_EXIT);
}

static void on_kill_due(struct cx_loop *loop, struct cx_timer *t)
{
	run_handle(t->data, RUN_KILL_DUE);
}

static void on_announce_due(struct cx_loop *loop, struct cx_timer *t)
{
	announce(t->data);
}

/* Finalizing: every run gets exactly one terminal event. */

/* Writes the run_failed the worker could not: kind killed or crashed (or
 * what the caller names), through the same path as the worker's own lines,
 * with room for it given up from the run's reserve. */
static void synthesize_failure(struct cx_run *run, const char *kind, const char *message)
{
	size_t len;
	char *line = cx_failure_event(&run->summary, run->sup->dir.runs_fd, kind, message, &len);
	if (!line)
		return;
	cx_buf_free(&run->in);
	cx_rundir_reserve_give(run->sup->dir.runs_fd, run->summary.run_id, len, STATUS_ROOM);
	relay_lines(run, line, len);
	free(line);
}

static void describe_death(struct cx_run *run, const char **kind, char *msg, size_t size)
{
	const char *exit = run->summary.exit;
	bool by_signal = !strncmp(exit, "killed ", 7);
	bool killed = run->terminated || (by_signal && (!strcmp(exit + 7, "SIGKILL") ||
							!strcmp(exit + 7, "SIGTERM")));
	*kind = run->storage_error ? "storage" : killed ? "killed" : "crashed";
	if (run->storage_error)
		snprintf(msg, size, "stopped: the runtime directory cannot take its events: %s",
			 strerror(run->storage_error));
	else if (run->terminated)
		snprintf(msg, size, "terminated by request: worker %s", exit);
	else
		snprintf(msg, size, "worker %s without a terminal event", exit);
}

/* The first of the run's final writes still to do (its terminal event,
 * result.json), and why it failed, into the summary for the status to
 * say; "" when they are done. */
static void note_unwritten(struct cx_run *run, int error)
{
	const char *what = !run->terminal ? cx_run_file_name(CX_RUN_EVENTS)
			   : run->result ? cx_run_file_name(CX_RUN_RESULT) : NULL;
	if (what)
		snprintf(run->summary.unwritten, sizeof run->summary.unwritten, "%s: %s", what,
			 strerror(error));
	else
		run->summary.unwritten[0] = '\0';
}

static bool final_written(const struct cx_run *run)
{
	return run->terminal && !run->result && !run->status_due;
}

/* The run's end on disk, in this order: its terminal event, result.json,
 * its final status (which says what of the others is missing, and why).
 * Each takes its room from the run's reserve just before it is written,
 * and the rest of the reserve is kept until all are: the room a full file
 * system frees is anybody's. What fails even so is tried again, backing
 * off, for as long as the supervisor lives. */
static void write_final(struct cx_run *run)
{
	int runs_fd = run->sup->dir.runs_fd, error = 0;
	const char *id = run->summary.run_id;
	if (!run->terminal) {
		const char *kind;
		char msg[128];
		int lost = run->storage_error; /* the kind, on every try */
		describe_death(run, &kind, msg, sizeof msg);
		run->storage_error = 0;
		synthesize_failure(run, kind, msg);
		error = run->terminal ? 0 : run->storage_error ? run->storage_error : ENOMEM;
		run->storage_error = lost;
	}
	if (run->terminal && run->result) {
		cx_rundir_reserve_give(runs_fd, id, strlen(run->result), STATUS_ROOM);
		error = -write_result(run);
	}
	char said[sizeof run->summary.unwritten];
	strlcpy(said, run->summary.unwritten, sizeof said);
	note_unwritten(run, error);
	if (run->status_due || strcmp(said, run->summary.unwritten)) {
		cx_rundir_reserve_give(runs_fd, id, STATUS_ROOM / 2, 0);
		run->status_due = announce(run) < 0;
	}
	if (final_written(run)) {
		cx_rundir_release(runs_fd, id);
		cx_timer_disarm(run->sup->loop, &run->write_timer);
		/* Guarded until now: should we die before this, our guardian
		 * finishes what we left of the run's end. */
		cx_launcher_forget(&run->sup->launcher, id);
		return;
	}
	run->write_backoff_ms = run->write_backoff_ms ? run->write_backoff_ms * 2 : RETRY_MIN_MS;
	if (run->write_backoff_ms > RETRY_MAX_MS)
		run->write_backoff_ms = RETRY_MAX_MS;
	cx_timer_arm(run->sup->loop, &run->write_timer, run->write_backoff_ms);
}

static void on_write_due(struct cx_loop *loop, struct cx_timer *t)
{
	write_final(t->data);
}

/* What left a run's cgroup for the tenant's, where only we and our
 * launcher belong (containment.h), dies with the run it left: the run's
 * end would otherwise not be the end of its members. */
static void kill_strays(struct cx_sup *sup)
{
	pid_t keep[] = { getpid(), sup->launcher.proc.pid };
	/* A live run the kernel kept out of a cgroup of its own is in ours:
	 * strays cannot be told from its members until it is over. */
	if (sup->at_home && !sup->outside)
		cx_cgroup_kill_strays(&sup->tenant_cg, keep, sup->launcher.proc.pidfd >= 0 ? 2 : 1);
}

static void run_finalize(struct cx_run *run)
{
	if (!run->in_cgroup && run->sup->tenant_cg.dir_fd >= 0)
		run->sup->outside--;
	kill_strays(run->sup);
	run->phase = CX_PHASE_FINAL;
	run->sup->live--;
	if (run->control_fd >= 0)
		close(run->control_fd);
	run->control_fd = -1;
	cx_buf_free(&run->in);
	run->status_due = true;
	write_final(run);
	/* Subscribers end with the terminal event; without it (no room for
	 * it yet), they wait for the write that brings it. */
	if (run->terminal)
		cx_relay_finish(&run->relay);
	if (run->sup->on_down) {
		char reason[48];
		cx_down_reason(&run->summary, run->terminated, reason, sizeof reason);
		run->sup->on_down(run->sup->on_down_data, &run->summary, reason);
	}
}

/* Creating and freeing runs. */

static void run_free(struct cx_run *run)
{
	struct cx_loop *loop = run->sup->loop;
	cx_relay_fini(&run->relay);
	cx_watch_del(loop, &run->exit_watch);
	cx_watch_del(loop, &run->event_watch);
	cx_timer_disarm(loop, &run->kill_timer);
	cx_timer_disarm(loop, &run->announce_timer);
	cx_timer_disarm(loop, &run->write_timer);
	free(run->result);
	if (run->event_watch.fd >= 0)
		close(run->event_watch.fd);
	if (run->control_fd >= 0)
		close(run->control_fd);
	cx_proc_release(&run->proc);
	cx_buf_free(&run->in);
	if (run->cg_watch.fd >= 0) {
		cx_watch_del(loop, &run->cg_watch);
		close(run->cg_watch.fd);
	}
	/* Its cgroup, empty since the run became final, goes when the run is
	 * forgotten: removing a cgroup is slow, and need not hold up anybody
	 * waiting for the run to end (terminate_all, a DOWN). */
	struct cx_cgroup cg = run_cgroup(run);
	if (cg.dir_fd >= 0 && cx_cgroup_remove(&cg) < 0)
		cx_cgroup_close(&cg);
	close(run->events_fd);
	free(run);
}

static struct cx_run *run_new(struct cx_sup *sup, const char *run_id, const char *council,
			      int events_fd)
{
	struct cx_run *run = calloc(1, sizeof *run);
	if (!run)
		return NULL;
	struct cx_run_summary *s = &run->summary;
	strlcpy(s->run_id, run_id, sizeof s->run_id);
	strlcpy(s->council, council, sizeof s->council);
	strlcpy(s->tenant, sup->tenant, sizeof s->tenant);
	s->status = CX_RUN_PENDING;
	s->round_idx = -1;
	s->started_at_ms = cx_wall_ms();
	strcpy(s->exit, "-");
	s->owner = sup->owner;
	run->phase = CX_PHASE_LIVE;
	run->sup = sup;
	run->proc = CX_PROC_NULL;
	run->events_fd = events_fd;
	run->control_fd = -1;
	run->exit_watch = (struct cx_watch){ -1, on_worker_exit, run };
	run->event_watch = (struct cx_watch){ -1, on_worker_events, run };
	run->kill_timer = CX_TIMER_INIT(on_kill_due, run);
	run->announce_timer = CX_TIMER_INIT(on_announce_due, run);
	run->write_timer = CX_TIMER_INIT(on_write_due, run);
	run->cg_watch.fd = -1;
	run->emptied = true;
	cx_relay_init(&run->relay, sup->loop, events_fd, s->run_id);
	return run;
}

/* Refuses a start that got its directory but no worker (no descriptor, no
 * process to be had): the caller is told why and was never given the run
 * id, so nothing of the run may stay behind (its directory, its tenant's
 * link, its cgroup), or it would sit half-made with no one to end it. */
static int run_refuse(struct cx_run *run, const char *why, int r, struct cx_error *err)
{
	struct cx_sup *sup = run->sup;
	char id[CX_RUN_ID_MAX + 1];
	strlcpy(id, run->summary.run_id, sizeof id);
	cx_registry_remove(&sup->registry, run);
	run_free(run);
	cx_rundir_remove_run(&sup->dir, id);
	return cx_fail(err, CX_ESYS, "%s: %s", why, strerror(-r));
}

/* A launcher started since the last start (the one before died, or stopped
 * answering) guards only the worker it forked: it is told of the others. */
static void guard_all(struct cx_sup *sup)
{
	if (sup->guarded == sup->launcher.generation)
		return;
	struct cx_run *run;
	TAILQ_FOREACH(run, &sup->registry.runs, link)
		if (run->phase != CX_PHASE_FINAL && run->proc.pidfd >= 0)
			cx_launcher_guard(&sup->launcher, run->summary.run_id, &run->proc,
					  run->in_cgroup);
	sup->guarded = sup->launcher.generation;
}

static int run_launch(struct cx_run *run, const char *cwd, struct cx_error *err)
{
	struct cx_sup *sup = run->sup;
	struct cx_worker w;
	struct cx_fork_opts where = CX_FORK_OPTS_NONE;
	enum cx_containment got = CX_CONTAIN_PGROUP;
	struct cx_cgroup cg = CX_CGROUP_NULL;
	if (sup->tenant_cg.dir_fd >= 0)
		cx_cgroup_create(&sup->tenant_cg, run->summary.run_id, &cg);
	where.cgroup_fd = cg.dir_fd;
	where.new_pidns = sup->pidns;
	int r = cx_worker_spawn(&w, &sup->launcher, sup->dir.runs_fd, run->summary.run_id, cwd,
				&where, &got);
	run->in_cgroup = got == CX_CONTAIN_CGROUP;
	if (!run->in_cgroup && cg.dir_fd >= 0)
		cx_cgroup_remove(&cg);
	cx_cgroup_close(&cg);
	strlcpy(run->summary.containment, cx_containment_name(got), sizeof run->summary.containment);
	if (r < 0)
		return run_refuse(run, "could not fork the worker", r, err);
	sup->live++;
	sup->outside += !run->in_cgroup && sup->tenant_cg.dir_fd >= 0;
	run->proc = w.proc;
	run->summary.pid = w.proc.pid;
	cx_registry_add_pid(&sup->registry, run);
	run->control_fd = w.control_fd;
	run->exit_watch.fd = w.proc.pidfd;
	run->event_watch.fd = w.event_fd;
	cx_watch_add(sup->loop, &run->exit_watch, EPOLLIN);
	cx_watch_add(sup->loop, &run->event_watch, EPOLLIN);
	guard_all(sup);
	announce(run);
	return CX_OK;
}

/* The public API. */

int cx_sup_new(const struct cx_sup_options *opts, struct cx_sup **out, struct cx_error *err)
{
	struct cx_sup *sup = calloc(1, sizeof *sup);
	if (!sup)
		return cx_fail(err, CX_ENOMEM, "out of memory");
	const char *tenant = opts && opts->tenant ? opts->tenant : "default";
	if (!cx_name_valid(tenant)) {
		free(sup);
		return cx_fail(err, CX_EUSAGE, "invalid tenant name \"%s\"", tenant);
	}
	strlcpy(sup->tenant, tenant, sizeof sup->tenant);
	/* Every run names us as its owner: without a name that can be
	 * proven (or disproven) alive, we may own none. */
	int r = cx_proc_id_self(&sup->owner);
	if (r < 0) {
		free(sup);
		return cx_fail(err, CX_ESYS, "no identity for the supervisor: %s", strerror(-r));
	}
	sup->shutdown_ms = opts && opts->shutdown_ms > 0 ? opts->shutdown_ms : 5000;
	char why[sizeof sup->root + 160];
	r = cx_runtime_dir_ready(opts ? opts->runtime_dir : NULL, true, sup->root, sizeof sup->root,
				 why, sizeof why);
	if (r < 0) {
		free(sup);
		return cx_fail(err, r == -EPERM ? CX_EPERM : CX_ESYS, "%s", why);
	}
	r = cx_rundir_open(&sup->dir, sup->root, sup->tenant);
	if (r < 0) {
		free(sup);
		return cx_fail(err, CX_ESYS, "runtime directory %s: %s", sup->root, strerror(-r));
	}
	r = cx_loop_new(&sup->loop);
	if (r < 0) {
		cx_rundir_close(&sup->dir);
		free(sup);
		return cx_fail(err, CX_ESYS, "epoll: %s", strerror(-r));
	}
	/* Containment (containment.h): a cgroup per run where a writable
	 * cgroup2 lets us; else a PID namespace per run where we may make one;
	 * else each run's process group. COUNCIL_CONTAINMENT caps the level. */
	enum cx_containment cap = CX_CONTAIN_CGROUP;
	const char *knob = getenv("COUNCIL_CONTAINMENT");
	if (knob && *knob && cx_containment_from_name(knob, &cap) < 0) {
		cx_loop_free(sup->loop);
		cx_rundir_close(&sup->dir);
		free(sup);
		return cx_fail(err, CX_EUSAGE, "COUNCIL_CONTAINMENT=%s: not cgroup, pidns or pgroup",
			       knob);
	}
	sup->tenant_cg = CX_CGROUP_NULL;
	if (cap >= CX_CONTAIN_CGROUP &&
	    cx_cgroup_tenant(sup->root, sup->tenant, true, &sup->tenant_cg) < 0)
		sup->tenant_cg = CX_CGROUP_NULL;
	char self[PATH_MAX];
	sup->at_home = sup->tenant_cg.dir_fd >= 0 && cx_cgroup_self_path(self, sizeof self) == 0 &&
		       !strcmp(self, sup->tenant_cg.path);
	sup->pidns = sup->tenant_cg.dir_fd < 0 && cap >= CX_CONTAIN_PIDNS && cx_pidns_available();
	cx_registry_init(&sup->registry);
	/* Forked now, while we are small; without one, we fork the workers. */
	if (cx_launcher_start(&sup->launcher, sup->dir.runs_fd, sup->dir.tenant_fd,
			      sup->tenant_cg.dir_fd) < 0)
		sup->launcher = CX_LAUNCHER_NONE;
	sup->guarded = sup->launcher.generation;
	/* What a dead predecessor's runs left in the tenant's cgroup, which
	 * its guardian does not look into. */
	kill_strays(sup);
	/* Subscribers may close their pipes at any time: that must be an
	 * EPIPE to handle, not a signal that kills the supervisor. */
	struct sigaction old;
	if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
	*out = sup;
	return CX_OK;
}

void cx_sup_free(struct cx_sup *sup)
{
	if (!sup)
		return;
	struct cx_run *run, *next;
	cx_sup_terminate_all(sup);
	uint64_t deadline = cx_mono_ms() + (uint64_t)sup->shutdown_ms + 10000;
	while (sup->live && cx_mono_ms() < deadline)
		cx_loop_turn(sup->loop, 100);
	TAILQ_FOREACH_SAFE(run, &sup->registry.runs, link, next) {
		if (run->phase == CX_PHASE_FINAL && !final_written(run))
			write_final(run); /* a last try */
		cx_registry_remove(&sup->registry, run);
		run_free(run);
	}
	cx_registry_fini(&sup->registry);
	cx_launcher_stop(&sup->launcher);
	cx_buf_free(&sup->scratch);
	if (sup->tenant_cg.dir_fd >= 0)
		cx_cgroup_tenant_release(&sup->tenant_cg);
	cx_loop_free(sup->loop);
	cx_rundir_close(&sup->dir);
	free(sup);
}

struct cx_loop *cx_sup_loop(struct cx_sup *sup)
{
	return sup->loop;
}

const struct cx_proc_id *cx_sup_owner(const struct cx_sup *sup)
{
	return &sup->owner;
}

void cx_sup_hand_over(struct cx_sup *sup, cx_hand_over_fn *fn, void *data)
{
	struct cx_run *run;
	TAILQ_FOREACH(run, &sup->registry.runs, link)
		if (run->phase == CX_PHASE_FINAL)
			cx_relay_hand_over(&run->relay, fn, data);
}

void cx_sup_on_down(struct cx_sup *sup, cx_run_down_fn *fn, void *data)
{
	sup->on_down = fn;
	sup->on_down_data = data;
}

int cx_sup_forget(struct cx_sup *sup, const char *run_id)
{
	struct cx_run *run = find(sup, run_id);
	if (!run)
		return CX_EUNKNOWN_RUN;
	if (run->phase != CX_PHASE_FINAL || !final_written(run) || !cx_relay_idle(&run->relay))
		return CX_ENOT_FINISHED;
	cx_registry_remove(&sup->registry, run);
	run_free(run);
	return CX_OK;
}

size_t cx_sup_runs(struct cx_sup *sup, bool live_only, struct cx_run_summary **out)
{
	*out = reallocarray(NULL, sup->registry.n ? sup->registry.n : 1, sizeof **out);
	size_t n = 0;
	struct cx_run *run;
	if (*out)
		TAILQ_FOREACH(run, &sup->registry.runs, link)
			if (!live_only || run->phase != CX_PHASE_FINAL)
				(*out)[n++] = run->summary;
	return n;
}

void cx_sup_terminate_all(struct cx_sup *sup)
{
	struct cx_run *run;
	TAILQ_FOREACH(run, &sup->registry.runs, link)
		run_handle(run, RUN_TERMINATE);
}

int cx_sup_fd(const struct cx_sup *sup)
{
	return cx_loop_fd(sup->loop);
}

int cx_sup_dispatch(struct cx_sup *sup, int timeout_ms)
{
	int r = cx_loop_turn(sup->loop, timeout_ms);
	return r < 0 ? CX_ESYS : CX_OK;
}

unsigned cx_sup_live(const struct cx_sup *sup)
{
	return sup->live;
}

const char *cx_sup_runtime_dir(const struct cx_sup *sup)
{
	return sup->root;
}

/* Creates runs/<id>/ with spec.json, input.json, options.json and an empty
 * events file. */
static int create_run_dir(struct cx_sup *sup, const char *run_id, const char *spec_json,
			  const cJSON *input, const char *options_json, int *events_fd,
			  struct cx_error *err)
{
	int dfd = cx_rundir_create_run(&sup->dir, run_id);
	if (dfd == -EEXIST)
		return cx_fail(err, CX_EALREADY_STARTED, "run %s already exists", run_id);
	if (dfd < 0)
		return cx_fail(err, CX_ESYS, "creating run directory %s: %s", run_id, strerror(-dfd));
	char *input_text = cJSON_PrintUnformatted(input);
	int r = input_text ? 0 : -ENOMEM;
	if (r == 0)
		r = cx_rundir_reserve(dfd);
	if (r == 0)
		r = cx_write_atomic(dfd, cx_run_file_name(CX_RUN_SPEC), spec_json, strlen(spec_json));
	if (r == 0)
		r = cx_write_atomic(dfd, cx_run_file_name(CX_RUN_INPUT), input_text, strlen(input_text));
	if (r == 0)
		r = cx_write_atomic(dfd, cx_run_file_name(CX_RUN_OPTIONS), options_json,
				    strlen(options_json));
	free(input_text);
	int efd = r < 0 ? -1 : openat(dfd, cx_run_file_name(CX_RUN_EVENTS), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (r == 0 && efd < 0)
		r = -errno;
	close(dfd);
	if (r < 0) {
		cx_rundir_remove_run(&sup->dir, run_id);
		return cx_fail(err, CX_ESYS, "writing run directory %s: %s", run_id, strerror(-r));
	}
	*events_fd = efd;
	return CX_OK;
}

int cx_sup_start(struct cx_sup *sup, const struct cx_start *req,
		 char run_id[CX_RUN_ID_MAX + 1], int *subscriber_fd,
		 struct cx_diags *diags, struct cx_error *err)
{
	if (!req->spec_json)
		return cx_fail(err, CX_EUSAGE, "no spec given");
	struct cx_spec *spec = NULL;
	cJSON *input = NULL;
	struct cx_start_opts opts;
	int ro = cx_start_opts_parse(req->options_json, &opts, diags);
	int rs = cx_spec_parse_run(req->spec_json, strlen(req->spec_json), &opts, &spec, diags);
	int ri = cx_input_parse(req->input_json, &input, diags);
	if (rs < 0 || ri < 0 || ro < 0) {
		cx_spec_free(spec);
		cJSON_Delete(input);
		return cx_fail(err, CX_EINVALID, "invalid council: see the diagnostics");
	}
	char id[CX_RUN_ID_MAX + 1];
	struct stat st;
	int r = CX_OK;
	if (req->cwd && (req->cwd[0] != '/' || stat(req->cwd, &st) < 0 || !S_ISDIR(st.st_mode)))
		r = cx_fail(err, CX_EUSAGE, "cwd %s: not an absolute path to a directory", req->cwd);
	else if (req->run_id && !cx_run_id_valid(req->run_id))
		r = cx_fail(err, CX_EUSAGE, "invalid run_id \"%s\": 1-64 of A-Za-z0-9._-", req->run_id);
	else if (req->run_id)
		strlcpy(id, req->run_id, sizeof id);
	else
		cx_run_id_generate(id);
	if (r == CX_OK && cx_registry_find(&sup->registry, id))
		r = cx_fail(err, CX_EALREADY_STARTED, "run %s already exists", id);
	int events_fd = -1;
	if (r == CX_OK)
		r = create_run_dir(sup, id, req->spec_json, input,
				   req->options_json ? req->options_json : "{}", &events_fd, err);
	struct cx_run *run = NULL;
	if (r == CX_OK && !(run = run_new(sup, id, spec->id, events_fd))) {
		close(events_fd);
		r = cx_fail(err, CX_ENOMEM, "out of memory");
	}
	if (r == CX_OK && cx_registry_add(&sup->registry, run) < 0) {
		run_free(run);
		r = cx_fail(err, CX_ENOMEM, "out of memory");
	}
	if (r == CX_OK) {
		run->shutdown_ms = req->shutdown_ms > 0 ? req->shutdown_ms : sup->shutdown_ms;
		/* Subscribing before the fork: not even run_started can be missed. */
		int q = req->subscribe ? cx_relay_subscribe(&run->relay, 1, subscriber_fd) : 0;
		r = q < 0 ? run_refuse(run, "subscribing", q, err) : run_launch(run, req->cwd, err);
		strlcpy(run_id, id, CX_RUN_ID_MAX + 1);
	}
	cx_spec_free(spec);
	cJSON_Delete(input);
	return r;
}

static struct cx_run *find(struct cx_sup *sup, const char *run_id)
{
	return run_id ? cx_registry_find(&sup->registry, run_id) : NULL;
}

int cx_sup_worker(struct cx_sup *sup, const char *run_id, struct cx_proc *identity)
{
	struct cx_run *run = find(sup, run_id);
	if (!run)
		return CX_EUNKNOWN_RUN;
	/* The pidfd, not the pid, says whether this is still our process: a
	 * worker that has exited is dead before it is reaped. */
	if (run->phase >= CX_PHASE_EXITED || cx_proc_verify(&run->proc) < 0)
		return CX_ERUNNER_DEAD;
	*identity = (struct cx_proc){ run->proc.pid, -1, run->proc.ino };
	return CX_OK;
}

bool cx_sup_run_live(struct cx_sup *sup, const char *run_id)
{
	struct cx_run *run = find(sup, run_id);
	return run && run->phase != CX_PHASE_FINAL;
}

int cx_sup_pid_for(struct cx_sup *sup, const char *run_id, pid_t *pid)
{
	struct cx_proc worker;
	int r = cx_sup_worker(sup, run_id, &worker);
	if (r == CX_OK)
		*pid = worker.pid;
	return r;
}

bool cx_sup_is_worker(struct cx_sup *sup, const struct cx_proc *child)
{
	struct cx_run *run = cx_registry_find_pid(&sup->registry, child->pid);
	return run && cx_proc_equal(&run->proc, child);
}

int cx_sup_run_id(struct cx_sup *sup, pid_t pid, char run_id[CX_RUN_ID_MAX + 1])
{
	struct cx_run *run = cx_registry_find_pid(&sup->registry, pid);
	if (!run)
		return CX_EUNKNOWN_RUN;
	strlcpy(run_id, run->summary.run_id, CX_RUN_ID_MAX + 1);
	return CX_OK;
}

int cx_sup_state(struct cx_sup *sup, const char *run_id, struct cx_run_summary *out)
{
	struct cx_run *run = find(sup, run_id);
	if (!run)
		return CX_ENOT_FOUND;
	*out = run->summary;
	return CX_OK;
}

int cx_sup_fetch_result(struct cx_sup *sup, const char *run_id, int timeout_ms,
			char **result_json, struct cx_error *err)
{
	struct cx_run *run = find(sup, run_id);
	if (!run)
		return cx_fail(err, CX_ENOT_FOUND, "no run %s", run_id ? run_id : "(null)");
	uint64_t deadline = cx_mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	while (run->phase != CX_PHASE_FINAL) {
		uint64_t now = cx_mono_ms();
		if (now >= deadline)
			return cx_fail(err, CX_ETIMEOUT, "run %s not finished after %d ms", run_id, timeout_ms);
		if (cx_loop_turn(sup->loop, (int)(deadline - now)) < 0)
			return cx_fail(err, CX_ESYS, "epoll_wait: %s", strerror(errno));
	}
	if (run->summary.unwritten[0])
		return cx_fail(err, CX_ESYS, "run %s is over, but not yet all written: %s", run_id,
			       run->summary.unwritten);
	char path[CX_RUN_PATH_MAX];
	int r = cx_read_file(sup->dir.runs_fd, cx_run_file(run->summary.run_id, CX_RUN_RESULT, path),
			     cx_run_file_max(CX_RUN_RESULT), result_json, NULL);
	if (r < 0)
		return cx_fail(err, CX_ESYS, "reading result of %s: %s", run_id, strerror(-r));
	return CX_OK;
}

int cx_sup_subscribe(struct cx_sup *sup, const char *run_id, uint64_t since,
		     int *fd, struct cx_error *err)
{
	struct cx_run *run = find(sup, run_id);
	if (!run)
		return cx_fail(err, CX_EUNKNOWN_RUN, "no run %s", run_id ? run_id : "(null)");
	int r = cx_relay_subscribe(&run->relay, since, fd);
	return r < 0 ? cx_fail(err, CX_ESYS, "subscribing: %s", strerror(-r)) : CX_OK;
}

/* cancel and terminate: a request for a run that is no longer live is not
 * an error (OTP: exit signals to dead processes are no-ops). */
static int request(struct cx_sup *sup, const char *run_id, enum run_event ev,
		   struct cx_error *err)
{
	struct cx_run *run = find(sup, run_id);
	if (!run)
		return cx_fail(err, CX_EUNKNOWN_RUN, "no run %s", run_id ? run_id : "(null)");
	run_handle(run, ev);
	return CX_OK;
}

int cx_sup_cancel(struct cx_sup *sup, const char *run_id, struct cx_error *err)
{
	return request(sup, run_id, RUN_CANCEL, err);
}

int cx_sup_terminate(struct cx_sup *sup, const char *run_id, struct cx_error *err)
{
	return request(sup, run_id, RUN_TERMINATE, err);
}
