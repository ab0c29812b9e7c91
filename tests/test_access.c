/* Access control (docs/protocol.md, "Access"): one councild running as
 * root serves several users. Each scenario forks a process that becomes
 * another user (nobody, or a uid with no passwd entry) and uses councild
 * as that user; what it finds wrong it writes to a pipe the test reads. */
#include <check.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "council/client.h"
#include "harness.h"

#define DEADLINE_MS 30000
#define NOBODY 65534      /* uid nobody, gid nogroup on Debian */
#define STRANGER 4242     /* a uid and gid no database knows */
/* Another, and its default runtime directory, which its commands use
 * without COUNCIL_RUNTIME_DIR and XDG_RUNTIME_DIR. */
#define VICTIM 4244
#define VICTIM_DIR "/tmp/council-4244"

static char *scratch;
static pid_t councild;
static struct cx_client *cl;

/* A secret in councild's environment, which no member, tool or tenant of
 * another user may see. */
#define CANARY "secret-canary"

static void setup(void)
{
	setenv("OPENAI_API_KEY", CANARY, 1);
	scratch = th_scratch_dir();
	/* Other users must reach the socket and the runtime directory. */
	chmod(scratch, 0755);
	councild = th_councild_start(scratch, NULL);
	cl = th_councild_connect(scratch, DEADLINE_MS);
}

static void teardown(void)
{
	cx_client_close(cl);
	ck_assert_msg(th_councild_stop(councild, DEADLINE_MS) != -1, "awaited councild's exit");
	ck_assert_msg(th_no_descendants(5000), "processes were left behind");
	th_rm_rf(scratch);
	free(scratch);
	th_rm_rf(VICTIM_DIR);  /* what a failed test_a_runtime_directory_... left */
}

static const char hanging_council[] =
	"{\"id\":\"slow\",\"members\":[{\"id\":\"m\",\"profile\":{\"provider\":\"mock\","
	"\"latency_ms\":600000}}],\"rounds\":[{\"type\":\"independent_analysis\"}]}";

/* Its answer says who ran it: "uid=N gid=M groups=...". */
static const char whoami_council[] =
	"{\"id\":\"whoami\",\"members\":[{\"id\":\"who\",\"retry\":{\"max\":1},\"profile\":"
	"{\"provider\":\"exec\",\"command\":[\"/bin/sh\",\"-c\","
	"\"echo uid=$(id -u) gid=$(id -g) groups=$(id -G)\"]}}],"
	"\"rounds\":[{\"type\":\"independent_analysis\"}]}";

/* The member "env" prints its environment, with CHOSEN set by its spec;
 * "key" is an openai member whose worker looks for OPENAI_API_KEY (and
 * fails at once, saying whether it found it: nothing listens at port 1). */
static const char env_council[] =
	"{\"id\":\"env\",\"members\":[{\"id\":\"env\",\"retry\":{\"max\":1},\"profile\":"
	"{\"provider\":\"exec\",\"command\":[\"env\"],\"env\":{\"CHOSEN\":\"yes\"}}},"
	"{\"id\":\"key\",\"retry\":{\"max\":1},\"profile\":{\"provider\":\"openai\","
	"\"model\":\"m\",\"base_url\":\"http://127.0.0.1:1\",\"api_key_env\":\"OPENAI_API_KEY\"}}],"
	"\"rounds\":[{\"type\":\"independent_analysis\"}]}";

/* What one member of a run's first round answered, or its error's message
 * (NULL: no such member). */
static char *member_answer(const char *result, const char *member)
{
	cJSON *doc = cJSON_Parse(result);
	const cJSON *round = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "rounds"), 0);
	const cJSON *m = cJSON_GetObjectItem(cJSON_GetObjectItem(round, "members"), member);
	const char *response = cJSON_GetStringValue(cJSON_GetObjectItem(m, "response"));
	const char *message = cJSON_GetStringValue(
		cJSON_GetObjectItem(cJSON_GetObjectItem(m, "error"), "message"));
	char *answer = response ? strdup(response) : message ? strdup(message) : NULL;
	cJSON_Delete(doc);
	return answer;
}

/* Runs spec to its end: its result (NULL, with why in err, if it has none). */
static char *run_result(struct cx_client *c, const char *spec, struct cx_error *err)
{
	struct cx_client_start req = { .spec_json = spec };
	struct cx_started st;
	enum cx_run_status status;
	char *result = NULL;
	if (cx_run(c, &req, DEADLINE_MS, NULL, &result, &status, &st, NULL, err) != CX_OK) {
		free(result);
		return NULL;
	}
	return result;
}

/* Its run works in "/": root's own directory (a clone under /root, say)
 * may be closed to the tenant's owner, who runs it. */
static void start_in(struct cx_client *c, const char *tenant, const char *spec, struct cx_started *st)
{
	struct cx_client_start req = { .spec_json = spec, .tenant = tenant, .cwd = "/" };
	struct cx_error err = { 0 };
	ck_assert_msg(cx_start(c, &req, st, NULL, &err) == CX_OK, "start in %s: %s",
		      tenant ? tenant : "(default)", err.message);
}

static struct cx_client *user_connect(struct th_report *r)
{
	struct cx_client_options opts = { .runtime_dir = scratch };
	struct cx_client *c = NULL;
	struct cx_error err = { 0 };
	int rc = cx_client_connect(&opts, &c, &err);
	th_expect(r, rc == CX_OK, "connect: %s", err.message);
	return rc == CX_OK ? c : NULL;
}

/* text with value, where it is, replaced by "ID". */
static void mask_id(const char *text, const char *value, char *out, size_t size)
{
	const char *at = value ? strstr(text, value) : NULL;
	if (at)
		snprintf(out, size, "%.*sID%s", (int)(at - text), text, at + strlen(value));
	else
		snprintf(out, size, "%s", text);
}

/* The error of one request: its code, and its message with `id` replaced
 * by "ID", so that answers about different runs compare equal. */
static int ask(struct cx_client *c, const char *op, const char *key, const char *value,
	       char *message, size_t size)
{
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "op", op);
	if (key && !strcmp(key, "pid"))
		cJSON_AddNumberToObject(req, key, atoi(value));
	else if (key)
		cJSON_AddStringToObject(req, key, value);
	cJSON *reply = NULL;
	struct cx_error err = { 0 };
	int fd = -1;
	int rc = cx_client_call(c, req, &reply, &fd, DEADLINE_MS, &err);
	if (fd >= 0)
		close(fd);
	cJSON_Delete(reply);
	mask_id(err.message, value, message, size);
	return rc;
}

struct foreign {
	const char *tenant;
	char live[CX_RUN_ID_MAX + 1];
	char done[CX_RUN_ID_MAX + 1];
	pid_t worker;
};

static const char *const run_ops[] = {
	"state", "pid_for", "fetch_result", "subscribe", "cancel", "terminate", "monitor",
};

static void deny_everything(struct th_report *r, void *arg)
{
	const struct foreign *f = arg;
	struct cx_client *c = user_connect(r);
	if (!c)
		return;
	char bogus[CX_RUN_ID_MAX + 1], want[600], got[600];
	cx_run_id_generate(bogus);
	for (size_t i = 0; i < sizeof run_ops / sizeof run_ops[0]; i++) {
		const char *op = run_ops[i];
		int rc = ask(c, op, "run_id", bogus, want, sizeof want);
		th_expect(r, rc == CX_EPERM, "%s of a run that does not exist: %s, not permission_denied",
		       op, cx_code_word(rc));
		const char *ids[] = { f->live, f->done };
		for (size_t k = 0; k < 2; k++) {
			rc = ask(c, op, "run_id", ids[k], got, sizeof got);
			th_expect(r, rc == CX_EPERM, "%s of another's run: %s, not permission_denied", op,
			       cx_code_word(rc));
			th_expect(r, !strcmp(got, want), "%s tells another's run (\"%s\") from none (\"%s\")",
			       op, got, want);
		}
	}
	char pid[16], none[16];
	snprintf(pid, sizeof pid, "%d", (int)f->worker);
	snprintf(none, sizeof none, "%d", 0x3ffffff0);
	int rc = ask(c, "run_id", "pid", none, want, sizeof want);
	th_expect(r, rc == CX_EPERM, "run_id of no worker: %s", cx_code_word(rc));
	rc = ask(c, "run_id", "pid", pid, got, sizeof got);
	th_expect(r, rc == CX_EPERM && !strcmp(got, want), "run_id of another's worker: %s \"%s\"",
	       cx_code_word(rc), got);

	static const char *const tenant_ops[] = { "tenant_stop", "terminate_all", "which_children",
						  "tenant_start", "ps" };
	for (size_t i = 0; i < sizeof tenant_ops / sizeof tenant_ops[0]; i++) {
		rc = ask(c, tenant_ops[i], "tenant", f->tenant, got, sizeof got);
		th_expect(r, rc == CX_EPERM, "%s of another's tenant: %s", tenant_ops[i], cx_code_word(rc));
	}
	struct cx_client_start start = { .spec_json = hanging_council, .tenant = f->tenant };
	struct cx_started st;
	struct cx_error err = { 0 };
	rc = cx_start(c, &start, &st, NULL, &err);
	th_expect(r, rc == CX_EPERM, "start in another's tenant: %s", cx_code_word(rc));

	/* Listings show nothing of it. */
	static const char *const listings[] = { "ps", "tenant_ls", "tree" };
	for (size_t i = 0; i < sizeof listings / sizeof listings[0]; i++) {
		cJSON *req = cJSON_CreateObject(), *reply = NULL;
		cJSON_AddStringToObject(req, "op", listings[i]);
		cJSON_AddBoolToObject(req, "all", true);
		rc = cx_client_call(c, req, &reply, NULL, DEADLINE_MS, &err);
		char *text = reply ? cJSON_PrintUnformatted(reply) : NULL;
		th_expect(r, rc == CX_OK, "%s: %s", listings[i], err.message);
		th_expect(r, text && !strstr(text, f->tenant) && !strstr(text, f->live) &&
			  !strstr(text, f->done), "%s shows another's tenant: %s", listings[i], text);
		free(text);
		cJSON_Delete(reply);
	}
	cx_client_close(c);
}

static bool final_status(void *arg)
{
	struct cx_run_summary s;
	struct cx_error err = { 0 };
	return cx_state(cl, arg, &s, &err) == CX_OK && cx_run_status_final(s.status);
}

static bool running(void *arg)
{
	struct cx_run_summary s;
	struct cx_error err = { 0 };
	return cx_state(cl, arg, &s, &err) == CX_OK && s.status == CX_RUN_RUNNING;
}

START_TEST(test_another_user_is_denied_every_operation_and_learns_nothing)
{
	struct foreign f = { .tenant = "alpha" };
	struct cx_started st;
	start_in(cl, f.tenant, whoami_council, &st);
	strlcpy(f.done, st.run_id, sizeof f.done);
	ck_assert_msg(th_wait_until(final_status, f.done, DEADLINE_MS), "awaited run %s's end", f.done);
	start_in(cl, f.tenant, hanging_council, &st);
	strlcpy(f.live, st.run_id, sizeof f.live);
	f.worker = st.pid;
	ck_assert_msg(th_wait_until(running, f.live, DEADLINE_MS), "awaited run %s running", f.live);

	const struct th_user nobody = { NOBODY, NOBODY, { NOBODY }, 1 };
	th_as_user(&nobody, deny_everything, &f);

	/* Nothing it tried reached the run. */
	struct cx_run_summary s;
	struct cx_error err = { 0 };
	ck_assert_int_eq(cx_state(cl, f.live, &s, &err), CX_OK);
	ck_assert_msg(!cx_run_status_final(s.status), "the live run is %s after another user's attempts",
		      cx_run_status_name(s.status));
	ck_assert_int_eq(cx_terminate_run(cl, f.live, &err), CX_OK);
}
END_TEST

struct own_run {
	char containment[8];  /* what a run of root's got: a user's run gets the same */
};

static void run_in_own_tenant(struct th_report *r, void *arg)
{
	struct own_run *o = arg;
	struct cx_client *c = user_connect(r);
	if (!c)
		return;
	struct cx_client_start req = { .spec_json = whoami_council };
	struct cx_started st;
	enum cx_run_status status;
	struct cx_error err = { 0 };
	char *result = NULL;
	int rc = cx_run(c, &req, DEADLINE_MS, NULL, &result, &status, &st, NULL, &err);
	th_expect(r, rc == CX_OK && status == CX_RUN_COMPLETED, "its own run: %s %s", cx_code_word(rc),
	       err.message);
	th_expect(r, !strcmp(st.tenant, "user-65534"), "its default tenant is %s", st.tenant);
	th_expect(r, result && strstr(result, "uid=65534 gid=65534"),
	       "its member did not run as itself: %s", result ? result : "(no result)");
	free(result);
	struct cx_run_summary s;
	th_expect(r, cx_state(c, st.run_id, &s, &err) == CX_OK, "state of its own run: %s", err.message);
	th_expect(r, !strcmp(s.containment, o->containment), "its run is contained by %s, root's by %s",
	       s.containment, o->containment);
	char path[4096];
	struct stat sb;
	snprintf(path, sizeof path, "%s/runs/%s/events", scratch, st.run_id);
	th_expect(r, stat(path, &sb) == 0, "cannot read its own run's events: %s", strerror(errno));
	cx_client_close(c);
}

START_TEST(test_a_user_runs_in_a_tenant_of_its_own_as_itself)
{
	struct cx_started root_run;
	struct cx_run_summary s;
	struct cx_error err = { 0 };
	start_in(cl, NULL, whoami_council, &root_run);
	ck_assert_int_eq(cx_state(cl, root_run.run_id, &s, &err), CX_OK);
	struct own_run o;
	strlcpy(o.containment, s.containment, sizeof o.containment);
	const struct th_user nobody = { NOBODY, NOBODY, { NOBODY }, 1 };
	th_as_user(&nobody, run_in_own_tenant, &o);

	/* root sees it, and what was made for it belongs to it. */
	cJSON *req = cJSON_CreateObject(), *reply = NULL;
	cJSON_AddStringToObject(req, "op", "tenant_ls");
	ck_assert_int_eq(cx_client_call(cl, req, &reply, NULL, DEADLINE_MS, &err), CX_OK);
	const cJSON *t, *mine = NULL;
	cJSON_ArrayForEach(t, cJSON_GetObjectItem(reply, "tenants"))
		if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(t, "tenant")), "user-65534"))
			mine = t;
	ck_assert_msg(mine, "root does not see tenant user-65534");
	pid_t sup = (pid_t)cJSON_GetNumberValue(cJSON_GetObjectItem(mine, "pid"));
	cJSON_Delete(reply);
	char path[4096], *status;
	snprintf(path, sizeof path, "/proc/%d/status", (int)sup);
	ck_assert_msg((status = th_read_file(path, NULL)), "no tenant supervisor %d", (int)sup);
	ck_assert_msg(strstr(status, "\nUid:\t65534\t65534\t65534\t65534\n") &&
		      strstr(status, "\nGid:\t65534\t65534\t65534\t65534\n"),
		      "the tenant supervisor does not run as nobody:\n%s", status);
	free(status);

	struct stat st;
	snprintf(path, sizeof path, "%s/tenants/user-65534", scratch);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_msg(st.st_uid == NOBODY && (st.st_mode & 07777) == 0700,
		      "tenants/user-65534: uid %u mode %o", (unsigned)st.st_uid, st.st_mode & 07777);
	snprintf(path, sizeof path, "%s/runs", scratch);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_msg((st.st_mode & 07777) == 01733, "runs/ has mode %o", st.st_mode & 07777);
}
END_TEST

/* A run's directory, as ls -ld would show it. */
static struct stat run_dir(const char *run_id)
{
	char path[4096];
	struct stat st;
	snprintf(path, sizeof path, "%s/runs/%s", scratch, run_id);
	ck_assert_msg(stat(path, &st) == 0, "%s: %s", path, strerror(errno));
	return st;
}

struct shared {
	const char *tenant;
	char run_id[CX_RUN_ID_MAX + 1];
	bool member;
};

static void use_shared(struct th_report *r, void *arg)
{
	struct shared *sh = arg;
	struct cx_client *c = user_connect(r);
	if (!c)
		return;
	struct cx_run_summary s;
	struct cx_error err = { 0 };
	int rc = cx_state(c, sh->run_id, &s, &err);
	th_expect(r, rc == (sh->member ? CX_OK : CX_EPERM), "state of a run of a %s tenant: %s",
	       sh->member ? "group member's" : "foreign group's", cx_code_word(rc));
	struct cx_client_start req = { .spec_json = whoami_council, .tenant = sh->tenant };
	struct cx_started st;
	rc = cx_start(c, &req, &st, NULL, &err);
	th_expect(r, rc == (sh->member ? CX_OK : CX_EPERM), "start in a %s tenant: %s",
	       sh->member ? "group member's" : "foreign group's", cx_code_word(rc));
	/* A group it is not in cannot be given to a tenant it makes. */
	cJSON *make = cJSON_CreateObject();
	cJSON_AddStringToObject(make, "op", "tenant_start");
	cJSON_AddStringToObject(make, "tenant", "theirs");
	cJSON_AddStringToObject(make, "group", "root");
	rc = cx_client_call(c, make, NULL, NULL, DEADLINE_MS, &err);
	th_expect(r, rc == CX_EPERM, "a tenant shared with a group it is not in: %s", cx_code_word(rc));
	cx_client_close(c);
}

START_TEST(test_a_group_tenant_is_shared_with_its_group_alone)
{
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "op", "tenant_start");
	cJSON_AddStringToObject(req, "tenant", "shared");
	cJSON_AddStringToObject(req, "group", "nogroup");
	struct cx_error err = { 0 };
	ck_assert_msg(cx_client_call(cl, req, NULL, NULL, DEADLINE_MS, &err) == CX_OK,
		      "tenant_start with a group: %s", err.message);
	struct shared sh = { .tenant = "shared" };
	struct cx_started st;
	start_in(cl, "shared", whoami_council, &st);
	strlcpy(sh.run_id, st.run_id, sizeof sh.run_id);
	ck_assert_msg(th_wait_until(final_status, sh.run_id, DEADLINE_MS), "awaited %s's end", sh.run_id);
	struct stat dir = run_dir(sh.run_id);
	ck_assert_msg(dir.st_gid == NOBODY && (dir.st_mode & 07777) == 0750,
		      "a run of a group tenant: gid %u mode %o", (unsigned)dir.st_gid, dir.st_mode & 07777);

	const struct th_user member = { STRANGER, STRANGER, { NOBODY }, 1 };
	sh.member = true;
	th_as_user(&member, use_shared, &sh);
	const struct th_user outsider = { STRANGER + 1, STRANGER + 1, { STRANGER + 1 }, 1 };
	sh.member = false;
	th_as_user(&outsider, use_shared, &sh);
}
END_TEST

/* What a user plants in a run directory of its own, for root to trip on:
 * result.json and a directory entry made symlinks to root's secrets. */
static void plant_symlinks(struct th_report *r, void *arg)
{
	const char *canary = arg;
	struct cx_client *c = user_connect(r);
	if (!c)
		return;
	struct cx_client_start req = { .spec_json = whoami_council, .run_id = "planted" };
	struct cx_started st;
	char *result = NULL, path[4096], secret[4200];
	enum cx_run_status status;
	struct cx_error err = { 0 };
	int rc = cx_run(c, &req, DEADLINE_MS, NULL, &result, &status, &st, NULL, &err);
	th_expect(r, rc == CX_OK, "its run: %s", err.message);
	free(result);
	snprintf(path, sizeof path, "%s/runs/planted/result.json", scratch);
	snprintf(secret, sizeof secret, "%s/secret", canary);
	th_expect(r, unlink(path) == 0 && symlink(secret, path) == 0, "planting result.json: %s",
		  strerror(errno));
	snprintf(path, sizeof path, "%s/runs/planted/trap", scratch);
	th_expect(r, symlink(canary, path) == 0, "planting trap: %s", strerror(errno));
	/* With its tenant stopped, councild (root) answers from the files. */
	th_expect(r, cx_tenant_stop(c, "user-65534", &err) == CX_OK, "tenant_stop: %s", err.message);
	rc = cx_fetch_result(c, "planted", DEADLINE_MS, &result, &status, &err);
	th_expect(r, !(rc == CX_OK && result && strstr(result, "SECRET")),
		  "councild read root's secret through a symlink: %s", result);
	free(result);
	cx_client_close(c);
}

static bool planted_gone(void *arg)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/runs/planted", scratch);
	return access(path, F_OK) < 0;
}

START_TEST(test_symlinks_a_user_plants_lead_councild_nowhere)
{
	char canary[4096], secret[4200];
	snprintf(canary, sizeof canary, "%s/canary", scratch);
	snprintf(secret, sizeof secret, "%s/secret", canary);
	ck_assert_int_eq(mkdir(canary, 0700), 0);
	th_write_file(secret, "{\"secret\":\"SECRET\"}");
	const struct th_user nobody = { NOBODY, NOBODY, { NOBODY }, 1 };
	th_as_user(&nobody, plant_symlinks, canary);
	/* Retention removes the run, and only the run. */
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "op", "tenant_start");
	cJSON_AddStringToObject(req, "tenant", "user-65534");
	cJSON_AddNumberToObject(req, "retention_ms", 1);
	struct cx_error err = { 0 };
	ck_assert_msg(cx_client_call(cl, req, NULL, NULL, DEADLINE_MS, &err) == CX_OK, "%s", err.message);
	ck_assert_msg(th_wait_until(planted_gone, NULL, DEADLINE_MS), "awaited the run's expiry");
	char *left = th_read_file(secret, NULL);
	ck_assert_msg(left && strstr(left, "SECRET"), "retention reached through a symlink: %s",
		      left ? left : "(the secret is gone)");
	free(left);
}
END_TEST

static void squat_reserved(struct th_report *r, void *arg)
{
	(void)arg;
	struct cx_client *c = user_connect(r);
	if (!c)
		return;
	static const char *const reserved[] = { "default", "user-4242", "user-04242", "user-0" };
	char got[600];
	for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
		struct cx_client_start start = { .spec_json = hanging_council, .tenant = reserved[i] };
		struct cx_started st;
		struct cx_error err = { 0 };
		int rc = cx_start(c, &start, &st, NULL, &err);
		th_expect(r, rc == CX_EPERM, "start in tenant %s, not its own: %s", reserved[i],
			  cx_code_word(rc));
		rc = ask(c, "tenant_start", "tenant", reserved[i], got, sizeof got);
		th_expect(r, rc == CX_EPERM, "tenant_start %s, not its own: %s", reserved[i],
			  cx_code_word(rc));
	}
	cx_client_close(c);
}

START_TEST(test_reserved_tenants_belong_to_their_users_alone)
{
	const struct th_user nobody = { NOBODY, NOBODY, { NOBODY }, 1 };
	th_as_user(&nobody, squat_reserved, NULL);
	char path[4096];
	struct stat sb;
	snprintf(path, sizeof path, "%s/tenants/default", scratch);
	ck_assert_msg(stat(path, &sb) < 0, "another user made tenant default");
	/* Made by root, each is still its user's. */
	struct cx_started st;
	start_in(cl, "user-4242", whoami_council, &st);
	snprintf(path, sizeof path, "%s/tenants/user-4242", scratch);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_msg(sb.st_uid == STRANGER, "tenant user-4242 belongs to uid %u", (unsigned)sb.st_uid);
	char *result = NULL;
	struct cx_error err = { 0 };
	ck_assert_msg(cx_fetch_result(cl, st.run_id, DEADLINE_MS, &result, NULL, &err) == CX_OK,
		      "the result of root's run in user-4242: %s", err.message);
	ck_assert_msg(strstr(result, "uid=4242 "), "root's run in user-4242 ran as another: %s", result);
	free(result);
}
END_TEST

struct squatted {
	int councild_exe;   /* opened by root: the victim may not reach the build tree */
	mode_t mode;
};

/* councild as the victim in its default directory: what it said, once it
 * exited (NULL, and it is killed, if it still serves after the deadline). */
static char *councild_refusal(int exe)
{
	int p[2];
	if (pipe(p) < 0)
		return NULL;
	pid_t pid = fork();
	if (pid == 0) {
		char *const argv[] = { "councild", "--foreground", NULL };
		dup2(p[1], STDERR_FILENO);
		fexecve(exe, argv, environ);
		_exit(127);
	}
	close(p[1]);
	static char said[1024];
	size_t len = 0;
	struct pollfd pfd = { p[0], POLLIN, 0 };
	ssize_t n = 1;
	while (n > 0 && len < sizeof said - 1 && poll(&pfd, 1, DEADLINE_MS) > 0)
		if ((n = read(p[0], said + len, sizeof said - 1 - len)) > 0)
			len += (size_t)n;
	said[len] = '\0';
	close(p[0]);
	bool exited = n == 0 && waitpid(pid, NULL, 0) == pid;
	if (!exited) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	return exited ? said : NULL;
}

static void use_squatted(struct th_report *r, void *arg)
{
	const struct squatted *s = arg;
	unsetenv("COUNCIL_RUNTIME_DIR");
	unsetenv("XDG_RUNTIME_DIR");
	struct cx_client_options opts = { .autostart = true };
	struct cx_client *c = NULL;
	struct cx_error err = { 0 };
	int rc = cx_client_connect(&opts, &c, &err);
	th_expect(r, rc == CX_EPERM && strstr(err.message, VICTIM_DIR) &&
		  strstr(err.message, "belongs to uid 65534"),
		  "a client used " VICTIM_DIR " made by nobody (%04o): %s %s", (unsigned)s->mode,
		  cx_code_word(rc), err.message);
	if (c)
		cx_client_close(c);
	const char *said = councild_refusal(s->councild_exe);
	th_expect(r, said && strstr(said, VICTIM_DIR) && strstr(said, "belongs to uid 65534"),
		  "councild used " VICTIM_DIR " made by nobody (%04o): %s", (unsigned)s->mode,
		  said ? said : "(it served)");
}

START_TEST(test_a_runtime_directory_another_user_made_first_is_refused)
{
	struct squatted s = { .councild_exe = open(getenv("COUNCILD"), O_RDONLY) };
	ck_assert_msg(s.councild_exe >= 0, "COUNCILD: %s", strerror(errno));
	const struct th_user victim = { VICTIM, VICTIM, { VICTIM }, 1 };
	static const mode_t modes[] = { 0755, 0777 };
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		s.mode = modes[i];
		th_rm_rf(VICTIM_DIR);
		/* nobody was first to take the name. */
		ck_assert_int_eq(mkdir(VICTIM_DIR, 0700), 0);
		ck_assert_int_eq(chown(VICTIM_DIR, NOBODY, NOBODY), 0);
		ck_assert_int_eq(chmod(VICTIM_DIR, s.mode), 0);
		th_as_user(&victim, use_squatted, &s);
		struct stat sb;
		char sock[64];
		snprintf(sock, sizeof sock, "%s/councild.sock", VICTIM_DIR);
		ck_assert_msg(lstat(sock, &sb) < 0, "the victim's councild made its socket in nobody's directory");
	}
	th_rm_rf(VICTIM_DIR);
	close(s.councild_exe);
}
END_TEST

/* A server on dir's socket that runs as STRANGER: a byte on its pipe once
 * it listens, then how many bytes it was sent, once its client went away. */
static pid_t fake_councild(const char *dir, int *report)
{
	int p[2];
	ck_assert(pipe(p) == 0);
	pid_t pid = fork();
	ck_assert(pid >= 0);
	if (pid > 0) {
		close(p[1]);
		*report = p[0];
		return pid;
	}
	close(p[0]);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if ((size_t)snprintf(sa.sun_path, sizeof sa.sun_path, "%.90s/councild.sock", dir) >=
	    sizeof sa.sun_path)
		_exit(1);
	/* Bound by root in the victim's own directory, it listens as another
	 * user: what the victim's client meets is that user. */
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || chmod(sa.sun_path, 0666) < 0 ||
	    setgroups(0, NULL) < 0 || setgid(STRANGER) < 0 || setuid(STRANGER) < 0 ||
	    listen(fd, 1) < 0 || write(p[1], "L", 1) != 1)
		_exit(1);
	struct pollfd pfd = { fd, POLLIN, 0 };
	int conn = poll(&pfd, 1, DEADLINE_MS) > 0 ? accept(fd, NULL, NULL) : -1;
	long got = 0;
	char buf[4096];
	ssize_t n = 1;
	pfd.fd = conn;
	while (conn >= 0 && n > 0 && poll(&pfd, 1, DEADLINE_MS) > 0)
		if ((n = read(conn, buf, sizeof buf)) > 0)
			got += n;
	ssize_t ignored = write(p[1], &got, sizeof got);
	(void)ignored;
	_exit(conn >= 0 ? 0 : 2);
}

/* A client in door.dir is refused, saying door.why. */
struct door {
	const char *dir;
	const char *why;
};

static void denied_at_the_door(struct th_report *r, void *arg)
{
	const struct door *door = arg;
	struct cx_client_options opts = { .runtime_dir = door->dir };
	struct cx_client *c = NULL;
	struct cx_error err = { 0 };
	int rc = cx_client_connect(&opts, &c, &err);
	th_expect(r, rc == CX_EPERM && strstr(err.message, door->why),
		  "a client in %s was not refused with \"%s\": %s %s", door->dir, door->why,
		  cx_code_word(rc), err.message);
	if (c)
		cx_client_close(c);
}

/* scratch/nobody, nobody's, of mode. */
static void nobody_dir(char dir[4096], mode_t mode)
{
	snprintf(dir, 4096, "%s/nobody", scratch);
	ck_assert_int_eq(mkdir(dir, mode), 0);
	ck_assert_int_eq(chown(dir, NOBODY, NOBODY), 0);
}

START_TEST(test_a_client_talks_to_no_server_of_another_user)
{
	char dir[4096];
	nobody_dir(dir, 0700);
	int report;
	pid_t fake = fake_councild(dir, &report);
	char listening;
	ck_assert_msg(read(report, &listening, 1) == 1, "the fake server did not listen");
	const struct th_user nobody = { NOBODY, NOBODY, { NOBODY }, 1 };
	struct door door = { dir, "answered by uid 4242" };
	th_as_user(&nobody, denied_at_the_door, &door);
	long got = -1;
	int status;
	ck_assert_msg(read(report, &got, sizeof got) == sizeof got, "the fake server said nothing");
	close(report);
	ck_assert_int_eq(waitpid(fake, &status, 0), fake);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the fake server was never reached");
	ck_assert_msg(got == 0, "the client sent %ld bytes to another user's server", got);
}
END_TEST

static void env_in_own_tenant(struct th_report *r, void *arg)
{
	(void)arg;
	struct cx_client *c = user_connect(r);
	if (!c)
		return;
	struct cx_error err = { 0 };
	char *result = run_result(c, env_council, &err);
	th_expect(r, result != NULL, "its run: %s", err.message);
	if (!result) {
		cx_client_close(c);
		return;
	}
	char *env = member_answer(result, "env"), *key = member_answer(result, "key");
	th_expect(r, !strstr(result, CANARY), "councild's secret reached its run: %s", result);
	th_expect(r, env && strstr(env, "CHOSEN=yes") && strstr(env, "USER=nobody") &&
		  strstr(env, "PATH="), "its member lacks the clean set and its env: %s",
		  env ? env : "(none)");
	th_expect(r, key && strstr(key, "OPENAI_API_KEY (api_key_env) is not set"),
		  "its worker has councild's OPENAI_API_KEY: %s", key ? key : "(none)");
	free(env);
	free(key);
	free(result);
	cx_client_close(c);
}

START_TEST(test_a_users_tenant_gets_nothing_of_councilds_environment)
{
	const struct th_user nobody = { NOBODY, NOBODY, { NOBODY }, 1 };
	th_as_user(&nobody, env_in_own_tenant, NULL);
}
END_TEST

START_TEST(test_members_get_the_clean_environment_and_what_their_profile_names)
{
	struct cx_error err = { 0 };
	char *result = run_result(cl, env_council, &err);
	ck_assert_msg(result, "the run in root's tenant: %s", err.message);
	char *env = member_answer(result, "env"), *key = member_answer(result, "key");
	/* The worker of councild's own tenant has councild's environment, for
	 * its providers' keys; its member commands do not. */
	ck_assert_msg(key && !strstr(key, "is not set"), "the worker has no OPENAI_API_KEY: %s", key);
	ck_assert_msg(env && !strstr(env, CANARY), "a member sees councild's secret:\n%s", env);
	ck_assert_msg(strstr(env, "CHOSEN=yes") && strstr(env, "USER=root\n") &&
		      strstr(env, "HOME=/root\n") && strstr(env, "PATH="),
		      "a member lacks the clean set or its env:\n%s", env);
	free(env);
	free(key);
	free(result);
	/* env_pass hands it on, by name. */
	result = run_result(cl,
		"{\"id\":\"pass\",\"members\":[{\"id\":\"env\",\"retry\":{\"max\":1},\"profile\":"
		"{\"provider\":\"exec\",\"command\":[\"printenv\",\"OPENAI_API_KEY\"],"
		"\"env_pass\":[\"OPENAI_API_KEY\",\"NOT_SET_ANYWHERE\"]}}],"
		"\"rounds\":[{\"type\":\"independent_analysis\"}]}", &err);
	ck_assert_msg(result, "the run with env_pass: %s", err.message);
	env = member_answer(result, "env");
	ck_assert_msg(env && !strcmp(env, CANARY), "env_pass did not pass the key: %s", env);
	free(env);
	free(result);
}
END_TEST

START_TEST(test_a_councild_of_one_user_serves_that_user_alone)
{
	/* nobody's own councild, in a directory of its own. */
	char dir[4096];
	nobody_dir(dir, 0755);
	/* Opened as root: nobody may not be able to reach the build tree. */
	int exe = open(getenv("COUNCILD"), O_RDONLY | O_CLOEXEC);
	ck_assert_msg(exe >= 0, "COUNCILD: %s", strerror(errno));
	pid_t pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		char *const argv[] = { "councild", "--foreground", "--runtime-dir", dir, NULL };
		if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
			_exit(126);
		fexecve(exe, argv, environ);
		_exit(127);
	}
	close(exe);
	struct cx_client *root = th_councild_connect(dir, DEADLINE_MS);
	cx_client_close(root);
	/* Even through a socket opened to everyone, the door stays shut. */
	char sock[4200];
	snprintf(sock, sizeof sock, "%s/councild.sock", dir);
	ck_assert_int_eq(chmod(sock, 0666), 0);
	const struct th_user stranger = { STRANGER, STRANGER, { STRANGER }, 1 };
	struct door door = { dir, "serves uid 65534 only" };
	th_as_user(&stranger, denied_at_the_door, &door);
	ck_assert_msg(th_councild_stop(pid, DEADLINE_MS) != -1, "awaited nobody's councild's exit");
}
END_TEST


/* What a user can do in the runtime directory, against what councild
 * believes from it (docs/security.md, "The runtime directory"). */

static const struct th_user nobody_user = { NOBODY, NOBODY, { NOBODY }, 1 };
#define NOBODY_TENANT "user-65534"

static void runs_path(char *path, size_t size, const char *run_id, const char *file)
{
	snprintf(path, size, "%s/runs/%s%s%s", scratch, run_id, file ? "/" : "", file ? file : "");
}

/* A run of root's, given its id, in tenant (NULL: default). */
static void root_run(const char *tenant, const char *spec, const char *run_id, bool wait_final)
{
	struct cx_client_start req = { .spec_json = spec, .tenant = tenant, .run_id = run_id };
	struct cx_started st;
	struct cx_error err = { 0 };
	ck_assert_msg(cx_start(cl, &req, &st, NULL, &err) == CX_OK, "start %s: %s", run_id, err.message);
	ck_assert_msg(th_wait_until(wait_final ? final_status : running, (void *)run_id, DEADLINE_MS),
		      "awaited run %s %s", run_id, wait_final ? "final" : "running");
}

/* A finished run of the calling user's, in its own tenant. */
static void own_run(struct th_report *r, struct cx_client *c, const char *run_id)
{
	struct cx_client_start req = { .spec_json = whoami_council, .run_id = run_id };
	struct cx_started st;
	char *result = NULL;
	enum cx_run_status status;
	struct cx_error err = { 0 };
	int rc = cx_run(c, &req, DEADLINE_MS, NULL, &result, &status, &st, NULL, &err);
	th_expect(r, rc == CX_OK, "its own run %s: %s", run_id, err.message);
	free(result);
}

/* Its tenant's runs/ names run_id, which is not its run. */
static void plant_name(struct th_report *r, const char *run_id)
{
	char link[4096], target[4096];
	snprintf(link, sizeof link, "%s/tenants/" NOBODY_TENANT "/runs/%s", scratch, run_id);
	snprintf(target, sizeof target, "../../../runs/%s", run_id);
	th_expect(r, symlink(target, link) == 0, "planting %s: %s", link, strerror(errno));
}

static bool ps_names(struct cx_client *c, const char *tenant, const char *run_id)
{
	struct cx_run_summary *runs = NULL;
	size_t n = 0;
	struct cx_error err = { 0 };
	bool found = false;
	if (cx_ps(c, tenant, true, &runs, &n, &err) == CX_OK)
		for (size_t i = 0; i < n; i++)
			found |= !strcmp(runs[i].run_id, run_id);
	free(runs);
	return found;
}

static void probe_taken_ids(struct th_report *r, void *arg)
{
	const char *taken = arg;
	struct cx_client *c = user_connect(r);
	if (!c)
		return;
	char want[600], got[600];
	ask(c, "state", "run_id", "never-started", want, sizeof want);
	struct cx_client_start req = { .spec_json = whoami_council, .run_id = taken };
	struct cx_started st;
	struct cx_error err = { 0 };
	int rc = cx_start(c, &req, &st, NULL, &err);
	mask_id(err.message, taken, got, sizeof got);
	th_expect(r, rc == CX_EPERM && !strcmp(got, want),
		  "start with another's run id: %s \"%s\", not \"%s\"", cx_code_word(rc), got, want);
	char tenants[4096];
	snprintf(tenants, sizeof tenants, "%s/tenants", scratch);
	DIR *d = opendir(tenants);
	th_expect(r, !d && errno == EACCES, "tenants/ can be listed by anyone");
	if (d)
		closedir(d);
	cx_client_close(c);
}

START_TEST(test_another_users_run_id_is_refused_as_any_run_of_anothers)
{
	root_run("alpha", whoami_council, "taken-1", true);
	th_as_user(&nobody_user, probe_taken_ids, "taken-1");
}
END_TEST

static void list_planted(struct th_report *r, void *arg)
{
	const char *const *ids = arg;
	struct cx_client *c = user_connect(r);
	if (!c)
		return;
	own_run(r, c, "mine-1");
	for (size_t i = 0; ids[i]; i++) {
		plant_name(r, ids[i]);
		th_expect(r, !ps_names(c, NOBODY_TENANT, ids[i]) && !ps_names(c, NULL, ids[i]),
			  "ps lists another's run %s, named in its tenant", ids[i]);
	}
	cx_client_close(c);
}

START_TEST(test_a_name_planted_in_ones_tenant_lists_no_run_of_anothers)
{
	root_run(NULL, whoami_council, "roots-1", true);
	root_run("alpha", whoami_council, "alphas-1", true);
	const char *ids[] = { "roots-1", "alphas-1", NULL };
	th_as_user(&nobody_user, list_planted, ids);
}
END_TEST

static void plant_and_expire(struct th_report *r, void *arg)
{
	const char *const *ids = arg;
	struct cx_client *c = user_connect(r);
	if (!c)
		return;
	own_run(r, c, "mine-2");
	for (size_t i = 0; ids[i]; i++)
		plant_name(r, ids[i]);
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "op", "tenant_start");
	cJSON_AddStringToObject(req, "tenant", NOBODY_TENANT);
	cJSON_AddNumberToObject(req, "retention_ms", 1);
	struct cx_error err = { 0 };
	th_expect(r, cx_client_call(c, req, NULL, NULL, DEADLINE_MS, &err) == CX_OK, "tenant_start: %s",
		  err.message);
	cx_client_close(c);
}

static bool run_dir_gone(void *arg)
{
	char path[4096];
	runs_path(path, sizeof path, arg, NULL);
	return access(path, F_OK) < 0;
}

START_TEST(test_retention_of_ones_tenant_removes_no_run_of_anothers)
{
	root_run(NULL, whoami_council, "roots-2", true);
	root_run(NULL, hanging_council, "roots-live-2", false);
	const char *ids[] = { "roots-2", "roots-live-2", NULL };
	th_as_user(&nobody_user, plant_and_expire, ids);
	/* Its own run goes, and root's, older, would have gone first. */
	ck_assert_msg(th_wait_until(run_dir_gone, "mine-2", DEADLINE_MS), "awaited mine-2's expiry");
	ck_assert_msg(!run_dir_gone("roots-2"), "retention of nobody's tenant removed root's run");
	ck_assert_msg(!run_dir_gone("roots-live-2") && running("roots-live-2"),
		      "root's live run was touched");
	struct cx_error err = { 0 };
	ck_assert_int_eq(cx_terminate_run(cl, "roots-live-2", &err), CX_OK);
}
END_TEST

/* The pid of tenant's supervisor, and how often it restarted, as
 * tenant_ls tells c. */
static pid_t tenant_sup(struct cx_client *c, const char *tenant, int *restarts)
{
	cJSON *req = cJSON_CreateObject(), *reply = NULL;
	cJSON_AddStringToObject(req, "op", "tenant_ls");
	struct cx_error err = { 0 };
	pid_t pid = 0;
	if (cx_client_call(c, req, &reply, NULL, DEADLINE_MS, &err) != CX_OK)
		return 0;
	const cJSON *t;
	cJSON_ArrayForEach(t, cJSON_GetObjectItem(reply, "tenants"))
		if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(t, "tenant")), tenant)) {
			pid = (pid_t)cJSON_GetNumberValue(cJSON_GetObjectItem(t, "pid"));
			*restarts = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(t, "restarts"));
		}
	cJSON_Delete(reply);
	return pid;
}

/* councild saw its tenant's supervisor die, recovered the tenant's runs
 * and restarted it. */
static void await_restart(struct th_report *r, struct cx_client *c)
{
	int restarts = 0;
	for (int i = 0; i < DEADLINE_MS / 10 && restarts == 0; i++) {
		usleep(10000);
		tenant_sup(c, NOBODY_TENANT, &restarts);
	}
	th_expect(r, restarts > 0, "awaited its supervisor's restart");
}

static void plant_and_crash(struct th_report *r, void *arg)
{
	struct cx_client *c = user_connect(r);
	if (!c)
		return;
	own_run(r, c, "mine-3");
	plant_name(r, arg);
	int restarts = 0;
	pid_t sup = tenant_sup(c, NOBODY_TENANT, &restarts);
	th_expect(r, sup > 0 && kill(sup, SIGKILL) == 0, "killing its supervisor %d: %s", (int)sup,
		  strerror(errno));
	await_restart(r, c);
	cx_client_close(c);
}

START_TEST(test_killing_ones_supervisor_finalizes_no_run_of_anothers)
{
	root_run(NULL, hanging_council, "roots-live-3", false);
	th_as_user(&nobody_user, plant_and_crash, "roots-live-3");
	ck_assert_msg(running("roots-live-3"), "root's live run was finalized");
	char path[4096];
	runs_path(path, sizeof path, "roots-live-3", "events");
	char *events = th_read_file(path, NULL);
	ck_assert_msg(events && !strstr(events, "run_failed"), "root's live run has a run_failed:\n%s",
		      events ? events : "(no events)");
	free(events);
	struct cx_error err = { 0 };
	ck_assert_int_eq(cx_terminate_run(cl, "roots-live-3", &err), CX_OK);
}
END_TEST

struct forgery {
	char *summary, *result;
};

static void forge_run(struct th_report *r, void *arg)
{
	const struct forgery *f = arg;
	char path[4096];
	runs_path(path, sizeof path, "forged-45", NULL);
	th_expect(r, mkdir(path, 0755) == 0, "mkdir %s: %s", path, strerror(errno));
	runs_path(path, sizeof path, "forged-45", "summary.json");
	th_write_file(path, f->summary);
	runs_path(path, sizeof path, "forged-45", "result.json");
	th_write_file(path, f->result);
}

START_TEST(test_a_run_forged_by_another_user_is_not_served_as_roots)
{
	root_run(NULL, whoami_council, "model-45", true);
	char path[4096];
	struct forgery f;
	runs_path(path, sizeof path, "model-45", "summary.json");
	char *text = th_read_file(path, NULL);
	cJSON *summary = text ? cJSON_Parse(text) : NULL;
	free(text);
	ck_assert_msg(summary, "model-45 has no summary");
	cJSON_ReplaceItemInObject(summary, "run_id", cJSON_CreateString("forged-45"));
	f.summary = cJSON_PrintUnformatted(summary);
	f.result = "{\"council\":\"whoami\",\"final\":\"FORGED\",\"rounds\":[]}";
	th_as_user(&nobody_user, forge_run, &f);
	char *result = NULL;
	enum cx_run_status status;
	struct cx_run_summary s;
	struct cx_error err = { 0 };
	int rc = cx_fetch_result(cl, "forged-45", DEADLINE_MS, &result, &status, &err);
	ck_assert_msg(rc == CX_ENOT_FOUND, "root's result of a run nobody forged: %s %s",
		      cx_code_word(rc), result ? result : err.message);
	ck_assert_int_eq(cx_state(cl, "forged-45", &s, &err), CX_ENOT_FOUND);
	ck_assert_msg(!ps_names(cl, NULL, "forged-45"), "root's ps lists the forgery");
	free(result);
	free(f.summary);
	cJSON_Delete(summary);
}
END_TEST

/* Its own finished run, its tenant stopped (councild answers from the
 * files), then file replaced by what make leaves there. */
static void replace_own_file(struct th_report *r, struct cx_client *c, const char *run_id,
			     const char *file, int (*make)(const char *path))
{
	own_run(r, c, run_id);
	struct cx_error err = { 0 };
	th_expect(r, cx_tenant_stop(c, NOBODY_TENANT, &err) == CX_OK, "tenant_stop: %s", err.message);
	char path[4096];
	runs_path(path, sizeof path, run_id, file);
	th_expect(r, unlink(path) == 0 && make(path) == 0, "replacing %s: %s", path, strerror(errno));
}

static int make_fifo(const char *path)
{
	return mkfifo(path, 0644);
}

static int make_sparse(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	int r = fd < 0 ? -1 : ftruncate(fd, 1L << 30);
	if (fd >= 0)
		close(fd);
	return r;
}

/* fetch_result of run_id, with a deadline: councild must answer. */
static int result_of(struct cx_client *c, const char *run_id, char *message, size_t size)
{
	cJSON *req = cJSON_CreateObject(), *reply = NULL;
	cJSON_AddStringToObject(req, "op", "fetch_result");
	cJSON_AddStringToObject(req, "run_id", run_id);
	struct cx_error err = { 0 };
	int rc = cx_client_call(c, req, &reply, NULL, DEADLINE_MS, &err);
	snprintf(message, size, "%s", rc == CX_OK ? "(a result)" : err.message);
	cJSON_Delete(reply);
	return rc;
}

static void plant_fifos(struct th_report *r, void *arg)
{
	struct cx_client *c = user_connect(r);
	if (!c)
		return;
	char message[600];
	replace_own_file(r, c, "fifo-result", "result.json", make_fifo);
	int rc = result_of(c, "fifo-result", message, sizeof message);
	th_expect(r, rc != CX_OK && rc != CX_ETIMEOUT && strstr(message, "not a regular file"),
		  "result of a run whose result.json is a FIFO: %s %s", cx_code_word(rc), message);
	char path[4096];
	runs_path(path, sizeof path, "fifo-result", "summary.json");
	th_expect(r, unlink(path) == 0 && mkfifo(path, 0644) == 0, "mkfifo %s: %s", path, strerror(errno));
	cx_client_close(c);
}

START_TEST(test_a_fifo_in_place_of_a_run_file_stalls_nothing)
{
	th_as_user(&nobody_user, plant_fifos, NULL);
	/* root's listing reads every run's summary, that one included. */
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "op", "ps");
	cJSON_AddBoolToObject(req, "all", true);
	struct cx_error err = { 0 };
	ck_assert_msg(cx_client_call(cl, req, NULL, NULL, DEADLINE_MS, &err) == CX_OK,
		      "root's ps with a FIFO for a summary: %s", err.message);
}
END_TEST

static void plant_sparse(struct th_report *r, void *arg)
{
	struct cx_client *c = user_connect(r);
	if (!c)
		return;
	char message[600];
	replace_own_file(r, c, "sparse-result", "result.json", make_sparse);
	int rc = result_of(c, "sparse-result", message, sizeof message);
	th_expect(r, rc != CX_OK && strstr(message, "result.json is over"),
		  "result of a run whose result.json is a sparse GiB: %s %s", cx_code_word(rc), message);
	cx_client_close(c);
}

/* councild's peak resident memory, in kB. */
static long councild_peak_kb(void)
{
	char path[64], *status;
	snprintf(path, sizeof path, "/proc/%d/status", (int)councild);
	ck_assert_msg((status = th_read_file(path, NULL)), "no councild %d", (int)councild);
	const char *hwm = strstr(status, "VmHWM:");
	long kb = hwm ? atol(hwm + 6) : -1;
	free(status);
	return kb;
}

START_TEST(test_a_sparse_result_is_refused_unread)
{
	th_as_user(&nobody_user, plant_sparse, NULL);
	long kb = councild_peak_kb();
	ck_assert_msg(kb >= 0 && kb < 256 * 1024, "councild's memory peaked at %ld kB", kb);
}
END_TEST


/* Its supervisor's launcher (its guardian), from /proc. */
static pid_t launcher_of(pid_t sup)
{
	char path[64], comm[64], *children;
	snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)sup, (int)sup);
	if (!(children = th_read_file(path, NULL)))
		return 0;
	pid_t found = 0;
	for (char *p = children, *end; !found && *p; p = end) {
		pid_t pid = (pid_t)strtol(p, &end, 10);
		if (end == p)
			break;
		snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
		char *text = th_read_file(path, NULL);
		if (text && sscanf(text, "%63s", comm) == 1 && !strcmp(comm, "council-launch"))
			found = pid;
		free(text);
	}
	free(children);
	return found;
}

static void forge_pid_and_crash(struct th_report *r, void *arg)
{
	const pid_t *victim = arg;
	struct cx_client *c = user_connect(r);
	if (!c)
		return;
	struct cx_client_start req = { .spec_json = hanging_council, .run_id = "mine-pid" };
	struct cx_started st;
	struct cx_error err = { 0 };
	th_expect(r, cx_start(c, &req, &st, NULL, &err) == CX_OK, "its run: %s", err.message);
	int restarts = 0;
	pid_t sup = tenant_sup(c, NOBODY_TENANT, &restarts), launcher = launcher_of(sup);
	/* Its summary names root's process group for its worker. */
	char path[4096], *text;
	runs_path(path, sizeof path, "mine-pid", "summary.json");
	cJSON *summary = (text = th_read_file(path, NULL)) ? cJSON_Parse(text) : NULL;
	free(text);
	th_expect(r, summary != NULL, "no summary of its run");
	cJSON_ReplaceItemInObject(summary, "pid", cJSON_CreateNumber(*victim));
	text = cJSON_PrintUnformatted(summary);
	th_expect(r, text && kill(sup, SIGSTOP) == 0, "stopping its supervisor: %s", strerror(errno));
	th_write_file(path, text);
	free(text);
	cJSON_Delete(summary);
	/* Its guardian first, so that councild finalizes the run. */
	th_expect(r, launcher > 0 && kill(launcher, SIGKILL) == 0 && kill(sup, SIGKILL) == 0,
		  "killing its launcher %d and supervisor %d: %s", (int)launcher, (int)sup, strerror(errno));
	await_restart(r, c);
	cx_client_close(c);
}

START_TEST(test_a_pid_in_a_users_summary_is_never_signalled)
{
	pid_t victim = fork();
	ck_assert(victim >= 0);
	if (victim == 0) {
		setpgid(0, 0);
		execlp("sleep", "sleep", "600", (char *)NULL);
		_exit(127);
	}
	setpgid(victim, victim);
	th_as_user(&nobody_user, forge_pid_and_crash, &victim);
	int status;
	bool alive = waitpid(victim, &status, WNOHANG) == 0;
	kill(victim, SIGKILL);
	waitpid(victim, &status, 0);
	ck_assert_msg(alive, "root's process group %d, named in nobody's summary, was killed",
		      (int)victim);
}
END_TEST

int main(void)
{
	if (geteuid() != 0) {
		/* Becoming other users needs root; CI runs as root. */
		printf("access: skipped: not root\n");
		return 77;
	}
	Suite *s = suite_create("access");
	TCase *tc = tcase_create("access");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_another_user_is_denied_every_operation_and_learns_nothing);
	tcase_add_test(tc, test_a_user_runs_in_a_tenant_of_its_own_as_itself);
	tcase_add_test(tc, test_a_group_tenant_is_shared_with_its_group_alone);
	tcase_add_test(tc, test_a_councild_of_one_user_serves_that_user_alone);
	tcase_add_test(tc, test_symlinks_a_user_plants_lead_councild_nowhere);
	tcase_add_test(tc, test_another_users_run_id_is_refused_as_any_run_of_anothers);
	tcase_add_test(tc, test_a_name_planted_in_ones_tenant_lists_no_run_of_anothers);
	tcase_add_test(tc, test_retention_of_ones_tenant_removes_no_run_of_anothers);
	tcase_add_test(tc, test_killing_ones_supervisor_finalizes_no_run_of_anothers);
	tcase_add_test(tc, test_a_run_forged_by_another_user_is_not_served_as_roots);
	tcase_add_test(tc, test_a_fifo_in_place_of_a_run_file_stalls_nothing);
	tcase_add_test(tc, test_a_sparse_result_is_refused_unread);
	tcase_add_test(tc, test_a_pid_in_a_users_summary_is_never_signalled);
	tcase_add_test(tc, test_reserved_tenants_belong_to_their_users_alone);
	tcase_add_test(tc, test_a_runtime_directory_another_user_made_first_is_refused);
	tcase_add_test(tc, test_a_client_talks_to_no_server_of_another_user);
	tcase_add_test(tc, test_a_users_tenant_gets_nothing_of_councilds_environment);
	tcase_add_test(tc, test_members_get_the_clean_environment_and_what_their_profile_names);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
