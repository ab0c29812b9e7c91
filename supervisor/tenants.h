/* councild's tenants: one supervisor process per tenant (`council-sup`),
 * forked on first use, restarted when it crashes unless it crashes too often
 * (OTP's intensity: more than 3 restarts in 5 s and it stays down).
 *
 * A tenant's lifecycle is the table `actions[status][event]` in tenants.c:
 * nothing else changes a tenant's status. */
#ifndef CX_SUP_TENANTS_H
#define CX_SUP_TENANTS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <cjson/cJSON.h>

#include "access.h"
#include "council/ids.h"
#include "loop.h"
#include "proc.h"
#include "wire.h"

#define CX_TENANT_MAX_RESTARTS 3
#define CX_TENANT_RESTART_PERIOD_MS 5000

enum cx_tenant_status {
	CX_TENANT_RUNNING,
	CX_TENANT_STOPPING,  /* asked to stop: its runs are being terminated */
	CX_TENANT_STOPPED,   /* stopped on request; takes no runs until tenant_start */
	CX_TENANT_FAILED,    /* crashed too often; takes no runs until tenant_start */
	CX_TENANT_STATUS_N
};

enum cx_tenant_event {
	CX_TENANT_START,     /* tenant_start, or the first use of a tenant this councild has no record of */
	CX_TENANT_USE,       /* a run is to start in it */
	CX_TENANT_STOP,      /* tenant_stop, or councild's own stop (the caller sends the stop) */
	CX_TENANT_EXIT,      /* its supervisor exited 0, its runs final */
	CX_TENANT_CRASH,     /* its supervisor died any other way */
	CX_TENANT_EVENT_N
};

struct cx_tenant;

/* What councild does with what a tenant says, and with its death. */
struct cx_tenant_events {
	void (*message)(void *data, struct cx_tenant *t, cJSON *msg);  /* consumes msg */
	void (*down)(void *data, struct cx_tenant *t, bool crashed);
	void *data;
};

struct cx_tenant {
	char name[CX_NAME_MAX + 1];
	struct cx_owner owner;
	enum cx_tenant_status status;
	struct cx_proc proc;
	struct cx_wire wire;
	struct cx_watch channel;
	struct cx_watch exit_watch;
	int shutdown_ms;
	int64_t retention_ms;      /* finished runs kept this long; 0: councild's */
	unsigned retention_count;  /* and at most this many; 0: councild's */
	int64_t started_at_ms;
	int spawn_error;                             /* errno of the last fork that failed */
	unsigned restarts;                           /* in all */
	uint64_t recent[CX_TENANT_MAX_RESTARTS + 1]; /* when it last crashed (monotonic) */
	const struct cx_tenant_events *ev;
	struct cx_loop *loop;
	const char *root;
	LIST_ENTRY(cx_tenant) link;
};

LIST_HEAD(cx_tenant_list, cx_tenant);

struct cx_tenant *cx_tenants_find(struct cx_tenant_list *list, const char *name);
/* A new record, for owner, stopped: CX_TENANT_START forks its supervisor
 * (in the tenant's cgroup, as its owner: access.h). NULL when out of
 * memory. */
struct cx_tenant *cx_tenants_add(struct cx_tenant_list *list, const char *name,
				 const struct cx_owner *owner, struct cx_loop *loop, const char *root,
				 const struct cx_tenant_events *ev);
/* What ev does in the tenant's status: CX_OK; CX_ETENANT_STOPPED (a use
 * of a stopped tenant); CX_EUNAVAILABLE (a use of a failed or stopping
 * tenant, a start of a stopping one); CX_ESYS (its supervisor could not be
 * forked: spawn_error says why). Every change of status is written to
 * tenants/<name>/status, by the supervisor while it lives and here once it
 * is gone. */
int cx_tenant_handle(struct cx_tenant *t, enum cx_tenant_event ev);
/* Sends a request or message to the tenant's supervisor. Returns 0 or -errno. */
int cx_tenant_send(struct cx_tenant *t, const cJSON *msg, const int *fds, size_t n_fds);
/* The tenant's supervisor has exited (councild's orphan scan found it):
 * reaps it and reports down. */
void cx_tenant_reap(struct cx_tenant *t);
bool cx_tenant_is_up(const struct cx_tenant *t);
const char *cx_tenant_status_name(enum cx_tenant_status status);
/* Writes root/tenants/<name>/status for a tenant no supervisor of ours
 * runs: stopped, no pid (what a councild finds at its start). */
void cx_tenant_announce_stopped(const char *root, const char *name);
void cx_tenant_free(struct cx_tenant *t);

#endif
