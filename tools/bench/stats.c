/* Samples, their medians and quantiles, and the figures made of them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

uint64_t bench_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bench_grow(void *v, size_t *cap, size_t n, size_t size)
{
	void **array = v;
	if (n < *cap)
		return;
	size_t more = *cap ? *cap * 2 : 64;
	void *grown = reallocarray(*array, more, size);
	if (!grown)
		bench_die("out of memory");
	*array = grown;
	*cap = more;
}

void samples_add(struct samples *s, double x)
{
	bench_grow(&s->v, &s->cap, s->n, sizeof *s->v);
	s->v[s->n++] = x;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Linear interpolation between the two nearest ranks. */
double samples_quantile(const struct samples *s, double p)
{
	if (!s || !s->n)
		return NAN;
	double *v = reallocarray(NULL, s->n, sizeof *v);
	if (!v)
		bench_die("out of memory");
	memcpy(v, s->v, s->n * sizeof *v);
	qsort(v, s->n, sizeof *v, by_value);
	double pos = p * (double)(s->n - 1);
	size_t lo = (size_t)pos;
	double frac = pos - (double)lo;
	double q = lo + 1 < s->n ? v[lo] + frac * (v[lo + 1] - v[lo]) : v[lo];
	free(v);
	return q;
}

void samples_free(struct samples *s)
{
	free(s->v);
	*s = (struct samples){ 0 };
}

struct figure *bench_figure(struct bench *b, const char *name, const char *unit,
			    const struct samples *ours, const struct samples *baseline,
			    enum target_kind kind, double target)
{
	if (b->n_figures == sizeof b->figures / sizeof *b->figures)
		bench_die("too many figures");
	struct figure *f = &b->figures[b->n_figures++];
	*f = (struct figure){
		.name = name,
		.unit = unit,
		.ours = samples_median(ours),
		.baseline = samples_median(baseline),
		.kind = kind,
		.target = target,
		.reps = ours ? (unsigned)ours->n : 0,
	};
	return f;
}
