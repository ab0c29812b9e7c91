#include "guardian.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "catalog.h"
#include "containment.h"
#include "statusfs.h"

#define EMPTY_WAIT_MS 5000   /* for a run's processes to be gone after SIGKILL */
#define GROUP_POLL_MS 5

static int by_run_id(const struct cx_guarded *a, const struct cx_guarded *b)
{
	return strcmp(a->run_id, b->run_id);
}

/* sys/tree.h makes every operation, marked as BSD spells "maybe unused". */
#ifndef __unused
#define __unused __attribute__((unused))
#endif
RB_GENERATE_STATIC(cx_guarded_tree, cx_guarded, node, by_run_id)

void cx_guardian_init(struct cx_guardian *g, int runs_fd, int tenant_fd, int cgroup_fd)
{
	RB_INIT(&g->runs);
	g->runs_fd = runs_fd;
	g->tenant_fd = tenant_fd;
	g->cgroup_fd = cgroup_fd;
}

static struct cx_guarded *find(struct cx_guardian *g, const char *run_id)
{
	struct cx_guarded key;
	strlcpy(key.run_id, run_id, sizeof key.run_id);
	return RB_FIND(cx_guarded_tree, &g->runs, &key);
}

void cx_guardian_watch(struct cx_guardian *g, const char *run_id, struct cx_proc *worker,
		       bool in_cgroup)
{
	struct cx_guarded *r = find(g, run_id);
	if (r || !(r = calloc(1, sizeof *r))) {
		cx_proc_release(worker);
		return;
	}
	strlcpy(r->run_id, run_id, sizeof r->run_id);
	r->worker = CX_PROC_NULL;
	if (in_cgroup)
		cx_proc_release(worker);
	else
		r->worker = *worker;
	*worker = CX_PROC_NULL;
	RB_INSERT(cx_guarded_tree, &g->runs, r);
}

void cx_guardian_forget(struct cx_guardian *g, const char *run_id)
{
	struct cx_guarded *r = find(g, run_id);
	if (!r)
		return;
	RB_REMOVE(cx_guarded_tree, &g->runs, r);
	cx_proc_release(&r->worker);
	free(r);
}

/* The run's cgroup, when it has one: closed if not. */
static struct cx_cgroup run_cgroup(const struct cx_guardian *g, const struct cx_guarded *r)
{
	struct cx_cgroup cg = CX_CGROUP_NULL;
	if (g->cgroup_fd >= 0)
		cg.dir_fd = openat(g->cgroup_fd, r->run_id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return cg;
}

/* SIGKILL to everything of the run: its process group through the
 * worker's pidfd (PIDFD_SIGNAL_PROCESS_GROUP names the group by the
 * worker's struct pid, so it reaches the group even after the worker was
 * reaped, and never a group that reused its number), and its cgroup. */
static void kill_run(const struct cx_guardian *g, struct cx_guarded *r)
{
	cx_proc_signal(&r->worker, SIGKILL);
	cx_proc_signal_group(&r->worker, SIGKILL);
	struct cx_cgroup cg = run_cgroup(g, r);
	if (cg.dir_fd >= 0)
		cx_cgroup_kill(&cg);
	cx_cgroup_close(&cg);
}

/* Until nothing of the run is left (or EMPTY_WAIT_MS has passed): its
 * cgroup empty, and no process in its group. */
static void await_gone(const struct cx_guardian *g, struct cx_guarded *r, uint64_t deadline)
{
	struct cx_cgroup cg = run_cgroup(g, r);
	uint64_t now = cx_mono_ms();
	if (cg.dir_fd >= 0 && now < deadline)
		cx_cgroup_wait_empty(&cg, (int)(deadline - now));
	cx_cgroup_close(&cg);
	while (cx_proc_signal_group(&r->worker, 0) == 0 && cx_mono_ms() < deadline) {
		cx_proc_signal_group(&r->worker, SIGKILL); /* a member forked since */
		nanosleep(&(struct timespec){ 0, GROUP_POLL_MS * 1000000L }, NULL);
	}
}

void cx_guardian_take_over(struct cx_guardian *g, const struct cx_proc_id *sup)
{
	struct cx_guarded *r, *next;
	RB_FOREACH(r, cx_guarded_tree, &g->runs)
		kill_run(g, r);
	uint64_t deadline = cx_mono_ms() + EMPTY_WAIT_MS;
	RB_FOREACH(r, cx_guarded_tree, &g->runs)
		await_gone(g, r, deadline);
	RB_FOREACH_SAFE(r, cx_guarded_tree, &g->runs, next) {
		cx_catalog_finalize(g->runs_fd, r->run_id, "supervisor_down", "its supervisor died");
		cx_guardian_forget(g, r->run_id);
	}
	cx_statusfs_tenant_orphaned(g->tenant_fd, sup);
}
