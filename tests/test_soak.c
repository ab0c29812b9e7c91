/* council-soak's checks (tools/soak_files.c, tools/soak_procs.c) find what
 * they are there to find: a real run's files pass, and each test breaks one
 * promise in them (or leaves a process behind) and expects the finding. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "council/council.h"
#include "harness.h"
#include "soak.h"

#define DEADLINE_MS 20000

static char *scratch;
static int root_fd = -1;
static struct soak_run run;
static struct soak_violations found;
static struct soak_record rec;
static char findings[8192];     /* every finding of the last check(), a line each */

static bool is_final(void *arg)
{
	struct cx_sup *sup = arg;
	struct cx_run_summary s;
	cx_sup_dispatch(sup, 10);
	return cx_sup_state(sup, run.run_id, &s) == CX_OK && cx_run_status_final(s.status) &&
	       strcmp(s.exit, "-") != 0;
}

/* One real run, over, in tenant "t": the files every test starts from. */
static void setup(void)
{
	static const char spec[] = "{\"id\":\"c\",\"members\":[{\"id\":\"m\",\"profile\":"
		"{\"provider\":\"mock\",\"words\":5}}],\"rounds\":[{\"type\":\"independent_analysis\"}]}";
	struct cx_sup *sup;
	struct cx_error err = { 0 };
	scratch = th_scratch_dir();
	struct cx_sup_options opts = { .runtime_dir = scratch, .tenant = "t" };
	ck_assert_msg(cx_sup_new(&opts, &sup, &err) == CX_OK, "cx_sup_new: %s", err.message);
	struct cx_start req = { .spec_json = spec };
	run = (struct soak_run){ .fault = FAULT_NONE };
	ck_assert_msg(cx_sup_start(sup, &req, run.run_id, NULL, NULL, &err) == CX_OK, "start: %s",
		      err.message);
	ck_assert_msg(th_wait_until(is_final, sup, DEADLINE_MS), "awaited run %s to be over", run.run_id);
	cx_sup_free(sup);
	root_fd = open(scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	found = (struct soak_violations){ 0 };
}

static void teardown(void)
{
	close(root_fd);
	ck_assert_msg(th_no_descendants(5000), "processes were left behind");
	th_rm_rf(scratch);
	free(scratch);
}

static char *path_of(const char *name)
{
	static char path[4096];
	snprintf(path, sizeof path, "%s/runs/%s/%s", scratch, run.run_id, name);
	return path;
}

static char *read_run_file(const char *name)
{
	char *text = th_read_file(path_of(name), NULL);
	ck_assert_msg(text, "run file %s", name);
	return text;
}

/* In the run's file name, the first `from` replaced by `to`. */
static void replace_in(const char *name, const char *from, const char *to)
{
	char *text = read_run_file(name), *at = strstr(text, from), *out;
	ck_assert_msg(at, "%s has no %s", name, from);
	ck_assert(asprintf(&out, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from)) > 0);
	th_write_file(path_of(name), out);
	free(out);
	free(text);
}

/* The events file without its line n (from 1), or its last line (n 0). */
static void drop_event(int n)
{
	char *text = read_run_file("events");
	int lines = 0;
	for (char *p = text; *p; p++)
		lines += *p == '\n';
	char *start = text;
	for (int i = 1; i < (n ? n : lines); i++)
		start = strchr(start, '\n') + 1;
	char *end = strchr(start, '\n') + 1;
	memmove(start, end, strlen(end) + 1);
	th_write_file(path_of("events"), text);
	free(text);
}

/* Checks the run afresh: how many findings, each in findings. */
static unsigned check(void)
{
	found = (struct soak_violations){ .out = fmemopen(findings, sizeof findings, "w") };
	soak_check_run(root_fd, &run, "t", &rec, &found);
	fclose(found.out);
	return found.n;
}

static void assert_found(const char *what)
{
	ck_assert_msg(check() > 0, "no finding; expected one about \"%s\"", what);
	ck_assert_msg(strstr(findings, what), "expected a finding about \"%s\", got:\n%s", what,
		      findings);
}

START_TEST(test_a_real_run_passes)
{
	ck_assert_msg(check() == 0, "a real run:\n%s", findings);
	ck_assert_int_eq(rec.outcome, OUTCOME_COMPLETED);
	ck_assert_msg(rec.last_seq >= 5, "only %llu events", (unsigned long long)rec.last_seq);
}
END_TEST

START_TEST(test_a_gap_in_the_events_is_found)
{
	drop_event(3);
	assert_found("seq 4 where 3 was due");
}
END_TEST

START_TEST(test_a_torn_last_line_is_found)
{
	char *text = read_run_file("events");
	text[strlen(text) - 5] = '\0';
	th_write_file(path_of("events"), text);
	free(text);
	assert_found("torn line");
}
END_TEST

START_TEST(test_no_terminal_event_is_found)
{
	drop_event(0);
	assert_found("no terminal event");
}
END_TEST

START_TEST(test_an_event_after_the_terminal_one_is_found)
{
	ck_assert_uint_eq(check(), 0);
	char *text = read_run_file("events"), *out;
	ck_assert(asprintf(&out, "%s{\"seq\":%llu,\"ts\":\"x\",\"run_id\":\"%s\",\"type\":\"run_completed\"}\n",
			   text, (unsigned long long)rec.last_seq + 1, run.run_id) > 0);
	th_write_file(path_of("events"), out);
	free(out);
	free(text);
	assert_found("(run_completed) after the terminal event");
}
END_TEST

START_TEST(test_an_event_of_another_run_is_found)
{
	char other[CX_RUN_ID_MAX + 16];
	snprintf(other, sizeof other, "\"run_id\":\"%s\"", run.run_id);
	replace_in("events", other, "\"run_id\":\"someone-else\"");
	assert_found("names run someone-else");
}
END_TEST

START_TEST(test_a_status_not_final_is_found)
{
	replace_in("status", "Status:\tcompleted", "Status:\trunning");
	assert_found("status says running");
}
END_TEST

START_TEST(test_a_worker_not_reaped_is_found)
{
	replace_in("status", "Exit:\texited 0", "Exit:\t-");
	assert_found("not reaped");
}
END_TEST

START_TEST(test_a_status_counting_other_events_is_found)
{
	replace_in("status", "Events:\t", "Events:\t9");
	assert_found("status says Events 9");
}
END_TEST

START_TEST(test_a_summary_disagreeing_with_the_status_is_found)
{
	replace_in("summary.json", "\"status\":\"completed\"", "\"status\":\"cancelled\"");
	assert_found("summary.json");
}
END_TEST

START_TEST(test_a_missing_tenant_link_is_found)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/tenants/t/runs/%s", scratch, run.run_id);
	ck_assert_int_eq(unlink(path), 0);
	assert_found("tenants/t/runs");
}
END_TEST

START_TEST(test_an_outcome_its_fault_does_not_allow_is_found)
{
	run.fault = FAULT_CRASH;
	run.injected = true;
	assert_found("ended completed, expected crashed");
	run.fault = FAULT_KILL;
	ck_assert_msg(check() == 0, "completed though killed: the kill may come too late\n%s", findings);
	run.fault = FAULT_HANG;
	run.injected = false;
	ck_assert_msg(check() == 0, "a hang never done:\n%s", findings);
}
END_TEST

/* Its councild SIGKILLed, a run's guardian ends it run_failed
 * supervisor_down: allowed then, and only then. */
START_TEST(test_a_run_cut_off_from_its_councild_may_end_failed)
{
	ck_assert(!(soak_allowed(&run) & OUTCOME_BIT(OUTCOME_FAILED)));
	run.cut_off = true;
	ck_assert(soak_allowed(&run) & OUTCOME_BIT(OUTCOME_FAILED));
	ck_assert(soak_allowed(&run) & OUTCOME_BIT(OUTCOME_COMPLETED));
}
END_TEST

/* A councild that just started must find each tenant stopped, whatever
 * its SIGKILLed predecessor left in the tenant's status. */
START_TEST(test_a_tenant_not_stopped_at_councild_start_is_found)
{
	char dir[4096], status[4200];
	snprintf(dir, sizeof dir, "%s/tenants/soak-0", scratch);
	snprintf(status, sizeof status, "%s/status", dir);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	soak_check_tenants_stopped(root_fd, 1, &found);
	ck_assert_msg(found.n == 1 && strstr(found.last, "tenants/soak-0/status"), "%s", found.last);
	th_write_file(status, "Tenant:\tsoak-0\nPid:\t4242\nStatus:\trunning\n");
	soak_check_tenants_stopped(root_fd, 1, &found);
	ck_assert_msg(found.n == 2 && strstr(found.last, "says running"), "%s", found.last);
	th_write_file(status, "Tenant:\tsoak-0\nPid:\t-\nStatus:\tstopped\n");
	soak_check_tenants_stopped(root_fd, 1, &found);
	ck_assert_uint_eq(found.n, 2);
}
END_TEST

START_TEST(test_a_subscriber_short_of_the_end_is_found)
{
	ck_assert_uint_eq(check(), 0);
	run.sub_eof = true;
	run.sub_since = 1;
	run.sub_last = rec.last_seq - 1;
	assert_found("its subscriber (from seq 1) got to seq");
	run.sub_last = rec.last_seq;
	ck_assert_msg(check() == 0, "a subscriber that got to the end:\n%s", findings);
}
END_TEST

START_TEST(test_a_run_no_start_returned_is_found)
{
	char ids[1][CX_RUN_ID_MAX + 1] = { "not-this-one" };
	ck_assert_uint_eq(soak_check_unaccounted(root_fd, ids, 1, &found), 1);
	ck_assert_msg(strstr(found.last, run.run_id), "%s", found.last);
	memcpy(ids[0], run.run_id, sizeof ids[0]);
	ck_assert_uint_eq(soak_check_unaccounted(root_fd, ids, 1, &found), 0);
}
END_TEST

/* A child that pauses, whose own child has exited unreaped. */
START_TEST(test_descendants_and_their_zombies_are_found)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	pid_t child = fork();
	ck_assert(child >= 0);
	if (child == 0) {
		pid_t grandchild = fork();
		if (grandchild == 0)
			_exit(0);
		ssize_t w = write(p[1], &grandchild, sizeof grandchild);
		(void)w;
		for (;;)
			pause();
	}
	pid_t grandchild = 0;
	ck_assert_int_eq(read(p[0], &grandchild, sizeof grandchild), sizeof grandchild);
	struct soak_proc *procs = NULL;
	bool zombie = false;
	for (uint64_t deadline = cx_mono_ms() + DEADLINE_MS; !zombie && cx_mono_ms() < deadline;) {
		free(procs);
		int n = soak_descendants(getpid(), &procs);
		ck_assert_int_eq(n, 2);
		for (int i = 0; i < n; i++)
			zombie |= procs[i].pid == grandchild && procs[i].ppid == child && procs[i].state == 'Z';
		usleep(10000);
	}
	free(procs);
	ck_assert_msg(zombie, "awaited the grandchild %d as a zombie", (int)grandchild);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(test_descriptors_and_memory_are_counted)
{
	int before = soak_fd_count(getpid());
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ck_assert_int_eq(soak_fd_count(getpid()), before + 1);
	close(fd);
	ck_assert_int_eq(soak_fd_count(getpid()), before);
	ck_assert_int_gt(soak_memory_kib(getpid(), "VmRSS"), 0);
	ck_assert_int_gt(soak_memory_kib(getpid(), "VmHWM"), 0);
	ck_assert_int_eq(soak_memory_kib(getpid(), "NoSuchField"), -ENODATA);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("soak");
	TCase *tc = tcase_create("checks");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_a_real_run_passes);
	tcase_add_test(tc, test_a_gap_in_the_events_is_found);
	tcase_add_test(tc, test_a_torn_last_line_is_found);
	tcase_add_test(tc, test_no_terminal_event_is_found);
	tcase_add_test(tc, test_an_event_after_the_terminal_one_is_found);
	tcase_add_test(tc, test_an_event_of_another_run_is_found);
	tcase_add_test(tc, test_a_status_not_final_is_found);
	tcase_add_test(tc, test_a_worker_not_reaped_is_found);
	tcase_add_test(tc, test_a_status_counting_other_events_is_found);
	tcase_add_test(tc, test_a_summary_disagreeing_with_the_status_is_found);
	tcase_add_test(tc, test_a_missing_tenant_link_is_found);
	tcase_add_test(tc, test_an_outcome_its_fault_does_not_allow_is_found);
	tcase_add_test(tc, test_a_run_cut_off_from_its_councild_may_end_failed);
	tcase_add_test(tc, test_a_tenant_not_stopped_at_councild_start_is_found);
	tcase_add_test(tc, test_a_subscriber_short_of_the_end_is_found);
	tcase_add_test(tc, test_a_run_no_start_returned_is_found);
	tcase_add_test(tc, test_descendants_and_their_zombies_are_found);
	tcase_add_test(tc, test_descriptors_and_memory_are_counted);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
