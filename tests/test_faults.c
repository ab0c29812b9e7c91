/* Fault injection: a councild in a private runtime directory beaten on
 * from outside (descriptors, disk, signals, members that misbehave, a
 * SIGTERM mid-burst). In each: councild keeps serving, other runs are
 * unaffected, every run ends with exactly one terminal event and a final
 * status, and the error says what happened. */
#include <check.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "council/client.h"
#include "harness.h"
#include "utf8.h"

#define DEADLINE_MS 60000
#define NOBODY 65534

static char *scratch;    /* the test's own directory */
static char *root;       /* councild's runtime directory, in it */
static pid_t councild;
static struct cx_client *cl;

static void councild_up(void)
{
	councild = th_councild_start(root, NULL);
	cl = th_councild_connect(root, DEADLINE_MS);
}

static void councild_down(void)
{
	if (cl)
		cx_client_close(cl);
	cl = NULL;
	if (councild > 0)
		ck_assert_msg(th_councild_stop(councild, DEADLINE_MS) != -1, "awaited councild's exit");
	councild = 0;
}

static void setup(void)
{
	scratch = th_scratch_dir();
	chmod(scratch, 0755);
	if (asprintf(&root, "%s/runtime", scratch) < 0 || mkdir(root, 0755) < 0)
		abort();
	setenv("COUNCIL_RUNTIME_DIR", root, 1);
}

static void teardown(void)
{
	councild_down();
	umount2(root, MNT_DETACH); /* the disk-full test's tmpfs, if any */
	ck_assert_msg(th_no_descendants(5000), "processes were left behind");
	th_rm_rf(scratch);
	free(root);
	free(scratch);
}

/* A council of one member whose profile is given whole. */
static char *council_of(const char *profile, int timeout_ms)
{
	char *s;
	if (asprintf(&s, "{\"id\":\"f\",\"members\":[{\"id\":\"m\",\"retry\":{\"max\":1},"
		     "\"timeout_ms\":%d,\"profile\":%s}],"
		     "\"rounds\":[{\"type\":\"independent_analysis\"}]}", timeout_ms, profile) < 0)
		abort();
	return s;
}

static int start(struct cx_client *c, const char *spec, const char *run_id, bool subscribe,
		 struct cx_started *st, struct cx_error *err)
{
	struct cx_client_start req = { .spec_json = spec, .run_id = run_id, .subscribe = subscribe };
	return cx_start(c, &req, st, NULL, err);
}

static void start_ok(const char *spec, struct cx_started *st)
{
	struct cx_error err = { 0 };
	ck_assert_msg(start(cl, spec, NULL, false, st, &err) == CX_OK, "start: %s", err.message);
}

/* Waits for the run's result: its final status, and its result JSON. */
static enum cx_run_status await_final(const char *run_id, char **result)
{
	enum cx_run_status status;
	char *json = NULL;
	struct cx_error err = { 0 };
	int r = cx_fetch_result(cl, run_id, DEADLINE_MS, &json, &status, &err);
	ck_assert_msg(r == CX_OK, "awaited run %s's result: %s", run_id, err.message);
	if (result)
		*result = json;
	else
		free(json);
	return status;
}

static char *run_file(const char *run_id, const char *name)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/runs/%s/%s", root, run_id, name);
	char *text = th_read_file(path, NULL);
	ck_assert_msg(text, "cannot read %s", path);
	return text;
}

/* The contract for a run that has ended: its events run from seq 1 without
 * a gap, are UTF-8, carry its run_id, and end with its one terminal event;
 * its status is final and counts them. Returns the terminal line. */
static cJSON *assert_whole(const char *run_id)
{
	char *events = run_file(run_id, "events"), *status = run_file(run_id, "status");
	const unsigned char *u = (const unsigned char *)events;
	for (size_t i = 0, n = strlen(events), k; i < n; i += k)
		ck_assert_msg((k = cx_utf8_seq_len(u + i, n - i)), "%s: events not UTF-8 at byte %zu",
			      run_id, i);
	cJSON *last = NULL;
	int seq = 0, terminals = 0;
	for (char *line = strtok(events, "\n"); line; line = strtok(NULL, "\n")) {
		cJSON_Delete(last);
		last = cJSON_Parse(line);
		ck_assert_msg(last, "%s: event %d is not JSON: %.200s", run_id, seq + 1, line);
		ck_assert_msg(cJSON_GetNumberValue(cJSON_GetObjectItem(last, "seq")) == ++seq,
			      "%s: a gap before seq %d: %.200s", run_id, seq, line);
		ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(last, "run_id")), run_id);
		const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(last, "type"));
		terminals += !strcmp(type, "run_completed") || !strcmp(type, "run_failed");
	}
	ck_assert_msg(last && terminals == 1, "%s: %d terminal events", run_id, terminals);
	const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(last, "type"));
	ck_assert_msg(!strcmp(type, "run_completed") || !strcmp(type, "run_failed"),
		      "%s: the last event is %s", run_id, type);
	char want[64];
	snprintf(want, sizeof want, "\nEvents:\t%d\n", seq);
	ck_assert_msg(strstr(status, want), "%s: status does not count %d events:\n%s", run_id, seq,
		      status);
	ck_assert_msg(strstr(status, "\nStatus:\tcompleted\n") || strstr(status, "\nStatus:\tfailed\n") ||
		      strstr(status, "\nStatus:\tcancelled\n"), "%s: status not final:\n%s", run_id, status);
	free(events);
	free(status);
	return last;
}

/* The first error of a run_failed line, as "kind: message". */
static char *first_error(const cJSON *terminal)
{
	const cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(terminal, "errors"), 0);
	char *s;
	if (asprintf(&s, "%s: %s", cJSON_GetStringValue(cJSON_GetObjectItem(e, "kind")),
		     cJSON_GetStringValue(cJSON_GetObjectItem(e, "message"))) < 0)
		abort();
	return s;
}

static void assert_serving(void)
{
	struct cx_started st;
	char *spec = council_of("{\"provider\":\"mock\",\"words\":3}", 30000);
	start_ok(spec, &st);
	free(spec);
	ck_assert_msg(await_final(st.run_id, NULL) == CX_RUN_COMPLETED,
		      "a plain run after the fault did not complete");
	cJSON_Delete(assert_whole(st.run_id));
}

/* Nothing of a refused start is left: runs/ and the tenant's links hold
 * the n runs started, and no other. */
static void assert_only_runs(const struct cx_started *runs, int n)
{
	static const char *const where[] = { "runs", "tenants/default/runs" };
	for (size_t w = 0; w < sizeof where / sizeof where[0]; w++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", root, where[w]);
		DIR *dir = opendir(path);
		ck_assert_msg(dir, "cannot list %s", path);
		int found = 0;
		for (struct dirent *e; (e = readdir(dir));) {
			if (e->d_name[0] == '.')
				continue;
			bool started = false;
			for (int i = 0; i < n && !started; i++)
				started = !strcmp(e->d_name, runs[i].run_id);
			ck_assert_msg(started, "%s/%s is left of a refused start", where[w], e->d_name);
			found++;
		}
		closedir(dir);
		ck_assert_msg(found == n, "%s holds %d of the %d runs started", where[w], found, n);
	}
}

/* Starts slow runs until one is refused; returns how many started, with
 * the refusal in *err. */
static int start_until_refused(struct cx_started *runs, int max, struct cx_error *err)
{
	char *slow = council_of("{\"provider\":\"mock\",\"latency_ms\":600000}", 600000);
	int n = 0, r = CX_OK;
	while (n < max && (r = start(cl, slow, NULL, true, &runs[n], err)) == CX_OK)
		n++;
	free(slow);
	ck_assert_msg(r != CX_OK, "%d live runs with subscribers fit", max);
	return n;
}

/* Ends the runs started, then checks they are whole and councild serves. */
static void end_runs(struct cx_started *runs, int n)
{
	struct cx_error err = { 0 };
	for (int i = 0; i < n; i++) {
		close(runs[i].subscriber_fd);
		ck_assert_int_eq(cx_terminate_run(cl, runs[i].run_id, &err), CX_OK);
	}
	for (int i = 0; i < n; i++) {
		ck_assert_int_eq(await_final(runs[i].run_id, NULL), CX_RUN_FAILED);
		cJSON_Delete(assert_whole(runs[i].run_id));
	}
	assert_serving();
}

/* A councild whose tenant supervisors inherit its 64 descriptors. */
static void councild_up_with_64_descriptors(void)
{
	struct rlimit was, small = { 64, 64 };
	getrlimit(RLIMIT_NOFILE, &was);
	small.rlim_max = was.rlim_max;
	setrlimit(RLIMIT_NOFILE, &small);
	councild = th_councild_start(root, NULL);
	setrlimit(RLIMIT_NOFILE, &was);
	cl = th_councild_connect(root, DEADLINE_MS);
}

START_TEST(test_descriptor_exhaustion_while_starting_runs)
{
	councild_up_with_64_descriptors();
	struct cx_started runs[64];
	struct cx_error err = { 0 };
	int n = start_until_refused(runs, 64, &err);
	ck_assert_msg(strstr(err.message, "Too many open files") || strstr(err.message, "descriptor"),
		      "run %d was refused without saying why: %s", n + 1, err.message);
	/* The runs it holds end, and their descriptors come back. */
	end_runs(runs, n);
}
END_TEST

START_TEST(test_a_start_refused_for_want_of_descriptors_leaves_nothing_behind)
{
	councild_up_with_64_descriptors();
	struct cx_started runs[64];
	struct cx_error err = { 0 };
	/* Refusals come at different steps of a start as descriptors run out:
	 * a few in a row, each leaving nothing. */
	int n = start_until_refused(runs, 64, &err);
	for (int i = 0; i < 8; i++)
		start_until_refused(runs + n, 1, &err);
	assert_only_runs(runs, n);
	end_runs(runs, n);
}
END_TEST

/* A pids cgroup of the v1 hierarchy (where this host keeps the pids
 * controller), to put councild in: "" when there is none to make. */
static char pids_cg[256];

static bool write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	bool ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	if (fd >= 0)
		close(fd);
	return ok;
}

static bool pids_cgroup_holds(pid_t pid, int max)
{
	snprintf(pids_cg, sizeof pids_cg, "/sys/fs/cgroup/pids/council-test-%d", (int)getpid());
	char path[512], text[32];
	snprintf(path, sizeof path, "%s/pids.max", pids_cg);
	snprintf(text, sizeof text, "%d", max);
	if (mkdir(pids_cg, 0755) < 0 || !write_text(path, text)) {
		rmdir(pids_cg);
		pids_cg[0] = '\0';
		return false;
	}
	snprintf(path, sizeof path, "%s/cgroup.procs", pids_cg);
	snprintf(text, sizeof text, "%d", (int)pid);
	return write_text(path, text);
}

static bool pids_cgroup_gone(void *arg)
{
	return rmdir(pids_cg) == 0 || errno == ENOENT;
}

START_TEST(test_a_start_refused_for_want_of_processes_leaves_nothing_behind)
{
	councild_up();
	/* councild, its tenant supervisor and launcher, and 4 workers. */
	if (!pids_cgroup_holds(councild, 7)) {
		printf("skipped: no pids cgroup to hold councild in here\n");
		return;
	}
	struct cx_started runs[64];
	struct cx_error err = { 0 };
	int n = start_until_refused(runs, 64, &err);
	ck_assert_msg(strstr(err.message, "Resource temporarily unavailable"),
		      "run %d was refused without saying why: %s", n + 1, err.message);
	for (int i = 0; i < 8; i++)
		start_until_refused(runs + n, 1, &err);
	assert_only_runs(runs, n);
	end_runs(runs, n);
	councild_down();
	ck_assert_msg(th_wait_until(pids_cgroup_gone, NULL, DEADLINE_MS), "awaited %s empty", pids_cg);
}
END_TEST

START_TEST(test_a_full_runtime_directory_fails_runs_with_storage_and_keeps_serving)
{
	if (mount("tmpfs", root, "tmpfs", 0, "size=3m,mode=0755") < 0) {
		printf("skipped: cannot mount a tmpfs here: %s\n", strerror(errno));
		return;
	}
	councild_up();
	/* 12 runs of about 600 KiB of events each, at once, on 3 MiB. */
	char *big = council_of("{\"provider\":\"mock\",\"words\":4096,\"chunk_delay_ms\":1}", 600000);
	struct cx_started runs[12];
	int n = 0;
	struct cx_error err = { 0 };
	while (n < 12 && start(cl, big, NULL, false, &runs[n], &err) == CX_OK)
		n++;
	free(big);
	ck_assert_msg(n > 0, "no run started on an empty tmpfs: %s", err.message);
	int storage = 0;
	for (int i = 0; i < n; i++) {
		enum cx_run_status status = await_final(runs[i].run_id, NULL);
		cJSON *last = assert_whole(runs[i].run_id);
		if (status != CX_RUN_COMPLETED) {
			char *why = first_error(last);
			ck_assert_msg(strstr(why, "storage: ") && strstr(why, "No space left on device"),
				      "run %s failed for another reason: %s", runs[i].run_id, why);
			storage++;
			free(why);
		}
		cJSON_Delete(last);
	}
	ck_assert_msg(storage > 0, "%d runs of 600 KiB all fit in 3 MiB", n);
	/* A full directory refuses a run it could not record, and says so;
	 * councild goes on answering. */
	struct cx_started st;
	char *spec = council_of("{\"provider\":\"mock\"}", 30000);
	int r = start(cl, spec, NULL, false, &st, &err);
	free(spec);
	ck_assert_msg(r == CX_OK || strstr(err.message, "No space left on device"),
		      "a start in a full directory: %s: %s", cx_code_word(r), err.message);
	if (r == CX_OK) {
		await_final(st.run_id, NULL);
		cJSON_Delete(assert_whole(st.run_id));
	}
	ck_assert_int_eq(cx_tenant_stop(cl, "default", &err), CX_OK);
}
END_TEST

/* A council whose member answers its first round at length (bytes: its
 * partial result, in its terminal event and result.json, is as long) and
 * sleeps through its second. */
static char *answers_then_sleeps(int bytes)
{
	char *s;
	if (asprintf(&s, "{\"id\":\"f\",\"members\":[{\"id\":\"m\",\"timeout_ms\":600000,"
		     "\"profile\":{\"provider\":\"exec\",\"command\":[\"sh\",\"-c\","
		     "\"if grep peer_review >/dev/null; then exec sleep 600; "
		     "else head -c %d /dev/zero | tr -c x a; fi\"]}}],\"rounds\":"
		     "[{\"type\":\"independent_analysis\"},{\"type\":\"peer_review\"}]}", bytes) < 0)
		abort();
	return s;
}

static bool has_line(const char *run_id, const char *name, const char *line)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/runs/%s/%s", root, run_id, name);
	char *text = th_read_file(path, NULL);
	bool has = text && strstr(text, line);
	free(text);
	return has;
}

struct run_line { const char *run_id, *line; };

static bool status_has(void *arg)
{
	const struct run_line *rl = arg;
	return has_line(rl->run_id, "status", rl->line);
}

static void await_status_line(const char *run_id, const char *line)
{
	struct run_line rl = { run_id, line };
	ck_assert_msg(th_wait_until(status_has, &rl, DEADLINE_MS), "awaited \"%s\" in %s's status",
		      line, run_id);
}

/* A run that ended on a full disk: its status agrees with its events file
 * (final, and counting them, after a terminal event; else not final, and
 * saying the terminal event waits to be written, and why), and it has
 * result.json or a status that says why not. */
static void assert_agrees(const char *run_id)
{
	char *events = run_file(run_id, "events");
	bool ended = strstr(events, "\"type\":\"run_failed\"") ||
		     strstr(events, "\"type\":\"run_completed\"");
	free(events);
	if (!ended) {
		ck_assert_msg(has_line(run_id, "status", "\nStatus:\trunning\n") &&
			      has_line(run_id, "status", "\nUnwritten:\tevents: No space left on device\n"),
			      "%s: no terminal event, and its status does not say why", run_id);
		return;
	}
	cJSON_Delete(assert_whole(run_id));
	char *path = NULL;
	if (asprintf(&path, "%s/runs/%s/result.json", root, run_id) < 0)
		abort();
	ck_assert_msg(access(path, F_OK) == 0 ||
		      has_line(run_id, "status", "\nUnwritten:\tresult.json: No space left on device\n"),
		      "%s has no result.json, and its status does not say why", run_id);
	free(path);
}

/* Takes every block the file system has left. */
static int fill(const char *path)
{
	static char block[4096];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_msg(fd >= 0, "cannot create %s", path);
	while (write(fd, block, sizeof block) > 0)
		;
	return fd;
}

START_TEST(test_a_run_that_ends_on_a_full_disk_has_a_status_that_agrees_and_its_result_once_there_is_room)
{
	if (mount("tmpfs", root, "tmpfs", 0, "size=2m,mode=0755") < 0) {
		printf("skipped: cannot mount a tmpfs here: %s\n", strerror(errno));
		return;
	}
	councild_up();
	/* Three whose end needs more room than their reserve alone, and one
	 * whose terminal event alone needs more. */
	enum { RUNS = 4 };
	static const int answer[RUNS] = { 40000, 40000, 40000, 100000 };
	struct cx_started runs[RUNS];
	for (int i = 0; i < RUNS; i++) {
		char *spec = answers_then_sleeps(answer[i]);
		start_ok(spec, &runs[i]);
		free(spec);
		await_status_line(runs[i].run_id, "\nRoundsCompleted:\t1\n");
	}
	/* The disk fills while they are live; then they end. */
	char filler[4096];
	snprintf(filler, sizeof filler, "%s/filler", root);
	int fd = fill(filler);
	struct cx_error err = { 0 };
	for (int i = 0; i < RUNS; i++)
		ck_assert_int_eq(cx_terminate_run(cl, runs[i].run_id, &err), CX_OK);
	for (int i = 0; i < RUNS; i++) {
		await_status_line(runs[i].run_id, "\nExit:\tkilled ");
		assert_agrees(runs[i].run_id);
	}
	/* Room again: what was missing is written, and the status says so. */
	close(fd);
	unlink(filler);
	for (int i = 0; i < RUNS; i++) {
		await_status_line(runs[i].run_id, "\nUnwritten:\t-\n");
		cJSON *last = assert_whole(runs[i].run_id);
		char *text = run_file(runs[i].run_id, "result.json");
		cJSON *result = cJSON_Parse(text);
		ck_assert_msg(cJSON_Compare(result, cJSON_GetObjectItem(last, "result"), true),
			      "%s: result.json is not its terminal event's result", runs[i].run_id);
		cJSON_Delete(result);
		cJSON_Delete(last);
		free(text);
	}
	ck_assert_int_eq(cx_tenant_stop(cl, "default", &err), CX_OK);
}
END_TEST

/* A run whose lines pour out: 4096 member_token events. */
static const char chatty[] = "{\"provider\":\"mock\",\"words\":4096}";

static char *read_all(int fd)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	ssize_t got;
	while ((got = read(fd, buf + len, cap - len - 1)) > 0)
		if ((len += (size_t)got) + 1 >= cap)
			buf = realloc(buf, cap *= 2);
	buf[len] = '\0';
	close(fd);
	return buf;
}

/* A subscriber's stream: lines in seq order, each the events file's line
 * of that seq, with a lagged line in place of what it lost; ends with the
 * terminal event. */
static void assert_faithful(const char *stream, const char *events, int who)
{
	char **lines = NULL;
	size_t n = 0;
	char *copy = strdup(events);
	for (char *l = strtok(copy, "\n"); l; l = strtok(NULL, "\n")) {
		lines = realloc(lines, ++n * sizeof *lines);
		lines[n - 1] = l;
	}
	char *s = strdup(stream);
	int prev = 0;
	const char *last = "";
	for (char *l = strtok(s, "\n"); l; l = strtok(NULL, "\n")) {
		last = l;
		if (strstr(l, "\"type\":\"lagged\""))
			continue;
		int seq = atoi(strstr(l, "\"seq\":") + 6);
		ck_assert_msg(seq > prev && seq <= (int)n && !strcmp(l, lines[seq - 1]),
			      "subscriber %d: seq %d after %d, or not the file's line", who, seq, prev);
		prev = seq;
	}
	ck_assert_msg(prev == (int)n && strstr(last, "\"type\":\"run_"),
		      "subscriber %d ended at seq %d of %zu", who, prev, n);
	free(s);
	free(copy);
	free(lines);
}

START_TEST(test_a_subscriber_that_never_reads_and_100_that_do)
{
	councild_up();
	char *spec = council_of(chatty, 60000);
	struct cx_started st;
	struct cx_error err = { 0 };
	ck_assert_int_eq(start(cl, spec, NULL, true, &st, &err), CX_OK);
	free(spec);
	int idle = st.subscriber_fd, subs[100];
	for (int i = 0; i < 100; i++)
		ck_assert_msg(cx_subscribe(cl, st.run_id, 1, &subs[i], &err) == CX_OK,
			      "subscriber %d: %s", i, err.message);
	/* The one that never reads holds nothing up. */
	ck_assert_int_eq(await_final(st.run_id, NULL), CX_RUN_COMPLETED);
	cJSON_Delete(assert_whole(st.run_id));
	char *events = run_file(st.run_id, "events");
	for (int i = 0; i < 100; i++) {
		char *got = read_all(subs[i]);
		assert_faithful(got, events, i);
		free(got);
	}
	char *late = read_all(idle);
	ck_assert_msg(strstr(late, "\"type\":\"lagged\""), "the idle subscriber lost nothing?");
	assert_faithful(late, events, -1);
	free(late);
	free(events);
	assert_serving();
}
END_TEST

START_TEST(test_a_stopped_worker_is_terminated)
{
	councild_up();
	char *spec = council_of("{\"provider\":\"mock\",\"latency_ms\":600000}", 600000);
	struct cx_started st;
	start_ok(spec, &st);
	free(spec);
	ck_assert_int_eq(kill(st.pid, SIGSTOP), 0);
	struct cx_error err = { 0 };
	ck_assert_int_eq(cx_terminate_run(cl, st.run_id, &err), CX_OK);
	ck_assert_int_eq(await_final(st.run_id, NULL), CX_RUN_FAILED);
	cJSON *last = assert_whole(st.run_id);
	char *why = first_error(last);
	ck_assert_msg(strstr(why, "killed: terminated by request"), "a stopped worker's end: %s", why);
	free(why);
	cJSON_Delete(last);
	assert_serving();
}
END_TEST

struct misbehaving {
	const char *what;
	const char *script;     /* sh -c */
	const char *status;     /* the member's */
	const char *error;      /* in its error, or in its answer with "ok" */
	int timeout_ms;         /* the member's: short only where the timeout is
				 * what ends it, never what a slow machine hits */
};

static const struct misbehaving members[] = {
	{ "closes its stdout and stays", "exec >&-; sleep 600", "timeout", "timed out", 3000 },
	{ "writes a line of 100 MiB", "head -c 104857600 /dev/zero | tr '\\\\0' a", "invalid_output",
	  "output line over 1 MiB", 120000 },
	{ "writes invalid UTF-8", "printf 'bad \\\\377\\\\376 bytes\\\\n'; printf 'oops \\\\300' >&2",
	  "ok", "bad \xef\xbf\xbd\xef\xbf\xbd bytes", 120000 },
	{ "allocates without bound", "a=x; while :; do a=$a$a; done", "error", "", 120000 },
};

START_TEST(test_members_that_misbehave)
{
	councild_up();
	const struct misbehaving *m = &members[_i];
	char profile[512];
	snprintf(profile, sizeof profile, "{\"provider\":\"exec\",\"memory_max_mb\":256,"
		 "\"command\":[\"/bin/sh\",\"-c\",\"%s\"]}", m->script);
	char *spec = council_of(profile, m->timeout_ms);
	struct cx_started st;
	start_ok(spec, &st);
	free(spec);
	char *result;
	await_final(st.run_id, &result);
	cJSON *last = assert_whole(st.run_id), *r = cJSON_Parse(result);
	const cJSON *member = cJSON_GetObjectItem(cJSON_GetObjectItem(
		cJSON_GetArrayItem(cJSON_GetObjectItem(r, "rounds"), 0), "members"), "m");
	const char *status = cJSON_GetStringValue(cJSON_GetObjectItem(member, "status"));
	const char *said = cJSON_GetStringValue(!strcmp(m->status, "ok")
		? cJSON_GetObjectItem(member, "response")
		: cJSON_GetObjectItem(cJSON_GetObjectItem(member, "error"), "message"));
	ck_assert_msg(status && !strcmp(status, m->status) && said && strstr(said, m->error),
		      "a member that %s: status %s, %s", m->what, status, said);
	cJSON_Delete(r);
	cJSON_Delete(last);
	free(result);
	assert_serving();
}
END_TEST

static void start_fork_bomb(struct th_report *r, void *arg)
{
	struct cx_client_options opts = { .runtime_dir = root };
	struct cx_client *c;
	struct cx_error err = { 0 };
	struct cx_started st;
	th_expect(r, cx_client_connect(&opts, &c, &err) == CX_OK, "connect: %s", err.message);
	char *spec = council_of("{\"provider\":\"exec\",\"processes_max\":64,\"command\":"
				"[\"/bin/sh\",\"-c\",\"b() { b & b & wait; }; while :; do b; done\"]}",
				3000);
	th_expect(r, start(c, spec, arg, false, &st, &err) == CX_OK, "start: %s", err.message);
	free(spec);
	cx_client_close(c);
}

START_TEST(test_a_fork_bomb_is_held_to_processes_max)
{
	councild_up();
	/* Alongside, a run that must not notice. */
	char *calm = council_of("{\"provider\":\"mock\",\"words\":200,\"chunk_delay_ms\":10}", 60000);
	struct cx_started other;
	start_ok(calm, &other);
	free(calm);
	/* RLIMIT_NPROC binds a user, not root: the bomb runs in nobody's tenant. */
	const struct th_user nobody = { NOBODY, NOBODY, { NOBODY }, 1 };
	char bomb[] = "fork-bomb";
	th_as_user(&nobody, start_fork_bomb, bomb);
	ck_assert_int_eq(await_final(bomb, NULL), CX_RUN_FAILED);
	cJSON *last = assert_whole(bomb);
	char *why = first_error(last);
	/* Held: its forks fail ("Cannot fork": the shell gives up), or it
	 * keeps trying until its timeout kills it. */
	ck_assert_msg(strstr(why, "Cannot fork") || strstr(why, "timeout: "),
		      "the fork bomb's run ended: %s", why);
	free(why);
	cJSON_Delete(last);
	ck_assert_int_eq(await_final(other.run_id, NULL), CX_RUN_COMPLETED);
	cJSON_Delete(assert_whole(other.run_id));

	/* As root, processes_max cannot hold: the member fails, saying so. */
	char *root_bomb = council_of("{\"provider\":\"exec\",\"processes_max\":64,\"command\":"
				     "[\"/bin/true\"]}", 3000);
	struct cx_started st;
	start_ok(root_bomb, &st);
	free(root_bomb);
	ck_assert_int_eq(await_final(st.run_id, NULL), CX_RUN_FAILED);
	last = assert_whole(st.run_id);
	why = first_error(last);
	ck_assert_msg(strstr(why, "processes_max cannot hold a command that runs as root"),
		      "processes_max as root: %s", why);
	free(why);
	cJSON_Delete(last);
}
END_TEST

/* Starts runs until councild stops taking them, writing each run id it
 * got on fd, one per line. */
static void __attribute__((noreturn)) starter(int fd)
{
	struct cx_client_options opts = { .runtime_dir = root };
	struct cx_client *c;
	struct cx_error err = { 0 };
	if (cx_client_connect(&opts, &c, &err) != CX_OK)
		_exit(1);
	char *spec = council_of("{\"provider\":\"mock\",\"words\":20,\"chunk_delay_ms\":5}", 60000);
	struct cx_started st;
	for (int i = 0; i < 500 && start(c, spec, NULL, false, &st, &err) == CX_OK; i++)
		dprintf(fd, "%s\n", st.run_id);
	_exit(0);
}

START_TEST(test_sigterm_while_500_runs_start)
{
	councild_up();
	int p[2];
	ck_assert(pipe(p) == 0);
	pid_t pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		starter(p[1]);
	}
	close(p[1]);
	FILE *in = fdopen(p[0], "r");
	char line[128], (*ids)[CX_RUN_ID_MAX + 2] = calloc(500, sizeof *ids);
	int n = 0;
	while (n < 500 && fgets(ids[n], sizeof ids[n], in)) {
		ids[n][strcspn(ids[n], "\n")] = '\0';
		if (++n == 100)
			kill(councild, SIGTERM);
	}
	while (fgets(line, sizeof line, in))
		;
	fclose(in);
	int status;
	ck_assert(waitpid(pid, &status, 0) == pid);
	cx_client_close(cl);
	cl = NULL;
	ck_assert_msg(th_councild_stop(councild, DEADLINE_MS) == 0, "councild did not exit 0");
	councild = 0;
	ck_assert_msg(n >= 100, "only %d runs started before the SIGTERM", n);
	for (int i = 0; i < n; i++)
		cJSON_Delete(assert_whole(ids[i]));
	free(ids);
	councild_up();
	assert_serving();
}
END_TEST

int main(void)
{
	if (geteuid() != 0) {
		printf("faults: skipped: not root (users, mounts and limits need it)\n");
		return 77;
	}
	Suite *s = suite_create("faults");
	TCase *tc = tcase_create("faults");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_descriptor_exhaustion_while_starting_runs);
	tcase_add_test(tc, test_a_start_refused_for_want_of_descriptors_leaves_nothing_behind);
	tcase_add_test(tc, test_a_start_refused_for_want_of_processes_leaves_nothing_behind);
	tcase_add_test(tc, test_a_full_runtime_directory_fails_runs_with_storage_and_keeps_serving);
	tcase_add_test(tc, test_a_run_that_ends_on_a_full_disk_has_a_status_that_agrees_and_its_result_once_there_is_room);
	tcase_add_test(tc, test_a_subscriber_that_never_reads_and_100_that_do);
	tcase_add_test(tc, test_a_stopped_worker_is_terminated);
	tcase_add_loop_test(tc, test_members_that_misbehave, 0, sizeof members / sizeof members[0]);
	tcase_add_test(tc, test_a_fork_bomb_is_held_to_processes_max);
	tcase_add_test(tc, test_sigterm_while_500_runs_start);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
