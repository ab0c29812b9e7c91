/* The sub-council provider: a member with a `council` answers each attempt
 * with a nested run of that council, in the same worker and on the same
 * loop (council.h), as CouncilEx runs a sub-council as a nested run.
 *
 * The nested run's input is {"question": what the member is asked in this
 * round (its user message), "parent_input": the run's input}, so the
 * sub-council answers what its member was asked, peers' answers included.
 * Its events are relayed on the run's stream under "sub" (event.h); its
 * final answer is the member's response and its Result the member
 * result's "sub_result". A nested run that fails, or settles on no answer,
 * fails the attempt as permanent (rerunning a whole council is not the
 * retry of one request); one that ends because the run was cancelled fails
 * it as aborted. Stopping the attempt (timeout, fail_fast, the supervisor
 * gone) aborts the nested run, whose calls stop as any others do. */
#include "call.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "council.h"
#include "prompt.h"
#include "runner.h"

struct sub {
	struct cx_call *call;
	struct cx_emitter em;        /* relays to the run's stream */
	struct cx_council *council;
	cJSON *input;
	char *run_id;                /* "<run id>/<member>" in the nested requests */
	struct cx_timer report;      /* reports the outcome from its own callback */
};

static void release(struct sub *s)
{
	cx_timer_disarm(cx_call_loop(s->call), &s->report);
	cx_council_free(s->council);
	cJSON_Delete(s->input);
	free(s->run_id);
	s->council = NULL;
	s->input = NULL;
	s->run_id = NULL;
}

/* "research failed: permanent: mock: scripted permanent failure (member x, round y)" */
static char *failure(const struct sub *s, const char *answer)
{
	const cJSON *first = cJSON_GetArrayItem(cx_council_errors(s->council), 0);
	const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(first, "kind"));
	const char *message = cJSON_GetStringValue(cJSON_GetObjectItem(first, "message"));
	const char *member = cJSON_GetStringValue(cJSON_GetObjectItem(first, "member"));
	const char *round = cJSON_GetStringValue(cJSON_GetObjectItem(first, "round"));
	char *text;

	if (cx_council_exit(s->council) == CX_EXIT_COMPLETED && !answer)
		kind = "no_answer", message = "the sub-council settled on no answer";
	if (asprintf(&text, "sub-council %s failed: %s: %s (member %s, round %s)",
		     s->call->member->council->id, kind ? kind : "aborted",
		     message ? message : "", member ? member : "-", round ? round : "-") < 0)
		return NULL;
	return text;
}

static void report(struct cx_loop *loop, struct cx_timer *t)
{
	struct sub *s = t->data;
	struct cx_call *call = s->call;
	int exit_code = cx_council_exit(s->council);
	cJSON *result = cx_council_take_result(s->council);
	const char *final = cJSON_GetStringValue(cJSON_GetObjectItem(result, "final"));
	char *answer = final ? strdup(final) : NULL;
	char *why = exit_code == CX_EXIT_COMPLETED && answer ? NULL : failure(s, answer);
	bool aborted = exit_code == CX_EXIT_CANCELLED || exit_code == CX_EXIT_INTERNAL;

	(void)loop;
	release(s);
	cx_call_detail(call, "sub_result", result);
	if (!why)
		cx_call_succeed(call, answer);
	else
		cx_call_fail(call, aborted ? CX_FAIL_ABORTED : CX_FAIL_PERMANENT, "%s", why);
	free(answer);
	free(why);
}

static void ended(struct cx_council *council, void *arg)
{
	struct sub *s = arg;
	(void)council;
	cx_timer_arm(cx_call_loop(s->call), &s->report, 0);
}

static int council_start(struct cx_call *call)
{
	struct sub *s = cx_call_priv(call);
	const char *run_id = cJSON_GetStringValue(cJSON_GetObjectItem(call->request, "run_id"));

	*s = (struct sub){
		.call = call,
		.em = { .fd = -1, .up = call->env->em },
		.report = CX_TIMER_INIT(report, s),
	};
	strlcpy(s->em.run_id, call->env->em->run_id, sizeof s->em.run_id);
	strlcpy(s->em.sub, call->member->id, sizeof s->em.sub);
	s->input = cJSON_CreateObject();
	if (!s->input ||
	    !cJSON_AddStringToObject(s->input, "question", cx_prompt_user_text(call->request)) ||
	    !cJSON_AddItemToObject(s->input, "parent_input",
				   cJSON_Duplicate(cJSON_GetObjectItem(call->request, "input"),
						   true)) ||
	    asprintf(&s->run_id, "%s/%s", run_id ? run_id : "", call->member->id) < 0) {
		s->run_id = NULL;
		release(s);
		return -ENOMEM;
	}
	s->council = cx_council_new(&(struct cx_council_params){
		.spec = call->member->council,
		.input = s->input,
		.run_id = s->run_id,
		.loop = cx_call_loop(call),
		.em = &s->em,
		.parent = call->env->council,
		.on_end = ended,
		.arg = s,
	});
	if (!s->council) {
		release(s);
		return -ENOMEM;
	}
	cx_council_start(s->council);
	return 0;
}

static void council_abort(struct cx_call *call)
{
	struct sub *s = cx_call_priv(call);
	if (s->council)
		cx_council_abort(s->council, "aborted: its member's attempt was stopped");
}

static bool council_owns(struct cx_call *call, const struct cx_proc *child)
{
	struct sub *s = cx_call_priv(call);
	return s->council && cx_council_owns(s->council, child);
}

const struct cx_provider_ops cx_provider_council = {
	.name = "council",
	.priv_size = sizeof(struct sub),
	.start = council_start,
	.abort = council_abort,
	.owns = council_owns,
};
