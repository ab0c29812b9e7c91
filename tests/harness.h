/* Shared helpers for the Check suites: scratch directories, files, and the
 * process hygiene every test ends with. */
#ifndef CX_TEST_HARNESS_H
#define CX_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
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

/* Runs every test of s and frees it: EXIT_SUCCESS when none failed. */
struct Suite;
int th_run_suite(struct Suite *s);

/* Polls pred every few ms until it holds or timeout_ms passes. */
bool th_wait_until(bool (*pred)(void *arg), void *arg, int timeout_ms);

#endif
