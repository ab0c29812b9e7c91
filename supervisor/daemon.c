/* councild's core: the loop, the socket and its clients, signals, the
 * lives of its tenant supervisors, retention (daemon_int.h lists the
 * modules that do the rest). */
#include "daemon.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "catalog.h"
#include "containment.h"
#include "daemon_int.h"
#include "proc.h"
#include "request.h"
#include "rundir.h"
#include "statusfs.h"

#define STOP_GRACE_MS 10000  /* beyond shutdown_ms, before a tenant is killed */

/* What a client may cost councild (docs/protocol.md, "Limits"). */
#define CLIENT_FDS_MAX 8              /* descriptors sent (each closed at once) before it is dropped */
#define HALF_LINES_MAX (32 << 20)     /* bytes held for unfinished lines, all clients together */
#define HALF_LINE_IDLE_MS 10000       /* an unfinished line with no byte added for this long */
#define LISTENER_REST_MS 1000         /* out of descriptors with no spare: accept nothing */

void cx_client_send(struct client *c, cJSON *msg, int fd)
{
	if (c && c->wire.fd >= 0 &&
	    cx_wire_post(&c->wire, c->d->loop, &c->watch, msg, fd >= 0 ? &fd : NULL, fd >= 0) ==
		    -EMSGSIZE) {
		cJSON *e = cx_reply_error(msg, "too_large", "the reply is over %d bytes",
					  CX_WIRE_LINE_MAX);
		cx_wire_post(&c->wire, c->d->loop, &c->watch, e, NULL, 0);
		cJSON_Delete(e);
	}
	cJSON_Delete(msg);
}

static void on_tenant_message(void *data, struct cx_tenant *t, cJSON *msg)
{
	cx_forward_message(data, t, msg);
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
	int fd = openat(d->root_fd, CX_TENANTS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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

static void on_tenant_down(void *data, struct cx_tenant *t, bool crashed)
{
	struct daemon *d = data;
	/* Its runs' owner is dead (reaped just now): they are killed and
	 * finalized here at once, whatever its guardian has done so far. */
	if (crashed)
		cx_catalog_recover(d->root_fd, d->root, t->name);
	release_cgroup(d, t->name);
	cx_run_down(&d->monitors, t, NULL, "supervisor_down");
	reap_orphans(d); /* what waited behind the tenant's own zombie */
	/* Restarted (its leftovers are gone by now), stopped or failed. */
	cx_tenant_handle(t, crashed ? CX_TENANT_CRASH : CX_TENANT_EXIT);
	/* Answered last, so that what a client does next finds the tenant's
	 * status and files as they are now. */
	cx_forward_lost(d, t);
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

void cx_daemon_retention_changed(struct daemon *d)
{
	cx_timer_arm(d->loop, &d->expiry, expiry_period(d));
}

/* Clients. */

static void client_close(struct client *c)
{
	struct daemon *d = c->d;
	cx_monitors_drop_client(&d->monitors, c);
	cx_forward_drop_client(d, c);
	cx_watch_del(d->loop, &c->watch);
	cx_timer_disarm(d->loop, &c->idle);
	d->half_lines -= c->half_line;
	cx_wire_close(&c->wire);
	LIST_REMOVE(c, link);
	free(c);
}

/* One error line the client may still read, then the door. */
static void drop(struct client *c, cJSON *why)
{
	cx_client_send(c, why, -1);
	cx_wire_flush(&c->wire);
	client_close(c);
}

static void on_half_line_idle(struct cx_loop *loop, struct cx_timer *t)
{
	struct client *c = t->data;
	drop(c, cx_reply_error(NULL, "timeout", "no byte of an unfinished line came for %d s",
			       HALF_LINE_IDLE_MS / 1000));
}

/* A half line is held in memory until its newline comes. An unfinished
 * line costs up to CX_WIRE_LINE_MAX per connection, and connections are
 * many: all together they may hold HALF_LINES_MAX, beyond which the
 * connection holding the most goes (an attacker's, sooner than a client
 * sending one large spec); and one that stops adding to its line goes
 * after HALF_LINE_IDLE_MS. Called when bytes came: that is progress. c
 * may be gone after it. */
static void hold_half_line(struct client *c)
{
	struct daemon *d = c->d;
	size_t held = cx_wire_trim(&c->wire);
	d->half_lines += held - c->half_line;
	c->half_line = held;
	if (held)
		cx_timer_arm(d->loop, &c->idle, HALF_LINE_IDLE_MS);
	else
		cx_timer_disarm(d->loop, &c->idle);
	while (d->half_lines > HALF_LINES_MAX) {
		struct client *most = NULL, *o;
		LIST_FOREACH(o, &d->clients, link)
			if (!most || o->half_line > most->half_line)
				most = o;
		drop(most, cx_reply_error(NULL, "too_large",
					  "councild holds over %d MiB of unfinished lines, the most for this connection",
					  HALF_LINES_MAX >> 20));
	}
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
	/* Clients send no descriptors: cx_wire_fill closed them as they came
	 * (held, they would pile up to councild's limit), and one that keeps
	 * sending them goes. */
	if (c->wire.fds_refused > CLIENT_FDS_MAX) {
		drop(c, cx_reply_error(NULL, "bad_request", "%u descriptors sent: clients send none",
				       c->wire.fds_refused));
		return;
	}
	cJSON *req;
	char why[128];
	while ((r = cx_wire_next(&c->wire, &req, why, sizeof why)) != 0) {
		if (r == -2) {
			drop(c, cx_reply_error(NULL, "too_large", "%s", why));
			return;
		}
		if (r < 0) {
			cx_client_send(c, cx_reply_error(NULL, "bad_request", "%s", why), -1);
			continue;
		}
		cx_daemon_handle(c->d, c, req);
		cJSON_Delete(req);
	}
	hold_half_line(c);
}

static unsigned connections_of(struct daemon *d, uid_t uid)
{
	unsigned n = 0;
	struct client *c;
	LIST_FOREACH(c, &d->clients, link)
		n += c->peer.uid == uid;
	return n;
}

/* One line the peer of fd can read, then the door. */
static void turn_away(int fd, cJSON *why)
{
	struct cx_wire w;
	cx_wire_init(&w, fd);
	cx_wire_send(&w, why, NULL, 0);
	cJSON_Delete(why);
	cx_wire_close(&w);
}

static void on_listener_rested(struct cx_loop *loop, struct cx_timer *t)
{
	struct daemon *d = t->data;
	if (!d->stopping)
		cx_watch_add(loop, &d->listener, EPOLLIN);
}

/* Out of descriptors, accept fails and leaves the connection queued: the
 * listener stays readable and the loop would spin on it. The spare
 * descriptor kept for this (as libuv and libev do) makes room to take the
 * connection and tell it why it is closed at once, so a client learns it
 * and nothing waits in the queue. With no spare (the system's table is
 * full too), the listener rests a moment instead. */
static void turn_away_when_full(struct daemon *d)
{
	if (d->spare_fd < 0) {
		cx_watch_del(d->loop, &d->listener);
		cx_timer_arm(d->loop, &d->listener_rest, LISTENER_REST_MS);
	} else {
		close(d->spare_fd);
		int fd = accept4(d->listener.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0)
			turn_away(fd, cx_reply_error(NULL, "too_many_connections",
						     "councild is out of descriptors"));
	}
	d->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void on_accept(struct cx_loop *loop, struct cx_watch *w, uint32_t events)
{
	struct daemon *d = w->data;
	int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0 && (errno == EMFILE || errno == ENFILE))
		turn_away_when_full(d);
	if (fd < 0)
		return;
	struct client *c = calloc(1, sizeof *c);
	if (!c || cx_peer_of(fd, &c->peer) < 0) {
		free(c);
		close(fd);
		return;
	}
	uid_t uid = c->peer.uid;
	/* A councild that is not root cannot run anything as another user: it
	 * serves its own user (and root) alone. */
	cJSON *refusal = geteuid() != 0 && uid != 0 && uid != geteuid()
		? cx_reply_error(NULL, "permission_denied", "this councild serves uid %u only",
				 (unsigned)geteuid())
		: connections_of(d, uid) >= (unsigned)d->connections_per_uid
		? cx_reply_error(NULL, "too_many_connections", "uid %u has %d connections open already",
				 (unsigned)uid, d->connections_per_uid)
		: NULL;
	if (refusal) {
		free(c);
		turn_away(fd, refusal);
		return;
	}
	c->d = d;
	cx_wire_init(&c->wire, fd);
	c->wire.refuse_fds = true;
	c->watch = (struct cx_watch){ fd, on_client, c };
	c->idle = CX_TIMER_INIT(on_half_line_idle, c);
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
	if ((size_t)snprintf(addr.sun_path, sizeof addr.sun_path, "%s/" CX_SOCKET_NAME, d->root) >=
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
	cx_forward_fini(d);
	cx_monitors_fini(&d->monitors);
	cx_feeds_fini(&d->feeds);
	while (!LIST_EMPTY(&d->tenants))
		cx_tenant_free(LIST_FIRST(&d->tenants));
	if (d->listener.fd >= 0) {
		cx_watch_del(d->loop, &d->listener);
		close(d->listener.fd);
	}
	if (d->spare_fd >= 0)
		close(d->spare_fd);
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
	struct daemon d = { .root_fd = -1, .listener.fd = -1, .signals.fd = -1,
			    .spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC) };
	d.connections_per_uid = opts->connections_per_uid > 0 ? opts->connections_per_uid
							      : CX_DAEMON_CONNECTIONS_PER_UID;
	d.retention_ms = opts->retention_ms > 0 ? opts->retention_ms : CX_DAEMON_RETENTION_MS;
	d.retention_count = opts->retention_count > 0 ? opts->retention_count : CX_DAEMON_RETENTION_COUNT;
	d.expiry = CX_TIMER_INIT(on_expiry, &d);
	d.listener_rest = CX_TIMER_INIT(on_listener_rested, &d);
	LIST_INIT(&d.clients);
	LIST_INIT(&d.tenants);
	LIST_INIT(&d.pending);
	cx_monitors_init(&d.monitors);
	d.tenant_events = (struct cx_tenant_events){ on_tenant_message, on_tenant_down, &d };
	strlcpy(d.root, root, sizeof d.root);
	/* Orphans of everything below come to councild, not to init. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	int r = (d.root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ? -errno
									    : cx_loop_new(&d.loop);
	cx_feeds_init(&d.feeds, d.loop, d.root_fd);
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
	snprintf(sock, sizeof sock, "%s/" CX_SOCKET_NAME, root);
	unlink(sock);
	daemon_free(&d);
	return 0;
}
