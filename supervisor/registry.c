#include "registry.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "run.h"

void cx_registry_init(struct cx_registry *reg)
{
	*reg = (struct cx_registry){ 0 };
	TAILQ_INIT(&reg->runs);
}

void cx_registry_fini(struct cx_registry *reg)
{
	free(reg->by_id);
	free(reg->by_pid);
	reg->by_id = reg->by_pid = NULL;
	reg->n_buckets = reg->n = 0;
}

static void link_id(struct cx_run **buckets, size_t n, struct cx_run *run)
{
	size_t i = cx_hash_name(run->summary.run_id) & (n - 1);
	run->id_next = buckets[i];
	buckets[i] = run;
}

static void link_pid(struct cx_run **buckets, size_t n, struct cx_run *run)
{
	size_t i = cx_hash_pid(run->summary.pid) & (n - 1);
	run->pid_next = buckets[i];
	buckets[i] = run;
}

static int grow(struct cx_registry *reg)
{
	size_t n = reg->n_buckets ? reg->n_buckets * 2 : 64;
	struct cx_run **by_id = calloc(n, sizeof *by_id), **by_pid = calloc(n, sizeof *by_pid);
	if (!by_id || !by_pid) {
		free(by_id);
		free(by_pid);
		return -ENOMEM;
	}
	struct cx_run *run;
	TAILQ_FOREACH(run, &reg->runs, link) {
		link_id(by_id, n, run);
		if (run->summary.pid)
			link_pid(by_pid, n, run);
	}
	free(reg->by_id);
	free(reg->by_pid);
	reg->by_id = by_id;
	reg->by_pid = by_pid;
	reg->n_buckets = n;
	return 0;
}

int cx_registry_add(struct cx_registry *reg, struct cx_run *run)
{
	if (reg->n >= reg->n_buckets && grow(reg) < 0)
		return -ENOMEM;
	link_id(reg->by_id, reg->n_buckets, run);
	if (run->summary.pid)
		link_pid(reg->by_pid, reg->n_buckets, run);
	TAILQ_INSERT_TAIL(&reg->runs, run, link);
	reg->n++;
	return 0;
}

void cx_registry_add_pid(struct cx_registry *reg, struct cx_run *run)
{
	link_pid(reg->by_pid, reg->n_buckets, run);
}

/* Takes run out of the chain at *p, whose links are at offset off. */
static void unchain(struct cx_run **p, struct cx_run *run, size_t off)
{
	for (; *p; p = (struct cx_run **)((char *)*p + off)) {
		if (*p == run) {
			*p = *(struct cx_run **)((char *)run + off);
			return;
		}
	}
}

void cx_registry_remove(struct cx_registry *reg, struct cx_run *run)
{
	size_t mask = reg->n_buckets - 1;
	unchain(&reg->by_id[cx_hash_name(run->summary.run_id) & mask], run,
		offsetof(struct cx_run, id_next));
	if (run->summary.pid)
		unchain(&reg->by_pid[cx_hash_pid(run->summary.pid) & mask], run,
			offsetof(struct cx_run, pid_next));
	TAILQ_REMOVE(&reg->runs, run, link);
	reg->n--;
}

struct cx_run *cx_registry_find(const struct cx_registry *reg, const char *run_id)
{
	if (!reg->n_buckets)
		return NULL;
	struct cx_run *run = reg->by_id[cx_hash_name(run_id) & (reg->n_buckets - 1)];
	while (run && strcmp(run->summary.run_id, run_id))
		run = run->id_next;
	return run;
}

struct cx_run *cx_registry_find_pid(const struct cx_registry *reg, pid_t pid)
{
	if (!reg->n_buckets)
		return NULL;
	struct cx_run *run = reg->by_pid[cx_hash_pid(pid) & (reg->n_buckets - 1)];
	/* An exited worker's pid may be another's by now: the live one. */
	while (run && (run->summary.pid != pid || run->phase >= CX_PHASE_EXITED))
		run = run->pid_next;
	return run;
}
