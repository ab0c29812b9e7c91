#include "registry.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"

static size_t hash_id(const char *id)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *id; id++)
		h = (h ^ (uint8_t)*id) * 1099511628211ULL;
	return (size_t)h;
}

void cx_registry_init(struct cx_registry *reg)
{
	*reg = (struct cx_registry){ 0 };
	TAILQ_INIT(&reg->runs);
}

void cx_registry_fini(struct cx_registry *reg)
{
	free(reg->buckets);
	reg->buckets = NULL;
	reg->n_buckets = reg->n = 0;
}

static int grow(struct cx_registry *reg)
{
	size_t n = reg->n_buckets ? reg->n_buckets * 2 : 64;
	struct cx_run **b = calloc(n, sizeof *b);
	if (!b)
		return -ENOMEM;
	struct cx_run *run;
	TAILQ_FOREACH(run, &reg->runs, link) {
		size_t i = hash_id(run->summary.run_id) & (n - 1);
		run->hash_next = b[i];
		b[i] = run;
	}
	free(reg->buckets);
	reg->buckets = b;
	reg->n_buckets = n;
	return 0;
}

int cx_registry_add(struct cx_registry *reg, struct cx_run *run)
{
	if (reg->n >= reg->n_buckets && grow(reg) < 0)
		return -ENOMEM;
	size_t i = hash_id(run->summary.run_id) & (reg->n_buckets - 1);
	run->hash_next = reg->buckets[i];
	reg->buckets[i] = run;
	TAILQ_INSERT_TAIL(&reg->runs, run, link);
	reg->n++;
	return 0;
}

void cx_registry_remove(struct cx_registry *reg, struct cx_run *run)
{
	size_t i = hash_id(run->summary.run_id) & (reg->n_buckets - 1);
	for (struct cx_run **p = &reg->buckets[i]; *p; p = &(*p)->hash_next) {
		if (*p == run) {
			*p = run->hash_next;
			break;
		}
	}
	TAILQ_REMOVE(&reg->runs, run, link);
	reg->n--;
}

struct cx_run *cx_registry_find(const struct cx_registry *reg, const char *run_id)
{
	if (!reg->n_buckets)
		return NULL;
	struct cx_run *run = reg->buckets[hash_id(run_id) & (reg->n_buckets - 1)];
	while (run && strcmp(run->summary.run_id, run_id))
		run = run->hash_next;
	return run;
}

struct cx_run *cx_registry_find_pid(const struct cx_registry *reg, pid_t pid)
{
	struct cx_run *run;
	TAILQ_FOREACH(run, &reg->runs, link)
		if (run->summary.pid == pid && run->phase < CX_PHASE_EXITED)
			return run;
	return NULL;
}
