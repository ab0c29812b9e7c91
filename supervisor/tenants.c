#include "tenants.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanenv.h"
#include "containment.h"
#include "fsutil.h"
#include "statusfs.h"
#include "tenant_sup.h"

static const char *const status_names[] = {
	[CX_TENANT_RUNNING] = "running",
	[CX_TENANT_STOPPING] = "stopping",
	[CX_TENANT_STOPPED] = "stopped",
	[CX_TENANT_FAILED] = "failed",
};

const char *cx_tenant_status_name(enum cx_tenant_status status)
{
	return status_names[status];
}

bool cx_tenant_is_up(const struct cx_tenant *t)
{
	return t->proc.pidfd >= 0;
}

struct cx_tenant *cx_tenants_find(struct cx_tenant_list *list, const char *name)
{
	struct cx_tenant *t;
	LIST_FOREACH(t, list, link)
		if (!strcmp(t->name, name))
			return t;
	return NULL;
}

/* The status file of a tenant without a supervisor: ours to write (statusfs.h). */
static void announce_down(const char *root, const char *name, enum cx_tenant_status status)
{
	struct cx_tenant_summary ts = { .tenant = name, .status = cx_tenant_status_name(status) };
	cx_proc_id_self(&ts.owner);
	cx_statusfs_write_tenant(root, &ts);
}

void cx_tenant_announce_stopped(const char *root, const char *name)
{
	announce_down(root, name, CX_TENANT_STOPPED);
}

/* Handles what the channel has: returns false when nothing more will come. */
static bool take_messages(struct cx_tenant *t, uint32_t events)
{
	int r = cx_wire_service(&t->wire, t->loop, &t->channel, events);
	if (r < 0) {
		/* Its exit (the pidfd) says the rest. */
		cx_watch_del(t->loop, &t->channel);
		return false;
	}
	if (r == 0)
		return false;
	cJSON *msg;
	char why[128];
	while ((r = cx_wire_next(&t->wire, &msg, why, sizeof why)) != 0)
		if (r > 0)
			t->ev->message(t->ev->data, t, msg);
	return true;
}

static void on_channel(struct cx_loop *loop, struct cx_watch *w, uint32_t events)
{
	take_messages(w->data, events);
}

void cx_tenant_reap(struct cx_tenant *t)
{
	siginfo_t info;
	if (cx_proc_reap(&t->proc, &info) <= 0)
		return;
	/* Drain all it said before it died: replies, "down" messages, the
	 * subscribers it handed over; more than one read may hold. */
	while (take_messages(t, EPOLLIN))
		;
	cx_watch_del(t->loop, &t->channel);
	cx_watch_del(t->loop, &t->exit_watch);
	cx_wire_close(&t->wire);
	cx_proc_release(&t->proc);
	t->ev->down(t->ev->data, t, info.si_code != CLD_EXITED || info.si_status != 0);
}

static void on_exit_ready(struct cx_loop *loop, struct cx_watch *w, uint32_t events)
{
	cx_tenant_reap(w->data);
}

/* What of councild's environment the supervisor of another user's tenant
 * keeps, besides the clean set (docs/supervision.md). */
static const char *const tenant_keeps[] = { "COUNCIL_CONTAINMENT", NULL };

/* The child: becomes the tenant's owner, then `council-sup <tenant>`, and
 * dies with councild (the death signal is set after the change of user,
 * which would clear it). A tenant of another user than councild's gets the
 * clean environment: councild's (a root councild's API keys, say) is not
 * its owner's to read, and its workers and members would have it. */
static void __attribute__((noreturn))
tenant_main(pid_t parent, int channel, const struct cx_tenant *t)
{
	bool foreign = t->owner.uid != geteuid();
	if (cx_owner_become(&t->owner) < 0 || !cx_proc_child_init(parent) ||
	    (foreign && cx_cleanenv_reset(tenant_keeps) < 0))
		_exit(1);
	const char *name = t->name;
	setproctitle("-council-sup %s", name);
	prctl(PR_SET_NAME, "council-sup");
	/* Orphans of its runs (members whose worker died) come back to it. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	int fd = fcntl(channel, F_DUPFD_CLOEXEC, 3);
	if (fd < 0 || dup3(fd, 3, O_CLOEXEC) < 0)
		_exit(1);
	closefrom(4);
	struct cx_sup_options opts = { .runtime_dir = t->root, .tenant = name,
				       .shutdown_ms = t->shutdown_ms };
	_exit(cx_tenant_sup_main(3, &opts));
}

/* The tenant's cgroup, handed to its owner: the supervisor starts in it,
 * so the cgroups of its runs are below its own and it may move workers
 * into them, whoever it runs as. Closed when cgroups are not to be had. */
static struct cx_cgroup delegated_cgroup(const struct cx_tenant *t)
{
	struct cx_cgroup cg;
	if (cx_cgroup_tenant(t->root, t->name, true, &cg) < 0)
		return CX_CGROUP_NULL;
	if (geteuid() == 0 &&
	    cx_cgroup_delegate(&cg, t->owner.uid, t->owner.group ? t->owner.gid : (gid_t)-1) < 0)
		cx_cgroup_close(&cg);
	return cg;
}

struct cx_tenant *cx_tenants_add(struct cx_tenant_list *list, const char *name,
				 const struct cx_owner *owner, struct cx_loop *loop, const char *root,
				 const struct cx_tenant_events *ev)
{
	struct cx_tenant *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	strlcpy(t->name, name, sizeof t->name);
	t->owner = *owner;
	t->status = CX_TENANT_STOPPED;
	t->proc = CX_PROC_NULL;
	t->wire.fd = -1;
	t->channel.fd = t->exit_watch.fd = -1;
	t->ev = ev;
	t->loop = loop;
	t->root = root;
	LIST_INSERT_HEAD(list, t, link);
	return t;
}

/* Forks the tenant's supervisor, which writes its status from then on. */
static int spawn(struct cx_tenant *t)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid_t parent = getpid();
	struct cx_cgroup cg = delegated_cgroup(t);
	struct cx_fork_opts fo = { .cgroup_fd = cg.dir_fd };
	struct cx_fork_outcome how;
	int r = cx_proc_fork_opts(&t->proc, &fo, &how);
	if (r == 0)
		tenant_main(parent, sv[1], t);
	cx_cgroup_close(&cg);
	close(sv[1]);
	if (r < 0) {
		close(sv[0]);
		return r;
	}
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	cx_wire_init(&t->wire, sv[0]);
	t->channel = (struct cx_watch){ sv[0], on_channel, t };
	t->exit_watch = (struct cx_watch){ t->proc.pidfd, on_exit_ready, t };
	cx_watch_add(t->loop, &t->channel, EPOLLIN);
	cx_watch_add(t->loop, &t->exit_watch, EPOLLIN);
	t->status = CX_TENANT_RUNNING;
	t->started_at_ms = cx_wall_ms();
	return 0;
}

/* The lifecycle table. */

typedef int tenant_action(struct cx_tenant *t);

static int act_ok(struct cx_tenant *t)
{
	(void)t;
	return CX_OK;
}

static int act_refuse_stopped(struct cx_tenant *t)
{
	(void)t;
	return CX_ETENANT_STOPPED;
}

static int act_refuse(struct cx_tenant *t)
{
	(void)t;
	return CX_EUNAVAILABLE;
}

/* Started on request: a fresh supervisor, with a fresh restart intensity. */
static int act_start(struct cx_tenant *t)
{
	memset(t->recent, 0, sizeof t->recent);
	int r = spawn(t);
	t->spawn_error = -r;
	return r < 0 ? CX_ESYS : CX_OK;
}

/* The supervisor writes "stopping" itself, with its count of live runs,
 * when the stop reaches it. */
static int act_stop(struct cx_tenant *t)
{
	t->status = CX_TENANT_STOPPING;
	return CX_OK;
}

static int act_stopped(struct cx_tenant *t)
{
	t->status = CX_TENANT_STOPPED;
	announce_down(t->root, t->name, t->status);
	return CX_OK;
}

/* OTP's restart intensity: restarted, unless that would make more than
 * CX_TENANT_MAX_RESTARTS within CX_TENANT_RESTART_PERIOD_MS; then failed. */
static int act_restart(struct cx_tenant *t)
{
	uint64_t now = cx_mono_ms();
	unsigned recent = 0;
	for (unsigned i = 0; i < CX_TENANT_MAX_RESTARTS + 1; i++)
		recent += t->recent[i] && now - t->recent[i] < CX_TENANT_RESTART_PERIOD_MS;
	if (recent < CX_TENANT_MAX_RESTARTS) {
		t->recent[t->restarts++ % (CX_TENANT_MAX_RESTARTS + 1)] = now;
		int r = spawn(t);
		t->spawn_error = -r;
		if (r == 0)
			return CX_OK;
	}
	t->status = CX_TENANT_FAILED;
	announce_down(t->root, t->name, t->status);
	return CX_OK;
}

static tenant_action *const actions[CX_TENANT_STATUS_N][CX_TENANT_EVENT_N] = {
	[CX_TENANT_RUNNING] = {
		[CX_TENANT_START] = act_ok, [CX_TENANT_USE] = act_ok, [CX_TENANT_STOP] = act_stop,
		[CX_TENANT_EXIT] = act_restart, [CX_TENANT_CRASH] = act_restart,
	},
	[CX_TENANT_STOPPING] = {
		[CX_TENANT_START] = act_refuse, [CX_TENANT_USE] = act_refuse, [CX_TENANT_STOP] = act_ok,
		[CX_TENANT_EXIT] = act_stopped, [CX_TENANT_CRASH] = act_stopped,
	},
	[CX_TENANT_STOPPED] = {
		[CX_TENANT_START] = act_start, [CX_TENANT_USE] = act_refuse_stopped,
		[CX_TENANT_STOP] = act_ok, [CX_TENANT_EXIT] = act_ok, [CX_TENANT_CRASH] = act_ok,
	},
	[CX_TENANT_FAILED] = {
		[CX_TENANT_START] = act_start, [CX_TENANT_USE] = act_refuse,
		[CX_TENANT_STOP] = act_ok, [CX_TENANT_EXIT] = act_ok, [CX_TENANT_CRASH] = act_ok,
	},
};

int cx_tenant_handle(struct cx_tenant *t, enum cx_tenant_event ev)
{
	return actions[t->status][ev](t);
}

int cx_tenant_send(struct cx_tenant *t, const cJSON *msg, const int *fds, size_t n_fds)
{
	if (!cx_tenant_is_up(t))
		return -ESRCH;
	return cx_wire_post(&t->wire, t->loop, &t->channel, msg, fds, n_fds);
}

void cx_tenant_free(struct cx_tenant *t)
{
	cx_watch_del(t->loop, &t->channel);
	cx_watch_del(t->loop, &t->exit_watch);
	cx_wire_close(&t->wire);
	cx_proc_release(&t->proc);
	LIST_REMOVE(t, link);
	free(t);
}
