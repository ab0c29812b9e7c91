/* council-soak: many runs across several tenants, with faults injected at
 * random, against a councild of its own; then the promises of
 * docs/supervision.md checked on what is left: the processes, councild's
 * descriptors and memory, and every run's files (docs/supervision.md, Soak).
 *
 * council-soak.c drives the phases, soak_drive.c starts the runs and
 * injects the faults, soak_files.c checks a run's directory, soak_procs.c
 * reads /proc. */
#ifndef CX_SOAK_H
#define CX_SOAK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "council/client.h"

/* What is done to a run (the first FAULT_GROUP of them), or to a whole
 * tenant while its runs are live. */
enum soak_fault {
	FAULT_NONE,
	FAULT_KILL,             /* SIGKILL to the worker, through a pidfd */
	FAULT_CANCEL,
	FAULT_TERMINATE,
	FAULT_CRASH,            /* a member with "fail": "crash" */
	FAULT_HANG,             /* a member with "fail": "hang", terminated with a small shutdown_ms */
	FAULT_TRANSIENT,        /* a member failing once, then answering on its retry */
	FAULT_SLOW_SUBSCRIBER,  /* a subscriber that reads slowly, or never, then closes */
	FAULT_EMBEDDED,         /* run by an embedded supervisor beside councild (councilctl run) */
	FAULT_EMBEDDED_KILL,    /* the same, its supervisor SIGKILLed: its guardian finishes it */
	FAULT_GROUP,
	FAULT_TENANT_STOP = FAULT_GROUP,
	FAULT_TERMINATE_ALL,
	FAULT_KILL_GUARDIAN,    /* SIGKILL to a tenant's launcher, its guardian: nothing else changes */
	FAULT_KILL_COUNCILD,    /* SIGKILL to councild with runs live, then a new councild */
	FAULT_N
};

const char *soak_fault_name(enum soak_fault f);

/* How a run ended, as its files say; a set of them is a mask of bits. */
enum soak_outcome {
	OUTCOME_COMPLETED,
	OUTCOME_CANCELLED,
	OUTCOME_KILLED,         /* run_failed, kind killed */
	OUTCOME_CRASHED,        /* run_failed, kind crashed */
	OUTCOME_FAILED,         /* run_failed of any other kind */
	OUTCOME_N
};

#define OUTCOME_BIT(o) (1u << (o))

const char *soak_outcome_name(enum soak_outcome o);

/* The name of tenant i: "soak-<i>". */
void soak_tenant_name(unsigned i, char name[CX_NAME_MAX + 1]);

/* Findings: each one printed on its own line and counted. */
struct soak_violations {
	FILE *out;              /* NULL: counted only */
	unsigned n;
	char last[512];         /* the last one */
};

void soak_violation(struct soak_violations *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

struct soak_sub;

/* A run the soak started. */
struct soak_run {
	char run_id[CX_RUN_ID_MAX + 1];
	unsigned tenant;
	enum soak_fault fault;
	bool injected;          /* its fault was done (not: the run ended first) */
	bool exposed;           /* a tenant operation may have killed it */
	bool cut_off;           /* councild was SIGKILLed while the run was live: no
				 * DOWN comes (the monitor went with the connection),
				 * its subscriber's EOF may come before the end, and its
				 * guardian may end it supervisor_down */
	pid_t pid;              /* its worker, as start said */
	uint64_t ref;           /* its monitor */
	bool down;              /* its DOWN came */
	struct soak_sub *sub;   /* FAULT_SLOW_SUBSCRIBER: its subscriber, until closed */
	/* What the subscriber saw: with eof, sub_last is the last seq it
	 * accounted for (lagged included), 0 for none, from sub_since on.
	 * An EOF a SIGKILLed councild brought is none. */
	uint64_t sub_since, sub_last;
	bool sub_eof;
};

/* The outcomes a run may have: those of its fault if it was done, that of
 * no fault if not, killed too when exposed, failed too when cut off
 * (soak_files.c). */
unsigned soak_allowed(const struct soak_run *run);

/* What a run's files say (soak_files.c). */
struct soak_record {
	enum soak_outcome outcome;  /* OUTCOME_N: it has no terminal event */
	char kind[32];          /* run_failed's first error kind, "" on completion */
	uint64_t last_seq;
};

/* Checks runs/<run->run_id> under the runtime directory root_fd once the run
 * is over: the events file contiguous from seq 1, every line JSON with the
 * run's id, exactly one terminal event and as the last line; status and
 * summary.json final and agreeing with the events (Status, Events, Exit,
 * FinishedAt); result.json there; the tenant's link to it; the outcome
 * one soak_allowed(); what its subscriber saw agreeing with the file.
 * Every finding goes to v. Returns true when all held, with *rec filled. */
bool soak_check_run(int root_fd, const struct soak_run *run, const char *tenant,
		    struct soak_record *rec, struct soak_violations *v);

/* Reports each of tenants soak-0.. whose tenants/<t>/status does not say
 * stopped: what a councild that just started must find, whatever its
 * SIGKILLed predecessor's tenants left. */
void soak_check_tenants_stopped(int root_fd, unsigned tenants, struct soak_violations *v);

/* Reports every directory of runs/ whose id is not among the n ids (no
 * start returned it); sorts ids. Returns how many. */
unsigned soak_check_unaccounted(int root_fd, char (*ids)[CX_RUN_ID_MAX + 1], size_t n,
				struct soak_violations *v);

/* /proc (soak_procs.c). */

struct soak_proc {
	pid_t pid, ppid;
	char state;             /* R, S, D, Z... */
	char title[80];         /* its command line, arguments joined by spaces */
};

/* The descendants of root (children, grandchildren...) in one walk of
 * /proc: a malloc'd array in *out. Returns how many, or -errno. */
int soak_descendants(pid_t root, struct soak_proc **out);
/* pid's command line, arguments joined by spaces (a process title shows
 * as it was set); "" for a zombie or a process gone. */
void soak_title(pid_t pid, char *buf, size_t size);
/* Open descriptors of pid (/proc/PID/fd), or -errno. */
int soak_fd_count(pid_t pid);
/* A memory figure of pid in KiB from /proc/PID/status ("VmRSS", "VmHWM"
 * its peak), or -errno. */
long soak_memory_kib(pid_t pid, const char *field);

/* Driving the runs (soak_drive.c). */

struct soak_plan {
	const char *root;       /* councild's runtime directory */
	pid_t councild;
	/* kill_councild: SIGKILLs councild and starts another on root as the
	 * first was started; returns a client of the new one, with its pid in
	 * *councild, or NULL (a violation said why). */
	struct cx_client *(*councild_restart)(void *ctx, pid_t *councild);
	void *ctx;
	unsigned runs;          /* to start */
	unsigned tenants;       /* named soak-0, soak-1... */
	unsigned concurrency;   /* runs in flight at most */
	bool faults;
	uint64_t *rng;          /* the seeded generator's state */
	FILE *progress;         /* a line now and then, or NULL */
};

struct soak_tally {
	unsigned started;
	unsigned refused;       /* starts a stopping tenant turned away */
	unsigned faults[FAULT_N];   /* injected */
	unsigned missed[FAULT_N];   /* the run ended before its fault was due */
	unsigned lagged;        /* lagged lines subscribers got */
	unsigned peak;          /* runs in flight at once, at most */
};

/* Starts plan->runs runs into runs[0..] through *cl, at most
 * plan->concurrency live at once, each monitored, injecting faults when
 * asked; returns once every run is down (or, cut off from its monitor,
 * final), every subscriber closed and every tenant operation answered (or
 * nothing moved for a long time, which is a violation). A kill_councild
 * replaces *cl (NULL if no new councild answered). Returns how many runs
 * it started. */
unsigned soak_drive(struct cx_client **cl, const struct soak_plan *plan, struct soak_run *runs,
		    struct soak_tally *tally, struct soak_violations *v);

uint64_t soak_random(uint64_t *state);

#endif
