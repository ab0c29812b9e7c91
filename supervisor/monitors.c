#include "monitors.h"

#include <stdlib.h>
#include <string.h>

#include "daemon_int.h"
#include "hash.h"

#define BUCKET(run_id) (cx_hash_name(run_id) % CX_RUN_BUCKETS)

void cx_monitors_init(struct cx_monitors *ms)
{
	LIST_INIT(&ms->all);
	LIST_INIT(&ms->links);
	LIST_INIT(&ms->workers);
	for (size_t i = 0; i < CX_RUN_BUCKETS; i++) {
		LIST_INIT(&ms->by_run[i]);
		LIST_INIT(&ms->links_by_run[i]);
		LIST_INIT(&ms->workers_by_run[i]);
		LIST_INIT(&ms->workers_by_pid[i]);
	}
}

static void monitor_free(struct cx_monitor *m)
{
	LIST_REMOVE(m, link);
	LIST_REMOVE(m, by_run);
	free(m);
}

static void linked_free(struct cx_linked *l)
{
	LIST_REMOVE(l, link);
	LIST_REMOVE(l, by_run);
	free(l);
}

static void worker_free(struct cx_worker_record *wk)
{
	LIST_REMOVE(wk, link);
	LIST_REMOVE(wk, by_run);
	LIST_REMOVE(wk, by_pid);
	free(wk);
}

void cx_monitors_fini(struct cx_monitors *ms)
{
	while (!LIST_EMPTY(&ms->all))
		monitor_free(LIST_FIRST(&ms->all));
	while (!LIST_EMPTY(&ms->links))
		linked_free(LIST_FIRST(&ms->links));
	while (!LIST_EMPTY(&ms->workers))
		worker_free(LIST_FIRST(&ms->workers));
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
	cx_client_send(c, msg, -1);
}

struct cx_monitor *cx_monitor_add(struct cx_monitors *ms, struct client *c, uint64_t ref,
				  const char *run_id, struct cx_tenant *t)
{
	struct cx_monitor *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->ref = ref;
	m->client = c;
	m->tenant = t;
	strlcpy(m->run_id, run_id, sizeof m->run_id);
	LIST_INSERT_HEAD(&ms->all, m, link);
	LIST_INSERT_HEAD(&ms->by_run[BUCKET(run_id)], m, by_run);
	return m;
}

void cx_monitor_down(struct cx_monitor *m, const char *reason)
{
	send_message(m->client, "DOWN", m->run_id, reason, m->ref);
	monitor_free(m);
}

void cx_monitor_remove(struct cx_monitors *ms, const struct client *c, uint64_t ref)
{
	struct cx_monitor *m;
	LIST_FOREACH(m, &ms->all, link) {
		if (m->ref == ref && m->client == c) {
			monitor_free(m);
			return;
		}
	}
}

void cx_link_add(struct cx_monitors *ms, struct client *c, const char *run_id,
		 struct cx_tenant *t)
{
	struct cx_linked *l = calloc(1, sizeof *l);
	if (!l)
		return;
	l->client = c;
	l->tenant = t;
	strlcpy(l->run_id, run_id, sizeof l->run_id);
	LIST_INSERT_HEAD(&ms->links, l, link);
	LIST_INSERT_HEAD(&ms->links_by_run[BUCKET(l->run_id)], l, by_run);
}

static void linked_down(struct cx_linked *l, const char *reason)
{
	if (strcmp(reason, "normal"))
		send_message(l->client, "EXIT", l->run_id, reason, 0);
	linked_free(l);
}

void cx_worker_add(struct cx_monitors *ms, const char *run_id, struct cx_tenant *t,
		   pid_t pid, uint64_t ino)
{
	struct cx_worker_record *wk = calloc(1, sizeof *wk);
	if (!wk)
		return; /* run_id(pid) will not know it: harmless */
	wk->proc = (struct cx_proc){ pid, -1, ino };
	wk->tenant = t;
	strlcpy(wk->run_id, run_id, sizeof wk->run_id);
	LIST_INSERT_HEAD(&ms->workers, wk, link);
	LIST_INSERT_HEAD(&ms->workers_by_run[BUCKET(wk->run_id)], wk, by_run);
	LIST_INSERT_HEAD(&ms->workers_by_pid[cx_hash_pid(pid) % CX_RUN_BUCKETS], wk, by_pid);
}

struct cx_worker_record *cx_worker_of_run(struct cx_monitors *ms, const char *run_id)
{
	struct cx_worker_record *wk;
	LIST_FOREACH(wk, &ms->workers_by_run[BUCKET(run_id)], by_run)
		if (!strcmp(wk->run_id, run_id))
			return wk;
	return NULL;
}

struct cx_worker_record *cx_worker_of_pid(struct cx_monitors *ms, pid_t pid)
{
	struct cx_worker_record *wk;
	struct cx_proc now;
	LIST_FOREACH(wk, &ms->workers_by_pid[cx_hash_pid(pid) % CX_RUN_BUCKETS], by_pid)
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

void cx_run_down(struct cx_monitors *ms, struct cx_tenant *t, const char *run_id,
		 const char *reason)
{
	struct cx_worker_record *wk, *wn;
	struct cx_monitor *m, *mn;
	struct cx_linked *l, *ln;
	if (run_id) {
		size_t b = BUCKET(run_id);
		if ((wk = cx_worker_of_run(ms, run_id)) && (!t || wk->tenant == t))
			worker_free(wk);
		LIST_FOREACH_SAFE(m, &ms->by_run[b], by_run, mn)
			if (!strcmp(m->run_id, run_id) && (!t || m->tenant == t))
				cx_monitor_down(m, reason);
		LIST_FOREACH_SAFE(l, &ms->links_by_run[b], by_run, ln)
			if (!strcmp(l->run_id, run_id) && (!t || l->tenant == t))
				linked_down(l, reason);
		return;
	}
	LIST_FOREACH_SAFE(wk, &ms->workers, link, wn)
		if (wk->tenant == t)
			worker_free(wk);
	LIST_FOREACH_SAFE(m, &ms->all, link, mn)
		if (m->tenant == t)
			cx_monitor_down(m, reason);
	LIST_FOREACH_SAFE(l, &ms->links, link, ln)
		if (l->tenant == t)
			linked_down(l, reason);
}

void cx_monitors_drop_client(struct cx_monitors *ms, const struct client *c)
{
	struct cx_monitor *m, *mn;
	struct cx_linked *l, *ln;
	LIST_FOREACH_SAFE(m, &ms->all, link, mn)
		if (m->client == c)
			monitor_free(m);
	LIST_FOREACH_SAFE(l, &ms->links, link, ln)
		if (l->client == c)
			linked_free(l);
}
