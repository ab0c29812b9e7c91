/* A tenant with 1,000 live runs (through councild): what each costs its
 * supervisor (sup_bytes_per_run), what a worker costs (worker_rss), and how
 * long terminate_all takes to make them all final (terminate_1000), against
 * SIGTERM to 1,000 forked sleepers and their reaping. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench.h"

#define SETTLE_US 400000   /* past the supervisor's coalescing timers (250 ms) */
#define WORKER_SAMPLES 9

static void check(int r, const char *what, const struct cx_error *err)
{
	if (r != CX_OK)
		bench_die("%s: %s: %s", what, cx_code_word(r), err->message);
}

/* Waits until every one of the tenant's n runs is running. */
static void await_running(struct cx_client *cl, const char *tenant, unsigned n)
{
	for (;;) {
		struct cx_child *children;
		size_t got, running = 0;
		struct cx_error err = { 0 };
		check(cx_which_children(cl, tenant, &children, &got, &err), "which_children", &err);
		for (size_t i = 0; i < got; i++)
			running += children[i].status == CX_RUN_RUNNING;
		free(children);
		if (running >= n)
			return;
		usleep(20000);
	}
}

unsigned bench_start_idle(struct bench *b, const char *tenant, unsigned n, pid_t *pids,
			  struct cx_error *err)
{
	struct cx_client *cl = bench_client(b);
	struct cx_client_start req = { .spec_json = bench_idle_spec, .tenant = tenant };
	unsigned i;
	for (i = 0; i < n; i++) {
		struct cx_started st;
		if (cx_start(cl, &req, &st, NULL, err) != CX_OK)
			break;
		if (pids)
			pids[i] = st.pid;
	}
	await_running(cl, tenant, i);
	return i;
}

void bench_tenant(struct bench *b)
{
	unsigned n = b->quick ? 20 : 1000, reps = b->quick ? 1 : 3;
	struct samples term = { 0 }, kill = { 0 }, per_run = { 0 }, worker = { 0 }, fork_priv = { 0 };
	struct cx_client *cl = bench_client(b);
	pid_t *pids = calloc(n, sizeof *pids);
	if (!pids)
		bench_die("out of memory");
	for (unsigned rep = 0; rep < reps; rep++) {
		/* A fresh supervisor each time: its growth is measured from a warm
		 * but empty start, not from memory an earlier round freed. */
		char tenant[32];
		struct cx_error err = { 0 };
		snprintf(tenant, sizeof tenant, "live-%u", rep);
		check(cx_tenant_start(cl, tenant, &err), "tenant_start", &err);
		bench_daemon_rate(b, tenant, 64, 8);
		usleep(SETTLE_US);
		pid_t sup = bench_tenant_pid(b, tenant);
		int64_t before = bench_rss(sup);

		if (bench_start_idle(b, tenant, n, pids, &err) != n)
			bench_die("starting %u live runs: %s", n, err.message);
		usleep(SETTLE_US);
		int64_t after = bench_rss(sup);
		if (before < 0 || after < 0)
			bench_die("cannot read the memory of tenant %s's supervisor (pid %d)", tenant, (int)sup);
		samples_add(&per_run, (double)(after - before) / n);
		for (unsigned i = 0; i < WORKER_SAMPLES; i++)
			samples_add(&worker, (double)bench_private(pids[(size_t)i * (n - 1) / (WORKER_SAMPLES - 1)]));
		samples_add(&fork_priv, (double)baseline_fork_private());

		uint64_t t0 = bench_ns();
		check(cx_terminate_all(cl, tenant, &err), "terminate_all", &err);
		samples_add(&term, (double)(bench_ns() - t0) / 1e6);
		samples_add(&kill, baseline_kill_reap(n) / 1e6);
		check(cx_tenant_stop(cl, tenant, &err), "tenant_stop", &err);
	}
	free(pids);
	struct figure *f = bench_figure(b, "terminate_1000", "ms", &term, &kill, RATIO_AT_MOST, 3);
	if (n != 1000)
		snprintf(f->note, sizeof f->note, "%u runs", n);
	bench_progress(f);
	f = bench_figure(b, "sup_bytes_per_run", "B", &per_run, NULL, OURS_AT_MOST, 8192);
	snprintf(f->note, sizeof f->note, "at %u live runs", n);
	bench_progress(f);
	f = bench_figure(b, "worker_rss", "B", &worker, &fork_priv, OURS_AT_MOST, 2 << 20);
	snprintf(f->note, sizeof f->note, "private; baseline: a forked sleeper's");
	bench_progress(f);
	samples_free(&term);
	samples_free(&kill);
	samples_free(&per_run);
	samples_free(&worker);
	samples_free(&fork_priv);
}
