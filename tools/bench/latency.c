/* start_latency_p50, start_latency_p99: from the start request to the
 * subscriber reading run_started, through the embedded supervisor, against
 * fork to the parent reading a byte the child writes on a pipe. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

/* One run: nanoseconds from cx_sup_start to its first event line read from
 * the subscriber pipe; then the run is followed to its end and forgotten. */
static double start_latency(struct cx_sup *sup)
{
	struct cx_start req = { .spec_json = bench_trivial_spec, .subscribe = true };
	char run_id[CX_RUN_ID_MAX + 1], buf[4096];
	struct cx_error err = { 0 };
	int fd;
	uint64_t t0 = bench_ns(), t = 0;
	if (cx_sup_start(sup, &req, run_id, &fd, NULL, &err) != CX_OK)
		bench_die("cx_sup_start: %s", err.message);
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = fd, .events = POLLIN }, { .fd = cx_sup_fd(sup), .events = POLLIN },
		};
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			bench_die("poll: %s", strerror(errno));
		if (pfd[1].revents)
			cx_sup_dispatch(sup, 0);
		if (!pfd[0].revents)
			continue;
		ssize_t got = read(fd, buf, sizeof buf);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		if (!t) {
			t = bench_ns() - t0;
			if (!memmem(buf, (size_t)got, "\"type\":\"run_started\"", 20))
				bench_die("the first event of %s is not run_started", run_id);
		}
	}
	close(fd);
	while (cx_sup_live(sup))
		cx_sup_dispatch(sup, -1);
	cx_sup_forget(sup, run_id);
	return (double)t;
}

void bench_latency(struct bench *b)
{
	unsigned n = b->quick ? 10 : 200;
	struct samples p50 = { 0 }, p99 = { 0 }, base50 = { 0 }, base99 = { 0 };
	struct cx_sup *sup = bench_sup(b, "latency");
	for (unsigned i = 0; i < n / 10 + 1; i++) /* warm-up */
		start_latency(sup);
	for (unsigned rep = 0; rep < b->reps; rep++) {
		struct samples ours = { 0 }, base = { 0 };
		for (unsigned i = 0; i < n; i++) {
			samples_add(&ours, start_latency(sup) / 1000);
			samples_add(&base, baseline_fork_pipe_latency() / 1000);
		}
		samples_add(&p50, samples_quantile(&ours, 0.5));
		samples_add(&p99, samples_quantile(&ours, 0.99));
		samples_add(&base50, samples_quantile(&base, 0.5));
		samples_add(&base99, samples_quantile(&base, 0.99));
		samples_free(&ours);
		samples_free(&base);
	}
	cx_sup_free(sup);
	bench_progress(bench_figure(b, "start_latency_p50", "us", &p50, &base50, RATIO_AT_MOST, 3));
	bench_progress(bench_figure(b, "start_latency_p99", "us", &p99, &base99, RATIO_AT_MOST, 10));
	samples_free(&p50);
	samples_free(&p99);
	samples_free(&base50);
	samples_free(&base99);
}
