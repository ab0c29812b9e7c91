/* A run's record in the runtime directory (docs/status-files.md), as
 * councild reads it back when the run's supervisor cannot answer: its
 * summary.json (cx_catalog_read, cx_catalog_list, and the client's
 * cx_run_summary_from_json for the same object in replies) and its events
 * file, which recovery reads to cut a torn line, find the last seq and
 * rebuild the partial result before it writes the run_failed that makes the
 * run final. Then retention, which reads finished_at.
 *
 * The input is summary.json, a NUL, then the events file. The files are
 * real, in a scratch runtime directory made once, on a tmpfs where there
 * is one: every input is written, renamed and removed. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "council/client.h"
#include "event.h"
#include "fsutil.h"
#include "fuzz.h"

#define RUN_ID "01FUZZ"
#define TENANT "fuzz"

static int root_fd = -1;
static char root[64];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void remove_root(void)
{
	nftw(root, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void make_root(void)
{
	snprintf(root, sizeof root, "%s/council-fuzz-status-XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	FUZZ_ASSERT(mkdtemp(root));
	atexit(remove_root);
	root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	FUZZ_ASSERT(root_fd >= 0);
	FUZZ_ASSERT(mkdirat(root_fd, "runs", 0755) == 0 && mkdirat(root_fd, "tenants", 0755) == 0 &&
		    mkdirat(root_fd, "tenants/" TENANT, 0755) == 0 &&
		    mkdirat(root_fd, "tenants/" TENANT "/runs", 0755) == 0);
}

/* runs/RUN_ID holding just these two files, linked from its tenant. */
static void lay_out(const char *summary, size_t summary_len, const char *events, size_t events_len)
{
	FUZZ_ASSERT(mkdirat(root_fd, "runs/" RUN_ID, 0755) == 0 || errno == EEXIST);
	FUZZ_ASSERT(symlinkat("../../../runs/" RUN_ID, root_fd, "tenants/" TENANT "/runs/" RUN_ID) == 0 ||
		    errno == EEXIST);
	unlinkat(root_fd, "runs/" RUN_ID "/result.json", 0);
	unlinkat(root_fd, "runs/" RUN_ID "/status", 0);
	int dir = openat(root_fd, "runs/" RUN_ID, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	FUZZ_ASSERT(dir >= 0);
	FUZZ_ASSERT(cx_write_atomic(dir, "summary.json", summary, summary_len) == 0);
	FUZZ_ASSERT(cx_write_atomic(dir, "events", events, events_len) == 0);
	close(dir);
}

static void check_summary(const struct cx_run_summary *s)
{
	FUZZ_ASSERT(strnlen(s->run_id, sizeof s->run_id) < sizeof s->run_id);
	FUZZ_ASSERT(strnlen(s->council, sizeof s->council) < sizeof s->council);
	FUZZ_ASSERT(strnlen(s->tenant, sizeof s->tenant) < sizeof s->tenant);
	FUZZ_ASSERT(strnlen(s->round, sizeof s->round) < sizeof s->round);
	FUZZ_ASSERT(strnlen(s->exit, sizeof s->exit) < sizeof s->exit);
	FUZZ_ASSERT(strnlen(s->containment, sizeof s->containment) < sizeof s->containment);
	FUZZ_ASSERT(s->status >= CX_RUN_PENDING && s->status <= CX_RUN_CANCELLED);
}

/* The events file's last line, which recovery must have made a run_failed. */
static void check_recovered(void)
{
	char *text;
	size_t len;
	FUZZ_ASSERT(cx_read_file(root_fd, "runs/" RUN_ID "/events", SIZE_MAX, &text, &len) == 0);
	FUZZ_ASSERT(len > 0 && text[len - 1] == '\n');
	char *last = text + len - 1;
	while (last > text && last[-1] != '\n')
		last--;
	struct cx_event_header h;
	FUZZ_ASSERT(cx_event_header_parse(last, (size_t)(text + len - 1 - last), &h) == 0 &&
		    h.type == CX_EV_RUN_FAILED);
	free(text);
	struct cx_run_summary s;
	FUZZ_ASSERT(cx_catalog_read(root_fd, RUN_ID, &s) == 0 && s.status == CX_RUN_FAILED &&
		    s.events == h.seq);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (root_fd < 0)
		make_root();
	const char *summary = (const char *)data;
	const char *nul = memchr(data, '\0', size);
	size_t summary_len = nul ? (size_t)(nul - summary) : size;
	const char *events = nul ? nul + 1 : summary + size;
	lay_out(summary, summary_len, events, size - (size_t)(events - summary));

	struct cx_run_summary on_disk, in_reply;
	bool readable = cx_catalog_read(root_fd, RUN_ID, &on_disk) == 0;
	if (readable) {
		check_summary(&on_disk);
		FUZZ_ASSERT(!strcmp(on_disk.run_id, RUN_ID)); /* the record of the run asked for */
	}
	cJSON *json = cJSON_ParseWithLength(summary, summary_len);
	if (cx_run_summary_from_json(json, &in_reply) == CX_OK)
		check_summary(&in_reply);
	cJSON_Delete(json);

	/* It names no owner alive: it is finalized. */
	bool final = readable && cx_run_status_final(on_disk.status);
	int recovered = cx_catalog_recover(root_fd, NULL, TENANT);
	FUZZ_ASSERT(recovered == (readable && !final));
	if (recovered)
		check_recovered();
	cJSON_Delete(cx_catalog_list(root_fd, NULL, TENANT, true));
	/* Retention removes a final run's directory and link, nothing else. */
	cx_catalog_expire(root_fd, NULL, TENANT, 0, 0);
	FUZZ_ASSERT(faccessat(root_fd, "runs", F_OK, 0) == 0);
	FUZZ_ASSERT(faccessat(root_fd, "tenants/" TENANT "/runs", F_OK, 0) == 0);
	return 0;
}
