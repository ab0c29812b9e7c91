/* The mock provider: answers inside the worker, offline and
 * deterministically, for tests and the demo. Its profile keys (validated
 * by the spec parser):
 *
 *   reply, replies  a scripted answer, for every round or by round name;
 *                   without one the answer is derived (mock_answer.h)
 *   words           the length of a derived free-text answer (default 24)
 *   latency_ms      before the first token (default 0)
 *   chunk_delay_ms  between tokens, a word each (default 0: every token in
 *                   the same loop turn)
 *   fail            transient | permanent | timeout | crash | hang
 *   fail_times      only the first N attempts fail (default: every one)
 */
#include "call.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mock_answer.h"

#define BLANKS " \t\n"

struct mock {
	struct cx_call *call;
	struct cx_timer timer;
	bool failing;               /* this attempt fails with kind */
	enum cx_fail_kind kind;
	char *text;                 /* the answer being streamed */
	size_t pos;                 /* where its next token starts */
	uint64_t delay_ms;
};

static const char *profile_string(const cJSON *profile, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(profile, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int profile_int(const cJSON *profile, const char *key, int fallback)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(profile, key);
	return cJSON_IsNumber(v) ? v->valueint : fallback;
}

/* The next token: the blanks before a word, and the word. The text is
 * split in place for the moment the chunk is emitted. */
static void emit_token(struct mock *m)
{
	char *start = m->text + m->pos;
	char *end = start + strspn(start, BLANKS);
	end += strcspn(end, BLANKS);
	char saved = *end;
	*end = '\0';
	cx_call_token(m->call, start);
	*end = saved;
	m->pos = (size_t)(end - m->text);
}

static void mock_tick(struct cx_loop *loop, struct cx_timer *t)
{
	struct mock *m = t->data;
	if (m->failing) {
		cx_call_fail(m->call, m->kind, "mock: scripted %s failure",
			     cx_fail_kind_name(m->kind));
		return;
	}
	while (m->text[m->pos]) {
		emit_token(m);
		if (m->delay_ms && m->text[m->pos]) {
			cx_timer_arm(loop, t, m->delay_ms);
			return;
		}
	}
	char *text = m->text;
	m->text = NULL;
	cx_call_succeed(m->call, text);
	free(text);
}

/* Failures that take the whole worker down, for the supervisor to report. */
static void __attribute__((noreturn)) crash(void)
{
	sigset_t segv;
	sigemptyset(&segv);
	sigaddset(&segv, SIGSEGV);
	sigprocmask(SIG_UNBLOCK, &segv, NULL);
	signal(SIGSEGV, SIG_DFL);
	raise(SIGSEGV);
	abort();
}

/* A worker stuck for good: it reads no cancel and ignores SIGTERM, so only
 * the SIGKILL at the end of shutdown_ms ends it. */
static void __attribute__((noreturn)) hang(void)
{
	signal(SIGTERM, SIG_IGN);
	for (;;)
		pause();
}

static int mock_start(struct cx_call *call)
{
	struct mock *m = cx_call_priv(call);
	const cJSON *profile = call->member->profile;
	const char *fail = profile_string(profile, "fail");
	*m = (struct mock){
		.call = call,
		.timer = CX_TIMER_INIT(mock_tick, m),
		.delay_ms = (uint64_t)profile_int(profile, "chunk_delay_ms", 0),
	};
	if (fail && call->attempt > profile_int(profile, "fail_times", INT_MAX))
		fail = NULL;
	if (fail && !strcmp(fail, "crash"))
		crash();
	if (fail && !strcmp(fail, "hang"))
		hang();
	if (fail && !strcmp(fail, "timeout"))
		return 0;       /* never answers: the attempt's timeout ends it */
	if (fail) {
		m->failing = true;
		m->kind = !strcmp(fail, "transient") ? CX_FAIL_TRANSIENT : CX_FAIL_PERMANENT;
	} else if (!(m->text = cx_mock_answer(call))) {
		return -ENOMEM;
	}
	cx_timer_arm(cx_call_loop(call), &m->timer, (uint64_t)profile_int(profile, "latency_ms", 0));
	return 0;
}

static void mock_abort(struct cx_call *call)
{
	struct mock *m = cx_call_priv(call);
	cx_timer_disarm(cx_call_loop(call), &m->timer);
	free(m->text);
	m->text = NULL;
	cx_call_fail(call, CX_FAIL_PERMANENT, "mock: aborted");
}

const struct cx_provider_ops cx_provider_mock = {
	.name = "mock",
	.priv_size = sizeof(struct mock),
	.start = mock_start,
	.abort = mock_abort,
};
