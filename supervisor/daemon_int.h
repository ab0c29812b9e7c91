/* councild's state, shared by the modules that make it up:
 *
 *   daemon.c    the loop, the socket and its clients, signals, the lives
 *               of tenants, retention
 *   ops.c       what each op means (the op table), and who may use what
 *   forward.c   requests forwarded to a tenant, each with its completion
 *   monitors.c  monitors, links and live workers, by run
 *   feeds.c     subscriptions served from events files
 *
 * Nothing outside supervisor/daemon*.c and these includes it. */
#ifndef CX_SUP_DAEMON_INT_H
#define CX_SUP_DAEMON_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <cjson/cJSON.h>

#include "access.h"
#include "feeds.h"
#include "forward.h"
#include "loop.h"
#include "monitors.h"
#include "tenants.h"
#include "wire.h"

struct daemon;

struct client {
	struct daemon *d;
	struct cx_wire wire;
	struct cx_watch watch;
	struct cx_peer peer;      /* SO_PEERCRED, SO_PEERGROUPS */
	size_t half_line;         /* bytes held for its unfinished line */
	struct cx_timer idle;     /* armed while it holds one */
	LIST_ENTRY(client) link;
};

struct daemon {
	struct cx_loop *loop;
	char root[PATH_MAX];
	int root_fd;
	struct cx_watch listener;
	struct cx_timer listener_rest; /* out of descriptors, with no spare */
	int spare_fd;             /* closed to accept a connection when out of descriptors */
	size_t half_lines;        /* bytes held for unfinished lines, all clients */
	struct cx_watch signals;
	LIST_HEAD(, client) clients;
	struct cx_tenant_list tenants;
	struct cx_pending_list pending;
	struct cx_monitors monitors;
	struct cx_feeds feeds;
	uint64_t next_id;         /* of monitors and forwarded requests */
	bool stopping;
	uint64_t stop_deadline;
	int connections_per_uid;
	int64_t retention_ms;
	unsigned retention_count;
	struct cx_timer expiry;
	struct cx_tenant_events tenant_events;
};

/* Sends msg (consumed) to c, with fd (or -1), unless c is NULL or gone. */
void cx_client_send(struct client *c, cJSON *msg, int fd);

/* Handles a client's request (ops.c). */
void cx_daemon_handle(struct daemon *d, struct client *c, const cJSON *req);
/* Handles a request already decoded as op: the handlers' table. */
void cx_daemon_dispatch(struct daemon *d, struct client *c, const cJSON *req, enum cx_op op);

/* The tenant retention applies to (daemon.c): for tenant_start's options. */
void cx_daemon_retention_changed(struct daemon *d);

#endif
