/* Requests councild forwards to a tenant supervisor, until the tenant
 * replies or goes down. Each carries its own completion, which the op it
 * was made for gave it (ops.c): what a reply means is said once, next to
 * what the request means. */
#ifndef CX_SUP_FORWARD_H
#define CX_SUP_FORWARD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <cjson/cJSON.h>

#include "request.h"

struct client;
struct daemon;
struct cx_tenant;
struct cx_pending;

/* Handles the tenant's reply (consumed) with fd, the descriptor it brought
 * (or -1; closed after). Returns false when the request stays pending. */
typedef bool cx_completion(struct daemon *d, struct cx_pending *p, cJSON *reply, int fd);

struct cx_pending {
	uint64_t id;              /* ours, on the tenant's channel */
	struct client *client;    /* NULL once the client is gone */
	cJSON *req;               /* the client's request, its own id */
	enum cx_op op;
	struct cx_tenant *tenant;
	cx_completion *done;
	LIST_ENTRY(cx_pending) link;
};

LIST_HEAD(cx_pending_list, cx_pending);

/* Sends c's request req (of op) to t, as op `as` (NULL: its own), with fd
 * (or -1); done completes it when t replies. */
void cx_forward(struct daemon *d, struct client *c, const cJSON *req, enum cx_op op,
		const char *as, struct cx_tenant *t, int fd, cx_completion *done);
/* The client's request, answered with the tenant's reply in the client's
 * own id: the completion of requests whose reply needs nothing more. */
bool cx_forward_relay(struct daemon *d, struct cx_pending *p, cJSON *reply, int fd);
/* A message from tenant t (consumed): a reply, or news of its runs. */
void cx_forward_message(struct daemon *d, struct cx_tenant *t, cJSON *msg);
/* t went down, its runs final: what it had not answered is answered as if
 * asked now. */
void cx_forward_lost(struct daemon *d, struct cx_tenant *t);
void cx_forward_drop_client(struct daemon *d, const struct client *c);
void cx_forward_fini(struct daemon *d);

#endif
