/* spawn_embedded, spawn_daemon: trivial runs completed per second, many in
 * flight, against fork + _exit + waitid at the same concurrency. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define CONCURRENCY 16

/* Runs over (on_down) since the last dispatch, to forget: a long-lived
 * supervisor drops what it no longer needs. */
struct downs {
	char (*ids)[CX_RUN_ID_MAX + 1];
	size_t n, cap;
	unsigned total;
};

static void on_down(void *data, const struct cx_run_summary *run, const char *reason)
{
	struct downs *d = data;
	(void)reason;
	bench_grow(&d->ids, &d->cap, d->n, sizeof *d->ids);
	memcpy(d->ids[d->n++], run->run_id, sizeof *d->ids);
	d->total++;
}

static double embedded_rate(struct cx_sup *sup, struct downs *d, unsigned n, unsigned concurrency)
{
	struct cx_start req = { .spec_json = bench_trivial_spec };
	unsigned started = 0;
	d->total = 0;
	uint64_t t0 = bench_ns();
	while (d->total < n) {
		while (started < n && started - d->total < concurrency) {
			char run_id[CX_RUN_ID_MAX + 1];
			struct cx_error err = { 0 };
			if (cx_sup_start(sup, &req, run_id, NULL, NULL, &err) != CX_OK)
				bench_die("cx_sup_start: %s", err.message);
			started++;
		}
		if (cx_sup_dispatch(sup, -1) != CX_OK)
			bench_die("cx_sup_dispatch failed");
		for (size_t i = 0; i < d->n; i++)
			cx_sup_forget(sup, d->ids[i]);
		d->n = 0;
	}
	return n / ((double)(bench_ns() - t0) / 1e9);
}

double bench_daemon_rate(struct bench *b, const char *tenant, unsigned n, unsigned concurrency)
{
	struct inflight in = { 0 };
	unsigned started = 0, done = 0;
	uint64_t t0 = bench_ns();
	while (done < n) {
		while (started < n && in.n < concurrency) {
			inflight_start(b, &in, tenant, bench_trivial_spec);
			started++;
		}
		done += inflight_reap(&in);
	}
	inflight_free(&in);
	return n / ((double)(bench_ns() - t0) / 1e9);
}

void bench_spawn(struct bench *b)
{
	unsigned n = b->quick ? 20 : 2000, concurrency = b->quick ? 4 : CONCURRENCY;
	struct samples ours = { 0 }, base = { 0 };
	struct downs d = { 0 };
	struct cx_sup *sup = bench_sup(b, "spawn");
	cx_sup_on_down(sup, on_down, &d);
	embedded_rate(sup, &d, n / 10 + 1, concurrency); /* warm-up */
	for (unsigned rep = 0; rep < b->reps; rep++) {
		samples_add(&ours, embedded_rate(sup, &d, n, concurrency));
		samples_add(&base, baseline_fork_rate(n, concurrency));
	}
	cx_sup_free(sup);
	free(d.ids);
	bench_progress(bench_figure(b, "spawn_embedded", "runs/s", &ours, &base, RATIO_AT_LEAST, 0.5));
	samples_free(&ours);
	samples_free(&base);

	bench_daemon_rate(b, "spawn", n / 10 + 1, concurrency); /* warm-up */
	for (unsigned rep = 0; rep < b->reps; rep++) {
		samples_add(&ours, bench_daemon_rate(b, "spawn", n, concurrency));
		samples_add(&base, baseline_fork_rate(n, concurrency));
	}
	bench_progress(bench_figure(b, "spawn_daemon", "runs/s", &ours, &base, RATIO_AT_LEAST, 0.33));
	samples_free(&ours);
	samples_free(&base);
}
