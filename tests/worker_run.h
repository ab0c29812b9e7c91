/* Running a council in a forked worker, as a supervisor would
 * (cx_runner_main on pipes), and reading its events. JSON in specs may be
 * written with ' for ". */
#ifndef CX_TEST_WORKER_RUN_H
#define CX_TEST_WORKER_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <cjson/cJSON.h>

#include "council/spec.h"

#define DEADLINE_MS 20000
#define MAX_EVENTS 4096

struct run {
	struct cx_spec *spec;
	pid_t pid;
	int events;             /* read end of the event pipe */
	int control;            /* write end of the control pipe, -1 once closed */
	char *buf;              /* a partial event line */
	size_t len;
	bool eof;
	cJSON *ev[MAX_EVENTS];
	size_t n;
	int status;             /* waitpid() status, once collected */
};


/* A spec that must parse. */
struct cx_spec *parse_spec(const char *text);

/* Starts a worker (run id "test-run") running spec, which it takes, on
 * input_json; pre_control, when set, is in the control pipe first. */
void run_start_parsed(struct run *r, struct cx_spec *spec, const char *input_json,
		      const char *pre_control);
/* The same for a spec written as JSON, on the question "Should we rewrite
 * it in C?". */
void run_start_with(struct run *r, const char *spec_json, const char *pre_control);
void run_start(struct run *r, const char *spec_json);
void run_free(struct run *r);

/* Reads to the end of the worker and collects it. */
void run_wait(struct run *r);
/* Runs to the end, checks what every run promises (seq 1..N without gaps,
 * run_started first, one terminal event and it last), returns the exit
 * code. */
int run_finish(struct run *r);

const char *str(const cJSON *obj, const char *key);
double num(const cJSON *obj, const char *key);

/* Index of the first event from `from` of the run itself (not of a
 * sub-council) of type, member and round (NULL: any), or -1. */
int find(const struct run *r, size_t from, const char *type, const char *member,
	 const char *round);
int count(const struct run *r, const char *type, const char *member, const char *round);
/* The same among the events of the sub-council at path `sub` ("panel",
 * "panel/inner"). */
int find_sub(const struct run *r, size_t from, const char *sub, const char *type,
	     const char *member, const char *round);
int count_sub(const struct run *r, const char *sub, const char *type, const char *member,
	      const char *round);
/* Waits for such an event of the run, or of its sub-council at sub. */
const cJSON *await_event(struct run *r, const char *type, const char *member,
			 const char *round);
const cJSON *await_sub_event(struct run *r, const char *sub, const char *type,
			     const char *member, const char *round);

const cJSON *terminal(const struct run *r);
/* The result of member in round (NULL: any), from its member_completed. */
const cJSON *member_result(const struct run *r, const char *member, const char *round);
/* The result of a round, from its round_completed. */
const cJSON *round_result(const struct run *r, const char *round);
const char *error_kind(const cJSON *result);
const char *error_message(const cJSON *result);
const cJSON *first_error(const struct run *r);
/* The chunks of member's tokens in round, joined (malloc'd). */
char *tokens(const struct run *r, const char *member, const char *round);

void assert_clean(void);
/* A fresh scratch directory holding member.sh. */
char *script_dir(const char *body);

/* The request each member got, parsed from its echoed answer (an exec
 * member running cat). */
cJSON *echoed_request(const struct run *r, const char *member, const char *round);
/* A request's last message: what the member was asked. */
const char *user_text(const cJSON *request);

#endif
