/* What councild keeps for the end of each live run: the monitors and links
 * its clients hold, and the run's worker as its tenant reported it at
 * start. They live in councild, with the connections they belong to, so
 * they outlive a tenant supervisor that crashes: its runs' monitors get
 * DOWN `supervisor_down`. Hashed by run, so that a run's end, or a lookup,
 * costs the same with 10,000 live runs as with one. */
#ifndef CX_SUP_MONITORS_H
#define CX_SUP_MONITORS_H

#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "council/ids.h"
#include "proc.h"

#define CX_RUN_BUCKETS 4096

struct client;
struct cx_tenant;

struct cx_monitor {
	uint64_t ref;
	struct client *client;
	char run_id[CX_RUN_ID_MAX + 1];
	struct cx_tenant *tenant;   /* NULL: the run has no live tenant */
	LIST_ENTRY(cx_monitor) link, by_run;
};

/* A start_link caller, for the EXIT message; its pidfd is the tenant's. */
struct cx_linked {
	struct client *client;
	char run_id[CX_RUN_ID_MAX + 1];
	struct cx_tenant *tenant;
	LIST_ENTRY(cx_linked) link, by_run;
};

/* A live run's worker: run_id(pid) answers from these until the tenant
 * reports the run down, for as long as the pid is still that worker's (an
 * identity: no handle is held). */
struct cx_worker_record {
	struct cx_proc proc;
	char run_id[CX_RUN_ID_MAX + 1];
	struct cx_tenant *tenant;
	LIST_ENTRY(cx_worker_record) link, by_run, by_pid;
};

struct cx_monitors {
	LIST_HEAD(, cx_monitor) all, by_run[CX_RUN_BUCKETS];
	LIST_HEAD(, cx_linked) links, links_by_run[CX_RUN_BUCKETS];
	LIST_HEAD(, cx_worker_record) workers, workers_by_run[CX_RUN_BUCKETS],
		workers_by_pid[CX_RUN_BUCKETS];
};

void cx_monitors_init(struct cx_monitors *ms);
void cx_monitors_fini(struct cx_monitors *ms);

/* A monitor of run_id for c, with reference ref; NULL when out of memory. */
struct cx_monitor *cx_monitor_add(struct cx_monitors *ms, struct client *c, uint64_t ref,
				  const char *run_id, struct cx_tenant *t);
/* Sends its DOWN with reason, and removes it. */
void cx_monitor_down(struct cx_monitor *m, const char *reason);
/* demonitor: c's monitor ref goes, if it has one. */
void cx_monitor_remove(struct cx_monitors *ms, const struct client *c, uint64_t ref);

void cx_link_add(struct cx_monitors *ms, struct client *c, const char *run_id,
		 struct cx_tenant *t);

void cx_worker_add(struct cx_monitors *ms, const char *run_id, struct cx_tenant *t,
		   pid_t pid, uint64_t ino);
struct cx_worker_record *cx_worker_of_run(struct cx_monitors *ms, const char *run_id);
/* The worker that pid is now: between a worker's death and its tenant's
 * word of it, its pid may be another process's, which a pidfd opened on it
 * tells by its inode. */
struct cx_worker_record *cx_worker_of_pid(struct cx_monitors *ms, pid_t pid);

/* The run is over: one DOWN per monitor, EXIT to an abnormally ended run's
 * linked caller, its worker forgotten. t: only what was set up through
 * tenant t (a tenant supervisor runs as its tenant's owner, who could make
 * it say anything of other tenants' runs); NULL: whatever. run_id NULL:
 * every run of tenant t. */
void cx_run_down(struct cx_monitors *ms, struct cx_tenant *t, const char *run_id,
		 const char *reason);

/* c is gone: its monitors and links with it. */
void cx_monitors_drop_client(struct cx_monitors *ms, const struct client *c);

#endif
