#include "timeline.h"

#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <cjson/cJSON.h>

#include "council/ids.h"
#include "event.h"
#include "json.h"

/* A subscriber's {"type":"lagged","dropped":N}: not a run event, but the
 * timeline handles it like one. */
#define EV_LAGGED CX_EV_N

#define LINE_MAX_BYTES 512
#define DEBUG_LINE_MAX (800 * 4 + 16)  /* a member_debug text: 800 characters, a prefix */
#define DURATION_LEN 24   /* a formatted duration, NUL included */

enum run_phase { RUN_WAITING, RUN_RUNNING, RUN_COMPLETED, RUN_FAILED, RUN_CANCELLED };
enum stop_request { STOP_NONE, STOP_CANCEL, STOP_TERMINATE };

struct member {
	char id[CX_NAME_MAX + 1];
	bool done;
	char status[24];           /* ok, error, timeout, ... once done */
	int attempts;
	uint64_t tokens;
	unsigned tool_calls;       /* tool_call_request events */
	uint64_t started_ms;       /* monotonic, when member_started came */
	uint64_t duration_ms;      /* as the member's result says */
	char error[256];
};

struct round {
	char name[CX_NAME_MAX + 1];
	int idx;
	bool done;
	uint64_t started_ms;       /* monotonic */
	uint64_t duration_ms;
	struct member *members;
	size_t n_members;
};

struct timeline {
	enum timeline_mode mode;
	FILE *out;
	char run_id[CX_RUN_ID_MAX + 1];
	char council[CX_NAME_MAX + 1];
	enum run_phase phase;
	enum stop_request stop;
	struct round *rounds;
	size_t n_rounds;
	cJSON *errors;             /* run_failed's errors */
	uint64_t tokens, dropped;
	uint64_t started_ms, finished_ms;
	int id_width;              /* the longest member id yet, for the columns */

	/* Live drawing: what is on the terminal already. */
	bool header_shown;
	size_t rounds_shown;       /* finished rounds written for good */
	int live_lines;            /* lines of the last frame, redrawn by the next */
	unsigned frame;
	uint64_t drawn_ms;
};

/* What an event is about, resolved before its handler runs. */
struct happening {
	const cJSON *ev;
	struct round *round;
	struct member *member;
};

static const char *const spinner[] = {
	"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏",
};

static const char *spinner_frame(const struct timeline *tl)
{
	return spinner[tl->frame % (sizeof spinner / sizeof *spinner)];
}

static bool run_over(const struct timeline *tl)
{
	return tl->phase >= RUN_COMPLETED;
}

static uint64_t elapsed_ms(uint64_t since_ms)
{
	return cx_mono_ms() - since_ms;
}

/* "0.8s", "12.4s", "3m07s" */
static void format_duration(uint64_t ms, char *buf, size_t size)
{
	if (ms < 60000)
		snprintf(buf, size, "%" PRIu64 ".%" PRIu64 "s", ms / 1000, ms % 1000 / 100);
	else
		snprintf(buf, size, "%" PRIu64 "m%02" PRIu64 "s", ms / 60000, ms % 60000 / 1000);
}

/* The round in flight named `name`, or a new one at the end. */
static struct round *round_for(struct timeline *tl, const char *name)
{
	for (size_t i = tl->n_rounds; i-- > 0;)
		if (!tl->rounds[i].done && !strcmp(tl->rounds[i].name, name))
			return &tl->rounds[i];
	struct round *v = reallocarray(tl->rounds, tl->n_rounds + 1, sizeof *v);
	if (!v)
		return NULL;
	tl->rounds = v;
	struct round *r = &v[tl->n_rounds++];
	*r = (struct round){ .idx = -1, .started_ms = cx_mono_ms() };
	strlcpy(r->name, name, sizeof r->name);
	return r;
}

static struct member *member_for(struct timeline *tl, struct round *r, const char *id)
{
	for (size_t i = 0; i < r->n_members; i++)
		if (!strcmp(r->members[i].id, id))
			return &r->members[i];
	struct member *v = reallocarray(r->members, r->n_members + 1, sizeof *v);
	if (!v)
		return NULL;
	r->members = v;
	struct member *m = &v[r->n_members++];
	*m = (struct member){ .started_ms = cx_mono_ms() };
	strlcpy(m->id, id, sizeof m->id);
	int len = (int)strlen(m->id);
	if (len > tl->id_width)
		tl->id_width = len;
	return m;
}

static struct happening resolve(struct timeline *tl, const cJSON *ev)
{
	struct happening h = { .ev = ev };
	const char *round = cx_json_str(ev, "round");
	const char *member = cx_json_str(ev, "member");
	if (*round)
		h.round = round_for(tl, round);
	if (h.round && *member)
		h.member = member_for(tl, h.round, member);
	return h;
}

/* The error of a member result or of a run: a string, or {message}. */
static const char *error_text(const cJSON *error)
{
	if (cJSON_IsString(error))
		return error->valuestring;
	return cx_json_str(error, "message");
}

/* Event handlers: each updates the table, nothing else, and says whether
 * the event named what it needs (a round, a member) to be shown. */

static bool on_run_started(struct timeline *tl, struct happening *h)
{
	strlcpy(tl->council, cx_json_str(h->ev, "council"), sizeof tl->council);
	tl->phase = RUN_RUNNING;
	return true;
}

static bool on_round_started(struct timeline *tl, struct happening *h)
{
	if (!h->round)
		return false;
	h->round->idx = (int)cx_json_int(h->ev, "idx", 0, INT_MAX - 1, 0); /* shown as idx + 1 */
	return true;
}

static bool on_member_started(struct timeline *tl, struct happening *h)
{
	if (!h->member)
		return false;
	h->member->done = false;
	h->member->started_ms = cx_mono_ms();
	return true;
}

static bool on_member_token(struct timeline *tl, struct happening *h)
{
	tl->tokens++;
	if (!h->member)
		return false;
	h->member->tokens++;
	return true;
}

static bool on_tool_call(struct timeline *tl, struct happening *h)
{
	if (!h->member)
		return false;
	h->member->tool_calls++;
	return true;
}

static bool on_member_completed(struct timeline *tl, struct happening *h)
{
	struct member *m = h->member;
	if (!m)
		return false;
	const cJSON *result = cJSON_GetObjectItemCaseSensitive(h->ev, "result");
	int64_t took = cx_json_int(result, "duration_ms", 0, INT64_MAX, 0);
	m->done = true;
	strlcpy(m->status, cx_json_str(result, "status"), sizeof m->status);
	m->attempts = (int)cx_json_int(result, "attempts", 0, INT_MAX, 0);
	m->duration_ms = (uint64_t)took;
	strlcpy(m->error, error_text(cJSON_GetObjectItemCaseSensitive(result, "error")),
		sizeof m->error);
	if (!*m->error)  /* a seat not called says why: "router_excluded" */
		strlcpy(m->error, cx_json_str(result, "reason"), sizeof m->error);
	return true;
}

static bool on_round_completed(struct timeline *tl, struct happening *h)
{
	if (!h->round)
		return false;
	h->round->done = true;
	h->round->duration_ms = elapsed_ms(h->round->started_ms);
	return true;
}

static bool on_run_completed(struct timeline *tl, struct happening *h)
{
	tl->phase = RUN_COMPLETED;
	tl->finished_ms = cx_mono_ms();
	return true;
}

static bool on_run_failed(struct timeline *tl, struct happening *h)
{
	const cJSON *error;
	tl->phase = RUN_FAILED;
	tl->finished_ms = cx_mono_ms();
	cJSON_Delete(tl->errors);
	tl->errors = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(h->ev, "errors"), true);
	cJSON_ArrayForEach(error, tl->errors)
		if (!strcmp(cx_json_str(error, "kind"), "cancelled"))
			tl->phase = RUN_CANCELLED;
	return true;
}

static bool on_member_debug(struct timeline *tl, struct happening *h)
{
	return h->member;
}

static bool on_lagged(struct timeline *tl, struct happening *h)
{
	tl->dropped += (uint64_t)cx_json_int(h->ev, "dropped", 0, INT64_MAX, 0);
	return true;
}

typedef bool event_fn(struct timeline *tl, struct happening *h);

static event_fn *const handlers[CX_EV_N + 1] = {
	[CX_EV_RUN_STARTED] = on_run_started,
	[CX_EV_ROUND_STARTED] = on_round_started,
	[CX_EV_MEMBER_STARTED] = on_member_started,
	[CX_EV_MEMBER_TOKEN] = on_member_token,
	[CX_EV_TOOL_CALL_REQUEST] = on_tool_call,
	[CX_EV_MEMBER_COMPLETED] = on_member_completed,
	[CX_EV_ROUND_COMPLETED] = on_round_completed,
	[CX_EV_RUN_COMPLETED] = on_run_completed,
	[CX_EV_RUN_FAILED] = on_run_failed,
	[CX_EV_MEMBER_DEBUG] = on_member_debug,
	[EV_LAGGED] = on_lagged,
};

/* Output: every line goes through put_line. Live, a line is clipped to the
 * terminal's width (a wrapped line would throw off the count of lines the
 * next frame moves back over) and clears what an older frame left on it. */

static int terminal_width(const struct timeline *tl)
{
	struct winsize ws;
	if (ioctl(fileno(tl->out), TIOCGWINSZ, &ws) < 0 || ws.ws_col < 20)
		return 80;
	return ws.ws_col;
}

/* Bytes of text that fit in cols columns (UTF-8: continuation bytes take none). */
static size_t clip(const char *text, int cols)
{
	size_t n = 0;
	for (; text[n]; n++)
		if (((unsigned char)text[n] & 0xc0) != 0x80 && cols-- == 0)
			break;
	return n;
}

static int put_line(struct timeline *tl, const char *text)
{
	if (tl->mode == TIMELINE_PLAIN)
		fprintf(tl->out, "%s\n", text);
	else
		fprintf(tl->out, "\r%.*s\033[K\n", (int)clip(text, terminal_width(tl) - 1), text);
	return 1;
}

static void format_header(const struct timeline *tl, char *buf, size_t size)
{
	snprintf(buf, size, "council %s, run %s", tl->council, tl->run_id);
}

static void format_round(const struct round *r, const char *what, char *buf, size_t size)
{
	snprintf(buf, size, "round %d: %s%s", r->idx + 1, r->name, what);
}

/* "  ✗ optimist     41 tokens   0.9s  error (3 attempts): upstream said no",
 * with the mark live, without it plain. */
static void format_member(const struct timeline *tl, const char *mark,
			  const struct member *m, char *buf, size_t size)
{
	char took[DURATION_LEN], attempts[24] = "", tools[24] = "";
	format_duration(m->done ? m->duration_ms : elapsed_ms(m->started_ms),
			took, sizeof took);
	if (m->attempts > 1)
		snprintf(attempts, sizeof attempts, " (%d attempts)", m->attempts);
	if (m->tool_calls)
		snprintf(tools, sizeof tools, " %u tool call%s", m->tool_calls,
			 m->tool_calls == 1 ? "" : "s");
	snprintf(buf, size, "  %s%s%-*s %5" PRIu64 " tokens%s %6s  %s%s%s%s", mark,
		 *mark ? " " : "", tl->id_width, m->id, m->tokens, tools, took, m->status, attempts,
		 *m->error ? ": " : "", m->error);
}

static const char *phase_word(enum run_phase phase)
{
	switch (phase) {
	case RUN_COMPLETED: return "completed";
	case RUN_FAILED: return "failed";
	case RUN_CANCELLED: return "cancelled";
	default: return "not over when following stopped";
	}
}

/* "completed in 4.3s: 3 rounds, 412 tokens" */
static void format_summary(const struct timeline *tl, char *buf, size_t size)
{
	char took[DURATION_LEN];
	uint64_t end = run_over(tl) ? tl->finished_ms : cx_mono_ms();
	format_duration(end - tl->started_ms, took, sizeof took);
	snprintf(buf, size, "%s in %s: %zu round%s, %" PRIu64 " tokens", phase_word(tl->phase),
		 took, tl->n_rounds, tl->n_rounds == 1 ? "" : "s", tl->tokens);
}

/* "  cancelled: cancelled by request (member skeptic, round peer_review)" */
static void put_errors(struct timeline *tl)
{
	char line[LINE_MAX_BYTES], where[2 * CX_NAME_MAX + 32];
	const cJSON *error;
	cJSON_ArrayForEach(error, tl->errors) {
		const char *member = cx_json_str(error, "member"), *round = cx_json_str(error, "round");
		*where = '\0';
		if (*member || *round)
			snprintf(where, sizeof where, " (%s%s%s%s%s)", *member ? "member " : "",
				 member, *member && *round ? ", " : "", *round ? "round " : "", round);
		snprintf(line, sizeof line, "  %s: %s%s", cx_json_str(error, "kind"),
			 error_text(error), where);
		put_line(tl, line);
	}
}

static void put_summary(struct timeline *tl, const char *prefix)
{
	char line[LINE_MAX_BYTES], summary[LINE_MAX_BYTES];
	format_summary(tl, summary, sizeof summary);
	snprintf(line, sizeof line, "%s%s", prefix, summary);
	put_line(tl, line);
	put_errors(tl);
}

/* Plain mode: one line for each event worth a line, as it comes. */
static void announce(struct timeline *tl, int type, const struct happening *h)
{
	char line[LINE_MAX_BYTES], took[DURATION_LEN], what[DURATION_LEN + 16];
	switch (type) {
	case CX_EV_RUN_STARTED:
		format_header(tl, line, sizeof line);
		break;
	case CX_EV_ROUND_STARTED:
		format_round(h->round, " started", line, sizeof line);
		break;
	case CX_EV_TOOL_CALL_REQUEST:
		snprintf(line, sizeof line, "  %s calls tool %s", h->member->id,
			 cx_json_str(h->ev, "name"));
		break;
	case CX_EV_MEMBER_COMPLETED:
		format_member(tl, "", h->member, line, sizeof line);
		break;
	case CX_EV_ROUND_COMPLETED:
		format_duration(h->round->duration_ms, took, sizeof took);
		snprintf(what, sizeof what, " done in %s", took);
		format_round(h->round, what, line, sizeof line);
		break;
	case CX_EV_RUN_COMPLETED:
	case CX_EV_RUN_FAILED:
		put_summary(tl, "run ");
		return;
	case EV_LAGGED:
		snprintf(line, sizeof line, "lagged: %" PRIu64 " events dropped (the events file has them)",
			 tl->dropped);
		break;
	default:
		return;
	}
	put_line(tl, line);
}

/* A member_debug event (--verbose debug), in either mode: its text under a
 * line naming it, each of its lines marked, written for good (live, over
 * the last frame, which the next one redraws below). */
static void put_debug(struct timeline *tl, const struct happening *h)
{
	const char *what = cx_json_str(h->ev, "what"), *role = cx_json_str(h->ev, "role");
	const char *text = cx_json_str(h->ev, "text");
	char line[DEBUG_LINE_MAX];
	if (tl->mode == TIMELINE_LIVE && tl->live_lines) {
		fprintf(tl->out, "\033[%dA", tl->live_lines);
		tl->live_lines = 0;
	}
	snprintf(line, sizeof line, "  · %s %s%s%s%s, round %s%s", h->member->id, what,
		 *role ? " (" : "", role, *role ? ")" : "", h->round->name,
		 cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(h->ev, "truncated"))
		 ? " (cut at 800 characters)" : "");
	put_line(tl, line);
	for (const char *p = text; *p || p == text;) {
		size_t n = strcspn(p, "\n");
		snprintf(line, sizeof line, "    | %.*s", (int)n, p);
		put_line(tl, line);
		p += n + (p[n] == '\n');
		if (!*p)
			break;
	}
}

/* Live mode: a frame. Lines above the last frame are final; the header and
 * each finished round are written once, over the old frame, and scroll away
 * with the terminal. The round in flight and the footer are redrawn. */

static const char *member_mark(const struct timeline *tl, const struct member *m)
{
	if (!m->done)
		return run_over(tl) ? "-" : spinner_frame(tl);
	return strcmp(m->status, "ok") ? "✗" : "✓";
}

static int draw_round(struct timeline *tl, const struct round *r)
{
	char line[LINE_MAX_BYTES], took[DURATION_LEN], what[DURATION_LEN + 16] = "";
	if (r->done) {
		format_duration(r->duration_ms, took, sizeof took);
		snprintf(what, sizeof what, "  %s", took);
	}
	format_round(r, what, line, sizeof line);
	int lines = put_line(tl, line);
	for (size_t i = 0; i < r->n_members; i++) {
		format_member(tl, member_mark(tl, &r->members[i]), &r->members[i],
			      line, sizeof line);
		lines += put_line(tl, line);
	}
	return lines;
}

static int draw_footer(struct timeline *tl)
{
	static const char *const doing[] = {
		[STOP_NONE] = "running", [STOP_CANCEL] = "cancelling...",
		[STOP_TERMINATE] = "terminating...",
	};
	char line[LINE_MAX_BYTES], took[DURATION_LEN], lagged[48] = "";
	format_duration(elapsed_ms(tl->started_ms), took, sizeof took);
	if (tl->dropped)
		snprintf(lagged, sizeof lagged, " (%" PRIu64 " events dropped)", tl->dropped);
	snprintf(line, sizeof line, "%s %s %s%s", spinner_frame(tl),
		 tl->phase == RUN_WAITING ? "starting" : doing[tl->stop], took, lagged);
	return put_line(tl, line);
}

static void draw(struct timeline *tl)
{
	char line[LINE_MAX_BYTES];
	if (tl->frame == 0)
		fputs("\033[?25l", tl->out);  /* hide the cursor until timeline_finish */
	if (tl->live_lines)
		fprintf(tl->out, "\033[%dA", tl->live_lines);
	if (!tl->header_shown && tl->phase != RUN_WAITING) {
		format_header(tl, line, sizeof line);
		put_line(tl, line);
		tl->header_shown = true;
	}
	for (; tl->rounds_shown < tl->n_rounds && tl->rounds[tl->rounds_shown].done;
	     tl->rounds_shown++)
		draw_round(tl, &tl->rounds[tl->rounds_shown]);
	tl->live_lines = 0;
	for (size_t i = tl->rounds_shown; i < tl->n_rounds; i++)
		tl->live_lines += draw_round(tl, &tl->rounds[i]);
	if (!run_over(tl))
		tl->live_lines += draw_footer(tl);
	fputs("\033[J", tl->out);
	fflush(tl->out);
	tl->frame++;
	tl->drawn_ms = cx_mono_ms();
}

struct timeline *timeline_new(enum timeline_mode mode, FILE *out, const char *run_id)
{
	struct timeline *tl = calloc(1, sizeof *tl);
	if (!tl)
		return NULL;
	tl->mode = mode;
	tl->out = out;
	strlcpy(tl->run_id, run_id, sizeof tl->run_id);
	tl->started_ms = cx_mono_ms();
	tl->id_width = 8;
	return tl;
}

void timeline_free(struct timeline *tl)
{
	if (!tl)
		return;
	for (size_t i = 0; i < tl->n_rounds; i++)
		free(tl->rounds[i].members);
	free(tl->rounds);
	cJSON_Delete(tl->errors);
	free(tl);
}

/* A token of the sub-council at path "member/...": its member's, in the
 * round in flight. */
static void credit_sub_token(struct timeline *tl, const char *path)
{
	char id[CX_NAME_MAX + 1];
	struct round *r = NULL;
	for (size_t i = tl->n_rounds; !r && i-- > 0;)
		r = tl->rounds[i].done ? NULL : &tl->rounds[i];
	strlcpy(id, path, sizeof id);
	id[strcspn(id, "/")] = '\0';
	struct member *m = r ? member_for(tl, r, id) : NULL;
	tl->tokens++;
	if (m)
		m->tokens++;
}

void timeline_feed(struct timeline *tl, const char *line, size_t len)
{
	cJSON *ev = cJSON_ParseWithLength(line, len);
	const char *name = cx_json_str(ev, "type");
	int type = strcmp(name, "lagged") ? cx_event_lookup(name, strlen(name)) : EV_LAGGED;
	/* A sub-council's events (docs/events.md) are its member's turn, which
	 * the member's own row shows, its tokens counted there. */
	const char *sub = cx_json_str(ev, "sub");
	if (*sub) {
		if (type == CX_EV_MEMBER_TOKEN)
			credit_sub_token(tl, sub);
		type = -1;
	}
	if (type >= 0 && handlers[type]) {
		struct happening h = resolve(tl, ev);
		bool shown = handlers[type](tl, &h);
		if (shown && type == CX_EV_MEMBER_DEBUG)
			put_debug(tl, &h);
		else if (shown && tl->mode == TIMELINE_PLAIN)
			announce(tl, type, &h);
	}
	cJSON_Delete(ev);
}

void timeline_stopping(struct timeline *tl, bool forced)
{
	tl->stop = forced ? STOP_TERMINATE : STOP_CANCEL;
	if (tl->mode == TIMELINE_PLAIN)
		put_line(tl, forced ? "terminating..." : "cancelling...");
}

int timeline_wait_ms(const struct timeline *tl)
{
	if (tl->mode == TIMELINE_PLAIN || run_over(tl))
		return -1;
	uint64_t since = elapsed_ms(tl->drawn_ms);
	return since >= TIMELINE_FRAME_MS ? 0 : (int)(TIMELINE_FRAME_MS - since);
}

void timeline_tick(struct timeline *tl)
{
	if (timeline_wait_ms(tl) == 0)
		draw(tl);
}

void timeline_finish(struct timeline *tl)
{
	if (tl->mode == TIMELINE_PLAIN) {
		if (!run_over(tl))
			put_summary(tl, "run ");
		return;
	}
	draw(tl);
	put_summary(tl, tl->phase == RUN_COMPLETED ? "✓ " : "✗ ");
	fputs("\033[?25h", tl->out);
	fflush(tl->out);
}
