/* councilctl's tenant commands and tree: the supervisor groups councild
 * runs, one council-sup process per tenant. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "table.h"

#define TREE_MID "├── "
#define TREE_END "└── "
#define TREE_BAR "│   "
#define TREE_GAP "    "

static int json_int(const cJSON *obj, const char *key)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsNumber(n) ? n->valueint : 0;
}

/* A pid, or "-" for none (a stopped tenant's supervisor). */
static const char *pid_text(const cJSON *obj, char buf[16])
{
	int pid = json_int(obj, "pid");
	if (pid <= 0)
		return "-";
	snprintf(buf, 16, "%d", pid);
	return buf;
}

/* A listing of key in the reply to {op, tenant}: JSON, or a table of the
 * columns header names, which are also the fields' keys in lower case. */
static int list(struct ctl *c, const char *op, const char *key, const char *const *header,
		const char *const *fields, size_t cols)
{
	cJSON *reply;
	int rc = ctl_request(c, ctl_op(op, "tenant", c->args[0]), &reply);
	if (rc)
		return rc;
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(reply, key), *item;
	if (c->json) {
		print_json(items);
	} else {
		struct table t;
		table_init(&t, header, cols);
		cJSON_ArrayForEach(item, items) {
			for (size_t i = 0; i < cols; i++) {
				const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, fields[i]);
				char pid[16];
				if (!strcmp(fields[i], "pid"))
					table_add(&t, "%s", pid_text(item, pid));
				else if (cJSON_IsNumber(v))
					table_add(&t, "%d", v->valueint);
				else
					table_add(&t, "%s", cJSON_IsString(v) ? v->valuestring : "-");
			}
		}
		table_print(&t, stdout);
	}
	cJSON_Delete(reply);
	return 0;
}

int cmd_tenant_ls(struct ctl *c)
{
	static const char *const header[] = { "TENANT", "PID", "STATUS", "RUNS", "RESTARTS" };
	static const char *const fields[] = { "tenant", "pid", "status", "runs", "restarts" };
	return list(c, "tenant_ls", "tenants", header, fields, sizeof header / sizeof *header);
}

int cmd_tenant_children(struct ctl *c)
{
	static const char *const header[] = { "RUN_ID", "PID", "STATUS" };
	static const char *const fields[] = { "run_id", "pid", "status" };
	return list(c, "which_children", "children", header, fields, sizeof header / sizeof *header);
}

/* Prints the tenant supervisor's pid. */
int cmd_tenant_start(struct ctl *c)
{
	cJSON *reply;
	cJSON *req = ctl_op("tenant_start", "tenant", c->args[0]);
	if (c->group)
		cJSON_AddStringToObject(req, "group", c->group);
	int rc = ctl_request(c, req, &reply);
	if (!rc)
		printf("%d\n", json_int(reply, "pid"));
	cJSON_Delete(reply);
	return rc;
}

int cmd_tenant_stop(struct ctl *c)
{
	struct cx_error err = { 0 };
	int r = cx_tenant_stop(c->cl, c->args[0], &err);
	return r < 0 ? fail(r, "%s", err.message) : 0;
}

int cmd_tenant_terminate_all(struct ctl *c)
{
	struct cx_error err = { 0 };
	int r = cx_terminate_all(c->cl, c->args[0], &err);
	return r < 0 ? fail(r, "%s", err.message) : 0;
}

/* A run's round in the tree: a name, {name, idx} (as "round", or as the
 * run_summary's "current_round"), or nothing. */
static const char *round_name(const cJSON *run)
{
	const cJSON *round = cJSON_GetObjectItemCaseSensitive(run, "round");
	if (!round)
		round = cJSON_GetObjectItemCaseSensitive(run, "current_round");
	if (cJSON_IsObject(round))
		return reply_str(round, "name");
	return cJSON_IsString(round) ? round->valuestring : "";
}

/* councild 812
 * ├── council-sup default 815 running
 * │   └── council-run 01JD... 920 running peer_review
 * └── council-sup batch 817 running */
int cmd_tree(struct ctl *c)
{
	cJSON *reply;
	int rc = ctl_request(c, ctl_op("tree", NULL, NULL), &reply);
	if (rc)
		return rc;
	const cJSON *tenants = cJSON_GetObjectItemCaseSensitive(reply, "tenants"), *tenant, *run;
	char pid[16];
	printf("councild %s\n", pid_text(reply, pid));
	cJSON_ArrayForEach(tenant, tenants) {
		bool last_tenant = !tenant->next;
		const cJSON *runs = cJSON_GetObjectItemCaseSensitive(tenant, "runs");
		printf("%scouncil-sup %s %s %s\n", last_tenant ? TREE_END : TREE_MID,
		       reply_str(tenant, "tenant"), pid_text(tenant, pid),
		       reply_str(tenant, "status"));
		cJSON_ArrayForEach(run, runs) {
			const char *round = round_name(run);
			printf("%s%scouncil-run %s %s %s%s%s\n", last_tenant ? TREE_GAP : TREE_BAR,
			       run->next ? TREE_MID : TREE_END, reply_str(run, "run_id"),
			       pid_text(run, pid), reply_str(run, "status"), *round ? " " : "",
			       round);
		}
	}
	cJSON_Delete(reply);
	return 0;
}
