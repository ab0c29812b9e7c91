#include "forward.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon_int.h"
#include "json.h"

void cx_forward(struct daemon *d, struct client *c, const cJSON *req, enum cx_op op,
		const char *as, struct cx_tenant *t, int fd, cx_completion *done)
{
	struct cx_pending *p = calloc(1, sizeof *p);
	cJSON *copy = cJSON_Duplicate(req, true);
	if (p)
		p->req = cJSON_Duplicate(req, true);
	if (!p || !copy || !p->req) {
		if (p)
			cJSON_Delete(p->req);
		free(p);
		cJSON_Delete(copy);
		cx_client_send(c, cx_reply_error(req, "system_error", "out of memory"), -1);
		return;
	}
	p->id = ++d->next_id;
	p->client = c;
	p->op = op;
	p->tenant = t;
	p->done = done;
	cJSON_ReplaceItemInObjectCaseSensitive(copy, "id", cJSON_CreateNumber((double)p->id));
	if (as)
		cJSON_ReplaceItemInObjectCaseSensitive(copy, "op", cJSON_CreateString(as));
	if (fd >= 0)
		cJSON_AddNumberToObject(copy, "fds", 1);
	int r = cx_tenant_send(t, copy, fd >= 0 ? &fd : NULL, fd >= 0);
	cJSON_Delete(copy);
	/* A tenant whose end is closed is on its way out: its exit answers
	 * (cx_forward_lost), as for a request it took down with it. */
	if (r < 0 && r != -EPIPE && r != -ECONNRESET) {
		cx_client_send(c, cx_reply_error(req, "supervisor_unavailable", "tenant %s: %s",
						 t->name, strerror(-r)), -1);
		cJSON_Delete(p->req);
		free(p);
		return;
	}
	LIST_INSERT_HEAD(&d->pending, p, link);
}

static void pending_free(struct cx_pending *p)
{
	LIST_REMOVE(p, link);
	cJSON_Delete(p->req);
	free(p);
}

bool cx_forward_relay(struct daemon *d, struct cx_pending *p, cJSON *reply, int fd)
{
	cJSON_ReplaceItemInObjectCaseSensitive(reply, "id",
		cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(p->req, "id"), true));
	cx_client_send(p->client, reply, fd);
	return true;
}

static void on_reply(struct daemon *d, struct cx_tenant *t, cJSON *reply)
{
	uint64_t id = (uint64_t)cx_json_int(reply, "id", 0, INT64_MAX, -1);
	struct cx_pending *p;
	LIST_FOREACH(p, &d->pending, link)
		if (p->id == id && p->tenant == t)
			break;
	/* A descriptor that came with the reply is taken even when nobody
	 * waits for it: left queued, it would be taken for the next reply's. */
	int fd = cJSON_GetNumberValue(cJSON_GetObjectItem(reply, "fds")) == 1
		 ? cx_wire_take_fd(&t->wire) : -1;
	if (!p)
		cJSON_Delete(reply); /* a stop councild sent on its own */
	else if (p->done(d, p, reply, fd))
		pending_free(p);
	if (fd >= 0)
		close(fd);
}

void cx_forward_message(struct daemon *d, struct cx_tenant *t, cJSON *msg)
{
	if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(msg, "id"))) {
		on_reply(d, t, msg);
		return;
	}
	const char *type = cx_req_string(msg, "msg") ?: "";
	if (!strcmp(type, "down"))
		cx_run_down(&d->monitors, t, cx_req_string(msg, "run_id") ?: "",
			    cx_req_string(msg, "reason") ?: "");
	else if (!strcmp(type, "subscriber"))
		cx_feed_adopt(&d->feeds, msg, cx_wire_take_fd(&t->wire));
	cJSON_Delete(msg);
}

void cx_forward_lost(struct daemon *d, struct cx_tenant *t)
{
	struct cx_pending *p, *pn;
	LIST_FOREACH_SAFE(p, &d->pending, link, pn) {
		if (p->tenant != t)
			continue;
		LIST_REMOVE(p, link);
		/* A start it took down may or may not have made its run; any
		 * other request finds the tenant's runs final on disk now. */
		if (p->op == CX_OP_START)
			cx_client_send(p->client, cx_reply_error(p->req, "supervisor_unavailable",
								 "tenant %s went down", t->name), -1);
		else if (p->client)
			cx_daemon_dispatch(d, p->client, p->req, p->op);
		cJSON_Delete(p->req);
		free(p);
	}
}

void cx_forward_drop_client(struct daemon *d, const struct client *c)
{
	struct cx_pending *p;
	LIST_FOREACH(p, &d->pending, link)
		if (p->client == c)
			p->client = NULL;
}

void cx_forward_fini(struct daemon *d)
{
	while (!LIST_EMPTY(&d->pending))
		pending_free(LIST_FIRST(&d->pending));
}
