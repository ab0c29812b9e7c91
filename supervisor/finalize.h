/* The terminal event a supervisor writes for a run whose worker could not:
 * killed, crashed, never forked, or lost with its supervisor. Shared by the
 * supervisor that reaps the worker and by councild's recovery. */
#ifndef CX_SUP_FINALIZE_H
#define CX_SUP_FINALIZE_H

#include <stddef.h>

#include "council/supervisor.h"
#include "event.h"

/* A run_failed line (with '\n') for run s, seq s->events + 1, with one error
 * {kind, message, member: null, round: the round in flight or null} and the
 * partial result rebuilt from the round_completed events in
 * runs_fd/<run_id>/events (not read when s->rounds_completed is 0). NULL
 * when out of memory. */
char *cx_failure_event(const struct cx_run_summary *s, int runs_fd, const char *kind,
		       const char *message, size_t *len);

/* The final status a terminal event says: completed for run_completed; for
 * run_failed, cancelled when its first error is of kind cancelled, else
 * failed. ev is the parsed line. */
enum cx_run_status cx_terminal_status(enum cx_event_type type, const cJSON *ev);

/* The DOWN/EXIT reason (docs/protocol.md) for a reaped worker: "normal",
 * "exit N", "killed", "signal SIGNAME". terminated: ended on request. */
void cx_down_reason(const struct cx_run_summary *s, bool terminated, char *buf, size_t size);

#endif
