/* A run as its supervisor sees it: the worker process, the pipes to and from
 * it, the relay's state and the summary its status files show. What a live
 * run holds open is what the supervisor needs at once (the worker's pidfd,
 * its pipes, the events file): a supervisor of many live runs is bounded
 * by descriptors. */
#ifndef CX_SUP_RUN_H
#define CX_SUP_RUN_H

#include <stdbool.h>
#include <sys/queue.h>

#include "containment.h"
#include "council/supervisor.h"
#include "loop.h"
#include "proc.h"
#include "relay.h"

/* The worker's lifecycle, driven only through run_handle() in sup.c. */
enum cx_phase {
	CX_PHASE_LIVE,      /* the worker runs */
	CX_PHASE_STOPPING,  /* SIGTERM sent to its group; SIGKILL when shutdown_ms is due */
	CX_PHASE_EXITED,    /* reaped; draining what is left in its event pipe */
	CX_PHASE_FINAL,     /* reaped, drained, final status written */
	CX_PHASE_N
};

struct cx_sup;

struct cx_run {
	struct cx_run_summary summary;
	enum cx_phase phase;
	struct cx_sup *sup;
	struct cx_proc proc;
	int events_fd;                 /* runs/<id>/events, O_APPEND */
	int control_fd;                /* write end of the worker's control pipe */
	struct cx_watch exit_watch;    /* the worker's pidfd */
	struct cx_watch event_watch;   /* read end of the worker's event pipe */
	struct cx_timer kill_timer;    /* shutdown_ms after SIGTERM */
	struct cx_timer announce_timer;/* a status rewrite that may wait */
	bool terminal;                 /* a terminal event has been relayed */
	bool announce_due;             /* the lines being relayed changed the status */
	bool drained;                  /* the event pipe reached EOF */
	bool emptied;                  /* nothing of it is left alive in its cgroup */
	bool in_cgroup;                /* it has its own cgroup: <tenant's>/<run_id> */
	struct cx_watch cg_watch;      /* its cgroup.events, while it empties */
	bool terminated;               /* terminate was asked for */
	int shutdown_ms;               /* SIGTERM to SIGKILL */
	uint64_t rejected;             /* malformed or out-of-order lines refused */
	int storage_error;             /* errno: the events file could not be written */
	char *result;                  /* result.json's text, until it is written */
	bool status_due;               /* the final status is not written yet */
	struct cx_timer write_timer;   /* tries the final writes again */
	unsigned write_backoff_ms;     /* until then */
	off_t events_size;             /* what the events file holds */
	struct cx_buf in;              /* bytes read from the worker, not yet a whole line */
	struct cx_relay relay;         /* subscribers */
	struct cx_run *id_next;        /* registry chains: by run_id, */
	struct cx_run *pid_next;       /* by worker pid */
	TAILQ_ENTRY(cx_run) link;      /* registry order: by start */
};

#endif
