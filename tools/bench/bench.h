/* council-bench: council's figures side by side with the raw operating-system
 * operations they are built on (docs/performance.md).
 *
 * Every figure is the median of several repetitions, and each repetition
 * measures ours and its baseline back to back in this same process, so a
 * machine that is busy with something else slows both alike and the ratio
 * holds. Nothing here asserts anything about time: the figures are reported,
 * and the targets are compared, never enforced. */
#ifndef CX_BENCH_H
#define CX_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "council/council.h"

/* How a figure is judged. */
enum target_kind {
	RATIO_AT_LEAST,  /* ours / baseline >= target (rates) */
	RATIO_AT_MOST,   /* ours / baseline <= target (times) */
	OURS_AT_MOST,    /* ours <= target, in the figure's unit (memory) */
};

struct figure {
	const char *name;
	const char *unit;
	double ours, baseline;   /* NAN when there is none */
	enum target_kind kind;
	double target;
	unsigned reps;
	char note[96];           /* what differed from the definition, or "" */
};

/* What every figure shares: the options, the runtime directory, councild. */
struct bench {
	bool quick;
	unsigned reps;
	char root[4096];          /* the runtime directory of this bench run */
	const char *councild;     /* the councild binary */
	pid_t councild_pid;       /* running, or 0 */
	struct cx_client *client; /* connected to it, or NULL */
	struct figure figures[16];
	size_t n_figures;
};

/* A set of measurements. */
struct samples {
	double *v;
	size_t n, cap;
};

void samples_add(struct samples *s, double x);
/* The value below which p (0..1) of the samples lie; NAN when empty. */
double samples_quantile(const struct samples *s, double p);
static inline double samples_median(const struct samples *s)
{
	return samples_quantile(s, 0.5);
}
void samples_free(struct samples *s);

/* Records a figure: the medians of ours and baseline (which may be empty). */
struct figure *bench_figure(struct bench *b, const char *name, const char *unit,
			    const struct samples *ours, const struct samples *baseline,
			    enum target_kind kind, double target);
/* Prints the figure's line of the table as soon as it is known, on stderr. */
void bench_progress(const struct figure *f);

/* Room for one more element in the growable array *v of *cap elements of
 * size bytes, n in use (dies when out of memory). */
void bench_grow(void *v, size_t *cap, size_t n, size_t size);

/* Monotonic nanoseconds. */
uint64_t bench_ns(void);
/* Exits with a message on stderr: the benchmark cannot go on. */
void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* The councils the figures run (all `mock`, offline). */
/* One member, one round, one word, no delay: a run that only starts and ends. */
extern const char bench_trivial_spec[];
/* One member that answers only after ten minutes: a run that stays live. */
extern const char bench_idle_spec[];
/* members members each streaming words member_token events in one round,
 * after latency_ms. Returns a static buffer. */
const char *bench_stream_spec(unsigned members, unsigned words, unsigned latency_ms);

/* councild (fixture.c): started once, on first use, serving b->root. */
struct cx_client *bench_client(struct bench *b);
/* The pid of tenant's supervisor, from tenants/<tenant>/status; 0 if none. */
pid_t bench_tenant_pid(struct bench *b, const char *tenant);
void bench_councild_stop(struct bench *b);

/* An embedded supervisor on b->root/embedded, tenant given. */
struct cx_sup *bench_sup(struct bench *b, const char *tenant);

/* Memory of a process, in bytes, from /proc: its resident set, and its
 * private (unshared) pages. -1 when it cannot be read. */
int64_t bench_rss(pid_t pid);
int64_t bench_private(pid_t pid);
/* Descriptors a process has open, and may have (its soft RLIMIT_NOFILE);
 * -1 when /proc does not say. */
long bench_open_fds(pid_t pid);
long bench_nofile(pid_t pid);
/* MemAvailable, in bytes. */
int64_t bench_mem_available(void);

/* Runs started through councild that a figure waits for: each has its
 * subscriber pipe, and is over when that reaches EOF (after the terminal
 * event). */
struct inflight {
	int *fds;
	size_t n, cap;
};
/* Starts one run of spec in tenant, subscribed, adding its pipe. */
void inflight_start(struct bench *b, struct inflight *in, const char *tenant, const char *spec);
/* Waits for at least one run to end (each ended run's pipe is dropped);
 * returns how many ended. */
unsigned inflight_reap(struct inflight *in);
void inflight_free(struct inflight *in);

/* Trivial runs through councild, in tenant, concurrency in flight: runs
 * completed per second. */
double bench_daemon_rate(struct bench *b, const char *tenant, unsigned n, unsigned concurrency);

/* Starts n runs of the idle council in tenant through councild and waits
 * until all are running; their workers' pids go to pids (may be NULL).
 * Returns how many started: fewer when a start failed (why in err). */
unsigned bench_start_idle(struct bench *b, const char *tenant, unsigned n, pid_t *pids,
			  struct cx_error *err);

/* The figures, in the order they run. */
void bench_spawn(struct bench *b);
void bench_latency(struct bench *b);
void bench_relay(struct bench *b);
void bench_tenant(struct bench *b);
void bench_at_scale(struct bench *b);

/* Baselines (baseline.c): the raw operations, measured the same way. */
/* n children forked, each calling _exit(0) at once, reaped with waitid,
 * at most concurrency at a time: returns children per second. */
double baseline_fork_rate(unsigned n, unsigned concurrency);
/* Nanoseconds from fork to the parent reading a byte the child writes on a
 * pipe (the child then exits and is reaped, outside the time). */
double baseline_fork_pipe_latency(void);
/* messages of size bytes (newline-terminated) written one write() each by
 * a child and read by this process: returns messages per second. */
double baseline_pipe_rate(unsigned messages, size_t size);
/* Nanoseconds to SIGTERM n forked sleepers and reap them all. */
double baseline_kill_reap(unsigned n);
/* Private bytes of a forked child that only sleeps. */
int64_t baseline_fork_private(void);

#endif
