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

static int owner_of(const cJSON *run)
{
	return (int)cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(run, "owner"), "pid"));
}

/* A run under its supervisor; last: the supervisor's last line. */
static void print_run(const cJSON *run, bool last_sup, bool last_run)
{
	char pid[16];
	const char *round = round_name(run);
	printf("%s%scouncil-run %s %s %s%s%s\n", last_sup ? TREE_GAP : TREE_BAR,
	       last_run ? TREE_END : TREE_MID, reply_str(run, "run_id"), pid_text(run, pid),
	       reply_str(run, "status"), *round ? " " : "", round);
}

/* The runs of embedded supervisors beside councild, under each owner. */
static void print_embedded(const cJSON *embedded)
{
	const cJSON *run, *other;
	cJSON_ArrayForEach(run, embedded) {
		bool first = true, last_owner = true;
		for (other = embedded->child; other != run; other = other->next)
			first &= owner_of(other) != owner_of(run);
		if (!first)
			continue;
		for (other = run->next; other; other = other->next)
			last_owner &= owner_of(other) == owner_of(run);
		printf("%sembedded supervisor %d\n", last_owner ? TREE_END : TREE_MID, owner_of(run));
		for (other = run; other; other = other->next) {
			if (owner_of(other) != owner_of(run))
				continue;
			bool last = true;
			for (const cJSON *after = other->next; after; after = after->next)
				last &= owner_of(after) != owner_of(run);
			print_run(other, last_owner, last);
		}
	}
}

/* councild 812
 * ├── council-sup default 815 running
 * │   └── council-run 01JD... 920 running peer_review
 * ├── council-sup batch 817 running
 * └── embedded supervisor 930          (a `councilctl run` beside it)
 *     └── council-run build-42 933 running independent_analysis */
int cmd_tree(struct ctl *c)
{
	cJSON *reply;
	int rc = ctl_request(c, ctl_op("tree", NULL, NULL), &reply);
	if (rc)
		return rc;
	const cJSON *tenants = cJSON_GetObjectItemCaseSensitive(reply, "tenants"), *tenant, *run;
	const cJSON *embedded = cJSON_GetObjectItemCaseSensitive(reply, "embedded");
	char pid[16];
	printf("councild %s\n", pid_text(reply, pid));
	cJSON_ArrayForEach(tenant, tenants) {
		bool last_tenant = !tenant->next && !cJSON_GetArraySize(embedded);
		const cJSON *runs = cJSON_GetObjectItemCaseSensitive(tenant, "runs");
		printf("%scouncil-sup %s %s %s\n", last_tenant ? TREE_END : TREE_MID,
		       reply_str(tenant, "tenant"), pid_text(tenant, pid),
		       reply_str(tenant, "status"));
		cJSON_ArrayForEach(run, runs)
			print_run(run, last_tenant, !run->next);
	}
	print_embedded(embedded);
	cJSON_Delete(reply);
	return 0;
}
