/* A council run: rounds in order, each in passes of concurrent calls
 * (rounds.h), all on one loop, reported as events.
 *
 * The run's own council is stepped by the runner between loop turns, after
 * the worker's duties as a namespace init (init.h), so nothing moves the run
 * on in a turn that brought SIGTERM. A sub-council steps itself, from a
 * zero-delay timer armed whenever one of its calls finishes. */
#include "council.h"
#include "router.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "rounds.h"
#include "runner.h"

struct cx_council {
	struct cx_council_params p;
	struct cx_call_env env;
	struct cx_round_scene scene;
	struct cx_timer step;       /* a sub-council's: steps it */
	bool cancel;                /* cx_council_cancel() */
	bool aborting;              /* cx_council_abort(), for this reason: */
	char abort_why[160];
	bool ended, reported;
	int exit;                   /* enum cx_run_exit, once ended */
	size_t next;                /* the next round to start */
	struct cx_round_run *round; /* the round in flight, or NULL */
	size_t n_calls;             /* of the pass in flight; 0 between passes */
	bool failing_fast;          /* a fail_fast round lost a member */
	bool round_failed;          /* a pass of the round in flight had calls, none answered */
	cJSON *errors;              /* of the round in flight, then of the run */
	cJSON *routed;              /* the members the router chose; NULL: all */
	cJSON *rounds;              /* the results of the completed rounds */
	cJSON *result;              /* once ended */
};

static bool is_sub(const struct cx_council *c)
{
	return c->p.parent != NULL;
}

static bool cancelled(const struct cx_council *c)
{
	return c->cancel || (c->p.parent && cancelled(c->p.parent));
}

/* A sub-council moves on in its own step; the run's is stepped anyway. */
static void nudge(struct cx_council *c)
{
	if (is_sub(c) && !c->ended)
		cx_timer_arm(c->p.loop, &c->step, 0);
}

static const struct cx_round *round_at(const struct cx_council *c, size_t idx)
{
	return idx < c->p.spec->n_rounds ? &c->p.spec->rounds[idx] : NULL;
}

static cJSON *round_fields(const struct cx_council *c, size_t idx)
{
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "round", round_at(c, idx)->name);
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

/* The answer the council settled on: the last round's "final" (the chair's
 * synthesis, an elected answer), else every answer of the last round as
 * "member: answer", blank-line separated; null when there is none. */
static cJSON *final_answer(const cJSON *rounds)
{
	const cJSON *last = cJSON_GetArrayItem(rounds, cJSON_GetArraySize(rounds) - 1);
	const cJSON *final = cJSON_GetObjectItemCaseSensitive(last, "final");
	const cJSON *result;
	char *text = NULL;
	size_t len, n = 0;

	if (cJSON_IsString(final))
		return cJSON_CreateString(final->valuestring);
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return cJSON_CreateNull();
	cJSON_ArrayForEach(result, cJSON_GetObjectItemCaseSensitive(last, "members")) {
		const cJSON *status = cJSON_GetObjectItemCaseSensitive(result, "status");
		const cJSON *response = cJSON_GetObjectItemCaseSensitive(result, "response");
		if (!cJSON_IsString(response) || strcmp(cJSON_GetStringValue(status), "ok"))
			continue;
		fprintf(f, "%s%s: %s", n++ ? "\n\n" : "", result->string, response->valuestring);
	}
	fclose(f);
	cJSON *out = n && text ? cJSON_CreateString(text) : cJSON_CreateNull();
	free(text);
	return out;
}

/* {council, final, rounds}: the rounds completed so far. */
static void make_result(struct cx_council *c)
{
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "council", c->p.spec->id);
	cJSON_AddItemToObject(r, "final", final_answer(c->rounds));
	cJSON_AddItemToObject(r, "rounds", c->rounds);
	c->rounds = NULL;
	c->result = r;
}

static void run_end(struct cx_council *c, int exit_code)
{
	make_result(c);
	c->exit = exit_code;
	c->ended = true;
}

/* A sub-council's end is its member's answer: it emits no terminal event. */
static void run_complete(struct cx_council *c)
{
	run_end(c, CX_EXIT_COMPLETED);
	if (is_sub(c))
		return;
	cJSON *f = cJSON_CreateObject();
	cJSON_AddItemToObject(f, "result", cJSON_Duplicate(c->result, true));
	cx_emit(c->p.em, CX_EV_RUN_COMPLETED, f);
}

/* Fails the run with the errors gathered; a cancel asked for meanwhile is
 * what ends it. */
static void run_fail(struct cx_council *c, const struct cx_round *round)
{
	int exit_code = CX_EXIT_FAILED;
	if (cancelled(c)) {
		cJSON_Delete(c->errors);
		c->errors = cJSON_CreateArray();
		cJSON_AddItemToArray(c->errors, run_error("cancelled", "cancelled by request",
							  NULL, round));
		exit_code = CX_EXIT_CANCELLED;
	}
	run_end(c, exit_code);
	if (is_sub(c))
		return;
	cJSON *f = cJSON_CreateObject();
	cJSON_AddItemToObject(f, "errors", cJSON_Duplicate(c->errors, true));
	cJSON_AddItemToObject(f, "result", cJSON_Duplicate(c->result, true));
	cx_emit(c->p.em, CX_EV_RUN_FAILED, f);
}

static void fail_internal(struct cx_council *c, const struct cx_round *round)
{
	cJSON_AddItemToArray(c->errors, run_error("internal", "out of memory", NULL, round));
	run_fail(c, round);
}

static void round_start(struct cx_council *c)
{
	const cJSON *before = cJSON_GetArrayItem(c->rounds, cJSON_GetArraySize(c->rounds) - 1);

	cx_emit(c->p.em, CX_EV_ROUND_STARTED, round_fields(c, c->next));
	c->failing_fast = c->round_failed = false;
	c->round = cx_round_run_new(&c->scene, round_at(c, c->next), before);
	if (!c->round)
		fail_internal(c, round_at(c, c->next));
}

static void abort_calls(struct cx_council *c, const char *why)
{
	struct cx_call **calls = c->round ? cx_round_run_calls(c->round) : NULL;
	for (size_t i = 0; i < c->n_calls; i++)
		cx_call_abort(calls[i], why);
}

/* Reacts to what the pass's calls did; true while any is unfinished.
 * Aborting may finish calls at once, so "unfinished" is counted after. */
static bool pass_busy(struct cx_council *c)
{
	const struct cx_round *round = round_at(c, c->next);
	struct cx_call **calls = cx_round_run_calls(c->round);

	if (c->aborting)
		abort_calls(c, c->abort_why);
	for (size_t i = 0; i < c->n_calls; i++) {
		if (cx_call_done(calls[i]) && !calls[i]->ok &&
		    round->failure_mode == CX_FAILURE_FAIL_FAST && !c->failing_fast) {
			c->failing_fast = true;
			abort_calls(c, "aborted: another member failed in a fail_fast round");
		}
	}
	for (size_t i = 0; i < c->n_calls; i++)
		if (!cx_call_done(calls[i]))
			return true;
	return false;
}

/* Every call of the pass has finished: their failures are the round's
 * errors; a failure, a cancel or an abort leaves no pass after this one. */
static void pass_end(struct cx_council *c)
{
	const struct cx_round *round = round_at(c, c->next);
	struct cx_call **calls = cx_round_run_calls(c->round);
	bool answered = false;

	for (size_t i = 0; i < c->n_calls; i++) {
		const struct cx_call *call = calls[i];
		answered |= call->ok;
		if (!call->ok && call->fail != CX_FAIL_ABORTED)
			cJSON_AddItemToArray(c->errors,
					     run_error(cx_fail_kind_name(call->fail),
						       call->text ? call->text : "",
						       call->member->id, round));
	}
	c->round_failed |= !answered;
	c->n_calls = 0;
	cx_round_run_settle(c->round, c->failing_fast || c->round_failed || c->aborting ||
				      cancelled(c));
}

/* The round is over: it completes (with whoever answered), or fails the
 * run when fail_fast lost a member or a pass had no answer at all. */
static void round_end(struct cx_council *c)
{
	const struct cx_round *round = round_at(c, c->next);
	cJSON *result = cx_round_run_result(c->round);

	cx_round_run_free(c->round);
	c->round = NULL;
	if (c->aborting || c->failing_fast || !result) {
		cJSON_Delete(result);
		if (c->aborting)
			run_end(c, CX_EXIT_INTERNAL);
		else if (c->failing_fast)
			run_fail(c, round);
		else
			fail_internal(c, round);
		return;
	}
	cJSON *f = round_fields(c, c->next);
	cJSON_AddItemToObject(f, "result", cJSON_Duplicate(result, true));
	cx_emit(c->p.em, CX_EV_ROUND_COMPLETED, f);
	cJSON_AddItemToArray(c->rounds, result);
	c->next++;
	if (round->type == CX_ROUND_ROUTE) {
		/* The router member's choice holds for every round after. */
		cJSON_Delete(c->routed);
		c->scene.routed = c->routed =
			cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(result, "selected"), true);
	}
	if (c->round_failed) {
		run_fail(c, round);
		return;
	}
	/* Failures of a round that completed are in its member results. */
	cJSON_Delete(c->errors);
	c->errors = cJSON_CreateArray();
}

/* Plans the round's next pass and starts its calls, or ends the round. */
static void pass_start(struct cx_council *c)
{
	int n = cx_round_run_next(c->round);

	if (n < 0) {
		fail_internal(c, round_at(c, c->next));
		return;
	}
	if (n == 0) {
		round_end(c);
		return;
	}
	struct cx_call **calls = cx_round_run_calls(c->round);
	c->n_calls = (size_t)n;
	for (size_t i = 0; i < c->n_calls; i++)
		cx_call_start(calls[i]);
}

/* Between rounds: start the next one, or end the run. */
static void round_next(struct cx_council *c)
{
	if (c->aborting) {
		run_end(c, CX_EXIT_INTERNAL);
	} else if (cancelled(c)) {
		run_fail(c, round_at(c, c->next));
	} else if (c->next == c->p.spec->n_rounds) {
		run_complete(c);
	} else {
		round_start(c);
	}
}

bool cx_council_step(struct cx_council *c)
{
	while (!c->ended) {
		if (c->round && c->n_calls) {
			if (pass_busy(c))
				return false;
			pass_end(c);
		} else if (c->round) {
			pass_start(c);
		} else {
			round_next(c);
		}
	}
	if (!c->reported && c->p.on_end) {
		c->reported = true;
		c->p.on_end(c, c->p.arg);
	}
	return true;
}

static void step_fired(struct cx_loop *loop, struct cx_timer *t)
{
	(void)loop;
	cx_council_step(t->data);
}

struct cx_council *cx_council_new(const struct cx_council_params *params)
{
	struct cx_council *c = calloc(1, sizeof *c);

	if (!c)
		return NULL;
	c->p = *params;
	c->step = CX_TIMER_INIT(step_fired, c);
	c->env = (struct cx_call_env){
		.loop = params->loop,
		.em = params->em,
		.wake = is_sub(c) ? &c->step : NULL,
		.council = c,
		.verbose = is_sub(c) ? params->parent->env.verbose : params->verbose,
	};
	c->scene = (struct cx_round_scene){
		.run_id = params->run_id,
		.spec = params->spec,
		.input = params->input,
		.env = &c->env,
	};
	/* Chosen once, from the input, as CouncilEx's Router.select. */
	c->scene.routed = c->routed = cx_router_select(params->spec, params->input);
	c->rounds = cJSON_CreateArray();
	c->errors = cJSON_CreateArray();
	if (!c->rounds || !c->errors ||
	    (params->spec->router && !cx_router_member(params->spec) && !c->routed)) {
		cx_council_free(c);
		return NULL;
	}
	return c;
}

void cx_council_free(struct cx_council *c)
{
	if (!c)
		return;
	cx_timer_disarm(c->p.loop, &c->step);
	cx_round_run_free(c->round);
	cx_call_env_release(&c->env);
	cJSON_Delete(c->rounds);
	cJSON_Delete(c->errors);
	cJSON_Delete(c->result);
	cJSON_Delete(c->routed);
	free(c);
}

void cx_council_start(struct cx_council *c)
{
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "council", c->p.spec->id);
	cJSON_AddItemToObject(f, "input", c->p.input ? cJSON_Duplicate(c->p.input, true)
						     : cJSON_CreateNull());
	cx_emit(c->p.em, CX_EV_RUN_STARTED, f);
	nudge(c);
}

void cx_council_cancel(struct cx_council *c)
{
	c->cancel = true;
	nudge(c);
}

void cx_council_abort(struct cx_council *c, const char *why)
{
	if (!c->aborting)
		strlcpy(c->abort_why, why, sizeof c->abort_why);
	c->aborting = true;
	nudge(c);
}

bool cx_council_ended(const struct cx_council *c)
{
	return c->ended;
}

int cx_council_exit(const struct cx_council *c)
{
	return c->exit;
}

cJSON *cx_council_take_result(struct cx_council *c)
{
	cJSON *r = c->result;
	c->result = NULL;
	return r;
}

const cJSON *cx_council_errors(const struct cx_council *c)
{
	return c->errors;
}

bool cx_council_owns(const struct cx_council *c, const struct cx_proc *child)
{
	struct cx_call **calls = c->round ? cx_round_run_calls(c->round) : NULL;
	for (size_t i = 0; i < c->n_calls; i++)
		if (cx_call_owns(calls[i], child))
			return true;
	return false;
}
