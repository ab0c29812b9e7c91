/* Driving the soak: runs started through one client connection, a bounded
 * number in flight, each monitored until its DOWN; faults done to them on
 * timers of one event loop; subscribers read (or not) on the same loop;
 * tenant-wide operations, which block until the tenant's runs are final,
 * done by short-lived child processes with connections of their own, so
 * that runs go on starting meanwhile (into the same tenant too). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include "buf.h"
#include "event.h"
#include "fsutil.h"
#include "loop.h"
#include "proc.h"
#include "soak.h"

#define STALL_MS (300 * 1000)   /* nothing moved for this long: something is stuck */
#define GROUP_ODDS 150          /* one start in this many stops a tenant; as many terminate
				 * one's runs, kill its guardian, or kill councild */
#define START_BURST 8           /* starts between two turns of the loop */
#define GIVE_UP_STARTS 20       /* starts failing in a row: councild is not starting runs */
#define ACTOR_CALL_MS (STALL_MS * 2) /* the stall, not the call, says a tenant operation is stuck */
#define SLOW_READ 512           /* what a slow subscriber reads at a time */
#define PROGRESS_MS 10000
#define CUT_OFF_FINAL_MS 60000  /* for a run whose councild was SIGKILLed to be final: its
				 * guardian's work, generously (the machine may be loaded) */

/* A run between its start and its DOWN. */
struct slot {
	struct drive *d;
	struct soak_run *run;       /* NULL: free */
	struct cx_timer fault;      /* kill, cancel, terminate: when it is due; an
				     * embedded run's: its SIGKILL, then a look at
				     * its files until it is over; a cut off run's:
				     * the same look */
	uint64_t cut_ms;            /* when its councild was SIGKILLed */
	struct cx_proc embedded;    /* an embedded run's supervisor, until reaped */
	struct cx_watch embedded_exit;
};

enum sub_mode { SUB_NEVER, SUB_SLOW, SUB_ALL };

struct soak_sub {
	struct drive *d;
	struct soak_run *run;
	enum sub_mode mode;
	int fd;                     /* -1 until subscribed */
	struct cx_watch watch;      /* SUB_ALL: readable */
	struct cx_timer tick;       /* subscribing later; SUB_SLOW: the next read */
	struct cx_timer deadline;   /* SUB_NEVER, SUB_SLOW: when it closes, read or not */
	struct cx_buf in;
	uint64_t next;              /* the seq due next */
	bool any;                   /* an event or lagged line came */
	bool stopped;               /* its run's tenant was stopped meanwhile */
	bool cut;                   /* its pipe's councild was SIGKILLed */
	char previous[48];          /* what came last, for the findings */
};

static const char *const sub_modes[] = { "never reads", "reads slowly", "reads all" };

/* A child doing a tenant operation (tenant_stop, terminate_all). */
struct actor {
	struct drive *d;
	unsigned tenant;
	enum soak_fault op;
	struct cx_proc proc;
	struct cx_watch exit_watch;
	int report;                 /* what went wrong, if anything: read end */
	bool cut;                   /* its councild was SIGKILLed: it may fail */
	LIST_ENTRY(actor) link;
};

struct group {
	unsigned ops;               /* tenant operations in flight on it */
	unsigned stops;             /* of them, tenant_stop: starts may be turned away */
};

struct drive {
	struct cx_client *cl;
	const struct soak_plan *plan;
	struct soak_run *runs;
	struct soak_tally *tally;
	struct soak_violations *v;
	unsigned started;           /* into runs[] */
	struct cx_loop *loop;
	struct cx_watch client;
	struct slot *slots;
	unsigned live;
	unsigned subs;
	struct group *groups;
	LIST_HEAD(, actor) actors;
	unsigned failed_starts;     /* in a row */
	uint64_t moved_ms;          /* when something last moved */
	bool lost;                  /* the connection, or councild */
	pid_t councild;             /* the one now */
};

uint64_t soak_random(uint64_t *state)
{
	/* splitmix64: one word of state, so a seed replays the whole soak. */
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned rnd(struct drive *d, unsigned n)
{
	return (unsigned)(soak_random(d->plan->rng) % n);
}

static void moved(struct drive *d)
{
	d->moved_ms = cx_mono_ms();
}

/* DOWN messages. */

static struct slot *slot_of(struct drive *d, uint64_t ref)
{
	for (unsigned i = 0; i < d->plan->concurrency; i++)
		if (d->slots[i].run && !d->slots[i].run->cut_off && d->slots[i].run->ref == ref)
			return &d->slots[i];
	return NULL;
}

/* Whether the run's status is final: its Exit known, its Status not live. */
static bool run_final(const struct drive *d, const char *run_id)
{
	char path[PATH_MAX], *status;
	snprintf(path, sizeof path, "%s/runs/%s/status", d->plan->root, run_id);
	if (cx_read_file(AT_FDCWD, path, 1 << 16, &status, NULL) < 0)
		return false;
	bool final = !strstr(status, "Exit:\t-\n") && !strstr(status, "Status:\trunning\n") &&
		     !strstr(status, "Status:\tpending\n");
	free(status);
	return final;
}

/* The run is over: its slot takes the next. */
static void slot_free(struct slot *s)
{
	s->run->down = true;
	s->run = NULL;
	s->d->live--;
	moved(s->d);
}

static void on_down(struct drive *d, const cJSON *msg)
{
	const cJSON *ref = cJSON_GetObjectItemCaseSensitive(msg, "ref");
	const char *run_id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "run_id"));
	const char *reason = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "reason"));
	/* Refs are the connection's: a cut off run's, of a connection gone,
	 * may be a ref of this one's too. */
	struct slot *s = cJSON_IsNumber(ref) ? slot_of(d, (uint64_t)ref->valuedouble) : NULL;
	if (!s) {
		soak_violation(d->v, "a DOWN for no monitor in flight: run %s, ref %.0f (%s)",
			       run_id ? run_id : "?", cJSON_GetNumberValue(ref), reason ? reason : "?");
		return;
	}
	struct soak_run *run = s->run;
	if (!run_id || strcmp(run_id, run->run_id))
		soak_violation(d->v, "the DOWN of run %s's monitor names run %s", run->run_id,
			       run_id ? run_id : "(none)");
	/* No tenant supervisor dies in the soak: each run's DOWN says how the
	 * run itself ended. */
	if (!reason || !strcmp(reason, "supervisor_down"))
		soak_violation(d->v, "run %s: DOWN %s", run->run_id, reason ? reason : "without a reason");
	/* As OTP's: a DOWN comes once the run is over, its status final. */
	else if (!run_final(d, run->run_id))
		soak_violation(d->v, "run %s: DOWN %s while its status is not final", run->run_id, reason);
	if (cx_timer_armed(&s->fault)) {
		cx_timer_disarm(d->loop, &s->fault);
		d->tally->missed[run->fault]++;
	}
	slot_free(s);
}

/* Takes every message queued on the connection: after each call (a reply
 * may bring some along) and when the socket is readable. */
static void take_messages(struct drive *d)
{
	cJSON *msg;
	struct cx_error err = { 0 };
	int r;
	while ((r = cx_client_next_message(d->cl, 0, &msg, &err)) == CX_OK) {
		const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "msg"));
		if (type && !strcmp(type, "DOWN"))
			on_down(d, msg);
		else
			soak_violation(d->v, "an unexpected message: %s", type ? type : "(no msg)");
		cJSON_Delete(msg);
	}
	if (r != CX_ETIMEOUT && !d->lost) {
		soak_violation(d->v, "the connection to councild: %s: %s", cx_code_word(r), err.message);
		d->lost = true;
	}
}

static void on_client(struct cx_loop *loop, struct cx_watch *w, uint32_t events)
{
	take_messages(w->data);
}

/* Subscribers: every line checked as it comes, each event the seq after
 * the last, a lagged line standing for as many as it says were dropped. */

static void sub_line(struct soak_sub *sub, const char *line, size_t len)
{
	struct soak_run *run = sub->run;
	cJSON *ev = cJSON_ParseWithLength(line, len);
	const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "type"));
	const char *run_id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "run_id"));
	double seq = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(ev, "seq"));
	double dropped = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(ev, "dropped"));
	if (!type || !run_id || strcmp(run_id, run->run_id)) {
		soak_violation(sub->d->v, "run %s: its subscriber got %.80s", run->run_id, line);
	} else if (!strcmp(type, "lagged") && dropped >= 1) {
		sub->next += (uint64_t)dropped;
		sub->d->tally->lagged++;
	} else if (seq != (double)sub->next) {
		soak_violation(sub->d->v, "run %s: its subscriber (from seq %llu, %s) got seq %.0f "
			       "where %llu was due, after %s%s", run->run_id,
			       (unsigned long long)run->sub_since, sub_modes[sub->mode], seq,
			       (unsigned long long)sub->next, sub->previous,
			       sub->stopped ? " (its tenant was stopped meanwhile)" : "");
		sub->next = seq >= 1 ? (uint64_t)seq + 1 : sub->next;
	} else {
		sub->next++;
	}
	sub->any = true;
	snprintf(sub->previous, sizeof sub->previous, "%s %.0f", type ? type : "?",
		 dropped >= 1 ? dropped : seq);
	cJSON_Delete(ev);
}

/* Whether the run's events file ends with its terminal event. */
static bool events_ended(const struct drive *d, const char *run_id)
{
	char path[PATH_MAX], *text;
	size_t len;
	snprintf(path, sizeof path, "%s/runs/%s/events", d->plan->root, run_id);
	if (cx_read_file(AT_FDCWD, path, SIZE_MAX, &text, &len) < 0)
		return false;
	while (len && text[len - 1] == '\n')
		text[--len] = '\0';
	const char *last = memrchr(text, '\n', len);
	struct cx_event_header h;
	last = last ? last + 1 : text;
	bool ended = cx_event_header_parse(last, len - (size_t)(last - text), &h) == 0 &&
		     cx_event_terminal(h.type) && !h.sub;
	free(text);
	return ended;
}

static void sub_close(struct soak_sub *sub, bool eof)
{
	struct drive *d = sub->d;
	struct soak_run *run = sub->run;
	if (sub->mode == SUB_ALL && sub->fd >= 0)
		cx_watch_del(d->loop, &sub->watch);
	cx_timer_disarm(d->loop, &sub->tick);
	cx_timer_disarm(d->loop, &sub->deadline);
	if (sub->fd >= 0)
		cx_unsubscribe(sub->fd);
	/* An EOF councild's SIGKILL brought (to a pipe of its, or of a run
	 * it had) says nothing of the run. */
	bool cut = sub->cut || run->cut_off;
	if (eof && !cut && !events_ended(d, run->run_id))
		soak_violation(d->v, "run %s: its subscriber (from seq %llu, %s) got EOF before the "
			       "run's terminal event was written", run->run_id,
			       (unsigned long long)run->sub_since, sub_modes[sub->mode]);
	run->sub_eof = eof && !cut;
	run->sub_last = sub->any ? sub->next - 1 : 0;
	run->sub = NULL;
	cx_buf_free(&sub->in);
	free(sub);
	d->subs--;
	moved(d);
}

/* Reads up to max bytes and checks the whole lines; closes at EOF.
 * Returns false when it closed. */
static bool sub_read(struct soak_sub *sub, size_t max)
{
	ssize_t n = cx_buf_read(&sub->in, sub->fd, max);
	if (n == -EAGAIN || n == -EINTR)
		return true;
	if (n <= 0) {
		if (n < 0)
			soak_violation(sub->d->v, "run %s: reading its subscriber pipe: %s",
				       sub->run->run_id, strerror((int)-n));
		/* A writer SIGKILLed with its councild may leave a line half
		 * written; any other ends each line it begins. */
		else if (cx_buf_unread(&sub->in) && !sub->cut && !sub->run->cut_off)
			soak_violation(sub->d->v, "run %s: its subscriber (from seq %llu, %s) got a torn "
				       "line, then EOF, after %s%s", sub->run->run_id,
				       (unsigned long long)sub->run->sub_since, sub_modes[sub->mode],
				       sub->previous, sub->stopped ? " (its tenant was stopped meanwhile)" : "");
		sub_close(sub, n == 0);
		return false;
	}
	char *nl;
	while ((nl = memchr(cx_buf_head(&sub->in), '\n', cx_buf_unread(&sub->in)))) {
		size_t len = (size_t)(nl - cx_buf_head(&sub->in));
		sub_line(sub, cx_buf_head(&sub->in), len);
		cx_buf_consume(&sub->in, len + 1);
	}
	return true;
}

static void on_sub_readable(struct cx_loop *loop, struct cx_watch *w, uint32_t events)
{
	sub_read(w->data, 64 * 1024);
}

static void on_sub_deadline(struct cx_loop *loop, struct cx_timer *t)
{
	sub_close(t->data, false);
}

/* The subscriber's pipe is open: it reads as its mode says. */
static void sub_begin(struct soak_sub *sub, int fd)
{
	struct drive *d = sub->d;
	sub->fd = fd;
	sub->stopped |= d->groups[sub->run->tenant].stops > 0;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	if (sub->mode == SUB_ALL) {
		sub->watch = (struct cx_watch){ fd, on_sub_readable, sub };
		cx_watch_add(d->loop, &sub->watch, EPOLLIN);
		return;
	}
	cx_timer_arm(d->loop, &sub->deadline, 200 + rnd(d, 3000));
	if (sub->mode == SUB_SLOW)
		cx_timer_arm(d->loop, &sub->tick, 10 + rnd(d, 30));
}

static void on_sub_tick(struct cx_loop *loop, struct cx_timer *t)
{
	struct soak_sub *sub = t->data;
	struct drive *d = sub->d;
	if (sub->fd >= 0) {
		if (sub_read(sub, SLOW_READ))
			cx_timer_arm(loop, t, 10 + rnd(d, 30));
		return;
	}
	/* Subscribing after the start, from a seq past the first: the run may
	 * be live, finished, or forgotten by its tenant (councild replays it
	 * from its file then). */
	int fd;
	struct cx_error err = { 0 };
	sub->next = sub->run->sub_since;
	int r = cx_subscribe(d->cl, sub->run->run_id, sub->run->sub_since, &fd, &err);
	take_messages(d);
	if (r != CX_OK) {
		soak_violation(d->v, "run %s: subscribe: %s: %s", sub->run->run_id, cx_code_word(r),
			       err.message);
		sub_close(sub, false);
		return;
	}
	d->tally->faults[FAULT_SLOW_SUBSCRIBER]++;
	sub_begin(sub, fd);
}

/* A slow subscriber for run: never reading, reading a little at a time,
 * or reading all, on the pipe its start gave (fd) or, with fd -1, on one
 * it subscribes to a little later. */
static void sub_new(struct drive *d, struct soak_run *run, int fd)
{
	struct soak_sub *sub = calloc(1, sizeof *sub);
	if (!sub) {
		if (fd >= 0)
			cx_unsubscribe(fd);
		return;
	}
	*sub = (struct soak_sub){
		.d = d, .run = run, .mode = (enum sub_mode)rnd(d, 3), .fd = -1, .next = 1,
		.previous = "nothing",
		.tick = CX_TIMER_INIT(on_sub_tick, sub),
		.deadline = CX_TIMER_INIT(on_sub_deadline, sub),
	};
	run->sub = sub;
	run->sub_since = 1;
	d->subs++;
	if (fd >= 0) {
		d->tally->faults[FAULT_SLOW_SUBSCRIBER]++;
		sub_begin(sub, fd);
		return;
	}
	run->sub_since = 1 + rnd(d, 5);
	cx_timer_arm(d->loop, &sub->tick, rnd(d, 300));
}

/* Tenant operations, each in a child of its own. */

static void __attribute__((noreturn))
actor_main(pid_t parent, const char *root, unsigned tenant, enum soak_fault op, int report)
{
	char name[CX_NAME_MAX + 1];
	struct cx_client_options o = { .runtime_dir = root, .call_timeout_ms = ACTOR_CALL_MS };
	struct cx_client *cl = NULL;
	struct cx_error err = { 0 };
	/* What the parent holds (its connection, subscriber pipes) is not ours
	 * to keep open: a pipe held here would outlive its close there. */
	if (!cx_proc_child_init(parent) || dup2(report, 3) < 0)
		_exit(1);
	closefrom(4);
	soak_tenant_name(tenant, name);
	int r = cx_client_connect(&o, &cl, &err);
	if (r == CX_OK)
		r = op == FAULT_TENANT_STOP ? cx_tenant_stop(cl, name, &err)
					    : cx_terminate_all(cl, name, &err);
	/* A stopped tenant takes no runs until it is started again. */
	if (r == CX_OK && op == FAULT_TENANT_STOP)
		r = cx_tenant_start(cl, name, &err);
	if (r != CX_OK)
		dprintf(3, "%s %s: %s: %s", soak_fault_name(op), name, cx_code_word(r), err.message);
	_exit(r == CX_OK ? 0 : 1);
}

static void actor_free(struct actor *a)
{
	struct drive *d = a->d;
	cx_watch_del(d->loop, &a->exit_watch);
	cx_proc_release(&a->proc);
	close(a->report);
	d->groups[a->tenant].ops--;
	d->groups[a->tenant].stops -= a->op == FAULT_TENANT_STOP;
	LIST_REMOVE(a, link);
	free(a);
	moved(d);
}

static void on_actor_exit(struct cx_loop *loop, struct cx_watch *w, uint32_t events)
{
	struct actor *a = w->data;
	siginfo_t info;
	if (cx_proc_reap(&a->proc, &info) <= 0)
		return;
	if ((info.si_code != CLD_EXITED || info.si_status != 0) && !a->cut) {
		char why[512] = "", how[64];
		ssize_t n = read(a->report, why, sizeof why - 1);
		why[n > 0 ? n : 0] = '\0';
		cx_exit_describe(&info, how, sizeof how);
		soak_violation(a->d->v, "%s", why[0] ? why : how);
	}
	actor_free(a);
}

/* Starts op on tenant. Its live runs, and those started while it is in
 * flight, may be killed by it. */
static void actor_spawn(struct drive *d, unsigned tenant, enum soak_fault op)
{
	int p[2];
	struct actor *a = calloc(1, sizeof *a);
	if (!a || pipe2(p, O_CLOEXEC) < 0) {
		free(a);
		soak_violation(d->v, "%s: no pipe for its child: %s", soak_fault_name(op), strerror(errno));
		return;
	}
	pid_t parent = getpid();
	struct cx_proc proc;
	int r = cx_proc_fork(&proc);
	if (r == 0)
		actor_main(parent, d->plan->root, tenant, op, p[1]);
	close(p[1]);
	if (r < 0) {
		close(p[0]);
		free(a);
		soak_violation(d->v, "%s: fork: %s", soak_fault_name(op), strerror(-r));
		return;
	}
	*a = (struct actor){ .d = d, .tenant = tenant, .op = op, .proc = proc, .report = p[0] };
	a->exit_watch = (struct cx_watch){ a->proc.pidfd, on_actor_exit, a };
	cx_watch_add(d->loop, &a->exit_watch, EPOLLIN);
	LIST_INSERT_HEAD(&d->actors, a, link);
	d->groups[tenant].ops++;
	d->groups[tenant].stops += op == FAULT_TENANT_STOP;
	d->tally->faults[op]++;
	for (unsigned i = 0; i < d->plan->concurrency; i++)
		if (d->slots[i].run && d->slots[i].run->tenant == tenant)
			d->slots[i].run->exposed = true;
	for (unsigned i = 0; op == FAULT_TENANT_STOP && i < d->started; i++)
		if (d->runs[i].sub && d->runs[i].tenant == tenant)
			d->runs[i].sub->stopped = true;
}

/* A descendant of councild whose title begins with title and whose
 * parent is parent (0: any), or 0. */
static pid_t descendant(const struct drive *d, const char *title, pid_t parent)
{
	struct soak_proc *all;
	int n = soak_descendants(d->councild, &all);
	pid_t found = 0;
	for (int i = 0; i < n && !found; i++)
		if ((!parent || all[i].ppid == parent) && all[i].state != 'Z' &&
		    !strncmp(all[i].title, title, strlen(title)) &&
		    (all[i].title[strlen(title)] == '\0' || all[i].title[strlen(title)] == ' '))
			found = all[i].pid;
	if (n > 0)
		free(all);
	return found;
}

/* SIGKILL to a tenant's launcher, its guardian (docs/supervision.md): the
 * tenant starts a new one at its next start, and no run notices. Through
 * a pidfd, opened once /proc showed the pid as that launcher, and checked
 * again after. */
static void kill_guardian(struct drive *d, unsigned tenant)
{
	char name[CX_NAME_MAX + 1], sup_title[CX_NAME_MAX + 16];
	soak_tenant_name(tenant, name);
	snprintf(sup_title, sizeof sup_title, "council-sup %s", name);
	pid_t sup = descendant(d, sup_title, 0);
	pid_t launcher = sup ? descendant(d, "council-launch", sup) : 0;
	struct cx_proc p;
	if (!launcher || cx_proc_open(&p, launcher) < 0)
		return;
	if (descendant(d, "council-launch", sup) == launcher && cx_proc_signal(&p, SIGKILL) == 0)
		d->tally->faults[FAULT_KILL_GUARDIAN]++;
	cx_proc_release(&p);
}

/* SIGKILL to councild while runs are live (docs/supervision.md): its
 * tenant supervisors die with it, and their guardians kill and finalize
 * their runs; a new councild on the same directory finds every tenant
 * stopped and starts each at its first start. The runs it had are cut
 * off: their monitors went with the connection, so each is over when its
 * files say so; its subscribers' pipes end where they are. The DOWNs
 * already sent are taken first. */
static void kill_councild(struct drive *d)
{
	take_messages(d);
	struct cx_client *cl = d->plan->councild_restart(d->plan->ctx, &d->councild);
	uint64_t now = cx_mono_ms();
	cx_watch_del(d->loop, &d->client);
	cx_client_close(d->cl);
	d->cl = cl;
	d->tally->faults[FAULT_KILL_COUNCILD]++;
	for (unsigned i = 0; i < d->plan->concurrency; i++) {
		struct slot *s = &d->slots[i];
		if (!s->run || s->run->cut_off || s->run->fault == FAULT_EMBEDDED ||
		    s->run->fault == FAULT_EMBEDDED_KILL)
			continue;
		s->run->cut_off = true;
		s->cut_ms = now;
		cx_timer_disarm(d->loop, &s->fault); /* a fault not done: councild's death is */
		cx_timer_arm(d->loop, &s->fault, 0);
	}
	for (unsigned i = 0; i < d->started; i++)
		if (d->runs[i].sub && d->runs[i].sub->fd >= 0)
			d->runs[i].sub->cut = true;
	struct actor *a;
	LIST_FOREACH(a, &d->actors, link)
		a->cut = true;
	if (!cl) {
		d->lost = true;
		return;
	}
	d->client = (struct cx_watch){ cx_client_fd(cl), on_client, d };
	cx_watch_add(d->loop, &d->client, EPOLLIN);
	moved(d);
}

/* A tenant operation (f from FAULT_GROUP on) on a tenant chosen at random,
 * or councild's SIGKILL. */
static void group_fault(struct drive *d, enum soak_fault f)
{
	unsigned tenant = rnd(d, d->plan->tenants);
	if (f == FAULT_KILL_GUARDIAN)
		kill_guardian(d, tenant);
	else if (f == FAULT_KILL_COUNCILD)
		kill_councild(d);
	else
		actor_spawn(d, tenant, f);
}

/* Embedded supervisors beside councild: a child of ours runs one run
 * with a supervisor of its own (as `councilctl run` does) in the run's
 * tenant directory. councild must leave the run alone; when the child is
 * SIGKILLed (FAULT_EMBEDDED_KILL), its guardian must finish the run, with
 * no other process's help. Such a run has no DOWN: it is over when its
 * child has exited and its status is final. */

#define EMBEDDED_LOOK_MS 20

static void __attribute__((noreturn))
embedded_main(pid_t parent, const char *root, const char *tenant, const char *spec, int report)
{
	if (!cx_proc_child_init(parent) || dup2(report, 3) < 0)
		_exit(1);
	closefrom(4);
	struct cx_sup_options o = { .runtime_dir = root, .tenant = tenant };
	struct cx_start start = { .spec_json = spec };
	struct cx_sup *sup;
	struct cx_diags diags = { 0 };
	struct cx_error err = { 0 };
	char run_id[CX_RUN_ID_MAX + 1];
	if (cx_sup_new(&o, &sup, &err) != CX_OK ||
	    cx_sup_start(sup, &start, run_id, NULL, &diags, &err) != CX_OK) {
		dprintf(3, "!%s", err.message);
		_exit(1);
	}
	dprintf(3, "%s", run_id);
	close(3);
	while (cx_sup_live(sup) && cx_sup_dispatch(sup, -1) == CX_OK)
		;
	cx_sup_free(sup);
	_exit(0);
}

static void on_embedded_exit(struct cx_loop *loop, struct cx_watch *w, uint32_t events)
{
	struct slot *s = w->data;
	siginfo_t info;
	if (cx_proc_reap(&s->embedded, &info) <= 0)
		return;
	cx_watch_del(loop, w);
	cx_proc_release(&s->embedded);
	if (info.si_code == CLD_EXITED && info.si_status != 0)
		soak_violation(s->d->v, "run %s: its embedded supervisor exited %d", s->run->run_id,
			       info.si_status);
	cx_timer_disarm(loop, &s->fault);
	cx_timer_arm(loop, &s->fault, 0);
}

/* A run no DOWN tells of (an embedded one once its supervisor is reaped,
 * a cut off one): over once its status is final and its events file ends
 * with its terminal event. Until then, looks again a little later; a cut
 * off run not over CUT_OFF_FINAL_MS after its councild's SIGKILL is a
 * violation, and is let go. */
static bool run_over(struct slot *s)
{
	struct drive *d = s->d;
	struct soak_run *run = s->run;
	if (run_final(d, run->run_id) && events_ended(d, run->run_id))
		return true;
	if (run->cut_off && cx_mono_ms() - s->cut_ms > CUT_OFF_FINAL_MS) {
		soak_violation(d->v, "run %s (fault %s): not over %d s after its councild was "
			       "SIGKILLed: its status is not final or its events file has no terminal "
			       "event", run->run_id, soak_fault_name(run->fault), CUT_OFF_FINAL_MS / 1000);
		slot_free(s);
		return false;
	}
	cx_timer_arm(d->loop, &s->fault, EMBEDDED_LOOK_MS);
	return false;
}

/* The embedded side of on_fault_due: the SIGKILL while the child lives,
 * then (once it is reaped) the run's files, until it is over. */
static void embedded_due(struct slot *s)
{
	struct drive *d = s->d;
	struct soak_run *run = s->run;
	if (s->embedded.pidfd >= 0) {
		if (cx_proc_signal(&s->embedded, SIGKILL) == 0) {
			run->injected = true;
			d->tally->faults[run->fault]++;
		}
		return;
	}
	if (!run_over(s))
		return;
	if (run->fault == FAULT_EMBEDDED_KILL && !run->injected)
		d->tally->missed[run->fault]++;
	if (run->fault == FAULT_EMBEDDED)
		d->tally->faults[run->fault]++;
	slot_free(s);
}

/* Starts spec in tenant name under an embedded supervisor for slot s:
 * CX_OK with the run id in st, or a failure in err. */
static int embedded_start(struct drive *d, struct slot *s, const char *name, const char *spec,
			  struct cx_started *st, struct cx_error *err)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return cx_fail(err, CX_ESYS, "pipe: %s", strerror(errno));
	pid_t parent = getpid();
	int r = cx_proc_fork(&s->embedded);
	if (r == 0)
		embedded_main(parent, d->plan->root, name, spec, p[1]);
	close(p[1]);
	char said[CX_RUN_ID_MAX + 256] = "";
	ssize_t n = r < 0 ? -1 : read(p[0], said, sizeof said - 1);
	close(p[0]);
	said[n > 0 ? n : 0] = '\0';
	if (r < 0)
		return cx_fail(err, CX_ESYS, "fork: %s", strerror(-r));
	s->embedded_exit = (struct cx_watch){ s->embedded.pidfd, on_embedded_exit, s };
	cx_watch_add(d->loop, &s->embedded_exit, EPOLLIN);
	if (n <= 0 || said[0] == '!' || !cx_run_id_valid(said))
		return cx_fail(err, CX_ESYS, "embedded supervisor: %s", n > 0 ? said + 1 : "said nothing");
	*st = (struct cx_started){ .pid = 0 };
	snprintf(st->run_id, sizeof st->run_id, "%s", said);
	return CX_OK;
}

/* Faults done to a live run. */

/* SIGKILL through a pidfd, once /proc shows the pid is still this run's
 * worker (its title names the run): then the pidfd, opened first, is the
 * worker's, whatever happens to the pid after. */
static bool kill_worker(const struct soak_run *run)
{
	struct cx_proc p;
	char title[256], want[CX_RUN_ID_MAX + 16];
	if (cx_proc_open(&p, run->pid) < 0)
		return false;
	soak_title(run->pid, title, sizeof title);
	snprintf(want, sizeof want, "council-run %s ", run->run_id);
	bool ours = !strncmp(title, want, strlen(want)) && cx_proc_signal(&p, SIGKILL) == 0;
	cx_proc_release(&p);
	return ours;
}

static void on_fault_due(struct cx_loop *loop, struct cx_timer *t)
{
	struct slot *s = t->data;
	struct drive *d = s->d;
	struct soak_run *run = s->run;
	struct cx_error err = { 0 };
	int r = CX_OK;
	if (run->fault == FAULT_EMBEDDED || run->fault == FAULT_EMBEDDED_KILL) {
		embedded_due(s);
		return;
	}
	if (run->cut_off) {
		if (run_over(s))
			slot_free(s);
		return;
	}
	if (run->fault == FAULT_KILL) {
		if (!kill_worker(run)) {
			d->tally->missed[FAULT_KILL]++;
			return;
		}
	} else if (run->fault == FAULT_CANCEL) {
		r = cx_cancel(d->cl, run->run_id, &err);
	} else {
		r = cx_terminate_run(d->cl, run->run_id, &err);
	}
	run->injected = true;
	d->tally->faults[run->fault]++;
	if (r != CX_OK)
		soak_violation(d->v, "run %s: %s: %s: %s", run->run_id, soak_fault_name(run->fault),
			       cx_code_word(r), err.message);
	take_messages(d); /* the run's slot may be freed here */
}

/* Starting runs. */

/* The fault of the next run, and the outcomes it allows. */
static enum soak_fault choose_fault(struct drive *d)
{
	if (!d->plan->faults || rnd(d, 2))
		return FAULT_NONE;
	return (enum soak_fault)(FAULT_KILL + rnd(d, FAULT_GROUP - FAULT_KILL));
}

/* A council of 1-3 mock members, maybe a peer review and a chair. The
 * first member carries the fault a spec can script; a slow subscriber's
 * run says a lot, so that the subscriber lags. */
static char *spec_for(struct drive *d, enum soak_fault f)
{
	static const char *const scripted[FAULT_N] = {
		[FAULT_CRASH] = "crash", [FAULT_HANG] = "hang", [FAULT_TRANSIENT] = "transient",
	};
	cJSON *spec = cJSON_CreateObject();
	cJSON_AddStringToObject(spec, "id", "soak");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(spec, "default_profile"), "provider", "mock");
	cJSON *members = cJSON_AddArrayToObject(spec, "members");
	unsigned n = 1 + rnd(d, 3);
	bool big = f == FAULT_SLOW_SUBSCRIBER;
	for (unsigned i = 0; i < n; i++) {
		char id[8];
		snprintf(id, sizeof id, "m%u", i);
		cJSON *m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "id", id);
		cJSON *p = cJSON_AddObjectToObject(m, "profile");
		cJSON_AddNumberToObject(p, "words", big ? 3000 + rnd(d, 1000) : 4 + rnd(d, 40));
		cJSON_AddNumberToObject(p, "chunk_delay_ms", big ? 0 : rnd(d, 15));
		cJSON_AddNumberToObject(p, "latency_ms", rnd(d, 800));
		if (i == 0 && scripted[f])
			cJSON_AddStringToObject(p, "fail", scripted[f]);
		if (i == 0 && f == FAULT_TRANSIENT)
			cJSON_AddNumberToObject(p, "fail_times", 1 + rnd(d, 2));
		cJSON *retry = cJSON_AddObjectToObject(m, "retry");
		cJSON_AddNumberToObject(retry, "max", 3);
		cJSON_AddNumberToObject(retry, "base_ms", 5);
		cJSON_AddItemToArray(members, m);
	}
	cJSON *rounds = cJSON_AddArrayToObject(spec, "rounds");
	cJSON *round = cJSON_CreateObject();
	cJSON_AddStringToObject(round, "type", "independent_analysis");
	cJSON_AddItemToArray(rounds, round);
	if (rnd(d, 3) == 0) {
		round = cJSON_CreateObject();
		cJSON_AddStringToObject(round, "type", "peer_review");
		cJSON_AddItemToArray(rounds, round);
	}
	if (rnd(d, 2)) {
		cJSON *chair = cJSON_AddObjectToObject(spec, "chair");
		cJSON_AddStringToObject(chair, "id", "chair");
		cJSON_AddNumberToObject(cJSON_AddObjectToObject(chair, "profile"), "words", 4 + rnd(d, 20));
	}
	char *text = cJSON_PrintUnformatted(spec);
	cJSON_Delete(spec);
	return text;
}

static struct slot *free_slot(struct drive *d)
{
	for (unsigned i = 0; i < d->plan->concurrency; i++)
		if (!d->slots[i].run)
			return &d->slots[i];
	return NULL;
}

/* A start a tenant_stop in flight may turn away: the tenant is stopping,
 * went down under the start, or is stopped until the actor starts it. */
static bool turned_away(struct drive *d, unsigned tenant, int r)
{
	return (r == CX_EUNAVAILABLE || r == CX_ETENANT_STOPPED) && d->groups[tenant].stops > 0;
}

static void start_one(struct drive *d)
{
	struct soak_run *run = &d->runs[d->started];
	struct slot *s = free_slot(d);
	unsigned tenant = rnd(d, d->plan->tenants);
	enum soak_fault f = choose_fault(d);
	char name[CX_NAME_MAX + 1], input[64];
	soak_tenant_name(tenant, name);
	snprintf(input, sizeof input, "{\"question\":\"soak run %u\"}", d->tally->started);
	char *spec = spec_for(d, f);
	struct cx_client_start req = {
		.spec_json = spec, .input_json = input,
		.subscribe = f == FAULT_SLOW_SUBSCRIBER && rnd(d, 2),
		.shutdown_ms = f == FAULT_HANG ? 50 + (int)rnd(d, 250) : 0,
	};
	struct cx_started st;
	struct cx_error err = { 0 };
	bool embedded = f == FAULT_EMBEDDED || f == FAULT_EMBEDDED_KILL;
	int r = embedded ? embedded_start(d, s, name, spec, &st, &err)
			 : cx_sup_start_child(d->cl, name, &req, &st, NULL, &err);
	free(spec);
	take_messages(d);
	if (r != CX_OK) {
		if (turned_away(d, tenant, r)) {
			d->tally->refused++;
		} else {
			soak_violation(d->v, "start in %s: %s: %s", name, cx_code_word(r), err.message);
			if (++d->failed_starts >= GIVE_UP_STARTS) {
				soak_violation(d->v, "%u starts failed in a row: giving up", GIVE_UP_STARTS);
				d->lost = true;
			}
		}
		return;
	}
	d->failed_starts = 0;
	*run = (struct soak_run){ .tenant = tenant, .fault = f, .exposed = d->groups[tenant].ops > 0,
				  .pid = st.pid };
	snprintf(run->run_id, sizeof run->run_id, "%s", st.run_id);
	d->started++;
	d->tally->started++;
	if (++d->live > d->tally->peak)
		d->tally->peak = d->live;
	s->run = run;
	moved(d);
	if (f == FAULT_CRASH || f == FAULT_TRANSIENT) {
		run->injected = true;
		d->tally->faults[f]++;
	}
	if (f == FAULT_SLOW_SUBSCRIBER)
		sub_new(d, run, st.subscriber_fd);
	if (embedded) {
		if (f == FAULT_EMBEDDED_KILL)
			cx_timer_arm(d->loop, &s->fault, rnd(d, 700));
		return;
	}
	r = cx_monitor(d->cl, run->run_id, &run->ref, &err);
	if (r != CX_OK)
		soak_violation(d->v, "run %s: monitor: %s: %s", run->run_id, cx_code_word(r), err.message);
	if (f == FAULT_KILL || f == FAULT_CANCEL || f == FAULT_TERMINATE || f == FAULT_HANG)
		cx_timer_arm(d->loop, &s->fault, f == FAULT_HANG ? 50 + rnd(d, 600) : rnd(d, 700));
	take_messages(d);
	if (r != CX_OK && s->run == run) { /* no DOWN will come */
		cx_timer_disarm(d->loop, &s->fault);
		s->run = NULL;
		d->live--;
	}
	for (enum soak_fault g = FAULT_GROUP; g < FAULT_N && !d->lost; g++)
		if (d->plan->faults && rnd(d, GROUP_ODDS) == 0)
			group_fault(d, g);
}

/* Stuck: says what it waited for, then lets go of it all. */
static void give_up(struct drive *d)
{
	unsigned shown = 0;
	soak_violation(d->v, "nothing moved for %d s: %u runs without a DOWN, %u subscribers open, "
		       "tenant operations in flight: %s", STALL_MS / 1000, d->live, d->subs,
		       LIST_EMPTY(&d->actors) ? "none" : "some");
	for (unsigned i = 0; i < d->plan->concurrency && shown < 10; i++) {
		struct soak_run *run = d->slots[i].run;
		if (run && ++shown)
			soak_violation(d->v, "run %s (fault %s) never went DOWN", run->run_id,
				       soak_fault_name(run->fault));
	}
	struct actor *a;
	LIST_FOREACH(a, &d->actors, link)
		soak_violation(d->v, "%s of soak-%u never returned", soak_fault_name(a->op), a->tenant);
	d->lost = true;
}

/* Lets go of whatever is left (after giving up): subscribers closed,
 * actors killed and reaped. */
static void drive_fini(struct drive *d)
{
	for (unsigned i = 0; i < d->plan->concurrency; i++) {
		struct slot *s = &d->slots[i];
		siginfo_t info;
		cx_timer_disarm(d->loop, &s->fault);
		if (s->embedded.pidfd >= 0) {
			cx_watch_del(d->loop, &s->embedded_exit);
			cx_proc_signal(&s->embedded, SIGKILL);
			while (cx_proc_reap(&s->embedded, &info) == 0)
				usleep(10000);
			cx_proc_release(&s->embedded);
		}
	}
	for (unsigned i = 0; i < d->started; i++)
		if (d->runs[i].sub)
			sub_close(d->runs[i].sub, false);
	while (!LIST_EMPTY(&d->actors)) {
		struct actor *a = LIST_FIRST(&d->actors);
		siginfo_t info;
		cx_proc_signal(&a->proc, SIGKILL);
		while (cx_proc_reap(&a->proc, &info) == 0)
			usleep(10000);
		actor_free(a);
	}
	cx_watch_del(d->loop, &d->client);
	cx_loop_free(d->loop);
	free(d->slots);
	free(d->groups);
}

unsigned soak_drive(struct cx_client **cl, const struct soak_plan *plan, struct soak_run *runs,
		    struct soak_tally *tally, struct soak_violations *v)
{
	struct drive d = { .cl = *cl, .plan = plan, .runs = runs, .tally = tally, .v = v,
			   .councild = plan->councild };
	LIST_INIT(&d.actors);
	d.slots = calloc(plan->concurrency, sizeof *d.slots);
	d.groups = calloc(plan->tenants, sizeof *d.groups);
	if (!d.slots || !d.groups || cx_loop_new(&d.loop) < 0) {
		soak_violation(v, "no memory to drive the soak");
		free(d.slots);
		free(d.groups);
		return 0;
	}
	for (unsigned i = 0; i < plan->concurrency; i++)
		d.slots[i] = (struct slot){ .d = &d, .fault = CX_TIMER_INIT(on_fault_due, &d.slots[i]),
					    .embedded = CX_PROC_NULL };
	d.client = (struct cx_watch){ cx_client_fd(d.cl), on_client, &d };
	cx_watch_add(d.loop, &d.client, EPOLLIN);
	moved(&d);
	uint64_t told_ms = cx_mono_ms();
	while (!d.lost) {
		take_messages(&d);
		for (unsigned n = 0; n < START_BURST && !d.lost && d.live < plan->concurrency &&
				     d.started < plan->runs; n++)
			start_one(&d);
		if (d.started == plan->runs && !d.live && !d.subs && LIST_EMPTY(&d.actors))
			break;
		bool more = d.live < plan->concurrency && d.started < plan->runs;
		if (cx_loop_turn(d.loop, more ? 0 : 1000) < 0) {
			soak_violation(v, "epoll_wait: %s", strerror(errno));
			break;
		}
		if (cx_mono_ms() - d.moved_ms > STALL_MS)
			give_up(&d);
		if (plan->progress && cx_mono_ms() - told_ms >= PROGRESS_MS) {
			fprintf(plan->progress, "council-soak: %u/%u runs started, %u live, %u violations\n",
				d.started, plan->runs, d.live, v->n);
			told_ms = cx_mono_ms();
		}
	}
	drive_fini(&d);
	*cl = d.cl;
	return d.started;
}
