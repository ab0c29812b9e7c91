/* spawn_at_10k: the spawn rate through councild while 10,000 runs are live
 * in the same tenant, against the rate with none live, measured before the
 * 10,000 start and again after they are terminated.
 *
 * A live run holds descriptors in its tenant's supervisor: when that
 * process's RLIMIT_NOFILE cannot hold 10,000 of them (and the spawns being
 * measured), the figure is taken at as many as it can, and says so. */
#include <stdio.h>

#include "bench.h"

#define BATCH 500
#define MEMORY_RESERVE (2LL << 30)  /* stop adding live runs below this much free */

void bench_at_scale(struct bench *b)
{
	unsigned live = b->quick ? 50 : 10000, n = b->quick ? 20 : 1000;
	unsigned concurrency = b->quick ? 4 : 16, reps = b->quick ? 1 : 3;
	const char *tenant = "scale";
	struct cx_client *cl = bench_client(b);
	struct samples at = { 0 }, none = { 0 };
	struct cx_error err = { 0 };
	char why[160] = "";
	if (cx_tenant_start(cl, tenant, &err) != CX_OK)
		bench_die("tenant_start: %s", err.message);
	bench_daemon_rate(b, tenant, n / 10 + 1, concurrency); /* warm-up */
	for (unsigned rep = 0; rep < reps; rep++)
		samples_add(&none, bench_daemon_rate(b, tenant, n, concurrency));

	pid_t sup = bench_tenant_pid(b, tenant);
	long fds_batch = 0, limit = bench_nofile(sup);
	unsigned started = 0;
	uint64_t t0 = bench_ns();
	while (started < live) {
		if (bench_mem_available() < MEMORY_RESERVE) {
			snprintf(why, sizeof why, "memory ran short");
			break;
		}
		unsigned want = live - started < BATCH ? live - started : BATCH;
		unsigned got = bench_start_idle(b, tenant, want, NULL, &err);
		started += got;
		if (got < want) {
			snprintf(why, sizeof why, "a start failed: %.100s", err.message);
			break;
		}
		/* What a live run costs in descriptors, from the second batch
		 * (the first may overlap finished runs the supervisor has yet to
		 * forget): the target shrinks to what the limit holds, less a
		 * tenth for the spawns being measured and such finished runs. */
		long fds = bench_open_fds(sup);
		if (started == BATCH)
			fds_batch = fds;
		if (started == 2 * BATCH && fds > fds_batch && limit > 0) {
			double per_run = (double)(fds - fds_batch) / BATCH;
			long room = (long)((limit * 9 / 10 - (fds - per_run * started)) / per_run);
			if (room < (long)live) {
				live = room > (long)started ? (unsigned)room : started;
				snprintf(why, sizeof why, "RLIMIT_NOFILE %ld, %.1f descriptors a run", limit,
					 per_run);
			}
		}
	}
	fprintf(stderr, "  (%u live runs started in %.1f s%s%s)\n", started,
		(double)(bench_ns() - t0) / 1e9, why[0] ? "; " : "", why);
	for (unsigned rep = 0; rep < reps; rep++)
		samples_add(&at, bench_daemon_rate(b, tenant, n, concurrency));

	t0 = bench_ns();
	if (cx_terminate_all(cl, tenant, &err) != CX_OK)
		bench_die("terminate_all: %s", err.message);
	fprintf(stderr, "  (terminate_all of %u live runs took %.1f s)\n", started,
		(double)(bench_ns() - t0) / 1e9);
	for (unsigned rep = 0; rep < reps; rep++)
		samples_add(&none, bench_daemon_rate(b, tenant, n, concurrency));
	if (cx_tenant_stop(cl, tenant, &err) != CX_OK)
		bench_die("tenant_stop: %s", err.message);

	struct figure *f = bench_figure(b, "spawn_at_10k", "runs/s", &at, &none, RATIO_AT_LEAST, 0.8);
	if (started != 10000)
		snprintf(f->note, sizeof f->note, "at %u live runs%s%s", started, why[0] ? ": " : "", why);
	bench_progress(f);
	samples_free(&at);
	samples_free(&none);
}
