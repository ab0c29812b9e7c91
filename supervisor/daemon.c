/* councild's core. Requests about a run go to its tenant's supervisor,
 * found through the run's status files; what a dead supervisor cannot
 * answer, the status files do. Monitors and links live here, with the
 * client connections they belong to, so they outlive a tenant supervisor
 * that crashes: its runs' monitors get DOWN `supervisor_down`. */
#include "daemon.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "access.h"
#include "catalog.h"
#include "containment.h"
#include "fsutil.h"
#include "hash.h"
#include "json.h"
#include "loop.h"
#include "proc.h"
#include "relay.h"
#include "request.h"
#include "statusfs.h"
#include "tenants.h"
#include "wire.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

#define PROTOCOL_VERSION 1
#define STOP_GRACE_MS 10000  /* beyond shutdown_ms, before a tenant is killed */

struct daemon;

struct client {
	struct daemon *d;
	struct cx_wire wire;
	struct cx_watch watch;
	struct cx_peer peer;      /* SO_PEERCRED, SO_PEERGROUPS */
	LIST_ENTRY(client) link;
};

/* A request forwarded to a tenant, until its reply comes back. */
struct pending {
	uint64_t id;              /* ours, on the tenant's channel */
	struct client *client;    /* NULL once the client is gone */
	cJSON *req;               /* the client's request, its own id */
	struct cx_tenant *tenant;
	LIST_ENTRY(pending) link;
};

/* Monitors, links and workers are also hashed by their run (by_run), so
 * that a run's end, or a lookup, costs the same with 10,000 live runs as
 * with one. */
#define RUN_BUCKETS 4096
#define RUN_BUCKET(run_id) (cx_hash_name(run_id) % RUN_BUCKETS)

struct monitor {
	uint64_t ref;
	struct client *client;
	char run_id[CX_RUN_ID_MAX + 1];
	struct cx_tenant *tenant;
	LIST_ENTRY(monitor) link, by_run;
};

/* A live run's worker, as its tenant reported it at start: run_id(pid)
 * answers from these until the tenant reports the run down, for as long
 * as the pid is still that worker's (an identity: no handle is held). */
struct worker {
	struct cx_proc proc;
	char run_id[CX_RUN_ID_MAX + 1];
	struct cx_tenant *tenant;
	LIST_ENTRY(worker) link, by_run, by_pid;
};

/* A subscription to a finished run, served from its events file (its
 * tenant has forgotten it, or is gone): a relay that only replays. */
struct feed {
	struct cx_relay relay;
	int events_fd;
	char run_id[CX_RUN_ID_MAX + 1];
	LIST_ENTRY(feed) link;
};

#define FEED_SWEEP_MS 1000

/* A start_link caller, for the EXIT message; its pidfd is the tenant's. */
struct linked {
	struct client *client;
	char run_id[CX_RUN_ID_MAX + 1];
	struct cx_tenant *tenant;
	LIST_ENTRY(linked) link, by_run;
};

struct daemon {
	struct cx_loop *loop;
	char root[PATH_MAX];
	int root_fd;
	struct cx_watch listener;
	struct cx_watch signals;
	LIST_HEAD(, client) clients;
	struct cx_tenant_list tenants;
	LIST_HEAD(, pending) pending;
	LIST_HEAD(monitor_list, monitor) monitors, monitors_by_run[RUN_BUCKETS];
	LIST_HEAD(linked_list, linked) links, links_by_run[RUN_BUCKETS];
	LIST_HEAD(worker_list, worker) workers, workers_by_run[RUN_BUCKETS], workers_by_pid[RUN_BUCKETS];
	LIST_HEAD(, feed) feeds;
	struct cx_timer feed_sweep;
	uint64_t next_id;
	bool stopping;
	uint64_t stop_deadline;
	int connections_per_uid;
	int64_t retention_ms;
	unsigned retention_count;
	struct cx_timer expiry;
	struct cx_tenant_events tenant_events;
};

/* Sending. */

static void client_send(struct client *c, cJSON *msg, int fd)
{
	if (c && c->wire.fd >= 0)
		cx_wire_post(&c->wire, c->d->loop, &c->watch, msg, fd >= 0 ? &fd : NULL, fd >= 0);
	cJSON_Delete(msg);
}

static void send_message(struct client *c, const char *type, const char *run_id,
			 const char *reason, uint64_t ref)
{
	cJSON *msg = cJSON_CreateObject();
	cJSON_AddStringToObject(msg, "msg", type);
	if (ref)
		cJSON_AddNumberToObject(msg, "ref", (double)ref);
	cJSON_AddStringToObject(msg, "run_id", run_id);
	cJSON_AddStringToObject(msg, "reason", reason);
	client_send(c, msg, -1);
}

/* Monitors and links. */

static uint64_t monitor_add(struct daemon *d, struct client *c, const char *run_id,
			    struct cx_tenant *t)
{
	struct monitor *m = calloc(1, sizeof *m);
	if (!m)
		return 0;
	m->ref = ++d->next_id;
	m->client = c;
	m->tenant = t;
	strlcpy(m->run_id, run_id, sizeof m->run_id);
	LIST_INSERT_HEAD(&d->monitors, m, link);
	LIST_INSERT_HEAD(&d->monitors_by_run[RUN_BUCKET(run_id)], m, by_run);
	return m->ref;
}

static void monitor_free(struct monitor *m)
{
	LIST_REMOVE(m, link);
	LIST_REMOVE(m, by_run);
	free(m);
}

static void linked_free(struct linked *l)
{
	LIST_REMOVE(l, link);
	LIST_REMOVE(l, by_run);
	free(l);
}

/* Workers. */

static void worker_add(struct daemon *d, struct worker *wk)
{
	LIST_INSERT_HEAD(&d->workers, wk, link);
	LIST_INSERT_HEAD(&d->workers_by_run[RUN_BUCKET(wk->run_id)], wk, by_run);
	LIST_INSERT_HEAD(&d->workers_by_pid[cx_hash_pid(wk->proc.pid) % RUN_BUCKETS], wk, by_pid);
}

static void worker_free(struct worker *wk)
{
	LIST_REMOVE(wk, link);
	LIST_REMOVE(wk, by_run);
	LIST_REMOVE(wk, by_pid);
	free(wk);
}

static struct worker *worker_of_run(struct daemon *d, const char *run_id)
{
	struct worker *wk;
	LIST_FOREACH(wk, &d->workers_by_run[RUN_BUCKET(run_id)], by_run)
		if (!strcmp(wk->run_id, run_id))
			return wk;
	return NULL;
}

/* The worker that pid is now: between a worker's death and its tenant's
 * word of it, its pid may be another process's, which a pidfd opened on
 * it tells by its inode. */
static struct worker *worker_of_pid(struct daemon *d, pid_t pid)
{
	struct worker *wk;
	struct cx_proc now;
	LIST_FOREACH(wk, &d->workers_by_pid[cx_hash_pid(pid) % RUN_BUCKETS], by_pid)
		if (wk->proc.pid == pid)
			break;
	if (!wk)
		return NULL;
	struct cx_proc_id id = { .pid = pid, .ino = wk->proc.ino };
	strlcpy(id.boot_id, cx_boot_id(), sizeof id.boot_id);
	if (cx_proc_open_verified(&now, &id) < 0)
		return NULL;
	cx_proc_release(&now);
	return wk;
}

static void monitor_down(struct monitor *m, const char *reason)
{
	send_message(m->client, "DOWN", m->run_id, reason, m->ref);
	monitor_free(m);
}

static void linked_down(struct linked *l, const char *reason)
{
	if (strcmp(reason, "normal"))
		send_message(l->client, "EXIT", l->run_id, reason, 0);
	linked_free(l);
}

/* The run is over: one DOWN per monitor, EXIT to an abnormally ended
 * run's linked caller. run_id NULL: every run of tenant t. */
static void run_down(struct daemon *d, struct cx_tenant *t, const char *run_id, const char *reason)
{
	struct worker *wk, *wn;
	struct monitor *m, *mn;
	struct linked *l, *ln;
	if (run_id) {
		/* A tenant supervisor runs as its tenant's owner, who could make
		 * it say anything: what it says of a run of another tenant is
		 * not believed. */
		size_t b = RUN_BUCKET(run_id);
		if ((wk = worker_of_run(d, run_id)) && (!t || wk->tenant == t))
			worker_free(wk);
		LIST_FOREACH_SAFE(m, &d->monitors_by_run[b], by_run, mn)
			if (!strcmp(m->run_id, run_id) && (!t || m->tenant == t))
				monitor_down(m, reason);
		LIST_FOREACH_SAFE(l, &d->links_by_run[b], by_run, ln)
			if (!strcmp(l->run_id, run_id) && (!t || l->tenant == t))
				linked_down(l, reason);
		return;
	}
	LIST_FOREACH_SAFE(wk, &d->workers, link, wn)
		if (wk->tenant == t)
			worker_free(wk);
	LIST_FOREACH_SAFE(m, &d->monitors, link, mn)
		if (m->tenant == t)
			monitor_down(m, reason);
	LIST_FOREACH_SAFE(l, &d->links, link, ln)
		if (l->tenant == t)
			linked_down(l, reason);
}

static void answer_from_files(struct daemon *d, struct client *c, const cJSON *req, const char *op,
			      const struct cx_run_summary *s);
static void do_run_op(struct daemon *d, struct client *c, const cJSON *req, const char *op);
static void adopt_subscriber(struct daemon *d, const cJSON *msg, int fd);

/* Forwarding to tenants. */

/* Sends req to t as op (NULL: its own op), remembering the client's own
 * request to answer; fd (or -1) travels with it. */
static void forward(struct daemon *d, struct client *c, const cJSON *req, const char *op,
		    struct cx_tenant *t, int fd)
{
	struct pending *p = calloc(1, sizeof *p);
	cJSON *copy = cJSON_Duplicate(req, true);
	if (!p || !copy) {
		free(p);
		cJSON_Delete(copy);
		client_send(c, cx_reply_error(req, "system_error", "out of memory"), -1);
		return;
	}
	p->id = ++d->next_id;
	p->client = c;
	p->req = cJSON_Duplicate(req, true);
	p->tenant = t;
	cJSON_ReplaceItemInObjectCaseSensitive(copy, "id", cJSON_CreateNumber((double)p->id));
	if (op)
		cJSON_ReplaceItemInObjectCaseSensitive(copy, "op", cJSON_CreateString(op));
	if (fd >= 0)
		cJSON_AddNumberToObject(copy, "fds", 1);
	int r = cx_tenant_send(t, copy, fd >= 0 ? &fd : NULL, fd >= 0);
	cJSON_Delete(copy);
	/* A tenant whose end is closed is on its way out: its exit answers
	 * (answer_pending), as for a request it took down with it. */
	if (r < 0 && r != -EPIPE && r != -ECONNRESET) {
		client_send(c, cx_reply_error(req, "supervisor_unavailable", "tenant %s: %s",
					      t->name, strerror(-r)), -1);
		cJSON_Delete(p->req);
		free(p);
		return;
	}
	LIST_INSERT_HEAD(&d->pending, p, link);
}

static void pending_free(struct pending *p)
{
	LIST_REMOVE(p, link);
	cJSON_Delete(p->req);
	free(p);
}

/* A tenant's reply to a forwarded request: back to the client, in its own
 * id, with what the op needs done here. */
static void on_reply(struct daemon *d, struct cx_tenant *t, struct pending *p, cJSON *reply)
{
	const char *op = cx_req_string(p->req, "op");
	const char *code = cx_req_string(cJSON_GetObjectItem(reply, "error"), "code");
	struct cx_run_summary s;
	/* The run ended, and its tenant forgot it, while this was on the way. */
	if (code && (!strcmp(code, "not_found") || !strcmp(code, "unknown_run")) && p->client &&
	    strcmp(op, "start") && cx_req_string(p->req, "run_id") &&
	    cx_catalog_read(d->root_fd, cx_req_string(p->req, "run_id"), &s) == 0) {
		answer_from_files(d, p->client, p->req, op, &s);
		cJSON_Delete(reply);
		pending_free(p);
		return;
	}
	bool ok = cx_req_bool(reply, "ok");
	if (ok && !strcmp(op, "tenant_stop")) {
		/* Stopped means gone: the answer waits for the tenant's exit
		 * (on_tenant_down), so a tenant_start right after finds it down. */
		cJSON_Delete(reply);
		return;
	}
	int fd = cJSON_GetNumberValue(cJSON_GetObjectItem(reply, "fds")) == 1
		 ? cx_wire_take_fd(&t->wire) : -1;
	cJSON_ReplaceItemInObjectCaseSensitive(reply, "id",
		cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(p->req, "id"), true));
	if (ok && !strcmp(op, "start")) {
		struct worker *wk = calloc(1, sizeof *wk);
		if (wk) {
			wk->proc = (struct cx_proc){
				(pid_t)cJSON_GetNumberValue(cJSON_GetObjectItem(reply, "pid")), -1,
				(uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(reply, "ino")) };
			wk->tenant = t;
			strlcpy(wk->run_id, cx_req_string(reply, "run_id") ?: "", sizeof wk->run_id);
			worker_add(d, wk);
		}
	}
	if (ok && !strcmp(op, "start") && cx_req_bool(p->req, "link") && p->client) {
		struct linked *l = calloc(1, sizeof *l);
		if (l) {
			l->client = p->client;
			l->tenant = t;
			strlcpy(l->run_id, cx_req_string(reply, "run_id") ?: "", sizeof l->run_id);
			LIST_INSERT_HEAD(&d->links, l, link);
			LIST_INSERT_HEAD(&d->links_by_run[RUN_BUCKET(l->run_id)], l, by_run);
		}
	}
	if (!strcmp(op, "monitor")) {
		const char *run_id = cx_req_string(p->req, "run_id");
		bool alive = ok && cx_req_bool(reply, "alive");
		uint64_t ref = p->client ? monitor_add(d, p->client, run_id, t) : 0;
		cJSON_Delete(reply);
		reply = cx_reply_ok(p->req);
		cJSON_AddNumberToObject(reply, "ref", (double)ref);
		client_send(p->client, reply, -1);
		if (!alive && ref)
			run_down(d, NULL, run_id, "noproc");
		pending_free(p);
		return;
	}
	if (!strcmp(op, "which_children")) {
		cJSON *runs = cJSON_DetachItemFromObjectCaseSensitive(reply, "runs");
		cJSON *children = cJSON_AddArrayToObject(reply, "children");
		cJSON *r;
		cJSON_ArrayForEach(r, runs) {
			cJSON *child = cJSON_CreateObject();
			cJSON_AddStringToObject(child, "run_id", cx_req_string(r, "run_id"));
			cJSON_AddNumberToObject(child, "pid", cJSON_GetNumberValue(cJSON_GetObjectItem(r, "pid")));
			cJSON_AddStringToObject(child, "status", cx_req_string(r, "status"));
			cJSON_AddItemToArray(children, child);
		}
		cJSON_Delete(runs);
	}
	if (p->client)
		client_send(p->client, reply, fd);
	else
		cJSON_Delete(reply);
	if (fd >= 0)
		close(fd);
	pending_free(p);
}

static void on_tenant_message(void *data, struct cx_tenant *t, cJSON *msg)
{
	struct daemon *d = data;
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
	if (cJSON_IsNumber(id)) {
		struct pending *p;
		LIST_FOREACH(p, &d->pending, link)
			if (p->id == (uint64_t)cx_json_int(msg, "id", 0, INT64_MAX, -1) && p->tenant == t)
				break;
		if (p)
			on_reply(d, t, p, msg);
		else
			cJSON_Delete(msg); /* a stop councild sent on its own */
		return;
	}
	const char *type = cx_req_string(msg, "msg") ?: "";
	if (!strcmp(type, "down"))
		run_down(d, t, cx_req_string(msg, "run_id") ?: "", cx_req_string(msg, "reason") ?: "");
	else if (!strcmp(type, "subscriber"))
		adopt_subscriber(d, msg, cx_wire_take_fd(&t->wire));
	cJSON_Delete(msg);
}

/* Feeds. */

static void feed_free(struct feed *f)
{
	cx_relay_fini(&f->relay);
	close(f->events_fd);
	LIST_REMOVE(f, link);
	free(f);
}

static void on_feed_sweep(struct cx_loop *loop, struct cx_timer *timer)
{
	struct daemon *d = timer->data;
	struct feed *f, *next;
	LIST_FOREACH_SAFE(f, &d->feeds, link, next)
		if (cx_relay_idle(&f->relay))
			feed_free(f);
	if (!LIST_EMPTY(&d->feeds))
		cx_timer_arm(loop, timer, FEED_SWEEP_MS);
}

/* A relay over the finished run's events file, for one subscriber; NULL
 * when the run has no events file. */
static struct feed *feed_open(struct daemon *d, const char *run_id)
{
	char path[CX_RUN_ID_MAX + 16];
	snprintf(path, sizeof path, "runs/%s/events", run_id);
	struct feed *f = calloc(1, sizeof *f);
	int fd = f ? cx_open_beneath(d->root_fd, path, O_RDONLY, 0) : -1;
	if (fd < 0) {
		free(f);
		return NULL;
	}
	f->events_fd = fd;
	strlcpy(f->run_id, run_id, sizeof f->run_id);
	cx_relay_init(&f->relay, d->loop, fd, f->run_id);
	f->relay.finished = true; /* replay, then EOF */
	LIST_INSERT_HEAD(&d->feeds, f, link);
	if (!cx_timer_armed(&d->feed_sweep))
		cx_timer_arm(d->loop, &d->feed_sweep, FEED_SWEEP_MS);
	return f;
}

static void subscribe_from_disk(struct daemon *d, struct client *c, const cJSON *req,
				const char *run_id)
{
	int64_t since;
	int pipe_fd;
	if (!cx_req_int(req, "since", 1, INT64_MAX / 2, 1, &since)) {
		client_send(c, cx_reply_error(req, "usage", "\"since\" must be a seq"), -1);
		return;
	}
	struct feed *f = feed_open(d, run_id);
	if (!f) {
		client_send(c, cx_reply_error(req, "unknown_run", "no run %s", run_id), -1);
		return;
	}
	if (cx_relay_subscribe(&f->relay, (uint64_t)since, &pipe_fd) < 0) {
		feed_free(f);
		client_send(c, cx_reply_error(req, "system_error", "subscribing to %s", run_id), -1);
		return;
	}
	cJSON *reply = cx_reply_ok(req);
	cJSON_AddNumberToObject(reply, "fds", 1);
	client_send(c, reply, pipe_fd);
	close(pipe_fd);
}

/* A subscriber a stopping tenant handed over (tenant_sup.c): the rest of
 * its run's stream comes from here. */
static void adopt_subscriber(struct daemon *d, const cJSON *msg, int fd)
{
	const char *run_id = cx_req_string(msg, "run_id"), *pending = cx_req_string(msg, "pending");
	int64_t dropped, since, upto, seq, replay_off;
	struct feed *f = NULL;
	if (fd >= 0 && run_id && cx_run_id_valid(run_id) && pending &&
	    cx_req_int(msg, "dropped", 0, INT64_MAX / 2, 0, &dropped) &&
	    cx_req_int(msg, "since", 1, INT64_MAX / 2, 1, &since) &&
	    cx_req_int(msg, "upto", 0, INT64_MAX / 2, 0, &upto) &&
	    cx_req_int(msg, "seq", 0, INT64_MAX / 2, 0, &seq) &&
	    cx_req_int(msg, "replay_off", -1, INT64_MAX / 2, -1, &replay_off))
		f = feed_open(d, run_id);
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

/* Tenant lifecycle. */

/* Orphans adopted from dead workers and tenants are reaped here; a
 * tenant supervisor is left to its pidfd (cx_tenant_reap). */
static bool is_tenant(const struct cx_proc *child, void *arg)
{
	struct daemon *d = arg;
	struct cx_tenant *t;
	LIST_FOREACH(t, &d->tenants, link)
		if (cx_tenant_is_up(t) && cx_proc_equal(&t->proc, child))
			return true;
	return false;
}

static void reap_orphans(struct daemon *d)
{
	cx_reap_orphans(is_tenant, d);
}


/* The tenant's cgroup, once no process is left in it. */
static void release_cgroup(struct daemon *d, const char *tenant)
{
	struct cx_cgroup cg;
	if (cx_cgroup_tenant(d->root, tenant, false, &cg) == 0)
		cx_cgroup_tenant_release(&cg);
}

/* At start: no tenant runs until we start it, whatever a predecessor
 * SIGKILLed before us (with the tenant's guardian) left in its status;
 * its cgroup goes. */
static void settle_tenant(struct daemon *d, const char *tenant)
{
	cx_tenant_announce_stopped(d->root, tenant);
	release_cgroup(d, tenant);
}

/* Calls fn for every tenant of the runtime directory, running or not. */
static void for_each_tenant_dir(struct daemon *d, void (*fn)(struct daemon *d, const char *tenant))
{
	int fd = openat(d->root_fd, "tenants", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dir) {
		if (fd >= 0)
			close(fd);
		return;
	}
	for (struct dirent *e; (e = readdir(dir));)
		if (cx_name_valid(e->d_name))
			fn(d, e->d_name);
	closedir(dir);
}

/* What the tenant had not answered when it went down. Its runs are final
 * now: a bulk stop has what it asked for, and a request about a run is
 * answered from the run's files. */
static void answer_pending(struct daemon *d, struct cx_tenant *t)
{
	struct pending *p, *pn;
	LIST_FOREACH_SAFE(p, &d->pending, link, pn) {
		if (p->tenant != t)
			continue;
		const char *op = cx_req_string(p->req, "op");
		if (!strcmp(op, "stop") || !strcmp(op, "tenant_stop") || !strcmp(op, "terminate_all"))
			client_send(p->client, cx_reply_ok(p->req), -1);
		else if (strcmp(op, "start") && cx_req_string(p->req, "run_id") && p->client)
			do_run_op(d, p->client, p->req, op);
		else
			client_send(p->client, cx_reply_error(p->req, "supervisor_unavailable",
							      "tenant %s went down", t->name), -1);
		pending_free(p);
	}
}

static void on_tenant_down(void *data, struct cx_tenant *t, bool crashed)
{
	struct daemon *d = data;
	/* Its runs' owner is dead (reaped just now): they are killed and
	 * finalized here at once, whatever its guardian has done so far. */
	if (crashed)
		cx_catalog_recover(d->root_fd, d->root, t->name);
	release_cgroup(d, t->name);
	run_down(d, t, NULL, "supervisor_down");
	reap_orphans(d); /* what waited behind the tenant's own zombie */
	/* Restarted (its leftovers are gone by now), stopped or failed. */
	cx_tenant_handle(t, crashed ? CX_TENANT_CRASH : CX_TENANT_EXIT);
	/* Answered last, so that what a client does next finds the tenant's
	 * status and files as they are now. */
	answer_pending(d, t);
}

/* Retention: finished runs stay visible for a time and up to a count per
 * tenant, then their directories go and lookups answer unknown_run. The
 * sweep covers every tenant on disk, running or not. */
static void expire_tenant(struct daemon *d, const char *tenant)
{
	struct cx_tenant *t = cx_tenants_find(&d->tenants, tenant);
	int64_t keep_ms = t && t->retention_ms ? t->retention_ms : d->retention_ms;
	unsigned keep = t && t->retention_count ? t->retention_count : d->retention_count;
	cx_catalog_expire(d->root_fd, d->root, tenant, keep_ms, keep);
}

static uint64_t expiry_period(const struct daemon *d)
{
	int64_t shortest = d->retention_ms;
	struct cx_tenant *t;
	LIST_FOREACH(t, &d->tenants, link)
		if (t->retention_ms && t->retention_ms < shortest)
			shortest = t->retention_ms;
	return (uint64_t)(shortest / 4 < 100 ? 100 : shortest / 4 > 60000 ? 60000 : shortest / 4);
}

static void on_expiry(struct cx_loop *loop, struct cx_timer *timer)
{
	struct daemon *d = timer->data;
	for_each_tenant_dir(d, expire_tenant);
	cx_timer_arm(loop, timer, expiry_period(d));
}

/* Access (access.h). A peer other than root learns nothing of what it may
 * not use: a run of another's tenant and a run that does not exist get
 * the same answer, so run ids and pids cannot be probed. */

static void deny(struct client *c, const cJSON *req, const char *what, const char *name)
{
	client_send(c, cx_reply_error(req, "permission_denied", "%s %s: permission denied",
				      what, name), -1);
}

/* The owner a tenant created by c gets: c, or councild's own user when it
 * cannot become anyone else; with "group", that group, of which c must be
 * a member. NULL when c may not have it, after replying. */
static const struct cx_owner *new_owner(struct client *c, const cJSON *req, struct cx_owner *o)
{
	const cJSON *given = cJSON_GetObjectItemCaseSensitive(req, "group");
	const char *group = cJSON_GetStringValue(given);
	*o = geteuid() == 0 ? (struct cx_owner){ c->peer.uid, c->peer.gid, false }
			    : (struct cx_owner){ geteuid(), getegid(), false };
	if (given && !group) {
		client_send(c, cx_reply_error(req, "bad_request", "\"group\" must be a group name or number"), -1);
		return NULL;
	}
	if (!group)
		return o;
	if (cx_group_lookup(group, &o->gid) < 0) {
		client_send(c, cx_reply_error(req, "usage", "no group %.64s", group), -1);
		return NULL;
	}
	if (c->peer.uid != 0 && !cx_peer_in_group(&c->peer, o->gid)) {
		deny(c, req, "group", group);
		return NULL;
	}
	o->group = true;
	return o;
}

/* Whether c may use tenant name, whose owner goes to *o; a tenant not yet
 * made is made for c with create. Replies when it is not to be used. */
static bool tenant_access(struct daemon *d, struct client *c, const cJSON *req, const char *name,
			  bool create, struct cx_owner *o)
{
	int r = cx_owner_read(d->root_fd, name, o);
	if (r == -ENOENT && create) {
		if (!new_owner(c, req, o))
			return false;
		r = cx_owner_create(d->root_fd, name, o) ?: cx_owner_read(d->root_fd, name, o);
	}
	if (r == -ENOENT) {
		client_send(c, cx_reply_error(req, "unknown_tenant", "no tenant %s", name), -1);
		return false;
	}
	if (r < 0) {
		client_send(c, cx_reply_error(req, "system_error", "tenant %s: %s", name, strerror(-r)), -1);
		return false;
	}
	if (!cx_peer_may(&c->peer, o)) {
		deny(c, req, "tenant", name);
		return false;
	}
	return true;
}

static bool may_see_tenant(struct daemon *d, const struct client *c, const char *name)
{
	struct cx_owner o;
	return c->peer.uid == 0 || (cx_owner_read(d->root_fd, name, &o) == 0 && cx_peer_may(&c->peer, &o));
}

/* A request's tenant, else the caller's default: "default" for root and
 * for councild's own user, "user-<uid>" for everyone else, so that the
 * users of one councild do not meet in one tenant by accident. */
static const char *tenant_of(const struct client *c, const cJSON *req, char buf[CX_NAME_MAX + 1])
{
	const char *name = cx_req_string(req, "tenant");
	if (name)
		return name;
	if (c->peer.uid == 0 || c->peer.uid == geteuid())
		return "default";
	snprintf(buf, CX_NAME_MAX + 1, "user-%u", (unsigned)c->peer.uid);
	return buf;
}

/* Requests. */

/* The tenant a start (explicit: tenant_start; else a run's) is for, up;
 * NULL after replying when it is not to be had. A tenant this councild has
 * no record of starts on first use; one it stopped, or that failed, takes
 * no runs until tenant_start (OTP: a stopped supervisor takes no children). */
static struct cx_tenant *tenant_for_start(struct daemon *d, const cJSON *req, const char *name,
					  struct client *c, bool explicit)
{
	struct cx_owner owner;
	int64_t shutdown_ms;
	if (!tenant_access(d, c, req, name, true, &owner))
		return NULL;
	if (!cx_req_int(req, "shutdown_ms", 1, 3600000, 0, &shutdown_ms)) {
		client_send(c, cx_reply_error(req, "usage", "\"shutdown_ms\" out of range"), -1);
		return NULL;
	}
	struct cx_tenant *t = cx_tenants_find(&d->tenants, name);
	bool fresh = !t;
	if (fresh && !(t = cx_tenants_add(&d->tenants, name, &owner, d->loop, d->root,
					  &d->tenant_events))) {
		client_send(c, cx_reply_error(req, "system_error", "out of memory"), -1);
		return NULL;
	}
	if (shutdown_ms > 0)
		t->shutdown_ms = (int)shutdown_ms;
	int r = cx_tenant_handle(t, fresh || explicit ? CX_TENANT_START : CX_TENANT_USE);
	if (r == CX_OK)
		return t;
	if (r == CX_ETENANT_STOPPED)
		client_send(c, cx_reply_error(req, "tenant_stopped", "tenant %s is stopped; "
					      "`councilctl tenant start %s` starts it", name, name), -1);
	else if (r == CX_ESYS)
		client_send(c, cx_reply_error(req, "system_error", "starting tenant %s: %s", name,
					      strerror(t->spawn_error)), -1);
	else if (t->status == CX_TENANT_FAILED)
		client_send(c, cx_reply_error(req, "supervisor_unavailable",
					      "tenant %s failed; `councilctl tenant start %s` restarts it",
					      name, name), -1);
	else
		client_send(c, cx_reply_error(req, "supervisor_unavailable", "tenant %s is %s", name,
					      cx_tenant_status_name(t->status)), -1);
	if (fresh)
		cx_tenant_free(t);
	return NULL;
}

/* The caller: SO_PEERPIDFD, else SO_PEERCRED + pidfd_open (racy: the pid
 * may have been reused since it connected, which only SO_PEERPIDFD rules
 * out). Returns 0 or -errno. */
static int peer_proc(int sock, struct cx_proc *p)
{
	int fd = -1;
	socklen_t len = sizeof fd;
	if (getsockopt(sock, SOL_SOCKET, SO_PEERPIDFD, &fd, &len) == 0 && fd >= 0) {
		cx_proc_from_pidfd(p, fd); /* exited already: the link ends the run at once */
		return 0;
	}
	struct ucred cred;
	len = sizeof cred;
	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	return cx_proc_open(p, cred.pid);
}

static void do_start(struct daemon *d, struct client *c, const cJSON *req, const char *op)
{
	char buf[CX_NAME_MAX + 1];
	struct cx_tenant *t = tenant_for_start(d, req, tenant_of(c, req, buf), c, false);
	if (!t)
		return;
	struct cx_proc caller = CX_PROC_NULL;
	if (cx_req_bool(req, "link") && peer_proc(c->wire.fd, &caller) < 0) {
		cx_proc_release(&caller);
		client_send(c, cx_reply_error(req, "system_error", "cannot take the caller's pidfd"), -1);
		return;
	}
	forward(d, c, req, NULL, t, caller.pidfd);
	cx_proc_release(&caller);
}

/* A run's record on disk, and its tenant when that one is up. */
static bool find_run(struct daemon *d, const char *run_id, struct cx_run_summary *s,
		     struct cx_tenant **t)
{
	if (!run_id)
		return false;
	/* A live run is known here, with its tenant: no file to read. */
	struct worker *wk = worker_of_run(d, run_id);
	if (wk && cx_tenant_is_up(wk->tenant)) {
		*s = (struct cx_run_summary){ .status = CX_RUN_RUNNING, .round_idx = -1 };
		strlcpy(s->run_id, run_id, sizeof s->run_id);
		strlcpy(s->tenant, wk->tenant->name, sizeof s->tenant);
		strcpy(s->exit, "-");
		*t = wk->tenant;
		return true;
	}
	if (cx_catalog_read(d->root_fd, run_id, s) < 0)
		return false;
	/* Whoever asks about a run its dead owner left unfinished (no
	 * guardian could) has it finished first. */
	if (!cx_run_status_final(s->status) && cx_catalog_settle(d->root_fd, d->root, run_id) > 0 &&
	    cx_catalog_read(d->root_fd, run_id, s) < 0)
		return false;
	*t = cx_tenants_find(&d->tenants, s->tenant);
	if (*t && !cx_tenant_is_up(*t))
		*t = NULL;
	return true;
}

/* Answers about a run that is over, from its files. */
static cJSON *answer_final(struct daemon *d, const cJSON *req, const char *op,
			   const struct cx_run_summary *s)
{
	cJSON *reply = cx_reply_ok(req);
	if (!strcmp(op, "state")) {
		char path[CX_RUN_ID_MAX + 32], *text;
		snprintf(path, sizeof path, "runs/%s/summary.json", s->run_id);
		if (cx_read_file(d->root_fd, path, 1 << 20, &text, NULL) == 0) {
			cJSON_AddItemToObject(reply, "summary", cJSON_Parse(text));
			free(text);
		}
	} else if (!strcmp(op, "fetch_result")) {
		char path[CX_RUN_ID_MAX + 32], *text;
		snprintf(path, sizeof path, "runs/%s/result.json", s->run_id);
		if (cx_read_file(d->root_fd, path, SIZE_MAX, &text, NULL) == 0) {
			cJSON_AddItemToObject(reply, "result", cJSON_Parse(text));
			free(text);
		}
		cJSON_AddStringToObject(reply, "status", cx_run_status_name(s->status));
	} else if (!strcmp(op, "pid_for")) {
		cJSON_Delete(reply);
		reply = cx_reply_error(req, "runner_dead", "run %s has exited", s->run_id);
	}
	return reply;
}

/* A run that is over (or whose supervisor is gone) is answered from its
 * files: its tenant keeps nothing of it once it is over. */
static void answer_from_files(struct daemon *d, struct client *c, const cJSON *req, const char *op,
			      const struct cx_run_summary *s)
{
	if (!strcmp(op, "subscribe"))
		subscribe_from_disk(d, c, req, s->run_id);
	else
		client_send(c, answer_final(d, req, op, s), -1);
}

static void do_run_op(struct daemon *d, struct client *c, const cJSON *req, const char *op)
{
	const char *run_id = cx_req_string(req, "run_id");
	struct cx_run_summary s;
	struct cx_tenant *t;
	bool found = find_run(d, run_id, &s, &t);
	if (!(found ? may_see_tenant(d, c, s.tenant) : c->peer.uid == 0)) {
		deny(c, req, "run", run_id);
		return;
	}
	bool over = found && cx_run_status_final(s.status) && strcmp(s.exit, "-");
	if (!strcmp(op, "monitor") && run_id && (!found || !t || over)) {
		/* As OTP's monitor of a process that is gone, or never was: a
		 * reference, then DOWN noproc. */
		uint64_t ref = monitor_add(d, c, run_id, found ? t : NULL);
		cJSON *reply = cx_reply_ok(req);
		cJSON_AddNumberToObject(reply, "ref", (double)ref);
		client_send(c, reply, -1);
		run_down(d, NULL, run_id, "noproc");
		return;
	}
	if (!found) {
		bool lookup = !strcmp(op, "state") || !strcmp(op, "fetch_result");
		client_send(c, cx_reply_error(req, lookup ? "not_found" : "unknown_run", "no run %s",
					      run_id ? run_id : "(none given)"), -1);
		return;
	}
	if (t && !over) {
		/* A monitor asks the tenant whether the run still lives. */
		forward(d, c, req, !strcmp(op, "monitor") ? "alive" : NULL, t, -1);
		return;
	}
	answer_from_files(d, c, req, op, &s);
}

static void do_run_id(struct daemon *d, struct client *c, const cJSON *req, const char *op)
{
	int64_t pid;
	if (!cx_req_int(req, "pid", 1, INT32_MAX, 0, &pid) || !pid) {
		client_send(c, cx_reply_error(req, "usage", "\"pid\" must be a process id"), -1);
		return;
	}
	struct worker *wk = worker_of_pid(d, (pid_t)pid);
	if (wk ? !cx_peer_may(&c->peer, &wk->tenant->owner) : c->peer.uid != 0) {
		char name[24];
		snprintf(name, sizeof name, "pid %lld", (long long)pid);
		deny(c, req, "run of", name);
		return;
	}
	if (!wk) {
		client_send(c, cx_reply_error(req, "unknown_run", "no live run has pid %lld",
					      (long long)pid), -1);
		return;
	}
	cJSON *reply = cx_reply_ok(req);
	cJSON_AddStringToObject(reply, "run_id", wk->run_id);
	client_send(c, reply, -1);
}

/* The pid of the supervisor that owns a run (a summary.json object). */
static pid_t owner_pid(const cJSON *run)
{
	return (pid_t)cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(run, "owner"), "pid"));
}

/* Whether a live run is one of our tenant supervisors', or an embedded
 * supervisor's beside us on this directory (a `councilctl run`). */
static struct cx_tenant *owning_tenant(struct daemon *d, const cJSON *run)
{
	struct cx_tenant *t;
	LIST_FOREACH(t, &d->tenants, link)
		if (cx_tenant_is_up(t) && t->proc.pid == owner_pid(run))
			return t;
	return NULL;
}

/* Moves out of runs those owned by others than t's supervisor. */
static cJSON *others_runs(struct daemon *d, cJSON *runs, const struct cx_tenant *t)
{
	cJSON *others = cJSON_CreateArray();
	for (cJSON *run = runs->child, *next; run; run = next) {
		next = run->next;
		if (!t || owning_tenant(d, run) != t)
			cJSON_AddItemToArray(others, cJSON_DetachItemViaPointer(runs, run));
	}
	return others;
}

static cJSON *tenant_json(struct daemon *d, struct cx_tenant *t, bool with_runs)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *runs = cx_catalog_list(d->root_fd, d->root, t->name, true);
	cJSON_Delete(others_runs(d, runs, t));
	cJSON_AddStringToObject(o, "tenant", t->name);
	cJSON_AddNumberToObject(o, "pid", cx_tenant_is_up(t) ? t->proc.pid : 0);
	cJSON_AddStringToObject(o, "status", cx_tenant_status_name(t->status));
	cJSON_AddNumberToObject(o, "restarts", t->restarts);
	if (with_runs)
		cJSON_AddItemToObject(o, "runs", runs);
	else {
		cJSON_AddNumberToObject(o, "runs", cJSON_GetArraySize(runs));
		cJSON_Delete(runs);
	}
	return o;
}

/* tenant_ls and tree; tree also lists the live runs of embedded
 * supervisors (their summaries name their owner), as "embedded". */
static void do_tenants(struct daemon *d, struct client *c, const cJSON *req, const char *op)
{
	cJSON *reply = cx_reply_ok(req);
	cJSON *list = cJSON_AddArrayToObject(reply, "tenants");
	struct cx_tenant *t;
	LIST_FOREACH(t, &d->tenants, link)
		if (cx_peer_may(&c->peer, &t->owner))
			cJSON_AddItemToArray(list, tenant_json(d, t, !strcmp(op, "tree")));
	if (!strcmp(op, "tree")) {
		cJSON_AddNumberToObject(reply, "pid", getpid());
		cJSON *live = cx_catalog_list(d->root_fd, d->root, NULL, true);
		cJSON *embedded = others_runs(d, live, NULL);
		for (cJSON *run = embedded->child, *next; run; run = next) {
			next = run->next;
			if (owning_tenant(d, run) ||
			    !may_see_tenant(d, c, cJSON_GetStringValue(cJSON_GetObjectItem(run, "tenant"))))
				cJSON_Delete(cJSON_DetachItemViaPointer(embedded, run));
		}
		cJSON_AddItemToObject(reply, "embedded", embedded);
		cJSON_Delete(live);
	}
	client_send(c, reply, -1);
}

/* tenant_stop, terminate_all, which_children: the group as a whole. */
static void do_group_op(struct daemon *d, struct client *c, const cJSON *req, const char *op)
{
	const char *name = cx_req_string(req, "tenant");
	struct cx_owner owner;
	if (!tenant_access(d, c, req, name, false, &owner))
		return;
	struct cx_tenant *t = cx_tenants_find(&d->tenants, name);
	if (!t || !cx_tenant_is_up(t)) {
		cJSON *reply = cx_reply_ok(req);
		if (!strcmp(op, "which_children"))
			cJSON_AddArrayToObject(reply, "children");
		client_send(c, reply, -1);
		return;
	}
	if (!strcmp(op, "tenant_stop"))
		cx_tenant_handle(t, CX_TENANT_STOP);
	forward(d, c, req, !strcmp(op, "tenant_stop") ? "stop" : NULL, t, -1);
}

static void do_tenant_start(struct daemon *d, struct client *c, const cJSON *req, const char *op)
{
	int64_t keep_ms, keep;
	if (!cx_req_int(req, "retention_ms", 1, INT64_MAX / 2, 0, &keep_ms) ||
	    !cx_req_int(req, "retention_count", 1, UINT32_MAX, 0, &keep)) {
		client_send(c, cx_reply_error(req, "usage", "\"retention_ms\" and \"retention_count\" "
					      "must be positive numbers"), -1);
		return;
	}
	struct cx_tenant *t = tenant_for_start(d, req, cx_req_string(req, "tenant"), c, true);
	if (!t)
		return;
	if (keep_ms)
		t->retention_ms = keep_ms;
	if (keep)
		t->retention_count = (unsigned)keep;
	cx_timer_arm(d->loop, &d->expiry, expiry_period(d));
	cJSON *reply = cx_reply_ok(req);
	cJSON_AddStringToObject(reply, "tenant", t->name);
	cJSON_AddNumberToObject(reply, "pid", t->proc.pid);
	client_send(c, reply, -1);
}

static void do_ps(struct daemon *d, struct client *c, const cJSON *req, const char *op)
{
	const char *tenant = cx_req_string(req, "tenant");
	struct cx_owner owner;
	if (tenant && !tenant_access(d, c, req, tenant, false, &owner))
		return;
	cJSON *runs = cx_catalog_list(d->root_fd, d->root, tenant, !cx_req_bool(req, "all"));
	cJSON *run = runs ? runs->child : NULL;
	while (!tenant && run) {
		cJSON *next = run->next;
		if (!may_see_tenant(d, c, cJSON_GetStringValue(cJSON_GetObjectItem(run, "tenant"))))
			cJSON_Delete(cJSON_DetachItemViaPointer(runs, run));
		run = next;
	}
	cJSON *reply = cx_reply_ok(req);
	cJSON_AddItemToObject(reply, "runs", runs);
	client_send(c, reply, -1);
}

static void do_demonitor(struct daemon *d, struct client *c, const cJSON *req, const char *op)
{
	int64_t ref;
	struct monitor *m;
	if (!cx_req_int(req, "ref", 1, INT64_MAX / 2, 0, &ref)) {
		client_send(c, cx_reply_error(req, "usage", "\"ref\" must be a monitor reference"), -1);
		return;
	}
	LIST_FOREACH(m, &d->monitors, link) {
		if (m->ref == (uint64_t)ref && m->client == c) {
			monitor_free(m);
			break;
		}
	}
	client_send(c, cx_reply_ok(req), -1);
}

static void do_hello(struct daemon *d, struct client *c, const cJSON *req, const char *op)
{
	int64_t version;
	if (!cx_req_int(req, "version", 0, INT32_MAX, PROTOCOL_VERSION, &version) ||
	    version != PROTOCOL_VERSION) {
		cJSON *reply = cx_reply_error(req, "unsupported_version",
					      "this councild speaks protocol version %d", PROTOCOL_VERSION);
		cJSON_AddNumberToObject(reply, "version", PROTOCOL_VERSION);
		client_send(c, reply, -1);
		return;
	}
	cJSON *reply = cx_reply_ok(req);
	cJSON_AddNumberToObject(reply, "version", PROTOCOL_VERSION);
	cJSON_AddStringToObject(reply, "server", "councild " COUNCIL_VERSION);
	cJSON_AddNumberToObject(reply, "pid", getpid());
	client_send(c, reply, -1);
}

typedef void op_fn(struct daemon *d, struct client *c, const cJSON *req, const char *op);

static op_fn *const handlers[CX_OP_N] = {
	[CX_OP_HELLO] = do_hello,
	[CX_OP_START] = do_start,
	[CX_OP_STATE] = do_run_op,
	[CX_OP_PID_FOR] = do_run_op,
	[CX_OP_FETCH_RESULT] = do_run_op,
	[CX_OP_SUBSCRIBE] = do_run_op,
	[CX_OP_CANCEL] = do_run_op,
	[CX_OP_TERMINATE] = do_run_op,
	[CX_OP_MONITOR] = do_run_op,
	[CX_OP_DEMONITOR] = do_demonitor,
	[CX_OP_RUN_ID] = do_run_id,
	[CX_OP_PS] = do_ps,
	[CX_OP_TENANT_LS] = do_tenants,
	[CX_OP_TREE] = do_tenants,
	[CX_OP_TENANT_START] = do_tenant_start,
	[CX_OP_TENANT_STOP] = do_group_op,
	[CX_OP_TERMINATE_ALL] = do_group_op,
	[CX_OP_WHICH_CHILDREN] = do_group_op,
};

static void handle(struct daemon *d, struct client *c, const cJSON *req)
{
	cJSON *error;
	int op = cx_request_decode(req, &error);
	if (op < 0)
		client_send(c, error, -1);
	else if (d->stopping && op != CX_OP_HELLO)
		client_send(c, cx_reply_error(req, "supervisor_unavailable", "councild is stopping"), -1);
	else
		handlers[op](d, c, req, cx_req_string(req, "op"));
}

/* Clients. */

static void client_close(struct client *c)
{
	struct daemon *d = c->d;
	struct monitor *m, *mn;
	LIST_FOREACH_SAFE(m, &d->monitors, link, mn)
		if (m->client == c)
			monitor_free(m);
	struct linked *l, *ln;
	LIST_FOREACH_SAFE(l, &d->links, link, ln)
		if (l->client == c)
			linked_free(l);
	struct pending *p;
	LIST_FOREACH(p, &d->pending, link)
		if (p->client == c)
			p->client = NULL;
	cx_watch_del(d->loop, &c->watch);
	cx_wire_close(&c->wire);
	LIST_REMOVE(c, link);
	free(c);
}

static void on_client(struct cx_loop *loop, struct cx_watch *w, uint32_t events)
{
	struct client *c = w->data;
	int r = cx_wire_service(&c->wire, loop, w, events);
	if (r < 0) {
		client_close(c);
		return;
	}
	if (r == 0)
		return;
	cJSON *req;
	char why[128];
	while ((r = cx_wire_next(&c->wire, &req, why, sizeof why)) != 0) {
		int stray;
		while ((stray = cx_wire_take_fd(&c->wire)) >= 0)
			close(stray); /* clients send no descriptors */
		if (r == -2) {
			client_send(c, cx_reply_error(NULL, "too_large", "%s", why), -1);
			cx_wire_flush(&c->wire);
			client_close(c);
			return;
		}
		if (r < 0) {
			client_send(c, cx_reply_error(NULL, "bad_request", "%s", why), -1);
			continue;
		}
		handle(c->d, c, req);
		cJSON_Delete(req);
	}
}

static unsigned connections_of(struct daemon *d, uid_t uid)
{
	unsigned n = 0;
	struct client *c;
	LIST_FOREACH(c, &d->clients, link)
		n += c->peer.uid == uid;
	return n;
}

/* One line the peer can read, then the door. */
static void turn_away(struct client *c, cJSON *why)
{
	cx_wire_send(&c->wire, why, NULL, 0);
	cJSON_Delete(why);
	cx_wire_close(&c->wire);
	free(c);
}

static void on_accept(struct cx_loop *loop, struct cx_watch *w, uint32_t events)
{
	struct daemon *d = w->data;
	int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	struct client *c = calloc(1, sizeof *c);
	if (!c || cx_peer_of(fd, &c->peer) < 0) {
		free(c);
		close(fd);
		return;
	}
	c->d = d;
	cx_wire_init(&c->wire, fd);
	c->watch = (struct cx_watch){ fd, on_client, c };
	uid_t uid = c->peer.uid;
	/* A councild that is not root cannot run anything as another user: it
	 * serves its own user (and root) alone. */
	if (geteuid() != 0 && uid != 0 && uid != geteuid()) {
		turn_away(c, cx_reply_error(NULL, "permission_denied", "this councild serves uid %u only",
					    (unsigned)geteuid()));
		return;
	}
	if (connections_of(d, uid) >= (unsigned)d->connections_per_uid) {
		turn_away(c, cx_reply_error(NULL, "too_many_connections",
					    "uid %u has %d connections open already", (unsigned)uid,
					    d->connections_per_uid));
		return;
	}
	LIST_INSERT_HEAD(&d->clients, c, link);
	cx_watch_add(loop, &c->watch, EPOLLIN);
}

/* Signals: stop on SIGTERM/SIGINT; reap orphans on SIGCHLD. */

static void stop_all(struct daemon *d)
{
	d->stopping = true;
	d->stop_deadline = cx_mono_ms() + STOP_GRACE_MS;
	cx_watch_del(d->loop, &d->listener);
	close(d->listener.fd);
	d->listener.fd = -1;
	struct cx_tenant *t;
	LIST_FOREACH(t, &d->tenants, link) {
		if (!cx_tenant_is_up(t))
			continue;
		if ((uint64_t)t->shutdown_ms + STOP_GRACE_MS > d->stop_deadline - cx_mono_ms())
			d->stop_deadline = cx_mono_ms() + (uint64_t)t->shutdown_ms + STOP_GRACE_MS;
		cJSON *stop = cJSON_CreateObject();
		cJSON_AddNumberToObject(stop, "id", 0);
		cJSON_AddStringToObject(stop, "op", "stop");
		cx_tenant_handle(t, CX_TENANT_STOP);
		cx_tenant_send(t, stop, NULL, 0);
		cJSON_Delete(stop);
	}
}

static void on_signal(struct cx_loop *loop, struct cx_watch *w, uint32_t events)
{
	struct daemon *d = w->data;
	struct signalfd_siginfo si;
	while (read(w->fd, &si, sizeof si) == sizeof si) {
		if (si.ssi_signo == SIGCHLD)
			reap_orphans(d);
		else if ((si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) && !d->stopping)
			stop_all(d);
	}
}

static bool tenants_up(struct daemon *d)
{
	struct cx_tenant *t;
	LIST_FOREACH(t, &d->tenants, link)
		if (cx_tenant_is_up(t))
			return true;
	return false;
}

/* Setup and teardown. */

static int listen_on(struct daemon *d)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if ((size_t)snprintf(addr.sun_path, sizeof addr.sun_path, "%s/councild.sock", d->root) >=
	    sizeof addr.sun_path)
		return -ENAMETOOLONG;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(addr.sun_path); /* ours: the pidfile is held */
	/* As root, every user may connect: each request is checked against its
	 * peer's credentials. Otherwise only our own user may. */
	mode_t old = umask(geteuid() == 0 ? 0111 : 0177);
	int r = bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 128) < 0 ? -errno : 0;
	umask(old);
	if (r < 0) {
		close(fd);
		return r;
	}
	d->listener = (struct cx_watch){ fd, on_accept, d };
	return cx_watch_add(d->loop, &d->listener, EPOLLIN);
}

static int open_signals(struct daemon *d)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	d->signals = (struct cx_watch){ fd, on_signal, d };
	return cx_watch_add(d->loop, &d->signals, EPOLLIN);
}

static void daemon_free(struct daemon *d)
{
	while (!LIST_EMPTY(&d->clients))
		client_close(LIST_FIRST(&d->clients));
	while (!LIST_EMPTY(&d->pending))
		pending_free(LIST_FIRST(&d->pending));
	while (!LIST_EMPTY(&d->monitors))
		monitor_free(LIST_FIRST(&d->monitors));
	while (!LIST_EMPTY(&d->links))
		linked_free(LIST_FIRST(&d->links));
	while (!LIST_EMPTY(&d->feeds))
		feed_free(LIST_FIRST(&d->feeds));
	while (!LIST_EMPTY(&d->workers))
		worker_free(LIST_FIRST(&d->workers));
	while (!LIST_EMPTY(&d->tenants))
		cx_tenant_free(LIST_FIRST(&d->tenants));
	if (d->listener.fd >= 0) {
		cx_watch_del(d->loop, &d->listener);
		close(d->listener.fd);
	}
	if (d->signals.fd >= 0) {
		cx_watch_del(d->loop, &d->signals);
		close(d->signals.fd);
	}
	if (d->root_fd >= 0)
		close(d->root_fd);
	cx_loop_free(d->loop);
}

int cx_daemon_run(const struct cx_daemon_options *opts)
{
	const char *root = opts->root;
	struct daemon d = { .root_fd = -1, .listener.fd = -1, .signals.fd = -1 };
	d.connections_per_uid = opts->connections_per_uid > 0 ? opts->connections_per_uid
							      : CX_DAEMON_CONNECTIONS_PER_UID;
	d.retention_ms = opts->retention_ms > 0 ? opts->retention_ms : CX_DAEMON_RETENTION_MS;
	d.retention_count = opts->retention_count > 0 ? opts->retention_count : CX_DAEMON_RETENTION_COUNT;
	d.expiry = CX_TIMER_INIT(on_expiry, &d);
	LIST_INIT(&d.clients);
	LIST_INIT(&d.tenants);
	LIST_INIT(&d.pending);
	LIST_INIT(&d.monitors);
	LIST_INIT(&d.links);
	LIST_INIT(&d.workers);
	LIST_INIT(&d.feeds);
	d.feed_sweep = CX_TIMER_INIT(on_feed_sweep, &d);
	d.tenant_events = (struct cx_tenant_events){ on_tenant_message, on_tenant_down, &d };
	strlcpy(d.root, root, sizeof d.root);
	/* Orphans of everything below come to councild, not to init. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	int r = cx_loop_new(&d.loop);
	if (r == 0 && (d.root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		r = -errno;
	if (r == 0)
		r = open_signals(&d);
	if (r == 0 && geteuid() == 0)
		r = cx_runs_dir_share(d.root_fd);
	if (r == 0) {
		/* Runs whose owner died (a councild SIGKILLed before us, with
		 * their guardians) are killed and finalized; runs whose owner
		 * lives (a `councilctl run` on this directory) are its own. */
		cx_catalog_recover(d.root_fd, d.root, NULL);
		for_each_tenant_dir(&d, settle_tenant);
	}
	if (r == 0) {
		for_each_tenant_dir(&d, expire_tenant);
		cx_timer_arm(d.loop, &d.expiry, expiry_period(&d));
		r = listen_on(&d);
	}
	if (r < 0) {
		daemon_free(&d);
		return -r;
	}
	if (opts->ready)
		opts->ready(opts->ready_data);
	while (!d.stopping || tenants_up(&d)) {
		if (d.stopping && cx_mono_ms() >= d.stop_deadline) {
			struct cx_tenant *t;
			LIST_FOREACH(t, &d.tenants, link)
				if (cx_tenant_is_up(t))
					cx_proc_signal(&t->proc, SIGKILL);
			d.stop_deadline = UINT64_MAX;
		}
		if (cx_loop_turn(d.loop, d.stopping ? 100 : -1) < 0)
			break;
	}
	char sock[PATH_MAX];
	snprintf(sock, sizeof sock, "%s/councild.sock", root);
	unlink(sock);
	daemon_free(&d);
	return 0;
}
