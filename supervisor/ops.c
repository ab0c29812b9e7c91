/* What each op of docs/protocol.md means to councild: the op table. A
 * request about a run goes to the tenant supervisor that runs it; what no
 * live tenant of ours can answer (a run that is over, whose tenant is gone,
 * or that an embedded supervisor owns), the run's files do. */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "catalog.h"
#include "daemon_int.h"
#include "fsutil.h"
#include "json.h"
#include "proc.h"
#include "rundir.h"
#include "statusfs.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

#define PROTOCOL_VERSION 1

typedef void op_fn(struct daemon *d, struct client *c, const cJSON *req, enum cx_op op);

/* Access (access.h). A peer other than root learns nothing of what it may
 * not use: a run of another's tenant and a run that does not exist get
 * the same answer, so run ids and pids cannot be probed. */

static void deny(struct client *c, const cJSON *req, const char *what, const char *name)
{
	cx_client_send(c, cx_reply_error(req, "permission_denied", "%s %s: permission denied",
					 what, name), -1);
}

/* The primary group of uid: the peer's own when it is uid. */
static gid_t primary_gid(const struct client *c, uid_t uid)
{
	if (c->peer.uid == uid)
		return c->peer.gid;
	const struct passwd *pw = getpwuid(uid);
	return pw ? pw->pw_gid : (gid_t)uid;
}

/* The owner a tenant created by c gets: c (the reserved tenant's user,
 * rightful, when not (uid_t)-1), or councild's own user when it cannot
 * become anyone else; with "group", that group, of which c must be a
 * member. NULL when c may not have it, after replying. */
static const struct cx_owner *new_owner(struct client *c, const cJSON *req, uid_t rightful,
					struct cx_owner *o)
{
	const cJSON *given = cJSON_GetObjectItemCaseSensitive(req, "group");
	const char *group = cJSON_GetStringValue(given);
	uid_t uid = rightful != (uid_t)-1 ? rightful : c->peer.uid;
	*o = geteuid() == 0 ? (struct cx_owner){ uid, primary_gid(c, uid), false }
			    : (struct cx_owner){ geteuid(), getegid(), false };
	if (given && !group) {
		cx_client_send(c, cx_reply_error(req, "bad_request", "\"group\" must be a group name or number"), -1);
		return NULL;
	}
	if (!group)
		return o;
	if (cx_group_lookup(group, &o->gid) < 0) {
		cx_client_send(c, cx_reply_error(req, "usage", "no group %.64s", group), -1);
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
	uid_t rightful = (uid_t)-1;
	bool reserved = cx_tenant_reserved(name, &rightful);
	int r = cx_owner_read(d->root_fd, name, o);
	/* A reserved tenant is its user's before it exists: whoever made it
	 * first would own it, and run its user's later runs as itself. */
	if (reserved && r == -ENOENT && c->peer.uid != 0 && c->peer.uid != rightful) {
		deny(c, req, "tenant", name);
		return false;
	}
	bool making = r == -ENOENT && create;
	if (making && !new_owner(c, req, rightful, o))
		return false;
	/* Made by another user before names were reserved, or to be made by
	 * a councild that cannot give it to its user: nobody's to use. */
	if (reserved && (r == 0 || making) && o->uid != rightful) {
		deny(c, req, "tenant", name);
		return false;
	}
	if (making)
		r = cx_owner_create(d->root_fd, name, o) ?: cx_owner_read(d->root_fd, name, o);
	if (r == -ENOENT) {
		cx_client_send(c, cx_reply_error(req, "unknown_tenant", "no tenant %s", name), -1);
		return false;
	}
	if (r < 0) {
		cx_client_send(c, cx_reply_error(req, "system_error", "tenant %s: %s", name, strerror(-r)), -1);
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

/* Starting. */

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
		cx_client_send(c, cx_reply_error(req, "usage", "\"shutdown_ms\" out of range"), -1);
		return NULL;
	}
	struct cx_tenant *t = cx_tenants_find(&d->tenants, name);
	bool fresh = !t;
	if (fresh && !(t = cx_tenants_add(&d->tenants, name, &owner, d->loop, d->root,
					  &d->tenant_events))) {
		cx_client_send(c, cx_reply_error(req, "system_error", "out of memory"), -1);
		return NULL;
	}
	if (shutdown_ms > 0)
		t->shutdown_ms = (int)shutdown_ms;
	int r = cx_tenant_handle(t, fresh || explicit ? CX_TENANT_START : CX_TENANT_USE);
	if (r == CX_OK)
		return t;
	if (r == CX_ETENANT_STOPPED)
		cx_client_send(c, cx_reply_error(req, "tenant_stopped", "tenant %s is stopped; "
						 "`councilctl tenant start %s` starts it", name, name), -1);
	else if (r == CX_ESYS)
		cx_client_send(c, cx_reply_error(req, "system_error", "starting tenant %s: %s", name,
						 strerror(t->spawn_error)), -1);
	else if (t->status == CX_TENANT_FAILED)
		cx_client_send(c, cx_reply_error(req, "supervisor_unavailable",
						 "tenant %s failed; `councilctl tenant start %s` restarts it",
						 name, name), -1);
	else
		cx_client_send(c, cx_reply_error(req, "supervisor_unavailable", "tenant %s is %s", name,
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

/* Whether c may learn that run_id exists: a run of a tenant it may use. */
static bool may_see_run(struct daemon *d, const struct client *c, const char *run_id)
{
	struct cx_worker_record *wk = cx_worker_of_run(&d->monitors, run_id);
	struct cx_run_summary s;
	if (c->peer.uid == 0 || wk)
		return !wk || cx_peer_may(&c->peer, &wk->tenant->owner);
	return cx_catalog_read(d->root_fd, run_id, &s) == 0 && may_see_tenant(d, c, s.tenant);
}

/* Started: councild knows the worker (run_id of a pid) and the link. */
static bool started(struct daemon *d, struct cx_pending *p, cJSON *reply, int fd)
{
	const char *run_id = cx_req_string(reply, "run_id") ?: "";
	const char *code = cx_req_string(cJSON_GetObjectItem(reply, "error"), "code");
	/* Run ids are one namespace: an id taken by a run the caller may not
	 * see is refused as any such run is asked about, and tells it no more
	 * than that it cannot have that id (docs/security.md). */
	if (code && !strcmp(code, "already_started") && p->client &&
	    !may_see_run(d, p->client, cx_req_string(p->req, "run_id") ?: "")) {
		deny(p->client, p->req, "run", cx_req_string(p->req, "run_id"));
		cJSON_Delete(reply);
		return true;
	}
	/* A tenant supervisor runs as its tenant's owner, who could make it
	 * name another's run here: only a run of its own tenant, not known
	 * yet, is recorded as its worker (and linked). */
	if (cx_req_bool(reply, "ok") && cx_run_id_valid(run_id) &&
	    !cx_worker_of_run(&d->monitors, run_id) &&
	    cx_catalog_owns(d->root_fd, run_id, p->tenant->name)) {
		cx_worker_add(&d->monitors, run_id, p->tenant,
			      (pid_t)cJSON_GetNumberValue(cJSON_GetObjectItem(reply, "pid")),
			      (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(reply, "ino")));
		if (cx_req_bool(p->req, "link") && p->client)
			cx_link_add(&d->monitors, p->client, run_id, p->tenant);
	}
	return cx_forward_relay(d, p, reply, fd);
}

static void do_start(struct daemon *d, struct client *c, const cJSON *req, enum cx_op op)
{
	char buf[CX_NAME_MAX + 1];
	struct cx_tenant *t = tenant_for_start(d, req, tenant_of(c, req, buf), c, false);
	if (!t)
		return;
	struct cx_proc caller = CX_PROC_NULL;
	if (cx_req_bool(req, "link") && peer_proc(c->wire.fd, &caller) < 0) {
		cx_proc_release(&caller);
		cx_client_send(c, cx_reply_error(req, "system_error", "cannot take the caller's pidfd"), -1);
		return;
	}
	cx_forward(d, c, req, op, NULL, t, caller.pidfd, started);
	cx_proc_release(&caller);
}

/* Runs. */

/* A run's record, and the tenant of ours that supervises it, if one is up
 * (NULL: no tenant of ours runs it now). */
static bool find_run(struct daemon *d, const char *run_id, struct cx_run_summary *s,
		     struct cx_tenant **t)
{
	/* A live run is known here, with its tenant: no file to read. */
	struct cx_worker_record *wk = cx_worker_of_run(&d->monitors, run_id);
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
	if (!cx_run_over(s) && cx_catalog_settle(d->root_fd, d->root, run_id) > 0 &&
	    cx_catalog_read(d->root_fd, run_id, s) < 0)
		return false;
	*t = cx_tenants_find(&d->tenants, s->tenant);
	if (*t && !cx_tenant_is_up(*t))
		*t = NULL;
	return true;
}

/* A subscription served from the run's events file (feeds.h). */
static void subscribe_from_file(struct daemon *d, struct client *c, const cJSON *req,
				const char *run_id)
{
	int64_t since;
	int pipe_fd;
	if (!cx_req_int(req, "since", 1, INT64_MAX / 2, 1, &since)) {
		cx_client_send(c, cx_reply_error(req, "usage", "\"since\" must be a seq"), -1);
		return;
	}
	int r = cx_feed_subscribe(&d->feeds, run_id, (uint64_t)since, &pipe_fd);
	if (r == -ENOENT) {
		cx_client_send(c, cx_reply_error(req, "unknown_run", "no run %s", run_id), -1);
		return;
	}
	if (r < 0) {
		cx_client_send(c, cx_reply_error(req, "system_error", "subscribing to %s: %s", run_id,
						 strerror(-r)), -1);
		return;
	}
	cJSON *reply = cx_reply_ok(req);
	cJSON_AddNumberToObject(reply, "fds", 1);
	cx_client_send(c, reply, pipe_fd);
	close(pipe_fd);
}

/* What a run's files answer, for a run no tenant of ours supervises. */
static void answer_from_files(struct daemon *d, struct client *c, const cJSON *req,
			      enum cx_op op, const struct cx_run_summary *s)
{
	char path[CX_RUN_PATH_MAX], *text;
	cJSON *reply;
	int r;
	switch (op) {
	case CX_OP_SUBSCRIBE:
		subscribe_from_file(d, c, req, s->run_id);
		return;
	case CX_OP_PID_FOR:
		reply = cx_reply_error(req, "runner_dead", "run %s has exited", s->run_id);
		break;
	case CX_OP_STATE:
		reply = cx_reply_ok(req);
		if (cx_read_file(d->root_fd, cx_run_path(s->run_id, CX_RUN_SUMMARY, path),
				 cx_run_file_max(CX_RUN_SUMMARY), &text, NULL) == 0) {
			cJSON_AddItemToObject(reply, "summary", cJSON_Parse(text));
			free(text);
		}
		break;
	case CX_OP_FETCH_RESULT:
		/* The run's owner may have put anything there: what is no
		 * regular file, or would not fit in a reply, is refused
		 * unread. */
		r = cx_read_file(d->root_fd, cx_run_path(s->run_id, CX_RUN_RESULT, path),
				 cx_run_file_max(CX_RUN_RESULT), &text, NULL);
		if (r == -EFBIG)
			reply = cx_reply_error(req, "too_large", "run %s: result.json is over %zu bytes",
					       s->run_id, cx_run_file_max(CX_RUN_RESULT));
		else if (r < 0 && r != -ENOENT)
			reply = cx_reply_error(req, "system_error", "run %s: result.json: %s", s->run_id,
					       r == -EINVAL ? "not a regular file" : strerror(-r));
		else {
			reply = cx_reply_ok(req);
			if (r == 0)
				cJSON_AddItemToObject(reply, "result", cJSON_Parse(text));
			cJSON_AddStringToObject(reply, "status", cx_run_status_name(s->status));
		}
		if (r == 0)
			free(text);
		break;
	default: /* cancel, terminate: a run that is over is no error (OTP) */
		reply = cx_reply_ok(req);
	}
	cx_client_send(c, reply, -1);
}

/* A run op's reply. The run ended, and its tenant forgot it, while the
 * request was on its way: its files answer. */
static bool run_op_replied(struct daemon *d, struct cx_pending *p, cJSON *reply, int fd)
{
	const char *code = cx_req_string(cJSON_GetObjectItem(reply, "error"), "code");
	struct cx_run_summary s;
	if (code && (!strcmp(code, "not_found") || !strcmp(code, "unknown_run")) && p->client &&
	    cx_catalog_read(d->root_fd, cx_req_string(p->req, "run_id"), &s) == 0) {
		answer_from_files(d, p->client, p->req, p->op, &s);
		cJSON_Delete(reply);
		return true;
	}
	return cx_forward_relay(d, p, reply, fd);
}

/* A monitor's reference, then, for a run that is gone or never was, DOWN
 * noproc at once (as OTP's monitor of a dead process). */
static void monitor_set(struct daemon *d, struct client *c, const cJSON *req,
			struct cx_tenant *t, bool gone)
{
	const char *run_id = cx_req_string(req, "run_id");
	struct cx_monitor *m = cx_monitor_add(&d->monitors, c, ++d->next_id, run_id, t);
	if (!m) {
		cx_client_send(c, cx_reply_error(req, "system_error", "out of memory"), -1);
		return;
	}
	cJSON *reply = cx_reply_ok(req);
	cJSON_AddNumberToObject(reply, "ref", (double)m->ref);
	cx_client_send(c, reply, -1);
	if (gone)
		cx_monitor_down(m, "noproc");
}

/* The tenant said whether the run's end is still to come: its down
 * message follows this reply when it is. */
static bool monitor_replied(struct daemon *d, struct cx_pending *p, cJSON *reply, int fd)
{
	bool alive = cx_req_bool(reply, "ok") && cx_req_bool(reply, "alive");
	if (p->client)
		monitor_set(d, p->client, p->req, p->tenant, !alive);
	cJSON_Delete(reply);
	return true;
}

static void do_run_op(struct daemon *d, struct client *c, const cJSON *req, enum cx_op op)
{
	const char *run_id = cx_req_string(req, "run_id");
	struct cx_run_summary s;
	struct cx_tenant *t = NULL;
	bool found = find_run(d, run_id, &s, &t);
	if (!(found ? may_see_tenant(d, c, s.tenant) : c->peer.uid == 0)) {
		deny(c, req, "run", run_id);
		return;
	}
	bool over = found && cx_run_over(&s);
	if (t && !over) {
		/* A monitor asks the tenant whether the run's end is to come. */
		if (op == CX_OP_MONITOR)
			cx_forward(d, c, req, op, "alive", t, -1, monitor_replied);
		else
			cx_forward(d, c, req, op, NULL, t, -1, run_op_replied);
	} else if (op == CX_OP_MONITOR) {
		monitor_set(d, c, req, t, true);
	} else if (found) {
		answer_from_files(d, c, req, op, &s);
	} else {
		bool lookup = op == CX_OP_STATE || op == CX_OP_FETCH_RESULT;
		cx_client_send(c, cx_reply_error(req, lookup ? "not_found" : "unknown_run", "no run %s",
						 run_id), -1);
	}
}

static void do_run_id(struct daemon *d, struct client *c, const cJSON *req, enum cx_op op)
{
	int64_t pid;
	if (!cx_req_int(req, "pid", 1, INT32_MAX, 0, &pid) || !pid) {
		cx_client_send(c, cx_reply_error(req, "usage", "\"pid\" must be a process id"), -1);
		return;
	}
	struct cx_worker_record *wk = cx_worker_of_pid(&d->monitors, (pid_t)pid);
	if (wk ? !cx_peer_may(&c->peer, &wk->tenant->owner) : c->peer.uid != 0) {
		char name[24];
		snprintf(name, sizeof name, "pid %lld", (long long)pid);
		deny(c, req, "run of", name);
		return;
	}
	if (!wk) {
		cx_client_send(c, cx_reply_error(req, "unknown_run", "no live run has pid %lld",
						 (long long)pid), -1);
		return;
	}
	cJSON *reply = cx_reply_ok(req);
	cJSON_AddStringToObject(reply, "run_id", wk->run_id);
	cx_client_send(c, reply, -1);
}

static void do_demonitor(struct daemon *d, struct client *c, const cJSON *req, enum cx_op op)
{
	int64_t ref;
	if (!cx_req_int(req, "ref", 1, INT64_MAX / 2, 0, &ref)) {
		cx_client_send(c, cx_reply_error(req, "usage", "\"ref\" must be a monitor reference"), -1);
		return;
	}
	cx_monitor_remove(&d->monitors, c, (uint64_t)ref);
	cx_client_send(c, cx_reply_ok(req), -1);
}

/* Listings. */

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
static void do_tenants(struct daemon *d, struct client *c, const cJSON *req, enum cx_op op)
{
	cJSON *reply = cx_reply_ok(req);
	cJSON *list = cJSON_AddArrayToObject(reply, "tenants");
	struct cx_tenant *t;
	LIST_FOREACH(t, &d->tenants, link)
		if (cx_peer_may(&c->peer, &t->owner))
			cJSON_AddItemToArray(list, tenant_json(d, t, op == CX_OP_TREE));
	if (op == CX_OP_TREE) {
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
	cx_client_send(c, reply, -1);
}

static void do_ps(struct daemon *d, struct client *c, const cJSON *req, enum cx_op op)
{
	const char *tenant = cx_req_string(req, "tenant");
	struct cx_owner owner;
	if (tenant && !tenant_access(d, c, req, tenant, false, &owner))
		return;
	cJSON *runs = cx_catalog_list(d->root_fd, d->root, tenant, !cx_req_bool(req, "all"));
	cJSON *run = runs ? runs->child : NULL;
	while (run) {
		cJSON *next = run->next;
		if (!may_see_tenant(d, c, cJSON_GetStringValue(cJSON_GetObjectItem(run, "tenant"))))
			cJSON_Delete(cJSON_DetachItemViaPointer(runs, run));
		run = next;
	}
	cJSON *reply = cx_reply_ok(req);
	cJSON_AddItemToObject(reply, "runs", runs);
	cx_client_send(c, reply, -1);
}

/* Tenants as a whole. */

/* Stopped means gone: the answer waits for the tenant's exit
 * (cx_forward_lost), so that a tenant_start right after finds it down. */
static bool stop_replied(struct daemon *d, struct cx_pending *p, cJSON *reply, int fd)
{
	if (cx_req_bool(reply, "ok")) {
		cJSON_Delete(reply);
		return false;
	}
	return cx_forward_relay(d, p, reply, fd);
}

/* The tenant's runs, as OTP's which_children lists a supervisor's. */
static bool children_replied(struct daemon *d, struct cx_pending *p, cJSON *reply, int fd)
{
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
	return cx_forward_relay(d, p, reply, fd);
}

/* tenant_stop, terminate_all, which_children: a tenant that is not up has
 * nothing to stop, terminate or list. */
static void do_group_op(struct daemon *d, struct client *c, const cJSON *req, enum cx_op op)
{
	const char *name = cx_req_string(req, "tenant");
	struct cx_owner owner;
	if (!tenant_access(d, c, req, name, false, &owner))
		return;
	struct cx_tenant *t = cx_tenants_find(&d->tenants, name);
	if (!t || !cx_tenant_is_up(t)) {
		cJSON *reply = cx_reply_ok(req);
		if (op == CX_OP_WHICH_CHILDREN)
			cJSON_AddArrayToObject(reply, "children");
		cx_client_send(c, reply, -1);
	} else if (op == CX_OP_TENANT_STOP) {
		cx_tenant_handle(t, CX_TENANT_STOP);
		cx_forward(d, c, req, op, "stop", t, -1, stop_replied);
	} else {
		cx_forward(d, c, req, op, NULL, t, -1,
			   op == CX_OP_WHICH_CHILDREN ? children_replied : cx_forward_relay);
	}
}

static void do_tenant_start(struct daemon *d, struct client *c, const cJSON *req, enum cx_op op)
{
	int64_t keep_ms, keep;
	if (!cx_req_int(req, "retention_ms", 1, INT64_MAX / 2, 0, &keep_ms) ||
	    !cx_req_int(req, "retention_count", 1, UINT32_MAX, 0, &keep)) {
		cx_client_send(c, cx_reply_error(req, "usage", "\"retention_ms\" and \"retention_count\" "
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
	cx_daemon_retention_changed(d);
	cJSON *reply = cx_reply_ok(req);
	cJSON_AddStringToObject(reply, "tenant", t->name);
	cJSON_AddNumberToObject(reply, "pid", t->proc.pid);
	cx_client_send(c, reply, -1);
}

static void do_hello(struct daemon *d, struct client *c, const cJSON *req, enum cx_op op)
{
	int64_t version;
	if (!cx_req_int(req, "version", 0, INT32_MAX, PROTOCOL_VERSION, &version) ||
	    version != PROTOCOL_VERSION) {
		cJSON *reply = cx_reply_error(req, "unsupported_version",
					      "this councild speaks protocol version %d", PROTOCOL_VERSION);
		cJSON_AddNumberToObject(reply, "version", PROTOCOL_VERSION);
		cx_client_send(c, reply, -1);
		return;
	}
	cJSON *reply = cx_reply_ok(req);
	cJSON_AddNumberToObject(reply, "version", PROTOCOL_VERSION);
	cJSON_AddStringToObject(reply, "server", "councild " COUNCIL_VERSION);
	cJSON_AddNumberToObject(reply, "pid", getpid());
	cx_client_send(c, reply, -1);
}

static op_fn *const handlers[CX_OP_CLIENT_N] = {
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

void cx_daemon_dispatch(struct daemon *d, struct client *c, const cJSON *req, enum cx_op op)
{
	handlers[op](d, c, req, op);
}

void cx_daemon_handle(struct daemon *d, struct client *c, const cJSON *req)
{
	cJSON *error;
	int op = cx_request_decode(req, CX_FROM_CLIENT, &error);
	if (op < 0)
		cx_client_send(c, error, -1);
	else if (d->stopping && op != CX_OP_HELLO)
		cx_client_send(c, cx_reply_error(req, "supervisor_unavailable", "councild is stopping"), -1);
	else
		cx_daemon_dispatch(d, c, req, (enum cx_op)op);
}
