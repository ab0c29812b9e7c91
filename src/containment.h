/* Containment: how the processes of one run are kept together, so that a
 * kill reaches every one of them, the ones that setsid() and double-fork
 * away included.
 *
 * Three ways, in order of preference:
 *
 *   cgroup  The run's worker starts in its own cgroup2 directory
 *           (clone3 CLONE_INTO_CGROUP) and every descendant is born there:
 *           no setsid, double fork or reparenting gets out of it (only a
 *           write to another cgroup.procs does, which needs the privilege to
 *           manage the hierarchy). cgroup.kill (Linux 5.14) SIGKILLs the
 *           whole tree in one atomic step, so nothing can fork past it, and
 *           cgroup.events says when the last one is gone.
 *   pidns   The worker is pid 1 of its own PID namespace. Every descendant is
 *           in the namespace, whatever it does, and when its init dies the
 *           kernel SIGKILLs all of them. Not atomic across nesting, and the
 *           worker takes on an init's duties (see cx_reap_orphans (proc.h)).
 *   pgroup  The worker leads its own process group; a kill reaches only the
 *           processes that stay in it (setsid or setpgid leaves it). Always
 *           available; still what SIGTERM goes to, for a graceful stop.
 *
 * They combine: a run always has its process group (terminate_run sends
 * SIGTERM there first), and gets a cgroup where a writable cgroup2 exists,
 * else a PID namespace where it may create one.
 *
 * Layout: one councild, in its cgroup <own>, keeps
 *     <own>/council-<hash>/<tenant>/<run_id>
 * councild stays in <own>; a tenant's supervisor and its launcher live in
 * <tenant>, delegated to the tenant's owner, so the supervisor may make its
 * runs' cgroups and move workers into them. We never write
 * cgroup.subtree_control ourselves, so cgroup2's no-internal-processes
 * rule never refuses a fork.
 *
 * Delegation lets a member, which runs as the owner too, move itself (or
 * what it started) out of its run's cgroup, but only within <tenant>'s
 * subtree: the kernel lets a process be moved only between cgroups whose
 * common ancestor's cgroup.procs the mover may write. So what leaves a run
 * lands in <tenant> itself (where only the supervisor and its launcher
 * belong, and each run's end kills anything else there:
 * cx_cgroup_kill_strays), in another run of the tenant (which it then
 * dies with), or in a cgroup it makes below <tenant>, which no run's end
 * looks into (a known limit: it is then a process of the tenant's owner,
 * who could have started it by hand).
 *
 * Errors are negative errno values; nothing here prints. */
#ifndef CX_CONTAINMENT_H
#define CX_CONTAINMENT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "proc.h"

enum cx_containment { CX_CONTAIN_PGROUP, CX_CONTAIN_PIDNS, CX_CONTAIN_CGROUP };

/* "pgroup", "pidns", "cgroup". */
const char *cx_containment_name(enum cx_containment c);
/* The containment such a name names: 0, or -EINVAL for any other name. */
int cx_containment_from_name(const char *name, enum cx_containment *out);

/* The strongest containment available to this process: cgroup if
 * cx_cgroup_available(), else pidns if cx_pidns_available(), else pgroup.
 * Probes (a mkdir, a fork): call it once, at startup. */
enum cx_containment cx_containment_detect(void);

/* cgroup2 (src/cgroup.c) */

struct cx_cgroup {
	int dir_fd;             /* O_DIRECTORY, close-on-exec; -1 when closed */
	char path[PATH_MAX];    /* absolute, under the cgroup2 mount */
};

#define CX_CGROUP_NULL ((struct cx_cgroup){ .dir_fd = -1 })

/* The directory of this process's own cgroup2 cgroup: the cgroup2 mount
 * found in /proc/self/mountinfo joined with the "0::" line of
 * /proc/self/cgroup. -ENOENT without a cgroup2 mount or a "0::" line,
 * -ENAMETOOLONG, -EXDEV if our cgroup lies outside every cgroup2 mount. */
int cx_cgroup_self_path(char *dir, size_t size);

/* True if this process can contain runs in cgroups: its own cgroup2
 * directory is found and a probe child can be created in it (and is
 * removed again). Never required: everything works without it. */
bool cx_cgroup_available(void);

/* The cgroup of a tenant's runs for runtime directory root:
 * <own cgroup>/council-<hash of root>/<tenant>, so supervisors of other
 * runtime directories in the same cgroup never touch these. With create,
 * made if missing; without, -ENOENT when it is not there. A process in
 * that cgroup already (a tenant supervisor councild started there) gets
 * its own. */
int cx_cgroup_tenant(const char *root, const char *tenant, bool create, struct cx_cgroup *out);

/* This process's own cgroup when it is the cgroup of run run_id
 * (<own>/council-<hash>/<tenant>/<run_id>, which cx_cgroup_tenant and its
 * supervisor made): a worker contained by a cgroup. -ENOENT otherwise. */
int cx_cgroup_open_run_self(const char *run_id, struct cx_cgroup *out);

/* Hands cg over to uid:gid the way cgroup delegation asks (the directory,
 * cgroup.procs, cgroup.threads, cgroup.subtree_control), so that a tenant
 * supervisor started in it makes its runs' cgroups below and moves their
 * workers there without privileges. Returns 0 or -errno. */
int cx_cgroup_delegate(const struct cx_cgroup *cg, uid_t uid, gid_t gid);

/* Removes a tenant's cgroup, and the runtime directory's above it, when
 * nothing is left in them, no process and no run's cgroup (else they
 * stay); closes it either way. */
void cx_cgroup_tenant_release(struct cx_cgroup *cg);

/* Opens an existing cgroup directory. */
int cx_cgroup_open(struct cx_cgroup *out, const char *path);
/* Opens this process's own cgroup. */
int cx_cgroup_open_self(struct cx_cgroup *out);
/* parent/name, created if missing (an existing one is reused: a councild
 * restart finds its tenants' directories). name is one path component.
 * -EINVAL for a bad name. */
int cx_cgroup_create(const struct cx_cgroup *parent, const char *name, struct cx_cgroup *out);
/* <own cgroup>/<name>, the directory a councild puts its tenants under:
 * "council" for the usual one councild per cgroup; two councilds sharing a
 * cgroup pass distinct names ("council-<instance>"). -EBUSY if our own
 * cgroup is not the hierarchy's root and distributes controllers (then the
 * kernel keeps us from holding processes where we are, and someone else
 * manages this tree: do not use cgroups). */
int cx_cgroup_open_root(struct cx_cgroup *out, const char *name);

/* Moves the calling process into the cgroup dir_fd names (writes "0" to its
 * cgroup.procs). What cx_proc_fork_opts has a child do when the kernel
 * refuses CLONE_INTO_CGROUP; async-signal-safe. */
int cx_cgroup_move_self(int dir_fd);
/* True if p is one of the processes listed in the cgroup's cgroup.procs. */
bool cx_cgroup_contains(const struct cx_cgroup *cg, const struct cx_proc *p);

/* Killing a cgroup, and the contract with the supervisor's reaping.
 *
 * cx_cgroup_kill only signals, and returns at once: SIGKILL to every process
 * in the cgroup and its descendants, through cgroup.kill where the kernel
 * has it, else cx_cgroup_kill_each. Killed processes leave cgroup.procs and
 * stop counting as "populated" when they exit, before anyone reaps them:
 * a zombie is in no cgroup's population. So the cgroup empties by itself;
 * nobody has to reap for it to, and a wait for it cannot deadlock on our
 * own unreaped children. The reaping stays the supervisor's: its worker by
 * pidfd, adopted orphans (it is a subreaper) with cx_reap_orphans (proc.h).
 *
 * From a supervisor's event loop: cx_cgroup_kill; watch cx_cgroup_events_fd
 * for EPOLLPRI (or re-check on a timer); when cx_cgroup_populated says 0,
 * cx_cgroup_remove. Elsewhere (shutdown, tests) cx_cgroup_wait_empty blocks
 * for it. */
int cx_cgroup_kill(const struct cx_cgroup *cg);
/* The fallback for kernels without cgroup.kill (before 5.14), public so it
 * can be tested where cgroup.kill exists: freezes the cgroup where
 * cgroup.freeze exists (5.2), then SIGKILLs each process listed in
 * cgroup.procs (and in child cgroups), through a pidfd opened and then
 * re-checked against the list, so a reused pid is never signalled; sweeps
 * until a sweep finds nobody new. Not atomic without the freezer: a process
 * forked between two sweeps is caught by the next one. */
int cx_cgroup_kill_each(const struct cx_cgroup *cg);
/* SIGKILLs each process in cg itself (not below it) but the n_keep of keep,
 * the way cx_cgroup_kill_each does, without the freezer (keep must run):
 * sweeps until one finds nobody new. How many were signalled, or -errno. */
int cx_cgroup_kill_strays(const struct cx_cgroup *cg, const pid_t *keep, int n_keep);
/* 1 if a live process is in the cgroup or below it, 0 if none is
 * ("populated" of cgroup.events), -errno. */
int cx_cgroup_populated(const struct cx_cgroup *cg);
/* A new descriptor on cgroup.events: it polls EPOLLPRI (and EPOLLERR) when
 * the file changes; pread it from offset 0 to re-arm. The caller closes it. */
int cx_cgroup_events_fd(const struct cx_cgroup *cg);
/* cx_cgroup_populated read through such a descriptor (which it re-arms):
 * for a watcher that keeps nothing else of the cgroup open. */
int cx_cgroup_events_populated(int events_fd);
/* Blocks until the cgroup is not populated, at most timeout_ms: 0, or
 * -ETIMEDOUT. The one function here that blocks. */
int cx_cgroup_wait_empty(const struct cx_cgroup *cg, int timeout_ms);
/* Removes the cgroup (its child cgroups first) and closes it: 0, or -EBUSY
 * while a live process is still in it (the cgroup stays open then). */
int cx_cgroup_remove(struct cx_cgroup *cg);
/* Closes the descriptor; the cgroup stays. */
void cx_cgroup_close(struct cx_cgroup *cg);

/* PID namespaces (src/pidns.c)
 *
 * A child forked with cx_fork_opts.new_pidns is pid 1 of a new PID
 * namespace. What that means for a worker:
 *  - getpid() is 1 and getppid() is 0; cx_proc_child_init knows and still
 *    checks for a parent that died before it ran.
 *  - When it dies, however it dies, the kernel SIGKILLs every process in
 *    the namespace: that is the containment.
 *  - The kernel drops signals it has no handler for, even from outside the
 *    namespace, except SIGKILL and SIGSTOP: a plain SIGTERM does nothing.
 *    A worker that should stop gracefully on SIGTERM must handle it
 *    (signalfd or a handler); otherwise terminate_run waits shutdown_ms
 *    and SIGKILLs.
 *  - It is the reaper of every orphan in the namespace (a double-forked
 *    grandchild that setsid's away included), whether or not it set
 *    PR_SET_CHILD_SUBREAPER. It reaps its own members by pidfd; the orphans
 *    would stay zombies, so it calls cx_reap_orphans (proc.h) when SIGCHLD
 *    arrives (its signalfd), after reaping what it tracks.
 * A run's worker does both with src/init.h. */

/* True if this process may create PID namespaces: forks a child into one,
 * which exits at once, and reaps it. */
bool cx_pidns_available(void);

#endif
