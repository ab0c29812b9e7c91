/* councilctl ps: the runs councild supervises, like ps(1). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctl.h"
#include "table.h"

/* How long ago: "42s", "7m", "3h", "2d". */
static void format_age(int64_t started_ms, char *buf, size_t size)
{
	int64_t s = started_ms ? (cx_wall_ms() - started_ms) / 1000 : -1;
	if (s < 0)
		snprintf(buf, size, "-");
	else if (s < 60)
		snprintf(buf, size, "%" PRId64 "s", s);
	else if (s < 3600)
		snprintf(buf, size, "%" PRId64 "m", s / 60);
	else if (s < 86400)
		snprintf(buf, size, "%" PRId64 "h", s / 3600);
	else
		snprintf(buf, size, "%" PRId64 "d", s / 86400);
}

static void add_run(struct table *t, const struct cx_run_summary *s)
{
	char age[16];
	format_age(s->started_at_ms, age, sizeof age);
	table_add(t, "%s", s->run_id);
	table_add(t, "%s", s->tenant);
	table_add(t, "%s", s->council);
	table_add(t, "%s", cx_run_status_name(s->status));
	table_add(t, "%s", s->round_idx >= 0 ? s->round : "-");
	table_add(t, "%s", age);
	bool live = !cx_run_status_final(s->status);
	if (s->pid > 0 && live)
		table_add(t, "%d", (int)s->pid);
	else
		table_add(t, "-");
	/* Its supervisor: a tenant's, or an embedded one (`councilctl run`). */
	if (s->owner.pid > 0 && live)
		table_add(t, "%d", (int)s->owner.pid);
	else
		table_add(t, "-");
}

int cmd_ps(struct ctl *c)
{
	static const char *const header[] = {
		"RUN_ID", "TENANT", "COUNCIL", "STATUS", "ROUND", "AGE", "PID", "OWNER",
	};
	cJSON *req = ctl_op("ps", "tenant", c->tenant), *reply;
	if (c->all)
		cJSON_AddTrueToObject(req, "all");
	int rc = ctl_request(c, req, &reply);
	if (rc)
		return rc;
	const cJSON *runs = cJSON_GetObjectItemCaseSensitive(reply, "runs"), *run;
	if (c->json) {
		print_json(runs);
	} else {
		struct table t;
		struct cx_run_summary s;
		TABLE_INIT(&t, header);
		cJSON_ArrayForEach(run, runs)
			if (cx_run_summary_from_json(run, &s) == CX_OK)
				add_run(&t, &s);
		table_print(&t, stdout);
	}
	cJSON_Delete(reply);
	return 0;
}
