/* councild's tenants: one supervisor process per tenant (`council-sup`),
 * forked on first use, restarted when it crashes unless it crashes too often
 * (OTP's intensity: more than 3 restarts in 5 s and it stays down). */
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
	CX_TENANT_STOPPED,   /* stopped on request; started again on next use */
	CX_TENANT_FAILED,    /* crashed too often; stays down until tenant_start */
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
	unsigned restarts;                           /* in all */
	uint64_t recent[CX_TENANT_MAX_RESTARTS + 1]; /* when it last crashed (monotonic) */
	const struct cx_tenant_events *ev;
	struct cx_loop *loop;
	const char *root;
	LIST_ENTRY(cx_tenant) link;
};

LIST_HEAD(cx_tenant_list, cx_tenant);

struct cx_tenant *cx_tenants_find(struct cx_tenant_list *list, const char *name);
/* Forks the tenant's supervisor (creating the record, for owner, on first
 * use), in the tenant's cgroup and as its owner (access.h).
 * Returns 0 or -errno. */
int cx_tenants_spawn(struct cx_tenant_list *list, const char *name, const struct cx_owner *owner,
		    int shutdown_ms, struct cx_loop *loop, const char *root,
		    const struct cx_tenant_events *ev, struct cx_tenant **out);
/* Sends a request or message to the tenant's supervisor. Returns 0 or -errno. */
int cx_tenant_send(struct cx_tenant *t, const cJSON *msg, const int *fds, size_t n_fds);
/* The tenant's supervisor has exited (councild's orphan scan found it):
 * reaps it and reports down. */
void cx_tenant_reap(struct cx_tenant *t);
bool cx_tenant_is_up(const struct cx_tenant *t);
const char *cx_tenant_status_name(enum cx_tenant_status status);
/* tenants/<name>/status for a tenant that is not running. */
void cx_tenant_announce_down(struct cx_tenant *t);
void cx_tenant_free(struct cx_tenant *t);

#endif
