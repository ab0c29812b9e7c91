/* The run: its rounds in order, the members of a round concurrently, all on
 * one loop.
 *
 * Loop callbacks only record what happened (a call finished, "cancel"
 * arrived, the supervisor went away); run_step() runs between loop turns
 * and is the only code that moves the run on: it settles the round in
 * flight, then starts the next round or ends the run. A worker that is its
 * PID namespace's init does an init's duties first (init.h). */
#include "runner.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "call.h"
#include "event.h"
#include "init.h"
#include "loop.h"
#include "prompt.h"

struct run {
	const struct cx_run_params *p;
	const struct cx_spec *spec;
	struct cx_loop *loop;
	struct cx_emitter em;
	struct cx_call_env env;
	struct cx_watch control;
	struct cx_init init;        /* as pid 1 of a PID namespace */
	char line[16];              /* the control line being read */
	size_t line_len;
	bool cancel;                /* "cancel" arrived */
	bool orphaned;              /* the control pipe hit EOF: no supervisor */
	size_t next;                /* the next round to start */
	bool in_round;              /* round `next` is in flight, with: */
	struct cx_call **calls;     /* one call per member */
	size_t n_calls;
	bool failing_fast;          /* a fail_fast round lost a member */
	cJSON *rounds;              /* the results of the completed rounds */
	int exit;                   /* enum cx_run_exit, once ended */
	bool ended;
};

static void control_ready(struct cx_loop *loop, struct cx_watch *w, uint32_t events)
{
	struct run *run = w->data;
	char buf[256];
	(void)events;
	ssize_t n = read(w->fd, buf, sizeof buf);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		/* Do not spin on EOF: PDEATHSIG is on its way anyway. */
		cx_watch_del(loop, w);
		run->orphaned = true;
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] != '\n') {
			if (run->line_len < sizeof run->line)
				run->line[run->line_len++] = buf[i];
			continue;
		}
		if (run->line_len == 6 && !memcmp(run->line, "cancel", 6))
			run->cancel = true;
		run->line_len = 0;
	}
}

static const struct cx_round *round_at(const struct run *run, size_t idx)
{
	return idx < run->spec->n_rounds ? &run->spec->rounds[idx] : NULL;
}

static cJSON *round_fields(const struct run *run, size_t idx)
{
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "round", round_at(run, idx)->name);
	cJSON_AddNumberToObject(f, "idx", (double)idx);
	return f;
}

static cJSON *run_error(const char *kind, const char *message, const char *member,
			const struct cx_round *round)
{
	cJSON *e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "kind", kind);
	cJSON_AddStringToObject(e, "message", message);
	cJSON_AddItemToObject(e, "member", member ? cJSON_CreateString(member) : cJSON_CreateNull());
	cJSON_AddItemToObject(e, "round", round ? cJSON_CreateString(round->name) : cJSON_CreateNull());
	return e;
}

/* The text of the last completed round: the chair's answer after a
 * synthesis, else every answer as "member: answer", blank-line separated. */
static cJSON *final_answer(const cJSON *rounds)
{
	const cJSON *last = cJSON_GetArrayItem(rounds, cJSON_GetArraySize(rounds) - 1);
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(last, "type");
	bool synthesis = cJSON_IsString(type) &&
			 !strcmp(type->valuestring, cx_round_type_name(CX_ROUND_SYNTHESIS));
	const cJSON *result;
	char *text = NULL;
	size_t len, n = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return cJSON_CreateNull();
	cJSON_ArrayForEach(result, cJSON_GetObjectItemCaseSensitive(last, "members")) {
		const cJSON *response = cJSON_GetObjectItemCaseSensitive(result, "response");
		if (!cJSON_IsString(response))
			continue;
		if (n++)
			fputs("\n\n", f);
		if (!synthesis)
			fprintf(f, "%s: ", result->string);
		fputs(response->valuestring, f);
	}
	fclose(f);
	cJSON *final = n && text ? cJSON_CreateString(text) : cJSON_CreateNull();
	free(text);
	return final;
}

/* {council, final, rounds}: the rounds completed so far. */
static cJSON *take_result(struct run *run)
{
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "council", run->spec->id);
	cJSON_AddItemToObject(r, "final", final_answer(run->rounds));
	cJSON_AddItemToObject(r, "rounds", run->rounds);
	run->rounds = NULL;
	return r;
}

static void run_end(struct run *run, int exit_code)
{
	run->exit = exit_code;
	run->ended = true;
}

static void run_complete(struct run *run)
{
	cJSON *f = cJSON_CreateObject();
	cJSON_AddItemToObject(f, "result", take_result(run));
	cx_emit(&run->em, CX_EV_RUN_COMPLETED, f);
	run_end(run, CX_EXIT_COMPLETED);
}

/* Consumes errors. */
static void run_fail(struct run *run, cJSON *errors, int exit_code)
{
	cJSON *f = cJSON_CreateObject();
	cJSON_AddItemToObject(f, "errors", errors);
	cJSON_AddItemToObject(f, "result", take_result(run));
	cx_emit(&run->em, CX_EV_RUN_FAILED, f);
	run_end(run, exit_code);
}

static void round_start(struct run *run)
{
	const struct cx_spec *spec = run->spec;
	const struct cx_round *round = round_at(run, run->next);
	const cJSON *prev = cJSON_GetArrayItem(run->rounds, cJSON_GetArraySize(run->rounds) - 1);
	struct cx_prompt prompt = {
		.run_id = run->p->run_id,
		.spec = spec,
		.input = run->p->input,
		.round = round,
		.prev = cJSON_GetObjectItemCaseSensitive(prev, "members"),
	};
	/* The chair alone sits in the synthesis; every member in other rounds. */
	bool chair = round->type == CX_ROUND_SYNTHESIS;
	size_t n = chair ? spec->chair != NULL : spec->n_members;
	const struct cx_member *members = chair ? spec->chair : spec->members;

	cx_emit(&run->em, CX_EV_ROUND_STARTED, round_fields(run, run->next));
	run->calls = calloc(n ? n : 1, sizeof *run->calls);
	for (size_t i = 0; run->calls && i < n; i++) {
		run->calls[i] = cx_call_new(&run->env, &members[i], round->name,
					    cx_prompt_request(&prompt, &members[i]));
		if (run->calls[i])
			continue;
		while (i--)
			cx_call_free(run->calls[i]);
		free(run->calls);
		run->calls = NULL;
	}
	if (!run->calls) {
		cJSON *errors = cJSON_CreateArray();
		cJSON_AddItemToArray(errors, run_error("internal", "out of memory", NULL, round));
		run_fail(run, errors, CX_EXIT_FAILED);
		return;
	}
	run->in_round = true;
	run->n_calls = n;
	run->failing_fast = false;
	for (size_t i = 0; i < n; i++)
		cx_call_start(run->calls[i]);
}

static void abort_calls(struct run *run, const char *why)
{
	for (size_t i = 0; i < run->n_calls; i++)
		cx_call_abort(run->calls[i], why);
}

/* Reacts to what the round's calls did; true while any is unfinished.
 * Aborting may finish calls at once, so "unfinished" is counted after. */
static bool round_busy(struct run *run)
{
	const struct cx_round *round = round_at(run, run->next);
	if (run->orphaned)
		abort_calls(run, "aborted: the supervisor is gone");
	for (size_t i = 0; i < run->n_calls; i++) {
		const struct cx_call *call = run->calls[i];
		if (cx_call_done(call) && !call->ok && round->failure_mode == CX_FAILURE_FAIL_FAST &&
		    !run->failing_fast) {
			run->failing_fast = true;
			abort_calls(run, "aborted: another member failed in a fail_fast round");
		}
	}
	for (size_t i = 0; i < run->n_calls; i++)
		if (!cx_call_done(run->calls[i]))
			return true;
	return false;
}

static void round_free(struct run *run)
{
	for (size_t i = 0; i < run->n_calls; i++)
		cx_call_free(run->calls[i]);
	free(run->calls);
	run->calls = NULL;
	run->n_calls = 0;
	run->in_round = false;
}

/* Every call of the round has finished: the round completes (with whoever
 * answered), or fails the run when fail_fast lost a member or nobody
 * answered at all. */
static void round_end(struct run *run)
{
	const struct cx_round *round = round_at(run, run->next);
	cJSON *errors = cJSON_CreateArray();
	bool answered = false;
	cJSON *result = NULL, *members = NULL;

	if (!run->failing_fast && !run->orphaned) {
		result = cJSON_CreateObject();
		cJSON_AddStringToObject(result, "round", round->name);
		cJSON_AddStringToObject(result, "type", cx_round_type_name(round->type));
		members = cJSON_AddObjectToObject(result, "members");
	}
	for (size_t i = 0; i < run->n_calls; i++) {
		const struct cx_call *call = run->calls[i];
		answered |= call->ok;
		if (!call->ok && call->fail != CX_FAIL_ABORTED)
			cJSON_AddItemToArray(errors, run_error(cx_fail_kind_name(call->fail),
							       call->text ? call->text : "",
							       call->member->id, round));
		if (members)
			cJSON_AddItemToObject(members, call->member->id, cx_call_result(call));
	}
	round_free(run);
	if (run->orphaned) {
		cJSON_Delete(errors);
		run_end(run, CX_EXIT_INTERNAL);
		return;
	}
	if (result) {
		cJSON *f = round_fields(run, run->next);
		cJSON_AddItemToObject(f, "result", cJSON_Duplicate(result, true));
		cx_emit(&run->em, CX_EV_ROUND_COMPLETED, f);
		cJSON_AddItemToArray(run->rounds, result);
	}
	run->next++;
	if (run->failing_fast || !answered)
		run_fail(run, errors, CX_EXIT_FAILED);
	else
		cJSON_Delete(errors);
}

/* Between rounds: start the next one, or end the run. */
static void round_next(struct run *run)
{
	if (run->orphaned) {
		run_end(run, CX_EXIT_INTERNAL);
	} else if (run->cancel) {
		cJSON *errors = cJSON_CreateArray();
		cJSON_AddItemToArray(errors, run_error("cancelled", "cancelled by request", NULL,
						       round_at(run, run->next)));
		run_fail(run, errors, CX_EXIT_CANCELLED);
	} else if (run->next == run->spec->n_rounds) {
		run_complete(run);
	} else {
		round_start(run);
	}
}

/* The children the run's calls reap by their pidfds: what an init's orphan
 * sweep must leave to them. */
static bool run_owns(const struct cx_proc *child, void *arg)
{
	struct run *run = arg;
	for (size_t i = 0; i < run->n_calls; i++)
		if (cx_call_owns(run->calls[i], child))
			return true;
	return false;
}

/* Moves the run on as far as it goes without waiting; true once it ended. */
static bool run_step(struct run *run)
{
	while (!run->ended) {
		if (run->in_round && round_busy(run))
			return false;
		if (run->in_round)
			round_end(run);
		else
			round_next(run);
	}
	return true;
}

int cx_runner_main(const struct cx_run_params *params)
{
	struct run run = {
		.p = params,
		.spec = params->spec,
		.em = { .fd = params->event_fd },
		.rounds = cJSON_CreateArray(),
		.init = CX_INIT_NONE,
	};
	run.control = (struct cx_watch){ params->control_fd, control_ready, &run };
	strlcpy(run.em.run_id, params->run_id, sizeof run.em.run_id);
	if (!run.rounds || cx_loop_new(&run.loop) < 0) {
		cJSON_Delete(run.rounds);
		return CX_EXIT_INTERNAL;
	}
	run.env = (struct cx_call_env){ run.loop, &run.em };
	if ((params->control_fd >= 0 && cx_watch_add(run.loop, &run.control, EPOLLIN) < 0) ||
	    cx_init_start(&run.init, run.loop, run_owns, &run) < 0) {
		cx_loop_free(run.loop);
		cJSON_Delete(run.rounds);
		return CX_EXIT_INTERNAL;
	}

	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "council", run.spec->id);
	cJSON_AddItemToObject(f, "input", params->input ? cJSON_Duplicate(params->input, true)
							: cJSON_CreateNull());
	cx_emit(&run.em, CX_EV_RUN_STARTED, f);

	/* A turn that does not wait first: a cancel already in the pipe ends
	 * the run before its first round. */
	int rc = cx_loop_turn(run.loop, 0);
	bool sigterm;
	while (!(sigterm = cx_init_service(&run.init)) && rc >= 0 && !run_step(&run)) {
		cx_emit_flush(&run.em); /* tokens wait for nothing */
		rc = cx_loop_turn(run.loop, -1);
	}
	if (sigterm) {
		/* As pid 1 of a PID namespace: end now, reporting nothing more, as
		 * SIGTERM ends any other worker. What is in flight is left to the
		 * kernel, which kills the whole namespace when this process exits. */
		run.exit = CX_EXIT_SIGTERM;
	} else if (rc < 0) {
		/* epoll itself failed: stop what runs; nothing can be waited for. */
		abort_calls(&run, "aborted: the worker's loop failed");
		run.exit = CX_EXIT_INTERNAL;
	}
	round_free(&run);
	cx_init_stop(&run.init);
	cx_watch_del(run.loop, &run.control);
	cx_loop_free(run.loop);
	cJSON_Delete(run.rounds);
	cx_emitter_fini(&run.em);
	return run.exit;
}
