/* Shared helpers for the Check suites: scratch directories, files, and the
 * process hygiene every test ends with. */
#ifndef CX_TEST_HARNESS_H
#define CX_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* A fresh directory under /tmp; also exported as COUNCIL_RUNTIME_DIR. */
char *th_scratch_dir(void);
void th_rm_rf(const char *path);

/* A file of the source tree (tests/fixtures/..., examples/...). */
const char *th_source_path(const char *relative);
/* Whole file, NUL-terminated; NULL if it cannot be read. */
char *th_read_file(const char *path, size_t *len);
void th_write_file(const char *path, const char *text);

/* printf into a new string, then every ' turned into ": JSON written
 * with single quotes, to keep the C strings readable. */
char *th_json_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Descendants of this process (children, grandchildren...) still alive or
 * unreaped, by walking /proc. */
int th_descendants(pid_t *pids, int max);
/* Waits up to timeout_ms for every descendant to be gone, reaping the
 * zombies it has; on failure kills them (so the next test starts clean) and
 * returns false. Call it when the test tracks no child of its own. */
bool th_no_descendants(int timeout_ms);

/* councild --foreground --runtime-dir dir, then options (NULL-terminated,
 * may be NULL), its stderr appended to dir/councild.log; it gets SIGTERM
 * should the test process die first. Fails the test if it cannot fork. */
pid_t th_councild_start(const char *dir, const char *const *options);
/* SIGTERM, then waits up to timeout_ms for it to exit (SIGKILL after
 * that): its wait status, or -1 when it had to be killed. */
int th_councild_stop(pid_t pid, int timeout_ms);
/* A client of dir's councild, retrying while nothing answers yet; fails
 * the test, saying what it awaited, after timeout_ms. */
struct cx_client;
struct cx_client *th_councild_connect(const char *dir, int timeout_ms);

/* Another user, for a test run as root. */
struct th_user {
	uid_t uid;
	gid_t gid;
	gid_t groups[4];
	int n_groups;
};

/* What a process of another user found wrong, one line per finding. */
struct th_report {
	FILE *out;
	int findings;
};

void th_expect(struct th_report *r, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

typedef void th_as_user_fn(struct th_report *r, void *arg);
/* Runs fn as u (setgroups, setgid, setuid, in /) in a child process (so a
 * client connection it makes is its own), and fails the test with
 * whatever it reported. */
void th_as_user(const struct th_user *u, th_as_user_fn *fn, void *arg);

/* Runs every test of s and frees it: EXIT_SUCCESS when none failed. */
struct Suite;
int th_run_suite(struct Suite *s);

/* Process pid ignores SIGTERM (its SigIgn in /proc): a mock member that
 * "hang"s has reached its hang, and only SIGKILL ends it. */
bool th_ignores_sigterm(pid_t pid);

/* Processes anywhere on the host (what left its process group is not our
 * descendant, so /proc is searched whole) whose command line is
 * `sleep ARG`, ARG starting with prefix, and for which ours(pid, ARG)
 * holds (NULL: any). */
int th_sleeps(const char *prefix, bool (*ours)(const char *pid, const char *arg));
/* ARG ends in ".<our pid>": a sleep our own test's council started, not
 * one of a test running beside us. */
bool th_sleep_of_ours(const char *pid, const char *arg);

/* Polls pred every few ms until it holds or timeout_ms passes. */
bool th_wait_until(bool (*pred)(void *arg), void *arg, int timeout_ms);

#endif
